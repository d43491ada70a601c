"""GUI fixtures: a real main window on a throwaway workspace and settings file; no thread may outlive a test."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QSettings, QThreadPool


@pytest.fixture(autouse=True)
def no_threads_left_behind(qapp):
    """Fail a test that leaves a worker running (napari's habit)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    pool = QThreadPool.globalInstance()
    done = pool.waitForDone(10000)
    # Qt pool threads that touched `threading` appear as _DummyThread; the pool check above covers them.
    # tqdm_monitor: tqdm's own daemon, started once per process by a slow progress bar in a library
    leftover = [t.name for t in threading.enumerate()
                if t.ident not in before and t.is_alive() and t.name not in ("recstudio-warmup", "tqdm_monitor")
                and not isinstance(t, threading._DummyThread)]
    assert done and pool.activeThreadCount() == 0, "a Qt worker thread was still running after the test"
    assert not leftover, f"threads still running after the test: {leftover}"


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, tmp_path, settings):
    from recstudio.gui.app import create_window

    win = create_window(str(tmp_path / "workspace.sqlite"), settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    if win.context.runner.busy:
        win.context.runner.stop_and_wait()
    for page in win.pages.values():  # a page's own background work (the inspector's explanations)
        if hasattr(page, "shutdown"):
            page.shutdown()
