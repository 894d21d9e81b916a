"""Reports from synthetic scores.tsv files: numbers checked against hand computation, files written."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from ser.datadir import DataDir
from ser.folds import make_folds
from ser.report import ReportError, read_scores, write_comparison, write_report

approx = pytest.approx
CLASSES = ["ang", "hap", "neu"]

# fold A (7 utts): cm ang [1,1,0] hap [0,3,0] neu [1,0,1] -> recall .5, 1, .5; UAR 2/3; WA 5/7
FOLD_A = [
    ("A_1", "ang", "ang"), ("A_2", "ang", "hap"), ("A_3", "hap", "hap"), ("A_4", "hap", "hap"),
    ("A_5", "hap", "hap"), ("A_6", "neu", "neu"), ("A_7", "neu", "ang"),
]
# fold B (4 utts, no neu): cm ang [2,0,0] hap [0,1,1] -> recall 1, .5; UAR .75; WA .75
FOLD_B = [("B_1", "ang", "ang"), ("B_2", "ang", "ang"), ("B_3", "hap", "neu"), ("B_4", "hap", "hap")]


def write_scores(path: Path, rows, classes=CLASSES) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(["utt", "true", "pred", *classes])]
    for utt, true, pred in rows:
        post = ["0.8" if c == pred else f"{0.2 / (len(classes) - 1):.4f}" for c in classes]
        lines.append("\t".join([utt, true, pred, *post]))
    path.write_text("\n".join(lines) + "\n")


def make_exp(root: Path, name: str = "blstm_mfcc", folds=(("A", FOLD_A), ("B", FOLD_B))) -> Path:
    exp = root / name
    for fold, rows in folds:
        write_scores(exp / f"fold_{fold}" / "scores.tsv", rows)
    return exp


def test_report_numbers_match_hand_computation(tmp_path):
    exp = make_exp(tmp_path)
    res = write_report(
        exp,
        protocol={"normalisation": "per-speaker z-norm", "features": "mfcc_pitch28", "encoder": "blstm", "config": "conf/blstm.yaml"},
        commands=["ser make-folds data/x folds", "ser train ..."],
    )
    saved = json.loads((exp / "results.json").read_text())
    assert saved == json.loads(json.dumps(res, default=str))
    assert saved["classes"] == CLASSES and saved["num_folds"] == 2 and saved["num_utterances"] == 11
    fa, fb = saved["folds"]["A"], saved["folds"]["B"]
    assert fa["uar"] == approx(2 / 3) and fa["wa"] == approx(5 / 7)
    assert fa["confusion"] == [[1, 1, 0], [0, 3, 0], [1, 0, 1]]
    assert fb["uar"] == approx(0.75) and fb["wa"] == approx(0.75)
    assert fb["absent_classes"] == ["neu"] and fb["per_class"]["neu"]["recall"] is None
    assert fb["macro_f1"] == approx((1 + 2 / 3) / 2)
    assert saved["mean"]["uar"] == approx((2 / 3 + 3 / 4) / 2)
    assert saved["std"]["uar"] == approx(abs(2 / 3 - 3 / 4) / math.sqrt(2))  # sample std, ddof=1
    assert saved["mean"]["wa"] == approx((5 / 7 + 3 / 4) / 2)
    assert saved["std"]["wa"] == approx(abs(5 / 7 - 3 / 4) / math.sqrt(2))
    pooled = saved["pooled"]
    assert pooled["confusion"] == [[3, 1, 0], [0, 4, 1], [1, 0, 1]]
    assert pooled["uar"] == approx((3 / 4 + 4 / 5 + 1 / 2) / 3)
    assert pooled["wa"] == approx(8 / 11)
    assert pooled["macro_f1"] == approx((3 / 4 + 4 / 5 + 1 / 2) / 3)  # P = R per class here
    assert [pooled["per_class"][c]["recall"] for c in CLASSES] == approx([0.75, 0.8, 0.5])
    assert saved["per_class_recall_mean"] == {"ang": approx(0.75), "hap": approx(0.75), "neu": approx(0.5)}
    assert "fold B: no test utterances of class neu; its UAR averages the 2 classes present" in saved["notes"]
    assert saved["protocol"]["normalisation"] == "per-speaker z-norm"
    assert saved["protocol"]["classes"] == CLASSES
    assert saved["commands"] == ["ser make-folds data/x folds", "ser train ..."]

    md = (exp / "RESULTS.md").read_text()
    assert "fold B: no test utterances of class neu; its UAR averages the 2 classes present" in md
    assert "70.83 ± 5.89" in md  # UAR mean ± std in %
    assert "| pooled | 68.33 | 72.73 |" in md
    assert "| **ang** | 3 | 1 | 0 | 4 |" in md  # confusion text table
    assert "normalisation: per-speaker z-norm" in md and "encoder: blstm" in md
    assert "ser make-folds data/x folds" in md
    png = exp / "confusion.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_protocol_from_files_and_plan(tmp_path):
    # a plan with three speakers; only two folds scored -> incomplete note
    utt2spk = {u: u[0] for u, _, _ in FOLD_A + FOLD_B} | {"C_1": "C", "C_2": "C"}
    utt2emo = {u: t for u, t, _ in FOLD_A + FOLD_B} | {"C_1": "neu", "C_2": "ang"}
    data = DataDir(maps={"wav.scp": {u: "/x.wav" for u in utt2spk}, "utt2spk": utt2spk, "utt2emo": utt2emo})
    make_folds(data, "loso", tmp_path / "folds")
    exp = make_exp(tmp_path)
    (exp / "protocol.yaml").write_text(
        "features: emobase78\nencoder: gagru\nnormalisation: none\ncommands:\n  - bash run.sh --stage 3\n"
    )
    res = write_report(exp, protocol={"encoder": "gagru-small"}, folds_dir=tmp_path / "folds")
    proto = res["protocol"]
    assert proto["folds_kind"] == "loso" and "next speaker" in proto["validation_rule"]
    assert proto["features"] == "emobase78" and proto["encoder"] == "gagru-small"  # caller's dict wins
    assert res["commands"] == ["bash run.sh --stage 3"]
    assert res["folds"]["A"]["test_speakers"] == ["A"] and res["folds"]["A"]["valid_speakers"] == ["B"]
    assert any(n.startswith("INCOMPLETE: 1 fold(s) of the plan have no scores: C") for n in res["notes"])
    md = (exp / "RESULTS.md").read_text()
    assert "folds_kind: loso" in md and "INCOMPLETE" in md
    # without a normalisation statement the report says so
    res2 = write_report(make_exp(tmp_path, "other"))
    assert res2["protocol"]["normalisation"] == "NOT STATED"
    assert any("normalisation not stated" in n for n in res2["notes"])


def test_bad_scores_are_clear_errors(tmp_path):
    exp = tmp_path / "e"
    write_scores(exp / "fold_A" / "scores.tsv", [("A_1", "ang", "joy")])
    with pytest.raises(ReportError, match=r"fold_A/scores.tsv:2: pred label 'joy'"):
        write_report(exp)
    write_scores(exp / "fold_A" / "scores.tsv", FOLD_A)
    write_scores(exp / "fold_B" / "scores.tsv", [("A_1", "ang", "ang")])
    with pytest.raises(ReportError, match="also scored in fold A"):
        write_report(exp)
    write_scores(exp / "fold_B" / "scores.tsv", FOLD_B, classes=["ang", "hap", "neu", "sad"])
    with pytest.raises(ReportError, match="class columns"):
        write_report(exp)
    (exp / "fold_B" / "scores.tsv").write_text("utt\tlabel\tpred\tang\n")
    with pytest.raises(ReportError, match="header must start"):
        read_scores(exp / "fold_B" / "scores.tsv")
    (tmp_path / "empty_exp").mkdir()
    with pytest.raises(ReportError, match="no fold_"):
        write_report(tmp_path / "empty_exp")


def test_comparison_table(tmp_path):
    one = make_exp(tmp_path, "blstm_mfcc")
    two = make_exp(tmp_path, "gagru_emobase", folds=(("A", FOLD_A), ("B", [(u, t, t) for u, t, _ in FOLD_B])))
    write_report(one, protocol={"encoder": "blstm", "features": "mfcc_pitch28", "normalisation": "speaker"})
    write_report(two, protocol={"encoder": "gagru", "features": "emobase78", "normalisation": "speaker"})
    rows = write_comparison([one, two], tmp_path / "COMPARISON.md")
    assert [r["experiment"] for r in rows] == ["blstm_mfcc", "gagru_emobase"]
    assert rows[1]["uar_mean"] == approx((2 / 3 + 1) / 2)
    md = (tmp_path / "COMPARISON.md").read_text()
    assert "| blstm_mfcc | blstm | mfcc_pitch28 | speaker | 2 ? | 70.83 ± 5.89 |" in md
    assert "gagru_emobase" in md and "pooled UAR" in md
    with pytest.raises(ReportError, match="run `ser report"):
        write_comparison([tmp_path / "nothing"], tmp_path / "x.md")


def test_report_command(tmp_path, capsys):
    from ser.commands import report as cmd

    one, two = make_exp(tmp_path, "e1"), make_exp(tmp_path, "e2")
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    assert cmd.NAME == "report" and cmd.EXAMPLES
    args = parser.parse_args(
        [str(one), str(two), "--compare", str(tmp_path / "cmp.md"), "--protocol", "normalisation=global",
         "--command", "ser report e1 e2"]
    )
    assert cmd.run(args) == 0
    out = capsys.readouterr().out
    assert "UAR 70.83 ± 5.89" in out and "cmp.md" in out
    assert (one / "RESULTS.md").is_file() and (two / "confusion.png").is_file() and (tmp_path / "cmp.md").is_file()
    assert json.loads((two / "results.json").read_text())["protocol"]["normalisation"] == "global"
