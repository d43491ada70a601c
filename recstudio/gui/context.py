"""State the views share: the workspace, the chosen dataset and run, the job runner and settings."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from recstudio.errors import RecStudioError
from recstudio.gui.jobs import JobRunner

RECENT_LIMIT = 8
WATCH_INTERVAL_MS = 1000  # how often the window looks for other writers' changes
INTERRUPT_CHECK_POLLS = 10  # and, every this many looks, for runs whose process has died
TRAINING_PRIORITY = "training/priority"  # QSettings key: "smooth" (below the window) or "full"


class AppContext(QObject):
    """One per window. Views read through it and announce changes with its signals.

    The GUI thread has its own workspace connection (``workspace``); jobs get only
    ``workspace_path`` and open their own.
    """

    dataset_changed = Signal(object)  # DatasetRecord | None
    runs_changed = Signal()  # a run was added, finished or deleted
    run_selected = Signal(int)  # open this run in the inspector
    navigate = Signal(str)  # ask the window to show a page by name
    resume_requested = Signal(int)  # continue this stopped run (the training page starts it)
    preferences_changed = Signal()
    datasets_changed = Signal()  # a dataset was added or deleted (here or by another process)
    run_curves_grew = Signal(object)  # ids of running runs whose curves have new points

    def __init__(self, workspace_path: str | Path | None = None, settings: QSettings | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        from recstudio.workspace import Workspace, default_workspace_path

        self.workspace_path = default_workspace_path(workspace_path)
        self.workspace = Workspace(self.workspace_path)
        self.settings = settings or QSettings()
        self.runner = JobRunner(self)
        self.dataset = None  # DatasetRecord of the dataset being worked on
        self._loaded: tuple[int, Any] | None = None
        # Other writers (the CLI, torchrun, `runs import`, this window's own jobs) commit through their
        # own connections; SQLite's data_version tells this one, and a signature says what changed.
        self._seen_version = self.workspace.change_counter()
        self._signature = self.workspace.change_signature()
        self._polls = 0
        self.watcher = QTimer(self)
        self.watcher.setInterval(WATCH_INTERVAL_MS)
        self.watcher.timeout.connect(self.check_workspace)
        self.watcher.start()

    def set_dataset(self, record) -> None:
        self.dataset = record
        if record is not None:
            self.settings.setValue("last_dataset", record.id)
        self.dataset_changed.emit(record)

    def load_dataset(self, dataset_id: int | None = None):
        """The coded Dataset (cached: views share one copy in memory)."""
        dataset_id = dataset_id if dataset_id is not None else (self.dataset.id if self.dataset else None)
        if dataset_id is None:
            return None
        if self._loaded is None or self._loaded[0] != dataset_id:
            self._loaded = (dataset_id, self.workspace.load_dataset(dataset_id))
        return self._loaded[1]

    # other writers --------------------------------------------------------------------------
    def check_workspace(self) -> bool:
        """Tell the views what another process (or a job) changed since the last look: True when
        something did. Every ``INTERRUPT_CHECK_POLLS`` polls, runs whose process died are marked."""
        self._polls += 1
        if self._signature.runs and self._polls % INTERRUPT_CHECK_POLLS == 0 and any(
                status == "running" for _id, status, _f in self._signature.runs):
            self.workspace.mark_interrupted()  # a killed CLI run commits nothing itself
            self._seen_version = None  # this connection's own commit leaves data_version alone
        version = self.workspace.change_counter()
        if version == self._seen_version:
            return False
        self._seen_version = version
        before, after = self._signature, self.workspace.change_signature()
        self._signature = after
        if after.datasets != before.datasets:
            if self.dataset is not None and self.dataset.id not in after.datasets:
                self.set_dataset(None)  # deleted elsewhere
            self.datasets_changed.emit()
        if after.runs != before.runs:
            self.runs_changed.emit()
        grown = {run_id for run_id, last in after.curves if (run_id, last) not in set(before.curves)}
        if grown:
            self.run_curves_grew.emit(grown)
        return after != before

    # recent files -------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a bare string for a one-item list on some backends
            value = [value]
        return [v for v in value or [] if v]

    def add_recent_file(self, path: str) -> None:
        path = str(Path(path).resolve())
        files = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent_files", files[:RECENT_LIMIT])

    def last_folder(self, key: str = "open") -> str:
        return str(self.settings.value(f"last_folder/{key}", str(Path.home())))

    def set_last_folder(self, path: str, key: str = "open") -> None:
        self.settings.setValue(f"last_folder/{key}", str(Path(path).parent if Path(path).is_file() else path))

    # preferences ----------------------------------------------------------------------------
    @property
    def train_at_full_speed(self) -> bool:
        """Training jobs run at the window's priority (True) or below it, keeping the window smooth
        while they use every core (False, the default)."""
        return str(self.settings.value(TRAINING_PRIORITY, "smooth")) == "full"

    def set_train_at_full_speed(self, full: bool) -> None:
        if full != self.train_at_full_speed:
            self.settings.setValue(TRAINING_PRIORITY, "full" if full else "smooth")
            self.preferences_changed.emit()

    def close(self) -> None:
        self.watcher.stop()
        self.workspace.close()


def show_error(parent: QWidget | None, title: str, exc: BaseException) -> QMessageBox:
    """A user error shows its message; a bug shows its traceback under "Show Details"."""
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    if isinstance(exc, RecStudioError):
        box.setIcon(QMessageBox.Icon.Warning)
        box.setText(str(exc))
    else:
        box.setIcon(QMessageBox.Icon.Critical)
        box.setText(f"Something went wrong: {type(exc).__name__}: {exc}\n\nThis is a bug in RecStudio; "
                    "the details below help to report it.")
        box.setDetailedText("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    box.setTextFormat(Qt.TextFormat.PlainText)  # a message quoting the data (a column name, an id) shows as typed
    box.setObjectName("errorDialog")
    box.open()
    return box
