"""Text trainer and verbs end to end on small real subsets: prepare-text, text-train, text-report, converse."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
import torch

from ser.cli import main
from ser.text.data import read_conversation_json
from ser.report import seed_table as table
from ser.trainer import sqrt_min_frequency_weights as class_weights

torch.set_num_threads(1)

SMALL = ["model_conf.hidden=12", "model_conf.embed_dim=10", "train.max_epochs=2", "train.max_train_dialogues=3",
         "train.max_eval_dialogues=2", "--threads", "1"]  # fmt: skip


def test_class_weights():
    w = class_weights([0, 0, 0, 0, 1, 2, 2], 4)
    assert w.tolist() == pytest.approx([0.5, 1.0, (1 / 2) ** 0.5, 1.0])


@pytest.fixture(scope="module")
def trained(iemocap_text_dir, embeddings_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    data, exp = root / "data", root / "exp"
    assert main(["prepare-text", "conv-json", str(iemocap_text_dir), str(data)]) == 0
    args = ["text-train", str(data), str(exp), "--seeds", "0,1", "model_conf.window=5", "train.class_weights=true",
            f"train.embeddings={embeddings_dir / 'gensim_test_word2vec.txt'}"] + SMALL  # fmt: skip
    assert main(args) == 0
    return data, exp


def test_prepare_text_writes_splits(trained):
    data, _ = trained
    assert [len(read_conversation_json(data / f"{s}.json")) for s in ("train", "dev", "test")] == [108, 12, 31]
    assert (data / "classes.txt").read_text().split() == ["happy", "sad", "neutral", "angry", "excited", "frustrated"]


def test_text_train_outputs(trained, capsys):
    data, exp = trained
    for seed in (0, 1):
        m = json.loads((exp / f"seed_{seed}" / "metrics.json").read_text())
        assert m["epochs"] == 2 and m["model_config"]["embed_dim"] == 50  # the embedding file's size
        assert m["test"]["n"] == sum(len(d) for d in read_conversation_json(data / "test.json")[:2])
        assert (exp / f"seed_{seed}" / "model.pt").is_file()
    results = json.loads((exp / "results.json").read_text())
    assert results["seeds"] == [0, 1] and results["tag"] == "bif-agru-bigru"
    text = (exp / "RESULTS.md").read_text()
    assert "| Model | happy Acc | happy F1 |" in text and "mF1" in text and "±" in text and "ser text-train" in text
    # a rerun keeps finished seeds
    before = (exp / "seed_0" / "model.pt").stat().st_mtime_ns
    same = ["model_conf.window=5", "train.class_weights=true", f"train.embeddings={json.loads((exp / 'seed_0' / 'metrics.json').read_text())['train_config']['embeddings']}"]
    assert main(["text-train", str(data), str(exp), "--seeds", "0", *same] + SMALL) == 0
    assert (exp / "seed_0" / "model.pt").stat().st_mtime_ns == before
    # another config into the same folder is refused (its seeds would not belong to one experiment)
    assert main(["text-train", str(data), str(exp), "--seeds", "2"] + SMALL) == 2
    capsys.readouterr()
    assert main(["text-report", str(exp), "--compare", str(exp / "cmp.md")]) == 0
    assert "| bif-agru-bigru |" in (exp / "cmp.md").read_text()


def test_table_layout():
    s = {"tag": "x", "classes": ["a", "b"], "per_class": {"a": {"acc": [0.5, 0.1], "f1": [0.25, float("nan")]},
         "b": {"acc": [1.0, 0.0], "f1": [0.75, 0.0]}}, "acc": [0.6, 0.01], "weighted_f1": [0.55, 0.02],
         "macro_f1": [0.5, 0.03]}  # fmt: skip
    lines = table([s]).splitlines()
    assert lines[0] == "| Model | a Acc | a F1 | b Acc | b F1 | Avg. Acc | Avg. F1 | mF1 |"
    assert lines[2] == "| x | 50.0 ± 10.0 | 25.0 | 100.0 ± 0.0 | 75.0 ± 0.0 | 60.0 ± 1.0 | 55.0 ± 2.0 | 50.0 ± 3.0 |"


def test_converse_streams_like_batch(trained, capsys, monkeypatch):
    data, exp = trained
    model = exp / "seed_0" / "model.pt"
    # streaming a conversation file gives the trainer's batch posteriors (predictions.tsv, first 2 test dialogues)
    dialogues = read_conversation_json(data / "test.json")[:2]
    sub = exp / "sub.json"
    from ser.text.data import write_conversation_json

    write_conversation_json(sub, dialogues)
    capsys.readouterr()
    assert main(["converse", str(model), str(sub), "--json"]) == 0
    streamed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rows = (exp / "seed_0" / "predictions.tsv").read_text().splitlines()
    header, rows = rows[0].split("\t"), [r.split("\t") for r in rows[1:]]
    assert len(streamed) == len(rows) == sum(len(d) for d in dialogues)
    classes = header[5:]
    for s, r in zip(streamed, rows):
        assert s["emotion"] == r[4] and s["speaker"] == r[2]
        assert np.allclose([s["posteriors"][c] for c in classes], [float(x) for x in r[5:]], atol=2e-4)
    assert [s["turn"] for s in streamed][: len(dialogues[0]) + 1] == list(range(len(dialogues[0]))) + [0]
    # stdin: speaker<TAB>text lines, a blank line resets the conversation
    lines = "".join(f"{t.speaker}\t{t.text}\n" for t in dialogues[0].turns[:3]) + "\n" + f"X\t{dialogues[0].turns[0].text}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert main(["converse", str(model)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("#turn\tspeaker\temotion\t")
    first, again = out[1].split("\t"), out[4].split("\t")
    assert first[0] == "0" and again[0] == "0" and again[1] == "X" and first[2:] == again[2:]
    assert [float(x) for x in first[3:]] == pytest.approx([streamed[0]["posteriors"][c] for c in classes], abs=2e-4)
    second = out[2].split("\t")
    assert [float(x) for x in second[3:]] == pytest.approx([streamed[1]["posteriors"][c] for c in classes], abs=2e-4)
    assert abs(sum(float(x) for x in first[3:]) - 1) < 1e-3
    # the same lines from a file
    turns_file = exp / "turns.tsv"
    turns_file.write_text(lines, encoding="utf-8")
    assert main(["converse", str(model), str(turns_file)]) == 0
    assert capsys.readouterr().out.splitlines() == out


def test_converse_bad_model(tmp_path, capsys):
    (tmp_path / "m.pt").write_bytes(b"junk")
    assert main(["converse", str(tmp_path / "m.pt")]) == 2
    assert "not a ser text model" in capsys.readouterr().err
    for args in ([], [str(tmp_path / "missing.pt")]):  # no model: how to train one, not a usage error
        assert main(["converse", *args]) == 2
        err = capsys.readouterr().err
        assert "ser text-train --config recipes/iemocap_text/conf/" in err and "usage:" not in err


def test_prepare_text_iemocap_release(emodb_dir, tmp_path, capsys):
    from corpus_builders import build_mini_iemocap

    release = build_mini_iemocap(tmp_path / "corpus", sorted(emodb_dir.glob("*.wav"))[:1], sessions=5,
                                 dialogs_per_session=2, turns_per_speaker=4)  # fmt: skip
    assert main(["prepare-text", "iemocap-text", str(release.parent), str(tmp_path / "out"), "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert "test.json: 2 dialogues, 12 turns" in captured.out  # 4 turns per speaker, one xxx each dropped
    assert "skipped 20 transcription lines" in captured.err  # 2 unparsable lines per dialogue
    test = read_conversation_json(tmp_path / "out" / "test.json")
    assert {d.id[:5] for d in test} == {"Ses05"} and test[0].turns[1].speaker == "Ses05M"


def test_prepare_text_bad_source(tmp_path, capsys):
    assert main(["prepare-text", "meld", str(tmp_path), str(tmp_path / "out")]) == 2
    assert "no such MELD CSV file" in capsys.readouterr().err


def test_converse_answers_each_line_before_the_next(trained, tmp_path):
    import os
    import subprocess
    import threading

    _, exp = trained
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "ser", "converse", str(exp / "seed_0" / "model.pt")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    timer = threading.Timer(60, proc.kill)
    timer.start()
    try:
        assert proc.stdout.readline().startswith("#turn")
        for i, line in enumerate(["A\tHi there.", "B\tWhat do you want?", "A\tNothing, forget it."]):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            answer = proc.stdout.readline().split("\t")  # arrives while stdin is still open
            assert answer[0] == str(i) and answer[1] == line.split("\t")[0] and len(answer) == 3 + 6
        proc.stdin.close()
        assert proc.wait() == 0
    finally:
        timer.cancel()
        proc.kill()


def test_killed_seed_resumes_exactly(iemocap_text_dir, tmp_path):
    from ser.text.data import read_conversation_dir
    from ser.text.model import TextModelConfig
    from ser.text.train import TextTrainConfig, train_seed

    splits = read_conversation_dir(iemocap_text_dir)
    classes = ["happy", "sad", "neutral", "angry", "excited", "frustrated"]
    mc = TextModelConfig(hidden=8, embed_dim=8, window=4, memory="unif", summary="biagru")
    tc = TextTrainConfig(max_epochs=3, max_train_dialogues=3, max_eval_dialogues=1, batch_size=2)
    whole = train_seed(splits, classes, mc, tc, tmp_path / "whole", seed=3, log=lambda m: None)

    def kill_after_epoch_2(message):
        if message.startswith("epoch   2 "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_seed(splits, classes, mc, tc, tmp_path / "killed", seed=3, log=kill_after_epoch_2)
    assert (tmp_path / "killed" / "checkpoint.pt").is_file() and not (tmp_path / "killed" / ".done").exists()
    messages = []
    resumed = train_seed(splits, classes, mc, tc, tmp_path / "killed", seed=3, log=messages.append)
    assert messages[1].startswith("resuming from") and messages[2].startswith("epoch   3 ")
    assert resumed["test"] == whole["test"] and resumed["best_epoch"] == whole["best_epoch"]
    assert (tmp_path / "killed" / "predictions.tsv").read_text() == (tmp_path / "whole" / "predictions.tsv").read_text()
    log = (tmp_path / "killed" / "train.log").read_text().splitlines()
    assert [ln.split()[1] for ln in log if ln.startswith("epoch")] == ["1", "2", "3"]
    assert not (tmp_path / "killed" / "checkpoint.pt").exists()
