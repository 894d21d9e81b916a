"""Encoders, pooling, heads and the registry: shapes, padding invariance, gradients, paper-specific checks.

All models here are tiny (a few units, a dozen frames) so the file runs in seconds on a CPU.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ser.models as models
from ser.errors import SerError
from ser.models import registry
from ser.models.alstm import ALSTMLayer
from ser.models.gagru import frame_graph
from ser.models.masking import (
    PaddedBiRNN,
    check_lengths,
    lengths_to_mask,
    masked_mean,
    masked_softmax,
    reverse_padded,
)

BUILTINS = ["alstm", "alstm_lstm", "alstm_mean", "bigru_att", "blstm", "dnn", "gagru"]

TINY = {
    "blstm": {"hidden_size": 6, "attention_dim": 5},
    "gagru": {"hidden_size": 6, "attention_dim": 4},
    "bigru_att": {"hidden_size": 6, "attention_dim": 4},
    "alstm": {"fc_size": 7, "hidden_size": 5},
    "alstm_mean": {"fc_size": 7, "hidden_size": 5},
    "alstm_lstm": {"fc_size": 7, "hidden_size": 5},
    "dnn": {"hidden": [16, 12, 8]},
}
#: Builtins at tiny size, plus the variants selected by config options.
CASES = [(name, TINY[name]) for name in BUILTINS] + [
    ("blstm", {**TINY["blstm"], "attention": "eq8"}),
    ("blstm", {**TINY["blstm"], "pooling": "mean"}),
    ("blstm", {**TINY["blstm"], "num_layers": 2}),
    ("gagru", {**TINY["gagru"], "edge": "outer"}),
    ("alstm", {**TINY["alstm"], "mix_every": 1}),
    ("alstm", {**TINY["alstm"], "bidirectional": False, "offsets": [4, 2, 1]}),
]
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in c.items() if k not in TINY[n])}".rstrip("-") for n, c in CASES]
HEADS = {"num_classes": {"speaker": 3}, "hidden": [8]}
DIM, CLASSES = 5, 4
LENGTHS = [11, 4, 1, 8]


def make(name, conf, seed=0):
    torch.manual_seed(seed)
    return models.build_model(name, conf, DIM, CLASSES, HEADS)


def padded_batch(lengths=LENGTHS, dim=DIM, garbage=50.0, seed=1):
    """A right-padded batch whose padding holds large random values: they must not leak anywhere."""
    g = torch.Generator().manual_seed(seed)
    T = max(lengths)
    x = torch.randn(len(lengths), T, dim, generator=g)
    mask = lengths_to_mask(torch.tensor(lengths), T)
    x = torch.where(mask.unsqueeze(-1), x, garbage * torch.randn(x.shape, generator=g))
    return x, torch.tensor(lengths)


def run_encoder(model, x, lengths):
    if model.input_kind == "utterance":
        return model.encode(x[:, 0, :])
    return model.encode(x, lengths)


# ------------------------------------------------------------------------------------------- registry


def test_builtins_registered_with_input_kinds():
    entries = {e.name: e for e in models.list_encoders(load_plugins=False)}
    assert set(BUILTINS) <= set(entries)
    assert entries["dnn"].input_kind == "utterance"
    assert all(entries[n].input_kind == "frames" for n in BUILTINS if n != "dnn")
    assert models.get_encoder("gagru").cls.input_kind == "frames"
    assert models.get_encoder("dnn").cls.input_kind == "utterance"
    assert all(entries[n].description for n in BUILTINS)


def test_registry_refuses_duplicates():
    @models.register_encoder("dup_test_encoder", config=models.get_encoder("dnn").config, input_kind="utterance")
    class First(nn.Module):
        pass

    try:
        with pytest.raises(models.RegistryError, match="already registered"):

            @models.register_encoder("dup_test_encoder", config=models.get_encoder("dnn").config)
            class Second(nn.Module):
                pass

        with pytest.raises(models.RegistryError, match="already registered"):
            models.register_encoder("gagru", config=models.get_encoder("gagru").config)(First)
    finally:
        models.unregister_encoder("dup_test_encoder")


def test_unknown_encoder_and_bad_config_are_clear_errors():
    with pytest.raises(models.RegistryError, match="unknown encoder 'nope'.*gagru"):
        models.get_encoder("nope")
    with pytest.raises(models.ConfigError, match="unknown keys \\['hiden_size'\\].*hidden_size"):
        models.build_model("gagru", {"hiden_size": 4}, DIM, CLASSES)
    with pytest.raises(models.ConfigError, match="pooling"):
        models.build_model("blstm", {"pooling": "max"}, DIM, CLASSES)
    with pytest.raises(models.ConfigError, match="hidden_size"):
        models.build_model("gagru", {"hidden_size": "big"}, DIM, CLASSES)
    with pytest.raises(SerError, match="speaker.*number of classes"):
        models.build_model("alstm", TINY["alstm"], DIM, CLASSES)  # paper heads need the speaker count


def test_config_values_from_yaml_strings_are_coerced():
    model = models.build_model(
        "gagru", {"hidden_size": "6", "graph_eps": "1e-15", "graph": "false", "attention_dim": 4.0}, DIM, CLASSES
    )
    cfg = model.encoder.config
    assert (cfg.hidden_size, cfg.graph_eps, cfg.graph, cfg.attention_dim) == (6, 1e-15, False, 4)
    alstm = models.build_model("alstm", {**TINY["alstm"], "offsets": [4, 2, 1]}, DIM, CLASSES, HEADS)
    assert alstm.encoder.config.offsets == (4, 2, 1)


def test_entry_point_plugin_loads_lazily(tmp_path, monkeypatch):
    module = tmp_path / "ser_toy_plugin.py"
    module.write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass
            import torch
            from torch import nn
            from ser.models import register_encoder

            @dataclass
            class ToyConfig:
                size: int = 3

            @register_encoder("toy_plugin", config=ToyConfig)
            class Toy(nn.Module):
                '''A toy mean-pooling plugin.'''
                def __init__(self, input_dim, config):
                    super().__init__()
                    self.lin = nn.Linear(input_dim, config.size)
                    self.output_dim = config.size
                def forward(self, x, lengths=None):
                    return self.lin(x).mean(1), {}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [
        importlib.metadata.EntryPoint("toy_plugin", "ser_toy_plugin:Toy", registry.ENTRY_POINT_GROUP),
        importlib.metadata.EntryPoint("broken_plugin", "ser_no_such_module:X", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry, "_plugin_entry_points", lambda: eps)
    monkeypatch.setattr(registry, "_FAILED_PLUGINS", {})
    try:
        assert "ser_toy_plugin" not in sys.modules
        model = models.build_model("toy_plugin", {"size": 2}, DIM, CLASSES)  # unknown name -> entry point
        assert model(torch.randn(2, 3, DIM))["emotion"].shape == (2, CLASSES)
        assert models.get_encoder("toy_plugin").source == "ser_toy_plugin"
        with pytest.raises(models.RegistryError, match="broken_plugin.*failed to load"):
            models.get_encoder("broken_plugin")
        with pytest.warns(RuntimeWarning, match="broken_plugin"):
            names = [e.name for e in models.list_encoders()]
        assert "toy_plugin" in names and "broken_plugin" not in names
    finally:
        models.unregister_encoder("toy_plugin")
        sys.modules.pop("ser_toy_plugin", None)


def test_spec_rebuilds_the_same_model(tmp_path):
    model = make("alstm", TINY["alstm"]).eval()
    path = tmp_path / "m.pt"
    torch.save({"spec": model.spec, "state": model.state_dict()}, path)
    saved = torch.load(path, weights_only=True)
    again = models.build_model_from_spec(saved["spec"])
    again.load_state_dict(saved["state"])
    again.eval()
    x, lengths = padded_batch()
    for task, logits in model(x, lengths).items():
        torch.testing.assert_close(again(x, lengths)[task], logits)


# ------------------------------------------------------------------------------- every encoder


@pytest.mark.parametrize("name,conf", CASES, ids=CASE_IDS)
def test_output_shapes(name, conf):
    model = make(name, conf)
    x, lengths = padded_batch()
    inputs = (x[:, 0, :],) if model.input_kind == "utterance" else (x, lengths)
    outputs = model(*inputs)
    expected = {"emotion": CLASSES}
    if name.startswith("alstm"):
        expected.update(speaker=3, gender=2)
    assert {task: tuple(t.shape) for task, t in outputs.items()} == {t: (len(LENGTHS), c) for t, c in expected.items()}
    embedding, aux = run_encoder(model, x, lengths)
    assert embedding.shape == (len(LENGTHS), model.encoder.output_dim)
    assert all(torch.isfinite(t).all() for t in outputs.values())


@pytest.mark.parametrize("name,conf", CASES, ids=CASE_IDS)
def test_padded_batch_equals_items_alone(name, conf):
    model = make(name, conf).eval()
    x, lengths = padded_batch()
    with torch.no_grad():
        batch_emb, batch_aux = run_encoder(model, x, lengths)
        batch_out = model(*((x[:, 0, :],) if model.input_kind == "utterance" else (x, lengths)))
        for b, n in enumerate(LENGTHS):
            item = x[b : b + 1, :n]
            alone_emb, alone_aux = run_encoder(model, item, torch.tensor([n]))
            torch.testing.assert_close(batch_emb[b : b + 1], alone_emb, atol=1e-5, rtol=1e-4)
            alone_out = model(*((item[:, 0, :],) if model.input_kind == "utterance" else (item, torch.tensor([n]))))
            for task in batch_out:
                torch.testing.assert_close(batch_out[task][b : b + 1], alone_out[task], atol=1e-5, rtol=1e-4)
            if "attention" in batch_aux:
                torch.testing.assert_close(
                    batch_aux["attention"][b, :n], alone_aux["attention"][0], atol=1e-5, rtol=1e-4
                )


@pytest.mark.parametrize("name,conf", CASES, ids=CASE_IDS)
def test_gradients_flow(name, conf):
    model = make(name, conf)
    x, lengths = padded_batch()
    x.requires_grad_(True)
    inputs = (x[:, 0, :],) if model.input_kind == "utterance" else (x, lengths)
    # train mode (dropout on): every parameter gets a finite gradient
    outputs = model.train()(*inputs)
    targets = {t: torch.arange(len(LENGTHS)) % logits.shape[1] for t, logits in outputs.items()}
    model.loss(outputs, targets).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), pname
    # without dropout (a tiny head can be all-dropped by chance), no parameter's gradient is all zero
    model.zero_grad()
    x.grad = None
    model.eval()
    model.loss(model(*inputs), targets).backward()
    for pname, p in model.named_parameters():
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"
    if model.input_kind == "frames":
        mask = lengths_to_mask(lengths, x.shape[1])
        assert (x.grad[~mask] == 0).all(), "padding influenced the loss"
        assert x.grad[mask].abs().sum() > 0


FRAME_CASES = [c for c in CASES if c[0] != "dnn"]
FRAME_IDS = [i for i, c in zip(CASE_IDS, CASES) if c[0] != "dnn"]


@pytest.mark.parametrize("name,conf", FRAME_CASES, ids=FRAME_IDS)
def test_nan_in_padding_reaches_neither_outputs_nor_gradients(name, conf):
    model = make(name, conf).train()
    x, lengths = padded_batch(garbage=float("nan"))
    outputs = model(x, lengths)
    assert all(torch.isfinite(t).all() for t in outputs.values())
    targets = {t: torch.zeros(len(LENGTHS), dtype=torch.long) for t in outputs}
    model.loss(outputs, targets).backward()
    for pname, p in model.named_parameters():
        assert torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name,conf", FRAME_CASES, ids=FRAME_IDS)
def test_attention_weights_are_a_distribution_over_real_frames(name, conf):
    model = make(name, conf).eval()
    x, lengths = padded_batch()
    _, aux = model.encode(x, lengths)
    mask = lengths_to_mask(lengths, x.shape[1])
    for key in ("attention", "graph_attention"):
        if key in aux:
            weights = aux[key]
            assert (weights[~mask] == 0).all()
            assert (weights >= 0).all()
            torch.testing.assert_close(weights.sum(1), torch.ones(len(LENGTHS)))


# ---------------------------------------------------------------------------------------- GA-GRU


@pytest.mark.parametrize("edge", ["dot", "outer"])
def test_gagru_graph_rows_sum_to_one_and_padding_is_cut_off(edge):
    model = make("gagru", {**TINY["gagru"], "edge": edge}).eval()
    x, lengths = padded_batch()
    _, aux = model.encode(x, lengths)
    graph, mask = aux["graph"], lengths_to_mask(lengths, x.shape[1])
    pair = mask.unsqueeze(2) & mask.unsqueeze(1)
    assert (graph[~pair] == 0).all()  # padded rows and padded columns carry no weight
    assert (graph >= 0).all()
    row_sums = graph.sum(2)
    torch.testing.assert_close(row_sums[mask], torch.ones(int(mask.sum())))
    # H = sum_i alpha_i (G h)_i, with beta = G^T alpha the graph-modulated attention
    emb, _ = model.encode(x, lengths)
    h = model.encoder.hidden_states(x, lengths)
    expected = torch.einsum("bi,bij,bjd->bd", aux["attention"], graph, h)
    torch.testing.assert_close(emb, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(aux["graph_attention"], torch.einsum("bi,bij->bj", aux["attention"], graph))


def test_frame_graph_by_hand():
    h = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [-1.0, 0.0], [9.0, 9.0]]])
    mask = torch.tensor([[True, True, True, False]])
    # dot: ReLU of [[1,1,-1],[1,2,-1],[-1,-1,1]] -> rows normalised
    dot = frame_graph(h, mask, "dot", eps=0.0)
    expected = torch.tensor([[0.5, 0.5, 0, 0], [1 / 3, 2 / 3, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    torch.testing.assert_close(dot[0], expected)
    # outer: Frobenius norm of ReLU(h_i h_j^T), brute force
    outer = frame_graph(h, mask, "outer", eps=0.0)
    rel = torch.tensor([[torch.relu(torch.outer(h[0, i], h[0, j])).norm().item() for j in range(3)] for i in range(3)])
    torch.testing.assert_close(outer[0, :3, :3], rel / rel.sum(1, keepdim=True))
    assert (outer[0, 3] == 0).all() and (outer[0, :, 3] == 0).all()


def test_bigru_att_is_gagru_without_graph():
    torch.manual_seed(0)
    ga = make("gagru", TINY["gagru"]).eval()
    base = make("bigru_att", TINY["bigru_att"]).eval()
    base.load_state_dict(ga.state_dict())
    x, lengths = padded_batch()
    emb, aux = base.encode(x, lengths)
    assert "graph" not in aux
    h = ga.encoder.hidden_states(x, lengths)
    torch.testing.assert_close(emb, torch.einsum("bt,btd->bd", aux["attention"], h), atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------------------------- A-LSTM


def reference_alstm_direction(layer: ALSTMLayer, x: torch.Tensor, d: int) -> torch.Tensor:
    """Eqs. 6-12 of paper 004 written out for one unpadded sequence x (T, D), one direction, vector by vector."""
    H = layer.hidden_size
    w_ih, w_hh, bias = layer.weight_ih[d], layer.weight_hh[d], layer.bias[d]
    mix_w = layer.mix_weight[d] if layer.mix_weight is not None else None
    h_prime, c_prime = torch.zeros(H), torch.zeros(H)
    cells, hiddens = [], []

    def mix(states, t):
        chosen = [states[t + 1 - tau] for tau in layer.offsets if t + 1 - tau >= 0]
        if mix_w is None:
            weights = [1.0 / len(chosen)] * len(chosen)
        else:
            energies = torch.stack([torch.dot(mix_w, s) for s in chosen])
            weights = list(torch.exp(energies) / torch.exp(energies).sum())
        return sum(w * s for w, s in zip(weights, chosen))

    for t in range(x.shape[0]):
        z = w_ih @ x[t] + w_hh @ h_prime + bias
        i, f, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H : 2 * H]), torch.sigmoid(z[3 * H :])
        g = torch.tanh(z[2 * H : 3 * H])
        c = f * c_prime + i * g  # Eq. 6 (with C' of the previous step)
        cells.append(c)
        mixing_step = layer.mixing != "none" and (t + 1) % layer.mix_every == 0
        c_prime = mix(cells, t) if mixing_step else c  # Eqs. 8-9
        h = o * torch.tanh(c_prime)  # Eq. 10
        hiddens.append(h)
        h_prime = mix(hiddens, t) if mixing_step else h  # Eqs. 11-12
    return torch.stack(hiddens)


@pytest.mark.parametrize("mixing,mix_every", [("learned", 0), ("learned", 1), ("mean", 0), ("none", 0)])
def test_alstm_layer_matches_hand_written_recurrence(mixing, mix_every):
    torch.manual_seed(3)
    layer = ALSTMLayer(3, 4, offsets=(5, 3, 1), mixing=mixing, mix_every=mix_every, bidirectional=True)
    lengths = [12, 7, 3]
    x, lens = padded_batch(lengths, dim=3)
    with torch.no_grad():
        out, aux = layer(x, lens)
        for b, n in enumerate(lengths):
            fwd = reference_alstm_direction(layer, x[b, :n], 0)
            bwd = reference_alstm_direction(layer, x[b, :n].flip(0), 1).flip(0)
            torch.testing.assert_close(out[b, :n], torch.cat([fwd, bwd], -1), atol=1e-5, rtol=1e-4)
    every = mix_every or 5
    if mixing == "none":
        assert "mix_c" not in aux and aux["mix_steps"].numel() == 0
    else:
        assert aux["mix_steps"].tolist() == [t for t in range(12) if (t + 1) % every == 0]


def test_alstm_mixing_weights_are_softmax():
    model = make("alstm", {**TINY["alstm"], "mix_every": 1}).eval()
    x, lengths = padded_batch()
    _, aux = model.encode(x, lengths)
    for key in ("mix_c", "mix_h"):
        w = aux[key]  # (directions, B, steps, |T|)
        assert w.shape == (2, len(LENGTHS), x.shape[1], 3)
        assert (w >= 0).all()
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
        assert not torch.allclose(w[..., 4:, :], torch.full_like(w[..., 4:, :], 1 / 3))  # learned, not uniform
    # first steps only mix what exists: step 0 has only t (offset 1)
    assert (aux["mix_c"][:, :, 0, :2] == 0).all() and (aux["mix_c"][:, :, 0, 2] == 1).all()
    mean = make("alstm_mean", TINY["alstm_mean"]).eval()
    _, aux = mean.encode(x, lengths)
    assert aux["mix_steps"].tolist() == [4, 9]
    torch.testing.assert_close(aux["mix_h"], torch.full_like(aux["mix_h"], 1 / 3))


def test_alstm_without_mixing_is_a_conventional_lstm():
    torch.manual_seed(4)
    layer = ALSTMLayer(3, 4, mixing="none", bidirectional=True)
    lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for d, suffix in enumerate(["", "_reverse"]):
            getattr(lstm, f"weight_ih_l0{suffix}").copy_(layer.weight_ih[d])
            getattr(lstm, f"weight_hh_l0{suffix}").copy_(layer.weight_hh[d])
            getattr(lstm, f"bias_ih_l0{suffix}").copy_(layer.bias[d])
            getattr(lstm, f"bias_hh_l0{suffix}").zero_()
        x, lengths = padded_batch([9, 2, 6], dim=3)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        expected, _ = nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], batch_first=True)
        out, _ = layer(x, lengths)
        mask = lengths_to_mask(lengths)
        torch.testing.assert_close(out[mask], expected[mask], atol=1e-5, rtol=1e-4)


def test_alstm_default_size_matches_paper_parameter_count():
    # "about 600 k parameters": 36-d input, 4 emotions, 8 training speakers, 2 genders
    model = models.build_model("alstm", {}, 36, 4, {"num_classes": {"speaker": 8}})
    assert 590_000 < sum(p.numel() for p in model.parameters()) < 620_000
    assert model.loss_weights == {"emotion": 1.0, "speaker": 0.3, "gender": 0.6}
    assert model.encoder.rnn.mix_weight.numel() == 256  # "we only need add 256 parameters"


# ------------------------------------------------------------------------------ heads and losses


def test_multitask_loss_is_weighted_sum_of_cross_entropies():
    torch.manual_seed(5)
    outputs = {"emotion": torch.randn(6, 4), "speaker": torch.randn(6, 3), "gender": torch.randn(6, 2)}
    targets = {"emotion": torch.tensor([0, 1, 2, 3, 0, 1]), "speaker": torch.tensor([0, 1, 2, 0, 1, 2]),
               "gender": torch.tensor([0, 1, 0, 1, 0, 1])}
    weights = {"emotion": 1.0, "speaker": 0.3, "gender": 0.6}
    total, parts = models.multitask_loss(outputs, targets, weights, return_parts=True)
    expected = sum(w * F.cross_entropy(outputs[t], targets[t]) for t, w in weights.items())
    torch.testing.assert_close(total, expected)
    assert set(parts) == set(weights)
    # a task with weight 0 is skipped; a batch with no usable target for a task contributes 0, not NaN
    only = models.multitask_loss(outputs, {**targets, "gender": torch.full((6,), -100)}, weights)
    torch.testing.assert_close(only, F.cross_entropy(outputs["emotion"], targets["emotion"])
                               + 0.3 * F.cross_entropy(outputs["speaker"], targets["speaker"]))
    assert models.multitask_loss(outputs, {"emotion": targets["emotion"]}, {"emotion": 1.0, "speaker": 0.0}) > 0
    with pytest.raises(SerError, match="no 'speaker' targets"):
        models.multitask_loss(outputs, {"emotion": targets["emotion"]}, weights)


def test_heads_config_and_overrides():
    heads = {"tasks": ["gender", "speaker"], "num_classes": {"speaker": 5}, "weights": {"speaker": 0.5}}
    model = models.build_model("blstm", TINY["blstm"], DIM, CLASSES, heads)
    assert model.tasks == ["emotion", "gender", "speaker"]
    assert model.loss_weights == {"emotion": 1.0, "gender": 0.6, "speaker": 0.5}
    head = model.heads.heads["emotion"].net
    assert [m.out_features for m in head if isinstance(m, nn.Linear)] == [128, CLASSES]  # decoder hidden 128
    plain = models.build_model("blstm", TINY["blstm"], DIM, CLASSES, {"hidden": []})
    assert len(plain.heads.heads["emotion"].net) == 1
    # overriding the A-LSTM's paper heads down to emotion only needs no speaker count
    single = models.build_model("alstm", TINY["alstm"], DIM, CLASSES, {"tasks": ["emotion"]})
    assert single.tasks == ["emotion"]


# -------------------------------------------------------------------------------------- masking


def test_masking_helpers():
    lengths = torch.tensor([3, 1, 2])
    mask = lengths_to_mask(lengths)
    assert mask.tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    x = torch.arange(18.0).view(3, 3, 2)
    x[~mask] = float("nan")
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[2.0, 3.0], [6.0, 7.0], [13.0, 14.0]]))
    w = masked_softmax(torch.randn(3, 3), mask)
    torch.testing.assert_close(w.sum(1), torch.ones(3))
    assert (w[~mask] == 0).all()
    none = masked_softmax(torch.randn(2, 3), torch.zeros(2, 3, dtype=torch.bool))
    assert (none == 0).all()
    rev = reverse_padded(torch.arange(9.0).view(3, 3), lengths)
    assert rev.tolist() == [[2.0, 1.0, 0.0], [3.0, 4.0, 5.0], [7.0, 6.0, 8.0]]
    torch.testing.assert_close(reverse_padded(rev, lengths), torch.arange(9.0).view(3, 3))
    with pytest.raises(SerError, match="lengths must lie"):
        check_lengths(torch.zeros(2, 3, 1), torch.tensor([0, 3]))
    with pytest.raises(SerError, match="batch, frames, dims"):
        check_lengths(torch.zeros(2, 3), None)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_padded_birnn_equals_packed_torch_rnn(kind):
    torch.manual_seed(6)
    ours = PaddedBiRNN(kind, 3, 4, num_layers=2)
    ref = (nn.LSTM if kind == "lstm" else nn.GRU)(3, 4, num_layers=2, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for layer in range(2):
            for rnn, suffix in ((ours.forward_rnns[layer], ""), (ours.backward_rnns[layer], "_reverse")):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(ref, f"{name}_l{layer}{suffix}").copy_(getattr(rnn, f"{name}_l0"))
        x, lengths = padded_batch([9, 2, 6], dim=3)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        expected, _ = nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True)
        out = ours(x, lengths)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)  # padding is 0 in both


def test_dnn_wants_utterance_vectors():
    model = make("dnn", TINY["dnn"])
    with pytest.raises(SerError, match="one vector per utterance"):
        model(torch.zeros(2, 3, DIM))


# ------------------------------------------------------------------------------------ list-encoders


def test_list_encoders_command(capsys):
    from ser.commands import COMMAND_MODULES
    from ser.commands import list_encoders as command

    assert "list_encoders" in COMMAND_MODULES
    assert command.run(argparse.Namespace(encoders=[], names=False)) == 0
    out = capsys.readouterr().out
    for name in BUILTINS:
        assert f"\n{name}  [" in "\n" + out
    assert "dnn  [utterance]" in out and "graph_eps: 1e-15" in out and "offsets: [5, 3, 1]" in out
    assert command.run(argparse.Namespace(encoders=["gagru"], names=True)) == 0
    assert capsys.readouterr().out == "gagru\n"


def test_paper_default_sizes():
    """The defaults are the papers' sizes (checked cheaply, without building the large models' forward)."""
    gagru = models.get_encoder("gagru").make_config()
    assert (gagru.hidden_size, gagru.num_layers, gagru.dropout) == (256, 2, 0.1)
    assert (gagru.attention_dim, gagru.graph_eps, gagru.edge) == (16, 1e-15, "dot")
    blstm = models.get_encoder("blstm").make_config()
    assert (2 * blstm.hidden_size, blstm.dropout) == (256, 0.5)
    assert models.get_encoder("blstm").default_heads["hidden"] == [128]
    alstm = models.get_encoder("alstm").make_config()
    assert (alstm.fc_size, alstm.hidden_size, alstm.offsets, alstm.dropout) == (256, 128, (5, 3, 1), 0.5)
    assert math.isclose(models.get_encoder("alstm").default_heads["weights"]["speaker"], 0.3)
