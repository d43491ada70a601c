"""`recstudio gui --sample` (the README's first command) opens the window on the bundled sample."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from recstudio import cli
from recstudio.gui import app as gui_app
from recstudio.gui.views.import_dialog import ImportDialog


def test_gui_sample_opens_the_import_dialog_on_the_sample(qtbot, tmp_path, settings, monkeypatch):
    opened = {}
    create = gui_app.create_window

    def create_with_test_settings(workspace=None, _settings=None):
        opened["window"] = window = create(workspace, settings)
        return window

    def exec_until_the_dialog_shows(self=None):
        qtbot.waitUntil(lambda: opened["window"].findChild(ImportDialog) is not None, timeout=30_000)
        dialog = opened["window"].findChild(ImportDialog)
        opened["dialog_path"] = dialog.path
        dialog.reject()
        opened["window"].close()
        return 0

    monkeypatch.setattr(gui_app, "create_window", create_with_test_settings)
    monkeypatch.setattr(gui_app, "warm_up_in_background", lambda: None)
    monkeypatch.setattr(QApplication, "exec", exec_until_the_dialog_shows)
    assert cli.main(["gui", "--sample", "--workspace", str(tmp_path / "w.sqlite")]) == 0
    assert opened["window"].context.workspace_path == tmp_path / "w.sqlite"
    assert opened["dialog_path"].endswith("purchases.csv.gz")


def test_gui_help_is_the_windows_own():
    with pytest.raises(SystemExit) as exit_:
        cli.main(["gui", "--help"])
    assert exit_.value.code == 0
