"""Functionals of long utterances in bounded memory (ser.frontend.long_functionals): the contours computed block by
block are openSMILE's one-pass contours bit for bit, and the row from them is openSMILE's own functionals row to
float32 rounding, for eGeMAPSv02 and emobase, through every wrapper the shipped feature sets use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser.frontend import featurise as fz
from ser.frontend import long_functionals as lf
from ser.frontend.featureset import FeatureSet, load_feature_set

#: how close our row must come to openSMILE's: on this machine it is equal, bit for bit; the margin is for another
#: libm's log/sqrt rounding (see tests/test_smile_functionals.py)
RTOL, ATOL = 1e-6, 1e-7


@pytest.fixture(scope="module")
def speech(emodb_dir: Path) -> np.ndarray:
    """44 s of real speech: 20 EmoDB clips end to end, so the contours span five 10 s blocks."""
    return np.concatenate([sf.read(f, dtype="float32")[0] for f in sorted(emodb_dir.glob("*.wav"))[:20]])


@pytest.mark.parametrize("feature_set", ["eGeMAPSv02", "GeMAPSv01b", "emobase"])
def test_block_contours_are_the_one_pass_contours(speech, feature_set):
    smile = lf.contour_smile(feature_set)
    one_pass = smile.levels(speech, 16000)
    blocks = [rows for rows, _ in lf.contour_blocks(smile.levels, np.array_split(speech, 37), 16000)]
    assert len(blocks) == 5
    for sink, rows in one_pass.items():
        assert rows.shape[0] > 4000
        assert np.array_equal(np.vstack([b[sink] for b in blocks]), rows), sink


def functionals_set(feature_set: str) -> FeatureSet:
    return FeatureSet.from_dict({"name": feature_set, "kind": "opensmile", "level": "utterance",
                                 "options": {"feature_set": feature_set, "feature_level": "functionals"}})


@pytest.mark.parametrize("name", ["egemaps88", "emobase988", "GeMAPSv01b"])
def test_streamed_row_is_opensmiles_row(speech, name):
    """The bounded path's row against openSMILE's functionals over the same samples in one pass."""
    extractor = (functionals_set(name) if name == "GeMAPSv01b" else load_feature_set(name)).build()
    assert extractor.bounded
    want = extractor(speech, 16000)
    got = extractor.stream(lambda: iter(np.array_split(speech, 9)), 16000)
    assert got.shape == want.shape == (1, extractor.dim)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_the_built_in_models_set_streams_its_level_and_framings(speech, tmp_path, monkeypatch):
    """egemaps88_level (level to -26 dBFS, then three framings) over a long file: the streamed, bounded row equals
    the row of the whole audio read at once; the audio is never read whole."""
    fs = load_feature_set("egemaps88_level")
    extractor = fs.build()
    assert extractor.streams and extractor.bounded
    path = tmp_path / "long.wav"
    sf.write(path, 0.3 * speech, 16000, subtype="FLOAT")
    want = extractor(sf.read(path, dtype="float32")[0], 16000)
    monkeypatch.setattr(fz, "featurise_samples", lambda *a, **k: pytest.fail("the audio was read whole"))
    got = fz.featurise(fs, extractor, str(path))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_bounded_sets_take_any_length_and_the_others_keep_the_limit(speech, tmp_path, monkeypatch):
    """SER_MAX_FUNCTIONALS_MINUTES guards the sets whose functionals openSMILE computes in one pass (their memory
    grows with the utterance). Every set openSMILE runs natively here is bounded (eGeMAPSv02, GeMAPSv01b, emobase,
    ComParE_2016, IS09-13): the limit is left for the opensmile-python fallback, stood for here by IS09 made
    unbounded."""
    from ser.errors import InputFileError

    path = tmp_path / "long.wav"
    sf.write(path, speech, 16000, subtype="PCM_16")
    monkeypatch.setenv("SER_MAX_FUNCTIONALS_MINUTES", "0.5")  # 30 s, the file is 44 s
    for name, dim in (("egemaps88", 88), ("is09_384", 384)):
        fs = load_feature_set(name)
        assert fs.build().bounded
        assert fz.featurise(fs, fs.build(), str(path)).shape == (1, dim)
    monkeypatch.setattr(lf, "supported", lambda feature_set: feature_set != "IS09")
    is09 = functionals_set("IS09")
    extractor = is09.build()
    assert extractor.streams and not extractor.bounded
    with pytest.raises(InputFileError, match="limited to 0.5 min"):
        fz.featurise(is09, extractor, str(path))


def test_the_frames_opensmile_leaves_out_at_the_end_are_found_per_utterance(emodb_dir):
    """openSMILE's eGeMAPS functionals miss the last 2 F0-based frames on most clips and 3 on some (11a02Wc): the
    tails found on the last window make our row of each clip openSMILE's row, where the usual tails do not."""
    def row(x, tails):
        levels = lf.contour_smile("eGeMAPSv02").levels(x, 16000)
        return lf.ROWS["eGeMAPSv02"](lambda sink, j, drop: levels[sink][: levels[sink].shape[0] - drop, j],
                              {sink: rows.shape[1] for sink, rows in levels.items()}, tails)

    found = {}
    for clip in ("03a01Fa", "11a02Wc"):
        x = sf.read(emodb_dir / f"{clip}.wav", dtype="float32")[0]
        tails = lf.end_tails("eGeMAPSv02", x, 16000)
        found[clip] = tails["ser_f0"]
        want = lf._reference("eGeMAPSv02")(x, 16000)[0]
        np.testing.assert_allclose(row(x, tails), want, rtol=RTOL, atol=ATOL)
        if tails != lf.EGEMAPS_TAIL:
            assert not np.allclose(row(x, lf.EGEMAPS_TAIL), want, rtol=RTOL, atol=ATOL)
    assert found == {"03a01Fa": 2, "11a02Wc": 3}


def test_a_half_copied_long_file_is_refused_naming_it_and_leaves_no_spill(speech, tmp_path, monkeypatch):
    """A long WAV cut short (a copy that stopped), and one with a NaN sample at 30 s: the bounded path refuses each
    with the file's name and the reason, as every other path does, its temporary contour files are gone afterwards,
    and the next file is featurised right."""
    import tempfile

    from ser.errors import InputFileError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "spill"))
    (tmp_path / "spill").mkdir()
    spilled = []
    real_append = lf.ColumnSpill.append
    monkeypatch.setattr(lf.ColumnSpill, "append", lambda self, rows: (spilled.append(1), real_append(self, rows)))
    fs = load_feature_set("egemaps88")
    extractor = fs.build()
    whole, cut = tmp_path / "whole.wav", tmp_path / "cut.wav"
    sf.write(whole, speech, 16000, subtype="PCM_16")
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(InputFileError, match="truncated") as caught:
        fz.featurise(fs, extractor, str(cut))
    assert str(cut) in str(caught.value)
    bad = speech.copy()
    bad[30 * 16000] = np.nan  # found only when the stream reaches 30 s, after two blocks of contours were spilled
    nan = tmp_path / "nan.wav"
    sf.write(nan, bad, 16000, subtype="FLOAT")
    with pytest.raises(InputFileError, match="NaN") as caught:
        fz.featurise(fs, extractor, str(nan))
    assert str(nan) in str(caught.value)
    assert len(spilled) >= 2  # blocks were on disk when the bad sample came
    assert not list((tmp_path / "spill").iterdir())
    np.testing.assert_allclose(fz.featurise(fs, extractor, str(whole)), extractor(speech, 16000), rtol=RTOL, atol=ATOL)
    assert not list((tmp_path / "spill").iterdir())
