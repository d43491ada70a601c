"""Importing a behaviour log (and optionally an item catalogue) into a coded Dataset with its report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from recstudio.data.catalogue import join_catalogue
from recstudio.data.cleaning import k_core, repeated_rows, row_hashes
from recstudio.data.dataset import Dataset, ImportReport
from recstudio.data.reading import inspect_source, read_chunks, read_table
from recstudio.data.roles import ColumnRoles, guess_roles, resolve_roles
from recstudio.data.timestamps import (
    NAT,
    clean_text,
    epoch_seconds,
    format_name,
    parse_unique,
    take_seconds,
    unreadable_error,
)
from recstudio.errors import RecStudioError

Progress = Callable[[float, str], None]

_GUESS_ROWS = 1000  # rows read to guess roles from contents
_READ_SHARE = 0.7  # share of the progress bar spent reading the file


@dataclass(frozen=True)
class ImportOptions:
    """How to clean the log while importing it."""

    drop_duplicates: bool = True  # drop exact duplicate rows
    event_types: tuple[str, ...] | None = None  # keep only these event-type values
    min_user_events: int = 1  # iterated k-core together with min_item_events
    min_item_events: int = 1
    item_key: str | None = None  # catalogue column holding the item id (guessed if None)
    category_separator: str = "|"

    def __post_init__(self):
        if isinstance(self.event_types, str):  # ("purchase") is an easy slip for ("purchase",)
            object.__setattr__(self, "event_types", (self.event_types,))
        for name in ("min_user_events", "min_item_events"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise RecStudioError(f"{name} must be a whole number of at least 1, not {value!r}.")
        if not self.category_separator:
            raise RecStudioError("The category separator must not be empty; the usual one is '|'.")


@dataclass(frozen=True)
class Preview:
    """The first rows of a file and what the importer would make of them, for the import dialog."""

    rows: pd.DataFrame  # first rows, every cell as stripped text
    roles: ColumnRoles  # guessed roles
    timestamp_format: str | None  # format of the guessed timestamp column, e.g. "ISO-8601"
    columns: tuple[str, ...]
    format: str  # "csv" or "parquet"
    delimiter: str | None
    encoding: str | None
    warnings: tuple[str, ...] = ()


def preview(path, n: int = 20) -> Preview:
    """First ``n`` rows with guessed roles and timestamp format; roles are guessed from more rows."""
    sample, info = read_table(path, nrows=max(n, _GUESS_ROWS))
    roles = guess_roles(sample)
    fmt = None
    if roles.timestamp is not None:
        values = clean_text(sample[roles.timestamp]).dropna().unique()
        fmt = parse_unique(np.asarray(values, dtype=object)).format_name
    return Preview(sample.head(n).reset_index(drop=True), roles, fmt, tuple(sample.columns), info["format"],
                   info["delimiter"], info["encoding"], tuple(info["warnings"]))


def import_interactions(path, *, items_path=None, roles: ColumnRoles | None = None,
                        options: ImportOptions = ImportOptions(), name: str | None = None,
                        progress: Progress | None = None) -> Dataset:
    """Read, parse, clean and code a behaviour log; join the catalogue when given.

    Users and items are coded 0..n-1 in order of first appearance in the file. Events are
    sorted by user, then time, ties in file order. Rows that cannot be used are dropped and
    counted by reason in ``dataset.report.dropped``.
    """
    say = progress or (lambda fraction, message: None)
    source = inspect_source(path)
    if items_path is not None:
        inspect_source(items_path)  # a bad catalogue should fail before the long read, not after
    say(0.0, f"Reading {source.name}")
    sample, _ = read_table(source.path, nrows=_GUESS_ROWS)
    columns = resolve_roles(sample, roles, source.name)

    log = _Log(columns, options.drop_duplicates)
    stats = read_chunks(source, log.add, reset=log.reset,
                        progress=lambda f: say(_READ_SHARE * f, f"Reading {source.name}: {log.rows:,} rows"))
    report = ImportReport(
        source=str(source.path.resolve()), rows_read=log.rows + stats.malformed, columns=dict(columns),
        delimiter=source.delimiter, encoding=stats.encoding, warnings=list(stats.warnings),
    )
    if log.rows == 0 and stats.malformed:
        raise RecStudioError(
            f"None of the {stats.malformed:,} data lines of {source.name} has the header's {len(source.columns)} "
            f"fields (e.g. {stats.malformed_example!r}); check the delimiter and the header row."
        )
    if log.rows == 0:
        raise RecStudioError(f"{source.name} has a header row but no data rows; export the data again.")
    if stats.malformed:
        report.dropped["malformed line"] = stats.malformed
        report.warnings.append(
            f"{stats.malformed:,} line(s) did not have the header's {len(source.columns)} fields and were "
            f"skipped (e.g. {stats.malformed_example!r})."
        )

    cleaner = _Cleaner(log, report)
    say(_READ_SHARE + 0.05, "Parsing timestamps")
    timestamps = cleaner.timestamps()
    say(_READ_SHARE + 0.15, "Cleaning")
    cleaner.drop_duplicates(options.drop_duplicates)
    cleaner.filter_events(options.event_types)
    cleaner.k_core(options.min_user_events, options.min_item_events)
    dataset_name = name or _stem(source.path)
    dataset = cleaner.dataset(timestamps, dataset_name)

    if items_path is not None:
        say(_READ_SHARE + 0.25, f"Joining catalogue {Path(items_path).name}")
        join = join_catalogue(items_path, dataset.item_ids, columns["item"], key=options.item_key,
                              separator=options.category_separator)
        dataset.items = join.items
        report.catalogue_items = join.matched
        report.catalogue_columns = join.columns
        report.warnings.extend(join.warnings)
    say(1.0, f"Imported {dataset.n_events:,} events by {dataset.n_users:,} users on {dataset.n_items:,} items")
    return dataset


class _Coder:
    """Codes text to ints by first appearance across chunks, holding only each chunk's distinct values.

    Chunks are coded locally and merged into the global coding in batches that at least double
    what is already known, so the work stays linear however many chunks there are.
    """

    _MIN_MERGE = 1_000_000

    def __init__(self):
        self._known = pd.Series([], dtype="str")
        self._pending: list[tuple[np.ndarray, pd.Series]] = []
        self._pending_values = 0
        self._codes: list[np.ndarray] = []

    def add(self, text: pd.Series) -> None:
        codes, uniques = pd.factorize(text)
        self._pending.append((codes.astype(np.int32), pd.Series(uniques, dtype="str")))
        self._pending_values += len(uniques)
        if self._pending_values > max(len(self._known), self._MIN_MERGE):
            self._merge()

    def codes(self) -> np.ndarray:
        """Every row's code (-1 where the value is missing), in file order."""
        self._merge()
        if len(self._codes) != 1:
            self._codes = [np.concatenate(self._codes) if self._codes else np.zeros(0, dtype=np.int32)]
        return self._codes[0]

    def values(self) -> pd.Series:
        """The distinct values; value ``values()[c]`` has code ``c``."""
        self._merge()
        return self._known

    def _merge(self) -> None:
        if not self._pending:
            return
        # known values come first and are distinct, so they keep their codes
        every = pd.concat([self._known, *(uniques for _, uniques in self._pending)], ignore_index=True)
        global_codes, self._known = pd.factorize(every)
        self._known = pd.Series(self._known, dtype="str")
        start = len(every) - self._pending_values
        for local, uniques in self._pending:
            mapping = global_codes[start : start + len(uniques)].astype(np.int32)
            start += len(uniques)
            self._codes.append(np.where(local >= 0, mapping[np.maximum(local, 0)], -1).astype(np.int32)
                               if len(mapping) else local)
        self._pending, self._pending_values = [], 0


class _Log:
    """The coded columns of the log, filled chunk by chunk (the raw text is not kept)."""

    _CODED = ("user", "item", "timestamp", "event")
    _NUMERIC = ("rating", "quantity")

    def __init__(self, columns: dict[str, str], hash_rows: bool):
        self.columns = columns
        self.hash_rows = hash_rows
        self.reset()

    def reset(self) -> None:
        self.rows = 0
        self.coders = {r: _Coder() for r in self._CODED if r in self.columns}
        self.parts: dict[str, list[np.ndarray]] = {r: [] for r in (*self._NUMERIC, "hash", "time number")}
        self.not_numbers = {r: 0 for r in self._NUMERIC}

    def add(self, frame: pd.DataFrame) -> None:
        for role, coder in self.coders.items():
            text = clean_text(frame[self.columns[role]])
            if role == "timestamp":
                text = self._split_epoch_numbers(text)
            coder.add(text)
        for role in self._NUMERIC:
            if role in self.columns:
                text = clean_text(frame[self.columns[role]])
                numbers = pd.to_numeric(text, errors="coerce")
                self.not_numbers[role] += int((numbers.isna() & text.notna()).sum())
                self.parts[role].append(numbers.to_numpy(dtype=np.float32, na_value=np.nan))
        if self.hash_rows:
            self.parts["hash"].append(row_hashes(frame))
        self.rows += len(frame)

    def _split_epoch_numbers(self, text: pd.Series) -> pd.Series:
        """Keep epoch numbers as float64 (8 bytes a row) and return only text times for coding.

        Numeric text left in the returned strings is still read as epochs later, so the
        numbers-first shortcut is taken only for chunks that start with numbers.
        """
        numbers = np.full(len(text), np.nan)
        if pd.to_numeric(text.head(64), errors="coerce").notna().any():
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            text = text.where(~np.isfinite(numbers))
        self.parts["time number"].append(numbers)
        return text

    def column(self, role: str) -> np.ndarray:
        if role in self.coders:
            return self.coders[role].codes()
        return np.concatenate(self.parts[role])


class _Cleaner:
    """Drops unusable rows step by step, counting each reason, and builds the Dataset."""

    def __init__(self, log: _Log, report: ImportReport):
        self.log = log
        self.report = report
        self.columns = log.columns
        self.users = log.column("user")
        self.items = log.column("item")
        self.keep = np.ones(log.rows, dtype=bool)
        self._drop(self.users < 0, "missing user id",
                   f"Every user id in column {self.columns['user']!r} is empty; choose the user column explicitly.")
        self._drop(self.items < 0, "missing item id",
                   f"Every item id in column {self.columns['item']!r} is empty; choose the item column explicitly.")

    def _drop(self, bad: np.ndarray, reason: str, if_emptied: str) -> None:
        bad = bad & self.keep
        count = int(bad.sum())
        if count:
            self.report.dropped[reason] = self.report.dropped.get(reason, 0) + count
            self.keep &= ~bad
        if not self.keep.any():
            raise RecStudioError(if_emptied)

    def timestamps(self) -> np.ndarray:
        if "timestamp" not in self.columns:
            self.report.warnings.append(
                "No timestamp column was found, so events are ordered by their position in the file."
            )
            self.report.timestamp_format = "file order"
            seconds = np.arange(self.log.rows, dtype=np.int64)
        else:
            column = self.columns["timestamp"]
            codes = self.log.column("timestamp")
            parsed = parse_unique(self.log.coders["timestamp"].values())
            numbers = self.log.column("time number")
            from_numbers, number_counts = epoch_seconds(numbers)
            is_number = np.isfinite(numbers)
            seconds = np.where(is_number, from_numbers, take_seconds(parsed.seconds, codes))
            counts = {fmt: parsed.counts.get(fmt, 0) + number_counts.get(fmt, 0)
                      for fmt in {**number_counts, **parsed.counts}}
            failed = (seconds == NAT) & self.keep
            if failed.sum() > 0.5 * self.keep.sum():
                raise unreadable_error(column, int(failed.sum()), int(self.keep.sum()), self._example(failed, codes))
            if failed.any():
                self.report.warnings.append(
                    f"{int(failed.sum()):,} rows have a timestamp that could not be read "
                    f"(e.g. {self._example(failed, codes)!r}) and were dropped."
                )
            self._drop(failed, "unparseable timestamp", f"No timestamp in column {column!r} could be read.")
            self.report.timestamp_format = format_name(counts)
            self.report.warnings.extend(f"Column {column!r}: {note}." for note in parsed.notes)
        return seconds

    def drop_duplicates(self, enabled: bool) -> None:
        if enabled:
            self._drop(repeated_rows(self.log.column("hash")), "duplicate row", "Duplicates cannot empty a log.")

    def _example(self, failed: np.ndarray, codes: np.ndarray) -> str | None:
        present = np.flatnonzero(failed & (codes >= 0))
        return self.log.coders["timestamp"].values().iloc[codes[present[0]]] if len(present) else None

    def filter_events(self, event_types: tuple[str, ...] | None) -> None:
        if event_types is None:
            return
        wanted_text = ", ".join(map(repr, event_types))
        if "event" not in self.columns:
            raise RecStudioError(
                f"Keeping only event types {wanted_text} needs an event column, and none was found; "
                "choose the event column explicitly or drop the event-type filter."
            )
        known = self.log.coders["event"].values().to_numpy(dtype=object)
        events = self.log.column("event")
        wanted = pd.Index(known, dtype="str").get_indexer(pd.Index([str(e).strip() for e in event_types], dtype="str"))
        present = known[np.unique(events[self.keep & (events >= 0)])]
        self._drop(
            ~np.isin(events, wanted[wanted >= 0]), "event type filtered",
            f"No rows have event type {wanted_text} in column {self.columns['event']!r}; "
            f"its event types are: {', '.join(map(repr, present[:10]))}.",
        )

    def k_core(self, min_user_events: int, min_item_events: int) -> None:
        if min_user_events <= 1 and min_item_events <= 1:
            return
        rows = np.flatnonzero(self.keep)
        core = k_core(self.users[rows], self.items[rows], min_user_events, min_item_events)
        weak = np.zeros(len(self.keep), dtype=bool)
        weak[rows[~core]] = True
        self._drop(
            weak, "k-core",
            f"Keeping users with at least {min_user_events} events and items with at least {min_item_events} "
            "events (repeated until stable) left no rows; lower the minimum event counts.",
        )

    def dataset(self, seconds: np.ndarray, name: str) -> Dataset:
        rows = np.flatnonzero(self.keep)
        user_codes, users = _compact(self.users[rows])
        item_codes, items = _compact(self.items[rows])
        seconds = seconds[rows]
        # lexsort is stable, so events of one user at the same time keep their file order
        order = np.lexsort((seconds, users))
        interactions = pd.DataFrame({
            "user": users[order].astype(np.int32),
            "item": items[order].astype(np.int32),
            "timestamp": seconds[order].astype(np.int64),
        })
        if "event" in self.columns:
            codes = self.log.column("event")[rows][order]
            interactions["event"] = self.log.coders["event"].values().array.take(codes, allow_fill=True)
        for role in ("rating", "quantity"):
            if role in self.columns:
                interactions[role] = self.log.column(role)[rows][order]
                if self.log.not_numbers[role]:
                    self.report.warnings.append(
                        f"{self.log.not_numbers[role]:,} values in {role} column {self.columns[role]!r} are not "
                        "numbers; those events were kept without a value."
                    )
        user_ids = self.log.coders["user"].values().to_numpy(dtype=object)[user_codes].astype(str)
        item_ids = self.log.coders["item"].values().to_numpy(dtype=object)[item_codes].astype(str)

        report = self.report
        report.users, report.items, report.events = len(user_ids), len(item_ids), len(interactions)
        if "timestamp" in self.columns:
            report.time_start = _iso(seconds.min())
            report.time_end = _iso(seconds.max())
        return Dataset(name, interactions, user_ids, item_ids, pd.DataFrame({"item_id": item_ids}), report)


def _compact(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes still in use (ascending) and every row's new code among them, 0..n-1."""
    used = np.zeros(int(codes.max()) + 1, dtype=bool)
    used[codes] = True
    new_code = np.cumsum(used) - 1
    return np.flatnonzero(used), new_code[codes]


def _iso(seconds: int) -> str:
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").isoformat()


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".gzip"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return Path(name).stem or path.name

