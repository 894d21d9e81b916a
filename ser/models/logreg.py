"""``logreg``: multinomial logistic regression on utterance functionals (scikit-learn, balanced class weights).

A linear model like the SVM but with posteriors of its own (a softmax, no Platt step), so its scores are
probabilities at no extra cost. L2-regularised with strength 1/C; trained, like every non-torch model here,
on all non-test speakers. The parameters are kept as plain arrays (coef, intercept, the classes present).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ser.errors import SerError
from ser.models.estimator import Estimator, array
from ser.models.registry import register_classifier


@dataclass
class LogRegConfig:
    C: float = 1.0  # inverse L2 strength
    class_weight: str = "balanced"  # balanced | none
    max_iter: int = 2000
    balance_corpora: bool = False  # multi-corpus data: weight each corpus equally (utt2corpus)

    def __post_init__(self) -> None:
        if self.class_weight not in ("balanced", "none"):
            raise SerError(f"logreg: class_weight must be 'balanced' or 'none', not '{self.class_weight}'")
        if self.C <= 0 or self.max_iter < 1:
            raise SerError("logreg: C and max_iter must be positive")


@register_classifier("logreg", config=LogRegConfig,
                     description="multinomial logistic regression (scikit-learn, L2, balanced) on functionals")
class LogisticRegressionClassifier(Estimator):
    name = "logreg"
    config_class = LogRegConfig

    def __init__(self, config: LogRegConfig, classes) -> None:
        super().__init__(config, classes)
        self.present: np.ndarray | None = None  # class indices the model was trained on (columns of its softmax)
        self.coef: np.ndarray | None = None  # (K, D)
        self.intercept: np.ndarray | None = None  # (K,)

    def fit_arrays(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self.config.C, max_iter=self.config.max_iter,
                                   class_weight="balanced" if self.config.class_weight == "balanced" else None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(x, y, sample_weight=sample_weight)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            warnings.warn(f"logreg did not converge in {self.config.max_iter} iterations (raise encoder_conf.max_iter)",
                          RuntimeWarning, stacklevel=2)
        self.present = np.asarray(model.classes_, dtype=np.int64)
        coef, intercept = np.asarray(model.coef_, dtype=np.float64), np.asarray(model.intercept_, dtype=np.float64)
        if self.present.size == 2:  # scikit-learn keeps one row for two classes: logit of the second
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef, self.intercept = coef, intercept

    def scores(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out = np.zeros((x.shape[0], len(self.classes)))
        out[:, self.present] = e / e.sum(axis=1, keepdims=True)
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"present": self.present, "coef": self.coef, "intercept": self.intercept}

    def load_arrays(self, state: dict[str, np.ndarray]) -> None:
        self.present = array(state, "present", self.name).astype(np.int64)
        self.coef = array(state, "coef", self.name).astype(np.float64)
        self.intercept = array(state, "intercept", self.name).astype(np.float64)


__all__ = ["LogRegConfig", "LogisticRegressionClassifier"]
