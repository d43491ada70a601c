"""The start page: open a behaviour log or the bundled sample, or go back to a recent dataset or file."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QFrame, QHBoxLayout, QHeaderView, QLabel, QListWidget, QListWidgetItem, QPushButton,
    QSizePolicy, QStackedWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

SAMPLE_BUTTON_TEXT = "Open the sample (online gift shop, 1,497 customers)"


def imported_on(created_at: str) -> str:
    """An ISO-8601 UTC time as a short local date and time, e.g. "12 Mar 2025, 14:03"."""
    try:
        moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return str(created_at or "")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%d %b %Y, %H:%M")


def recent_datasets(workspace) -> list:
    """The workspace's datasets, newest first."""
    return sorted(workspace.list_datasets(), key=lambda record: record.id, reverse=True)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.15)
    font.setBold(True)
    label.setFont(font)
    return label


class StartPage(QWidget):
    """What the analyst sees first: two big ways in, and the way back to recent work."""

    open_file_requested = Signal(str)
    open_sample_requested = Signal()
    browse_requested = Signal()

    def __init__(self, context, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("startPage")
        self.context = context

        title = QLabel("Welcome to RecStudio")
        title.setObjectName("startTitle")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setWeight(QFont.Weight.DemiBold)
        title.setFont(font)
        subtitle = QLabel("Turn a behaviour log (who did what, when) into sequential recommenders you can train, "
                          "compare and inspect.")
        subtitle.setWordWrap(True)
        subtitle.setObjectName("startSubtitle")
        subtitle.setStyleSheet("color: palette(placeholder-text);")

        self.open_button = QPushButton("Open a behaviour log…")
        self.open_button.setObjectName("openFileButton")
        self.open_button.setToolTip("A CSV, TSV or Parquet file with a user, an item and (ideally) a time column")
        self.open_button.clicked.connect(self.browse_requested)
        self.sample_button = QPushButton(SAMPLE_BUTTON_TEXT)
        self.sample_button.setObjectName("openSampleButton")
        self.sample_button.setToolTip("79,100 purchases of 2,631 products, Dec 2010 – Dec 2011 "
                                      "(a cut of UCI Online Retail, CC BY 4.0)")
        self.sample_button.clicked.connect(self.open_sample_requested)
        for button in (self.open_button, self.sample_button):
            button.setMinimumHeight(56)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            big = button.font()
            big.setPointSizeF(big.pointSizeF() * 1.15)
            button.setFont(big)
        self.open_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.setSpacing(16)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.sample_button)

        hint = QLabel("…or drop a file anywhere on this window (drop the catalogue with it to join titles and "
                      "categories).")
        hint.setObjectName("dropHint")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")

        # recent datasets: double-click or Enter opens one
        self.datasets = QTreeWidget()
        self.datasets.setObjectName("recentDatasets")
        self.datasets.setHeaderLabels(["Dataset", "Users", "Items", "Events", "Imported"])
        self.datasets.setRootIsDecorated(False)
        self.datasets.setUniformRowHeights(True)
        self.datasets.setAlternatingRowColors(True)
        self.datasets.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.datasets.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.datasets.setStyleSheet("QTreeWidget::item { padding: 4px 10px 4px 4px; }")
        self.datasets.itemActivated.connect(self._open_dataset)
        self.datasets_empty = QLabel("No datasets yet: open a behaviour log or the sample to begin.")
        self.datasets_empty.setObjectName("recentDatasetsEmpty")
        self.datasets_empty.setStyleSheet("color: palette(placeholder-text);")

        # recent files: one click opens the import dialog again
        self.files = QListWidget()
        self.files.setObjectName("recentFiles")
        self.files.setUniformItemSizes(True)
        self.files.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.files.setStyleSheet("QListWidget::item { padding: 4px; }")
        self.files.itemClicked.connect(self._open_file)
        enter = QShortcut(QKeySequence(Qt.Key.Key_Return), self.files, context=Qt.ShortcutContext.WidgetShortcut)
        enter.activated.connect(lambda: self._open_file(self.files.currentItem()))
        self.files_empty = QLabel("Files you open are listed here.")
        self.files_empty.setObjectName("recentFilesEmpty")
        self.files_empty.setStyleSheet("color: palette(placeholder-text);")

        self.datasets_hint = QLabel("Double-click one (or press Enter) to explore it and train on it.")
        self.files_hint = QLabel("Click one to import it again, with other options.")
        self.datasets_stack = QStackedWidget()
        self.files_stack = QStackedWidget()
        for stack, widget, empty in ((self.datasets_stack, self.datasets, self.datasets_empty),
                                     (self.files_stack, self.files, self.files_empty)):
            empty.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            empty.setWordWrap(True)
            stack.addWidget(widget)
            stack.addWidget(empty)
        datasets_box = QVBoxLayout()
        files_box = QVBoxLayout()
        for box, heading, how, stack in ((datasets_box, "Recent datasets", self.datasets_hint, self.datasets_stack),
                                         (files_box, "Recent files", self.files_hint, self.files_stack)):
            how.setStyleSheet("color: palette(placeholder-text);")
            box.setSpacing(6)
            box.addWidget(_heading(heading))
            box.addWidget(how)
            box.addWidget(stack, 1)
        recent = QHBoxLayout()
        recent.setSpacing(24)
        recent.addLayout(datasets_box, 3)
        recent.addLayout(files_box, 2)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        column = QVBoxLayout()
        column.setSpacing(12)
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(16)
        column.addLayout(buttons)
        column.addWidget(hint)
        column.addSpacing(12)
        column.addWidget(line)
        column.addSpacing(4)
        column.addLayout(recent, 1)
        holder = QWidget()
        holder.setLayout(column)
        holder.setMaximumWidth(1000)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(32, 32, 32, 24)
        outer.addStretch(1)
        outer.addWidget(holder, 100)
        outer.addStretch(1)

        context.dataset_changed.connect(lambda _record: self.refresh())
        context.datasets_changed.connect(self.refresh)  # imported or deleted by another process
        self.refresh()

    # ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the recent datasets from the workspace and the recent files from the settings."""
        current = self.context.dataset.id if self.context.dataset is not None else None
        self.datasets.clear()
        for record in recent_datasets(self.context.workspace):
            item = QTreeWidgetItem([
                record.name, f"{record.n_users:,}", f"{record.n_items:,}", f"{record.n_events:,}",
                imported_on(record.created_at),
            ])
            item.setData(0, Qt.ItemDataRole.UserRole, record)
            item.setToolTip(0, f"{record.source}" + (f"\nCatalogue: {record.items_source}" if record.items_source
                                                     else ""))
            for column in (1, 2, 3):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if record.id == current:
                bold = item.font(0)
                bold.setBold(True)
                item.setFont(0, bold)
                item.setToolTip(0, "The dataset you are working on\n" + item.toolTip(0))
            self.datasets.addTopLevelItem(item)
        has_datasets = self.datasets.topLevelItemCount() > 0
        self.datasets_stack.setCurrentIndex(0 if has_datasets else 1)
        self.datasets_hint.setVisible(has_datasets)
        if has_datasets:
            rows = [self.datasets.topLevelItem(i) for i in range(self.datasets.topLevelItemCount())]
            current_row = next((item for item in rows if item.data(0, Qt.ItemDataRole.UserRole).id == current),
                               rows[0])
            self.datasets.setCurrentItem(current_row)

        self.files.clear()
        for path in self.context.recent_files():
            item = QListWidgetItem(f"{Path(path).name}\n{Path(path).parent}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            if not Path(path).is_file():
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip(f"{path}\n(the file is no longer there)")
            self.files.addItem(item)
        has_files = self.files.count() > 0
        self.files_stack.setCurrentIndex(0 if has_files else 1)
        self.files_hint.setVisible(has_files)

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        super().showEvent(event)

    def _open_dataset(self, item: QTreeWidgetItem | None) -> None:
        if item is None:
            return
        record = item.data(0, Qt.ItemDataRole.UserRole)
        self.context.set_dataset(record)
        self.context.navigate.emit("data")

    def _open_file(self, item: QListWidgetItem | None) -> None:
        if item is None or not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            return
        self.open_file_requested.emit(item.data(Qt.ItemDataRole.UserRole))
