"""Long utterances in `ser extract` without any process holding their whole feature matrix.

Why: an hour of emobase78 is 360k x 78 float32 (112 MB); joined in the worker, pickled to the parent, unpickled and
written out, it was held three or four times over, so peak RSS grew with file length (issue 14). Instead a worker
writes a long utterance's row blocks (``ser.frontend.featurise.feature_stream``) to a raw float32 file in the spill
folder as they are made and hands back only a `SpilledMatrix` (path, rows, cols); the parent, the ark's one writer,
copies that file into feats.ark in fixed-size chunks behind a Kaldi matrix header (``ArkAppender.append_raw``) and
deletes it. The ark bytes are those `kaldiio.matio.write_array` writes for the joined matrix.

Short clips (one block, at most `SPILL_BYTES`) still travel back as arrays: a file per clip would cost more than
the clip. Workers without the parent's filesystem (a remote Dask cluster) get no spill folder and send every matrix
back whole, as before; see ``ser.frontend.extract``.

The spill folder lives inside the output folder (under its lock); leftovers of a killed run are deleted by the next
run, and nothing in it is ever referenced by feats.scp.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ser.frontend.featurise import init_featuriser, join_blocks, run_task

#: a one-block matrix up to this size is returned as an array (emobase78: ~7 min of frames)
SPILL_BYTES = 8 << 20
#: the spill folder's name inside the output folder
SPILL_DIR = ".spill"

_SPILL: dict[str, str | None] = {"dir": None}


@dataclass(frozen=True)
class SpilledMatrix:
    """A float32 (rows, cols) matrix written row-major, little-endian, headerless at `path`."""

    path: str
    rows: int
    cols: int


def init_extract_worker(feature_dict: dict[str, Any], threads: int = 1, spill_dir: str | None = None) -> None:
    """`init_featuriser`, and where this worker spills long matrices (None: it returns them whole)."""
    init_featuriser(feature_dict, threads)
    _SPILL["dir"] = spill_dir


def extract_task(task: tuple) -> tuple[np.ndarray | SpilledMatrix | None, str | None]:
    """One utterance in a worker: (array or SpilledMatrix, None), or (None, reason) for a bad clip."""
    return run_task(task, lambda blocks: collect(blocks, _SPILL["dir"]))


def collect(blocks: Iterator[np.ndarray], folder: str | None) -> np.ndarray | SpilledMatrix:
    """The blocks as one array when there is one small block or no `folder`, else spilled into `folder`."""
    first = next(blocks)
    second = next(blocks, None)
    if folder is None:
        return join_blocks([first] if second is None else [first, second, *blocks])
    if second is None and first.nbytes <= SPILL_BYTES:
        return first
    return spill(itertools.chain([first], [] if second is None else [second], blocks), folder)


def spill(blocks: Iterator[np.ndarray], folder: str | Path) -> SpilledMatrix:
    """Write the blocks one after another to a new file in `folder`; on any error (the stream's last checks
    included) the file is removed and the error raised."""
    handle, path = tempfile.mkstemp(dir=str(folder), suffix=".f32")
    rows, cols = 0, 0
    try:
        with os.fdopen(handle, "wb") as out:
            for block in blocks:
                out.write(np.ascontiguousarray(block, dtype="<f4").data)
                rows, cols = rows + block.shape[0], block.shape[1]
    except BaseException:
        os.unlink(path)
        raise
    return SpilledMatrix(path, rows, cols)


def write_spilled(writer: Any, utt: str, matrix: SpilledMatrix) -> int:
    """Append a spilled matrix to `writer` (an ``ArkAppender``) as `utt`, then delete its file; the ark offset."""
    with open(matrix.path, "rb") as source:
        offset = writer.append_raw(utt, source, matrix.rows, matrix.cols)
    os.unlink(matrix.path)
    return offset


def fresh_spill_dir(out_dir: Path) -> Path:
    """An empty spill folder in `out_dir` (a killed run's leftovers removed): call under the output lock."""
    folder = Path(out_dir) / SPILL_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


__all__ = [
    "SPILL_BYTES",
    "SPILL_DIR",
    "SpilledMatrix",
    "collect",
    "extract_task",
    "fresh_spill_dir",
    "init_extract_worker",
    "spill",
    "write_spilled",
]
