"""The training page's right side: the progress bar with pace and time left, the live loss curve (raw and
smoothed) beside the runs it is compared with, validation per epoch (plot and table) and the log."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QProgressBar, QSplitter, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from recstudio.gui.plots import LIVE_COLOUR, LiveCurves, ValidationPlot, curve_arrays, draw_stored_run
from recstudio.gui.views.training.presenter import LIVE, VALIDATION_METRICS, progress_texts


#: Stages before the first step (``Stage.name``) and what the bar says while each runs.
PREPARING = {"encode": "Encoding item text", "teacher": "Reading the teacher"}


class LiveProgress(QWidget):
    """What a run is doing, as it does it; stored runs can be drawn beside it for comparison."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 0, 0, 0)

        progress_row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("trainingProgress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("samplesPerSecond")
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("trainingEta")
        self.eta_label.setToolTip("When the current epoch ends, when the run is expected to end (early "
                                  "stopping's patience after the validation trend levels off) and, as an upper "
                                  "bound, when it would reach its maximum; all at the current pace.")
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addSpacing(8)
        progress_row.addWidget(self.speed_label)
        progress_row.addSpacing(8)
        progress_row.addWidget(self.eta_label)
        column.addLayout(progress_row)

        self.loss_curves = LiveCurves(self, title="Training loss")
        self.loss_curves.add_run(LIVE, "Current run", LIVE_COLOUR)
        self.validation_plot = ValidationPlot(self, metrics=("NDCG@10", "HR@10"), title="Validation")
        self.validation_plot.add_run(LIVE, "", LIVE_COLOUR)
        self.validation_table = QTableWidget(0, 1 + len(VALIDATION_METRICS))
        self.validation_table.setObjectName("validationTable")
        self.validation_table.setHorizontalHeaderLabels(["Epoch", *VALIDATION_METRICS])
        self.validation_table.verticalHeader().setVisible(False)
        self.validation_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.validation_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.validation_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.validation_table.setToolTip("Validation metrics after each epoch; ★ marks the best epoch so far.")
        self.validation_table.setMinimumWidth(250)

        validation_row = QSplitter(Qt.Orientation.Horizontal)
        validation_row.addWidget(self.validation_plot)
        validation_row.addWidget(self.validation_table)
        validation_row.setStretchFactor(0, 1)
        validation_row.setStretchFactor(1, 0)
        validation_row.setSizes([600, 270])

        self.log = QPlainTextEdit()
        self.log.setObjectName("trainingLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("What happens during a run is written here.")
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(8.0, font.pointSizeF() - 1))
        self.log.setFont(font)

        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.loss_curves)
        plots.addWidget(validation_row)
        plots.addWidget(self.log)
        plots.setStretchFactor(0, 5)
        plots.setStretchFactor(1, 3)
        plots.setStretchFactor(2, 2)
        plots.setSizes([360, 230, 130])
        column.addWidget(plots, 1)

    # the run being trained -------------------------------------------------------------------
    def reset(self, label: str) -> None:
        """Empty the live curve, table and pace for a new run called ``label``."""
        self.loss_curves.set_points(LIVE, [], [], [])
        self.loss_curves.set_x_limit(None)
        self.loss_curves.follow_data()
        self.loss_curves.set_label(LIVE, label)
        self.validation_plot.set_points(LIVE, [], {})
        self.validation_table.setRowCount(0)
        self.speed_label.setText("")
        self.eta_label.setText("")

    def write(self, text: str) -> None:
        """One timestamped line in the log."""
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")

    def show_earlier(self, points) -> None:
        """A resumed run's curve so far (its stored points up to the epoch it resumes after)."""
        earlier = curve_arrays(points)
        self.loss_curves.set_points(LIVE, earlier.steps, earlier.wall_times, earlier.losses)
        self.validation_plot.set_points(LIVE, earlier.epochs, earlier.metrics)

    def show_preparing(self, what: str, fraction: float) -> None:
        """A stage before training (a language-model model's item text, a slow teacher's first reading):
        the bar shows it until training starts."""
        self.progress_bar.setValue(int(fraction * 1000))
        self.progress_bar.setFormat(f"{what} · {fraction:.0%}")

    def add_steps(self, steps, walls, losses, last, estimate, steps_per_epoch: int) -> None:
        """One batch of training steps: one setData however many steps arrived, then the pace of the last
        and the :class:`recstudio.training.estimate.FinishEstimate` after it."""
        self.loss_curves.append(LIVE, steps, walls, losses)
        self.speed_label.setText(f"{last.samples_per_s:,.0f} samples/s")
        self.show_estimate(estimate, last.step, steps_per_epoch)

    def show_estimate(self, estimate, step: int, steps_per_epoch: int) -> None:
        """The bar over the expected run once the trend is read (over the current epoch before), and
        the time left: this epoch, the expected end, the maximum only as an upper bound."""
        bar, eta = progress_texts(estimate, step, steps_per_epoch)
        if estimate.expected_progress is not None:
            self.progress_bar.setValue(int(estimate.expected_progress * 1000))
        else:
            into_epoch = step - (estimate.epoch - 1) * steps_per_epoch
            self.progress_bar.setValue(int(1000 * min(1.0, max(0, into_epoch) / max(1, steps_per_epoch))))
        self.progress_bar.setFormat(bar)
        self.eta_label.setText(eta)
        self.eta_label.setToolTip(f"{estimate.reason[:1].upper()}{estimate.reason[1:]}. "
                                  f"At most {estimate.most_epochs:,} epochs: the planned maximum, at the current pace.")

    def add_validations(self, validations) -> None:
        self.validation_plot.append(LIVE, [(v.epoch, v.metrics) for v in validations])
        for v in validations:
            self._add_validation_row(v)

    def _add_validation_row(self, v) -> None:
        table = self.validation_table
        row = table.rowCount()
        table.insertRow(row)
        epoch = QTableWidgetItem(f"{v.epoch}")
        epoch.setData(Qt.ItemDataRole.UserRole, v.epoch)
        table.setItem(row, 0, epoch)
        for col, name in enumerate(VALIDATION_METRICS, 1):
            value = v.metrics.get(name)
            cell = QTableWidgetItem("—" if value is None else f"{value:.4f}")
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, col, cell)
        # the star follows the best epoch so far
        for r in range(table.rowCount()):
            item = table.item(r, 0)
            best = item.data(Qt.ItemDataRole.UserRole) == v.best_epoch
            item.setText(f"{item.data(Qt.ItemDataRole.UserRole)}{'  ★' if best else ''}")
            font = QFont(item.font())
            font.setBold(best)
            for c in range(table.columnCount()):
                if table.item(r, c) is not None:
                    table.item(r, c).setFont(font)
        table.scrollToBottom()

    # stored runs beside it ---------------------------------------------------------------------
    def show_stored(self, run, points) -> None:
        """Draw a stored run's curves (its CurvePoints) beside the live one."""
        draw_stored_run(self.loss_curves, self.validation_plot, run, curve_arrays(points, ("NDCG@10", "HR@10")))

    def remove_stored(self, run_id: int) -> None:
        self.loss_curves.remove_run(run_id)
        self.validation_plot.remove_run(run_id)
