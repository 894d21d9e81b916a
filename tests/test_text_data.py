"""Text conversation readers (MELD CSV, conversation JSON, IEMOCAP release), tokeniser, vocabulary, embeddings."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest

from ser.errors import InputFileError
from ser.text import data as td
from ser.text.embeddings import embedding_matrix, read_vectors, write_word2vec_binary
from corpus_builders import build_mini_iemocap, iemocap_turns


@pytest.fixture(scope="module")
def meld(meld_dir):
    return td.read_meld(meld_dir)


def test_meld_counts(meld):
    splits, repaired = meld
    assert {s: td.count(d) for s, d in splits.items()} == {"train": (1038, 9989), "dev": (114, 1109), "test": (280, 2610)}
    ids = {d.id for d in splits["train"]}
    assert "dia60" not in ids and "dia59" in ids and "dia61" in ids
    labels = Counter(t.emotion for d in splits["train"] for t in d.turns)
    assert set(labels) == set(td.MELD_CLASSES)
    # the shared copy is already clean UTF-8: nothing to repair, and nothing broken by the repair
    assert repaired == 0
    texts = [t.text for d in splits["train"] for t in d.turns]
    assert not any("Â" in t or "â€" in t for t in texts)
    assert sum("’" in t for t in texts) > 1000
    first = splits["train"][0].turns[0]
    assert first.speaker == "Chandler" and first.text.startswith("also I was the point person on my company’s")


def test_meld_turn_order(meld_dir, tmp_path):
    # rows out of order in the file are put back in Utterance_ID order
    rows = list(csv.reader(open(meld_dir / "dev_sent_emo.csv", encoding="utf-8", newline="")))
    header, body = rows[0], rows[1:30]
    with open(tmp_path / "x.csv", "w", encoding="utf-8", newline="") as h:
        csv.writer(h, lineterminator="\r\n").writerows([header] + body[::-1])
    dialogues, _ = td.read_meld_csv(tmp_path / "x.csv")
    first = [r for r in body if r[5] == body[0][5]]
    assert [t.text for t in dialogues[0].turns] == [" ".join(r[1].split()) for r in first]


def test_mojibake_repair(meld_dir, tmp_path):
    assert td.fix_mojibake("Youâ€™re fine") == "You’re fine"  # UTF-8 read as CP1252
    assert td.fix_mojibake("OhÂ’ no") == "Oh’ no"  # CP1252 ’ read as Latin-1, then UTF-8 read as CP1252
    assert td.fix_mojibake("Itâ€™s Â…") == "It’s …"
    assert td.fix_mojibake("wait\u0085") == "wait…"
    for clean in ("café", "You’re fine", "plain ascii", "naïve — “quoted”", "Â"):
        assert td.fix_mojibake(clean) == clean
    # damage a real MELD file the way the original release is damaged, then read it back
    lines = (meld_dir / "dev_sent_emo.csv").read_bytes().decode("utf-8").split("\r\n")

    def as_cp1252(text: str) -> str:  # each UTF-8 byte read as CP1252 (Latin-1 for its undefined bytes)
        return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8"))

    damaged = [lines[0]] + [as_cp1252(ln) if "’" in ln else ln for ln in lines[1:]]
    assert any("â€™" in ln for ln in damaged)
    (tmp_path / "dev.csv").write_bytes("\r\n".join(damaged).encode("utf-8"))
    broken = sum(("’" in ln) for ln in lines[1:])
    fixed, repaired = td.read_meld_csv(tmp_path / "dev.csv")
    original, zero = td.read_meld_csv(meld_dir / "dev_sent_emo.csv")
    assert zero == 0 and repaired >= broken > 250
    assert [t.text for d in fixed for t in d.turns] == [t.text for d in original for t in d.turns]


def test_meld_bad_file(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="not a MELD CSV"):
        td.read_meld_csv(tmp_path / "bad.csv")
    with pytest.raises(InputFileError):
        td.read_meld_csv(tmp_path / "missing.csv")


def test_conversation_json_counts(iemocap_text_dir):
    splits = td.read_conversation_dir(iemocap_text_dir)
    assert {s: td.count(d) for s, d in splits.items()} == {"train": (108, 5163), "dev": (12, 647), "test": (31, 1623)}
    labels = {t.emotion for d in splits["train"] for t in d.turns}
    assert labels == set(td.IEMOCAP6_CLASSES)
    assert all(d.id.startswith("Ses05") for d in splits["test"])
    assert not any(d.id.startswith("Ses05") for d in splits["train"] + splits["dev"])


def test_conversation_json_roundtrip_and_errors(iemocap_text_dir, tmp_path):
    dialogues = td.read_conversation_json(iemocap_text_dir / "iemocap6_dev.json")
    td.write_conversation_json(tmp_path / "x.json", dialogues)
    again = td.read_conversation_json(tmp_path / "x.json")
    assert [(d.id, [(t.speaker, t.text, t.emotion) for t in d.turns]) for d in again] == [
        (d.id, [(t.speaker, t.text, t.emotion) for t in d.turns]) for d in dialogues
    ]
    (tmp_path / "bad.json").write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(InputFileError, match="list of dialogues"):
        td.read_conversation_json(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text("[[{\"speaker\": \"A\"}]]", encoding="utf-8")
    with pytest.raises(InputFileError, match="turn 0"):
        td.read_conversation_json(tmp_path / "bad2.json")


def test_mini_iemocap_release(emodb_dir, tmp_path):
    wavs = sorted(emodb_dir.glob("*.wav"))[:2]
    release = build_mini_iemocap(tmp_path, wavs, sessions=5, dialogs_per_session=2, turns_per_speaker=8)
    splits = td.read_iemocap_release(release, seed=0)
    assert td.count(splits["test"]) == (2, 2 * 14)  # per dialogue 16 turns, 2 of them xxx are dropped
    assert len(splits["train"]) + len(splits["dev"]) == 8 and len(splits["dev"]) == 2  # 80:20 by dialogue
    expected = [t for t in iemocap_turns(5, 2, 8) if t.code in td.IEMOCAP6_CODES]
    got = {d.id: d for s in td.SPLITS for d in splits[s]}
    for dialog in {t.dialog for t in expected}:
        want = [t for t in expected if t.dialog == dialog]  # already in time order
        assert [(t.speaker, t.text, t.emotion) for t in got[dialog].turns] == [
            (w.speaker, w.text, td.IEMOCAP6_CODES[w.code]) for w in want
        ]
    assert splits == td.read_iemocap_release(release, seed=0)
    dev_sets = {frozenset(d.id for d in td.read_iemocap_release(release, seed=s)["dev"]) for s in range(6)}
    assert len(dev_sets) > 1  # the seed picks the dev dialogues


def test_tokenize_and_vocab(iemocap_text_dir):
    assert td.tokenize("Don't GO, Ross!") == ["don", "'", "t", "go", ",", "ross", "!"]
    splits = td.read_conversation_dir(iemocap_text_dir)
    vocab = td.Vocab.build(splits["train"])
    assert vocab.itos[:2] == [td.PAD, td.UNK] and vocab.encode("") == [1]
    train_words = {w for d in splits["train"] for t in d.turns for w in td.tokenize(t.text)}
    assert set(vocab.itos[2:]) == train_words  # training split only
    test_only = {w for d in splits["test"] for t in d.turns for w in td.tokenize(t.text)} - train_words
    assert test_only and all(vocab.encode(w) == [1] for w in list(test_only)[:20])


def test_embedding_formats(embeddings_dir, tmp_path):
    glove = read_vectors(embeddings_dir / "gensim_test_glove.txt")
    w2v = read_vectors(embeddings_dir / "gensim_test_word2vec.txt")
    assert len(glove) == 76 and len(next(iter(glove.values()))) == 50
    assert glove.keys() == w2v.keys() and all(np.array_equal(glove[w], w2v[w]) for w in glove)
    big = read_vectors(embeddings_dir / "gensim_EN.1-10.cbow1_wind5_hs0_neg10_size300_smpl1e-05.txt")
    assert len(big) == 20 and big["one"].shape == (300,)
    kv = read_vectors(embeddings_dir / "gensim_high_precision.kv.txt")
    assert list(kv) == ["kangaroo.n.01", "horse.n.01"]
    assert kv["horse.n.01"][1] == np.float32(0.0007694142576316829)
    write_word2vec_binary(tmp_path / "v.bin", glove)
    binary = read_vectors(tmp_path / "v.bin")
    assert binary.keys() == glove.keys() and all(np.array_equal(glove[w], binary[w]) for w in glove)
    (tmp_path / "trunc.bin").write_bytes((tmp_path / "v.bin").read_bytes()[:500])
    with pytest.raises(InputFileError, match="truncated"):
        read_vectors(tmp_path / "trunc.bin")
    (tmp_path / "ragged.txt").write_text("a 1 2\nb 1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="line 2"):
        read_vectors(tmp_path / "ragged.txt")


def test_embedding_matrix(embeddings_dir):
    itos = [td.PAD, td.UNK, "the", "zzzunseen", "of"]
    matrix, found = embedding_matrix(itos, embeddings_dir / "gensim_test_glove.txt", seed=1)
    glove = read_vectors(embeddings_dir / "gensim_test_glove.txt")
    assert matrix.shape == (5, 50) and found == 2
    assert np.allclose(matrix[0], 0)
    assert np.allclose(np.linalg.norm(matrix[1:], axis=1), 1, atol=1e-5)
    assert np.allclose(matrix[2], glove["the"] / np.linalg.norm(glove["the"]), atol=1e-6)
    again, _ = embedding_matrix(itos, embeddings_dir / "gensim_test_glove.txt", seed=1)
    assert np.array_equal(matrix, again)
    rand, found = embedding_matrix(itos, None, dim=16)
    assert rand.shape == (5, 16) and found == 0
