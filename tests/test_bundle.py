"""Model bundles: export from an experiment, round trip of posteriors, refusal of damaged or mismatched files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from score_fixtures import SPEAKERS, TINY_GAGRU, build_experiment, read_scores
from ser.bundle import BUNDLE_FORMAT, BundleError, load_bundle, save_bundle
from ser.cli import main
from ser.errors import SerError
from ser.frontend.cmvn import read_cmvn, sum_stats
from tests.hostile import reseal_bundle as _rewrite


@pytest.fixture(scope="module")
def exp(emodb_dir, tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("bundle")
    build_experiment(emodb_dir, root)
    assert main(["export", "--fold", "03", str(root / "exp"), str(root / "fold03.ser")]) == 0
    return root


def score_json(capsys, args: list[str]) -> tuple[int, list[dict]]:
    capsys.readouterr()
    rc = main(["score", "--json", "--quiet", *args])
    return rc, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_fold_bundle_reproduces_fold_scores(exp, emodb_dir, capsys):
    """Scoring the test speaker's clips grouped as that speaker == the fold's scores.tsv (same CMVN stats)."""
    expected = read_scores(exp / "exp" / "fold_03" / "scores.tsv")
    files = [str(emodb_dir / f"{u}.wav") for u in sorted(expected)]
    rc, rows = score_json(capsys, ["--model", str(exp / "fold03.ser"), "--speaker", "03", *files])
    assert rc == 0 and len(rows) == len(files) == 8
    bundle = load_bundle(exp / "fold03.ser")
    for row in rows:
        utt = Path(row["path"]).stem
        got = [row["posteriors"][c] for c in bundle.classes]
        np.testing.assert_allclose(got, expected[utt], atol=2e-6)
        assert row["normalization"] == "speaker:03(8)"
    # a data dir of the same clips groups them by its utt2spk
    rc, rows = score_json(capsys, ["--model", str(exp / "fold03.ser"), str(exp / "feats")])
    by_utt = {r["clip"]: r for r in rows if r["speaker"] == "03"}
    for utt, post in expected.items():
        np.testing.assert_allclose([by_utt[utt]["posteriors"][c] for c in bundle.classes], post, atol=2e-6)


def test_bundle_contents(exp):
    import zipfile

    names = zipfile.ZipFile(exp / "fold03.ser").namelist()  # meta.json and .npy arrays only: no pickle anywhere
    assert "meta.json" in names and all(n == "meta.json" or n.endswith(".npy") for n in names)
    bundle = load_bundle(exp / "fold03.ser")
    meta = bundle.meta
    assert meta["format_version"] == BUNDLE_FORMAT
    assert meta["spec"]["encoder"] == "gagru" and meta["normalization"] == "speaker"
    assert meta["features"]["feature_set"]["name"] == "emobase78_avg5"
    assert meta["training"]["source"] == "fold 03" and meta["training"]["train_speakers"] == ["09"]
    assert meta["protocol"]["encoder"] == "gagru" and "torch" in meta["versions"]
    stats = read_cmvn(exp / "feats")
    np.testing.assert_allclose(bundle.norm_state["fallback"], stats["09"])


def test_all_speaker_model(exp, capsys):
    """Without --fold: trained on every speaker for the median best epoch of the folds, no early stopping."""
    out = exp / "all.ser"
    assert main(["export", str(exp / "exp"), str(out), "train.threads=1"]) == 0
    bundle = load_bundle(out)
    assert bundle.meta["training"]["source"] == "all speakers"
    assert bundle.meta["training"]["train_speakers"] == list(SPEAKERS)
    fold_epoch = load_bundle(exp / "exp" / "fold_03" / "model.ser").meta["training"]["best_epoch"]
    assert bundle.meta["training"]["best_epoch"] == fold_epoch
    stats = read_cmvn(exp / "feats")
    np.testing.assert_allclose(bundle.norm_state["fallback"], sum_stats(stats[s] for s in SPEAKERS))
    # a second export reuses the trained model
    stamp = (exp / "exp" / "all_speakers" / "model.ser").stat().st_mtime_ns
    assert main(["export", str(exp / "exp"), str(exp / "all2.ser")]) == 0
    assert (exp / "exp" / "all_speakers" / "model.ser").stat().st_mtime_ns == stamp
    assert main(["export", "--retrain-all", str(exp / "exp"), str(exp / "all3.ser"), "train.threads=1"]) == 0
    assert (exp / "exp" / "all_speakers" / "model.ser").stat().st_mtime_ns != stamp
    again = load_bundle(exp / "all3.ser").model_state
    for name, array in bundle.model_state.items():  # same seed, same data: the same model
        np.testing.assert_allclose(again[name], array, atol=1e-6)
    assert main(["export", "--fold", "99", str(exp / "exp"), str(exp / "x.ser")]) == 2


def test_tampered_bundle_is_refused(exp, capsys):
    """One flipped byte anywhere (zip headers, pickle, weights, statistics, the end record) is refused."""
    raw = (exp / "fold03.ser").read_bytes()
    bad = exp / "tampered.ser"
    positions = sorted(set(np.linspace(0, len(raw) - 1, 60).astype(int).tolist()) | {len(raw) - 30, len(raw) - 1})
    for pos in positions:
        flipped = bytearray(raw)
        flipped[pos] ^= 0x01
        bad.write_bytes(bytes(flipped))
        with pytest.raises(BundleError, match="checksum mismatch|not a readable ser model bundle|not a ser model bundle"):
            load_bundle(bad)
    capsys.readouterr()
    assert main(["score", "--model", str(bad), str(exp / "feats")]) == 2
    assert str(bad) in capsys.readouterr().err
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BundleError, match="not a readable"):
        load_bundle(bad)


def test_non_finite_weights_are_refused(exp):
    def poison(meta, arrays):
        name = next(k for k in arrays if k.startswith("model/"))
        arrays[name] = arrays[name] * np.nan

    _rewrite(exp / "fold03.ser", exp / "nan.ser", poison)
    with pytest.raises(BundleError, match="NaN or Inf"):
        load_bundle(exp / "nan.ser")


def test_other_feature_set_is_refused(exp, capsys):
    bundle = load_bundle(exp / "fold03.ser")
    # a bundle whose feature set does not give what the model takes
    meta = json.loads(json.dumps(bundle.meta))
    meta["features"]["dim"] = 88
    meta["features"]["feature_set"]["name"] = "egemaps88"
    save_bundle(exp / "mismatch.ser", meta, bundle.model_state, bundle.norm_state)
    with pytest.raises(BundleError, match="another feature set"):
        load_bundle(exp / "mismatch.ser")
    # features extracted with another definition are refused when scored with this model
    other = exp / "feats_other"
    shutil.copytree(exp / "feats", other)
    header = yaml.safe_load((other / "feats.yaml").read_text())
    header["feature_set"]["average_frames"] = 1
    (other / "feats.yaml").write_text(yaml.safe_dump(header))
    from ser.score import Scorer, score_feature_dir

    with pytest.raises(BundleError, match="average_frames"):
        score_feature_dir(Scorer(bundle), other)
    run = score_feature_dir(Scorer(bundle), exp / "feats")
    assert len(run.results) == 8 * len(SPEAKERS) and run.failures == 0


def test_missing_default_model(monkeypatch, exp, capsys):
    import ser.bundle

    monkeypatch.setattr(ser.bundle, "DEFAULT_MODEL", exp / "no_such_dir" / "emodb.ser")
    capsys.readouterr()
    assert main(["score", str(exp / "feats")]) == 2
    assert "no default model" in capsys.readouterr().err


def test_global_normalisation_round_trip(exp, emodb_dir, capsys):
    root = exp
    assert main(["evaluate", "--quiet", "--folds", "08", str(root / "feats"), str(root / "folds"), str(root / "exp_global"),
                 *TINY_GAGRU, "train.max_epochs=1", "normalization=global"]) == 0
    assert main(["export", "--fold", "08", str(root / "exp_global"), str(root / "global.ser")]) == 0
    expected = read_scores(root / "exp_global" / "fold_08" / "scores.tsv")
    files = [str(emodb_dir / f"{u}.wav") for u in sorted(expected)]
    rc, rows = score_json(capsys, ["--model", str(root / "global.ser"), *files])
    assert rc == 0
    classes = load_bundle(root / "global.ser").classes
    for row in rows:
        assert row["normalization"] == "global"
        np.testing.assert_allclose([row["posteriors"][c] for c in classes], expected[Path(row["path"]).stem], atol=2e-6)


def test_svm_bundle(exp, emodb_dir, capsys):
    """The linear SVM on functionals: fold bundle == scores.tsv; the all-speaker bundle is refitted on everyone."""
    root = exp
    assert main(["extract", "--features", "egemaps88", "--nj", "2", "--no-progress", str(root / "data"), str(root / "func")]) == 0
    assert main(["compute-cmvn", str(root / "func")]) == 0
    assert main(["evaluate", "--quiet", "--folds", "03", str(root / "func"), str(root / "folds"), str(root / "svm"), "encoder=svm"]) == 0
    assert main(["export", "--fold", "03", str(root / "svm"), str(root / "svm03.ser")]) == 0
    expected = read_scores(root / "svm" / "fold_03" / "scores.tsv")
    files = [str(emodb_dir / f"{u}.wav") for u in sorted(expected)]
    rc, rows = score_json(capsys, ["--model", str(root / "svm03.ser"), "--speaker", "03", "--nj", "2", *files])
    assert rc == 0
    bundle = load_bundle(root / "svm03.ser")
    assert bundle.meta["training"]["train_speakers"] == ["08", "09"]  # the SVM fits train + valid speakers
    for row in rows:
        np.testing.assert_allclose([row["posteriors"][c] for c in bundle.classes], expected[Path(row["path"]).stem], atol=2e-6)
    assert main(["export", str(root / "svm"), str(root / "svm_all.ser")]) == 0
    assert load_bundle(root / "svm_all.ser").meta["training"]["train_speakers"] == list(SPEAKERS)


def test_default_model_labels_clips_without_model_argument(emodb_dir, capsys):
    """`ser score clip...` with no --model uses the shipped bundle: the 6 classes EmoDB and RAVDESS share, calibrated,
    with a model card naming both corpora and RAVDESS's licence; on clips of one of its training speakers
    (normalised with that speaker's statistics) it names the acted emotion most of the time."""
    from ser.bundle import DEFAULT_MODEL

    bundle = load_bundle(DEFAULT_MODEL)
    assert bundle.classes == ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    assert bundle.meta["calibration"]["method"] == "temperature" and bundle.output_kind == "posteriors"
    card = bundle.meta["card"]
    assert any("CC BY-NC-SA" in c["licence"] for c in card["training_corpora"]) and card["not_for"]
    letters = {"W": "anger", "E": "disgust", "A": "fear", "F": "happiness", "N": "neutral", "T": "sadness"}
    files = [p for p in sorted(emodb_dir.glob("11*.wav")) if p.stem[5] in letters][::3]
    rc, rows = score_json(capsys, ["--speaker", "11", *map(str, files)])
    assert rc == 0 and len(rows) == len(files) >= 12
    right = sum(row["label"] == letters[Path(row["path"]).stem[5]] for row in rows)
    assert right >= 0.6 * len(rows), f"{right}/{len(rows)} right"
    for row in rows:
        assert abs(sum(row["posteriors"].values()) - 1) < 1e-3 and row["normalization"].startswith("speaker:11")

def test_verify_against_a_published_hash(exp, tmp_path, capsys):
    """The seal is recomputable after an edit; a published SHA-256 (or a trusted list) is not."""
    import hashlib

    good = exp / "fold03.ser"
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    capsys.readouterr()
    assert main(["verify", str(good), "--sha256", digest]) == 0
    assert "matches a trusted SHA-256" in capsys.readouterr().out
    # an edited file, sealed again as anyone could: the seal passes, the published hash does not
    edited = tmp_path / "edited.ser"
    _rewrite(good, edited, lambda meta, arrays: meta.update(classes=list(reversed(meta["classes"]))))
    load_bundle(edited)
    (tmp_path / "trusted.txt").write_text(f"{digest}  fold03.ser\n")
    assert main(["verify", str(edited), "--trusted", str(tmp_path / "trusted.txt")]) == 2
    assert "not the published/trusted one" in capsys.readouterr().err


def test_onnx_bundle_scores_without_torch_like_the_fold(exp, emodb_dir, capsys, monkeypatch):
    """`ser export --onnx`: the file carries a checked ONNX graph and scores with torch unimportable, giving the
    fold's own scores; SER_BACKEND=torch scores the same file with its torch weights."""
    import subprocess
    import sys

    out = exp / "fold03_onnx.ser"
    assert main(["export", "--onnx", "--fold", "03", str(exp / "exp"), str(out)]) == 0
    bundle = load_bundle(out)
    assert bundle.onnx_graph and bundle.meta["onnx"]["max_abs_diff"] <= 1e-4 and bundle.model_state
    expected = read_scores(exp / "exp" / "fold_03" / "scores.tsv")
    files = [str(emodb_dir / f"{u}.wav") for u in sorted(expected)]
    block = "import sys\nfor n in ('torch', 'torchaudio', 'librosa', 'matplotlib', 'sklearn', 'scipy'):\n    sys.modules[n] = None\n"
    code = block + f"from ser.cli import main\nraise SystemExit(main(['score', '--json', '--quiet', '--model', {str(out)!r}, '--speaker', '03', *{files!r}]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(files)
    for row in rows:
        np.testing.assert_allclose([row["posteriors"][c] for c in bundle.classes], expected[Path(row["path"]).stem], atol=1e-4)
    from ser.score import Scorer

    assert type(Scorer(bundle).classifier).__name__ == "OnnxClassifier"
    monkeypatch.setenv("SER_BACKEND", "torch")
    assert type(Scorer(bundle).classifier).__name__ == "TorchClassifier"
    rc, torch_rows = score_json(capsys, ["--model", str(out), "--speaker", "03", *files])
    assert rc == 0
    for row in torch_rows:
        np.testing.assert_allclose([row["posteriors"][c] for c in bundle.classes], expected[Path(row["path"]).stem], atol=2e-6)


def test_a_group_scores_from_features_as_ser_score_speaker_does(exp, capsys):
    """`score_feature_dir(group=...)` (the cross-corpus recipe's `source` mode) pools every clip, of every speaker,
    into one set of statistics, exactly as `ser score --speaker NAME` does with the same clips' audio."""
    from ser.datadir import DataDir
    from ser.score import Scorer, score_feature_dir

    wavs = DataDir.read(exp / "feats").wav_scp
    utts = sorted(wavs)[:6] + sorted(wavs)[-6:]  # two speakers
    bundle = load_bundle(exp / "fold03.ser")
    run = score_feature_dir(Scorer(bundle), exp / "feats", utts, group="src")
    by_speaker = score_feature_dir(Scorer(bundle), exp / "feats", utts)
    assert {r.normalization for r in run.results} == {"speaker:src(12)"}
    rc, rows = score_json(capsys, ["--model", str(exp / "fold03.ser"), "--speaker", "src", *(wavs[u] for u in utts)])
    assert rc == 0 and len(rows) == len(utts)
    for r, row in zip(run.results, rows):
        assert Path(row["path"]).stem == r.clip.id and row["normalization"] == r.normalization
        np.testing.assert_allclose([row["posteriors"][c] for c in bundle.classes], r.posteriors, atol=2e-6)
    # pooling two speakers is not what grouping each by their own statistics gives
    assert any(not np.allclose(a.posteriors, b.posteriors, atol=1e-4) for a, b in zip(run.results, by_speaker.results))
    with pytest.raises(SerError, match="not both"):
        score_feature_dir(Scorer(bundle), exp / "feats", utts, alone=True, group="src")
