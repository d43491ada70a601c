"""The bad-input corpus through the window's import dialog: every file either checks cleanly or shows the
importer's own message (never "Something went wrong"), the dialog stays usable, and nothing is saved; a path
that is no readable file is named as the command line names it; the report says how text and times were read."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from recstudio.gui.views.import_dialog import ERROR_STYLE
from tests.test_bad_inputs import CASES, FILE_CASES, table, write_case

# the folder case opens a modal "not a file" box; options given on the command line have their own widgets.
# Every failing file, and every eighth file that imports (the core test checks those in detail).
_USABLE = [c for c in CASES if c.data is not None and not c.args]
#: Where the dialog differs from the command line: there the catalogue key is a picker that falls back to
#: the first column, and the report then says how few catalogue rows matched
DIALOG_EXPECT = {"catalogue-without-key-column": "ok"}
DIALOG_CASES = [c for c in _USABLE if c.expect == "error"] + [c for c in _USABLE if c.expect == "ok"][::8]


def _close_error_boxes() -> list[str]:
    texts = []
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.isVisible():
            texts.append(widget.text())
            widget.close()
    return texts


def test_every_corpus_file_checks_or_shows_its_message(window, qtbot, tmp_path):
    outcomes = {}
    for n, case in enumerate(DIALOG_CASES):
        folder = tmp_path / str(n)
        folder.mkdir()
        path, catalogue = write_case(case, folder)
        dialog = window.open_file(str(path), str(catalogue) if catalogue else None)
        if dialog.check_button.isEnabled():
            assert dialog.check()
            qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
        boxes = _close_error_boxes()
        if case.catalogue is not None and dialog.catalogue_status.styleSheet() == ERROR_STYLE:
            # a catalogue that cannot be read is said beside it, and checking waits for a usable one
            assert not dialog.check_button.isEnabled() or dialog.error_label.isVisible(), case.name
            outcomes[case.name] = ("error", dialog.catalogue_status.text())
        elif not dialog.error_label.isVisible() and not dialog.check_button.isEnabled():
            # no user or item column could be guessed: the dialog asks for it before any check
            hint = dialog.roles_hint.text()
            assert hint.startswith("Choose the") and dialog.roles_hint.isVisible(), (case.name, hint)
            outcomes[case.name] = ("error", f"{hint} (no user or item column)")
        elif dialog.error_label.isVisible():
            message = dialog.error_label.text()
            assert "Something went wrong" not in message and not any("bug" in b for b in boxes), (case.name, message)
            outcomes[case.name] = ("error", message)
            assert not dialog.import_button.isEnabled() and dialog.close_button.isEnabled()
        else:
            assert dialog.check_result is not None and dialog.import_button.isEnabled(), case.name
            outcomes[case.name] = ("ok", dialog.check_result.dataset.n_events)
        dialog.reject()
        assert not window.context.runner.busy
    for case in DIALOG_CASES:
        kind, detail = outcomes[case.name]
        assert kind == DIALOG_EXPECT.get(case.name, case.expect), (case.name, detail)
        if kind == "error" and not detail.endswith("(no user or item column)"):
            assert case.message.lower() in detail.lower(), (case.name, detail)
        elif case.events is not None:
            assert detail == case.events, (case.name, detail)
    assert window.context.workspace.list_datasets() == []  # checking saves nothing


#: Paths that are no readable file (the wide files are the command line's to check: they take seconds)
_NOT_FILES = [case for case in FILE_CASES if case[2] is not None and not case[0].startswith("wide")]


@pytest.mark.parametrize("name,make,message", _NOT_FILES, ids=[c[0] for c in _NOT_FILES])
def test_a_path_that_is_no_readable_file_shows_the_importers_message(window, qtbot, tmp_path, monkeypatch,
                                                                      name, make, message):
    path = make(tmp_path, monkeypatch)
    assert window.open_file(str(path)) is None  # no dialog, and nothing waits on the pipe
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and box.isVisible()
    assert message in box.text().lower() and box.icon() == QMessageBox.Icon.Warning, box.text()
    box.close()
    assert window.context.workspace.list_datasets() == []


def test_the_report_shows_the_encoding_and_the_timestamp_unit(window, qtbot, tmp_path):
    path = tmp_path / "windows-export.csv"
    rows = [("u1", "“i1” café", "1609459200000"), ("u1", "i2", "1609545600000"), ("u2", "“i1” café", "1609632000000")]
    path.write_bytes(table(rows).encode("cp1252"))
    dialog = window.open_file(str(path))
    assert "Windows-1252" in dialog.findChild(QLabel, "formatLabel").text()
    assert dialog.check()
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    report = dialog.report_label.text()
    assert "Text: Windows-1252" in report and "Times: “timestamp” in epoch milliseconds" in report, report
    assert set(dialog.check_result.dataset.item_ids) == {"“i1” café", "i2"}
    dialog.reject()
