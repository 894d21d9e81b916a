"""Long recordings: voice activity detection that streams the file in blocks.

Two detectors: `energy` (the default, no dependency) and `silero` (silero-vad's packaged model, when
the optional `silero-vad` package is installed; it needs a Python call per 32 ms chunk, ~5 ms each
on a busy CPU, so it runs at roughly 5-10x real time). The energy detector with a threshold adapted to the recording's own
level distribution separates speech from pauses well on studio and close-talk audio, and streams
with `soundfile.blocks`, so memory stays flat for an hour-long file (one float per 20 ms frame).

Steps: frame log energies (dB) -> threshold from the recording's 10th and 99th percentiles ->
runs of speech frames -> gaps shorter than `min_silence` bridged -> runs shorter than `min_speech`
dropped -> `pad` added on both sides -> runs longer than `max_segment` split in equal parts.
Audio is opened and checked by ``ser.audio`` (the same checks as every other path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser.audio import open_audio

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
    audio = open_audio(path)
    hop = max(1, int(round(frame * audio.rate)))
    out: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float64)
    total = 0
    for mono in audio.blocks(hop * max(1, int(block_seconds / frame))):
        total += mono.size
        x = np.concatenate([carry, mono]) if carry.size else mono
        n = x.size // hop
        if n:
            out.append(10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12))
        carry = x[n * hop :]
    if carry.size:
        out.append(np.array([10 * np.log10(np.mean(carry**2) + 1e-12)]))
    db = np.maximum(np.concatenate(out), FLOOR_DB) if out else np.zeros(0)
    return db, total / float(audio.rate)


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
    audio = open_audio(path)
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
        for mono in audio.blocks(max(1, int(block_seconds * audio.rate))):
            total += mono.size
            x = np.concatenate([carry, resample(np.ascontiguousarray(mono, dtype=np.float32), audio.rate, rate)])
            n = x.size // chunk
            for i in range(n):
                probs.append(float(model(torch.from_numpy(x[i * chunk : (i + 1) * chunk]), rate)))
            carry = x[n * chunk :]
    return np.array(probs), chunk / rate, total / float(audio.rate)


def vad_segments_silero(path: str | Path, cfg: VADConfig | None = None, threshold: float = 0.5) -> list[tuple[float, float]]:
    cfg = cfg or VADConfig()
    probs, frame, duration = silero_probabilities(path, cfg.block_seconds)
    return runs_to_segments(probs > threshold, frame, duration, cfg)


__all__ = [
    "FLOOR_DB",
    "VADConfig",
    "frame_energies",
    "runs_to_segments",
    "silero_probabilities",
    "speech_threshold",
    "vad_segments",
    "vad_segments_silero",
]
