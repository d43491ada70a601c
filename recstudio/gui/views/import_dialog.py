"""The import dialog: preview a behaviour log, choose column roles and cleaning, check the report, import."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout, QFrame, QGroupBox, QHBoxLayout,
    QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton, QScrollArea, QSpinBox, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from recstudio.data import preview as read_preview
from recstudio.errors import RecStudioError
from recstudio.gui import tasks
from recstudio.gui.jobs import Batch, Progress

NONE = "(none)"
ROLE_LABELS = {
    "user": "User id *", "item": "Item id *", "timestamp": "Time", "event": "Event type",
    "rating": "Rating", "quantity": "Quantity",
}
ROLE_TIPS = {
    "user": "Who did it: a customer, visitor or account id (required)",
    "item": "What they did it to: a product, movie or article id (required)",
    "timestamp": "When: orders each user's history; without it the file order is used",
    "event": "What kind of event (view, cart, purchase…); lets you keep only some types",
    "rating": "An explicit rating or score, kept with each event",
    "quantity": "How many units, kept with each event",
}
_PLAUSIBLE_EPOCH = 100_000_000  # Mar 1973: times before it are most likely counts or ratings read as seconds
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", " ": "space"}
CATALOGUE_FILTER = "Item catalogues (*.csv *.tsv *.txt *.gz *.parquet *.pq);;All files (*)"
ERROR_STYLE = "color: #b3261e;"
MUTED_STYLE = "color: palette(placeholder-text);"
# the importer's own order (recstudio.data.catalogue), so the guess shown is the key it would pick
_KEY_NAMES = ("itemid", "item", "id", "movieid", "productid", "product", "stockcode", "sku", "asin", "parentasin",
              "articleid", "bookid", "isbn", "trackid", "productcode", "itemcode", "code")


# plain helpers (tested without a dialog) ------------------------------------------------------
def describe_source(preview) -> str:
    """"CSV · comma-separated · UTF-8" for a :class:`recstudio.data.Preview`."""
    parts = [preview.format.upper()]
    if preview.delimiter:
        parts.append(f"{DELIMITERS.get(preview.delimiter, repr(preview.delimiter))}-separated")
    if preview.encoding:
        parts.append(preview.encoding.upper() if preview.encoding.lower().startswith("utf") else preview.encoding)
    return " · ".join(parts)


def _loose(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(name)).lower()  # as the importer compares names


def guess_catalogue_key(columns: list[str], item_column: str | None) -> str | None:
    """The catalogue column that holds the item id: the log's item column name, else a usual id name
    (None when neither is there: the analyst must choose)."""
    by_name = {_loose(c): c for c in reversed(columns)}
    for candidate in ([item_column] if item_column else []) + list(_KEY_NAMES):
        if candidate in columns:
            return candidate
        if _loose(candidate) in by_name:
            return by_name[_loose(candidate)]
    return None


def parse_event_types(text: str) -> tuple[str, ...] | None:
    """"purchase, cart" -> ("purchase", "cart"); blank -> None (keep every type)."""
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    return values or None


def timestamp_format_text(rows: pd.DataFrame, column: str | None) -> tuple[str, bool]:
    """What the preview's ``column`` reads as ("epoch seconds, e.g. 881250949 = 4 Dec 1997 15:55 UTC"), and
    whether it is readable."""
    from recstudio.data import NAT, parse_timestamps

    if column is None:
        return "No time column: each user's events keep their order in the file.", True
    values = rows[column]
    try:
        seconds, fmt = parse_timestamps(values)
    except RecStudioError as exc:
        return str(exc), False
    readable = [i for i, s in enumerate(seconds) if s != NAT]
    if not readable:
        return "The first rows have no time in this column.", False
    first = readable[0]
    moment = pd.Timestamp(int(seconds[first]), unit="s", tz="UTC")
    text = f"{fmt}, e.g. {values.iloc[first]} = {moment.day} {moment:%b %Y %H:%M} UTC"
    if np.median(seconds[readable]) < _PLAUSIBLE_EPOCH:  # small numbers read as seconds after 1 Jan 1970
        return text + ": these are not times, probably; choose another column or none.", False
    return text, True


def report_html(result) -> str:
    """The import report of a check (an :class:`~recstudio.gui.tasks.ImportResult`) for the analyst."""
    from recstudio.data import ImportReport
    from recstudio.gui.views.dataset import time_span_text
    from recstudio.gui.views.start import imported_on

    e = html.escape
    lines: list[str] = []
    if result.existing is not None:
        record = result.existing
        report = ImportReport.from_dict(record.report)
        lines.append(f"<b>Already imported as “{e(record.name)}”</b> on {e(imported_on(record.created_at))} "
                     "with the same options; Open uses it without importing again.")
    else:
        report = result.dataset.report
    lines.append(f"<b>{report.rows_read:,}</b> rows read → <b>{report.events:,}</b> events by "
                 f"<b>{report.users:,}</b> users on <b>{report.items:,}</b> items")
    dropped = sum(report.dropped.values())
    if dropped:
        reasons = ", ".join(f"{count:,} {e(reason)}" for reason, count in report.dropped.items())
        lines.append(f"Dropped <b>{dropped:,}</b> rows: {reasons}")
    else:
        lines.append("No rows dropped")
    if report.time_start and report.time_end:
        lines.append(f"Time span: {e(time_span_text(report.time_start, report.time_end))}"
                     + (f" <span style='{MUTED_STYLE}'>({e(report.timestamp_format)})</span>"
                        if report.timestamp_format else ""))
    columns = ", ".join(f"{e(role)} ← {e(column)}" for role, column in report.columns.items())
    lines.append(f"Columns: {columns}")
    if report.catalogue_columns:
        lines.append(f"Catalogue: {report.catalogue_items:,} of {report.items:,} items found; "
                     f"columns {e(', '.join(report.catalogue_columns))}")
    text = "<br>".join(lines)
    if report.warnings:
        text += "<p style='margin-top:6px'><b>Warnings</b></p><ul style='margin-top:0; margin-left:-20px'>"
        text += "".join(f"<li>{e(w)}</li>" for w in report.warnings) + "</ul>"
    return text


def default_name(path: str | Path) -> str:
    name = Path(path).name
    for suffix in (".gz", ".gzip"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return Path(name).stem or Path(path).name


# the dialog -------------------------------------------------------------------------------------
class ImportDialog(QDialog):
    """Preview, roles and cleaning; Check runs the import in the worker and shows its report; Import saves it.

    Emits ``imported(record, path)`` with the saved (or earlier identical) dataset's record.
    """

    imported = Signal(object, str)

    def __init__(self, context, path: str, items_path: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.context = context
        self.path = str(path)
        self.preview = None
        self.check_result = None  # ImportResult of the last check, while the options still match it
        self.report = None  # its ImportReport
        self._request = None  # the ImportRequest the result belongs to
        self._phase: str | None = None  # "check" or "save" while a job of ours runs
        self._cancelling = False
        self._key_touched = False
        self._building = True
        self.setWindowTitle(f"Import {Path(self.path).name}")
        self.resize(1040, 760)

        try:
            self.preview = read_preview(self.path)
        except RecStudioError as exc:
            self._build_failed(str(exc))
            return
        self._build(items_path)
        self._building = False
        self._refresh_catalogue()
        self._roles_changed()
        runner = context.runner
        runner.progress.connect(self._job_progress)
        runner.result.connect(self._job_result)
        runner.error.connect(self._job_error)
        runner.finished.connect(self._job_finished)
        self._connected = True

    # building ---------------------------------------------------------------------------------
    def _header(self) -> QVBoxLayout:
        name = QLabel(Path(self.path).name)
        name.setObjectName("fileName")
        font = name.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        name.setFont(font)
        where = QLabel(str(Path(self.path).resolve().parent))
        where.setStyleSheet(MUTED_STYLE)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QVBoxLayout()
        box.setSpacing(2)
        box.addWidget(name)
        box.addWidget(where)
        return box

    def _build_failed(self, message: str) -> None:
        self._connected = False
        layout = QVBoxLayout(self)
        layout.addLayout(self._header())
        self.error_label = QLabel(message)
        self.error_label.setObjectName("errorLabel")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # messages quote file and column names
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addSpacing(12)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        self.check_button = QPushButton("Check")
        self.check_button.setObjectName("checkButton")
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("importButton")
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.clicked.connect(self.reject)
        self.close_button.setDefault(True)
        self.check_button.setEnabled(False)
        self.import_button.setEnabled(False)
        row = QHBoxLayout()
        row.addStretch(1)
        for button in (self.check_button, self.import_button, self.close_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.resize(620, 220)

    def _build(self, items_path: str | None) -> None:
        preview = self.preview
        header = self._header()
        detected = QLabel(f"Detected: {describe_source(preview)}")
        detected.setObjectName("formatLabel")
        header.addWidget(detected)
        for warning in preview.warnings:
            note = QLabel(warning)
            note.setWordWrap(True)
            note.setStyleSheet(ERROR_STYLE)
            header.addWidget(note)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # messages quote file and column names
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()

        # preview of the first rows
        rows = preview.rows
        self.preview_table = QTableWidget(len(rows), len(preview.columns))
        self.preview_table.setObjectName("previewTable")
        self.preview_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview_table.setAlternatingRowColors(True)
        self.preview_table.verticalHeader().setDefaultSectionSize(22)
        for r in range(len(rows)):
            for c, column in enumerate(preview.columns):
                value = rows.iloc[r, c]
                self.preview_table.setItem(r, c, QTableWidgetItem("" if pd.isna(value) else str(value)))
        self.preview_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        preview_title = QLabel(f"First {len(rows)} rows")
        preview_title.setStyleSheet("font-weight: bold;")

        # roles
        options = [NONE, *preview.columns]
        guessed = preview.roles.as_dict()
        self.role_combos: dict[str, QComboBox] = {}
        roles_form = QFormLayout()
        roles_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for role, label in ROLE_LABELS.items():
            combo = QComboBox()
            combo.setObjectName(f"roleCombo_{role}")
            combo.addItems(options)
            combo.setCurrentText(guessed.get(role, NONE))
            combo.setToolTip(ROLE_TIPS[role])
            combo.currentIndexChanged.connect(self._roles_changed)
            self.role_combos[role] = combo
            roles_form.addRow(label, combo)
            if role == "timestamp":
                self.timestamp_format_label = QLabel()
                self.timestamp_format_label.setObjectName("timestampFormatLabel")
                self.timestamp_format_label.setWordWrap(True)
                roles_form.addRow("", self.timestamp_format_label)
        self.roles_hint = QLabel()
        self.roles_hint.setObjectName("rolesHint")
        self.roles_hint.setWordWrap(True)
        self.roles_hint.setStyleSheet(ERROR_STYLE)
        roles_form.addRow(self.roles_hint)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setPlaceholderText(default_name(self.path))
        self.name_edit.setToolTip("The dataset's name in the workspace (the file name when left blank)")
        self.name_edit.textChanged.connect(self._invalidate)
        roles_form.addRow("Dataset name", self.name_edit)
        roles_group = QGroupBox("Columns")
        roles_group.setLayout(roles_form)

        # catalogue
        self.catalogue_edit = QLineEdit(items_path or "")
        self.catalogue_edit.setObjectName("catalogueEdit")
        self.catalogue_edit.setPlaceholderText("optional: a CSV with titles, categories…")
        self.catalogue_edit.setClearButtonEnabled(True)
        self.catalogue_edit.textChanged.connect(self._refresh_catalogue)
        browse = QPushButton("Browse…")
        browse.setObjectName("catalogueBrowse")
        browse.clicked.connect(self._browse_catalogue)
        file_row = QHBoxLayout()
        file_row.addWidget(self.catalogue_edit, 1)
        file_row.addWidget(browse)
        self.catalogue_key = QComboBox()
        self.catalogue_key.setObjectName("catalogueKeyCombo")
        self.catalogue_key.setToolTip("The catalogue column holding the same ids as the log's item column")
        self.catalogue_key.activated.connect(lambda _i: setattr(self, "_key_touched", True))
        self.catalogue_key.currentIndexChanged.connect(self._invalidate)
        self.catalogue_status = QLabel()
        self.catalogue_status.setTextFormat(Qt.TextFormat.PlainText)
        self.catalogue_status.setObjectName("catalogueStatus")
        self.catalogue_status.setWordWrap(True)
        catalogue_form = QFormLayout()
        catalogue_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        catalogue_form.addRow("File", file_row)
        catalogue_form.addRow("Item id column", self.catalogue_key)
        catalogue_form.addRow(self.catalogue_status)
        self.catalogue_group = QGroupBox("Item catalogue (optional)")
        self.catalogue_group.setLayout(catalogue_form)

        # cleaning
        self.drop_duplicates = QCheckBox("Drop exact duplicate rows")
        self.drop_duplicates.setObjectName("dropDuplicates")
        self.drop_duplicates.setChecked(True)
        self.drop_duplicates.toggled.connect(self._invalidate)
        self.event_types = QLineEdit()
        self.event_types.setObjectName("eventTypesEdit")
        self.event_types.setToolTip("Comma-separated event types to keep; leave blank to keep all")
        self.event_types.textChanged.connect(self._invalidate)
        self.min_user_events = QSpinBox()
        self.min_user_events.setObjectName("minUserEvents")
        self.min_item_events = QSpinBox()
        self.min_item_events.setObjectName("minItemEvents")
        for spin, who in ((self.min_user_events, "user"), (self.min_item_events, "item")):
            spin.setRange(1, 1_000_000)
            spin.setValue(1)
            spin.setToolTip(f"Drop {who}s with fewer events, repeatedly, until every user and item has enough "
                            "(a k-core); 1 keeps everyone")
            spin.valueChanged.connect(self._invalidate)
        cleaning_form = QFormLayout()
        cleaning_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        cleaning_form.addRow(self.drop_duplicates)
        cleaning_form.addRow("Keep event types", self.event_types)
        cleaning_form.addRow("Min events per user", self.min_user_events)
        cleaning_form.addRow("Min events per item", self.min_item_events)
        self.cleaning_group = QGroupBox("Cleaning")
        self.cleaning_group.setLayout(cleaning_form)

        # report
        self.report_label = QLabel()
        self.report_label.setObjectName("reportLabel")
        self.report_label.setWordWrap(True)
        self.report_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.report_label.setTextFormat(Qt.TextFormat.RichText)
        self.report_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        report_scroll = QScrollArea()
        report_scroll.setWidget(self.report_label)
        report_scroll.setWidgetResizable(True)
        report_scroll.setFrameShape(QFrame.Shape.NoFrame)
        report_box = QVBoxLayout()
        report_box.addWidget(report_scroll)
        self.report_group = QGroupBox("Import report")
        self.report_group.setLayout(report_box)
        self._show_report_placeholder()

        # progress, status and buttons
        self.progress = QProgressBar()
        self.progress.setObjectName("importProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progressLabel")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self.cancel_check)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label, 2)
        progress_row.addWidget(self.cancel_button)
        self.progress_widget = QWidget()
        self.progress_widget.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_widget.hide()

        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        self.status_label.setWordWrap(True)
        self.check_button = QPushButton("Check")
        self.check_button.setObjectName("checkButton")
        self.check_button.setToolTip("Read the whole file with these options and show what the import keeps and drops")
        self.check_button.clicked.connect(self.check)
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("importButton")
        self.import_button.setToolTip("Save the checked dataset in the workspace and open it")
        self.import_button.clicked.connect(self.save)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.clicked.connect(self.reject)
        for button in (self.check_button, self.import_button, self.close_button):
            button.setAutoDefault(False)
            button.setMinimumWidth(96)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.close_button)

        right = QVBoxLayout()
        right.addWidget(self.catalogue_group)
        right.addWidget(self.cleaning_group)
        right.addStretch(1)
        options_row = QHBoxLayout()
        options_row.setSpacing(12)
        options_row.addWidget(roles_group, 9)
        options_row.addLayout(right, 11)
        options_row.addWidget(self.report_group, 11)
        self.options_widgets = [roles_group, self.catalogue_group, self.cleaning_group]

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addLayout(header)
        layout.addWidget(self.error_label)
        layout.addWidget(preview_title)
        layout.addWidget(self.preview_table, 1)
        layout.addLayout(options_row)
        layout.addWidget(self.progress_widget)
        layout.addLayout(buttons)
        self._update_header_roles()
        self.preview_table.resizeColumnsToContents()
        for column in range(self.preview_table.columnCount()):  # room to breathe, not a wall of narrow cells
            width = self.preview_table.columnWidth(column)
            self.preview_table.setColumnWidth(column, min(max(width + 16, 110), 320))

    # reading the options ----------------------------------------------------------------------
    def roles(self):
        """The chosen column per role (a :class:`recstudio.data.ColumnRoles`)."""
        from recstudio.data import ABSENT, ColumnRoles

        guessed = self.preview.roles
        # "(none)" where the importer would guess a column must say so (ABSENT); where it would guess
        # nothing, None keeps the request equal to a plain command-line import of the same file
        return ColumnRoles(**{role: ((ABSENT if getattr(guessed, role) else None) if combo.currentText() == NONE
                                     else combo.currentText())
                              for role, combo in self.role_combos.items()})

    def catalogue_path(self) -> str | None:
        text = self.catalogue_edit.text().strip()
        return text or None

    def request(self):
        """The :class:`recstudio.runs.ImportRequest` these options describe.

        Choices equal to what the importer would guess are passed as "guess" (None), so an import made
        here and one made by ``recstudio train FILE`` with the same file and defaults are recognised as
        the same and reused rather than stored twice.
        """
        from recstudio.data import ImportOptions
        from recstudio.runs import ImportRequest

        has_events = self.role_combos["event"].currentText() != NONE
        catalogue = self.catalogue_path()
        key = self.catalogue_key.currentText() or None
        columns = [self.catalogue_key.itemText(i) for i in range(self.catalogue_key.count())]
        if catalogue is None or key == guess_catalogue_key(columns, self.roles().item):
            key = None
        options = ImportOptions(
            drop_duplicates=self.drop_duplicates.isChecked(),
            event_types=parse_event_types(self.event_types.text()) if has_events else None,
            min_user_events=self.min_user_events.value(),
            min_item_events=self.min_item_events.value(),
            item_key=key,
        )
        roles = self.roles()
        return ImportRequest(self.path, catalogue, None if roles == self.preview.roles else roles,
                             None if options == ImportOptions() else options, self.name_edit.text().strip() or None)

    def _roles_problem(self) -> str:
        chosen = self.roles().as_dict()
        for role in ("user", "item"):
            if role not in chosen:
                return f"Choose the {role} id column."
        seen: dict[str, str] = {}
        for role, column in chosen.items():
            if column in seen:
                return f"Column “{column}” is chosen for both {seen[column]} and {role}."
            seen[column] = role
        return ""

    def _catalogue_problem(self) -> str:
        path = self.catalogue_path()
        if path is None:
            return ""
        if not Path(path).is_file():
            return "No such file."
        if self.catalogue_key.count() == 0:
            return self.catalogue_status.text() or "The catalogue could not be read."
        return ""

    # reacting to changes -----------------------------------------------------------------------
    def _roles_changed(self, *_args) -> None:
        if self._building:
            return
        roles = self.roles()
        text, readable = timestamp_format_text(self.preview.rows, roles.timestamp)
        self.timestamp_format_label.setText(text)
        self.timestamp_format_label.setStyleSheet(MUTED_STYLE if readable else ERROR_STYLE)
        has_events = roles.event is not None
        self.event_types.setEnabled(has_events)
        if has_events:
            values = self.preview.rows[roles.event].dropna().unique()[:4]
            self.event_types.setPlaceholderText("all; or e.g. " + ", ".join(map(str, values)))
        else:
            self.event_types.setPlaceholderText("needs an event column")
        if not self._key_touched and self.catalogue_key.count():
            self._select_key_guess()
        self.roles_hint.setText(self._roles_problem())
        self.roles_hint.setVisible(bool(self.roles_hint.text()))
        self._update_header_roles()
        self._invalidate()

    def _update_header_roles(self) -> None:
        by_column = {column: role for role, column in self.roles().as_dict().items()}
        labels = [f"{c}\n→ {by_column[c]}" if c in by_column else f"{c}\n" for c in self.preview.columns]
        self.preview_table.setHorizontalHeaderLabels(labels)

    def _browse_catalogue(self) -> None:
        start = self.catalogue_path() or self.context.last_folder("catalogue") or str(Path(self.path).parent)
        path, _ = QFileDialog.getOpenFileName(self, "Choose the item catalogue", start, CATALOGUE_FILTER)
        if path:
            self.context.set_last_folder(path, "catalogue")
            self.set_catalogue(path)

    def set_catalogue(self, path: str | None) -> None:
        """Use ``path`` as the catalogue (None or "" for none) and read its columns."""
        self.catalogue_edit.setText(path or "")
        self._refresh_catalogue()

    def _refresh_catalogue(self, *_args) -> None:
        """Read the catalogue's columns (its first rows only: quick enough to do as the path is typed)."""
        from recstudio.data import read_table

        if self._building:
            return
        path = self.catalogue_path()
        self.catalogue_key.blockSignals(True)
        self.catalogue_key.clear()
        self._key_touched = False
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
                    self.catalogue_key.addItems(columns)
                    self._select_key_guess()
                    others = [c for c in columns if c != self.catalogue_key.currentText()]
                    status = "Other columns: " + (", ".join(others[:8]) + (" …" if len(others) > 8 else "")
                                                  if others else "none")
        self.catalogue_key.blockSignals(False)
        self.catalogue_key.setEnabled(self.catalogue_key.count() > 0)
        self.catalogue_edit.setToolTip(path or "")
        self.catalogue_status.setText(status)
        self.catalogue_status.setStyleSheet(ERROR_STYLE if problem else MUTED_STYLE)
        self.catalogue_status.setVisible(bool(status))
        self._invalidate()

    def _select_key_guess(self) -> None:
        columns = [self.catalogue_key.itemText(i) for i in range(self.catalogue_key.count())]
        guess = guess_catalogue_key(columns, self.roles().item)
        if guess is not None or columns:
            self.catalogue_key.setCurrentText(guess if guess is not None else columns[0])

    def _invalidate(self, *_args) -> None:
        """Any change of options makes the last report stale: check again before importing."""
        if self._building:
            return
        if self.check_result is not None:
            self.check_result, self.report, self._request = None, None, None
            self.report_label.setText("<i>The options changed: press Check again to see the report.</i>")
        self.error_label.hide()
        self._update_controls()

    def _show_report_placeholder(self) -> None:
        self.report_label.setText(
            f"<span style='{MUTED_STYLE}'>Press <b>Check</b> to read the whole file with these options and see "
            "what the import keeps and drops, before anything is saved.</span>"
        )

    def _update_controls(self) -> None:
        running = self._phase is not None
        for widget in self.options_widgets:
            widget.setEnabled(not running)
        problem = self._roles_problem() or self._catalogue_problem()
        self.check_button.setEnabled(not running and not problem)
        self.check_button.setToolTip(problem or "Read the whole file with these options and show what the import "
                                                "keeps and drops")
        self.import_button.setEnabled(not running and self.check_result is not None)
        self.import_button.setText("Open" if self.check_result is not None and self.check_result.existing is not None
                                   else "Import")
        self.progress_widget.setVisible(running)
        self.cancel_button.setEnabled(self._phase == "check" and not self._cancelling)
        self.close_button.setEnabled(self._phase != "save")
        (self.import_button if self.check_result is not None else self.check_button).setDefault(True)

    # jobs ---------------------------------------------------------------------------------------
    def check(self) -> bool:
        """Run the import (without saving) in the worker; the report appears when it is done."""
        if self._phase is not None or not self.check_button.isEnabled():
            return False
        runner = self.context.runner
        request = self.request()
        if runner.busy or not runner.start("Import", tasks.import_task, request,
                                           str(self.context.workspace_path)):
            self._say_busy()
            return False
        self._begin("check", "Reading…")
        self._request = request
        return True

    def save(self) -> bool:
        """Save the checked dataset (or reuse the earlier import) and hand its record to the window."""
        if self._phase is not None or self.check_result is None:
            return False
        runner = self.context.runner
        if runner.busy or not runner.start("Save dataset", tasks.save_task, self.check_result, self._request,
                                           str(self.context.workspace_path)):
            self._say_busy()
            return False
        self._begin("save", "Saving the dataset…")
        self.progress.setRange(0, 0)  # saving reports no steps
        return True

    def cancel_check(self) -> None:
        if self._phase == "check":
            self._cancelling = True
            self.context.runner.cancel()
            self.progress_label.setText("Cancelling…")
            self._update_controls()

    def _say_busy(self) -> None:
        name = self.context.runner.job_name or "another job"
        self.status_label.setText(f"A job is running ({name}); wait for it or cancel it.")
        self.status_label.setStyleSheet(ERROR_STYLE)

    def _begin(self, phase: str, text: str) -> None:
        self._phase, self._cancelling = phase, False
        self.status_label.clear()
        self.error_label.hide()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress_label.setText(text)
        self._update_controls()

    def _job_progress(self, batch: Batch) -> None:
        if self._phase != "check" or self._cancelling:
            return
        for event in reversed(batch.events):
            if isinstance(event, Progress):
                self.progress.setValue(int(event.fraction * 1000))
                self.progress_label.setText(event.text)
                break

    def _job_result(self, _name: str, value) -> None:
        phase, self._phase = self._phase, None
        if phase == "check":
            if self._cancelling or value is None:
                self._request = None
                self.status_label.setText("Check cancelled; nothing was saved.")
                self.status_label.setStyleSheet(MUTED_STYLE)
            else:
                self.check_result = value
                self.report = (value.dataset.report if value.existing is None else None)
                self.report_label.setText(report_html(value))
                self.status_label.setText("Looks right? Import saves it in the workspace." if value.existing is None
                                          else "Open goes straight to the dataset.")
                self.status_label.setStyleSheet(MUTED_STYLE)
            self._cancelling = False
            self._update_controls()
        elif phase == "save":
            self._update_controls()
            self.imported.emit(value, self.path)
            self.accept()

    def _job_error(self, _name: str, exc) -> None:
        if self._phase is None:
            return
        self._phase, self._cancelling = None, False
        if isinstance(exc, RecStudioError):
            self.error_label.setText(str(exc))
        else:
            self.error_label.setText(f"Something went wrong ({type(exc).__name__}); see the error message.")
        self.error_label.show()
        self.status_label.clear()
        self._update_controls()

    def _job_finished(self, _name: str) -> None:
        if self._phase is not None:  # a job of ours ended with neither result nor error
            self._phase, self._cancelling = None, False
            self._update_controls()

    # closing --------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._phase is not None

    def reject(self) -> None:
        if self._phase == "save":  # the analyst asked for the import; saving takes a moment, let it land
            return
        super().reject()

    def done(self, code: int) -> None:
        """Closing while a check runs cancels it; whatever it returns later is ignored."""
        if self._phase == "check":
            self.context.runner.cancel()
        self._phase = None
        self.check_result = None  # a parsed dataset can be large; a closed dialog should not hold it
        if getattr(self, "_connected", False):
            runner = self.context.runner
            runner.progress.disconnect(self._job_progress)
            runner.result.disconnect(self._job_result)
            runner.error.disconnect(self._job_error)
            runner.finished.disconnect(self._job_finished)
            self._connected = False
        super().done(code)
