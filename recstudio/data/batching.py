"""Turning variable-length histories into padded arrays for the models.

Histories reach the models as item index + 1, so that 0 can mean "no event" (padding).
"""

from __future__ import annotations

import numpy as np


def pad_histories(indptr: np.ndarray, items: np.ndarray, rows: np.ndarray, max_len: int) -> np.ndarray:
    """Right-aligned [len(rows), max_len] int64 array of the last ``max_len`` items (+1) of each row.

    The most recent event sits in the last column; shorter histories are padded with 0 on the left.
    """
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((len(rows), max_len), dtype=np.int64)
    if len(rows) == 0 or max_len == 0:
        return out
    ends = indptr[rows + 1]
    lengths = np.minimum(ends - indptr[rows], max_len)
    # column j of row r holds items[ends[r] - max_len + j] when that is inside the row
    cols = np.arange(max_len)
    src = ends[:, None] - max_len + cols[None, :]
    valid = cols[None, :] >= (max_len - lengths)[:, None]
    out[valid] = items[src[valid]] + 1
    return out


def pad_sequences(sequences: list[np.ndarray] | list[list[int]], max_len: int) -> np.ndarray:
    """The same as :func:`pad_histories` for a plain list of item-index sequences."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences]) if len(sequences) else np.zeros(0, np.int64)
    return pad_histories(indptr, flat, np.arange(len(sequences)), max_len)
