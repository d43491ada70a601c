"""The main window: a page list on the left, the pages, menus, drag-and-drop and a job status bar."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QMessageBox, QProgressBar,
    QPushButton, QStackedWidget, QWidget,
)

from recstudio import __version__
from recstudio.gui.context import AppContext, show_error
from recstudio.gui.jobs import Batch, Progress

DATA_FILTER = "Behaviour logs (*.csv *.tsv *.txt *.gz *.parquet *.pq);;All files (*)"
PAGES = (("start", "Start"), ("data", "Dataset"), ("knowledge", "Knowledge"), ("train", "Training"), ("runs", "Runs"),
         ("inspect", "Inspector"))


class MainWindow(QMainWindow):
    def __init__(self, context: AppContext):
        super().__init__()
        from recstudio.gui.views.dataset import DatasetView
        from recstudio.gui.views.inspector import InspectorView
        from recstudio.gui.views.knowledge import KnowledgeView
        from recstudio.gui.views.runs import RunsView
        from recstudio.gui.views.start import StartPage
        from recstudio.gui.views.training import TrainingView

        self.context = context
        self.setWindowTitle("RecStudio")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(150)
        self.nav.setStyleSheet(
            "QListWidget#navigation { font-size: 11pt; border: none; border-right: 1px solid palette(mid); }"
            "QListWidget#navigation::item { padding: 9px 14px; }"
        )
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {
            "start": StartPage(context),
            "data": DatasetView(context),
            "knowledge": KnowledgeView(context),
            "train": TrainingView(context),
            "runs": RunsView(context),
            "inspect": InspectorView(context),
        }
        for key, label in PAGES:
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.nav.addItem(item)
            self.stack.addWidget(self.pages[key])
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_status_bar()
        self._build_menus()
        start = self.pages["start"]
        start.open_file_requested.connect(self.open_file)
        start.open_sample_requested.connect(self.open_sample)
        start.browse_requested.connect(self.browse_for_file)
        context.navigate.connect(self.show_page)
        self.pages["train"].preferences_requested.connect(self.show_preferences)
        context.run_selected.connect(lambda _run: self.show_page("inspect"))
        context.runner.started.connect(self._job_started)
        context.runner.progress.connect(self._job_progress)
        context.runner.finished.connect(self._job_finished)
        context.runner.error.connect(lambda name, exc: show_error(self, f"{name} failed", exc))
        self.show_page("start")
        self._restore_geometry()

    # navigation ----------------------------------------------------------------------------
    def show_page(self, key: str) -> None:
        index = [k for k, _ in PAGES].index(key)
        self.nav.setCurrentRow(index)

    def current_page(self) -> str:
        return PAGES[self.stack.currentIndex()][0]

    # opening data --------------------------------------------------------------------------
    def browse_for_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a behaviour log", self.context.last_folder(), DATA_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str, items_path: str | None = None):
        """Show the import dialog for ``path``; a confirmed import becomes the current dataset."""
        from recstudio.data import readable_file
        from recstudio.errors import RecStudioError
        from recstudio.gui.views.import_dialog import ImportDialog

        try:
            readable_file(path)  # the importer's own words for a folder, a pipe, a device, a locked file...
        except RecStudioError as exc:
            show_error(self, "Open", exc)
            return None
        self.context.set_last_folder(path)
        dialog = ImportDialog(self.context, path, items_path=items_path, parent=self)
        dialog.imported.connect(self._dataset_imported)
        dialog.open()
        return dialog

    def open_sample(self):
        from recstudio.data import sample_paths

        interactions, catalogue = sample_paths()
        return self.open_file(str(interactions), str(catalogue))

    def _dataset_imported(self, record, path: str) -> None:
        self.context.add_recent_file(path)
        self.context.set_dataset(record)
        self.show_page("data")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            # let the drop finish before a modal dialog opens
            QTimer.singleShot(0, lambda: self.open_file(files[0], files[1] if len(files) > 1 else None))

    # menus and status ---------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open behaviour log…", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.browse_for_file)
        sample_action = QAction("Open the bundled &sample", self)
        sample_action.triggered.connect(self.open_sample)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addActions([open_action, sample_action])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        preferences = QAction("&Preferences…", self, shortcut=QKeySequence.StandardKey.Preferences)
        preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
        preferences.triggered.connect(self.show_preferences)
        edit_menu.addAction(preferences)
        view_menu = self.menuBar().addMenu("&View")
        for n, (key, label) in enumerate(PAGES, 1):
            action = QAction(label, self, shortcut=QKeySequence(f"Ctrl+{n}"))
            action.triggered.connect(lambda _=False, k=key: self.show_page(k))
            view_menu.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About RecStudio", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def show_preferences(self):
        from recstudio.gui.views.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.context, self)
        dialog.open()
        return dialog

    def show_about(self) -> QMessageBox:
        from recstudio.data import sample_paths

        attribution = ""
        path = sample_paths()[0].parent / "ATTRIBUTION.md"
        if path.exists():
            attribution = path.read_text(encoding="utf-8")
        box = QMessageBox(self)
        box.setObjectName("aboutBox")
        box.setWindowTitle("About RecStudio")
        box.setTextFormat(Qt.TextFormat.MarkdownText)
        box.setText(
            f"**RecStudio {__version__}**\n\nA workbench for sequential recommenders that learn from behaviour "
            f"and from what language models know about items.\n\nWorkspace: `{self.context.workspace_path}`\n\n"
            f"---\n\n**Bundled sample data**\n\n{attribution}"
        )
        box.open()
        return box

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.job_label = QLabel("Ready")
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(220)
        self.job_progress.setRange(0, 1000)
        self.job_progress.setTextVisible(False)
        self.job_progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("statusCancel")
        self.cancel_button.clicked.connect(self.context.runner.cancel)
        self.cancel_button.hide()
        bar.addWidget(self.job_label, 1)
        bar.addPermanentWidget(self.job_progress)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(QLabel(f"Workspace: {self.context.workspace_path.name}"))

    def _job_started(self, name: str) -> None:
        self.job_label.setText(f"{name}…")
        self.job_progress.setRange(0, 1000)
        self.job_progress.setValue(0)
        self.job_progress.show()
        self.cancel_button.show()

    def _job_progress(self, batch: Batch) -> None:
        from recstudio.training import Stage, Step

        for event in reversed(batch.events):
            if isinstance(event, (Progress, Stage)):
                self.job_progress.setValue(int(event.fraction * 1000))
                if event.text:
                    self.job_label.setText(f"{self.context.runner.job_name}: {event.text}")
                break
            if isinstance(event, Step):
                # a share of the planned maximum would sit near zero for a run that early stopping ends
                # soon; the training page says how far it is expected to be
                self.job_progress.setRange(0, 0)
                self.job_label.setText(f"{self.context.runner.job_name}: epoch {event.epoch}, step {event.step}")
                break

    def _job_finished(self, name: str) -> None:
        self.job_label.setText(f"{name}: done")
        self.job_progress.hide()
        self.cancel_button.hide()

    # closing --------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        runner = self.context.runner
        if runner.busy:
            answer = QMessageBox.question(
                self, "Quit RecStudio",
                f"{runner.job_name} is still running. Stop it and quit? A training run keeps its best checkpoint "
                "and is recorded as cancelled.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.job_label.setText("Stopping…")
            runner.stop_and_wait()
        self.context.settings.setValue("window/geometry", self.saveGeometry())
        for page in self.pages.values():
            if hasattr(page, "shutdown"):  # a page's own background work (the inspector's explanations)
                page.shutdown()
            if hasattr(page, "save_settings"):
                page.save_settings()
        self.context.close()
        event.accept()

    def _restore_geometry(self) -> None:
        geometry = self.context.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
