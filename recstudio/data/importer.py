"""Importing a behaviour log (and optionally an item catalogue) into a coded Dataset with its report."""

from __future__ import annotations

import ctypes
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recstudio.data import text_columns
from recstudio.data.basket_order import basket_order, whole_baskets
from recstudio.data.basket_report import report_baskets
from recstudio.data.catalogue import join_catalogue
from recstudio.data.cleaning import k_core, repeated_rows
from recstudio.data.dataset import Dataset, ImportReport
from recstudio.data.id_quirks import IdQuirks
from recstudio.data.reading import inspect_source, read_chunks, read_table
from recstudio.data.roles import ColumnRoles, guess_roles, resolve_roles
from recstudio.data.timestamps import (
    EPOCH_UNITS,
    NAT,
    EpochSpread,
    check_epoch_units,
    clean_text,
    epoch_seconds,
    format_name,
    may_be_compact_dates,
    numbers_in,
    parse_unique,
    read_iso,
    take_seconds,
    unit_name,
    unreadable_error,
)
from recstudio.errors import RecStudioError

Progress = Callable[[float, str], None]

_GUESS_ROWS = 1000  # rows read to guess roles from contents
_READ_SHARE = 0.7  # share of the progress bar spent reading the file
_NUMBER_FORMATS = ("%Y%m%d", *EPOCH_UNITS)  # the formats epoch_seconds reports, in its order
_TRIM_EVERY = 32  # chunks read between handing freed heap memory back to the system
_NAT32 = np.iinfo(np.int32).min  # a missing time while times are kept as int32 seconds
_TABLE_LIMIT = 1 << 25  # whole-number ids below this are coded through a table (4 bytes per number)


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

    log = _Log(columns, options.drop_duplicates, file_bytes=source.size if source.format == "csv" else 0)
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

    _release_free_memory()
    cleaner = _Cleaner(log, report)
    say(_READ_SHARE + 0.05, "Parsing timestamps")
    cleaner.timestamps()
    _release_free_memory()
    say(_READ_SHARE + 0.15, "Cleaning")
    cleaner.drop_duplicates(options.drop_duplicates)
    cleaner.filter_events(options.event_types)
    cleaner.k_core(options.min_user_events, options.min_item_events)
    _release_free_memory()
    dataset = cleaner.dataset(name or _stem(source.path))
    del log, cleaner
    _release_free_memory()

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

    While every id is a plain whole number (most logs' customer and product numbers), ids are coded
    through a table indexed by the number. Otherwise chunks are coded locally and merged into the
    global coding in batches that at least double what is already known, so the work stays linear
    however many chunks there are. Codes are kept in the narrowest int type that holds them, so an
    event column costs a byte a row. The distinct values are kept as arrow text, not Python strings.
    """

    _MIN_MERGE = 1_000_000

    def __init__(self, quirks: IdQuirks | None = None):
        self.quirks = quirks  # for an id column: '-' read as missing, padded ids counted
        self._known = None  # arrow large_string array of the distinct values, once there are some
        self._n_known = 0
        self._values: pd.Series | None = None
        self._codes = _Column(np.int8, -1)  # global codes, and local ones for the pending chunks
        self._pending: list[tuple[int, object]] = []  # (first row, arrow distinct values) of each pending chunk
        self._pending_values = 0
        self._plain = True  # every id so far is a plain whole number
        self._table: np.ndarray | None = None  # code of each whole-number id (-1: not seen), while ids are numbers
        self._numbers: list[np.ndarray] = []  # those ids, in order of their codes

    def add_raw(self, raw) -> None:
        """Add a chunk of the raw column (arrow text), cleaned as ``clean_text`` cleans it.

        While every id is a whole number written plainly (12345: text and number are one to one),
        ids are coded through a table indexed by the number, without hashing any text. Otherwise
        each chunk is dictionary-encoded and its distinct values, cleaned, wait for the next merge.
        """
        if self._plain:
            numbers = text_columns.plain_integers(raw, limit=_TABLE_LIMIT)
            if numbers is not None:
                self._add_numbers(*numbers)
                return
            self._as_text()
        codes, values = text_columns.codes_and_values(raw)
        cleaned = text_columns.clean(values)
        if self.quirks is not None:
            cleaned = self.quirks.clean(codes, values, cleaned)
        if cleaned is values:  # nothing to strip or blank out: still distinct
            self.add_factorized(codes, values)
            return
        # equal once cleaned: first appearances stay in order, as the raw values are in that order
        recode, distinct = text_columns.codes_and_values(cleaned)
        self.add_factorized(np.append(recode, np.int32(-1))[codes], distinct)

    def _add_numbers(self, numbers: np.ndarray, present: np.ndarray | None) -> None:
        top = int(numbers.max()) if len(numbers) else -1
        if self._table is None or top >= len(self._table):
            grown = np.full(max(2 * (top + 1), 1 << 16), -1, dtype=np.int32)
            if self._table is not None:
                grown[: len(self._table)] = self._table
            self._table = grown
        codes = self._table[numbers]
        new = codes < 0 if present is None else (codes < 0) & present
        if new.any():
            # new ids get the next codes, in order of first appearance
            ids, first = np.unique(numbers[new], return_index=True)
            ids = ids[np.argsort(first)]
            self._table[ids] = self._n_known + np.arange(len(ids), dtype=np.int32)
            self._numbers.append(ids)
            self._n_known += len(ids)
            codes[new] = self._table[numbers[new]]
        if present is not None:
            codes[~present] = -1
        self._codes.widen(_code_type(self._n_known))
        self._codes.append(codes)

    def _as_text(self) -> None:
        """Leave the number table for good: the ids known so far become text (they are written plainly)."""
        self._plain = False
        if self._table is not None:
            self._known = pa.array(np.concatenate(self._numbers)).cast(pa.large_string())
            self._table, self._numbers = None, []

    def add_factorized(self, codes: np.ndarray, uniques) -> None:
        """Add a chunk already factorized: ``codes`` index ``uniques``, -1 where the value is missing."""
        if len(uniques) == 0:
            self._codes.append_fill(len(codes))
            return
        # room for this chunk's local codes and for every global code the next merge may give
        self._codes.widen(_code_type(self._n_known + self._pending_values + len(uniques)))
        self._pending.append((self._codes.size, _arrow_text(uniques)))
        self._codes.append(codes)
        self._pending_values += len(uniques)
        if self._pending_values > max(self._n_known, self._MIN_MERGE):
            self._merge()

    def take_codes(self) -> np.ndarray:
        """Every row's code (-1 where the value is missing), in file order; the coder lets go of them."""
        self._merge()
        return self._codes.take()

    def distinct(self):
        """The distinct values as arrow text (no Python strings); value ``distinct()[c]`` has code ``c``."""
        self._as_text()
        self._merge()
        return self._known if self._known is not None else pa.array([], pa.large_string())

    def values(self) -> pd.Series:
        """The distinct values; value ``values()[c]`` has code ``c``."""
        self._as_text()
        self._merge()
        if self._values is None:
            self._values = pd.Series(self._known.to_pandas() if self._known is not None else [], dtype="str")
        return self._values

    def _merge(self) -> None:
        if not self._pending:
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        pending = pa.chunked_array([uniques for _, uniques in self._pending], type=pa.large_string())
        # The pending values are looked up among the known ones; encoding both together would
        # hash every known value again, which is twice the memory for a million ids.
        if self._known is None:
            global_codes = np.full(len(pending), -1, dtype=np.int64)
        else:
            global_codes = pc.fill_null(pc.index_in(pending, value_set=self._known), -1).to_numpy().astype(np.int64)
        new = global_codes < 0
        if new.any():
            # new values get the next codes, in order of first appearance
            encoded = pc.dictionary_encode(pc.filter(pending, pa.array(new)))
            global_codes[new] = self._n_known + np.concatenate([c.indices.to_numpy() for c in encoded.chunks])
            fresh = encoded.chunks[-1].dictionary
            self._known = fresh if self._known is None else pa.concat_arrays([self._known, fresh])
        self._n_known, self._values = len(self._known), None
        start = 0
        ends = [first for first, _ in self._pending[1:]] + [self._codes.size]
        for (first, uniques), end in zip(self._pending, ends):
            mapping = global_codes[start : start + len(uniques)]
            start += len(uniques)
            local = self._codes.view(first, end)
            local[:] = np.where(local >= 0, mapping[np.maximum(local, 0)], -1)
        self._pending, self._pending_values = [], 0


class _Column:
    """One column of the log, filled chunk by chunk into a single buffer that doubles when full.

    Kept as an array per chunk, thousands of long-lived arrays would sit among the reader's
    short-lived blocks on the heap and pin memory that is never given back to the system. A large
    buffer is a memory map of its own, whose pages count only once written. While every value so
    far is ``fill`` the values are only counted.
    """

    _FIRST_ROWS = 1 << 16

    def __init__(self, dtype, fill):
        self.dtype = np.dtype(dtype)
        self.fill = fill
        self.size = 0
        self._buffer: np.ndarray | None = None
        self._expected = 0  # rows the file is expected to have: room for them is made at once

    def expect(self, rows: int) -> None:
        """Make room for ``rows`` values when the buffer is first needed (unwritten room costs no memory)."""
        self._expected = rows

    @property
    def written(self) -> bool:
        """Whether any value other than ``fill`` has been added."""
        return self._buffer is not None

    def append(self, values: np.ndarray) -> None:
        self._reserve(len(values))
        self._buffer[self.size : self.size + len(values)] = values
        self.size += len(values)

    def append_fill(self, n: int) -> None:
        if self._buffer is not None:
            self._reserve(n)
            self._buffer[self.size : self.size + n] = self.fill
        self.size += n

    def widen(self, dtype) -> None:
        """Hold values of the wider ``dtype`` from now on (codes outgrowing int8, say)."""
        if np.dtype(dtype).itemsize > self.dtype.itemsize:
            self.dtype = np.dtype(dtype)
            if self._buffer is not None:
                wider = np.empty(len(self._buffer), self.dtype)  # the same room
                wider[: self.size] = self._buffer[: self.size]
                self._buffer = wider

    def view(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop, to be changed in place; only valid until the next append."""
        return self._buffer[start:stop]

    def take(self) -> np.ndarray:
        """All values; the column lets go of them."""
        values = np.full(self.size, self.fill, self.dtype) if self._buffer is None else self._buffer[: self.size]
        self._buffer, self.size = None, 0
        return values

    def _reserve(self, n: int) -> None:
        if self._buffer is None:
            self._buffer = np.empty(max(self.size + n, self._FIRST_ROWS, self._expected), self.dtype)
            self._buffer[: self.size] = self.fill
        elif self.size + n > len(self._buffer):
            grown = np.empty(max(2 * len(self._buffer), self.size + n, self._expected), self.dtype)
            grown[: self.size] = self._buffer[: self.size]
            self._buffer = grown


class _Times:
    """The timestamp column, read chunk by chunk wherever a value's reading depends on that value alone.

    ISO-8601 text becomes seconds at once, kept as int32 (4 bytes a row) while every time lies in
    1901..2038. Numbers and other text wait for the whole column, whose values decide together how
    they are read (which epoch unit? is every number a compact date? is 01/02/2010 day or month first?).
    """

    def __init__(self):
        self.text = _Coder()  # text not read yet, coded
        self.seconds = _Column(np.int32, _NAT32)  # not read yet: NAT32 (NAT once widened to int64)
        self.numbers = _Column(np.float64, np.nan)  # epoch numbers (or compact dates), read once all are in
        self.iso_values = 0  # distinct ISO-8601 values, summed over chunks
        self.compact_dates = True  # until a number that cannot be a compact date is seen
        # values of the everyday shape 2023-05-01 12:00:00 are read in arrow (text_columns.iso_seconds);
        # their spelling (T or space, Z or not: -1 for other values) is kept so that their distinct
        # values per chunk can be counted, as ISO-8601 values read here are, if the count matters
        self.spellings = _Column(np.int8, -1)
        self.chunk_starts: list[int] = []

    def add(self, raw, hashes: bool = False) -> np.ndarray | None:
        """Add a chunk of the raw column (arrow text); with ``hashes``, return its values' hashes."""
        n = len(raw)
        fast, spelling = text_columns.iso_seconds(raw)
        done = spelling >= 0
        self.chunk_starts.append(self.spellings.size)
        if done.any():
            self.spellings.append(spelling)
        else:
            self.spellings.append_fill(n)
        value_hashes = None
        if hashes:
            value_hashes = text_columns.iso_hashes(fast, spelling)
            if not done.all():
                others = np.flatnonzero(~done)
                value_hashes[others] = text_columns.text_hashes(raw.take(others))
        if done.all():
            self.numbers.append_fill(n)
            self._add_seconds(fast)
            self.text.add_factorized(np.full(n, -1, dtype=np.int8), [])
            return value_hashes
        text = text_columns.clean(raw)
        if done.any():
            text = pc.if_else(pa.array(done), pa.scalar(None, text.type), text)
        self._add_text(text, fast if done.any() else None)
        return value_hashes

    def _add_text(self, text, seconds: np.ndarray | None) -> None:
        """The cleaned values ``iso_seconds`` did not read (null where it did, with their ``seconds``)."""
        numbers = None
        # Numbers-first is tried only for chunks that start with numbers; numeric text left in
        # the text is still read as epochs by parse_unique at the end.
        if pd.to_numeric(_pandas_text(text.slice(0, 64)), errors="coerce").notna().any():
            numbers = _numbers(text)
            is_number = np.isfinite(numbers)
            if is_number.any():
                text = pc.if_else(pa.array(is_number), pa.scalar(None, text.type), text)
            if not is_number.any():
                numbers = None
            elif self.compact_dates and not may_be_compact_dates(numbers):
                self.compact_dates = False
        if numbers is None:
            self.numbers.append_fill(len(text))
        else:
            self.numbers.append(numbers)

        if text.null_count == len(text):  # all read already (or missing)
            codes, uniques = np.full(len(text), -1, dtype=np.int8), []
        else:
            codes, uniques = pd.factorize(_pandas_text(text))
            iso = read_iso(uniques)
            is_iso = iso != NAT
            if is_iso.any():
                self.iso_values += int(is_iso.sum())
                from_iso = take_seconds(iso, codes)
                seconds = from_iso if seconds is None else np.where(from_iso != NAT, from_iso, seconds)
                unread = np.flatnonzero(~is_iso)
                recode = np.full(len(uniques), -1, dtype=np.int64)
                recode[unread] = np.arange(len(unread))
                codes = np.where(codes >= 0, recode[np.maximum(codes, 0)], -1)
                uniques = uniques[unread]
        if seconds is None:
            self.seconds.append_fill(len(text))
        else:
            self._add_seconds(seconds)
        self.text.add_factorized(codes, uniques)

    def _add_seconds(self, seconds: np.ndarray) -> None:
        if self.seconds.dtype == np.int32:
            read = seconds != NAT
            if _fits_int32(seconds[read]):
                seconds = np.where(read, seconds, _NAT32).astype(np.int32)
            else:
                earlier = _seconds64(self.seconds.take())
                self.seconds = _Column(np.int64, NAT)
                self.seconds.append(earlier)
        self.seconds.append(seconds)

    def read(self, column: str) -> tuple[np.ndarray, dict[str, int], list[str], np.ndarray | None]:
        """Every row's seconds, the values read per format, notes on the reading, and the codes of
        the rows read from text (None when there was none). Epoch numbers are read in one unit, the
        column's (a RecStudioError when it mixes units).

        The seconds are int64 with NAT where unreadable or missing, or, when every time was read
        chunk by chunk and fits, int32 with NAT32 (see ``_unread``).
        """
        seconds = self.seconds.take()
        read_fast = self.spellings.written
        spellings = self.spellings.take()
        numbers = self.numbers.take() if self.numbers.written else np.empty(0)
        spread = EpochSpread.of(numbers) + EpochSpread.of(numbers_in(self.text.values()))
        if len(self.text.values()) or (len(numbers) and not _fits_int32(np.array(spread.span(spread.unit)))):
            seconds = _seconds64(seconds)  # text and numbers may read to any time
        number_counts = {}
        if len(numbers) and self.compact_dates:  # every chunk's numbers may be compact dates (20101201)
            from_numbers, number_counts = epoch_seconds(numbers, unit=spread.unit)
            is_number = np.isfinite(numbers)
            seconds[is_number] = _as_seconds_of(from_numbers[is_number], seconds.dtype)
            del from_numbers, is_number
        if "%Y%m%d" not in number_counts:
            check_epoch_units(spread, column)
            if len(numbers):
                number_counts = _epoch_seconds_into(numbers, seconds, spread.unit)
        del numbers

        parsed = parse_unique(self.text.values(), unit=spread.unit)
        codes = None
        if len(self.text.values()):
            codes = self.text.take_codes()
            np.copyto(seconds, take_seconds(parsed.seconds, codes), where=codes >= 0)
        text_counts = dict(parsed.counts)
        iso_values = self.iso_values
        if read_fast:
            others = any(n for fmt, n in {**number_counts, **text_counts}.items() if fmt != "ISO-8601")
            # the count only orders the formats of a mixed column; alone, ISO-8601 needs no count
            iso_values += _distinct_spellings(seconds, spellings, self.chunk_starts) if others else 1
        del spellings
        if iso_values:
            # placed after numbers and before other formats, where parse_unique counts ISO-8601
            numeric = {k: v for k, v in text_counts.items() if k in _NUMBER_FORMATS}
            rest = {k: v for k, v in text_counts.items() if k not in numeric and k != "ISO-8601"}
            text_counts = {**numeric, "ISO-8601": text_counts.get("ISO-8601", 0) + iso_values, **rest}
        counts = {fmt: text_counts.get(fmt, 0) + number_counts.get(fmt, 0) for fmt in {**number_counts, **text_counts}}
        return seconds, counts, parsed.notes, codes


class _Log:
    """The coded columns of the log, filled chunk by chunk (the raw text is not kept)."""

    _CODED = ("user", "item", "event", "basket")
    _NUMERIC = ("rating", "quantity")

    def __init__(self, columns: dict[str, str], hash_rows: bool, file_bytes: int = 0):
        self.columns = columns
        self.hash_rows = hash_rows
        self.file_bytes = file_bytes  # the file's size, to foresee its rows from the first chunk's
        self.reset()

    def reset(self) -> None:
        self.rows = 0
        self.chunks = 0
        self.coders = {r: _Coder(IdQuirks() if r in ("user", "item") else None) for r in self._CODED if r in self.columns}
        self.times = _Times() if "timestamp" in self.columns else None
        self.parts = {"hash": _Column(np.uint64, 0), **{r: _Column(np.float32, np.nan) for r in self._NUMERIC}}
        self.not_numbers = {r: 0 for r in self._NUMERIC}

    def add(self, batch) -> None:
        """Add a chunk: an arrow record batch of the file's columns as raw text.

        The reader's chunks are small (a megabyte of text), which is also what numpy works on best:
        the arrays of a chunk stay in the processor's cache from one step to the next.
        """
        raw = {name: text_columns.as_text(column) for name, column in zip(batch.schema.names, batch.columns)}
        if self.chunks == 0 and self.file_bytes and batch.num_rows:
            # a CSV row takes its text plus a separator per field; room for a tenth more rows than foreseen
            line = sum(_text_bytes(values) for values in raw.values()) / batch.num_rows + len(raw)
            self._expect(int(1.1 * self.file_bytes / line))
        hashes: dict[str, np.ndarray] = {}  # the raw values' hashes, per column, for the row hashes
        for role, coder in self.coders.items():
            coder.add_raw(raw[self.columns[role]])
        if self.times is not None:
            column = self.columns["timestamp"]
            hashes[column] = self.times.add(raw[column], hashes=self.hash_rows)
        for role in self._NUMERIC:
            if role in self.columns:
                text = text_columns.clean(raw[self.columns[role]])
                numbers = _numbers(text)
                self.not_numbers[role] += int((np.isnan(numbers) & _present(text)).sum())
                self.parts[role].append(numbers.astype(np.float32))
        if self.hash_rows:
            self.parts["hash"].append(text_columns.combine_hashes(
                [hashes[name] if name in hashes else text_columns.text_hashes(values) for name, values in raw.items()]
            ))
        self.rows += batch.num_rows
        self.chunks += 1
        if self.chunks % _TRIM_EVERY == 0:
            _release_free_memory()

    def _expect(self, rows: int) -> None:
        columns = [*self.parts.values(), *(coder._codes for coder in self.coders.values())]
        if self.times is not None:
            columns += [self.times.seconds, self.times.numbers, self.times.spellings, self.times.text._codes]
        for column in columns:
            column.expect(rows)

    def take(self, part: str) -> np.ndarray:
        """A numeric column ("rating", "quantity") or the row hashes; the log lets go of it."""
        return self.parts[part].take()


class _Cleaner:
    """Drops unusable rows step by step, counting each reason, and builds the Dataset.

    It takes each column from the log when it first needs it and lets go of it once used, so the
    fullest moment of a large import holds the coded columns about once, not in several copies.
    """

    def __init__(self, log: _Log, report: ImportReport):
        self.log = log
        self.report = report
        self.columns = log.columns
        # Duplicates are found first, so that the 8-byte row hashes are gone before the
        # timestamps are read; they are dropped later, in the order the report counts reasons.
        self.repeated = repeated_rows(log.take("hash")) if log.hash_rows else None
        self.users = log.coders["user"].take_codes()
        self.items = log.coders["item"].take_codes()
        for role in ("user", "item"):
            coder = log.coders[role]
            report.warnings.extend(coder.quirks.warnings(role, self.columns[role], coder.distinct()))
        self.seconds: np.ndarray | None = None
        self._events: np.ndarray | None = None
        self.keep = np.ones(log.rows, dtype=bool)
        self._drop(self.users < 0, "missing user id",
                   f"Every user id in column {self.columns['user']!r} is empty; choose the user column explicitly.")
        self._drop(self.items < 0, "missing item id",
                   f"Every item id in column {self.columns['item']!r} is empty; choose the item column explicitly.")

    @property
    def events(self) -> np.ndarray:
        if self._events is None:
            self._events = self.log.coders["event"].take_codes()
        return self._events

    def _drop(self, bad: np.ndarray, reason: str, if_emptied: str) -> None:
        bad = bad & self.keep
        count = int(bad.sum())
        if count:
            self.report.dropped[reason] = self.report.dropped.get(reason, 0) + count
            self.keep &= ~bad
        if not self.keep.any():
            raise RecStudioError(if_emptied)

    def timestamps(self) -> None:
        if "timestamp" not in self.columns:
            self.report.warnings.append(
                "No timestamp column was found, so events are ordered by their position in the file."
            )
            self.report.timestamp_format = "file order"
            self.seconds = np.arange(self.log.rows, dtype=np.int64)
            return
        column = self.columns["timestamp"]
        seconds, counts, notes, codes = self.log.times.read(column)
        failed = _unread(seconds) & self.keep
        if failed.sum() > 0.5 * self.keep.sum():
            raise unreadable_error(column, int(failed.sum()), int(self.keep.sum()), self._example(failed, codes))
        if failed.any():
            self.report.warnings.append(
                f"{int(failed.sum()):,} rows have a timestamp that could not be read "
                f"(e.g. {self._example(failed, codes)!r}) and were dropped."
            )
        self._drop(failed, "unparseable timestamp", f"No timestamp in column {column!r} could be read.")
        self.report.timestamp_format = format_name(counts)
        self.report.timestamp_units = {column: unit_name(counts)}
        self.report.warnings.extend(f"Column {column!r}: {note}." for note in notes)
        self.seconds = seconds

    def drop_duplicates(self, enabled: bool) -> None:
        if enabled:
            self._drop(self.repeated, "duplicate row", "Duplicates cannot empty a log.")
        self.repeated = None

    def _example(self, failed: np.ndarray, codes: np.ndarray | None) -> str | None:
        if codes is None:
            return None
        present = np.flatnonzero(failed & (codes >= 0))
        return self.log.times.text.values().iloc[codes[present[0]]] if len(present) else None

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
        events = self.events
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

    def dataset(self, name: str) -> Dataset:
        # Each full-length column is let go of as soon as its kept, sorted copy exists.
        keep = None if self.keep.all() else self.keep  # a clean export drops nothing: no copies then

        def kept(values: np.ndarray) -> np.ndarray:
            return values if keep is None else values[keep]

        user_codes, users = _compact(kept(self.users))
        self.users = None
        item_codes, items = _compact(kept(self.items))
        self.items = None
        seconds = kept(self.seconds)
        self.seconds = None
        if _fits_int32(seconds):
            seconds = seconds.astype(np.int32, copy=False)  # sorted and reordered at half the memory
        events = kept(self.events) if "event" in self.columns else None
        self._events = None
        numeric = {role: kept(self.log.take(role)) for role in ("rating", "quantity") if role in self.columns}
        baskets = None
        if "basket" in self.columns:
            baskets = self._basket_codes(kept(self.log.coders["basket"].take_codes()))
        self.keep = None
        time_range = (_iso(seconds.min()), _iso(seconds.max())) if "timestamp" in self.columns else (None, None)
        if baskets is None:
            order = _user_time_order(users, seconds)  # events of one user at the same time keep file order
        else:
            order = basket_order(users, seconds, baskets)  # a basket's events consecutive
        user_column = users[order].astype(np.int32, copy=False)
        del users
        item_column = items[order].astype(np.int32, copy=False)
        del items
        ordered_seconds = seconds[order]
        del seconds
        columns = {}
        if events is not None:
            # categorical: a byte a row instead of a string a row
            columns["event"] = _categorical(events[order], pd.Index(self.log.coders["event"].values(), dtype="str"))
            del events
        if baskets is not None:
            columns["basket"] = baskets[order]
            del baskets
        for role in ("rating", "quantity"):
            if role in self.columns:
                columns[role] = numeric.pop(role)[order]
                if self.log.not_numbers[role]:
                    self.report.warnings.append(
                        f"{self.log.not_numbers[role]:,} values in {role} column {self.columns[role]!r} are not "
                        "numbers; those events were kept without a value."
                    )
        del order
        # widened to int64 last, once the other full-length arrays are gone
        interactions = pd.DataFrame({"user": user_column, "item": item_column,
                                     "timestamp": ordered_seconds.astype(np.int64, copy=False), **columns}, copy=False)
        del ordered_seconds
        user_ids = self.log.coders["user"].values().to_numpy(dtype=object)[user_codes].astype(str)
        item_ids = self.log.coders["item"].values().to_numpy(dtype=object)[item_codes].astype(str)

        report = self.report
        report.users, report.items, report.events = len(user_ids), len(item_ids), len(interactions)
        report.time_start, report.time_end = time_range
        dataset = Dataset(name, interactions, user_ids, item_ids, pd.DataFrame({"item_id": item_ids}), report)
        report_baskets(dataset)
        return dataset

    def _basket_codes(self, codes: np.ndarray) -> np.ndarray:
        """The kept rows' basket codes, compacted (int32); a row with no basket value is a basket alone."""
        missing = int((codes < 0).sum())
        if missing:
            self.report.warnings.append(
                f"{missing:,} events have no value in basket column {self.columns['basket']!r}; each is "
                "counted as a basket of its own."
            )
        present = codes >= 0
        if present.any():
            _, compact = _compact(codes[present])
            codes = codes.astype(np.int32, copy=True)
            codes[present] = compact
        return whole_baskets(codes)


def _release_free_memory() -> None:
    """Hand freed memory back to the system.

    glibc (a chunk's temporaries come from its heap once large blocks have been freed) and
    pyarrow's allocator keep what a long read frees, and the next arrays would come on top of it.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only; musl has none
    except (OSError, AttributeError):
        return None


def _user_time_order(users: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """The stable order by user, then time: ``np.lexsort((seconds, users))``, as int32 when it fits.

    Each key is packed with its row number into one uint64 and sorted (numpy sorts plain integers
    several times faster than it sorts indices): by time first, unless the file is in time order
    already, then by user. Keys too wide to pack fall back to lexsort.
    """
    n = len(users)
    index_type = np.int32 if n < np.iinfo(np.int32).max else np.int64  # half the memory for the gathers
    row_bits = max(int(n - 1).bit_length(), 1)
    span = int(seconds.max()) - int(seconds.min()) if n else 0
    if max(span, int(users.max()) if n else 0).bit_length() + row_bits > 64:
        return np.lexsort((seconds, users)).astype(index_type)
    order = None
    if n and not bool((seconds[1:] >= seconds[:-1]).all()):
        order = _sorted_rows(seconds, int(seconds.min()), row_bits, index_type)
    position = _sorted_rows(users, 0, row_bits, index_type, order)
    if order is None:
        return position
    for start in range(0, n, 1 << 20):  # order[position], in place, a block at a time
        position[start : start + (1 << 20)] = order[position[start : start + (1 << 20)]]
    return position


def _sorted_rows(keys: np.ndarray, lowest: int, row_bits: int, index_type, take=None) -> np.ndarray:
    """Rows in the stable order of ``keys`` (of ``keys[take]`` when given): (key - lowest, row)
    packed into uint64s and sorted in place."""
    n = len(keys)
    packed = np.empty(n, dtype=np.uint64)
    low = np.uint64((1 << row_bits) - 1)
    for start in range(0, n, 1 << 20):  # in blocks: no full-size temporaries beside the packed keys
        block = keys[start : start + (1 << 20)] if take is None else keys[take[start : start + (1 << 20)]]
        block = block.astype(np.int64) - lowest
        packed[start : start + len(block)] = (block.astype(np.uint64) << np.uint64(row_bits)) | np.arange(
            start, start + len(block), dtype=np.uint64)
    packed.sort()
    rows = np.empty(n, dtype=index_type)
    for start in range(0, n, 1 << 20):
        rows[start : start + (1 << 20)] = packed[start : start + (1 << 20)] & low
    return rows


def _compact(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes still in use (ascending) and every row's new code among them, 0..n-1 (int32)."""
    used = np.zeros(int(codes.max()) + 1, dtype=bool)
    used[codes] = True
    new_code = (np.cumsum(used) - 1).astype(np.int32)
    return np.flatnonzero(used), new_code[codes]


def _categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """The codes (changed in place) as a categorical of only the categories that occur.

    pandas' remove_unused_categories would do the same with ~26 bytes a row of temporaries.
    """
    used = np.unique(codes)
    used = used[used >= 0]
    if len(used) < len(categories):
        recode = np.full(len(categories) + 1, -1, dtype=codes.dtype)  # the last slot maps -1 (missing) to -1
        recode[used] = np.arange(len(used))
        for start in range(0, len(codes), 1 << 20):  # in blocks: indexing makes an 8-byte index per code
            block = codes[start : start + (1 << 20)]
            block[:] = recode[block]
        categories = categories[used]
    return pd.Categorical.from_codes(codes, categories, validate=False)


def _arrow_text(values):
    """Text values as an arrow large_string array (no copy for pandas' arrow-backed str)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.cast(pa.large_string())
    return pa.array(pd.Series(values, dtype="str").array).cast(pa.large_string())


def _text_bytes(values) -> int:
    """Bytes of text in an arrow string array."""
    return int(pc.sum(pc.binary_length(values)).as_py() or 0)


def _present(values) -> np.ndarray:
    return values.is_valid().to_numpy(zero_copy_only=False)


def _pandas_text(values) -> pd.Series:
    """Arrow text as the pandas Series of text (missing where null) the pandas readers take."""
    return values.to_pandas()


def _numbers(text) -> np.ndarray:
    """``pd.to_numeric`` of arrow text as float64 (NaN where not a number); whole numbers are read in arrow."""
    whole = text_columns.integers(text)
    if whole is not None:
        return whole
    return pd.to_numeric(_pandas_text(text), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _distinct_spellings(seconds: np.ndarray, spellings: np.ndarray, chunk_starts: list[int]) -> int:
    """Distinct values read by ``text_columns.iso_seconds``, counted per chunk and summed."""
    total = 0
    for start, end in zip(chunk_starts, chunk_starts[1:] + [len(spellings)]):
        rows = start + np.flatnonzero(spellings[start:end] >= 0)
        total += len(pd.unique(seconds[rows].astype(np.int64) * 4 + spellings[rows]))
    return total


def _epoch_seconds_into(numbers: np.ndarray, seconds: np.ndarray, unit: int) -> dict[str, int]:
    """``epoch_seconds`` of the numbers in one unit, written where a number is, a block at a time (no
    full-size temporaries beside the two columns); how many were read."""
    counts: dict[str, int] = {}
    for start in range(0, len(numbers), 1 << 20):
        block = numbers[start : start + (1 << 20)]
        got, read = epoch_seconds(block, compact_dates=False, unit=unit)
        finite = np.isfinite(block)
        seconds[start : start + len(block)][finite] = _as_seconds_of(got[finite], seconds.dtype)
        for name, n in read.items():
            counts[name] = counts.get(name, 0) + n
    return counts


def _as_seconds_of(seconds: np.ndarray, dtype) -> np.ndarray:
    """int64 seconds (NAT where unread) as ``dtype``: int32 seconds mark an unread time with NAT32."""
    if dtype == np.int64:
        return seconds
    return np.where(seconds == NAT, _NAT32, seconds).astype(np.int32)


def _fits_int32(seconds: np.ndarray) -> bool:
    """Whether int32 holds these seconds (1901..2038) and leaves NAT32 free to mark a missing time."""
    return len(seconds) == 0 or bool(seconds.min() > _NAT32 and seconds.max() <= np.iinfo(np.int32).max)


def _unread(seconds: np.ndarray) -> np.ndarray:
    """Where int64 seconds hold NAT, or int32 seconds NAT32."""
    return seconds == (NAT if seconds.dtype == np.int64 else _NAT32)


def _seconds64(seconds: np.ndarray) -> np.ndarray:
    """int64 seconds with NAT for a missing time, from int64 (as is) or int32 seconds with NAT32."""
    if seconds.dtype == np.int64:
        return seconds
    wide = np.empty(len(seconds), dtype=np.int64)
    for start in range(0, len(seconds), 1 << 20):  # in blocks, so there is no full-size temporary
        block = seconds[start : start + (1 << 20)]
        wide[start : start + len(block)] = block
        wide[start : start + len(block)][block == _NAT32] = NAT
    return wide


def _code_type(n_values: int) -> type:
    """The narrowest signed int type holding codes 0..n_values-1 and -1 for a missing value."""
    return next(t for t in (np.int8, np.int16, np.int32, np.int64) if n_values <= np.iinfo(t).max)


def _iso(seconds: int) -> str:
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").isoformat()


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".gzip"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return Path(name).stem or path.name

