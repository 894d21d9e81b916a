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
