"""One training loop for every torch model, audio encoders and text conversation models alike, with hooks.

Why one loop: early stopping, checkpoint/resume, learning-rate decay on a plateau, gradient clipping and
the per-epoch bookkeeping are the same for a GA-GRU fold and an AGHMN seed; what differs (how randomness is
seeded, the batches, the loss, the validation metric) is the task's (``TrainingTask``).

Per epoch: ``begin_epoch`` (seeding), training batches (zero grad, loss, backward, clip, step), ``validate``
(a dict of metrics; ``LoopConfig.metric`` selects, higher is better); no gain -> the learning rate is
multiplied by ``lr_decay`` and the patience counter grows; a gain keeps a copy of the weights. After every
epoch the checkpoint holds the model, the optimiser, the loop state (including whether early stopping
fired) and the task's own state (e.g. RNG states), written atomically: a killed run resumed from it
continues exactly as the uninterrupted run would have, and a run that had already stopped trains no further.
Checkpoints hold only tensors and plain values and load with ``torch.load(weights_only=True)``.

Checkpoint averaging (``LoopConfig.average`` = K > 1): the model ends with the mean weights of the K epochs with
the best validation scores (without validation data, e.g. a refit on every speaker: the last K epochs). With one
or two validation speakers the best single epoch is a noisy pick; the mean of several good epochs is flatter.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import numpy as np
import torch

from ser.errors import SerError
from ser.fileio import atomic_write

Logger = Callable[[str], None]


def pick_device(name: str) -> torch.device:
    """`auto` (CUDA when torch sees one), `cpu`, `cuda` or `cuda:N`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise SerError(f"unknown device '{name}' (cpu, cuda or auto)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SerError("device cuda was asked for, but torch sees no CUDA device (use cpu or auto)")
    return torch.device(name)


def torch_save_atomic(obj: Any, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_write(path, mode="wb") as handle:
        handle.write(buffer.getvalue())


def inverse_frequency_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """N / (C * n_c) for classes present in training (sklearn's 'balanced'); absent classes get weight 0."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = labels.size / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def sqrt_min_frequency_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """(min count / count)^0.5 per class, as the AGHMN code weights its loss; absent classes get weight 1."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(float)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = np.sqrt(counts[present].min() / counts[present])
    return torch.tensor(weights, dtype=torch.float32)


@dataclass
class LoopConfig:
    max_epochs: int
    min_epochs: int = 1
    patience: int = 10  # epochs without a new best validation score before stopping
    grad_clip: float = 0.0  # max global gradient norm (0: no clipping)
    lr_decay: float = 1.0  # learning rate x this after an epoch without a validation gain
    metric: str = "uar"  # the key of validate()'s dict that selects the epoch
    metric_label: str = "UAR"  # how the log names it
    average: int = 1  # >1: end with the mean weights of this many epochs (the best by validation, else the last)


class TrainingTask(Protocol):
    """What the loop needs from a task (audio fold, text seed)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer

    def clip_parameters(self) -> Iterable[torch.Tensor]: ...

    def begin_epoch(self, epoch: int) -> None:
        """Seed what this epoch draws (audio: from (seed, epoch); text: nothing, its RNGs carry over)."""

    def batches(self, epoch: int) -> Iterable[Any]: ...

    def loss(self, batch: Any) -> tuple[torch.Tensor, int]:
        """Mean loss of a batch and the number of items it averages over."""

    def validate(self) -> dict[str, float] | None:
        """Validation metrics (fractions), or None without validation data (the last epoch is kept)."""

    def extra_state(self) -> dict[str, Any]:
        """What the checkpoint must hold besides model and optimiser (e.g. RNG states)."""

    def load_extra_state(self, state: dict[str, Any]) -> None: ...


@dataclass
class Outcome:
    best_epoch: int
    best_score: float  # nan without validation data
    epochs_run: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    averaged_epochs: list[int] = field(default_factory=list)  # the epochs whose weights were averaged (none: best only)


def _fresh_state() -> dict[str, Any]:
    return {"epoch": 0, "best_score": -1.0, "best_epoch": 0, "bad_epochs": 0, "history": [], "best_state": None,
            "stopped": False, "kept": []}


def _keep_for_average(kept: list[dict[str, Any]], epoch: int, score: float, weights: dict[str, torch.Tensor],
                      size: int) -> list[dict[str, Any]]:
    """The `size` epochs to average: highest validation score first (ties: the earlier epoch), or the latest
    epochs when there is no validation score (nan), as in a refit on every speaker."""
    entry = {"epoch": epoch, "score": score, "state": {k: v.detach().cpu().clone() for k, v in weights.items()}}
    if math.isnan(score):
        return (kept + [entry])[-size:]
    return sorted(kept + [entry], key=lambda e: (-e["score"], e["epoch"]))[:size]


def average_weights(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of floating-point tensors; other tensors (counters) are taken from the first state."""
    out = {}
    for key, first in states[0].items():
        if torch.is_floating_point(first):
            out[key] = torch.stack([s[key].to(torch.float64) for s in states]).mean(dim=0).to(first.dtype)
        else:
            out[key] = first.clone()
    return out


def _epoch_line(row: dict[str, float], improved: bool, lr: float, loop: LoopConfig) -> str:
    valid = "".join(f"  valid {k[6:].upper() if k[6:] in ('uar', 'wa') else k[6:]} {v:.4f}" for k, v in row.items()
                    if k.startswith("valid_"))
    return (f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}{valid}  lr {lr:.2e}  {row['seconds']:.1f}s"
            + ("  *" if improved and valid else ""))


def run_training(task: TrainingTask, loop: LoopConfig, checkpoint: Path, log: Logger) -> Outcome:
    """Train until early stopping or `max_epochs`; the model ends with its best weights loaded."""
    model, optimizer = task.model, task.optimizer
    state = _fresh_state()
    device = next(model.parameters()).device
    if checkpoint.is_file():
        try:
            ckpt = torch.load(checkpoint, map_location=device, weights_only=True)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            state = ckpt["loop"]
            task.load_extra_state(ckpt.get("task") or {})
        except Exception as err:  # noqa: BLE001 - any unreadable or foreign checkpoint gets the same advice
            raise SerError(f"{checkpoint}: cannot resume from this checkpoint ({type(err).__name__}: {err}); "
                           "delete it to train from the start") from err
        log(f"resuming from {checkpoint} after epoch {state['epoch']}" + (" (training had stopped)" if state["stopped"] else ""))
    started = time.perf_counter()
    while not state["stopped"] and state["epoch"] < loop.max_epochs:
        epoch = state["epoch"] + 1
        tick = time.perf_counter()
        task.begin_epoch(epoch)
        model.train()
        total, count = 0.0, 0
        for batch in task.batches(epoch):
            loss, n = task.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if loop.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(task.clip_parameters(), loop.grad_clip)
            optimizer.step()
            total += float(loss.detach()) * n
            count += n
        row: dict[str, float] = {"epoch": epoch, "loss": total / max(count, 1), "seconds": time.perf_counter() - tick}
        metrics = task.validate()
        if metrics is not None:
            row.update({f"valid_{k}": float(v) for k, v in metrics.items()})
            improved = metrics[loop.metric] > state["best_score"]
        else:
            improved = True  # no validation data: keep the last epoch
        if improved:
            state.update(best_score=float(metrics[loop.metric]) if metrics is not None else float("nan"),
                         best_epoch=epoch, bad_epochs=0,
                         best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
            if loop.lr_decay != 1.0:
                for group in optimizer.param_groups:
                    group["lr"] *= loop.lr_decay
        if loop.average > 1:
            score = float(metrics[loop.metric]) if metrics is not None else float("nan")
            state["kept"] = _keep_for_average(state.get("kept") or [], epoch, score, model.state_dict(), loop.average)
        state["epoch"] = epoch
        state["history"].append(row)
        state["stopped"] = state["bad_epochs"] >= loop.patience and epoch >= loop.min_epochs
        torch_save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "loop": state,
                           "task": task.extra_state()}, checkpoint)
        log(_epoch_line(row, improved, optimizer.param_groups[0]["lr"], loop))  # after the checkpoint: a kill loses nothing
        if state["stopped"]:
            log(f"early stop: no validation {loop.metric_label} gain for {loop.patience} epochs; best epoch {state['best_epoch']}")
    if state["best_state"] is None:
        raise SerError("training ran no epoch (max_epochs is 0?)")
    model.load_state_dict(state["best_state"])
    averaged: list[int] = []
    if loop.average > 1 and len(state.get("kept") or []) > 1:
        model.load_state_dict(average_weights([e["state"] for e in state["kept"]]))
        averaged = sorted(e["epoch"] for e in state["kept"])
        log(f"weights averaged over epochs {', '.join(map(str, averaged))}")
    return Outcome(best_epoch=state["best_epoch"], best_score=float(state["best_score"]), epochs_run=state["epoch"],
                   seconds=time.perf_counter() - started, history=state["history"], averaged_epochs=averaged)


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


__all__ = [
    "LoopConfig",
    "Outcome",
    "TrainingTask",
    "average_weights",
    "finite_or_none",
    "inverse_frequency_weights",
    "pick_device",
    "run_training",
    "sqrt_min_frequency_weights",
    "torch_save_atomic",
]
