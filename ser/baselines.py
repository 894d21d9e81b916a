"""Classic baselines that are not torch models: the linear SVM on utterance functionals (paper 002:
eGeMAPS 88-d, linear kernel, C=1, balanced class weights).

The SVM has no hyper-parameter search, so it trains on the fold's training and validation
speakers together (every speaker but the test speaker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ser.errors import SerError

SKLEARN_ENCODERS = ("svm",)


@dataclass
class SVMConfig:
    C: float = 1.0
    class_weight: str = "balanced"  # balanced | none


class LinearSVMClassifier:
    """scikit-learn SVC with a linear kernel (libsvm, one-vs-one), as paper 002's baseline states.

    Kept as plain arrays (one hyperplane per class pair), so a model file needs no pickle:
    prediction is one-vs-one voting, ties broken by the summed decision confidence.
    """

    def __init__(self, config: SVMConfig, classes: Sequence[str]) -> None:
        self.config = config
        self.classes = list(classes)
        self.pairs: np.ndarray | None = None  # (P, 2) class indices (i, j): positive decision votes i
        self.coef: np.ndarray | None = None  # (P, D)
        self.intercept: np.ndarray | None = None  # (P,)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "LinearSVMClassifier":
        from sklearn.svm import SVC

        if np.unique(y).size < 2:
            raise SerError("the SVM needs at least two classes in its training data")
        weight = "balanced" if self.config.class_weight == "balanced" else None
        svm = SVC(kernel="linear", C=self.config.C, class_weight=weight, decision_function_shape="ovo")
        svm.fit(x, y)
        present = svm.classes_
        pairs = [(present[a], present[b]) for a in range(len(present)) for b in range(a + 1, len(present))]
        self.pairs = np.array(pairs, dtype=np.int64)
        self.coef = np.asarray(svm.coef_, dtype=np.float64)
        self.intercept = np.asarray(svm.intercept_, dtype=np.float64)
        return self

    def votes(self, x: np.ndarray) -> np.ndarray:
        """(N, C) one-vs-one votes plus a confidence in (-1/3, 1/3) that only breaks ties (as libsvm's ovr shape)."""
        decision = x @ self.coef.T + self.intercept  # sklearn's ovo sign: positive -> first class of the pair
        n, c = x.shape[0], len(self.classes)
        votes = np.zeros((n, c))
        confidence = np.zeros((n, c))
        for k, (i, j) in enumerate(self.pairs):
            win_i = decision[:, k] > 0
            votes[:, i] += win_i
            votes[:, j] += ~win_i
            confidence[:, i] += decision[:, k]
            confidence[:, j] -= decision[:, k]
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def posteriors(self, x: np.ndarray) -> np.ndarray:
        """Softmax over the vote scores: not calibrated probabilities, but the arg-max is the SVM's label."""
        z = self.votes(x)
        absent = np.setdiff1d(np.arange(len(self.classes)), np.unique(self.pairs))
        z[:, absent] = -np.inf
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def state(self) -> dict[str, Any]:
        import torch

        return {"pairs": torch.tensor(self.pairs), "coef": torch.tensor(self.coef), "intercept": torch.tensor(self.intercept)}


def make_svm_config(conf: dict[str, Any]) -> SVMConfig:
    from ser.config import make_dataclass

    return make_dataclass(SVMConfig, dict(conf or {}), "encoder_conf of 'svm'")
