"""One workspace, many writers: what the command line adds while the window is open shows up in the
window by itself (no click, no page visit), and a run trained elsewhere is drawn as it grows."""

from __future__ import annotations

import os
import subprocess
import sys

from recstudio.gui.views.runs import COLUMN_INDEX

TIMEOUT_MS = 240_000


def test_a_cli_run_appears_in_the_inspector_and_runs_page_without_a_click(window, qtbot):
    inspector, runs, start = window.pages["inspect"], window.pages["runs"], window.pages["start"]
    window.show_page("inspect")  # the page the analyst is looking at while the CLI trains
    assert inspector.run_combo.count() == 0
    statuses, lengths = [], []
    window.context.runs_changed.connect(
        lambda: statuses.extend(r.status for r in window.context.workspace.list_runs()))

    def curve_grew(run_ids):
        if not runs.selected_run_ids() and runs.model.rowCount():
            runs.select_runs([runs.model.runs[0].id])  # what a click on the row would do
        lengths.append(runs.loss_curves.point_count(runs.model.runs[0].id) if runs.model.rowCount() else 0)

    window.context.run_curves_grew.connect(curve_grew)
    command = [sys.executable, "-m", "recstudio", "train", "--sample", "--workspace",
               str(window.context.workspace_path), "--device", "cpu", "--epochs", "1", "--max-steps", "2000",
               "--batch-size", "32", "--set", "hidden=16", "--set", "layers=1", "--set", "heads=1",
               "--set", "max_len=20", "--split", "leave-one-out", "--quiet"]  # ~8 s of steps to watch
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as cli:
        # the CLI imports the sample first: the start page lists the new dataset
        qtbot.waitUntil(lambda: start.datasets.topLevelItemCount() == 1 or cli.poll() is not None,
                        timeout=TIMEOUT_MS)
        assert start.datasets.topLevelItemCount() == 1, cli.communicate()
        qtbot.waitUntil(lambda: cli.poll() is not None, timeout=TIMEOUT_MS)
        out, err = cli.communicate()
    assert cli.returncode == 0, err
    qtbot.waitUntil(lambda: inspector.run_combo.count() == 1, timeout=10_000)
    run = window.context.workspace.list_runs()[0]
    assert inspector.current_run_id() == run.id
    assert "running" in statuses and "completed" in statuses  # seen while it trained, and when it ended
    row = runs.row_of(run.id)
    assert row >= 0 and runs.proxy.index(row, COLUMN_INDEX["Status"]).data() == "Completed"
    # its curve was drawn from the workspace as the CLI wrote it, more than once
    assert len([n for n in lengths if n]) >= 2 and max(lengths) > min(n for n in lengths if n)


def test_a_run_whose_process_was_killed_is_shown_as_interrupted(window, qtbot):
    from recstudio.data import sample_paths
    from recstudio.runs import ImportRequest, import_or_reuse
    from recstudio.workspace import Workspace

    interactions, catalogue = sample_paths()
    with Workspace(window.context.workspace_path) as other:  # another process's connection
        record, _ = import_or_reuse(other, ImportRequest(str(interactions), str(catalogue)))
        run_id = other.create_run(record.id, "pop", {}, split="leave-one-out").id
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
        other.db.execute("UPDATE runs SET pid = ? WHERE id = ?", [int(dead), run_id])
        other.db.conn.commit()
    window.context.check_workspace()
    assert window.context.workspace.run(run_id).status == "running"
    changed = []
    window.context.runs_changed.connect(lambda: changed.append(window.context.workspace.run(run_id).status))
    for _ in range(10):  # the dead process is looked for every tenth poll
        window.context.check_workspace()
    assert window.context.workspace.run(run_id).status == "interrupted"
    assert changed == ["interrupted"]
