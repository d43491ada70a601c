"""The device picker: where a run trains. Detection (torch, CUDA initialisation) runs through a job
runner of its own, so it never blocks the window and is never refused because a training run holds the
window's runner."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import QComboBox

from recstudio.gui.jobs import JobRunner
from recstudio.gui.views.training.presenter import cpu_label, fallback_devices

DETECT_JOB = "Detect devices"


class DeviceChoice(QObject):
    """The combo box (``combo``) and its detection; the choice made before detection ends is kept."""

    def __init__(self, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.combo = QComboBox()
        self.combo.setObjectName("devicePicker")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.addItem("auto — detecting devices…", "auto")
        self.combo.addItem(cpu_label(), "cpu")
        self.combo.setToolTip("Where the model trains; auto picks a GPU when there is one.")
        self.runner = JobRunner(self)
        self.runner.result.connect(lambda _name, entries: self.show_devices(entries))
        self.runner.error.connect(lambda _name, exc: self._detection_failed(exc))
        self.detected = False

    def detect(self) -> bool:
        """Fill the picker off the GUI thread (once): detection imports torch and initialises CUDA, a
        second or more on a GPU machine, usually already done by the launch warm-up."""
        if self.detected:
            return False
        from recstudio.devices import available_devices

        self.detected = self.runner.start(DETECT_JOB, available_devices, cancellable=False)
        return self.detected

    def current(self) -> str:
        return self.combo.currentData() or "auto"

    def show_devices(self, entries: list[tuple[str, str]]) -> None:
        wanted = self.combo.currentData() or self.settings.value("training/device", "auto")
        self.combo.clear()
        for device, label in entries:
            self.combo.addItem(label, device)
            self.combo.setItemData(self.combo.count() - 1, label, Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(max(0, self.combo.findData(wanted)))

    def _detection_failed(self, exc: Exception) -> None:
        # a broken CUDA install must not break the page; a training run on it says more
        self.combo.setToolTip(f"Device detection failed: {exc}")
        self.show_devices(fallback_devices())

    def shutdown(self) -> None:
        """Wait for a detection still under way (the window is closing)."""
        self.runner.stop_and_wait()
