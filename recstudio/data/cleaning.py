"""Vectorised cleaning steps of an import: exact duplicate rows and the iterated k-core."""

from __future__ import annotations

import numpy as np
import pandas as pd

_SLICE_BITS = 4  # duplicates are looked for in 2**4 slices of the hash values


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of every raw row, so duplicates are found without keeping the raw text."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def repeated_rows(hashes: np.ndarray) -> np.ndarray:
    """True for every row equal to an earlier one (the first of each group is kept).

    Equal hashes are found by sorting, one slice of hash values at a time: a hash table over
    25M rows takes ~30 bytes a row, the sort of a sixteenth of the rows about one.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    repeated = np.zeros(len(hashes), dtype=bool)
    top = np.empty(len(hashes), dtype=np.uint8)
    shift = np.uint64(64 - _SLICE_BITS)
    for start in range(0, len(hashes), 1 << 20):  # in blocks, so the shift makes no full-size temporary
        top[start : start + (1 << 20)] = hashes[start : start + (1 << 20)] >> shift
    for value in range(1 << _SLICE_BITS):
        rows = np.flatnonzero(top == value)
        rows = rows[np.argsort(hashes[rows], kind="stable")]  # stable: within equal hashes, file order
        ordered = hashes[rows]
        repeated[rows[1:][ordered[1:] == ordered[:-1]]] = True
    return repeated


def k_core(users: np.ndarray, items: np.ndarray, min_user_events: int, min_item_events: int) -> np.ndarray:
    """Rows kept once users with fewer than ``min_user_events`` events and items with fewer than
    ``min_item_events`` are dropped again and again, until no count falls below its threshold."""
    keep = np.ones(len(users), dtype=bool)
    if min_user_events <= 1 and min_item_events <= 1:
        return keep
    n_users = int(users.max()) + 1 if len(users) else 0
    n_items = int(items.max()) + 1 if len(items) else 0
    while True:
        user_counts = np.bincount(users[keep], minlength=n_users)
        item_counts = np.bincount(items[keep], minlength=n_items)
        weak = keep & ((user_counts[users] < min_user_events) | (item_counts[items] < min_item_events))
        if not weak.any():
            return keep
        keep &= ~weak
