"""What the import dialog says and asks for, without widgets: the role names, the source and timestamp
descriptions, the problems that keep Check off, the request the options describe and the report."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from recstudio.data.basket_report import WARNING_START
from recstudio.data.catalogue import guess_catalogue_key
from recstudio.errors import RecStudioError

NONE = "(none)"
ROLE_LABELS = {
    "user": "User id *", "item": "Item id *", "timestamp": "Time", "event": "Event type",
    "rating": "Rating", "quantity": "Quantity", "basket": "Basket",
}
ROLE_TIPS = {
    "user": "Who did it: a customer, visitor or account id (required)",
    "item": "What they did it to: a product, movie or article id (required)",
    "timestamp": "When: orders each user's history; without it the file order is used",
    "event": "What kind of event (view, cart, purchase…); lets you keep only some types",
    "rating": "An explicit rating or score, kept with each event",
    "quantity": "How many units, kept with each event",
    "basket": "Which events belong together: an invoice, order or session number. A user's events with one "
              "value are a basket, tested whole by the last-basket split; without it, events sharing a time are",
}
PLAUSIBLE_EPOCH = 100_000_000  # Mar 1973: times before it are most likely counts or ratings read as seconds
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", " ": "space"}
CATALOGUE_FILTER = "Item catalogues (*.csv *.tsv *.txt *.gz *.parquet *.pq);;All files (*)"
ERROR_STYLE = "color: #b3261e;"
WARNING_STYLE = "color: #b45309;"
MUTED_STYLE = "color: palette(placeholder-text);"

__all__ = [
    "CATALOGUE_FILTER", "DELIMITERS", "ERROR_STYLE", "MUTED_STYLE", "NONE", "PLAUSIBLE_EPOCH", "ROLE_LABELS",
    "ROLE_TIPS", "chosen_roles", "default_name", "describe_source", "guess_catalogue_key", "import_request",
    "parse_event_types", "report_html", "roles_problem", "timestamp_format_text",
]


def describe_source(preview) -> str:
    """"CSV · comma-separated · UTF-8" for a :class:`recstudio.data.Preview`."""
    parts = [preview.format.upper()]
    if preview.delimiter:
        parts.append(f"{DELIMITERS.get(preview.delimiter, repr(preview.delimiter))}-separated")
    if preview.encoding:
        from recstudio.data import encoding_name

        parts.append(encoding_name(preview.encoding))
    return " · ".join(parts)


def parse_event_types(text: str) -> tuple[str, ...] | None:
    """"purchase, cart" -> ("purchase", "cart"); blank -> None (keep every type)."""
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    return values or None


def timestamp_format_text(rows: pd.DataFrame, column: str | None) -> tuple[str, bool]:
    """What the preview's ``column`` reads as ("epoch seconds, e.g. 881250949 = 4 Dec 1997 15:55 UTC"), and
    whether it is readable."""
    from recstudio.data import NAT, parse_timestamps

    if column is None:
        return "No time column: each user's events keep their order in the file.", True
    values = rows[column]
    try:
        seconds, fmt = parse_timestamps(values)
    except RecStudioError as exc:
        return str(exc), False
    readable = [i for i, s in enumerate(seconds) if s != NAT]
    if not readable:
        return "The first rows have no time in this column.", False
    first = readable[0]
    moment = pd.Timestamp(int(seconds[first]), unit="s", tz="UTC")
    text = f"{fmt}, e.g. {values.iloc[first]} = {moment.day} {moment:%b %Y %H:%M} UTC"
    if np.median(seconds[readable]) < PLAUSIBLE_EPOCH:  # small numbers read as seconds after 1 Jan 1970
        return text + ": these are not times, probably; choose another column or none.", False
    return text, True


def default_name(path: str | Path) -> str:
    name = Path(path).name
    for suffix in (".gz", ".gzip"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return Path(name).stem or Path(path).name


def chosen_roles(choices: dict[str, str], guessed):
    """The :class:`recstudio.data.ColumnRoles` of the combo texts (``NONE`` for no column).

    "(none)" where the importer would guess a column must say so (ABSENT); where it would guess nothing,
    None keeps the request equal to a plain command-line import of the same file."""
    from recstudio.data import ABSENT, ColumnRoles

    return ColumnRoles(**{role: ((ABSENT if getattr(guessed, role) else None) if text == NONE else text)
                          for role, text in choices.items()})


def roles_problem(chosen: dict[str, str]) -> str:
    """Why these roles cannot be imported ("" when they can): both ids are needed, a column only once."""
    for role in ("user", "item"):
        if role not in chosen:
            return f"Choose the {role} id column."
    seen: dict[str, str] = {}
    for role, column in chosen.items():
        if column in seen:
            return f"Column “{column}” is chosen for both {seen[column]} and {role}."
        seen[column] = role
    return ""


def import_request(path: str, roles, guessed_roles, *, catalogue: str | None, key: str | None,
                   catalogue_columns: list[str], drop_duplicates: bool, event_types: str, min_user_events: int,
                   min_item_events: int, name: str):
    """The :class:`recstudio.runs.ImportRequest` the dialog's options describe.

    Choices equal to what the importer would guess are passed as "guess" (None), so an import made here
    and one made by ``recstudio train FILE`` with the same file and defaults are recognised as the same
    and reused rather than stored twice.
    """
    from recstudio.data import ImportOptions
    from recstudio.runs import ImportRequest

    if catalogue is None or key == guess_catalogue_key(catalogue_columns, roles.item):
        key = None
    options = ImportOptions(
        drop_duplicates=drop_duplicates,
        event_types=parse_event_types(event_types) if roles.event else None,  # "" (ABSENT): no column
        min_user_events=min_user_events,
        min_item_events=min_item_events,
        item_key=key,
    )
    return ImportRequest(path, catalogue, None if roles == guessed_roles else roles,
                         None if options == ImportOptions() else options, name.strip() or None)


def report_html(result) -> str:
    """The import report of a check (an :class:`~recstudio.gui.tasks.ImportResult`) for the analyst."""
    from recstudio.data import ImportReport
    from recstudio.data.stats import time_span_text
    from recstudio.gui.views.start import imported_on

    e = html.escape
    lines: list[str] = []
    if result.existing is not None:
        record = result.existing
        report = ImportReport.from_dict(record.report)
        lines.append(f"<b>Already imported as “{e(record.name)}”</b> on {e(imported_on(record.created_at))} "
                     "with the same options; Open uses it without importing again.")
    else:
        report = result.dataset.report
    lines.append(f"<b>{report.rows_read:,}</b> rows read → <b>{report.events:,}</b> events by "
                 f"<b>{report.users:,}</b> users on <b>{report.items:,}</b> items")
    dropped = sum(report.dropped.values())
    if dropped:
        reasons = ", ".join(f"{count:,} {e(reason)}" for reason, count in report.dropped.items())
        lines.append(f"Dropped <b>{dropped:,}</b> rows: {reasons}")
    else:
        lines.append("No rows dropped")
    if report.time_start and report.time_end:
        lines.append(f"Time span: {e(time_span_text(report.time_start, report.time_end))}"
                     + (f" <span style='{MUTED_STYLE}'>({e(report.timestamp_format)})</span>"
                        if report.timestamp_format else ""))
    columns = ", ".join(f"{e(role)} ← {e(column)}" for role, column in report.columns.items())
    lines.append(f"Columns: {columns}")
    read_as = _read_as(report)
    if read_as:
        lines.append(e(read_as))
    if report.catalogue_columns:
        lines.append(f"Catalogue: {report.catalogue_items:,} of {report.items:,} items found; "
                     f"columns {e(', '.join(report.catalogue_columns))}")
    lines += _basket_lines(report)
    # the warning that changes how to train comes first, under the headline, where it is seen unscrolled
    first = "".join(f"<p style='margin:4px 0 6px 0; {WARNING_STYLE}'><b>{e(w)}</b></p>"
                    for w in report.warnings if w.startswith(WARNING_START))
    top = 2 if result.existing is not None else 1  # the headline numbers (after "Already imported")
    text = "<br>".join(lines[:top]) + (first or "<br>") + "<br>".join(lines[top:])
    others = [w for w in report.warnings if not w.startswith(WARNING_START)]
    if others:
        text += "<p style='margin-top:6px'><b>Warnings</b></p><ul style='margin-top:0; margin-left:-20px'>"
        text += "".join(f"<li>{e(w)}</li>" for w in others) + "</ul>"
    return text


def _basket_lines(report) -> list[str]:
    """Baskets: how many, from which column, how big, and how many events share one."""
    if not report.baskets:
        return []
    column = report.columns.get("basket")
    by = f"values of “{html.escape(column)}”" if column else "events of a user sharing a time"
    return [f"Baskets: <b>{report.baskets:,}</b> ({by}), {report.events_per_basket:,.1f} events each "
            f"(median {report.events_per_basket_median:,g}, max {report.events_per_basket_max:,}); "
            f"<b>{report.shared_time_events:,}</b> events share their basket with another event of their user; "
            f"for <b>{report.same_time_share:.0%}</b> of users the last event shares its basket with the one "
            f"before (same_time_share {report.same_time_share:.2f})"]


def _read_as(report) -> str:
    """"Text: Windows-1252 · Times: “ts” in epoch milliseconds": how the file's text and times were read."""
    from recstudio.data import encoding_name

    parts = []
    if report.encoding:
        parts.append(f"Text: {encoding_name(report.encoding)}")
    units = ", ".join(f"“{column}” in {unit}" for column, unit in report.timestamp_units.items() if unit)
    if units:
        parts.append(f"Times: {units}")
    return " · ".join(parts)
