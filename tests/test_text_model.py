"""AGHMN / scLSTM: AGRU equations, padding, causality, streaming equals batch, model files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ser.errors import InputFileError
from ser.text.model import (
    AGRU,
    Batch,
    Stream,
    TextEmotionModel,
    TextModelConfig,
    load_model,
    reverse_within,
    save_model,
)

torch.set_num_threads(1)

VARIANTS = [
    dict(memory="unif", summary="agru"),
    dict(memory="bif", summary="agru"),
    dict(memory="unif", summary="biagru"),
    dict(memory="bif", summary="biagru"),
    dict(memory="bif", summary="soft"),
    dict(memory="bif", summary="agru", reader="bilstm"),
    dict(memory="bif", summary="agru", reader="cnn"),
    dict(model="sclstm", reader="cnn"),
    dict(model="sclstm", reader="bigru"),
]


def make_model(seed=0, **kw) -> TextEmotionModel:
    torch.manual_seed(seed)
    cfg = TextModelConfig(hidden=8, embed_dim=6, window=3, cnn_maps=4, **kw)
    return TextEmotionModel(cfg, vocab_size=30, num_classes=4).eval()


def random_dialogues(seed=0, sizes=(7, 2, 5)):
    rng = np.random.default_rng(seed)
    return [[list(rng.integers(2, 30, size=rng.integers(1, 9))) for _ in range(n)] for n in sizes]


def test_agru_hand_computed():
    agru = AGRU(1)
    with torch.no_grad():
        agru.wx.weight.copy_(torch.tensor([[0.0], [1.0]]))  # W_r = 0, W_h = 1
        agru.wx.bias.zero_()
        agru.uh.weight.copy_(torch.tensor([[0.0], [1.0]]))  # U_r = 0, U_h = 1
        agru.uh.bias.zero_()
    # reset gate r = sigmoid(0) = 0.5, so h~_k = tanh(x_k + 0.5 h_{k-1}); h_k = a_k h~_k + (1 - a_k) h_{k-1}
    memory = torch.tensor([[[0.5], [-1.0]]])
    att = torch.tensor([[0.25, 0.75]])
    h1 = 0.25 * math.tanh(0.5)  # 0.115529
    h2 = 0.75 * math.tanh(-1.0 + 0.5 * h1) + 0.25 * h1
    assert h1 == pytest.approx(0.11552929, abs=1e-7) and h2 == pytest.approx(-0.5233034, abs=1e-6)
    assert agru(memory, att).item() == pytest.approx(h2, abs=1e-6)
    b2 = 0.75 * math.tanh(-1.0)  # backward: first the most recent memory
    b1 = 0.25 * math.tanh(0.5 + 0.5 * b2) + 0.75 * b2
    assert agru(memory, att, reverse=True).item() == pytest.approx(b1, abs=1e-6)
    # zero attention leaves the state where it is (how empty memory slots are skipped)
    assert agru(memory, torch.zeros(1, 2)).item() == 0.0
    assert agru(memory, torch.tensor([[0.25, 0.0]])).item() == pytest.approx(h1, abs=1e-7)


def test_reverse_within():
    x = torch.arange(8.0).view(2, 4, 1)
    out = reverse_within(x, torch.tensor([3, 1]))
    assert out[..., 0].tolist() == [[2.0, 1.0, 0.0, 3.0], [4.0, 5.0, 6.0, 7.0]]


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(kw.values()))
def test_padding_and_batching_do_not_matter(kw):
    model = make_model(**kw)
    dialogues = random_dialogues()
    with torch.no_grad():
        together = model(Batch(dialogues, model.config.window))
        alone = torch.cat([model(Batch([d], model.config.window)) for d in dialogues])
    assert together.shape == (14, 4)
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(kw.values()))
def test_causality_future_turns_never_change_past_predictions(kw):
    model = make_model(**kw)
    dialogue = random_dialogues(sizes=(8,))[0]
    with torch.no_grad():
        base = model(Batch([dialogue], model.config.window))
        for t in range(len(dialogue)):
            changed = [list(u) for u in dialogue]
            changed[t] = [5, 6, 7, 8, 9, 10, 11][: 1 + t % 7] if changed[t] != [5] else [12, 13]
            longer = changed + [[3, 4, 5]]  # and one more future turn
            out = model(Batch([longer], model.config.window))
            assert torch.allclose(out[:t], base[:t], atol=1e-6), f"turn {t} changed an earlier prediction"
            assert not torch.allclose(out[t], base[t], atol=1e-6)  # the turn itself does matter


def test_memory_window_limits_history():
    model = make_model(memory="bif", summary="agru")  # K = 3
    dialogue = random_dialogues(sizes=(8,))[0]
    with torch.no_grad():
        base = model(Batch([dialogue], 3))
        changed = [[29, 28]] + dialogue[1:]
        out = model(Batch([changed], 3))
    assert not torch.allclose(out[1:4], base[1:4], atol=1e-6)  # turns 1..3 see turn 0
    assert torch.allclose(out[4:], base[4:], atol=1e-6)  # turn 4 on only sees turns 1..3 on


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: "-".join(kw.values()))
def test_streaming_equals_batch(kw):
    model = make_model(**kw)
    texts = ["a b c", "d", "e f g h i j", "b", "c c", "a", "j i h", "g"]
    index = {w: i + 2 for i, w in enumerate("abcdefghij")}

    def encode(text):
        return [index[w] for w in text.split()] or [1]

    with torch.no_grad():
        batch = torch.softmax(model(Batch([[encode(t) for t in texts]], model.config.window)), dim=1).numpy()
    stream = Stream(model, encode)
    streamed = np.stack([stream.step(t) for t in texts])
    assert np.allclose(streamed, batch, atol=1e-5)
    if model.config.model == "aghmn":
        assert len(stream.bank) == model.config.window


def test_model_file_roundtrip(tmp_path):
    model = make_model(memory="unif", summary="biagru")
    save_model(tmp_path / "m.pt", model, ["<pad>", "<unk>"] + [f"w{i}" for i in range(28)], ["a", "b", "c", "d"])
    loaded, itos, classes = load_model(tmp_path / "m.pt")
    assert classes == ["a", "b", "c", "d"] and len(itos) == 30 and loaded.config == model.config
    batch = Batch(random_dialogues(), 3)
    with torch.no_grad():
        assert torch.equal(loaded(batch), model(batch))
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(InputFileError, match="not a ser text model"):
        load_model(tmp_path / "bad.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(InputFileError, match="expected format"):
        load_model(tmp_path / "other.pt")


def test_frozen_embeddings_and_config_errors():
    from ser.errors import SerError

    model = make_model(trainable_embeddings=False)
    assert not model.embedding.weight.requires_grad
    with pytest.raises(SerError, match="summary"):
        TextModelConfig(summary="hard").check()
    with pytest.raises(SerError, match="unknown text model options"):
        TextModelConfig.from_dict({"layers": 2})


def test_learns_a_small_real_training_set(iemocap_text_dir):
    """Gradients reach every part (reader, fusion, both AGRUs) and the model can fit two real dialogues."""
    from ser.text.data import IEMOCAP6_CLASSES, Vocab, read_conversation_json
    from ser.text.train import encode_split

    dialogues = read_conversation_json(iemocap_text_dir / "iemocap6_dev.json")[:2]
    vocab = Vocab.build(dialogues)
    x, y = encode_split(dialogues, vocab, IEMOCAP6_CLASSES)
    torch.manual_seed(0)
    cfg = TextModelConfig(hidden=16, embed_dim=16, window=10, dropout=0.0, memory="bif", summary="biagru")
    model = TextEmotionModel(cfg, len(vocab), len(IEMOCAP6_CLASSES))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-2)
    batch, target = Batch(x, cfg.window), torch.tensor(y)
    for step in range(30):
        loss = torch.nn.functional.cross_entropy(model(batch), target)
        optimiser.zero_grad()
        loss.backward()
        if step == 0:
            for name, p in model.named_parameters():
                assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
        optimiser.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(batch).argmax(1) == target).float().mean().item()
    assert accuracy > 0.9, accuracy
