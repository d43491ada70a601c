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

# An epoch column's unit is told by magnitude: seconds reach 1e11 only in the year 5138.
_EPOCH_UNITS = (("epoch seconds", 1e11, 1), ("epoch milliseconds", 1e14, 1_000),
                ("epoch microseconds", 1e17, 1_000_000), ("epoch nanoseconds", np.inf, 1_000_000_000))
_BAND_EDGES = np.array([upper for _, upper, _ in _EPOCH_UNITS[:-1]])
_PER_SECOND = np.array([per for _, _, per in _EPOCH_UNITS], dtype=np.float64)
#: Epoch numbers are read as times only within the years 1..9999 (what ISO-8601 can write).
_FIRST_SECOND, _LAST_SECOND = -62_135_596_800, 253_402_300_799
#: Names of the epoch units, in the order ``epoch_seconds`` reports them.
EPOCH_UNITS = tuple(name for name, _, _ in _EPOCH_UNITS)
# Numbers of two units are one column's times written two ways when, each read in its own unit,
# they cover the same weeks (a feed that moved from seconds to milliseconds, say).
_SAME_TIMES = 31 * 86_400

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


def unit_name(counts: dict[str, int]) -> str | None:
    """The unit a column's times were read in: "epoch milliseconds" (one unit per column), "compact dates
    (%Y%m%d)", or "date text" for times written as dates; None when nothing was read."""
    epoch = [unit for unit in EPOCH_UNITS if counts.get(unit)]
    if epoch:
        return epoch[0]
    if counts.get("%Y%m%d"):
        return "compact dates (%Y%m%d)"
    return "date text" if any(counts.values()) else None


def clean_text(values: pd.Series) -> pd.Series:
    """Strip whitespace and turn empty / NA-like cells into missing values."""
    text = values.astype("str").str.strip()
    return text.where(~text.isin(NULL_TOKENS))


def clean_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``clean_text`` on every column at once (column by column, a file of 50,000 columns took minutes)."""
    if not len(frame.columns):
        return frame
    flat = clean_text(pd.Series(frame.to_numpy(dtype=object).ravel(order="F")))
    values = flat.to_numpy(dtype=object).reshape(frame.shape, order="F")
    return pd.DataFrame(values, index=frame.index, columns=frame.columns).astype("str")


def parse_timestamps(series: pd.Series) -> tuple[np.ndarray, str | None]:
    """Unix seconds (int64) for every value and the name of the format(s) found.

    Each value is read by the first format that fits, so one column may mix epoch numbers,
    ISO-8601 and local date strings. Naive times are taken as UTC. Unreadable values become
    ``NAT``; when more than half are unreadable the column is probably not a timestamp and a
    RecStudioError says so.
    """
    codes, uniques = pd.factorize(clean_text(series))
    uniques = np.asarray(uniques, dtype=object)
    check_epoch_units(EpochSpread.of(numbers_in(uniques)), series.name)
    parsed = parse_unique(uniques)
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


def parse_unique(values, *, unit: int | None = None) -> ParsedTimestamps:
    """Parse distinct non-missing strings; vectorised per format, each format filling the gaps of the last.

    Numbers are epochs of one unit for the whole column: ``unit`` (an index of ``EPOCH_UNITS``) when
    the caller chose it from more values than these, else the one ``epoch_unit`` chooses from these.
    """
    text = _without_time_words(pd.Series(values, dtype="str"))
    seconds = np.full(len(text), NAT, dtype=np.int64)
    result = ParsedTimestamps(seconds)
    counts: dict[str, int] = {}
    if len(text) == 0:
        return result

    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    numeric = np.isfinite(numbers)
    if numeric.any():
        seconds[numeric], number_counts = epoch_seconds(numbers[numeric], unit=unit)
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


def numbers_in(values) -> np.ndarray:
    """The finite numbers among text values (float64), for choosing an epoch unit."""
    numbers = pd.to_numeric(pd.Series(values, dtype="str"), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers[np.isfinite(numbers)]


@dataclass
class EpochSpread:
    """What one column's epoch numbers look like, unit by unit (by magnitude): how many, and the span
    of times they cover each read in its own unit. Spreads of parts of a column add up."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(_EPOCH_UNITS), dtype=np.int64))
    low: np.ndarray = field(default_factory=lambda: np.full(len(_EPOCH_UNITS), np.inf))
    high: np.ndarray = field(default_factory=lambda: np.full(len(_EPOCH_UNITS), -np.inf))
    examples: np.ndarray = field(default_factory=lambda: np.full(len(_EPOCH_UNITS), np.nan))

    @classmethod
    def of(cls, numbers: np.ndarray) -> "EpochSpread":
        spread = cls()
        numbers = np.asarray(numbers, dtype=np.float64)
        for start in range(0, len(numbers), 1 << 20):  # in blocks: no full-size temporaries
            spread += cls._of_block(numbers[start : start + (1 << 20)])
        return spread

    @classmethod
    def _of_block(cls, values: np.ndarray) -> "EpochSpread":
        spread = cls()
        values = values[np.isfinite(values)]
        bands = np.searchsorted(_BAND_EDGES, np.abs(values), side="right")
        times = values / _PER_SECOND[bands]
        readable = (times >= _FIRST_SECOND) & (times <= _LAST_SECOND)  # in no unit is 1e30 a time
        for band in np.unique(bands[readable]):
            mine = readable & (bands == band)
            spread.counts[band] = int(mine.sum())
            spread.low[band], spread.high[band] = times[mine].min(), times[mine].max()
            spread.examples[band] = values[np.argmax(mine)]
        return spread

    def __add__(self, other: "EpochSpread") -> "EpochSpread":
        first = np.isnan(self.examples)
        return EpochSpread(self.counts + other.counts, np.minimum(self.low, other.low),
                           np.maximum(self.high, other.high), np.where(first, other.examples, self.examples))

    @property
    def unit(self) -> int:
        """The index in ``EPOCH_UNITS`` of the column's unit: the one most of its numbers have. Each value
        alone would take 253402300799 (31 Dec 9999 in seconds) for milliseconds; among seconds it is
        seconds. On a tie, the coarsest of the tied units in which every number is a time, else the coarsest."""
        tied = np.flatnonzero(self.counts == self.counts.max())
        if not self.counts.any():
            return 0
        for unit in tied:
            first, last = self.span(unit)
            if first >= _FIRST_SECOND and last <= _LAST_SECOND:
                return int(unit)
        return int(tied[0])

    def span(self, unit: int) -> tuple[float, float]:
        """The first and last second of the column's numbers read in ``unit``."""
        present = self.counts > 0
        if not present.any():
            return 0.0, 0.0
        return ((self.low * _PER_SECOND)[present].min() / _PER_SECOND[unit],
                (self.high * _PER_SECOND)[present].max() / _PER_SECOND[unit])

    def mixed(self) -> tuple[tuple[float, int], tuple[float, int]] | None:
        """Two numbers, (value, unit index) each, when the column holds epochs of two units: numbers whose
        magnitudes say different units and that, each read in its own unit, cover the same weeks (a feed
        that moved from seconds to milliseconds). None for one unit: a stray value far from the others'
        times is read in the column's unit."""
        chosen = self.unit
        if self.counts[chosen] == 0:
            return None
        low, high = self.low[chosen] - _SAME_TIMES, self.high[chosen] + _SAME_TIMES
        for other in np.flatnonzero(self.counts):
            if other != chosen and self.low[other] <= high and self.high[other] >= low:
                return (float(self.examples[chosen]), chosen), (float(self.examples[other]), int(other))
        return None


def epoch_unit(numbers: np.ndarray) -> int:
    """The index in ``EPOCH_UNITS`` of the unit of a column of epoch numbers (see ``EpochSpread.unit``)."""
    return EpochSpread.of(numbers).unit


def check_epoch_units(spread: EpochSpread, column: object) -> None:
    """A RecStudioError, with an example of each, when the column mixes epoch units."""
    mixed = spread.mixed()
    if mixed is None:
        return
    shown = [f"{_number_text(value)} ({_day(value / _PER_SECOND[unit])} in {EPOCH_UNITS[unit][6:]})"
             for value, unit in mixed]
    raise RecStudioError(
        f"Column {column!r} mixes epoch units: {shown[0]} beside {shown[1]}; a column is read in one unit, "
        "so write every time in the same unit (or as ISO-8601) and import it again."
    )


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e19 else repr(value)


def _day(seconds: float) -> str:
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").strftime("%Y-%m-%d")


def epoch_seconds(numbers: np.ndarray, *, compact_dates: bool = True,
                  unit: int | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Unix seconds of numeric times (NAT where not finite or not a time), and how many were read.

    One unit reads every value: ``unit`` (an index of ``EPOCH_UNITS``), or the column's own from
    ``epoch_unit``. A number that is no time in that unit (beyond the years 1..9999) is NAT. When
    every value is an 8-digit whole number that is a valid date, the column holds compact dates
    (20101201), not 1970 epochs; pass ``compact_dates=False`` when other values of the same column
    already ruled that out.
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
    unit = epoch_unit(values) if unit is None else unit
    name, _, per_second = _EPOCH_UNITS[unit]
    whole = np.floor(values / per_second)
    # beyond the years 1..9999 a number is no time (1e25 would also overflow int64)
    ok = (whole >= _FIRST_SECOND) & (whole <= _LAST_SECOND)
    read = np.full(len(values), NAT, dtype=np.int64)
    read[ok] = whole[ok].astype(np.int64)
    seconds[finite] = read
    return seconds, ({name: int(ok.sum())} if ok.any() else {})


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
