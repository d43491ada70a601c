"""The workspace's SQL schema and its ordered migrations, with a backup before upgrading a file."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from recstudio.errors import RecStudioError

V1 = """
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    items_source TEXT,
    fingerprint TEXT NOT NULL,
    options_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    n_users INTEGER NOT NULL,
    n_items INTEGER NOT NULL,
    n_events INTEGER NOT NULL,
    report TEXT NOT NULL,
    folder TEXT NOT NULL UNIQUE
);
CREATE INDEX datasets_by_file ON datasets (fingerprint, options_key);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    -- no cascade: deleting a dataset that runs still use must be a deliberate choice
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    model TEXT NOT NULL,
    config TEXT NOT NULL,
    split TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('running', 'completed', 'cancelled', 'failed', 'interrupted')),
    device TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    seconds REAL,
    epochs INTEGER,
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    pid INTEGER,
    hostname TEXT
);
CREATE INDEX runs_by_dataset ON runs (dataset_id);

CREATE TABLE curve (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    loss REAL,
    wall_time REAL NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    kind TEXT NOT NULL DEFAULT 'train'
);
CREATE INDEX curve_by_run ON curve (run_id, id);

CREATE TABLE artefacts (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,  -- relative to the files folder when inside it
    PRIMARY KEY (run_id, kind)
);
"""

#: Migration i takes a file from schema version i to i + 1. Append only; never edit a shipped one.
#: Each runs inside one transaction, so it must not change PRAGMAs such as foreign_keys.
MIGRATIONS: list[str | Callable[[Database], None]] = [V1]


def schema_version(db: Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: Database, path: Path) -> None:
    """Bring the file at ``path`` up to ``len(MIGRATIONS)``, backing it up first if it has data."""
    target = len(MIGRATIONS)
    version = schema_version(db)
    if version > target:
        raise RecStudioError(
            f"The workspace {path} was made by a newer RecStudio (schema {version}, this one "
            f"knows {target}); upgrade RecStudio, or choose another workspace."
        )
    if 0 < version < target:
        backup(db, path.with_name(f"{path.name}.bak-v{version}"))
    while True:
        # The version is read again under the write lock, so two processes opening the same
        # file cannot both apply a step.
        with write_transaction(db):
            version = schema_version(db)
            if version >= target:
                return
            if version == 0 and db.table_names():
                raise RecStudioError(
                    f"{path} is an SQLite file but not a RecStudio workspace; choose another "
                    "path or set RECSTUDIO_WORKSPACE."
                )
            step = MIGRATIONS[version]
            if callable(step):
                step(db)
            else:
                db.executescript(step)
            db.execute(f"PRAGMA user_version = {version + 1}")


@contextmanager
def write_transaction(db: Database) -> Iterator[None]:
    """A transaction that holds the write lock from the start.

    A deferred transaction that reads and then writes can fail at once with "database is
    locked" when another connection wrote in between; IMMEDIATE waits out the busy timeout.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


def backup(db: Database, dest: Path) -> None:
    """Copy the live database to ``dest`` with SQLite's online backup (safe while others write)."""
    partial = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
    copy = sqlite3.connect(partial)
    try:
        db.conn.backup(copy)
    finally:
        copy.close()
    os.replace(partial, dest)
