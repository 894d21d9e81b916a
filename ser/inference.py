"""Running a torch model over utterances: length-bucketed batches (``ser.batching``), padding with lengths, posteriors.

Shared by training (its batches and its validation pass), evaluation (test speakers) and scoring (new
clips), so every path pads, orders and soft-maxes the same way.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ser.batching import make_batches, pad_frames, stack_vectors


def collate(inputs: Sequence[np.ndarray], frame_level: bool, max_frames: int = 0,
            rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pad (B, T, D) with zeros plus lengths; utterance-level inputs become (B, D).

    With `max_frames` and an `rng` (training), longer utterances are cropped at a random start.
    """
    if not frame_level:
        return torch.from_numpy(stack_vectors(inputs)), None
    if max_frames and rng is not None:
        cropped = []
        for x in inputs:
            if x.shape[0] > max_frames:
                start = int(rng.integers(0, x.shape[0] - max_frames + 1))
                x = x[start : start + max_frames]
            cropped.append(x)
        inputs = cropped
    batch, lengths = pad_frames(inputs)
    return torch.from_numpy(batch), torch.from_numpy(lengths)


@torch.no_grad()
def predict(model: torch.nn.Module, inputs: Sequence[np.ndarray], frame_level: bool, device: torch.device,
            batch_size: int = 64) -> np.ndarray:
    """Emotion posteriors (N, C) in input order."""
    model.eval()
    lengths = np.array([x.shape[0] for x in inputs])
    rows: dict[int, np.ndarray] = {}
    for batch in make_batches(lengths, batch_size, None):
        x, lens = collate([inputs[i] for i in batch], frame_level)
        logits = model(x.to(device), lens)["emotion"]
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        for i, p in zip(batch, probs):
            rows[int(i)] = p
    if not rows:
        return np.zeros((len(inputs), 0), dtype=np.float32)
    return np.stack([rows[i] for i in range(len(inputs))])


__all__ = ["collate", "predict"]
