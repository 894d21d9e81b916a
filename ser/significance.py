"""How sure are we of a UAR, and is system B really better than system A? Bootstrap intervals and paired tests.

A LOSO result is one number per corpus, but it rests on a handful of speakers (EmoDB: 10). Utterances of one
speaker are correlated (same voice, same recording session, often the same sentences), and the LOSO protocol
claims to generalise to *new speakers*. So the unit of resampling is the speaker, not the utterance:
`speaker_bootstrap` draws speakers with replacement and lets every utterance of a drawn speaker enter (as often as
the speaker was drawn); resampling utterances instead would treat 535 correlated utterances as 535 independent
draws and give intervals that are far too narrow. The interval is the percentile interval of the replicates
(B replicates, a fixed seed, so a report is reproducible). With few speakers it is rough - 10 speakers have
only so much to say - and that roughness is the honest message.

Paired tests compare two systems scored on the *same* utterances with the *same* reference labels (they refuse
anything else with `SignificanceError`):
- `mcnemar`: exact McNemar test on per-utterance correctness (pooled over folds). Only the discordant pairs
  matter: b = utterances only A gets right, c = only B gets right; under H0 b ~ Binomial(b + c, 1/2), and the
  two-sided p is min(1, 2 P(X <= min(b, c))) - what `scipy.stats.binomtest(b, b + c).pvalue` gives for a
  symmetric binomial (tested to agree); the tail comes from `scipy.special.bdtr`, because importing
  scipy.stats alone takes about a second, longer than a whole comparison otherwise. It tests accuracy (WA),
  and it treats utterances as independent.
- `permutation_test`: paired approximate randomisation on the pooled UAR difference. Under H0 the two systems'
  outputs are exchangeable, so each cluster's pair of predictions is swapped with probability 1/2; the p-value
  is (1 + #{|d_perm| >= |d_obs|}) / (n_perm + 1) (the +1 counts the observed assignment, so p is never 0).
  Clusters are speakers when the caller gives them (the correlation argument above), else single utterances
  (the classical test; optimistic when utterances of a speaker are correlated). `PairedTest.detail['unit']`
  says which.

Everything is vectorised over replicates: per-cluster confusion matrices [K, C, C] are combined by a matrix
product with the replicate's cluster counts, so B = 1000 on a 535-utterance corpus takes milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np

from ser.errors import SerError
from ser.metrics import confusion_matrix

#: Confidence level of every interval unless the caller says otherwise.
DEFAULT_LEVEL = 0.95
DEFAULT_N_BOOT = 1000
DEFAULT_N_PERM = 1000
DEFAULT_SEED = 0

#: Permutations evaluated per matrix product (bounds memory when clusters are single utterances).
_PERM_CHUNK = 512

#: A metric over a stack of confusion matrices [..., C, C] -> values [...].
BatchMetric = Callable[[np.ndarray], np.ndarray]


class SignificanceError(SerError, ValueError):
    """Inputs a statistic cannot be computed on: empty sets, mismatched utterance sets or labels."""


# --- metrics on stacks of confusion matrices -------------------------------------------------------
def batch_uar(cm: np.ndarray) -> np.ndarray:
    """UAR of each confusion matrix in a stack [..., C, C]: mean recall over the classes present (as ser.metrics)."""
    cm = np.asarray(cm, dtype=float)
    support = cm.sum(axis=-1)
    correct = np.diagonal(cm, axis1=-2, axis2=-1)
    present = support > 0
    recall = np.divide(correct, support, out=np.zeros(support.shape), where=present)
    return recall.sum(axis=-1) / present.sum(axis=-1)


def batch_wa(cm: np.ndarray) -> np.ndarray:
    """Overall accuracy (WA) of each confusion matrix in a stack [..., C, C]."""
    cm = np.asarray(cm, dtype=float)
    return np.trace(cm, axis1=-2, axis2=-1) / cm.sum(axis=(-2, -1))


DEFAULT_METRICS: dict[str, BatchMetric] = {"uar": batch_uar, "wa": batch_wa}


# --- results -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A point estimate (on all the data) and its percentile bootstrap interval [low, high]."""

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile intervals of several metrics from one set of cluster-bootstrap replicates."""

    intervals: dict[str, Interval]
    unit: str
    n_clusters: int
    n_boot: int
    seed: int
    level: float
    method: str = "percentile cluster bootstrap"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "unit": self.unit,
            "n_clusters": self.n_clusters,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "level": self.level,
            "intervals": {k: v.to_dict() for k, v in self.intervals.items()},
        }


@dataclass(frozen=True)
class PairedTest:
    """One paired test of system B against system A on the same utterances.

    `difference` is B - A of the tested metric (WA for McNemar, UAR for the permutation test); `statistic`
    is the test's own statistic (McNemar: b, the utterances only A gets right; permutation: |difference|).
    """

    test: str
    statistic: float
    difference: float
    p_value: float
    n_utterances: int
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "statistic": self.statistic,
            "difference": self.difference,
            "p_value": self.p_value,
            "n_utterances": self.n_utterances,
            **self.detail,
        }


# --- helpers -----------------------------------------------------------------------------------------
def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise SignificanceError(f"confidence level must be in (0, 1), got {level}")


def _check_count(name: str, value: int) -> None:
    if int(value) < 1:
        raise SignificanceError(f"{name} must be at least 1, got {value}")


def _cluster_index(clusters: Sequence[Hashable], n: int) -> tuple[np.ndarray, list[Hashable]]:
    """Cluster id per utterance -> (index 0..K-1 per utterance, cluster names in first-seen order)."""
    if len(clusters) != n:
        raise SignificanceError(f"{n} utterances but {len(clusters)} cluster (speaker) labels")
    names: dict[Hashable, int] = {}
    index = np.array([names.setdefault(c, len(names)) for c in clusters], dtype=np.int64)
    return index, list(names)


def _per_cluster_confusion(
    y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str], index: np.ndarray, k: int
) -> np.ndarray:
    """Confusion matrix of each cluster, stacked [K, C, C] (validates the labels once, via ser.metrics)."""
    total = confusion_matrix(y_true, y_pred, classes)  # raises on unknown labels or length mismatch
    c = total.shape[0]
    pos = {name: i for i, name in enumerate(classes)}
    t = np.array([pos[str(y)] for y in y_true], dtype=np.int64)
    p = np.array([pos[str(y)] for y in y_pred], dtype=np.int64)
    stack = np.zeros((k, c, c), dtype=np.int64)
    np.add.at(stack, (index, t, p), 1)
    return stack


def _percentile_interval(values: np.ndarray, estimate: float, level: float) -> Interval:
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return Interval(float(estimate), float(low), float(high))


# --- bootstrap ---------------------------------------------------------------------------------------
def speaker_bootstrap(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    speakers: Sequence[Hashable],
    classes: Sequence[str],
    metric_fns: Mapping[str, BatchMetric] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
    unit: str = "speaker",
) -> BootstrapResult:
    """Percentile intervals of pooled metrics by resampling speakers (clusters) with replacement.

    Each replicate draws as many speakers as there are, with replacement; every utterance of a drawn speaker
    enters the replicate's pooled confusion matrix once per draw. `metric_fns` maps a name to a function of
    a stack of confusion matrices [..., C, C] (default: UAR and WA, see `batch_uar`, `batch_wa`).
    `speakers` may hold any cluster label (e.g. the fold name when speakers are unknown; then pass
    `unit="fold"` so the result says so).
    """
    _check_count("n_boot", n_boot)
    _check_level(level)
    if not len(y_true):
        raise SignificanceError("no utterances to bootstrap")
    index, names = _cluster_index(speakers, len(y_true))
    per_cluster = _per_cluster_confusion(y_true, y_pred, classes, index, len(names))
    k, c = per_cluster.shape[0], per_cluster.shape[1]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, k, size=(n_boot, k))
    counts = np.zeros((n_boot, k), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n_boot), k), draws.ravel()), 1)
    replicates = (counts @ per_cluster.reshape(k, c * c)).reshape(n_boot, c, c)
    full = per_cluster.sum(axis=0)
    fns = dict(metric_fns or DEFAULT_METRICS)
    intervals = {
        name: _percentile_interval(np.asarray(fn(replicates), dtype=float), float(fn(full)), level)
        for name, fn in fns.items()
    }
    return BootstrapResult(intervals, unit=unit, n_clusters=k, n_boot=int(n_boot), seed=int(seed), level=level)


def bootstrap_mean(
    values: Sequence[float], n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED, level: float = DEFAULT_LEVEL
) -> Interval:
    """Percentile interval of the mean of `values` (e.g. one UAR per fold) by resampling the values.

    In LOSO a fold is a speaker, so this is the speaker bootstrap of the mean-over-folds figure. Needs at
    least two values (one value has no spread to resample).
    """
    _check_count("n_boot", n_boot)
    _check_level(level)
    arr = np.asarray(list(values), dtype=float)
    if arr.size < 2:
        raise SignificanceError(f"bootstrap of a mean needs at least 2 values, got {arr.size}")
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    return _percentile_interval(means, float(arr.mean()), level)


# --- paired tests ------------------------------------------------------------------------------------
def check_paired(
    utts_a: Sequence[str],
    true_a: Sequence[str],
    utts_b: Sequence[str],
    true_b: Sequence[str],
    names: tuple[str, str] = ("A", "B"),
) -> list[int]:
    """Refuse two systems that were not scored on the same utterances with the same reference labels.

    Returns, for each utterance of A in order, the position of the same utterance in B. `names` are the
    systems' names in the error message.
    """
    if len(set(utts_a)) != len(utts_a) or len(set(utts_b)) != len(utts_b):
        raise SignificanceError("duplicate utterance ids: a paired test needs one prediction per utterance")
    pos_b = {u: i for i, u in enumerate(utts_b)}
    only_a = [u for u in utts_a if u not in pos_b]
    only_b = sorted(set(utts_b) - set(utts_a))
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} only in {names[0]} (e.g. {sorted(only_a)[0]})")
        if only_b:
            parts.append(f"{len(only_b)} only in {names[1]} (e.g. {only_b[0]})")
        raise SignificanceError("not scored on the same utterances: " + ", ".join(parts))
    order = [pos_b[u] for u in utts_a]
    differ = [u for u, ta, j in zip(utts_a, true_a, order) if str(ta) != str(true_b[j])]
    if differ:
        raise SignificanceError(
            f"{names[0]} and {names[1]} have different reference labels for {len(differ)} utterance(s), "
            f"e.g. {differ[0]}"
        )
    if not utts_a:
        raise SignificanceError("no utterances to compare")
    return order


def _aligned(utts: Sequence[str], y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str]) -> None:
    n = len(utts)
    for name, seq in (("reference labels", y_true), ("predictions of A", pred_a), ("predictions of B", pred_b)):
        if len(seq) != n:
            raise SignificanceError(f"{n} utterances but {len(seq)} {name}")
    if len(set(utts)) != n:
        raise SignificanceError("duplicate utterance ids: a paired test needs one prediction per utterance")
    if n == 0:
        raise SignificanceError("no utterances to compare")


def mcnemar(utts: Sequence[str], y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str]) -> PairedTest:
    """Exact two-sided McNemar test on per-utterance correctness of A and B (same utterances, same labels).

    Use `check_paired` first when A and B come from different files; here all sequences are aligned by position.
    """
    from scipy.special import bdtr  # binomial CDF; imported here, only comparisons need it

    _aligned(utts, y_true, pred_a, pred_b)
    right_a = np.array([str(p) == str(t) for p, t in zip(pred_a, y_true)])
    right_b = np.array([str(p) == str(t) for p, t in zip(pred_b, y_true)])
    b = int((right_a & ~right_b).sum())
    c = int((~right_a & right_b).sum())
    p = min(1.0, 2.0 * float(bdtr(min(b, c), b + c, 0.5)))  # b + c = 0: bdtr(0, 0) = 1, so p = 1
    n = len(utts)
    return PairedTest(
        test="exact McNemar (two-sided binomial test on discordant pairs)",
        statistic=float(b),
        difference=(c - b) / n,
        p_value=p,
        n_utterances=n,
        detail={"metric": "wa", "only_a_correct": b, "only_b_correct": c},
    )


def permutation_test(
    utts: Sequence[str],
    y_true: Sequence[str],
    pred_a: Sequence[str],
    pred_b: Sequence[str],
    classes: Sequence[str],
    speakers: Sequence[Hashable] | None = None,
    n_perm: int = DEFAULT_N_PERM,
    seed: int = DEFAULT_SEED,
    unit: str | None = None,
) -> PairedTest:
    """Paired approximate-randomisation test of the pooled UAR difference (B - A), two-sided.

    Each cluster (a speaker from `speakers`; each utterance when `speakers` is None) has its two systems'
    predictions swapped with probability 1/2 in each of `n_perm` permutations drawn with `seed`.
    p = (1 + #{|d_perm| >= |d_obs|}) / (n_perm + 1). `unit` names the clusters in the result
    (default "speaker" with `speakers`, "utterance" without).
    """
    _aligned(utts, y_true, pred_a, pred_b)
    _check_count("n_perm", n_perm)
    n = len(utts)
    if speakers is None:
        index, names = np.arange(n, dtype=np.int64), list(utts)
        unit = unit or "utterance"
    else:
        index, names = _cluster_index(speakers, n)
        unit = unit or "speaker"
    k = len(names)
    cm_a = _per_cluster_confusion(y_true, pred_a, classes, index, k)
    cm_b = _per_cluster_confusion(y_true, pred_b, classes, index, k)
    support = cm_a.sum(axis=(0, 2)).astype(float)  # same reference labels, so the same for B
    present = support > 0
    # UAR_B - UAR_A = mean over present classes of (correct_B - correct_A) / support; a swap of cluster k
    # moves that cluster's delta from B to A, i.e. subtracts 2 * delta_k from the total difference.
    delta = (np.diagonal(cm_b, axis1=1, axis2=2) - np.diagonal(cm_a, axis1=1, axis2=2))[:, present]
    weights = 1.0 / (support[present] * present.sum())
    delta_w = delta @ weights  # [K]: each cluster's contribution to the UAR difference
    observed = float(delta_w.sum())
    rng = np.random.default_rng(seed)
    tol = 1e-12
    extreme = 0
    for start in range(0, n_perm, _PERM_CHUNK):
        size = min(_PERM_CHUNK, n_perm - start)
        swap = rng.integers(0, 2, size=(size, k)).astype(float)
        diffs = observed - 2.0 * (swap @ delta_w)
        extreme += int((np.abs(diffs) >= abs(observed) - tol).sum())
    p = (1 + extreme) / (n_perm + 1)
    return PairedTest(
        test="paired approximate randomisation (permutation) test on the pooled UAR difference",
        statistic=abs(observed),
        difference=observed,
        p_value=float(p),
        n_utterances=n,
        detail={"metric": "uar", "unit": unit, "n_clusters": k, "n_perm": int(n_perm), "seed": int(seed)},
    )


def paired_tests(
    utts_a: Sequence[str],
    true_a: Sequence[str],
    pred_a: Sequence[str],
    utts_b: Sequence[str],
    true_b: Sequence[str],
    pred_b: Sequence[str],
    classes: Sequence[str],
    clusters: Mapping[str, Hashable] | None = None,
    unit: str | None = None,
    n_perm: int = DEFAULT_N_PERM,
    seed: int = DEFAULT_SEED,
    names: tuple[str, str] = ("A", "B"),
) -> tuple[PairedTest, PairedTest]:
    """McNemar and the permutation test of B against A, matched by utterance id (any row order).

    Raises SignificanceError unless both were scored on the same utterances with the same reference labels.
    `clusters` maps utterance -> speaker (or another cluster) for the permutation test; None swaps per utterance.
    """
    order = check_paired(utts_a, true_a, utts_b, true_b, names)
    pred_b = [pred_b[j] for j in order]
    if clusters is not None:
        missing = [u for u in utts_a if u not in clusters]
        if missing:
            raise SignificanceError(f"{len(missing)} utterance(s) have no speaker (cluster), e.g. {missing[0]}")
    groups = None if clusters is None else [clusters[u] for u in utts_a]
    return (
        mcnemar(utts_a, true_a, pred_a, pred_b),
        permutation_test(utts_a, true_a, pred_a, pred_b, classes, groups, n_perm=n_perm, seed=seed, unit=unit),
    )


__all__ = [
    "BatchMetric",
    "BootstrapResult",
    "DEFAULT_LEVEL",
    "DEFAULT_METRICS",
    "DEFAULT_N_BOOT",
    "DEFAULT_N_PERM",
    "DEFAULT_SEED",
    "Interval",
    "PairedTest",
    "SignificanceError",
    "batch_uar",
    "batch_wa",
    "bootstrap_mean",
    "check_paired",
    "mcnemar",
    "paired_tests",
    "permutation_test",
    "speaker_bootstrap",
]
