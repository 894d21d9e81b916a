"""Generators for the bad and unusual audio inputs the front end must handle (written at test time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float = 1.0, rate: int = 16000, freq: float = 220.0, channels: int = 1, noise: float = 0.01) -> np.ndarray:
    """A harmonic tone (plus optional noise): speech-like enough for every front end to produce frames."""
    t = np.arange(int(seconds * rate)) / rate
    x = sum(0.3 / k * np.sin(2 * np.pi * freq * k * t) for k in range(1, 6)) / 0.6
    x = x + noise * np.random.default_rng(0).standard_normal(t.size)
    x = (x * 0.5).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_good_variants(folder: Path, reference: np.ndarray, rate: int) -> dict[str, Path]:
    """Valid but unusual files: bit depths, rates, stereo, AIFF behind a .wav name."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def put(name: str, data: np.ndarray, sr: int, **kw: object) -> None:
        files[name] = folder / f"{name}.wav"
        sf.write(files[name], data, sr, **kw)

    put("pcm8", reference, rate, subtype="PCM_U8")
    put("pcm24", reference, rate, subtype="PCM_24")
    put("pcm32", reference, rate, subtype="PCM_32")
    put("float32", reference, rate, subtype="FLOAT")
    for sr in (44100, 48000, 96000):
        put(f"rate{sr}", tone(reference.size / rate, sr, noise=0.0), sr, subtype="PCM_16")
    put("stereo", np.stack([reference, reference * 0.5], axis=1), rate, subtype="PCM_16")
    files["aiff_named_wav"] = folder / "aiff_named_wav.wav"
    sf.write(files["aiff_named_wav"], reference, rate, format="AIFF", subtype="PCM_16")
    files["flac_named_wav"] = folder / "flac_named_wav.wav"
    sf.write(files["flac_named_wav"], reference, rate, format="FLAC", subtype="PCM_16")
    return files


def write_bad_files(folder: Path, rate: int = 16000) -> dict[str, tuple[Path, str]]:
    """Broken files, each with a fragment the error message must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    x = tone(1.0, rate)
    bad: dict[str, tuple[Path, str]] = {}
    full = folder / "_full.wav"
    sf.write(full, x, rate, subtype="PCM_16")
    raw = full.read_bytes()
    full.unlink()
    (folder / "truncated.wav").write_bytes(raw[: len(raw) // 2])
    bad["truncated"] = (folder / "truncated.wav", "truncated")
    (folder / "header_only.wav").write_bytes(raw[:30])
    bad["header_only"] = (folder / "header_only.wav", "cannot decode")
    sf.write(folder / "empty.wav", np.zeros(0, dtype=np.float32), rate, subtype="PCM_16")
    bad["empty"] = (folder / "empty.wav", "zero-length")
    sf.write(folder / "silence.wav", np.zeros(rate, dtype=np.float32), rate, subtype="PCM_16")
    bad["silence"] = (folder / "silence.wav", "silence")
    nan = x.copy()
    nan[100:200] = np.nan
    sf.write(folder / "nan.wav", nan, rate, subtype="FLOAT")
    bad["nan"] = (folder / "nan.wav", "NaN")
    (folder / "not_audio.wav").write_text("this is not audio\n")
    bad["not_audio"] = (folder / "not_audio.wav", "cannot decode")
    bad["missing"] = (folder / "does_not_exist.wav", "does not exist")
    return bad
