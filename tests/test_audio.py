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
