"""The training page as an analyst uses it: pick SASRec, start, watch the curves, stop, compare runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QSpinBox

from recstudio.gui.plots import SMOOTHING_SETTING
from recstudio.gui.views.runs import COLUMN_INDEX
from recstudio.gui.views.training import LIVE

ML100K = Path("/work/shared/datasets/ml-100k")
TIMEOUT_MS = 120_000


@pytest.fixture
def dataset(window):
    from recstudio.runs import ImportRequest, import_or_reuse

    if not (ML100K / "interactions.csv").exists():
        pytest.skip("the ml-100k files are not here")
    record, _ = import_or_reuse(window.context.workspace,
                                ImportRequest(str(ML100K / "interactions.csv"), str(ML100K / "items.csv")))
    window.context.set_dataset(record)
    return record


@pytest.fixture
def view(window, qtbot):
    window.show_page("train")
    page = window.pages["train"]
    # devices are detected just after the page is first shown
    qtbot.waitUntil(lambda: "detecting" not in page.device_combo.itemText(0), timeout=30_000)
    return page


def configure(view, *, epochs=1, max_steps=20, batch_size=64, hidden=16):
    view.select_model("sasrec")
    view.model_form.editors["hidden"].setValue(hidden)
    view.model_form.editors["max_len"].setValue(20)
    view.epochs_spin.setValue(epochs)
    view.max_steps_spin.setValue(max_steps)
    view.batch_spin.setValue(batch_size)
    view.device_combo.setCurrentIndex(view.device_combo.findData("cpu"))


def train_stored_run(window, dataset, max_steps=8) -> int:
    """A finished run made by the core directly (as the CLI would), to compare against."""
    from recstudio.runs import TrainRequest, train_run

    gen = train_run(TrainRequest(model="sasrec", dataset=dataset.id, model_config={"hidden": 16, "max_len": 20},
                                 train_config={"epochs": 1, "max_steps": max_steps, "batch_size": 64},
                                 device="cpu", workspace=str(window.context.workspace_path)))
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value.run_id


def test_start_is_off_without_a_dataset(window, view):
    assert not view.start_button.isEnabled()
    assert view.start_training() is False
    assert "dataset" in view.status_label.text().lower()
    assert window.context.workspace.list_runs() == []


def test_the_split_picker_offers_every_split_the_core_has(view):
    from recstudio.data import split_names

    offered = [view.split_combo.itemData(i) for i in range(view.split_combo.count())]
    assert offered == list(split_names())  # cold-items included, in the core's order
    cold = offered.index("cold-items")
    assert "never seen" in view.split_combo.itemData(cold, Qt.ItemDataRole.ToolTipRole)


def test_the_form_follows_the_model(view):
    from recstudio.models import MODEL_SPECS

    view.select_model("itemknn")
    assert view.model_description.text() == MODEL_SPECS["itemknn"].description
    neighbours = view.model_form.editors["neighbours"]
    shrink = view.model_form.editors["shrink"]
    assert isinstance(neighbours, QSpinBox) and isinstance(shrink, QDoubleSpinBox)
    assert (neighbours.value(), neighbours.minimum(), neighbours.maximum()) == (100, 1, 10000)
    assert neighbours.toolTip() == "Similar items kept per item."
    assert shrink.value() == 10.0
    assert not view.lr_spin.isEnabled()  # item-kNN is counted, not trained

    view.select_model("sasrec")
    dropout = view.model_form.editors["dropout"]
    assert isinstance(dropout, QDoubleSpinBox) and dropout.value() == pytest.approx(0.2)
    assert dropout.maximum() == pytest.approx(0.9) and dropout.singleStep() == pytest.approx(0.05)
    assert view.model_form.values() == {"hidden": 64, "layers": 2, "heads": 2, "max_len": 50, "dropout": 0.2,
                                        "loss": "full", "negatives": 1024, "scale_inputs": False, "init": "cooccurrence"}
    assert view.lr_spin.isEnabled()
    boxes = {n for n, e in view.model_form.editors.items() if isinstance(e, QCheckBox)}
    assert boxes == {"scale_inputs"} and not view.model_form.editors["scale_inputs"].isChecked()
    assert [view.device_combo.itemData(i) for i in range(2)] == ["auto", "cpu"]
    assert "threads" in view.device_combo.itemText(1)


def test_max_epochs_batch_and_rate_follow_a_model_with_its_own_unless_the_analyst_set_them(view):
    from recstudio.models import MODEL_SPECS
    from recstudio.training import TrainConfig

    lm_seq = MODEL_SPECS["lm-seq"]
    view.select_model("sasrec")
    assert (view.epochs_spin.value(), view.batch_spin.value()) == (TrainConfig().epochs, TrainConfig().batch_size)
    view.select_model("lm-seq")  # an epoch reads every event through the language model: a few suffice
    assert view.epochs_spin.value() == lm_seq.training["epochs"] < TrainConfig().epochs
    assert view.batch_spin.value() == lm_seq.training["batch_size"] < TrainConfig().batch_size
    assert view.lr_spin.value() == lm_seq.training["lr"] < TrainConfig().lr
    view.select_model("sasrec")
    assert (view.epochs_spin.value(), view.batch_spin.value()) == (TrainConfig().epochs, TrainConfig().batch_size)
    assert view.lr_spin.value() == TrainConfig().lr
    view.epochs_spin.setValue(37)  # the analyst's own bound stays whatever model is picked
    view.select_model("lm-seq")
    assert view.epochs_spin.value() == 37
    assert view.batch_spin.value() == lm_seq.training["batch_size"]  # the batch still follows the model
    view.batch_spin.setValue(48)
    view.select_model("sasrec")
    assert (view.epochs_spin.value(), view.batch_spin.value()) == (37, 48)


def test_a_short_run_draws_its_curves_and_reaches_the_runs_table(window, view, dataset, qtbot):
    configure(view, max_steps=20)
    raw, smooth = view.loss_curves.curve_items(LIVE)
    validation_items = view.validation_plot.items(LIVE)

    estimates = []
    view.progress_bar.valueChanged.connect(lambda _v: estimates.append(view.eta_label.text()))
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert view.is_training
    assert not view.start_button.isEnabled() and view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: view.loss_curves.point_count(LIVE) > 0, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not view.is_training, timeout=TIMEOUT_MS)

    # the curves were fed with setData, never re-created
    assert view.loss_curves.curve_items(LIVE) == (raw, smooth)
    assert view.validation_plot.items(LIVE) == validation_items
    x, y = raw.getOriginalDataset()
    assert len(x) == len(y) == 20 == view.loss_curves.point_count(LIVE)
    assert list(x) == list(range(1, 21))
    shown_x, shown_y = smooth.getData()
    assert shown_x is not None and len(shown_x) > 0
    assert view.validation_table.rowCount() == 1
    assert view.validation_table.item(0, 0).text().startswith("1")
    assert "step 20" in view.progress_bar.format()
    # the time left says what it means: this epoch, and the planned maximum only as "at most"
    assert any(t.startswith("Epoch 1 ends in") and "at most" in t for t in estimates), estimates
    log = view.log.toPlainText()
    assert "Training sasrec on cpu" in log and "validation: NDCG@10" in log and "Test (held-out" in log
    # the worker thread's own count (an OpenMP setting is per thread: the test's thread may differ)
    said = re.search(r"Computing with (\d+) CPU threads?, at lower priority than the window", log)
    assert said, log.splitlines()
    threads = int(said.group(1))
    assert 1 <= threads <= max(torch.get_num_threads(), os.cpu_count() or 1)
    assert view.priority_label.text().startswith(f"{threads} CPU thread")
    assert view.start_button.isEnabled() and not view.stop_button.isEnabled()

    run = window.context.workspace.list_runs()[-1]
    assert run.status == "completed" and run.config["model"]["hidden"] == 16
    assert view.loss_curves.plot.legend.getLabel(smooth).text == f"Run {run.id} · sasrec"

    window.show_page("runs")
    runs = window.pages["runs"]
    row = runs.row_of(run.id)
    assert row >= 0
    assert runs.proxy.index(row, COLUMN_INDEX["Status"]).data() == "Completed"
    assert runs.proxy.index(row, COLUMN_INDEX["NDCG@10"]).data() == f"{run.metrics['test']['NDCG@10']:.4f}"


def test_train_at_full_speed_is_a_remembered_preference(window, view, dataset, qtbot):
    dialog = window.show_preferences()
    assert dialog.smooth_radio.isChecked()  # keeping the window smooth is the default
    dialog.full_radio.setChecked(True)
    dialog.accept()
    assert window.context.settings.value("training/priority") == "full"
    assert "full speed" in view.priority_label.text()
    assert window.show_preferences().full_radio.isChecked()  # remembered
    configure(view, max_steps=3)
    assert view.start_training()
    qtbot.waitUntil(lambda: not view.is_training, timeout=TIMEOUT_MS)
    assert "at full speed (the window's own priority)" in view.log.toPlainText()


def test_stop_cancels_the_run_and_gives_the_controls_back(window, view, dataset, qtbot):
    configure(view, epochs=50, max_steps=0, batch_size=32)
    assert view.start_training()
    qtbot.waitUntil(lambda: view.loss_curves.point_count(LIVE) >= 2, timeout=TIMEOUT_MS)
    # a second run while this one trains is refused, with a word why
    assert view.start_training() is False
    assert "still running" in view.status_label.text()
    assert not view.start_button.isEnabled()

    qtbot.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.is_training, timeout=TIMEOUT_MS)
    runs = window.context.workspace.list_runs()
    assert len(runs) == 1 and runs[0].status == "cancelled"
    assert view.start_button.isEnabled() and not view.stop_button.isEnabled()
    assert "cancelled" in view.log.toPlainText()
    assert "stopped" in view.status_label.text()


def test_smoothing_and_x_axis(window, view, dataset):
    run_id = train_stored_run(window, dataset, max_steps=12)
    view.add_overlay(run_id)
    curves = view.loss_curves
    x, raw, smooth = curves.data(run_id)
    assert len(x) == 12

    view.loss_curves.smoothing_slider.setValue(0)
    assert window.context.settings.value(SMOOTHING_SETTING) in (0.0, "0.0", "0")
    _, raw0, smooth0 = curves.data(run_id)
    assert list(smooth0) == list(raw0)
    assert not curves.curve_items(run_id)[0].isVisible()  # no faint copy of an unsmoothed curve

    view.loss_curves.smoothing_slider.setValue(90)
    assert float(window.context.settings.value(SMOOTHING_SETTING)) == pytest.approx(0.9)
    _, _, smooth9 = curves.data(run_id)
    assert smooth9[0] == pytest.approx(raw0[0]) and list(smooth9) != list(raw0)

    combo = view.loss_curves.x_axis_combo
    combo.setCurrentIndex(combo.findData("wall"))
    x_wall, _, _ = curves.data(run_id)
    stored = [p.wall_time for p in window.context.workspace.curve(run_id) if p.kind == "train"]
    assert list(x_wall) == pytest.approx(stored)
    assert curves.plot.getAxis("bottom").labelText.startswith("Wall time")


def test_earlier_runs_can_be_overlaid(window, view, dataset, qtbot):
    run_id = train_stored_run(window, dataset)
    window.context.runs_changed.emit()
    items = [view.overlay_list.item(i) for i in range(view.overlay_list.count())]
    item = next(i for i in items if i.data(Qt.ItemDataRole.UserRole) == run_id)
    assert item.text().startswith(f"Run {run_id} · sasrec · NDCG@10 0.")

    item.setCheckState(Qt.CheckState.Checked)
    assert view.loss_curves.has_run(run_id) and view.validation_plot.has_run(run_id)
    assert view.loss_curves.point_count(run_id) == 8
    epochs, ndcg = view.validation_plot.data(run_id, "NDCG@10")
    assert list(epochs) == [1.0] and ndcg[0] > 0

    item.setCheckState(Qt.CheckState.Unchecked)
    assert not view.loss_curves.has_run(run_id)
    assert view.loss_curves.has_run(LIVE)  # the live run's curve stays


def test_switching_models_leaves_one_settings_form_on_the_page(view, qtbot):
    from recstudio.gui.views.training import ModelSettingsForm

    old = view.model_form
    view.select_model("pop" if view.model_combo.currentData() != "pop" else "sasrec")
    # gone from the page at once, not when the event loop gets round to deleting it: until then
    # an old form would paint, unmanaged, over the model picker
    assert not old.isVisible() and old.parent() is None
    for name in ("itemknn", "sasrec", "sasrec"):
        view.select_model(name)
    qtbot.waitUntil(view.model_form.isVisible)
    forms = [f for f in view.findChildren(ModelSettingsForm) if f.isVisible()]
    assert forms == [view.model_form]


def test_export_cluster_job_writes_the_job(window, view, dataset, qtbot, tmp_path):
    import json

    configure(view, max_steps=50)
    folder = tmp_path / "job"
    assert view.export_cluster_job(str(folder), 4)
    qtbot.waitUntil(lambda: (folder / "run.sh").exists() and not window.context.runner.busy, timeout=TIMEOUT_MS)
    spec = json.loads((folder / "job.json").read_text())
    assert spec["model"] == "sasrec" and spec["nproc_per_node"] == 4 and spec["train_config"]["max_steps"] == 50
    assert "--nproc_per_node=$NPROC" in (folder / "run.sh").read_text()
    assert "Cluster job written" in view.status_label.text()
    # a folder that is not empty is refused with a message, and the page stays usable
    from PySide6.QtWidgets import QMessageBox

    qtbot.waitUntil(lambda: view.export_job_button.isEnabled())
    assert view.export_cluster_job(str(folder), 1)
    qtbot.waitUntil(lambda: view.findChild(QMessageBox, "errorDialog") is not None, timeout=TIMEOUT_MS)
    box = view.findChild(QMessageBox, "errorDialog")
    assert "not empty" in box.text()
    box.close()
    qtbot.waitUntil(lambda: view.start_button.isEnabled())


def test_language_model_settings_have_proper_editors(window, view, dataset, qtbot):
    from PySide6.QtWidgets import QComboBox

    from recstudio.gui.views.training import EncoderPicker

    view.select_model("sasrec-lm")
    form = view.model_form
    assert isinstance(form.editors["encoder"], EncoderPicker)
    assert isinstance(form.editors["fusion"], QComboBox)
    assert [form.editors["fusion"].itemData(i) for i in range(form.editors["fusion"].count())] == ["gated", "text-only"]
    # the template preview shows ml-100k items' text as the encoder will read it, and follows edits
    first = window.context.workspace.load_items(dataset.id, limit=1)
    title, genres = first["title"][0], first["category"][0]
    preview = form.template_preview.text()
    assert preview.startswith(f"• {title}. Category: ") and preview.count("•") == 3
    form.editors["template"].setText("{title} / {category}")
    assert form.template_preview.text().startswith(f"• {title} / {str(genres).split('|')[0]}")
    form.editors["template"].setText("{nonexistent}")
    assert "⚠" in form.template_preview.text()
    form.editors["template"].setText("{title}")
    form.editors["fusion"].setCurrentIndex(1)
    form.editors["encoder"].setText("/models/my-encoder")
    values = form.values()
    assert values["fusion"] == "text-only" and values["encoder"] == "/models/my-encoder"
    assert values["template"] == "{title}"
    request = view.build_request()
    assert request.model == "sasrec-lm" and request.model_config["fusion"] == "text-only"


def test_lm_seq_settings_enable_what_its_fine_tune_mode_uses(window, view, dataset, qtbot):
    from recstudio.gui.views.training import EncoderPicker

    view.select_model("lm-seq")
    form = view.model_form
    assert view.model_combo.currentData() == "lm-seq"
    assert isinstance(form.editors["encoder"], EncoderPicker) and form.template_preview.text().count("•") == 3
    finetune, rank, layers = form.editors["finetune"], form.editors["lora_r"], form.editors["last_n"]
    assert finetune.currentData() == "last-n" and layers.isEnabled() and not rank.isEnabled()
    finetune.setCurrentIndex(finetune.findData("lora"))
    assert rank.isEnabled() and form.editors["lora_alpha"].isEnabled() and not layers.isEnabled()
    finetune.setCurrentIndex(finetune.findData("frozen"))
    assert not rank.isEnabled() and not layers.isEnabled() and not form.editors["backbone_lr"].isEnabled()
    head = form.editors["head"]
    head.setCurrentIndex(head.findData("linear"))
    assert not form.editors["id_embeddings"].isEnabled() and not form.editors["id_init"].isEnabled()  # text head's
    request = view.build_request()
    assert request.model == "lm-seq"
    assert request.model_config["finetune"] == "frozen" and request.model_config["head"] == "linear"


def test_a_text_model_shows_encoding_then_trains(window, view, dataset, qtbot):
    """sasrec-lm from the window with the offline MiniLM: the bar reports the encoding, then the run
    trains and is recorded with its item-text summary (the cache is the test workspace's own)."""
    view.select_model("sasrec-lm")
    configure_formats = []
    view.progress_bar.valueChanged.connect(lambda _v: configure_formats.append(view.progress_bar.format()))
    view.model_form.editors["hidden"].setValue(16)
    view.model_form.editors["max_len"].setValue(20)
    view.epochs_spin.setValue(1)
    view.max_steps_spin.setValue(5)
    view.device_combo.setCurrentIndex(view.device_combo.findData("cpu"))
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.is_training, timeout=300_000)
    run = window.context.workspace.list_runs()[-1]
    assert run.status == "completed", run.error
    assert run.model == "sasrec-lm" and run.config["item_text"]["encoder"]
    assert any(f.startswith("Encoding item text") for f in configure_formats)
    assert "Item text:" in view.log.toPlainText()
