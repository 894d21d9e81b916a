"""Input size limits, checked before anything is read into memory, so hostile or broken input costs a
clear error instead of gigabytes and minutes (issue 14). Each limit is far above any real input; the
README's "Limits and trust model" lists them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Iterator

from ser.errors import InputFileError

#: one turn of `ser converse` (characters): a long monologue is a few thousand; the model's cost grows with it
MAX_TURN_CHARS = 100_000
#: one line of a data-dir map, a list file or a turn stream, read before the line is split
MAX_LINE_CHARS = 1_000_000
#: a JSON file ser reads whole (conversation JSON); YAML files have tighter limits in ser.yaml_bounds
MAX_DOC_BYTES = 256 * 1024**2
#: a text model file (`model.pt` of `ser text-train`); bundles have their own limits in ser.bundle
MAX_TEXT_MODEL_BYTES = 2 * 1024**3
#: the environment variable that raises (or lowers) `max_functionals_seconds`, in minutes
FUNCTIONALS_MINUTES_ENV = "SER_MAX_FUNCTIONALS_MINUTES"
#: one utterance given to an utterance-level (functionals) set whose memory grows with it: openSMILE's own pass keeps
#: every frame for the percentiles (~1.2-2.4 KB per 10 ms for GeMAPS-like sets; 1.2 GiB at 60 min for eGeMAPS before
#: ser.frontend.long_functionals). Every set openSMILE runs natively (`bounded` extractors: eGeMAPSv02, GeMAPSv01b,
#: emobase, ComParE_2016, IS09-IS13) has no limit: flat; the limit is left for sets opensmile-python runs
MAX_FUNCTIONALS_MINUTES = 10.0


def max_functionals_seconds() -> float:
    """The longest utterance (s) an unbounded utterance-level set featurises: `MAX_FUNCTIONALS_MINUTES`, or the environment's
    SER_MAX_FUNCTIONALS_MINUTES (read in each worker, so local workers inherit it; 0 or less: no limit)."""
    text = os.environ.get(FUNCTIONALS_MINUTES_ENV, "").strip()
    try:
        minutes = float(text) if text else MAX_FUNCTIONALS_MINUTES
    except ValueError:
        minutes = MAX_FUNCTIONALS_MINUTES
    return float("inf") if minutes <= 0 else minutes * 60.0


def check_file_size(path: str | Path, limit: int, what: str) -> None:
    """Refuse a file larger than `limit` bytes by its size on disk alone (a sparse file costs nothing to check)."""
    try:
        size = Path(path).stat().st_size
    except FileNotFoundError:
        raise InputFileError(path, f"no such {what}") from None
    if size > limit:
        raise InputFileError(path, f"{size} bytes is more than a {what} may hold ({limit}); not read")


def _bounded(handle: IO[Any], limit: int, newline: Any) -> Iterator[tuple[int, Any]]:
    """(line number, raw line) for each line of a text or binary handle, or (number, None) for a line longer than
    `limit`; the rest of a long line is read and dropped in `limit`-sized pieces, so memory stays bounded."""
    lineno = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        lineno += 1
        if len(line) > limit and not line.endswith(newline):
            while line and not line.endswith(newline):
                line = handle.readline(limit + 1)
            yield lineno, None
            continue
        yield lineno, line


def bounded_lines(handle: IO[str], limit: int = MAX_LINE_CHARS) -> Iterator[tuple[int, str | None]]:
    """(line number, line without its end) for each line, or (number, None) for a line longer than `limit`
    characters (see :func:`_bounded`). A pipe's line is yielded as soon as it is complete."""
    for lineno, line in _bounded(handle, limit, "\n"):
        yield lineno, None if line is None else line.rstrip("\r\n")


def bounded_byte_lines(handle: IO[bytes], limit: int = MAX_LINE_CHARS) -> Iterator[tuple[int, bytes | None]]:
    """The same for a binary file (data-dir maps are decoded line by line): raw lines, None beyond `limit` bytes."""
    return _bounded(handle, limit, b"\n")


def _load_document(path: str | Path, what: str, kind: str, parse: Any, syntax_errors: tuple[type, ...]) -> Any:
    """Parse a whole JSON/YAML file, refused with the file named when too large, not UTF-8, malformed or too deep."""
    check_file_size(path, MAX_DOC_BYTES, what)
    try:
        return parse(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except syntax_errors as exc:
        raise InputFileError(path, f"not valid {kind} ({' '.join(str(exc).split())})") from None
    except RecursionError:
        raise InputFileError(path, f"{kind} nested too deeply to read (a hostile or broken file)") from None


def load_json_file(path: str | Path, what: str = "JSON file") -> Any:
    """A JSON file, refused with the file named when it is too large, not UTF-8, malformed or nested too deep."""
    return _load_document(path, what, "JSON", json.loads, (json.JSONDecodeError,))


def load_yaml_file(path: str | Path, what: str = "YAML file") -> Any:
    """A small YAML file (config, feature set, label map...): see ser.yaml_bounds for its size, alias, node and
    depth limits; every refusal names the file."""
    from ser.yaml_bounds import load_bounded_yaml

    return load_bounded_yaml(path, what)


def decode_line(raw: bytes, path: str | Path, lineno: int) -> str:
    """One line of a UTF-8 text file; a bad byte or a NUL is an error naming the file, line and byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}:{lineno}", f"not UTF-8 text (byte {raw[exc.start]:#04x} at column {exc.start + 1}); "
                             "save the file as UTF-8") from None
    if "\0" in text:
        raise InputFileError(f"{path}:{lineno}", f"NUL byte at column {text.index(chr(0)) + 1} (a binary or damaged file)")
    return text


__all__ = ["MAX_DOC_BYTES", "MAX_LINE_CHARS", "MAX_TEXT_MODEL_BYTES", "MAX_TURN_CHARS", "bounded_byte_lines", "bounded_lines",
           "check_file_size", "decode_line", "load_json_file", "load_yaml_file"]
