"""The inspector: pick a run and a user, read their history and their top-K, see where the held-out item landed."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QButtonGroup, QComboBox, QCompleter, QFileDialog, QGroupBox, QHBoxLayout, QHeaderView,
    QLabel, QLineEdit, QPushButton, QRadioButton, QSlider, QSpinBox, QSplitter, QStackedWidget, QTableView,
    QVBoxLayout, QWidget,
)

from recstudio.gui.context import AppContext, show_error
from recstudio.gui.jobs import JobRunner
from recstudio.gui.views.explain_panel import ExplanationPanel, tint_for

#: Model evaluations per explanation (shap's permutation budget beyond 10 events; exact below).
EXPLAIN_MAX_EVALS = 1000

DISPLAY = Qt.ItemDataRole.DisplayRole
#: Run statuses whose best checkpoint can be inspected.
INSPECTABLE = ("completed", "cancelled")
#: The two ways of choosing a user's history (the values of recstudio.runs.INSPECTION_MODES; that
#: module imports nothing heavy, but the view keeps its own names so its import stays Qt + numpy).
AS_EVALUATED, FULL_HISTORY = "as evaluated", "full history"
MODE_HINTS = {
    AS_EVALUATED: "History = the events before the user's held-out test event: the question the run's "
                  "test metrics asked. The held-out item can be ranked.",
    FULL_HISTORY: "History = every event of the user: what they would be recommended today. Everything "
                  "they touched is excluded, the held-out item too.",
}
HELD_OUT_TINT = QColor(255, 236, 179)  # amber, readable on light and dark palettes with dark text
SEARCH_DELAY_MS = 150
_TINT, _ON_TINT, _DIMMED = QBrush(HELD_OUT_TINT), QBrush(QColor(40, 30, 0)), QBrush(QColor(140, 140, 140))


def run_label(run, *, metric: str = "NDCG@10") -> str:
    """'#3 sasrec — ml-100k — NDCG@10 0.0599' (the test metric; '—' when the run was not tested)."""
    value = (run.metrics or {}).get("test", {}).get(metric)
    shown = f"{value:.4f}" if isinstance(value, (int, float)) else "—"
    status = "" if run.status == "completed" else f" ({run.status})"
    return f"#{run.id} {run.model} — {run.dataset_name} — {metric} {shown}{status}"


def inspectable_runs(workspace) -> list:
    """Finished runs (completed or cancelled) whose checkpoint is on disk, newest first."""
    runs = []
    for run in reversed(workspace.list_runs()):
        if run.status not in INSPECTABLE:
            continue
        path = workspace.artefacts(run.id).get("checkpoint")
        if path is not None and path.exists():
            runs.append(run)
    return runs


def format_score(value: float) -> str:
    if not np.isfinite(value):
        return "—"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:.4f}"


# ---------------------------------------------------------------------------------------------
# table models: plain arrays in, strings out; nothing here knows about torch or the workspace
# ---------------------------------------------------------------------------------------------
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


def history_rows(history, *, held_out_used: bool, newest_first: bool = True) -> dict[str, Any]:
    """Table content for :meth:`RunInspector.history` (a DataFrame, oldest first).

    ``held_out_used`` False ("as evaluated"): the test event and anything after it were not in the
    history the list came from, so they are dimmed and say so.
    """
    columns = [("#", "position"), ("Time (UTC)", "time"), ("Item", "item_id"), ("Title", "title"),
               ("Category", "category"), ("Event", "event"), ("Rating", "rating"), ("Quantity", "quantity"),
               ("Split", "part")]
    columns = [(h, c) for h, c in columns if c in history.columns]
    if "time" in history.columns and history["time"].isna().all():
        columns = [(h, c) for h, c in columns if c != "time"]  # file order: the position is the time
    text = {}
    for header, column in columns:
        values = history[column]
        if column == "time":
            text[column] = values.dt.strftime("%Y-%m-%d %H:%M").fillna("").tolist()
        elif column in ("rating", "quantity"):
            text[column] = [("" if v != v else f"{v:g}") for v in values.tolist()]
        elif column == "part":
            text[column] = ["test (held-out)" if v == "test" else v for v in values.tolist()]
        else:
            text[column] = values.astype(str).tolist()
    n = len(history)
    parts = history["part"].tolist() if "part" in history.columns else [""] * n
    test = parts.index("test") if "test" in parts else None
    order = list(range(n - 1, -1, -1)) if newest_first else list(range(n))
    rows = [[text[c][i] for _, c in columns] for i in order]
    display = {i: r for r, i in enumerate(order)}
    titles = history["title"].astype(str).tolist()
    categories = history["category"].astype(str).tolist() if "category" in history.columns else [""] * n
    items = history["item_id"].astype(str).tolist()
    tooltips = {display[i]: f"{titles[i]}{' — ' + categories[i] if categories[i] else ''} (item {items[i]})"
                for i in range(n)}
    dim, tint = set(), set()
    if test is not None:
        tint.add(display[test])
        tooltips[display[test]] += "\nThe user's held-out test event in this run's split."
        for i in range(test, n):
            if not held_out_used:
                dim.add(display[i])
                tooltips[display[i]] += ("\nNot in the history the list was computed from (as evaluated: only "
                                         "the events before the held-out test event).")
    return {"headers": [h for h, _ in columns], "rows": rows, "dim": dim, "bold": tint, "tint": tint,
            "tooltips": tooltips, "right_aligned": ("#", "Rating", "Quantity")}


def recommendation_rows(rec) -> dict[str, Any]:
    """Table content for a :class:`recstudio.runs.Recommendation` from the inspector."""
    rows, tint, tooltips = [], set(), {}
    for n, item in enumerate(rec.items):
        marker = "◆ held-out" if item["held_out"] else ""
        rows.append([str(item["rank"]), item["title"], item["category"], format_score(item["score"]), marker])
        tooltips[n] = f"{item['title']} — {item['category'] or 'no category'} (item {item['item_id']})"
        if item["held_out"]:
            tint.add(n)
            tooltips[n] += " — the user's held-out test item"
    return {"headers": ["Rank", "Title", "Category", "Score", "Test"], "rows": rows, "bold": tint, "tint": tint,
            "tooltips": tooltips, "right_aligned": ("Rank", "Score")}


def held_out_text(rec, title_of, n_items: int) -> str:
    """One sentence on the held-out item: in the list at rank r, not in it (and where the test ranked
    it), excluded (full history), or none (the user is not tested)."""
    if rec.held_out is None:
        return "This user has no held-out test event in the run's split (too few events)."
    name = f"<b>{_escape(title_of(rec.held_out))}</b> (item {_escape(rec.held_out)})"
    if rec.mode == FULL_HISTORY:
        if rec.held_out_in_list is not None:
            return f"Held-out test item {name}: rank {rec.held_out_in_list} of this list."
        return (f"Held-out test item {name} is in the full history, so it is excluded like every item the "
                "user touched. Choose <i>As evaluated</i> to see where the run's test ranked it.")
    if rec.held_out_in_list is not None:
        return f"Held-out test item {name} appears at <b>rank {rec.held_out_in_list}</b> of this list."
    rank = f"{rec.held_out_rank:,}" if rec.held_out_rank is not None else "?"
    return (f"Held-out test item {name} is not in the top {len(rec.items)}; "
            f"the run's test put it at rank <b>{rank}</b> of {n_items:,} items.")


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(name: str) -> QTableView:
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


def _hint(text: str = "", name: str | None = None) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)
    if name:
        label.setObjectName(name)
    return label


# ---------------------------------------------------------------------------------------------
class InspectorView(QWidget):
    """Pick a run and a user; their history (newest first) beside their top-K recommendations.

    The run's model and dataset load once per run choice (``recstudio.runs.RunInspector``), on the
    GUI thread but only when the page is shown, after a "Loading run…" label has been painted:
    the runner may be busy training, and inspecting must work meanwhile.
    """

    user_shown = Signal(str)  # a user's history and list are on screen (tests and the explanation panel)
    recommendation_selected = Signal(str)  # item id of the recommendation the analyst clicked (for explanations)

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.inspector = None  # recstudio.runs.RunInspector of the chosen run
        self.recommendation = None  # the list on screen
        self._wanted_run: int | None = None
        self._pending_user: str | None = None
        self.scenario = None  # recstudio.explain.whatif.Scenario of the user on screen
        self.explained = None  # the explanation on screen
        # explanations run in a runner of their own: the window's runner may be busy training
        self.explain_runner = JobRunner(self)
        self.explain_runner.result.connect(self._explanation_ready)
        self.explain_runner.error.connect(self._explanation_failed)
        self.explain_runner.finished.connect(lambda _name: self._start_next_explanation())
        self._explain_wanted: tuple | None = None  # (scenario, item id) the panel should show
        self._explain_running: tuple | None = None
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._apply_search)
        self._build()
        self._restore_settings()
        context.runs_changed.connect(self.refresh_runs)
        context.run_selected.connect(self.select_run)
        self.refresh_runs()

    # layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 14, 16, 12)
        outer.setSpacing(10)

        bar = QHBoxLayout()
        title = QLabel("Inspector")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        title.setFont(font)
        bar.addWidget(title)
        bar.addSpacing(18)
        bar.addWidget(QLabel("Run:"))
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("inspectorRun")
        self.run_combo.setMinimumContentsLength(44)
        self.run_combo.setPlaceholderText("no finished runs yet")
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setToolTip("Completed or cancelled runs with a checkpoint; the metric is the run's "
                                  "test NDCG@10.")
        self.run_combo.currentIndexChanged.connect(self._run_chosen)
        bar.addWidget(self.run_combo)
        self.status = QLabel("")
        self.status.setObjectName("inspectorStatus")
        bar.addSpacing(12)
        bar.addWidget(self.status, 1)
        outer.addLayout(bar)

        self.pages = QStackedWidget()
        outer.addWidget(self.pages, 1)
        self.pages.addWidget(self._build_empty_page())
        self.pages.addWidget(self._build_content())

    def _build_empty_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("inspectorEmpty")
        layout = QVBoxLayout(page)
        layout.addStretch(2)
        message = QLabel("<h3>No trained run to inspect yet</h3>"
                         "<p>Train a model on the Training page; when it finishes (or is stopped with a saved "
                         "checkpoint) pick it here to browse each user's history and recommendations.</p>")
        message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        message.setWordWrap(True)
        message.setFixedWidth(480)
        button = QPushButton("Go to Training")
        button.setObjectName("inspectorGoTrain")
        button.clicked.connect(lambda: self.context.navigate.emit("train"))
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(message)
        row.addStretch()
        layout.addLayout(row)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(button)
        buttons.addStretch()
        layout.addLayout(buttons)
        layout.addStretch(3)
        return page

    def _build_content(self) -> QWidget:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("inspectorSplitter")
        splitter.setChildrenCollapsible(False)

        # users ----------------------------------------------------------------------------
        users_box = QGroupBox("Users")
        users = QVBoxLayout(users_box)
        self.user_search = QLineEdit()
        self.user_search.setObjectName("userSearch")
        self.user_search.setPlaceholderText("Search user id…")
        self.user_search.setClearButtonEnabled(True)
        self.user_search.textChanged.connect(lambda _text: self._search_timer.start())
        users.addWidget(self.user_search)
        self.user_model = UserListModel(self)
        self.user_table = _table("userTable")
        self.user_table.setModel(self.user_model)
        self.user_table.setSortingEnabled(True)
        self.user_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.user_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(200)  # measure 200 rows, not every one of a million users
        self.user_table.selectionModel().currentRowChanged.connect(self._user_row_changed)
        users.addWidget(self.user_table, 1)
        self.user_count = _hint("", "userCount")
        users.addWidget(self.user_count)
        self.query_edit = QLineEdit()
        self.query_edit.setObjectName("interestQuery")
        self.query_edit.setPlaceholderText("New user? Describe interests…")
        self.query_edit.setClearButtonEnabled(True)
        self.query_edit.setToolTip("Interests in words (\"space opera films and sci-fi novels\"): a run that knows its "
                                   "items' text (sasrec-lm) places the words among the items and recommends from there. "
                                   "Press Enter.")
        self.query_edit.returnPressed.connect(lambda: self.run_query(self.query_edit.text()))
        users.addWidget(self.query_edit)
        users_box.setMinimumWidth(190)
        splitter.addWidget(users_box)

        # the selected user ----------------------------------------------------------------
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.setSpacing(8)
        self.user_summary = QLabel("Pick a user on the left.")
        self.user_summary.setObjectName("userSummary")
        self.user_summary.setTextFormat(Qt.TextFormat.RichText)
        self.user_summary.setWordWrap(True)
        right_layout.addWidget(self.user_summary)

        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.setChildrenCollapsible(False)
        history_box = QGroupBox("History — newest first")
        history_box.setObjectName("historyBox")
        history = QVBoxLayout(history_box)
        self.history_model = TextTableModel(self)
        self.history_table = _table("historyTable")
        self.history_table.setModel(self.history_model)
        self.history_model.check_changed.connect(self._event_toggled)
        history.addWidget(self.history_table)
        what_if = QHBoxLayout()
        what_if.addWidget(QLabel("What if:"))
        self.add_item_edit = QLineEdit()
        self.add_item_edit.setObjectName("addItem")
        self.add_item_edit.setPlaceholderText("add an item from the catalogue (type a title or id)…")
        self.add_item_edit.setToolTip("Append a catalogue item to the end of the history and see the list and the "
                                      "explanation change. Untick a row above to leave that event out.")
        self._item_choices = QStringListModel(self)
        completer = QCompleter(self._item_choices, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        completer.activated.connect(self._item_chosen)
        self.add_item_edit.setCompleter(completer)
        self.add_item_edit.returnPressed.connect(lambda: self._item_chosen(self.add_item_edit.text()))
        what_if.addWidget(self.add_item_edit, 1)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setObjectName("resetWhatIf")
        self.reset_button.setToolTip("Back to the user's real history.")
        self.reset_button.setEnabled(False)
        self.reset_button.clicked.connect(self.reset_what_if)
        what_if.addWidget(self.reset_button)
        history.addLayout(what_if)
        self.what_if_label = _hint("", "whatIfLabel")
        history.addWidget(self.what_if_label)
        vertical.addWidget(history_box)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.setChildrenCollapsible(False)
        lower.addWidget(self._build_recommendations())
        lower.addWidget(self._build_explanation_panel())
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        lower.setSizes([560, 440])
        vertical.addWidget(lower)
        vertical.setStretchFactor(0, 2)
        vertical.setStretchFactor(1, 3)
        vertical.setSizes([260, 400])
        right_layout.addWidget(vertical, 1)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 930])
        return splitter

    def _build_recommendations(self) -> QWidget:
        box = QGroupBox("Recommendations")
        box.setObjectName("recommendationBox")
        layout = QVBoxLayout(box)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Top"))
        self.k_spin = QSpinBox()
        self.k_spin.setObjectName("topK")
        self.k_spin.setRange(1, 100)
        self.k_spin.setValue(10)
        self.k_spin.setToolTip("How many items to recommend (1–100).")
        self.k_spin.valueChanged.connect(lambda _k: self._refresh_recommendations())
        controls.addWidget(self.k_spin)
        controls.addSpacing(16)
        controls.addWidget(QLabel("History:"))
        self.mode_as_evaluated = QRadioButton("As evaluated")
        self.mode_as_evaluated.setObjectName("modeAsEvaluated")
        self.mode_as_evaluated.setToolTip(MODE_HINTS[AS_EVALUATED])
        self.mode_full_history = QRadioButton("Full history")
        self.mode_full_history.setObjectName("modeFullHistory")
        self.mode_full_history.setToolTip(MODE_HINTS[FULL_HISTORY])
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.mode_as_evaluated)
        self.mode_group.addButton(self.mode_full_history)
        self.mode_as_evaluated.setChecked(True)
        self.mode_group.buttonToggled.connect(self._mode_toggled)
        controls.addWidget(self.mode_as_evaluated)
        controls.addWidget(self.mode_full_history)
        controls.addSpacing(16)
        controls.addWidget(QLabel("Diversity λ"))
        self.diversity_slider = QSlider(Qt.Orientation.Horizontal)
        self.diversity_slider.setObjectName("diversitySlider")
        self.diversity_slider.setRange(0, 20)  # λ in steps of 0.05
        self.diversity_slider.setMaximumWidth(110)
        self.diversity_slider.setToolTip("Re-rank for variety (maximal marginal relevance over categories, or the "
                                         "model's item vectors): 0 = the model's order, 1 = variety only.")
        self.diversity_slider.valueChanged.connect(self._diversity_changed)
        controls.addWidget(self.diversity_slider)
        self.diversity_value = QLabel("0")
        self.diversity_value.setMinimumWidth(28)
        controls.addWidget(self.diversity_value)
        controls.addStretch()
        layout.addLayout(controls)
        self.mode_hint = _hint(MODE_HINTS[AS_EVALUATED], "modeHint")
        layout.addWidget(self.mode_hint)
        self.recommendation_model = TextTableModel(self)
        self.recommendation_table = _table("recommendationTable")
        self.recommendation_table.setModel(self.recommendation_model)
        self.recommendation_table.selectionModel().currentRowChanged.connect(self._recommendation_row_changed)
        layout.addWidget(self.recommendation_table, 1)
        self.held_out_label = QLabel("")
        self.held_out_label.setObjectName("heldOutLabel")
        self.held_out_label.setTextFormat(Qt.TextFormat.RichText)
        self.held_out_label.setWordWrap(True)
        layout.addWidget(self.held_out_label)
        return box

    def _build_explanation_panel(self) -> QWidget:
        """Why the selected recommendation: chart, score parts, text, interests, Export."""
        box = QGroupBox("Why this item?")
        box.setObjectName("explanationPanel")
        box.setMinimumWidth(300)
        layout = QVBoxLayout(box)
        self.explanation = ExplanationPanel(box)
        self.explanation.export_requested.connect(self.export_explanation)
        self.explanation.language_model_changed.connect(self._language_model_changed)
        layout.addWidget(self.explanation)
        self.explanation_panel = box
        return box

    # runs -------------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """Fill the run combo again (runs were added, finished or deleted). The choice is kept, except
        that a newly finished run is chosen while the page is out of sight (train, then inspect)."""
        keep = self._wanted_run if self._wanted_run is not None else self.current_run_id()
        known = {self.run_combo.itemData(i) for i in range(self.run_combo.count())}
        runs = inspectable_runs(self.context.workspace)
        if runs and runs[0].id not in known and known and not self.isVisible():
            keep = runs[0].id
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in runs:
            self.run_combo.addItem(run_label(run), run.id)
        self.run_combo.blockSignals(False)
        self.pages.setCurrentIndex(1 if runs else 0)
        self.run_combo.setEnabled(bool(runs))
        if not runs:
            self._clear()
            self.status.setText("")
            return
        index = self.run_combo.findData(keep) if keep is not None else -1
        self.run_combo.setCurrentIndex(max(index, 0))  # default: the newest run
        self._run_chosen()

    def select_run(self, run_id: int) -> None:
        """Show ``run_id`` (from ``context.run_selected``); refreshes the combo if it is new."""
        if self.run_combo.findData(run_id) < 0:
            self._wanted_run = run_id
            self.refresh_runs()
        index = self.run_combo.findData(run_id)
        if index < 0:
            self.status.setText(f"Run #{run_id} has no checkpoint to inspect.")
            return
        self.run_combo.setCurrentIndex(index)

    def current_run_id(self) -> int | None:
        data = self.run_combo.currentData()
        return int(data) if data is not None else None

    def _run_chosen(self, _index: int = -1) -> None:
        run_id = self.current_run_id()
        self._wanted_run = run_id
        if run_id is None or (self.inspector is not None and self.inspector.run.id == run_id):
            return
        if self.isVisible():
            self._start_loading()
        else:
            self.status.setText("")  # loads when the page is shown, not while the window opens

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._wanted_run is not None and (self.inspector is None or self.inspector.run.id != self._wanted_run):
            self._start_loading()

    def _start_loading(self) -> None:
        self.status.setText(f"Loading run #{self._wanted_run}…")
        self.status.repaint()
        # after the label is painted: the first load imports torch (if the warm-up has not yet)
        QTimer.singleShot(0, self._load_wanted_run)

    def _load_wanted_run(self) -> None:
        from recstudio.runs import RunInspector

        run_id = self._wanted_run
        if run_id is None or (self.inspector is not None and self.inspector.run.id == run_id):
            return
        keep_user = self.current_user()
        try:
            run = self.context.workspace.run(run_id)
            inspector = RunInspector(self.context.workspace, run_id,
                                     dataset=self.context.load_dataset(run.dataset_id))
        except Exception as exc:  # a missing checkpoint or dataset: say so, keep the view usable
            self.inspector = None
            self._clear()
            self.status.setText(f"Run #{run_id} could not be loaded.")
            show_error(self, "Inspector", exc)
            return
        if run_id != self._wanted_run:  # the analyst chose another run meanwhile
            return
        self.inspector = inspector
        self._choice_ids = {f"{title} ({item})": item for item, title in zip(inspector.item_ids.tolist(),
                                                                             inspector.titles.tolist())}
        self._item_choices.setStringList(list(self._choice_ids))
        users = inspector.users()
        self.user_model.set_users(users["user_id"].to_numpy(), users["events"].to_numpy())
        self._apply_search()
        dataset = inspector.dataset
        self.status.setText(f"{dataset.name}: {dataset.n_users:,} users, {dataset.n_items:,} items, "
                            f"{dataset.n_events:,} events · split {inspector.run.split}")
        wanted = self._pending_user or keep_user
        self._pending_user = None
        row = self.user_model.row_of(wanted) if wanted is not None else None
        self._select_row(row if row is not None else 0)

    # users --------------------------------------------------------------------------------------
    def _apply_search(self) -> None:
        current = self.current_user()
        self.user_model.set_search(self.user_search.text())
        shown, total = self.user_model.rowCount(), self.user_model.total
        self.user_count.setText(f"{total:,} users" if shown == total else f"{shown:,} of {total:,} users")
        row = self.user_model.row_of(current) if current is not None else None
        if row is not None:
            self._select_row(row)

    def _select_row(self, row: int) -> None:
        if not 0 <= row < self.user_model.rowCount():
            return
        index = self.user_model.index(row, 0)
        self.user_table.setCurrentIndex(index)
        self.user_table.scrollTo(index)

    def current_user(self) -> str | None:
        return self.recommendation.user if self.recommendation is not None else None

    def select_user(self, user_id: str) -> bool:
        """Show ``user_id`` (clearing a search that hides it); False when the run has no such user."""
        if self.inspector is None:
            self._pending_user = str(user_id)
            return False
        row = self.user_model.row_of(user_id)
        if row is None and self.user_search.text():
            self.user_search.clear()
            self._apply_search()
            row = self.user_model.row_of(user_id)
        if row is None:
            return False
        self._select_row(row)
        return True

    def _user_row_changed(self, current: QModelIndex, _previous=None) -> None:
        user = self.user_model.user_at(current.row()) if current.isValid() else None
        if user is not None:
            self._show_user(user)

    def _show_user(self, user: str) -> None:
        if self.inspector is None:
            return
        from recstudio.explain.whatif import scenario_for

        try:
            self.scenario = scenario_for(self.inspector, user, self.mode())
        except Exception as exc:
            show_error(self, "Inspector", exc)
            return
        self._show_summary(user)
        self._show_recommendations(user)
        self._show_history(user)
        self.user_shown.emit(user)

    def _show_history(self, user: str) -> None:
        history = self.inspector.history(user)
        rows = history_rows(history, held_out_used=self.mode() == FULL_HISTORY)
        self.history_model.set_rows(rows["headers"], rows["rows"], bold=rows["bold"], dim=rows["dim"],
                                    tint=rows["tint"], tooltips=rows["tooltips"], right_aligned=rows["right_aligned"])
        if self.scenario is not None:  # what-if: each event the list reads can be left out
            n, m = len(history), len(self.scenario.base)
            self.history_model.set_checkable([n - 1 - p for p in range(m)],
                                             unchecked=[n - 1 - p for p in self.scenario.left_out])
        self._fit_columns(self.history_table, stretch="Title")
        self._tint_history()
        held_out = self.inspector.held_out(user)
        events = len(history)
        span = ""
        if events and history["time"].notna().any():
            span = (f" · {history['time'].iloc[0]:%Y-%m-%d} → {history['time'].iloc[-1]:%Y-%m-%d}")
        test = ""
        if held_out is not None:
            test = f" · held-out test item: {_escape(self._title(held_out))} ({_escape(held_out)})"
        self.user_summary.setText(f"<b>User {_escape(user)}</b> · {events:,} events{span}{test}")

    # recommendations ----------------------------------------------------------------------------
    def mode(self) -> str:
        return AS_EVALUATED if self.mode_as_evaluated.isChecked() else FULL_HISTORY

    def _mode_toggled(self, _button, checked: bool) -> None:
        if not checked:
            return
        self.mode_hint.setText(MODE_HINTS[self.mode()])
        user = self.current_user()
        if user is not None:
            self._show_user(user)

    def _refresh_recommendations(self) -> None:
        user = self.current_user()
        if user is not None:
            self._show_recommendations(user)

    def diversity(self) -> float:
        return self.diversity_slider.value() / 20

    def _show_recommendations(self, user: str) -> None:
        from recstudio.explain.whatif import intra_list_diversity, recommend_scenario

        scenario, diversity = self.scenario, self.diversity()
        try:
            if scenario is not None and (scenario.changed or diversity > 0):
                rec = recommend_scenario(self.inspector, scenario, self.k_spin.value(), diversity=diversity)
                rec.mode = self.mode() if not scenario.changed else None
            else:
                rec = self.inspector.recommend(user, k=self.k_spin.value(), mode=self.mode())
            variety = ""
            if diversity > 0 and scenario is not None:
                plain = recommend_scenario(self.inspector, scenario, self.k_spin.value())
                before = intra_list_diversity(self.inspector, [it["item_id"] for it in plain.items])
                after = intra_list_diversity(self.inspector, [it["item_id"] for it in rec.items])
                if before is not None and after is not None:
                    variety = f"Intra-list diversity {before:.3f} → {after:.3f} (λ = {diversity:g})."
        except Exception as exc:
            show_error(self, "Recommendations", exc)
            return
        self.recommendation = rec
        rows = recommendation_rows(rec)
        self.recommendation_model.set_rows(rows["headers"], rows["rows"], bold=rows["bold"], tint=rows["tint"],
                                           tooltips=rows["tooltips"], right_aligned=rows["right_aligned"])
        self._fit_columns(self.recommendation_table, stretch="Title")
        if rec.mode is None:  # a what-if history: the run's test asked another question
            text = ("What-if history: the list is what the model gives for the history as changed above."
                    if rec.held_out is None else
                    (f"Held-out test item <b>{_escape(self._title(rec.held_out))}</b>: "
                     + (f"rank {rec.held_out_in_list} of this what-if list." if rec.held_out_in_list
                        else "not in this what-if list.")))
        else:
            text = held_out_text(rec, self._title, self.inspector.dataset.n_items)
        if rec.note:
            text += f"<br><i>{_escape(rec.note)}</i>"
        if variety:
            text += f"<br>{_escape(variety)}"
        self.held_out_label.setText(text)
        box = self.recommendation_table.parentWidget()
        if isinstance(box, QGroupBox):
            source = ", most popular items (empty history)" if rec.source == "popularity" else ""
            box.setTitle(f"Recommendations — top {len(rec.items)}{source}")
        if rec.items:  # explain the first item until the analyst picks another
            self.recommendation_table.setCurrentIndex(self.recommendation_model.index(0, 0))
        else:
            self.explanation.clear("Nothing to explain: the list is empty.")

    def _recommendation_row_changed(self, current: QModelIndex, _previous=None) -> None:
        if self.recommendation is not None and current.isValid() and current.row() < len(self.recommendation.items):
            item = self.recommendation.items[current.row()]
            self.recommendation_selected.emit(item["item_id"])
            self.explain_item(item["item_id"])

    # explanations -------------------------------------------------------------------------------
    def _show_summary(self, user: str) -> None:
        from recstudio.explain.jobs import catalogue_of
        from recstudio.explain.text import interest_summary

        self._summary = None
        try:  # from the history the list reads ("as evaluated": not the held-out event)
            dataset = self.inspector.dataset
            items = [dataset.item_index(i) for i in self.scenario.base]
            summary = interest_summary(items, catalogue_of(dataset))
        except Exception:  # a summary is a nicety: a catalogue without text gives none
            self.explanation.set_summary(None)
            return
        self._summary = summary.text
        self.explanation.set_summary(summary.text, summary.source)

    def explain_item(self, item_id: str) -> None:
        """Explain ``item_id`` for the scenario on screen, in the background (the latest request wins)."""
        if self.inspector is None or self.scenario is None:
            return
        self._explain_wanted = (self.inspector, self.scenario, str(item_id), self.explanation.language_model_path())
        self.explanation.show_busy(self._title(item_id))
        self._start_next_explanation()

    def _start_next_explanation(self) -> None:
        pending = getattr(self, "_query_pending", None)
        if pending and not self.explain_runner.busy:
            self.run_query(pending)
            return
        wanted = self._explain_wanted
        if wanted is None or self.explain_runner.busy or wanted == self._explain_running:
            return
        from functools import partial

        from recstudio.explain.whatif import explain_scenario_job

        self._explain_running = wanted
        self.explain_runner.start("Explain", partial(explain_scenario_job, max_evals=EXPLAIN_MAX_EVALS),
                                  *wanted, cancellable=False)

    def _language_model_changed(self) -> None:
        self.context.settings.setValue("inspector/language_model", self.explanation.lm_edit.text().strip())
        if self._explain_wanted is not None:
            self.explain_item(self._explain_wanted[2])

    def run_query(self, text: str) -> None:
        """Recommend for interests stated in words (a user with no history), in the background."""
        if self.inspector is None or not text.strip():
            return
        self._explain_wanted = None
        if self.explain_runner.busy:  # an explanation is finishing: the query starts right after it
            self._query_pending = text
            return
        from recstudio.explain.whatif import query_job

        self._query_pending = None
        self._explain_running = ("query", text)
        self.explanation.show_busy(f"what “{text.strip()}” matches")
        self.explain_runner.start("Query", query_job, str(self.context.workspace_path), self.inspector.run.id,
                                  text.strip(), self.k_spin.value(), cancellable=False)

    def _show_query(self, rec, text: str) -> None:
        self._explain_running = None
        self.recommendation, self.scenario, self.explained = rec, None, None
        inspector = self.inspector
        rows, tooltips = [], {}
        for n, item in enumerate(rec.items):
            index = inspector.dataset.item_index(item["item_id"])
            category = str(inspector.categories[index]) if inspector.categories is not None else ""
            rows.append([str(n + 1), item["title"], category, format_score(item["score"]), ""])
            tooltips[n] = f"{item['title']} — {category or 'no category'} (item {item['item_id']})"
        self.user_table.clearSelection()
        self.history_model.set_rows([], [])
        self.user_summary.setText(f"<b>A new user</b> · interests in words: “{_escape(text)}”")
        self.recommendation_model.set_rows(["Rank", "Title", "Category", "Score", "Test"], rows, tooltips=tooltips,
                                           right_aligned=("Rank", "Score"))
        self._fit_columns(self.recommendation_table, stretch="Title")
        seeds = ", ".join(f"“{_escape(self._title(i))}”" for i in rec.history[::-1][:3])
        self.held_out_label.setText(f"{_escape(rec.note)}<br>Closest by text: {seeds}." if seeds else _escape(rec.note))
        self.what_if_label.setText("")
        self.explanation.set_summary(None)
        self.explanation.clear("A list from words has no history to attribute it to.")
        box = self.recommendation_table.parentWidget()
        if isinstance(box, QGroupBox):
            box.setTitle(f"Recommendations — top {len(rec.items)} for the words")

    def _explanation_ready(self, name: str, explained) -> None:
        if name == "Query":
            running = self._explain_running
            self._show_query(explained, running[1] if running else "")
            return
        done, self._explain_running = self._explain_running, None
        if done != self._explain_wanted:  # the analyst moved on: the next request starts on finished
            return
        self.explained = explained
        self.explanation.show_explained(explained)
        self._tint_history()

    def _explanation_failed(self, name: str, exc) -> None:
        done, self._explain_running = self._explain_running, None
        if name == "Query":
            self.explanation.clear("")
            show_error(self, "Interests in words", exc)
            return
        if done == self._explain_wanted:
            self._explain_wanted = None
            self.explanation.clear("No explanation for this item.")
            show_error(self, "Explanation", exc)

    def _tint_history(self) -> None:
        """Colour each history row by its event's attribution for the explanation on screen."""
        colours = {}
        explained, scenario = self.explained, self.scenario
        if explained is not None and scenario is not None and self._explain_wanted is not None \
                and explained.attribution.item == self._explain_wanted[2] and self._explain_wanted[1] == scenario:
            a = explained.attribution
            n = self.history_model.rowCount()
            kept = [p for p in range(len(scenario.base)) if p not in scenario.left_out]
            scale = float(np.abs(a.values).max()) if len(a.values) else 0.0
            for position, value in zip(a.positions, a.values):
                j = int(position) - 1
                if 0 <= j < len(kept):
                    colour = tint_for(float(value), scale)
                    if colour is not None:
                        colours[n - 1 - kept[j]] = colour
        self.history_model.set_backgrounds(colours)

    # what-if ----------------------------------------------------------------------------------
    def _event_toggled(self, row: int, checked: bool) -> None:
        if self.scenario is None:
            return
        position = self.history_model.rowCount() - 1 - row
        self.set_scenario(self.scenario.toggled(position, checked))

    def _item_chosen(self, text: str) -> None:
        item = self._choice_ids.get(text) if hasattr(self, "_choice_ids") else None
        if item is None and self.inspector is not None:
            try:
                self.inspector.dataset.item_index(text.strip())
                item = text.strip()
            except Exception:
                item = None
        if item is None or self.scenario is None:
            return
        QTimer.singleShot(0, self.add_item_edit.clear)
        self.set_scenario(self.scenario.with_added(item))

    def add_item(self, item_id: str) -> None:
        """Append ``item_id`` to the what-if history (tests; the search box does the same)."""
        if self.scenario is not None:
            self.set_scenario(self.scenario.with_added(str(item_id)))

    def reset_what_if(self) -> None:
        if self.scenario is not None:
            self.set_scenario(self.scenario.reset())
            n = self.history_model.rowCount()
            self.history_model.set_checkable([n - 1 - p for p in range(len(self.scenario.base))])

    def set_scenario(self, scenario) -> None:
        self.scenario = scenario
        left, added = len(scenario.left_out), len(scenario.added)
        parts = []
        if left:
            parts.append(f"{left} event{'s' if left != 1 else ''} left out")
        if added:
            parts.append("added " + ", ".join(f"“{self._title(i)}”" for i in scenario.added))
        self.what_if_label.setText(("What-if history: " + "; ".join(parts) + ".") if parts else "")
        self.reset_button.setEnabled(scenario.changed)
        self._show_recommendations(scenario.user)
        self._tint_history()

    def _diversity_changed(self, value: int) -> None:
        self.diversity_value.setText(f"{value / 20:g}")
        user = self.current_user()
        if user is not None:
            self._show_recommendations(user)

    def export_explanation(self) -> None:
        """Save the explanation on screen as an HTML report (chart as PNG, every data string escaped)."""
        if self.explained is None:
            return
        settings = self.context.settings
        folder = str(settings.value("folders/export", "") or "")
        a = self.explained.attribution
        suggested = f"why-{a.item}-for-user-{a.user}.html".replace("/", "_").replace("\\", "_")
        path, _ = QFileDialog.getSaveFileName(self, "Export the explanation", f"{folder}/{suggested}" if folder else suggested,
                                              "HTML report (*.html)")
        if path:
            self.write_explanation_html(path)
            import os

            settings.setValue("folders/export", os.path.dirname(path))

    def write_explanation_html(self, path: str) -> bool:
        from recstudio.explain.whatif import explanation_html, write_html

        run = self.inspector.run if self.inspector is not None else None
        label = run_label(run) if run is not None else ""
        try:
            write_html(path, explanation_html(self.explained, run_label=label, chart_png=self.explanation.chart_png(),
                                              summary=getattr(self, "_summary", None), scenario=self.scenario))
        except OSError as exc:
            show_error(self, "Export", exc)
            return False
        return True

    def _title(self, item_id: str) -> str:
        try:
            return str(self.inspector.titles[self.inspector.dataset.item_index(item_id)])
        except Exception:
            return str(item_id)

    def _fit_columns(self, table: QTableView, stretch: str, capped: tuple[str, ...] = ("Category",),
                     cap: int = 230) -> None:
        """Columns as wide as their longest text (measured here from the strings: Qt's ResizeToContents
        asks ``data()`` for every row, ~14k Python calls per user); ``stretch`` takes the rest and
        ``capped`` ones (long category lists) stop at ``cap`` pixels, so titles are not squeezed."""
        model: TextTableModel = table.model()
        header = table.horizontalHeader()
        font = QFont(table.font())
        font.setBold(True)  # the held-out row is bold: measure for the wider face
        metrics = QFontMetrics(font)
        sample = model.rows[:2000]
        for column, name in enumerate(model.headers):
            if name == stretch:
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
                continue
            longest = max((row[column] for row in sample), key=len, default="")
            width = max(metrics.horizontalAdvance(longest) + 16, metrics.horizontalAdvance(name) + 20)
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, min(width, cap) if name in capped else width)

    def _clear(self) -> None:
        self.inspector = None
        self.recommendation = None
        self.scenario = None
        self.explained = None
        self._explain_wanted = None
        self.explanation.clear()
        self.explanation.set_summary(None)
        self.what_if_label.setText("")
        self.user_model.set_users(np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64))
        self.history_model.set_rows([], [])
        self.recommendation_model.set_rows([], [])
        self.user_summary.setText("Pick a user on the left.")
        self.held_out_label.setText("")
        self.user_count.setText("")

    def shutdown(self) -> None:
        """Wait for an explanation still being worked out (the window is closing)."""
        self._explain_wanted = None
        self.explain_runner.stop_and_wait()

    # settings --------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        settings = self.context.settings
        try:
            self.k_spin.setValue(int(settings.value("inspector/k", 10)))
        except (TypeError, ValueError):
            pass
        self.explanation.lm_edit.setText(str(settings.value("inspector/language_model", "") or ""))
        if settings.value("inspector/mode", AS_EVALUATED) == FULL_HISTORY:
            self.mode_full_history.setChecked(True)

    def save_settings(self) -> None:
        self.context.settings.setValue("inspector/k", self.k_spin.value())
        self.context.settings.setValue("inspector/mode", self.mode())
