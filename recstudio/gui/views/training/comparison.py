"""The training page's "Compare with earlier runs" list: tick a stored run of the dataset to draw its
curves beside the run being trained, in the colour its list entry shows."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from recstudio.gui.plots import colour_icon, run_colour
from recstudio.gui.views.training.presenter import comparison_entry
from recstudio.gui.views.training.progress import LiveProgress


class RunComparison(QGroupBox):
    """The list (``runs``) and the stored runs drawn on ``live``'s plots."""

    def __init__(self, workspace, live: LiveProgress, parent: QWidget | None = None):
        super().__init__("Compare with earlier runs", parent)
        self.workspace = workspace
        self.live = live
        self.drawn: set[int] = set()
        layout = QVBoxLayout(self)
        self.runs = QListWidget()
        self.runs.setObjectName("overlayRuns")
        self.runs.setToolTip("Tick runs of this dataset to draw their curves beside the current one.")
        self.runs.setMinimumHeight(90)
        self.runs.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.runs.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.runs.itemChanged.connect(self._toggled)
        layout.addWidget(self.runs)

    def refresh(self, dataset_id: int | None, live_run_id: int | None) -> None:
        """List the dataset's finished runs, newest first, but the one being trained; a ticked run that
        was deleted meanwhile leaves the plots."""
        self.runs.blockSignals(True)
        self.runs.clear()
        stored = self.workspace.list_runs(dataset_id) if dataset_id is not None else []
        shown = set()
        for run in reversed(stored):
            if run.status == "running" or run.id == live_run_id:
                continue
            text, tooltip = comparison_entry(run)
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if run.id in self.drawn else Qt.CheckState.Unchecked)
            item.setIcon(colour_icon(run_colour(run.id)))  # the colour its curves are drawn in
            item.setToolTip(tooltip)
            self.runs.addItem(item)
            shown.add(run.id)
        if not shown:
            placeholder = QListWidgetItem("No finished runs of this dataset yet.")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.runs.addItem(placeholder)
        self.runs.blockSignals(False)
        for run_id in self.drawn - shown:
            self.remove(run_id)

    def add(self, run_id: int) -> None:
        """Draw a stored run's curves beside the live one."""
        if run_id in self.drawn:
            return
        self.live.show_stored(self.workspace.run(run_id), self.workspace.curve(run_id))
        self.drawn.add(run_id)

    def remove(self, run_id: int) -> None:
        self.drawn.discard(run_id)
        self.live.remove_stored(run_id)

    def clear(self) -> None:
        for run_id in list(self.drawn):
            self.remove(run_id)

    def _toggled(self, item: QListWidgetItem) -> None:
        run_id = item.data(Qt.ItemDataRole.UserRole)
        if run_id is None:
            return
        if item.checkState() == Qt.CheckState.Checked:
            self.add(int(run_id))
        else:
            self.remove(int(run_id))
