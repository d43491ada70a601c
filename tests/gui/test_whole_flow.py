"""The whole flow as an analyst does it, in one window: open the bundled sample, import it, train
SASRec for one short epoch while the loss curve draws, find the run in the runs table with its
metrics, and read one customer's recommendations in the inspector."""

from __future__ import annotations

from PySide6.QtCore import Qt

from recstudio.gui.views.import_dialog import ImportDialog
from recstudio.gui.views.runs import COLUMN_INDEX
from recstudio.gui.views.training import LIVE

TIMEOUT_MS = 120_000


def test_sample_to_recommendations(qtbot, window):
    start = window.pages["start"]
    qtbot.mouseClick(start.sample_button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(ImportDialog)
    assert dialog is not None and dialog.isVisible()

    qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=TIMEOUT_MS)
    assert "1,497" in dialog.report_label.text()
    with qtbot.waitSignal(dialog.imported, timeout=TIMEOUT_MS):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert window.current_page() == "data"
    assert window.pages["data"].summary_values["items"].text() == "2,631"

    window.show_page("train")
    train = window.pages["train"]
    qtbot.waitUntil(lambda: "detecting" not in train.device_combo.itemText(0), timeout=30_000)
    train.select_model("sasrec")
    train.model_form.editors["hidden"].setValue(16)
    train.epochs_spin.setValue(1)
    train.max_steps_spin.setValue(15)
    train.device_combo.setCurrentIndex(train.device_combo.findData("cpu"))
    # the sample has a basket column (invoice_no): the form starts on the last-basket split; this flow's
    # step count and inspector history are leave-one-out's, chosen here as an analyst would
    assert train.split_combo.currentData() == "last-basket"
    train.split_combo.setCurrentIndex(train.split_combo.findData("leave-one-out"))
    qtbot.mouseClick(train.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: train.loss_curves.point_count(LIVE) > 0, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not train.is_training, timeout=TIMEOUT_MS)
    assert train.loss_curves.point_count(LIVE) == 15
    assert train.validation_table.rowCount() == 1

    run = window.context.workspace.list_runs()[-1]
    assert run.status == "completed" and run.model == "sasrec"
    window.show_page("runs")
    runs = window.pages["runs"]
    row = runs.row_of(run.id)
    assert row >= 0
    ndcg = runs.proxy.index(row, COLUMN_INDEX["NDCG@10"]).data()
    assert ndcg == f"{run.metrics['test']['NDCG@10']:.4f}"

    window.show_page("inspect")
    inspector = window.pages["inspect"]
    qtbot.waitUntil(lambda: inspector.run_combo.currentData() == run.id, timeout=TIMEOUT_MS)
    users = inspector.user_table
    qtbot.waitUntil(lambda: users.model().rowCount() == 1497, timeout=TIMEOUT_MS)
    qtbot.keyClicks(inspector.user_search, "17181")
    qtbot.waitUntil(lambda: users.model().rowCount() == 1)
    rect = users.visualRect(users.model().index(0, 0))
    qtbot.mouseClick(users.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: inspector.current_user() == "17181")
    recommendations = inspector.recommendation_table
    qtbot.waitUntil(lambda: recommendations.model().rowCount() == 10, timeout=TIMEOUT_MS)
    titles = [recommendations.model().index(r, 1).data() for r in range(10)]
    history = inspector.history_table.model()
    # the sample has an invoice column, so the history is grouped by basket: 23 lines in its invoices,
    # one top-level row per invoice, each opening to its lines
    assert history.event_count() == 23 and history.grouped
    baskets = history.basket_rows()
    assert 1 <= history.rowCount() < 23 and baskets
    assert sum(history.rowCount(history.index(r, 0)) or 1 for r in range(history.rowCount())) == 23
    assert all(titles) and len(set(titles)) == 10
    inspector.k_spin.setValue(5)
    qtbot.waitUntil(lambda: recommendations.model().rowCount() == 5)
