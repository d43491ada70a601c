"""Baskets: the events of one user that belong together (one invoice, one order, one session).

A shop log records a basket as several lines with one timestamp; their order in the file is the order
the lines were printed, not an order the customer chose. A basket is the events of one user with the
same basket-column value when the dataset has one (role ``basket``), otherwise with the same timestamp.
Events are sorted by user, then time (ties in file order), so a basket is a run of consecutive rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recstudio.data.dataset import Dataset


@dataclass(frozen=True)
class Baskets:
    """The dataset's events grouped into baskets, as CSR over the (sorted) events.

    Basket ``b`` holds events ``event_ptr[b]:event_ptr[b+1]``; user ``u`` holds baskets
    ``user_ptr[u]:user_ptr[u+1]``, oldest first.
    """

    event_ptr: np.ndarray  # int64 [n_baskets + 1]
    user_ptr: np.ndarray  # int64 [n_users + 1]

    @property
    def n_baskets(self) -> int:
        return len(self.event_ptr) - 1

    def per_user(self) -> np.ndarray:
        """Baskets per user."""
        return np.diff(self.user_ptr)

    def sizes(self) -> np.ndarray:
        """Events per basket."""
        return np.diff(self.event_ptr)

    def of_events(self) -> np.ndarray:
        """The basket of each event (int64 [n_events])."""
        return np.repeat(np.arange(self.n_baskets, dtype=np.int64), self.sizes())


def basket_starts(dataset: Dataset) -> np.ndarray:
    """bool [n_events]: this event starts a new basket (a new user, time or basket value)."""
    frame = dataset.interactions
    n = len(frame)
    starts = np.ones(n, dtype=bool)
    if n < 2:
        return starts
    users = frame["user"].to_numpy()
    key = frame["basket"].to_numpy() if "basket" in frame.columns else frame["timestamp"].to_numpy()
    starts[1:] = (users[1:] != users[:-1]) | (key[1:] != key[:-1])
    return starts


def baskets(dataset: Dataset) -> Baskets:
    starts = basket_starts(dataset)
    first_events = np.flatnonzero(starts)
    event_ptr = np.append(first_events, len(starts)).astype(np.int64)
    users = dataset.interactions["user"].to_numpy()
    per_user = np.bincount(users[first_events], minlength=dataset.n_users) if len(first_events) else \
        np.zeros(dataset.n_users, dtype=np.int64)
    user_ptr = np.concatenate([[0], np.cumsum(per_user)]).astype(np.int64)
    return Baskets(event_ptr, user_ptr)


def basket_summary(dataset: Dataset) -> dict[str, float | int]:
    """What an import report says about shared times: how many baskets, how big, how many events share
    their basket with another, and ``same_time_share``: of the users with two or more events, the share
    whose last event shares its basket (its time, or basket value) with the event before it, which is
    how often leave-one-out would test "which line of this basket was printed last"."""
    grouped = baskets(dataset)
    sizes = grouped.sizes()
    lengths = np.diff(dataset.indptr)
    two_or_more = np.flatnonzero(lengths >= 2)
    starts = basket_starts(dataset)
    last = dataset.indptr[two_or_more + 1] - 1
    share = float((~starts[last]).mean()) if len(last) else 0.0
    return {
        "baskets": int(grouped.n_baskets),
        "events_per_basket": float(sizes.mean()) if len(sizes) else 0.0,
        "events_per_basket_median": float(np.median(sizes)) if len(sizes) else 0.0,
        "events_per_basket_max": int(sizes.max()) if len(sizes) else 0,
        "shared_time_events": int(sizes[sizes > 1].sum()),
        "same_time_share": share,
        "users_with_three_baskets": int((grouped.per_user() >= 3).sum()),
    }


#: Above this share of users whose last two events share a basket, leave-one-out tests mostly the
#: order of lines inside a basket, and the report says so.
SAME_TIME_WARNING = 0.2
