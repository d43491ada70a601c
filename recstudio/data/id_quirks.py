"""What an id column's text says about its export: '-' for a missing id, ids padded with spaces, 1.0 beside 1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Text that means "no id" in an id column, beside the NA-like words every column has (timestamps.NULL_TOKENS).
MISSING_IDS = ("-",)
_MISSING_IDS = pa.array(MISSING_IDS, pa.string())


@dataclass
class IdQuirks:
    """Rows of one id column whose text was '-' (read as missing) or had spaces around it (removed)."""

    missing_rows: int = 0
    padded_rows: int = 0
    padded_example: str | None = None

    def clean(self, codes: np.ndarray, raw: pa.Array, cleaned: pa.Array) -> pa.Array:
        """``cleaned`` (the chunk's distinct ``raw`` values as ``text_columns.clean`` cleaned them, ``codes``
        giving each row's value) with the missing-id words made null; the rows of each quirk are counted."""
        missing = pc.fill_null(pc.is_in(cleaned, value_set=_MISSING_IDS.cast(cleaned.type)), False)
        any_missing = pc.any(missing).as_py()
        padded = None
        if cleaned is not raw:
            changed = pc.and_(pc.is_valid(cleaned), pc.not_equal(cleaned, raw.cast(cleaned.type)))
            padded = pc.fill_null(pc.and_not(changed, missing), False)  # ' - ' is a missing id, not a padded one
            if not pc.any(padded).as_py():
                padded = None
        if not any_missing and padded is None:
            return cleaned
        rows = np.bincount(codes[codes >= 0], minlength=len(raw))
        if any_missing:
            self.missing_rows += int(rows[missing.to_numpy(zero_copy_only=False)].sum())
            cleaned = pc.if_else(missing, pa.scalar(None, cleaned.type), cleaned)
        if padded is not None:
            flags = padded.to_numpy(zero_copy_only=False)
            self.padded_rows += int(rows[flags].sum())
            if self.padded_example is None:
                self.padded_example = raw[int(np.argmax(flags))].as_py()
        return cleaned

    def warnings(self, role: str, column: str, values: pa.Array) -> list[str]:
        """Report lines for the column, ``values`` being its distinct (cleaned) ids."""
        lines = []
        if self.missing_rows:
            lines.append(f"{self.missing_rows:,} row(s) have the {role} id '-' in column {column!r}; it was read as "
                         "missing (like NA or null) and those rows were dropped.")
        if self.padded_rows:
            example = self.padded_example
            article = "an" if role == "item" else "a"
            lines.append(f"{self.padded_rows:,} row(s) have {article} {role} id with spaces around it in column {column!r}; "
                         f"the spaces were removed, so {example!r} is the same {role} as {example.strip()!r}.")
        twins = decimal_twins(values)
        if twins:
            count, (decimal, whole) = twins
            lines.append(f"{role.capitalize()} ids written like {decimal!r} sit beside {whole!r} in column {column!r} "
                         f"({count:,} such pair{'s' if count > 1 else ''}); they were kept as different {role}s. If they are the same, "
                         "export the ids without decimals.")
        return lines


def decimal_twins(values: pa.Array) -> tuple[int, tuple[str, str]] | None:
    """How many of the distinct ids ``values`` are a whole number written with decimals ("1.0") while the
    plain one ("1") is also an id, with an example pair; None when there is none."""
    if len(values) == 0:
        return None
    decimal = pc.filter(values, pc.match_substring_regex(values, r"^[+-]?[0-9]+\.0+$"))
    if len(decimal) == 0:
        return None
    whole = pc.replace_substring_regex(decimal, r"\.0+$", "")
    beside = pc.fill_null(pc.is_in(whole, value_set=values), False).to_numpy(zero_copy_only=False)
    if not beside.any():
        return None
    first = int(np.argmax(beside))
    return int(beside.sum()), (decimal[first].as_py(), whole[first].as_py())
