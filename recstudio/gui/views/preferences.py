"""Preferences: what the analyst chooses once and the window remembers (QSettings)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup, QDialog, QDialogButtonBox, QGroupBox, QLabel, QRadioButton, QVBoxLayout, QWidget,
)

from recstudio.gui.context import AppContext
from recstudio.gui.windows import centre_on_first_show


class PreferencesDialog(QDialog):
    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Preferences")
        self.setObjectName("preferencesDialog")

        box = QGroupBox("Training in the window")
        column = QVBoxLayout(box)
        self.smooth_radio = QRadioButton("Keep the window smooth")
        self.smooth_radio.setObjectName("prioritySmooth")
        self.smooth_radio.setToolTip("Training runs at a lower priority than the window: the window answers at "
                                     "once, and training takes the cores whenever the window is idle.")
        self.full_radio = QRadioButton("Train at full speed")
        self.full_radio.setObjectName("priorityFull")
        self.full_radio.setToolTip("Training runs at the same priority as the window and every other program.")
        group = QButtonGroup(self)
        group.addButton(self.smooth_radio)
        group.addButton(self.full_radio)
        note = QLabel("Lower priority costs nothing while the computer is otherwise idle. When another program "
                      "keeps the processor busy, training at lower priority gets only what that program leaves "
                      "(it can be ten times slower); at full speed it shares the processor evenly, and the window "
                      "may stutter while training uses every core. Applies to the next run; the command line "
                      "(`recstudio train`) always trains at full speed.")
        note.setWordWrap(True)
        note.setObjectName("priorityNote")
        column.addWidget(self.smooth_radio)
        column.addWidget(self.full_radio)
        column.addWidget(note)
        (self.full_radio if context.train_at_full_speed else self.smooth_radio).setChecked(True)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(box)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())
        centre_on_first_show(self)

    def accept(self) -> None:
        self.context.set_train_at_full_speed(self.full_radio.isChecked())
        super().accept()
