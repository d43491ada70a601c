"""The loss-curve smoothing (TensorBoard's debiased EMA) and the plot buffers, as plain functions."""

import numpy as np
import pytest

from recstudio.gui.plots import GrowableColumns, curve_arrays, debiased_ema, format_duration


def reference_ema(values, s):
    """The definition, one point at a time."""
    out, ema = [], 0.0
    for t, x in enumerate(values, 1):
        ema = s * ema + (1 - s) * x
        out.append(ema / (1 - s**t))
    return np.array(out)


def test_hand_computed_values():
    # ema: 0.5, 1.25, 2.125; debiased by 1 - 0.5^t: 1, 5/3, 17/7
    np.testing.assert_allclose(debiased_ema([1, 2, 3], 0.5), [1, 5 / 3, 17 / 7], rtol=1e-12)


def test_no_smoothing_returns_the_raw_values():
    raw = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    out = debiased_ema(raw, 0.0)
    np.testing.assert_array_equal(out, raw)
    out[0] = 99  # a copy: the curve's buffer is never changed through the result
    assert raw[0] == 3.0


@pytest.mark.parametrize("s", [0.01, 0.3, 0.6, 0.9, 0.99])
def test_matches_the_definition_over_long_runs(s):
    # long enough to cross the function's internal blocks many times
    rng = np.random.default_rng(1)
    values = 7 - np.linspace(0, 2, 5000) + rng.normal(0, 0.3, 5000)
    np.testing.assert_allclose(debiased_ema(values, s), reference_ema(values, s), rtol=1e-10, atol=1e-12)


def test_first_point_is_unbiased_and_constants_stay_constant():
    assert debiased_ema([7.5], 0.9)[0] == pytest.approx(7.5)
    np.testing.assert_allclose(debiased_ema(np.full(1000, 2.0), 0.95), 2.0, rtol=1e-12)


def test_non_finite_points_pass_through_without_counting():
    out = debiased_ema([1.0, np.nan, 2.0, 3.0], 0.5)
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2, 3]], [1, 5 / 3, 17 / 7])


def test_a_hundred_thousand_points():
    values = np.random.default_rng(0).normal(size=100_000)
    out = debiased_ema(values, 0.99)
    assert out.shape == values.shape and np.isfinite(out).all()
    np.testing.assert_allclose(out[-10:], reference_ema(values, 0.99)[-10:], rtol=1e-9)


def test_smoothing_out_of_range_is_refused():
    with pytest.raises(ValueError):
        debiased_ema([1.0, 2.0], 1.0)
    with pytest.raises(ValueError):
        debiased_ema([1.0, 2.0], -0.1)
    assert debiased_ema([], 0.6).size == 0


def test_buffers_double_and_keep_their_points():
    buffer = GrowableColumns(3, capacity=4)
    for start in range(0, 20, 3):
        steps = np.arange(start, start + 3)
        buffer.extend(steps, steps * 0.5, steps * 2.0)
    assert len(buffer) == 21
    assert buffer.capacity == 32  # 4 → 8 → 16 → 32
    np.testing.assert_array_equal(buffer.column(0), np.arange(21))
    np.testing.assert_array_equal(buffer.column(2), np.arange(21) * 2.0)
    buffer.clear()
    assert len(buffer) == 0 and buffer.column(1).size == 0


def test_curve_arrays_split_training_and_validation_points():
    from recstudio.workspace import CurvePoint

    points = [CurvePoint(1, 1, 5.0, 0.1), CurvePoint(2, 1, 4.0, 0.2),
              CurvePoint(2, 1, None, 0.3, {"NDCG@10": 0.1, "HR@10": 0.2}, kind="valid"),
              CurvePoint(3, 2, 3.5, 0.4)]
    arrays = curve_arrays(points)
    np.testing.assert_array_equal(arrays.steps, [1, 2, 3])
    np.testing.assert_array_equal(arrays.losses, [5.0, 4.0, 3.5])
    np.testing.assert_array_equal(arrays.epochs, [1])
    assert arrays.metrics["NDCG@10"].tolist() == [0.1]


def test_durations_read_as_words():
    assert format_duration(None) == "—"
    assert format_duration(2.25) == "2.2 s"
    assert format_duration(75) == "1 min 15 s"
    assert format_duration(4000) == "1 h 06 min"
