"""The order of a log's events when it has a basket column: each basket's events consecutive, in time."""

from __future__ import annotations

import numpy as np
import pandas as pd


def whole_baskets(codes: np.ndarray) -> np.ndarray:
    """Basket codes (int32) with every missing value (-1) made a basket of its own: an event whose
    basket cell is empty belongs with no other event."""
    codes = np.asarray(codes)
    missing = codes < 0
    top = int(codes.max()) + 1 if len(codes) else 0
    wide = codes.astype(np.int64, copy=True)
    wide[missing] = top + np.arange(int(missing.sum()), dtype=np.int64)
    if len(wide) and wide.max() >= np.iinfo(np.int32).max:
        raise OverflowError("more than 2**31 baskets")  # a log of that size does not reach here
    return wide.astype(np.int32)


def basket_order(users: np.ndarray, seconds: np.ndarray, baskets: np.ndarray) -> np.ndarray:
    """The stable order by user, then the time of the basket's first event, then basket (in order of
    first appearance in the file), then time; ties keep file order.

    A basket is a user's events with one basket code (``baskets`` >= 0, see :func:`whole_baskets`).
    Sorting by time alone would interleave two baskets whose times overlap (sessions) and split a basket
    whose lines carry a few seconds between them; keyed by the basket's first time, a basket's events
    are one run of rows (what :func:`recstudio.data.baskets.basket_starts` reads), and the baskets of a
    user come in the order they started.
    """
    n = len(users)
    index_type = np.int32 if n < np.iinfo(np.int32).max else np.int64
    if n == 0:
        return np.zeros(0, dtype=index_type)
    key = (users.astype(np.int64) << 32) | baskets.astype(np.int64)
    groups, _ = pd.factorize(key)  # one code per (user, basket), in order of first appearance
    del key
    first = pd.Series(seconds.astype(np.int64, copy=False)).groupby(groups, sort=False).transform("min").to_numpy()
    return np.lexsort((seconds, groups, first, users)).astype(index_type)
