"""The inspector's history panel: the user's events, newest first, each one the list reads with a check
box to leave it out, a catalogue search to add an item, and the what-if line that says what changed."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from recstudio.gui.views.explain_panel import tint_for
from recstudio.gui.views.inspector.tables import TextTableModel, fit_columns, hint_label, make_table


class HistoryPanel(QGroupBox):
    """``model``/``table``: the events; ``add_item_edit``, ``reset_button``, ``what_if_label``: the what-if."""

    item_chosen = Signal(str)  # a title or id the analyst picked or typed in the what-if search
    reset_requested = Signal()
    event_toggled = Signal(int, bool)  # table row, kept

    def __init__(self, parent=None):
        super().__init__("History — newest first", parent)
        self.setObjectName("historyBox")
        layout = QVBoxLayout(self)
        self.model = TextTableModel(self)
        self.table = make_table("historyTable")
        self.table.setModel(self.model)
        self.model.check_changed.connect(self.event_toggled.emit)
        layout.addWidget(self.table)
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
        layout.addLayout(what_if)
        self.what_if_label = hint_label("", "whatIfLabel")
        layout.addWidget(self.what_if_label)

    def show_rows(self, rows: dict) -> None:
        """Show :func:`~recstudio.gui.views.inspector.presenter.history_rows` content."""
        self.model.set_rows(rows["headers"], rows["rows"], bold=rows["bold"], dim=rows["dim"], tint=rows["tint"],
                            tooltips=rows["tooltips"], right_aligned=rows["right_aligned"])
        fit_columns(self.table, stretch="Title")

    def show_checks(self, scenario) -> None:
        """A check box on each event the scenario's list reads (rows are newest first), unticked where
        the what-if leaves it out."""
        n, m = self.model.rowCount(), len(scenario.base)
        self.model.set_checkable([n - 1 - p for p in range(m)], unchecked=[n - 1 - p for p in scenario.left_out])

    def show_what_if(self, text: str, changed: bool) -> None:
        self.what_if_label.setText(text)
        self.reset_button.setEnabled(changed)

    def tint(self, values: dict[int, float], scale: float) -> None:
        """Colour rows by their event's attribution (green pushed the item up, red down)."""
        colours = {row: colour for row, value in values.items() if (colour := tint_for(value, scale)) is not None}
        self.model.set_backgrounds(colours)

    def clear(self) -> None:
        self.model.set_rows([], [])
        self.what_if_label.setText("")
