"""Frame-level front ends (mfcc_pitch28, alstm36, fbank40, mfcc13) on real EmoDB clips and synthetic tones."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from ser.frontend.deltas import delta
from ser.frontend.featureset import load_feature_set

RATE = 16000
FEATURE_DIMS = {"mfcc_pitch28": 28, "alstm36": 36, "fbank40": 40, "mfcc13": 13}
#: male happy, female sad, female angry
EMODB_FILES = ["03a01Fa.wav", "08a02Tb.wav", "14a05Aa.wav"]


@pytest.fixture(scope="module")
def extractors():
    return {name: load_feature_set(name).build() for name in FEATURE_DIMS}


@pytest.fixture(scope="module")
def clips(emodb_dir):
    out = []
    for name in EMODB_FILES:
        path = emodb_dir / name
        info = sf.info(str(path))
        samples, rate = sf.read(str(path), dtype="float32")
        assert rate == RATE and samples.ndim == 1
        out.append((name, samples, info.frames / info.samplerate))
    return out


def _tone(freqs_amps, seconds=1.0, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return sum(a * np.sin(2 * np.pi * f * t) for f, a in freqs_amps).astype(np.float32)


def harmonic_tone(f0=200.0, seconds=1.0):
    """A 200 Hz harmonic tone with a 1/k spectrum (5 harmonics), peak ~0.5."""
    return 0.2 * _tone([(k * f0, 1.0 / k) for k in range(1, 6)], seconds)


def white_noise(seconds=1.0, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))).astype(np.float32)


def column(extractor, name):
    return extractor.names.index(name)


@pytest.mark.parametrize("name", list(FEATURE_DIMS))
def test_dims_frames_and_finite_on_emodb(extractors, clips, name):
    ex = extractors[name]
    assert ex.dim == FEATURE_DIMS[name] and len(ex.names) == ex.dim and len(set(ex.names)) == ex.dim
    assert ex.frame_shift == pytest.approx(0.01)
    for clip, samples, duration in clips:
        feats = ex(samples, RATE)
        assert feats.dtype == np.float32 and feats.ndim == 2, clip
        assert feats.shape[1] == FEATURE_DIMS[name], clip
        assert abs(feats.shape[0] - duration / 0.01) <= 3, (clip, feats.shape, duration)
        assert np.isfinite(feats).all(), clip


def test_mfcc_pitch_deltas_are_delta_of_statics(extractors, clips):
    ex = extractors["mfcc_pitch28"]
    assert ex.names[13] == "log_f0" and ex.names[14] == "mfcc_0_d"
    for clip, samples, _ in clips:
        feats = ex(samples, RATE)
        np.testing.assert_allclose(feats[:, 14:], delta(feats[:, :14], 2), rtol=1e-5, atol=1e-5, err_msg=clip)
        log_f0 = feats[:, 13]
        voiced = log_f0 > 0
        # speech is partly voiced; voiced values are ln(Hz) inside the search range
        assert 0.2 < voiced.mean() < 0.95, clip
        assert np.all((log_f0[voiced] >= np.log(60) - 1e-4) & (log_f0[voiced] <= np.log(500) + 1e-4)), clip


def test_mfcc_pitch_interpolated_unvoiced(extractors, clips):
    from ser.frontend.base import make_extractor

    _, samples, _ = clips[1]
    options = dict(load_feature_set("mfcc_pitch28").options, unvoiced="interpolate")
    smooth = make_extractor("mfcc_pitch", options)(samples, RATE)[:, 13]
    zeroed = extractors["mfcc_pitch28"](samples, RATE)[:, 13]
    voiced = zeroed > 0
    np.testing.assert_array_equal(smooth[voiced], zeroed[voiced])
    assert np.all(smooth >= np.log(60) - 1e-4) and np.all(smooth <= np.log(500) + 1e-4)


def test_mfcc_columns_agree_between_librosa_and_spectral36(extractors, clips):
    """Both sets compute the same librosa-style MFCCs on the same centred 25 ms / 10 ms grid."""
    _, samples, _ = clips[0]
    a = extractors["mfcc_pitch28"](samples, RATE)[:, :13]
    b = extractors["alstm36"](samples, RATE)[:, :13]
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=1e-2)


@pytest.mark.parametrize("name, pitch_column", [("mfcc_pitch28", "log_f0"), ("alstm36", "pitch")])
def test_pitch_of_harmonic_tone(extractors, name, pitch_column):
    ex = extractors[name]
    feats = ex(harmonic_tone(200.0), RATE)
    pitch = feats[:, column(ex, pitch_column)]
    voiced = pitch > 0
    assert voiced.mean() > 0.8
    hz = np.exp(pitch[voiced]) if pitch_column == "log_f0" else pitch[voiced]
    assert np.all(np.abs(hz / 200.0 - 1) < 0.05), hz
    # white noise is mostly unvoiced
    noise = ex(white_noise(), RATE)[:, column(ex, pitch_column)]
    assert (noise > 0).mean() < 0.2


def test_harmonic_ratio_tone_vs_noise(extractors):
    ex = extractors["alstm36"]
    hr = column(ex, "harmonic_ratio")
    tone = ex(harmonic_tone(200.0), RATE)[:, hr]
    noise = ex(white_noise(), RATE)[:, hr]
    assert np.median(tone) > 0.95
    assert np.median(noise) < 0.5
    assert np.median(tone) > np.median(noise) + 0.5


def test_spectral_centroid_and_chroma_of_sines(extractors):
    ex = extractors["alstm36"]
    inner = slice(3, -3)  # frames wholly inside the tone
    feats = ex(0.5 * _tone([(1000.0, 1.0)]), RATE)[inner]
    centroid = feats[:, column(ex, "spectral_centroid")]
    assert np.all(np.abs(centroid - 1000.0) < 30.0), centroid
    rolloff = feats[:, column(ex, "spectral_rolloff")]
    assert np.all(np.abs(rolloff - 1000.0) < 40.0)
    spread = feats[:, column(ex, "spectral_spread")]
    assert np.all(spread < 300.0)

    chroma_cols = [i for i, n in enumerate(ex.names) if n.startswith("chroma_") and n != "chroma_std"]
    assert len(chroma_cols) == 12
    chroma = ex(0.5 * _tone([(440.0, 1.0)]), RATE)[inner][:, chroma_cols]
    assert np.all(np.argmax(chroma, axis=1) == ex.names[chroma_cols[0]:].index("chroma_A"))
    np.testing.assert_allclose(chroma.sum(axis=1), 1.0, atol=1e-4)


def test_spectral36_simple_columns(extractors):
    ex = extractors["alstm36"]
    feats = ex(0.5 * _tone([(1000.0, 1.0)]), RATE)[3:-3]
    # a 1 kHz sine crosses zero 2000 times a second: 2000 / 16000 of sample pairs
    assert np.allclose(feats[:, column(ex, "zcr")], 2000 / RATE, atol=0.01)
    # mean square of a 0.5-amplitude sine is 0.125; energy is its natural log
    assert np.allclose(feats[:, column(ex, "energy")], np.log(0.125), atol=0.05)
    # a steady sine spreads its energy evenly over the 10 sub-frames: entropy ~ log2(10)
    assert np.allclose(feats[:, column(ex, "energy_entropy")], np.log2(10), atol=0.05)
    # and its spectrum does not change: no flux
    assert np.all(feats[:, column(ex, "spectral_flux")] < 1e-3)
    noise = ex(white_noise(), RATE)[3:-3]
    assert np.median(noise[:, column(ex, "spectral_entropy")]) > np.median(feats[:, column(ex, "spectral_entropy")]) + 1.0


def test_kaldi_fbank_matches_torchaudio(extractors, clips):
    import torch
    import torchaudio.compliance.kaldi as kaldi

    _, samples, _ = clips[0]
    ours = extractors["fbank40"](samples, RATE)
    direct = kaldi.fbank(
        torch.from_numpy(samples * 32768.0).unsqueeze(0),
        num_mel_bins=40,
        frame_length=25.0,
        frame_shift=10.0,
        dither=0.0,
        sample_frequency=RATE,
    ).numpy()
    np.testing.assert_allclose(ours, direct, rtol=1e-6, atol=1e-6)
    mfcc = extractors["mfcc13"](samples, RATE)
    direct_mfcc = kaldi.mfcc(
        torch.from_numpy(samples * 32768.0).unsqueeze(0),
        num_ceps=13,
        num_mel_bins=23,
        frame_length=25.0,
        frame_shift=10.0,
        dither=0.0,
        sample_frequency=RATE,
    ).numpy()
    np.testing.assert_allclose(mfcc, direct_mfcc, rtol=1e-6, atol=1e-5)


def test_bad_options_and_inputs():
    from ser.frontend.base import make_extractor

    with pytest.raises(ValueError, match="num_mel_bin"):
        make_extractor("kaldi_fbank", {"num_mel_bin": 40})
    with pytest.raises(ValueError, match="unvoiced"):
        make_extractor("mfcc_pitch", {"unvoiced": "nan"})
    with pytest.raises(ValueError, match="too short"):
        make_extractor("kaldi_fbank", {})(np.zeros(100, np.float32), RATE)


def test_extraction_speed_print(extractors, clips, capsys):
    """Seconds per second of audio, single-threaded as an `--nj` worker runs (target well under
    ~0.05); printed, never asserted. On a shared 2-core machine multi-threaded OpenBLAS/torch pools
    spin against each other and make small-matrix work 3-100x slower, hence the limits here."""
    import torch
    from threadpoolctl import threadpool_limits

    total = sum(duration for _, _, duration in clips)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            lines = _time_extractors(extractors, clips, total)
    finally:
        torch.set_num_threads(torch_threads)
    with capsys.disabled():
        print("\nextraction speed (1 thread) on", ", ".join(EMODB_FILES), f"({total:.1f} s):\n  " + "\n  ".join(lines))


def _time_extractors(extractors, clips, total):
    lines = []
    for name, ex in extractors.items():
        ex(clips[0][1], RATE)  # warm (first-call allocations, lazy imports)
        best = float("inf")
        for _ in range(3):  # best of 3: the machine is shared
            start = time.perf_counter()
            for _, samples, _ in clips:
                ex(samples, RATE)
            best = min(best, time.perf_counter() - start)
        lines.append(f"{name}: {best / total:.4f} s per s of audio")
    return lines


@pytest.mark.parametrize("name", ["emobase78", "emobase78_avg5", "fbank40", "mfcc13"])
def test_blockwise_features_equal_one_pass(emodb_dir, tmp_path, monkeypatch, name):
    """Long audio is featurised in blocks with context (ser.frontend.featurise): the same matrix as one pass, here
    with 3 s blocks over 14 s of EmoDB speech; audio shorter than `ONE_PASS_SECONDS` takes the one-pass path
    unchanged."""
    from ser.audio import open_audio
    from ser.frontend import featurise as fz

    x = np.concatenate([sf.read(f, dtype="float32")[0] for f in sorted(emodb_dir.glob("*.wav"))[:8]])
    path = tmp_path / "long.wav"
    sf.write(path, x, 16000)
    fs = load_feature_set(name)
    extractor = fs.build()
    assert extractor.blockwise
    whole = fz.featurise(fs, extractor, str(path))  # 14 s: shorter than ONE_PASS_SECONDS (26 s), one pass
    np.testing.assert_array_equal(whole, fz.featurise_samples(fs, extractor, open_audio(path).read(), 16000))
    monkeypatch.setattr(fz, "BLOCK_SECONDS", 3.0)
    monkeypatch.setattr(fz, "ONE_PASS_SECONDS", 3.0)
    calls = []
    monkeypatch.setattr(fz, "featurise_samples", lambda *a, **k: calls.append(1))  # must not be used now
    blocks = fz.featurise(fs, extractor, str(path))
    assert not calls and blocks.shape == whole.shape
    np.testing.assert_allclose(blocks, whole, rtol=1e-5, atol=1e-4)
    # a region of the file, as a segments line gives it
    region = fz.featurise_blocks(fs, extractor, open_audio(path), 2.5, 11.0, block_seconds=3.0)
    monkeypatch.undo()
    np.testing.assert_allclose(region, fz.featurise(fs, extractor, str(path), 2.5, 11.0), rtol=1e-5, atol=1e-4)


def test_extractors_with_a_whole_utterance_step_are_not_cut(extractors):
    """mfcc_pitch28 sets its voicing threshold from the loudest frame: blocks would change it, so it reads whole."""
    assert not getattr(load_feature_set("mfcc_pitch28").build(), "blockwise", False)
    assert not getattr(load_feature_set("alstm36").build(), "blockwise", False)


@pytest.mark.parametrize("feature_set,level", [("emobase", "lld"), ("eGeMAPSv02", "functionals"), ("emobase", "functionals")])
def test_native_opensmile_equals_opensmile_python(feature_set, level, emodb_dir):
    """ser.frontend.smile_native (the wheel's C library without opensmile-python's pandas stack) gives
    bit-identical features and the same names as opensmile.Smile, on real clips and on a too-short one."""
    import opensmile
    import soundfile as sf

    from ser.frontend.smile_native import NativeSmile

    native = NativeSmile(feature_set, level)
    smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                            feature_level={"lld": opensmile.FeatureLevel.LowLevelDescriptors,
                                           "functionals": opensmile.FeatureLevel.Functionals}[level])
    assert native.feature_names == list(smile.feature_names)
    for path in sorted(emodb_dir.glob("13*.wav"))[:3]:
        x, rate = sf.read(str(path), dtype="float32")
        ours, theirs = native(x, rate), np.asarray(smile(x.reshape(1, -1), rate), dtype=np.float32)[0].T
        assert ours.shape == theirs.shape and ours.shape[0] >= 1 and np.array_equal(ours, theirs)
    if level == "lld":  # 10 ms: no full frame; opensmile.Smile fills a NaN row, we return no frames
        assert native(np.zeros(160, dtype=np.float32) + 0.01, 16000).shape == (0, len(native.feature_names))

    # one kept instance, reset after every clip: the same features in any order of clips and sample rates
    clips = [sf.read(str(path), dtype="float32")[0] for path in sorted(emodb_dir.glob("13*.wav"))[:2]]
    first = [native(x, 16000) for x in clips]
    native(clips[1][::2].copy(), 8000)
    native(np.zeros(160, dtype=np.float32) + 0.01, 16000)
    again = [native(x, 16000) for x in reversed(clips)][::-1]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_drop_leaves_out_the_named_columns_and_refuses_typos(clips, emodb_dir):
    """`drop:` gives the base set's other columns, bit for bit, through the same path as `ser extract`."""
    import ser
    from ser.errors import SerError
    from ser.frontend.featureset import FeatureSet

    nosdn = load_feature_set("egemaps_nosdn")
    full = load_feature_set("egemaps88").build()
    subset = nosdn.build()
    assert subset.dim == 58 and not any(n.endswith("_stddevNorm") for n in subset.names)
    keep = [full.names.index(n) for n in subset.names]
    for _, samples, _ in clips[:2]:
        np.testing.assert_array_equal(subset(samples, RATE), full(samples, RATE)[:, keep])
    wav = str(emodb_dir / EMODB_FILES[0])
    np.testing.assert_array_equal(ser.extract([wav], features="egemaps_nosdn")[0],
                                  ser.extract([wav], features="egemaps88")[0][:, keep])
    with pytest.raises(SerError, match="'\\*_stdevNorm' matches none"):
        FeatureSet.from_dict({**nosdn.to_dict(), "drop": ["*_stdevNorm"]}).build()
    with pytest.raises(SerError, match="leaves no feature"):
        FeatureSet.from_dict({**nosdn.to_dict(), "drop": ["*"]}).build()


@pytest.mark.parametrize("name", ["egemaps88", "emobase988", "egemaps_stable"])
def test_streamed_functionals_equal_one_pass(emodb_dir, tmp_path, monkeypatch, name):
    """Functionals of a long utterance are one openSMILE pass whose audio is streamed in blocks (never whole): the
    same row as the one-write pass, bit for bit, for a file at 16 kHz and one resampled from 44.1 kHz, whole and as a
    region; the streaming path is really taken (the one-write call is not used)."""
    import soxr

    from ser.audio import open_audio
    from ser.frontend import featurise as fz

    x = np.concatenate([sf.read(f, dtype="float32")[0] for f in sorted(emodb_dir.glob("*.wav"))[:6]])
    fs = load_feature_set(name)
    extractor = fs.build()
    assert extractor.streams
    monkeypatch.setattr(fz, "ONE_PASS_SECONDS", 3.0)
    calls = []
    monkeypatch.setattr(fz, "featurise_samples", lambda *a, **k: calls.append(1))  # the one-write path: unused
    for rate in (16000, 44100):
        path = tmp_path / f"long{rate}.wav"
        sf.write(path, x if rate == 16000 else soxr.resample(x, 16000, rate), rate, subtype="PCM_16")
        audio = open_audio(path)
        expected = [fs.postprocess(extractor(audio.read(*region, fs.sample_rate), fs.sample_rate))
                    for region in ((None, None), (1.5, 9.0))]
        streamed = [fz.featurise(fs, extractor, str(path), *region) for region in ((None, None), (1.5, 9.0))]
        assert not calls
        for got, want in zip(streamed, expected):
            assert got.shape == (1, extractor.dim) and np.array_equal(got, want)


def test_a_stream_cut_short_raises_and_the_next_one_is_right(emodb_dir):
    """Bad audio mid-file stops the openSMILE run (no hang, its thread ends) with the reader's error; the extractor
    then gives the right features for the next utterance."""
    import threading

    from ser.errors import InputFileError

    x = np.concatenate([sf.read(f, dtype="float32")[0] for f in sorted(emodb_dir.glob("*.wav"))[:3]])
    extractor = load_feature_set("egemaps88").build()
    expected = extractor(x, 16000)

    def broken():
        yield x[:32000]
        raise InputFileError("long.wav", "cannot decode audio (damaged block)")

    with pytest.raises(InputFileError, match="damaged block"):
        extractor.stream(broken(), 16000)
    assert not [t for t in threading.enumerate() if t.name == "opensmile-stream"]
    assert np.array_equal(extractor.stream(iter(np.array_split(x, 7)), 16000), expected)


def test_offset_averaged_functionals_are_the_mean_over_framings(emodb_dir):
    """`average_offsets_ms: [3, 7]`: the row is the mean of the clip's functionals and those of the clip less its
    first 3 and 7 ms (48 and 112 samples); it moves less than the plain row when 1 ms of silence is put in front;
    the option is refused on frame-level sets and absent from the set's data when unused (old bundles still match)."""
    from ser.errors import SerError
    from ser.frontend.featureset import FeatureSet

    fs = load_feature_set("egemaps88_framing")
    averaged, plain = fs.build(), load_feature_set("egemaps88").build()
    moved = {"averaged": [], "plain": []}
    for path in sorted(emodb_dir.glob("03a0*.wav"))[:6]:
        x, _ = sf.read(path, dtype="float32")
        expected = (plain(x, 16000).astype(np.float64) + plain(x[48:], 16000) + plain(x[112:], 16000)) / 3
        row = averaged(x, 16000)
        np.testing.assert_array_equal(row, expected.astype(np.float32))
        later = np.concatenate([np.zeros(16, dtype=np.float32), x])
        moved["averaged"].append(np.abs(averaged(later, 16000) - row).sum())
        moved["plain"].append(np.abs(plain(later, 16000) - plain(x, 16000)).sum())
    assert np.median(moved["averaged"]) < np.median(moved["plain"]), moved
    with pytest.raises(SerError, match="utterance-level"):
        FeatureSet(name="x", kind="opensmile", level="frame", average_offsets_ms=[3])
    assert "average_offsets_ms" not in load_feature_set("egemaps88").to_dict()
    assert FeatureSet.from_dict(fs.to_dict()) == fs


def test_level_normalised_rows_do_not_depend_on_gain(emodb_dir):
    """`level_dbfs: -26`: the clip at any gain (here 0.5x and 1.3x) gives the same row, which differs from the plain
    one; a peak that would pass 0.99 lowers the level instead of clipping; refused on frame-level sets."""
    from ser.errors import SerError
    from ser.frontend.featureset import FeatureSet

    base = load_feature_set("egemaps88")
    fs = FeatureSet.from_dict({**base.to_dict(), "name": "egemaps88_l", "level_dbfs": -26})
    extractor, plain = fs.build(), base.build()
    x, _ = sf.read(emodb_dir / "03a01Wa.wav", dtype="float32")
    row = extractor(x, 16000)
    for gain in (0.5, 1.3):
        np.testing.assert_array_equal(extractor(x * gain, 16000), row)
    assert not np.array_equal(row, plain(x, 16000))
    seen = []
    extractor.base = lambda samples, rate: seen.append(samples) or plain(samples, rate)
    extractor(np.r_[np.zeros(16000, np.float32), np.float32(0.5), np.zeros(16000, np.float32)] + 1e-4, 16000)
    assert np.abs(seen[0]).max() <= 0.99 + 1e-6  # a click in silence: the peak bounds the scale
    with pytest.raises(SerError, match="utterance-level"):
        FeatureSet(name="x", kind="opensmile", level="frame", level_dbfs=-26)
    assert "level_dbfs" not in base.to_dict()
