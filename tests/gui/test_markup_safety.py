"""Strings from the data (file and column names, ids, titles) show as typed in the window, never as
markup: rich-text labels escape them and error dialogs are plain text."""

from __future__ import annotations

from PySide6.QtCore import Qt

from recstudio.errors import RecStudioError

HOSTILE = "<img src='http://evil.example/x.png'><b>bold</b> & co"


def test_a_dataset_name_is_shown_as_text(window, tmp_path):
    from recstudio.runs import ImportRequest, import_or_reuse

    log = tmp_path / "log.csv"
    log.write_text("user,item,time\nu1,a,2021-01-01\nu1,b,2021-01-02\nu2,a,2021-01-03\n")
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(log), name=HOSTILE))
    window.context.set_dataset(record)
    label = window.pages["train"].dataset_label
    assert "<img" not in label.text() and "&lt;img src=&#x27;http://evil.example/x.png&#x27;&gt;" in label.text()
    assert "&amp; co" in label.text()


def test_error_dialogs_are_plain_text(window):
    from recstudio.gui.context import show_error

    box = show_error(window, "Import", RecStudioError(f"No user column in {HOSTILE}.csv"))
    assert box.textFormat() == Qt.TextFormat.PlainText and box.text() == f"No user column in {HOSTILE}.csv"
    box.accept()
    bug = show_error(window, "Training", ValueError(HOSTILE))
    assert bug.textFormat() == Qt.TextFormat.PlainText and HOSTILE in bug.text()
    bug.accept()


def test_the_import_report_escapes_what_the_file_says():
    from types import SimpleNamespace

    from recstudio.data import ImportReport
    from recstudio.gui.views.import_dialog import report_html

    report = ImportReport(rows_read=3, events=3, users=2, items=2, columns={"user": HOSTILE},
                          warnings=[f"column {HOSTILE} is odd"], dropped={HOSTILE: 1})
    html = report_html(SimpleNamespace(existing=None, dataset=SimpleNamespace(report=report)))
    assert "<img" not in html and "&lt;img" in html
