"""The training form's "Start from a run…" choice: a finished run whose knowledge a new run starts from
(``TrainRequest.init_from``), shown for a model that can start from one (sasrec-lm)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSpinBox, QWidget

from recstudio.gui.context import AppContext
from recstudio.gui.views.training.presenter import source_runs, source_settings
from recstudio.models import fresh_only_settings

NONE_TEXT = "none (train from scratch)"
LOCKED_TIP = "Comes from run {run}, which this run starts from: its weights have this shape, or read text made so."
UNUSED_TIP = ("No effect when starting from run {run}: the run starts from its weights, and its id vectors start "
              "at zero.")
ZERO_SHOT_TEXT = "0 · zero-shot test"


class SourceRunPicker(QWidget):
    """A combo of the workspace's finished runs of the chosen model ("none" first, the default). Picking one
    shows the settings the new run takes from it, locked, in the model form, and lets Max epochs be 0
    (a zero-shot test: the run's knowledge evaluated on this dataset with no training)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self._model = ""
        self._form = None
        self._epochs: QSpinBox | None = None
        self.combo = QComboBox()
        self.combo.setObjectName("startFromRun")
        self.combo.setToolTip("Start from a finished run, on any dataset of the workspace: its transformer, text "
                              "adaptor and fusion weights carry over, its encoder and template read this dataset's "
                              "items, id vectors start at zero. Max epochs 0 tests it as it is (zero-shot).")
        label = QLabel("Start from a run…")
        label.setToolTip(self.combo.toolTip())
        label.setBuddy(self.combo)
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addRow(label, self.combo)
        self.combo.currentIndexChanged.connect(lambda _i: self._apply())
        context.runs_changed.connect(self.refresh)
        self.setVisible(False)

    def follow(self, model: str, form, epochs_spin: QSpinBox) -> None:
        """The model (and its new settings form) the page now shows; Max epochs is ``epochs_spin``."""
        self._model, self._form, self._epochs = model, form, epochs_spin
        self.refresh()

    def refresh(self) -> None:
        """List the runs again (a run finished, or another model was picked), keeping the one picked."""
        fill_run_choices(self.combo, NONE_TEXT, source_runs(self.context.workspace, self._model) if self._model else [])
        self.setVisible(self._offered())
        self._apply()

    def select_run(self, run_id: int | None) -> bool:
        return select_run_in(self.combo, run_id)

    def run_id(self) -> int | None:
        """The run picked to start from (None: none, or a model that cannot start from a run)."""
        return self.combo.currentData() if self._offered() else None

    def _offered(self) -> bool:
        from recstudio.models import model_spec

        return bool(self._model) and bool(model_spec(self._model).transfer_settings)

    def _apply(self) -> None:
        run_id = self.run_id()
        if self._form is not None:
            values = source_settings(self.context.workspace, run_id, self._model) if run_id is not None else None
            unused = ({name: UNUSED_TIP.format(run=run_id) for name in fresh_only_settings(self._model)}
                      if run_id is not None else None)
            self._form.fix_settings(values, LOCKED_TIP.format(run=run_id), unused)
        if self._epochs is not None:
            zero_shot = run_id is not None
            self._epochs.setSpecialValueText(ZERO_SHOT_TEXT if zero_shot else "")
            self._epochs.setMinimum(0 if zero_shot else 1)


def fill_run_choices(combo: QComboBox, none_text: str, choices: list[tuple[int, str, str]]) -> None:
    """Fill a run picker: ``none_text`` (data None) first, then each ``(run id, text, tooltip)``, keeping the run
    picked when it is still offered (else "none"); no change signal while it is filled."""
    keep = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(none_text, None)
    for run_id, text, tip in choices:
        combo.addItem(text, run_id)
        combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
    combo.setCurrentIndex(max(0, combo.findData(keep)) if keep is not None else 0)
    combo.blockSignals(False)


def select_run_in(combo: QComboBox, run_id: int | None) -> bool:
    """Pick ``run_id`` (None: "none") in a run picker; False when it is not offered."""
    index = combo.findData(run_id)
    if index < 0:
        return False
    combo.setCurrentIndex(index)
    return True
