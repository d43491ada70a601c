"""The workspace store: datasets and runs survive reopening, crashes and concurrent writers."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from recstudio.data.dataset import Dataset, ImportReport
from recstudio.errors import RecStudioError
from recstudio.workspace import CurvePoint, Workspace, default_workspace_path, files, schema, store


def make_dataset(name: str = "shop") -> Dataset:
    interactions = pd.DataFrame(
        {
            "user": np.array([0, 0, 1, 1, 1, 2], dtype=np.int32),
            "item": np.array([0, 1, 1, 2, 0, 3], dtype=np.int32),
            "timestamp": np.array([10, 20, 5, 6, 6, 1], dtype=np.int64) + 1_700_000_000,
            "event": pd.Series(["view", "buy", "view", "view", "cart", "buy"]),
            "rating": np.array([1, 5, 2, 3, np.nan, 4], dtype=np.float32),
        }
    )
    items = pd.DataFrame(
        {
            "item_id": ["A1", "B2", "C3", "D4"],
            "title": ["Kettle", None, "Mug", "Tea"],
            "brand": pd.Series(["Acme", None, "Acme", "Leaf"], dtype=object),
            "price": [19.5, 3.0, np.nan, 4.25],
        }
    )
    report = ImportReport(
        source="shop.csv",
        rows_read=7,
        dropped={"unknown item": 1},
        users=3,
        items=4,
        events=6,
        time_start="2023-11-14T22:13:21+00:00",
        columns={"user": "customer", "item": "sku"},
        timestamp_format="epoch seconds",
        warnings=["1 row had no item"],
    )
    return Dataset(
        name=name,
        interactions=interactions,
        user_ids=np.array(["c-1", "c-2", "c-3"], dtype=object),
        item_ids=np.array(["A1", "B2", "C3", "D4"], dtype=object),
        items=items,
        report=report,
    )


def assert_same_dataset(a: Dataset, b: Dataset) -> None:
    assert a.name == b.name
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    pd.testing.assert_frame_equal(a.items, b.items)
    assert isinstance(b.items.index, pd.RangeIndex)
    for ours, theirs in ((a.user_ids, b.user_ids), (a.item_ids, b.item_ids)):
        assert theirs.dtype == object and all(isinstance(v, str) for v in theirs)
        assert list(ours) == list(theirs)
    assert a.report == b.report


def save(ws: Workspace, dataset: Dataset | None = None, fingerprint: str = "f1", options: str = "o1"):
    return ws.save_dataset(
        dataset or make_dataset(), fingerprint=fingerprint, options_key=options, source="/data/shop.csv"
    )


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def path(tmp_path):
    return tmp_path / "ws.sqlite"


@pytest.fixture
def ws(path):
    with Workspace(path) as workspace:
        yield workspace


def test_new_workspace_has_schema_version_and_wal(path):
    Workspace(path).close()
    with Workspace(path) as ws:
        assert ws.path == path
        assert ws.files_dir == path.parent / "ws-files"
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_dataset_round_trips_through_the_files(ws, path):
    dataset = make_dataset()
    record = save(ws, dataset)
    assert (record.name, record.n_users, record.n_items, record.n_events) == ("shop", 3, 4, 6)
    assert (record.source, record.items_source, record.fingerprint) == ("/data/shop.csv", None, "f1")
    assert record.report == dataset.report.to_dict()
    assert_same_dataset(dataset, ws.load_dataset("shop"))
    with Workspace(path) as again:
        assert_same_dataset(dataset, again.load_dataset(record.id))
        assert_same_dataset(dataset, again.load_dataset(str(record.id)))
        assert again.list_datasets() == [record]


def test_a_taken_name_gets_a_number(ws):
    names = [save(ws, fingerprint=f"f{i}").name for i in range(3)]
    assert names == ["shop", "shop (2)", "shop (3)"]
    assert ws.load_dataset("shop (2)").name == "shop (2)"
    assert [d.name for d in ws.list_datasets()] == names


def test_find_dataset_finds_the_same_file_with_the_same_options(ws):
    assert ws.find_dataset("f1", "o1") is None
    record = save(ws)
    assert ws.find_dataset("f1", "o1") == record
    assert ws.find_dataset("f1", "other options") is None


def test_a_failed_save_leaves_no_row_and_no_files(ws, monkeypatch):
    calls = []

    def write_then_fail(frame, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError("disk full")
        frame.to_parquet(target)

    monkeypatch.setattr(files, "write_parquet", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save(ws)
    assert ws.list_datasets() == []
    assert list((ws.files_dir / "datasets").iterdir()) == []


def test_a_save_failing_in_the_transaction_leaves_nothing(ws, monkeypatch):
    def fail(self, name):
        raise sqlite3.OperationalError("simulated")

    monkeypatch.setattr(Workspace, "_free_name", fail)
    with pytest.raises(sqlite3.OperationalError):
        save(ws)
    assert ws.list_datasets() == []
    assert list((ws.files_dir / "datasets").iterdir()) == []


def test_opening_removes_folders_left_by_a_crash(path):
    with Workspace(path) as ws:
        record = save(ws)
        run = ws.create_run(record.id, "sasrec", {}, split="loo")
        ws.run_dir(run.id)
    datasets = path.parent / "ws-files" / "datasets"
    host = socket.gethostname()
    orphan = datasets / "0123abcd"
    dead_temp = datasets / f".tmp-{host}-{dead_pid()}-abc"
    live_temp = datasets / f".tmp-{host}-{store.os.getpid()}-def"
    orphan_run = path.parent / "ws-files" / "runs" / "999"
    for folder in (orphan, dead_temp, live_temp, orphan_run):
        folder.mkdir(parents=True)
        (folder / "interactions.parquet").write_bytes(b"half")

    with Workspace(path) as ws:
        assert not orphan.exists() and not dead_temp.exists() and not orphan_run.exists()
        assert live_temp.exists(), "a save still running in this process keeps its temp folder"
        assert ws.run_dir(run.id).exists()
        assert ws.load_dataset("shop").n_events == 6


def test_run_lifecycle(ws, path):
    dataset = save(ws)
    run = ws.create_run(dataset.id, "sasrec", {"dim": np.int64(64), "lr": 1e-3}, split="loo", device="cpu")
    assert (run.status, run.dataset_name, run.model, run.split, run.device) == (
        "running", "shop", "sasrec", "loo", "cpu"
    )
    assert run.config == {"dim": 64, "lr": 0.001}
    assert (run.pid, run.hostname) == (store.os.getpid(), socket.gethostname())
    assert run.started_at and run.finished_at is None and run.metrics == {}

    ws.append_curve(run.id, [CurvePoint(step=1, epoch=0, loss=np.float32(2.5), wall_time=0.1)])
    ws.append_curve(
        run.id,
        [
            {"step": 2, "epoch": 0, "loss": 2.0, "wall_time": 0.2, "throughput": 99.0},
            {"step": 2, "epoch": 0, "loss": None, "wall_time": 0.3, "metrics": {"ndcg@10": 0.1}, "kind": "valid"},
        ],
    )
    checkpoint = ws.run_dir(run.id) / "model.safetensors"
    checkpoint.write_bytes(b"weights")
    done = ws.finish_run(
        run.id,
        status="completed",
        metrics={"ndcg@10": np.float64(0.25)},
        seconds=12.5,
        epochs=3,
        artefacts={"checkpoint": str(checkpoint)},
    )
    assert (done.status, done.metrics, done.seconds, done.epochs) == (
        "completed", {"ndcg@10": 0.25}, 12.5, 3
    )
    assert done.finished_at is not None and done.error is None

    ws.set_metrics(run.id, {"recall@10": 0.5})
    with Workspace(path) as again:
        assert again.run(run.id).metrics == {"ndcg@10": 0.25, "recall@10": 0.5}
        assert again.run(str(run.id)) == again.run(run.id)
        assert again.list_runs() == again.list_runs(dataset.id) == [again.run(run.id)]
        assert again.list_runs(dataset.id + 1) == []
        assert again.curve(run.id) == [
            CurvePoint(1, 0, 2.5, 0.1),
            CurvePoint(2, 0, 2.0, 0.2),
            CurvePoint(2, 0, None, 0.3, {"ndcg@10": 0.1}, "valid"),
        ]
        assert again.artefacts(run.id) == {"checkpoint": checkpoint}
    stored = sqlite3.connect(path).execute("SELECT path FROM artefacts").fetchone()[0]
    assert stored == f"runs/{run.id}/model.safetensors", "kept relative so the workspace can move"


def test_finish_run_is_all_or_nothing(ws, monkeypatch):
    run = ws.create_run(save(ws).id, "sasrec", {}, split="loo")

    def fail(self, run_id, artefacts):
        raise sqlite3.OperationalError("simulated")

    monkeypatch.setattr(Workspace, "_save_artefacts", fail)
    with pytest.raises(sqlite3.OperationalError):
        ws.finish_run(run.id, status="completed", metrics={"ndcg@10": 0.3}, seconds=1.0,
                      artefacts={"checkpoint": "x"})
    after = ws.run(run.id)
    assert (after.status, after.metrics, after.seconds, after.finished_at) == ("running", {}, None, None)


def test_a_run_whose_process_died_is_interrupted_on_open(path):
    with Workspace(path) as ws:
        dataset = save(ws)
        orphaned = ws.create_run(dataset.id, "sasrec", {}, split="loo")
        ours = ws.create_run(dataset.id, "sasrec", {}, split="loo")
        elsewhere = ws.create_run(dataset.id, "sasrec", {}, split="loo")
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("UPDATE runs SET pid = ? WHERE id = ?", [dead_pid(), orphaned.id])
        raw.execute("UPDATE runs SET pid = 1, hostname = 'other-machine' WHERE id = ?", [elsewhere.id])
    raw.close()

    with Workspace(path) as ws:
        stale = ws.run(orphaned.id)
        assert stale.status == "interrupted" and stale.finished_at and "ended" in stale.error
        assert ws.run(ours.id).status == "running"
        assert ws.run(elsewhere.id).status == "running"


def test_migrating_an_older_file_backs_it_up_first(path, monkeypatch):
    with Workspace(path) as ws:
        save(ws)

    def add_notes(db):
        db["runs"].add_column("note", str)

    monkeypatch.setattr(schema, "MIGRATIONS", [schema.V1, add_notes])
    with Workspace(path) as ws:
        assert ws.load_dataset("shop").n_events == 6
        assert "note" in ws.db["runs"].columns_dict
        assert ws.db.execute("PRAGMA user_version").fetchone()[0] == 2

    backup = path.with_name("ws.sqlite.bak-v1")
    old = sqlite3.connect(backup)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert old.execute("SELECT name FROM datasets").fetchall() == [("shop",)]
    old.close()


def test_a_file_from_a_newer_recstudio_is_refused(path):
    Workspace(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS) + 1}")
    raw.close()
    with pytest.raises(RecStudioError, match="newer RecStudio.*upgrade"):
        Workspace(path)


def test_other_files_are_refused_untouched(tmp_path):
    foreign = tmp_path / "other.sqlite"
    raw = sqlite3.connect(foreign)
    raw.execute("CREATE TABLE notes (text TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(RecStudioError, match="not a RecStudio workspace"):
        Workspace(foreign)
    raw = sqlite3.connect(foreign)
    assert [r[0] for r in raw.execute("SELECT name FROM sqlite_master")] == ["notes"]
    raw.close()

    text = tmp_path / "notes.txt"
    text.write_text("not a database, just words " * 100)
    with pytest.raises(RecStudioError, match="not a RecStudio workspace"):
        Workspace(text)


def test_workspace_path_comes_from_argument_then_env_then_user_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("platformdirs.user_data_dir", lambda app, appauthor: str(tmp_path / "data" / app))
    monkeypatch.delenv("RECSTUDIO_WORKSPACE", raising=False)
    assert default_workspace_path() == tmp_path / "data" / "RecStudio" / "workspace.sqlite"

    monkeypatch.setenv("RECSTUDIO_WORKSPACE", str(tmp_path / "env" / "team.sqlite"))
    assert default_workspace_path() == tmp_path / "env" / "team.sqlite"
    with Workspace() as ws:
        assert ws.path == tmp_path / "env" / "team.sqlite" and ws.path.exists()
    assert default_workspace_path(tmp_path / "mine.sqlite") == tmp_path / "mine.sqlite"


def test_a_folder_is_not_a_workspace_path(tmp_path):
    with pytest.raises(RecStudioError, match="is a folder"):
        Workspace(tmp_path)


def test_unknown_runs_and_datasets_say_where_to_look(ws):
    with pytest.raises(RecStudioError, match=r"No run 42; `recstudio runs list`"):
        ws.run(42)
    with pytest.raises(RecStudioError, match="No run abc"):
        ws.curve("abc")
    with pytest.raises(RecStudioError, match=r"No dataset named 'movies'; `recstudio datasets`"):
        ws.load_dataset("movies")
    with pytest.raises(RecStudioError, match="No dataset with id 7"):
        ws.create_run(7, "sasrec", {}, split="loo")


def test_deleting_a_dataset_in_use_needs_force(ws):
    dataset = save(ws)
    run = ws.create_run(dataset.id, "sasrec", {}, split="loo")
    run_folder = ws.run_dir(run.id)
    with pytest.raises(RecStudioError, match="used by 1 run"):
        ws.delete_dataset("shop")
    assert ws.load_dataset("shop").n_events == 6

    ws.delete_dataset("shop", force=True)
    assert ws.list_datasets() == [] and ws.list_runs() == []
    assert not run_folder.exists()
    assert list((ws.files_dir / "datasets").iterdir()) == []


def test_deleting_a_run_removes_its_curve_and_folder(ws):
    run = ws.create_run(save(ws).id, "sasrec", {}, split="loo")
    ws.append_curve(run.id, [CurvePoint(1, 0, 1.0, 0.1)])
    folder = ws.run_dir(run.id)
    ws.finish_run(run.id, status="cancelled", artefacts={"checkpoint": folder / "last.safetensors"})
    ws.delete_run(run.id)
    assert ws.list_runs() == [] and not folder.exists()
    assert ws.db.execute("SELECT count(*) FROM curve").fetchone()[0] == 0
    with pytest.raises(RecStudioError):
        ws.append_curve(run.id, [CurvePoint(2, 0, 1.0, 0.2)])


def test_two_threads_write_to_one_file_at_once(path):
    with Workspace(path) as ws:
        dataset_id = save(ws).id
    start = threading.Barrier(3)
    errors: list[BaseException] = []
    run_ids: list[int] = []

    def train():
        try:
            with Workspace(path) as own:
                run = own.create_run(dataset_id, "sasrec", {}, split="loo")
                run_ids.append(run.id)
                start.wait(timeout=30)
                for step in range(150):
                    own.append_curve(run.id, [CurvePoint(step, 0, 1.0, step * 0.01)])
                own.finish_run(run.id, status="completed", metrics={"ndcg@10": 0.1})
        except BaseException as exc:
            errors.append(exc)

    def watch():
        try:
            with Workspace(path) as own:
                start.wait(timeout=30)
                for _ in range(150):
                    for run in own.list_runs():
                        own.curve(run.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=train), threading.Thread(target=train), threading.Thread(target=watch)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Workspace(path) as ws:
        assert [len(ws.curve(r)) for r in run_ids] == [150, 150]
        assert {ws.run(r).status for r in run_ids} == {"completed"}
