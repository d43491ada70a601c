"""The dataset view: what was imported (summary numbers), its shape in three plots, and a searchable item table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QScrollArea, QSizePolicy,
    QStackedWidget, QTableView, QVBoxLayout, QWidget,
)

from recstudio.data.stats import (  # noqa: F401 (re-exported: the import dialog and tests read them here)
    DatasetPlots, SummaryItem, dataset_summary, item_table_columns, plot_data, sparsity, time_span_text,
)
from recstudio.errors import RecStudioError
from recstudio.gui.dataset_page import DatasetPage, ItemTable, dataset_page_job, item_table, page_data
from recstudio.gui.jobs import JobRunner

ACCENT = "#3b73b9"
WARNING_COLOUR = "#b45309"  # the training page's warning colour
#: Datasets with more events than this are read and summarised in a background job (at 1M events that is
#: half a second the window would otherwise freeze for); smaller ones are shown at once.
BACKGROUND_EVENTS = 200_000


# the item table ---------------------------------------------------------------------------------
class ItemTableModel(QAbstractTableModel):
    """Items with their events; filtering and sorting are vectorised here, so a million items stay quick.

    (A QSortFilterProxyModel would call Python's ``data()`` once per row to filter and once per
    comparison to sort: seconds for a large catalogue.)
    """

    HEADERS = ("Item id", "Title", "Category", "Events")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._columns: list[np.ndarray] = [np.zeros(0, dtype=object)] * 3 + [np.zeros(0, dtype=np.int64)]
        self._haystack = pd.Series([], dtype="str")
        self._order = np.zeros(0, dtype=np.int64)  # every item, in the sort order
        self._rows = np.zeros(0, dtype=np.int64)  # the items shown, in the sort order
        self._filter = ""
        self._sort: tuple[int, Qt.SortOrder] = (3, Qt.SortOrder.DescendingOrder)
        self._sort_keys: dict[int, np.ndarray] = {}  # column -> ascending order of the items

    def set_items(self, ids, titles, categories, events) -> None:
        self.set_table(item_table(ids, titles, categories, events))

    def set_table(self, table: ItemTable) -> None:
        """Show ``table`` (its search text and sort orders worked out already, e.g. in a job)."""
        self.beginResetModel()
        self._columns = list(table.columns)
        self._haystack = table.haystack
        self._sort_keys = dict(enumerate(table.orders))
        self._order = self._sorted(*self._sort)
        self._rows = self._visible()
        self.endResetModel()

    @property
    def total(self) -> int:
        return len(self._columns[3])

    @property
    def has_categories(self) -> bool:
        """Whether any item has a category (the Category column is hidden otherwise)."""
        return bool(np.any(self._columns[2] != ""))

    def set_filter(self, text: str) -> None:
        """Show the items whose id, title or category contains ``text`` (case-insensitive)."""
        self._filter = text.strip().lower()
        self.beginResetModel()
        self._rows = self._visible()
        self.endResetModel()

    def _visible(self) -> np.ndarray:
        if not self._filter:
            return self._order
        mask = self._haystack.str.contains(self._filter, regex=False).to_numpy(dtype=bool)
        return self._order[mask[self._order]]

    def _sorted(self, column: int, order: Qt.SortOrder) -> np.ndarray:
        order_ = self._sort_keys.get(column, np.zeros(0, dtype=np.int64))  # item_table() sorted every column
        return order_[::-1].copy() if order == Qt.SortOrder.DescendingOrder else order_

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.HEADERS):
            return
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._order = self._sorted(column, order)
        self._rows = self._visible()
        self.layoutChanged.emit()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def item_index(self, row: int) -> int:
        """The dataset's item index shown at ``row``."""
        return int(self._rows[row])

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = self._columns[column][self._rows[index.row()]]
            if column == 3:
                return f"{int(value):,}"
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None


# the view -----------------------------------------------------------------------------------------
def _text_color() -> QColor:
    return QWidget().palette().color(QPalette.ColorRole.WindowText)


def _short_number(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _log_ticks(widget: pg.PlotWidget, axis: str) -> None:
    """Plain numbers on a log axis (1, 10, 100, 1k, with 2s and 5s between when there is room)
    instead of pyqtgraph's crowded minor labels."""
    major = [(float(k), _short_number(10.0**k)) for k in range(10)]
    minor = [(k + np.log10(m), _short_number(m * 10.0**k)) for k in range(10) for m in (2, 5)]
    widget.getPlotItem().getAxis(axis).setTicks([major, minor])


def _plot_widget(title: str, x_label: str, y_label: str, axis_items: dict | None = None) -> pg.PlotWidget:
    palette = QWidget().palette()
    widget = pg.PlotWidget(axisItems=axis_items)
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    text = palette.color(QPalette.ColorRole.WindowText)
    plot = widget.getPlotItem()
    plot.setTitle(title, color=text.name(), size="11pt")
    for name, label in (("bottom", x_label), ("left", y_label)):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Mid)))
        axis.setTextPen(pg.mkPen(text))
        axis.setLabel(label, color=text.name())
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    widget.setMinimumHeight(230)
    widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return widget


class DatasetView(QWidget):
    """Summary, plots and items of the current dataset; an empty state when none is open."""

    def __init__(self, context, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("datasetView")
        self.context = context
        self._shown_id: int | None = None
        self._dirty = True
        self.summary_values: dict[str, QLabel] = {}

        self.empty = QLabel("Open a dataset from the Start page")
        self.empty.setObjectName("datasetEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        font = self.empty.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.empty.setFont(font)
        self.empty.setStyleSheet("color: palette(placeholder-text);")

        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._build_content())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        context.dataset_changed.connect(self._dataset_changed)
        self.runner = JobRunner(self)  # reads a large dataset off the GUI thread
        self.runner.result.connect(lambda _name, page: self._show_page(page))
        self.runner.error.connect(self._load_failed)
        self._filter_timer = QTimer(self, singleShot=True, interval=150)
        self._filter_timer.timeout.connect(self.apply_filter)

    # building -------------------------------------------------------------------------------------
    def _build_content(self) -> QWidget:
        self.title = QLabel()
        self.title.setObjectName("datasetTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setWeight(QFont.Weight.DemiBold)
        self.title.setFont(font)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("datasetSubtitle")
        self.subtitle.setStyleSheet("color: palette(placeholder-text);")
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # headline numbers as tiles, the rest as a two-column form
        tiles = QHBoxLayout()
        tiles.setSpacing(10)
        for key, label in (("users", "Users"), ("items", "Items"), ("events", "Events"), ("sparsity", "Sparsity"),
                           ("history", "Events per user"), ("span", "Time span")):
            tile = QFrame()
            tile.setObjectName(f"tile_{key}")
            tile.setFrameShape(QFrame.Shape.StyledPanel)
            tile.setStyleSheet(f"QFrame#tile_{key} {{ background: palette(base); border: 1px solid palette(mid); "
                               "border-radius: 6px; }")
            box = QVBoxLayout(tile)
            box.setContentsMargins(12, 8, 12, 8)
            box.setSpacing(2)
            caption = QLabel(label)
            caption.setStyleSheet("color: palette(placeholder-text); border: none;")
            value = QLabel("–")
            value.setObjectName(f"summary_{key}")
            value.setStyleSheet("border: none;")
            value.setWordWrap(key == "span")
            big = value.font()
            big.setPointSizeF(big.pointSizeF() * (1.15 if key in ("span", "history") else 1.5))
            big.setWeight(QFont.Weight.DemiBold)
            value.setFont(big)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            box.addWidget(caption)
            box.addWidget(value)
            self.summary_values[key] = value
            tiles.addWidget(tile, 2 if key in ("span", "history") else 1)

        details = QGridLayout()
        details.setHorizontalSpacing(12)
        details.setVerticalSpacing(4)
        for row, (key, label) in enumerate((("source", "Source file"), ("catalogue", "Catalogue columns"),
                                            ("dropped", "Rows dropped at import"), ("baskets", "Baskets"),
                                            ("shared", "Shared baskets"))):
            caption = QLabel(label + ":")
            caption.setStyleSheet("color: palette(placeholder-text);")
            value = QLabel("–")
            value.setObjectName(f"summary_{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            details.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop)
            details.addWidget(value, row, 1)
            self.summary_values[key] = value
        details.setColumnStretch(1, 1)
        # leave-one-out would split baskets: said where the numbers are, before anyone trains
        warning = QLabel()
        warning.setObjectName("summary_basket_warning")
        warning.setWordWrap(True)
        warning.setTextFormat(Qt.TextFormat.PlainText)
        warning.setStyleSheet(f"color: {WARNING_COLOUR}; background: palette(base); border: 1px solid "
                              f"{WARNING_COLOUR}; border-radius: 4px; padding: 6px;")
        warning.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        warning.hide()
        self.summary_values["basket_warning"] = warning
        self.basket_warning = warning

        # plots: each curve made once, then setData
        self.popularity_plot = _plot_widget("Item popularity (long tail)", "item rank", "events")
        self.popularity_plot.setObjectName("popularityPlot")
        self.popularity_plot.setLogMode(x=True, y=True)
        _log_ticks(self.popularity_plot, "bottom")
        _log_ticks(self.popularity_plot, "left")
        self.popularity_curve = self.popularity_plot.plot(pen=pg.mkPen(ACCENT, width=2))
        self.history_plot = _plot_widget("History length", "events per user", "users")
        self.history_plot.setObjectName("historyPlot")
        self.history_plot.setLogMode(x=True, y=False)
        _log_ticks(self.history_plot, "bottom")
        self.history_curve = self.history_plot.plot(
            stepMode="center", fillLevel=0, pen=pg.mkPen(ACCENT, width=1.5), brush=QColor(59, 115, 185, 90))
        self.time_plot = _plot_widget("Events over time", "", "events per week",
                                      axis_items={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.time_plot.setObjectName("timePlot")
        self.time_curve = self.time_plot.plot(
            stepMode="center", fillLevel=0, pen=pg.mkPen(ACCENT, width=1.5), brush=QColor(59, 115, 185, 90))
        self.time_note = pg.TextItem("", anchor=(0.5, 0.5), color=_text_color().name())
        self.time_plot.addItem(self.time_note, ignoreBounds=True)
        self.popularity_plot.setToolTip("Events per item, most popular first, on log–log axes: a straight "
                                        "falling line is a power law; a long flat tail means many rare items")
        self.history_plot.setToolTip("How many users have how many events (log-spaced bins)")
        plots = QHBoxLayout()
        plots.setSpacing(10)
        for widget in (self.popularity_plot, self.history_plot, self.time_plot):
            plots.addWidget(widget, 1)

        # items
        items_title = QLabel("Items")
        bold = items_title.font()
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.15)
        items_title.setFont(bold)
        self.item_filter = QLineEdit()
        self.item_filter.setObjectName("itemFilter")
        self.item_filter.setPlaceholderText("Filter by id, title or category…")
        self.item_filter.setClearButtonEnabled(True)
        self.item_filter.setMaximumWidth(360)
        self.item_filter.textChanged.connect(lambda _text: self._filter_timer.start())
        self.item_filter.returnPressed.connect(self.apply_filter)
        self.item_count = QLabel()
        self.item_count.setObjectName("itemCount")
        self.item_count.setStyleSheet("color: palette(placeholder-text);")
        filter_row = QHBoxLayout()
        filter_row.addWidget(items_title)
        filter_row.addSpacing(12)
        filter_row.addWidget(self.item_filter, 1)
        filter_row.addWidget(self.item_count)
        filter_row.addStretch(1)

        self.item_model = ItemTableModel(self)
        self.item_table = QTableView()
        self.item_table.setObjectName("itemTable")
        self.item_table.setModel(self.item_model)
        self.item_table.setSortingEnabled(True)
        self.item_table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
        self.item_table.setAlternatingRowColors(True)
        self.item_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.item_table.verticalHeader().hide()
        self.item_table.verticalHeader().setDefaultSectionSize(22)
        self.item_table.setWordWrap(False)
        self.item_table.setMinimumHeight(200)
        header = self.item_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(0, 110)
        header.resizeSection(2, 320)
        header.resizeSection(3, 90)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(tiles)
        layout.addLayout(details)
        layout.addWidget(self.basket_warning)
        layout.addLayout(plots, 3)
        layout.addLayout(filter_row)
        layout.addWidget(self.item_table, 4)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        content.setMinimumHeight(760)
        return scroll

    # refreshing -----------------------------------------------------------------------------------
    def _dataset_changed(self, _record) -> None:
        self._dirty = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def refresh(self) -> None:
        """Show the context's current dataset: at once when it is small, else once a background job
        has read and summarised it (the latest dataset asked for wins)."""
        self._dirty = False
        record = self.context.dataset
        if record is None:
            self.runner.discard()
            self._show_empty("Open a dataset from the Start page")
            return
        if record.n_events > BACKGROUND_EVENTS:
            if self._shown_id != record.id:
                self._show_empty(f"Reading {record.name} ({record.n_events:,} events)…")
            self.runner.start("Dataset", dataset_page_job, str(self.context.workspace_path), record,
                              cancellable=False, replace=True, lower_priority=False)
            return
        self.runner.discard()
        try:
            page = page_data(record, self.context.load_dataset())
        except RecStudioError as exc:
            self._load_failed("Dataset", exc)
            return
        self._show_page(page)

    @property
    def loading(self) -> bool:
        """A dataset is being read in the background."""
        return self.runner.busy

    def _load_failed(self, _name: str, exc) -> None:
        record = self.context.dataset
        name = record.name if record is not None else "?"
        if not isinstance(exc, RecStudioError):  # a bug: its traceback in a dialog
            from recstudio.gui.context import show_error

            show_error(self, "Dataset", exc)
        self._show_empty(f"Dataset {name!r} could not be opened: {exc}")

    def _show_page(self, page: DatasetPage) -> None:
        record = page.record
        if self.context.dataset is None or self.context.dataset.id != record.id:
            return  # another dataset was chosen meanwhile
        if record.id != self._shown_id:
            self.item_filter.blockSignals(True)
            self.item_filter.clear()  # a search for one dataset's items means nothing in another
            self.item_filter.blockSignals(False)
        self._shown_id = record.id
        self.title.setText(record.name)
        self.subtitle.setText(f"Imported {self._imported(record)} from {record.source}")
        self.subtitle.setToolTip(record.source)
        for item in page.summary:
            label = self.summary_values[item.key]
            label.setText(item.value)
            label.setToolTip(item.tip)
        self.basket_warning.setVisible(bool(self.basket_warning.text()))
        self._show_plots(page.plots)
        self.item_model.set_table(page.items)
        categories = self.item_model.has_categories
        self.item_table.setColumnHidden(2, not categories)
        self.item_filter.setPlaceholderText("Filter by id, title or category…" if categories
                                            else "Filter by id or title…")
        self.apply_filter()
        self.stack.setCurrentIndex(1)

    def _show_empty(self, text: str) -> None:
        self._shown_id = None
        self.empty.setText(text)
        self.stack.setCurrentIndex(0)

    @staticmethod
    def _imported(record) -> str:
        from recstudio.gui.views.start import imported_on

        return imported_on(record.created_at)

    def _show_plots(self, data: DatasetPlots) -> None:
        self.popularity_curve.setData(data.popularity_rank, data.popularity_events)
        self.history_curve.setData(data.history_edges, data.history_counts)
        if len(data.time_counts):
            self.time_curve.setData(data.time_edges, data.time_counts)
            self.time_plot.getPlotItem().setLabel("left", f"events per {data.time_bucket}",
                                                  color=_text_color().name())
            self.time_note.setText("")
        else:
            self.time_curve.setData([], [])
            self.time_note.setText("No timestamps: events are in file order")
            self.time_note.setPos(0.5, 0.5)
            self.time_plot.getPlotItem().setRange(xRange=(0, 1), yRange=(0, 1))
        for widget in (self.popularity_plot, self.history_plot, self.time_plot):
            if widget is not self.time_plot or len(data.time_counts):
                widget.getPlotItem().enableAutoRange()

    def apply_filter(self) -> None:
        self._filter_timer.stop()
        self.item_model.set_filter(self.item_filter.text())
        shown, total = self.item_model.rowCount(), self.item_model.total
        self.item_count.setText(f"{total:,} items" if shown == total else f"{shown:,} of {total:,} items")
