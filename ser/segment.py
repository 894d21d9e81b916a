"""Long recordings: voice activity detection that streams the file in blocks.

Two detectors: `energy` (the default, no dependency) and `silero` (silero-vad's packaged model, when
the optional `silero-vad` package is installed; it needs a Python call per 32 ms chunk, ~5 ms each
on a busy CPU, so it runs at roughly 5-10x real time). The energy detector with a threshold adapted to the recording's own
level distribution separates speech from pauses well on studio and close-talk audio, and streams
with `soundfile.blocks`, so memory stays flat for an hour-long file (one float per 20 ms frame).

Steps: frame log energies (dB) -> threshold from the recording's 10th and 99th percentiles ->
runs of speech frames -> gaps shorter than `min_silence` bridged -> runs shorter than `min_speech`
dropped -> `pad` added on both sides -> runs longer than `max_segment` split in equal parts.
`load_region` reads one segment (and only it) at the front end's rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ser.errors import InputFileError

FLOOR_DB = -120.0


@dataclass
class VADConfig:
    frame: float = 0.02  # seconds per energy frame
    min_speech: float = 0.3  # shorter speech runs are dropped
    min_silence: float = 0.3  # shorter pauses are bridged
    pad: float = 0.1  # seconds added before and after each segment
    max_segment: float = 10.0  # longer segments are split in equal parts
    block_seconds: float = 30.0  # streaming block size


def frame_energies(path: str | Path, frame: float = 0.02, block_seconds: float = 30.0) -> tuple[np.ndarray, float]:
    """Log energy (dB re full scale) of consecutive `frame`-second frames, streamed; returns (dB, duration s)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file does not exist")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise InputFileError(path, f"cannot decode audio ({exc})") from None
    hop = max(1, int(round(frame * info.samplerate)))
    block = hop * max(1, int(block_seconds / frame))
    out: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float64)
    total = 0
    try:
        for chunk in sf.blocks(str(path), blocksize=block, dtype="float32", always_2d=True):
            mono = chunk.mean(axis=1, dtype=np.float64) if chunk.shape[1] > 1 else chunk[:, 0].astype(np.float64)
            if not np.isfinite(mono).all():
                raise InputFileError(path, "NaN or Inf samples")
            total += mono.size
            x = np.concatenate([carry, mono]) if carry.size else mono
            n = x.size // hop
            if n:
                out.append(10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12))
            carry = x[n * hop :]
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(path, f"cannot decode audio ({exc})") from None
    if carry.size:
        out.append(np.array([10 * np.log10(np.mean(carry**2) + 1e-12)]))
    if total == 0:
        raise InputFileError(path, "zero-length audio (no samples)")
    db = np.maximum(np.concatenate(out), FLOOR_DB) if out else np.zeros(0)
    return db, total / float(info.samplerate)


def speech_threshold(db: np.ndarray) -> float | None:
    """dB threshold between pause and speech levels; None when the recording has no level contrast."""
    lo, hi = np.percentile(db, 10), np.percentile(db, 99)
    if hi <= -70.0:
        return None  # (near) silence throughout
    if hi - lo < 6.0:
        return hi - 6.0  # no pauses to learn from: everything loud enough is speech
    return max(lo + 0.35 * (hi - lo), hi - 45.0)


def runs_to_segments(speech: np.ndarray, frame: float, duration: float, cfg: VADConfig) -> list[tuple[float, float]]:
    """Frame decisions -> (start, end) seconds after bridging, dropping, padding and splitting."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(np.int8), [0]])))
    runs = [[s * frame, e * frame] for s, e in zip(edges[::2], edges[1::2])]
    merged: list[list[float]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] < cfg.min_silence:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    out: list[tuple[float, float]] = []
    for start, end in merged:
        if end - start < cfg.min_speech:
            continue
        start, end = max(0.0, start - cfg.pad), min(duration, end + cfg.pad)
        if out and start < out[-1][1]:
            start = out[-1][1]
        parts = int(np.ceil((end - start) / cfg.max_segment)) if cfg.max_segment > 0 else 1
        step = (end - start) / max(parts, 1)
        out.extend((round(float(start + i * step), 3), round(float(start + (i + 1) * step), 3)) for i in range(max(parts, 1)))
    return out


def vad_segments(path: str | Path, cfg: VADConfig | None = None, method: str = "energy") -> list[tuple[float, float]]:
    """Speech segments (start, end) in seconds of one recording, read in blocks (`method` energy or silero)."""
    cfg = cfg or VADConfig()
    if method == "silero":
        return vad_segments_silero(path, cfg)
    db, duration = frame_energies(path, cfg.frame, cfg.block_seconds)
    threshold = speech_threshold(db)
    if threshold is None:
        return []
    return runs_to_segments(db > threshold, cfg.frame, duration, cfg)


def silero_probabilities(path: str | Path, block_seconds: float = 30.0) -> tuple[np.ndarray, float, float]:
    """Speech probability of every 32 ms chunk from silero-vad's packaged model, streamed in blocks.

    Returns (probabilities, seconds per chunk, duration s). Blocks are resampled to 16 kHz one by one.
    """
    import torch

    from ser.audio import resample

    try:
        from silero_vad import load_silero_vad
    except ImportError:
        from ser.errors import SerError

        raise SerError("--vad silero needs the silero-vad package (pip install silero-vad); --vad energy needs nothing") from None
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file does not exist")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise InputFileError(path, f"cannot decode audio ({exc})") from None
    import warnings

    with warnings.catch_warnings():  # its loader uses deprecated importlib/torch.jit calls
        warnings.simplefilter("ignore", DeprecationWarning)
        model = load_silero_vad()
    model.reset_states()
    chunk, rate = 512, 16000
    probs: list[float] = []
    carry = np.zeros(0, dtype=np.float32)
    total = 0
    with torch.inference_mode():
        try:
            for block in sf.blocks(str(path), blocksize=max(1, int(block_seconds * info.samplerate)), dtype="float32", always_2d=True):
                mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
                if not np.isfinite(mono).all():
                    raise InputFileError(path, "NaN or Inf samples")
                total += mono.size
                x = np.concatenate([carry, resample(np.ascontiguousarray(mono), int(info.samplerate), rate)])
                n = x.size // chunk
                for i in range(n):
                    probs.append(float(model(torch.from_numpy(x[i * chunk : (i + 1) * chunk]), rate)))
                carry = x[n * chunk :]
        except InputFileError:
            raise
        except Exception as exc:
            raise InputFileError(path, f"cannot decode audio ({exc})") from None
    if total == 0:
        raise InputFileError(path, "zero-length audio (no samples)")
    return np.array(probs), chunk / rate, total / float(info.samplerate)


def vad_segments_silero(path: str | Path, cfg: VADConfig | None = None, threshold: float = 0.5) -> list[tuple[float, float]]:
    cfg = cfg or VADConfig()
    probs, frame, duration = silero_probabilities(path, cfg.block_seconds)
    return runs_to_segments(probs > threshold, frame, duration, cfg)


def load_region(path: str | Path, start: float, end: float | None, target_rate: int) -> np.ndarray:
    """Samples of [start, end) seconds only, mono float32 at `target_rate` (the rest of the file is not read)."""
    from ser.audio import resample

    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file does not exist")
    try:
        info = sf.info(str(path))
        first = int(round(start * info.samplerate))
        last = None if end is None or end <= 0 else int(round(end * info.samplerate))
        data, rate = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)
    except Exception as exc:
        raise InputFileError(path, f"cannot decode audio ({exc})") from None
    if data.shape[0] == 0:
        raise InputFileError(path, f"segment {start:.2f}-{end} s is empty")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise InputFileError(path, "NaN or Inf samples in the segment")
    if not np.any(mono):
        raise InputFileError(path, f"segment {start:.2f}-{end} s is digital silence")
    return resample(np.ascontiguousarray(mono, dtype=np.float32), int(rate), target_rate)
