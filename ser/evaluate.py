"""`ser evaluate`: run every fold of a plan for one config; each fold trains, scores its test speakers and
writes its model file.

exp/<tag>/
  config.yaml      the merged config;  protocol.yaml  what the report states about the protocol
  fold_<name>/     model.ser (``ser.bundle``: classifier + fitted normaliser + metadata), train.log, scores.tsv,
                   .done (a finished fold is skipped on rerun; an unfinished one resumes from its checkpoint)

A fold is model-agnostic (``ser.classifier``): the normaliser is fitted on the utterances the model trains
on (``ser.normalization``), models that select on validation speakers get them as validation data, the
others train on them too. ``fit_model`` is also what `ser export` uses for the all-speaker model.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml

from ser.bundle import MODEL_FILE, save_bundle
from ser.classifier import Classifier, classifier_class, make_classifier
from ser.config import ExperimentConfig, load_config
from ser.datadir import DataDir
from ser.errors import SerError
from ser.features_table import FeatureTable
from ser.fileio import atomic_write, write_text_atomic
from ser.folds import read_plan
from ser.lock import OutputLock
from ser.normalization import Normalization, describe
from ser.progress import Progress
from ser.report import write_scores

DONE = ".done"
CHECKPOINT = "checkpoint.pt"


def resolve_classes(cfg: ExperimentConfig, data: DataDir) -> list[str]:
    """The config's class list, else every label of the data dir (sorted): a label set, not a statistic."""
    if cfg.classes:
        return list(cfg.classes)
    return sorted(set(data.utt2emo.values()))


def resolve_features(cfg: ExperimentConfig, table: FeatureTable) -> ExperimentConfig:
    """The config with `features:` = the feature dir's set; a config naming another set is refused."""
    held = table.feature_set_name
    if cfg.features and held and cfg.features != held:
        raise SerError(f"the config is for '{cfg.features}' features but {table.feat_dir} holds '{held}' features; "
                       f"pass features={held} to run this config on them (config.yaml then says so)")
    out = copy.deepcopy(cfg)
    out.features = held or cfg.features
    return out


def check_augment(cfg: ExperimentConfig, table: FeatureTable) -> None:
    """Augmentation the model cannot use, or copies the feature dir lacks, fail before any fold trains."""
    from ser.augment_config import check_applicable
    from ser.models.registry import get_encoder

    check_applicable(cfg.augment, cfg.encoder, get_encoder(cfg.encoder).kind != "estimator", table.frame_level)
    if cfg.augment.copies:
        table.copy_table().select(cfg.augment.copies, [], [])


def model_selection_of(cfg: ExperimentConfig) -> str:
    if not classifier_class(cfg.encoder).selects_on_validation:
        return "none (fixed settings; trained on train + valid speakers)"
    metric = {"uar": "UAR", "wa": "accuracy"}[cfg.train.select_metric]
    where = (f"a random {cfg.train.valid_split:.0%} of the training utterances (validation speakers trained on; "
             "speakers shared with training)" if cfg.train.valid_split else "the validation speakers")
    rule = f"best validation {metric} on {where} (early stopping, patience {cfg.train.patience})"
    if cfg.train.refit:
        rule += "; then retrained from scratch on train + valid speakers for the selected number of epochs (refit)"
    return rule


def protocol_of(cfg: ExperimentConfig, feat_dir: Path, folds_dir: Path, classes: list[str], table: FeatureTable) -> dict:
    fs = table.header.get("feature_set", {})
    return {
        "encoder": cfg.encoder,
        "features": fs.get("name", str(feat_dir)),
        "feature_dim": table.dim,
        "average_frames": fs.get("average_frames", 1),
        "normalization": describe(cfg.normalization)
        + (f", clipped to +-{cfg.normalization_clip:g}" if cfg.normalization_clip else ""),
        "classes": classes,
        "balance": cfg.train.balance,
        "model selection": model_selection_of(cfg),
        "augmentation": cfg.augment.describe(),
        "feat_dir": str(feat_dir.resolve()),
        "folds_dir": str(folds_dir.resolve()),
        **({"label_space": table.label_space} if table.label_space else {}),
    }


class FoldLogger:
    """Writes a fold's log lines to train.log and stderr (through `progress`, so a bar is not torn; its epoch
    shows on the bar)."""

    def __init__(self, path: Path, quiet: bool = False, prefix: str = "", progress: Progress | None = None,
                 name: str = "") -> None:
        self.handle = open(path, "a", encoding="utf-8")
        self.quiet = quiet
        self.prefix = prefix  # on stderr only, to tell parallel folds apart
        self.progress, self.name = progress, name

    def __call__(self, line: str) -> None:
        self.handle.write(line + "\n")
        self.handle.flush()
        if self.progress is not None and line.startswith("epoch"):
            self.progress.status(f"fold {self.name} {' '.join(line.split()[:2])}")
        if not self.quiet:
            if self.progress is not None:
                self.progress.write(self.prefix + line)
            else:
                print(self.prefix + line, file=sys.stderr)

    def close(self) -> None:
        self.handle.close()


@dataclass
class TrainedModel:
    """A fitted classifier with the normaliser its inputs went through, and what its model file records."""

    classifier: Classifier
    normalization: Normalization
    record: dict[str, Any]
    train_speakers: list[str]


def fit_model(cfg: ExperimentConfig, table: FeatureTable, train_utts: Sequence[str], valid_utts: Sequence[str],
              classes: Sequence[str], workdir: Path, log, held_out: Sequence[str] = ()) -> TrainedModel:
    """Fit the normaliser and the classifier of `cfg` on one fold's training (and validation) utterances.

    With `augment.copies`, augmented copies of the fold's training utterances join the training set; copies of
    validation or `held_out` (test) utterances never do (``ser.copies``)."""
    from ser.copies import training_copies

    model = make_classifier(cfg, classes, table.frame_level)
    fold_train, held = list(train_utts), list(valid_utts) + list(held_out)
    train_utts, valid_utts = list(train_utts), list(valid_utts)
    if not model.selects_on_validation:
        train_utts, valid_utts = train_utts + valid_utts, []
    norm = table.normalization(cfg.normalization, train_utts, clip=cfg.normalization_clip)
    train = table.labelled(train_utts, classes, norm, log)
    valid = table.labelled(valid_utts, classes, norm, log)
    copies = training_copies(cfg.augment, table, fold_train, held, classes, norm, log)
    if copies is not None:
        train = train + copies
    record = model.fit(train, valid, workdir, log)
    if copies is not None:
        record["augmented_copies"] = len(copies.utts)
    speakers = set(train.speakers) | (set(valid.speakers) if record.get("refit") else set())
    return TrainedModel(model, norm, record, sorted(speakers))


def model_metadata(cfg: ExperimentConfig, trained: TrainedModel, classes: Sequence[str], table: FeatureTable,
                   source: str) -> dict[str, Any]:
    """What every model file records about the model (fold models, the all-speaker model, exported bundles)."""
    from ser.frontend.versions import package_versions

    return {
        "spec": trained.classifier.spec(),
        "classes": list(classes),
        "output_kind": trained.classifier.output_kind,
        "normalization": cfg.normalization,
        "features": table.header,
        "config": cfg.to_dict(),
        "training": {"source": source, "train_speakers": trained.train_speakers, **trained.record},
        **({"label_space": table.label_space} if table.label_space else {}),
        "versions": package_versions(),
    }


def save_model(path: Path, cfg: ExperimentConfig, trained: TrainedModel, classes: Sequence[str], table: FeatureTable,
               source: str) -> Path:
    meta = model_metadata(cfg, trained, classes, table, source)
    return save_bundle(path, meta, trained.classifier.state(), trained.normalization.state())


def experiment_inputs(cfg: ExperimentConfig, feat_dir: str | Path, folds_dir: str | Path, exp_dir: str | Path):
    """What `ser evaluate` and `ser tune` start from: the features (with `cfg`'s feature set checked against
    them), the fold plan, the classes; exp_dir is created. Returns (cfg, table, plan, classes, feat_dir,
    folds_dir, exp_dir) with the dirs as Paths."""
    feat_dir, folds_dir, exp_dir = Path(feat_dir), Path(folds_dir), Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    table = FeatureTable(feat_dir)
    cfg = resolve_features(cfg, table)
    plan = read_plan(folds_dir, table.data, allow_missing=True)
    return cfg, table, plan, resolve_classes(cfg, table.data), feat_dir, folds_dir, exp_dir


def evaluate(
    cfg: ExperimentConfig,
    feat_dir: str | Path,
    folds_dir: str | Path,
    exp_dir: str | Path,
    only_folds: Sequence[str] | None = None,
    commands: Sequence[str] = (),
    quiet: bool = False,
    nj: int = 1,
    cluster: str | None = None,
) -> Path:
    """Train and test every fold (or `only_folds`), `nj` folds at a time, and write scores; returns the exp dir."""
    cfg, table, plan, classes, feat_dir, folds_dir, exp_dir = experiment_inputs(cfg, feat_dir, folds_dir, exp_dir)
    make_classifier(cfg, classes, table.frame_level)  # a wrong model for these features fails before any fold
    check_augment(cfg, table)
    config_file = exp_dir / "config.yaml"
    if config_file.is_file():
        # through load_config, so a setting added to the toolkit later (at its default) is no difference
        old = load_config(config_file).to_dict()
        if old != cfg.to_dict():
            raise SerError(f"{exp_dir} holds results of a different config; use another --tag or remove it")
    with atomic_write(config_file) as out:
        yaml.safe_dump(cfg.to_dict(), out, sort_keys=False)
    protocol = protocol_of(cfg, feat_dir, folds_dir, classes, table)
    protocol["commands"] = list(commands)
    with atomic_write(exp_dir / "protocol.yaml") as out:
        yaml.safe_dump(protocol, out, sort_keys=False)

    names = plan.names if only_folds is None else list(only_folds)
    # unfinished folds; an unknown fold name fails here, before any training
    todo = {n: plan.fold(n) for n in names if not (exp_dir / f"fold_{n}" / DONE).is_file()}
    progress = Progress(len(todo))
    try:
        if (nj <= 1 and not cluster) or not todo:
            for name, fold in todo.items():
                progress.finished(name, run_fold(cfg, table, fold, name, classes, exp_dir, quiet, progress=progress))
        else:
            run_folds_parallel(cfg, feat_dir, folds_dir, exp_dir, list(todo), classes, quiet, nj, cluster, progress)
    finally:
        progress.close()
    return exp_dir


def run_fold(cfg: ExperimentConfig, table: FeatureTable, fold, name: str, classes: list[str], exp_dir: Path,
             quiet: bool, prefix: str = "", progress: Progress | None = None) -> str:
    """Train and test one fold; scores.tsv, model.ser and .done are written only when it finished. Returns a
    summary for the progress line."""
    fold_dir = exp_dir / f"fold_{name}"
    fold_dir.mkdir(parents=True, exist_ok=True)
    with OutputLock(fold_dir):  # two runs into one experiment must not train the same fold twice
        return _run_fold(cfg, table, fold, name, classes, fold_dir, quiet, prefix, progress)


def _run_fold(cfg: ExperimentConfig, table: FeatureTable, fold, name: str, classes: list[str], fold_dir: Path,
              quiet: bool, prefix: str, progress: Progress | None = None) -> str:
    if (fold_dir / DONE).is_file():  # finished by another run while this one waited to start it
        return "finished by another run"
    log = FoldLogger(fold_dir / "train.log", quiet, prefix, progress, name)
    tick = time.perf_counter()
    try:
        log(f"fold {name}: train {len(fold.train)} ({', '.join(fold.train_speakers)}), valid {len(fold.valid)} "
            f"({', '.join(fold.valid_speakers)}), test {len(fold.test)} ({', '.join(fold.test_speakers)})")
        trained = fit_model(cfg, table, fold.train, fold.valid, classes, fold_dir, log, held_out=fold.test)
        test = table.labelled(fold.test, classes, trained.normalization, log)
        post = trained.classifier.posteriors(test.inputs)
        truth = [classes[i] for i in test.labels]
        write_scores(fold_dir / "scores.tsv", test.utts, truth, post, classes)
        save_model(fold_dir / MODEL_FILE, cfg, trained, classes, table, f"fold {name}")
        (fold_dir / CHECKPOINT).unlink(missing_ok=True)
        correct = sum(t == classes[int(np.argmax(p))] for t, p in zip(truth, post))
        log(f"fold {name}: test accuracy {correct}/{len(truth)} in {time.perf_counter() - tick:.1f}s")
        write_text_atomic(fold_dir / DONE, "")
    finally:
        log.close()
    return f"test accuracy {correct}/{len(truth)}"


def _fold_worker(task: tuple) -> str:
    """One fold in a worker process: it reloads the features itself (cheaper than pickling them); returns the
    fold's summary."""
    cfg_dict, feat_dir, folds_dir, exp_dir, name, classes, quiet, threads = task
    cfg = ExperimentConfig(**copy.deepcopy(cfg_dict))
    if threads:
        cfg.train.threads = threads
    table = FeatureTable(Path(feat_dir))
    plan = read_plan(Path(folds_dir), table.data, allow_missing=True)
    return run_fold(cfg, table, plan.fold(name), name, classes, Path(exp_dir), quiet, prefix=f"[fold {name}] ")


def run_folds_parallel(cfg: ExperimentConfig, feat_dir: Path, folds_dir: Path, exp_dir: Path, names: list[str],
                       classes: list[str], quiet: bool, nj: int, cluster: str | None = None,
                       progress: Progress | None = None) -> None:
    """Folds in `nj` processes, each with its share of the CPU threads (small recurrent models use one
    core badly, so two folds side by side nearly halve a LOSO's wall time). A failing fold does not stop
    the others; the first failure is raised after they finish, and finished folds keep their .done."""
    import os

    from ser.parallel import completed_map

    threads = cfg.train.threads or max(1, (os.cpu_count() or 1) // nj)
    tasks = [(cfg.to_dict(), str(feat_dir.resolve()), str(folds_dir.resolve()), str(exp_dir.resolve()), name, classes,
              quiet, threads) for name in names]
    failures: list[tuple[str, BaseException]] = []
    for task, summary, err in completed_map(_fold_worker, tasks, max(nj, 1), start_method="spawn", cluster=cluster):
        if err is not None:
            if progress is not None:
                progress.write(f"fold {task[4]} failed: {err}")
            else:
                print(f"fold {task[4]} failed: {err}", file=sys.stderr)
            failures.append((task[4], err))
        if progress is not None:
            progress.finished(task[4], "failed" if err is not None else summary)
    if failures:
        name, err = failures[0]
        if isinstance(err, SerError):
            raise SerError(f"{len(failures)} fold(s) failed ({', '.join(n for n, _ in failures)}); fold {name}: {err}")
        raise err


__all__ = [
    "CHECKPOINT",
    "DONE",
    "FoldLogger",
    "TrainedModel",
    "check_augment",
    "evaluate",
    "experiment_inputs",
    "fit_model",
    "model_metadata",
    "model_selection_of",
    "protocol_of",
    "resolve_classes",
    "resolve_features",
    "run_fold",
    "run_folds_parallel",
    "save_model",
]
