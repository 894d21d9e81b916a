"""Audio loading: every container/bit depth/rate/channel layout becomes mono float32 at 16 kHz."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from ser.audio import load_audio
from ser.errors import InputFileError
from tests.bad_audio import tone, write_bad_files, write_good_variants


def test_real_emodb_file_loads_unchanged(emodb_dir):
    path = emodb_dir / "03a01Fa.wav"
    reference, rate = sf.read(path, dtype="float32")
    assert rate == 16000
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    np.testing.assert_array_equal(samples, reference)


def test_unusual_but_valid_files_match_the_reference(tmp_path):
    reference = tone(1.0, noise=0.0)
    for name, path in write_good_variants(tmp_path, reference, 16000).items():
        samples = load_audio(path)
        assert samples.dtype == np.float32 and samples.ndim == 1, name
        assert abs(samples.size - reference.size) <= 2, name
        n = min(samples.size, reference.size)
        scale = 0.75 if name == "stereo" else 1.0  # stereo is the mean of a full and a half-level channel
        err = np.abs(samples[200 : n - 200] - scale * reference[200 : n - 200]).max()
        tolerance = 0.02 if name == "pcm8" else 0.01  # 8-bit quantisation; resampling ripple elsewhere
        assert err < tolerance, f"{name}: max abs error {err:.4f}"


def test_bad_files_raise_errors_naming_the_file(tmp_path):
    for name, (path, fragment) in write_bad_files(tmp_path).items():
        with pytest.raises(InputFileError) as info:
            load_audio(path)
        assert str(path) in str(info.value), name
        assert fragment.lower() in info.value.reason.lower(), f"{name}: {info.value.reason}"


def test_silence_allowed_on_request(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(1600, dtype=np.float32), 16000)
    assert not load_audio(path, allow_silence=True).any()


def test_any_rate_resamples_without_torch_and_absurd_rates_are_refused(tmp_path):
    import subprocess
    import sys

    reference = tone(1.0, noise=0.0)
    odd = tmp_path / "tess_rate.wav"
    sf.write(odd, np.interp(np.arange(0, 16000, 16000 / 24414), np.arange(16000), reference).astype(np.float32), 24414)
    code = f"import sys; from ser.audio import load_audio; x = load_audio({str(odd)!r}); print(x.size, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert abs(int(out[0]) - 16000) <= 2 and out[1] == "False"
    samples = load_audio(odd)
    assert np.abs(samples[200:-200] - reference[200 : samples.size - 200]).max() < 0.01
    one_hz = tmp_path / "one_hz.wav"
    sf.write(one_hz, np.ones(8, dtype=np.float32) * 0.1, 1)
    with pytest.raises(InputFileError, match="sample rate 1 Hz"):
        load_audio(one_hz)


def test_m4a_from_a_phone_decodes_and_scores(emodb_dir, tmp_path, capsys):
    """AAC in an MP4 container (what phones record), which libsndfile cannot read, is decoded with PyAV."""
    import av

    from ser.cli import main

    src = emodb_dir / "03a01Wa.wav"
    x, rate = sf.read(src, dtype="float32")
    m4a = tmp_path / "clip.m4a"
    with av.open(str(m4a), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        stream.bit_rate = 128000
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray((x * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    with pytest.raises(Exception):
        sf.info(str(m4a))  # libsndfile does not read it
    y = load_audio(m4a)
    assert abs(y.size - x.size) < 0.15 * rate  # encoder delay and padding
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=0.1)
    capsys.readouterr()
    assert main(["score", "--quiet", str(m4a)]) == 0 and "anger" in capsys.readouterr().out
    (tmp_path / "junk.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 64)
    with pytest.raises(InputFileError, match="cannot decode audio"):
        load_audio(tmp_path / "junk.m4a")


def test_float_file_with_integer_scaled_samples_is_refused(tmp_path):
    path = tmp_path / "scaled.wav"
    sf.write(path, (tone(0.5, noise=0.0) * 32767).astype(np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InputFileError, match="far outside"):
        load_audio(path)
    ok = tmp_path / "headroom.wav"
    sf.write(ok, (tone(0.5, noise=0.0) * 3.0).astype(np.float32), 16000, subtype="FLOAT")
    assert load_audio(ok).max() > 1.0  # a little over full scale is kept


def _encode_aac(path, x: np.ndarray, rate: int) -> None:
    """AAC in MP4 with timestamps, as ffmpeg's command line writes it: the edit list declares the 1024 priming samples."""
    from ser.codec import encode_pcm

    encode_pcm(np.round(np.atleast_2d(x.T).T * 32767).astype(np.int16), rate, path, "aac", 128000)


def test_m4a_decodes_sample_aligned_with_the_wav_it_was_made_from(emodb_dir, tmp_path):
    """The declared priming is dropped (by FFmpeg) and the last frame's padding is cut to the declared duration."""
    x, rate = sf.read(emodb_dir / "03a01Fa.wav", dtype="float32")
    _encode_aac(tmp_path / "clip.m4a", x, rate)
    y = load_audio(tmp_path / "clip.m4a")
    assert abs(y.size - x.size) <= rate // 1000  # the MP4 edit list counts milliseconds
    n = min(x.size, y.size)
    lags = range(-64, 65)
    assert max(lags, key=lambda k: float(np.dot(x[64 : n - 64], y[64 + k : n - 64 + k]))) == 0


def test_stereo_m4a_is_the_mean_of_its_channels_like_a_stereo_wav(emodb_dir, tmp_path):
    """Same downmix for every container: FFmpeg's own stereo->mono weighs each channel 1/sqrt(2) (+3 dB)."""
    from ser.audio import decode_with_av

    stereo = np.stack([tone(1.0, noise=0.0), 0.5 * tone(1.0, noise=0.0)], axis=1).astype(np.float32)
    sf.write(tmp_path / "st.wav", stereo, 16000, subtype="FLOAT")
    np.testing.assert_allclose(decode_with_av(tmp_path / "st.wav")[0], stereo.mean(axis=1), atol=1e-6)
    x, rate = sf.read(emodb_dir / "03a01Fa.wav", dtype="float32")
    _encode_aac(tmp_path / "st.m4a", np.stack([x, 0.5 * x], axis=1), rate)
    rms = lambda a: float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))  # noqa: E731
    assert rms(load_audio(tmp_path / "st.m4a")) == pytest.approx(rms(0.75 * x), rel=0.03)


def test_files_no_decoder_should_see_are_named_before_opening(tmp_path):
    """A pipe named x.wav once blocked `ser score` for ever (the decoder waited for a writer); an empty file, a link
    loop and a dangling link got "cannot decode"/"file does not exist"; each now has its own reason."""
    import os

    from ser.audio import AudioFile

    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    os.symlink("loop.wav", tmp_path / "loop.wav")
    os.symlink(tmp_path / "gone.wav", tmp_path / "dangling.wav")
    (tmp_path / "dir.wav").mkdir()
    expected = {"pipe": "not a regular file", "empty": "empty file (0 bytes)", "loop": "symbolic links",
                "dangling": "symbolic link to nothing", "dir": "is a folder"}
    for name, reason in expected.items():
        with pytest.raises(InputFileError) as info:
            AudioFile(tmp_path / f"{name}.wav")
        assert reason in info.value.reason and info.value.path == str(tmp_path / f"{name}.wav")


def test_streamed_blocks_are_the_samples_read_returns(tmp_path):
    """`AudioFile.stream` (one-pass consumers of long files) gives `read`'s samples bit for bit, block by block:
    16 kHz mono, 44.1 kHz stereo (streamed resampling) and a region; bad files fail with `read`'s reasons."""
    from ser.audio import open_audio

    rng = np.random.default_rng(3)
    for rate, channels in ((16000, 1), (44100, 2), (22050, 1)):
        path = tmp_path / f"a{rate}.wav"
        sf.write(path, (0.1 * rng.standard_normal((rate * 7 + 77, channels))).astype(np.float32), rate, subtype="PCM_16")
        audio = open_audio(path)
        for region in ((None, None), (1.5, 5.25)):
            blocks = list(audio.stream(*region, block_seconds=1.0))
            assert len(blocks) > 3 and all(b.dtype == np.float32 for b in blocks)
            np.testing.assert_array_equal(np.concatenate(blocks), audio.read(*region))
    for name, (path, fragment) in write_bad_files(tmp_path).items():
        with pytest.raises(InputFileError) as info:
            list(open_audio(path).stream(block_seconds=0.01))
        assert fragment.lower() in info.value.reason.lower(), f"{name}: {info.value.reason}"
