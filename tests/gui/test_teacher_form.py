"""Distillation in the window: the training form's "Learn from a teacher…" choice (a finished run on the open
dataset), its temperature and alpha, the Split choice locked to the teacher's, and a student trained from it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.helpers import one_thread, successor_catalogue  # noqa: F401  (one_thread: an autouse fixture)

TIMEOUT_MS = 120_000
TINY = {"hidden": 16, "layers": 1, "heads": 1, "max_len": 8}


@pytest.fixture
def teacher(window, tmp_path):
    """A dataset imported and opened, and a small sasrec-lm run trained on it (leave-one-out)."""
    from recstudio.runs import ImportRequest, TrainRequest, import_or_reuse, train_run
    from recstudio.training import drive

    ws = window.context.workspace
    record, _ = import_or_reuse(ws, ImportRequest(*(str(p) for p in successor_catalogue(tmp_path, "a", seed=0))))
    run = drive(train_run(TrainRequest(
        model="sasrec-lm", dataset=record.id, model_config=TINY, device="cpu", split="leave-one-out",
        workspace=str(window.context.workspace_path), train_config={"epochs": 2, "max_steps": 20, "batch_size": 32})))
    assert run.status == "completed"
    window.context.runs_changed.emit()
    window.context.set_dataset(record)
    return record, run.run_id


@pytest.fixture
def view(window, qtbot, teacher):
    window.show_page("train")
    page = window.pages["train"]
    qtbot.waitUntil(lambda: "detecting" not in page.device_combo.itemText(0), timeout=30_000)
    return page


def test_a_student_is_trained_from_a_teacher_picked_in_the_form(window, view, teacher, qtbot):
    from recstudio.runs import RunConfig

    record, teacher_id = teacher
    picker = view.teacher_picker
    view.select_model("pop")  # counted from the data: no student
    assert not picker.isVisible() and picker.run_id() is None
    view.select_model("sasrec")
    assert picker.isVisible()
    assert [picker.combo.itemData(i) for i in range(picker.combo.count())] == [None, teacher_id]
    assert picker.run_id() is None and view.build_request().teacher is None  # "none" by default
    assert not picker.temperature.isEnabled() and not picker.alpha.isEnabled()
    view.split_combo.setCurrentIndex(view.split_combo.findData("temporal"))
    assert view.split_combo.isEnabled()

    assert picker.select_run(teacher_id)
    assert "sasrec-lm" in picker.combo.currentText()
    # the student trains on its teacher's split: set to it and locked
    assert view.split_combo.currentData() == "leave-one-out" and not view.split_combo.isEnabled()
    assert picker.temperature.isEnabled() and picker.alpha.isEnabled()
    picker.temperature.setValue(3.0)
    picker.alpha.setValue(0.7)
    view.model_form.editors["hidden"].setValue(16)
    view.model_form.editors["heads"].setValue(1)
    view.max_steps_spin.setValue(10)
    view.device_combo.setCurrentIndex(view.device_combo.findData("cpu"))
    request = view.build_request()
    assert (request.teacher, request.split, request.distill) == (teacher_id, "leave-one-out",
                                                                 {"temperature": 3.0, "alpha": 0.7})

    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    assert view.is_training
    assert not view.split_combo.isEnabled() and not picker.isEnabled()  # the form is locked while it trains
    qtbot.waitUntil(lambda: not view.is_training, timeout=TIMEOUT_MS)
    student = window.context.workspace.list_runs()[-1]
    assert student.id != teacher_id and (student.model, student.status) == ("sasrec", "completed"), student.error
    distill = RunConfig.of(student).distill
    assert (distill["teacher_run"], distill["temperature"], distill["alpha"]) == (teacher_id, 3.0, 0.7)
    assert student.split == "leave-one-out"
    # after the run the split stays locked to the teacher's; back to "none" frees it
    assert not view.split_combo.isEnabled() and picker.combo.count() == 3  # the student is a teacher now too
    assert picker.select_run(None)
    assert view.split_combo.isEnabled() and view.build_request().teacher is None


def test_a_run_started_from_another_run_learns_without_a_teacher(view, teacher):
    _record, teacher_id = teacher
    view.select_model("sasrec-lm")
    picker = view.teacher_picker
    assert picker.select_run(teacher_id) and picker.run_id() == teacher_id
    assert view.source_picker.select_run(teacher_id)  # start from that run instead
    assert picker.run_id() is None and not picker.combo.isEnabled() and view.split_combo.isEnabled()
    request = view.build_request()
    assert (request.init_from, request.teacher) == (teacher_id, None)
    assert view.source_picker.select_run(None)
    assert picker.combo.isEnabled() and picker.run_id() is None  # not picked again by itself
