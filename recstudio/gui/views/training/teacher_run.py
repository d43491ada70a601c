"""The training form's "Learn from a teacher…" choice: a finished run on this dataset whose scores a new sasrec or
sasrec-lm run also learns from (distillation, ``TrainRequest.teacher``), with the teacher's temperature and the
weight of its soft targets. The student trains on its teacher's split, so picking a teacher sets the Split
choice to it and locks it (a teacher trained on another split could pass the student's test events on)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from recstudio.gui.context import AppContext
from recstudio.gui.views.training.presenter import teacher_choices
from recstudio.gui.views.training.settings_form import double_spin_box
from recstudio.gui.views.training.source_run import fill_run_choices, select_run_in
from recstudio.training.distill_settings import DEFAULT_ALPHA, DEFAULT_TEMPERATURE

NONE_TEXT = "none (learn from the data alone)"
SPLIT_TIP = "Run {run}, the teacher, was trained on this split; its student trains on the same one."
BLOCKED_TIP = "A run started from another run trains without a teacher; pick one or the other."


class TeacherRunPicker(QWidget):
    """A combo of the finished runs on the open dataset ("none" first, the default), and the temperature and
    alpha of the distillation, shown for a model that can learn as a student (sasrec, sasrec-lm)."""

    def __init__(self, context: AppContext, source_picker=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self._model = ""
        self._split = None  # the form's Split combo
        self._split_tip = ""
        self._blocked = False  # a run to start from is picked: the two are not combined
        self.combo = QComboBox()
        self.combo.setObjectName("teacherRun")
        self._tip = ("Also learn from a finished run on this dataset: at every position the student's loss adds the "
                     "teacher's softened scores to the true next item, (1 − α)·CE + α·T²·KL. A slow teacher "
                     "(lm-seq) is read once, before the first epoch.")
        self.combo.setToolTip(self._tip)
        self.temperature = double_spin_box("teacherTemperature", 0.1, 100.0, DEFAULT_TEMPERATURE,
                                           "Softens the teacher's scores (T): above 1, its second and third choices "
                                           "teach as well as its first. Usually 1–5.", decimals=1, step=0.5)
        self.alpha = double_spin_box("teacherAlpha", 0.0, 1.0, DEFAULT_ALPHA,
                                     "Weight of the teacher's soft targets (α); the true next item has the rest. "
                                     "0 trains as without a teacher.", decimals=2, step=0.1)
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for text, widget in (("Learn from a teacher…", self.combo), ("Teacher temperature", self.temperature),
                             ("Teacher weight (α)", self.alpha)):
            label = QLabel(text)
            label.setToolTip(widget.toolTip())
            label.setBuddy(widget)
            layout.addRow(label, widget)
        self.combo.currentIndexChanged.connect(lambda _i: self._apply())
        context.runs_changed.connect(self.refresh)
        context.dataset_changed.connect(lambda _record: self.refresh())
        if source_picker is not None:  # "Start from a run…": a transferred run learns without a teacher
            source_picker.combo.currentIndexChanged.connect(lambda _i: self.block(source_picker.run_id() is not None))
        self.setVisible(False)

    def follow(self, model: str, split_combo: QComboBox) -> None:
        """The model the page now shows, and the form's Split choice (set to the teacher's and locked)."""
        if self._split is None:
            self._split_tip = split_combo.toolTip()
        self._model, self._split = model, split_combo
        self.refresh()

    def block(self, blocked: bool) -> None:
        """A run to start from is picked (or no longer): a transferred run learns without a teacher."""
        self._blocked = blocked
        if blocked and self.combo.currentData() is not None:
            self.combo.setCurrentIndex(0)
        self._apply()

    def refresh(self) -> None:
        """List the runs again (a run finished, another dataset or model was picked), keeping the one picked."""
        record = self.context.dataset
        offered = self._offered() and record is not None
        fill_run_choices(self.combo, NONE_TEXT, teacher_choices(self.context.workspace, record.id) if offered else [])
        self.setVisible(self._offered())
        self._apply()

    def select_run(self, run_id: int | None) -> bool:
        return select_run_in(self.combo, run_id)

    def run_id(self) -> int | None:
        """The teacher run picked (None: none, or a model that cannot learn from one)."""
        return self.combo.currentData() if self._offered() and not self._blocked else None

    def request_fields(self) -> dict[str, Any]:
        """What a :class:`recstudio.runs.TrainRequest` takes from this choice: the teacher, its temperature and
        alpha, and its split and split options (the student's must match); nothing without a teacher."""
        run_id = self.run_id()
        if run_id is None:
            return {}
        from recstudio.runs import RunConfig

        run = self.context.workspace.run(run_id)
        return {"teacher": run_id, "split": run.split, "split_options": RunConfig.of(run).split_options,
                "distill": {"temperature": self.temperature.value(), "alpha": self.alpha.value()}}

    def _offered(self) -> bool:
        from recstudio.models import model_spec

        return bool(self._model) and model_spec(self._model).distillable

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.EnabledChange:  # the page locks the form while it trains
            self._apply()

    def _apply(self) -> None:
        self.combo.setEnabled(not self._blocked)
        self.combo.setToolTip(BLOCKED_TIP if self._blocked else self._tip)
        run_id = self.run_id()
        for widget in (self.temperature, self.alpha):
            widget.setEnabled(run_id is not None)
        if self._split is None:
            return
        if run_id is not None:
            split = self.context.workspace.run(run_id).split
            self._split.setCurrentIndex(max(0, self._split.findData(split)))
            self._split.setToolTip(SPLIT_TIP.format(run=run_id))
        else:
            self._split.setToolTip(self._split_tip)
        self._split.setEnabled(self.isEnabled() and run_id is None)
