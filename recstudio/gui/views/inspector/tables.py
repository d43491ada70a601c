"""The inspector's tables: the user list (a million users stay quick to search and sort) and rows of
preformatted text with emphasis, check boxes and tints; plain arrays and strings in, nothing here knows
about torch or the workspace."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QTreeView

DISPLAY = Qt.ItemDataRole.DisplayRole
HELD_OUT_TINT = QColor(255, 236, 179)  # amber, readable on light and dark palettes with dark text
_TINT, _ON_TINT, _DIMMED = QBrush(HELD_OUT_TINT), QBrush(QColor(40, 30, 0)), QBrush(QColor(140, 140, 140))


class UserListModel(QAbstractTableModel):
    """Users (id, number of events) held as two numpy arrays; search and sort are vectorised.

    A QSortFilterProxyModel would call ``data()`` once per row in Python for every keystroke
    (measured: 2.9 s for 1M users), so the model filters and orders its own index array instead
    (about 20 ms and 60 ms for 1M users).
    """

    HEADERS = ("User", "Events")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._ids = np.zeros(0, dtype=object)
        self._events = np.zeros(0, dtype=np.int64)
        self._id_key: np.ndarray = np.zeros(0)
        self._search_text = np.zeros(0, dtype=object)
        self._rows = np.zeros(0, dtype=np.int64)  # indices into the arrays, in display order
        self._search = ""
        self._sort = (0, Qt.SortOrder.AscendingOrder)

    def set_users(self, user_ids: np.ndarray, events: np.ndarray) -> None:
        import pandas as pd

        self.beginResetModel()
        self._ids = np.asarray(user_ids).astype(str).astype(object)
        self._events = np.asarray(events, dtype=np.int64)
        numeric = pd.to_numeric(pd.Series(self._ids), errors="coerce")
        # numeric ids sort as numbers (2 before 10); other ids as text
        self._id_key = numeric.to_numpy() if not numeric.isna().any() else np.char.lower(self._ids.astype(str))
        self._search_text = pd.Series(self._ids).str.lower()
        self._rows = self._select()
        self.endResetModel()

    @property
    def total(self) -> int:
        return len(self._ids)

    def set_search(self, text: str) -> None:
        text = text.strip().lower()
        if text == self._search:
            return
        self.beginResetModel()
        self._search = text
        self._rows = self._select()
        self.endResetModel()

    def _select(self) -> np.ndarray:
        if self._search:
            rows = np.flatnonzero(self._search_text.str.contains(self._search, regex=False).to_numpy())
        else:
            rows = np.arange(len(self._ids))
        column, order = self._sort
        key = (self._id_key if column == 0 else self._events)[rows]
        ordered = rows[np.argsort(key, kind="stable")]
        return ordered[::-1] if order == Qt.SortOrder.DescendingOrder else ordered

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._rows = self._select()
        self.layoutChanged.emit()

    def user_at(self, row: int) -> str | None:
        return str(self._ids[self._rows[row]]) if 0 <= row < len(self._rows) else None

    def row_of(self, user_id: str) -> int | None:
        hits = np.flatnonzero(self._ids[self._rows] == str(user_id))
        return int(hits[0]) if len(hits) else None

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else 2

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == DISPLAY:
            return str(self._ids[row]) if index.column() == 0 else f"{int(self._events[row]):,}"
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section, orientation, role=DISPLAY):
        if role == DISPLAY and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None


_SERVED_ROLES = frozenset({DISPLAY, Qt.ItemDataRole.FontRole, Qt.ItemDataRole.BackgroundRole,
                           Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole,
                           Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.CheckStateRole})
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class TextTableModel(QAbstractTableModel):
    """Rows of preformatted strings with per-row emphasis (bold, tint, dimmed) and tooltips."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._headers: list[str] = []
        self._rows: list[list[str]] = []
        self._bold: set[int] = set()
        self._dim: set[int] = set()
        self._tint: set[int] = set()
        self._tooltips: dict[int, str] = {}
        self._right: set[int] = set()  # right-aligned columns
        self._bold_font = QFont()
        self._bold_font.setBold(True)
        self._checkable: set[int] = set()  # rows with a check box in column 0 (what-if: keep this event)
        self._unchecked: set[int] = set()
        self._backgrounds: dict[int, QColor] = {}  # per-row colours (attribution tints)

    check_changed = Signal(int, bool)  # row, checked (the analyst ticked or unticked a row)

    def set_checkable(self, rows, unchecked=()) -> None:
        self._checkable, self._unchecked = set(rows), set(unchecked)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0))

    def is_checked(self, row: int) -> bool:
        return row in self._checkable and row not in self._unchecked

    def set_backgrounds(self, colours: dict[int, QColor]) -> None:
        self._backgrounds = dict(colours)
        if self._rows and self._headers:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self._headers) - 1))

    def background(self, row: int) -> QColor | None:
        return self._backgrounds.get(row)

    def flags(self, index):
        flags = super().flags(index)
        if index.isValid() and index.column() == 0 and index.row() in self._checkable:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or index.row() not in self._checkable:
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        row = index.row()
        (self._unchecked.discard if checked else self._unchecked.add)(row)
        self.dataChanged.emit(index, index)
        self.check_changed.emit(row, checked)
        return True

    def set_rows(self, headers: list[str], rows: list[list[str]], *, bold=(), dim=(), tint=(), tooltips=None,
                 right_aligned=()) -> None:
        self.beginResetModel()
        self._headers, self._rows = list(headers), rows
        self._bold, self._dim, self._tint = set(bold), set(dim), set(tint)
        self._tooltips = dict(tooltips or {})
        self._right = {self._headers.index(h) for h in right_aligned if h in self._headers}
        self._checkable, self._unchecked, self._backgrounds = set(), set(), {}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index, role=DISPLAY):
        if role not in _SERVED_ROLES or not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == DISPLAY:
            return self._rows[row][column]
        if role == Qt.ItemDataRole.FontRole:
            return self._bold_font if row in self._bold else None
        if role == Qt.ItemDataRole.CheckStateRole:
            if column != 0 or row not in self._checkable:
                return None
            return Qt.CheckState.Unchecked if row in self._unchecked else Qt.CheckState.Checked
        if role == Qt.ItemDataRole.BackgroundRole:
            if row in self._backgrounds:
                return QBrush(self._backgrounds[row])
            return _TINT if row in self._tint else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if row in self._tint:
                return _ON_TINT
            return _DIMMED if row in self._dim else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltips.get(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._right:
            return _RIGHT
        return None

    @property
    def headers(self) -> list[str]:
        return self._headers

    @property
    def rows(self) -> list[list[str]]:
        return self._rows

    def headerData(self, section, orientation, role=DISPLAY):
        if role == DISPLAY and orientation == Qt.Orientation.Horizontal and section < len(self._headers):
            return self._headers[section]
        return None


def make_table(name: str) -> QTableView:
    table = QTableView()
    table.setObjectName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    # fixed row heights keep a million-row table cheap to lay out
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setHighlightSections(False)
    table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return table


def make_tree(name: str) -> QTreeView:
    """A tree that reads like :func:`make_table`'s tables: whole rows selected, uniform row heights
    (a basket of thousands of lines stays cheap to lay out), a small indent for a basket's lines."""
    tree = QTreeView()
    tree.setObjectName(name)
    tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    tree.setAlternatingRowColors(True)
    tree.setUniformRowHeights(True)
    tree.setWordWrap(False)
    tree.setIndentation(14)
    tree.setExpandsOnDoubleClick(True)
    tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    tree.header().setHighlightSections(False)
    tree.header().setStretchLastSection(False)
    tree.header().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return tree


def hint_label(text: str = "", name: str | None = None) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)
    if name:
        label.setObjectName(name)
    return label


def fit_columns(table: QTableView | QTreeView, stretch: str, capped: tuple[str, ...] = ("Category",),
                cap: int = 230, hide_empty: tuple[str, ...] = ("Category",)) -> None:
    """Columns as wide as their longest text (measured here from the strings: Qt's ResizeToContents
    asks ``data()`` for every row, ~14k Python calls per user); ``stretch`` takes the rest and
    ``capped`` ones (long category lists) stop at ``cap`` pixels, so titles are not squeezed.
    ``hide_empty`` ones are hidden when no row has a value (a catalogue without categories)."""
    model: TextTableModel = table.model()
    header = table.header() if isinstance(table, QTreeView) else table.horizontalHeader()
    font = QFont(table.font())
    font.setBold(True)  # the held-out row is bold: measure for the wider face
    metrics = QFontMetrics(font)
    sample = model.measured_rows() if hasattr(model, "measured_rows") else model.rows[:2000]
    # a tree's first column also holds the expand arrow, the indent and the check box; a table's the check
    # box when its rows can be ticked (the flat history: without it, "1,063" read "1…")
    if isinstance(table, QTreeView):
        extra = {0: (table.indentation() * 2 if table.rootIsDecorated() else 0) + 24}
    else:
        extra = {0: 24} if hasattr(model, "set_checkable") else {}
    for column, name in enumerate(model.headers):
        table.setColumnHidden(column, name in hide_empty and not any(row[column] for row in model.rows))
        if name == stretch:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
            continue
        longest = max((row[column] for row in sample), key=len, default="")
        width = max(metrics.horizontalAdvance(longest) + 16, metrics.horizontalAdvance(name) + 20)
        width += extra.get(column, 0)
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(column, min(width, cap) if name in capped else width)
