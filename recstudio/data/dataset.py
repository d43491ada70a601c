"""The imported dataset: integer-coded interactions, id maps, item catalogue and import report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from recstudio.errors import RecStudioError

#: Column roles an interactions file can have; user and item are required. ``basket`` groups a user's
#: events into baskets (an invoice, an order, a session): see :mod:`recstudio.data.baskets`.
ROLES = ("user", "item", "timestamp", "event", "rating", "quantity", "basket")


@dataclass
class ImportReport:
    """What an import did, in numbers an analyst can check against the file."""

    source: str = ""
    rows_read: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    users: int = 0
    items: int = 0
    events: int = 0
    time_start: str | None = None  # ISO-8601 (UTC) of the first kept event
    time_end: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # role -> source column
    timestamp_format: str | None = None  # e.g. "epoch seconds", "ISO-8601", "%d/%m/%Y %H:%M"
    timestamp_units: dict[str, str] = field(default_factory=dict)  # column -> "epoch seconds", "date text"...
    delimiter: str | None = None
    encoding: str | None = None
    catalogue_items: int = 0  # catalogue rows matched to an imported item
    catalogue_columns: list[str] = field(default_factory=list)
    # baskets (recstudio.data.baskets.basket_summary): a user's events sharing a basket value, or a time
    baskets: int = 0
    events_per_basket: float = 0.0  # mean
    events_per_basket_median: float = 0.0
    events_per_basket_max: int = 0
    shared_time_events: int = 0  # events that share their basket (or time) with another event of their user
    same_time_share: float = 0.0  # users whose last event shares its basket with the one before / users with 2+
    users_with_three_baskets: int = 0  # the users the last-basket split evaluates
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ImportReport":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Dataset:
    """Interactions coded as integers, with the way back to the file's ids.

    ``interactions`` has columns ``user`` (int32, 0..n_users-1), ``item`` (int32, 0..n_items-1),
    ``timestamp`` (int64, Unix seconds UTC) and optionally ``event`` (categorical of str: a byte
    a row), ``rating`` and ``quantity`` (float32) and ``basket`` (int32 codes of the basket column's
    values; events of one user with the same code are one basket). Rows are sorted by user, then time;
    ties keep file order. With a basket column: by user, then the time of the basket's first event, then
    basket, then time, so that a basket's events are consecutive.
    ``items`` has one row per item index (RangeIndex), column ``item_id`` (original id, str)
    plus whatever catalogue columns were joined (title, category, brand, description, price...).
    """

    name: str
    interactions: pd.DataFrame
    user_ids: np.ndarray  # original user ids as str; user_ids[u] is user u
    item_ids: np.ndarray  # original item ids as str
    items: pd.DataFrame
    report: ImportReport = field(default_factory=ImportReport)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_events(self) -> int:
        return len(self.interactions)

    @cached_property
    def indptr(self) -> np.ndarray:
        """CSR row pointer: user u's events are rows indptr[u]:indptr[u+1] of interactions."""
        counts = np.bincount(self.interactions["user"].to_numpy(), minlength=self.n_users)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def history(self, user: int) -> np.ndarray:
        """Item indices user ``user`` touched, oldest first."""
        lo, hi = self.indptr[user], self.indptr[user + 1]
        return self.interactions["item"].to_numpy()[lo:hi].astype(np.int64)

    @cached_property
    def _user_lookup(self) -> dict[str, int]:
        return {str(u): i for i, u in enumerate(self.user_ids)}

    @cached_property
    def _item_lookup(self) -> dict[str, int]:
        return {str(it): i for i, it in enumerate(self.item_ids)}

    def user_index(self, user_id: object) -> int:
        key = _id_key(user_id)
        if key not in self._user_lookup:
            raise RecStudioError(
                f"User {user_id!r} is not in dataset {self.name!r}; "
                "check the id against the file's user column."
            )
        return self._user_lookup[key]

    def item_index(self, item_id: object) -> int:
        key = _id_key(item_id)
        if key not in self._item_lookup:
            raise RecStudioError(
                f"Item {item_id!r} is not in dataset {self.name!r}; "
                "check the id against the file's item column."
            )
        return self._item_lookup[key]

    def item_titles(self) -> np.ndarray:
        """A display title per item: the catalogue's title column when there is one, else the id."""
        for col in ("title", "name", "description"):
            if col in self.items.columns:
                titles = self.items[col].astype("string").fillna("")
                return np.where(titles.to_numpy() == "", self.item_ids, titles.to_numpy()).astype(object)
        return self.item_ids.astype(object)

    def item_popularity(self) -> np.ndarray:
        return np.bincount(self.interactions["item"].to_numpy(), minlength=self.n_items)


def _id_key(value: object) -> str:
    """Ids are stored as text; accept 1, 1.0 and "1" alike for an integer id."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
