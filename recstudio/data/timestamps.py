"""Reading timestamp columns in any common format (epoch numbers, ISO-8601, local date strings) as Unix seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recstudio.errors import RecStudioError

#: Marks a value that could not be read; the same bit pattern numpy uses for NaT.
NAT = np.iinfo(np.int64).min

#: Text that means "no value" in a cell, compared after stripping whitespace.
NULL_TOKENS = ("", "NA", "N/A", "#N/A", "NaN", "nan", "NULL", "null", "None")

# Epoch numbers are told apart by magnitude: seconds reach 1e11 only in the year 5138.
_EPOCH_UNITS = (("epoch seconds", 1e11, 1), ("epoch milliseconds", 1e14, 1_000),
                ("epoch microseconds", 1e17, 1_000_000), ("epoch nanoseconds", np.inf, 1_000_000_000))
#: Epoch numbers are read as times only within the years 1..9999 (what ISO-8601 can write).
_FIRST_SECOND, _LAST_SECOND = -62_135_596_800, 253_402_300_799
#: Names of the epoch units, in the order ``epoch_seconds`` reports them.
EPOCH_UNITS = tuple(name for name, _, _ in _EPOCH_UNITS)

_MONTH_FIRST = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y")
_DAY_FIRST = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d/%m/%y %H:%M", "%d/%m/%y")
# Tried after ISO-8601 and the slash dates, in this order, each on what is still unread.
_OTHER_FORMATS = (
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y",
    "%b %d, %Y %H:%M:%S", "%b %d, %Y", "%b %d %Y", "%d %B %Y", "%B %d, %Y",
    "%a, %d %b %Y %H:%M:%S %z", "%a %b %d %H:%M:%S %Y", "%Y-%m-%d %H:%M:%S %Z",
)
# A format is first tried on this many unread values; the full column only if some of them parse.
_PROBE = 500


@dataclass
class ParsedTimestamps:
    """Seconds per value (``NAT`` where unreadable), and how many values each format read."""

    seconds: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def format_name(self) -> str | None:
        return format_name(self.counts)


def format_name(counts: dict[str, int]) -> str | None:
    """"ISO-8601" for one format, "mixed: epoch seconds + ISO-8601" (most used first) for several."""
    formats = [fmt for fmt, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]
    if not formats:
        return None
    return formats[0] if len(formats) == 1 else "mixed: " + " + ".join(formats)


def clean_text(values: pd.Series) -> pd.Series:
    """Strip whitespace and turn empty / NA-like cells into missing values."""
    text = values.astype("str").str.strip()
    return text.where(~text.isin(NULL_TOKENS))


def parse_timestamps(series: pd.Series) -> tuple[np.ndarray, str | None]:
    """Unix seconds (int64) for every value and the name of the format(s) found.

    Each value is read by the first format that fits, so one column may mix epoch numbers,
    ISO-8601 and local date strings. Naive times are taken as UTC. Unreadable values become
    ``NAT``; when more than half are unreadable the column is probably not a timestamp and a
    RecStudioError says so.
    """
    codes, uniques = pd.factorize(clean_text(series))
    parsed = parse_unique(np.asarray(uniques, dtype=object))
    seconds = take_seconds(parsed.seconds, codes)
    failed = seconds == NAT
    if len(failed) and failed.mean() > 0.5:
        unread = np.flatnonzero(failed & (codes >= 0))
        example = uniques[codes[unread[0]]] if len(unread) else None
        raise unreadable_error(series.name, int(failed.sum()), len(failed), example)
    return seconds, parsed.format_name


def take_seconds(unique_seconds: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Expand per-distinct-value seconds to rows; code -1 (missing) becomes NAT."""
    if len(unique_seconds) == 0:
        return np.full(len(codes), NAT, dtype=np.int64)
    return np.where(codes >= 0, unique_seconds[np.maximum(codes, 0)], NAT).astype(np.int64)


def unreadable_error(column: object, failed: int, total: int, example: object) -> RecStudioError:
    """The error for a column where most timestamps could not be read, quoting one of them."""
    shown = f"e.g. {str(example)[:40]!r}" if example is not None else "they are empty"
    return RecStudioError(
        f"Column {column!r} does not look like a timestamp: {failed:,} of {total:,} values "
        f"could not be read ({shown}); choose another timestamp column, or write times as "
        "ISO-8601 (2010-12-01 08:26:00) or epoch seconds."
    )


def parse_unique(values) -> ParsedTimestamps:
    """Parse distinct non-missing strings; vectorised per format, each format filling the gaps of the last."""
    text = _without_time_words(pd.Series(values, dtype="str"))
    seconds = np.full(len(text), NAT, dtype=np.int64)
    result = ParsedTimestamps(seconds)
    counts: dict[str, int] = {}
    if len(text) == 0:
        return result

    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    numeric = np.isfinite(numbers)
    if numeric.any():
        seconds[numeric], number_counts = epoch_seconds(numbers[numeric])
        counts.update(number_counts)

    unread = np.flatnonzero(seconds == NAT)
    _fill(text, unread, "ISO8601", seconds, counts)
    unread = np.flatnonzero(seconds == NAT)
    if len(unread):
        # One column uses one order of day and month: pick the one that reads more values,
        # month first on a tie (e.g. Excel's US "12/1/2010 8:26").
        month = _try_family(text, unread, _MONTH_FIRST)
        day = _try_family(text, unread, _DAY_FIRST)
        chosen = day if (day[0] != NAT).sum() > (month[0] != NAT).sum() else month
        got = chosen[0] != NAT
        seconds[unread[got]] = chosen[0][got]
        for fmt, n in chosen[1].items():
            counts[fmt] = counts.get(fmt, 0) + n
        if got.any() and (day[0] != NAT).sum() == (month[0] != NAT).sum():
            result.notes.append("dates like 01/02/2010 are ambiguous; they were read as month/day/year")
    skipped = []
    for fmt in _OTHER_FORMATS:
        unread = np.flatnonzero(seconds == NAT)
        if len(unread) == 0:
            break
        if not _fill(text, unread, fmt, seconds, counts, probe=True):
            skipped.append(fmt)
    unread = np.flatnonzero(seconds == NAT)
    # A rare format may have been missed by the probe; look again when the rest is few.
    if 0 < len(unread) < len(text) / 2:
        for fmt in skipped:
            _fill(text, np.flatnonzero(seconds == NAT), fmt, seconds, counts)
    result.counts = counts
    return result


def read_iso(values) -> np.ndarray:
    """Unix seconds of the ISO-8601 values that cannot be numbers; NAT for every other value.

    Each value read here is one ``parse_unique`` would read the same way, whatever the other values
    are: it tries numbers first and ISO-8601 next, and ISO-8601 reads each value on its own. So a
    large column's ISO times can be read chunk by chunk instead of being kept as text to the end.
    """
    text = _without_time_words(pd.Series(values, dtype="str"))
    # a value of only digits, signs, dots and exponents (20210304, 2021-03-04) might be read as a
    # number, or as a compact date depending on the rest of the column; parse_unique decides those
    maybe_number = text.str.fullmatch(r"[0-9+\-.eE\s]*").fillna(True).to_numpy(dtype=bool)
    candidates = text.where(~maybe_number)
    if candidates.isna().all():
        return np.full(len(text), NAT, dtype=np.int64)
    return _to_seconds(candidates, "ISO8601")


def may_be_compact_dates(numbers: np.ndarray) -> bool:
    """True when every finite value is an 8-digit whole number, as in compact dates (20101201)."""
    values = numbers[np.isfinite(numbers)]
    return bool(((values >= 1e7) & (values < 1e8) & (np.floor(values) == values)).all())


def epoch_seconds(numbers: np.ndarray, *, compact_dates: bool = True) -> tuple[np.ndarray, dict[str, int]]:
    """Unix seconds of numeric times (NAT where not finite), and how many were read in each unit.

    The unit is told per value by magnitude. When every value is an 8-digit whole number that
    is a valid date, the column holds compact dates (20101201), not 1970 epochs; pass
    ``compact_dates=False`` when other values of the same column already ruled that out.
    """
    numbers = np.asarray(numbers, dtype=np.float64)
    seconds = np.full(len(numbers), NAT, dtype=np.int64)
    finite = np.isfinite(numbers)
    values = numbers[finite]
    if len(values) == 0:
        return seconds, {}
    if compact_dates and may_be_compact_dates(values):
        whole = values.astype(np.int64)
        parts = pd.DataFrame({"year": whole // 10000, "month": whole // 100 % 100, "day": whole % 100})
        dates = pd.to_datetime(parts, errors="coerce").dt.tz_localize("UTC")
        compact = _seconds(dates)
        if (compact != NAT).all():
            seconds[finite] = compact
            return seconds, {"%Y%m%d": len(values)}
    counts = {}
    read = np.full(len(values), NAT, dtype=np.int64)
    magnitude = np.abs(values)
    lower = 0.0
    for name, upper, per_second in _EPOCH_UNITS:
        hit = (magnitude >= lower) & (magnitude < upper)
        if hit.any():
            whole = np.floor(values[hit] / per_second)
            # beyond the years 1..9999 a number is no time (1e25 would also overflow int64)
            hit[hit] = (whole >= _FIRST_SECOND) & (whole <= _LAST_SECOND)
            read[hit] = whole[(whole >= _FIRST_SECOND) & (whole <= _LAST_SECOND)].astype(np.int64)
            if hit.any():
                counts[name] = int(hit.sum())
        lower = upper
    seconds[finite] = read
    return seconds, counts


def _without_time_words(text: pd.Series) -> pd.Series:
    # pandas reads "now" and "today" as the current time; in a log they are not times at all
    return text.where(~text.str.lower().isin(["now", "today"]))


def _fill(text, unread, fmt, seconds, counts, probe=False) -> bool:
    """Parse ``text[unread]`` with one format and write what it read; False when it read nothing."""
    if len(unread) == 0:
        return False
    if probe and len(unread) > _PROBE and not (_to_seconds(text.iloc[unread[:_PROBE]], fmt) != NAT).any():
        return False
    got = _to_seconds(text.iloc[unread], fmt)
    ok = got != NAT
    if not ok.any():
        return False
    seconds[unread[ok]] = got[ok]
    name = "ISO-8601" if fmt == "ISO8601" else fmt
    counts[name] = counts.get(name, 0) + int(ok.sum())
    return True


def _try_family(text, unread, formats) -> tuple[np.ndarray, dict[str, int]]:
    out = np.full(len(unread), NAT, dtype=np.int64)
    counts: dict[str, int] = {}
    for fmt in formats:
        todo = np.flatnonzero(out == NAT)
        if len(todo) == 0:
            break
        got = _to_seconds(text.iloc[unread[todo]], fmt)
        ok = got != NAT
        if ok.any():
            out[todo[ok]] = got[ok]
            counts[fmt] = int(ok.sum())
    return out, counts


def _to_seconds(text: pd.Series, fmt: str) -> np.ndarray:
    return _seconds(pd.to_datetime(text, format=fmt, utc=True, errors="coerce"))


def _seconds(dates: pd.Series) -> np.ndarray:
    """int64 Unix seconds of a UTC datetime series, whatever its resolution; NaT stays NAT."""
    ticks = dates.array.asi8
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[dates.dtype.unit]
    return np.where(ticks == NAT, NAT, ticks // per_second).astype(np.int64)
