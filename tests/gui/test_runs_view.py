"""The runs page: the table (sort, filter, status in words), curves of selected runs, inspector, delete, CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QMessageBox

from recstudio.gui.views.runs import COLUMN_INDEX, export_runs_csv

ML100K = Path("/work/shared/datasets/ml-100k")


@pytest.fixture
def dataset(window):
    from recstudio.runs import ImportRequest, import_or_reuse

    if not (ML100K / "interactions.csv").exists():
        pytest.skip("the ml-100k files are not here")
    record, _ = import_or_reuse(window.context.workspace,
                                ImportRequest(str(ML100K / "interactions.csv"), str(ML100K / "items.csv")))
    window.context.set_dataset(record)
    return record


def record_run(workspace, dataset, model, config, *, status="completed", ndcg=None, seconds=None, steps=0):
    """A run as the training loop records it: created, its curve appended, then finished."""
    run = workspace.create_run(dataset.id, model, {"model": config, "train": {"epochs": 2}}, split="leave-one-out")
    points = [{"kind": "train", "step": s, "epoch": 1, "loss": 8.0 - 0.1 * s, "wall_time": 0.5 * s, "metrics": {}}
              for s in range(1, steps + 1)]
    if steps:
        points.append({"kind": "valid", "step": steps, "epoch": 1, "loss": None, "wall_time": 0.5 * steps,
                       "metrics": {"NDCG@10": ndcg or 0.0, "HR@10": 2 * (ndcg or 0.0)}})
        workspace.append_curve(run.id, points)
    metrics = {"test": {"NDCG@10": ndcg, "HR@10": 2 * ndcg, "MRR@10": ndcg / 2}} if ndcg is not None else {}
    workspace.finish_run(run.id, status=status, metrics=metrics, seconds=seconds, epochs=1 if steps else 0,
                         error="CUDA out of memory" if status == "failed" else None)
    return run.id


@pytest.fixture
def runs(window, dataset):
    """Four runs with chosen metrics and durations (numbers whose text sorts differently)."""
    ws = window.context.workspace
    sasrec = {"hidden": 64, "layers": 2, "heads": 2, "max_len": 50, "dropout": 0.2}
    ids = {
        "a": record_run(ws, dataset, "sasrec", sasrec, ndcg=0.05, seconds=9.0, steps=30),
        "b": record_run(ws, dataset, "sasrec", {**sasrec, "hidden": 128}, ndcg=0.5, seconds=70.0, steps=40),
        "c": record_run(ws, dataset, "itemknn", {"neighbours": 100, "shrink": 10.0, "max_len": 100},
                        ndcg=0.1, seconds=600.0, steps=0),
        "d": record_run(ws, dataset, "sasrec", sasrec, status="failed", seconds=1.0, steps=3),
    }
    window.context.runs_changed.emit()
    return ids


@pytest.fixture
def view(window, runs):
    window.show_page("runs")
    return window.pages["runs"]


def column(view, title):
    return [view.proxy.index(r, COLUMN_INDEX[title]).data() for r in range(view.proxy.rowCount())]


def shown_ids(view):
    return [int(v) for v in column(view, "Run")]


def click_header(qtbot, view, title):
    header = view.table.horizontalHeader()
    section = COLUMN_INDEX[title]
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def test_table_shows_runs_in_words(view, runs):
    assert shown_ids(view) == sorted(runs.values(), reverse=True)  # newest first
    row = view.row_of(runs["b"])
    cell = lambda title: view.proxy.index(row, COLUMN_INDEX[title]).data()
    assert cell("Model") == "sasrec" and cell("Dataset") == "interactions"
    assert cell("Settings") == "hidden 128 · layers 2 · heads 2 · max_len 50"
    assert cell("Status") == "Completed" and cell("Duration") == "1 min 10 s" and cell("Epochs") == "1"
    assert (cell("HR@10"), cell("NDCG@10"), cell("MRR@10")) == ("1.0000", "0.5000", "0.2500")
    knn = view.row_of(runs["c"])
    assert view.proxy.index(knn, COLUMN_INDEX["Settings"]).data() == "neighbours 100 · shrink 10 · max_len 100"

    failed = view.proxy.index(view.row_of(runs["d"]), COLUMN_INDEX["Status"])
    assert failed.data() == "Failed" and failed.data(Qt.ItemDataRole.ToolTipRole) == "CUDA out of memory"
    colour = failed.data(Qt.ItemDataRole.ForegroundRole).color()
    assert colour.red() > 150 and colour.green() < 60  # red
    done = view.proxy.index(view.row_of(runs["a"]), COLUMN_INDEX["Status"])
    assert done.data(Qt.ItemDataRole.ForegroundRole).color() == QColor("#15803d")  # green
    assert view.proxy.index(view.row_of(runs["d"]), COLUMN_INDEX["NDCG@10"]).data() == "—"


def test_sorting_by_clicking_headers_is_numeric(qtbot, view, runs):
    click_header(qtbot, view, "NDCG@10")
    assert view.table.horizontalHeader().sortIndicatorSection() == COLUMN_INDEX["NDCG@10"]
    first = view.table.horizontalHeader().sortIndicatorOrder()
    click_header(qtbot, view, "NDCG@10")
    orders = {first: None, view.table.horizontalHeader().sortIndicatorOrder(): None}
    assert len(orders) == 2  # the second click turned the order round

    view.table.sortByColumn(COLUMN_INDEX["NDCG@10"], Qt.SortOrder.AscendingOrder)
    assert column(view, "NDCG@10") == ["0.0500", "0.1000", "0.5000", "—"]  # no score: last
    view.table.sortByColumn(COLUMN_INDEX["NDCG@10"], Qt.SortOrder.DescendingOrder)
    assert column(view, "NDCG@10") == ["0.5000", "0.1000", "0.0500", "—"]  # still last
    # durations sort by seconds, not by their text ("1 min 10 s" < "9.0 s" as text)
    view.table.sortByColumn(COLUMN_INDEX["Duration"], Qt.SortOrder.AscendingOrder)
    assert shown_ids(view) == [runs["d"], runs["a"], runs["b"], runs["c"]]


def test_filter_matches_model_dataset_and_status(qtbot, view, runs):
    qtbot.keyClicks(view.filter_edit, "itemknn")
    assert shown_ids(view) == [runs["c"]]
    assert view.count_label.text() == "1 of 4 runs"
    view.filter_edit.setText("FAILED")
    assert shown_ids(view) == [runs["d"]]
    view.filter_edit.setText("sasrec completed")
    assert sorted(shown_ids(view)) == sorted([runs["a"], runs["b"]])
    view.filter_edit.setText("interactions")
    assert len(shown_ids(view)) == 4 and view.count_label.text() == "4 runs"
    view.filter_edit.setText("nothing like this")
    assert shown_ids(view) == [] and not view.export_button.isEnabled()


def test_selecting_runs_overlays_their_curves(qtbot, view, runs):
    assert view.loss_curves.run_keys() == [] and view.hint.isVisibleTo(view)
    view.select_runs([runs["a"], runs["b"]])
    assert sorted(view.loss_curves.run_keys()) == sorted([runs["a"], runs["b"]])
    assert view.loss_curves.point_count(runs["a"]) == 30 and view.loss_curves.point_count(runs["b"]) == 40
    epochs, ndcg = view.validation_plot.data(runs["b"], "NDCG@10")
    assert list(epochs) == [1.0] and list(ndcg) == [0.5]
    assert not view.open_button.isEnabled() and view.delete_button.isEnabled()
    raw_b = view.loss_curves.curve_items(runs["b"])

    view.select_runs([runs["b"]])
    assert view.loss_curves.run_keys() == [runs["b"]]
    assert view.loss_curves.curve_items(runs["b"]) == raw_b  # kept, not re-created
    assert not view.hint.isVisibleTo(view)
    with qtbot.waitSignal(view.context.run_selected) as signal:
        qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    assert signal.args == [runs["b"]]


def test_delete_asks_first(qtbot, window, view, runs):
    view.select_runs([runs["c"]])
    qtbot.mouseClick(view.delete_button, Qt.MouseButton.LeftButton)
    box = view.findChild(QMessageBox, "confirmDelete")
    assert box is not None and box.isVisible() and f"run {runs['c']}" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert runs["c"] in [r.id for r in window.context.workspace.list_runs()]

    box = view.delete_selected()
    box.button(QMessageBox.StandardButton.Yes).click()
    assert runs["c"] not in [r.id for r in window.context.workspace.list_runs()]
    assert runs["c"] not in shown_ids(view) and len(shown_ids(view)) == 3
    assert view.loss_curves.run_keys() == []


def test_export_writes_the_table_as_shown(tmp_path, view, runs):
    view.filter_edit.setText("sasrec")
    view.table.sortByColumn(COLUMN_INDEX["NDCG@10"], Qt.SortOrder.DescendingOrder)
    path = tmp_path / "runs.csv"
    assert export_runs_csv(view.visible_rows(), path) == 3
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["Run"]) for r in rows] == [runs["b"], runs["a"], runs["d"]]
    assert float(rows[0]["Test NDCG@10"]) == 0.5 and rows[2]["Test NDCG@10"] == ""
    assert rows[0]["Duration (s)"] == "70.0" and rows[0]["Status"] == "completed"
    assert rows[0]["Settings"] == "hidden 128 · layers 2 · heads 2 · max_len 50"


def test_refreshes_when_runs_change(window, view, dataset, runs):
    new = record_run(window.context.workspace, dataset, "pop", {}, ndcg=0.02, seconds=0.5)
    assert new not in shown_ids(view)
    window.context.runs_changed.emit()
    assert shown_ids(view)[0] == new
    assert view.proxy.index(0, COLUMN_INDEX["Settings"]).data() == "—"
