"""Calibrating posteriors: temperature scaling fitted on speakers the model did not train on, and the
expected calibration error (ECE) that says how far a model's confidence is from its accuracy.

Why temperature: one parameter cannot overfit a few hundred utterances and never changes the arg-max, so
every reported UAR/WA stays what it was while `ser score`'s confidence becomes honest. The temperature of an
exported model is fitted on its experiment's out-of-fold posteriors (each fold's test speakers were unseen by
that fold's model), the cross-validated calibration scikit-learn's CalibratedClassifierCV also uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ser.errors import SerError

EPS = 1e-12


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): T > 1 softens over-confident posteriors, T < 1 sharpens; the arg-max is unchanged."""
    logits = np.log(np.clip(np.asarray(probs, dtype=np.float64), EPS, 1.0)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    out[np.asarray(probs) <= 0] = 0.0  # classes the model cannot output stay impossible
    return out / out.sum(axis=1, keepdims=True)


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], EPS, 1.0))))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by the bins' sizes."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


@dataclass
class Calibration:
    method: str
    temperature: float
    fitted_on: str
    utterances: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float

    def to_dict(self) -> dict:
        return asdict(self)


def fit_temperature(probs: np.ndarray, labels: Sequence[int], fitted_on: str) -> Calibration:
    """The temperature that minimises the negative log-likelihood of `labels` (bounded search over log T)."""
    from scipy.optimize import minimize_scalar

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) < 20:
        raise SerError(f"calibration needs at least 20 held-out utterances, got {len(labels)}")
    result = minimize_scalar(lambda log_t: negative_log_likelihood(apply_temperature(probs, np.exp(log_t)), labels),
                             bounds=(-3.0, 3.0), method="bounded")
    t = float(np.exp(result.x))
    after = apply_temperature(probs, t)
    return Calibration("temperature", t, fitted_on, int(len(labels)), expected_calibration_error(probs, labels),
                       expected_calibration_error(after, labels), negative_log_likelihood(probs, labels),
                       negative_log_likelihood(after, labels))


def calibrate_experiment(exp_dir) -> Calibration:
    """Fit a temperature on an experiment's out-of-fold posteriors (every fold's scores.tsv)."""
    from pathlib import Path

    from ser.report import find_fold_scores, read_scores

    found = find_fold_scores(Path(exp_dir))
    if not found:
        raise SerError(f"{exp_dir}: no fold_*/scores.tsv to calibrate on (run `ser evaluate` first)")
    probs, labels = [], []
    for path in found.values():
        classes, _, truth, _, post = read_scores(path)
        index = {c: i for i, c in enumerate(classes)}
        probs.append(post)
        labels += [index[t] for t in truth]
    return fit_temperature(np.concatenate(probs), labels,
                           f"out-of-fold posteriors of {len(labels)} utterances in {len(found)} folds of {Path(exp_dir).name}")


__all__ = [
    "Calibration",
    "EPS",
    "apply_temperature",
    "calibrate_experiment",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
]
