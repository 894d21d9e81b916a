"""Metrics of `ser score` on labelled data the model never saw: the built-in EmoDB model on RAVDESS clips
(label map, --alone, what is left out), and the arg-max over the shared classes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import require_data
from ser.cli import main
from ser.score import Clip, ClipResult, ScoreRun
from ser.score_metrics import labelled_score, shared_posteriors

RAVDESS_TO_MODEL = {"neutral": "neutral", "calm": "neutral", "happy": "happiness", "sad": "sadness", "angry": "anger",
                    "fearful": "fear", "disgust": "disgust", "surprised": "surprise"}


def test_argmax_over_shared_classes_only():
    """A clip whose best class is one the data lacks gets its best shared class; renormalised scores sum to 1."""
    classes = ["anger", "boredom", "neutral"]
    post = np.array([[0.2, 0.5, 0.3], [0.1, 0.6, 0.3], [0.7, 0.2, 0.1]])
    refs = ["neutral", "anger", "anger"]
    run = ScoreRun(classes, [ClipResult(Clip(f"c{i}", f"c{i}.wav", reference=r), p, classes[int(np.argmax(p))])
                             for i, (r, p) in enumerate(zip(refs, post))])
    np.testing.assert_allclose(shared_posteriors(post[0], [0, 2]), [0.4, 0.6])
    scored = labelled_score(run)
    assert scored.shared == ["anger", "neutral"] and scored.chance == 0.5
    # restricted: neutral (right), neutral (wrong), anger (right); unrestricted: boredom, boredom, anger
    assert scored.metrics.confusion.tolist() == [[1, 1], [0, 1]]
    assert scored.metrics.wa == pytest.approx(2 / 3) and scored.metrics.uar == pytest.approx(0.75)
    assert scored.unrestricted.wa == pytest.approx(1 / 3) and scored.unrestricted.uar == pytest.approx(0.25)
    assert "2 clips got a class the data lacks (boredom 2)" in scored.format()


@pytest.fixture(scope="module")
def ravdess_data(tmp_path_factory) -> Path:
    """Two RAVDESS actors, one clip of each emotion code each (16 clips; Actor_01's calm clip is stereo)."""
    from ser.corpora import prepare

    corpus = require_data("ravdess")
    root = tmp_path_factory.mktemp("ravdess")
    full = prepare("ravdess", corpus, root / "all")
    keep, seen = [], set()
    for utt in full.utts:
        spk, emotion = full.utt2spk[utt], full.utt2emo[utt]
        if spk in ("Actor_01", "Actor_02") and (spk, emotion) not in seen and \
                (emotion != "calm" or spk != "Actor_01" or utt.endswith("03-01-02-01-01-02-01")):
            keep.append(utt)
            seen.add((spk, emotion))
    small = full.subset_utts(keep)
    assert len(keep) == 16 and sum(sf.info(small.wav_scp[u]).channels == 2 for u in keep) == 1
    small.write(root / "two")
    return root / "two"


def test_builtin_model_on_ravdess_alone(ravdess_data, tmp_path, capsys):
    """The cross-corpus call: every clip alone, labels mapped by the shipped RAVDESS map, surprise left out."""
    capsys.readouterr()
    rc = main(["score", "--json", "--label-map", "ravdess", "--alone", "--metrics", str(tmp_path / "m.json"), str(ravdess_data)])
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert rc == 0 and len(rows) == 16 and all(r["error"] is None for r in rows)
    assert {r["normalization"] for r in rows} == {"training-speakers"} and {r["speaker"] for r in rows} == {None}
    given = (ravdess_data / "utt2emo").read_text().split()[1::2]
    assert [r["reference"] for r in rows] == [RAVDESS_TO_MODEL[g] for g in given]
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["alone"] is True and metrics["normalization"] == "speaker"
    assert metrics["not_counted"]["not_model_classes"] == {"surprise": 2}
    assert metrics["shared_classes"] == ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    assert metrics["chance_uar"] == pytest.approx(1 / 6)
    counted = [r for r in rows if r["reference"] != "surprise"]
    pred = [max(metrics["shared_classes"], key=lambda c: r["posteriors"][c]) for r in counted]
    right = Counter(r["reference"] for r, p in zip(counted, pred) if p == r["reference"])
    support = Counter(r["reference"] for r in counted)
    assert metrics["shared"]["n"] == 14 and support["neutral"] == 4  # neutral and calm, two actors
    assert metrics["shared"]["accuracy"] == pytest.approx(sum(right.values()) / 14)
    assert metrics["shared"]["uar"] == pytest.approx(np.mean([right[c] / support[c] for c in support]))
    assert "2 clips labelled surprise (surprised in the data) are not classes of the model: not counted" in out.err
    assert "calm -> neutral" in out.err and "(chance 16.7%)" in out.err
