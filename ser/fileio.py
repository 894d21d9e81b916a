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
            raise naming(exc, path) from None
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace `path` with `text` in one atomic step."""
    with atomic_write(path) as handle:
        handle.write(text)


def naming(exc: OSError, path: str | Path) -> OSError:
    """`exc` itself when it names a file; else the same error naming `path` (a failed write or fsync -- a full disk,
    a file-size limit -- names none, and "File too large" alone does not say which)."""
    return exc if exc.filename else OSError(exc.errno, exc.strerror or str(exc), str(path))


@contextmanager
def line_by_line(path: str | Path) -> Iterator[Callable[[str], None]]:
    """A writer of lines that are each on disk (written, fsynced) once written: a run killed midway leaves every
    finished line in `path`, where `atomic_write` would leave nothing. For outputs made row by row over a long run
    (`ser score --csv`). Each call goes out in one unbuffered write and one fsync; a call may carry several lines (rows
    final together: one fsync for them all, each ~ms on a busy disk). A write that fails partway (a full disk) is
    cut off again, so the file always ends with a whole line, and the error names `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    good = 0  # bytes of whole lines on disk

    def write(line: str) -> None:
        nonlocal good
        encoded = line.encode("utf-8")
        data = memoryview(encoded)
        try:
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        except OSError as exc:
            try:  # leave no half line behind
                os.ftruncate(fd, good)
                os.lseek(fd, good, os.SEEK_SET)
            except OSError:
                pass
            raise naming(exc, path) from None
        good += len(encoded)

    try:
        yield write
    finally:
        os.close(fd)


__all__ = ["atomic_write", "line_by_line", "naming", "write_text_atomic"]
