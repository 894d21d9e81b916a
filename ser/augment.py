"""Feature-level augmentation of training batches: SpecAugment-style masking and mixup of pooled embeddings.

Why here and not in the encoders: augmentation is a property of training, not of a model. The training
task (``ser.train.AudioTask``) applies these to its training batches only; validation, test and scoring go
through ``ser.inference.predict``, which never sees them, so a model's predictions do not depend on
whether it was trained with augmentation switched on. Every random draw comes from the task's per-epoch
generator (seeded by (seed, epoch)), so augmented runs repeat exactly and resume exactly.

Audio-level copies (speed perturbation, noise, gain, reverberation, telephone: ``ser.frontend.perturb``) are
extracted once into a feature dir's ``augment/`` folder; ``copies`` names the kinds a config trains on and ``ser.copies``
decides which copies a fold may use (only those of its training utterances).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from ser.augment_config import MixupConfig, SpecAugmentConfig


# --- SpecAugment ------------------------------------------------------------------------------------
def _runs(rng: np.random.Generator, sizes: np.ndarray, count: int, width: int, length: int) -> torch.Tensor:
    """(B, length) bool: `count` runs per row of width U[0, width] starting in U[0, size - w] (size = real extent)."""
    rows = sizes.size
    if count == 0 or width == 0:
        return torch.zeros(rows, length, dtype=torch.bool)
    widths = rng.integers(0, width + 1, size=(rows, count))
    widths = np.minimum(widths, sizes[:, None])
    starts = np.floor(rng.random((rows, count)) * (sizes[:, None] - widths + 1)).astype(np.int64)
    pos = torch.arange(length).view(1, 1, length)
    start_t, end_t = torch.from_numpy(starts).unsqueeze(-1), torch.from_numpy(starts + widths).unsqueeze(-1)
    return ((pos >= start_t) & (pos < end_t)).any(dim=1)


def spec_augment(x: torch.Tensor, lengths: torch.Tensor | None, cfg: SpecAugmentConfig,
                 rng: np.random.Generator) -> torch.Tensor:
    """A masked copy of a padded batch (B, T, D): time runs fall inside each utterance's real frames."""
    b, t, d = x.shape
    sizes = lengths.cpu().numpy().astype(np.int64) if lengths is not None else np.full(b, t, dtype=np.int64)
    time = _runs(rng, sizes, cfg.time_masks, cfg.time_width, t)
    feat = _runs(rng, np.full(b, d, dtype=np.int64), cfg.feature_masks, cfg.feature_width, d)
    mask = time.unsqueeze(-1) | feat.unsqueeze(1)
    return x.masked_fill(mask.to(x.device), 0.0)


# --- mixup ----------------------------------------------------------------------------------------
def mixup_draw(batch: int, cfg: MixupConfig, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """The mixing weight lam ~ Beta(alpha, alpha) and the partner of every item (a permutation)."""
    return float(rng.beta(cfg.alpha, cfg.alpha)), rng.permutation(batch)


def mix(embedding: torch.Tensor, lam: float, partner: np.ndarray) -> torch.Tensor:
    """lam * e_i + (1 - lam) * e_partner(i): a convex combination of two pooled embeddings."""
    return lam * embedding + (1.0 - lam) * embedding[torch.from_numpy(partner).to(embedding.device)]


def mixed_targets(labels: torch.Tensor, num_classes: int, lam: float, partner: np.ndarray) -> torch.Tensor:
    """Soft targets lam * onehot(y_i) + (1 - lam) * onehot(y_partner(i)); what the mixup loss trains towards."""
    onehot = torch.nn.functional.one_hot(labels.long(), num_classes).float()
    return lam * onehot + (1.0 - lam) * onehot[torch.from_numpy(partner).to(labels.device)]


def mixup_loss(model: torch.nn.Module, outputs: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
               lam: float, partner: np.ndarray, **kwargs: Any) -> torch.Tensor:
    """lam * loss(y) + (1 - lam) * loss(y_partner): cross-entropy against the mixed targets, for every head."""
    index = torch.from_numpy(partner)
    shuffled = {task: t[index.to(t.device)] for task, t in targets.items()}
    return lam * model.loss(outputs, targets, **kwargs) + (1.0 - lam) * model.loss(outputs, shuffled, **kwargs)


__all__ = ["mix", "mixed_targets", "mixup_draw", "mixup_loss", "spec_augment"]
