"""Turning full-catalogue score tensors into target ranks and top-K lists, with seen items masked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def mask_items(scores: "torch.Tensor", rows: np.ndarray, items: np.ndarray) -> "torch.Tensor":
    """A copy of ``scores`` [B, n_items] with ``scores[rows[j], items[j]] = -inf`` for every j.

    Out of place on purpose: a model may hand back a view of its own parameters (an expanded
    popularity vector, say), which must not be overwritten.
    """
    import torch

    if len(rows) == 0:
        return scores
    index = (torch.as_tensor(rows, device=scores.device), torch.as_tensor(items, device=scores.device))
    return scores.index_put(index, torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device))


def target_ranks(scores: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
    """0-based rank of each row's target: items scoring strictly higher, plus every OTHER item
    scoring exactly the same (pessimistic ties).

    Pessimistic ties mean a model cannot gain from failing to tell items apart: one that gives
    every item the same score ranks every target last, so HR@k is 0.
    """
    target = scores.gather(1, targets[:, None])
    return (scores > target).sum(dim=1) + (scores == target).sum(dim=1) - 1


#: Elements compared at once when ranking target sets (bounds memory on big catalogues).
_RANK_BUDGET = 1 << 24


def set_ranks(scores: "torch.Tensor", rows: np.ndarray, items: np.ndarray) -> "torch.Tensor":
    """0-based rank of item ``items[j]`` in row ``rows[j]`` of ``scores``, for target sets (several
    targets per row); ties pessimistic as in :func:`target_ranks`. Other targets of the same row count
    as items above it when they score higher: a rank is a position in the list."""
    import torch

    rows_t = torch.as_tensor(rows, device=scores.device)
    items_t = torch.as_tensor(items, device=scores.device)
    out = torch.empty(len(rows), dtype=torch.long, device=scores.device)
    chunk = max(1, _RANK_BUDGET // max(1, scores.shape[1]))
    for lo in range(0, len(rows), chunk):
        r, i = rows_t[lo:lo + chunk], items_t[lo:lo + chunk]
        row_scores = scores[r]
        target = row_scores.gather(1, i[:, None])
        out[lo:lo + chunk] = (row_scores > target).sum(dim=1) + (row_scores == target).sum(dim=1) - 1
    return out


def top_k(
    scores: "torch.Tensor",
    k: int,
    exclude: "torch.Tensor | Sequence[np.ndarray] | None" = None,
) -> tuple["torch.Tensor", "torch.Tensor"]:
    """The ``k`` best items of each row of ``scores`` [B, n_items], best first.

    ``exclude`` is a bool mask [B, n_items] (True = never recommend) or one array of item indices
    per row (e.g. each user's history). Returns ``(indices, values)``, both [B, k]. When a row has
    fewer than ``k`` rankable items the remaining slots hold index -1 and value -inf: drop them
    (never use -1 to index an array, it would silently pick the last item).
    """
    import torch

    if exclude is not None:
        if isinstance(exclude, torch.Tensor):
            scores = scores.masked_fill(exclude.to(scores.device), float("-inf"))
        else:
            lengths = [len(e) for e in exclude]
            rows = np.repeat(np.arange(len(exclude)), lengths)
            items = np.concatenate([np.asarray(e, dtype=np.int64) for e in exclude]) if rows.size else rows
            scores = mask_items(scores, rows, items)
    width = min(k, scores.shape[1])
    values, indices = torch.topk(scores, width, dim=1)
    indices = indices.masked_fill(values == float("-inf"), -1)
    if width < k:
        pad = k - width
        indices = torch.cat([indices, indices.new_full((len(indices), pad), -1)], dim=1)
        values = torch.cat([values, values.new_full((len(values), pad), float("-inf"))], dim=1)
    return indices, values
