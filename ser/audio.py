"""Load any soundfile-readable file as mono float32 at a target rate.

Why one function: every front end, scorer and benchmark must see the same samples for the same
file, whatever its container (WAV/FLAC/AIFF/OGG, even behind a misleading `.wav` name, since
libsndfile sniffs the header), bit depth, channel count or sample rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ser.errors import InputFileError

TARGET_RATE = 16000


def resample(samples: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling with torchaudio's sinc interpolation (imported lazily: it is slow to load)."""
    if orig_rate == target_rate:
        return samples
    import torch
    import torchaudio.functional as taf

    out = taf.resample(torch.from_numpy(np.ascontiguousarray(samples)), orig_rate, target_rate)
    return out.numpy().astype(np.float32, copy=False)


def wav_truncation(path: Path) -> str | None:
    """Describe a RIFF/WAVE file whose data chunk is shorter than its header declares, else None.

    libsndfile silently reads what is there, so a half-copied file would otherwise pass as a
    shorter clip with the whole clip's label. Streamed files with a placeholder size (0 or
    0xFFFFFFFF) are not flagged.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            declared = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                available = size - handle.tell()
                if declared not in (0, 0xFFFFFFFF) and declared > available:
                    return f"truncated: the header declares {declared} data bytes, the file holds {available}"
                return None
            handle.seek(declared + (declared & 1), 1)


def load_audio(path: str | Path, target_rate: int = TARGET_RATE, allow_silence: bool = False) -> np.ndarray:
    """Return the file's samples as a 1-D float32 array in [-1, 1] at `target_rate` Hz.

    Raises InputFileError naming the file for unreadable, truncated, empty or non-finite audio,
    and for digital silence (all samples zero) unless `allow_silence`: features of pure silence
    are degenerate (log energies of -inf) and would silently poison normalisation statistics.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file does not exist")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports format problems as RuntimeError/LibsndfileError
        raise InputFileError(path, f"cannot decode audio ({exc})") from None
    truncation = wav_truncation(path)
    if truncation:
        raise InputFileError(path, truncation)
    if data.shape[0] == 0:
        raise InputFileError(path, "zero-length audio (no samples)")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        bad = int((~np.isfinite(mono)).sum())
        raise InputFileError(path, f"{bad} of {mono.size} samples are NaN or Inf")
    if not allow_silence and not np.any(mono):
        raise InputFileError(path, "all samples are zero (digital silence)")
    mono = resample(np.ascontiguousarray(mono, dtype=np.float32), int(rate), target_rate)
    return mono


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the header alone (cheap; used to check frame counts)."""
    info = sf.info(str(path))
    return info.frames / float(info.samplerate)
