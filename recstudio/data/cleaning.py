"""Vectorised cleaning steps of an import: exact duplicate rows and the iterated k-core."""

from __future__ import annotations

import numpy as np


_SLICE_BITS = 4  # repeated hash values are looked for in 2**4 slices of the hash values
_BLOCK = 1 << 20


def repeated_rows(hashes: np.ndarray) -> np.ndarray:
    """True for every row equal to an earlier one (the first of each group is kept).

    The hash values that occur more than once are found by sorting, one slice of hash values at a
    time (a sixteenth of the rows: a hash table over 25M rows would take ~30 bytes a row). Only the
    rows holding one of those values, usually few, are then ordered to tell the first from the rest.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    repeated = np.zeros(len(hashes), dtype=bool)
    top = np.empty(len(hashes), dtype=np.uint8)
    shift = np.uint64(64 - _SLICE_BITS)
    for start in range(0, len(hashes), _BLOCK):  # in blocks, so the shift makes no full-size temporary
        top[start : start + _BLOCK] = hashes[start : start + _BLOCK] >> shift
    twice = []
    for value in range(1 << _SLICE_BITS):
        ordered = np.sort(hashes[top == value])
        twice.append(ordered[1:][ordered[1:] == ordered[:-1]])
    del top
    twice = np.unique(np.concatenate(twice))
    if len(twice) == 0:
        return repeated
    # a row can hold a repeated value only if its low bits are those of one (a cheap look-up); the
    # few such rows are then checked exactly
    bits = min(max(int(len(twice)).bit_length() + 6, 16), 26)
    low = np.uint64((1 << bits) - 1)
    maybe = np.zeros(1 << bits, dtype=bool)
    maybe[(twice & low).astype(np.intp)] = True
    rows = []
    for start in range(0, len(hashes), _BLOCK):
        block = hashes[start : start + _BLOCK]
        found = np.flatnonzero(maybe[(block & low).astype(np.intp)])
        at = np.minimum(np.searchsorted(twice, block[found]), len(twice) - 1)
        rows.append(start + found[twice[at] == block[found]])
    rows = np.concatenate(rows)
    rows = rows[np.argsort(hashes[rows], kind="stable")]  # stable: within equal hashes, file order
    same = hashes[rows]
    repeated[rows[1:][same[1:] == same[:-1]]] = True
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
