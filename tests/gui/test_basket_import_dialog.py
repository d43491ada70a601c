"""Baskets in the window: the import dialog's basket role and report, and the training form's split
starting on last-basket for a dataset with a basket column (and on leave-one-out without one)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from recstudio.gui.views.import_dialog import NONE
from recstudio.runs import ImportRequest, import_or_reuse

from tests.gui.test_start_import import check, import_checked

WARNING = "Leave-one-out would split baskets"


def test_the_dialog_guesses_the_basket_role_and_reports_baskets(qtbot, window):
    dialog = window.open_sample()
    combo = dialog.role_combos["basket"]
    assert combo.currentText() == "invoice_no"
    assert "invoice" in combo.toolTip()
    assert dialog.roles().basket == "invoice_no"
    header = dialog.preview_table.horizontalHeaderItem(list(dialog.preview.columns).index("invoice_no")).text()
    assert header.endswith("→ basket")
    check(qtbot, dialog)
    text = dialog.report_label.text()
    assert "Baskets: <b>4,622</b> (values of “invoice_no”), 17.1 events each (median 13, max 100)" in text
    assert "<b>78,755</b> events share their basket" in text and "<b>95%</b> of users" in text
    assert WARNING in text and "--split last-basket" in text
    assert text.index(WARNING) < text.index("Baskets:")  # under the headline, seen without scrolling
    record = import_checked(qtbot, dialog)
    assert record.report["baskets"] == 4622 and record.report["columns"]["basket"] == "invoice_no"
    again = window.open_sample()  # the stored report says the same
    check(qtbot, again)
    text = again.report_label.text()
    assert text.index("Already imported") < text.index("rows read") < text.index(WARNING) < text.index("Baskets:")
    again.reject()


def test_no_basket_column_chosen_in_the_dialog(qtbot, window):
    dialog = window.open_sample()
    dialog.role_combos["basket"].setCurrentText(NONE)
    assert dialog.roles().basket == ""  # "(none)" where the importer would guess one: said so
    check(qtbot, dialog)
    text = dialog.report_label.text()
    assert "Baskets: <b>4,592</b> (events of a user sharing a time)," in text  # two invoices can share a time
    record = import_checked(qtbot, dialog)
    assert "basket" not in record.report["columns"]


def _train_page(window, qtbot):
    window.show_page("train")
    page = window.pages["train"]
    qtbot.waitUntil(lambda: "detecting" not in page.device_combo.itemText(0), timeout=30_000)
    return page


def test_the_training_form_starts_on_the_datasets_default_split(qtbot, window, ml100k):
    from recstudio.data import sample_paths

    workspace = window.context.workspace
    shop, _ = import_or_reuse(workspace, ImportRequest(str(sample_paths()[0])))
    movies, _ = import_or_reuse(workspace, ImportRequest(str(ml100k[0])))
    page = _train_page(window, qtbot)
    window.context.set_dataset(shop)
    assert page.split_combo.currentData() == "last-basket"
    assert "Basket column <b>invoice_no</b>" in page.dataset_label.text()
    window.context.set_dataset(movies)  # shared times but no basket column: leave-one-out, and why
    assert page.split_combo.currentData() == "leave-one-out"
    assert "For 44% of users the last two events share a time" in page.dataset_label.text()
    # the analyst's choice holds until another dataset is opened
    page.split_combo.setCurrentIndex(page.split_combo.findData("temporal"))
    assert page.build_request().split == "temporal"
    window.context.set_dataset(shop)
    assert page.build_request().split == "last-basket"


def test_training_from_the_form_says_why_its_split(qtbot, window, tmp_path):
    """A run started from the form on a shop log with invoices: the log says the split and why."""
    rows = "".join(f"c{u},p{(u + 3 * b + k) % 17},{u}-{b},{1_300_000_000 + 86_400 * (4 * u + b)}\n"
                   for u in range(40) for b in range(4) for k in range(3))
    path = tmp_path / "shop.csv"
    path.write_text("customer_id,stock_code,invoice_no,invoice_date\n" + rows)
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(path)))
    page = _train_page(window, qtbot)
    window.context.set_dataset(record)
    page.select_model("pop")
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.is_training, timeout=60_000)
    log = page.log.toPlainText()
    assert "Split: last-basket (the dataset has a basket column 'invoice_no')" in log
    run = window.context.workspace.list_runs()[-1]
    assert run.split == "last-basket" and run.status == "completed"
    assert "Recall@10" in run.metrics["test"]
