"""Vectorised cleaning steps of an import: exact duplicate rows and the iterated k-core."""

from __future__ import annotations

import numpy as np
import pandas as pd


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of every raw row, so duplicates are found without keeping the raw text."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def repeated_rows(hashes: np.ndarray) -> np.ndarray:
    """True for every row equal to an earlier one (the first of each group is kept)."""
    return pd.Series(hashes).duplicated().to_numpy()


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
