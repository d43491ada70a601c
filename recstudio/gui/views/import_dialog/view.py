"""The import dialog: preview a behaviour log, choose column roles and cleaning, check the report, import."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog, QFileDialog, QFrame, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea,
    QVBoxLayout, QWidget,
)

from recstudio.data import preview as read_preview
from recstudio.errors import RecStudioError
from recstudio.gui import tasks
from recstudio.gui.jobs import Batch, Progress
from recstudio.gui.views.import_dialog.panels import CataloguePanel, CleaningPanel, ColumnsPanel
from recstudio.gui.views.import_dialog.presenter import (
    CATALOGUE_FILTER, ERROR_STYLE, MUTED_STYLE, describe_source, import_request, report_html,
)
from recstudio.gui.views.import_dialog.preview import PreviewTable
from recstudio.gui.windows import centre_on_first_show


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
        self._building = True
        self.setWindowTitle(f"Import {Path(self.path).name}")
        self.resize(1040, 760)
        centre_on_first_show(self)

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

    def _error_label(self) -> QLabel:
        label = QLabel()
        label.setObjectName("errorLabel")
        label.setTextFormat(Qt.TextFormat.PlainText)  # messages quote file and column names
        label.setWordWrap(True)
        label.setStyleSheet(ERROR_STYLE)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _build_failed(self, message: str) -> None:
        self._connected = False
        layout = QVBoxLayout(self)
        layout.addLayout(self._header())
        self.error_label = self._error_label()
        self.error_label.setText(message)
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
        self.error_label = self._error_label()
        self.error_label.hide()
        preview_title = QLabel(f"First {len(preview.rows)} rows")
        preview_title.setStyleSheet("font-weight: bold;")
        self._build_preview_table()

        self.columns_panel = ColumnsPanel(preview, self.path)
        self.columns_panel.roles_changed.connect(self._roles_changed)
        self.columns_panel.name_changed.connect(self._invalidate)
        self.role_combos = self.columns_panel.role_combos
        self.timestamp_format_label = self.columns_panel.timestamp_format_label
        self.roles_hint = self.columns_panel.roles_hint
        self.name_edit = self.columns_panel.name_edit

        self.catalogue_group = CataloguePanel(items_path)
        self.catalogue_group.edit.textChanged.connect(self._refresh_catalogue)
        self.catalogue_group.browse_requested.connect(self._browse_catalogue)
        self.catalogue_group.changed.connect(self._invalidate)
        self.catalogue_edit = self.catalogue_group.edit
        self.catalogue_key = self.catalogue_group.key
        self.catalogue_status = self.catalogue_group.status

        self.cleaning_group = CleaningPanel()
        self.cleaning_group.changed.connect(self._invalidate)
        self.drop_duplicates = self.cleaning_group.drop_duplicates
        self.event_types = self.cleaning_group.event_types
        self.min_user_events = self.cleaning_group.min_user_events
        self.min_item_events = self.cleaning_group.min_item_events

        self._build_report()
        self._build_progress()
        buttons = self._build_buttons()

        right = QVBoxLayout()
        right.addWidget(self.catalogue_group)
        right.addWidget(self.cleaning_group)
        right.addStretch(1)
        options_row = QHBoxLayout()
        options_row.setSpacing(12)
        options_row.addWidget(self.columns_panel, 9)
        options_row.addLayout(right, 11)
        options_row.addWidget(self.report_group, 11)
        self.options_widgets = [self.columns_panel, self.catalogue_group, self.cleaning_group]

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

    def _build_preview_table(self) -> None:
        self.preview_table = PreviewTable(self.preview.rows)  # columns fill the width as the dialog resizes

    def _build_report(self) -> None:
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

    def _build_progress(self) -> None:
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

    def _build_buttons(self) -> QHBoxLayout:
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
        return buttons

    # reading the options ----------------------------------------------------------------------
    def roles(self):
        """The chosen column per role (a :class:`recstudio.data.ColumnRoles`)."""
        return self.columns_panel.roles()

    def catalogue_path(self) -> str | None:
        return self.catalogue_group.path()

    def request(self):
        """The :class:`recstudio.runs.ImportRequest` these options describe (see
        :func:`~recstudio.gui.views.import_dialog.presenter.import_request`)."""
        cleaning = self.cleaning_group
        return import_request(
            self.path, self.roles(), self.preview.roles, catalogue=self.catalogue_path(),
            key=self.catalogue_key.currentText() or None, catalogue_columns=self.catalogue_group.columns(),
            drop_duplicates=cleaning.drop_duplicates.isChecked(), event_types=cleaning.event_types.text(),
            min_user_events=cleaning.min_user_events.value(), min_item_events=cleaning.min_item_events.value(),
            name=self.name_edit.text(),
        )

    # reacting to changes -----------------------------------------------------------------------
    def _roles_changed(self, *_args) -> None:
        if self._building:
            return
        roles = self.roles()
        self.columns_panel.show_reading()
        self.cleaning_group.show_event_column(self.preview.rows, roles.event)
        if not self.catalogue_group.key_touched and self.catalogue_key.count():
            self.catalogue_group.select_guess(roles.item)
        self._update_header_roles()
        self._invalidate()

    def _update_header_roles(self) -> None:
        by_column = {column: role for role, column in self.roles().as_dict().items()}
        labels = [f"{c}\n→ {by_column[c]}" if c in by_column else f"{c}\n" for c in self.preview.columns]
        self.preview_table.setHorizontalHeaderLabels(labels)
        self.preview_table.fit_columns()  # a role's name can widen its header

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
        if self._building:
            return
        self.catalogue_group.refresh(self.roles().item)
        self._invalidate()

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
        problem = self.columns_panel.problem() or self.catalogue_group.problem()
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
