"""The inspector's recommendations panel: how many, from which history (as evaluated or full), how much
variety, the list itself and the sentence on where the held-out item landed."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup, QGroupBox, QHBoxLayout, QLabel, QRadioButton, QSlider, QSpinBox, QVBoxLayout,
)

from recstudio.gui.views.inspector.presenter import AS_EVALUATED, BASKET_MODE_HINTS, FULL_HISTORY, MODE_HINTS
from recstudio.gui.views.inspector.tables import TextTableModel, fit_columns, hint_label, make_table

DIVERSITY_STEPS = 20  # the slider moves λ in steps of 0.05


class RecommendationsPanel(QGroupBox):
    """The list's controls (``k_spin``, the mode radios, ``diversity_slider``), ``table`` and ``held_out_label``."""

    k_changed = Signal(int)
    mode_changed = Signal(str)
    diversity_changed = Signal(float)
    row_selected = Signal(int)

    def __init__(self, parent=None):
        super().__init__("Recommendations", parent)
        self.setObjectName("recommendationBox")
        layout = QVBoxLayout(self)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Top"))
        self.k_spin = QSpinBox()
        self.k_spin.setObjectName("topK")
        self.k_spin.setRange(1, 100)
        self.k_spin.setValue(10)
        self.k_spin.setToolTip("How many items to recommend (1–100).")
        self.k_spin.valueChanged.connect(self.k_changed.emit)
        controls.addWidget(self.k_spin)
        controls.addSpacing(16)
        self._hints = MODE_HINTS
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
        self.diversity_slider.setRange(0, DIVERSITY_STEPS)
        self.diversity_slider.setMinimumWidth(60)  # a narrow pane squeezed it to a dot
        self.diversity_slider.setMaximumWidth(110)
        self.diversity_slider.setToolTip("Re-rank for variety (maximal marginal relevance over categories, or the "
                                         "model's item vectors): 0 = the model's order, 1 = variety only.")
        self.diversity_slider.valueChanged.connect(self._diversity_moved)
        controls.addWidget(self.diversity_slider)
        self.diversity_value = QLabel("0")
        self.diversity_value.setMinimumWidth(28)
        controls.addWidget(self.diversity_value)
        controls.addStretch()
        layout.addLayout(controls)
        self.mode_hint = hint_label(MODE_HINTS[AS_EVALUATED], "modeHint")
        layout.addWidget(self.mode_hint)
        self.model = TextTableModel(self)
        self.table = make_table("recommendationTable")
        self.table.setModel(self.model)
        self.table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self.row_selected.emit(current.row()) if current.isValid() else None)
        layout.addWidget(self.table, 1)
        self.held_out_label = QLabel("")
        self.held_out_label.setObjectName("heldOutLabel")
        self.held_out_label.setTextFormat(Qt.TextFormat.RichText)
        self.held_out_label.setWordWrap(True)
        layout.addWidget(self.held_out_label)

    def mode(self) -> str:
        return AS_EVALUATED if self.mode_as_evaluated.isChecked() else FULL_HISTORY

    def set_basket_split(self, baskets: bool) -> None:
        """Words for a run whose held-out part is a basket (last-basket), or one event."""
        self._hints = BASKET_MODE_HINTS if baskets else MODE_HINTS
        self.mode_as_evaluated.setToolTip(self._hints[AS_EVALUATED])
        self.mode_full_history.setToolTip(self._hints[FULL_HISTORY])
        self.mode_hint.setText(self._hints[self.mode()])

    def diversity(self) -> float:
        return self.diversity_slider.value() / DIVERSITY_STEPS

    def show_list(self, rows: dict, title: str, note: str) -> None:
        """Show :func:`~recstudio.gui.views.inspector.presenter.recommendation_rows` content, the box's
        title and the note under the list; the first item is selected (and so explained)."""
        self.model.set_rows(rows["headers"], rows["rows"], bold=rows.get("bold", ()), tint=rows.get("tint", ()),
                            tooltips=rows["tooltips"], right_aligned=rows["right_aligned"])
        fit_columns(self.table, stretch="Title")
        self.held_out_label.setText(note)
        self.setTitle(title)

    def select_first(self) -> bool:
        if self.model.rowCount() == 0:
            return False
        self.table.setCurrentIndex(self.model.index(0, 0))
        return True

    def clear(self) -> None:
        self.model.set_rows([], [])
        self.held_out_label.setText("")

    def _mode_toggled(self, _button, checked: bool) -> None:
        if checked:
            self.mode_hint.setText(self._hints[self.mode()])
            self.mode_changed.emit(self.mode())

    def _diversity_moved(self, value: int) -> None:
        self.diversity_value.setText(f"{value / DIVERSITY_STEPS:g}")
        self.diversity_changed.emit(value / DIVERSITY_STEPS)
