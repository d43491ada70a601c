"""The workspace: datasets, runs, curves and artefacts in one SQLite file, big arrays as files beside it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlite_utils import Database

from recstudio.errors import RecStudioError
from recstudio.workspace import schema
from recstudio.workspace.files import read_frame, read_ids, write_dataset_files
from recstudio.workspace.records import (
    CurvePoint, DatasetRecord, RunRecord, curve_row, dataset_record_of, run_record_of, to_json,
)

if TYPE_CHECKING:
    import pandas as pd

    from recstudio.data.dataset import Dataset

RUN_STATUSES = ("running", "completed", "cancelled", "failed", "interrupted")
#: How long a write waits for another connection's transaction before "database is locked".
BUSY_TIMEOUT_S = 30.0
_TEMP_PREFIX = ".tmp-"
_DATASET_FILES = ("interactions", "items", "user_ids", "item_ids")
_RUN_SELECT = (
    "SELECT runs.*, datasets.name AS dataset_name FROM runs "
    "LEFT JOIN datasets ON datasets.id = runs.dataset_id"
)


def default_workspace_path(explicit: str | Path | None = None) -> Path:
    """The workspace file: ``explicit``, else $RECSTUDIO_WORKSPACE, else one in the user data folder."""
    raw = explicit if explicit is not None else os.environ.get("RECSTUDIO_WORKSPACE")
    if raw:
        path = Path(raw).expanduser().absolute()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("RecStudio", appauthor=False)) / "workspace.sqlite"
    if path.is_dir():
        raise RecStudioError(
            f"The workspace path {path} is a folder; give a file path such as "
            f"{path / 'workspace.sqlite'}."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecStudioError(
            f"Cannot create the folder for the workspace {path} ({exc.strerror}); "
            "choose another path or set RECSTUDIO_WORKSPACE."
        ) from exc
    # WAL needs to create -wal and -shm files beside the database, so the folder must be writable.
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RecStudioError(
            f"The workspace {path} is not writable; choose another path or set RECSTUDIO_WORKSPACE."
        )
    return path


@dataclass(frozen=True)
class WorkspaceSignature:
    datasets: tuple  # dataset ids
    runs: tuple  # (id, status, finished_at) per run
    curves: tuple  # (run id, last curve point id) per running run


class Workspace:
    """One open workspace file. Each thread or process opens its own; they may write at once."""

    def __init__(self, path: str | Path | None = None):
        self.path = default_workspace_path(path)
        self.files_dir = self.path.with_name(self.path.stem + "-files")
        self._host = socket.gethostname()
        # Not tied to the opening thread so that a window can close a worker's workspace;
        # one instance must still not be used by two threads at once.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        self.db = Database(conn, execute_plugins=False)
        try:
            try:
                schema.schema_version(self.db)
            except sqlite3.DatabaseError as exc:
                raise RecStudioError(
                    f"{self.path} is not a RecStudio workspace ({exc}); choose another path."
                ) from exc
            self.db.execute("PRAGMA foreign_keys = ON")
            schema.migrate(self.db, self.path)
            self.db.enable_wal()
            # WAL with NORMAL survives an application crash; a power cut may lose the last commit.
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._mark_interrupted()
            self._remove_orphans()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    # -- other writers ------------------------------------------------------------------------

    def change_counter(self) -> int:
        """SQLite's ``data_version``: changes whenever another connection (another process, or a job's
        own connection) commits to this file; a poll costs microseconds and no disk read."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def change_signature(self) -> WorkspaceSignature:
        """What the window lists, in a form cheap to compare: the datasets, each run's status, and how
        far the curves of running runs have grown."""
        datasets = tuple(row[0] for row in self.db.execute("SELECT id FROM datasets ORDER BY id"))
        runs = tuple(self.db.execute("SELECT id, status, finished_at FROM runs ORDER BY id").fetchall())
        curves = ()
        if any(status == "running" for _id, status, _f in runs):
            curves = tuple(self.db.execute(
                "SELECT c.run_id, MAX(c.id) FROM curve c JOIN runs r ON r.id = c.run_id "
                "WHERE r.status = 'running' GROUP BY c.run_id ORDER BY c.run_id").fetchall())
        return WorkspaceSignature(datasets, runs, curves)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- datasets ---------------------------------------------------------------------------

    def find_dataset(self, fingerprint: str, options_key: str) -> DatasetRecord | None:
        """The latest import of the same file with the same options, if any."""
        rows = self._rows(
            "SELECT * FROM datasets WHERE fingerprint = ? AND options_key = ? "
            "ORDER BY id DESC LIMIT 1",
            [fingerprint, options_key],
        )
        return dataset_record_of(rows[0]) if rows else None

    def save_dataset(
        self,
        dataset: Dataset,
        *,
        fingerprint: str,
        options_key: str,
        source: str,
        items_source: str | None = None,
    ) -> DatasetRecord:
        """Store ``dataset`` under its name, or "name (2)"... when that is taken."""
        folder = uuid.uuid4().hex
        root = self.files_dir / "datasets"
        temp = root / f"{_TEMP_PREFIX}{self._host}-{os.getpid()}-{folder}"
        final = root / folder
        try:
            temp.mkdir(parents=True)
            write_dataset_files(dataset, temp)
            with schema.write_transaction(self.db):
                row = {
                    "name": self._free_name(dataset.name),
                    "source": source,
                    "items_source": items_source,
                    "fingerprint": fingerprint,
                    "options_key": options_key,
                    "created_at": _now(),
                    "n_users": dataset.n_users,
                    "n_items": dataset.n_items,
                    "n_events": dataset.n_events,
                    "report": to_json(dataset.report.to_dict()),
                    "folder": folder,
                }
                dataset_id = self.db["datasets"].insert(row).last_pk
                # Renamed under the write lock, so orphan cleanup in another process never sees
                # the folder without its row.
                os.replace(temp, final)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            raise
        return self.dataset_record(dataset_id)

    def load_dataset(self, ref: str | int) -> Dataset:
        """The stored dataset, by name or id, read from its Parquet files."""
        from recstudio.data.dataset import Dataset, ImportReport

        row = self._dataset_row(ref)
        folder = self.files_dir / "datasets" / row["folder"]
        missing = [f for f in _DATASET_FILES if not (folder / f"{f}.parquet").is_file()]
        if missing:
            raise RecStudioError(
                f"The files of dataset {row['name']!r} are missing from {folder} "
                f"({', '.join(missing)}); delete the dataset and import the file again."
            )
        return Dataset(
            name=row["name"],
            interactions=read_frame(folder / "interactions.parquet"),
            user_ids=read_ids(folder / "user_ids.parquet"),
            item_ids=read_ids(folder / "item_ids.parquet"),
            items=read_frame(folder / "items.parquet"),
            report=ImportReport.from_dict(json.loads(row["report"])),
        )

    def load_items(self, ref: str | int, limit: int | None = None) -> pd.DataFrame:
        """A stored dataset's catalogue (one row per item index) without reading its events."""
        row = self._dataset_row(ref)
        frame = read_frame(self.files_dir / "datasets" / row["folder"] / "items.parquet")
        return frame if limit is None else frame.head(limit)

    def dataset_record(self, ref: str | int) -> DatasetRecord:
        return dataset_record_of(self._dataset_row(ref))

    def list_datasets(self) -> list[DatasetRecord]:
        return [dataset_record_of(r) for r in self._rows("SELECT * FROM datasets ORDER BY id")]

    def delete_dataset(self, ref: str | int, *, force: bool = False) -> None:
        """Delete a dataset and its files; with ``force`` also the runs that use it."""
        with schema.write_transaction(self.db):
            row = self._dataset_row(ref)
            run_ids = [r["id"] for r in self._rows("SELECT id FROM runs WHERE dataset_id = ?", [row["id"]])]
            if run_ids and not force:
                raise RecStudioError(
                    f"Dataset {row['name']!r} is used by {len(run_ids)} run(s); delete those runs "
                    "first, or force the delete to remove them too."
                )
            self.db.execute("DELETE FROM runs WHERE dataset_id = ?", [row["id"]])
            self.db.execute("DELETE FROM datasets WHERE id = ?", [row["id"]])
        # Files go after the commit: a crash in between leaves orphans, which the next open removes.
        for run_id in run_ids:
            shutil.rmtree(self.files_dir / "runs" / str(run_id), ignore_errors=True)
        shutil.rmtree(self.files_dir / "datasets" / row["folder"], ignore_errors=True)

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self, dataset_id: int, model: str, config: dict, *, split: str, device: str | None = None
    ) -> RunRecord:
        """Record a run as ``running`` by this process; training calls this before its first step."""
        with schema.write_transaction(self.db):
            self._dataset_row(int(dataset_id))
            run_id = self.db["runs"].insert(
                {
                    "dataset_id": int(dataset_id),
                    "model": model,
                    "config": to_json(config),
                    "split": split,
                    "status": "running",
                    "device": device,
                    "started_at": _now(),
                    "metrics": "{}",
                    "pid": os.getpid(),
                    "hostname": self._host,
                }
            ).last_pk
        return self.run(run_id)

    def reopen_run(self, run_id: int | str, *, after_step: int, device: str | None = None) -> RunRecord:
        """Mark a stopped run ``running`` again, by this process, to resume it from the state saved at
        step ``after_step``: its curve loses the points after that step (they are trained again)."""
        with schema.write_transaction(self.db):
            row = self._run_row(run_id)
            if row["status"] == "running":
                raise RecStudioError(f"Run {row['id']} is still running (pid {row['pid']} on {row['hostname']}).")
            self.db.execute("DELETE FROM curve WHERE run_id = ? AND step > ?", [row["id"], int(after_step)])
            self.db.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL, error = NULL, pid = ?, hostname = ?, "
                "device = COALESCE(?, device) WHERE id = ?",
                [os.getpid(), self._host, device, row["id"]],
            )
        return self.run(row["id"])

    def append_curve(self, run_id: int, points: list[CurvePoint] | list[dict]) -> None:
        """Add loss/metric points to a run's curve (one short transaction, so readers see them live)."""
        rows = [curve_row(run_id, p) for p in points]
        try:
            with schema.write_transaction(self.db):
                self.db["curve"].insert_all(rows)
        except sqlite3.IntegrityError as exc:
            # The run was deleted (e.g. from the window) while it trained.
            raise RecStudioError(f"No run {run_id}; it was deleted while it ran.") from exc

    def curve(self, run_id: int | str) -> list[CurvePoint]:
        run_id = self._run_row(run_id)["id"]
        rows = self._rows("SELECT * FROM curve WHERE run_id = ? ORDER BY id", [run_id])
        return [
            CurvePoint(
                step=r["step"],
                epoch=r["epoch"],
                loss=r["loss"],
                wall_time=r["wall_time"],
                metrics=json.loads(r["metrics"]),
                kind=r["kind"],
            )
            for r in rows
        ]

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        metrics: dict | None = None,
        seconds: float | None = None,
        epochs: int | None = None,
        artefacts: dict[str, str | Path] | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """Close a run: status, metrics, timings and artefact paths land together or not at all."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"finish_run status must be one of {RUN_STATUSES[1:]}, not {status!r}")
        with schema.write_transaction(self.db):
            run_id = self._run_row(run_id)["id"]
            updates = {"status": status, "finished_at": _now()}
            given = {"seconds": seconds, "epochs": epochs, "error": error}
            updates.update({k: v for k, v in given.items() if v is not None})
            if metrics is not None:
                updates["metrics"] = to_json(metrics)
            self.db["runs"].update(run_id, updates)
            self._save_artefacts(run_id, artefacts or {})
        return self.run(run_id)

    def set_metrics(self, run_id: int | str, metrics: dict) -> None:
        """Add or overwrite metrics of a run (e.g. after re-evaluating it); other keys are kept."""
        with schema.write_transaction(self.db):
            row = self._run_row(run_id)
            merged = {**json.loads(row["metrics"]), **metrics}
            self.db["runs"].update(row["id"], {"metrics": to_json(merged)})

    def run(self, run_id: int | str) -> RunRecord:
        return run_record_of(self._run_row(run_id))

    def list_runs(self, dataset_id: int | None = None) -> list[RunRecord]:
        if dataset_id is None:
            rows = self._rows(f"{_RUN_SELECT} ORDER BY runs.id")
        else:
            rows = self._rows(f"{_RUN_SELECT} WHERE runs.dataset_id = ? ORDER BY runs.id", [dataset_id])
        return [run_record_of(r) for r in rows]

    def artefacts(self, run_id: int | str) -> dict[str, Path]:
        """Artefact kind -> absolute path."""
        run_id = self._run_row(run_id)["id"]
        rows = self._rows("SELECT kind, path FROM artefacts WHERE run_id = ? ORDER BY kind", [run_id])
        return {r["kind"]: self.files_dir / r["path"] for r in rows}

    def run_dir(self, run_id: int | str) -> Path:
        """The folder for a run's checkpoints and other files (created)."""
        folder = self.files_dir / "runs" / str(self._run_row(run_id)["id"])
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def delete_run(self, run_id: int | str) -> None:
        """Delete a run, its curve, artefact rows and run folder (files outside the workspace stay)."""
        with schema.write_transaction(self.db):
            run_id = self._run_row(run_id)["id"]
            self.db.execute("DELETE FROM runs WHERE id = ?", [run_id])
        shutil.rmtree(self.files_dir / "runs" / str(run_id), ignore_errors=True)

    def import_run(self, source: "Workspace", run_id: int | str) -> RunRecord:
        """Copy a finished run from another workspace (a cluster job's, say) into this one: its
        dataset (unless the same import is already here), the run with its curve and metrics, and
        its checkpoint files. The run keeps its status and timings and notes where it came from;
        importing the same run again returns the earlier copy."""
        src = source._run_row(run_id)
        if src["status"] == "running":
            raise RecStudioError(f"Run {src['id']} in {source.path} is still running; import it when it has finished.")
        origin = {"workspace": str(Path(source.path).resolve()), "run_id": src["id"],
                  "started_at": src["started_at"], "hostname": src["hostname"]}
        for run in self.list_runs():
            if run.imported_from == origin:
                return run
        src_dataset = source._dataset_row(src["dataset_id"])
        local = self.find_dataset(src_dataset["fingerprint"], src_dataset["options_key"])
        if local is None:
            local = self.save_dataset(source.load_dataset(src_dataset["id"]), fingerprint=src_dataset["fingerprint"],
                                      options_key=src_dataset["options_key"], source=src_dataset["source"],
                                      items_source=src_dataset["items_source"])
        config = {**json.loads(src["config"]), "imported_from": origin}
        src_files = source.files_dir / "runs" / str(src["id"])
        temp = self.files_dir / "runs" / f"{_TEMP_PREFIX}{self._host}-{os.getpid()}-{uuid.uuid4().hex}"
        final = None
        try:
            if src_files.is_dir():
                shutil.copytree(src_files, temp)
            with schema.write_transaction(self.db):
                row = {k: src[k] for k in ("model", "split", "status", "device", "started_at", "finished_at",
                                           "seconds", "epochs", "metrics", "error", "hostname")}
                new_id = self.db["runs"].insert({**row, "dataset_id": local.id, "config": to_json(config),
                                                 "pid": None}).last_pk
                points = source._rows("SELECT step, epoch, loss, wall_time, metrics, kind FROM curve "
                                      "WHERE run_id = ? ORDER BY id", [src["id"]])
                self.db["curve"].insert_all([{**p, "run_id": new_id} for p in points])
                final = self.files_dir / "runs" / str(new_id)
                artefacts = {}
                for kind, path in source.artefacts(src["id"]).items():
                    try:
                        artefacts[kind] = final / path.relative_to(src_files)
                    except ValueError:
                        artefacts[kind] = path  # outside the run folder: referenced where it is
                self._save_artefacts(new_id, artefacts)
                if temp.exists():
                    shutil.rmtree(final, ignore_errors=True)
                    os.replace(temp, final)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return self.run(new_id)

    # -- internals --------------------------------------------------------------------------

    def _rows(self, sql: str, params: list | None = None) -> list[dict]:
        return list(self.db.query(sql, params or []))

    def _dataset_row(self, ref: str | int) -> dict:
        rows = self._rows("SELECT * FROM datasets WHERE name = ?", [ref]) if isinstance(ref, str) else []
        if not rows and _as_id(ref) is not None:
            rows = self._rows("SELECT * FROM datasets WHERE id = ?", [_as_id(ref)])
        if not rows:
            what = f"with id {ref}" if isinstance(ref, int) else f"named {ref!r}"
            raise RecStudioError(f"No dataset {what}; `recstudio datasets` lists them.")
        return rows[0]

    def _run_row(self, run_id: int | str) -> dict:
        rid = _as_id(run_id)
        rows = self._rows(f"{_RUN_SELECT} WHERE runs.id = ?", [rid]) if rid is not None else []
        if not rows:
            raise RecStudioError(f"No run {run_id}; `recstudio runs list` shows them.")
        return rows[0]

    def _free_name(self, name: str) -> str:
        taken = {r["name"] for r in self._rows("SELECT name FROM datasets")}
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name} ({n})", n + 1
        return candidate

    def _save_artefacts(self, run_id: int, artefacts: dict[str, str | Path]) -> None:
        rows = [{"run_id": run_id, "kind": k, "path": self._stored_path(p)} for k, p in artefacts.items()]
        if rows:
            self.db["artefacts"].insert_all(rows, replace=True)

    def _stored_path(self, path: str | Path) -> str:
        # Relative inside the files folder, so the workspace can be moved or synced as a whole.
        path = Path(path).absolute()
        try:
            return path.relative_to(self.files_dir).as_posix()
        except ValueError:
            return str(path)

    def mark_interrupted(self) -> None:
        """Runs left ``running`` by a process on this machine that has since died (a killed CLI run, say)
        are recorded as interrupted; done on opening, and by a window that watches the workspace."""
        self._mark_interrupted()

    def _mark_interrupted(self) -> None:
        """Runs left ``running`` by a process on this machine that has since died."""
        rows = self._rows(
            "SELECT id, pid FROM runs WHERE status = 'running' AND hostname = ?", [self._host]
        )
        dead = [r for r in rows if r["pid"] is not None and not _pid_alive(r["pid"])]
        if not dead:
            return
        with schema.write_transaction(self.db):
            for r in dead:
                self.db.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? "
                    "WHERE id = ? AND status = 'running'",
                    [_now(), f"The process that ran it (pid {r['pid']}) ended before it finished.", r["id"]],
                )

    def _remove_orphans(self) -> None:
        """Delete dataset and run folders with no row: left by a crash mid-save or mid-delete."""
        datasets_dir, runs_dir = self.files_dir / "datasets", self.files_dir / "runs"
        if not datasets_dir.is_dir() and not runs_dir.is_dir():
            return
        # Under the write lock, a save in another process is either wholly committed or still
        # in its temp folder.
        with schema.write_transaction(self.db):
            folders = {r["folder"] for r in self._rows("SELECT folder FROM datasets")}
            run_ids = {str(r["id"]) for r in self._rows("SELECT id FROM runs")}
            orphans = []
            if datasets_dir.is_dir():
                for entry in datasets_dir.iterdir():
                    if entry.name.startswith(_TEMP_PREFIX):
                        if self._temp_is_abandoned(entry.name):
                            orphans.append(entry)
                    elif entry.name not in folders:
                        orphans.append(entry)
            if runs_dir.is_dir():
                orphans += [e for e in runs_dir.iterdir() if e.name.isdigit() and e.name not in run_ids]
            for entry in orphans:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)

    def _temp_is_abandoned(self, name: str) -> bool:
        # A temp folder belongs to a save that may still be writing: only a dead process's is junk.
        parts = name[len(_TEMP_PREFIX) :].rsplit("-", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return False
        host, pid, _token = parts
        return host == self._host and not _pid_alive(int(pid))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _as_id(ref: object) -> int | None:
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref
    if isinstance(ref, str) and ref.strip().isdigit():
        return int(ref)
    return None


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` on this machine still runs (unknown counts as alive)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        # os.kill(pid, 0) on Windows would signal the process, not probe it.
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
