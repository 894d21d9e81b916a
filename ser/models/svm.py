"""``svm``: the linear SVM on utterance functionals (paper 002's baseline: eGeMAPS 88-d, linear kernel,
C=1, balanced class weights), as a registered classifier.

It selects nothing per fold (C is fixed by the config, or chosen by a nested `ser tune` search that never sees
the test speaker), so it trains on the fold's training and validation speakers together (every speaker but
the test speaker).

Scores (`probability: true`, the default) are libsvm's posteriors: a sigmoid per class pair fitted by Platt
scaling on libsvm's internal 5-fold cross-validation, combined by the pairwise coupling of Wu, Lin and
Weng (2004, their second method, as libsvm implements it). The label is the arg-max of these posteriors,
as scikit-learn's `predict_proba` gives. Without Platt parameters (`probability: false`) the scores are
*vote shares* (a softmax over one-vs-one votes, `output_kind` says so): their arg-max is the SVM's vote
label, but they are not probabilities.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ser.classifier import POSTERIORS, VOTE_SHARES
from ser.models.estimator import Estimator, array
from ser.models.registry import register_classifier


@dataclass
class SVMConfig:
    C: float = 1.0
    class_weight: str = "balanced"  # balanced | none
    probability: bool = True  # Platt-scaled pairwise posteriors + coupling (libsvm -b 1); else vote shares
    balance_corpora: bool = False  # multi-corpus data: weight each corpus equally (utt2corpus)


@register_classifier("svm", config=SVMConfig,
                     description="linear SVM (scikit-learn SVC, one-vs-one) on functionals; paper 002's baseline")
class LinearSVM(Estimator):
    """scikit-learn SVC with a linear kernel (libsvm, one-vs-one), kept as plain arrays (one hyperplane per
    class pair): prediction is one-vs-one voting, ties broken by the summed decision confidence."""

    name = "svm"
    config_class = SVMConfig

    def __init__(self, config: SVMConfig, classes) -> None:
        super().__init__(config, classes)
        self.output_kind = POSTERIORS if config.probability else VOTE_SHARES
        self.pairs: np.ndarray | None = None  # (P, 2) class indices (i, j): positive decision votes i
        self.coef: np.ndarray | None = None  # (P, D)
        self.intercept: np.ndarray | None = None  # (P,)
        self.prob_a: np.ndarray | None = None  # (P,) Platt sigmoid per pair: P(i | i or j) = 1 / (1 + exp(A d + B))
        self.prob_b: np.ndarray | None = None

    def fit_arrays(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        from sklearn.svm import SVC

        weight = "balanced" if self.config.class_weight == "balanced" else None
        svm = SVC(kernel="linear", C=self.config.C, class_weight=weight, decision_function_shape="ovo",
                  probability=bool(self.config.probability), random_state=0)
        with warnings.catch_warnings():  # scikit-learn 1.9-1.10 deprecate probability=True (setup.cfg pins < 1.11)
            warnings.simplefilter("ignore", FutureWarning)
            svm.fit(x, y, sample_weight=sample_weight)
        present = svm.classes_
        pairs = [(present[a], present[b]) for a in range(len(present)) for b in range(a + 1, len(present))]
        self.pairs = np.array(pairs, dtype=np.int64)
        self.coef = np.asarray(svm.coef_, dtype=np.float64)
        self.intercept = np.asarray(svm.intercept_, dtype=np.float64)
        if self.config.probability and len(present) > 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.prob_a = np.asarray(svm.probA_, dtype=np.float64)
                self.prob_b = np.asarray(svm.probB_, dtype=np.float64)
        else:
            self.output_kind = VOTE_SHARES

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

    def scores(self, x: np.ndarray) -> np.ndarray:
        """(N, C): coupled Platt probabilities, or vote shares without Platt parameters."""
        if self.prob_a is not None:
            return self._coupled_probabilities(x)
        z = self.votes(x)
        absent = np.setdiff1d(np.arange(len(self.classes)), np.unique(self.pairs))
        z[:, absent] = -np.inf
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _coupled_probabilities(self, x: np.ndarray) -> np.ndarray:
        present = np.unique(self.pairs)
        k = present.size
        slot = {c: i for i, c in enumerate(present)}
        decision = x @ self.coef.T + self.intercept
        r = np.zeros((x.shape[0], k, k))
        for p, (i, j) in enumerate(self.pairs):
            rij = pairwise_sigmoid(decision[:, p], self.prob_a[p], self.prob_b[p])
            r[:, slot[i], slot[j]] = rij
            r[:, slot[j], slot[i]] = 1.0 - rij
        out = np.zeros((x.shape[0], len(self.classes)))
        out[:, present] = couple_pairwise(r)
        return out

    def state(self) -> dict[str, np.ndarray]:
        out = {"pairs": self.pairs, "coef": self.coef, "intercept": self.intercept}
        if self.prob_a is not None:
            out.update(prob_a=self.prob_a, prob_b=self.prob_b)
        return out

    def load_arrays(self, state: dict[str, np.ndarray]) -> None:
        self.pairs = array(state, "pairs", self.name).astype(np.int64)
        self.coef = array(state, "coef", self.name).astype(np.float64)
        self.intercept = array(state, "intercept", self.name).astype(np.float64)
        if "prob_a" in state:  # Platt parameters: calibrated posteriors
            self.prob_a = array(state, "prob_a", self.name).astype(np.float64)
            self.prob_b = array(state, "prob_b", self.name).astype(np.float64)
        else:
            self.output_kind = VOTE_SHARES



def pairwise_sigmoid(decision: np.ndarray, a: float, b: float, min_prob: float = 1e-7) -> np.ndarray:
    """Platt's P(first class | decision value), computed without overflow, clipped as libsvm does."""
    f = decision * a + b
    pos = f >= 0
    out = np.empty_like(f)
    out[pos] = np.exp(-f[pos]) / (1.0 + np.exp(-f[pos]))
    out[~pos] = 1.0 / (1.0 + np.exp(f[~pos]))
    return np.clip(out, min_prob, 1.0 - min_prob)


def couple_pairwise(r: np.ndarray) -> np.ndarray:
    """Class probabilities (N, k) from pairwise ones r[n, i, j] = P(i | i or j): Wu, Lin & Weng (2004),
    method 2, with libsvm's fixed-point iteration, stopping rule and iteration cap (per sample)."""
    n, k, _ = r.shape
    eye = np.eye(k, dtype=bool)
    q = -r.transpose(0, 2, 1) * r  # Q[t, j] = -r[j, t] r[t, j]
    q[:, eye] = (np.where(eye, 0.0, r.transpose(0, 2, 1)) ** 2).sum(axis=2)  # Q[t, t] = sum_j r[j, t]^2
    p = np.full((n, k), 1.0 / k)
    eps, max_iter = 0.005 / k, max(100, k)
    active = np.ones(n, dtype=bool)
    for _ in range(max_iter):
        qa, pa = q[active], p[active]
        qp = np.einsum("ntj,nj->nt", qa, pa)
        pqp = (pa * qp).sum(axis=1)
        done = np.abs(qp - pqp[:, None]).max(axis=1) < eps
        idx = np.flatnonzero(active)
        active[idx[done]] = False
        if not active.any():
            break
        qa, pa, qp, pqp = qa[~done], pa[~done], qp[~done], pqp[~done]
        for t in range(k):
            diff = (-qp[:, t] + pqp) / qa[:, t, t]
            pa[:, t] += diff
            scale = 1.0 + diff
            pqp = (pqp + diff * (diff * qa[:, t, t] + 2 * qp[:, t])) / scale**2
            qp = (qp + diff[:, None] * qa[:, t, :]) / scale[:, None]
            pa /= scale[:, None]
        p[idx[~done]] = pa
    return p


__all__ = ["LinearSVM", "SVMConfig", "couple_pairwise", "pairwise_sigmoid"]
