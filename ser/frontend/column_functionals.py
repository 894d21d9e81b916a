"""Utterance functionals of long audio for any openSMILE set whose row is a concatenation of whole-utterance
cFunctionals components (ComParE_2016, IS09-IS13): contours in blocks, the functionals from one column at a time.

Why: openSMILE's one pass keeps every frame of every level its functionals read (ComParE_2016: ~5.5 KB per 10 ms,
1.9 GiB an hour), so these sets had a length limit. Here, as for eGeMAPS and emobase in
``ser.frontend.long_functionals``:
- the contours are computed block by block with context (`CONTEXT_SECONDS`) by the set's own config less its
  functionals, with ring buffers and an external sink per level read (`levels_config`, generated from the installed
  wheel's configs by ``ser.frontend.smile_config``), and spilled column by column to temporary files;
- the deltas openSMILE computes with ``onlyInSegments``, which depend on the whole utterance, are recomputed from the
  whole contour (``ser.frontend.segment_deltas``);
- each functionals component summarises one column at a time: in numpy (``ser.frontend.cfunctionals``, driven by
  the component's own options; memory: the float32 column, 1.4 MB an hour, and chunked temporaries), or, for options
  it does not implement, by openSMILE's own component over a few columns fed through an external source (openSMILE
  then keeps ~145 bytes per frame: ~50 MiB an hour);
- `end_tails` finds the frames openSMILE's one pass leaves out at the end of input on the last `END_SECONDS`.
The rows equal openSMILE's one pass bit for bit on the EmoDB concatenations tested (tests/test_column_functionals.py).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from ctypes import POINTER, c_float
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ser.frontend import smile_config

if TYPE_CHECKING:
    from ser.frontend.long_functionals import ColumnSpill
    from ser.frontend.smile_native import NativeSmile

#: openSMILE's LLD frame step in these sets (s), which their functionals' times are counted in
PERIOD = 0.01
#: frames each ring-buffered contour level holds (well over any lookback of these sets' components)
RING_FRAMES = 100
#: the most float32 values fed to one openSMILE functionals run (frames x columns): 4 MiB
RUN_VALUES = 1 << 20
#: context before each block (s): these sets' contours carry state further back than `featurise.CONTEXT_SECONDS`
#: (3 s): the RASTA filter of ComParE_2016 and IS11-IS13 (an IIR filter: with 3 s a few frames after each block edge
#: differ in the last bits, enough to move an LPC coefficient of the row by 3e-4; 5 s gives openSMILE's row), IS09's
#: autocorrelation F0 and IS10's F0 envelope (with 3 s, 13 of IS09's 384 values of a 2.5 min EmoDB concatenation
#: differ in the 5th digit; 6 s is enough for 28 s but not for 2.5 min; 12 s gives openSMILE's row)
DEFAULT_CONTEXT_SECONDS = 6.0
CONTEXT_SECONDS = {"IS09": 12.0, "IS10": 12.0}
#: seconds at the end of the audio that `end_tails` and the end of the deltas are found on (a one-pass over them costs
#: less memory than over a 10 s clip)
END_SECONDS = 5.0
#: frames left out at the end of input tried by `end_tails`, the usual counts first
TAIL_CANDIDATES = (0, 1, 2, 3, 4, 5, 6, 7, 8)

Column = Callable[[str, int, int], np.ndarray]


@dataclass(frozen=True)
class Plan:
    """How one set's functionals are computed: its components and the sink on each level they read."""

    feature_set: str
    layout: smile_config.FunctionalsLayout
    sinks: dict[str, str]  # level -> external sink name
    #: levels written by a delta component with onlyInSegments (``ser.frontend.segment_deltas``): level -> (its input
    #: level, deltawin); recomputed from the whole input contour, as their values depend on all frames before
    segment_deltas: dict[str, tuple[str, int]]


def _set_config(feature_set: str) -> Path:
    from ser.frontend import smile_native

    return smile_native._package_core() / "config" / f"{smile_native.CONFIGS[feature_set]}.conf"


@functools.cache
def plan(feature_set: str) -> Plan | None:
    """The plan for `feature_set`, or None when openSMILE does not run natively here or its row is not a plain
    concatenation of whole-utterance functionals."""
    from ser.frontend import smile_native

    if not smile_native.available(feature_set):
        return None
    found = _levels(feature_set)
    if found is None:
        return None
    layout, derived, sinks = found
    return Plan(feature_set, layout, sinks, derived)


def _levels(feature_set: str) -> tuple[smile_config.FunctionalsLayout, dict[str, tuple[str, int]], dict[str, str]] | None:
    """`feature_set`'s functionals layout, its onlyInSegments delta levels, and a sink name for every level read
    (those the functionals read, and the inputs of those deltas)."""
    layout = smile_config.functionals_layout(_set_config(feature_set))
    if layout is None:
        return None
    derived = _segment_delta_levels(_set_config(feature_set), layout.levels)
    levels = layout.levels + [source for source, _ in derived.values() if source not in layout.levels]
    return layout, derived, {level: f"ser_sink{i}" for i, level in enumerate(levels)}


def _cache_dir() -> Path:
    """Where the generated contour configs are kept: the user's cache (they depend only on the installed openSMILE's
    configs, so they are written once and named by their content), else a folder of this process's own."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ser" / "opensmile"
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=base, delete=True)  # noqa: SIM115  writable?
        probe.close()
        return base
    except OSError:
        return Path(tempfile.mkdtemp(prefix="ser-opensmile-"))


@functools.cache
def levels_config(feature_set: str) -> Path:
    """`feature_set`'s own config without its functionals, with an external sink on each level `plan` reads and ring
    buffers for the levels it let grow (``smile_config.without_functionals``), as a file openSMILE can read."""
    p = plan(feature_set)
    text = smile_config.without_functionals(_set_config(feature_set), p.layout, p.sinks, RING_FRAMES)
    path = _cache_dir() / f"{feature_set}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.conf"
    if not path.is_file() or path.read_text() != text:
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
            handle.write(text)
        os.replace(handle.name, path)
    return path


def _segment_delta_levels(config: Path, levels: list[str]) -> dict[str, tuple[str, int]]:
    """Which of `levels` a cDeltaRegression with ``onlyInSegments = 1`` writes: level -> (input level, deltawin)."""
    found = {}
    for section in smile_config.sections(smile_config.flatten(config, {})).values():
        writer = section.value("writer.dmLevel")
        if section.kind != "cDeltaRegression" or writer not in levels or section.value("onlyInSegments") != "1":
            continue
        if section.value("zeroSegBound") not in (None, "1") or any(
                section.value(key) not in (None, "0") for key in ("absOutput", "halfWaveRect")):
            raise ValueError(f"{section.name}: a delta option segment_deltas does not emulate")
        found[writer] = (section.readers()[0], int(section.value("deltawin") or 2))
    return found


def supported(feature_set: str) -> bool:
    """True when `feature_set`'s functionals of a long utterance can be computed here."""
    return plan(feature_set) is not None


@functools.cache
def level_smile(feature_set: str) -> NativeSmile:
    """openSMILE computing the contours `feature_set`'s functionals read, one external sink per level
    (`levels_config`)."""
    from ser.frontend import smile_native

    return smile_native.NativeSmile.from_config(str(levels_config(feature_set)), {}, tuple(plan(feature_set).sinks.values()))


def run_sections(sections: list[str], output_level: str, columns: np.ndarray,
                 period: float = PERIOD) -> tuple[list[str], np.ndarray]:
    """openSMILE running the config `sections` (text; the first reads level ``ser_in``) over `columns` (frames x k,
    fed through an external source as fields c0..ck-1, one frame per `period` s): (the names and the frames of
    `output_level`)."""
    from ser.frontend import smile_native

    lib = smile_native._binding()
    data = np.ascontiguousarray(columns, dtype=np.float32)
    frames, width = data.shape
    size = max(frames, 1)
    text = ["[componentInstances:cComponentManager]", "instance[dataMemory].type=cDataMemory",
            "instance[ser_in].type=cExternalSource", "instance[ser_out].type=cExternalSink",
            "[ser_in:cExternalSource]", "writer.dmLevel = ser_in", f"period = {period}",
            *(f"fieldNames[{i}] = c{i}" for i in range(width)), f"blocksize = {size}",
            "writer.levelconf.growDyn = 0", "writer.levelconf.isRb = 0", f"writer.levelconf.nT = {size}",
            *sections, "[ser_out:cExternalSink]", f"reader.dmLevel = {output_level}"]
    with tempfile.NamedTemporaryFile("w", prefix="ser-functionals-", suffix=".conf", delete=False) as handle:
        handle.write("\n".join(text) + "\n")
    rows: list[np.ndarray] = []

    def on_frames(values, nrows, ncols, meta, user) -> int:  # noqa: ANN001  (ctypes callback)
        rows.append(np.ctypeslib.as_array(values, shape=(nrows, ncols)).copy())
        return 1

    callback = lib.ExternalSinkCallbackEx(on_frames)
    smile = lib.OpenSMILE()
    try:
        smile.initialize(config_file=handle.name, options={}, loglevel=1, log_file=None, debug=False)
        smile._check_smile_result(lib.smileapi.smile_extsink_set_data_callback_ex(smile._smileobj, b"ser_out",
                                                                                    callback, None))
        names = [smile.external_sink_get_element_name("ser_out", i)
                 for i in range(smile.external_sink_get_num_elements("ser_out"))]
        if frames:  # the C API counts frames (the binding's wrapper would count floats)
            smile._check_smile_result(lib.smileapi.smile_extsource_write_data(
                smile._smileobj, b"ser_in", data.ctypes.data_as(POINTER(c_float)), frames))
        smile.external_source_set_eoi("ser_in")
        smile.run()
    finally:
        smile.free()
        Path(handle.name).unlink(missing_ok=True)
    return names, (np.vstack(rows) if rows else np.zeros((0, len(names)), dtype=np.float32))


def run_component(section: smile_config.Section, columns: np.ndarray, period: float = PERIOD) -> np.ndarray:
    """openSMILE's own `section` (a cFunctionals component) over `columns` (frames x k): its output values, column by
    column (k x functionals, flattened as openSMILE writes them)."""
    _, rows = run_sections([section.text(reader="ser_in")], section.value("writer.dmLevel"), columns, period)
    if rows.shape[0] == 0:
        raise ValueError(f"openSMILE's {section.name} wrote no row for {len(columns)} frames")
    return rows[-1].astype(np.float32)


def component_values(section: smile_config.Section, column: Column, columns: list[tuple[str, int]], frames: int,
                     period: float = PERIOD) -> np.ndarray:
    """The output of `section` over `columns` [(sink, j)], the first `frames` frames of each; the columns are
    summarised a few at a time (numpy where ``ser.frontend.cfunctionals`` implements the component)."""
    numpy_values = _numpy_component(section)
    if numpy_values is not None:
        return np.concatenate([numpy_values(column(sink, j, frames), period) for sink, j in columns])
    per_run = max(1, RUN_VALUES // max(frames, 1))
    parts = []
    for start in range(0, len(columns), per_run):
        batch = columns[start : start + per_run]
        parts.append(run_component(section, np.stack([column(sink, j, frames) for sink, j in batch], axis=1), period))
    return np.concatenate(parts)


def _numpy_component(section: smile_config.Section) -> Callable[[np.ndarray, float], np.ndarray] | None:
    """numpy's version of `section` when ``ser.frontend.cfunctionals`` implements all of it, else None."""
    try:
        from ser.frontend import cfunctionals
    except ImportError:
        return None
    options = section.options()
    try:
        cfunctionals.check(options)
    except cfunctionals.Unsupported:
        return None
    return lambda values, period: cfunctionals.values(options, values, period)


def _inputs(p: Plan, section: smile_config.Section, widths: dict[str, int]) -> list[tuple[str, int]]:
    """The (sink, column) pairs `section` reads, in its input order (its levels one after another)."""
    return [(p.sinks[level], j) for level in section.readers() for j in range(widths[p.sinks[level]])]


def row(p: Plan, column: Column, lengths: dict[str, int], widths: dict[str, int], tails: dict[str, int],
        period: float = PERIOD) -> np.ndarray:
    """The set's row from its contours: each component over the frames its levels share less its tail."""
    parts = []
    for section in p.layout.components:
        frames = min(lengths[p.sinks[level]] for level in section.readers()) - tails[section.name]
        if frames <= 0:
            raise ValueError(f"no frames left for {section.name}")
        parts.append(component_values(section, column, _inputs(p, section, widths), frames, period))
    return np.concatenate(parts).astype(np.float32)


@functools.cache
def _reference(feature_set: str) -> NativeSmile:
    from ser.frontend import smile_native

    return smile_native.NativeSmile(feature_set, "functionals")


def end_tails(p: Plan, window: np.ndarray, rate: int, levels: dict[str, np.ndarray] | None = None) -> dict[str, int]:
    """Per component, the frames openSMILE's one pass leaves out at the end of the input, found on the last window
    (they depend on the end of the audio only): the tail under which the component's values of the window equal
    openSMILE's own (the nearest where none is equal)."""
    reference = _reference(p.feature_set)
    rows = reference(window, rate)
    reference.close()
    if rows.shape[0] == 0:
        raise ValueError(f"openSMILE's {p.feature_set} writes no functionals for {window.size / rate:.3f} s of audio")
    want = rows[0]
    levels = level_smile(p.feature_set).levels(window, rate) if levels is None else levels
    widths = {sink: rows.shape[1] for sink, rows in levels.items()}

    def column(sink: str, j: int, frames: int) -> np.ndarray:
        return levels[sink][:frames, j]

    tails: dict[str, int] = {}
    offset = 0
    for section in p.layout.components:
        inputs = _inputs(p, section, widths)
        shared = min(len(levels[p.sinks[level]]) for level in section.readers())
        best, best_error, size = 0, np.inf, None
        for tail in TAIL_CANDIDATES:
            if shared - tail <= 0:
                break
            got = component_values(section, column, inputs, shared - tail)
            size = got.size
            ref = want[offset : offset + size]
            error = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-6))) if ref.size == size else np.inf
            if error < best_error:
                best, best_error = tail, error
            if error == 0.0:
                break
        if size is None:
            raise ValueError(f"the last window gives no frames for {section.name}")
        tails[section.name] = best
        offset += size
    return tails


def _rederive(p: Plan, spill: ColumnSpill, window_levels: dict[str, np.ndarray]) -> None:
    """Replace the block-computed columns of each onlyInSegments delta level in `spill` by the deltas of the whole
    input contour, with the unseen end frames found on the last window (its own deltas are openSMILE's)."""
    from ser.frontend import segment_deltas

    for level, (source, win) in p.segment_deltas.items():
        sink, source_sink = p.sinks[level], p.sinks[source]
        ours, theirs = window_levels[source_sink], window_levels[sink]
        hidden = _hidden_end(ours, theirs, win)
        frames = spill.frames(source_sink)
        columns = segment_deltas.deltas(lambda j: spill.column(source_sink, j), spill.widths[source_sink], win, hidden)
        if frames:
            for j, values in enumerate(columns):
                spill.replace(sink, j, values)


def _hidden_end(source: np.ndarray, deltas: np.ndarray, win: int) -> int:
    """The input frames the delta component had not seen at the end of the window: the count under which our deltas
    of the window equal openSMILE's (the nearest where none does)."""
    from ser.frontend import segment_deltas

    best, best_error = 1, np.inf
    for hidden in (1, 2, 0, 3, 4):
        ours = np.stack(list(segment_deltas.deltas(lambda j: source[:, j], source.shape[1], win, hidden)), axis=1)
        if ours.shape != deltas.shape:
            continue
        error = float(np.max(np.abs(ours - deltas))) if ours.size else 0.0
        if error == 0.0:
            return hidden
        if error < best_error:
            best, best_error = hidden, error
    return best


def functionals(feature_set: str, blocks: Iterable[np.ndarray], rate: int) -> np.ndarray:
    """One row (1 x dim, float32) of `feature_set`'s functionals over the concatenated `blocks`."""
    from ser.frontend.long_functionals import ColumnSpill, contour_blocks

    p = plan(feature_set)
    if p is None:
        raise ValueError(f"no bounded-memory functionals for '{feature_set}'")
    smile = level_smile(feature_set)
    context = CONTEXT_SECONDS.get(feature_set, DEFAULT_CONTEXT_SECONDS)
    window = np.zeros(0, dtype=np.float32)
    with ColumnSpill() as spill:
        for rows, window in contour_blocks(smile.levels, blocks, rate, context):
            spill.append(rows)
        # the end of the audio, for what happens at the end of input (openSMILE's own pass over it in `end_tails`
        # and our contours of it both start at its start, so they agree on it whatever state the contours carry); it
        # starts on the utterance's frame grid, as the window does, so its last frames are the utterance's
        hop = int(round(PERIOD * rate))
        cut = max(0, window.size - int(END_SECONDS * rate))
        end = window[cut - cut % hop :]
        end_levels = smile.levels(end, rate)
        smile.close()  # its data memory is not needed again for this utterance: the peak stays one instance's
        _rederive(p, spill, end_levels)
        lengths = {sink: spill.frames(sink) for sink in p.sinks.values()}

        def column(sink: str, j: int, frames: int) -> np.ndarray:
            return spill.column(sink, j, drop_last=lengths[sink] - frames)

        return row(p, column, lengths, spill.widths, end_tails(p, end, rate, end_levels))[None, :]


__all__ = ["Plan", "end_tails", "functionals", "level_smile", "plan", "row", "run_component", "supported"]
