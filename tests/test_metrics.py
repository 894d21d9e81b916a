"""Hand-computed metric cases: UAR over present classes, WA, F1, zero-division safety, fold summaries."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from ser.errors import SerError
from ser.metrics import (
    Metrics,
    MetricsError,
    compute_metrics,
    confusion_matrix,
    macro_f1,
    mean_std,
    per_class_recall,
    summarise_folds,
    uar,
    weighted_accuracy,
    weighted_f1,
)

approx = pytest.approx


def test_confusion_matrix_rows_are_reference_columns_prediction():
    cm = confusion_matrix(["a", "a", "a", "b", "b", "c"], ["a", "a", "b", "b", "c", "c"], ["a", "b", "c"])
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert cm.dtype == np.int64


def test_all_classes_present_hand_computed():
    classes = ["a", "b", "c"]
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "c", "c"]
    m = compute_metrics(y_true, y_pred, classes)
    assert m.recall.tolist() == approx([2 / 3, 1 / 2, 1.0])
    assert m.precision.tolist() == approx([1.0, 1 / 2, 1 / 2])
    assert m.f1.tolist() == approx([4 / 5, 1 / 2, 2 / 3])
    assert m.uar == approx(13 / 18)
    assert m.wa == approx(4 / 6)
    assert m.macro_f1 == approx(59 / 90)
    assert m.weighted_f1 == approx(61 / 90)
    assert m.absent_classes == []
    # functional helpers agree
    assert uar(y_true, y_pred, classes) == approx(13 / 18)
    assert weighted_accuracy(y_true, y_pred, classes) == approx(2 / 3)
    assert macro_f1(y_true, y_pred, classes) == approx(59 / 90)
    assert weighted_f1(y_true, y_pred, classes) == approx(61 / 90)
    assert per_class_recall(y_true, y_pred, classes).tolist() == approx([2 / 3, 1 / 2, 1.0])


def test_class_absent_from_reference_is_left_out_of_uar_and_macro_f1():
    classes = ["a", "b", "c", "d"]  # c: absent but predicted once; d: absent and never predicted
    m = compute_metrics(["a", "a", "b", "b"], ["a", "c", "b", "b"], classes)
    assert m.absent_classes == ["c", "d"]
    assert m.present_classes == ["a", "b"]
    assert m.recall[:2].tolist() == approx([0.5, 1.0])
    assert math.isnan(m.recall[2]) and math.isnan(m.recall[3])
    assert m.uar == approx(0.75)  # (1/2 + 1) / 2, not / 4
    assert m.wa == approx(0.75)
    assert m.precision[:3].tolist() == approx([1.0, 1.0, 0.0])  # c predicted once, wrongly
    assert math.isnan(m.precision[3])
    assert m.f1[:2].tolist() == approx([2 / 3, 1.0])
    assert math.isnan(m.f1[2]) and math.isnan(m.f1[3])
    assert m.macro_f1 == approx(5 / 6)
    assert m.weighted_f1 == approx(5 / 6)
    d = m.to_dict()
    assert d["per_class"]["d"]["recall"] is None and d["per_class"]["c"]["precision"] == 0.0
    assert d["absent_classes"] == ["c", "d"]


def test_class_never_predicted_is_zero_division_safe():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (0/0) fails the test
        m = compute_metrics(["a", "b", "b"], ["a", "a", "a"], ["a", "b"])
        assert m.recall.tolist() == approx([1.0, 0.0])
        assert m.precision.tolist() == approx([1 / 3, 0.0])
        assert m.f1.tolist() == approx([0.5, 0.0])
        assert m.uar == approx(0.5)
        assert m.wa == approx(1 / 3)
        assert m.macro_f1 == approx(0.25)
        assert m.weighted_f1 == approx(1 / 6)
        # absent and never predicted, too
        m2 = compute_metrics(["a"], ["a"], ["a", "b"])
        assert m2.uar == 1.0 and m2.macro_f1 == 1.0 and m2.absent_classes == ["b"]


def test_matches_sklearn_when_all_classes_present():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    rng = np.random.default_rng(0)
    classes = ["W", "L", "E", "A", "F", "T", "N"]
    y_true = list(rng.choice(classes, 300))
    y_pred = [y if rng.random() < 0.5 else rng.choice(classes) for y in y_true]
    m = compute_metrics(y_true, y_pred, classes)
    assert m.uar == approx(balanced_accuracy_score(y_true, y_pred))
    assert m.wa == approx(accuracy_score(y_true, y_pred))
    assert m.macro_f1 == approx(f1_score(y_true, y_pred, labels=classes, average="macro"))
    assert m.weighted_f1 == approx(f1_score(y_true, y_pred, labels=classes, average="weighted"))


def test_bad_input_is_a_clear_error():
    with pytest.raises(MetricsError, match="not in the class list"):
        compute_metrics(["a", "x"], ["a", "a"], ["a", "b"])
    with pytest.raises(MetricsError, match="predicted labels"):
        compute_metrics(["a"], ["z"], ["a", "b"])
    with pytest.raises(MetricsError, match="2 reference labels but 1"):
        compute_metrics(["a", "a"], ["a"], ["a"])
    with pytest.raises(MetricsError, match="empty set"):
        compute_metrics([], [], ["a", "b"])
    with pytest.raises(MetricsError, match="duplicate"):
        compute_metrics(["a"], ["a"], ["a", "a"])
    assert issubclass(MetricsError, SerError)


def test_summarise_folds_sample_std_and_pooled():
    classes = ["a", "b"]
    fold_a = compute_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], classes)  # UAR .75, WA .75
    fold_b = compute_metrics(["a", "a"], ["a", "b"], classes)  # b absent: UAR .5, WA .5
    s = summarise_folds({"A": fold_a, "B": fold_b})
    assert s.mean["uar"] == approx(0.625)
    assert s.std["uar"] == approx(0.125 * math.sqrt(2))  # sample std (ddof=1); population would be 0.125
    assert s.mean["wa"] == approx(0.625)
    assert s.std["wa"] == approx(0.125 * math.sqrt(2))
    # pooled over the 6 utterances: a -> [2, 2], b -> [0, 2]
    assert s.pooled.confusion.tolist() == [[2, 2], [0, 2]]
    assert s.pooled.uar == approx(0.75)
    assert s.pooled.wa == approx(4 / 6)
    # per-class recall mean over folds where the class is present
    assert s.per_class_recall_mean == {"a": approx(0.5), "b": approx(1.0)}
    d = s.to_dict()
    assert d["num_folds"] == 2 and "ddof=1" in d["std_definition"]


def test_summarise_single_fold_std_undefined_and_mismatch_errors():
    m = compute_metrics(["a", "b"], ["a", "b"], ["a", "b"])
    s = summarise_folds({"only": m})
    assert s.mean["uar"] == 1.0 and math.isnan(s.std["uar"])
    assert s.to_dict()["std"]["uar"] is None
    other = compute_metrics(["a"], ["a"], ["a", "c"])
    with pytest.raises(MetricsError, match="differ"):
        summarise_folds({"x": m, "y": other})
    with pytest.raises(MetricsError):
        summarise_folds({})
    assert mean_std([1.0, 3.0]) == approx((2.0, math.sqrt(2)))
    assert mean_std([1.0, 3.0], ddof=0) == approx((2.0, 1.0))


def test_metrics_from_confusion_validates_shape():
    with pytest.raises(MetricsError, match="shape"):
        Metrics(("a", "b"), np.zeros((3, 3), dtype=int))
    m = Metrics(("a", "b"), np.array([[3, 1], [0, 4]]))
    assert m.n == 8 and m.wa == approx(7 / 8) and m.uar == approx((3 / 4 + 1) / 2)
