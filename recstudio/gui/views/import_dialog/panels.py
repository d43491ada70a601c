"""The import dialog's three option panels: which column plays which role, the optional item catalogue
(its file and its id column, guessed as the importer would), and the cleaning steps."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox,
)

from recstudio.errors import RecStudioError
from recstudio.gui.views.import_dialog.presenter import (
    ERROR_STYLE, MUTED_STYLE, NONE, ROLE_LABELS, ROLE_TIPS, chosen_roles, default_name, guess_catalogue_key,
    roles_problem, timestamp_format_text,
)


class ColumnsPanel(QGroupBox):
    """A combo per role (filled with the importer's guess), the time column's reading, the dataset name."""

    roles_changed = Signal()
    name_changed = Signal()

    def __init__(self, preview, path: str, parent=None):
        super().__init__("Columns", parent)
        self.preview = preview
        options = [NONE, *preview.columns]
        guessed = preview.roles.as_dict()
        self.role_combos: dict[str, QComboBox] = {}
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for role, label in ROLE_LABELS.items():
            combo = QComboBox()
            combo.setObjectName(f"roleCombo_{role}")
            combo.addItems(options)
            combo.setCurrentText(guessed.get(role, NONE))
            combo.setToolTip(ROLE_TIPS[role])
            combo.currentIndexChanged.connect(lambda _i: self.roles_changed.emit())
            self.role_combos[role] = combo
            form.addRow(label, combo)
            if role == "timestamp":
                self.timestamp_format_label = QLabel()
                self.timestamp_format_label.setObjectName("timestampFormatLabel")
                self.timestamp_format_label.setWordWrap(True)
                form.addRow("", self.timestamp_format_label)
        self.roles_hint = QLabel()
        self.roles_hint.setObjectName("rolesHint")
        self.roles_hint.setWordWrap(True)
        self.roles_hint.setStyleSheet(ERROR_STYLE)
        form.addRow(self.roles_hint)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setPlaceholderText(default_name(path))
        self.name_edit.setToolTip("The dataset's name in the workspace (the file name when left blank)")
        self.name_edit.textChanged.connect(lambda _text: self.name_changed.emit())
        form.addRow("Dataset name", self.name_edit)

    def roles(self):
        """The chosen column per role (a :class:`recstudio.data.ColumnRoles`)."""
        return chosen_roles({role: combo.currentText() for role, combo in self.role_combos.items()},
                            self.preview.roles)

    def problem(self) -> str:
        return roles_problem(self.roles().as_dict())

    def show_reading(self) -> None:
        """Say what the time column reads as, and why the roles cannot be imported yet (if so)."""
        text, readable = timestamp_format_text(self.preview.rows, self.roles().timestamp)
        self.timestamp_format_label.setText(text)
        self.timestamp_format_label.setStyleSheet(MUTED_STYLE if readable else ERROR_STYLE)
        self.roles_hint.setText(self.problem())
        self.roles_hint.setVisible(bool(self.roles_hint.text()))


class CataloguePanel(QGroupBox):
    """The catalogue file (typed or browsed), its item id column and a line on its other columns."""

    changed = Signal()
    browse_requested = Signal()

    def __init__(self, items_path: str | None, parent=None):
        super().__init__("Item catalogue (optional)", parent)
        self.key_touched = False  # the analyst chose the id column: a new item role keeps it
        self.edit = QLineEdit(items_path or "")
        self.edit.setObjectName("catalogueEdit")
        self.edit.setPlaceholderText("optional: a CSV with titles, categories…")
        self.edit.setClearButtonEnabled(True)
        browse = QPushButton("Browse…")
        browse.setObjectName("catalogueBrowse")
        browse.clicked.connect(self.browse_requested.emit)
        file_row = QHBoxLayout()
        file_row.addWidget(self.edit, 1)
        file_row.addWidget(browse)
        self.key = QComboBox()
        self.key.setObjectName("catalogueKeyCombo")
        self.key.setToolTip("The catalogue column holding the same ids as the log's item column")
        self.key.activated.connect(lambda _i: setattr(self, "key_touched", True))
        self.key.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setObjectName("catalogueStatus")
        self.status.setWordWrap(True)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("File", file_row)
        form.addRow("Item id column", self.key)
        form.addRow(self.status)

    def path(self) -> str | None:
        return self.edit.text().strip() or None

    def columns(self) -> list[str]:
        return [self.key.itemText(i) for i in range(self.key.count())]

    def refresh(self, item_column: str | None) -> None:
        """Read the catalogue's columns (its first rows only: quick enough to do as the path is typed)."""
        from recstudio.data import read_table

        path = self.path()
        self.key.blockSignals(True)
        self.key.clear()
        self.key_touched = False
        status, problem = "", False
        if path is not None:
            if not Path(path).is_file():
                status, problem = f"No such file: {path}", True
            else:
                try:
                    table, _info = read_table(path, nrows=20)
                except RecStudioError as exc:
                    status, problem = str(exc), True
                else:
                    columns = [str(c) for c in table.columns]
                    self.key.addItems(columns)
                    self.select_guess(item_column)
                    others = [c for c in columns if c != self.key.currentText()]
                    status = "Other columns: " + (", ".join(others[:8]) + (" …" if len(others) > 8 else "")
                                                  if others else "none")
        self.key.blockSignals(False)
        self.key.setEnabled(self.key.count() > 0)
        self.edit.setToolTip(path or "")
        self.status.setText(status)
        self.status.setStyleSheet(ERROR_STYLE if problem else MUTED_STYLE)
        self.status.setVisible(bool(status))

    def select_guess(self, item_column: str | None) -> None:
        """Choose the id column the importer would pick (the first column when it would pick none)."""
        columns = self.columns()
        guess = guess_catalogue_key(columns, item_column)
        if guess is not None or columns:
            self.key.setCurrentText(guess if guess is not None else columns[0])

    def problem(self) -> str:
        path = self.path()
        if path is None:
            return ""
        if not Path(path).is_file():
            return "No such file."
        if self.key.count() == 0:
            return self.status.text() or "The catalogue could not be read."
        return ""


class CleaningPanel(QGroupBox):
    """Duplicates, event types to keep, and the k-core minimums."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Cleaning", parent)
        self.drop_duplicates = QCheckBox("Drop exact duplicate rows")
        self.drop_duplicates.setObjectName("dropDuplicates")
        self.drop_duplicates.setChecked(True)
        self.drop_duplicates.toggled.connect(lambda _on: self.changed.emit())
        self.event_types = QLineEdit()
        self.event_types.setObjectName("eventTypesEdit")
        self.event_types.setToolTip("Comma-separated event types to keep; leave blank to keep all")
        self.event_types.textChanged.connect(lambda _text: self.changed.emit())
        self.min_user_events = QSpinBox()
        self.min_user_events.setObjectName("minUserEvents")
        self.min_item_events = QSpinBox()
        self.min_item_events.setObjectName("minItemEvents")
        for spin, who in ((self.min_user_events, "user"), (self.min_item_events, "item")):
            spin.setRange(1, 1_000_000)
            spin.setValue(1)
            spin.setToolTip(f"Drop {who}s with fewer events, repeatedly, until every user and item has enough "
                            "(a k-core); 1 keeps everyone")
            spin.valueChanged.connect(lambda _v: self.changed.emit())
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(self.drop_duplicates)
        form.addRow("Keep event types", self.event_types)
        form.addRow("Min events per user", self.min_user_events)
        form.addRow("Min events per item", self.min_item_events)

    def show_event_column(self, preview_rows, column: str | None) -> None:
        """Event types can be kept only with an event column; its first values are the example."""
        self.event_types.setEnabled(bool(column))
        if column:
            values = preview_rows[column].dropna().unique()[:4]
            self.event_types.setPlaceholderText("all; or e.g. " + ", ".join(map(str, values)))
        else:
            self.event_types.setPlaceholderText("needs an event column")
