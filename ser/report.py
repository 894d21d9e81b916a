"""Experiment reports: per-fold `scores.tsv` -> RESULTS.md, results.json, confusion.png.

Input layout (written by training): `exp/<tag>/fold_<name>/scores.tsv`, TAB-separated, header
`utt  true  pred  <class1>  <class2> ...` (posteriors per class), one row per test utterance.
The class list is the header's class columns, in header order.

What the report holds:
- UAR, WA, macro-F1 and weighted F1 per fold; mean +- sample std (ddof=1) over folds; pooled over all
  test utterances (one confusion matrix summed over folds). See ser.metrics for definitions.
- per-class recall (pooled and mean over the folds where the class is present), precision and F1;
- the pooled confusion matrix as a text table and as `confusion.png` (row-normalised, counts annotated);
- the protocol block: fold kind, validation rule, normalisation, classes, features, encoder, config ...
  taken from the `protocol` dict the caller passes, over `exp/<tag>/protocol.yaml` when it exists, over
  the fold plan's `plan.yaml` when one is found (`folds_dir`, protocol["folds_dir"], exp/<tag>/folds/ or
  exp/<tag>/plan.yaml);
- the exact commands (caller's list, else `commands:` in protocol.yaml);
- notes: folds whose test set lacks a class ("fold 08: no test utterances of class disgust; its UAR
  averages the 6 classes present"), folds of the plan without scores, unstated normalisation.
- `bootstrap_ci`: 95% percentile intervals of the pooled UAR and WA from a speaker (cluster) bootstrap,
  and of the mean over folds from resampling the folds' values (see ser.significance for why speakers are
  the unit). Speakers come from `utt2spk` in the protocol's `feat_dir`; when that is not readable, or does
  not name every scored utterance, each fold is one cluster, and the report says which was used.
- `per_corpus` (experiments on a combined data dir): when `utt2corpus` in the protocol's `feat_dir` (found
  as `utt2spk` is) names every scored utterance, each corpus gets n, UAR, WA and macro-F1 pooled over its
  test utterances, and UAR/WA means over the folds whose test utterances all come from it (LOSO over
  EmoDB+RAVDESS: the combined model on EmoDB speakers and on RAVDESS speakers; `loco`: each held-out
  corpus). Why: a pooled number over two corpora hides which corpus the model serves, and the corpora
  differ in size (454 vs 1248 utterances at 6 classes), so the pooled UAR leans to the larger one.

`write_comparison` puts several experiments (their results.json) in one Markdown table, with each one's
pooled-UAR interval (and one pooled-UAR column per corpus when every experiment has `per_corpus`), and a
"Significance" section: every experiment against a reference (the first, unless
named) by exact McNemar and a paired permutation test on the UAR difference, read from the scores.tsv files
again. Experiments scored on different utterances (or reference labels, or class sets) are reported as
not comparable instead of tested.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import yaml

from ser.experiment import PROTOCOL_FILE, find_feat_dir, modern_keys
from ser.datadir import read_map
from ser.errors import SerError
from ser.fileio import atomic_write, write_text_atomic
from ser.metrics import SCALAR_METRICS, FoldSummary, Metrics, summarise_folds
from ser.significance import (
    DEFAULT_LEVEL,
    DEFAULT_N_BOOT,
    DEFAULT_N_PERM,
    DEFAULT_SEED,
    SignificanceError,
    bootstrap_mean,
    paired_tests,
    speaker_bootstrap,
)

SCORES_FILE = "scores.tsv"
FOLD_PREFIX = "fold_"
RESULTS_MD = "RESULTS.md"
RESULTS_JSON = "results.json"
CONFUSION_PNG = "confusion.png"

#: Protocol keys shown first, in this order; any other keys follow alphabetically.
PROTOCOL_ORDER = (
    "folds_kind",
    "validation_rule",
    "normalization",
    "classes",
    "features",
    "encoder",
    "config",
    "folds_dir",
    "data_dir",
)

METRIC_LABELS = {"uar": "UAR", "wa": "WA", "macro_f1": "macro-F1", "weighted_f1": "weighted F1"}

#: Metrics that get a bootstrap interval (the two every SER table reports).
CI_METRICS = ("uar", "wa")


class ReportError(SerError):
    """Missing or malformed scores, results or protocol files."""


# --- reading -------------------------------------------------------------------------------------
def read_scores(path: str | Path) -> tuple[list[str], list[str], list[str], list[str], np.ndarray]:
    """Parse one scores.tsv: (classes, utts, true labels, predicted labels, posteriors [N, C])."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise ReportError(f"{path}: empty file (expected a header 'utt<TAB>true<TAB>pred<TAB><classes>...')")
    header = lines[0].rstrip("\r").split("\t")
    if header[:3] != ["utt", "true", "pred"]:
        raise ReportError(f"{path}:1: header must start with 'utt<TAB>true<TAB>pred', got {header[:3]}")
    classes = header[3:]
    if not classes:
        raise ReportError(f"{path}:1: header names no class columns")
    if len(set(classes)) != len(classes):
        raise ReportError(f"{path}:1: duplicate class columns {classes}")
    known = set(classes)
    utts: list[str] = []
    y_true: list[str] = []
    y_pred: list[str] = []
    post: list[list[float]] = []
    seen: set[str] = set()
    for lineno, raw in enumerate(lines[1:], 2):
        cols = raw.rstrip("\r").split("\t")
        if len(cols) != len(header):
            raise ReportError(f"{path}:{lineno}: {len(cols)} columns, header has {len(header)}")
        utt, true, pred = cols[:3]
        if utt in seen:
            raise ReportError(f"{path}:{lineno}: duplicate utterance '{utt}'")
        seen.add(utt)
        for what, label in (("true", true), ("pred", pred)):
            if label not in known:
                raise ReportError(f"{path}:{lineno}: {what} label '{label}' is not one of the classes {classes}")
        try:
            values = [float(v) for v in cols[3:]]
        except ValueError as exc:
            raise ReportError(f"{path}:{lineno}: posterior is not a number ({exc})") from exc
        utts.append(utt)
        y_true.append(true)
        y_pred.append(pred)
        post.append(values)
    if not utts:
        raise ReportError(f"{path}: no scored utterances")
    return classes, utts, y_true, y_pred, np.asarray(post, dtype=float).reshape(len(utts), len(classes))


def write_scores(path: str | Path, utts: Sequence[str], truth: Sequence[str], posteriors: np.ndarray,
                 classes: Sequence[str]) -> None:
    """scores.tsv: utt, true, pred, one posterior column per class (what `read_scores` reads back)."""
    with atomic_write(Path(path)) as out:
        out.write("utt\ttrue\tpred\t" + "\t".join(classes) + "\n")
        for utt, true, post in zip(utts, truth, posteriors):
            out.write(f"{utt}\t{true}\t{classes[int(np.argmax(post))]}\t" + "\t".join(f"{p:.6f}" for p in post) + "\n")


def find_fold_scores(exp_dir: str | Path) -> dict[str, Path]:
    """fold name -> scores.tsv for every `fold_<name>/scores.tsv` under exp_dir, sorted by name."""
    exp_dir = Path(exp_dir)
    found = {}
    for sub in sorted(exp_dir.glob(f"{FOLD_PREFIX}*")):
        if sub.is_dir() and (sub / SCORES_FILE).is_file():
            found[sub.name[len(FOLD_PREFIX):]] = sub / SCORES_FILE
    return found


def _load_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReportError(f"{path}: cannot read as YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a mapping")
    return data


def _find_plan(exp_dir: Path, folds_dir: str | Path | None) -> Path | None:
    candidates = []
    if folds_dir is not None:
        candidates.append(Path(folds_dir) / "plan.yaml")
    candidates += [exp_dir / "folds" / "plan.yaml", exp_dir / "plan.yaml"]
    for path in candidates:
        if path.is_file():
            return path
    if folds_dir is not None:
        raise ReportError(f"{folds_dir}: no plan.yaml (fold plan) there")
    return None


FoldScores = tuple[list[str], list[str], list[str]]  # utts, reference labels, predictions


def read_experiment_scores(exp_dir: str | Path) -> tuple[list[str], dict[str, FoldScores]]:
    """(classes, fold name -> (utts, true, pred)) of every scored fold; folds must agree on classes and be disjoint."""
    exp_dir = Path(exp_dir)
    scores = find_fold_scores(exp_dir)
    if not scores:
        raise ReportError(f"{exp_dir}: no {FOLD_PREFIX}*/{SCORES_FILE} files (has training finished?)")
    classes: list[str] | None = None
    folds: dict[str, FoldScores] = {}
    owner: dict[str, str] = {}
    for name, path in scores.items():
        fold_classes, utts, y_true, y_pred, _ = read_scores(path)
        if classes is None:
            classes = fold_classes
        elif fold_classes != classes:
            raise ReportError(f"{path}: class columns {fold_classes} differ from the other folds' {classes}")
        for utt in utts:
            if utt in owner:
                raise ReportError(
                    f"{path}: utterance '{utt}' is also scored in fold {owner[utt]}; test sets must be disjoint"
                )
            owner[utt] = name
        folds[name] = (utts, y_true, y_pred)
    assert classes is not None
    return classes, folds


def _pooled(folds: Mapping[str, FoldScores]) -> FoldScores:
    utts, y_true, y_pred = [], [], []
    for u, t, p in folds.values():
        utts += u
        y_true += t
        y_pred += p
    return utts, y_true, y_pred


def read_feat_map(exp_dir: Path, protocol: Mapping[str, Any], name: str) -> tuple[dict[str, str] | None, str]:
    """A per-utterance map (utt2spk, utt2corpus) of the protocol's feat_dir: (map, its path), or (None, why not)."""
    if not protocol.get("feat_dir"):
        return None, "the protocol names no feat_dir"
    path = find_feat_dir(exp_dir, None, dict(protocol)) / name
    try:
        return read_map(path), str(path)
    except (OSError, SerError) as exc:
        return None, f"{path} is not readable ({getattr(exc, 'strerror', None) or exc})"


def read_speakers(exp_dir: Path, protocol: Mapping[str, Any]) -> tuple[dict[str, str] | None, str]:
    """utt2spk of the protocol's feat_dir: (map, its path), or (None, why it is not available)."""
    return read_feat_map(exp_dir, protocol, "utt2spk")


def read_corpora(exp_dir: Path, protocol: Mapping[str, Any]) -> tuple[dict[str, str] | None, str | None]:
    """utt2corpus of the protocol's feat_dir: (map, its path); (None, None) when there is none (one corpus),
    (None, why) when the file exists but cannot be read."""
    if not protocol.get("feat_dir") or not (find_feat_dir(exp_dir, None, dict(protocol)) / "utt2corpus").exists():
        return None, None
    return read_feat_map(exp_dir, protocol, "utt2corpus")


def per_corpus_block(
    classes: Sequence[str],
    folds: Mapping[str, FoldScores],
    per_fold: Mapping[str, Metrics],
    utt2corpus: Mapping[str, str],
) -> dict[str, dict[str, Any]]:
    """results.json `per_corpus`: metrics pooled over each corpus's test utterances, and means over its own folds.

    A fold belongs to a corpus when all its test utterances do (LOSO: the speaker's corpus; loco: the held-out
    one); `fold_mean_uar`/`fold_mean_wa` average those folds and are absent when there are none. Folds that test
    a corpus together with others are listed under `mixed_folds` (only when there are any).
    `utt2corpus` must name every scored utterance.
    """
    fold_corpora = {name: {utt2corpus[u] for u in utts} for name, (utts, _, _) in folds.items()}
    block: dict[str, dict[str, Any]] = {}
    for corpus in sorted(set().union(*fold_corpora.values())):
        y_true = [t for utts, ts, _ in folds.values() for u, t in zip(utts, ts) if utt2corpus[u] == corpus]
        y_pred = [p for utts, _, ps in folds.values() for u, p in zip(utts, ps) if utt2corpus[u] == corpus]
        m = Metrics.from_labels(y_true, y_pred, classes)
        own = [name for name, c in fold_corpora.items() if c == {corpus}]
        mixed = [name for name, c in fold_corpora.items() if corpus in c and len(c) > 1]
        entry: dict[str, Any] = {
            "n": m.n,
            "uar": _none_if_nan(m.uar),
            "wa": _none_if_nan(m.wa),
            "macro_f1": _none_if_nan(m.macro_f1),
            "absent_classes": list(m.absent_classes),
        }
        if own:
            entry["fold_mean_uar"] = float(np.mean([per_fold[name].uar for name in own]))
            entry["fold_mean_wa"] = float(np.mean([per_fold[name].wa for name in own]))
        entry["folds"] = own
        if mixed:
            entry["mixed_folds"] = mixed
        block[corpus] = entry
    return block


def _clusters(
    folds: Mapping[str, FoldScores], utt2spk: Mapping[str, str] | None, source: str
) -> tuple[list[str], str, str | None]:
    """Bootstrap cluster per pooled utterance: (labels, unit 'speaker' or 'fold', why folds were used or None)."""
    utts = _pooled(folds)[0]
    if utt2spk is not None:
        missing = [u for u in utts if u not in utt2spk]
        if not missing:
            return [utt2spk[u] for u in utts], "speaker", None
        source = f"{source} has no speaker for {len(missing)} scored utterance(s), e.g. {missing[0]}"
    return [name for name, (u, _, _) in folds.items() for _ in u], "fold", source


def bootstrap_block(
    classes: Sequence[str],
    folds: Mapping[str, FoldScores],
    per_fold: Mapping[str, Metrics],
    utt2spk: Mapping[str, str] | None,
    source: str,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Any]:
    """The results.json `bootstrap_ci` entry: pooled UAR/WA by cluster bootstrap, mean over folds by fold bootstrap."""
    clusters, unit, fallback = _clusters(folds, utt2spk, source)
    _, y_true, y_pred = _pooled(folds)
    boot = speaker_bootstrap(y_true, y_pred, clusters, classes, n_boot=n_boot, seed=seed, level=level, unit=unit)
    mean_over_folds = None
    if len(per_fold) > 1:
        mean_over_folds = {
            k: bootstrap_mean([m.scalar(k) for m in per_fold.values()], n_boot=n_boot, seed=seed, level=level).to_dict()
            for k in CI_METRICS
        }
    return {
        "method": (
            f"percentile cluster bootstrap: {unit}s drawn with replacement, every utterance of a drawn {unit} "
            "entering once per draw; pooled metrics recomputed per replicate"
        ),
        "unit": unit,
        "speakers_from": None if fallback else source,
        "fold_clusters_because": fallback,
        "n_clusters": boot.n_clusters,
        "n_boot": boot.n_boot,
        "seed": boot.seed,
        "level": boot.level,
        "pooled": {k: boot.intervals[k].to_dict() for k in CI_METRICS},
        "mean_over_folds_method": "percentile bootstrap of the folds' values (each fold one draw)",
        "mean_over_folds": mean_over_folds,
    }


# --- formatting ----------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * value:.2f}"


def _pm(mean: float | None, std: float | None) -> str:
    return f"{_pct(mean)} ± {_pct(std)}"


def _ci(interval: Mapping[str, float] | None) -> str:
    """[low, high] in percent, or n/a (no interval, e.g. results.json from before intervals existed)."""
    if not interval:
        return "n/a"
    return f"[{_pct(interval['low'])}, {_pct(interval['high'])}]"


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"


def _diff(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.2f}"


def _none_if_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], align_right_from: int = 1) -> list[str]:
    out = ["| " + " | ".join(header) + " |"]
    out.append("|" + "|".join("---" if i < align_right_from else "---:" for i in range(len(header))) + "|")
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return out


def _class_phrase(missing: Sequence[str]) -> str:
    return ("class " if len(missing) == 1 else "classes ") + ", ".join(missing)


def _protocol_items(protocol: Mapping[str, Any]) -> list[tuple[str, Any]]:
    keys = [k for k in PROTOCOL_ORDER if k in protocol]
    keys += sorted(k for k in protocol if k not in PROTOCOL_ORDER and k != "commands")
    return [(k, protocol[k]) for k in keys]


def _fmt_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


# --- confusion plot ------------------------------------------------------------------------------
def plot_confusion(metrics: Metrics, path: str | Path, title: str = "") -> None:
    """Row-normalised confusion matrix (each row = recall over predictions) with counts annotated."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cm = metrics.confusion
    support = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, support, out=np.zeros(cm.shape, dtype=float), where=support > 0)
    c = len(metrics.classes)
    size = max(4.0, 0.9 * c + 2.0)
    fig = Figure(figsize=(size + 1.0, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of reference class (row)")
    ax.set_xticks(range(c), labels=list(metrics.classes), rotation=45, ha="right")
    ax.set_yticks(range(c), labels=list(metrics.classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    for i in range(c):
        for j in range(c):
            ax.text(
                j, i, f"{cm[i, j]}\n{100 * norm[i, j]:.0f}%", ha="center", va="center", fontsize=8,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_title(title or f"confusion (n={metrics.n}), rows normalised", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    with atomic_write(path, mode="wb") as handle:
        handle.write(buffer.getvalue())


# --- report ------------------------------------------------------------------------------------------
def _metrics_json(m: Metrics) -> dict[str, Any]:
    d = m.to_dict()
    return {k: _none_if_nan(v) for k, v in d.items()}


def write_report(
    exp_dir: str | Path,
    protocol: Mapping[str, Any] | None = None,
    commands: Sequence[str] | None = None,
    folds_dir: str | Path | None = None,
    title: str | None = None,
    utt2spk: Mapping[str, str] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    utt2corpus: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read `exp_dir/fold_*/scores.tsv` and write RESULTS.md, results.json and confusion.png there.

    Returns the results dict written to results.json (metric values are fractions; RESULTS.md shows %).
    The bootstrap intervals use `utt2spk` when given, else the protocol's feat_dir/utt2spk, else the folds
    as clusters; `n_boot` replicates drawn with `seed`. The per-corpus breakdown uses `utt2corpus` when
    given, else the protocol's feat_dir/utt2corpus when it exists; it is written only when that map names
    every scored utterance.
    """
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise ReportError(f"{exp_dir}: not a directory")
    if not find_fold_scores(exp_dir):
        raise ReportError(f"{exp_dir}: no {FOLD_PREFIX}*/{SCORES_FILE} files (has training finished?)")

    # protocol: plan.yaml < protocol.yaml < caller's dict
    merged: dict[str, Any] = {}
    plan_meta: dict[str, Any] = {}
    file_protocol = modern_keys(_load_yaml_mapping(exp_dir / PROTOCOL_FILE)) if (exp_dir / PROTOCOL_FILE).is_file() else {}
    given = modern_keys(protocol or {})
    folds_dir = folds_dir or given.get("folds_dir") or file_protocol.get("folds_dir")
    plan_path = _find_plan(exp_dir, folds_dir)
    if plan_path is not None:
        plan_meta = _load_yaml_mapping(plan_path)
        merged["folds_kind"] = plan_meta.get("kind")
        merged["validation_rule"] = plan_meta.get("validation_rule")
        merged["folds_dir"] = str(plan_path.parent)
        if plan_meta.get("options", {}).get("groups"):
            merged["groups"] = plan_meta["options"]["groups"]
    merged.update(file_protocol)
    merged.update(given)
    if commands is None:
        commands = [str(c) for c in merged.get("commands") or []]
    merged.pop("commands", None)

    # per-fold metrics
    classes, fold_scores = read_experiment_scores(exp_dir)
    per_fold = {name: Metrics.from_labels(t, p, classes) for name, (_, t, p) in fold_scores.items()}
    owner = {u: name for name, (utts, _, _) in fold_scores.items() for u in utts}
    summary = summarise_folds(per_fold)

    # notes
    notes: list[str] = []
    if "classes" in merged and sorted(str(c) for c in merged["classes"]) != sorted(classes):
        notes.append(
            f"WARNING: protocol classes {list(merged['classes'])} differ from the scores' classes {classes}; "
            "the scores' classes are used"
        )
    merged.setdefault("classes", list(classes))
    for name, m in per_fold.items():
        if m.absent_classes:
            notes.append(
                f"fold {name}: no test utterances of {_class_phrase(m.absent_classes)}; "
                f"its UAR averages the {len(m.present_classes)} classes present"
            )
    if summary.pooled.absent_classes:
        notes.append(
            f"pooled: no test utterances of {_class_phrase(summary.pooled.absent_classes)} in any fold; "
            f"pooled UAR averages the {len(summary.pooled.present_classes)} classes present"
        )
    plan_folds = {str(f.get("name")): f for f in plan_meta.get("folds", []) if isinstance(f, dict)}
    missing_folds = [n for n in plan_folds if n not in per_fold]
    if missing_folds:
        notes.append(
            f"INCOMPLETE: {len(missing_folds)} fold(s) of the plan have no scores: {', '.join(missing_folds)}; "
            "mean, std and pooled numbers cover only the scored folds"
        )
    extra_folds = [n for n in per_fold if plan_folds and n not in plan_folds]
    if extra_folds:
        notes.append(f"fold(s) {', '.join(extra_folds)} are scored but not in the fold plan {plan_path}")
    if plan_path is not None:
        for name in per_fold:
            test_file = plan_path.parent / name / "test"
            if name in plan_folds and test_file.is_file():
                planned = {l.strip() for l in test_file.read_text(encoding="utf-8").splitlines() if l.strip()}
                scored = {u for u, f in owner.items() if f == name}
                if scored - planned:
                    notes.append(
                        f"WARNING fold {name}: {len(scored - planned)} scored utterance(s) are not in the plan's "
                        f"test set, e.g. {sorted(scored - planned)[0]}"
                    )
                if planned - scored:
                    notes.append(f"fold {name}: {len(planned - scored)} test utterance(s) of the plan have no score")
    if not merged.get("normalization"):
        notes.append("normalization not stated: pass protocol['normalization'] (it moves UAR by 10+ points)")
        merged.setdefault("normalization", "NOT STATED")
    if len(per_fold) == 1:
        notes.append("one fold only: std over folds is undefined")

    # bootstrap intervals (speakers from the caller, else feat_dir/utt2spk, else folds as clusters)
    if utt2spk is not None:
        speakers, source = dict(utt2spk), "utt2spk given by the caller"
    else:
        speakers, source = read_speakers(exp_dir, merged)
    try:
        ci = bootstrap_block(classes, fold_scores, per_fold, speakers, source, n_boot=n_boot, seed=seed)
    except SignificanceError as exc:
        raise ReportError(f"{exp_dir}: bootstrap: {exc}") from exc
    if ci["unit"] == "fold":
        notes.append(
            f"speakers unknown ({ci['fold_clusters_because']}): the bootstrap intervals treat each fold as one "
            "cluster (under LOSO a fold is one speaker)"
        )

    # per-corpus breakdown (corpora from the caller, else feat_dir/utt2corpus; none for a one-corpus experiment)
    if utt2corpus is not None:
        corpora, corpora_from = dict(utt2corpus), "utt2corpus given by the caller"
    else:
        corpora, corpora_from = read_corpora(exp_dir, merged)
    per_corpus = None
    if corpora is not None:
        unnamed = [u for u in owner if u not in corpora]
        if unnamed:
            notes.append(
                f"no per-corpus breakdown: {corpora_from} has no corpus for {len(unnamed)} scored utterance(s), "
                f"e.g. {unnamed[0]}"
            )
        else:
            per_corpus = per_corpus_block(classes, fold_scores, per_fold, corpora)
    elif corpora_from:
        notes.append(f"no per-corpus breakdown: {corpora_from}")

    results: dict[str, Any] = {
        "experiment": exp_dir.name,
        "exp_dir": str(exp_dir),
        "classes": list(classes),
        "num_folds": len(per_fold),
        "num_utterances": summary.pooled.n,
        "metric_scale": "fraction (RESULTS.md shows percent)",
        "std_definition": f"sample standard deviation over folds (ddof={summary.ddof})",
        "uar_definition": "mean recall over the classes present in the reference labels of the set",
        "mean": {k: _none_if_nan(v) for k, v in summary.mean.items()},
        "std": {k: _none_if_nan(v) for k, v in summary.std.items()},
        "pooled": _metrics_json(summary.pooled),
        "per_class_recall_mean": {k: _none_if_nan(v) for k, v in summary.per_class_recall_mean.items()},
        "folds": {name: _metrics_json(m) for name, m in per_fold.items()},
        "bootstrap_ci": ci,
        "notes": notes,
        "protocol": {k: v for k, v in merged.items()},
        "commands": list(commands),
    }
    for name in per_fold:
        if name in plan_folds:
            results["folds"][name]["test_speakers"] = plan_folds[name].get("test_speakers")
            results["folds"][name]["valid_speakers"] = plan_folds[name].get("valid_speakers")
    if per_corpus is not None:
        results["per_corpus"] = per_corpus
        results["per_corpus_from"] = corpora_from

    plot_confusion(
        summary.pooled,
        exp_dir / CONFUSION_PNG,
        title=f"{exp_dir.name}: pooled over {len(per_fold)} folds, n={summary.pooled.n}; rows normalised",
    )
    write_text_atomic(exp_dir / RESULTS_JSON, json.dumps(results, indent=2, default=str) + "\n")
    write_text_atomic(exp_dir / RESULTS_MD, _render_markdown(results, summary, title))
    return results


def _render_markdown(results: Mapping[str, Any], summary: FoldSummary, title: str | None) -> str:
    classes = list(results["classes"])
    pooled = summary.pooled
    lines = [f"# {title or 'Results: ' + results['experiment']}", ""]
    lines.append(
        f"{results['num_folds']} folds, {results['num_utterances']} test utterances, {len(classes)} classes. "
        "Values in %. UAR = mean recall over the classes present in a set's reference labels; "
        "WA = overall accuracy. ± is the sample standard deviation over folds (ddof=1). "
        "Pooled = all test utterances of all folds in one confusion matrix."
    )
    lines.append("")
    lines += ["## Summary", ""]
    header = ["", *[METRIC_LABELS[k] for k in SCALAR_METRICS]]
    lines += _table(
        header,
        [
            ["mean ± std over folds", *[_pm(summary.mean[k], summary.std[k]) for k in SCALAR_METRICS]],
            ["pooled", *[_pct(pooled.scalar(k)) for k in SCALAR_METRICS]],
            *_ci_rows(results["bootstrap_ci"]),
        ],
    )
    lines += ["", _ci_sentence(results["bootstrap_ci"]), ""]
    if results["notes"]:
        lines += ["## Notes", ""]
        lines += [f"- {n}" for n in results["notes"]]
        lines.append("")

    lines += ["## Protocol", ""]
    lines += [f"- {k}: {_fmt_value(v)}" for k, v in _protocol_items(results["protocol"])]
    lines.append("")

    lines += ["## Per fold", ""]
    rows = []
    for name, m in summary.folds.items():
        info = results["folds"][name]
        rows.append(
            [
                name,
                _fmt_value(info.get("test_speakers") or "-"),
                _fmt_value(info.get("valid_speakers") or "-"),
                m.n,
                _pct(m.uar),
                _pct(m.wa),
                _pct(m.macro_f1),
                _pct(m.weighted_f1),
                ", ".join(m.absent_classes) or "-",
            ]
        )
    lines += _table(
        ["fold", "test spk", "valid spk", "n", "UAR", "WA", "macro-F1", "weighted F1", "absent classes"],
        rows,
        align_right_from=3,
    )
    lines.append("")
    if results.get("per_corpus"):
        lines += _per_corpus_section(results["per_corpus"], results["per_corpus_from"])

    lines += ["## Per class", ""]
    rows = []
    for i, c in enumerate(classes):
        rows.append(
            [
                c,
                int(pooled.support[i]),
                _pct(float(pooled.recall[i])),
                _pct(summary.per_class_recall_mean[c]),
                _pct(float(pooled.precision[i])),
                _pct(float(pooled.f1[i])),
            ]
        )
    lines += _table(
        ["class", "support", "recall (pooled)", "recall (mean over folds)", "precision (pooled)", "F1 (pooled)"],
        rows,
    )
    lines.append("")

    lines += ["## Confusion matrix (pooled counts; rows = reference, columns = predicted)", ""]
    rows = [[f"**{c}**", *[int(v) for v in pooled.confusion[i]], int(pooled.support[i])] for i, c in enumerate(classes)]
    rows.append(["**predicted**", *[int(v) for v in pooled.predicted], pooled.n])
    lines += _table(["ref \\ pred", *classes, "total"], rows)
    lines += ["", f"Row-normalised plot: [{CONFUSION_PNG}]({CONFUSION_PNG})", ""]

    lines += ["## Commands", ""]
    if results["commands"]:
        lines += ["```sh", *results["commands"], "```"]
    else:
        lines.append("(not recorded)")
    lines.append("")
    return "\n".join(lines)


def _per_corpus_section(per_corpus: Mapping[str, Mapping[str, Any]], source: str) -> list[str]:
    lines = ["## Per corpus", ""]
    lines.append(
        f"Corpora from {source}. n, UAR, WA and macro-F1 pool each corpus's test utterances over all folds; "
        "the means over folds average the folds whose test utterances all come from that corpus "
        "('-' when none does; 'mixed' counts folds that test it together with another corpus)."
    )
    lines.append("")
    rows = []
    for corpus, e in per_corpus.items():
        folds = str(len(e["folds"])) + (f" + {len(e['mixed_folds'])} mixed" if e.get("mixed_folds") else "")
        rows.append(
            [
                corpus,
                e["n"],
                _pct(e["uar"]),
                _pct(e["wa"]),
                _pct(e["macro_f1"]),
                _pct(e["fold_mean_uar"]) if "fold_mean_uar" in e else "-",
                _pct(e["fold_mean_wa"]) if "fold_mean_wa" in e else "-",
                folds,
                ", ".join(e["absent_classes"]) or "-",
            ]
        )
    lines += _table(
        ["corpus", "n", "UAR", "WA", "macro-F1", "UAR mean over folds", "WA mean over folds", "folds",
         "absent classes"],
        rows,
    )
    lines.append("")
    return lines


def _ci_rows(ci: Mapping[str, Any]) -> list[list[str]]:
    level = f"{100 * ci['level']:g}%"
    rows = [[f"pooled, {level} CI ({ci['unit']} bootstrap)", *[_ci(ci["pooled"].get(k)) for k in SCALAR_METRICS]]]
    if ci.get("mean_over_folds"):
        mean_ci = ci["mean_over_folds"]
        rows.append([f"mean over folds, {level} CI (fold bootstrap)", *[_ci(mean_ci.get(k)) for k in SCALAR_METRICS]])
    return rows


def _ci_sentence(ci: Mapping[str, Any]) -> str:
    if ci["unit"] == "speaker":
        clusters = f"{ci['n_clusters']} speakers from {ci['speakers_from']}"
    else:
        clusters = f"{ci['n_clusters']} folds as clusters, because {ci['fold_clusters_because']}"
    text = (
        f"CI: {100 * ci['level']:g}% percentile bootstrap, B={ci['n_boot']}, seed {ci['seed']}, over {clusters}. "
        f"Each replicate draws {ci['unit']}s with replacement and pools all their utterances, because utterances "
        "of one speaker are correlated and the protocol generalises over speakers, not utterances."
    )
    if ci.get("mean_over_folds"):
        text += " The mean-over-folds CI resamples the folds' values."
    return text + " Intervals are computed for UAR and WA only."


# --- comparison ----------------------------------------------------------------------------------
def _load_results(exp_dir: Path) -> dict[str, Any]:
    path = exp_dir / RESULTS_JSON
    if not path.is_file():
        raise ReportError(f"{path}: missing (run `ser report {exp_dir}` first)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from exc


def _pick_reference(rows: Sequence[Mapping[str, Any]], reference: str | Path | None) -> int:
    """Index of the reference row: the first, or the one whose exp dir or experiment name is `reference`."""
    if reference is None:
        return 0
    for i, r in enumerate(rows):
        if Path(r["exp_dir"]) == Path(reference):
            return i
    named = [i for i, r in enumerate(rows) if str(reference) in (r["experiment"], r.get("base_name"))]
    if len(named) == 1:
        return named[0]
    if named:
        dirs = ", ".join(rows[i]["exp_dir"] for i in named)
        raise ReportError(f"reference '{reference}' names {len(named)} experiments ({dirs}); give its directory")
    names = ", ".join(r["experiment"] for r in rows)
    raise ReportError(f"reference '{reference}' is none of the compared experiments ({names})")


def _paired_clusters(
    utts: Sequence[str], candidates: Sequence[tuple[dict[str, str] | None, str]]
) -> tuple[dict[str, str] | None, str, str | None]:
    """(map, 'speaker', its path) for the first speaker map naming every utterance; else (None, 'utterance', None)."""
    for utt2spk, source in candidates:
        if utt2spk is not None and all(u in utt2spk for u in utts):
            return utt2spk, "speaker", source
    return None, "utterance", None


def compare_experiments(
    ref_dir: Path,
    ref_protocol: Mapping[str, Any],
    exp_dir: Path,
    exp_protocol: Mapping[str, Any],
    names: tuple[str, str] = ("the reference", "the experiment"),
    n_perm: int = DEFAULT_N_PERM,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """Paired tests of one experiment against the reference from their scores.tsv files.

    Returns {"comparable": False, "reason": ...} when they were not scored on the same utterances with the same
    reference labels and classes (or a scores file is unreadable), else the differences and both tests' results.
    """
    try:
        ref_classes, ref_folds = read_experiment_scores(ref_dir)
        exp_classes, exp_folds = read_experiment_scores(exp_dir)
    except ReportError as exc:
        return {"comparable": False, "reason": f"scores not readable: {exc}"}
    if set(ref_classes) != set(exp_classes):
        return {"comparable": False, "reason": f"different classes: {ref_classes} vs {exp_classes}"}
    utts_r, true_r, pred_r = _pooled(ref_folds)
    utts_e, true_e, pred_e = _pooled(exp_folds)
    clusters, unit, source = _paired_clusters(
        utts_r, [read_speakers(ref_dir, ref_protocol), read_speakers(exp_dir, exp_protocol)]
    )
    try:
        mc, perm = paired_tests(
            utts_r, true_r, pred_r, utts_e, true_e, pred_e, ref_classes, clusters, unit=unit,
            n_perm=n_perm, seed=seed, names=names,
        )
    except SignificanceError as exc:
        return {"comparable": False, "reason": str(exc)}
    return {
        "comparable": True,
        "reason": None,
        "n_utterances": mc.n_utterances,
        "uar_difference": perm.difference,
        "wa_difference": mc.difference,
        "mcnemar": mc.to_dict(),
        "permutation": {**perm.to_dict(), "speakers_from": source},
    }


def write_comparison(
    exp_dirs: Sequence[str | Path],
    out_md: str | Path,
    reference: str | Path | None = None,
    n_perm: int = DEFAULT_N_PERM,
    seed: int = DEFAULT_SEED,
) -> list[dict[str, Any]]:
    """One Markdown table, one row per experiment, from each experiment's results.json; then significance tests.

    Columns: experiment, encoder, features, normalization, folds, UAR mean ± std, WA mean ± std,
    pooled UAR, pooled WA, pooled UAR 95% CI; then "UAR <corpus>" (pooled over that corpus's test utterances)
    for each corpus that every experiment's `per_corpus` has. The "Significance" section tests every experiment
    against the reference (the first one, or the one whose directory or name is `reference`) on their scores.tsv files:
    exact McNemar and a paired permutation test on the pooled UAR difference (`n_perm`, `seed`).
    Returns the rows (fractions) as dicts; each has `is_reference` and `significance` (None for the reference).
    """
    if not exp_dirs:
        raise ReportError("no experiments to compare")
    rows: list[dict[str, Any]] = []
    protocols: list[dict[str, Any]] = []
    for exp in exp_dirs:
        exp = Path(exp)
        res = _load_results(exp)
        proto = modern_keys(res.get("protocol") or {})
        protocols.append(proto)
        rows.append(
            {
                "experiment": res.get("experiment", exp.name),
                "exp_dir": str(exp),
                "encoder": proto.get("encoder", "?"),
                "features": proto.get("features", "?"),
                "normalization": proto.get("normalization", "?"),
                "folds_kind": proto.get("folds_kind", "?"),
                "num_folds": res.get("num_folds"),
                "fold_names": sorted(res.get("folds", {})),
                "uar_mean": res["mean"]["uar"],
                "uar_std": res["std"]["uar"],
                "wa_mean": res["mean"]["wa"],
                "wa_std": res["std"]["wa"],
                "pooled_uar": res["pooled"]["uar"],
                "pooled_wa": res["pooled"]["wa"],
                "pooled_uar_ci": ((res.get("bootstrap_ci") or {}).get("pooled") or {}).get("uar"),
                "incomplete": any(str(n).startswith("INCOMPLETE") for n in res.get("notes", [])),
                "per_corpus_uar": (
                    {c: e.get("uar") for c, e in res["per_corpus"].items()} if res.get("per_corpus") else None
                ),
            }
        )
    _disambiguate_names(rows)
    ref = _pick_reference(rows, reference)
    for i, r in enumerate(rows):
        r["is_reference"] = i == ref
        r["significance"] = None if i == ref else compare_experiments(
            Path(rows[ref]["exp_dir"]), protocols[ref], Path(r["exp_dir"]), protocols[i],
            names=(rows[ref]["experiment"], r["experiment"]), n_perm=n_perm, seed=seed,
        )
    lines = ["# Comparison", ""]
    lines.append(
        "Values in %; ± is the sample standard deviation over folds (ddof=1); pooled = all test utterances together."
        " The 95% CI of the pooled UAR is a speaker bootstrap (each experiment's RESULTS.md says how it was drawn)."
    )
    corpora = _shared_corpora(rows)
    if corpora:
        lines.append(
            "UAR <corpus> = pooled UAR over that corpus's test utterances (each results.json's per_corpus)."
        )
    lines.append("")
    lines += _table(
        ["experiment", "encoder", "features", "normalization", "folds", "UAR mean ± std", "WA mean ± std",
         "pooled UAR", "pooled WA", "pooled UAR 95% CI", *[f"UAR {c}" for c in corpora]],
        [
            [
                r["experiment"] + (" (incomplete)" if r["incomplete"] else ""),
                _fmt_value(r["encoder"]),
                _fmt_value(r["features"]),
                _fmt_value(r["normalization"]),
                f"{r['num_folds']} {r['folds_kind']}",
                _pm(r["uar_mean"], r["uar_std"]),
                _pm(r["wa_mean"], r["wa_std"]),
                _pct(r["pooled_uar"]),
                _pct(r["pooled_wa"]),
                _ci(r["pooled_uar_ci"]),
                *[_pct(r["per_corpus_uar"][c]) for c in corpora],
            ]
            for r in rows
        ],
        align_right_from=5,
    )
    lines.append("")
    if len(rows) > 1:
        lines += _significance_section(rows, ref, n_perm, seed)
    warnings = []
    if len({tuple(r["fold_names"]) for r in rows}) > 1:
        warnings.append("the experiments were not scored on the same folds; their numbers are not directly comparable")
    if len({str(r["normalization"]) for r in rows}) > 1:
        warnings.append("the experiments use different normalisations")
    if any(r["incomplete"] for r in rows):
        warnings.append("experiments marked (incomplete) lack scores for some folds of their plan")
    if warnings:
        lines += ["## Notes", "", *[f"- {w}" for w in warnings], ""]
    write_text_atomic(out_md, "\n".join(lines))
    return rows


def _disambiguate_names(rows: list[dict[str, Any]]) -> None:
    """Experiments of one name from different places (exp/loso/dnn and exp/loso_v2/dnn) are named with their
    parent folder too, so that the table and the significance rows say which is which."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["experiment"]] = counts.get(r["experiment"], 0) + 1
    for r in rows:
        r["base_name"] = r["experiment"]
        if counts[r["experiment"]] > 1:
            r["experiment"] = f"{Path(r['exp_dir']).resolve().parent.name}/{r['experiment']}"


def _shared_corpora(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Corpora with a per-corpus UAR in every compared experiment (none unless all have a breakdown)."""
    if not rows or any(not r["per_corpus_uar"] for r in rows):
        return []
    return sorted(set.intersection(*(set(r["per_corpus_uar"]) for r in rows)))


def _significance_section(rows: Sequence[Mapping[str, Any]], ref: int, n_perm: int, seed: int) -> list[str]:
    reference = rows[ref]
    lines = ["## Significance", ""]
    lines.append(
        f"Each experiment against the reference **{reference['experiment']}** ({reference['exp_dir']}), on the "
        "utterances both scored: tests need the same utterances with the same reference labels, otherwise the pair "
        "is reported as not comparable. Differences are experiment minus reference, in points, pooled over folds. "
        "McNemar: exact two-sided binomial test on the utterances exactly one of the two gets right (a test of WA). "
        f"Permutation: paired approximate randomisation on the pooled UAR difference, {n_perm} random swaps "
        f"(seed {seed}) of the two systems' predictions per speaker, or per utterance when no utt2spk names every "
        "utterance (column 'swapped per'); p = (1 + swaps at least as extreme) / (1 + swaps). "
        "p-values are not corrected for multiple comparisons."
    )
    lines.append("")
    table_rows = []
    for i, r in enumerate(rows):
        if i == ref:
            continue
        sig = r["significance"]
        if not sig["comparable"]:
            table_rows.append([r["experiment"], f"not comparable: {sig['reason']}", "-", "-", "-", "-", "-"])
            continue
        perm = sig["permutation"]
        table_rows.append(
            [
                r["experiment"],
                sig["n_utterances"],
                _diff(sig["uar_difference"]),
                _diff(sig["wa_difference"]),
                _p(sig["mcnemar"]["p_value"]),
                _p(perm["p_value"]),
                f"{perm['unit']} ({perm['n_clusters']})",
            ]
        )
    lines += _table(
        ["experiment", "n", "UAR diff", "WA diff", "McNemar p", "permutation p (UAR)", "swapped per"], table_rows
    )
    lines.append("")
    return lines


# --- experiments over seeds (text conversation models) ---------------------------------------------------
# A text experiment has one fixed split and several seeds (EXP/seed_<n>/metrics.json, written by
# ser.text.train); its report is the AGHMN papers' layout: per-class Acc (= recall) and F1, then the
# support-weighted accuracy and F1 and the macro-F1, each as mean ± sample std over the seeds.

SEED_PREFIX = "seed_"


def _seed_of(path: Path) -> int:
    return int(path.parent.name[len(SEED_PREFIX):])


def _mean_std_pair(values: Iterable[float], ddof: int) -> list[float | None]:
    """[mean, sample std]; None where undefined (one seed, or a class absent from every test set)."""
    a = np.asarray(list(values), dtype=float)
    a = a[~np.isnan(a)]
    return [float(a.mean()) if a.size else None, float(a.std(ddof=ddof)) if a.size > 1 else None]


def summarise_seeds(exp_dir: str | Path, seeds: Sequence[int] | None = None) -> dict[str, Any]:
    """Mean ± std over the finished seeds of a text experiment (all of them, or `seeds`)."""
    from ser.text.config import TextModelConfig

    exp_dir = Path(exp_dir)
    paths = sorted(exp_dir.glob(f"{SEED_PREFIX}*/metrics.json"), key=_seed_of)
    if seeds is not None:
        paths = [p for p in paths if _seed_of(p) in set(seeds)]
    if not paths:
        raise ReportError(f"{exp_dir}: no finished seeds ({SEED_PREFIX}*/metrics.json)")
    runs = {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in paths}
    per_seed = {name: Metrics(tuple(r["test"]["classes"]), np.asarray(r["test"]["confusion"], dtype=np.int64))
                for name, r in runs.items()}
    summary = summarise_folds(per_seed)
    classes = list(summary.classes)
    recall = np.array([m.recall for m in per_seed.values()])
    f1 = np.array([m.f1 for m in per_seed.values()])
    ddof = 1 if len(per_seed) > 1 else 0
    first = next(iter(runs.values()))
    return {
        "tag": TextModelConfig.from_dict(first["model_config"]).tag,
        "seeds": [int(n[len(SEED_PREFIX):]) for n in runs],
        "classes": classes,
        "per_class": {c: {"acc": _mean_std_pair(recall[:, i], ddof), "f1": _mean_std_pair(f1[:, i], ddof)}
                      for i, c in enumerate(classes)},
        "acc": _mean_std_pair((m.wa for m in per_seed.values()), ddof),
        "weighted_f1": _mean_std_pair((m.weighted_f1 for m in per_seed.values()), ddof),
        "macro_f1": _mean_std_pair((m.macro_f1 for m in per_seed.values()), ddof),
        "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"] for r in runs.values()])),
        "epochs": [r["epochs"] for r in runs.values()],
        "model_config": first["model_config"],
        "train_config": first["train_config"],
        "pooled": summary.pooled.to_dict(),
    }


def _pm_seeds(pair: Sequence[float | None]) -> str:
    mean, std = (None if v is None or math.isnan(v) else v for v in pair)
    if mean is None:
        return "-"
    return f"{100 * mean:.1f}" if std is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


def seed_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    """Markdown laid out like the AGHMN paper's Tables 2-3: per class Acc F1, then Avg. Acc F1 (weighted) and mF1."""
    classes = summaries[0]["classes"]
    head = "| Model | " + " | ".join(f"{c} Acc | {c} F1" for c in classes) + " | Avg. Acc | Avg. F1 | mF1 |"
    rows = [head, "|---" * (2 * len(classes) + 4) + "|"]
    for s in summaries:
        if s["classes"] != classes:
            raise ReportError(f"{s['tag']}: classes differ from {classes}; cannot share one table")
        cells = [f"{_pm_seeds(s['per_class'][c]['acc'])} | {_pm_seeds(s['per_class'][c]['f1'])}" for c in classes]
        rows.append(f"| {s['tag']} | " + " | ".join(cells)
                    + f" | {_pm_seeds(s['acc'])} | {_pm_seeds(s['weighted_f1'])} | {_pm_seeds(s['macro_f1'])} |")
    return "\n".join(rows) + "\n"


def write_seed_report(exp_dir: str | Path, seeds: Sequence[int] | None = None, command: str = "") -> dict[str, Any]:
    """results.json and RESULTS.md of a text experiment (the command is kept from an earlier report if not given)."""
    exp_dir = Path(exp_dir)
    s = summarise_seeds(exp_dir, seeds)
    if not command and (exp_dir / RESULTS_JSON).is_file():
        try:
            command = json.loads((exp_dir / RESULTS_JSON).read_text(encoding="utf-8")).get("command", "")
        except (OSError, ValueError):
            command = ""
    if command:
        s["command"] = command
    write_text_atomic(exp_dir / RESULTS_JSON, json.dumps(s, indent=1) + "\n")
    n = len(s["seeds"])
    text = [
        f"# {s['tag']}: {n} seed{'s' if n != 1 else ''} ({', '.join(map(str, s['seeds']))})",
        "",
        "Test split; values in %, mean ± sample std over seeds. Acc per class = recall of that class; "
        "Avg. Acc = overall accuracy (support-weighted), Avg. F1 = support-weighted F1, mF1 = macro-F1.",
        "",
        seed_table([s]),
        f"Epochs per seed: {s['epochs']}; {s['seconds_per_epoch']:.1f} s per training epoch (mean).",
        "",
        "Model: `" + json.dumps(s["model_config"]) + "`",
        "",
        "Training: `" + json.dumps(s["train_config"]) + "`",
        "",
    ]
    if command:
        text += ["Command:", "", "```", command, "```", ""]
    write_text_atomic(exp_dir / RESULTS_MD, "\n".join(text))
    return s


def compare_seed_experiments(exp_dirs: Sequence[str | Path], out: str | Path | None = None) -> str:
    """One table over several text experiments (same classes)."""
    text = seed_table([summarise_seeds(d) for d in exp_dirs])
    if out:
        write_text_atomic(out, text)
    return text


__all__ = [
    "CI_METRICS",
    "CONFUSION_PNG",
    "FOLD_PREFIX",
    "FoldScores",
    "METRIC_LABELS",
    "PROTOCOL_ORDER",
    "RESULTS_JSON",
    "RESULTS_MD",
    "ReportError",
    "SCORES_FILE",
    "SEED_PREFIX",
    "bootstrap_block",
    "compare_experiments",
    "compare_seed_experiments",
    "find_fold_scores",
    "per_corpus_block",
    "plot_confusion",
    "read_corpora",
    "read_experiment_scores",
    "read_feat_map",
    "read_scores",
    "read_speakers",
    "seed_table",
    "summarise_seeds",
    "write_comparison",
    "write_report",
    "write_scores",
    "write_seed_report",
]
