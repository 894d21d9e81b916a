"""Reports from synthetic scores.tsv files: numbers checked against hand computation, files written."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from ser.datadir import DataDir
from ser.folds import make_folds
from ser.metrics import Metrics
from ser.report import (
    ReportError,
    bootstrap_block,
    read_experiment_scores,
    read_scores,
    read_speakers,
    write_comparison,
    write_report,
)

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
        protocol={"normalization": "per-speaker z-norm", "features": "mfcc_pitch28", "encoder": "blstm", "config": "conf/blstm.yaml"},
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
    assert saved["protocol"]["normalization"] == "per-speaker z-norm"
    assert saved["protocol"]["classes"] == CLASSES
    assert saved["commands"] == ["ser make-folds data/x folds", "ser train ..."]

    md = (exp / "RESULTS.md").read_text()
    assert "fold B: no test utterances of class neu; its UAR averages the 2 classes present" in md
    assert "70.83 ± 5.89" in md  # UAR mean ± std in %
    assert "| pooled | 68.33 | 72.73 |" in md
    assert "| **ang** | 3 | 1 | 0 | 4 |" in md  # confusion text table
    assert "normalization: per-speaker z-norm" in md and "encoder: blstm" in md
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
    assert proto["normalization"] == "none" and "normalisation" not in proto  # a ser 0.1 file's spelling is read
    assert res["commands"] == ["bash run.sh --stage 3"]
    assert res["folds"]["A"]["test_speakers"] == ["A"] and res["folds"]["A"]["valid_speakers"] == ["B"]
    assert any(n.startswith("INCOMPLETE: 1 fold(s) of the plan have no scores: C") for n in res["notes"])
    md = (exp / "RESULTS.md").read_text()
    assert "folds_kind: loso" in md and "INCOMPLETE" in md
    # without a normalisation statement the report says so
    res2 = write_report(make_exp(tmp_path, "other"))
    assert res2["protocol"]["normalization"] == "NOT STATED"
    assert any("normalization not stated" in n for n in res2["notes"])


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
    write_report(one, protocol={"encoder": "blstm", "features": "mfcc_pitch28", "normalization": "speaker"})
    write_report(two, protocol={"encoder": "gagru", "features": "emobase78", "normalization": "speaker"})
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
        [str(one), str(two), "--compare", str(tmp_path / "cmp.md"), "--protocol", "normalization=global",
         "--command", "ser report e1 e2"]
    )
    assert cmd.run(args) == 0
    out = capsys.readouterr().out
    assert "UAR 70.83 ± 5.89" in out and "cmp.md" in out
    assert (one / "RESULTS.md").is_file() and (two / "confusion.png").is_file() and (tmp_path / "cmp.md").is_file()
    assert json.loads((two / "results.json").read_text())["protocol"]["normalization"] == "global"


# --- intervals and significance ----------------------------------------------------------------------
# three speakers: fold A holds two (A_1..A_3 -> "Ax", A_4..A_7 -> "Ay"), fold B one
UTT2SPK = {u: ("Ax" if u in ("A_1", "A_2", "A_3") else "Ay") for u, _, _ in FOLD_A} | {u: "B" for u, _, _ in FOLD_B}


def write_feat_dir(root: Path, utt2spk=UTT2SPK) -> Path:
    feat = root / "feats"
    feat.mkdir(parents=True, exist_ok=True)
    (feat / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(utt2spk.items())))
    return feat


def test_report_bootstrap_ci_over_speakers_from_feat_dir(tmp_path):
    from ser.significance import speaker_bootstrap

    exp = make_exp(tmp_path)
    feat = write_feat_dir(tmp_path)
    (exp / "protocol.yaml").write_text(f"feat_dir: {feat}\nnormalization: none\n")
    res = write_report(exp, n_boot=300, seed=5)
    ci = res["bootstrap_ci"]
    assert ci["unit"] == "speaker" and ci["n_clusters"] == 3 and ci["speakers_from"] == str(feat / "utt2spk")
    assert ci["n_boot"] == 300 and ci["seed"] == 5 and ci["level"] == 0.95 and ci["fold_clusters_because"] is None
    assert "speakers drawn with replacement" in ci["method"]
    pooled = ci["pooled"]
    assert pooled["uar"]["estimate"] == approx(res["pooled"]["uar"]) and pooled["wa"]["estimate"] == approx(8 / 11)
    for k in ("uar", "wa"):
        assert pooled[k]["low"] <= pooled[k]["estimate"] <= pooled[k]["high"]
        assert pooled[k]["low"] < pooled[k]["high"]
    # the report's interval is the library's speaker bootstrap of the pooled utterances
    rows = FOLD_A + FOLD_B
    direct = speaker_bootstrap([t for _, t, _ in rows], [p for _, _, p in rows], [UTT2SPK[u] for u, _, _ in rows],
                               CLASSES, n_boot=300, seed=5)
    assert pooled["uar"]["low"] == approx(direct.intervals["uar"].low)
    assert pooled["wa"]["high"] == approx(direct.intervals["wa"].high)
    # mean over the two folds: its resampled means lie between the folds' values
    mean_uar = ci["mean_over_folds"]["uar"]
    assert mean_uar["estimate"] == approx((2 / 3 + 3 / 4) / 2)
    assert 2 / 3 - 1e-9 <= mean_uar["low"] <= mean_uar["high"] <= 3 / 4 + 1e-9
    saved = json.loads((exp / "results.json").read_text())
    assert saved["bootstrap_ci"] == json.loads(json.dumps(ci))
    assert write_report(exp, n_boot=300, seed=5)["bootstrap_ci"] == ci  # same seed, same intervals
    md = (exp / "RESULTS.md").read_text()
    lo, hi = 100 * pooled["uar"]["low"], 100 * pooled["uar"]["high"]
    assert f"| pooled, 95% CI (speaker bootstrap) | [{lo:.2f}, {hi:.2f}] |" in md
    assert "| pooled | 68.33 | 72.73 |" in md  # the existing rows stay as they were
    assert f"B=300, seed 5, over 3 speakers from {feat / 'utt2spk'}" in md
    assert "mean over folds, 95% CI (fold bootstrap)" in md


def test_report_falls_back_to_folds_as_clusters_and_says_why(tmp_path):
    res = write_report(make_exp(tmp_path, "no_feat_dir"), n_boot=50)
    ci = res["bootstrap_ci"]
    assert ci["unit"] == "fold" and ci["n_clusters"] == 2 and ci["speakers_from"] is None
    assert ci["fold_clusters_because"] == "the protocol names no feat_dir"
    assert any(n.startswith("speakers unknown (the protocol names no feat_dir)") for n in res["notes"])
    md = (tmp_path / "no_feat_dir" / "RESULTS.md").read_text()
    assert "2 folds as clusters, because the protocol names no feat_dir" in md
    # a utt2spk that misses a scored utterance is not used either; an unreadable one is named
    classes, folds = read_experiment_scores(tmp_path / "no_feat_dir")
    per_fold = {n: Metrics.from_labels(t, p, classes) for n, (_, t, p) in folds.items()}
    partial = {u: s for u, s in UTT2SPK.items() if u != "B_4"}
    ci = bootstrap_block(classes, folds, per_fold, partial, "feats/utt2spk", n_boot=20)
    assert ci["unit"] == "fold" and ci["fold_clusters_because"] == (
        "feats/utt2spk has no speaker for 1 scored utterance(s), e.g. B_4")
    speakers, why = read_speakers(tmp_path, {"feat_dir": str(tmp_path / "gone")})
    assert speakers is None and why.startswith(f"{tmp_path / 'gone' / 'utt2spk'} is not readable")
    # one fold: an interval over one cluster, no mean-over-folds interval
    one = write_report(make_exp(tmp_path, "one", folds=(("A", FOLD_A),)), n_boot=20)["bootstrap_ci"]
    assert one["n_clusters"] == 1 and one["mean_over_folds"] is None
    assert one["pooled"]["uar"]["low"] == approx(2 / 3) == one["pooled"]["uar"]["high"]


def test_comparison_significance_against_the_reference(tmp_path):
    feat = write_feat_dir(tmp_path)
    one = make_exp(tmp_path, "blstm_mfcc")
    perfect = [(u, t, t) for u, t, _ in FOLD_A], [(u, t, t) for u, t, _ in FOLD_B]
    two = make_exp(tmp_path, "gagru_emobase", folds=(("A", perfect[0]), ("B", perfect[1])))
    fewer = make_exp(tmp_path, "only_a", folds=(("A", FOLD_A),))
    for exp in (one, two, fewer):
        write_report(exp, protocol={"feat_dir": str(feat), "normalization": "speaker"}, n_boot=100)
    rows = write_comparison([one, two, fewer], tmp_path / "CMP.md", n_perm=200, seed=3)
    assert [r["is_reference"] for r in rows] == [True, False, False] and rows[0]["significance"] is None
    sig = rows[1]["significance"]
    assert sig["comparable"] and sig["n_utterances"] == 11
    assert sig["uar_difference"] == approx(1 - (3 / 4 + 4 / 5 + 1 / 2) / 3)
    assert sig["wa_difference"] == approx(3 / 11)
    # the reference gets A_2, A_7 and B_3 wrong, the other none: exact McNemar 2 * (1/2)^3
    assert sig["mcnemar"]["p_value"] == approx(0.25) and sig["mcnemar"]["only_b_correct"] == 3
    perm = sig["permutation"]
    assert perm["unit"] == "speaker" and perm["n_clusters"] == 3 and perm["n_perm"] == 200 and perm["seed"] == 3
    assert perm["speakers_from"] == str(feat / "utt2spk")
    assert 1 / 201 <= perm["p_value"] <= 1.0
    assert rows[1]["pooled_uar_ci"]["low"] <= rows[1]["pooled_uar"] <= rows[1]["pooled_uar_ci"]["high"]
    assert not rows[2]["significance"]["comparable"]
    assert "not scored on the same utterances: 4 only in blstm_mfcc (e.g. B_1)" in rows[2]["significance"]["reason"]
    md = (tmp_path / "CMP.md").read_text()
    assert "pooled UAR 95% CI |" in md and "## Significance" in md and "**blstm_mfcc**" in md
    p_perm = f"{perm['p_value']:.4f}"
    assert f"| gagru_emobase | 11 | +31.67 | +27.27 | 0.2500 | {p_perm} | speaker (3) |" in md
    assert "| only_a | not comparable: not scored on the same utterances" in md


def test_comparison_of_a_system_with_itself_and_with_other_labels(tmp_path):
    one = make_exp(tmp_path, "blstm_mfcc")
    relabelled = make_exp(tmp_path, "relabelled", folds=(("A", FOLD_A), ("B", [("B_1", "hap", "ang"), *FOLD_B[1:]])))
    for exp in (one, relabelled):
        write_report(exp, n_boot=20)
    rows = write_comparison([one, one, relabelled], tmp_path / "CMP.md", n_perm=50)
    same = rows[1]["significance"]
    assert same["uar_difference"] == 0.0 and same["mcnemar"]["p_value"] == 1.0 and same["permutation"]["p_value"] == 1.0
    assert not rows[2]["significance"]["comparable"]
    assert "different reference labels for 1 utterance(s), e.g. B_1" in rows[2]["significance"]["reason"]


def test_comparison_reference_choice_and_unknown_speakers(tmp_path):
    one = make_exp(tmp_path, "blstm_mfcc")
    two = make_exp(tmp_path, "gagru_emobase", folds=(("A", FOLD_A), ("B", [(u, t, t) for u, t, _ in FOLD_B])))
    for exp in (one, two):
        write_report(exp, n_boot=20)
    rows = write_comparison([one, two], tmp_path / "CMP.md", reference="gagru_emobase", n_perm=50)
    assert [r["is_reference"] for r in rows] == [False, True]
    sig = rows[0]["significance"]
    assert sig["uar_difference"] == approx((3 / 4 + 4 / 5 + 1 / 2) / 3 - (3 / 4 + 1 + 1 / 2) / 3)
    assert sig["permutation"]["unit"] == "utterance" and sig["permutation"]["n_clusters"] == 11
    assert sig["permutation"]["speakers_from"] is None
    assert "utterance (11)" in (tmp_path / "CMP.md").read_text()
    assert write_comparison([one, two], tmp_path / "CMP.md", reference=str(two))[1]["is_reference"]
    with pytest.raises(ReportError, match="none of the compared experiments"):
        write_comparison([one, two], tmp_path / "CMP.md", reference="svm")
    twin = make_exp(tmp_path / "other", "blstm_mfcc")
    write_report(twin, n_boot=20)
    with pytest.raises(ReportError, match="names 2 experiments"):
        write_comparison([one, twin], tmp_path / "CMP.md", reference="blstm_mfcc")
    # one name from two places (exp/loso/x and exp/loso_v2/x): each row says its folder; either reference works
    rows = write_comparison([one, twin], tmp_path / "CMP.md", reference=str(twin), n_perm=20)
    assert [r["experiment"] for r in rows] == [f"{tmp_path.name}/blstm_mfcc", "other/blstm_mfcc"]
    assert rows[1]["is_reference"] and "**other/blstm_mfcc**" in (tmp_path / "CMP.md").read_text()
    assert write_comparison([one, twin], tmp_path / "CMP.md", reference="other/blstm_mfcc")[1]["is_reference"]


def test_report_command_statistics_options(tmp_path, capsys):
    from ser.commands import report as cmd
    from ser import significance

    assert (cmd.DEFAULT_N_BOOT, cmd.DEFAULT_N_PERM, cmd.DEFAULT_SEED) == (
        significance.DEFAULT_N_BOOT, significance.DEFAULT_N_PERM, significance.DEFAULT_SEED)
    one, two = make_exp(tmp_path, "e1"), make_exp(tmp_path, "e2")
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    args = parser.parse_args(
        [str(one), str(two), "--compare", str(tmp_path / "cmp.md"), "--reference", "e2", "--n-boot", "40",
         "--n-perm", "30", "--seed", "9"]
    )
    assert cmd.run(args) == 0
    out = capsys.readouterr().out
    assert "[95% CI " in out and "significance against e2" in out
    ci = json.loads((one / "results.json").read_text())["bootstrap_ci"]
    assert ci["n_boot"] == 40 and ci["seed"] == 9
    assert "30 random swaps (seed 9)" in (tmp_path / "cmp.md").read_text()
    with pytest.raises(ReportError, match="add --compare"):
        cmd.run(parser.parse_args([str(one), "--reference", "e1"]))
    with pytest.raises(SystemExit):
        parser.parse_args([str(one), "--n-boot", "0"])


# --- per corpus (experiments on a combined data dir) -------------------------------------------------
# corpora a (speakers a.1, a.2, a.3) and b (b.1); folds a.1 and a.2 test one corpus each, fold "mix" both
FOLD_A1 = [("a.1_1", "ang", "ang"), ("a.1_2", "ang", "hap"), ("a.1_3", "hap", "hap"), ("a.1_4", "neu", "neu")]
FOLD_A2 = [("a.2_1", "ang", "ang"), ("a.2_2", "hap", "neu"), ("a.2_3", "neu", "neu"), ("a.2_4", "neu", "hap")]
FOLD_MIX = [("a.3_1", "hap", "hap"), ("a.3_2", "ang", "neu"),
            ("b.1_1", "ang", "ang"), ("b.1_2", "hap", "ang"), ("b.1_3", "neu", "neu"), ("b.1_4", "neu", "hap")]
CORPUS_UTTS = [u for u, _, _ in FOLD_A1 + FOLD_A2 + FOLD_MIX]


def write_corpus_feat_dir(root: Path, utts=CORPUS_UTTS) -> Path:
    """A feat dir stand-in: utt2spk (the id before '_') and utt2corpus (the id before '.')."""
    feat = write_feat_dir(root, {u: u.split("_")[0] for u in CORPUS_UTTS})
    (feat / "utt2corpus").write_text("".join(f"{u} {u.split('.')[0]}\n" for u in sorted(utts)))
    return feat


def test_report_per_corpus_matches_hand_computation(tmp_path):
    feat = write_corpus_feat_dir(tmp_path)
    exp = make_exp(tmp_path, "combined", folds=(("a.1", FOLD_A1), ("a.2", FOLD_A2), ("mix", FOLD_MIX)))
    (exp / "protocol.yaml").write_text(f"feat_dir: {feat}\nnormalization: speaker\n")
    res = write_report(exp, n_boot=20)
    saved = json.loads((exp / "results.json").read_text())
    assert saved["per_corpus"] == json.loads(json.dumps(res["per_corpus"]))
    assert saved["per_corpus_from"] == str(feat / "utt2corpus")
    a, b = saved["per_corpus"]["a"], saved["per_corpus"]["b"]
    assert list(saved["per_corpus"]) == ["a", "b"]
    # corpus a, pooled over its 10 utterances: cm ang [2,1,1] hap [0,2,1] neu [0,1,2]
    #   recall 1/2, 2/3, 2/3; precision 1, 2/4, 2/4; F1 2/3, 4/7, 4/7
    assert a["n"] == 10 and a["wa"] == approx(6 / 10)
    assert a["uar"] == approx((1 / 2 + 2 / 3 + 2 / 3) / 3)
    assert a["macro_f1"] == approx((2 / 3 + 4 / 7 + 4 / 7) / 3)
    # its own folds: a.1 (UAR (1/2 + 1 + 1) / 3, WA 3/4) and a.2 (UAR (1 + 0 + 1/2) / 3, WA 2/4); "mix" is not one
    assert a["folds"] == ["a.1", "a.2"] and a["mixed_folds"] == ["mix"]
    assert a["fold_mean_uar"] == approx(((5 / 2) / 3 + (3 / 2) / 3) / 2) and a["fold_mean_wa"] == approx(5 / 8)
    # corpus b: cm ang [1,0,0] hap [1,0,0] neu [0,1,1]; no fold of its own, so no means over folds
    assert b["n"] == 4 and b["uar"] == approx(1 / 2) and b["wa"] == approx(1 / 2)
    assert b["macro_f1"] == approx((2 / 3 + 0 + 2 / 3) / 3)
    assert b["folds"] == [] and b["mixed_folds"] == ["mix"] and "fold_mean_uar" not in b and "fold_mean_wa" not in b
    assert a["absent_classes"] == b["absent_classes"] == []
    assert a["n"] + b["n"] == saved["num_utterances"]
    md = (exp / "RESULTS.md").read_text()
    assert "## Per corpus" in md and f"Corpora from {feat / 'utt2corpus'}" in md
    assert "| a | 10 | 61.11 | 60.00 | 60.32 | 66.67 | 62.50 | 2 + 1 mixed | - |" in md
    assert "| b | 4 | 50.00 | 50.00 | 44.44 | - | - | 0 + 1 mixed | - |" in md
    assert md.index("## Per fold") < md.index("## Per corpus") < md.index("## Per class")


def test_report_per_corpus_only_when_every_utterance_has_a_corpus(tmp_path):
    folds = (("a.1", FOLD_A1), ("mix", FOLD_MIX))
    # no utt2corpus in the feat dir (a one-corpus experiment): no breakdown, no note, results as before
    plain = make_exp(tmp_path, "plain")
    (plain / "protocol.yaml").write_text(f"feat_dir: {write_feat_dir(tmp_path / 'p')}\nnormalization: none\n")
    res = write_report(plain, n_boot=20)
    assert "per_corpus" not in res and not any("per-corpus" in n for n in res["notes"])
    assert "## Per corpus" not in (plain / "RESULTS.md").read_text()
    # a utt2corpus that misses a scored utterance: no breakdown, and the note says why
    feat = write_corpus_feat_dir(tmp_path / "q", utts=[u for u in CORPUS_UTTS if u != "b.1_3"])
    partial = make_exp(tmp_path, "partial", folds=folds)
    (partial / "protocol.yaml").write_text(f"feat_dir: {feat}\nnormalization: none\n")
    res = write_report(partial, n_boot=20)
    assert "per_corpus" not in res
    why = f"no per-corpus breakdown: {feat / 'utt2corpus'} has no corpus for 1 scored utterance(s), e.g. b.1_3"
    assert why in res["notes"]
    # the caller's map wins over the feat dir's
    res = write_report(partial, n_boot=20, utt2corpus={u: u.split(".")[0] for u in CORPUS_UTTS})
    assert res["per_corpus_from"] == "utt2corpus given by the caller" and res["per_corpus"]["b"]["n"] == 4


def test_comparison_per_corpus_columns(tmp_path):
    feat = write_corpus_feat_dir(tmp_path)
    proto = f"feat_dir: {feat}\nnormalization: speaker\n"
    loso = make_exp(tmp_path, "loso", folds=(("a.1", FOLD_A1), ("a.2", FOLD_A2), ("mix", FOLD_MIX)))
    # loco-shaped: one fold per corpus, each predicted perfectly on b and as before on a
    by_corpus = {"a": FOLD_A1 + FOLD_A2 + FOLD_MIX[:2], "b": [(u, t, t) for u, t, _ in FOLD_MIX[2:]]}
    loco = make_exp(tmp_path, "loco", folds=tuple(by_corpus.items()))
    plain = make_exp(tmp_path, "plain", folds=(("a.1", FOLD_A1), ("a.2", FOLD_A2), ("mix", FOLD_MIX)))
    for exp in (loso, loco):
        (exp / "protocol.yaml").write_text(proto)
    for exp in (loso, loco, plain):
        write_report(exp, n_boot=20)
    res = json.loads((loco / "results.json").read_text())
    assert res["per_corpus"]["a"]["fold_mean_uar"] == approx(res["per_corpus"]["a"]["uar"])  # loco: one fold each
    assert res["per_corpus"]["b"]["uar"] == 1.0 and res["per_corpus"]["b"]["folds"] == ["b"]
    rows = write_comparison([loso, loco], tmp_path / "CMP.md", n_perm=20)
    assert rows[0]["per_corpus_uar"] == {"a": approx(11 / 18), "b": approx(1 / 2)}
    md = (tmp_path / "CMP.md").read_text()
    assert "| pooled UAR 95% CI | UAR a | UAR b |" in md
    assert "| 61.11 | 50.00 |" in md and "| 61.11 | 100.00 |" in md
    # one experiment without a breakdown: no per-corpus columns
    rows = write_comparison([loso, plain], tmp_path / "CMP2.md", n_perm=20)
    assert rows[1]["per_corpus_uar"] is None and "UAR a" not in (tmp_path / "CMP2.md").read_text()
