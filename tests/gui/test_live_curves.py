"""The loss plot keeps every point in view without re-laying its axes on every update."""

from __future__ import annotations

import numpy as np

from recstudio.gui.plots import LiveCurves


def _contains(curves: LiveCurves, xs, ys) -> bool:
    (x0, x1), (y0, y1) = curves.plot.getViewBox().viewRange()
    return x0 <= min(xs) and max(xs) <= x1 and y0 <= min(ys) and max(ys) <= y1


def test_the_view_follows_a_falling_loss_in_few_steps(qtbot):
    curves = LiveCurves()
    qtbot.addWidget(curves)
    curves.add_run("live", "Current run")
    curves.set_x_limit(100_000)  # planned steps: early stopping will end the run long before
    ranges = set()
    steps = np.arange(1, 1001)
    losses = 8.0 * np.exp(-steps / 200) + 5.0 + 0.05 * np.sin(steps)
    for start in range(0, 1000, 10):  # 100 updates of 10 steps, as the worker delivers them
        curves.append("live", steps[start:start + 10], steps[start:start + 10] * 0.1, losses[start:start + 10])
        assert _contains(curves, steps[:start + 10], losses[:start + 10])
        (x0, x1), _ = curves.plot.getViewBox().viewRange()
        assert x1 <= 2.5 * (start + 10) + 10  # the axis follows the data, not the planned maximum
        ranges.add(tuple(map(tuple, curves.plot.getViewBox().viewRange())))
    # with headroom, so the axes changed a few times rather than on every update
    assert len(ranges) <= 15


def test_whole_run_shows_the_planned_maximum_one_click_away(qtbot):
    curves = LiveCurves()
    qtbot.addWidget(curves)
    curves.add_run("live", "Current run")
    assert not curves.whole_run_button.isEnabled()  # no planned length known yet
    curves.set_x_limit(5_800)
    curves.append("live", np.arange(1, 201), np.arange(1, 201) * 0.1, np.linspace(8, 6, 200))
    assert curves.plot.getViewBox().viewRange()[0][1] < 1_000
    curves.whole_run_button.click()
    assert curves.plot.getViewBox().viewRange()[0][1] >= 5_800
    curves.append("live", np.arange(201, 301), np.arange(201, 301) * 0.1, np.linspace(6, 5.9, 100))
    assert curves.plot.getViewBox().viewRange()[0][1] >= 5_800  # stays on the whole run while points arrive
    curves.whole_run_button.click()
    assert curves.plot.getViewBox().viewRange()[0][1] < 1_000


def test_panning_stops_following_and_the_auto_button_resumes(qtbot):
    curves = LiveCurves()
    qtbot.addWidget(curves)
    curves.add_run("live", "Current run")
    curves.append("live", [1, 2, 3], [0.1, 0.2, 0.3], [3.0, 2.5, 2.0])
    view = curves.plot.getViewBox()
    view.translateBy(x=100)  # what a drag does; it emits sigRangeChangedManually
    view.sigRangeChangedManually.emit(view.state["mouseEnabled"])
    assert not curves.following
    curves.append("live", [4, 5], [0.4, 0.5], [1.0, 0.5])
    assert not _contains(curves, [1, 5], [0.5, 3.0])  # the analyst's view is left alone
    curves.plot.autoBtn.clicked.emit(curves.plot.autoBtn)  # the "A" button in the corner
    assert curves.following and _contains(curves, [1, 5], [0.5, 3.0])


def test_switching_to_wall_time_refits(qtbot):
    curves = LiveCurves()
    qtbot.addWidget(curves)
    curves.add_run("live", "Current run")
    curves.set_x_limit(10_000)
    curves.whole_run_button.setChecked(True)
    curves.append("live", [1, 2, 3], [10.0, 20.0, 30.0], [3.0, 2.5, 2.0])
    curves.set_x_axis("wall")
    (x0, x1), _ = curves.plot.getViewBox().viewRange()
    assert x0 <= 10 and 30 <= x1 < 10_000  # the planned steps do not apply to seconds


def test_the_first_points_set_the_whole_view(qtbot):
    curves = LiveCurves()
    qtbot.addWidget(curves)
    curves.add_run("live", "Current run")
    curves.append("live", [1, 2], [0.1, 0.2], [7.9, 7.8])
    _, (y0, y1) = curves.plot.getViewBox().viewRange()
    assert 7.0 < y0 < 7.8 and 7.9 <= y1 < 8.5  # not pyqtgraph's 0–1 stretched to include the loss


def test_a_finished_run_fills_the_view(qtbot):
    curves = LiveCurves(controls=False)
    qtbot.addWidget(curves)
    curves.add_run(3, "Run 3")
    curves.set_points(3, np.arange(1, 301), np.arange(1, 301) * 0.5, np.linspace(8, 5.5, 300))
    (x0, x1), (y0, y1) = curves.plot.getViewBox().viewRange()
    assert x1 < 320 and 5.0 < y0 <= 5.5 and 8.0 <= y1 < 8.5  # no room left for points that won't come
