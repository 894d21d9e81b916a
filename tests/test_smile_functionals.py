"""ser.frontend.smile_functionals against openSMILE's own cFunctionals, run on the same contours.

The reference is openSMILE itself: the wheel's libSMILEapi runs a config made of a cExternalSource (the contours
as data, one field per contour, period 0.01 s), the cFunctionals block copied verbatim from the config files in the
installed wheel (its include lines inlined: frameMode=full from FrameModeFunctionals.conf.inc), and a cExternalSink
that hands back the output row and its names. Compared on real LLD contours (eGeMAPSv02 and emobase LLDs of EmoDB
and RAVDESS clips, and one clip repeated 10x for a ~35 s contour) and on synthetic edge cases.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import require_data
from contour_cases import edge_cases
from ser.frontend import smile_functionals as sf

# float32 outputs: in practice bit-identical here; the tolerance leaves room for another libm's logf/sqrtf
RTOL, ATOL = 1e-6, 1e-7

GEMAPS = "gemaps/v01b/GeMAPSv01b_core.func.conf.inc"
EGEMAPS = "egemaps/v02/eGeMAPSv02_core.func.conf.inc"
EMOBASE = "emobase/emobase.conf"
#: the \{\cm[...]} includes of the blocks under test, inlined from the wheel's config/shared
INCLUDES = {"bufferModeRbConf": "BufferModeRb.conf.inc", "frameModeFunctionalsConf": "FrameModeFunctionals.conf.inc"}


@functools.cache
def _core() -> Path:
    spec = importlib.util.find_spec("opensmile")
    return Path(next(iter(spec.submodule_search_locations))) / "core"


def _block(path: str, name: str, kind: str, reader: str | None = None) -> tuple[str, str]:
    """Section `[name:kind]` of a wheel config file as config text (and its writer level); `reader` replaces its
    input level; include lines are replaced by the included file, the sink include is dropped."""
    lines = (_core() / "config" / path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"[{name}:{kind}]")
    body = ["[componentInstances:cComponentManager]", f"instance[{name}].type={kind}", lines[start]]
    for line in lines[start + 1 :]:
        if line.strip().startswith("["):
            break
        include = re.match(r"\s*\\\{\\cm\[(\w+)", line)
        if include:
            if include.group(1) in INCLUDES:
                body += (_core() / "config" / "shared" / INCLUDES[include.group(1)]).read_text().splitlines()
            continue
        if reader is not None and re.match(r"\s*reader\.dmLevel\s*=", line):
            line = f"reader.dmLevel = {reader}"
        body.append(line)
    writer = next(line.split("=", 1)[1].strip() for line in body if re.match(r"\s*writer\.dmLevel\s*=", line))
    return "\n".join(body) + "\n", writer


def _opensmile(blocks: list[tuple[str, str, str]], contours: np.ndarray) -> tuple[list[str], np.ndarray]:
    """openSMILE's output row for `contours` (frames x contours) through the chain of wheel config `blocks`
    [(file, section name, component type)], the first reading the source; -> (output names, values)."""
    from ser.frontend.column_functionals import run_sections

    level, texts = "ser_in", []
    for path, name, kind in blocks:
        section, level = _block(path, name, kind, reader=level if name == blocks[0][1] else None)
        texts.append(section)
    return run_sections(texts, level, contours)


#: each function under test: (how to call it on one contour, openSMILE blocks that compute the same)
CASES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], list[tuple[str, str, str]]]] = {
    "gemaps_f0": (lambda x: sf.gemaps_contour(x, nonzero=True), [(GEMAPS, "gemapsv01b_functionalsF0", "cFunctionals")]),
    "gemaps_loudness": (lambda x: sf.gemaps_contour(x, nonzero=False),
                        [(GEMAPS, "gemapsv01b_functionalsLoudness", "cFunctionals")]),
    "mvr": (lambda x: sf.mean_stddevnorm(x, nonzero=False), [(EGEMAPS, "egemapsv02_functionalsMVR", "cFunctionals")]),
    "mvr_voiced": (lambda x: sf.mean_stddevnorm(x, nonzero=True),
                   [(EGEMAPS, "egemapsv02_functionalsMVRVoiced", "cFunctionals")]),
    "mean_unvoiced": (lambda x: sf.amean(x, nonzero=True), [(EGEMAPS, "egemapsv02_functionalsMeanUV", "cFunctionals")]),
    "loudness_peaks": (sf.loudness_peaks_per_sec, [(GEMAPS, "gemapsv01b_temporalLoudness", "cFunctionals")]),
    "voiced_segments": (sf.voiced_segments, [(GEMAPS, "gemapsv01b_temporalF0", "cFunctionals")]),
    "unvoiced_segments": (sf.unvoiced_segments, [(GEMAPS, "gemapsv01b_temporalF0p", "cFunctionals")]),
    "leq": (sf.equivalent_sound_level, [(EGEMAPS, "egemapsv02_leqLin", "cFunctionals"),
                                        (EGEMAPS, "egemapsv02_leq", "cVectorOperation")]),
    "emobase": (sf.emobase_contour, [(EMOBASE, "functL1", "cFunctionals")]),
}


def _check(case: str, contours: np.ndarray, label: str) -> None:
    """Our function on every column of `contours` equals openSMILE's block on the same column."""
    ours_fn, blocks = CASES[case]
    contours = np.asarray(contours, dtype=np.float32).reshape(len(contours), -1)
    if case == "leq":  # leqLin keeps the input's field structure (preserveFields=1): meant for one field only
        per_contour = np.vstack([_opensmile(blocks, contours[:, [j]])[1][0] for j in range(contours.shape[1])])
    else:
        _, ref = _opensmile(blocks, contours)
        per_contour = ref[0].reshape(contours.shape[1], -1)  # openSMILE writes contour by contour
    for j in range(contours.shape[1]):
        np.testing.assert_allclose(ours_fn(contours[:, j]), per_contour[j], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{case} on {label}, contour {j}")


def test_output_names_and_order_are_openSMILEs():
    """The sink's names for each block, in the order our functions return the values."""
    one = np.arange(1, 9, dtype=np.float32)[:, None]
    expected = {
        "gemaps_f0": ["amean", "stddevNorm", "percentile20.0", "percentile50.0", "percentile80.0", "pctlrange0-2",
                      "meanRisingSlope", "stddevRisingSlope", "meanFallingSlope", "stddevFallingSlope"],
        "mvr": ["amean", "stddevNorm"],
        "mean_unvoiced": ["amean"],
        "loudness_peaks": ["numPeaks"],
        "voiced_segments": ["numSegments", "meanSegLen", "segLenStddev"],
        "unvoiced_segments": ["_f0pause_meanSegLen", "_f0pause_segLenStddev"],  # functNameAppend = f0pause
        "emobase": list(sf.EMOBASE_FUNCTIONALS),
    }
    for case, functionals in expected.items():
        assert _opensmile(CASES[case][1], one)[0] == [f"c0_{f}" for f in functionals]
    assert _opensmile(CASES["leq"][1], one)[0] == ["equivalentSoundLevel_dBp"]
    names, _ = _opensmile(CASES["emobase"][1], np.ones((8, 2), dtype=np.float32))  # contour-major, as we return
    assert names == [f"c{j}_{f}" for j in range(2) for f in sf.EMOBASE_FUNCTIONALS]


def _synthetic() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    walk = np.cumsum(rng.normal(0, 1, 1500)) + 40
    voiced = np.where(rng.random(1500) < 0.35, 0.0, walk)
    pattern = np.concatenate([np.where(rng.random(n) < 0.5, 0.0, 25 + rng.random(n)) for n in rng.integers(1, 6, 400)])
    return {
        **edge_cases(),
        "mean near 0": rng.normal(0.01, 1.0, 300),
        "random walk": walk,
        "random with zeros": voiced,
        "short runs and gaps": pattern,
        "plateaus": np.repeat(rng.normal(10, 3, 60), rng.integers(1, 5, 60)),
        "over 1000 segments": np.tile([20.0, 21.0, 22.0, 0.0, 0.0], 1100),
        "leading/trailing single zeros": np.array([0, 5, 6, 7, 0, 8, 9, 0, 0, 1, 2, 3, 4, 0], dtype=float),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_synthetic_edge_cases_match_openSMILE(case):
    """Empty after dropping zeros, 1-5 frames, constant contours, > maxNumSeg segments, ties and plateaus."""
    for label, x in _synthetic().items():
        x = np.abs(x) if case == "leq" else x
        _check(case, x[:, None], label)


def test_empty_contour_is_refused_as_openSMILE_writes_no_row():
    names, out = _opensmile(CASES["emobase"][1], np.zeros((0, 1), dtype=np.float32))
    assert len(names) == 19 and out.shape == (0, 19)
    for fn, _ in CASES.values():
        with pytest.raises(ValueError, match="no frames"):
            fn(np.zeros(0, dtype=np.float32))


@functools.cache
def _real_llds() -> dict[str, dict[str, np.ndarray]]:
    """eGeMAPSv02 and emobase LLD matrices (frames x LLDs) of a few real clips and of one clip repeated 10 times."""
    import opensmile
    import soundfile

    data = require_data("emodb").parent
    require_data("ravdess")
    clips = {
        "emodb 03a01Fa": data / "emodb" / "03a01Fa.wav",
        "emodb 16b10Wb": data / "emodb" / "16b10Wb.wav",
        "ravdess 01 angry": data / "ravdess" / "Actor_01" / "03-01-05-01-02-01-01.wav",
        "ravdess 20 stereo": data / "ravdess" / "Actor_20" / "03-01-03-01-02-01-20.wav",
    }
    audio = {}
    for label, path in clips.items():
        if not path.exists():
            require_data(str(path.relative_to(data)))
        x, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        audio[label] = (x.mean(axis=1), rate)
    x, rate = audio["ravdess 01 angry"]
    audio["ravdess 01 angry x10"] = (np.tile(x, 10), rate)
    out: dict[str, dict[str, np.ndarray]] = {"egemaps": {}, "emobase": {}}
    for key, feature_set in (("egemaps", opensmile.FeatureSet.eGeMAPSv02), ("emobase", opensmile.FeatureSet.emobase)):
        smile = opensmile.Smile(feature_set=feature_set, feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
        for label, (x, rate) in audio.items():
            out[key][label] = smile.process_signal(x, rate).to_numpy(dtype=np.float32)
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_real_lld_contours_match_openSMILE(case):
    """Every eGeMAPSv02 LLD (F0 with its unvoiced zeros, loudness, jitter, formants, MFCCs...) and every emobase LLD
    of real speech, through each block: ~50 contours per clip, of 1.5 s to 35 s."""
    for key, by_clip in _real_llds().items():
        for label, lld in by_clip.items():
            assert lld.shape[0] > 100 and np.isfinite(lld).all()
            if case == "leq":  # one openSMILE run per contour: the loudness/intensity ones (energy-like, >= 0)
                lld = lld[:, :1] if key == "egemaps" else lld[:, :2]
            _check(case, lld, f"{key} LLDs of {label}")
