"""Screenshots of the real window for the README, taken from an X display (run it under Xvfb).

    xvfb-run -s "-screen 0 1400x900x24" python packaging/screenshot.py resources/screenshots

Opens the window on a throwaway workspace, imports the bundled sample, trains SASRec from the
training view's Start button until early stopping ends it (shot mid-run, after SHOT_EPOCHS=5 epochs, and
at the end), and grabs the whole X screen (ImageMagick's
`import -window root`) on each page: what a user sees, not a widget drawn offscreen.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, os.environ.get("SHOT_ONLY", "").split(",")))  # e.g. SHOT_ONLY=knowledge
    if not os.environ.get("DISPLAY"):
        print("No X display: run under xvfb-run (see the module docstring).", file=sys.stderr)
        return 2
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from recstudio.data import sample_paths
    from recstudio.gui.app import create_window

    app = QApplication([sys.argv[0]])
    tmp = Path(tempfile.mkdtemp(prefix="recstudio-shots-"))
    window = create_window(str(tmp / "workspace.sqlite"), QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1380, 860)
    window.move(10, 10)
    window.show()

    def settle(seconds: float = 1.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def shoot(name: str) -> None:
        if only and name not in only:
            return
        settle(0.8)
        path = out / f"{name}.png"
        subprocess.run(["import", "-window", "root", "-crop", "1400x880+0+0", str(path)], check=True)
        print(path)

    settle(1.5)
    shoot("start")
    interactions, catalogue = sample_paths()
    dialog = window.open_file(str(interactions), str(catalogue))
    dialog.check()
    while dialog.running:
        settle(0.2)
    shoot("import")
    dialog.save()
    while dialog.running:
        settle(0.2)
    window.show_page("data")  # the confirmed import made the sample the current dataset
    shoot("dataset")

    window.show_page("knowledge")
    knowledge = window.pages["knowledge"]
    knowledge.build_map()
    while window.context.runner.busy:
        settle(0.5)
    titles = knowledge.map.titles
    knowledge.select_item(next((i for i, t in enumerate(titles) if "TEA" in t.upper()), 0))
    shoot("knowledge")

    window.show_page("train")
    settle(1.0)
    train = window.pages["train"]
    train.max_steps_spin.setValue(int(os.environ.get("SHOT_STEPS", "0")))  # 0: until early stopping
    train.start_training()
    # mid-run, once the validation trend gives an expected finish: the curve and the time left as they are
    # while the analyst watches
    epochs = int(os.environ.get("SHOT_EPOCHS", "5"))
    while window.context.runner.busy and train.validation_table.rowCount() < epochs:
        settle(0.2)
    shoot("training")
    while window.context.runner.busy:
        settle(0.5)
    shoot("training-finished")
    window.show_page("runs")
    runs = window.pages["runs"]
    runs.table.selectRow(0)
    shoot("runs")
    window.context.run_selected.emit(window.context.workspace.list_runs()[-1].id)
    settle(3.0)
    inspector = window.pages["inspect"]
    # a customer the run's test asked about (three invoices or more under the sample's last-basket
    # split), with a held-out basket short enough to read whole, that the list found part of
    from recstudio.runs import open_inspector

    run_id = window.context.workspace.list_runs()[-1].id
    asked = open_inspector(window.context.workspace_path, run_id)
    users = [str(u) for u in window.context.load_dataset().user_ids]
    chosen = next((u for u in users[5:] if 3 <= len(asked.held_out_items(u)) <= 6
                   and asked.recommend(u, k=10).found), users[5])
    inspector.select_user(os.environ.get("SHOT_USER", chosen))
    deadline = time.monotonic() + 60
    while inspector.explained is None and time.monotonic() < deadline:  # the explanation panel fills in
        settle(0.3)
    shoot("inspector")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
