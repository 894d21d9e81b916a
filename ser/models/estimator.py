"""Base of the non-torch classifiers on utterance functionals (SVM, logistic regression, ...).

They take one vector per utterance, select nothing on a validation speaker (so they train on every
non-test speaker), and keep their parameters as plain arrays: a model file needs neither pickle nor torch.
A subclass sets `name` and `config_class` and implements `fit_arrays`, `scores` and the two state methods.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from ser.classifier import POSTERIORS, Logger
from ser.errors import SerError


class Estimator:
    """Shared plumbing of :class:`ser.classifier.Classifier` for models fitted on (N, D) arrays."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type]
    selects_on_validation: ClassVar[bool] = False

    def __init__(self, config: Any, classes: Sequence[str]) -> None:
        self.config = config
        self.classes = list(classes)
        self.input_dim = 0
        self.output_kind = POSTERIORS

    # --- the protocol -------------------------------------------------------------------------------
    @classmethod
    def create(cls, cfg: Any, classes: list[str]) -> "Estimator":
        from ser.models.registry import make_config

        return cls(make_config(cls.config_class, cfg.encoder_conf, where=f"encoder_conf of '{cls.name}'"), classes)

    def fit(self, train: Any, valid: Any, workdir: Path, log: Logger) -> dict[str, Any]:
        if valid.utts:
            raise SerError(f"{self.name} selects nothing on validation data: train it on train + valid")
        x = stack_vectors(train.inputs)
        if np.unique(train.labels).size < 2:
            raise SerError(f"the {self.name} needs at least two classes in its training data")
        self.input_dim = x.shape[1]
        weights = train.corpus_weights() if getattr(self.config, "balance_corpora", False) else None
        self.fit_arrays(x, train.labels, weights)
        balanced = "" if weights is None else f", corpora weighted equally ({len(set(train.corpora))})"
        log(f"{self.name} trained on {len(train.utts)} utterances ({x.shape[1]}-d{balanced})")
        return {}

    def posteriors(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        if not len(inputs):
            return np.zeros((0, len(self.classes)))
        return self.scores(stack_vectors(inputs))

    def spec(self) -> dict[str, Any]:
        return {"encoder": self.name, "encoder_conf": dataclasses.asdict(self.config), "input_dim": self.input_dim,
                "num_classes": len(self.classes)}

    @classmethod
    def from_state(cls, spec: dict[str, Any], classes: Sequence[str], state: dict[str, np.ndarray]) -> "Estimator":
        from ser.models.registry import make_config

        model = cls(make_config(cls.config_class, spec.get("encoder_conf") or {}, where=f"{cls.name} model file"), classes)
        model.input_dim = int(spec["input_dim"])
        model.load_arrays(state)
        model._check_fit(state)
        return model

    def _check_fit(self, state: dict[str, np.ndarray]) -> None:
        """The arrays must be exactly the model's and map an input_dim row to one score per class: an edited file
        (an array added, reshaped, or classes dropped from its metadata) is refused here, not by a traceback
        while scoring."""
        extra = sorted(set(state) - set(self.state()))
        if extra:
            raise SerError(f"the {self.name} model file holds arrays it does not use ({', '.join(extra)})")
        try:
            out = np.asarray(self.scores(np.zeros((1, self.input_dim))))
        except (ValueError, IndexError) as exc:
            raise SerError(f"the {self.name} model's arrays do not fit its {self.input_dim}-d input and "
                           f"{len(self.classes)} classes ({exc})") from None
        if out.shape != (1, len(self.classes)):
            raise SerError(f"the {self.name} model gives {out.shape[-1]} scores for {len(self.classes)} classes")

    @classmethod
    def final_config(cls, cfg: Any, records: Sequence[dict[str, Any]], log: Logger) -> Any:
        return cfg  # nothing was selected per fold: the final model is fitted the same way on everyone

    # --- what a subclass provides ---------------------------------------------------------------------
    def fit_arrays(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        raise NotImplementedError

    def scores(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def load_arrays(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def stack_vectors(inputs: Sequence[np.ndarray]) -> np.ndarray:
    """(N, D) float64 from one (1, D) functional row per utterance."""
    return np.stack([np.asarray(x)[0] for x in inputs]).astype(np.float64, copy=False)


def array(state: dict[str, np.ndarray], key: str, owner: str) -> np.ndarray:
    if key not in state:
        raise SerError(f"the {owner} model file lacks '{key}' (another model's file?)")
    return np.asarray(state[key])


__all__ = ["Estimator", "array", "stack_vectors"]
