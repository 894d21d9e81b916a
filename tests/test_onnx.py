"""ONNX export of every torch encoder: the graph equals torch on real EmoDB features, with any batch and length."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ser.bundle import DEFAULT_MODEL, load_bundle
from ser.errors import SerError
from ser.models.onnx_classifier import OnnxClassifier
from ser.models.registry import build_model
from ser.onnx_export import TOLERANCE, check_graph, export_graph

# small sizes keep the test fast; the graph's structure is the same at the papers' sizes
FRAME_ENCODERS = {
    "blstm": {"hidden_size": 16, "attention": "eq8", "attention_dim": 8},
    "blstm_mean": {"hidden_size": 16, "pooling": "mean"},
    "gagru": {"hidden_size": 16, "num_layers": 2},
    "bigru_att": {"hidden_size": 16, "num_layers": 1},
    "alstm": {"fc_size": 16, "hidden_size": 12},
    "alstm_every_step": {"fc_size": 16, "hidden_size": 12, "mix_every": 1},
    "alstm_mean": {"fc_size": 16, "hidden_size": 12},
    "alstm_lstm": {"fc_size": 16, "hidden_size": 12},
}
ALSTM_HEADS = {"num_classes": {"speaker": 4}, "hidden": [16]}


@pytest.fixture(scope="module")
def emodb_feats(emodb_dir):
    """emobase78 frames and egemaps88 functionals of 10 EmoDB clips of different lengths (1-2.2 s)."""
    import ser

    clips = [str(p) for p in sorted(emodb_dir.glob("1[0-1]*.wav"))[:10]]
    return ser.extract(clips, features="emobase78"), ser.extract(clips, features="egemaps88")


def _model(name: str, conf: dict, dim: int):
    torch.manual_seed(3)
    encoder = "blstm" if name.startswith("blstm") else "alstm" if name == "alstm_every_step" else name
    heads = ALSTM_HEADS if encoder.startswith("alstm") else None
    model = build_model(encoder, conf, dim, 7, heads).eval()
    with torch.no_grad():  # a random head gives near-uniform posteriors; sharpen them so differences show
        model.heads.heads["emotion"].net[-1].weight.mul_(30.0)
    return model


@pytest.mark.parametrize("name", sorted(FRAME_ENCODERS))
def test_frame_encoder_graph_equals_torch(name, emodb_feats):
    frames, _ = emodb_feats
    inputs = [(x - x.mean(0)) / (x.std(0) + 1e-5) for x in frames]
    model = _model(name, FRAME_ENCODERS[name], frames[0].shape[1])
    graph = export_graph(model)  # traced on a batch of 2 x 8 frames: longer clips and batches need dynamic axes
    assert max(x.shape[0] for x in inputs) > 200 and len({x.shape[0] for x in inputs}) == len(inputs)
    diff = check_graph(graph, model, inputs)
    assert diff <= TOLERANCE
    post = OnnxClassifier(graph, [str(i) for i in range(7)]).posteriors(inputs)
    assert post.shape == (10, 7) and np.allclose(post.sum(1), 1, atol=1e-5)
    assert post.std(axis=0).max() > 0.005  # the clips get different posteriors: the graph reads its input
    # one clip alone, in a batch of one, gives what it gets in the padded batch
    alone = OnnxClassifier(graph, [str(i) for i in range(7)], batch_size=1).posteriors(inputs[:3])
    np.testing.assert_allclose(alone, post[:3], atol=1e-5)


def test_utterance_encoder_graph_equals_torch(emodb_feats):
    _, functionals = emodb_feats
    inputs = [(x - 0.5) / 10 for x in functionals]
    model = _model("dnn", {}, functionals[0].shape[1])
    graph = export_graph(model)
    assert check_graph(graph, model, inputs) <= TOLERANCE
    assert not OnnxClassifier(graph, [str(i) for i in range(7)]).frame_level


def test_a_graph_that_differs_from_torch_is_refused(emodb_feats):
    frames, _ = emodb_feats
    inputs = [(x - x.mean(0)) / (x.std(0) + 1e-5) for x in frames[:4]]
    model = _model("gagru", FRAME_ENCODERS["gagru"], frames[0].shape[1])
    graph = export_graph(model)
    with torch.no_grad():
        model.heads.heads["emotion"].net[-1].bias.add_(torch.linspace(0, 1, 7))  # the torch model changes after export
    with pytest.raises(SerError, match="differ from torch"):
        check_graph(graph, model, inputs)


def test_non_torch_models_are_not_exported_to_onnx(tmp_path):
    from ser.export import onnx_graph_of

    with pytest.raises(SerError, match="not a torch encoder"):
        onnx_graph_of(load_bundle(DEFAULT_MODEL), tmp_path)
