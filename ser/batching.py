"""Batches of utterances without torch: length-bucketed batch order and zero padding with lengths.

Shared by the torch path (``ser.inference``: training, evaluation, scoring) and the ONNX runtime path
(``ser.models.onnx_classifier``), so both pad and order utterances the same way and a torch-free
install can batch too.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def make_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Length-bucketed batches: shuffle, sort within pools of 50 batches, shuffle batch order.

    Similar lengths share a batch, so little compute goes to padding; without `rng` the order is
    deterministic (sorted by length), which is what prediction uses.
    """
    order = np.arange(lengths.size) if rng is None else rng.permutation(lengths.size)
    pool = batch_size * 50
    batches = []
    for start in range(0, order.size, pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, chunk.size, batch_size))
    if rng is not None:
        rng.shuffle(batches)
    return batches


def pad_frames(inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(B, T_max, D) float32 right-padded with zeros, and the (B,) int64 lengths."""
    lengths = np.array([x.shape[0] for x in inputs], dtype=np.int64)
    batch = np.zeros((len(inputs), int(lengths.max()), inputs[0].shape[1]), dtype=np.float32)
    for i, x in enumerate(inputs):
        batch[i, : x.shape[0]] = x
    return batch, lengths


def stack_vectors(inputs: Sequence[np.ndarray]) -> np.ndarray:
    """(B, D) float32 from utterance-level inputs stored as (1, D) matrices."""
    return np.stack([np.asarray(x[0], dtype=np.float32) for x in inputs])


__all__ = ["make_batches", "pad_frames", "stack_vectors"]
