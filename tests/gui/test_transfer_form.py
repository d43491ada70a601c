"""Start a run from another run in the window (issue 18): the training form's "Start from a run…" choice, a
zero-shot run started from it, and the runs table saying where a run came from."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from recstudio.gui.views.runs import COLUMN_INDEX
from tests.helpers import one_thread, successor_catalogue  # noqa: F401  (one_thread: an autouse fixture)

TIMEOUT_MS = 120_000
TINY = {"hidden": 32, "layers": 1, "heads": 1, "max_len": 10}


def _drive(gen):
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


@pytest.fixture
def catalogues(window, tmp_path):
    """Catalogues A and B (same text, no shared id) imported, a sasrec-lm run trained on A, B opened."""
    from recstudio.runs import ImportRequest, TrainRequest, import_or_reuse, train_run

    ws = window.context.workspace
    a, _ = import_or_reuse(ws, ImportRequest(*(str(p) for p in successor_catalogue(tmp_path, "a", seed=0))))
    b, _ = import_or_reuse(ws, ImportRequest(*(str(p) for p in successor_catalogue(tmp_path, "b", seed=1))))
    source = _drive(train_run(TrainRequest(
        model="sasrec-lm", dataset=a.id, model_config=TINY, device="cpu", workspace=str(window.context.workspace_path),
        train_config={"epochs": 10, "max_steps": 60, "batch_size": 32, "lr": 3e-3})))
    assert source.status == "completed"
    window.context.runs_changed.emit()
    window.context.set_dataset(b)
    return a, b, source.run_id


@pytest.fixture
def view(window, qtbot, catalogues):
    window.show_page("train")
    page = window.pages["train"]
    qtbot.waitUntil(lambda: "detecting" not in page.device_combo.itemText(0), timeout=30_000)
    return page


def test_a_zero_shot_run_started_from_the_form_shows_its_source(window, view, catalogues, qtbot):
    from recstudio.runs import RunConfig

    _a, b, source_id = catalogues
    view.select_model("sasrec")
    assert not view.source_picker.isVisible() and view.source_picker.run_id() is None
    view.select_model("sasrec-lm")
    picker = view.source_picker
    assert picker.isVisible()
    offered = [picker.combo.itemData(i) for i in range(picker.combo.count())]
    assert offered == [None, source_id] and picker.run_id() is None  # "none" by default
    assert "a-events" in picker.combo.itemText(1)
    hidden = view.model_form.editors["hidden"]
    assert hidden.isEnabled() and hidden.value() == 64 and view.epochs_spin.minimum() == 1

    assert picker.select_run(source_id)
    # the settings that come from the run are shown with its values and locked; training ones stay free
    assert hidden.value() == 32 and not hidden.isEnabled()
    assert not view.model_form.editors["encoder"].isEnabled() and not view.model_form.editors["template"].isEnabled()
    assert view.model_form.editors["dropout"].isEnabled() and view.model_form.editors["id_dropout"].isEnabled()
    # how a fresh model's item vectors start means nothing here (ids start at zero): locked, its value kept
    init = view.model_form.editors["init"]
    assert not init.isEnabled() and init.currentData() == "cooccurrence" and "No effect" in init.toolTip()
    assert view.epochs_spin.minimum() == 0
    view.epochs_spin.setValue(0)
    assert view.epochs_spin.text() == "0 · zero-shot test"
    view.device_combo.setCurrentIndex(view.device_combo.findData("cpu"))
    assert view.build_request().init_from == source_id

    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert view.is_training
    qtbot.waitUntil(lambda: not view.is_training, timeout=TIMEOUT_MS)
    runs = window.context.workspace.list_runs()
    run = runs[-1]
    assert run.id != source_id and run.dataset_id == b.id
    assert (run.status, run.epochs) == ("completed", 0), run.error
    assert RunConfig.of(run).source_run == source_id and RunConfig.of(run).model["hidden"] == 32
    assert run.metrics["test"]["HR@10"] >= 0.9  # the planted successor, at zero shot
    assert "zero-shot" in view.log.toPlainText().lower()

    window.show_page("runs")
    table = window.pages["runs"]
    cell = lambda run_id: table.proxy.index(table.row_of(run_id), COLUMN_INDEX["From"]).data()  # noqa: E731
    assert cell(run.id) == f"run {source_id} on 'a-events'"
    assert cell(source_id) == "—"
    table.select_runs([run.id])  # its curve is one validation point, at step 0: drawn, nothing breaks
    assert table.validation_plot.has_run(run.id) and table.loss_curves.point_count(run.id) == 0
    table.open_in_inspector()  # the inspector opens it like any other run
    inspect = window.pages["inspect"]
    qtbot.waitUntil(lambda: inspect.inspector is not None and inspect.inspector.run.id == run.id, timeout=30_000)
    assert inspect.select_user("bu3")
    qtbot.waitUntil(lambda: inspect.current_user() == "bu3" and inspect.recommendation is not None, timeout=30_000)
    assert all(item["item_id"].startswith("b") for item in inspect.recommendation.items)

    # back to "none": the settings are the form's again, and 0 epochs is no longer offered
    window.show_page("train")
    assert picker.select_run(None)
    assert hidden.isEnabled() and view.epochs_spin.minimum() == 1 and view.build_request().init_from is None
    assert init.isEnabled() and "No effect" not in init.toolTip()
