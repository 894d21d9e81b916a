"""Classification metrics for emotion recognition: confusion matrix, UAR, WA, F1; fold summaries.

Pure numpy. Labels are strings; every function takes an explicit class list, so a class that a
test set lacks (EmoDB speaker 08 has no disgust) still has its row and column in the matrix.

Definitions (all values are fractions in [0, 1]):

- confusion[i, j]: number of utterances whose reference label is classes[i] and prediction classes[j]
  (rows = reference, columns = prediction).
- recall (per class) = TP / support. A class with no reference utterances in the set is *absent*:
  its recall is NaN, and it is left out of UAR and macro-F1 (and listed in `absent_classes`).
- precision (per class) = TP / times predicted. A class that is never predicted gets precision 0
  when it is present in the reference (zero-division rule of sklearn's `zero_division=0`), and NaN
  when it is also absent (0/0 with nothing to judge).
- F1 (per class) = 2PR / (P + R), 0 when P + R = 0, NaN for an absent class.
- UAR (unweighted average recall) = mean recall over the classes PRESENT in the reference labels.
- WA (weighted accuracy) = overall accuracy = trace(confusion) / number of utterances.
- macro-F1 = mean F1 over the present classes (the same class set as UAR, so the two agree on
  what a fold is averaged over). Note: sklearn's `f1_score(average="macro", labels=all)` would
  instead count an absent class as F1 = 0.
- weighted F1 = support-weighted mean of per-class F1 (absent classes have weight 0).

Across folds (or seeds), `summarise_folds` gives the mean and the SAMPLE standard deviation
(ddof=1, the usual choice in SER papers; undefined, NaN, for a single fold) of each scalar metric,
and pooled metrics over all test utterances of all folds (the per-fold confusion matrices summed,
which is the same as concatenating the folds' utterances).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ser.errors import SerError

#: Scalar metrics summarised over folds, in report order.
SCALAR_METRICS = ("uar", "wa", "macro_f1", "weighted_f1")

#: Degrees of freedom for the std over folds: 1 = sample standard deviation.
STD_DDOF = 1


class MetricsError(SerError, ValueError):
    """Labels outside the class list, empty sets, mismatched class lists."""


def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    classes = tuple(str(c) for c in classes)
    if not classes:
        raise MetricsError("the class list is empty")
    if len(set(classes)) != len(classes):
        dup = sorted({c for c in classes if classes.count(c) > 1})
        raise MetricsError(f"duplicate classes in the class list: {dup}")
    return classes


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts matrix [C, C] (int64): rows = reference class, columns = predicted class, in `classes` order."""
    classes = _check_classes(classes)
    y_true = [str(y) for y in y_true]
    y_pred = [str(y) for y in y_pred]
    if len(y_true) != len(y_pred):
        raise MetricsError(f"{len(y_true)} reference labels but {len(y_pred)} predictions")
    index = {c: i for i, c in enumerate(classes)}
    for name, labels in (("reference", y_true), ("predicted", y_pred)):
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise MetricsError(f"{name} labels not in the class list {list(classes)}: {unknown}")
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    if y_true:
        np.add.at(cm, (np.array([index[y] for y in y_true]), np.array([index[y] for y in y_pred])), 1)
    return cm


def _nan_to_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


@dataclass(frozen=True)
class Metrics:
    """All metrics of one set of utterances, derived from its confusion matrix."""

    classes: tuple[str, ...]
    confusion: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", _check_classes(self.classes))
        cm = np.asarray(self.confusion, dtype=np.int64)
        c = len(self.classes)
        if cm.shape != (c, c):
            raise MetricsError(f"confusion matrix shape {cm.shape} does not match {c} classes")
        if (cm < 0).any():
            raise MetricsError("confusion matrix has negative counts")
        if cm.sum() == 0:
            raise MetricsError("no utterances: metrics are undefined for an empty set")
        cm = cm.copy()
        cm.setflags(write=False)
        object.__setattr__(self, "confusion", cm)

    # --- counts ---------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def support(self) -> np.ndarray:
        """Reference utterances per class."""
        return self.confusion.sum(axis=1)

    @property
    def predicted(self) -> np.ndarray:
        """How often each class was predicted."""
        return self.confusion.sum(axis=0)

    @property
    def correct(self) -> np.ndarray:
        return np.diag(self.confusion).copy()

    @property
    def present(self) -> np.ndarray:
        """Boolean mask: classes with at least one reference utterance."""
        return self.support > 0

    @property
    def present_classes(self) -> list[str]:
        return [c for c, p in zip(self.classes, self.present) if p]

    @property
    def absent_classes(self) -> list[str]:
        """Classes with no reference utterance in this set (left out of UAR and macro-F1)."""
        return [c for c, p in zip(self.classes, self.present) if not p]

    # --- per class ------------------------------------------------------------------------------
    @property
    def recall(self) -> np.ndarray:
        """Per-class recall; NaN for absent classes."""
        support = self.support
        out = np.full(len(self.classes), np.nan)
        np.divide(self.correct, support, out=out, where=support > 0)
        return out

    @property
    def precision(self) -> np.ndarray:
        """Per-class precision; 0 for a present class never predicted, NaN for absent and never predicted."""
        predicted = self.predicted
        out = np.where(self.present, 0.0, np.nan)
        np.divide(self.correct, predicted, out=out, where=predicted > 0)
        return out

    @property
    def f1(self) -> np.ndarray:
        """Per-class F1; 0 when precision + recall = 0, NaN for absent classes."""
        p, r = self.precision, self.recall
        denom = p + r
        out = np.where(self.present, 0.0, np.nan)
        np.divide(2 * p * r, denom, out=out, where=self.present & (denom > 0))
        return out

    # --- scalars --------------------------------------------------------------------------------
    @property
    def uar(self) -> float:
        """Mean recall over the classes present in the reference."""
        return float(self.recall[self.present].mean())

    @property
    def wa(self) -> float:
        """Overall accuracy (weighted accuracy)."""
        return float(np.trace(self.confusion) / self.n)

    accuracy = wa

    @property
    def macro_f1(self) -> float:
        """Mean F1 over the classes present in the reference."""
        return float(self.f1[self.present].mean())

    @property
    def weighted_f1(self) -> float:
        """Support-weighted mean of per-class F1."""
        support = self.support
        return float((self.f1[self.present] * support[self.present]).sum() / support.sum())

    def scalar(self, name: str) -> float:
        if name not in SCALAR_METRICS:
            raise MetricsError(f"unknown metric '{name}' (known: {', '.join(SCALAR_METRICS)})")
        return float(getattr(self, name))

    # --- construction / export ------------------------------------------------------------------
    @classmethod
    def from_labels(cls, y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> "Metrics":
        return cls(tuple(classes), confusion_matrix(y_true, y_pred, classes))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN becomes None."""
        per_class = {}
        for i, c in enumerate(self.classes):
            per_class[c] = {
                "support": int(self.support[i]),
                "predicted": int(self.predicted[i]),
                "recall": _nan_to_none(float(self.recall[i])),
                "precision": _nan_to_none(float(self.precision[i])),
                "f1": _nan_to_none(float(self.f1[i])),
            }
        return {
            "n": self.n,
            "uar": self.uar,
            "wa": self.wa,
            "macro_f1": self.macro_f1,
            "weighted_f1": self.weighted_f1,
            "classes": list(self.classes),
            "present_classes": self.present_classes,
            "absent_classes": self.absent_classes,
            "per_class": per_class,
            "confusion": self.confusion.tolist(),
        }


def compute_metrics(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> Metrics:
    """All metrics for one set of utterances (see the module docstring for definitions)."""
    return Metrics.from_labels(y_true, y_pred, classes)


# Thin functional helpers (each builds the confusion matrix; use Metrics to get several at once).
def per_class_recall(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    return compute_metrics(y_true, y_pred, classes).recall


def uar(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> float:
    return compute_metrics(y_true, y_pred, classes).uar


def weighted_accuracy(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> float:
    return compute_metrics(y_true, y_pred, classes).wa


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> float:
    return compute_metrics(y_true, y_pred, classes).macro_f1


def weighted_f1(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> float:
    return compute_metrics(y_true, y_pred, classes).weighted_f1


def mean_std(values: Iterable[float], ddof: int = STD_DDOF) -> tuple[float, float]:
    """Mean and standard deviation (ddof=1: sample std; NaN when fewer than ddof + 1 values)."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    mean = float(arr.mean())
    std = float(arr.std(ddof=ddof)) if arr.size > ddof else float("nan")
    return mean, std


@dataclass
class FoldSummary:
    """Per-fold metrics, their mean and sample std (ddof=1) over folds, and pooled metrics."""

    folds: dict[str, Metrics]
    mean: dict[str, float]
    std: dict[str, float]
    pooled: Metrics
    per_class_recall_mean: dict[str, float] = field(default_factory=dict)
    ddof: int = STD_DDOF

    @property
    def classes(self) -> tuple[str, ...]:
        return self.pooled.classes

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_folds": len(self.folds),
            "folds": {name: m.to_dict() for name, m in self.folds.items()},
            "mean": {k: _nan_to_none(v) for k, v in self.mean.items()},
            "std": {k: _nan_to_none(v) for k, v in self.std.items()},
            "std_definition": f"sample standard deviation over folds (ddof={self.ddof})",
            "per_class_recall_mean": {k: _nan_to_none(v) for k, v in self.per_class_recall_mean.items()},
            "pooled": self.pooled.to_dict(),
        }


def summarise_folds(per_fold: Mapping[str, Metrics], ddof: int = STD_DDOF) -> FoldSummary:
    """Mean and std over folds of each scalar metric, plus pooled metrics over all test utterances.

    `per_fold` maps fold name -> Metrics (all with the same class list). Works the same for runs over
    seeds. std is the sample standard deviation (ddof=1) unless `ddof` says otherwise; it is NaN for
    a single fold. `per_class_recall_mean` averages each class's recall over the folds where it is present.
    """
    if not per_fold:
        raise MetricsError("no folds to summarise")
    folds = dict(per_fold)
    classes = next(iter(folds.values())).classes
    for name, m in folds.items():
        if m.classes != classes:
            raise MetricsError(f"fold {name}: classes {list(m.classes)} differ from {list(classes)}")
    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    for key in SCALAR_METRICS:
        mean[key], std[key] = mean_std((m.scalar(key) for m in folds.values()), ddof=ddof)
    pooled = Metrics(classes, sum((m.confusion for m in folds.values()), np.zeros((len(classes),) * 2, np.int64)))
    recalls = np.array([m.recall for m in folds.values()])
    per_class = {}
    for i, c in enumerate(classes):
        col = recalls[:, i]
        col = col[~np.isnan(col)]
        per_class[c] = float(col.mean()) if col.size else float("nan")
    return FoldSummary(folds=folds, mean=mean, std=std, pooled=pooled, per_class_recall_mean=per_class, ddof=ddof)


__all__ = [
    "FoldSummary",
    "Metrics",
    "MetricsError",
    "SCALAR_METRICS",
    "STD_DDOF",
    "compute_metrics",
    "confusion_matrix",
    "macro_f1",
    "mean_std",
    "per_class_recall",
    "summarise_folds",
    "uar",
    "weighted_accuracy",
    "weighted_f1",
]
