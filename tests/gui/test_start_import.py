"""The start page and the import dialog, driven as an analyst would, on real files and a real workspace."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from recstudio.data import sample_paths
from recstudio.gui.views.import_dialog import (
    NONE, ImportDialog, guess_catalogue_key, parse_event_types, timestamp_format_text,
)
from recstudio.runs import ImportRequest, import_or_reuse


def check(qtbot, dialog: ImportDialog) -> None:
    qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)


def import_checked(qtbot, dialog: ImportDialog):
    with qtbot.waitSignal(dialog.imported, timeout=30000) as signal:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    return signal.args[0]


# start page -----------------------------------------------------------------------------------------
def test_start_page_lists_recent_datasets_and_opens_one(qtbot, window, ml100k):
    interactions, items = ml100k
    start = window.pages["start"]
    assert start.datasets_stack.currentWidget() is start.datasets_empty  # nothing imported yet
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(interactions), str(items)))
    window.show_page("runs")
    window.show_page("start")  # showing the page re-reads the workspace

    assert start.datasets.topLevelItemCount() == 1
    row = start.datasets.topLevelItem(0)
    assert [row.text(c) for c in range(4)] == [record.name, "943", "1,682", "100,000"]
    assert row.text(4)  # the import date

    start.datasets.setFocus()
    start.datasets.setCurrentItem(row)
    qtbot.keyClick(start.datasets, Qt.Key.Key_Return)
    assert window.context.dataset.id == record.id
    assert window.current_page() == "data"
    assert window.pages["data"].summary_values["users"].text() == "943"


def test_start_page_buttons_and_recent_files(qtbot, window, ml100k):
    interactions, _ = ml100k
    start = window.pages["start"]
    with qtbot.waitSignal(start.open_sample_requested):
        qtbot.mouseClick(start.sample_button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(ImportDialog)
    assert dialog is not None and dialog.path == str(sample_paths()[0])
    dialog.reject()
    start.browse_requested.disconnect()  # the real file dialog would block an offscreen test
    with qtbot.waitSignal(start.browse_requested):
        qtbot.mouseClick(start.open_button, Qt.MouseButton.LeftButton)

    window.context.add_recent_file(str(interactions))
    window.show_page("data")
    window.show_page("start")
    assert start.files.count() == 1
    item = start.files.item(0)
    with qtbot.waitSignal(start.open_file_requested) as signal:
        qtbot.mouseClick(start.files.viewport(), Qt.MouseButton.LeftButton,
                         pos=start.files.visualItemRect(item).center())
    assert signal.args == [str(interactions.resolve())]


# import dialog -----------------------------------------------------------------------------------
def test_import_dialog_on_movielens_checks_then_imports(qtbot, window, ml100k):
    interactions, items = ml100k
    dialog = window.open_file(str(interactions), str(items))
    assert dialog.isVisible()
    chosen = {role: combo.currentText() for role, combo in dialog.role_combos.items()}
    assert chosen == {"user": "user_id", "item": "item_id", "timestamp": "timestamp", "event": NONE,
                      "rating": "rating", "quantity": NONE, "basket": NONE}
    assert "epoch seconds" in dialog.timestamp_format_label.text()
    assert dialog.catalogue_key.currentText() == "item_id"
    assert dialog.preview_table.rowCount() == 20
    assert not dialog.import_button.isEnabled()  # nothing to import before a check

    check(qtbot, dialog)
    assert dialog.report.users == 943 and dialog.report.items == 1682
    text = dialog.report_label.text()
    assert "943" in text and "1,682" in text and "100,000" in text
    assert not dialog.progress_widget.isVisible()
    assert dialog.import_button.isEnabled()
    assert window.context.workspace.list_datasets() == []  # a check saves nothing

    record = import_checked(qtbot, dialog)
    assert (record.n_users, record.n_items, record.n_events) == (943, 1682, 100_000)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert window.context.dataset == record
    assert window.current_page() == "data"
    assert window.context.recent_files() == [str(interactions.resolve())]
    assert [r.id for r in window.context.workspace.list_datasets()] == [record.id]


def test_importing_the_same_file_again_offers_the_earlier_dataset(qtbot, window, ml100k):
    interactions, items = ml100k
    first, _ = import_or_reuse(window.context.workspace, ImportRequest(str(interactions), str(items)))
    dialog = window.open_file(str(interactions), str(items))
    check(qtbot, dialog)  # default choices = what the importer guesses: the CLI's import is reused
    assert dialog.check_result.existing is not None
    assert "Already imported" in dialog.report_label.text()
    assert dialog.import_button.text() == "Open"
    assert import_checked(qtbot, dialog).id == first.id
    assert len(window.context.workspace.list_datasets()) == 1


def test_import_dialog_on_the_bundled_sample(qtbot, window):
    dialog = window.open_sample()
    chosen = dialog.roles()
    assert (chosen.user, chosen.item, chosen.timestamp, chosen.quantity) == (
        "customer_id", "stock_code", "invoice_date", "quantity")
    assert "ISO-8601" in dialog.timestamp_format_label.text()
    assert dialog.catalogue_key.currentText() == "stock_code"
    check(qtbot, dialog)
    assert "1,497" in dialog.report_label.text()
    record = import_checked(qtbot, dialog)
    assert record.n_users == 1497
    assert window.context.dataset == record
    assert window.pages["data"].summary_values["users"].text() == "1,497"


def test_changing_an_option_after_check_asks_for_another_check(qtbot, window, ml100k):
    interactions, items = ml100k
    dialog = window.open_file(str(interactions), str(items))
    check(qtbot, dialog)
    assert dialog.import_button.isEnabled()
    dialog.role_combos["rating"].setCurrentText(NONE)
    assert not dialog.import_button.isEnabled()
    assert dialog.check_result is None
    assert "check again" in dialog.report_label.text().lower()
    check(qtbot, dialog)
    assert dialog.import_button.isEnabled()
    # "(none)" means the column is left out, not guessed again
    assert "rating" not in dialog.check_result.dataset.report.columns
    assert "rating" not in dialog.check_result.dataset.interactions.columns
    dialog.min_user_events.setValue(5)
    assert not dialog.import_button.isEnabled()


def test_user_and_item_are_required_and_distinct(qtbot, window, ml100k):
    interactions, _ = ml100k
    dialog = window.open_file(str(interactions))
    dialog.role_combos["item"].setCurrentText(NONE)
    assert not dialog.check_button.isEnabled()
    assert "item" in dialog.roles_hint.text()
    dialog.role_combos["item"].setCurrentText("user_id")
    assert not dialog.check_button.isEnabled()
    assert "both" in dialog.roles_hint.text()
    dialog.role_combos["item"].setCurrentText("item_id")
    assert dialog.check_button.isEnabled()
    dialog.role_combos["timestamp"].setCurrentText("rating")  # 1..5 reads as seconds after 1 Jan 1970
    assert "1970" in dialog.timestamp_format_label.text()
    assert "not times" in dialog.timestamp_format_label.text()


def test_a_file_without_rows_shows_the_core_message_and_cannot_be_imported(qtbot, window, tmp_path):
    empty = tmp_path / "header_only.csv"
    empty.write_text("user_id,item_id,timestamp\n")
    dialog = window.open_file(str(empty))
    assert "no data rows" in dialog.error_label.text()
    assert dialog.error_label.isVisible()
    assert not dialog.import_button.isEnabled() and not dialog.check_button.isEnabled()
    assert dialog.close_button.isEnabled()
    dialog.close_button.click()
    assert not dialog.isVisible()


def test_an_import_error_shows_the_message_and_leaves_the_dialog_usable(qtbot, window, tmp_path):
    log = tmp_path / "events.csv"
    log.write_text("user_id,item_id,event\n" + "".join(f"u{i % 7},i{i % 11},view\n" for i in range(200)))
    dialog = window.open_file(str(log))
    assert dialog.role_combos["event"].currentText() == "event"
    dialog.event_types.setText("purchase")
    check(qtbot, dialog)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None)
    box = window.findChild(QMessageBox, "errorDialog")
    assert "purchase" in box.text()
    box.close()
    assert "purchase" in dialog.error_label.text() and dialog.error_label.isVisible()
    assert dialog.check_button.isEnabled() and not dialog.import_button.isEnabled()
    assert not dialog.progress_widget.isVisible()
    dialog.event_types.setText("view")
    check(qtbot, dialog)
    assert dialog.report.events > 0 and dialog.import_button.isEnabled()


@pytest.fixture
def big_log(tmp_path):
    rng = np.random.default_rng(0)
    n = 300_000
    path = tmp_path / "big.csv"
    users, items = rng.integers(0, 20_000, n), rng.integers(0, 5_000, n)
    times = 1_600_000_000 + np.sort(rng.integers(0, 30_000_000, n))
    with open(path, "w") as f:
        f.write("user_id,item_id,timestamp\n")
        f.writelines(f"{u},{i},{t}\n" for u, i, t in zip(users.tolist(), items.tolist(), times.tolist()))
    return path


def test_cancel_during_a_check_saves_nothing_and_re_enables_the_controls(qtbot, window, big_log):
    dialog = window.open_file(str(big_log))
    qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
    assert dialog.running and dialog.progress_widget.isVisible()
    assert not dialog.check_button.isEnabled() and not dialog.role_combos["user"].isEnabled()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=30000)
    assert not dialog.running
    assert "cancelled" in dialog.status_label.text().lower()
    assert dialog.check_button.isEnabled() and dialog.role_combos["user"].isEnabled()
    assert not dialog.import_button.isEnabled() and not dialog.progress_widget.isVisible()
    assert window.findChild(QMessageBox, "errorDialog") is None  # a cancel is not an error
    assert window.context.workspace.list_datasets() == [] and window.context.dataset is None


def test_closing_the_dialog_during_a_check_drops_its_result(qtbot, window, big_log):
    dialog = window.open_file(str(big_log))
    dialog.check()
    dialog.reject()
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=30000)
    assert window.context.workspace.list_datasets() == [] and window.context.dataset is None
    assert dialog.check_result is None


def test_check_is_refused_while_another_job_runs(qtbot, window, ml100k):
    interactions, _ = ml100k

    def long_job(cancelled):
        while not cancelled():
            time.sleep(0.01)

    assert window.context.runner.start("Training", long_job)
    dialog = window.open_file(str(interactions))
    assert not dialog.check()
    assert "A job is running (Training)" in dialog.status_label.text()
    assert not dialog.running and dialog.check_button.isEnabled()
    window.context.runner.cancel()
    qtbot.waitUntil(lambda: not window.context.runner.busy)
    check(qtbot, dialog)
    assert dialog.report.users == 943


def test_catalogue_can_be_chosen_and_cleared(qtbot, window, ml100k):
    interactions, items = ml100k
    dialog = window.open_file(str(interactions))
    assert dialog.catalogue_key.count() == 0 and not dialog.catalogue_key.isEnabled()
    dialog.set_catalogue(str(items))
    assert dialog.catalogue_key.currentText() == "item_id"
    assert "title" in dialog.catalogue_status.text()
    assert dialog.request().items_path == str(items)
    dialog.set_catalogue(str(items.parent / "missing.csv"))
    assert not dialog.check_button.isEnabled()
    dialog.set_catalogue(None)
    assert dialog.check_button.isEnabled() and dialog.request().items_path is None


def test_plain_helpers():
    assert guess_catalogue_key(["id", "title"], "movie_id") == "id"
    assert guess_catalogue_key(["StockCode", "Description"], "stock_code") == "StockCode"
    assert guess_catalogue_key(["name", "price"], "sku") is None
    assert parse_event_types(" purchase, cart ,,purchase") == ("purchase", "cart")
    assert parse_event_types("  ") is None
    import pandas as pd

    text, ok = timestamp_format_text(pd.DataFrame({"t": ["2011-01-02 10:00:00"]}), "t")
    assert ok and "2 Jan 2011" in text
    assert timestamp_format_text(pd.DataFrame({"t": ["x"]}), None)[1]
