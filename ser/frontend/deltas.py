"""Regression deltas, as HTK/Kaldi/openSMILE compute them.

d_t = sum_{n=1..W} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..W} n^2), with edge frames replicated.
One implementation for every front end, so `deltas: 2` means the same thing everywhere.
"""

from __future__ import annotations

import numpy as np


def delta(features: np.ndarray, window: int = 2) -> np.ndarray:
    """First-order regression delta along time (axis 0) of a (frames, dim) matrix."""
    if features.shape[0] == 0:
        return features.copy()
    padded = np.pad(features, ((window, window), (0, 0)), mode="edge")
    frames = features.shape[0]
    out = np.zeros_like(features, dtype=np.float64)
    for n in range(1, window + 1):
        out += n * (padded[window + n : window + n + frames] - padded[window - n : window - n + frames])
    return (out / (2.0 * sum(n * n for n in range(1, window + 1)))).astype(features.dtype)


def add_deltas(features: np.ndarray, order: int, window: int = 2) -> np.ndarray:
    """Append deltas up to `order` (1: +d, 2: +d +dd) as extra columns."""
    blocks = [features]
    for _ in range(order):
        blocks.append(delta(blocks[-1], window))
    return np.concatenate(blocks, axis=1)


__all__ = ["add_deltas", "delta"]
