"""`recstudio --self-test`: open the window offscreen on a throwaway workspace, load the bundled sample,
train one tiny SASRec step from the training page, close; exit 0, or 1 with a message saying what failed.

It checks that an installed or packaged RecStudio has what it needs (Qt and its platform plugin, the
icons, the sample, pandas/pyarrow, torch, the worker thread) without touching the analyst's workspace
or settings.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

DEADLINE_S = 600.0


class SelfTestFailed(Exception):
    pass


def main() -> int:
    started = time.perf_counter()
    from recstudio.gui.platform_check import platform_problem

    chosen = os.environ.get("QT_QPA_PLATFORM")
    desktop = "" if chosen else platform_problem()  # what `recstudio gui` would meet ("": not asked)
    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no display needed, none used
    try:
        _check_platforms(desktop)
        with tempfile.TemporaryDirectory(prefix="recstudio-self-test-") as folder:
            _run(Path(folder), started)
    except Exception as exc:  # every failure becomes one line and a non-zero exit
        print(f"recstudio self-test: FAILED: {type(exc).__name__ + ': ' if not isinstance(exc, SelfTestFailed) else ''}"
              f"{exc}", file=sys.stderr)
        return 1
    print(f"recstudio self-test: OK ({time.perf_counter() - started:.1f} s)")
    return 0


def _check_platforms(desktop) -> None:
    """The platform the self-test draws on must load; the desktop one must too where a display exists
    (missing system libraries fail the test; having no display at all is only said)."""
    from recstudio.gui.platform_check import platform_problem

    here = platform_problem()
    if here is not None:
        raise SelfTestFailed(here.message())
    if desktop is None:
        _say("the window can open on this display")
    elif desktop == "":
        return
    elif desktop.reason in ("libraries", "no-plugin"):
        raise SelfTestFailed(desktop.message())
    else:
        _say(f"no display here, so the window is tested offscreen ({desktop.reason})")


def _say(text: str) -> None:
    print(f"self-test: {text}", flush=True)


def _quiet_offscreen_notes(mode, context, message) -> None:
    # the offscreen platform says, for every top-level window, that it cannot resize it to its hints
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def _run(folder: Path, started: float) -> None:
    from PySide6.QtCore import QCoreApplication, QSettings, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_quiet_offscreen_notes)

    from recstudio import __version__
    from recstudio.gui.app import APPLICATION, ORGANISATION, set_icon, create_window
    from recstudio.resources import icon_files, resources_dir

    _say(f"RecStudio {__version__}, Python {sys.version.split()[0]}, resources in {resources_dir()}"
         + (" (packaged)" if getattr(sys, "frozen", False) else ""))
    QCoreApplication.setOrganizationName(ORGANISATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    if not icon_files():
        raise SelfTestFailed(f"no application icon in {resources_dir() / 'icons'}")
    set_icon(app)
    if app.windowIcon().isNull():
        raise SelfTestFailed("the application icon did not load")
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = create_window(str(folder / "workspace.sqlite"), settings)
    window.show()
    _pump(app, lambda: window.isVisible(), "the window to show", started)
    _say(f"window open ({app.platformName()} platform), {len(window.pages)} pages")
    try:
        _import_sample(app, window, started)
        _train_one_step(app, window, started)
    finally:
        window.context.runner.stop_and_wait()  # a job still running would make closing ask first
        window.close()  # saves settings and closes the workspace, as quitting does
        _pump(app, lambda: not window.context.runner.busy, "the window to close", started)
        app.processEvents()
    _say("window closed")


def _import_sample(app, window, started: float) -> None:
    """The sample through the import dialog's two background jobs: check (parse), then save."""
    from recstudio.data import sample_paths
    from recstudio.gui import tasks
    from recstudio.runs import ImportRequest

    interactions, catalogue = sample_paths()
    request = ImportRequest(str(interactions), str(catalogue))
    context = window.context
    parsed = _job(app, context, "Import", tasks.import_task, request, str(context.workspace_path), started=started)
    record = _job(app, context, "Save", tasks.save_task, parsed, request, str(context.workspace_path),
                  started=started)
    context.set_dataset(record)
    _say(f"sample imported: {record.n_events:,} events, {record.n_users:,} users, {record.n_items:,} items")


def _train_one_step(app, window, started: float) -> None:
    view = window.pages["train"]
    window.show_page("train")
    view.select_model("sasrec")
    form = view.model_form.editors
    for name, value in (("hidden", 16), ("layers", 1), ("heads", 1), ("max_len", 10)):
        if name in form:
            form[name].setValue(value)
    view.epochs_spin.setValue(1)
    view.max_steps_spin.setValue(1)
    view.batch_spin.setValue(32)
    cpu = view.device_combo.findData("cpu")
    if cpu >= 0:
        view.device_combo.setCurrentIndex(cpu)
    if not view.start_training():
        raise SelfTestFailed(f"training did not start: {view.status_label.text()}")
    _pump(app, lambda: not view.is_training, "the training step", started)
    runs = window.context.workspace.list_runs()
    if not runs or runs[-1].status != "completed":
        detail = runs[-1].error if runs else view.status_label.text()
        raise SelfTestFailed(f"the training run did not complete: {detail}")
    run = runs[-1]
    ndcg = ((run.metrics or {}).get("test") or {}).get("NDCG@10")
    _say(f"trained SASRec one step on the CPU: run {run.id} {run.status}, test NDCG@10 {ndcg:.4f}")


def _job(app, context, name, job, *args, started: float):
    """Run one background job through the window's job runner and return its result (or raise its error)."""
    outcome: dict = {}
    runner = context.runner
    on_result = lambda n, value: outcome.setdefault("result", value) if n == name else None  # noqa: E731
    on_error = lambda n, exc: outcome.setdefault("error", exc) if n == name else None  # noqa: E731
    runner.result.connect(on_result)
    runner.error.connect(on_error)
    try:
        if not runner.start(name, job, *args):
            raise SelfTestFailed(f"{name} could not start: another job is running")
        _pump(app, lambda: bool(outcome) and not runner.busy, name.lower(), started)
    finally:
        runner.result.disconnect(on_result)
        runner.error.disconnect(on_error)
    if "error" in outcome:
        raise SelfTestFailed(f"{name} failed: {outcome['error']}")
    return outcome["result"]


def _pump(app, done, what: str, started: float) -> None:
    """Process events until ``done()`` (the GUI thread keeps running while a worker trains)."""
    while not done():
        if time.perf_counter() - started > DEADLINE_S:
            raise SelfTestFailed(f"timed out after {DEADLINE_S:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.01)
