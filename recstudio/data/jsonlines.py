"""JSON lines (one object per line) read as text columns a chunk at a time; any other JSON is named, not misread."""

from __future__ import annotations

import json
from typing import Callable, Iterator, TextIO

from recstudio.errors import RecStudioError

_CHUNK_ROWS = 50_000


def kind(text: str) -> str | None:
    """"lines" for JSON lines, "document" for one JSON value (an array of records, say), None for other text."""
    start = text.lstrip("\ufeff \t\r\n")
    if start.startswith("["):
        rest = start[1:].lstrip()
        return "document" if rest[:1] in ("{", "[", "]", '"') or rest[:1].isdigit() else None
    if start.startswith("{"):
        first = start.splitlines()[0] if start else ""
        try:
            return "lines" if isinstance(json.loads(first), dict) else "document"
        except ValueError:
            return "document"
    return None


def document_error(name: str) -> RecStudioError:
    return RecStudioError(
        f"{name} is a JSON document (one value, e.g. an array of records), which RecStudio does not read; "
        "save it as JSON lines (one object per line), CSV or Parquet."
    )


def columns(text: str, name: str, complete: bool) -> tuple[str, ...]:
    """The keys of the objects in the first lines, in order of first appearance."""
    lines = text.splitlines()
    if not complete and lines:
        lines = lines[:-1]  # the sample may end inside a line
    keys: dict[str, None] = {}
    rows = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if rows == 0:
                raise document_error(name) from None
            continue
        if isinstance(record, dict):
            rows += 1
            keys.update(dict.fromkeys(str(k).strip() for k in record))
    if not keys:
        raise RecStudioError(f"{name} is JSON lines without any named field; each line should be an object of fields.")
    return tuple(keys)


def batches(stream: TextIO, names: tuple[str, ...], chunk_rows: int = _CHUNK_ROWS) -> Iterator[tuple[dict, int, str | None]]:
    """(columns of text or None, lines that were not objects, an example of one) per chunk of lines."""
    columns = {name: [] for name in names}
    bad, example, rows = 0, None, 0
    for line in stream:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            bad += 1
            example = example or line.strip()[:80]
            continue
        record = {str(k).strip(): v for k, v in record.items()}
        for name in names:
            columns[name].append(_text(record.get(name)))
        rows += 1
        if rows == chunk_rows:
            yield columns, bad, example
            columns = {name: [] for name in names}
            bad, example, rows = 0, None, 0
    if rows or bad:
        yield columns, bad, example


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def record_batches(stream: TextIO, names: tuple[str, ...], on_bad: Callable[[int, str | None], None]):
    """The chunks as arrow record batches of strings; ``on_bad`` hears of lines that were not objects."""
    import pyarrow as pa

    for columns, bad, example in batches(stream, names):
        if bad:
            on_bad(bad, example)
        if columns and len(next(iter(columns.values()))):
            yield pa.RecordBatch.from_arrays([pa.array(v, pa.string()) for v in columns.values()], names=list(names))
