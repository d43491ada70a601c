"""Crash safety: a process SIGKILLed during an import or during training leaves a workspace that opens
cleanly (integrity ok, no half dataset, the run marked interrupted), and the run resumes from its last
finished epoch exactly as if it had never stopped. A NaN loss and a CUDA out-of-memory end a run with
a clear message."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recstudio.cli import main
from recstudio.runs import TrainRequest, train_run
from recstudio.training import Validated
from recstudio.workspace import Workspace

TRAIN_ARGS = ["--model", "sasrec", "--epochs", "3", "--patience", "9", "--batch-size", "64", "--seed", "7",
              "--set", "hidden=16", "--set", "layers=1", "--set", "max_len=10", "--quiet", "--json"]
MODEL = {"hidden": "16", "layers": "1", "max_len": "10"}
TRAIN = {"epochs": 3, "patience": 9, "batch_size": 64, "seed": 7}

#: Runs ``recstudio`` in a child process that parks (writes a marker file, then sleeps) at a chosen
#: point, so the test can SIGKILL it exactly there.
CHILD = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path

    marker, where, argv = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]

    def park():
        marker.write_text(str(os.getpid()))
        while True:
            time.sleep(1)

    if where == "parsing":
        from recstudio.data import importer
        importer._Cleaner.timestamps = lambda self: park()
    elif where == "writing-files":
        from recstudio.workspace import store
        write = store.write_dataset_files
        store.write_dataset_files = lambda dataset, folder: (write(dataset, folder), park())
    elif where == "in-transaction":
        from recstudio.workspace import store
        replace = os.replace
        def parked_replace(src, dst):
            if Path(dst).parent.name == "datasets":
                park()  # the dataset row is inserted, the transaction not committed
            return replace(src, dst)
        store.os.replace = parked_replace
    elif where in ("mid-epoch", "swapping-state"):
        from recstudio.models.sasrec import SASRec
        from recstudio.training import checkpoint
        loss = SASRec.loss
        def slow_loss(self, batch):
            time.sleep(0.02)  # epochs long enough to be killed in
            return loss(self, batch)
        SASRec.loss = slow_loss
        saved = checkpoint.save_training_state
        calls = []
        def save_state(*args, **kwargs):
            calls.append(1)
            if where == "mid-epoch" or len(calls) < 2:
                out = saved(*args, **kwargs)
                if where == "mid-epoch":
                    marker.write_text("epoch 1 saved")
                return out
            replace = checkpoint.os.replace
            def aside_then_park(src, dst):
                replace(src, dst)
                if str(dst).endswith("training-state.old"):
                    park()  # the old state moved aside, the new one not yet in place
            checkpoint.os.replace = aside_then_park
            return saved(*args, **kwargs)
        checkpoint.save_training_state = save_state

    from recstudio.cli import main
    sys.exit(main(argv))
''')


def cycle_log(path: Path, users=150, items=40, length=20) -> Path:
    """Each user walks through the items from a random start: a pattern SASRec learns in an epoch."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(users):
        start = rng.integers(items)
        rows += [(f"u{u}", f"i{(start + t) % items}", 1_600_000_000 + 60 * t + u) for t in range(length)]
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(path, index=False)
    return path


def run_child(where: str, marker: Path, argv: list[str], timeout: float = 240.0) -> subprocess.Popen:
    """Start the child, wait for it to park (or for the marker), SIGKILL it and reap it."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(marker), where, *argv], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if child.poll() is not None:
            out, err = child.communicate()
            pytest.fail(f"the child ended (exit {child.returncode}) before reaching {where}: {err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the child did not reach {where} in {timeout:.0f} s")
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(30)  # reaped, so its pid no longer counts as alive
    assert child.returncode == -signal.SIGKILL
    return child


def integrity(ws: Path) -> str:
    conn = sqlite3.connect(ws)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def drive(gen):
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    return cycle_log(tmp_path_factory.mktemp("log") / "walks.csv")


@pytest.fixture(scope="module")
def reference(log, tmp_path_factory):
    """The same training never interrupted: what a resumed run must end up with."""
    ws = tmp_path_factory.mktemp("reference") / "workspace.sqlite"
    _, outcome = drive(train_run(TrainRequest(str(log), "sasrec", model_config=MODEL, train_config=TRAIN,
                                              workspace=str(ws))))
    with Workspace(ws) as workspace:
        losses = [p.loss for p in workspace.curve(outcome.run_id) if p.kind == "train"]
    return outcome, losses


def _train_points(ws: Path, run_id: int):
    with Workspace(ws) as workspace:
        return workspace.curve(run_id)


# -- import ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["parsing", "writing-files", "in-transaction"])
def test_killed_import_leaves_no_half_dataset(where, log, tmp_path, capsys):
    ws = tmp_path / "workspace.sqlite"
    seed = tmp_path / "seed.csv"
    seed.write_text("user_id,item_id,timestamp\na,x,2021-01-01\na,y,2021-01-02\n")
    assert main(["import", str(seed), "--workspace", str(ws), "--json"]) == 0
    capsys.readouterr()
    marker = tmp_path / "parked"
    env_ws = ["--workspace", str(ws), "--json"]

    if where == "in-transaction":
        # while the child holds the write transaction, another connection does not see its dataset
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(marker), where, "import", str(log), *env_ws],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        reader = sqlite3.connect(f"file:{ws}?mode=ro", uri=True)
        assert [r[0] for r in reader.execute("SELECT name FROM datasets")] == ["seed"]
        reader.close()
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    else:
        run_child(where, marker, ["import", str(log), *env_ws])

    assert integrity(ws) == "ok"
    with Workspace(ws) as workspace:  # opening removes what the dead import left in the files folder
        assert [d.name for d in workspace.list_datasets()] == ["seed"]
        folders = sorted(p.name for p in (workspace.files_dir / "datasets").iterdir())
        assert folders == [workspace._dataset_row("seed")["folder"]]
    # the same file imports cleanly afterwards (nothing half-done is taken for an earlier import)
    assert main(["import", str(log), "--workspace", str(ws), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert not payload["reused"] and payload["report"]["events"] == 150 * 20
    with Workspace(ws) as workspace:
        assert workspace.load_dataset("walks").n_users == 150


# -- training ----------------------------------------------------------------------------------------

def test_resume_after_cancel_matches_an_uninterrupted_run(log, reference, tmp_path, capsys):
    ws = tmp_path / "workspace.sqlite"
    stop = {"now": False}
    gen = train_run(TrainRequest(str(log), "sasrec", model_config=MODEL, train_config=TRAIN, workspace=str(ws)),
                    cancelled=lambda: stop["now"])
    while True:
        try:
            event = next(gen)
        except StopIteration as done:
            cancelled = done.value
            break
        if isinstance(event, Validated) and event.epoch == 1:
            stop["now"] = True
    assert cancelled.status == "cancelled" and cancelled.epochs == 1

    assert main(["train", "--resume", str(cancelled.run_id), "--workspace", str(ws), "--json", "--quiet"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    expected, losses = reference
    assert resumed["run_id"] == cancelled.run_id and resumed["status"] == "completed" and resumed["epochs"] == 3
    assert resumed["metrics"]["test"] == pytest.approx(expected.metrics["test"], abs=1e-9)
    points = _train_points(ws, cancelled.run_id)
    assert [p.loss for p in points if p.kind == "train"] == pytest.approx(losses, abs=1e-9)
    assert [p.epoch for p in points if p.kind == "valid"] == [1, 2, 3]
    with Workspace(ws) as workspace:
        folder = workspace.run_dir(cancelled.run_id)
        assert not (folder / "training-state").exists()  # a completed run keeps only its best checkpoint
        assert workspace.artefacts(cancelled.run_id)["checkpoint"].is_dir()


def test_the_curve_is_committed_before_the_state_a_resume_goes_on_from(log, reference, tmp_path, monkeypatch):
    """A crash at any moment leaves no gap in the curve: when the training state of an epoch is written,
    the curve points of every step up to it are already in the workspace (another connection sees them)."""
    from recstudio.training import checkpoint

    ws = tmp_path / "workspace.sqlite"
    saved, seen = checkpoint.save_training_state, []

    def save_state(directory, model, optimizer, scaler, info):
        conn = sqlite3.connect(ws)
        try:
            steps = [row[0] for row in conn.execute("SELECT step FROM curve WHERE kind = 'train' ORDER BY step")]
        finally:
            conn.close()
        seen.append((info["step"], steps))
        return saved(directory, model, optimizer, scaler, info)

    monkeypatch.setattr(checkpoint, "save_training_state", save_state)
    drive(train_run(TrainRequest(str(log), "sasrec", model_config=MODEL, train_config=TRAIN, workspace=str(ws))))
    assert [epoch_step for epoch_step, _ in seen] == sorted({epoch_step for epoch_step, _ in seen}) and len(seen) == 3
    for epoch_step, steps in seen:
        assert steps[: epoch_step] == list(range(1, epoch_step + 1))


@pytest.mark.parametrize("where", ["mid-epoch", "swapping-state"])
def test_killed_training_is_interrupted_and_resumes(where, log, reference, tmp_path, capsys):
    ws = tmp_path / "workspace.sqlite"
    run_child(where, tmp_path / "parked", ["train", str(log), "--workspace", str(ws), *TRAIN_ARGS])

    assert integrity(ws) == "ok"
    with Workspace(ws) as workspace:
        [dataset] = workspace.list_datasets()
        assert dataset.n_events == 150 * 20
        [run] = workspace.list_runs()
        assert run.status == "interrupted" and "ended before it finished" in run.error
        if where == "swapping-state":  # the crash left only the moved-aside state
            folder = workspace.run_dir(run.id)
            assert not (folder / "training-state").exists() and (folder / "training-state.old").exists()
    assert main(["runs", "list", "--workspace", str(ws), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["status"] == "interrupted"

    assert main(["train", "--resume", str(run.id), "--workspace", str(ws), "--json", "--quiet"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    expected, losses = reference
    assert resumed["status"] == "completed" and resumed["epochs"] == 3
    # the epochs trained after the crash are the ones the uninterrupted run trained
    assert resumed["metrics"]["test"] == pytest.approx(expected.metrics["test"], abs=1e-9)
    points = _train_points(ws, run.id)
    steps = [p.step for p in points if p.kind == "train"]
    assert steps == sorted(set(steps)) == list(range(1, len(losses) + 1))
    assert [p.loss for p in points if p.kind == "train"] == pytest.approx(losses, abs=1e-9)
    with Workspace(ws) as workspace:
        assert workspace.run(run.id).status == "completed"
        assert main(["recommend", str(run.id), "--user", "u1", "--workspace", str(ws), "--json"]) == 0


def test_resume_refuses_what_cannot_be_resumed(log, reference, tmp_path, capsys):
    ws = tmp_path / "workspace.sqlite"
    assert main(["train", str(log), "--workspace", str(ws), "--model", "pop", "--json", "--quiet"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["train", "--resume", str(run_id), "--workspace", str(ws)]) == 2
    assert "only an interrupted, cancelled or failed run" in capsys.readouterr().err
    assert main(["train", "--resume", "99", "--workspace", str(ws)]) == 2
    assert "No run 99" in capsys.readouterr().err
    assert main(["train", str(log), "--resume", str(run_id), "--workspace", str(ws)]) == 2
    assert "give no DATA" in capsys.readouterr().err
    with Workspace(ws) as workspace:  # a run that stopped before its first epoch ended has no state
        run = workspace.create_run(1, "sasrec", {"model": MODEL, "train": TRAIN}, split="leave-one-out")
        workspace.finish_run(run.id, status="cancelled")
    assert main(["train", "--resume", str(run.id), "--workspace", str(ws)]) == 2
    err = capsys.readouterr().err
    assert "no saved training state" in err and err.count("\n") == 1


# -- NaN and out of memory ---------------------------------------------------------------------------

@pytest.mark.parametrize("failure", ["nan", "oom"])
def test_nan_loss_and_out_of_memory_end_the_run_clearly(failure, log, tmp_path, capsys, monkeypatch):
    import torch

    from recstudio.models.sasrec import SASRec

    def broken_loss(self, batch):
        if failure == "oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return torch.tensor(float("nan"), requires_grad=True)

    monkeypatch.setattr(SASRec, "loss", broken_loss)
    ws = tmp_path / "workspace.sqlite"
    assert main(["train", str(log), "--workspace", str(ws), *TRAIN_ARGS]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert ("out of memory" in err and "batch size" in err) if failure == "oom" else "loss became nan" in err
    with Workspace(ws) as workspace:
        [run] = workspace.list_runs()
        assert run.status == "failed" and run.error in err
