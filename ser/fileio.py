"""Small file helpers shared by every writer: atomic replace, so a crash never leaves half a file."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator


def _read_umask() -> int:
    mask = os.umask(0)  # the only portable way to read it; done once, at import, before any thread starts
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temp file in the same directory, fsync, then rename over `path`.

    Readers see either the old file or the complete new one, never a prefix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the mode a plain open() would
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not exc.filename:  # a failed write/fsync (full disk) names no file: name it
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace `path` with `text` in one atomic step."""
    with atomic_write(path) as handle:
        handle.write(text)


@contextmanager
def line_by_line(path: str | Path) -> Iterator[Callable[[str], None]]:
    """A writer of lines that are each on disk (flushed, fsynced) once written: a run killed midway leaves every
    finished line in `path`, where `atomic_write` would leave nothing. For outputs made row by row over a long run
    (`ser score --csv`); each call goes out in one write, so a kill cannot leave half of a line. A call may carry
    several lines (rows final together): one fsync for them all, each ~ms on a busy disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        def write(line: str) -> None:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

        yield write


__all__ = ["atomic_write", "line_by_line", "write_text_atomic"]
