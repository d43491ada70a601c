"""The bad-input corpus through the window's import dialog: every file either checks cleanly or shows the
importer's own message (never "Something went wrong"), the dialog stays usable, and nothing is saved."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from recstudio.gui.views.import_dialog import ERROR_STYLE
from tests.test_bad_inputs import CASES, write_case

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
