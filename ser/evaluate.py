"""`ser evaluate`: run every fold of a plan for one config and write per-fold scores.

exp/<tag>/
  config.yaml      the merged config;  protocol.yaml  what the report states about the protocol
  fold_<name>/     model.pt, train.log, scores.tsv, .done (a finished fold is skipped on rerun;
                   an unfinished one resumes from its checkpoint)
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml

from ser.baselines import SKLEARN_ENCODERS, LinearSVMClassifier, make_svm_config
from ser.config import ExperimentConfig, load_config
from ser.datadir import DataDir
from ser.errors import SerError
from ser.features_table import FeatureTable
from ser.fileio import atomic_write, write_text_atomic
from ser.folds import read_plan

DONE = ".done"
SELECT_DIR = "select"  # with train.refit: the early-stopping run that picks the epoch count


def resolve_classes(cfg: ExperimentConfig, data: DataDir) -> list[str]:
    """The config's class list, else every label of the data dir (sorted): a label set, not a statistic."""
    if cfg.classes:
        return list(cfg.classes)
    return sorted(set(data.utt2emo.values()))


def model_selection_of(cfg: ExperimentConfig) -> str:
    if cfg.encoder in SKLEARN_ENCODERS:
        return "none (fixed C; trained on train + valid speakers)"
    rule = f"best validation UAR (early stopping, patience {cfg.train.patience})"
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
        "normalisation": {
            "speaker": "per-speaker z-normalisation (each speaker's own unlabelled audio, cmvn.scp)",
            "global": "global z-normalisation from each fold's training utterances only",
            "utterance": "per-utterance z-normalisation",
            "none": "none",
        }[cfg.normalization],
        "classes": classes,
        "balance": cfg.train.balance,
        "model selection": model_selection_of(cfg),
        "feat_dir": str(feat_dir.resolve()),
        "folds_dir": str(folds_dir.resolve()),
    }


class FoldLogger:
    """Writes a fold's log lines to train.log and stderr."""

    def __init__(self, path: Path, quiet: bool = False, prefix: str = "") -> None:
        self.handle = open(path, "a", encoding="utf-8")
        self.quiet = quiet
        self.prefix = prefix  # on stderr only, to tell parallel folds apart

    def __call__(self, line: str) -> None:
        self.handle.write(line + "\n")
        self.handle.flush()
        if not self.quiet:
            print(self.prefix + line, file=sys.stderr)

    def close(self) -> None:
        self.handle.close()


def run_svm_fold(cfg: ExperimentConfig, table: FeatureTable, fold, classes: list[str], fold_dir: Path, log) -> tuple[list[str], list[str], np.ndarray]:
    from ser.train import label_split, torch_save_atomic

    if table.level != "utterance":
        raise SerError("the svm baseline needs utterance-level functionals (e.g. --features egemaps88)")
    svm_cfg = make_svm_config(cfg.encoder_conf)
    fit_utts = list(fold.train) + list(fold.valid)
    global_stats = table.global_stats(fit_utts) if cfg.normalization == "global" else None
    train = label_split(table, fit_utts, classes, global_stats, {}, log)
    test = label_split(table, fold.test, classes, global_stats, {}, log)
    x = np.stack([m[0] for m in train.inputs])
    model = LinearSVMClassifier(svm_cfg, classes).fit(x, train.targets["emotion"])
    post = model.posteriors(np.stack([m[0] for m in test.inputs])) if test.utts else np.zeros((0, len(classes)))
    meta = {"format": 1, "spec": {"encoder": "svm", "encoder_conf": cfg.encoder_conf, "input_dim": table.dim,
            "num_classes": len(classes)}, "classes": classes, "normalization": cfg.normalization,
            "features": table.header, "config": cfg.to_dict(), "train_speakers": sorted({table.data.utt2spk[u] for u in train.utts})}
    torch_save_atomic({"meta": meta, "state_dict": model.state()}, fold_dir / "model.pt")
    log(f"svm trained on {len(train.utts)} utterances ({x.shape[1]}-d)")
    return test.utts, [classes[i] for i in test.targets["emotion"]], post


def run_torch_fold(cfg: ExperimentConfig, table: FeatureTable, fold, classes: list[str], fold_dir: Path, log) -> tuple[list[str], list[str], np.ndarray]:
    from ser.train import label_split, pick_device, predict, train_fold

    if cfg.train.refit and fold.valid:
        model, outcome, _ = train_fold(cfg, table, fold.train, fold.valid, classes, fold_dir / SELECT_DIR, log)
        log(f"selected epoch {outcome.best_epoch} (valid UAR {outcome.best_valid_uar:.4f}); refit on train + valid "
            f"({len(fold.train) + len(fold.valid)} utterances) for {outcome.best_epoch} epochs")
        refit_cfg = copy.deepcopy(cfg)
        refit_cfg.train.max_epochs = refit_cfg.train.min_epochs = outcome.best_epoch
        model, _, _ = train_fold(refit_cfg, table, list(fold.train) + list(fold.valid), [], classes, fold_dir, log)
        (fold_dir / SELECT_DIR / "checkpoint.pt").unlink(missing_ok=True)
    else:
        model, outcome, _ = train_fold(cfg, table, fold.train, fold.valid, classes, fold_dir, log)
    global_stats = table.global_stats(fold.train) if cfg.normalization == "global" else None
    test = label_split(table, fold.test, classes, global_stats, {}, log)
    post = predict(model, test.inputs, table.level == "frame", pick_device(cfg.train.device))
    log(f"best epoch {outcome.best_epoch} (valid UAR {outcome.best_valid_uar:.4f}); {outcome.epochs_run} epochs in {outcome.seconds:.1f}s")
    return test.utts, [classes[i] for i in test.targets["emotion"]], post


def evaluate(
    cfg: ExperimentConfig,
    feat_dir: str | Path,
    folds_dir: str | Path,
    exp_dir: str | Path,
    only_folds: Sequence[str] | None = None,
    commands: Sequence[str] = (),
    quiet: bool = False,
    nj: int = 1,
) -> Path:
    """Train and test every fold (or `only_folds`), `nj` folds at a time, and write scores; returns the exp dir."""
    feat_dir, folds_dir, exp_dir = Path(feat_dir), Path(folds_dir), Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    table = FeatureTable(feat_dir, cfg.normalization)
    plan = read_plan(folds_dir, table.data, allow_missing=True)
    classes = resolve_classes(cfg, table.data)
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
    if nj <= 1 or len(todo) <= 1:
        for name, fold in todo.items():
            run_fold(cfg, table, fold, name, classes, exp_dir, quiet)
    else:
        run_folds_parallel(cfg, feat_dir, folds_dir, exp_dir, list(todo), classes, quiet, nj)
    return exp_dir


def run_fold(cfg: ExperimentConfig, table: FeatureTable, fold, name: str, classes: list[str], exp_dir: Path,
             quiet: bool, prefix: str = "") -> None:
    """Train and test one fold; scores.tsv and .done are written only when it finished."""
    from ser.train import write_scores

    fold_dir = exp_dir / f"fold_{name}"
    fold_dir.mkdir(parents=True, exist_ok=True)
    log = FoldLogger(fold_dir / "train.log", quiet, prefix)
    tick = time.perf_counter()
    try:
        log(f"fold {name}: train {len(fold.train)} ({', '.join(fold.train_speakers)}), valid {len(fold.valid)} "
            f"({', '.join(fold.valid_speakers)}), test {len(fold.test)} ({', '.join(fold.test_speakers)})")
        runner = run_svm_fold if cfg.encoder in SKLEARN_ENCODERS else run_torch_fold
        utts, truth, post = runner(cfg, table, fold, classes, fold_dir, log)
        write_scores(fold_dir / "scores.tsv", utts, truth, post, classes)
        checkpoint = fold_dir / "checkpoint.pt"
        if checkpoint.exists():
            checkpoint.unlink()
        correct = sum(t == classes[int(np.argmax(p))] for t, p in zip(truth, post))
        log(f"fold {name}: test accuracy {correct}/{len(truth)} in {time.perf_counter() - tick:.1f}s")
        write_text_atomic(fold_dir / DONE, "")
    finally:
        log.close()


def _fold_worker(cfg_dict: dict, feat_dir: str, folds_dir: str, exp_dir: str, name: str, classes: list[str],
                 quiet: bool, threads: int) -> str:
    """One fold in a worker process: it reloads the features itself (cheaper than pickling them)."""
    cfg = ExperimentConfig(**copy.deepcopy(cfg_dict))
    if threads:
        cfg.train.threads = threads
    table = FeatureTable(Path(feat_dir), cfg.normalization)
    plan = read_plan(Path(folds_dir), table.data, allow_missing=True)
    run_fold(cfg, table, plan.fold(name), name, classes, Path(exp_dir), quiet, prefix=f"[fold {name}] ")
    return name


def run_folds_parallel(cfg: ExperimentConfig, feat_dir: Path, folds_dir: Path, exp_dir: Path, names: list[str],
                       classes: list[str], quiet: bool, nj: int) -> None:
    """Folds in `nj` processes, each with its share of the CPU threads (small recurrent models use one
    core badly, so two folds side by side nearly halve a LOSO's wall time). A failing fold does not stop
    the others; the first failure is raised after they finish, and finished folds keep their .done."""
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = cfg.train.threads or max(1, (os.cpu_count() or 1) // nj)
    failures: list[tuple[str, BaseException]] = []
    # spawn, not fork: a forked child of a process whose torch/OpenMP threads already ran can deadlock
    with ProcessPoolExecutor(max_workers=min(nj, len(names)), mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_fold_worker, cfg.to_dict(), str(feat_dir), str(folds_dir), str(exp_dir), name,
                               classes, quiet, threads): name for name in names}
        for future in as_completed(futures):
            try:
                future.result()
            except BaseException as err:  # noqa: BLE001 - reported below, after the other folds
                print(f"fold {futures[future]} failed: {err}", file=sys.stderr)
                failures.append((futures[future], err))
    if failures:
        name, err = failures[0]
        if isinstance(err, SerError):
            raise SerError(f"{len(failures)} fold(s) failed ({', '.join(n for n, _ in failures)}); fold {name}: {err}")
        raise err
