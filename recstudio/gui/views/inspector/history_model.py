"""The history as a tree: one row per basket (the lines of an invoice, or events sharing a time) that
expands to its lines, or one row per event when there is nothing to group. Rows are preformatted
strings from the presenter; a basket's lines are served only when it is expanded, so a customer with
thousands of events costs what their visible rows cost."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from recstudio.gui.views.inspector.tables import DISPLAY, HELD_OUT_TINT

_TINT, _ON_TINT, _DIMMED = QBrush(HELD_OUT_TINT), QBrush(QColor(40, 30, 0)), QBrush(QColor(140, 140, 140))
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ENABLED = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_EVENT_FLAGS = _ENABLED | Qt.ItemFlag.ItemNeverHasChildren
_TOP = 0  # internal id of a top-level row; a basket's line has the basket's top row + 1


class HistoryTreeModel(QAbstractItemModel):
    """Event rows (newest first) with emphasis, check boxes (what-if: keep this event) and tints, shown
    flat or under their baskets.

    Event rows are addressed by their index in :attr:`rows` ("event rows"), whatever the grouping; a
    top-level row is a basket of several lines or, for a basket of one line, that event itself. A
    basket's check box keeps or leaves out all its lines (``basket_check_changed``); it shows partly
    checked when only some are left out.
    """

    check_changed = Signal(int, bool)  # event row, kept (the analyst ticked or unticked one event)
    basket_check_changed = Signal(int, bool)  # basket number (0-based, oldest first), kept

    def __init__(self, parent=None):
        super().__init__(parent)
        self._headers: list[str] = []
        self._rows: list[list[str]] = []
        self._bold: set[int] = set()
        self._dim: set[int] = set()
        self._tint: set[int] = set()
        self._tooltips: dict[int, str] = {}
        self._right: set[int] = set()
        self._event_baskets: list[int] = []  # basket number of each event row
        self._groups: list[dict] = []  # baskets of several lines, newest first (see set_rows)
        self._top: list[tuple[str, int]] = []  # ("event", event row) or ("basket", group)
        self._top_of_event: dict[int, tuple[int, int]] = {}  # event row -> (top row, line or -1)
        self._grouped = False
        self._checkable: set[int] = set()
        self._unchecked: set[int] = set()
        self._backgrounds: dict[int, QColor] = {}
        self._basket_backgrounds: dict[int, QColor] = {}  # by group
        self._note = ""  # appended to the held-out basket's Split cell ("found 2 of 5")
        self._found: dict[str, int] = {}  # item id -> rank in the list, for the held-out lines it found
        self._bold_font = QFont()
        self._bold_font.setBold(True)

    # content ------------------------------------------------------------------------------------------
    def set_rows(self, headers: list[str], rows: list[list[str]], *, bold=(), dim=(), tint=(), tooltips=None,
                 right_aligned=(), event_baskets=(), groups=None) -> None:
        """Event rows as :class:`~recstudio.gui.views.inspector.tables.TextTableModel` takes them, the
        basket number of each (``event_baskets``) and, to show them grouped, ``groups``: the baskets
        newest first, each a dict ``basket`` (number), ``events`` (its event rows, newest first), ``cells``,
        ``tooltip``, ``tint``, ``bold``, ``dim``. A group of one event is shown as that event."""
        self.beginResetModel()
        self._headers, self._rows = list(headers), rows
        self._bold, self._dim, self._tint = set(bold), set(dim), set(tint)
        self._tooltips = dict(tooltips or {})
        self._right = {self._headers.index(h) for h in right_aligned if h in self._headers}
        self._event_baskets = list(event_baskets)
        self._grouped = groups is not None
        self._groups = list(groups or [])
        self._top, self._top_of_event = [], {}
        if self._grouped:
            for g, group in enumerate(self._groups):
                if len(group["events"]) == 1:
                    self._top_of_event[group["events"][0]] = (len(self._top), -1)
                    self._top.append(("event", group["events"][0]))
                else:
                    for n, event in enumerate(group["events"]):
                        self._top_of_event[event] = (len(self._top), n)
                    self._top.append(("basket", g))
        else:
            self._top = [("event", r) for r in range(len(rows))]
        self._checkable, self._unchecked = set(), set()
        self._backgrounds, self._basket_backgrounds, self._note, self._found = {}, {}, "", {}
        self.endResetModel()

    @property
    def grouped(self) -> bool:
        return self._grouped

    @property
    def headers(self) -> list[str]:
        return self._headers

    @property
    def rows(self) -> list[list[str]]:
        """The event rows (newest first)."""
        return self._rows

    def measured_rows(self) -> list[list[str]]:
        """Rows to size the columns by: some events and the baskets' own rows."""
        return self._rows[:2000] + [g["cells"] for g in self._groups[:500] if len(g["events"]) > 1]

    def measured_groups(self) -> list[dict]:
        """The baskets of several lines (their own rows' content)."""
        return [g for g in self._groups if len(g["events"]) > 1]

    def event_count(self) -> int:
        return len(self._rows)

    def basket_rows(self) -> list[int]:
        """The top-level rows that are baskets of several lines (they expand)."""
        return [r for r, (kind, _) in enumerate(self._top) if kind == "basket"]

    def group_at(self, row: int) -> dict | None:
        """The basket of top-level ``row`` (a dict as given to :meth:`set_rows`), None for an event row."""
        kind, value = self._top[row]
        return self._groups[value] if kind == "basket" else None

    def event_index(self, event_row: int, column: int = 0) -> QModelIndex:
        """Where event row ``event_row`` is shown: a top-level row, or a line under its basket."""
        if not self._grouped:
            return self.index(event_row, column)
        top, line = self._top_of_event[event_row]
        if line < 0:
            return self.index(top, column)
        return self.index(line, column, self.index(top, 0))

    def event_row(self, index: QModelIndex) -> int | None:
        """The event row shown at ``index``; None for a basket's row."""
        if not index.isValid():
            return None
        if index.internalId() != _TOP:
            group = self._groups[self._top[index.internalId() - 1][1]]
            return group["events"][index.row()]
        kind, value = self._top[index.row()]
        return value if kind == "event" else None

    def set_note(self, note: str, found: dict[str, int] | None = None) -> None:
        """A few words after the held-out basket's part ("found 2 of 5"), and the list's rank after each
        held-out line whose item it found (``found``: item id -> rank)."""
        self._note, self._found = note, dict(found or {})
        self._changed_all()

    # what-if check boxes -----------------------------------------------------------------------------
    def set_checkable(self, rows, unchecked=()) -> None:
        """Check boxes on these event rows (the events the list reads), unticked on ``unchecked``."""
        self._checkable, self._unchecked = set(rows), set(unchecked)
        self._changed_all()

    def _event_checked(self, event: int) -> bool:
        return event in self._checkable and event not in self._unchecked

    def _group_state(self, group: dict) -> Qt.CheckState | None:
        lines = [e for e in group["events"] if e in self._checkable]
        if not lines:
            return None
        kept = sum(e not in self._unchecked for e in lines)
        if kept == len(lines):
            return Qt.CheckState.Checked
        return Qt.CheckState.Unchecked if kept == 0 else Qt.CheckState.PartiallyChecked

    def is_checked(self, row: int) -> bool:
        """Whether top-level ``row`` is kept: its event, or every line of its basket."""
        kind, value = self._top[row]
        if kind == "event":
            return self._event_checked(value)
        return self._group_state(self._groups[value]) == Qt.CheckState.Checked

    def is_event_checked(self, event_row: int) -> bool:
        return self._event_checked(event_row)

    # tints --------------------------------------------------------------------------------------------
    def set_backgrounds(self, colours: dict[int, QColor], basket_colours: dict[int, QColor] | None = None) -> None:
        """Per event row colours, and per basket number colours (for the basket's own row; flat, for its lines)."""
        self._backgrounds = dict(colours)
        self._basket_backgrounds = {}
        by_basket = {g["basket"]: n for n, g in enumerate(self._groups)}
        for basket, colour in (basket_colours or {}).items():
            if self._grouped and basket in by_basket:
                self._basket_backgrounds[by_basket[basket]] = colour
            else:  # flat: every line of the basket
                for event, b in enumerate(self._event_baskets):
                    if b == basket:
                        self._backgrounds.setdefault(event, colour)
        self._changed_all()

    def background(self, row: int) -> QColor | None:
        """The attribution colour of top-level ``row``."""
        kind, value = self._top[row]
        return self._backgrounds.get(value) if kind == "event" else self._basket_backgrounds.get(value)

    def event_background(self, event_row: int) -> QColor | None:
        return self._backgrounds.get(event_row)

    def _changed_all(self) -> None:
        if not self._top or not self._headers:
            return
        # one range over the top-level rows: a view repaints its whole viewport for it, expanded
        # lines included (a signal per basket would cost a customer with thousands of them)
        self.dataChanged.emit(self.index(0, 0), self.index(len(self._top) - 1, len(self._headers) - 1))

    # Qt's model ---------------------------------------------------------------------------------------
    def index(self, row: int, column: int, parent=QModelIndex()) -> QModelIndex:
        if column < 0 or column >= len(self._headers) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _TOP) if row < len(self._top) else QModelIndex()
        if parent.internalId() != _TOP:
            return QModelIndex()
        group = self.group_at(parent.row())
        if group is None or row >= len(group["events"]):
            return QModelIndex()
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index=QModelIndex()) -> QModelIndex:  # noqa: D401 (Qt's name)
        if not index.isValid() or index.internalId() == _TOP:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, _TOP)

    def rowCount(self, parent=QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._top)
        if parent.internalId() != _TOP or parent.column() != 0:
            return 0
        group = self.group_at(parent.row())
        return len(group["events"]) if group is not None else 0

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(self._headers)

    def hasChildren(self, parent=QModelIndex()) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section, orientation, role=DISPLAY):
        if role == DISPLAY and orientation == Qt.Orientation.Horizontal and section < len(self._headers):
            return self._headers[section]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        event = self.event_row(index)
        # an event never has lines under it: saying so spares the tree asking (a call per row per layout)
        flags = _EVENT_FLAGS if event is not None else _ENABLED
        if index.column() != 0:
            return flags
        if event is not None:
            checkable = event in self._checkable
        else:
            checkable = self._group_state(self._groups[self._top[index.row()][1]]) is not None
        return flags | Qt.ItemFlag.ItemIsUserCheckable if checkable else flags

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or index.column() != 0:
            return False
        checked = value if isinstance(value, bool) else Qt.CheckState(value) == Qt.CheckState.Checked
        event = self.event_row(index)
        if event is not None:
            if event not in self._checkable:
                return False
            (self._unchecked.discard if checked else self._unchecked.add)(event)
            self._changed_all()
            self.check_changed.emit(event, checked)
            return True
        group = self._groups[self._top[index.row()][1]]
        lines = [e for e in group["events"] if e in self._checkable]
        if not lines:
            return False
        if self._group_state(group) == Qt.CheckState.PartiallyChecked and not isinstance(value, bool) \
                and Qt.CheckState(value) == Qt.CheckState.PartiallyChecked:
            checked = True  # a click on a partly kept basket keeps it whole
        (self._unchecked.difference_update if checked else self._unchecked.update)(lines)
        self._changed_all()
        self.basket_check_changed.emit(int(group["basket"]), checked)
        return True

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        event = self.event_row(index)
        if event is None:
            return self._group_data(self._groups[self._top[index.row()][1]], index.row(), index.column(), role)
        column = index.column()
        if role == DISPLAY:
            text = self._rows[event][column]
            if self._found and event in self._tint and self._headers[column] == "Split":
                rank = self._found.get(self._rows[event][self._headers.index("Item")])
                if rank is not None:
                    return f"{text} · found, rank {rank}"
            return text
        if role == Qt.ItemDataRole.FontRole:
            return self._bold_font if event in self._bold else None
        if role == Qt.ItemDataRole.CheckStateRole:
            if column != 0 or event not in self._checkable:
                return None
            return Qt.CheckState.Unchecked if event in self._unchecked else Qt.CheckState.Checked
        if role == Qt.ItemDataRole.BackgroundRole:
            if event in self._backgrounds:
                return QBrush(self._backgrounds[event])
            return _TINT if event in self._tint else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if event in self._tint:
                return _ON_TINT
            return _DIMMED if event in self._dim else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltips.get(event)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._right:
            return _RIGHT
        return None

    def _group_data(self, group: dict, row: int, column: int, role):
        if role == DISPLAY:
            text = group["cells"][column]
            if self._note and group.get("tint") and self._headers[column] == "Split":
                text = f"{text} · {self._note}" if text else self._note
            return text
        if role == Qt.ItemDataRole.FontRole:
            return self._bold_font if group.get("bold") else None
        if role == Qt.ItemDataRole.CheckStateRole:
            return self._group_state(group) if column == 0 else None
        if role == Qt.ItemDataRole.BackgroundRole:
            colour = self._basket_backgrounds.get(self._top[row][1])
            if colour is not None:
                return QBrush(colour)
            return _TINT if group.get("tint") else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if group.get("tint"):
                return _ON_TINT
            return _DIMMED if group.get("dim") else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return group.get("tooltip")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._right:
            return _RIGHT
        return None
