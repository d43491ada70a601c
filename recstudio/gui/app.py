"""Starting the window: `recstudio`, `recstudio gui [CSV]` and the `recstudio-gui` launcher."""

from __future__ import annotations

import gc
import sys

ORGANISATION = "RecStudio"
APPLICATION = "RecStudio"


def create_window(workspace: str | None = None, settings=None):
    """The main window on a workspace (also used by tests, with their own QSettings file)."""
    from recstudio.gui.context import AppContext
    from recstudio.gui.main_window import MainWindow

    return MainWindow(AppContext(workspace, settings))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="recstudio gui", description="Open the RecStudio window.")
    parser.add_argument("csv", nargs="?", help="a behaviour log to open in the import dialog")
    parser.add_argument("--items", help="its item catalogue")
    parser.add_argument("--sample", action="store_true", help="open the bundled sample")
    parser.add_argument("--workspace", help="workspace SQLite file")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    from recstudio.gui.platform_check import exit_if_window_cannot_open

    refused = exit_if_window_cannot_open()  # before Qt's GUI libraries load: Qt's own "no" is an abort
    if refused is not None:
        return refused

    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    from recstudio.errors import RecStudioError

    QCoreApplication.setOrganizationName(ORGANISATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    set_icon(app)
    # Started before the window is built: torch's first 0.3 s of import (loading libtorch) holds the GIL,
    # and is better spent while the window is not yet on screen than as a frozen start page.
    warm_up_in_background()
    try:
        window = create_window(args.workspace)
    except RecStudioError as exc:
        print(f"recstudio: error: {exc}", file=sys.stderr)
        return 2
    window.show()
    if args.sample:
        QTimer.singleShot(0, window.open_sample)
    elif args.csv:
        QTimer.singleShot(0, lambda: window.open_file(args.csv, args.items))
    code = app.exec()
    from recstudio.gui.jobs import wait_for_jobs

    wait_for_jobs(5000)  # a device detection or the warm-up still under way, say
    return code


def set_icon(app) -> None:
    """The window icon from the bundled PNG sizes."""
    from PySide6.QtGui import QIcon

    from recstudio.resources import icon_files

    icon = QIcon()
    for path in icon_files():  # PNG sizes need no SVG plugin, which a packaged Qt may lack
        icon.addFile(str(path))
    if not icon.isNull():
        app.setWindowIcon(icon)


def warm_up_in_background():
    """Import torch off the GUI thread while the analyst looks at the start page, so the first
    training or inspector click does not stall the window. Returns the job's runner."""
    from PySide6.QtCore import QCoreApplication

    from recstudio.gui.jobs import JobRunner

    runner = JobRunner(QCoreApplication.instance())  # lives as long as the application
    runner.start("Warm-up", warm_up, cancellable=False)
    return runner


def warm_up() -> None:
    """The imports and the CUDA initialisation the first training run or inspection would pay for.

    Python's cyclic garbage collector is off meanwhile, and what the imports built is then frozen
    (``gc.freeze``, as Instagram does before forking): these imports make ~950k long-lived objects, and
    each full collection among them held the GIL for 30-400 ms, eight times per launch (measured), which
    froze the window as long. Frozen objects are never collected; the garbage cycles of those seconds
    (little: module-level objects live for the whole process anyway) are kept."""
    gc.disable()
    try:
        _import_everything()
    finally:
        gc.freeze()
        gc.enable()


def _import_everything() -> None:
    import torch  # noqa: F401
    import torch.optim  # noqa: F401
    # The first optimizer.zero_grad() goes through torch._disable_dynamo, which imports
    # torch._dynamo (sympy, fx: ~2 s of module imports). Imported by the training thread, that
    # holds the import lock and the GIL in long stretches and stalls the window for up to a
    # second; imported here, while the analyst is still on the start page, it costs nothing.
    import torch._dynamo  # noqa: F401
    # The inspector's first explanation imports shap (~2 s) and compiles its numba kernels (~3 s):
    # in its worker, beside the list's own job, that held the next list back by up to half a second.
    from recstudio.explain import warm_up_shap

    warm_up_shap()
    # The Knowledge map, sasrec-lm and lm-seq load a text encoder; its import (~1 s) is Python work
    # that would otherwise grow the heap and trigger full collections during the first encoding.
    from transformers import AutoModel, AutoTokenizer  # noqa: F401

    from recstudio.devices import available_devices

    available_devices()  # CUDA initialisation, cached for the training page's device picker


if __name__ == "__main__":
    sys.exit(main())
