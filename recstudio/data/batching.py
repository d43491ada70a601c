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


def basket_readout(baskets: np.ndarray) -> np.ndarray:
    """Where each target of a window is predicted from, when events come in baskets.

    ``baskets`` [B, W] holds a window's basket ids (0 = padding), cell by cell, as the window's items
    are laid out (see ``recstudio.training.fit.basket_windows``). The target in cell ``c`` (column
    ``c - 1`` of the ``[B, W - 1]`` answer, as ``targets = window[:, 1:]``) is read from the state at
    the last event of the basket before its own: no event is a target for another event of its basket,
    every item of a basket is predicted from the baskets before it. -1 where that event is not in the
    window (the first basket in view, or padding): that cell is no target in this window.
    """
    b, w = baskets.shape
    starts = np.ones((b, w), dtype=bool)
    starts[:, 1:] = baskets[:, 1:] != baskets[:, :-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(w)[None, :], 0), axis=1)
    readout = first[:, 1:] - 1
    ok = readout >= 0
    rows, cols = np.nonzero(ok)
    ok[rows, cols] = baskets[rows, readout[rows, cols]] != 0
    return np.where(ok, readout, -1)
