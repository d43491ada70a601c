"""Ranking and beyond-accuracy metrics as pure numpy functions over ranks and top-K lists.

Accuracy metrics take ``ranks``: the 0-based position of each case's single target among all
rankable items (0 = top). Beyond-accuracy metrics take ``topk``: an int array [n_lists, K] of item
indices, best first, where an entry < 0 is an empty slot (the user had fewer than K rankable items).
Every metric is a mean over cases or lists; with nothing to average it is 0.0 (or None where the
metric is undefined, see :func:`intra_list_diversity`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Elements compared at once by the pairwise diversity kernels, to bound memory on big evaluations.
_PAIR_BUDGET = 1 << 24


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0


def mean(values: np.ndarray) -> float:
    """The mean of per-case values; 0.0 with no cases."""
    return _mean(np.asarray(values, dtype=np.float64))


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """HR@k = mean over cases of [rank < k]."""
    ranks = np.asarray(ranks)
    return _mean((ranks < k).astype(np.float64))


def ndcg(ranks: np.ndarray, k: int) -> float:
    """NDCG@k with one relevant item: mean of 1 / log2(rank + 2) if rank < k else 0 (ideal DCG is 1)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return _mean(np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0))


def mrr(ranks: np.ndarray, k: int) -> float:
    """MRR@k: mean of 1 / (rank + 1) if rank < k else 0."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return _mean(np.where(ranks < k, 1.0 / (ranks + 1.0), 0.0))


def coverage(topk: np.ndarray, n_items: int) -> float:
    """Catalogue coverage: share of the ``n_items`` items that appear in at least one list."""
    topk = np.asarray(topk)
    if n_items <= 0:
        return 0.0
    return np.unique(topk[topk >= 0]).size / n_items


def _per_list_mean(values: np.ndarray, valid: np.ndarray) -> float:
    """Mean over lists of the mean over each list's filled slots; lists with none are skipped."""
    counts = valid.sum(axis=1)
    sums = np.where(valid, values, 0.0).sum(axis=1)
    has = counts > 0
    return _mean(sums[has] / counts[has])


def novelty(topk: np.ndarray, popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information of recommended items, -log2 p_i, averaged per list then over lists.

    p_i = min(1, (count_i + 1) / (n_users + 1)), the smoothed share of users who interacted with
    item i, where count_i is the item's training interaction count. The +1 keeps never-seen items
    finite; the cap at 1 is needed because repeat interactions can make count_i exceed n_users.
    """
    topk = np.asarray(topk)
    counts = np.asarray(popularity, dtype=np.float64)
    p = np.minimum(1.0, (counts + 1.0) / (n_users + 1.0))
    valid = topk >= 0
    return _per_list_mean(-np.log2(p[np.where(valid, topk, 0)]), valid)


def average_popularity(topk: np.ndarray, popularity: np.ndarray) -> float:
    """ARP, the exposure bias: mean training interaction count of recommended items, per list then over lists."""
    topk = np.asarray(topk)
    counts = np.asarray(popularity, dtype=np.float64)
    valid = topk >= 0
    return _per_list_mean(counts[np.where(valid, topk, 0)], valid)


def arp_ratio(topk: np.ndarray, popularity: np.ndarray) -> float:
    """ARP divided by the mean popularity of the whole catalogue: 1 recommends like a uniform
    draw from the catalogue, above 1 leans to popular items."""
    mean_pop = float(np.mean(popularity)) if len(popularity) else 0.0
    return average_popularity(topk, popularity) / mean_pop if mean_pop > 0 else 0.0


def intra_list_diversity(
    topk: np.ndarray,
    item_categories: Sequence[frozenset[str]] | None = None,
    *,
    item_embeddings: np.ndarray | None = None,
) -> float | None:
    """Mean over lists of the mean pairwise distance between a list's items.

    With categories, the distance is the Jaccard distance 1 - |A ∩ B| / |A ∪ B| between the items'
    category sets; pairs involving an item with no category are skipped. When the catalogue has no
    categories at all and ``item_embeddings`` [n_items, d] is given, the distance is 1 - cosine
    similarity (pairs involving a zero vector skipped). Lists with no usable pair are skipped.
    Returns None when there is nothing to measure: no categories and no embeddings, or no usable pair.
    """
    topk = np.asarray(topk, dtype=np.int64)
    if topk.ndim != 2 or topk.shape[1] < 2 or topk.shape[0] == 0:
        return None
    table = _category_table(item_categories) if item_categories is not None else None
    if table is not None:
        pair_distance, usable = _jaccard_kernel(table), (table >= 0).any(axis=1)
        per_row = topk.shape[1] ** 2 * table.shape[1] ** 2
    elif item_embeddings is not None:
        emb = np.asarray(item_embeddings, dtype=np.float64)
        norms = np.linalg.norm(emb, axis=1)
        usable = norms > 0
        pair_distance = _cosine_kernel(emb / np.where(usable, norms, 1.0)[:, None])
        per_row = topk.shape[1] ** 2 * max(emb.shape[1], 1)
    else:
        return None

    chunk = max(1, _PAIR_BUDGET // per_row)
    upper = np.triu(np.ones((topk.shape[1],) * 2, dtype=bool), k=1)
    sums, counts = [], []
    for lo in range(0, len(topk), chunk):
        lists = topk[lo : lo + chunk]
        ok = lists >= 0
        safe = np.where(ok, lists, 0)
        ok &= usable[safe]
        pairs = ok[:, :, None] & ok[:, None, :] & upper
        dist = pair_distance(safe)
        sums.append(np.where(pairs, dist, 0.0).sum(axis=(1, 2)))
        counts.append(pairs.sum(axis=(1, 2)))
    sums, counts = np.concatenate(sums), np.concatenate(counts)
    has = counts > 0
    return float(np.mean(sums[has] / counts[has])) if has.any() else None


def _category_table(item_categories: Sequence[frozenset[str]]) -> np.ndarray | None:
    """[n_items, max set size] category ids, -1 padded; None when no item has a category."""
    vocab = {c: i for i, c in enumerate(sorted(set().union(*item_categories)))}
    if not vocab:
        return None
    table = np.full((len(item_categories), max(len(s) for s in item_categories)), -1, dtype=np.int64)
    for i, cats in enumerate(item_categories):
        table[i, : len(cats)] = [vocab[c] for c in cats]
    return table


def _jaccard_kernel(table: np.ndarray):
    def distance(lists: np.ndarray) -> np.ndarray:
        cats = table[lists]  # [c, K, m]
        present = cats >= 0
        sizes = present.sum(axis=-1)
        # sets hold no duplicates, so counting equal (present) ids counts the intersection
        same = (cats[:, :, None, :, None] == cats[:, None, :, None, :]) & present[:, :, None, :, None]
        inter = same.sum(axis=(-1, -2))
        union = sizes[:, :, None] + sizes[:, None, :] - inter
        return 1.0 - inter / np.maximum(union, 1)

    return distance


def _cosine_kernel(unit: np.ndarray):
    def distance(lists: np.ndarray) -> np.ndarray:
        vectors = unit[lists]  # [c, K, d]
        return 1.0 - vectors @ vectors.transpose(0, 2, 1)

    return distance
