"""Nested hyper-parameter search (`ser tune`): settings chosen without the test speaker, then tested once.

Why nested: choosing settings by their score on the test folds reports the best of many tries, not what a
new speaker will see. Here, for each outer fold of a plan (e.g. LOSO), a search (Optuna's TPE sampler with a
fixed seed) scores candidate settings on inner speaker-grouped folds built only from that fold's training
speakers (train + valid); the best settings are then refitted on all of them exactly as `ser evaluate` trains
a fold (``ser.evaluate.run_fold``) and tested once on the outer test speaker(s).

The test speakers cannot reach the search: it is handed ``FeatureTable.subset`` of the training utterances,
which holds no other features, labels or speaker statistics, and never the feature dir or the plan. Each inner
fold fits its own normaliser on its own training part (``ser.evaluate.fit_model``), as evaluation does.

A trial = one candidate scored on every inner fold (objective: mean inner UAR over the inner folds). Trials
run on the project's executor (``ser.parallel``: local processes, or Dask with `--cluster`): each round asks
every unfinished outer fold's study for `batch` trials, runs them all at once, then tells the results in
trial order. The batch size, not the worker count, fixes what the sampler sees, so `--nj` and `--cluster`
change the wall time and never the chosen settings.

exp_dir/ (an experiment dir `ser report` also reads)
  config.yaml (the base config)  space.yaml  tune.yaml (trials, seed, inner scheme, batch)  protocol.yaml
  fold_<name>/search.json  every trial's settings and inner scores, the inner folds, the chosen settings
  fold_<name>/{config.yaml, scores.tsv, model.ser, train.log, .done}  the refit on the tuned settings, as evaluate writes
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import yaml

from ser.classifier import make_classifier
from ser.config import ExperimentConfig, load_config
from ser.errors import SerError
from ser.features_table import FeatureTable
from ser.fileio import atomic_write, write_text_atomic
from ser.folds import Fold, build_plan
from ser.metrics import Metrics
from ser.search_space import SearchSpace, apply_settings
from ser.tune_report import SEARCH_FILE, TUNE_FILE, write_tune_report

SPACE_FILE = "space.yaml"
#: the inner folds unless told otherwise: leave one training speaker out
DEFAULT_INNER = "loso"
DEFAULT_BATCH = 4
DEFAULT_SEED = 0


@dataclass(frozen=True)
class SearchSettings:
    """What fixes a search's result: the space, the number of trials, the sampler seed, the inner folds, the batch."""

    space: SearchSpace
    trials: int = 20
    seed: int = DEFAULT_SEED
    inner: str = DEFAULT_INNER
    batch: int = DEFAULT_BATCH

    def __post_init__(self) -> None:
        if self.trials < 1 or self.batch < 1:
            raise SerError("--trials and --batch must be at least 1")
        inner_kind(self.inner)

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space.to_dict(), "trials": self.trials, "seed": self.seed, "inner": self.inner,
                "batch": self.batch, "sampler": f"optuna TPESampler(seed={self.seed}, constant_liar=True)",
                "objective": "mean inner UAR over the inner folds (maximised)"}


@dataclass
class TrialResult:
    number: int
    params: dict[str, Any]
    inner_uar: float
    inner_uars: dict[str, float]


@dataclass
class FoldSearch:
    """The search of one outer fold: its training speakers, inner folds, every trial and the chosen one."""

    name: str
    train_speakers: list[str]
    inner_folds: list[Fold]
    trials: list[TrialResult] = field(default_factory=list)

    @property
    def best(self) -> TrialResult:
        """Highest mean inner UAR; a tie goes to the earlier trial."""
        return max(self.trials, key=lambda t: (t.inner_uar, -t.number))

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "fold": self.name,
            "train_speakers": self.train_speakers,
            "inner_folds": [{"name": f.name, "train_speakers": f.train_speakers, "valid_speakers": f.valid_speakers,
                             "test_speakers": f.test_speakers} for f in self.inner_folds],
            "chosen": {"trial": best.number, "params": best.params, "inner_uar": best.inner_uar,
                       "inner_uars": best.inner_uars},
            "trials": [vars(t) for t in self.trials],
        }


# --- inner folds ---------------------------------------------------------------------------------------
def inner_kind(scheme: str) -> tuple[str, int | None]:
    """`loso` -> ("loso", None); `kfold:K` -> ("kfold-speakers", K)."""
    if scheme == "loso":
        return "loso", None
    if scheme.startswith("kfold:") and scheme[6:].isdigit() and int(scheme[6:]) >= 3:
        return "kfold-speakers", int(scheme[6:])  # ser.folds: test, validation and training groups
    raise SerError(f"--inner '{scheme}': give loso (leave one training speaker out) or kfold:K (K >= 3 speaker groups)")


def inner_folds(training: FeatureTable, scheme: str = DEFAULT_INNER) -> list[Fold]:
    """Speaker-grouped folds over the speakers of `training` only (``ser.folds`` rules, disjointness checked)."""
    kind, groups = inner_kind(scheme)
    return build_plan(training.data, kind, groups=groups).folds


# --- one trial (runs in a worker) ----------------------------------------------------------------------
def score_inner_fold(cfg: ExperimentConfig, training: FeatureTable, fold: Fold, classes: Sequence[str]) -> float:
    """UAR on the inner test speaker(s) of a model fitted (normaliser included) on the inner training part."""
    from ser.evaluate import fit_model

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ser-tune-") as work:
        trained = fit_model(cfg, training, fold.train, fold.valid, classes, Path(work), notes.append)
    test = training.labelled(fold.test, classes, trained.normalization, notes.append)
    post = trained.classifier.posteriors(test.inputs)
    predicted = [classes[int(i)] for i in np.argmax(post, axis=1)]
    return Metrics.from_labels([classes[i] for i in test.labels], predicted, classes).uar


def run_trial(task: tuple) -> dict[str, float]:
    """One trial: inner fold name -> UAR. The task carries the training table itself, so a worker reads no files."""
    cfg_dict, training, folds, classes, threads = task
    cfg = ExperimentConfig(**copy.deepcopy(cfg_dict))
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
        cfg.train.threads = cfg.train.threads or threads
    return {fold.name: score_inner_fold(cfg, training, fold, classes) for fold in folds}


# --- the search ------------------------------------------------------------------------------------------
Runner = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]


def _in_process(fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
    return [fn(t) for t in tasks]


def search(cfg: ExperimentConfig, settings: SearchSettings, training: Mapping[str, FeatureTable],
           classes: Sequence[str], run: Runner = _in_process, threads: int = 0,
           log: Callable[[str], None] = lambda line: None) -> dict[str, FoldSearch]:
    """Search each outer fold's settings on inner folds of its training table (fold name -> its table only).

    Nothing here can read a test speaker: the tables hold only the outer folds' training utterances.
    """
    try:
        import optuna
    except ImportError:
        raise SerError("ser tune needs Optuna: pip install 'ser[tune]'") from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = settings.space.distributions()
    studies, results = {}, {}
    for name, table in training.items():
        studies[name] = optuna.create_study(direction="maximize",
                                            sampler=optuna.samplers.TPESampler(seed=settings.seed, constant_liar=True))
        results[name] = FoldSearch(name, sorted(set(table.data.utt2spk.values())), inner_folds(table, settings.inner))
    while True:
        asked = []  # (fold name, trial) in a fixed order: folds as given, trials as asked
        for name, study in studies.items():
            todo = min(settings.batch, settings.trials - len(results[name].trials))
            asked += [(name, study.ask(fixed_distributions=distributions)) for _ in range(todo)]
        if not asked:
            return results
        tasks = [(apply_settings(cfg, trial.params).to_dict(), training[name], results[name].inner_folds, list(classes),
                  threads) for name, trial in asked]
        for (name, trial), scores in zip(asked, run(run_trial, tasks)):
            value = float(np.mean(list(scores.values())))
            studies[name].tell(trial, value)
            results[name].trials.append(TrialResult(trial.number, dict(trial.params), value, scores))
        for name in dict.fromkeys(n for n, _ in asked):
            best = results[name].best
            log(f"fold {name}: {len(results[name].trials)}/{settings.trials} trials; best inner UAR "
                f"{100 * best.inner_uar:.2f} ({_settings_text(best.params)})")


def _settings_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


# --- the experiment --------------------------------------------------------------------------------------
def training_table(table: FeatureTable, fold: Fold) -> FeatureTable:
    """The outer fold's training utterances (train + valid speakers) and nothing else."""
    part = table.subset(fold.train + fold.valid)
    leaked = set(part.utts) & set(fold.test) or set(part.data.utt2spk.values()) & set(fold.test_speakers)
    if leaked:  # read_plan checked disjointness already; this guards the search itself
        raise SerError(f"fold {fold.name}: the search table would hold test data ({sorted(leaked)[0]})")
    return part


def selection_text(cfg: ExperimentConfig, settings: SearchSettings, fold_rule: str) -> str:
    """What the report says about how settings (and epochs) were chosen."""
    from ser.classifier import classifier_class

    refit = ("refitted on all outer training speakers (train + valid)"
             if not classifier_class(cfg.encoder).selects_on_validation
             else f"refitted on the outer train speakers, selecting on the outer valid speaker(s) as evaluate does: {fold_rule}")
    return (f"nested search: {settings.trials} trials of Optuna TPE (seed {settings.seed}, batches of {settings.batch}) "
            f"per outer fold over {'; '.join(settings.space.describe())}; objective = mean UAR over inner "
            f"{settings.inner} folds of the outer fold's training speakers only; the chosen settings {refit}, "
            "then tested once on the outer test speaker(s)")


def _check_same(path: Path, content: dict[str, Any], what: str, exp_dir: Path) -> None:
    if path.is_file() and yaml.safe_load(path.read_text(encoding="utf-8")) != content:
        raise SerError(f"{exp_dir} holds results of a different {what}; use another exp dir or remove it")


def tune(cfg: ExperimentConfig, settings: SearchSettings, feat_dir: str | Path, folds_dir: str | Path,
         exp_dir: str | Path, only_folds: Sequence[str] | None = None, commands: Sequence[str] = (), quiet: bool = False,
         nj: int = 1, cluster: str | None = None) -> Path:
    """Nested search + refit + test for every outer fold (or `only_folds`), then the report; returns exp_dir."""
    from ser.evaluate import DONE, _fold_worker, experiment_inputs, protocol_of
    from ser.parallel import batch_runner

    cfg, table, plan, classes, feat_dir, folds_dir, exp_dir = experiment_inputs(cfg, feat_dir, folds_dir, exp_dir)
    # a space key the model does not know, or a model wrong for these features, fails before any trial
    make_classifier(apply_settings(cfg, settings.space.probe()), classes, table.frame_level)
    if (exp_dir / "config.yaml").is_file() and not (exp_dir / TUNE_FILE).is_file():
        raise SerError(f"{exp_dir} holds a `ser evaluate` experiment; give `ser tune` a dir of its own")
    if (exp_dir / "config.yaml").is_file() and load_config(exp_dir / "config.yaml").to_dict() != cfg.to_dict():
        raise SerError(f"{exp_dir} holds results of a different config; use another exp dir or remove it")
    _check_same(exp_dir / TUNE_FILE, settings.to_dict(), "search", exp_dir)
    with atomic_write(exp_dir / "config.yaml") as out:
        yaml.safe_dump(cfg.to_dict(), out, sort_keys=False)
    with atomic_write(exp_dir / TUNE_FILE) as out:
        yaml.safe_dump(settings.to_dict(), out, sort_keys=False)
    write_text_atomic(exp_dir / SPACE_FILE, settings.space.source or yaml.safe_dump(settings.space.to_dict(), sort_keys=False))
    protocol = protocol_of(cfg, feat_dir, folds_dir, classes, table)
    protocol["model selection"] = selection_text(cfg, settings, protocol["model selection"])
    protocol["commands"] = list(commands)
    with atomic_write(exp_dir / "protocol.yaml") as out:
        yaml.safe_dump(protocol, out, sort_keys=False)

    names = plan.names if only_folds is None else list(only_folds)
    folds = {n: plan.fold(n) for n in names}  # an unknown fold name fails here
    say = (lambda line: None) if quiet else (lambda line: print(line, file=sys.stderr))
    threads = max(1, (os.cpu_count() or 1) // nj) if (nj > 1 or cluster) else 0
    with batch_runner(nj, cluster, start_method="spawn") as run:
        todo = {n: training_table(table, f) for n, f in folds.items() if not (exp_dir / f"fold_{n}" / SEARCH_FILE).is_file()}
        if todo:
            say(f"tune: searching {len(todo)} outer fold(s), {settings.trials} trials each, inner {settings.inner} folds")
            for name, found in search(cfg, settings, todo, classes, run, threads, say).items():
                fold_dir = exp_dir / f"fold_{name}"
                fold_dir.mkdir(parents=True, exist_ok=True)
                (fold_dir / DONE).unlink(missing_ok=True)  # a refit left from before this search is not its refit
                write_text_atomic(fold_dir / SEARCH_FILE, json.dumps(found.to_dict(), indent=2) + "\n")
        refits = []
        for name in names:
            fold_dir = exp_dir / f"fold_{name}"
            chosen = json.loads((fold_dir / SEARCH_FILE).read_text(encoding="utf-8"))["chosen"]["params"]
            tuned = apply_settings(cfg, chosen)
            with atomic_write(fold_dir / "config.yaml") as out:
                yaml.safe_dump(tuned.to_dict(), out, sort_keys=False)
            if not (fold_dir / DONE).is_file():
                refits.append((tuned.to_dict(), str(feat_dir.resolve()), str(folds_dir.resolve()), str(exp_dir.resolve()),
                               name, classes, True, threads))
        if refits:
            say(f"tune: refitting {len(refits)} fold(s) on their chosen settings and testing them")
            run(_fold_worker, refits)
    write_tune_report(exp_dir, commands)
    return exp_dir


__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_INNER",
    "DEFAULT_SEED",
    "FoldSearch",
    "Runner",
    "SPACE_FILE",
    "SearchSettings",
    "TrialResult",
    "inner_folds",
    "inner_kind",
    "run_trial",
    "score_inner_fold",
    "search",
    "selection_text",
    "training_table",
    "tune",
]
