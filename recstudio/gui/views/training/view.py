"""The training page: pick a model and its settings, start and stop a run, watch its curves live."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea,
    QSplitter, QVBoxLayout, QWidget,
)

from recstudio.gui import tasks
from recstudio.gui.context import AppContext
from recstudio.gui.plots import DEFAULT_SMOOTHING, SMOOTHING_SETTING, X_STEP
from recstudio.gui.views.training.devices import DeviceChoice
from recstudio.gui.views.training.presenter import (
    CLUSTER_JOB_NAME, JOB_NAME, LIVE, SPLITS, dataset_line, outcome_texts, patience_of, planned_work,
    priority_label, priority_text, finished_text, resume_request, started_text, step_limit, train_request,
    validation_text,
)
from recstudio.gui.views.training.comparison import RunComparison
from recstudio.gui.views.training.progress import PREPARING, LiveProgress
from recstudio.gui.views.training.settings_form import (
    ModelSettingsForm, double_spin_box, secondary_label, spin_box,
)
from recstudio.gui.views.training.source_run import SourceRunPicker
from recstudio.gui.views.training.teacher_run import TeacherRunPicker


class TrainingView(QWidget):
    """Left: what to train (model, settings, device) and Start/Stop. Right: progress, the live loss
    curve (raw and smoothed), validation per epoch (plot and table) and a log."""

    preferences_requested = Signal()  # the priority line's "change" link

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self._running = False  # our training job is the runner's job
        self._request = None
        self._planned: tuple[int, int] = (1, 1)
        self._live_run_id: int | None = None
        self._outcome_status: str | None = None
        self._estimator = None
        self._threads = 0
        self.setObjectName("trainingView")

        self.devices = DeviceChoice(context.settings, self)
        self.device_combo = self.devices.combo
        self.live = LiveProgress(self)
        # the panel's widgets, by the names the rest of the page (and its tests) use
        self.progress_bar, self.speed_label, self.eta_label = (self.live.progress_bar, self.live.speed_label,
                                                               self.live.eta_label)
        self.loss_curves, self.validation_plot = self.live.loss_curves, self.live.validation_plot
        self.validation_table, self.log = self.live.validation_table, self.live.log
        self.loss_curves.smoothing_changed.connect(lambda v: self.context.settings.setValue(SMOOTHING_SETTING, v))
        self.loss_curves.x_axis_changed.connect(lambda v: self.context.settings.setValue("training/x_axis", v))

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_form())
        splitter.addWidget(self.live)
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
        column.addWidget(self._build_model_box())
        column.addWidget(self._build_training_box())

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

        self.comparison = RunComparison(self.context.workspace, self.live)
        self.overlay_list = self.comparison.runs
        column.addWidget(self.comparison, 1)

        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(320)
        return scroll

    def _build_model_box(self) -> QGroupBox:
        from recstudio.models import MODEL_SPECS

        model_box = QGroupBox("Model")
        model_layout = QVBoxLayout(model_box)
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("modelPicker")
        for name, spec in MODEL_SPECS.items():
            self.model_combo.addItem(spec.class_name, name)
            self.model_combo.setItemData(self.model_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.model_description = secondary_label("modelDescription")
        self.settings_holder = QVBoxLayout()
        self.settings_holder.setContentsMargins(0, 4, 0, 0)
        self.model_form: ModelSettingsForm | None = None
        model_layout.addWidget(self.model_combo)
        model_layout.addWidget(self.model_description)
        model_layout.addLayout(self.settings_holder)
        self.source_picker = SourceRunPicker(self.context, self)  # shown for a model that can start from a run
        self.teacher_picker = TeacherRunPicker(self.context, self.source_picker, self)  # ... learn from a teacher
        model_layout.addWidget(self.source_picker)
        model_layout.addWidget(self.teacher_picker)
        self.model_combo.currentIndexChanged.connect(lambda _i: self._model_changed())
        return model_box

    def _build_training_box(self) -> QGroupBox:
        from recstudio.training import TrainConfig

        defaults = TrainConfig()
        train_box = QGroupBox("Training")
        form = QFormLayout(train_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.epochs_spin = spin_box("maxEpochs", 1, 100000, defaults.epochs,
                                      "An upper bound: early stopping usually ends the run sooner.")
        self.batch_spin = spin_box("batchSize", 1, 65536, defaults.batch_size, "Training sequences per step.")
        self._train_defaults = defaults
        self.lr_spin = double_spin_box("learningRate", 0.00001, 1.0, defaults.lr, "AdamW learning rate.", decimals=5,
                                       step=0.0001)
        # what the picked model brought for each (a model with its own, lm-seq's, sets them; the analyst's win)
        self._followed = {"epochs": (self.epochs_spin, defaults.epochs),
                          "batch_size": (self.batch_spin, defaults.batch_size), "lr": (self.lr_spin, defaults.lr)}
        self.patience_spin = spin_box("patience", 1, 10000, defaults.patience,
                                        f"Stop after this many epochs without a better validation {defaults.metric}.")
        self.seed_spin = spin_box("seed", 0, 2**31 - 1, defaults.seed, "Same seed, same settings: same run.")
        self.seed_spin.setGroupSeparatorShown(False)
        self.max_steps_spin = spin_box("maxSteps", 0, 2**31 - 1, 0,
                                         "Stop after this many steps in all (0: no limit), e.g. for a quick try.")
        self.max_steps_spin.setSpecialValueText("no limit")
        self.split_combo = QComboBox()
        self.split_combo.setObjectName("splitPicker")
        for label, value, tip in SPLITS:
            self.split_combo.addItem(label, value)
            self.split_combo.setItemData(self.split_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.split_combo.setToolTip("How the held-out validation and test events are chosen.")
        for label, widget in (("Max epochs", self.epochs_spin), ("Batch size", self.batch_spin),
                              ("Learning rate", self.lr_spin), ("Patience", self.patience_spin),
                              ("Max steps", self.max_steps_spin), ("Seed", self.seed_spin),
                              ("Split", self.split_combo), ("Device", self.device_combo)):
            row_label = QLabel(label)
            row_label.setToolTip(widget.toolTip())
            form.addRow(row_label, widget)
        self.priority_label = QLabel()
        self.priority_label.setObjectName("trainingPriority")
        self.priority_label.setWordWrap(True)
        self.priority_label.setTextFormat(Qt.TextFormat.RichText)
        self.priority_label.linkActivated.connect(lambda _link: self.preferences_requested.emit())
        form.addRow(QLabel("Priority"), self.priority_label)
        self.context.preferences_changed.connect(lambda: self._show_priority(self._threads))
        self._show_priority(0)
        return train_box

    def _show_priority(self, threads: int) -> None:
        """How the run shares the processor: its CPU threads (once started) and the window's choice."""
        self._threads = threads
        self.priority_label.setText(priority_label(threads, not self.context.train_at_full_speed))

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
        # a model with its own epoch bound, batch size or rate (lm-seq) brings them, unless the analyst set others
        for name, (spin, brought) in self._followed.items():
            value = spec.training.get(name, getattr(self._train_defaults, name))
            if spin.value() == brought:
                spin.setValue(value)
            self._followed[name] = (spin, value)
        self.source_picker.follow(spec.name, self.model_form, self.epochs_spin)
        self.teacher_picker.follow(spec.name, self.split_combo)

    def select_model(self, name: str) -> None:
        self.model_combo.setCurrentIndex(self.model_combo.findData(name))

    # devices --------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.apply_plot_settings()
        self.detect_devices()

    def detect_devices(self) -> None:
        """Fill the device picker in the background, once (see :class:`DeviceChoice`)."""
        self.devices.detect()

    def shutdown(self) -> None:
        """Wait for a device detection still under way (the window is closing)."""
        self.devices.shutdown()

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
            split, text = dataset_line(record)  # and the core's default split for it (baskets: last-basket)
            if not self._running:
                self.split_combo.setCurrentIndex(max(0, self.split_combo.findData(split)))
            self.dataset_label.setText(text)
        if self.model_form is not None:
            self.model_form.set_preview_items(self._preview_items())
        self.comparison.clear()
        if not self._running:
            self.live.reset("Current run")
        self._refresh_overlay_list()
        self._update_controls()

    def _refresh_overlay_list(self) -> None:
        record = self.context.dataset
        self.comparison.refresh(record.id if record is not None else None, self._live_run_id)

    def add_overlay(self, run_id: int) -> None:
        """Draw a stored run's curves beside the live one."""
        self.comparison.add(run_id)

    # start / stop ---------------------------------------------------------------------------
    def build_request(self):
        return train_request(
            self.context.dataset.id, self.model_combo.currentData(),
            self.model_form.values() if self.model_form else {},
            epochs=self.epochs_spin.value(), batch_size=self.batch_spin.value(), lr=self.lr_spin.value(),
            patience=self.patience_spin.value(), seed=self.seed_spin.value(), max_steps=self.max_steps_spin.value(),
            split=self.split_combo.currentData(), device=self.device_combo.currentData(),
            workspace=str(self.context.workspace_path), init_from=self.source_picker.run_id(),
            teacher=self.teacher_picker.request_fields(),
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
        if not self._start_job(request, None, f"Current run · {request.model}"):
            return False
        self.log.clear()
        self._log(f"Starting {self.model_combo.currentText()} on dataset {self.context.dataset.name!r} "
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
        from recstudio.runs import resume_point

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
        request = resume_request(run, self.device_combo.currentData(), str(self.context.workspace_path))
        if not self._start_job(request, run.id, f"Run {run.id} · {run.model} (resumed)"):
            return False
        self.live.show_earlier([p for p in self.context.workspace.curve(run.id) if p.step <= point["step"]])
        self.log.clear()
        self._log(f"Resuming run {run.id} ({run.model} on {run.dataset_name!r}) after epoch {point['epoch']} "
                  f"(step {point['step']:,}), device {request.device}.")
        self.progress_bar.setFormat("Preparing…")
        self._set_status(f"Resuming run {run.id}…")
        self._update_controls()
        self.context.navigate.emit("train")
        return True

    def _start_job(self, request, live_run_id: int | None, title: str) -> bool:
        """Start the training job (lowered priority unless Preferences say full speed) and reset the live plot."""
        if not self.context.runner.start(JOB_NAME, tasks.train_task, request,
                                         lower_priority=not self.context.train_at_full_speed):
            self._set_status("Another job is running; try again when it has finished.", "warning")
            return False
        self._running = True
        self._request = request
        self._live_run_id = live_run_id
        self._outcome_status = None
        self.live.reset(title)
        return True

    def stop_training(self) -> None:
        if self._running:
            self.context.runner.cancel()
            self.stop_button.setEnabled(False)
            self._set_status("Stopping at the next step…")
            self._log("Stop asked; the run ends at the next step and keeps its best checkpoint.")

    def _update_controls(self) -> None:
        busy = self.context.runner.busy
        self.start_button.setEnabled(self.context.dataset is not None and not busy)
        self.export_job_button.setEnabled(self.context.dataset is not None and not busy)
        self.stop_button.setEnabled(self._running)
        # the teacher picker holds the Split choice too (locked to a picked teacher's split)
        for widget in (self.model_combo, self.model_form, self.source_picker, self.teacher_picker, self.device_combo):
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
        self.live.write(text)

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
                self._estimator.add_step(event.step, event.epoch, event.elapsed)
                steps.append(event.step)
                walls.append(event.elapsed)
                losses.append(event.loss)
                last_step = event
            elif isinstance(event, Validated):
                self._estimator.add_validation(event.epoch, event.best_epoch, event.best_score, event.elapsed)
                validations.append(event)
                self._log(validation_text(event))  # in the order it happened among the batch's messages
            elif isinstance(event, Started):
                self._on_started(event)
            elif isinstance(event, Message):
                self._log(event.text)
            elif isinstance(event, Stage) and event.name in PREPARING:
                self.live.show_preparing(PREPARING[event.name], event.fraction)
                self._set_status(event.text)
                if event.fraction in (0.0, 1.0) and event.text:
                    self._log(event.text)
            elif isinstance(event, Stage) and event.text:
                self._log(event.text)
                self._set_status(event.text)
        if steps:  # one setData per batch, however many steps arrived
            self.live.add_steps(steps, walls, losses, last_step, self._estimator.estimate(),
                                self._estimator.steps_per_epoch)
        if validations:
            self.live.add_validations(validations)

    def _on_started(self, started) -> None:
        max_steps = step_limit(self._request)
        self._planned = planned_work(started, max_steps)
        epochs, steps = self._planned
        from recstudio.training import TrainConfig
        from recstudio.training.estimate import FinishEstimator

        patience = patience_of(self._request)
        self._estimator = FinishEstimator(started.steps_per_epoch, started.epochs, max_steps,
                                          patience or TrainConfig().patience)
        self.loss_curves.set_x_limit(steps)  # the "Whole run" view; the axis itself follows the data
        self._log(started_text(started, max_steps))
        if started.threads:
            self._log(priority_text(started.threads, not self.context.train_at_full_speed))
        self._show_priority(started.threads)
        self.progress_bar.setFormat(f"Epoch 1 of at most {epochs:,} · step 0")
        self._set_status(f"Training on {started.device}…")
        self.context.runs_changed.emit()  # the run is recorded (status running) before its first step

    def _job_result(self, name: str, outcome) -> None:
        if name != JOB_NAME or not self._running:
            return
        self._live_run_id = outcome.run_id
        self._outcome_status = outcome.status
        if outcome.status == "completed":
            self.progress_bar.setValue(1000)
        self.loss_curves.set_label(LIVE, f"Run {outcome.run_id} · {outcome.model}")
        lines, status, level = outcome_texts(outcome)
        for line in lines:
            self._log(line)
        self._set_status(status, level)
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
            self.progress_bar.setFormat(finished_text(self._estimator, self._outcome_status))
        self.eta_label.setText("")
        if self.loss_curves.following:  # no more points coming: no headroom for them (a zoom is left alone)
            self.loss_curves.follow_data()
        self._update_controls()
        self._refresh_overlay_list()

    @property
    def is_training(self) -> bool:
        return self._running
