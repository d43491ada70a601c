"""Opening tables: format, compression, encoding and delimiter sniffing, whole reads and chunked reads."""

from __future__ import annotations

import codecs
import csv
import functools
import gzip
import hashlib
import io
import itertools
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import pandas as pd

from recstudio.data import encodings, jsonlines
from recstudio.data.files import readable_file
from recstudio.data.timestamps import NULL_TOKENS, clean_frame
from recstudio.errors import RecStudioError

if TYPE_CHECKING:
    import pyarrow as pa

#: Field separators the sniffer chooses from.
DELIMITERS = (",", "\t", ";", "|")
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}

_SAMPLE_BYTES = 1 << 16
_MAX_HEAD_BYTES = 1 << 26  # a header row longer than this is not a table's
_BLOCK_BYTES = 1 << 20  # one streamed chunk of raw text; bounds the memory a read holds at once
_CHUNK_ROWS = 100_000
_MAGIC = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx file is one)"),
    (b"\xd0\xcf\x11\xe0", "an Excel/Office document"), (b"SQLite format 3", "an SQLite database"),
)


@dataclass(frozen=True)
class Source:
    """What sniffing found out about a file before reading it in full."""

    path: Path
    format: str  # "csv", "json" (JSON lines) or "parquet"
    compression: str | None  # "gzip" or None
    encoding: str | None  # a Python codec: "utf-8", "utf-8-sig" (with BOM), "utf-16", "cp1252"...; None for Parquet
    delimiter: str | None
    columns: tuple[str, ...]
    size: int
    blank_lines: int = 0  # blank lines before the header row


    @property
    def name(self) -> str:
        return self.path.name

    def info(self) -> dict:
        return {"format": self.format, "compression": self.compression, "encoding": self.encoding,
                "delimiter": self.delimiter, "columns": list(self.columns)}


@dataclass
class ReadStats:
    """Facts learnt while reading: the encoding that worked and rows skipped as malformed."""

    encoding: str | None
    rows: int = 0
    malformed: int = 0
    malformed_example: str | None = None
    warnings: list[str] = field(default_factory=list)


def file_fingerprint(path) -> str:
    """sha256 of the file's bytes, read in blocks, so an unchanged file can reuse its import."""
    path = readable_file(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inspect_source(path) -> Source:
    """Check the file is a readable, non-empty table and sniff format, compression, encoding and delimiter."""
    path = readable_file(path)
    size = path.stat().st_size
    if size == 0:
        raise RecStudioError(f"{path.name} is empty (0 bytes); choose a file with a header row and data rows.")
    limit = _SAMPLE_BYTES
    while True:
        head, compression, complete = _read_head(path, size, limit)
        if head[:4] == b"PAR1":
            if compression:
                raise RecStudioError(f"{path.name} is a gzip-compressed Parquet file; decompress it first.")
            return _parquet_source(path, size)
        source = _text_source(path, size, head, compression, complete, last_try=limit >= _MAX_HEAD_BYTES)
        if source is not None:
            return source
        limit = min(8 * limit, _MAX_HEAD_BYTES)  # the header row and a first data row did not fit in the sample (a very wide file)


def _read_head(path: Path, size: int, limit: int) -> tuple[bytes, str | None, bool]:
    """The first ``limit`` bytes (decompressed), the compression, and whether that is the whole file."""
    with open(path, "rb") as f:
        head = f.read(limit)
    if head[:2] != b"\x1f\x8b":
        return head, None, size <= limit
    try:
        with gzip.open(path, "rb") as f:
            head = f.read(limit)
            return head, "gzip", len(head) < limit or not f.read(1)
    except (OSError, EOFError, zlib.error) as exc:
        raise RecStudioError(
            f"{path.name} looks gzip-compressed but cannot be decompressed ({exc}); copy or export it again."
        ) from None


def _text_source(path, size, head, compression, complete, last_try) -> Source | None:
    """What the sample says of a text file; None when it holds less than the header and a data row."""
    _reject_binary(path, head)
    wide = encodings.wide_encoding(head)
    if not wide and not head.strip():
        raise RecStudioError(f"{path.name} is empty (only blank lines); choose a file with a header row and data rows.")
    encoding = wide or _sniff_encoding(path, compression, head, complete)
    text = _decode_head(head, encoding, complete)
    if not complete:
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]  # the sample may end inside a line
        if not text:
            return _too_long_header(path, last_try)
    if not text.strip():
        raise RecStudioError(f"{path.name} is empty (only blank lines); choose a file with a header row and data rows.")
    json_kind = jsonlines.kind(text)
    if json_kind == "document":
        raise jsonlines.document_error(path.name)
    if json_kind == "lines":
        return Source(path, "json", compression, encoding, None, jsonlines.columns(text, path.name, True), size)
    delimiter = sniff_delimiter(text)
    records, blank_lines = [], 0
    # newline="": a file with old Mac line ends (CR only) is read by csv as it is by pyarrow
    for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        if any(cell.strip() for cell in record):
            records.append(record)
            if len(records) == 2:  # the header and a first data row
                break
        elif not records:
            if len(record) > 1:  # separators and nothing else: a header row without names, not a blank line
                raise RecStudioError(
                    f"The header row of {path.name} (line {blank_lines + 1}) has {len(record)} fields but no column "
                    "names; put the column names (e.g. user_id, item_id, timestamp) in the first row."
                )
            blank_lines += 1
    if not records:
        if not complete:
            return _too_long_header(path, last_try)
        raise RecStudioError(f"{path.name} is empty (only blank lines); choose a file with a header row and data rows.")
    if len(records) < 2 and not complete and not last_try:
        return None
    columns = _column_names(path, records[0])
    if complete and len(records) < 2:
        raise RecStudioError(
            f"{path.name} has a header row ({_short(', '.join(columns))}) but no data rows; "
            "export the data again with its rows."
        )
    return Source(path, "csv", compression, encoding, delimiter, columns, size, blank_lines)


def _too_long_header(path: Path, last_try: bool) -> None:
    if last_try:
        raise RecStudioError(
            f"The first line of {path.name} is longer than {_MAX_HEAD_BYTES >> 20} MiB, so it is no header row; "
            "check that the file is a table with one row per line."
        )
    return None


def _decode_head(head: bytes, encoding: str, complete: bool) -> str:
    if head.startswith(codecs.BOM_UTF8) and not encoding.startswith("utf-8"):
        head = head[3:]  # a byte-order mark before text of another encoding
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(head, final=complete)


def _sniff_encoding(path: Path, compression: str | None, head: bytes, complete: bool) -> str:
    bom = head.startswith(codecs.BOM_UTF8)
    if encodings.is_utf8(head[3:] if bom else head, complete):
        return "utf-8-sig" if bom else "utf-8"
    return _detect_encoding(path, compression)


def _detect_encoding(path: Path, compression: str | None) -> str:
    """The whole file's encoding when it is not all UTF-8 (or a RecStudioError for one that mixes)."""
    stat = path.stat()
    return _detect_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns, compression)


@functools.lru_cache(maxsize=16)
def _detect_cached(path: str, size: int, mtime_ns: int, compression: str | None) -> str:
    # a check, a preview and an import each inspect the file: scan it once
    file = Path(path)
    try:
        return encodings.detect(lambda: _open_bytes(file, compression), file.name)
    except (OSError, EOFError, zlib.error) as exc:
        raise RecStudioError(f"{file.name} could not be read to the end ({_short(str(exc))}); copy or export it again.") from None


def _open_bytes(path: Path, compression: str | None):
    return gzip.open(path, "rb") if compression else open(path, "rb")


def sniff_delimiter(text: str) -> str:
    """The separator that splits the first lines into the same number (> 1) of fields.

    csv.Sniffer's guess is tried first; it can be fooled (e.g. by "|" inside a genres field),
    so every guess must also split the lines consistently. Failing that, the candidate that
    splits the header into most fields wins.
    """
    try:
        sniffed = [csv.Sniffer().sniff(text[:20_000], delimiters="".join(DELIMITERS)).delimiter]
    except csv.Error:
        sniffed = []
    widths = {}
    for candidate in sniffed + list(DELIMITERS):
        rows = [r for r in itertools.islice(csv.reader(io.StringIO(text, newline=""), delimiter=candidate), 50) if r]
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows) >= 0.9 * len(rows)
        if width > 1 and consistent:
            return candidate
        widths[candidate] = width
    best = max(widths, key=widths.get, default=",")
    return best if widths.get(best, 0) > 1 else ","


def read_table(path, *, nrows: int | None = None) -> tuple[pd.DataFrame, dict]:
    """The whole table (or its first ``nrows`` rows) as stripped text, and what sniffing found.

    Every column is text ("007" stays "007"); empty and NA-like cells are missing. ``info`` has
    format, compression, encoding, delimiter, columns, malformed_lines (rows skipped because
    they had the wrong number of fields) and warnings.
    """
    source = inspect_source(path)
    if source.format == "parquet":
        frame, stats = _read_parquet(source, nrows), ReadStats(None)
    elif source.format == "json":
        frame, stats = _read_json_whole(source, nrows)
    else:
        frame, stats = _read_csv_whole(source, nrows)
    frame = clean_frame(frame)
    info = source.info() | {"encoding": stats.encoding, "malformed_lines": stats.malformed,
                            "warnings": stats.warnings}
    return frame, info


def read_chunks(source: Source, consume: Callable[["pa.RecordBatch"], None], *, reset: Callable[[], None],
                progress: Callable[[float], None] | None = None) -> ReadStats:
    """Feed the table to ``consume`` in chunks of raw text columns (arrow record batches of strings,
    null where a cell is empty or NA-like), keeping memory to one chunk.

    ``reset`` is called before a read starts over (a later chunk turned out not to be UTF-8,
    or pyarrow could not parse the file and pandas tries instead).
    """
    if source.format == "parquet":
        return _stream_parquet(source, consume, progress)
    if source.format == "json":
        reset()
        return _stream_json(source, consume, progress)

    def stream(encoding: str) -> ReadStats:
        for reader in (_stream_csv_arrow, _stream_csv_pandas):
            reset()
            try:
                return reader(source, encoding, consume, progress)
            except _ArrowFailed:
                continue
        raise AssertionError("the pandas reader raises no _ArrowFailed")  # pragma: no cover

    return _with_encoding(source, stream)


def _with_encoding(source: Source, read: Callable[[str], "ReadStats"]) -> "ReadStats":
    """``read(encoding)`` with the sniffed encoding; when the file turns out not to be UTF-8 past the
    sample, the whole file's encoding is found (or a file that mixes encodings refused) and read again."""
    encoding = source.encoding
    try:
        stats = read(encoding)
    except _NotThisEncoding as exc:
        found = _detect_encoding(source.path, source.compression)
        if found == encoding or (found == "utf-8" and encoding.startswith("utf-8")):
            raise RecStudioError(
                f"{source.name} is not valid {encodings.label(encoding)} text ({exc}); "
                "save it again in one encoding (UTF-8) and import it again."
            ) from None
        encoding = found
        try:
            stats = read(encoding)
        except _NotThisEncoding as again:
            raise RecStudioError(
                f"{source.name} is not valid {encodings.label(encoding)} text ({again}); "
                "save it again in one encoding (UTF-8) and import it again."
            ) from None
    if not encoding.startswith("utf"):
        stats.warnings.append(f"{source.name} is not UTF-8 text; it was read as {encodings.label(encoding)}.")
    return stats


class _NotThisEncoding(Exception):
    pass


class _ArrowFailed(Exception):
    pass


def _stream_csv_arrow(source, encoding, consume, progress) -> ReadStats:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    stats = ReadStats(encoding)

    def skip_malformed(row) -> str:
        # called by pyarrow only for rows with the wrong number of fields
        stats.malformed += 1
        stats.malformed_example = stats.malformed_example or row.text[:80]
        return "skip"

    read_options = pacsv.ReadOptions(
        encoding="utf8" if encoding.startswith("utf-8") else encoding,  # pyarrow drops a UTF-8 BOM itself
        block_size=_BLOCK_BYTES, column_names=list(source.columns),
        skip_rows=1 + source.blank_lines, use_threads=True,
    )
    parse_options = pacsv.ParseOptions(delimiter=source.delimiter, newlines_in_values=True,
                                       invalid_row_handler=skip_malformed)
    convert_options = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in source.columns}, strings_can_be_null=True,
        quoted_strings_can_be_null=True, null_values=list(NULL_TOKENS),
    )
    # pyarrow reads the file itself (a Python file object would hand it every block as a bytes
    # object on the heap); progress is how far into the file, compressed or not, it has read
    raw = pa.OSFile(str(source.path))
    stream = pa.CompressedInputStream(raw, "gzip") if source.compression else raw
    try:
        reader = pacsv.open_csv(stream, read_options=read_options, parse_options=parse_options,
                                convert_options=convert_options)
        for batch in reader:
            stats.rows += batch.num_rows
            consume(batch)
            if progress:
                progress(min(raw.tell() / source.size, 1.0))
    except pa.ArrowInvalid as exc:
        if "utf8" in str(exc).lower():
            raise _NotThisEncoding("a byte sequence that is not UTF-8") from None
        raise _ArrowFailed from exc
    except UnicodeDecodeError as exc:  # from the Python codec pyarrow transcodes other encodings with
        raise _NotThisEncoding(_decode_detail(exc)) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(source, exc) from None
    finally:
        stream.close()
    return stats


def _stream_csv_pandas(source, encoding, consume, progress) -> ReadStats:
    stats = ReadStats(encoding)
    with open(source.path, "rb") as raw:
        try:
            chunks = pd.read_csv(raw, chunksize=_CHUNK_ROWS, encoding=encoding, **_pandas_options(source))
            for frame in chunks:
                stats.rows += len(frame)
                consume(_record_batch(frame))
                if progress:
                    progress(min(raw.tell() / source.size, 1.0))
        except UnicodeDecodeError as exc:
            raise _NotThisEncoding(_decode_detail(exc)) from None
        except pd.errors.ParserError as exc:
            raise _parse_error(source, exc) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise _unreadable(source, exc) from None
    return stats


def _read_csv_whole(source: Source, nrows: int | None) -> tuple[pd.DataFrame, ReadStats]:
    frames = []

    def read(encoding: str) -> ReadStats:
        stats = ReadStats(encoding)
        frames[:] = [_read_csv_once(source, encoding, nrows, stats)]
        stats.rows = len(frames[0])
        return stats

    stats = _with_encoding(source, read)
    return frames[0], stats


def _read_json_whole(source: Source, nrows: int | None) -> tuple[pd.DataFrame, ReadStats]:
    batches = []

    def keep(batch) -> None:
        if nrows is None or sum(b.num_rows for b in batches) < nrows:
            batches.append(batch)

    stats = _stream_json(source, keep, None, stop=lambda: nrows is not None and sum(b.num_rows for b in batches) >= nrows)
    import pyarrow as pa

    if not batches:
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in source.columns})
    else:
        frame = pa.Table.from_batches(batches).to_pandas()
    return (frame.head(nrows) if nrows is not None else frame), stats


def _stream_json(source: Source, consume, progress, stop: Callable[[], bool] | None = None) -> ReadStats:
    stats = ReadStats(source.encoding)

    def bad_lines(count: int, example: str | None) -> None:
        stats.malformed += count
        stats.malformed_example = stats.malformed_example or example

    raw = open(source.path, "rb")
    stream = gzip.open(raw, "rb") if source.compression else raw
    text = io.TextIOWrapper(stream, encoding=source.encoding or "utf-8")
    try:
        for batch in jsonlines.record_batches(text, source.columns, bad_lines):
            stats.rows += batch.num_rows
            consume(batch)
            if progress:
                progress(min(raw.tell() / source.size, 1.0))
            if stop is not None and stop():
                break
    except UnicodeDecodeError as exc:
        raise RecStudioError(
            f"{source.name} is not valid {encodings.label(source.encoding)} text ({_decode_detail(exc)}); "
            "save it again as UTF-8 and import it again."
        ) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(source, exc) from None
    finally:
        text.close()
    if stats.malformed:
        stats.warnings.append(f"{stats.malformed:,} line(s) of {source.name} are not JSON objects and were skipped "
                              f"(e.g. {stats.malformed_example!r}).")
        stats.malformed = 0  # said here: they are no rows with the wrong number of fields
    return stats


def _decode_detail(exc: UnicodeDecodeError) -> str:
    return f"byte 0x{exc.object[exc.start]:02X} at position {exc.start:,} of a block cannot be decoded"


def _read_csv_once(source: Source, encoding: str, nrows: int | None, stats: ReadStats) -> pd.DataFrame:
    def skip_malformed(row) -> str:
        stats.malformed += 1
        return "skip"

    options = _pandas_options(source) | {"encoding": encoding}
    try:
        if nrows is not None:  # the pyarrow engine cannot stop early
            return pd.read_csv(source.path, nrows=nrows, on_bad_lines="skip", **options)
        try:
            return pd.read_csv(source.path, engine="pyarrow", on_bad_lines=skip_malformed, **options)
        except (pd.errors.ParserError, ValueError) as exc:
            if "utf8" in str(exc).lower():
                raise _NotThisEncoding("a byte sequence that is not UTF-8") from None
        # the C engine reads some files pyarrow rejects, and its messages name the line
        return pd.read_csv(source.path, **options)
    except UnicodeDecodeError as exc:
        raise _NotThisEncoding(_decode_detail(exc)) from None
    except pd.errors.ParserError as exc:
        raise _parse_error(source, exc) from None
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or damaged gzip
        raise _unreadable(source, exc) from None


def _pandas_options(source: Source) -> dict:
    return dict(sep=source.delimiter, skiprows=source.blank_lines, header=0, names=list(source.columns), dtype=str,
                na_values=list(NULL_TOKENS), keep_default_na=False,
                compression="gzip" if source.compression else None)


def _unreadable(source: Source, exc: Exception) -> RecStudioError:
    return RecStudioError(f"{source.name} could not be read to the end ({_short(str(exc))}); copy or export it again.")


def _parse_error(source: Source, exc: Exception) -> RecStudioError:
    detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return RecStudioError(
        f"{source.name} could not be read as {DELIMITER_NAMES.get(source.delimiter, repr(source.delimiter))}"
        f"-separated text ({_short(detail)}); check its quoting and that every row has the header's fields."
    )


def _parquet_source(path: Path, size: int) -> Source:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise RecStudioError(f"{path.name} is not a readable Parquet file ({_short(str(exc))}).") from None
    columns = _column_names(path, meta.schema_arrow.names)
    if meta.metadata.num_rows == 0:
        raise RecStudioError(f"{path.name} has columns ({_short(', '.join(columns))}) but no rows.")
    return Source(path, "parquet", None, None, None, columns, size)


def _parquet_batches(source: Source, batch_size: int) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(source.path).iter_batches(batch_size=batch_size):
        # ids and times are handled as text, as they are for CSV
        columns = [c if pa.types.is_string(c.type) else _as_text(c) for c in batch.columns]
        yield pa.RecordBatch.from_arrays(columns, names=list(source.columns)).to_pandas()


def _as_text(column):
    """An arrow column as text; nested and binary values (which arrow cannot cast) via Python's str."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())


def _read_parquet(source: Source, nrows: int | None) -> pd.DataFrame:
    frames = []
    total = 0
    for frame in _parquet_batches(source, nrows or _CHUNK_ROWS):
        frames.append(frame)
        total += len(frame)
        if nrows is not None and total >= nrows:
            break
    frame = pd.concat(frames, ignore_index=True)
    return frame.head(nrows) if nrows is not None else frame


def _stream_parquet(source, consume, progress) -> ReadStats:
    import pyarrow.parquet as pq

    stats = ReadStats(None)
    total = pq.ParquetFile(source.path).metadata.num_rows
    for frame in _parquet_batches(source, _CHUNK_ROWS):
        stats.rows += len(frame)
        consume(_record_batch(frame))
        if progress:
            progress(stats.rows / total)
    return stats


def _record_batch(frame: pd.DataFrame):
    """A chunk read by pandas as the arrow record batch of text ``read_chunks`` hands on."""
    import pyarrow as pa

    return pa.RecordBatch.from_pandas(frame, preserve_index=False)


def _reject_binary(path: Path, head: bytes) -> None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise RecStudioError(f"{path.name} is {what}, not a table of text; export the data as CSV or Parquet.")
    if encodings.wide_encoding(head) is None and b"\x00" in head[:8192]:
        raise RecStudioError(
            f"{path.name} looks like a binary file (it contains NUL bytes), not CSV/TSV text; "
            "export the data as CSV or Parquet."
        )


def _column_names(path: Path, header: list[str]) -> tuple[str, ...]:
    # a second byte-order mark (a file saved twice by an editor) would otherwise stick to the first name
    names = [_without_bom(str(c)) or f"Unnamed: {i}" for i, c in enumerate(header)]
    seen = pd.Series(names)
    repeated = seen[seen.duplicated()].unique()
    if len(repeated):
        counts = ", ".join(f"{name!r} ({int((seen == name).sum())} times)" for name in repeated[:5])
        raise RecStudioError(
            f"{path.name} has duplicate column names: {counts}; rename the columns so each name appears once."
        )
    return tuple(names)


def _without_bom(name: str) -> str:
    name = name.strip().lstrip("\ufeff").strip()
    return name[3:].strip() if name.startswith("ï»¿") else name  # a UTF-8 mark read as Latin-1 / Windows-1252


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
