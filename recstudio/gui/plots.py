"""Reusable pyqtgraph pieces: live loss curves, per-epoch validation plots, and a stored run drawn on both
(the smoothing and the buffers behind them are in :mod:`recstudio.gui.curve_data`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from recstudio.gui.curve_data import (  # noqa: F401 (re-exported: the views and tests import them from here)
    CurveArrays, GrowableColumns, curve_arrays, debiased_ema, nice_ceiling,
)
from recstudio.training.estimate import format_duration  # noqa: F401 (re-exported, as above)

#: The run being trained now is drawn in this colour (TensorBoard's orange) ...
LIVE_COLOUR = "#e8710a"
#: ... and stored runs in these, picked by run id so a run keeps its colour across views.
RUN_COLOURS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
               "#7f7f7f", "#393b79")
DEFAULT_SMOOTHING = 0.6
SMOOTHING_SETTING = "plots/smoothing"  # QSettings key shared by every view that draws loss curves
X_STEP, X_WALL = "step", "wall"
#: How the validation plot draws each metric (line style and marker), so runs keep colours.
METRIC_STYLES = {"NDCG@10": (Qt.PenStyle.SolidLine, "o"), "HR@10": (Qt.PenStyle.DashLine, "t"),
                 "MRR@10": (Qt.PenStyle.DotLine, "s")}
#: The same styles in text, for the validation plot's title (a key that never hides a curve).
_STYLE_KEYS = {Qt.PenStyle.SolidLine: "—{}—", Qt.PenStyle.DashLine: "- {} -", Qt.PenStyle.DotLine: "·{}·"}
_SYMBOL_KEYS = {"o": "●", "t": "▼", "s": "■"}


def colour_icon(colour: str, size: int = 12) -> QIcon:
    """A small square of a run's colour, to tie a list entry to its curve."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def run_colour(run_id: int | None) -> str:
    """The colour of a stored run (None: the run being trained now)."""
    if run_id is None:
        return LIVE_COLOUR
    return RUN_COLOURS[int(run_id) % len(RUN_COLOURS)]


class DurationAxis(pg.AxisItem):
    """A bottom axis that reads steps as numbers and wall time as m:ss / h:mm:ss."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mode = X_STEP

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        if self.mode != X_WALL:
            return super().tickStrings(values, scale, spacing)
        out = []
        for v in values:
            total = int(round(v * scale))
            sign = "-" if total < 0 else ""
            minutes, secs = divmod(abs(total), 60)
            hours, minutes = divmod(minutes, 60)
            out.append(f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}")
        return out


class IntegerAxis(pg.AxisItem):
    """An axis for whole numbers (epochs): no ticks at 1.5."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802,N803 (pyqtgraph's names)
        levels = [(spacing, [v for v in values if float(v).is_integer()])
                  for spacing, values in super().tickValues(minVal, maxVal, size) if spacing >= 1]
        return levels or [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]


def make_plot_widget(parent: QWidget | None = None, *, left: str = "", bottom: str = "",
                     bottom_axis: pg.AxisItem | None = None, legend_corner: str | None = "top-right") -> pg.PlotWidget:
    """A PlotWidget in the window's colours (light or dark palette), with a grid and a legend."""
    palette = (parent.palette() if parent is not None else QPalette())
    background = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    axes = {"bottom": bottom_axis} if bottom_axis is not None else None
    widget = pg.PlotWidget(parent, background=background, axisItems=axes)
    item = widget.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(text))
        axis.setTextPen(pg.mkPen(text))
        axis.enableAutoSIPrefix(False)  # "NDCG@10 (x0.001)" with ticks at 50, 100 misleads
    item.showGrid(x=True, y=True, alpha=0.15)
    if left:
        item.setLabel("left", left)
    if bottom:
        item.setLabel("bottom", bottom)
    item.setMenuEnabled(False)  # pyqtgraph's context menu speaks in plotting terms, not the analyst's
    if legend_corner is None:
        return widget
    legend_bg = QColor(background)
    legend_bg.setAlpha(215)
    offset = {"top-right": (-8, 8), "bottom-right": (-8, -8), "top-left": (8, 8)}[legend_corner]
    item.addLegend(offset=offset, labelTextColor=text, brush=pg.mkBrush(legend_bg), pen=pg.mkPen(text.lighter(300)),
                   verSpacing=-4)
    return widget


def _set_legend_name(plot: pg.PlotItem, item: pg.PlotDataItem, name: str) -> None:
    legend = plot.legend
    item.opts["name"] = name
    if legend is None:
        return
    label = legend.getLabel(item)
    if label is not None:
        label.setText(name)
        legend.updateSize()
    else:
        legend.addItem(item, name)


@dataclass
class _LossRun:
    label: str
    colour: str
    buffer: GrowableColumns  # columns: step, wall time, loss
    raw: pg.PlotDataItem
    smooth: pg.PlotDataItem


class LiveCurves(QWidget):
    """Loss curves of one or more runs: per run a faint raw curve and a solid smoothed one.

    Each run's two curve items are created once (``add_run``) and then only fed with ``setData``;
    data lives in doubling buffers, and the items clip to the view and downsample (peak) when
    zoomed out, so a run of 100k steps stays smooth to pan. A small bar holds the smoothing slider
    (0–0.99) and the x-axis choice (step or wall time).
    """

    smoothing_changed = Signal(float)
    x_axis_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, title: str = "Training loss", controls: bool = True):
        super().__init__(parent)
        self._runs: dict[Any, _LossRun] = {}
        self._smoothing = DEFAULT_SMOOTHING
        self._x_axis = X_STEP
        self.axis = DurationAxis("bottom")
        self.plot_widget = make_plot_widget(self, left="Loss", bottom="Step", bottom_axis=self.axis)
        self.plot_widget.setObjectName("lossPlot")
        self.plot_widget.setTitle(title, color=self.palette().color(QPalette.ColorRole.Text), size="10pt")
        self.plot = self.plot_widget.getPlotItem()
        # Draw only what is in view, at most a few points per pixel (min/max kept): a 100k-step run
        # repaints as fast as a short one.
        self.plot.setClipToView(True)
        self.plot.setDownsampling(auto=True, mode="peak")
        # The view follows the data in steps rather than autoranging on every update: a new range
        # makes pyqtgraph re-lay both axes (10+ ms of Python per repaint, 20 times a second, while
        # training competes for the GIL). Ranges grow with headroom, so they change a few times per
        # run. Panning or zooming by hand stops the following; the "A" button resumes it.
        self._follow = True
        self._fitted = False
        self._x_limit: float | None = None
        self.plot.disableAutoRange()
        self.plot.getViewBox().sigRangeChangedManually.connect(self._stop_following)
        self.plot.autoBtn.clicked.connect(self.follow_data)

        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setObjectName("smoothingSlider")
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(round(self._smoothing * 100))
        self.smoothing_slider.setMaximumWidth(180)
        self.smoothing_slider.setToolTip("Debiased exponential moving average, as in TensorBoard; "
                                         "0 shows the raw loss.")
        self.smoothing_value = QLabel(f"{self._smoothing:.2f}")
        self.smoothing_value.setMinimumWidth(self.smoothing_value.fontMetrics().horizontalAdvance("0.00") + 4)
        self.x_axis_combo = QComboBox()
        self.x_axis_combo.setObjectName("xAxisMode")
        self.x_axis_combo.addItem("Step", X_STEP)
        self.x_axis_combo.addItem("Wall time", X_WALL)
        self.x_axis_combo.setToolTip("Draw the loss against the training step or the time since the run started.")
        self.smoothing_slider.valueChanged.connect(lambda v: self.set_smoothing(v / 100))
        self.x_axis_combo.currentIndexChanged.connect(lambda _i: self.set_x_axis(self.x_axis_combo.currentData()))

        self.controls = QWidget()
        bar = QHBoxLayout(self.controls)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self.smoothing_slider)
        bar.addWidget(self.smoothing_value)
        bar.addSpacing(16)
        bar.addWidget(QLabel("X axis"))
        bar.addWidget(self.x_axis_combo)
        self.whole_run_button = QToolButton()
        self.whole_run_button.setObjectName("wholeRun")
        self.whole_run_button.setText("Whole run")
        self.whole_run_button.setCheckable(True)
        self.whole_run_button.setEnabled(False)
        self.whole_run_button.setToolTip("Show the step axis up to the run's planned maximum (max epochs × steps "
                                         "per epoch, or the step limit); early stopping usually ends it sooner.")
        self.whole_run_button.toggled.connect(self.show_whole_run)
        bar.addSpacing(16)
        bar.addWidget(self.whole_run_button)
        bar.addStretch(1)
        self.controls.setVisible(controls)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.controls)
        layout.addWidget(self.plot_widget, 1)
        self._update_legend()

    # runs ---------------------------------------------------------------------------------
    def add_run(self, key: Any, label: str, colour: str | None = None) -> _LossRun:
        """Create the two curve items of a run (once; a known key returns its run unchanged)."""
        if key in self._runs:
            return self._runs[key]
        colour = colour or LIVE_COLOUR
        faint = QColor(colour)
        faint.setAlpha(70)
        raw = pg.PlotDataItem(pen=pg.mkPen(faint, width=1))
        smooth = pg.PlotDataItem(pen=pg.mkPen(colour, width=2), name=label)
        for item in (raw, smooth):
            self.plot.addItem(item)  # PlotItem.addItem hands the plot's clip/downsample modes on...
            item.setClipToView(True)  # ... so set them on the item after it, as well as on the plot
            item.setDownsampling(auto=True, method="peak")
            item.opts["autoDownsampleFactor"] = 2.0  # ~2 samples per pixel (pyqtgraph's default 5 is wasted here)
        run = _LossRun(label, colour, GrowableColumns(3), raw, smooth)
        self._runs[key] = run
        self._update_legend()
        return run

    def has_run(self, key: Any) -> bool:
        return key in self._runs

    def run_keys(self) -> list[Any]:
        return list(self._runs)

    # view range ---------------------------------------------------------------------------
    @property
    def following(self) -> bool:
        """Whether the view keeps every point in sight (False after the analyst pans or zooms)."""
        return self._follow

    def set_x_limit(self, x_max: float | None) -> None:
        """The planned last step of a live run: what the "Whole run" view shows. The axis itself follows
        the data (with headroom), since early stopping usually ends a run long before its maximum."""
        self._x_limit = float(x_max) if x_max else None
        self.whole_run_button.setEnabled(self._x_limit is not None)
        if self._x_limit is None:
            self.whole_run_button.setChecked(False)
        self._fit_view(force=True)

    def show_whole_run(self, whole: bool) -> None:
        """Show the step axis up to the planned maximum (True) or just past the data (False)."""
        if self.whole_run_button.isChecked() != whole:
            self.whole_run_button.setChecked(whole)  # comes back here through toggled
            return
        self._follow = True
        self.plot.disableAutoRange()
        self._fit_view(force=True)

    def follow_data(self) -> None:
        """Show every point again and keep doing so as points arrive."""
        self._follow = True
        self.plot.disableAutoRange()  # pyqtgraph's "A" button turned its own autorange on
        self._fit_view(force=True)

    def _stop_following(self, *_args) -> None:
        self._follow = False

    def _data_bounds(self) -> tuple[float, float, float, float] | None:
        xs, ys = [], []
        for run in self._runs.values():
            if not len(run.buffer):
                continue
            x = run.buffer.column(0 if self._x_axis == X_STEP else 1)
            y = run.buffer.column(2)
            finite = np.isfinite(y)
            if not finite.any():
                continue
            xs += [float(np.nanmin(x)), float(np.nanmax(x))]
            ys += [float(y[finite].min()), float(y[finite].max())]
        if not xs:
            return None
        return min(xs), max(xs), min(ys), max(ys)

    def _fit_view(self, force: bool = False, grow: bool = False) -> None:
        """Fit the view to the data when the data has left it (or ``force``). ``grow``: points are
        arriving, so leave headroom (the axis then changes a few times per run, not every update)."""
        if not self._follow:
            return
        bounds = self._data_bounds()
        if bounds is None:
            return
        x0, x1, y0, y1 = bounds
        (vx0, vx1), (vy0, vy1) = self.plot.getViewBox().viewRange()
        force = force or not self._fitted  # the first points replace pyqtgraph's default 0–1 view
        self._fitted = True
        whole = self._x_limit if (self._x_axis == X_STEP and self.whole_run_button.isChecked()) else None
        lo = min(x0, 0.0)
        if not force and vx0 <= lo and x1 <= vx1 and vy0 <= y0 and y1 <= vy1:
            return
        if whole and x1 <= whole:
            hi = whole
        elif grow:
            hi = nice_ceiling(max(x1, lo + 1.0) * 1.25)
        else:
            hi = max(x1, lo + 1.0)
        span = max(y1 - y0, abs(y1) * 0.05, 1e-6)
        if grow:  # a falling loss needs room below; the top is the first points' and rarely moves
            ny0 = y0 - 0.25 * span if (force or y0 < vy0) else vy0
            ny1 = y1 + 0.05 * span if (force or y1 > vy1) else vy1
        else:
            ny0, ny1 = y0, y1
        self.plot.getViewBox().setRange(xRange=(lo, hi), yRange=(ny0, ny1), padding=0.02, update=True)

    def curve_items(self, key: Any) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        """The (raw, smoothed) curve items of a run."""
        run = self._runs[key]
        return run.raw, run.smooth

    def set_label(self, key: Any, label: str) -> None:
        run = self._runs[key]
        run.label = label
        _set_legend_name(self.plot, run.smooth, label)

    def remove_run(self, key: Any) -> None:
        run = self._runs.pop(key, None)
        if run is not None:
            for item in (run.raw, run.smooth):
                self.plot.removeItem(item)
            self._fit_view(force=True)
        self._update_legend()

    def _update_legend(self) -> None:
        if self.plot.legend is not None:
            self.plot.legend.setVisible(bool(self._runs))  # no empty frame when nothing is drawn

    def clear(self) -> None:
        for key in list(self._runs):
            self.remove_run(key)
        self.set_x_limit(None)

    def append(self, key: Any, steps, wall_times, losses) -> None:
        """Add points to a run and redraw it (one ``setData`` per curve per call)."""
        run = self._runs[key]
        run.buffer.extend(steps, wall_times, losses)
        self._redraw(run)
        self._fit_view(grow=True)

    def set_points(self, key: Any, steps, wall_times, losses) -> None:
        """Replace a run's points (the curve items stay the same)."""
        run = self._runs[key]
        run.buffer.clear()
        if not any(len(r.buffer) for r in self._runs.values()):
            self._fitted = False
        if len(steps):
            run.buffer.extend(steps, wall_times, losses)
        self._redraw(run)
        self._fit_view(force=True)

    def data(self, key: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A run's (x, raw loss, smoothed loss) as drawn now (copies)."""
        run = self._runs[key]
        x = run.buffer.column(0 if self._x_axis == X_STEP else 1)
        y = run.buffer.column(2)
        return x.copy(), y.copy(), debiased_ema(y, self._smoothing)

    def point_count(self, key: Any) -> int:
        return len(self._runs[key].buffer)

    # settings -----------------------------------------------------------------------------
    @property
    def smoothing(self) -> float:
        return self._smoothing

    def set_smoothing(self, value: float) -> None:
        value = min(0.99, max(0.0, round(float(value), 2)))
        if value != self._smoothing:
            self._smoothing = value
            for run in self._runs.values():
                self._redraw(run, raw=False)
            self.smoothing_changed.emit(value)
        self.smoothing_value.setText(f"{value:.2f}")
        if self.smoothing_slider.value() != round(value * 100):
            self.smoothing_slider.setValue(round(value * 100))

    @property
    def x_axis(self) -> str:
        return self._x_axis

    def set_x_axis(self, mode: str) -> None:
        if mode not in (X_STEP, X_WALL):
            raise ValueError(f"x axis must be {X_STEP!r} or {X_WALL!r}, not {mode!r}")
        index = self.x_axis_combo.findData(mode)
        if self.x_axis_combo.currentIndex() != index:
            self.x_axis_combo.setCurrentIndex(index)  # comes back here through the signal
            return
        if mode == self._x_axis:
            return
        self._x_axis = mode
        self.axis.mode = mode
        self.plot.setLabel("bottom", "Step" if mode == X_STEP else "Wall time (since the run started)")
        self.axis.picture = None  # tick labels change format, not position
        for run in self._runs.values():
            self._redraw(run)
        self._follow = True
        self._fit_view(force=True)
        self.x_axis_changed.emit(mode)

    def _redraw(self, run: _LossRun, raw: bool = True) -> None:
        x = run.buffer.column(0 if self._x_axis == X_STEP else 1)
        y = run.buffer.column(2)
        # setData keeps the arrays it is given, and clear() reuses the buffer in place: hand over copies
        x = x.copy()
        if raw:
            run.raw.setData(x, y.copy())
        run.smooth.setData(x, debiased_ema(y, self._smoothing))
        run.raw.setVisible(self._smoothing > 0)  # with no smoothing the solid curve is the raw one


@dataclass
class _ValidationRun:
    label: str
    colour: str
    epochs: list[float]
    values: dict[str, list[float]]
    items: dict[str, pg.PlotDataItem]


class ValidationPlot(QWidget):
    """Validation metrics per epoch, one line with markers per (run, metric); colour = run,
    line style and marker = metric. Items are created once per run and updated with ``setData``."""

    def __init__(self, parent: QWidget | None = None, *, metrics: Sequence[str] = ("NDCG@10", "HR@10"),
                 title: str = "Validation"):
        super().__init__(parent)
        self.metrics = tuple(metrics)
        self._runs: dict[Any, _ValidationRun] = {}
        # No legend inside the plot: colours are the runs, named in the loss plot's legend beside it,
        # and the metrics' line styles are keyed in the title, so nothing ever covers the last epochs.
        self.plot_widget = make_plot_widget(self, left=" / ".join(self.metrics), bottom="Epoch",
                                            bottom_axis=IntegerAxis("bottom"), legend_corner=None)
        self.plot_widget.setObjectName("validationPlot")
        if len(self.metrics) > 1:
            keys = []
            for metric in self.metrics:
                style, symbol = METRIC_STYLES.get(metric, (Qt.PenStyle.SolidLine, "o"))
                keys.append(f"{_STYLE_KEYS[style].format(_SYMBOL_KEYS[symbol])} {metric}")
            title = f"{title}&nbsp;&nbsp;&nbsp;" + "&nbsp;&nbsp;&nbsp;".join(keys)
        self.plot_widget.setTitle(title, color=self.palette().color(QPalette.ColorRole.Text), size="10pt")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.getViewBox().setDefaultPadding(0.08)  # markers at the first and last epoch stay whole
        # metrics are never negative: one point (a zero-shot run, a first epoch) is not centred in -0.4..0.5
        self.plot.getViewBox().setLimits(yMin=-0.01)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

    def add_run(self, key: Any, label: str, colour: str | None = None) -> _ValidationRun:
        if key in self._runs:
            return self._runs[key]
        colour = colour or LIVE_COLOUR
        items = {}
        for metric in self.metrics:
            style, symbol = METRIC_STYLES.get(metric, (Qt.PenStyle.SolidLine, "o"))
            name = (label or metric) if len(self.metrics) == 1 else None
            item = pg.PlotDataItem(pen=pg.mkPen(colour, width=2, style=style), symbol=symbol, symbolSize=7,
                                   symbolBrush=pg.mkBrush(colour), symbolPen=pg.mkPen(colour), name=name)
            self.plot.addItem(item)
            items[metric] = item
        run = _ValidationRun(label, colour, [], {m: [] for m in self.metrics}, items)
        self._runs[key] = run
        return run

    def has_run(self, key: Any) -> bool:
        return key in self._runs

    def run_keys(self) -> list[Any]:
        return list(self._runs)

    def items(self, key: Any) -> dict[str, pg.PlotDataItem]:
        return dict(self._runs[key].items)

    def set_label(self, key: Any, label: str) -> None:
        run = self._runs[key]
        run.label = label
        if len(self.metrics) == 1:
            _set_legend_name(self.plot, run.items[self.metrics[0]], label or self.metrics[0])

    def append(self, key: Any, entries: Sequence[tuple[float, dict[str, float]]]) -> None:
        """Add (epoch, metrics) entries to a run and redraw it once."""
        run = self._runs[key]
        for epoch, metrics in entries:
            run.epochs.append(float(epoch))
            for metric in self.metrics:
                value = metrics.get(metric)
                run.values[metric].append(np.nan if value is None else float(value))
        self._redraw(run)

    def set_points(self, key: Any, epochs, values: dict[str, Sequence[float]]) -> None:
        run = self._runs[key]
        run.epochs = [float(e) for e in epochs]
        run.values = {m: [float(v) for v in values.get(m, [np.nan] * len(run.epochs))] for m in self.metrics}
        self._redraw(run)

    def data(self, key: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
        run = self._runs[key]
        return np.array(run.epochs), np.array(run.values[metric])

    def remove_run(self, key: Any) -> None:
        run = self._runs.pop(key, None)
        if run is not None:
            for item in run.items.values():
                self.plot.removeItem(item)

    def clear(self) -> None:
        for key in list(self._runs):
            self.remove_run(key)

    def _redraw(self, run: _ValidationRun) -> None:
        x = np.asarray(run.epochs, dtype=np.float64)
        for metric, item in run.items.items():
            item.setData(x, np.asarray(run.values[metric], dtype=np.float64), connect="finite")


def draw_stored_run(loss_curves: LiveCurves, validation_plot: ValidationPlot, run, arrays: CurveArrays) -> None:
    """Draw a stored run's curves (:func:`curve_arrays`) on a loss plot and a validation plot, in the
    run's own colour and under its name: the one way the training page's comparison and the runs page's
    selection overlay a run."""
    label, colour = f"Run {run.id} · {run.model}", run_colour(run.id)
    loss_curves.add_run(run.id, label, colour)
    loss_curves.set_points(run.id, arrays.steps, arrays.wall_times, arrays.losses)
    validation_plot.add_run(run.id, label, colour)
    validation_plot.set_points(run.id, arrays.epochs, arrays.metrics)
