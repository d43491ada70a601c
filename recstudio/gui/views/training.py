"""The training page: pick a model and its settings, start and stop a run, watch its curves live."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView,
    QLabel, QLineEdit, QListWidget, QListWidgetItem, QPlainTextEdit, QProgressBar, QPushButton, QScrollArea,
    QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from recstudio.gui import tasks
from recstudio.gui.context import AppContext
from recstudio.gui.plots import (
    DEFAULT_SMOOTHING, LIVE_COLOUR, SMOOTHING_SETTING, X_STEP, LiveCurves, ValidationPlot, colour_icon,
    curve_arrays, format_duration, run_colour,
)

JOB_NAME = "Training"
CLUSTER_JOB_NAME = "cluster job"
_DEVICE_WORKERS: set = set()  # device detections under way
LIVE = "live"  # key of the run being trained in the plots
SPLITS = (
    ("Leave one out", "leave-one-out",
     "Each user's last event is the test question, the one before it the validation question."),
    ("Temporal", "temporal",
     "A global time cut: the latest 10% of events test, the 10% before them validate."),
)
VALIDATION_METRICS = ("NDCG@10", "HR@10", "MRR@10")
#: Labels for settings whose field names read poorly; others are the name in sentence case.
SETTING_LABELS = {"hidden": "Hidden size", "max_len": "History length", "heads": "Attention heads",
                  "layers": "Layers", "neighbours": "Neighbours", "finetune": "Fine-tune", "last_n": "Layers trained",
                  "lora_r": "LoRA rank", "lora_alpha": "LoRA alpha", "backbone_lr": "LM learning rate ×",
                  "id_embeddings": "Id embeddings", "max_tokens": "Tokens per history",
                  "item_tokens": "Tokens per item", "id_dropout": "Id dropout"}


# -- plain helpers (no widgets) --------------------------------------------------------------------

def setting_label(name: str) -> str:
    return SETTING_LABELS.get(name, name.replace("_", " ").capitalize())


def planned_work(started, max_steps: int | None) -> tuple[int, int]:
    """(epochs, steps) the run will do at most, from its Started event and the step limit."""
    steps = started.epochs * started.steps_per_epoch
    if max_steps:
        steps = min(steps, max_steps)
    epochs = min(started.epochs, math.ceil(steps / max(1, started.steps_per_epoch)))
    return max(1, epochs), max(1, steps)


def metrics_text(metrics: dict[str, Any], names=VALIDATION_METRICS) -> str:
    return " · ".join(f"{n} {metrics[n]:.4f}" for n in names if metrics.get(n) is not None)


# -- the model's settings form --------------------------------------------------------------------

class ModelSettingsForm(QWidget):
    """A form generated from a model's config dataclass: int → spin box, float → decimal spin box,
    bool → check box, a field with ``choices`` → combo box, ``kind="encoder"`` → a path or hub id with
    Browse…, ``kind="template"`` → the item-text template with a live preview of three items' text;
    defaults filled, ranges and tooltips from the fields' metadata."""

    def __init__(self, config_class: type, parent: QWidget | None = None, *, preview_items=None):
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        self.preview_items = preview_items  # a few catalogue rows (DataFrame) for the template preview
        self.template_preview: QLabel | None = None
        self._conditions: list = []
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for f in dataclasses.fields(config_class):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            editor = self._editor(default, f.metadata)
            editor.setObjectName(f"setting_{f.name}")
            help_text = f.metadata.get("help", "")
            editor.setToolTip(help_text)
            label = QLabel(setting_label(f.name))
            label.setToolTip(help_text)
            label.setBuddy(editor)
            layout.addRow(label, editor)
            self.editors[f.name] = editor
            if f.metadata.get("when"):  # (setting, values): only meaningful while that setting has one of them
                self._conditions.append((f.metadata["when"], editor, label))
            if f.metadata.get("kind") == "template":
                self.template_preview = QLabel()
                self.template_preview.setObjectName("templatePreview")
                self.template_preview.setWordWrap(True)
                self.template_preview.setTextFormat(Qt.TextFormat.PlainText)
                self.template_preview.setToolTip("The text the encoder reads for three items of this dataset.")
                layout.addRow(self.template_preview)
                editor.textChanged.connect(self.update_preview)
        for (name, values), editor, label in self._conditions:
            control = self.editors[name]
            update = (lambda _i=None, c=control, v=tuple(values), e=editor, lb=label:
                      [w.setEnabled(c.currentData() in v) for w in (e, lb)])
            control.currentIndexChanged.connect(update)
            update()
        if not self.editors:
            note = QLabel("This model has no settings.")
            note.setEnabled(False)
            layout.addRow(note)
        self.update_preview()

    def set_preview_items(self, items) -> None:
        self.preview_items = items
        self.update_preview()

    def update_preview(self) -> None:
        """Render the template for the preview items (or say what is wrong with it)."""
        if self.template_preview is None:
            return
        from recstudio.knowledge import check_template, render_item_texts

        items = self.preview_items
        if items is None or len(items) == 0:
            self.template_preview.setText("Open a dataset with a catalogue to preview the item text.")
            return
        template = self.editors["template"].text()
        try:
            check_template(template, items.columns)
            texts = render_item_texts(items, template)
        except Exception as exc:  # a template being typed is often half-finished: say why, no dialog
            self.template_preview.setText(f"⚠ {exc}")
            return
        self.template_preview.setText("\n".join(f"• {t}" if t else "• (empty)" for t in texts))

    def _editor(self, default: Any, meta) -> QWidget:
        lo, hi = meta.get("min"), meta.get("max")
        if meta.get("choices"):
            combo = QComboBox()
            for choice in meta["choices"]:
                combo.addItem(str(choice), choice)
            combo.setCurrentIndex(max(0, combo.findData(default)))
            return combo
        if meta.get("kind") == "encoder":
            return EncoderPicker(str(default or ""))
        if isinstance(default, bool):
            box = QCheckBox()
            box.setChecked(default)
            return box
        if isinstance(default, int):
            spin = QSpinBox()
            spin.setRange(int(lo if lo is not None else 0), int(hi if hi is not None else 2**31 - 1))
            spin.setValue(default)
            spin.setGroupSeparatorShown(True)
            return spin
        if isinstance(default, float):
            spin = QDoubleSpinBox()
            lo = float(lo if lo is not None else 0.0)
            hi = float(hi if hi is not None else 1e9)
            if hi <= 1.0:  # a rate or a probability
                decimals, step = 2, 0.05
            else:
                magnitude = math.floor(math.log10(abs(default))) if default else 0
                step = 10.0 ** max(magnitude - 1, -6) if default else 0.1
                decimals = max(1, min(6, 1 - magnitude))
            spin.setDecimals(decimals)
            spin.setRange(lo, hi)
            spin.setSingleStep(step)
            spin.setValue(default)
            return spin
        line = QLineEdit("" if default is None else str(default))
        return line

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                out[name] = editor.value()
            elif isinstance(editor, QComboBox):
                out[name] = editor.currentData()
            else:
                out[name] = editor.text()
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            editor = self.editors.get(name)
            if isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                editor.setValue(value)
            elif isinstance(editor, QComboBox):
                editor.setCurrentIndex(max(0, editor.findData(value)))
            elif isinstance(editor, (QLineEdit, EncoderPicker)):
                editor.setText(str(value))


class EncoderPicker(QWidget):
    """A text encoder: empty for the bundled MiniLM, a folder holding a Hugging Face model (Browse…),
    or a hub id the analyst has access to."""

    textChanged = Signal(str)

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.line = QLineEdit(text)
        self.line.setPlaceholderText("bundled all-MiniLM-L6-v2")
        self.line.textChanged.connect(self.textChanged.emit)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.line, 1)
        row.addWidget(self.browse)

    def text(self) -> str:
        return self.line.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self.line.setText(text)

    def setToolTip(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setToolTip(text)
        self.line.setToolTip(text)

    def _browse(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Folder holding a Hugging Face model", self.text() or "")
        if folder:
            self.line.setText(folder)


# -- the page --------------------------------------------------------------------------------------

class TrainingView(QWidget):
    """Left: what to train (model, settings, device) and Start/Stop. Right: progress, the live loss
    curve (raw and smoothed), validation per epoch (plot and table) and a log."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self._running = False  # our training job is the runner's job
        self._request = None
        self._planned: tuple[int, int] = (1, 1)
        self._live_run_id: int | None = None
        self._outcome_status: str | None = None
        self._devices_detected = False
        self._overlaid: set[int] = set()
        self.setObjectName("trainingView")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_form())
        splitter.addWidget(self._build_plots())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(0, False)
        splitter.setSizes([350, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)

        runner = context.runner
        runner.started.connect(self._job_started)
        runner.progress.connect(self._job_progress)
        runner.result.connect(self._job_result)
        runner.error.connect(self._job_error)
        runner.result.connect(self._cluster_job_written)
        runner.finished.connect(self._job_finished)
        context.resume_requested.connect(self.resume_training)
        runner.busy_changed.connect(lambda _busy: self._update_controls())
        context.dataset_changed.connect(self._dataset_changed)
        context.runs_changed.connect(self._refresh_overlay_list)
        self._restore_settings()
        self._dataset_changed(context.dataset)

    # layout ---------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 6, 0)

        self.dataset_label = QLabel()
        self.dataset_label.setObjectName("trainingDataset")
        self.dataset_label.setWordWrap(True)
        self.dataset_label.setTextFormat(Qt.TextFormat.RichText)
        self.dataset_label.linkActivated.connect(lambda _link: self.context.navigate.emit("start"))
        column.addWidget(self.dataset_label)

        from recstudio.models import MODEL_SPECS

        model_box = QGroupBox("Model")
        model_layout = QVBoxLayout(model_box)
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("modelPicker")
        for name, spec in MODEL_SPECS.items():
            self.model_combo.addItem(spec.class_name, name)
            self.model_combo.setItemData(self.model_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.model_description = QLabel()
        self.model_description.setObjectName("modelDescription")
        self.model_description.setWordWrap(True)
        secondary = self.model_description.palette()
        muted = secondary.color(secondary.ColorRole.WindowText)
        muted.setAlpha(175)  # secondary text, still readable (a disabled label is too faint)
        secondary.setColor(secondary.ColorRole.WindowText, muted)
        self.model_description.setPalette(secondary)
        self.settings_holder = QVBoxLayout()
        self.settings_holder.setContentsMargins(0, 4, 0, 0)
        self.model_form: ModelSettingsForm | None = None
        model_layout.addWidget(self.model_combo)
        model_layout.addWidget(self.model_description)
        model_layout.addLayout(self.settings_holder)
        self.model_combo.currentIndexChanged.connect(lambda _i: self._model_changed())
        column.addWidget(model_box)

        from recstudio.training import TrainConfig

        defaults = TrainConfig()
        train_box = QGroupBox("Training")
        form = QFormLayout(train_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.epochs_spin = self._spin("maxEpochs", 1, 100000, defaults.epochs,
                                      "An upper bound: early stopping usually ends the run sooner.")
        self.batch_spin = self._spin("batchSize", 1, 65536, defaults.batch_size, "Training sequences per step.")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setObjectName("learningRate")
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.00001, 1.0)
        self.lr_spin.setSingleStep(0.0001)
        self.lr_spin.setValue(defaults.lr)
        self.lr_spin.setToolTip("AdamW learning rate.")
        self.patience_spin = self._spin("patience", 1, 10000, defaults.patience,
                                        f"Stop after this many epochs without a better validation {defaults.metric}.")
        self.seed_spin = self._spin("seed", 0, 2**31 - 1, defaults.seed, "Same seed, same settings: same run.")
        self.seed_spin.setGroupSeparatorShown(False)
        self.max_steps_spin = self._spin("maxSteps", 0, 2**31 - 1, 0,
                                         "Stop after this many steps in all (0: no limit), e.g. for a quick try.")
        self.max_steps_spin.setSpecialValueText("no limit")
        self.split_combo = QComboBox()
        self.split_combo.setObjectName("splitPicker")
        for label, value, tip in SPLITS:
            self.split_combo.addItem(label, value)
            self.split_combo.setItemData(self.split_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.split_combo.setToolTip("How the held-out validation and test events are chosen.")
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("devicePicker")
        self.device_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device_combo.setMinimumContentsLength(12)
        self.device_combo.addItem("auto — detecting devices…", "auto")
        self.device_combo.addItem(f"cpu — {os.cpu_count() or 1} logical cores", "cpu")
        self.device_combo.setToolTip("Where the model trains; auto picks a GPU when there is one.")
        for label, widget in (("Max epochs", self.epochs_spin), ("Batch size", self.batch_spin),
                              ("Learning rate", self.lr_spin), ("Patience", self.patience_spin),
                              ("Max steps", self.max_steps_spin), ("Seed", self.seed_spin),
                              ("Split", self.split_combo), ("Device", self.device_combo)):
            row_label = QLabel(label)
            row_label.setToolTip(widget.toolTip())
            form.addRow(row_label, widget)
        column.addWidget(train_box)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("startButton")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop at the next step; the best checkpoint so far is kept.")
        self.stop_button.clicked.connect(self.stop_training)
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.stop_button)
        column.addLayout(buttons)
        self.export_job_button = QPushButton("Export cluster job…")
        self.export_job_button.setObjectName("exportClusterJob")
        self.export_job_button.setToolTip(
            "Write these settings, the dataset and the exact torchrun command into a folder to run on a "
            "cluster (DDP on several GPUs or nodes); bring the run back with `recstudio runs import FOLDER`.")
        self.export_job_button.clicked.connect(self.export_cluster_job)
        column.addWidget(self.export_job_button)
        self.status_label = QLabel()
        self.status_label.setObjectName("trainingStatus")
        self.status_label.setWordWrap(True)
        column.addWidget(self.status_label)

        overlay_box = QGroupBox("Compare with earlier runs")
        overlay_layout = QVBoxLayout(overlay_box)
        self.overlay_list = QListWidget()
        self.overlay_list.setObjectName("overlayRuns")
        self.overlay_list.setToolTip("Tick runs of this dataset to draw their curves beside the current one.")
        self.overlay_list.setMinimumHeight(90)
        self.overlay_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.overlay_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.overlay_list.itemChanged.connect(self._overlay_toggled)
        overlay_layout.addWidget(self.overlay_list)
        column.addWidget(overlay_box, 1)

        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(320)
        return scroll

    @staticmethod
    def _spin(name: str, lo: int, hi: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(lo, hi)
        spin.setValue(value)
        spin.setGroupSeparatorShown(True)
        spin.setToolTip(tip)
        return spin

    def _build_plots(self) -> QWidget:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(6, 0, 0, 0)

        progress_row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("trainingProgress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("samplesPerSecond")
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("trainingEta")
        self.eta_label.setToolTip("Time left at the current pace to the last planned step; early stopping "
                                  "may end the run sooner.")
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addSpacing(8)
        progress_row.addWidget(self.speed_label)
        progress_row.addSpacing(8)
        progress_row.addWidget(self.eta_label)
        column.addLayout(progress_row)

        self.loss_curves = LiveCurves(self, title="Training loss")
        self.loss_curves.add_run(LIVE, "Current run", LIVE_COLOUR)
        self.loss_curves.smoothing_changed.connect(lambda v: self.context.settings.setValue(SMOOTHING_SETTING, v))
        self.loss_curves.x_axis_changed.connect(lambda v: self.context.settings.setValue("training/x_axis", v))
        self.validation_plot = ValidationPlot(self, metrics=("NDCG@10", "HR@10"), title="Validation")
        self.validation_plot.add_run(LIVE, "", LIVE_COLOUR)
        self.validation_table = QTableWidget(0, 1 + len(VALIDATION_METRICS))
        self.validation_table.setObjectName("validationTable")
        self.validation_table.setHorizontalHeaderLabels(["Epoch", *VALIDATION_METRICS])
        self.validation_table.verticalHeader().setVisible(False)
        self.validation_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.validation_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.validation_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.validation_table.setToolTip("Validation metrics after each epoch; ★ marks the best epoch so far.")
        self.validation_table.setMinimumWidth(250)

        validation_row = QSplitter(Qt.Orientation.Horizontal)
        validation_row.addWidget(self.validation_plot)
        validation_row.addWidget(self.validation_table)
        validation_row.setStretchFactor(0, 1)
        validation_row.setStretchFactor(1, 0)
        validation_row.setSizes([600, 270])

        self.log = QPlainTextEdit()
        self.log.setObjectName("trainingLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("What happens during a run is written here.")
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(8.0, font.pointSizeF() - 1))
        self.log.setFont(font)

        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.loss_curves)
        plots.addWidget(validation_row)
        plots.addWidget(self.log)
        plots.setStretchFactor(0, 5)
        plots.setStretchFactor(1, 3)
        plots.setStretchFactor(2, 2)
        plots.setSizes([360, 230, 130])
        column.addWidget(plots, 1)
        return panel

    # settings -------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.context.settings
        index = self.model_combo.findData(s.value("training/model", "sasrec"))
        self.model_combo.setCurrentIndex(max(0, index))
        self._model_changed()
        for key, spin, cast in (("epochs", self.epochs_spin, int), ("batch_size", self.batch_spin, int),
                                ("lr", self.lr_spin, float), ("patience", self.patience_spin, int),
                                ("seed", self.seed_spin, int), ("max_steps", self.max_steps_spin, int)):
            value = s.value(f"training/{key}")
            if value is not None:
                try:
                    spin.setValue(cast(value))
                except (TypeError, ValueError):
                    pass
        split = self.split_combo.findData(s.value("training/split", "leave-one-out"))
        self.split_combo.setCurrentIndex(max(0, split))
        self.apply_plot_settings()

    def apply_plot_settings(self) -> None:
        """Smoothing and x axis from the settings (shared with the runs view)."""
        s = self.context.settings
        try:
            smoothing = float(s.value(SMOOTHING_SETTING, DEFAULT_SMOOTHING))
        except (TypeError, ValueError):
            smoothing = DEFAULT_SMOOTHING
        self.loss_curves.set_smoothing(smoothing)
        x_axis = s.value("training/x_axis", X_STEP)
        self.loss_curves.set_x_axis(x_axis if x_axis in ("step", "wall") else X_STEP)

    def save_settings(self) -> None:
        s = self.context.settings
        s.setValue("training/model", self.model_combo.currentData())
        s.setValue("training/epochs", self.epochs_spin.value())
        s.setValue("training/batch_size", self.batch_spin.value())
        s.setValue("training/lr", self.lr_spin.value())
        s.setValue("training/patience", self.patience_spin.value())
        s.setValue("training/seed", self.seed_spin.value())
        s.setValue("training/max_steps", self.max_steps_spin.value())
        s.setValue("training/split", self.split_combo.currentData())
        s.setValue("training/device", self.device_combo.currentData())
        s.setValue("training/x_axis", self.loss_curves.x_axis)
        s.setValue(SMOOTHING_SETTING, self.loss_curves.smoothing)

    # model form -----------------------------------------------------------------------------
    def _model_changed(self) -> None:
        from recstudio.models import MODEL_SPECS

        spec = MODEL_SPECS[self.model_combo.currentData()]
        self.model_description.setText(spec.description)
        if self.model_form is not None:
            self.settings_holder.removeWidget(self.model_form)
            # Out of the page at once: deleteLater waits for the event loop, and until then the
            # old form would still paint, unmanaged, over the top of the panel.
            self.model_form.hide()
            self.model_form.setParent(None)
            self.model_form.deleteLater()
        self.model_form = ModelSettingsForm(spec.config_class, preview_items=self._preview_items())
        self.model_form.setObjectName("modelSettings")
        self.settings_holder.addWidget(self.model_form)
        trainable = spec.trainable
        for widget in (self.epochs_spin, self.batch_spin, self.lr_spin, self.patience_spin, self.max_steps_spin):
            widget.setEnabled(trainable)
            widget.setToolTip(widget.toolTip() if trainable else
                              "This model is counted from the data, not trained; it has no training steps.")

    def select_model(self, name: str) -> None:
        self.model_combo.setCurrentIndex(self.model_combo.findData(name))

    # devices --------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.apply_plot_settings()
        if not self._devices_detected:
            self._devices_detected = True
            self.detect_devices()

    def detect_devices(self) -> None:
        """Fill the device picker off the GUI thread: detection imports torch and initialises CUDA
        (a second or more on a GPU machine; usually already done by the launch warm-up)."""
        from superqt.utils import create_worker

        from recstudio.training.devices import available_devices

        worker = create_worker(available_devices)
        worker.returned.connect(self._devices_found)
        worker.errored.connect(self._device_detection_failed)
        # The worker lives until it has reported, even if this page is closed first
        _DEVICE_WORKERS.add(worker)
        worker.finished.connect(lambda: _DEVICE_WORKERS.discard(worker))
        worker.start()

    def _device_detection_failed(self, exc: Exception) -> None:
        # a broken CUDA install must not break the page; a training run on it says more
        self.device_combo.setToolTip(f"Device detection failed: {exc}")
        self._devices_found([("auto", "auto"), ("cpu", f"cpu — {os.cpu_count() or 1} logical cores")])

    def _devices_found(self, entries: list[tuple[str, str]]) -> None:
        wanted = self.device_combo.currentData() or self.context.settings.value("training/device", "auto")
        self.device_combo.clear()
        for device, label in entries:
            self.device_combo.addItem(label, device)
            self.device_combo.setItemData(self.device_combo.count() - 1, label, Qt.ItemDataRole.ToolTipRole)
        index = self.device_combo.findData(wanted)
        self.device_combo.setCurrentIndex(max(0, index))

    # dataset and overlays -------------------------------------------------------------------
    def _preview_items(self):
        """Three catalogue rows of the current dataset, for the template preview (catalogue file only:
        cheap even for a large dataset); None without a dataset."""
        record = self.context.dataset
        if record is None:
            return None
        cached = getattr(self, "_preview_cache", None)
        if cached is not None and cached[0] == record.id:
            return cached[1]
        try:
            items = self.context.workspace.load_items(record.id, limit=3)
        except Exception:  # a preview must never break the page
            items = None
        self._preview_cache = (record.id, items)
        return items

    def _dataset_changed(self, record) -> None:
        if record is None:
            self.dataset_label.setText('<b>No dataset yet.</b> <a href="start">Open one</a> to train on it.')
        else:
            from html import escape  # the name comes from a file name: shown as text, never as markup

            self.dataset_label.setText(
                f"Dataset <b>{escape(record.name)}</b>: {record.n_users:,} users, {record.n_items:,} items, "
                f"{record.n_events:,} events")
        if self.model_form is not None:
            self.model_form.set_preview_items(self._preview_items())
        for run_id in list(self._overlaid):
            self._remove_overlay(run_id)
        if not self._running:
            self._reset_live("Current run")
        self._refresh_overlay_list()
        self._update_controls()

    def _refresh_overlay_list(self) -> None:
        record = self.context.dataset
        self.overlay_list.blockSignals(True)
        self.overlay_list.clear()
        runs = self.context.workspace.list_runs(record.id) if record is not None else []
        shown = set()
        for run in reversed(runs):  # newest first
            if run.status == "running" or run.id == self._live_run_id:
                continue
            test = (run.metrics or {}).get("test", {})
            score = f" · NDCG@10 {test['NDCG@10']:.4f}" if "NDCG@10" in test else ""
            status = "" if run.status == "completed" else f" · {run.status}"
            item = QListWidgetItem(f"Run {run.id} · {run.model}{status}{score}")
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if run.id in self._overlaid else Qt.CheckState.Unchecked)
            item.setIcon(colour_icon(run_colour(run.id)))  # the colour its curves are drawn in
            settings = ", ".join(f"{k} {v}" for k, v in (run.config.get("model") or {}).items())
            item.setToolTip(f"{item.text()}\n{settings}" if settings else item.text())
            self.overlay_list.addItem(item)
            shown.add(run.id)
        if not shown:
            placeholder = QListWidgetItem("No finished runs of this dataset yet.")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.overlay_list.addItem(placeholder)
        self.overlay_list.blockSignals(False)
        for run_id in self._overlaid - shown:  # deleted meanwhile
            self._remove_overlay(run_id)

    def _overlay_toggled(self, item: QListWidgetItem) -> None:
        run_id = item.data(Qt.ItemDataRole.UserRole)
        if run_id is None:
            return
        if item.checkState() == Qt.CheckState.Checked:
            self.add_overlay(int(run_id))
        else:
            self._remove_overlay(int(run_id))

    def add_overlay(self, run_id: int) -> None:
        """Draw a stored run's curves beside the live one."""
        if run_id in self._overlaid:
            return
        run = self.context.workspace.run(run_id)
        arrays = curve_arrays(self.context.workspace.curve(run_id), ("NDCG@10", "HR@10"))
        label = f"Run {run.id} · {run.model}"
        colour = run_colour(run.id)
        self.loss_curves.add_run(run_id, label, colour)
        self.loss_curves.set_points(run_id, arrays.steps, arrays.wall_times, arrays.losses)
        self.validation_plot.add_run(run_id, label, colour)
        self.validation_plot.set_points(run_id, arrays.epochs, arrays.metrics)
        self._overlaid.add(run_id)

    def _remove_overlay(self, run_id: int) -> None:
        self._overlaid.discard(run_id)
        self.loss_curves.remove_run(run_id)
        self.validation_plot.remove_run(run_id)

    # start / stop ---------------------------------------------------------------------------
    def build_request(self):
        from recstudio.runs import TrainRequest

        record = self.context.dataset
        max_steps = self.max_steps_spin.value()
        return TrainRequest(
            # resolve_dataset reads ``data`` as a path when such a file exists, else as a dataset name
            data=record.name,
            model=self.model_combo.currentData(),
            model_config=self.model_form.values() if self.model_form else {},
            train_config={
                "epochs": self.epochs_spin.value(), "batch_size": self.batch_spin.value(),
                "lr": self.lr_spin.value(), "patience": self.patience_spin.value(),
                "seed": self.seed_spin.value(), "max_steps": max_steps or None,
            },
            split=self.split_combo.currentData(),
            device=self.device_combo.currentData() or "auto",
            workspace=str(self.context.workspace_path),
        )

    def start_training(self) -> bool:
        """Start a run with the form's settings; False (with a message) when it cannot start now."""
        if self.context.dataset is None:
            self._set_status("Open a dataset first: training needs one.", "warning")
            return False
        if self.context.runner.busy:
            self._set_status(f"{self.context.runner.job_name} is still running; wait for it to finish "
                             "or stop it, then start again.", "warning")
            return False
        request = self.build_request()
        from recstudio.errors import RecStudioError
        from recstudio.models import model_config

        try:  # settings the model refuses are told now, not after the job has started
            model_config(request.model, request.model_config)
        except RecStudioError as exc:
            self._set_status(str(exc), "error")
            return False
        if not self.context.runner.start(JOB_NAME, tasks.train_task, request):
            self._set_status("Another job is running; try again when it has finished.", "warning")
            return False
        self._running = True
        self._request = request
        self._live_run_id = None
        self._outcome_status = None
        self._reset_live(f"Current run · {request.model}")
        self.log.clear()
        self._log(f"Starting {self.model_combo.currentText()} on dataset {request.data!r} "
                  f"({self.split_combo.currentText().lower()} split, device {request.device}).")
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Preparing…")
        self._set_status("Training…")
        self._update_controls()
        return True

    def resume_training(self, run_id: int) -> bool:
        """Continue a stopped run from its last finished epoch, through the same job as Start, with the
        run's own data and settings (on the device picked here); its curve so far is drawn first."""
        from recstudio.errors import RecStudioError
        from recstudio.runs import TrainRequest, resume_point

        if self.context.runner.busy:
            self._set_status(f"{self.context.runner.job_name} is still running; wait for it to finish, then "
                             "resume.", "warning")
            return False
        try:
            run = self.context.workspace.run(run_id)
            point = resume_point(self.context.workspace, run_id)
        except RecStudioError as exc:
            self._set_status(str(exc), "error")
            return False
        if point is None:
            self._set_status(f"Run {run_id} cannot be resumed: only a run that stopped (interrupted, cancelled "
                             "or failed) after at least one epoch can.", "warning")
            return False
        request = TrainRequest(data="", model=run.model, train_config=dict((run.config or {}).get("train") or {}),
                               device=self.device_combo.currentData() or "auto",
                               workspace=str(self.context.workspace_path), resume=run.id)
        if not self.context.runner.start(JOB_NAME, tasks.train_task, request):
            self._set_status("Another job is running; try again when it has finished.", "warning")
            return False
        self._running = True
        self._request = request
        self._live_run_id = run.id
        self._outcome_status = None
        self._reset_live(f"Run {run.id} · {run.model} (resumed)")
        earlier = curve_arrays([p for p in self.context.workspace.curve(run.id) if p.step <= point["step"]])
        self.loss_curves.set_points(LIVE, earlier.steps, earlier.wall_times, earlier.losses)
        self.validation_plot.set_points(LIVE, earlier.epochs, earlier.metrics)
        self.log.clear()
        self._log(f"Resuming run {run.id} ({run.model} on {run.dataset_name!r}) after epoch {point['epoch']} "
                  f"(step {point['step']:,}), device {request.device}.")
        self.progress_bar.setFormat("Preparing…")
        self._set_status(f"Resuming run {run.id}…")
        self._update_controls()
        self.context.navigate.emit("train")
        return True

    def stop_training(self) -> None:
        if self._running:
            self.context.runner.cancel()
            self.stop_button.setEnabled(False)
            self._set_status("Stopping at the next step…")
            self._log("Stop asked; the run ends at the next step and keeps its best checkpoint.")

    def _reset_live(self, label: str) -> None:
        self.loss_curves.set_points(LIVE, [], [], [])
        self.loss_curves.set_x_hint(None)
        self.loss_curves.follow_data()
        self.loss_curves.set_label(LIVE, label)
        self.validation_plot.set_points(LIVE, [], {})
        self.validation_table.setRowCount(0)
        self.speed_label.setText("")
        self.eta_label.setText("")

    def _update_controls(self) -> None:
        busy = self.context.runner.busy
        self.start_button.setEnabled(self.context.dataset is not None and not busy)
        self.export_job_button.setEnabled(self.context.dataset is not None and not busy)
        self.stop_button.setEnabled(self._running)
        for widget in (self.model_combo, self.model_form, self.split_combo, self.device_combo):
            if widget is not None:
                widget.setEnabled(not self._running)
        if self.context.dataset is None:
            self.start_button.setToolTip("Open a dataset first.")
        elif busy and not self._running:
            self.start_button.setToolTip(f"Wait for {self.context.runner.job_name} to finish.")
        else:
            self.start_button.setToolTip("Train with these settings in the background.")

    def _set_status(self, text: str, level: str = "info") -> None:
        colour = {"warning": "#b45309", "error": "#b91c1c", "ok": "#15803d"}.get(level)
        self.status_label.setStyleSheet(f"color: {colour};" if colour else "")
        self.status_label.setText(text)

    def _log(self, text: str) -> None:
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")

    # job signals ----------------------------------------------------------------------------
    def _job_started(self, name: str) -> None:
        if name == JOB_NAME and self._running:
            self._log("Loading the dataset…")

    def _job_progress(self, batch) -> None:
        if not self._running:
            return
        from recstudio.training import Message, Stage, Started, Step, Validated

        steps, walls, losses, validations = [], [], [], []
        last_step = None
        for event in batch.events:
            if isinstance(event, Step):
                steps.append(event.step)
                walls.append(event.elapsed)
                losses.append(event.loss)
                last_step = event
            elif isinstance(event, Validated):
                validations.append(event)
            elif isinstance(event, Started):
                self._on_started(event)
            elif isinstance(event, Message):
                self._log(event.text)
            elif isinstance(event, Stage) and event.name == "encode":
                # item text for a language-model model: the bar shows the encoding until training starts
                self.progress_bar.setValue(int(event.fraction * 1000))
                self.progress_bar.setFormat(f"Encoding item text · {event.fraction:.0%}")
                self._set_status(event.text)
                if event.fraction in (0.0, 1.0) and event.text:
                    self._log(event.text)
            elif isinstance(event, Stage) and event.text:
                self._log(event.text)
                self._set_status(event.text)
        if steps:  # one setData per batch, however many steps arrived
            self.loss_curves.append(LIVE, steps, walls, losses)
            self._show_step(last_step)
        if validations:
            self.validation_plot.append(LIVE, [(v.epoch, v.metrics) for v in validations])
            for v in validations:
                self._add_validation_row(v)

    def _on_started(self, started) -> None:
        max_steps = (self._request.train_config or {}).get("max_steps") if self._request else None
        self._planned = planned_work(started, max_steps)
        epochs, steps = self._planned
        self.loss_curves.set_x_hint(steps)  # the step axis is laid out once for the whole run
        limited = max_steps and max_steps < started.epochs * started.steps_per_epoch
        limit = f", stopping at step {max_steps:,}" if limited else ""
        self._log(f"Training {started.model} on {started.device}: {started.parameters:,} parameters, "
                  f"{started.train_sequences:,} training sequences, {started.steps_per_epoch:,} steps per epoch, "
                  f"up to {started.epochs:,} epoch{'s' if started.epochs != 1 else ''}{limit}.")
        self.progress_bar.setFormat(f"Epoch 1 / {epochs:,} · step 0 / {steps:,}")
        self._set_status(f"Training on {started.device}…")
        self.context.runs_changed.emit()  # the run is recorded (status running) before its first step

    def _show_step(self, step) -> None:
        epochs, steps = self._planned
        self.progress_bar.setValue(int(step.fraction * 1000))
        self.progress_bar.setFormat(f"Epoch {step.epoch:,} / {epochs:,} · step {step.step:,} / {steps:,}")
        self.speed_label.setText(f"{step.samples_per_s:,.0f} samples/s")
        self.eta_label.setText(f"≤ {format_duration(step.eta)} left" if step.eta is not None else "")

    def _add_validation_row(self, v) -> None:
        table = self.validation_table
        row = table.rowCount()
        table.insertRow(row)
        epoch = QTableWidgetItem(f"{v.epoch}")
        epoch.setData(Qt.ItemDataRole.UserRole, v.epoch)
        table.setItem(row, 0, epoch)
        for col, name in enumerate(VALIDATION_METRICS, 1):
            value = v.metrics.get(name)
            cell = QTableWidgetItem("—" if value is None else f"{value:.4f}")
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, col, cell)
        # the star follows the best epoch so far
        for r in range(table.rowCount()):
            item = table.item(r, 0)
            best = item.data(Qt.ItemDataRole.UserRole) == v.best_epoch
            item.setText(f"{item.data(Qt.ItemDataRole.UserRole)}{'  ★' if best else ''}")
            font = QFont(item.font())
            font.setBold(best)
            for c in range(table.columnCount()):
                if table.item(r, c) is not None:
                    table.item(r, c).setFont(font)
        table.scrollToBottom()
        note = "best so far" if v.improved else f"best is epoch {v.best_epoch} ({v.best_score:.4f})"
        self._log(f"Epoch {v.epoch} (step {v.step:,}), validation: {metrics_text(v.metrics)} — {note}")

    def _job_result(self, name: str, outcome) -> None:
        if name != JOB_NAME or not self._running:
            return
        self._live_run_id = outcome.run_id
        self._outcome_status = outcome.status
        if outcome.status == "completed":
            self.progress_bar.setValue(1000)
        label = f"Run {outcome.run_id} · {outcome.model}"
        self.loss_curves.set_label(LIVE, label)
        epochs = f"{outcome.epochs} epoch{'s' if outcome.epochs != 1 else ''}"
        if outcome.status == "cancelled":
            kept = (f"the best checkpoint (epoch {outcome.best_epoch}) is kept" if outcome.best_epoch
                    else "no epoch finished, so there is no checkpoint")
            self._log(f"Run {outcome.run_id} cancelled after {epochs} ({format_duration(outcome.seconds)}); {kept}.")
            self._set_status(f"Run {outcome.run_id} stopped; {kept}.", "warning")
        else:
            self._log(f"Run {outcome.run_id} {outcome.status}: {epochs} in {format_duration(outcome.seconds)}, "
                      f"best epoch {outcome.best_epoch}, {outcome.samples_per_s:,.0f} samples/s.")
            self._set_status(f"Run {outcome.run_id} {outcome.status}.", "ok")
        test = outcome.metrics.get("test")
        if test:
            self._log(f"Test (held-out events, best checkpoint): {metrics_text(test)}")
        self.context.runs_changed.emit()

    # cluster job -----------------------------------------------------------------------------
    def export_cluster_job(self, folder: str | None = None, processes: int | None = None) -> bool:
        """Ask for an empty folder and the processes per node, then write the job in the background."""
        from PySide6.QtWidgets import QFileDialog, QInputDialog

        request = self.build_request()
        if request is None:
            return False
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Folder for the cluster job",
                                                      self.context.last_folder("cluster"))
            if not folder:
                return False
        if processes is None:
            processes, ok = QInputDialog.getInt(self, "Processes per node",
                                                "Processes (GPUs) per node for torchrun:", 1, 1, 64)
            if not ok:
                return False
        self.context.set_last_folder(folder, "cluster")
        started = self.context.runner.start(
            CLUSTER_JOB_NAME, tasks.cluster_job_task, str(self.context.workspace_path), request, folder, processes,
            cancellable=False)
        if started:
            self._set_status("Writing the cluster job…")
        return started

    def _cluster_job_written(self, name: str, run_sh) -> None:
        if name != CLUSTER_JOB_NAME:
            return
        self._set_status(f"Cluster job written to {run_sh.parent}: run run.sh there on the cluster, then "
                         "`recstudio runs import` that folder.", "ok")
        self._log(f"Cluster job: {run_sh} (see job.json for the settings and the command).")

    def _job_error(self, name: str, exc) -> None:
        if name == CLUSTER_JOB_NAME:
            from recstudio.gui.context import show_error

            self._set_status(f"The cluster job was not written: {exc}", "error")
            show_error(self, "Export cluster job", exc)
            return
        if name != JOB_NAME or not self._running:
            return
        self._log(f"Failed: {exc}")
        self._set_status(f"Training failed: {exc}", "error")
        self.context.runs_changed.emit()  # the run is recorded as failed

    def _job_finished(self, name: str) -> None:
        if name != JOB_NAME or not self._running:
            self._update_controls()
            return
        self._running = False
        if self.progress_bar.format().startswith("Epoch"):
            self.progress_bar.setFormat(f"{self.progress_bar.format()} · {self._outcome_status or 'failed'}")
        self.eta_label.setText("")
        self._update_controls()
        self._refresh_overlay_list()

    @property
    def is_training(self) -> bool:
        return self._running

