"""Frame averaging (GA-GRU's 5-frame down-sampling): mean over non-overlapping blocks of N frames."""

from __future__ import annotations

import numpy as np


def average_frames(feats: np.ndarray, block: int) -> np.ndarray:
    """Average consecutive blocks of `block` frames; a shorter last block is averaged over what it has.

    Output length is ceil(T / block), so no trailing speech is dropped.
    """
    if block <= 1 or feats.shape[0] == 0:
        return feats
    frames, dim = feats.shape
    full = frames // block
    head = feats[: full * block].reshape(full, block, dim).mean(axis=1)
    if frames % block:
        tail = feats[full * block :].mean(axis=0, keepdims=True)
        head = np.concatenate([head, tail], axis=0)
    return head.astype(feats.dtype, copy=False)


__all__ = ["average_frames"]
