"""Resume from the runs page, and a run that fails (NaN loss, GPU out of memory) in the window: an error
dialog with the message, the run recorded as failed, and the window still usable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from recstudio.gui.views.runs import COLUMN_INDEX
from recstudio.gui.views.training import LIVE

TIMEOUT_MS = 120_000
MODEL = {"hidden": 16, "layers": 1, "max_len": 10}


@pytest.fixture
def dataset(window, tmp_path):
    """A small log of users walking through the items (SASRec learns it in an epoch or two)."""
    from recstudio.runs import ImportRequest, import_or_reuse

    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{(s + t) % 30}", 1_600_000_000 + 60 * t + u)
            for u, s in enumerate(rng.integers(30, size=120)) for t in range(15)]
    path = tmp_path / "walks.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(path, index=False)
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(path)))
    window.context.set_dataset(record)
    return record


def cancelled_after_first_epoch(window, dataset) -> int:
    """A run stopped after its first epoch, as Stop in the window or Ctrl-C would leave it."""
    from recstudio.runs import TrainRequest, train_run
    from recstudio.training import Validated

    stop = {"now": False}
    gen = train_run(TrainRequest(model="sasrec", dataset=dataset.id, model_config=MODEL,
                                 train_config={"epochs": 3, "batch_size": 64, "patience": 9}, device="cpu",
                                 workspace=str(window.context.workspace_path)), cancelled=lambda: stop["now"])
    while True:
        try:
            event = next(gen)
        except StopIteration as done:
            assert done.value.status == "cancelled"
            return done.value.run_id
        if isinstance(event, Validated):
            stop["now"] = True


def select(runs_view, run_id):
    runs_view.refresh()
    runs_view.select_runs([run_id])
    assert runs_view.selected_run_ids() == [run_id]


def test_resume_continues_a_stopped_run_on_the_training_page(window, dataset, qtbot):
    run_id = cancelled_after_first_epoch(window, dataset)
    window.show_page("runs")
    runs = window.pages["runs"]
    select(runs, run_id)
    assert runs.resume_button.isEnabled() and "end of epoch 1" in runs.resume_button.toolTip()
    train = window.pages["train"]
    before = train.loss_curves.point_count(LIVE)

    qtbot.mouseClick(runs.resume_button, Qt.MouseButton.LeftButton)
    assert window.current_page() == "train" and train.is_training
    assert train.loss_curves.point_count(LIVE) > before  # the curve so far is drawn at once
    assert not runs.resume_button.isEnabled()  # one job at a time
    qtbot.waitUntil(lambda: not train.is_training, timeout=TIMEOUT_MS)

    run = window.context.workspace.run(run_id)
    assert run.status == "completed" and run.epochs == 3
    assert "Resuming run" in train.log.toPlainText() and "Resuming after epoch 1" in train.log.toPlainText()
    steps = [p.step for p in window.context.workspace.curve(run_id) if p.kind == "train"]
    assert steps == list(range(1, len(steps) + 1))  # no step twice, none missing
    assert train.loss_curves.point_count(LIVE) == len(steps)
    select(runs, run_id)
    assert runs.proxy.index(runs.row_of(run_id), COLUMN_INDEX["Status"]).data() == "Completed"
    assert not runs.resume_button.isEnabled()  # a completed run has nothing to resume


def test_resume_is_off_for_runs_that_cannot_resume(window, dataset, qtbot):
    ws = window.context.workspace
    early = ws.create_run(dataset.id, "sasrec", {"model": MODEL, "train": {}}, split="leave-one-out")
    ws.finish_run(early.id, status="cancelled")  # stopped before an epoch ended: no saved state
    runs = window.pages["runs"]
    window.show_page("runs")
    select(runs, early.id)
    assert not runs.resume_button.isEnabled()
    assert runs.resume_selected() is False
    assert window.pages["train"].resume_training(early.id) is False
    assert "cannot be resumed" in window.pages["train"].status_label.text()


@pytest.mark.parametrize("failure", ["nan", "oom"])
def test_a_failing_run_shows_the_error_and_leaves_the_window_usable(failure, window, dataset, qtbot, monkeypatch):
    from recstudio.models.sasrec import SASRec

    def broken_loss(self, batch):
        if failure == "oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return torch.tensor(float("nan"), requires_grad=True)

    monkeypatch.setattr(SASRec, "loss", broken_loss)
    window.show_page("train")
    view = window.pages["train"]
    qtbot.waitUntil(lambda: "detecting" not in view.device_combo.itemText(0), timeout=30_000)
    view.select_model("sasrec")
    view.model_form.editors["hidden"].setValue(16)
    view.device_combo.setCurrentIndex(view.device_combo.findData("cpu"))
    assert view.start_training()
    qtbot.waitUntil(lambda: not view.is_training, timeout=TIMEOUT_MS)

    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
               and w.objectName() == "errorDialog"]
    assert len(dialogs) == 1
    text = dialogs[0].text()
    assert ("out of memory" in text and "batch size" in text) if failure == "oom" else "loss became nan" in text
    assert dialogs[0].icon() == QMessageBox.Icon.Warning and not dialogs[0].detailedText()  # a message, not a bug
    dialogs[0].accept()

    assert "Training failed" in view.status_label.text()
    [run] = window.context.workspace.list_runs()
    assert run.status == "failed" and run.error == text
    # the window is alive: controls are back, other pages open, and training can start again
    assert view.start_button.isEnabled() and view.model_combo.isEnabled() and not view.stop_button.isEnabled()
    window.show_page("runs")
    runs = window.pages["runs"]
    assert runs.proxy.index(runs.row_of(run.id), COLUMN_INDEX["Status"]).data() == "Failed"
    monkeypatch.undo()
    window.show_page("train")
    view.max_steps_spin.setValue(3)
    assert view.start_training()
    qtbot.waitUntil(lambda: not view.is_training, timeout=TIMEOUT_MS)
    assert window.context.workspace.list_runs()[-1].status == "completed"
