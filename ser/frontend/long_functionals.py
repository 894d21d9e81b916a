"""Utterance-level functionals of long audio in memory that does not grow with its length (issue 14).

openSMILE's functionals keep every frame of the utterance in its data memory (with per-frame metadata, ~2.6 KB per
10 ms for eGeMAPSv02): 1.2 GiB for an hour. Here the contours the functionals read are computed block by block as in
``ser.frontend.featurise`` (`BLOCK_SECONDS` of frames from their audio plus `CONTEXT_SECONDS` before and
`RIGHT_CONTEXT_SECONDS` after), written to one temporary file per contour column, and summarised column by column
by ``ser.frontend.smile_functionals`` (openSMILE's functionals, reimplemented and tested equal to openSMILE's). A
worker then holds one block's audio and one column (1.4 MB an hour) instead of the whole utterance.

The samples come from one forward stream (``AudioFile.stream``, bit-exact with a one-shot read), kept in a sliding
buffer; a region shorter than a block is one window, so its contours are openSMILE's one-pass contours. At the end of
input openSMILE's functionals miss the last frame or few still in its pipeline; `end_tails` finds how many from the
last window, so the row is openSMILE's one-pass row (bit for bit on the EmoDB concatenations tested).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ser.frontend import featurise as fz
from ser.frontend import smile_functionals as sfun

if TYPE_CHECKING:
    from ser.frontend.smile_native import NativeSmile

#: the LLD analysis step of openSMILE's sets (s)
HOP_SECONDS = 0.01
HERE = Path(__file__).resolve().parent
#: our eGeMAPSv02 and GeMAPSv01b contour configs (sharing the F0 and loudness contours of GEMAPS_CONTOURS) and
#: their sinks
EGEMAPS_CONFIG = HERE / "egemaps_levels.conf"
GEMAPS_CONFIG = HERE / "gemaps_levels.conf"
GEMAPS_CONTOURS = HERE / "gemaps_contours.conf.inc"
EGEMAPS_SINKS = ("ser_f0", "ser_loudness", "ser_noF0LoudnessZ", "ser_noF0LoudnessNz", "ser_spectralZ",
                 "ser_spectralNz", "ser_energy")
GEMAPS_SINKS = ("ser_f0", "ser_loudness", "ser_noF0LoudnessNz", "ser_spectralZ", "ser_spectralNz")
#: frames at the end of each contour that openSMILE's functionals do not see: at the end of input they summarise
#: what has reached their input level while the last frames are still in the pipeline (measured on 45 EmoDB and
#: RAVDESS clips: always 1 for loudness and the voicing-independent set, 0 for the energy; 2 for the F0-based
#: contours in 42 of 45 clips, 3 in the others): the usual case; `end_tails` finds each utterance's own
F0_SINKS = ("ser_f0", "ser_noF0LoudnessNz", "ser_spectralZ", "ser_spectralNz")
EGEMAPS_TAIL = {"ser_f0": 2, "ser_loudness": 1, "ser_noF0LoudnessZ": 1, "ser_noF0LoudnessNz": 2, "ser_spectralZ": 2,
                "ser_spectralNz": 2, "ser_energy": 0}
GEMAPS_TAIL = {sink: EGEMAPS_TAIL[sink] for sink in GEMAPS_SINKS}
#: the same for emobase (LLDs 3, deltas 5: both end at the same frame; the same on every clip measured)
EMOBASE_TAIL = {"ser_lld": 3, "ser_lld_de": 5}
#: a ring buffer for the levels openSMILE's sets let grow (their `bufferModeConf`)
RING_LEVELS = HERE / "opensmile_ring_levels.conf.inc"
#: emobase's own config with two sinks on the contours its functionals read (LLDs, deltas); its levels grow within
#: a window only, which is a block plus context
EMOBASE_SINK = HERE / "emobase_levels_sink.conf.inc"
EMOBASE_SINKS = ("ser_lld", "ser_lld_de")
#: feature sets whose functionals are computed here
SETS = ("eGeMAPSv02", "GeMAPSv01b", "emobase")


def supported(feature_set: str) -> bool:
    """True when `feature_set`'s functionals can be computed here (and openSMILE runs natively): in numpy for `SETS`,
    by openSMILE's own functionals components over spilled columns for the others it can read
    (``ser.frontend.column_functionals``: ComParE_2016, IS09-IS13)."""
    from ser.frontend import column_functionals, smile_native

    if feature_set in SETS:
        return smile_native.available(feature_set)
    return column_functionals.supported(feature_set)


@functools.cache
def contour_smile(feature_set: str) -> NativeSmile:
    """openSMILE running the contours of `feature_set`'s functionals, one external sink per contour level (built once
    per process and set)."""
    from ser.frontend import smile_native

    config = smile_native._package_core() / "config"
    if feature_set == "emobase":
        return smile_native.NativeSmile.from_config(str(config / "emobase" / "emobase.conf"), {"sink": str(EMOBASE_SINK)},
                                                    EMOBASE_SINKS)
    options = {
        "gemapsLld": str(config / "gemaps" / "v01b" / "GeMAPSv01b_core.lld.conf.inc"),
        "egemapsLld": str(config / "egemaps" / "v02" / "eGeMAPSv02_core.lld.conf.inc"),
        "contours": str(GEMAPS_CONTOURS),
        "bufferModeConf": str(RING_LEVELS),
        "bufferModeRbLagConf": str(config / "shared" / "BufferModeRbLag.conf.inc"),
    }
    if feature_set == "GeMAPSv01b":
        return smile_native.NativeSmile.from_config(str(GEMAPS_CONFIG), options, GEMAPS_SINKS)
    return smile_native.NativeSmile.from_config(str(EGEMAPS_CONFIG), options, EGEMAPS_SINKS)


def contour_blocks(levels: Callable[[np.ndarray, int], dict[str, np.ndarray]], blocks: Iterable[np.ndarray],
                   rate: int, context_seconds: float | None = None) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """The contours of the concatenated `blocks` (float samples at `rate`): per block, (its frames of each contour,
    the samples of its window). Each window is the block's samples plus the context each side, and only the block's
    own frames are kept (the last window keeps all it has, so each contour ends where openSMILE's one pass ends it).
    `context_seconds`: the context before each block (default `featurise.CONTEXT_SECONDS`)."""
    hop = int(round(HOP_SECONDS * rate))
    frames = int(round(fz.BLOCK_SECONDS / HOP_SECONDS))
    context = fz.CONTEXT_SECONDS if context_seconds is None else context_seconds
    step, before = frames * hop, int(np.ceil(context / HOP_SECONDS)) * hop
    after = int(np.ceil(fz.RIGHT_CONTEXT_SECONDS / HOP_SECONDS)) * hop
    source = iter(blocks)
    pieces: list[np.ndarray] = []
    buffer, start, core, ended = np.zeros(0, dtype=np.float32), 0, 0, False
    while True:
        wanted = core + step + after
        held = start + buffer.size + sum(p.size for p in pieces)
        while not ended and held < wanted:
            try:
                piece = np.asarray(next(source), dtype=np.float32)
            except StopIteration:
                ended = True
                break
            pieces.append(piece)
            held += piece.size
        if pieces:
            buffer, pieces = np.concatenate([buffer, *pieces]), []
        final = ended and start + buffer.size <= wanted
        lo = max(0, core - before)
        window = buffer[lo - start : (start + buffer.size if final else wanted) - start]
        out = levels(window, rate)
        skip = (core - lo) // hop
        yield {sink: rows[skip:] if final else rows[skip : skip + frames] for sink, rows in out.items()}, window
        if final:
            return
        core += step
        drop = core - before - start
        if drop > 0:
            buffer, start = buffer[drop:], start + drop


class ColumnSpill:
    """Each contour column appended to a temporary file of its own, so one column is read back at a time."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="ser-contours-")
        self._files: dict[tuple[str, int], object] = {}
        self.widths: dict[str, int] = {}

    def append(self, rows: dict[str, np.ndarray]) -> None:
        for sink, block in rows.items():
            block = np.asarray(block, dtype=np.float32)
            width = self.widths.setdefault(sink, block.shape[1])
            for j in range(width):
                key = (sink, j)
                if key not in self._files:
                    self._files[key] = open(Path(self._dir.name) / f"{sink}.{j}.f32", "w+b")  # noqa: SIM115
                self._files[key].write(np.ascontiguousarray(block[:, j]).tobytes())

    def frames(self, sink: str) -> int:
        """Frames appended so far to `sink`'s columns."""
        handle = self._files.get((sink, 0))
        if handle is None:
            return 0
        handle.flush()
        return handle.tell() // 4

    def replace(self, sink: str, j: int, values: np.ndarray) -> None:
        """Column `j` of `sink` replaced by `values` (a contour recomputed from the whole input)."""
        handle = self._files[(sink, j)]
        handle.seek(0)
        handle.truncate()
        handle.write(np.ascontiguousarray(values, dtype=np.float32).tobytes())

    def column(self, sink: str, j: int, drop_last: int = 0) -> np.ndarray:
        """Column `j` of `sink`, less its last `drop_last` frames."""
        handle = self._files.get((sink, j))
        if handle is None:
            return np.zeros(0, dtype=np.float32)
        handle.flush()
        count = max(0, handle.tell() // 4 - drop_last)
        handle.seek(0)
        values = np.fromfile(handle, dtype=np.float32, count=count)
        handle.seek(0, 2)  # back to the end, where the next block goes
        return values

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._dir.cleanup()

    def __enter__(self) -> ColumnSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Column = Callable[[str, int, int], np.ndarray]


def _gemaps_family_row(column: Column, widths: dict[str, int], tails: dict[str, int]) -> np.ndarray:
    """GeMAPSv01b's 62 functionals, or eGeMAPSv02's 88 where the eGeMAPS contours are there (its loudness-independent
    set after the loudness block, its equivalent sound level at the end), in openSMILE's order, from the contours
    `column(sink, j, frames to drop)` gives."""
    def col(sink: str, j: int) -> np.ndarray:
        return column(sink, j, tails[sink])

    def means(sink: str, nonzero: bool) -> list[np.ndarray]:
        return [sfun.mean_stddevnorm(col(sink, j), nonzero=nonzero) for j in range(widths.get(sink, 0))]

    extended = "ser_energy" in widths
    f0, loudness = col("ser_f0", 0), col("ser_loudness", 0)
    parts = [sfun.gemaps_contour(f0, nonzero=True), sfun.gemaps_contour(loudness, nonzero=False)]
    parts += means("ser_noF0LoudnessZ", nonzero=False) + means("ser_noF0LoudnessNz", nonzero=True)
    parts += means("ser_spectralNz", nonzero=True)
    parts += [sfun.amean(col("ser_spectralZ", j), nonzero=True) for j in range(widths["ser_spectralZ"])]
    parts += [sfun.loudness_peaks_per_sec(loudness), sfun.voiced_segments(f0), sfun.unvoiced_segments(f0)]
    if extended:
        parts.append(sfun.equivalent_sound_level(col("ser_energy", 0)))
    return np.concatenate([np.asarray(p, dtype=np.float32).ravel() for p in parts])


def emobase_row(column: Column, widths: dict[str, int], tails: dict[str, int]) -> np.ndarray:
    """The 988 emobase functionals (openSMILE's order: 19 per contour, the 26 LLDs then their 26 deltas)."""
    return np.concatenate([sfun.emobase_contour(column(sink, j, tails[sink])) for sink in EMOBASE_SINKS
                           for j in range(widths[sink])]).astype(np.float32)


ROWS = {"eGeMAPSv02": _gemaps_family_row, "GeMAPSv01b": _gemaps_family_row, "emobase": emobase_row}
#: the frames openSMILE's functionals leave out at the end of input, the usual case first, then the others seen
TAILS = {
    "eGeMAPSv02": [EGEMAPS_TAIL, *({**EGEMAPS_TAIL, **dict.fromkeys(F0_SINKS, n)} for n in (3, 1, 4))],
    "GeMAPSv01b": [GEMAPS_TAIL, *({**GEMAPS_TAIL, **dict.fromkeys(F0_SINKS, n)} for n in (3, 1, 4))],
    "emobase": [EMOBASE_TAIL, {"ser_lld": 2, "ser_lld_de": 4}, {"ser_lld": 4, "ser_lld_de": 6}],
}


@functools.cache
def _reference(feature_set: str) -> NativeSmile:
    """openSMILE's own functionals of `feature_set`, for `end_tails`."""
    from ser.frontend import smile_native

    return smile_native.NativeSmile(feature_set, "functionals")


def end_tails(feature_set: str, window: np.ndarray, rate: int) -> dict[str, int]:
    """The frames openSMILE's functionals leave out at the end of the input, found on the last window: how many of
    the last frames still in its pipeline the functionals miss depends on the end of the audio only, so the tails
    under which our row of the window equals openSMILE's row of the window are those of the whole utterance (the
    candidate nearest to it where none is equal)."""
    want = _reference(feature_set)(window, rate)[0]
    levels = contour_smile(feature_set).levels(window, rate)

    def column(sink: str, j: int, drop: int) -> np.ndarray:
        values = levels[sink][:, j]
        return values[: max(0, values.size - drop)]

    widths = {sink: rows.shape[1] for sink, rows in levels.items()}
    errors = []
    for tails in TAILS[feature_set]:
        try:
            got = ROWS[feature_set](column, widths, tails)
        except ValueError:  # a contour left empty: not this candidate
            errors.append(np.inf)
            continue
        error = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-6)))
        if error == 0.0:
            return tails
        errors.append(error)
    return TAILS[feature_set][int(np.argmin(errors))]


def functionals(feature_set: str, blocks: Iterable[np.ndarray], rate: int) -> np.ndarray:
    """One row (1 x dim, float32) of `feature_set`'s functionals over the concatenated `blocks`."""
    if feature_set not in ROWS:
        from ser.frontend import column_functionals

        return column_functionals.functionals(feature_set, blocks, rate)
    smile = contour_smile(feature_set)
    window = np.zeros(0, dtype=np.float32)
    with ColumnSpill() as spill:
        for rows, window in contour_blocks(smile.levels, blocks, rate):
            spill.append(rows)
        return ROWS[feature_set](spill.column, spill.widths, end_tails(feature_set, window, rate))[None, :]


__all__ = ["ColumnSpill", "SETS", "contour_blocks", "end_tails", "functionals", "supported"]
