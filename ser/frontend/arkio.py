"""Append-only Kaldi ark/scp writing that survives crashes, and its recovery.

Invariant: a line reaches `feats.scp` only after the matrix it points to is flushed to
`feats.ark`. So after a crash the scp is a valid index of a prefix of the ark; `recover()`
drops a torn last scp line and truncates ark bytes that no scp line points to. kaldiio reads
the result (`kaldiio.load_scp`), as do Kaldi and ESPnet tools.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

from ser.errors import SerError
from kaldiio import matio

from ser.fileio import atomic_write, naming


def parse_scp_line(line: str) -> tuple[str, str, int] | None:
    """`utt /abs/feats.ark:1234` -> (utt, ark path, offset); None for a torn or malformed line."""
    if not line.endswith("\n"):
        return None
    parts = line.split(maxsplit=1)
    if len(parts) != 2 or ":" not in parts[1]:
        return None
    ark, _, offset = parts[1].strip().rpartition(":")
    if not offset.isdigit():
        return None
    return parts[0], ark, int(offset)


def float_matrix_header(rows: int, cols: int) -> bytes:
    """The binary header kaldiio's `write_array` (and Kaldi) put before a float32 matrix of this shape."""
    return b"\0BFM \4" + struct.pack("<i", rows) + b"\4" + struct.pack("<i", cols)


#: bytes per element of the binary matrix types `read_matrix_shape` accepts
_ELEMENT_BYTES = {b"FM ": 4, b"DM ": 8}


def read_matrix_shape(ark: BinaryIO, offset: int) -> tuple[int, int]:
    """(rows, cols) of the binary float/double matrix at `offset`, from its header alone."""
    ark.seek(offset)
    head = ark.read(15)
    if len(head) < 15 or head[:2] != b"\x00B" or head[2:5] not in (b"FM ", b"DM "):
        raise ValueError(f"{getattr(ark, 'name', 'ark')}:{offset}: not a binary float matrix")
    rows = int.from_bytes(head[6:10], "little", signed=True)
    cols = int.from_bytes(head[11:15], "little", signed=True)
    return rows, cols


def _matrix_end(ark: BinaryIO, offset: int) -> int:
    """Where the matrix at `offset` ends: from its header alone for binary float matrices (an hour-long entry is
    not loaded to check it), else by reading it."""
    ark.seek(offset)
    head = ark.read(15)
    if len(head) < 15 or head[:2] != b"\0B" or head[2:5] not in _ELEMENT_BYTES:
        ark.seek(offset)
        matio.read_kaldi(ark)
        return ark.tell()
    rows, cols = read_matrix_shape(ark, offset)
    if head[5] != 4 or head[10] != 4 or rows < 0 or cols < 0:
        raise EOFError
    return offset + 15 + rows * cols * _ELEMENT_BYTES[head[2:5]]


def recover(ark_path: Path, scp_path: Path) -> dict[str, int]:
    """Make an interrupted ark/scp pair consistent again and return {utt: offset} of the entries kept.

    Keeps scp entries whose matrices read back completely; the ark is cut after the last kept
    entry, so a partially written utterance is redone on the next run.
    """
    if not scp_path.exists() or not ark_path.exists():
        for path in (ark_path, scp_path):
            if path.exists():
                path.unlink()
        return {}
    entries: list[tuple[str, int]] = []
    with open(scp_path, encoding="utf-8") as handle:
        for line in handle:
            parsed = parse_scp_line(line)
            if parsed is None or Path(parsed[1]).resolve() != ark_path.resolve():
                break
            entries.append((parsed[0], parsed[2]))
    ark_size = ark_path.stat().st_size
    end = 0
    with open(ark_path, "rb") as ark:
        while entries:
            utt, offset = entries[-1]
            try:
                if offset >= ark_size:
                    raise EOFError
                end = _matrix_end(ark, offset)
                if end > ark_size:
                    raise EOFError
                break
            except Exception:
                entries.pop()
    with open(ark_path, "r+b") as ark:
        ark.truncate(end)
    with atomic_write(scp_path) as out:
        for utt, offset in entries:
            out.write(f"{utt} {ark_path.resolve()}:{offset}\n")
    return dict(entries)


class ArkAppender:
    """Append matrices to an ark and index them in an scp, flushing the ark before each scp line."""

    def __init__(self, ark_path: Path, scp_path: Path) -> None:
        self.ark_path = Path(ark_path).resolve()
        self._ark = open(ark_path, "ab")
        self._scp = open(scp_path, "a", encoding="utf-8")

    def append(self, utt: str, matrix: np.ndarray) -> int:
        try:
            self._ark.write(f"{utt} ".encode("utf-8"))
            offset = self._ark.tell()
            matio.write_array(self._ark, np.ascontiguousarray(matrix, dtype=np.float32))
        except OSError as exc:  # a full disk: name the file (a partial matrix without its scp line is cut by recover)
            raise naming(exc, self.ark_path) from None
        return self._index(utt, offset)

    def _index(self, utt: str, offset: int) -> int:
        """Flush the ark, then add the scp line: an entry is listed only once its bytes are written."""
        try:
            self._ark.flush()
        except OSError as exc:
            raise naming(exc, self.ark_path) from None
        try:
            self._scp.write(f"{utt} {self.ark_path}:{offset}\n")
            self._scp.flush()
        except OSError as exc:
            raise naming(exc, self._scp.name) from None
        return offset

    def append_raw(self, utt: str, source: BinaryIO, rows: int, cols: int, chunk: int = 1 << 20) -> int:
        """Append a float32 matrix read from `source` (rows x cols little-endian floats, row-major) in `chunk`-byte
        pieces: the same bytes as `append` of the whole matrix, without it in memory."""
        entry = self._ark.tell()
        size = rows * cols * 4
        try:
            self._ark.write(f"{utt} ".encode())
            offset = self._ark.tell()
            self._ark.write(float_matrix_header(rows, cols))
            start = self._ark.tell()
            shutil.copyfileobj(source, self._ark, chunk)
        except OSError as exc:  # a full disk: name the file (a partial matrix without its scp line is cut by recover)
            raise naming(exc, self.ark_path) from None
        if self._ark.tell() - start != size:  # a short or long source would corrupt every later entry's offset
            self._ark.flush()
            self._ark.truncate(entry)
            self._ark.seek(entry)  # ftruncate leaves the position where it was
            raise SerError(f"{getattr(source, 'name', 'matrix')}: expected {size} bytes of a {rows} x {cols} float32 matrix")
        return self._index(utt, offset)

    def close(self, failing: bool = False) -> None:
        """Flush, fsync and close both files; `failing` (an error is already on its way out): raise no other."""
        error = None
        for handle in (self._ark, self._scp):
            try:
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                error = error or naming(exc, handle.name)
            try:
                handle.close()
            except OSError as exc:  # close flushes what is left
                error = error or naming(exc, handle.name)
        if error is not None and not failing:
            raise error

    def __enter__(self) -> "ArkAppender":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(failing=exc_type is not None)


def write_ark_atomic(ark_path: Path, scp_path: Path, items: Iterable[tuple[str, np.ndarray]]) -> None:
    """Write a whole (small) ark/scp pair at once; both files appear only when complete."""
    ark_path, scp_path = Path(ark_path), Path(scp_path)
    final_ark = ark_path.resolve()
    lines = []
    with atomic_write(ark_path, mode="wb") as ark:
        for utt, matrix in sorted(items, key=lambda item: item[0]):
            ark.write(f"{utt} ".encode("utf-8"))
            offset = ark.tell()
            # float64 stays double (Kaldi keeps CMVN stats as DM); everything else is stored as float32
            dtype = np.float64 if matrix.dtype == np.float64 else np.float32
            matio.write_array(ark, np.ascontiguousarray(matrix, dtype=dtype))
            lines.append(f"{utt} {final_ark}:{offset}\n")
    with atomic_write(scp_path) as scp:
        scp.writelines(lines)


def sort_scp(scp_path: Path) -> None:
    """Rewrite an scp sorted by utterance id (Kaldi order), atomically."""
    lines = [line for line in Path(scp_path).read_text(encoding="utf-8").splitlines(keepends=True) if line.strip()]
    with atomic_write(scp_path) as out:
        out.writelines(sorted(lines, key=lambda line: line.split(maxsplit=1)[0]))


#: set (to 1) by `ser --allow-pipes`: scp entries that are shell commands are then run, as Kaldi would
ALLOW_PIPES_ENV = "SER_ALLOW_PIPES"


def open_scp(scp_path: str | Path, sequential: bool = False):
    """kaldiio's reader of an scp file, after refusing entries that are shell commands.

    kaldiio runs a `cmd |` entry through a shell; a data dir from somewhere else must not execute commands, so
    ser reads plain `file.ark:offset` entries only unless `ser --allow-pipes` was given (documented in README).
    """
    import os

    import kaldiio

    scp_path = Path(scp_path)
    if os.environ.get(ALLOW_PIPES_ENV) != "1":
        with open(scp_path, encoding="utf-8", errors="replace") as lines:
            for lineno, line in enumerate(lines, 1):
                value = line.strip().partition(" ")[2].strip()
                if value.endswith("|") or value.startswith("|"):
                    raise SerError(f"{scp_path}:{lineno}: '{value}' is a shell command, not an ark entry; ser does not run "
                                   "commands from data files (use `ser --allow-pipes VERB ...` if you trust this file)")
    return kaldiio.load_scp_sequential(str(scp_path)) if sequential else kaldiio.load_scp(str(scp_path))


__all__ = [
    "ALLOW_PIPES_ENV",
    "ArkAppender",
    "float_matrix_header",
    "open_scp",
    "parse_scp_line",
    "read_matrix_shape",
    "recover",
    "sort_scp",
    "write_ark_atomic",
]
