"""Which column is the user, the item, the time...: explicit choices, then guesses from names and contents."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from recstudio.data.dataset import ROLES
from recstudio.data.timestamps import NAT, clean_text, parse_unique
from recstudio.errors import RecStudioError


@dataclass(frozen=True)
class ColumnRoles:
    """The source column for each role. None means "guess it" when passed to the importer;
    :data:`ABSENT` (the empty string) means "this file has no such column: do not guess one"."""

    user: str | None = None
    item: str | None = None
    timestamp: str | None = None
    event: str | None = None
    rating: str | None = None
    quantity: str | None = None
    basket: str | None = None  # invoice, order, session...: the events of a user with one value are a basket

    def as_dict(self) -> dict[str, str]:
        """role -> column for the roles that name a column."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def absent(self) -> set[str]:
        """Roles explicitly marked as not in the file."""
        return {f.name for f in fields(self) if getattr(self, f.name) == ABSENT}


#: A role value meaning "no such column" (as opposed to None, "guess").
ABSENT = ""


# Names compared lower-case with "_", "-", "." and spaces removed; earlier names win a tie.
_NAMES = {
    "user": ("userid", "user", "uid", "customerid", "customer", "custid", "visitorid", "visitor", "clientid",
             "client", "memberid", "member", "reviewerid", "reviewer", "accountid", "buyerid", "buyer",
             "shopperid", "personid"),
    "item": ("itemid", "item", "iid", "movieid", "movie", "productid", "product", "stockcode", "sku", "asin",
             "parentasin", "articleid", "article", "trackid", "track", "songid", "bookid", "isbn", "videoid",
             "contentid", "goodsid", "offerid", "productcode", "itemcode"),
    "timestamp": ("timestamp", "time", "date", "datetime", "ts", "unixtime", "eventtime", "invoicedate",
                  "orderdate", "purchasedate", "createdat", "created", "ratingtimestamp", "timestamputc",
                  "eventdate", "eventtimestamp", "occurredat", "visitdate"),
    "event": ("event", "eventtype", "eventname", "action", "actiontype", "behavior", "behaviour",
              "behaviortype", "behaviourtype", "type", "interaction", "interactiontype", "activity"),
    "rating": ("rating", "ratings", "score", "stars", "star", "rate", "userrating", "reviewscore",
               "overall"),
    "quantity": ("quantity", "qty", "count", "units", "quantityordered", "nitems"),
    # session names come last: a session is the basket only beside another user column (see _guess)
    "basket": ("basketid", "basket", "invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "order",
               "orderno", "ordernumber", "transactionid", "transaction", "transactionno", "receipt", "receiptid",
               "receiptno", "cartid", "cart", "sessionid", "session"),
}
#: Names that are the user when the file has no other user column (a session-based log), else the basket.
_SESSION_NAMES = ("sessionid", "session")
# Looser name patterns tried after the exact names above (e.g. "customer_no", "product_code").
_PATTERNS = {
    "user": re.compile(r"^(user|customer|cust|visitor|client|member|buyer|shopper|reviewer|account)"
                       r"(id|code|no|number|key|ref)?$"),
    "item": re.compile(r"^(item|product|prod|movie|article|sku|track|song|book|video|goods|offer|content)"
                       r"(id|code|no|number|key|ref)?$"),
    "timestamp": re.compile(r"(timestamp|datetime|date|time)(utc|gmt)?$"),
    "basket": re.compile(r"^(invoice|order|basket|transaction|receipt|cart|session)(id|code|no|number|key|ref)?$"),
}
# names that say "not a time or a rating" even when the values could pass for one
_NOT_BY_CONTENT = re.compile(r"(id|code|no|num|number|key|flag|index|idx)$|price|cost|amount|revenue|sales|total")
_MAX_RATING = 10
_MAX_RATING_LEVELS = 21
# contents are looked at in this many unnamed columns: a file of 50,000 columns would take a minute
_CONTENT_COLUMNS = 1000


def normalise_name(name: object) -> str:
    return re.sub(r"[\s_\-.]+", "", str(name)).lower()


def guess_roles(df: pd.DataFrame) -> ColumnRoles:
    """Guess every role from the column names, then from contents (times, small-range ratings)."""
    return ColumnRoles(**_guess(df, {}))


def resolve_roles(df: pd.DataFrame, explicit: ColumnRoles | None, source_name: str) -> dict[str, str]:
    """Explicit roles (checked against the columns) plus guesses for the rest; user and item must exist."""
    columns = [str(c) for c in df.columns]
    fixed: dict[str, str] = {}
    for role, wanted in (explicit.as_dict() if explicit else {}).items():
        column = _find_column(columns, wanted)
        if column is None:
            raise RecStudioError(
                f"Column {wanted!r} (chosen as the {role} column) is not in {source_name}; "
                f"the columns are: {_listing(columns)}."
            )
        if column in fixed.values():
            other = next(r for r, c in fixed.items() if c == column)
            raise RecStudioError(
                f"Column {column!r} was chosen for both {other} and {role}; choose a different column for one of them."
            )
        fixed[role] = column
    absent = explicit.absent() if explicit else set()
    for role in {"user", "item"} & absent:
        raise RecStudioError(f"The {role} column cannot be left out; choose the column that holds the {role} ids.")
    roles = _guess(df, fixed, skip=absent)
    for role in ("user", "item"):
        if role not in roles:
            if len(columns) == 1:
                raise RecStudioError(
                    f"{source_name} was read as a single column {columns[0][:80]!r}, so its delimiter was not "
                    "recognised; separate the fields with comma, semicolon, tab or |."
                )
            raise RecStudioError(
                f"No {role} id column found in {source_name}; the columns are: {_listing(columns)}. "
                f"Choose the {role} column explicitly."
            )
    return roles


def _guess(df: pd.DataFrame, fixed: dict[str, str], skip: set[str] = frozenset()) -> dict[str, str]:
    roles = dict(fixed)
    roles.update({role: None for role in skip})  # held, so no column is guessed for them
    free = [str(c) for c in df.columns if str(c) not in fixed.values()]
    # every free column gets its best-ranked role by name; each role takes its best-ranked column
    candidates: dict[str, list[tuple[int, int, str]]] = {role: [] for role in ROLES}
    for position, column in enumerate(free):
        hit = _name_role(column)
        if hit is not None:
            candidates[hit[0]].append((hit[1], position, column))
    # a session column is the user of a session-based log, unless another column is the user
    sessions = [c for c in candidates["basket"] if _is_session(c[2])]
    if "user" not in roles and not candidates["user"] and sessions:
        best = min(sessions)
        candidates["user"].append(best)
        candidates["basket"].remove(best)
    for role in ROLES:
        if role not in roles and candidates[role]:
            roles[role] = min(candidates[role])[2]
    # contents decide only for columns whose names say nothing (a sales_channel_id of 1s and 2s
    # or a price of 0.05 is not a rating)
    unnamed = [c for c in free if c not in roles.values() and not _NOT_BY_CONTENT.search(normalise_name(c))]
    unnamed = unnamed[:_CONTENT_COLUMNS]
    if "timestamp" not in roles:
        found = next((c for c in unnamed if _looks_like_time(df[c])), None)
        if found is not None:
            roles["timestamp"] = found
            unnamed.remove(found)
    if "rating" not in roles:
        found = next((c for c in unnamed if _looks_like_rating(df[c])), None)
        if found is not None:
            roles["rating"] = found
    return {role: roles[role] for role in ROLES if roles.get(role)}


def _is_session(column: str) -> bool:
    key = normalise_name(column)
    return key in _SESSION_NAMES or bool(re.fullmatch(r"session(id|code|no|number|key|ref)?", key))


def _name_role(column: str) -> tuple[str, int] | None:
    key = normalise_name(column)
    for role, names in _NAMES.items():
        if key in names:
            return role, names.index(key)
    for role, pattern in _PATTERNS.items():
        if pattern.search(key):
            return role, 100
    return None


def _sample(values: pd.Series, n: int = 500) -> pd.Series:
    return clean_text(values.head(n)).dropna()


def _looks_like_time(values: pd.Series) -> bool:
    sample = _sample(values)
    if len(sample) == 0:
        return False
    numbers = pd.to_numeric(sample, errors="coerce")
    if numbers.notna().mean() > 0.5:
        # plain numbers count only when they are plausible epochs (1979..2100 in s, ms or us)
        n = numbers.dropna().abs()
        plausible = ((n > 3e8) & (n < 4.2e9)) | ((n > 3e11) & (n < 4.2e12)) | ((n > 3e14) & (n < 4.2e15))
        return bool(plausible.mean() >= 0.9)
    parsed = parse_unique(np.asarray(sample.unique(), dtype=object))
    return bool((parsed.seconds != NAT).mean() >= 0.9)


def _looks_like_rating(values: pd.Series) -> bool:
    sample = _sample(values, 2000)
    if len(sample) == 0:
        return False
    numbers = pd.to_numeric(sample, errors="coerce")
    if numbers.isna().any():
        return False
    return bool(numbers.min() >= 0 and numbers.max() <= _MAX_RATING and numbers.nunique() <= _MAX_RATING_LEVELS)


def _find_column(columns: list[str], wanted: str) -> str | None:
    """The column named ``wanted``, or the one equal to it ignoring case and separators."""
    if wanted in columns:
        return wanted
    loose = [c for c in columns if normalise_name(c) == normalise_name(wanted)]
    return loose[0] if len(loose) == 1 else None


def _listing(columns: list[str]) -> str:
    shown = ", ".join(repr(c[:40]) for c in columns[:20])
    return shown + (f" and {len(columns) - 20} more" if len(columns) > 20 else "")
