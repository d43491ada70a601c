"""The runs page: every training run in a sortable, filterable table, their curves side by side,
open one in the inspector, delete runs, export the table as CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from PySide6.QtCore import (
    QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt,
)
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMessageBox, QPushButton,
    QSplitter, QTableView, QVBoxLayout, QWidget,
)

from recstudio.gui.context import AppContext
from recstudio.gui.plots import (
    DEFAULT_SMOOTHING, SMOOTHING_SETTING, CurveArrays, LiveCurves, ValidationPlot, curve_arrays, draw_stored_run,
    format_duration,
)

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the raw value a column sorts by (numbers stay numbers)
RUN_ID_ROLE = Qt.ItemDataRole.UserRole
#: Status in words, with a colour hint.
STATUS_COLOURS = {"completed": "#15803d", "failed": "#b91c1c", "cancelled": "#6b7280", "interrupted": "#6b7280",
                  "running": "#1d4ed8"}
FILTER_FIELDS = ("model", "dataset_name", "status")


# -- plain helpers (no widgets) --------------------------------------------------------------------

def key_settings(run) -> str:
    """The model settings that tell runs apart, e.g. ``hidden 64 · layers 2 · max_len 50``."""
    from recstudio.runs import RunConfig

    from recstudio.models import key_settings as model_key_settings, model_names

    config = RunConfig.of(run).model
    wanted = model_key_settings(run.model) if run.model in model_names() else ()
    keys = [k for k in config if k in wanted] or list(config)[:3]  # in the model's own order
    return " · ".join(f"{k} {_short(config[k])}" for k in keys) or "—"


def source_run(run) -> str | None:
    """"run 3 on 'books'" for a run that started from another run's knowledge, None for one from scratch."""
    from recstudio.runs import RunConfig

    return RunConfig.of(run).source_text()


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def test_metric(run, name: str) -> float | None:
    value = ((run.metrics or {}).get("test") or {}).get(name)
    return float(value) if value is not None else None


def local_time(iso: str | None) -> str:
    """An ISO-8601 UTC time as local ``YYYY-MM-DD HH:MM``."""
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _metric_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Any], Any]  # RunRecord -> raw value (sorting, CSV)
    text: Callable[[Any], str] = lambda v: "—" if v is None else str(v)
    numeric: bool = False
    export_title: str | None = None
    tooltip: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("Run", lambda r: r.id, numeric=True),
    Column("Dataset", lambda r: r.dataset_name),
    Column("Model", lambda r: r.model),
    Column("From", source_run, lambda v: v or "—",
           tooltip="The run this one started from (its knowledge carried to this dataset; Epochs 0: a zero-shot test)"),
    Column("Settings", key_settings, tooltip="The model settings that tell runs apart"),
    Column("Status", lambda r: r.status, lambda v: str(v).capitalize()),
    Column("Started", lambda r: r.started_at, local_time, export_title="Started (UTC)"),
    Column("Duration", lambda r: r.seconds, format_duration, numeric=True, export_title="Duration (s)"),
    Column("Epochs", lambda r: r.epochs, numeric=True),
    Column("HR@10", lambda r: test_metric(r, "HR@10"), _metric_text, numeric=True, export_title="Test HR@10",
           tooltip="Hit rate at 10 on the held-out test events (best checkpoint)"),
    Column("NDCG@10", lambda r: test_metric(r, "NDCG@10"), _metric_text, numeric=True,
           export_title="Test NDCG@10", tooltip="NDCG at 10 on the held-out test events (best checkpoint)"),
    Column("MRR@10", lambda r: test_metric(r, "MRR@10"), _metric_text, numeric=True, export_title="Test MRR@10",
           tooltip="Mean reciprocal rank at 10 on the held-out test events (best checkpoint)"),
)
COLUMN_INDEX = {c.title: i for i, c in enumerate(COLUMNS)}


def export_runs_csv(rows: Sequence[dict[str, Any]], path: str | Path,
                    columns: Sequence[str] | None = None) -> int:
    """Write ``rows`` (dicts, e.g. :meth:`RunsView.visible_rows`) to a CSV file; returns the row count.
    Missing values are empty cells; text a spreadsheet would run as a formula (a dataset named
    ``=cmd|...``, say) is written with a leading apostrophe."""
    from recstudio.runs import neutralise_cell

    columns = list(columns) if columns is not None else (list(rows[0]) if rows else
                                                         [c.export_title or c.title for c in COLUMNS])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writerow({k: neutralise_cell(k) for k in columns})
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else neutralise_cell(row.get(k))) for k in columns})
    return len(rows)


# -- Qt models -------------------------------------------------------------------------------------

class RunsTableModel(QAbstractTableModel):
    """One row per run (a RunRecord), columns from :data:`COLUMNS`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list[Any] = []
        self._icons: dict[str, QIcon] = {}

    def set_runs(self, runs: Sequence[Any]) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip or None
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        run = self.runs[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(column.value(run))
        if role == SORT_ROLE:
            return column.value(run)
        if role == RUN_ID_ROLE:
            return run.id
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if column.title == "Status":
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(STATUS_COLOURS.get(run.status, "#6b7280")))
            if role == Qt.ItemDataRole.DecorationRole:
                return self._dot(run.status)
            if role == Qt.ItemDataRole.ToolTipRole:
                return run.error or None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.title == "Settings":
                from recstudio.runs import RunConfig

                settings = RunConfig.of(run)
                model, train = settings.model, settings.train
                return "\n".join([*(f"{k}: {v}" for k, v in model.items()), "",
                                  *(f"{k}: {v}" for k, v in train.items())]).strip() or None
            if column.title == "Run":
                return f"Device: {run.device or 'auto'} · split: {run.split}"
        return None

    def _dot(self, status: str) -> QIcon:
        if status not in self._icons:
            pixmap = QPixmap(10, 10)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(STATUS_COLOURS.get(status, "#6b7280")))
            painter.drawEllipse(1, 1, 8, 8)
            painter.end()
            self._icons[status] = QIcon(pixmap)
        return self._icons[status]


class RunsFilterProxy(QSortFilterProxyModel):
    """Sorts by each column's raw value (numbers as numbers; empty cells last in either order) and
    keeps the rows whose model, dataset or status contain every word of the filter text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._words: list[str] = []
        self.setSortRole(SORT_ROLE)

    def set_filter_text(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+, where invalidateFilter is deprecated
            self.beginFilterChange()
            self._words = text.lower().split()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._words = text.lower().split()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802
        if not self._words:
            return True
        run = self.sourceModel().runs[source_row]
        haystack = " ".join(str(getattr(run, f) or "") for f in FILTER_FIELDS).lower()
        return all(word in haystack for word in self._words)

    def lessThan(self, left, right) -> bool:  # noqa: N802
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            if a is None and b is None:
                return False
            # empty cells go last whichever way the column is sorted
            return (a is None) == (self.sortOrder() == Qt.SortOrder.DescendingOrder)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


# -- the page --------------------------------------------------------------------------------------

class RunsView(QWidget):
    """The runs table above the selected runs' loss and validation NDCG@10 curves."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.setObjectName("runsView")
        self._curves: dict[int, tuple[tuple, CurveArrays]] = {}  # run id -> (freshness key, arrays)
        self._confirm: QMessageBox | None = None

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("runsFilter")
        self.filter_edit.setPlaceholderText("Filter by model, dataset or status…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMaximumWidth(320)
        self.count_label = QLabel()
        self.count_label.setObjectName("runsCount")
        self.open_button = QPushButton("Open in inspector")
        self.open_button.setObjectName("openInInspector")
        self.open_button.setToolTip("Browse this run's recommendations user by user (or double-click a row).")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeRun")
        self.delete_button = QPushButton("Delete run…")
        self.delete_button.setObjectName("deleteRun")
        self.delete_button.setToolTip("Delete the selected runs, their curves and checkpoints.")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName("exportCsv")
        self.export_button.setToolTip("Save the table as shown (filtered and sorted) as a CSV file.")
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.count_label)
        top.addStretch(1)
        top.addWidget(self.open_button)
        top.addWidget(self.resume_button)
        top.addWidget(self.delete_button)
        top.addWidget(self.export_button)

        self.model = RunsTableModel(self)
        self.proxy = RunsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMN_INDEX["Run"], Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMN_INDEX["Settings"], QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.table.doubleClicked.connect(lambda _index: self.open_in_inspector())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())

        self.loss_curves = LiveCurves(self, title="Training loss of the selected runs")
        self.loss_curves.smoothing_changed.connect(lambda v: self.context.settings.setValue(SMOOTHING_SETTING, v))
        self.validation_plot = ValidationPlot(self, metrics=("NDCG@10",), title="Validation NDCG@10 per epoch")
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_curves)
        plots.addWidget(self.validation_plot)
        plots.setSizes([600, 450])
        self.hint = QLabel("Select runs in the table (Ctrl or Shift for several) to compare their curves.")
        self.hint.setObjectName("runsHint")
        self.hint.setEnabled(False)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.hint)
        lower_layout.addWidget(plots, 1)

        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(top)
        upper_layout.addWidget(self.table, 1)
        self.status_label = QLabel()
        self.status_label.setObjectName("runsStatus")
        upper_layout.addWidget(self.status_label)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(lower)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 380])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(split)

        self.filter_edit.textChanged.connect(self._filter_changed)
        self.open_button.clicked.connect(self.open_in_inspector)
        self.resume_button.clicked.connect(self.resume_selected)
        context.runner.busy_changed.connect(lambda _busy: self._update_resume())
        self.delete_button.clicked.connect(self.delete_selected)
        self.export_button.clicked.connect(self.export_csv)
        context.runs_changed.connect(self.refresh)
        context.run_curves_grew.connect(self._curves_grew)
        self.refresh()

    # data ---------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        try:
            self.loss_curves.set_smoothing(float(self.context.settings.value(SMOOTHING_SETTING, DEFAULT_SMOOTHING)))
        except (TypeError, ValueError):
            pass
        self.refresh()

    def refresh(self) -> None:
        """Reload the runs from the workspace, keeping the selection."""
        selected = self.selected_run_ids()
        self.model.set_runs(self.context.workspace.list_runs())
        self.select_runs(selected)
        self._update_count()
        self._selection_changed()

    def _curves_grew(self, run_ids) -> None:
        """A run trained elsewhere (the CLI, torchrun) wrote more points: redraw it if it is shown."""
        if set(run_ids) & set(self.selected_run_ids()):
            self._selection_changed()

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._update_count()
        self._selection_changed()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{total} run{'s' if total != 1 else ''}" if shown == total
                                 else f"{shown} of {total} runs")
        self.export_button.setEnabled(shown > 0)

    def row_of(self, run_id: int) -> int:
        """The row (as shown) of a run, or -1."""
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(RUN_ID_ROLE) == run_id:
                return row
        return -1

    def visible_rows(self) -> list[dict[str, Any]]:
        """The table as shown (filtered, sorted), one dict per row keyed by CSV column title."""
        rows = []
        for row in range(self.proxy.rowCount()):
            out = {}
            for col, column in enumerate(COLUMNS):
                value = self.proxy.index(row, col).data(SORT_ROLE)
                out[column.export_title or column.title] = value
            rows.append(out)
        return rows

    # selection ----------------------------------------------------------------------------------
    def selected_run_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data(RUN_ID_ROLE) for r in rows]

    def select_runs(self, run_ids: Sequence[int]) -> None:
        """Select these runs (one selection change, so curves of runs that stay selected are kept)."""
        selection = QItemSelection()
        for run_id in run_ids:
            row = self.row_of(run_id)
            if row >= 0:
                selection.select(self.proxy.index(row, 0), self.proxy.index(row, 0))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(selection, flags)

    def _selection_changed(self) -> None:
        ids = self.selected_run_ids()
        self.open_button.setEnabled(len(ids) == 1)
        self.delete_button.setEnabled(bool(ids))
        self._update_resume()
        self.hint.setVisible(not ids)
        self._draw_curves(ids)

    def _draw_curves(self, run_ids: Sequence[int]) -> None:
        wanted = set(run_ids)
        for key in self.loss_curves.run_keys():
            if key not in wanted:
                self.loss_curves.remove_run(key)
                self.validation_plot.remove_run(key)
        runs = {r.id: r for r in self.model.runs}
        for run_id in run_ids:
            run = runs.get(run_id)
            if run is None:
                continue
            fresh = (run.status, run.finished_at)
            cached = self._curves.get(run_id)
            known = cached is not None and cached[0] == fresh and self.loss_curves.has_run(run_id)
            if known and run.status != "running":
                continue
            arrays = curve_arrays(self.context.workspace.curve(run_id), ("NDCG@10",))
            self._curves[run_id] = (fresh, arrays)
            draw_stored_run(self.loss_curves, self.validation_plot, run, arrays)

    # actions ------------------------------------------------------------------------------------
    def open_in_inspector(self) -> None:
        ids = self.selected_run_ids()
        if len(ids) == 1:
            self.context.run_selected.emit(int(ids[0]))

    def _update_resume(self) -> None:
        """Resume is offered for one selected run that stopped (interrupted, cancelled or failed) after at
        least one epoch, while no other job runs."""
        from recstudio.errors import RecStudioError
        from recstudio.runs import resume_point

        ids = self.selected_run_ids()
        point = None
        if len(ids) == 1:
            try:
                point = resume_point(self.context.workspace, ids[0])
            except RecStudioError:  # deleted meanwhile
                point = None
        busy = self.context.runner.busy
        self.resume_button.setEnabled(point is not None and not busy)
        if point is not None:
            self.resume_button.setToolTip(
                f"Continue run {ids[0]} from the end of epoch {point['epoch']} (step {point['step']:,}) on the "
                "Training page, with its own data and settings." + (" Wait for the running job first." if busy else ""))
        else:
            self.resume_button.setToolTip("Continue an interrupted, cancelled or failed run from its last finished "
                                          "epoch (select one that stopped after at least one epoch).")

    def resume_selected(self) -> bool:
        """Ask the training page to continue the selected run (it starts the same job as Start)."""
        ids = self.selected_run_ids()
        if len(ids) != 1 or not self.resume_button.isEnabled():
            return False
        self.context.resume_requested.emit(int(ids[0]))
        return True

    def delete_selected(self) -> QMessageBox | None:
        """Ask to delete the selected runs (the question opens with ``open()``, so tests can answer it)."""
        ids = self.selected_run_ids()
        if not ids:
            return None
        runs = {r.id: r for r in self.model.runs}
        running = [i for i in ids if runs.get(i) is not None and runs[i].status == "running"]
        if running:
            self.status_label.setText(f"Run {running[0]} is still training; stop it before deleting it.")
            return None
        what = f"run {ids[0]}" if len(ids) == 1 else f"{len(ids)} runs ({', '.join(map(str, ids))})"
        box = QMessageBox(QMessageBox.Icon.Question, "Delete runs" if len(ids) > 1 else "Delete run",
                          f"Delete {what}? Its curves, metrics and checkpoint are removed from the workspace; "
                          "this cannot be undone.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("confirmDelete")
        box.button(QMessageBox.StandardButton.Yes).setText("Delete")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(
            lambda _result: self._delete_confirmed(ids)
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes) else None)
        self._confirm = box
        box.open()
        return box

    def _delete_confirmed(self, run_ids: Sequence[int]) -> None:
        from recstudio.errors import RecStudioError
        from recstudio.gui.context import show_error

        deleted = []
        try:
            for run_id in run_ids:
                self.context.workspace.delete_run(run_id)
                self._curves.pop(run_id, None)
                deleted.append(run_id)
        except RecStudioError as exc:
            show_error(self, "Delete run", exc)
        if deleted:
            self.status_label.setText(f"Deleted run{'s' if len(deleted) > 1 else ''} {', '.join(map(str, deleted))}.")
        self.context.runs_changed.emit()

    def export_csv(self) -> str | None:
        start = str(Path(self.context.last_folder("export")) / "runs.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export the runs table", start, "CSV files (*.csv)")
        if not path:
            return None
        if not path.lower().endswith(".csv"):
            path += ".csv"
        try:
            count = export_runs_csv(self.visible_rows(), path)
        except OSError as exc:
            from recstudio.errors import RecStudioError
            from recstudio.gui.context import show_error

            show_error(self, "Export CSV", RecStudioError(f"Could not write {path}: {exc.strerror or exc}."))
            return None
        self.context.set_last_folder(path, "export")
        self.status_label.setText(f"Wrote {count} run{'s' if count != 1 else ''} to {path}.")
        return path
