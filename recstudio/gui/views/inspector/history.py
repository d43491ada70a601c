"""The inspector's history panel: the user's events, newest first, grouped into baskets (one row per
basket, expanding to its lines) when the history has them; each event or basket the list reads has a
check box to leave it out, a catalogue search adds an item, and the what-if line says what changed."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox, QCompleter, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QStackedWidget, QVBoxLayout,
)

from recstudio.gui.views.explain_panel import tint_for
from recstudio.gui.views.inspector.history_model import HistoryTreeModel
from recstudio.gui.views.inspector.tables import fit_columns, hint_label, make_table, make_tree


class HistoryPanel(QGroupBox):
    """``model``/``table``: the events (a :class:`HistoryTreeModel`, shown by ``tree`` under their
    baskets, else by ``flat``, a table as fast as before for a history of many thousand events: a tree
    asks the model about every top-level row when it lays out); ``group_check``: group by basket;
    ``add_item_edit``, ``reset_button``, ``what_if_label``: the what-if."""

    item_chosen = Signal(str)  # a title or id the analyst picked or typed in the what-if search
    reset_requested = Signal()
    event_toggled = Signal(int, bool)  # event row (newest first), kept
    basket_toggled = Signal(int, bool)  # basket number (0-based, oldest first), kept
    grouping_changed = Signal(bool)  # the analyst ticked or unticked "Group by basket"

    def __init__(self, parent=None):
        super().__init__("History — newest first", parent)
        self.setObjectName("historyBox")
        layout = QVBoxLayout(self)
        self.model = HistoryTreeModel(self)
        self.flat = make_table("historyTable")
        self.tree = make_tree("historyTable")
        self.views = QStackedWidget()
        self.views.addWidget(self.flat)
        self.views.addWidget(self.tree)
        self.flat.setModel(self.model)  # only the view on screen holds the model (a hidden tree would lay out too)
        self.model.check_changed.connect(self.event_toggled.emit)
        self.model.basket_check_changed.connect(self.basket_toggled.emit)
        layout.addWidget(self.views)
        what_if = QHBoxLayout()
        what_if.addWidget(QLabel("What if:"))
        self.add_item_edit = QLineEdit()
        self.add_item_edit.setObjectName("addItem")
        self.add_item_edit.setPlaceholderText("add an item from the catalogue (type a title or id)…")
        self.add_item_edit.setToolTip("Append a catalogue item to the end of the history and see the list and the "
                                      "explanation change. Untick a row above to leave that event out.")
        self.choices = QStringListModel(self)
        completer = QCompleter(self.choices, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        completer.activated.connect(self.item_chosen.emit)
        self.add_item_edit.setCompleter(completer)
        self.add_item_edit.returnPressed.connect(lambda: self.item_chosen.emit(self.add_item_edit.text()))
        what_if.addWidget(self.add_item_edit, 1)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setObjectName("resetWhatIf")
        self.reset_button.setToolTip("Back to the user's real history.")
        self.reset_button.setEnabled(False)
        self.reset_button.clicked.connect(self.reset_requested.emit)
        what_if.addWidget(self.reset_button)
        self.group_check = QCheckBox("Group by basket")
        self.group_check.setObjectName("groupBaskets")
        self.group_check.setToolTip("One row per basket (the lines of one invoice, or events sharing a time), "
                                    "expanding to its lines; untick a basket to leave all of it out.")
        self.group_check.setEnabled(False)
        self.group_check.toggled.connect(self.grouping_changed.emit)
        what_if.addWidget(self.group_check)
        layout.addLayout(what_if)
        self.what_if_label = hint_label("", "whatIfLabel")
        layout.addWidget(self.what_if_label)

    @property
    def table(self):
        """The view on screen: the tree (baskets) or the flat table."""
        return self.views.currentWidget()

    def show_rows(self, rows: dict, groupable: bool = False, grouped: bool = False) -> None:
        """Show :func:`~recstudio.gui.views.inspector.presenter.history_rows` content: under its baskets
        when it has ``groups`` (``groupable``: the history has baskets of several lines, so the choice is
        offered; ``grouped``: the box says it is taken); the baskets holding the held-out part are expanded."""
        groups = rows.get("groups")
        self.group_check.blockSignals(True)
        self.group_check.setEnabled(groupable)
        self.group_check.setChecked(grouped)
        self.group_check.blockSignals(False)
        shown, other = (self.tree, self.flat) if groups is not None else (self.flat, self.tree)
        if shown.model() is not self.model:
            other.setModel(None)
        self.model.set_rows(rows["headers"], rows["rows"], bold=rows["bold"], dim=rows["dim"], tint=rows["tint"],
                            tooltips=rows["tooltips"], right_aligned=rows["right_aligned"],
                            event_baskets=rows.get("event_baskets", ()), groups=groups)
        if shown.model() is not self.model:
            shown.setModel(self.model)
        self.views.setCurrentWidget(shown)
        self.tree.setRootIsDecorated(bool(self.model.basket_rows()))
        fit_columns(self.table, stretch="Title")
        for row in self.model.basket_rows():
            if self.model.group_at(row).get("tint"):
                self.tree.expand(self.model.index(row, 0))
        self.setTitle(f"History — {self.model.event_count():,} events in {len(groups):,} baskets, newest first"
                      if groups is not None else "History — newest first")

    def show_checks(self, scenario) -> None:
        """A check box on each event the scenario's list reads (event rows are newest first), unticked
        where the what-if leaves it out; a basket's box keeps or leaves out all its lines."""
        n, m = self.model.event_count(), len(scenario.base)
        self.model.set_checkable([n - 1 - p for p in range(m)], unchecked=[n - 1 - p for p in scenario.left_out])

    def show_found(self, note: str, found: dict[str, int] | None = None) -> None:
        """'found 2 of 5' beside the held-out basket's part (its column widened to show it), and the
        rank beside each held-out line the list found (``found``: item id -> rank)."""
        self.model.set_note(note, found if note else None)
        if note and "Split" in self.model.headers:
            column = self.model.headers.index("Split")
            widest = max((g["cells"][column] for g in self.model.measured_groups() if g.get("tint")), key=len,
                         default="")
            font = self.table.font()
            font.setBold(True)
            needed = QFontMetrics(font).horizontalAdvance(f"{widest} · {note}") + 16
            if self.table.columnWidth(column) < needed:
                self.table.setColumnWidth(column, needed)

    def show_what_if(self, text: str, changed: bool) -> None:
        self.what_if_label.setText(text)
        self.reset_button.setEnabled(changed)

    def tint(self, values: dict[int, float], scale: float, baskets: dict[int, float] | None = None) -> None:
        """Colour event rows by their attribution (green pushed the item up, red down), and basket rows
        by their basket's (``baskets``: by basket number)."""
        colours = {row: colour for row, value in values.items() if (colour := tint_for(value, scale)) is not None}
        basket_colours = {b: colour for b, value in (baskets or {}).items()
                          if (colour := tint_for(value, scale)) is not None}
        self.model.set_backgrounds(colours, basket_colours)

    def clear(self) -> None:
        self.model.set_rows([], [])
        self.group_check.setEnabled(False)
        self.setTitle("History — newest first")
        self.what_if_label.setText("")
