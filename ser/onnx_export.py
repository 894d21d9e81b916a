"""ONNX graphs of torch encoders (``ser export --onnx``): features -> emotion posteriors, scored by onnxruntime.

The graph takes ``features`` (B, T, D) float32 right-padded plus ``lengths`` (B,) int64 for frame encoders
(the same padding masks as in torch, so padding never reaches a pooling), or ``features`` (B, D) for
utterance-level encoders, with dynamic batch and time axes, and returns ``posteriors`` (B, C): the softmax of
the emotion head (auxiliary heads are left out). We use torch's TorchScript-based exporter: the
``torch.export``-based one cannot trace the encoders' input checks on data-dependent lengths, and the
A-LSTM's time loop is scripted so it becomes an ONNX ``Loop`` (see ``ser.models.alstm``).

Every graph is checked against torch before it is written: ``check_graph`` runs both on real features and
refuses a graph whose posteriors differ by more than ``TOLERANCE``.
"""

from __future__ import annotations

import io
import warnings
from typing import Sequence

import numpy as np
import torch

from ser.errors import SerError

OPSET = 17
#: largest accepted |onnxruntime - torch| difference of a posterior
TOLERANCE = 1e-4


class _Posteriors(torch.nn.Module):
    """SERModel -> softmax of its emotion logits (what `ser score` needs), for frame-level input."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(features, lengths)["emotion"], dim=-1)


class _UtterancePosteriors(_Posteriors):
    def forward(self, features: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.softmax(self.model(features, None)["emotion"], dim=-1)


def export_graph(model: torch.nn.Module) -> bytes:
    """The ONNX graph (bytes) of a trained SERModel, in eval mode (no dropout)."""
    frame_level = model.input_kind == "frames"
    dim = int(model.spec["input_dim"])
    wrapper = (_Posteriors if frame_level else _UtterancePosteriors)(model).eval()
    if frame_level:
        example: tuple = (torch.zeros(2, 8, dim), torch.tensor([8, 5]))
        names, axes = ["features", "lengths"], {"features": {0: "batch", 1: "frames"}, "lengths": {0: "batch"}}
    else:
        example, names, axes = (torch.zeros(2, dim),), ["features"], {"features": {0: "batch"}}
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes on the (constant-folded) input checks
            torch.onnx.export(wrapper, example, buffer, input_names=names, output_names=["posteriors"],
                              dynamic_axes={**axes, "posteriors": {0: "batch"}}, opset_version=OPSET, dynamo=False)
    except ImportError as exc:
        raise SerError(f"ONNX export needs the onnx package ({exc}): pip install 'ser[train]'") from None
    finally:
        model.eval()  # the exporter restores the wrapper's mode, which would switch dropout back on
    return buffer.getvalue()


def check_graph(graph: bytes, model: torch.nn.Module, inputs: Sequence[np.ndarray]) -> float:
    """Max |posterior difference| between onnxruntime and torch on `inputs`; refused above TOLERANCE."""
    from ser.inference import predict
    from ser.models.onnx_classifier import OnnxClassifier

    classes = [str(i) for i in range(int(model.spec["num_classes"]))]
    ours = OnnxClassifier(graph, classes).posteriors(inputs)
    reference = predict(model, inputs, model.input_kind == "frames", torch.device("cpu"))
    diff = float(np.abs(ours - reference).max()) if len(inputs) else 0.0
    if not diff <= TOLERANCE:
        raise SerError(f"the ONNX graph's posteriors differ from torch's by {diff:.2e} (> {TOLERANCE:g}) on "
                       f"{len(inputs)} utterances; not exported")
    return diff


__all__ = ["OPSET", "TOLERANCE", "check_graph", "export_graph"]
