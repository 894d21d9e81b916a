"""`ser extract` on long files (issue 14): the matrix travels in blocks through a spill file into the ark, bit for bit
what writing the whole matrix gave, and no process holds the whole matrix (tracemalloc peak flat in file length)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from ser.datadir import DataDir
from ser.frontend import featurise as fz
from ser.frontend import spill
from ser.frontend.deltas import delta
from ser.frontend.extract import extract
from ser.frontend.featureset import FeatureSet, load_feature_set
from tests.test_extract import SUBSET, make_datadir

#: small blocks so a ~65 s file is 20+ blocks and the test stays fast
BLOCK = 3.0


def concatenated(emodb_dir: Path, path: Path, count: int) -> Path:
    """EmoDB clips end to end (real speech, ~2.7 s each) as one file."""
    clips = [sf.read(f, dtype="float32")[0] for f in sorted(emodb_dir.glob("*.wav"))[:count]]
    sf.write(path, np.concatenate(clips), 16000, subtype="PCM_16")
    return path


def one_utt_datadir(wav: Path, folder: Path) -> Path:
    DataDir(maps={"wav.scp": {"rec": str(wav)}, "utt2spk": {"rec": "rec"}}).write(folder)
    return folder


def reference_ark(matrices: dict[str, np.ndarray], folder: Path) -> bytes:
    """The ark kaldiio writes for whole matrices (what `ser extract` wrote before it streamed)."""
    folder.mkdir()
    with kaldiio.WriteHelper(f"ark,scp:{folder / 'ref.ark'},{folder / 'ref.scp'}") as writer:
        for utt in sorted(matrices):
            writer(utt, np.ascontiguousarray(matrices[utt], dtype=np.float32))
    return (folder / "ref.ark").read_bytes()


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(fz, "BLOCK_SECONDS", BLOCK)
    monkeypatch.setattr(fz, "ONE_PASS_SECONDS", BLOCK)
    monkeypatch.setattr(spill, "SPILL_BYTES", 64 << 10)


def test_normal_clips_are_written_as_before(emodb_dir, tmp_path):
    """Short clips take the one-block path: the ark is byte for byte kaldiio's of `featurise`'s matrices."""
    data = make_datadir(emodb_dir, tmp_path / "data", SUBSET[:5])
    out = tmp_path / "feats"
    fs = load_feature_set("emobase78")
    assert extract(DataDir.read(data), out, fs, nj=2, progress=False).ok
    extractor = fs.build()
    whole = {u: fz.featurise(fs, extractor, str(emodb_dir / f"{u}.wav")) for u in SUBSET[:5]}
    assert (out / "feats.ark").read_bytes() == reference_ark(whole, tmp_path / "ref")
    assert not (out / spill.SPILL_DIR).exists()


def test_long_file_streamed_equals_whole_matrix_and_resumes(emodb_dir, tmp_path, small_blocks, monkeypatch):
    """~65 s of EmoDB speech in 3 s blocks: spilled and copied into the ark, the bytes equal kaldiio's of the whole
    matrix; deltas across block edges equal deltas of the joined statics; a torn long entry and a killed run's
    spill leftovers are recovered to the same bytes."""
    wav = concatenated(emodb_dir, tmp_path / "long.wav", 30)
    seconds = sf.info(str(wav)).duration
    assert seconds > 60
    fs = load_feature_set("emobase78")
    extractor = fs.build()
    whole = fz.featurise(fs, extractor, str(wav))
    assert whole.shape[0] > 20 * BLOCK * 100
    data, out = one_utt_datadir(wav, tmp_path / "data"), tmp_path / "feats"
    calls = []
    real = spill.spill
    monkeypatch.setattr(spill, "spill", lambda blocks, folder: calls.append(folder) or real(blocks, folder))
    assert extract(DataDir.read(data), out, fs, nj=1, progress=False).ok
    assert calls, "a long file must go through the spill file"
    ark = (out / "feats.ark").read_bytes()
    assert ark == reference_ark({"rec": whole}, tmp_path / "ref")
    streamed = kaldiio.load_scp(str(out / "feats.scp"))["rec"]
    np.testing.assert_array_equal(streamed, whole)
    # deltas at the block edges (every 300 frames) computed from each block's context equal deltas of the joined statics
    statics = streamed[:, :26]
    np.testing.assert_allclose(streamed[:, 26:52], delta(statics), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(streamed[:, 52:], delta(delta(statics)), rtol=1e-4, atol=1e-4)

    # a run killed while copying: ark cut inside the long entry, its scp line gone, a spill file left behind
    (out / "feats.scp").write_text("")
    with open(out / "feats.ark", "r+b") as handle:
        handle.truncate(len(ark) // 2)
    (out / spill.SPILL_DIR).mkdir()
    (out / spill.SPILL_DIR / "left.f32").write_bytes(b"\0" * 100)
    result = extract(DataDir.read(data), out, fs, nj=2, progress=False)
    assert result.ok and result.extracted == 1
    assert (out / "feats.ark").read_bytes() == ark and not (out / spill.SPILL_DIR).exists()


def test_bad_long_file_leaves_no_spill_file(tmp_path, small_blocks):
    """A long file of digital silence fails after its last block: the failure is reported, nothing is written."""
    wav = tmp_path / "silent.wav"
    sf.write(wav, np.zeros(16000 * 30, dtype=np.float32), 16000, subtype="PCM_16")
    out = tmp_path / "feats"
    result = extract(DataDir.read(one_utt_datadir(wav, tmp_path / "data")), out, load_feature_set("emobase78"), nj=1,
                     progress=False)
    assert [f.reason for f in result.failures] == ["all samples are zero (digital silence)"]
    assert (out / "feats.ark").read_bytes() == b"" and not (out / spill.SPILL_DIR).exists()


def test_blocks_reach_the_spill_file_as_they_are_made(tmp_path):
    """`collect` writes each block before asking for the next one: it never gathers the matrix."""
    folder = tmp_path / "spill"
    folder.mkdir()
    blocks = [np.full((5000, 4), k, dtype=np.float32) for k in range(6)]  # larger than io buffers

    def stream():
        for k, block in enumerate(blocks):
            if k >= 2:  # the blocks before the previous one are on disk by now
                written = sum(p.stat().st_size for p in folder.iterdir())
                assert written >= (k - 1) * block.nbytes
            yield block

    matrix = spill.collect(stream(), str(folder))
    assert isinstance(matrix, spill.SpilledMatrix) and (matrix.rows, matrix.cols) == (30000, 4)
    np.testing.assert_array_equal(np.fromfile(matrix.path, dtype="<f4").reshape(30000, 4), np.concatenate(blocks))
    small = spill.collect(iter([blocks[0][:50]]), str(folder))
    assert isinstance(small, np.ndarray)  # one small block comes back as it is
    assert isinstance(spill.collect(iter(blocks), None), np.ndarray)  # no spill folder (remote cluster): whole


def _traced_peak(data: Path, out: Path, fs) -> int:
    tracemalloc.start()
    try:
        assert extract(DataDir.read(data), out, fs, nj=1, progress=False).ok
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_extract_memory_is_flat_in_file_length(emodb_dir, tmp_path, small_blocks):
    """Python-side peak (tracemalloc: numpy buffers included) of a whole in-process extraction: a ~2 min file costs
    about what a ~20 s one does, and less than its own feature matrix, with 3 s blocks."""
    fs = load_feature_set("emobase78")
    short = one_utt_datadir(concatenated(emodb_dir, tmp_path / "short.wav", 8), tmp_path / "short")
    long = one_utt_datadir(concatenated(emodb_dir, tmp_path / "long.wav", 45), tmp_path / "long")
    _traced_peak(short, tmp_path / "warm", fs)  # imports, the extractor and first-call allocations
    small = _traced_peak(short, tmp_path / "f_short", fs)
    large = _traced_peak(long, tmp_path / "f_long", fs)
    matrix = kaldiio.load_scp(str(tmp_path / "f_long" / "feats.scp"))["rec"].nbytes
    print(f"traced peaks: short {small}, long {large}, long matrix {matrix}")
    assert large < matrix, (large, matrix)
    assert large < 1.3 * small + (256 << 10), (small, large)


def test_functionals_read_long_audio_in_blocks(emodb_dir, tmp_path, small_blocks):
    """A functionals set over a ~2 min file: the audio reaches openSMILE block by block (its contours, summarised by
    ser.frontend.long_functionals), so the Python-side peak (tracemalloc, numpy buffers included) stays below the
    file's own samples, and the row equals the one-write pass's to float32 rounding."""
    from ser.audio import load_audio

    fs = load_feature_set("emobase988")
    long = one_utt_datadir(concatenated(emodb_dir, tmp_path / "long.wav", 45), tmp_path / "long")
    _traced_peak(long, tmp_path / "warm", fs)
    peak = _traced_peak(long, tmp_path / "f_long", fs)
    samples = load_audio(tmp_path / "long.wav")
    print(f"traced peak {peak}, the file's float32 samples {samples.nbytes}")
    assert peak < 0.5 * samples.nbytes, (peak, samples.nbytes)
    row = kaldiio.load_scp(str(tmp_path / "f_long" / "feats.scp"))["rec"]
    np.testing.assert_allclose(row, fs.postprocess(fs.build()(samples, 16000)), rtol=1e-4, atol=1e-5)


def test_functionals_of_a_too_long_utterance_are_refused_and_the_batch_goes_on(emodb_dir, tmp_path, monkeypatch):
    """Past SER_MAX_FUNCTIONALS_MINUTES (default 10) an utterance-level set whose memory grows refuses the utterance with a reason that
    names the limit and the way out; the other utterances are extracted; 0 lifts the limit."""
    ids = ["03a01Fa", "03a01Nc", "03b10Ec"]  # 1.9, 1.6 and 3.2 s
    data = make_datadir(emodb_dir, tmp_path / "data", ids)
    # every native set is bounded now: IS09 made unbounded stands for the opensmile-python fallback's one pass
    from ser.frontend import long_functionals

    monkeypatch.setattr(long_functionals, "supported", lambda feature_set: feature_set != "IS09")
    fs = FeatureSet.from_dict({"name": "is09", "kind": "opensmile", "level": "utterance",
                               "options": {"feature_set": "IS09", "feature_level": "functionals"}})
    monkeypatch.setenv("SER_MAX_FUNCTIONALS_MINUTES", "0.04")  # 2.4 s: one of the three clips is longer
    result = extract(DataDir.read(data), tmp_path / "feats", fs, nj=1, progress=False)
    durations = {u: sf.info(str(emodb_dir / f"{u}.wav")).duration for u in ids}
    too_long = {u for u, d in durations.items() if d > 2.4}
    assert too_long and len(too_long) < 3
    assert {f.utt for f in result.failures} == too_long
    assert all("limited to 0.04 min" in f.reason and "SER_MAX_FUNCTIONALS_MINUTES" in f.reason for f in result.failures)
    assert set(kaldiio.load_scp(str(tmp_path / "feats" / "feats.scp"))) == set(durations) - too_long
    monkeypatch.setenv("SER_MAX_FUNCTIONALS_MINUTES", "0")
    assert extract(DataDir.read(data), tmp_path / "feats", fs, nj=1, progress=False).ok
    assert set(kaldiio.load_scp(str(tmp_path / "feats" / "feats.scp"))) == set(durations)
