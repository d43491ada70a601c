"""Files an analyst opens in a spreadsheet: text cells that would run as formulas are defused."""

from __future__ import annotations

from typing import Any

import pandas as pd


#: What a spreadsheet may run as a formula when a cell starts with it (OWASP's list for CSV exports).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with an apostrophe; numbers and
    other text as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where text cells a spreadsheet would run as a formula (starting with = + - @, tab or CR)
    start with an apostrophe instead, as OWASP advises for CSV exports; numbers are left alone."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            text = out[column].astype(str)
            risky = text.str.match(r"^[=+\-@\t\r]")
            if risky.any():
                out[column] = out[column].where(~risky, "'" + text)
    return out
