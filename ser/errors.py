"""Error types that name the offending file, so batch tools can report and move on."""

from __future__ import annotations

from pathlib import Path


class SerError(Exception):
    """Base class for errors the CLI reports as one clean line (no traceback)."""


class InputFileError(SerError):
    """A single input (audio file, label, model file) is unusable; the batch goes on without it."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DataDirError(SerError):
    """A Kaldi-style data dir is malformed (unsorted, duplicate ids, missing entries...)."""


def torch_load_refusal(exc: BaseException) -> str:
    """Why torch.load(weights_only=True) refused a file, in one line, without torch's hint to retry unsafely."""
    import re

    text = str(exc)
    if type(exc).__name__ == "UnpicklingError" or "Weights only load failed" in text:
        found = re.search(r"(?:unsupported )?GLOBAL ([\w.]+)", text)
        what = f" (it asks for {found.group(1)})" if found else ""
        return (f"it holds Python objects a model file must not{what}; refused by torch.load(weights_only=True). "
                "Do not load it with weights_only=False unless you made it yourself")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}"


__all__ = ["DataDirError", "InputFileError", "SerError", "torch_load_refusal"]
