"""`ser info`: the model card of the built-in model and of a bundle carrying a card; no torch for a torch-free model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ser.bundle import DEFAULT_MODEL, load_bundle, save_bundle
from ser.cli import main

REPO = Path(__file__).resolve().parents[1]
CARD = {
    "training_corpora": [{"name": "EmoDB", "licence": "free for research (TU Berlin)", "utterances": 535, "speakers": 10}],
    "measured": [{"protocol": "LOSO", "corpus": "emodb", "uar": 0.8364, "wa": 0.8586, "note": "per-speaker normalisation"},
                 {"protocol": "cross-corpus, alone", "corpus": "ravdess", "uar": 0.312, "wa": 0.35, "note": None}],
    "not_for": ["decisions about a person", "languages other than German without testing"],
    "calibration": {"method": "temperature scaling", "temperature": 1.7, "ece_before": 0.081, "ece_after": 0.023},
}


def info(capsys, args: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["info", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_info_of_the_builtin_model(capsys):
    """Without an argument: the shipped model, its classes, normalisation, training speakers, LOSO results, card."""
    rc, out, _ = info(capsys, [])
    assert rc == 0
    meta = load_bundle(DEFAULT_MODEL).meta
    mean, std = meta["results"]["mean"], meta["results"]["std"]
    for text in (f"{DEFAULT_MODEL} ({DEFAULT_MODEL.stat().st_size:,} bytes, format 2",
                 "encoder       logreg C=0.01 balance_corpora=True class_weight=balanced",
                 "features      egemaps88_level (opensmile, utterance level, 88-d, 16000 Hz)",
                 "classes       6: anger, disgust, fear, happiness, neutral, sadness",
                 "output        posteriors: class probabilities", "normalisation speaker: per-speaker z-normalisation",
                 "trained on    all speakers; 34 speakers: emodb.03 emodb.08",
                 "cross-validated results (34 folds, 1702 utterances",
                 "training corpora", "CC BY-NC-SA 4.0", "calibration   temperature",
                 f"UAR {100 * mean['uar']:.1f} ± {100 * std['uar']:.1f}%", f"scikit-learn {meta['versions']['scikit-learn']}"):
        assert text in out, text
    assert "train config" not in out  # a logistic regression has no epochs
    rc, out, _ = info(capsys, ["--json"])
    assert rc == 0 and json.loads(out) == meta


def test_info_prints_the_card_without_torch(tmp_path):
    """A bundle whose metadata carries a card: every section printed; an SVM's card never imports torch."""
    bundle = load_bundle(DEFAULT_MODEL)
    meta = {**bundle.meta, "card": CARD, "output_kind": "vote shares"}
    save_bundle(tmp_path / "card.ser", meta, bundle.model_state, bundle.norm_state)
    code = f"""
import sys
from ser.cli import main
assert main(["info", {str(tmp_path / 'card.ser')!r}]) == 0
print("torch" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[-1] == "False"
    out = "\n".join(lines)
    assert "output        vote shares: scores are not probabilities" in out
    table = lines[lines.index("training corpora") + 1 : lines.index("measured")]
    assert table[0].split() == ["name", "licence", "utterances", "speakers"]
    assert table[1].split()[0] == "EmoDB" and table[1].split()[-2:] == ["535", "10"]
    measured = lines[lines.index("measured") + 1 : lines.index("not for")]
    assert measured[0].split() == ["protocol", "corpus", "UAR", "WA", "note"] and len(measured) == 3
    assert "emodb" in measured[1] and "83.6%" in measured[1] and "85.9%" in measured[1]
    assert "ravdess" in measured[2] and "31.2%" in measured[2] and measured[2].rstrip().endswith("-")
    assert "  - decisions about a person" in out
    assert "calibration   temperature scaling, temperature 1.7; ECE 8.1% -> 2.3%" in out


@pytest.mark.parametrize("card, key", [({"measured": "high"}, "measured"), ({"not_for": "children"}, "not_for"),
                                       ({"calibration": [1.7]}, "calibration"), (["x"], "card")])
def test_malformed_card_is_refused(tmp_path, capsys, card, key):
    bundle = load_bundle(DEFAULT_MODEL)
    save_bundle(tmp_path / "bad.ser", {**bundle.meta, "card": card}, bundle.model_state, bundle.norm_state)
    rc, out, err = info(capsys, [str(tmp_path / "bad.ser")])
    assert rc == 2 and out == "" and str(tmp_path / "bad.ser") in err and f"'{key}'" in err


def test_info_of_a_missing_or_damaged_file(tmp_path, capsys):
    rc, _, err = info(capsys, [str(tmp_path / "none.ser")])
    assert rc == 2 and "model file not found" in err
    (tmp_path / "bad.ser").write_bytes(DEFAULT_MODEL.read_bytes()[:1000])
    rc, _, err = info(capsys, [str(tmp_path / "bad.ser")])
    assert rc == 2 and str(tmp_path / "bad.ser") in err


def test_a_lone_clip_is_told_what_grouping_was_worth(emodb_dir, capsys):
    """`ser score` of one clip with the built-in model: the note quotes the card's UAR for clips alone, a corpus
    pooled as one source and clips grouped by speaker (the card's own figures, whatever they are), and a card
    without an alone and grouped pair gives no numbers."""
    from ser.model_card import scoring_mode_uar

    meta = load_bundle(DEFAULT_MODEL).meta
    alone = [e["uar"] for e in meta["card"]["measured"] if "alone" in e["protocol"]]
    corpora = {e["corpus"] for e in meta["card"]["measured"] if "alone" in e["protocol"]}
    source = [e["uar"] for e in meta["card"]["measured"] if "one source" in e["protocol"] and e["corpus"] in corpora]
    grouped = [e["uar"] for e in meta["card"]["measured"] if "grouped" in e["protocol"] and e["corpus"] in corpora]
    assert scoring_mode_uar(meta) == {"alone": (min(alone), max(alone)), "source": (min(source), max(source)),
                                      "grouped": (min(grouped), max(grouped))}
    # what the note is for: pooling a source, and more so grouping by speaker, is worth it on this model's figures
    assert max(alone) < max(source) < max(grouped) and min(alone) < min(source) < min(grouped)
    assert main(["score", str(next(emodb_dir.glob("03a01*.wav")))]) == 0
    err = capsys.readouterr().err
    assert f"{100 * min(alone):.0f}-{100 * max(alone):.0f}% for clips scored alone" in err
    assert f"{100 * min(source):.0f}-{100 * max(source):.0f}% for a corpus pooled as one source" in err
    assert "--speaker SOURCE" in err
    assert scoring_mode_uar({"card": {"measured": [{"corpus": "x", "protocol": "LOSO", "uar": 0.5}]}}) is None
    no_source = {"card": {"measured": [{"corpus": "x", "protocol": "each clip alone", "uar": 0.3},
                                       {"corpus": "x", "protocol": "grouped by speaker", "uar": 0.5}]}}
    assert scoring_mode_uar(no_source) == {"alone": (0.3, 0.3), "grouped": (0.5, 0.5)}
    assert scoring_mode_uar({}) is None
