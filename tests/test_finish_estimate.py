"""The time left, said honestly: the current epoch, the expected end (patience after the validation
trend levels off) and the planned maximum only as an upper bound."""

from __future__ import annotations

import math

import pytest

from recstudio.training.estimate import FinishEstimator


def _run(estimator, scores, steps_per_epoch=100, step_seconds=0.01, validation_seconds=0.5):
    """Feed whole epochs of steps and one validation per score; the best-so-far as fit() reports it."""
    t, step, best, best_epoch = 0.0, 0, -math.inf, 0
    for epoch, score in enumerate(scores, 1):
        for _ in range(steps_per_epoch):
            step += 1
            t += step_seconds
            estimator.add_step(step, epoch, t)
        t += validation_seconds
        if score > best:
            best, best_epoch = score, epoch
        estimator.add_validation(epoch, best_epoch, best, t)
    return estimator.estimate()


def test_mid_epoch_the_time_to_its_end_includes_its_validation():
    est = FinishEstimator(steps_per_epoch=100, max_epochs=50, patience=3)
    _run(est, [0.01, 0.02])  # two epochs done, validations took 0.5 s each
    for step in range(201, 251):
        est.add_step(step, 3, 2 * 1.5 + (step - 200) * 0.01)
    left = est.estimate()
    assert left.epoch == 3
    assert left.epoch_left == pytest.approx(50 * 0.01 + 0.5, rel=0.05)
    assert left.most_left == pytest.approx(48 * 1.5 - 0.5 + 0.5, rel=0.05)  # 47.5 epochs of 1.5 s
    assert left.expected_epoch is None  # two validations are not a trend yet


def test_a_levelling_curve_is_expected_to_end_long_before_its_maximum():
    est = FinishEstimator(steps_per_epoch=100, max_epochs=200, patience=3)
    scores = [0.1 * (1 - math.exp(-e / 3)) for e in range(1, 9)]
    left = _run(est, scores)
    assert 12 <= left.expected_epoch <= 25  # the curve's gains fall under 0.25 % of the score near epoch 14
    assert left.expected_left < left.most_left / 5
    assert 0 < left.expected_progress < 1
    assert "levels off" in left.reason


def test_a_flat_curve_ends_patience_epochs_after_its_best():
    est = FinishEstimator(steps_per_epoch=100, max_epochs=200, patience=4)
    left = _run(est, [0.05, 0.08, 0.09, 0.09, 0.09, 0.089])
    assert left.expected_epoch == 3 + 4
    assert left.expected_left == pytest.approx(1 * 1.5, rel=0.05)  # one more epoch to go


def test_a_steadily_rising_curve_may_go_to_its_maximum():
    est = FinishEstimator(steps_per_epoch=100, max_epochs=30, patience=3)
    left = _run(est, [0.01 * e for e in range(1, 7)])
    assert left.expected_epoch == 30 and left.expected_left == pytest.approx(left.most_left)


def test_a_step_limit_is_the_maximum():
    est = FinishEstimator(steps_per_epoch=100, max_epochs=50, max_steps=250, patience=3)
    assert est.max_epochs == 3
    left = _run(est, [0.01])
    assert left.most_left == pytest.approx(150 * 0.01 + 2 * 0.5, rel=0.05)
