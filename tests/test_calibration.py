"""Temperature scaling and the expected calibration error: known answers on constructed posteriors."""

from __future__ import annotations

import numpy as np
import pytest

from ser.calibration import apply_temperature, expected_calibration_error, fit_temperature
from ser.errors import SerError


def overconfident(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors that put 0.95 on their arg-max while it is right only 60% of the time."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    pred = np.where(rng.random(n) < 0.6, labels, (labels + rng.integers(1, 4, n)) % 4)
    probs = np.full((n, 4), 0.05 / 3)
    probs[np.arange(n), pred] = 0.95
    return probs, labels


def test_ece_known_answer():
    probs, labels = overconfident()
    accuracy = (probs.argmax(1) == labels).mean()
    assert expected_calibration_error(probs, labels) == pytest.approx(0.95 - accuracy, abs=1e-9)  # one bin


def test_temperature_softens_overconfidence_and_keeps_the_argmax():
    probs, labels = overconfident()
    cal = fit_temperature(probs, labels, "constructed")
    assert cal.temperature > 1.5 and cal.ece_after < cal.ece_before / 3 and cal.nll_after < cal.nll_before
    after = apply_temperature(probs, cal.temperature)
    assert (after.argmax(1) == probs.argmax(1)).all()
    np.testing.assert_allclose(after.sum(1), 1.0)
    # the confidence now matches the accuracy it had
    assert after.max(1).mean() == pytest.approx((probs.argmax(1) == labels).mean(), abs=0.03)
    np.testing.assert_allclose(apply_temperature(probs, 1.0), probs, atol=1e-12)


def test_impossible_classes_stay_impossible_and_too_little_data_is_refused():
    probs = np.array([[0.7, 0.3, 0.0]] * 30)
    assert (apply_temperature(probs, 2.0)[:, 2] == 0).all()
    with pytest.raises(SerError, match="at least 20"):
        fit_temperature(probs[:5], np.zeros(5, dtype=int), "few")
