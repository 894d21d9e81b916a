"""ser.frontend.cfunctionals against openSMILE's own cFunctionals components, run on the same contours.

The reference is openSMILE itself: each functionals section of the wheel's configs (as ``smile_config`` reads it,
includes inlined) runs behind a cExternalSource that holds the contours as data (one field per contour, period
0.01 s), and a cExternalSink hands back its row and names. Compared on real ComParE_2016 LLD contours of EmoDB clips
(and one clip tiled 10x) and on synthetic edge cases, every column against ``cfunctionals.values``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from conftest import require_data
from contour_cases import edge_cases
from ser.frontend import cfunctionals as cf
from ser.frontend import column_functionals, smile_config, smile_native

#: float32 outputs; the tolerance leaves room for another libm's exp/log/sqrt
RTOL, ATOL = 1e-6, 1e-7

#: components (per feature set) that must match openSMILE exactly
COVERED = {
    "ComParE_2016": ["is13_functionalsA", "is13_functionalsB", "is13_functionalsNz", "is13_functionalsF0",
                     "is13_functionalsLLD", "is13_functionalsDelta"],
    "IS09": ["is09_functL1"],
    "IS10": ["functL1", "functL1nz", "functOnsets"],
    "IS11": ["functionalsA", "functionalsB", "functionalsNz", "functionalsF0"],
    "IS12": ["functionalsA", "functionalsB", "functionalsNz", "functionalsF0", "functionalsLLD", "functionalsDelta"],
    "IS13": ["is13_functionalsA", "is13_functionalsB", "is13_functionalsNz", "is13_functionalsF0",
             "is13_functionalsLLD", "is13_functionalsDelta"],
}
CASES = [(feature_set, name) for feature_set, names in COVERED.items() for name in names]
#: components with an option or functional that is not implemented here (feature set, name, option changed, value):
#: check() must refuse them
NOT_COVERED = [("IS10", "functOnsets", "Onset.thresholdOnset", "0.5"),
               ("IS11", "functionalsA", "Peaks.overlapFlag", "0"),
               ("IS11", "functionalsNz", "functionalsEnabled", "Means ; Peaks ; Crossings")]


@functools.cache
def _sections(feature_set: str) -> dict[str, smile_config.Section]:
    core = smile_native._package_core() / "config"
    layout = smile_config.functionals_layout(core / f"{smile_native.CONFIGS[feature_set]}.conf")
    return {section.name: section for section in layout.components}


def opensmile_row(section: smile_config.Section, contours: np.ndarray) -> tuple[list[str], np.ndarray]:
    """openSMILE's (names, row) for `contours` (frames x columns) through `section` alone."""
    return column_functionals.run_sections([section.text(reader="ser_in", writer="funcs")], "funcs", contours)


def _compare(feature_set: str, name: str, contours: np.ndarray, label: str, extra: tuple[str, ...] = ()) -> None:
    """values() on every column of `contours` equals openSMILE's row of component `name` (contour-major), with the
    option lines `extra` added to its section (the last value of a key counts)."""
    section = _sections(feature_set)[name]
    if extra:
        section = smile_config.Section(section.name, section.kind, [*section.lines, *extra])
    contours = np.asarray(contours, dtype=np.float32).reshape(len(contours), -1)
    _, ref = opensmile_row(section, contours)
    assert ref.shape[0] == 1, f"{name} on {label}: openSMILE wrote {ref.shape[0]} rows"
    per_column = ref[0].reshape(contours.shape[1], -1)  # openSMILE writes all functionals of column 0 first
    options = section.options()
    for j in range(contours.shape[1]):
        np.testing.assert_allclose(cf.values(options, contours[:, j]), per_column[j], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{feature_set} {name} on {label}, column {j}")


def _synthetic() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    walk = np.cumsum(rng.normal(0, 1, 1500)) + 40
    with_zeros = np.where(rng.random(1500) < 0.35, 0.0, walk)
    long_walk = np.cumsum(rng.normal(0, 1, 20000)) + 5
    # longer than two of the chunks sums and running averages go by (cfunctionals.CHUNK), with pauses
    chunked = np.where(np.repeat(rng.random(1400) < 0.3, 100), 0.0, np.cumsum(rng.normal(0, 0.5, 140000)) + 60)
    # over a thousand peaks and ~87,000 turns (Peaks walks them in blocks) over more than two chunks, with sign changes
    # (onsets/offsets at threshold 0) right at the chunk boundaries (Onset goes by chunks from frame 1)
    frames = np.arange(140001)
    oscillating = np.sin(2 * np.pi * frames / 37) + rng.normal(0, 0.3, frames.size) + np.sin(frames / 5000)
    for start in (1 + cf.CHUNK, 1 + 2 * cf.CHUNK):
        oscillating[start - 3 : start] = -1.0
        oscillating[start : start + 3] = 1.0
    return {
        **edge_cases(),
        "falling ramp": np.linspace(4, -1, 333),
        "mean near 0": rng.normal(0.01, 1.0, 300),
        "random walk": walk,
        "random with zeros": with_zeros,
        "positive and negative with zeros": np.where(rng.random(700) < 0.2, 0.0, rng.normal(0, 3, 700)),
        "plateaus": np.repeat(rng.normal(10, 3, 60), rng.integers(1, 5, 60)),
        "over maxNumSeg segments": np.tile([20.0, 21.0, 22.0, 0.0, 0.0], 1100),
        "long random walk": long_walk,
        "over two chunks, with pauses": chunked,
        "oscillating over two chunks": oscillating,
    }


def _columns(contours: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """Contours of one length side by side (one openSMILE run per length)."""
    by_length: dict[int, list[tuple[str, np.ndarray]]] = {}
    for label, x in contours.items():
        by_length.setdefault(len(x), []).append((label, x))
    return [(" + ".join(label for label, _ in group), np.stack([x for _, x in group], axis=1))
            for group in by_length.values()]


@pytest.mark.parametrize(("feature_set", "name"), CASES)
def test_synthetic_edge_cases_match_openSMILE(feature_set, name):
    """Empty after dropping zeros, 1-5 frames, constant contours, > maxNumSeg segments, 20000 and 140000 frames,
    a 140001-frame oscillation with over a thousand peaks."""
    for label, contours in _columns(_synthetic()):
        _compare(feature_set, name, contours, label)


#: options of Onset and Peaks that the configs leave off or fix (outputs, norms, thresholds)
VARIANTS = [
    ("IS10", "functOnsets", ("Onset.onsetPos = 1", "Onset.offsetPos = 1", "Onset.numOffsets = 1",
                             "Onset.onsetRate = 1")),
    ("IS10", "functOnsets", ("Onset.onsetPos = 1", "Onset.offsetPos = 1", "Onset.norm = second",
                             "Onset.threshold = 2.5", "Onset.useAbsVal = 1")),
    ("IS10", "functOnsets", ("Onset.onsetPos = 1", "Onset.offsetPos = 1", "Onset.norm = frames",
                             "Onset.threshold = -0.5")),
    ("IS11", "functionalsA", ("Peaks.numPeaks = 1", "Peaks.norm = segment")),
    ("IS11", "functionalsNz", ("Peaks.numPeaks = 1", "Peaks.norm = frames", "Peaks.peakMean = 0")),
]


@pytest.mark.parametrize(("feature_set", "name", "extra"), VARIANTS)
def test_option_variants_match_openSMILE(feature_set, name, extra):
    """Outputs, norms and thresholds of Onset and Peaks that no config of the wheel uses, on the synthetic contours."""
    for label, contours in _columns(_synthetic()):
        _compare(feature_set, name, contours, label, extra)


@functools.cache
def _real_llds() -> dict[str, np.ndarray]:
    """ComParE_2016 LLD matrices (frames x 65 LLDs, and 65 first differences of them) of a few EmoDB clips and one clip tiled 10x."""
    import soundfile

    emodb = require_data("emodb")
    smile = smile_native.NativeSmile("ComParE_2016", "lld")
    out = {}
    for clip in ("03a01Fa", "16b10Wb", "08a01Lc"):
        path = emodb / f"{clip}.wav"
        if not path.exists():
            require_data(f"emodb/{clip}.wav")
        x, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        lld = smile(x.mean(axis=1), rate).astype(np.float32)
        delta = np.diff(lld, axis=0, prepend=lld[:1]) * np.float32(0.5)  # delta-like contours (sign changes)
        out[clip] = np.hstack([lld, delta])
    out["03a01Fa x10"] = np.tile(out["03a01Fa"], (10, 1))
    return out


@pytest.mark.parametrize(("feature_set", "name"), CASES)
def test_real_lld_contours_match_openSMILE(feature_set, name):
    """Every ComParE LLD and delta (F0 with its zeros, energies, MFCCs, spectral shape...) of real speech."""
    for label, lld in _real_llds().items():
        assert lld.shape[0] > 100 and lld.shape[1] > 100 and np.isfinite(lld).all()
        _compare(feature_set, name, lld, label)


def test_output_is_contour_major_and_names_match_the_count():
    """openSMILE writes all functionals of column 0, then of column 1: the row is columns x values() long."""
    section = _sections("ComParE_2016")["is13_functionalsA"]
    contours = np.stack([np.arange(1, 41, dtype=np.float32), np.arange(40, 0, -1, dtype=np.float32)], axis=1)
    names, ref = opensmile_row(section, contours)
    n = cf.values(section.options(), contours[:, 0]).size
    assert len(names) == 2 * n == ref.shape[1]
    assert all(name.startswith("c0_") for name in names[:n]) and all(name.startswith("c1_") for name in names[n:])


@pytest.mark.parametrize(("feature_set", "name", "key", "value"), NOT_COVERED)
def test_check_refuses_components_with_functionals_not_implemented(feature_set, name, key, value):
    options = dict(_sections(feature_set)[name].options())
    cf.check(options)
    options[key] = value
    with pytest.raises(cf.Unsupported, match=key.rpartition(".")[2] if "." in key else "Crossings"):
        cf.check(options)


@pytest.mark.parametrize(("key", "value", "what"), [
    ("functionalsEnabled", "Means ; Bogus", "Bogus"),
    ("Segments.segmentationAlgorithm", "bogus", "segmentationAlgorithm"),
    ("Segments.norm", "bogus", "norm"),
    ("Regression.centroidNorm", "bogus", "centroidNorm"),
    ("Peaks2.dynRelThresh", "1", "dynRelThresh"),
    ("Means.unknownOption", "1", "unknownOption"),
    ("frameMode", "fixed", "frameMode"),
    ("Lpc.order", "x", "order"),
])
def test_check_refuses_unknown_functionals_and_option_values(key, value, what):
    options = dict(_sections("ComParE_2016")["is13_functionalsF0"].options())
    options["functionalsEnabled"] = "Means ; Segments ; Regression ; Peaks2 ; Lpc"
    cf.check(options)
    options[key] = value
    with pytest.raises(cf.Unsupported, match=what):
        cf.check(options)
    with pytest.raises(cf.Unsupported):
        cf.values(options, np.ones(10, dtype=np.float32))


def test_array_options_in_either_syntax_are_the_same():
    """``Percentiles.percentile[0] = ..`` and ``Percentiles.percentile = a;b`` configure the same outputs."""
    options = dict(_sections("ComParE_2016")["is13_functionalsA"].options())
    listed = {k: v for k, v in options.items() if "[" not in k}
    listed.update({"Percentiles.percentile": "0.01 ; 0.99", "Percentiles.pctlrange": "0-1"})
    x = np.random.default_rng(5).normal(size=500).astype(np.float32)
    np.testing.assert_array_equal(cf.values(options, x), cf.values(listed, x))


def test_empty_contour_is_refused_as_openSMILE_writes_no_row():
    section = _sections("ComParE_2016")["is13_functionalsNz"]
    names, out = opensmile_row(section, np.zeros((0, 1), dtype=np.float32))
    assert out.shape == (0, len(names))
    with pytest.raises(ValueError, match="no frames"):
        cf.values(section.options(), np.zeros(0, dtype=np.float32))
