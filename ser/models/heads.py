"""Classifier heads on top of an utterance embedding, the multitask wrapper and its loss.

A model is ``encoder -> embedding (B, E) -> one head per task``. The emotion head is always present;
auxiliary heads (``speaker``, ``gender``, or any other utterance label) are switched on in
:class:`HeadsConfig`. Each head is a small MLP: ``hidden`` fully connected layers (ReLU + dropout) and a
final linear layer giving logits (the softmax lives in the cross-entropy loss).

Paper defaults this reproduces (set per encoder in the registry, see ``default_heads``):

* GA-GRU (002): one linear layer ("the final emotion recognition layer is one linear layer").
* attention BLSTM (003): a decoder DNN with one hidden layer of 128 ("a hidden layer of size 128 in the
  decoder"; its activation is not given, we use ReLU) and no dropout in it (the paper's dropout is on
  ``alpha_t h_t``).
* A-LSTM (004): a branch per task, each "one hidden fully connected layer with 256 RELU neurons and one
  softmax layer", dropout 0.5, loss weights emotion 1, speaker 0.3, gender 0.6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from ser.errors import SerError

#: Loss weights used when a task is switched on without a weight (the A-LSTM paper's values).
DEFAULT_TASK_WEIGHTS: dict[str, float] = {"emotion": 1.0, "speaker": 0.3, "gender": 0.6}
#: Class counts known without looking at the data. Speaker counts depend on the fold and must be given.
DEFAULT_TASK_CLASSES: dict[str, int] = {"gender": 2}


@dataclass
class HeadsConfig:
    """Which task heads to build and how.

    tasks:        task names; ``emotion`` is always first (added if missing).
    weights:      loss weight per task; missing tasks take :data:`DEFAULT_TASK_WEIGHTS` (else 1.0).
    num_classes:  class count per auxiliary task; ``emotion`` comes from ``build_model(num_classes=...)``,
                  ``gender`` defaults to 2, ``speaker`` (number of training speakers) must be given.
    hidden:       sizes of the hidden FC layers of each head (``[]``: a single linear layer).
    dropout:      dropout after each hidden FC layer of a head.
    """

    tasks: list[str] = field(default_factory=lambda: ["emotion"])
    weights: dict[str, float] = field(default_factory=dict)
    num_classes: dict[str, int] = field(default_factory=dict)
    hidden: list[int] = field(default_factory=list)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.tasks, str):
            self.tasks = [self.tasks]
        tasks = [str(t) for t in self.tasks]
        if "emotion" in tasks:
            tasks.remove("emotion")
        self.tasks = ["emotion"] + list(dict.fromkeys(tasks))
        if isinstance(self.hidden, int):
            self.hidden = [self.hidden] if self.hidden > 0 else []
        self.hidden = [int(h) for h in self.hidden]
        if any(h <= 0 for h in self.hidden):
            raise SerError(f"heads: hidden sizes must be positive, got {self.hidden}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise SerError(f"heads: dropout must be in [0, 1), got {self.dropout}")
        self.weights = {str(k): float(v) for k, v in dict(self.weights or {}).items()}
        self.num_classes = {str(k): int(v) for k, v in dict(self.num_classes or {}).items()}

    def task_weights(self) -> dict[str, float]:
        return {t: self.weights.get(t, DEFAULT_TASK_WEIGHTS.get(t, 1.0)) for t in self.tasks}

    def task_classes(self, num_emotions: int) -> dict[str, int]:
        counts = {"emotion": int(num_emotions)}
        for task in self.tasks[1:]:
            n = self.num_classes.get(task, DEFAULT_TASK_CLASSES.get(task))
            if n is None:
                raise SerError(
                    f"heads: task '{task}' needs its number of classes: set heads_conf num_classes: {{{task}: N}} "
                    f"(for speaker: the number of training speakers), or drop it from heads_conf tasks"
                )
            counts[task] = int(n)
        for task, n in counts.items():
            if n < 2:
                raise SerError(f"heads: task '{task}' needs at least 2 classes, got {n}")
        return counts


class ClassifierHead(nn.Module):
    """``[Linear -> ReLU -> Dropout] * len(hidden) -> Linear(num_classes)``; returns logits."""

    def __init__(
        self, input_dim: int, num_classes: int, hidden: list[int] | tuple[int, ...] = (), dropout: float = 0.0
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = input_dim
        for width in hidden:
            layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(dropout)]
            size = width
        layers.append(nn.Linear(size, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, embedding: Tensor) -> Tensor:
        return self.net(embedding)


class MultiTaskHeads(nn.Module):
    """One :class:`ClassifierHead` per task; ``forward`` returns ``{task: logits (B, C_task)}``."""

    def __init__(self, input_dim: int, num_classes: Mapping[str, int], hidden=(), dropout: float = 0.0,
                 weights: Mapping[str, float] | None = None) -> None:
        super().__init__()
        self.heads = nn.ModuleDict(
            {task: ClassifierHead(input_dim, n, hidden=list(hidden), dropout=dropout) for task, n in num_classes.items()}
        )
        defaults = {task: DEFAULT_TASK_WEIGHTS.get(task, 1.0) for task in num_classes}
        self.loss_weights: dict[str, float] = dict(weights or defaults)

    @property
    def tasks(self) -> list[str]:
        return list(self.heads.keys())

    def forward(self, embedding: Tensor) -> dict[str, Tensor]:
        return {task: head(embedding) for task, head in self.heads.items()}


def multitask_loss(
    outputs: Mapping[str, Tensor],
    targets: Mapping[str, Tensor],
    weights: Mapping[str, float],
    class_weights: Mapping[str, Tensor] | None = None,
    return_parts: bool = False,
):
    """``sum_task weights[task] * cross_entropy(outputs[task], targets[task])``.

    Only tasks with a non-zero weight count. Targets equal to -100 are ignored (e.g. an utterance with no
    gender label); a task whose targets in this batch are all ignored contributes 0 (not NaN).
    ``class_weights`` optionally gives per-class CE weights for a task (e.g. balanced emotion classes).
    With ``return_parts=True`` returns ``(total, {task: unweighted loss})`` for logging.
    """
    total: Tensor | None = None
    parts: dict[str, Tensor] = {}
    for task, weight in weights.items():
        if weight == 0:
            continue
        if task not in outputs:
            raise SerError(f"multitask loss: the model has no '{task}' head (heads: {sorted(outputs)})")
        if task not in targets:
            raise SerError(f"multitask loss: no '{task}' targets in the batch (targets: {sorted(targets)})")
        logits, target = outputs[task], targets[task].to(outputs[task].device).long()
        cw = class_weights.get(task) if class_weights else None
        if bool((target != -100).any()):
            loss = F.cross_entropy(logits, target, weight=cw, ignore_index=-100)
        else:
            loss = logits.sum() * 0.0
        parts[task] = loss
        total = weight * loss if total is None else total + weight * loss
    if total is None:
        some = next(iter(outputs.values()))
        total = some.sum() * 0.0
    return (total, parts) if return_parts else total


class SERModel(nn.Module):
    """The multitask wrapper: ``encoder -> embedding -> {task: logits}``.

    ``forward(x, lengths)`` returns the dict of logits per task, e.g.
    ``{"emotion": (B, C), "speaker": (B, S), "gender": (B, 2)}``. ``encode`` returns the embedding and the
    encoder's inspection tensors (attention weights, graph, mixing weights...). ``spec`` is the plain-dict
    recipe (encoder name and config, heads config, dims) from which ``ser.models.build_model_from_spec``
    rebuilds the same architecture, e.g. when loading a saved model with ``weights_only=True``.
    """

    def __init__(self, encoder: nn.Module, heads: MultiTaskHeads, input_kind: str = "frames", spec: dict | None = None):
        super().__init__()
        self.encoder = encoder
        self.heads = heads
        self.input_kind = input_kind
        self.spec = dict(spec or {})

    @property
    def tasks(self) -> list[str]:
        return self.heads.tasks

    @property
    def loss_weights(self) -> dict[str, float]:
        return dict(self.heads.loss_weights)

    def encode(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        return self.encoder(x, lengths)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> dict[str, Tensor]:
        embedding, _ = self.encoder(x, lengths)
        return self.heads(embedding)

    def loss(self, outputs: Mapping[str, Tensor], targets: Mapping[str, Tensor], **kwargs):
        """:func:`multitask_loss` with this model's loss weights."""
        return multitask_loss(outputs, targets, self.loss_weights, **kwargs)


__all__ = [
    "ClassifierHead",
    "DEFAULT_TASK_CLASSES",
    "DEFAULT_TASK_WEIGHTS",
    "HeadsConfig",
    "MultiTaskHeads",
    "SERModel",
    "multitask_loss",
]
