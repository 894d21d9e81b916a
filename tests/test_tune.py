"""`ser tune` on real EmoDB eGeMAPS functionals: the nested search never sees the outer test speaker,
inner folds hold only outer-training speakers, and the verb writes its report end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from ser.cli import main
from ser.config import load_config
from ser.datadir import DataDir, read_map, write_map
from ser.errors import SerError
from ser.features_table import FeatureTable
from ser.folds import read_plan
from ser.search_space import SearchSpace, apply_settings, resolve_path
from ser.tune import SearchSettings, inner_folds, search, training_table, tune

SPEAKERS = ("03", "08", "09", "10", "11")
LETTERS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}
SPACE = {"C": {"log_uniform": [1e-3, 10]}}
LOGREG = ["encoder=logreg"]
SHUFFLED = "03"


@pytest.fixture(scope="module")
def feats(emodb_dir, tmp_path_factory):
    """Five speakers, 14 utterances each spread over the emotions, egemaps88 + per-speaker CMVN, LOSO folds;
    and a copy of the features whose speaker 03 has its labels permuted (root/shuffled)."""
    root = tmp_path_factory.mktemp("tune")
    ids = []
    for spk in SPEAKERS:
        own = sorted((p.stem for p in emodb_dir.glob(f"{spk}*.wav")), key=lambda u: (u[5], u))
        ids += own[:: max(1, len(own) // 14)][:14]
    DataDir(maps={"wav.scp": {u: str(emodb_dir / f"{u}.wav") for u in ids}, "utt2spk": {u: u[:2] for u in ids},
                  "utt2emo": {u: LETTERS[u[5]] for u in ids}}).write(root / "data")
    assert main(["extract", "--features", "egemaps88", "--nj", "2", "--no-progress", str(root / "data"), str(root / "feats")]) == 0
    assert main(["compute-cmvn", str(root / "feats")]) == 0
    assert main(["make-folds", str(root / "data"), str(root / "folds")]) == 0
    shutil.copytree(root / "feats", root / "shuffled")
    utt2emo = read_map(root / "shuffled" / "utt2emo")
    own = sorted(u for u in utt2emo if u.startswith(SHUFFLED))
    labels = [utt2emo[u] for u in own]
    for u, label in zip(own, labels[5:] + labels[:5]):  # a rotation: most of the speaker's labels change
        utt2emo[u] = label
    assert sum(utt2emo[u] != l for u, l in zip(own, labels)) >= len(own) // 2
    write_map(root / "shuffled" / "utt2emo", utt2emo)
    return root


def settings(trials: int = 4, batch: int = 2, inner: str = "loso") -> SearchSettings:
    return SearchSettings(SearchSpace.from_dict(SPACE), trials=trials, batch=batch, inner=inner)


def searched(exp: Path, fold: str) -> dict:
    return json.loads((exp / f"fold_{fold}" / "search.json").read_text())


def test_outer_test_labels_never_reach_the_search(feats):
    """The issue's test: shuffling the outer test speaker's labels leaves that fold's search (every trial's
    settings and inner scores, hence the chosen settings) unchanged; the same shuffle does change the search
    of a fold where that speaker trains, so the comparison can see a leak."""
    cfg = load_config(None, LOGREG)
    for name, feat_dir in (("plain", feats / "feats"), ("shuffled", feats / "shuffled")):
        tune(cfg, settings(), feat_dir, feats / "folds", feats / name, only_folds=[SHUFFLED, "08"], quiet=True)
    plain, shuffled = searched(feats / "plain", SHUFFLED), searched(feats / "shuffled", SHUFFLED)
    assert shuffled["trials"] == plain["trials"] and shuffled["chosen"] == plain["chosen"]
    assert [t["inner_uars"] for t in searched(feats / "plain", "08")["trials"]] != \
           [t["inner_uars"] for t in searched(feats / "shuffled", "08")["trials"]]
    # the outer test of fold 03 did read the shuffled labels (its scores differ): only the search is blind to them
    assert (feats / "plain" / f"fold_{SHUFFLED}" / "scores.tsv").read_text() != \
           (feats / "shuffled" / f"fold_{SHUFFLED}" / "scores.tsv").read_text()


def test_every_fold_search_is_blind_to_its_test_speaker(feats):
    """The same, for every outer fold, in memory: permuting the test speaker's labels in the feature table leaves
    that fold's trial (its settings and every inner score: the search's only view of the data) unchanged."""
    import copy

    table = FeatureTable(feats / "feats")
    plan = read_plan(feats / "folds", table.data)
    classes = sorted(set(table.data.utt2emo.values()))
    cfg = load_config(None, LOGREG)
    for fold in plan.folds:
        shuffled = copy.copy(table)
        shuffled.data = copy.deepcopy(table.data)
        labels = shuffled.data.maps["utt2emo"]
        own = sorted(fold.test)
        for u, label in zip(own, [labels[u] for u in own[3:] + own[:3]]):
            labels[u] = label
        runs = [search(cfg, settings(trials=1), {fold.name: training_table(t, fold)}, classes)[fold.name]
                for t in (table, shuffled)]
        assert [vars(t) for t in runs[0].trials] == [vars(t) for t in runs[1].trials], fold.name
        assert runs[0].best.params == runs[1].best.params


@pytest.mark.parametrize("inner", ["loso", "kfold:3"])
def test_inner_folds_hold_only_outer_training_speakers(feats, inner):
    table = FeatureTable(feats / "feats")
    plan = read_plan(feats / "folds", table.data)
    for fold in plan.folds:
        part = training_table(table, fold)
        training = set(fold.train_speakers) | set(fold.valid_speakers)
        assert set(part.data.utt2spk.values()) == training and not set(part.utts) & set(fold.test)
        assert set(part.all_speaker_stats()) == training  # not even the test speaker's unlabelled statistics
        folds = inner_folds(part, inner)
        assert sorted(s for f in folds for s in f.test_speakers) == sorted(training)  # each tested once
        for f in folds:
            assert set(f.train_speakers + f.valid_speakers + f.test_speakers) <= training
    # what the trials are handed (in-process runner that records its tasks): tables without the test speaker
    fold = plan.fold("09")
    seen: list[tuple] = []

    def recording(fn, tasks):
        seen.extend(tasks)
        return [fn(t) for t in tasks]

    found = search(load_config(None, LOGREG), settings(trials=2, inner=inner), {"09": training_table(table, fold)},
                   sorted(set(table.data.utt2emo.values())), recording)
    assert len(seen) == 2 and len(found["09"].trials) == 2
    for _, trial_table, trial_folds, _, _ in seen:
        assert "09" not in set(trial_table.data.utt2spk.values()) and not set(trial_table.utts) & set(fold.test)
        assert all("09" not in f.test_speakers + f.train_speakers + f.valid_speakers for f in trial_folds)


def test_cli_end_to_end_writes_the_report(feats, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("C: {log_uniform: [1e-3, 10]}\n")
    exp = tmp_path / "exp"
    argv = ["tune", "--quiet", "--space", str(space), "--trials", "4", "--batch", "2", "--nj", "2",
            str(feats / "feats"), str(feats / "folds"), str(exp), *LOGREG]
    assert main(argv) == 0
    results = json.loads((exp / "results.json").read_text())
    assert results["num_folds"] == len(SPEAKERS) and 0 < results["pooled"]["uar"] <= 1
    tuning = results["tuning"]
    assert tuning["trials"] == 4 and tuning["space"] == {"encoder_conf.C": {"log_uniform": [1e-3, 10.0]}}
    for spk in SPEAKERS:
        chosen = tuning["folds"][spk]
        assert 1e-3 <= chosen["chosen"]["encoder_conf.C"] <= 10 and 0 < chosen["inner_uar"] <= 1
        assert spk not in chosen["train_speakers"] and chosen["inner_folds"] == len(SPEAKERS) - 1
        # the refit used the chosen settings, and its model file says so
        assert load_config(exp / f"fold_{spk}" / "config.yaml").encoder_conf["C"] == chosen["chosen"]["encoder_conf.C"]
    text = (exp / "RESULTS.md").read_text()
    assert "## Nested search" in text and "Nested-tuned results" in text and "INCOMPLETE" not in text
    assert "nested search: 4 trials" in yaml.safe_load((exp / "protocol.yaml").read_text())["model selection"]
    # `ser report` on the tuned experiment keeps the nested-search part
    (exp / "RESULTS.md").unlink()
    assert main(["report", str(exp)]) == 0
    again = (exp / "RESULTS.md").read_text()
    assert again.startswith("# Nested-tuned results") and "## Nested search" in again
    assert json.loads((exp / "results.json").read_text())["tuning"] == tuning
    # worker processes and batches of the same size give the search run in-process above
    if (feats / "plain" / f"fold_{SHUFFLED}" / "search.json").is_file():
        assert searched(exp, SHUFFLED)["trials"] == searched(feats / "plain", SHUFFLED)["trials"]
    # the all-speaker export would use the untuned base config: refused; one fold's tuned model exports
    assert main(["export", str(exp), str(tmp_path / "all.ser")]) == 2
    assert main(["export", "--fold", "03", str(exp), str(tmp_path / "fold03.ser")]) == 0
    # a rerun finds every fold done; another search into the same dir is refused
    before = (exp / "fold_03" / "search.json").stat().st_mtime_ns
    assert main(argv[:-1] + LOGREG) == 0
    assert (exp / "fold_03" / "search.json").stat().st_mtime_ns == before
    argv[argv.index("--trials") + 1] = "5"
    assert main(argv) == 2


def test_search_space_parsing_and_errors(tmp_path):
    assert resolve_path("C") == "encoder_conf.C" and resolve_path("lr") == "train.lr"
    assert resolve_path("normalization") == "normalization" and resolve_path("heads_conf.dropout") == "heads_conf.dropout"
    space = SearchSpace.from_dict({"C": {"log_uniform": ["1e-3", 10]}, "hidden_size": {"choice": [64, 128]},
                                   "train.batch_size": {"int": [8, 32]}})
    assert [p.path for p in space.params] == ["encoder_conf.C", "encoder_conf.hidden_size", "train.batch_size"]
    assert space.params[0].args == (1e-3, 10.0)
    cfg = apply_settings(load_config(None, LOGREG), {"encoder_conf.C": 0.5, "train.lr": 0.01})
    assert cfg.encoder_conf["C"] == 0.5 and cfg.train.lr == 0.01
    for bad in ({"C": {"log_uniform": [0, 1]}}, {"C": {"uniform": [2, 1]}}, {"C": {"gauss": [0, 1]}},
                {"C": {"int": [1.5, 3]}}, {"C": {"choice": [1, 1]}}, {"C": [1, 2]}, {},
                {"C": {"uniform": [0, 1]}, "encoder_conf.C": {"uniform": [0, 1]}}):
        with pytest.raises(SerError):
            SearchSpace.from_dict(bad)
    with pytest.raises(SerError, match="--inner"):
        settings(inner="kfold:x")
    with pytest.raises(SerError, match="K >= 3"):
        settings(inner="kfold:2")


def test_a_setting_the_model_does_not_know_fails_before_any_trial(feats, tmp_path):
    cfg = load_config(None, LOGREG)
    bad = SearchSettings(SearchSpace.from_dict({"hidden_size": {"choice": [64, 128]}}), trials=2)
    with pytest.raises(SerError, match="hidden_size"):
        tune(cfg, bad, feats / "feats", feats / "folds", tmp_path / "exp", quiet=True)
    assert not list((tmp_path / "exp").glob("fold_*"))


def test_trials_on_a_dask_cluster_equal_an_in_process_search(feats, tmp_path):
    pytest.importorskip("distributed")
    cfg = load_config(None, LOGREG)
    for name, cluster in (("here", None), ("dask", "local:2")):
        tune(cfg, settings(trials=2), feats / "feats", feats / "folds", tmp_path / name, only_folds=["10"], quiet=True,
             cluster=cluster)
    assert searched(tmp_path / "dask", "10") == searched(tmp_path / "here", "10")
    assert (tmp_path / "dask" / "fold_10" / "scores.tsv").read_text() == (tmp_path / "here" / "fold_10" / "scores.tsv").read_text()


def test_an_evaluate_experiment_dir_is_refused(feats, tmp_path):
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "config.yaml").write_text("encoder: logreg\n")
    with pytest.raises(SerError, match="ser evaluate"):
        tune(load_config(None, LOGREG), settings(), feats / "feats", feats / "folds", tmp_path / "exp", quiet=True)
