"""The classifier protocol: what evaluation, export and scoring need from any model, torch or not.

Why one protocol: a fold runner, the final-model export and `ser score` should not know whether the model
is a GA-GRU, an SVM or a logistic regression. Each registered name (``ser.models.registry``) builds an
object with this interface; torch encoders get it from ``ser.models.torch_classifier.TorchClassifier``
(encoder + heads, trained by ``ser.trainer``), non-torch models implement it themselves
(``ser.models.estimator``). A new non-torch model is one file plus its line in the registry.

A model's file (``ser.bundle``) stores ``spec()`` and ``state()`` (plain arrays); ``from_state`` rebuilds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, Sequence

import numpy as np

from ser.errors import SerError

if TYPE_CHECKING:
    from ser.config import ExperimentConfig
    from ser.features_table import LabelledSet

Logger = Callable[[str], None]

#: `output_kind` of a model whose scores are class probabilities
POSTERIORS = "posteriors"
#: `output_kind` of an uncalibrated one-vs-one SVM: softmax-ed vote counts, not probabilities
VOTE_SHARES = "vote shares"
#: what scores a model file with an ONNX graph (environment variable SER_BACKEND; auto: onnxruntime if installed)
BACKENDS = ("auto", "onnx", "torch")


class Classifier(Protocol):
    """Fit on one fold, give per-class scores, and round-trip through plain arrays."""

    classes: list[str]
    #: POSTERIORS, or VOTE_SHARES for scores that are not probabilities (their arg-max is still the label)
    output_kind: str
    #: True: the validation speakers select the model (early stopping); False: they join the training data
    selects_on_validation: ClassVar[bool]

    @classmethod
    def create(cls, cfg: "ExperimentConfig", classes: list[str]) -> "Classifier":
        """A new, unfitted model for this config."""
        ...

    def fit(self, train: "LabelledSet", valid: "LabelledSet", workdir: Path, log: Logger) -> dict[str, Any]:
        """Train; returns a record for the model file (e.g. best_epoch, best_valid_uar)."""
        ...

    def posteriors(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """(N, C) scores of normalised inputs (one (frames, D) matrix per utterance)."""
        ...

    def spec(self) -> dict[str, Any]:
        """What rebuilds the model: encoder name and config, input_dim, num_classes (plus heads for torch)."""
        ...

    def state(self) -> dict[str, np.ndarray]:
        """The learned parameters as plain arrays."""
        ...

    @classmethod
    def from_state(cls, spec: dict[str, Any], classes: Sequence[str], state: dict[str, np.ndarray]) -> "Classifier": ...

    @classmethod
    def final_config(cls, cfg: "ExperimentConfig", records: Sequence[dict[str, Any]], log: Logger) -> "ExperimentConfig":
        """The config that trains the model on every speaker, given the folds' records (no validation data)."""
        ...


def classifier_class(encoder: str) -> type:
    """The class implementing the protocol for a registered name."""
    from ser.models.registry import get_encoder

    entry = get_encoder(encoder)
    if entry.kind == "estimator":
        return entry.cls
    from ser.models.torch_classifier import TorchClassifier

    return TorchClassifier


def make_classifier(cfg: "ExperimentConfig", classes: Sequence[str], frame_level: bool) -> Classifier:
    """A new, unfitted classifier for `cfg`; refuses features of the wrong level for the model."""
    from ser.models.registry import get_encoder

    entry = get_encoder(cfg.encoder)
    if entry.input_kind == "frames" and not frame_level:
        raise SerError(f"encoder '{cfg.encoder}' needs frame-level features, not utterance-level functionals")
    if entry.input_kind == "utterance" and frame_level:
        raise SerError(f"encoder '{cfg.encoder}' needs utterance-level features (e.g. egemaps88), not frame-level ones")
    return classifier_class(cfg.encoder).create(cfg, list(classes))


def load_classifier(spec: dict[str, Any], classes: Sequence[str], state: dict[str, np.ndarray],
                    onnx_graph: bytes | None = None) -> Classifier:
    """Rebuild a fitted classifier from a model file's spec and arrays.

    A model file carrying an ONNX graph (``ser export --onnx``) scores through onnxruntime when it is
    installed, with no torch import; ``SER_BACKEND=torch`` forces the torch weights, ``SER_BACKEND=onnx``
    the graph."""
    import os

    backend = os.environ.get("SER_BACKEND", "auto")
    if "num_classes" in spec and int(spec["num_classes"]) != len(classes):  # metadata edited apart from the model
        raise SerError(f"the model gives {spec['num_classes']} scores but its file names {len(classes)} classes")
    if backend not in BACKENDS:
        raise SerError(f"SER_BACKEND must be one of {', '.join(BACKENDS)}, not '{backend}'")
    if onnx_graph is not None and backend != "torch":
        from ser.models.onnx_classifier import OnnxClassifier, onnxruntime_available

        if backend == "onnx" or onnxruntime_available():
            return OnnxClassifier(onnx_graph, classes)
    elif backend == "onnx":
        raise SerError(f"SER_BACKEND=onnx, but the '{spec['encoder']}' model file holds no ONNX graph "
                       "(export it with `ser export --onnx`)")
    return classifier_class(spec["encoder"]).from_state(spec, list(classes), state)


__all__ = ["BACKENDS", "POSTERIORS", "VOTE_SHARES", "Classifier", "classifier_class", "load_classifier", "make_classifier"]
