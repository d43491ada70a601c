"""Train / validation / test splits of user sequences: leave-one-out and global temporal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recstudio.data.dataset import Dataset
from recstudio.errors import RecStudioError


@dataclass
class EvalCases:
    """One ranking question per row: given this user's history, where does ``targets`` rank?

    Histories are in CSR form (``history_indptr``, ``history_items``), oldest first, and hold
    every event before the target; these are also the "seen" items excluded from ranking.
    """

    users: np.ndarray  # int64 [n]
    targets: np.ndarray  # int64 [n]
    history_indptr: np.ndarray  # int64 [n+1]
    history_items: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.users)

    def history(self, i: int) -> np.ndarray:
        return self.history_items[self.history_indptr[i] : self.history_indptr[i + 1]]


@dataclass
class Split:
    """Per-user training sequences plus validation and test questions."""

    kind: str
    n_users: int
    n_items: int
    train_indptr: np.ndarray  # int64 [n_users+1]; user u's training items are train_items[p[u]:p[u+1]]
    train_items: np.ndarray  # int64, oldest first per user
    valid: EvalCases
    test: EvalCases

    def train_sequence(self, user: int) -> np.ndarray:
        return self.train_items[self.train_indptr[user] : self.train_indptr[user + 1]]

    def train_popularity(self) -> np.ndarray:
        return np.bincount(self.train_items, minlength=self.n_items)


def _csr_take(indptr: np.ndarray, values: np.ndarray, rows: np.ndarray, ends: np.ndarray):
    """Rows ``rows`` of a CSR matrix, each cut to its first ``ends[i]`` entries (vectorised)."""
    starts = indptr[rows]
    lengths = ends.astype(np.int64)
    out_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    # index of every kept entry: start of its row + offset within the row
    offsets = np.arange(out_ptr[-1], dtype=np.int64) - np.repeat(out_ptr[:-1], lengths)
    idx = np.repeat(starts, lengths) + offsets
    return out_ptr, values[idx]


def leave_one_out(dataset: Dataset) -> Split:
    """Last event of each user is the test target, the one before it the validation target.

    Users with fewer than three events keep everything in training and are not evaluated.
    """
    indptr = dataset.indptr
    items = dataset.interactions["item"].to_numpy().astype(np.int64)
    lengths = np.diff(indptr)
    evaluated = np.flatnonzero(lengths >= 3)
    if len(evaluated) == 0:
        raise RecStudioError(
            "No user has three or more events, so leave-one-out has nothing to validate and test on; "
            "import a longer log or lower the cleaning thresholds."
        )
    train_len = np.where(lengths >= 3, lengths - 2, lengths)
    train_indptr, train_items = _csr_take(indptr, items, np.arange(dataset.n_users), train_len)

    def cases(offset_from_end: int) -> EvalCases:
        hist_len = lengths[evaluated] - offset_from_end
        hptr, hitems = _csr_take(indptr, items, evaluated, hist_len)
        targets = items[indptr[evaluated] + hist_len]
        return EvalCases(evaluated.astype(np.int64), targets, hptr, hitems)

    return Split("leave-one-out", dataset.n_users, dataset.n_items, train_indptr, train_items, cases(2), cases(1))


def temporal(dataset: Dataset, valid_quantile: float = 0.8, test_quantile: float = 0.9) -> Split:
    """Global time cut: events before the validation cut train; each user's first event after
    a cut is that user's question, asked with every earlier event as history."""
    if not 0 < valid_quantile < test_quantile < 1:
        raise RecStudioError("Temporal split needs 0 < validation quantile < test quantile < 1.")
    ts = dataset.interactions["timestamp"].to_numpy()
    items = dataset.interactions["item"].to_numpy().astype(np.int64)
    users = dataset.interactions["user"].to_numpy().astype(np.int64)
    indptr = dataset.indptr
    t_valid, t_test = np.quantile(ts, [valid_quantile, test_quantile])
    # position within each user's sequence of the first event at/after each cut
    train_len = _first_at_or_after(ts, users, indptr, t_valid)
    test_pos = _first_at_or_after(ts, users, indptr, t_test)
    lengths = np.diff(indptr)
    train_indptr, train_items = _csr_take(indptr, items, np.arange(dataset.n_users), train_len)

    def cases(pos: np.ndarray, upper: np.ndarray) -> EvalCases:
        # a user is asked when there is an event at pos inside its window and a non-empty history
        rows = np.flatnonzero((pos < upper) & (pos >= 1))
        hptr, hitems = _csr_take(indptr, items, rows, pos[rows])
        return EvalCases(rows.astype(np.int64), items[indptr[rows] + pos[rows]], hptr, hitems)

    valid = cases(train_len, test_pos)
    test = cases(test_pos, lengths)
    if len(test) == 0:
        raise RecStudioError("The temporal cut leaves no user with events after it; choose an earlier quantile.")
    return Split("temporal", dataset.n_users, dataset.n_items, train_indptr, train_items, valid, test)


def _first_at_or_after(ts, users, indptr, cut) -> np.ndarray:
    before = np.bincount(users[ts < cut], minlength=len(indptr) - 1)
    # sequences are time-sorted per user, so the count of earlier events is the position
    return before.astype(np.int64)


SPLITS = {"leave-one-out": leave_one_out, "temporal": temporal}


def make_split(dataset: Dataset, kind: str = "leave-one-out", **kwargs) -> Split:
    if kind not in SPLITS:
        raise RecStudioError(f"Unknown split {kind!r}; choose one of: {', '.join(SPLITS)}.")
    return SPLITS[kind](dataset, **kwargs)
