"""Functionals of long utterances for ComParE_2016 and IS09-IS13 (ser.frontend.column_functionals): each set's
components read from openSMILE's own configs, its contours computed in blocks, its onlyInSegments deltas recomputed
from the whole contour (ser.frontend.segment_deltas), and the row compared with openSMILE's one pass over the same
samples."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser.frontend import column_functionals as cf
from ser.frontend import long_functionals as lf
from ser.frontend import segment_deltas, smile_config, smile_native
from ser.frontend.featureset import load_feature_set

RATE = 16000


def _speech(emodb_dir: Path, clips: int) -> np.ndarray:
    return np.concatenate([sf.read(f, dtype="float32")[0] for f in sorted(emodb_dir.glob("*.wav"))[:clips]])


def _one_pass(feature_set: str, x: np.ndarray) -> np.ndarray:
    return smile_native.NativeSmile(feature_set, "functionals")(x, RATE)[0]


def test_the_layout_read_from_the_configs_makes_each_sets_row():
    """The components found behind each set's `func` level, run by openSMILE on the set's own contours of a clip,
    give the set's one-pass row (names counted, values equal); eGeMAPS (whose row is not a plain concatenation) is
    left to its own path."""
    core = smile_native._package_core() / "config"
    assert smile_config.functionals_layout(core / f"{smile_native.CONFIGS['eGeMAPSv02']}.conf") is None
    layout = smile_config.functionals_layout(core / f"{smile_native.CONFIGS['ComParE_2016']}.conf")
    assert [c.name for c in layout.components] == ["is13_functionalsA", "is13_functionalsB", "is13_functionalsNz",
                                                   "is13_functionalsF0", "is13_functionalsLLD", "is13_functionalsDelta"]
    assert layout.components[0].value("functionalsEnabled").split(";")[-1].strip() == "Lpc"  # ';' kept in values
    assert layout.components[0].value("frameMode") == "full"  # from the inlined FrameModeFunctionals include


@pytest.mark.parametrize(("feature_set", "clips"), [("ComParE_2016", 18), ("IS09", 60), ("IS11", 41), ("IS13", 12)])
def test_long_rows_are_the_one_pass_rows(emodb_dir, feature_set, clips):
    """Over EmoDB concatenations longer than a block (ComParE_2016 38 s, IS09 2.5 min, IS11 1.8 min, IS13 21 s), fed
    in uneven pieces: openSMILE's one-pass row (bit for bit here; the margin is for another libm's log/sqrt). IS11's
    needs the end of the audio that the end frames are found on to start on the utterance's frame grid."""
    x = _speech(emodb_dir, clips)
    want = _one_pass(feature_set, x)
    got = cf.functionals(feature_set, iter(np.array_split(x, 23)), RATE)[0]
    assert got.shape == want.shape
    differ = got != want
    assert differ.sum() <= 3, differ.sum()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)


def test_onlyinsegments_deltas_are_openSMILEs_level(emodb_dir):
    """The ComParE_2016 deltas of its non-zero-smoothed contours, from the whole input contour: equal to openSMILE's
    level on every clip, with the end frames unseen found per clip (1, or 2 on 03a07Fb), by the fast path and by the
    slow one that replays float32 rounding past 2^24."""
    plan = cf.plan("ComParE_2016")
    smile = cf.level_smile("ComParE_2016")
    source, deltas = plan.sinks["is13_lld_nzsmo"], plan.sinks["is13_lld_nzsmo_de"]
    found = {}
    for clip in ("03a01Fa", "03a07Fb", "03b01Nb"):
        levels = smile.levels(sf.read(emodb_dir / f"{clip}.wav", dtype="float32")[0], RATE)
        src, want = levels[source], levels[deltas]
        found[clip] = hidden = cf._hidden_end(src, want, 2)
        got = np.stack(list(segment_deltas.deltas(lambda j: src[:, j], src.shape[1], 2, hidden)), axis=1)
        assert np.array_equal(got, want), clip
        if hidden != 1:
            other = np.stack(list(segment_deltas.deltas(lambda j: src[:, j], src.shape[1], 2, 1)), axis=1)
            assert not np.array_equal(other, want)
    assert found == {"03a01Fa": 1, "03a07Fb": 2, "03b01Nb": 1}
    exact_limit = segment_deltas.EXACT_FLOAT32
    try:
        segment_deltas.EXACT_FLOAT32 = 0
        slow = np.stack(list(segment_deltas.deltas(lambda j: src[:, j], src.shape[1], 2, 1)), axis=1)
    finally:
        segment_deltas.EXACT_FLOAT32 = exact_limit
    assert np.array_equal(slow, want)


def test_without_the_recomputed_deltas_the_row_would_differ(emodb_dir, monkeypatch):
    """The deltas' normaliser grows over the whole utterance: computed in blocks they are wrong after the first
    block, which the row shows (the check that the recomputation is needed, and is what makes the row right)."""
    x = _speech(emodb_dir, 18)
    want = _one_pass("ComParE_2016", x)
    monkeypatch.setattr(cf, "_rederive", lambda *args: None)
    got = cf.functionals("ComParE_2016", iter([x]), RATE)[0]
    assert (got != want).sum() > 100


def test_compare6373_extracts_a_long_utterance_bounded(emodb_dir, tmp_path, monkeypatch):
    """The shipped compare6373 set takes a 38 s file under a 30 s functionals limit (bounded: no limit applies) and
    gives openSMILE's row; no spill file is left behind."""
    import tempfile

    from ser.frontend import featurise as fz

    x = _speech(emodb_dir, 18)
    path = tmp_path / "long.wav"
    sf.write(path, x, RATE, subtype="FLOAT")
    cf.level_smile("ComParE_2016")  # this process's generated configs stay where they are
    monkeypatch.setenv("SER_MAX_FUNCTIONALS_MINUTES", "0.5")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    fs = load_feature_set("compare6373")
    extractor = fs.build()
    assert extractor.bounded and lf.supported("ComParE_2016")
    got = fz.featurise(fs, extractor, str(path))
    np.testing.assert_allclose(got[0], _one_pass("ComParE_2016", x), rtol=1e-6, atol=1e-12)
    assert not [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("ser-contours-")]


@pytest.mark.parametrize("feature_set", ["ComParE_2016", "IS09", "IS10", "IS11", "IS12", "IS13"])
def test_the_contour_config_gives_the_sets_own_contours(emodb_dir, tmp_path, feature_set):
    """The generated config (the set's config without its functionals, its growing levels made rings, sinks added)
    gives the contours of the set's own config with the same sinks, bit for bit, on 6 s of speech."""
    plan = cf.plan(feature_set)
    assert plan is not None and lf.supported(feature_set)
    text = cf.levels_config(feature_set).read_text()
    assert "cFunctionals" not in text and not re.search(r"growDyn\s*=\s*1", text)
    sinks = tmp_path / "sinks.conf.inc"
    sinks.write_text("[componentInstances:cComponentManager]\n"
                     + "".join(f"instance[{s}].type=cExternalSink\n" for s in plan.sinks.values())
                     + "".join(f"[{s}:cExternalSink]\nreader.dmLevel = {level}\n" for level, s in plan.sinks.items()))
    own = smile_native.NativeSmile.from_config(str(cf._set_config(feature_set)), {"sink": str(sinks)},
                                               tuple(plan.sinks.values()))
    x = _speech(emodb_dir, 3)
    want, got = own.levels(x, RATE), cf.level_smile(feature_set).levels(x, RATE)
    for sink, rows in want.items():
        assert rows.shape[0] > 300
        assert np.array_equal(got[sink], rows), sink


def test_the_contour_config_is_cached_by_content_and_survives_an_unwritable_cache(tmp_path, monkeypatch):
    """The generated config goes to the user's cache under a name from its content (a tampered copy is rewritten);
    where the cache cannot be written, a folder of the process's own is used."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cf.levels_config.cache_clear()
    try:
        path = cf.levels_config("IS09")
        assert path.parent == tmp_path / "cache" / "ser" / "opensmile"
        text = path.read_text()
        path.write_text(text + "[evil:cComponentManager]\n")
        cf.levels_config.cache_clear()
        assert cf.levels_config("IS09") == path and path.read_text() == text
        blocked = tmp_path / "blocked"
        blocked.write_text("a file where the cache folder would go")
        monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the fallback folder goes there
        cf.levels_config.cache_clear()
        fallback = cf.levels_config("IS09")
        assert fallback.read_text() == text and fallback.parent.parent == tmp_path
    finally:
        cf.levels_config.cache_clear()
