"""Known answers for the speaker bootstrap and the paired tests: hand-computed McNemar, brute-force permutations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ser.metrics import Metrics, compute_metrics
from ser.significance import (
    SignificanceError,
    batch_uar,
    batch_wa,
    bootstrap_mean,
    check_paired,
    mcnemar,
    paired_tests,
    permutation_test,
    speaker_bootstrap,
)

approx = pytest.approx
CLASSES = ["ang", "hap", "neu"]


def synthetic(n_speakers: int, per_speaker: int = 12, seed: int = 1):
    """Utterances of `n_speakers` speakers; each speaker's system accuracy varies (0.4 .. 0.9)."""
    rng = np.random.default_rng(seed)
    utts, y_true, y_pred, speakers = [], [], [], []
    for s in range(n_speakers):
        acc = rng.uniform(0.4, 0.9)
        for i in range(per_speaker):
            true = CLASSES[i % 3]
            pred = true if rng.random() < acc else CLASSES[(i + 1) % 3]
            utts.append(f"s{s:03d}_{i:02d}")
            y_true.append(true)
            y_pred.append(pred)
            speakers.append(f"s{s:03d}")
    return utts, y_true, y_pred, speakers


# --- batch metrics -----------------------------------------------------------------------------------
def test_batch_metrics_agree_with_metrics_including_absent_classes():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 5, size=(20, 4, 4))
    stack[:5, 2, :] = 0  # class 2 absent from the reference in the first five
    got_uar, got_wa = batch_uar(stack), batch_wa(stack)
    for i, cm in enumerate(stack):
        m = Metrics(tuple("abcd"), cm)
        assert got_uar[i] == approx(m.uar) and got_wa[i] == approx(m.wa)


# --- bootstrap ---------------------------------------------------------------------------------------
def test_one_speaker_gives_a_degenerate_interval_at_the_estimate():
    utts, y_true, y_pred, _ = synthetic(1)
    res = speaker_bootstrap(y_true, y_pred, ["only"] * len(utts), CLASSES, n_boot=50)
    m = compute_metrics(y_true, y_pred, CLASSES)
    for name, value in (("uar", m.uar), ("wa", m.wa)):
        iv = res.intervals[name]
        assert iv.estimate == approx(value) and iv.low == approx(value) and iv.high == approx(value)
    assert res.n_clusters == 1 and res.unit == "speaker"


def test_two_speakers_replicates_lie_between_the_speakers():
    # speaker x all right (WA 1), speaker y half right (WA .5): replicates are xx, xy, yx, yy -> WA in {.5, .75, 1}
    y_true = ["ang", "hap", "ang", "hap", "neu", "neu"]
    y_pred = ["ang", "hap", "ang", "neu", "neu", "ang"]
    spk = ["x", "x", "y", "y", "y", "y"]
    res = speaker_bootstrap(y_true, y_pred, spk, CLASSES, n_boot=400, seed=3, level=0.9)
    wa = res.intervals["wa"]
    assert wa.estimate == approx(4 / 6)
    assert wa.low == approx(0.5) and wa.high == approx(1.0)  # P(yy) = P(xx) = 1/4 > 5% in each tail


def test_interval_contains_estimate_and_narrows_with_more_speakers():
    widths = []
    for n_speakers in (8, 32, 128):
        _, y_true, y_pred, spk = synthetic(n_speakers)
        res = speaker_bootstrap(y_true, y_pred, spk, CLASSES, n_boot=300, seed=0)
        for iv in res.intervals.values():
            assert iv.low <= iv.estimate <= iv.high
            assert 0.0 <= iv.low < iv.high <= 1.0
        widths.append(res.intervals["uar"].high - res.intervals["uar"].low)
    assert widths[0] > 1.5 * widths[1] > 1.5 * 1.5 * widths[2]  # ~ 1/sqrt(speakers): halves per 4x


def test_speaker_clusters_give_wider_intervals_than_utterances_when_speakers_differ():
    _, y_true, y_pred, spk = synthetic(10, per_speaker=40)
    by_speaker = speaker_bootstrap(y_true, y_pred, spk, CLASSES, n_boot=400)
    by_utt = speaker_bootstrap(y_true, y_pred, list(range(len(spk))), CLASSES, n_boot=400, unit="utterance")
    width = lambda r: r.intervals["wa"].high - r.intervals["wa"].low  # noqa: E731
    assert width(by_speaker) > 1.3 * width(by_utt)
    assert by_utt.unit == "utterance" and by_utt.n_clusters == 400


def test_bootstrap_is_deterministic_for_a_seed_and_varies_with_it():
    _, y_true, y_pred, spk = synthetic(12)
    one = speaker_bootstrap(y_true, y_pred, spk, CLASSES, n_boot=200, seed=7)
    two = speaker_bootstrap(y_true, y_pred, spk, CLASSES, n_boot=200, seed=7)
    other = speaker_bootstrap(y_true, y_pred, spk, CLASSES, n_boot=200, seed=8)
    assert one == two
    assert one.to_dict() != other.to_dict()
    assert one.to_dict()["n_boot"] == 200 and one.to_dict()["seed"] == 7 and one.to_dict()["level"] == 0.95


def test_custom_metric_and_bad_arguments():
    _, y_true, y_pred, spk = synthetic(5)
    res = speaker_bootstrap(y_true, y_pred, spk, CLASSES, metric_fns={"errors": lambda cm: 1 - batch_wa(cm)}, n_boot=20)
    assert list(res.intervals) == ["errors"]
    assert res.intervals["errors"].estimate == approx(1 - compute_metrics(y_true, y_pred, CLASSES).wa)
    with pytest.raises(SignificanceError, match="cluster"):
        speaker_bootstrap(y_true, y_pred, spk[:-1], CLASSES)
    with pytest.raises(SignificanceError, match="level"):
        speaker_bootstrap(y_true, y_pred, spk, CLASSES, level=95)
    with pytest.raises(SignificanceError, match="n_boot"):
        speaker_bootstrap(y_true, y_pred, spk, CLASSES, n_boot=0)


def test_bootstrap_mean_of_fold_values():
    iv = bootstrap_mean([0.5, 0.7], n_boot=400, seed=0, level=0.9)
    assert iv.estimate == approx(0.6) and iv.low == approx(0.5) and iv.high == approx(0.7)
    assert bootstrap_mean([0.5, 0.6, 0.8], n_boot=50, seed=2) == bootstrap_mean([0.5, 0.6, 0.8], n_boot=50, seed=2)
    with pytest.raises(SignificanceError, match="at least 2"):
        bootstrap_mean([0.5])


# --- McNemar -----------------------------------------------------------------------------------------
def test_mcnemar_exact_p_value_by_hand():
    # 10 utterances: both right on 2, only A right on 1 (b), only B right on 7 (c)
    y_true = ["ang"] * 10
    pred_a = ["ang", "ang", "ang"] + ["hap"] * 7
    pred_b = ["ang", "ang", "hap"] + ["ang"] * 7
    res = mcnemar([f"u{i}" for i in range(10)], y_true, pred_a, pred_b)
    # two-sided exact: 2 * P(X <= 1), X ~ Bin(8, 1/2) = 2 * (1 + 8) / 256
    assert res.p_value == approx(18 / 256)
    assert res.statistic == 1 and res.detail["only_a_correct"] == 1 and res.detail["only_b_correct"] == 7
    assert res.difference == approx((9 - 3) / 10)  # WA_B - WA_A
    # symmetric in A and B apart from the sign of the difference
    back = mcnemar([f"u{i}" for i in range(10)], y_true, pred_b, pred_a)
    assert back.p_value == approx(res.p_value) and back.difference == approx(-res.difference)


def test_mcnemar_agrees_with_scipy_binomtest():
    from scipy.stats import binomtest

    for b in (0, 1, 2, 5, 9, 17, 40):
        for c in (0, 1, 3, 8, 17, 33):
            y_true = ["ang"] * (b + c + 2)
            pred_a = ["ang"] * b + ["hap"] * c + ["ang", "hap"]  # plus one concordant right, one concordant wrong
            pred_b = ["hap"] * b + ["ang"] * c + ["ang", "hap"]
            got = mcnemar([str(i) for i in range(len(y_true))], y_true, pred_a, pred_b).p_value
            want = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
            assert got == approx(want, rel=1e-9, abs=1e-300), (b, c)


def test_mcnemar_without_discordant_pairs_is_one():
    res = mcnemar(["a", "b"], ["ang", "hap"], ["ang", "ang"], ["ang", "neu"])  # same correctness pattern
    assert res.p_value == 1.0 and res.difference == 0.0


# --- permutation test --------------------------------------------------------------------------------
def test_system_against_itself_gives_p_one():
    utts, y_true, y_pred, spk = synthetic(6)
    for speakers in (spk, None):
        res = permutation_test(utts, y_true, y_pred, y_pred, CLASSES, speakers, n_perm=99)
        assert res.p_value == 1.0 and res.difference == 0.0
    assert res.detail["unit"] == "utterance"


def test_p_value_bounds_and_the_plus_one_correction():
    # A always right, B always wrong, 20 speakers: |d| = 1 only when no speaker or every speaker is swapped
    utts, y_true, _, spk = synthetic(20, per_speaker=3)
    wrong = [CLASSES[(CLASSES.index(t) + 1) % 3] for t in y_true]
    res = permutation_test(utts, y_true, y_true, wrong, CLASSES, spk, n_perm=199, seed=0)
    assert res.difference == approx(-1.0) and res.statistic == approx(1.0)
    assert res.p_value == approx(1 / 200)  # never 0: the observed assignment counts
    assert res.detail == {"metric": "uar", "unit": "speaker", "n_clusters": 20, "n_perm": 199, "seed": 0}
    # per utterance there are more clusters; still the smallest possible p
    assert permutation_test(utts, y_true, y_true, wrong, CLASSES, None, n_perm=99).p_value == approx(1 / 100)


def two_systems(right_a: list[int], right_b: list[int], per_speaker: int = 6):
    """Speaker k's first right_a[k] (right_b[k]) utterances are right for A (B); the rest are wrong."""
    utts, y_true, pred_a, pred_b, spk = [], [], [], [], []
    for k, (ra, rb) in enumerate(zip(right_a, right_b)):
        for i in range(per_speaker):
            true = CLASSES[i % 3]
            wrong = CLASSES[(i + 1) % 3]
            utts.append(f"s{k}_{i}")
            y_true.append(true)
            pred_a.append(true if i < ra else wrong)
            pred_b.append(true if i < rb else wrong)
            spk.append(f"s{k}")
    return utts, y_true, pred_a, pred_b, spk


def test_permutation_p_matches_full_enumeration_of_speaker_swaps():
    # B gains 3, 2, 1, 0, -1 correct utterances over A on the five speakers
    utts, y_true, pred_a, pred_b, spk = two_systems([1, 2, 3, 4, 5], [4, 4, 4, 4, 4])
    speakers = sorted(set(spk))

    def uar_diff(swapped: set[str]) -> float:
        a = [pb if s in swapped else pa for pa, pb, s in zip(pred_a, pred_b, spk)]
        b = [pa if s in swapped else pb for pa, pb, s in zip(pred_a, pred_b, spk)]
        return compute_metrics(y_true, b, CLASSES).uar - compute_metrics(y_true, a, CLASSES).uar

    observed = uar_diff(set())
    diffs = [uar_diff(set(c)) for r in range(6) for c in itertools.combinations(speakers, r)]
    exact = sum(abs(d) >= abs(observed) - 1e-12 for d in diffs) / len(diffs)
    assert 0.2 < exact < 0.6  # an informative case, not p = 1
    res = permutation_test(utts, y_true, pred_a, pred_b, CLASSES, spk, n_perm=8000, seed=1)
    assert res.difference == approx(observed) and observed > 0
    assert res.p_value == approx(exact, abs=0.02)
    # swapping single utterances breaks fewer ties with the observed split: a smaller p for the same data
    per_utt = permutation_test(utts, y_true, pred_a, pred_b, CLASSES, None, n_perm=8000, seed=1)
    assert per_utt.detail["n_clusters"] == 30 and per_utt.p_value < res.p_value


def test_permutation_is_deterministic_for_a_seed():
    utts, y_true, pred_a, spk = synthetic(8, seed=2)
    _, _, pred_b, _ = synthetic(8, seed=3)
    one = permutation_test(utts, y_true, pred_a, pred_b, CLASSES, spk, n_perm=300, seed=11)
    assert one == permutation_test(utts, y_true, pred_a, pred_b, CLASSES, spk, n_perm=300, seed=11)


# --- pairing -----------------------------------------------------------------------------------------
def test_paired_tests_match_by_id_and_refuse_other_sets():
    utts, y_true, pred_a, spk = synthetic(4, seed=2)
    _, _, pred_b, _ = synthetic(4, seed=3)
    clusters = dict(zip(utts, spk))
    mc, perm = paired_tests(utts, y_true, pred_a, utts[::-1], y_true[::-1], pred_b[::-1], CLASSES, clusters, n_perm=50)
    assert mc == mcnemar(utts, y_true, pred_a, pred_b)
    assert perm == permutation_test(utts, y_true, pred_a, pred_b, CLASSES, spk, n_perm=50)
    with pytest.raises(SignificanceError, match="not scored on the same utterances: 1 only in A"):
        paired_tests(utts, y_true, pred_a, utts[1:], y_true[1:], pred_b[1:], CLASSES)
    relabelled = ["neu" if t == "ang" else t for t in y_true]
    with pytest.raises(SignificanceError, match="different reference labels"):
        check_paired(utts, y_true, utts, relabelled)
    with pytest.raises(SignificanceError, match="no speaker"):
        paired_tests(utts, y_true, pred_a, utts, y_true, pred_b, CLASSES, {utts[0]: "s"})
    with pytest.raises(SignificanceError, match="predictions of B"):
        mcnemar(utts, y_true, pred_a, pred_b[:-1])
