"""Raw text columns as arrow arrays, worked on without a Python object per value: cleaning, row
hashes, and the everyday shapes of times and numbers, each read exactly as the pandas readers in
``timestamps`` read them (anything else is left to those readers)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recstudio.data.timestamps import NAT, NULL_TOKENS

#: What Python's ``str.strip()`` strips: the characters for which ``str.isspace()`` is true.
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                 "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_NULL_TOKENS = pa.array(NULL_TOKENS, pa.string())
_SECONDS_PER_DAY = 86_400
_YEAR_ONE = -62_135_596_800  # 0001-01-01 00:00:00
_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]  # where YYYY-MM-DD HH:MM:SS has digits
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
# hashing constants (splitmix64 / murmur3 finaliser)
_P = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
#: The hash of a missing value.
NULL_HASH = np.uint64(0x6A09E667F3BCC908)
_ISO_SALT = np.uint64(0x3C6EF372FE94F82B)
_BYTE_MASKS = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_LONGEST_TOKEN = max(len(t.encode()) for t in NULL_TOKENS)
_TOKEN_KEYS = np.array([int.from_bytes(t.encode(), "little") | (len(t.encode()) << 56) for t in NULL_TOKENS],
                       dtype=np.uint64)


def as_text(values) -> pa.Array:
    """One arrow string array (chunks combined), from arrow or pandas values."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    elif not isinstance(values, pa.Array):
        values = pa.array(getattr(values, "array", values), from_pandas=True)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    return values


def clean(values: pa.Array) -> pa.Array:
    """``timestamps.clean_text`` in arrow: strip Python's whitespace, NA-like text becomes null."""
    if _clean_already(values):
        return values
    stripped = pc.utf8_trim(values, characters=PY_WHITESPACE)
    null_like = pc.is_in(stripped, value_set=_NULL_TOKENS.cast(stripped.type))
    if not pc.any(null_like).as_py():
        return stripped
    return pc.if_else(null_like, pa.scalar(None, stripped.type), stripped)


def _clean_already(values: pa.Array) -> bool:
    """Whether ``clean`` would change nothing: every value starts and ends with a printable ASCII
    character other than a space, and none is NA-like (the usual ids, checked without trimming)."""
    words, starts, lengths = _words(values)
    if values.null_count:
        present = _valid(values)
        starts, lengths = starts[present], lengths[present]
    if len(lengths) == 0:
        return True
    if lengths.min() == 0:
        return False
    for edge in (starts, starts + lengths - 1):
        byte = (words[edge] & np.uint64(0xFF)).astype(np.uint8)
        if ((byte - np.uint8(0x21)) > np.uint8(0x7E - 0x21)).any():
            return False
    short = np.flatnonzero(lengths <= _LONGEST_TOKEN)
    if len(short) == 0:
        return True
    # the first bytes and the length of a short value are the value: compare them with the tokens'
    keys = (words[starts[short]] & _BYTE_MASKS[lengths[short]]) | (lengths[short].astype(np.uint64) << np.uint64(56))
    return not np.isin(keys, _TOKEN_KEYS).any()


def codes_and_values(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """pandas.factorize in arrow: int32 codes (-1 where null) into the distinct values, in order
    of first appearance."""
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices
    codes = (pc.fill_null(codes, -1) if codes.null_count else codes).to_numpy(zero_copy_only=False)
    return codes.astype(np.int32, copy=False), encoded.dictionary


def text_hashes(values: pa.Array) -> np.ndarray:
    """A 64-bit hash of every value (uint64); equal text gives equal hashes, null its own value.

    The bytes are read eight at a time through an unaligned uint64 view of the data, so a value
    costs a few numpy operations per eight bytes, not a Python string.
    """
    values = as_text(values)
    n = len(values)
    words, starts, lengths = _words(values)
    hashes = lengths.astype(np.uint64) * _P
    longest = int(lengths.max()) if n else 0
    for word in range(0, longest, 8):
        rows = None if word == 0 else np.flatnonzero(lengths > word)
        at = starts + word if rows is None else starts[rows] + word
        left = lengths - word if rows is None else lengths[rows] - word
        chunk = words[at] & _BYTE_MASKS[np.minimum(np.maximum(left, 0), 8)]
        if rows is None:
            hashes = (hashes ^ chunk) * _P
        else:
            hashes[rows] = (hashes[rows] ^ chunk) * _P
    hashes = _finalise(hashes)
    if values.null_count:
        hashes[~_valid(values)] = NULL_HASH
    return hashes


def combine_hashes(columns: list[np.ndarray]) -> np.ndarray:
    """One 64-bit hash per row from its columns' value hashes (in column order), so exact duplicate
    rows are found without keeping their text (``cleaning.repeated_rows`` finds equal hashes)."""
    hashes = None
    for i, part in enumerate(columns):
        part = part + np.uint64((int(_P) * (i + 1)) % (1 << 64))
        hashes = part if hashes is None else _finalise((hashes * _M1) ^ part)
    return hashes if hashes is not None else np.zeros(0, np.uint64)


def integers(values: pa.Array) -> np.ndarray | None:
    """float64 numbers (NaN where null) when every value is a whole number of up to 15 digits, which
    ``pd.to_numeric`` reads the same (exactly); None otherwise."""
    if len(values) == values.null_count or values.buffers()[2] is None:
        return None
    offsets = _offsets(values)
    lengths = np.diff(offsets)
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    # only digits and minus signs (a misplaced sign fails the cast), at most 15 digits
    if not (((data - np.uint8(48)) < 10) | (data == 45)).all() or lengths.max() > 16:
        return None
    try:
        whole = pc.cast(values, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    numbers = whole.to_numpy(zero_copy_only=False)
    if numbers.dtype != np.float64:
        numbers = numbers.astype(np.float64)
    if (np.abs(numbers[np.isfinite(numbers)]) >= 1e15).any():
        return None  # sixteen digits: pandas' own reading decides
    return numbers


def plain_integers(values: pa.Array, limit: int) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Every value as an int64 when each present one is a whole number below ``limit`` written
    plainly (digits only, no leading zero), so that text and number are one to one, with where a
    value is present (None: everywhere; a null reads as 0); None otherwise."""
    if len(values) == values.null_count or values.buffers()[2] is None:
        return None
    offsets = _offsets(values)
    lengths = np.diff(offsets)
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    present = _valid(values) if values.null_count else None
    starts, kept = (offsets[:-1], lengths) if present is None else (offsets[:-1][present], lengths[present])
    if kept.min() < 1 or kept.max() > len(str(limit)):
        return None
    if ((data[offsets[0] : offsets[-1]] - np.uint8(48)) > 9).any():
        return None
    if ((data[starts] == 48) & (kept > 1)).any():  # "007" is not the number 7's text
        return None
    numbers = pc.cast(pc.fill_null(values, "0") if present is not None else values, pa.int64())
    numbers = numbers.to_numpy(zero_copy_only=False)
    if numbers.max() >= limit:
        return None
    return numbers, present


def iso_seconds(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds (int64; NAT where not read) of the values of the form ``YYYY-MM-DD HH:MM:SS``
    (or with ``T`` between, or a trailing ``Z``) that are real times in the years 1..9999, and each
    value's spelling: 0 space, 1 space + Z, 2 T, 3 T + Z; -1 for a value not read here.

    Such a value reads the same with pandas' ISO-8601 parser (``timestamps.read_iso``); every other
    value is left to it. The value must be exactly that text: one with spaces around is not read.
    """
    n = len(values)
    seconds = np.full(n, NAT, dtype=np.int64)
    spelling = np.full(n, -1, dtype=np.int8)
    offsets = _offsets(values)
    lengths = np.diff(offsets)
    shaped = (lengths == 19) | (lengths == 20)
    if values.null_count:
        shaped &= _valid(values)
    if not shaped.any():
        return seconds, spelling
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    every = bool(shaped.all())
    rows = None if every else np.flatnonzero(shaped)
    if every and (lengths == 19).all():
        chars = data[offsets[0] : offsets[0] + 19 * n].reshape(n, 19)  # fixed width: a view, no copy
    else:
        chars = data[(offsets[:-1] if every else offsets[rows])[:, None] + np.arange(19)]
    shape = (chars[:, 4] == 45) & (chars[:, 7] == 45) & (chars[:, 13] == 58) & (chars[:, 16] == 58)
    t = chars[:, 10] == 84
    shape &= t | (chars[:, 10] == 32)
    z = (lengths == 20) if every else (lengths[rows] == 20)
    if not z.any():
        # arrow's ISO-8601 cast reads this shape (naive) exactly, checking digits and ranges; it
        # fails the whole array for one impossible date, and then numpy reads the chunk instead
        at = (np.arange(n) if every else rows)[shape]
        try:
            cast = pc.cast(values if len(at) == n else values.take(at), pa.timestamp("s"))
        except pa.ArrowInvalid:
            pass
        else:
            read = cast.cast(pa.int64()).to_numpy(zero_copy_only=False)
            ok = read >= _YEAR_ONE  # arrow also reads the year 0, which pandas does not
            seconds[at[ok]] = read[ok]
            spelling[at[ok]] = t[shape][ok].astype(np.int8) * 2
            return seconds, spelling
    digits = chars - np.uint8(48)  # wraps: anything but a digit is >= 10
    ok = shape & (digits[:, _DIGITS] < 10).all(axis=1)
    if z.any():
        last = offsets[:-1] + 19 if every else offsets[rows] + 19
        ok &= ~z | (data[np.minimum(last, len(data) - 1)] == 90)  # "Z"

    def pair(i: int) -> np.ndarray:
        return digits[:, i].astype(np.int32) * 10 + digits[:, i + 1]

    year, month, day = pair(0) * 100 + pair(2), pair(5), pair(8)
    hour, minute, second = pair(11), pair(14), pair(17)
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (hour <= 23) & (minute <= 59) & (second <= 59)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= day <= _MONTH_DAYS[np.where(ok, month, 0)] + (leap & (month == 2))
    read = (_days_from_civil(year, month, day) * _SECONDS_PER_DAY
            + (hour * 3600 + minute * 60 + second).astype(np.int64))
    kind = (t.astype(np.int8) * 2 + z).astype(np.int8)
    if every:
        seconds[ok] = read[ok]
        spelling[ok] = kind[ok]
    else:
        seconds[rows[ok]] = read[ok]
        spelling[rows[ok]] = kind[ok]
    return seconds, spelling


def iso_hashes(seconds: np.ndarray, spelling: np.ndarray) -> np.ndarray:
    """Hashes of the values ``iso_seconds`` read, from their seconds and spelling (which together are
    the text); the other rows get a placeholder to be overwritten."""
    return _finalise((seconds.view(np.uint64) * np.uint64(4)) ^ spelling.astype(np.uint64) ^ _ISO_SALT)


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (int64) of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y.astype(np.int64) - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _words(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A uint64 view starting at every byte of the values' text (little-endian, zero-padded at the
    end), and each value's start in it and length."""
    offsets = _offsets(values)
    data = values.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    padded = np.zeros(len(raw) + 8, dtype=np.uint8)  # room to read the last word whole
    padded[: len(raw)] = raw
    words = np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    return words, offsets[:-1], np.diff(offsets)


def _offsets(values: pa.Array) -> np.ndarray:
    kind = np.int64 if pa.types.is_large_string(values.type) else np.int32
    raw = np.frombuffer(values.buffers()[1], dtype=kind)
    return raw[values.offset : values.offset + len(values) + 1].astype(np.int64)


def _valid(values: pa.Array) -> np.ndarray:
    return values.is_valid().to_numpy(zero_copy_only=False)


def _finalise(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * _M1
    h = h ^ (h >> np.uint64(33))
    h = h * _M2
    return h ^ (h >> np.uint64(33))
