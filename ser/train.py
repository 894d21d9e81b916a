"""Training a torch encoder + heads on one fold: the audio task of the shared loop (``ser.trainer``).

What is audio-specific lives here: length-bucketed padded batches (``ser.inference``), class balancing by
loss weights N/(C n_c) or minority up-sampling, auxiliary speaker/gender targets for multitask heads, and
selection by validation UAR, and the config's feature-level augmentation (``ser.augment``: masking of the
padded batch, mixup after pooling) on training batches only. Repeatability: epoch e seeds its shuffling,
crops, augmentation draws and dropout with (seed, e), so a run resumed from the checkpoint of epoch e
continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from ser.config import ExperimentConfig
from ser.errors import SerError
from ser.features_table import LabelledSet
from ser.inference import collate, make_batches, predict
from ser.metrics import compute_metrics
from ser.trainer import LoopConfig, Logger, Outcome, inverse_frequency_weights, pick_device, run_training

CHECKPOINT = "checkpoint.pt"


def upsample_indices(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Duplicate random utterances of minority classes until every class has the majority count."""
    counts = np.bincount(labels)
    out = [np.arange(labels.size)]
    for cls, count in enumerate(counts):
        if 0 < count < counts.max():
            members = np.flatnonzero(labels == cls)
            out.append(rng.choice(members, size=counts.max() - count, replace=True))
    return np.concatenate(out)


def auxiliary_targets(cfg: ExperimentConfig, train: LabelledSet) -> dict[str, dict[str, int]]:
    """Label -> index maps of the auxiliary heads (speaker: the training speakers; gender: f/m)."""
    tasks = [t for t in (cfg.heads_conf.get("tasks") or []) if t != "emotion"]
    unknown = set(tasks) - {"speaker", "gender"}
    if unknown:
        raise SerError(f"heads_conf tasks {sorted(unknown)} are unknown (emotion, speaker, gender)")
    aux: dict[str, dict[str, int]] = {}
    if "speaker" in tasks:
        aux["speaker"] = {s: i for i, s in enumerate(sorted(set(train.speakers)))}
    if "gender" in tasks:
        if not any(train.genders):
            raise SerError("the gender head needs utt2gender in the data dir")
        aux["gender"] = {"f": 0, "m": 1}
    return aux


def _targets(data: LabelledSet, aux: dict[str, dict[str, int]]) -> dict[str, np.ndarray]:
    out = {"emotion": data.labels}
    if "speaker" in aux:
        out["speaker"] = np.array([aux["speaker"].get(s, -100) for s in data.speakers], dtype=np.int64)
    if "gender" in aux:
        out["gender"] = np.array([aux["gender"].get(g, -100) for g in data.genders], dtype=np.int64)
    return out


class AudioTask:
    """Hooks of the shared loop for one fold of an audio experiment."""

    def __init__(self, cfg: ExperimentConfig, train: LabelledSet, valid: LabelledSet, classes: Sequence[str],
                 device: torch.device) -> None:
        from ser.models import build_model

        tc = cfg.train
        self.tc, self.train, self.valid, self.classes, self.device = tc, train, valid, list(classes), device
        aux = auxiliary_targets(cfg, train)
        self.targets = _targets(train, aux)
        heads_conf = copy.deepcopy(cfg.heads_conf)
        if aux:
            heads_conf.setdefault("num_classes", {}).update({task: len(m) for task, m in aux.items()})
        torch.manual_seed(tc.seed)
        self.model = build_model(cfg.encoder, cfg.encoder_conf, train.inputs[0].shape[1], len(classes), heads_conf).to(device)
        self.frame_level = self.model.input_kind == "frames"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.class_weights = ({"emotion": inverse_frequency_weights(train.labels, len(classes)).to(device)}
                              if tc.balance == "class_weight" else None)
        self.index = np.arange(len(train.utts))
        if tc.balance == "upsample":
            self.index = upsample_indices(train.labels, np.random.default_rng(tc.seed))
        self.lengths = train.lengths[self.index]
        self.rng = np.random.default_rng(tc.seed)
        self.augment = cfg.augment

    def clip_parameters(self) -> Iterable[torch.Tensor]:
        return self.model.parameters()

    def begin_epoch(self, epoch: int) -> None:
        self.rng = np.random.default_rng([self.tc.seed, epoch])
        torch.manual_seed(self.tc.seed * 100003 + epoch)

    def batches(self, epoch: int) -> Iterable[np.ndarray]:
        return (self.index[batch] for batch in make_batches(self.lengths, self.tc.batch_size, self.rng))

    def loss(self, idx: np.ndarray) -> tuple[torch.Tensor, int]:
        from ser import augment

        x, lens = collate([self.train.inputs[i] for i in idx], self.frame_level, self.tc.max_frames, self.rng)
        if self.augment.spec_augment is not None:
            x = augment.spec_augment(x, lens, self.augment.spec_augment, self.rng)
        targets = {task: torch.from_numpy(t[idx]).to(self.device) for task, t in self.targets.items()}
        if self.augment.mixup is None:
            outputs = self.model(x.to(self.device), lens)
            return self.model.loss(outputs, targets, class_weights=self.class_weights), len(idx)
        embedding, _ = self.model.encode(x.to(self.device), lens)
        lam, partner = augment.mixup_draw(len(idx), self.augment.mixup, self.rng)
        outputs = self.model.heads(augment.mix(embedding, lam, partner))
        return augment.mixup_loss(self.model, outputs, targets, lam, partner, class_weights=self.class_weights), len(idx)

    def validate(self) -> dict[str, float] | None:
        if not self.valid.utts:
            return None
        post = predict(self.model, self.valid.inputs, self.frame_level, self.device)
        m = compute_metrics([self.classes[i] for i in self.valid.labels], [self.classes[i] for i in post.argmax(axis=1)],
                            self.classes)
        return {"uar": float(m.uar), "wa": float(m.wa)}

    def extra_state(self) -> dict[str, Any]:
        return {}  # every epoch reseeds from (seed, epoch)

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass


def train_torch(cfg: ExperimentConfig, train: LabelledSet, valid: LabelledSet, classes: Sequence[str], out_dir: Path,
                log: Logger) -> tuple[torch.nn.Module, Outcome]:
    """Train on `train`, select the epoch by validation UAR (the last epoch without validation data)."""
    tc = cfg.train
    if not train.utts:
        raise SerError("no training utterances with a known label")
    out_dir.mkdir(parents=True, exist_ok=True)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    task = AudioTask(cfg, train, valid, classes, pick_device(tc.device))
    if not valid.utts:
        log(f"no validation data: training for {tc.max_epochs} epochs and keeping the last")
    loop = LoopConfig(max_epochs=tc.max_epochs, min_epochs=tc.min_epochs, patience=tc.patience, grad_clip=tc.grad_clip,
                      average=tc.average, metric=tc.select_metric, metric_label=tc.select_metric.upper())
    outcome = run_training(task, loop, out_dir / CHECKPOINT, log)
    return task.model, outcome


__all__ = ["AudioTask", "CHECKPOINT", "auxiliary_targets", "train_torch", "upsample_indices"]
