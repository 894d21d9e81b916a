"""Trainer and `ser evaluate` on real EmoDB features: folds, scores, repeatability, resume after kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ser.bundle import load_bundle
from ser.cli import main
from ser.config import load_config
from ser.datadir import DataDir
from ser.errors import SerError
from ser.experiment import read_protocol
from ser.fusion import merged_protocol
from ser.inference import make_batches
from ser.train import upsample_indices
from ser.trainer import inverse_frequency_weights as class_weights

REPO = Path(__file__).resolve().parents[1]
SPEAKERS = ("03", "08", "09", "10")
TINY_GAGRU = ["encoder=gagru", "encoder_conf.hidden_size=16", "encoder_conf.num_layers=1", "train.batch_size=16",
              "train.patience=100", "train.lr=3e-3", "train.threads=1"]


@pytest.fixture(scope="module")
def emodb_feats(emodb_dir, tmp_path_factory):
    """Four speakers, 12 utterances each, emobase78 averaged over 5 frames, per-speaker CMVN, LOSO folds."""
    root = tmp_path_factory.mktemp("train")
    ids = []
    for spk in SPEAKERS:
        ids += sorted(p.stem for p in emodb_dir.glob(f"{spk}*.wav"))[:12]
    wavs = {u: str(emodb_dir / f"{u}.wav") for u in ids}
    letters = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}
    DataDir(maps={"wav.scp": wavs, "utt2spk": {u: u[:2] for u in ids}, "utt2emo": {u: letters[u[5]] for u in ids},
                  "utt2gender": {u: "f" if u[:2] in ("08", "09") else "m" for u in ids}}).write(root / "data")
    assert main(["extract", "--features", "emobase78_avg5", "--nj", "2", "--no-progress", str(root / "data"), str(root / "feats")]) == 0
    assert main(["compute-cmvn", str(root / "feats")]) == 0
    assert main(["make-folds", str(root / "data"), str(root / "folds")]) == 0
    return root


def read_scores(path: Path) -> dict[str, np.ndarray]:
    lines = path.read_text().splitlines()[1:]
    return {line.split("\t")[0]: np.array([float(v) for v in line.split("\t")[3:]]) for line in lines}


def test_evaluate_every_fold_and_report(emodb_feats):
    root = emodb_feats
    exp = root / "exp_all"
    assert main(["evaluate", "--quiet", str(root / "feats"), str(root / "folds"), str(exp), *TINY_GAGRU, "train.max_epochs=3"]) == 0
    for spk in SPEAKERS:
        scores = read_scores(exp / f"fold_{spk}" / "scores.tsv")
        assert scores and all(u.startswith(spk) for u in scores), "a fold scores exactly its test speaker"
        for post in scores.values():
            assert post.shape == (7,) and abs(post.sum() - 1) < 1e-4
        assert (exp / f"fold_{spk}" / ".done").exists() and (exp / f"fold_{spk}" / "model.ser").exists()
        assert not (exp / f"fold_{spk}" / "checkpoint.pt").exists()
    # a rerun skips finished folds (their files are untouched)
    stamp = (exp / "fold_03" / "scores.tsv").stat().st_mtime_ns
    assert main(["evaluate", "--quiet", str(root / "feats"), str(root / "folds"), str(exp), *TINY_GAGRU, "train.max_epochs=3"]) == 0
    assert (exp / "fold_03" / "scores.tsv").stat().st_mtime_ns == stamp
    # a different config into the same dir is refused
    assert main(["evaluate", "--quiet", str(root / "feats"), str(root / "folds"), str(exp), *TINY_GAGRU, "train.max_epochs=4"]) == 2
    assert main(["report", str(exp)]) == 0
    text = (exp / "RESULTS.md").read_text()
    assert "per-speaker z-normalisation" in text and "gagru" in text


def test_parallel_folds_give_the_sequential_scores(emodb_feats):
    """--nj 2 trains folds in two processes: same scores as one by one, finished folds skipped."""
    root = emodb_feats
    runs = {}
    for name, nj in (("seq", "1"), ("par", "2")):
        exp = root / f"exp_nj{nj}"
        assert main(["evaluate", "--quiet", "--nj", nj, "--folds", "03,08,09", str(root / "feats"), str(root / "folds"),
                     str(exp), *TINY_GAGRU, "train.max_epochs=2"]) == 0
        runs[name] = {spk: read_scores(exp / f"fold_{spk}" / "scores.tsv") for spk in ("03", "08", "09")}
    for spk, scores in runs["seq"].items():
        assert scores.keys() == runs["par"][spk].keys()
        for utt in scores:
            np.testing.assert_allclose(scores[utt], runs["par"][spk][utt], atol=1e-5)
    # a rerun with one fold left trains only that one
    stamp = (root / "exp_nj2" / "fold_03" / "scores.tsv").stat().st_mtime_ns
    assert main(["evaluate", "--quiet", "--nj", "2", str(root / "feats"), str(root / "folds"), str(root / "exp_nj2"),
                 *TINY_GAGRU, "train.max_epochs=2"]) == 0
    assert (root / "exp_nj2" / "fold_03" / "scores.tsv").stat().st_mtime_ns == stamp
    assert (root / "exp_nj2" / "fold_10" / ".done").exists()


def test_parallel_folds_report_a_failing_fold_and_keep_the_others(emodb_feats, capfd):
    root = emodb_feats
    exp = root / "exp_nj_fail"
    bad_fold = exp / "fold_08"
    bad_fold.mkdir(parents=True)
    (bad_fold / "checkpoint.pt").write_bytes(b"not a checkpoint")  # a corrupt checkpoint: resume must refuse it
    code = main(["evaluate", "--quiet", "--nj", "2", "--folds", "03,08", str(root / "feats"), str(root / "folds"),
                 str(exp), *TINY_GAGRU, "train.max_epochs=1"])
    assert code != 0
    assert "fold 08" in capfd.readouterr().err
    assert (exp / "fold_03" / ".done").exists() and not (bad_fold / ".done").exists()


def test_refit_trains_again_on_train_and_valid_for_the_selected_epochs(emodb_feats):
    """train.refit: the early-stopping run in select/ picks the epoch; the tested model saw train + valid."""
    import json

    root = emodb_feats
    exp = root / "exp_refit"
    assert main(["evaluate", "--quiet", "--folds", "03", str(root / "feats"), str(root / "folds"), str(exp), *TINY_GAGRU,
                 "train.max_epochs=3", "train.refit=true"]) == 0
    fold = exp / "fold_03"
    selected = json.loads((fold / "select" / "selected.json").read_text())
    final = load_bundle(fold / "model.ser").meta["training"]
    assert selected["train_speakers"] == ["09", "10"]  # valid speaker 08 held out for selection
    assert final["train_speakers"] == ["08", "09", "10"] and final["best_epoch"] == selected["best_epoch"]
    assert not (fold / "checkpoint.pt").exists() and not (fold / "select" / "checkpoint.pt").exists()
    assert "refit" in (exp / "protocol.yaml").read_text()
    scores = read_scores(fold / "scores.tsv")
    assert len(scores) == 12 and all(u.startswith("03") for u in scores)


def test_fuse_averages_posteriors_of_seeds(emodb_feats):
    """`ser fuse`: the fused fold's posteriors are the members' mean; mismatched members are refused."""
    root = emodb_feats
    members = []
    for seed in (0, 1):
        exp = root / f"fuse_s{seed}"
        assert main(["evaluate", "--quiet", "--folds", "03", str(root / "feats"), str(root / "folds"), str(exp), *TINY_GAGRU,
                     "train.max_epochs=1", f"train.seed={seed}"]) == 0
        members.append(exp)
    fused = root / "fused"
    assert main(["fuse", str(fused), *map(str, members)]) == 0
    a, b, f = (read_scores(d / "fold_03" / "scores.tsv") for d in (*members, fused))
    assert set(f) == set(a) and any(not np.allclose(a[u], b[u]) for u in a), "the seeds differ"
    for utt in f:
        np.testing.assert_allclose(f[utt], (a[utt] + b[utt]) / 2, atol=2e-6)
    assert main(["report", str(fused)]) == 0 and "fusion" in (fused / "RESULTS.md").read_text()
    # each member's own UAR stands beside the fused row (one seed's noise), as the report of that member gives it
    spread = read_protocol(fused)["fusion_members_uar"]
    for member in members:
        assert main(["report", str(member)]) == 0
        assert f"{100 * json.loads((member / 'results.json').read_text())['mean']['uar']:.2f}" in spread
    assert "mean" in spread and "fusion_members_uar" in (fused / "RESULTS.md").read_text()
    assert read_protocol(fused)["encoder"] == read_protocol(members[0])["encoder"], "seeds of one config keep its record"
    other = root / "fuse_other"
    assert main(["evaluate", "--quiet", "--folds", "08", str(root / "feats"), str(root / "folds"), str(other), *TINY_GAGRU,
                 "train.max_epochs=1"]) == 0
    assert main(["fuse", str(root / "bad"), str(members[0]), str(other)]) == 2


def test_fusion_of_different_systems_names_every_member():
    """A fusion of systems is recorded as all of them (not under its first member's encoder); utt2spk and the
    fold plan are still found through the first member's dirs."""
    logreg = {"encoder": "logreg", "features": "emobase988", "feat_dir": "feats/emobase988", "folds_dir": "folds/loso",
              "classes": ["anger", "neutral"], "commands": ["ser evaluate ..."]}
    gagru = {**logreg, "encoder": "gagru", "features": "emobase78_avg5", "feat_dir": "feats/emobase78_avg5",
             "folds_dir": "folds/loso_v2"}
    merged = merged_protocol([logreg, gagru])
    assert merged["encoder"] == "logreg + gagru" and merged["features"] == "emobase988 + emobase78_avg5"
    assert merged["feat_dir"] == "feats/emobase988" and merged["folds_dir"] == "folds/loso"
    assert merged["classes"] == ["anger", "neutral"] and "commands" not in merged


def test_same_seed_same_scores(emodb_feats):
    root = emodb_feats
    runs = []
    for name in ("seed_a", "seed_b"):
        assert main(["train", "--quiet", "--fold", "09", str(root / "feats"), str(root / "folds"), str(root / name), *TINY_GAGRU, "train.max_epochs=2"]) == 0
        runs.append(read_scores(root / name / "fold_09" / "scores.tsv"))
    assert runs[0].keys() == runs[1].keys()
    for utt in runs[0]:
        np.testing.assert_allclose(runs[0][utt], runs[1][utt], atol=1e-6)


def test_resume_after_kill_matches_uninterrupted_run(emodb_feats):
    root = emodb_feats
    args = ["train", "--quiet", "--fold", "10", str(root / "feats"), str(root / "folds")]
    epochs = ["train.max_epochs=8"]
    assert main(args + [str(root / "whole"), *TINY_GAGRU, *epochs]) == 0
    killed = root / "killed"
    cmd = [sys.executable, "-m", "ser", *args, str(killed), *TINY_GAGRU, *epochs]
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.DEVNULL, start_new_session=True)
    log = killed / "fold_10" / "train.log"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and "epoch   3" in log.read_text()):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "fold_10" / ".done").exists(), "the kill should land before the fold finished"
    assert (killed / "fold_10" / "checkpoint.pt").exists()
    assert subprocess.run(cmd, cwd=REPO, capture_output=True).returncode == 0
    assert "resuming from" in log.read_text()
    a, b = read_scores(root / "whole" / "fold_10" / "scores.tsv"), read_scores(killed / "fold_10" / "scores.tsv")
    for utt in a:
        np.testing.assert_allclose(a[utt], b[utt], atol=1e-5)


def test_unknown_label_is_reported_and_left_out(emodb_feats, capfd):
    root = emodb_feats
    exp = root / "exp_classes"
    six = "[anger,boredom,fear,happiness,neutral,sadness]"
    assert main(["train", "--fold", "03", str(root / "feats"), str(root / "folds"), str(exp), *TINY_GAGRU,
                 "train.max_epochs=1", f"classes={six}"]) == 0
    err = capfd.readouterr().err
    assert "label 'disgust' are not in the class list" in err
    scores = read_scores(exp / "fold_03" / "scores.tsv")
    assert all(post.shape == (6,) for post in scores.values())


@pytest.fixture(scope="module")
def emodb_func(emodb_feats):
    """The same utterances as eGeMAPS functionals (root/func) with per-speaker CMVN."""
    root = emodb_feats
    assert main(["extract", "--features", "egemaps88", "--nj", "2", "--no-progress", str(root / "data"), str(root / "func")]) == 0
    assert main(["compute-cmvn", str(root / "func")]) == 0
    return root


def test_svm_on_functionals(emodb_func):
    root = emodb_func
    exp = root / "svm"
    assert main(["evaluate", "--quiet", str(root / "func"), str(root / "folds"), str(exp), "encoder=svm"]) == 0
    scores = read_scores(exp / "fold_08" / "scores.tsv")
    assert len(scores) == 12
    # the svm refuses frame-level features with a clear message
    assert main(["evaluate", "--quiet", str(root / "feats"), str(root / "folds"), str(root / "svm_bad"), "encoder=svm"]) == 2


def test_svm_matches_scikit_learn_predictions():
    from sklearn.svm import SVC

    from ser.features_table import LabelledSet
    from ser.models.svm import LinearSVM, SVMConfig

    def fitted(config, x, y):
        model = LinearSVM(config, list("abcd"))
        train = LabelledSet([str(i) for i in range(len(y))], [row[None] for row in x], y, [""] * len(y), [""] * len(y))
        empty = LabelledSet([], [], np.zeros(0, dtype=np.int64), [], [])
        model.fit(train, empty, Path("."), lambda line: None)
        return model

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8))
    y = rng.integers(0, 4, 300)
    x[:, 0] += 1.5 * y
    ours = fitted(SVMConfig(), x, y)
    theirs = SVC(kernel="linear", C=1.0, class_weight="balanced").fit(x, y)
    test = rng.standard_normal((400, 8))
    test[:, 0] += 1.5 * rng.integers(0, 4, 400)
    votes = fitted(SVMConfig(probability=False), x, y)
    assert votes.output_kind == "vote shares" and ours.output_kind == "posteriors"
    agreement = (votes.posteriors(test[:, None, :]).argmax(axis=1) == theirs.predict(test)).mean()
    assert agreement > 0.97  # ties in one-vs-one votes are broken slightly differently
    # calibrated posteriors: libsvm's Platt scaling + pairwise coupling, as scikit-learn's predict_proba
    calibrated = SVC(kernel="linear", C=1.0, class_weight="balanced", probability=True, random_state=0).fit(x, y)
    np.testing.assert_allclose(ours.posteriors(test[:, None, :]), calibrated.predict_proba(test), atol=1e-6)
    np.testing.assert_allclose(ours.posteriors(test[:, None, :]).sum(axis=1), 1.0, atol=1e-9)


def test_balancing_helpers():
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    idx = upsample_indices(labels, np.random.default_rng(0))
    assert np.bincount(labels[idx]).tolist() == [4, 4, 4]
    w = class_weights(labels, 4).numpy()
    np.testing.assert_allclose(w[:3], [7 / (3 * 4), 7 / (3 * 1), 7 / (3 * 2)], rtol=1e-6)
    assert w[3] == 0
    lengths = np.array([5, 50, 7, 48, 6, 52, 49, 8])
    batches = make_batches(lengths, 4, None)
    assert sorted(np.concatenate(batches).tolist()) == list(range(8))
    assert [sorted(lengths[b].tolist()) for b in batches] == [[5, 6, 7, 8], [48, 49, 50, 52]]


def test_config_overrides_and_errors(tmp_path):
    cfg = load_config(REPO / "recipes" / "emodb" / "conf" / "gagru.yaml", ["train.lr=1e-3", "encoder_conf.attention_dim=8"])
    assert cfg.train.lr == 1e-3 and cfg.encoder_conf["attention_dim"] == 8 and cfg.features == "emobase78_avg5"
    from ser.errors import SerError

    with pytest.raises(SerError, match="unknown keys"):
        load_config(None, ["train.learning_rate=1"])
    with pytest.raises(SerError, match="normalization"):
        load_config(None, ["normalization=per-speaker"])


def _fold_sets(root: Path, fold: str = "09"):
    """Normalised labelled train/valid/test sets of one fold, as `ser evaluate` builds them."""
    from ser.features_table import FeatureTable
    from ser.folds import read_plan

    table = FeatureTable(root / "feats")
    plan = read_plan(root / "folds", table.data)
    f = plan.fold(fold)
    classes = sorted(set(table.data.utt2emo.values()))
    norm = table.normalization("speaker", f.train)
    return [table.labelled(u, classes, norm, lambda _m: None) for u in (f.train, f.valid, f.test)], classes


class _Kill(Exception):
    pass


def _killer(trigger: str, seen: list[str]):
    def log(line: str) -> None:
        seen.append(line)
        if trigger in line:
            raise _Kill(line)
    return log


def test_resume_after_early_stop_trains_no_further_epoch(emodb_feats, tmp_path):
    """A kill after the epoch that triggered early stopping (its checkpoint written) must not train one more."""
    from ser.train import train_torch

    (train, valid, _), classes = _fold_sets(emodb_feats)
    cfg = load_config(None, [*TINY_GAGRU, "train.max_epochs=30", "train.patience=2", "train.lr=3e-2"])
    _, whole = train_torch(cfg, train, valid, classes, tmp_path / "whole", lambda _m: None)
    assert whole.epochs_run < 30, "early stopping must fire for this test to mean anything"
    seen: list[str] = []
    with pytest.raises(_Kill):
        train_torch(cfg, train, valid, classes, tmp_path / "killed", _killer("early stop", seen))
    resumed_log: list[str] = []
    _, resumed = train_torch(cfg, train, valid, classes, tmp_path / "killed", resumed_log.append)
    assert "(training had stopped)" in resumed_log[0]
    assert not any(line.startswith("epoch") for line in resumed_log), "no epoch may run after the stop"
    assert (resumed.epochs_run, resumed.best_epoch) == (whole.epochs_run, whole.best_epoch)


def test_kill_during_refit_keeps_the_selected_epoch(emodb_feats, tmp_path):
    """train.refit: the epoch count chosen on the validation speaker is kept when the refit is killed and rerun."""
    from ser.models.torch_classifier import TorchClassifier

    (train, valid, test), classes = _fold_sets(emodb_feats)
    cfg = load_config(None, [*TINY_GAGRU, "train.max_epochs=6", "train.patience=2", "train.refit=true"])
    whole = TorchClassifier(cfg, classes)
    record = whole.fit(train, valid, tmp_path / "whole", lambda _m: None)
    seen: list[str] = []
    killed = TorchClassifier(cfg, classes)
    with pytest.raises(_Kill):  # the refit's first epoch: selection finished, the refit has begun
        killed.fit(train, valid, tmp_path / "killed", _after("refit on train", "epoch   1 ", seen))
    again = TorchClassifier(cfg, classes)
    log: list[str] = []
    assert again.fit(train, valid, tmp_path / "killed", log.append)["best_epoch"] == record["best_epoch"]
    assert any("chosen earlier" in line for line in log)
    np.testing.assert_allclose(again.posteriors(test.inputs), whole.posteriors(test.inputs), atol=1e-6)


def _after(first: str, then: str, seen: list[str]):
    """A log that raises at the first line containing `then` that comes after a line containing `first`."""
    def log(line: str) -> None:
        seen.append(line)
        if then in line and any(first in s for s in seen[:-1]):
            raise _Kill(line)
    return log


def test_non_torch_models_never_import_torch(emodb_func):
    """An SVM or logistic-regression fold (and scoring with its model file) runs without importing torch."""
    root = emodb_func
    code = f"""
import sys
from ser.cli import main
for enc in ("svm", "logreg"):
    assert main(["evaluate", "--quiet", "--folds", "03", "{root / 'func'}", "{root / 'folds'}", "{root}/notorch_" + enc, "encoder=" + enc]) == 0
assert main(["score", "--quiet", "--model", "{root}/notorch_logreg/fold_03/model.ser", "--speaker", "03", "{root / 'func'}"]) == 0
print("torch" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "False"
    for enc in ("svm", "logreg"):
        assert len(read_scores(root / f"notorch_{enc}" / "fold_03" / "scores.tsv")) == 12


def test_config_features_key_is_checked(emodb_func, capfd):
    """A config for one feature set is refused on another's features, unless told (then config.yaml says so)."""
    root = emodb_func
    gagru = str(REPO / "recipes" / "emodb" / "conf" / "gagru_demo.yaml")
    assert main(["evaluate", "--quiet", "--config", gagru, "--folds", "03", str(root / "func"), str(root / "folds"),
                 str(root / "wrong_feats"), "encoder=dnn"]) == 2
    assert "holds 'egemaps88' features" in capfd.readouterr().err
    assert main(["evaluate", "--quiet", "--config", gagru, "--folds", "03", str(root / "func"), str(root / "folds"),
                 str(root / "told"), "encoder=dnn", "features=egemaps88", "train.max_epochs=1", "train.threads=1"]) == 0
    assert load_config(root / "told" / "config.yaml").features == "egemaps88"


def test_every_model_behind_one_registry(capsys):
    """svm and logreg are registered names like the torch encoders; list-encoders shows what each is."""
    from ser.models import get_encoder

    assert get_encoder("svm").kind == get_encoder("logreg").kind == "estimator"
    assert get_encoder("gagru").kind == "torch"
    assert main(["list-encoders", "svm", "logreg", "gagru"]) == 0
    out = capsys.readouterr().out
    assert "svm  [utterance, not torch]" in out and "logreg  [utterance, not torch]" in out and "gagru  [frames]" in out


def test_export_calibrates_on_out_of_fold_posteriors(emodb_feats, capsys):
    """`ser export --calibrate`: a temperature fitted on the folds' scores; `ser score` applies it (same arg-max)."""
    import json

    root = emodb_feats
    exp = root / "exp_calibrated"
    assert main(["evaluate", "--quiet", str(root / "feats"), str(root / "folds"), str(exp), *TINY_GAGRU, "train.max_epochs=2"]) == 0
    assert main(["export", "--fold", "03", str(exp), str(root / "plain.ser")]) == 0
    assert main(["export", "--fold", "03", "--calibrate", str(exp), str(root / "calibrated.ser")]) == 0
    cal = load_bundle(root / "calibrated.ser").meta["calibration"]
    assert cal["method"] == "temperature" and cal["utterances"] == 48 and cal["nll_after"] <= cal["nll_before"] + 1e-9
    rows = {}
    for name in ("plain", "calibrated"):
        capsys.readouterr()
        assert main(["score", "--json", "--quiet", "--model", str(root / f"{name}.ser"), str(root / "feats")]) == 0
        rows[name] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    from ser.calibration import apply_temperature

    for a, b in zip(rows["plain"], rows["calibrated"]):
        assert a["label"] == b["label"]
        want = apply_temperature(np.array([list(a["posteriors"].values())]), cal["temperature"])[0]
        np.testing.assert_allclose(list(b["posteriors"].values()), want, atol=2e-4)


def test_corpus_weights_give_each_corpus_the_same_total():
    from ser.features_table import LabelledSet

    rows = LabelledSet(list("abcdef"), [np.zeros((1, 2))] * 6, np.array([0, 1, 0, 1, 0, 1]), list("xxyyzz"), [""] * 6,
                       ["emodb", "ravdess", "ravdess", "ravdess", "ravdess", "ravdess"])
    w = rows.corpus_weights()
    np.testing.assert_allclose(w, [3.0, 0.6, 0.6, 0.6, 0.6, 0.6])
    assert w[:1].sum() == pytest.approx(w[1:].sum())
    single = LabelledSet(list("ab"), [np.zeros((1, 2))] * 2, np.array([0, 1]), list("xy"), [""] * 2)
    np.testing.assert_allclose(single.corpus_weights(), [1.0, 1.0])


def test_evaluate_prints_one_progress_line_per_fold_when_stderr_is_not_a_terminal(emodb_feats, capfd):
    """Recipes run `ser evaluate --quiet` into logs: each finished fold is one plain line with the count and an ETA."""
    import re

    root = emodb_feats
    capfd.readouterr()
    assert main(["evaluate", "--quiet", "--folds", "03,08", str(root / "feats"), str(root / "folds"), str(root / "exp_progress"),
                 *TINY_GAGRU, "train.max_epochs=1"]) == 0
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("fold ")]
    assert re.fullmatch(r"fold 03 done: test accuracy \d+/12 \(1/2 folds, \d+s elapsed, ETA \d+s\)", lines[0]), lines
    assert re.fullmatch(r"fold 08 done: test accuracy \d+/12 \(2/2 folds, \d+s elapsed\)", lines[1]), lines
    assert "\r" not in "".join(lines), "no bar redraws in a log"


def test_progress_bar_on_a_terminal_shows_epochs_and_folds():
    import io

    from ser.progress import Progress

    out = io.StringIO()
    progress = Progress(2, stream=out, tty=True)
    progress.status("fold 03 epoch 4")
    progress.finished("03")
    progress.close()
    text = out.getvalue()
    assert "1/2" in text and "fold 03 epoch 4" in text and "fold 03 done" not in text


@pytest.mark.parametrize("name, clipped, weighted", [("gagru", False, False), ("gagru_ours", True, True)])
def test_trainer_honours_balance_none_and_grad_clip_0(emodb_feats, tmp_path, monkeypatch, name, clipped, weighted):
    """The paper config trains with plain cross-entropy and never clips; our variant weights classes and clips at 5."""
    import torch
    import torch.nn.functional as F

    from ser.inference import collate
    from ser.train import AudioTask, train_torch

    (train, valid, _), classes = _fold_sets(emodb_feats)
    cfg = load_config(REPO / "recipes" / "emodb" / "conf" / f"{name}.yaml",
                      ["encoder_conf.hidden_size=16", "encoder_conf.num_layers=1", "train.threads=1", "train.max_epochs=1"])
    norms: list[float] = []
    real_clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda params, max_norm: norms.append(max_norm) or real_clip(params, max_norm))
    train_torch(cfg, train, valid, classes, tmp_path / name, lambda _m: None)
    assert norms == ([5.0] * len(norms) if clipped else []) and bool(norms) == clipped

    task = AudioTask(cfg, train, valid, classes, torch.device("cpu"))
    task.model.eval()  # no dropout: the task's loss and a hand-made cross-entropy see the same logits
    idx = np.arange(len(train.utts))
    x, lens = collate([train.inputs[i] for i in idx], True, 0, None)
    logits = task.model(x, lens)["emotion"]
    target = torch.from_numpy(train.labels)
    weight = class_weights(train.labels, len(classes)) if weighted else None
    with torch.no_grad():
        assert torch.allclose(task.loss(idx)[0], F.cross_entropy(logits, target, weight=weight), atol=1e-6)
    assert (task.class_weights is not None) == weighted


def test_checkpoint_averaging_ends_with_the_mean_of_the_best_epochs_and_survives_a_kill(emodb_feats, tmp_path):
    """train.average=3: the final weights are the mean of the 3 epochs with the best validation UAR (ties: the
    earlier), recorded in the outcome; a run killed mid-way and resumed ends with the same weights."""
    import torch

    from ser.train import CHECKPOINT, train_torch

    (train, valid, _), classes = _fold_sets(emodb_feats)
    cfg = load_config(None, [*TINY_GAGRU, "train.max_epochs=6", "train.average=3"])
    model, whole = train_torch(cfg, train, valid, classes, tmp_path / "whole", lambda _m: None)
    ranked = sorted(whole.history, key=lambda r: (-r["valid_uar"], r["epoch"]))[:3]
    assert whole.averaged_epochs == sorted(int(r["epoch"]) for r in ranked)
    kept = torch.load(tmp_path / "whole" / CHECKPOINT, weights_only=True)["loop"]["kept"]
    assert sorted(e["epoch"] for e in kept) == whole.averaged_epochs
    final = model.state_dict()
    for key, value in final.items():
        if torch.is_floating_point(value):
            mean = torch.stack([e["state"][key].double() for e in kept]).mean(0).float()
            torch.testing.assert_close(value.cpu(), mean)
    assert any(not torch.equal(final[k].cpu(), kept[0]["state"][k]) for k in final), "averaging must change the weights"

    seen: list[str] = []
    with pytest.raises(_Kill):
        train_torch(cfg, train, valid, classes, tmp_path / "killed", _killer("epoch   4 ", seen))
    resumed, outcome = train_torch(cfg, train, valid, classes, tmp_path / "killed", lambda _m: None)
    assert outcome.averaged_epochs == whole.averaged_epochs
    for key, value in resumed.state_dict().items():
        torch.testing.assert_close(value, final[key])


def test_checkpoint_averaging_without_validation_keeps_the_last_epochs():
    """No validation score (a refit on every speaker): the last K epochs are kept, in order."""
    import math

    import torch

    from ser.trainer import _keep_for_average, average_weights

    kept: list = []
    for epoch in range(1, 6):
        kept = _keep_for_average(kept, epoch, math.nan, {"w": torch.full((2,), float(epoch))}, 3)
    assert [e["epoch"] for e in kept] == [3, 4, 5]
    assert average_weights([e["state"] for e in kept])["w"].tolist() == [4.0, 4.0]
    scored: list = []
    for epoch, score in enumerate([0.5, 0.7, 0.7, 0.6, 0.4], start=1):
        scored = _keep_for_average(scored, epoch, score, {"w": torch.zeros(1)}, 2)
    assert [e["epoch"] for e in scored] == [2, 3]
    with pytest.raises(SerError, match="train.average"):
        load_config(None, ["train.average=0"])


def test_paper_004_selection_validates_on_a_random_tenth_by_accuracy(emodb_feats, tmp_path):
    """train.valid_split=0.1 + select_metric=wa: the epoch is picked by accuracy on a seeded random 10% of the
    fold's training utterances, the validation speaker's utterances joining training; with copies it is refused."""
    from ser.models.torch_classifier import TorchClassifier

    (train, valid, _), classes = _fold_sets(emodb_feats)
    total = len(train.utts) + len(valid.utts)
    cfg = load_config(None, [*TINY_GAGRU, "train.max_epochs=4", "train.valid_split=0.1", "train.select_metric=wa"])
    log: list[str] = []
    record = TorchClassifier(cfg, classes).fit(train, valid, tmp_path / "fold", log.append)
    rest, tenth = (train + valid).random_split(0.1, 0)
    assert len(tenth.utts) == round(0.1 * total) and len(rest.utts) + len(tenth.utts) == total
    assert set(valid.speakers) & set(rest.speakers), "the validation speaker trains"
    assert not set(rest.utts) & set(tenth.utts)
    assert any(f"({len(tenth.utts)} of {total}; train.valid_split)" in line for line in log)
    history = [line for line in log if line.startswith("epoch")]
    wa = [float(line.split("valid WA ")[1].split()[0]) for line in history]
    assert record["select_metric"] == "wa" and record["best_valid_uar"] == pytest.approx(max(wa), abs=1e-4)
    assert record["best_epoch"] == 1 + wa.index(max(wa))
    assert (train + valid).random_split(0.1, 0)[1].utts == tenth.utts  # seeded: the same split every time
    with pytest.raises(SerError, match="train.select_metric"):
        load_config(None, ["train.select_metric=f1"])
    with pytest.raises(SerError, match="train.valid_split"):
        load_config(None, ["train.valid_split=1.5"])
    copies = load_config(None, [*TINY_GAGRU, "train.valid_split=0.1", "augment.copies=[sp1.1]"])
    with pytest.raises(SerError, match="cannot be combined with augment.copies"):
        TorchClassifier(copies, classes).fit(train, valid, tmp_path / "copies", lambda _m: None)
