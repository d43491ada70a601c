"""Diversity re-ranking by maximal marginal relevance (MMR), and what it costs in accuracy.

MMR builds a list one item at a time, each time taking the candidate with the best
``(1 - λ) * relevance - λ * (its highest similarity to an item already taken)``. Relevance is the
model's score rescaled to [0, 1] over the candidate pool; similarity is the Jaccard overlap of the
items' category sets or the cosine of their vectors. λ = 0 keeps the model's order; λ = 1 picks
for variety alone (after the first, most relevant item).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from recstudio.errors import RecStudioError

if TYPE_CHECKING:
    from recstudio.data.splits import EvalCases

#: Pool the re-ranker chooses from: the model's best ``max(POOL, 5 * k)`` items.
POOL = 50

Similarity = Callable[[np.ndarray], np.ndarray]  # items [B, P] (-1 = empty) -> similarity [B, P, P]


def check_diversity(diversity: float) -> float:
    value = float(diversity)
    if not 0.0 <= value <= 1.0:
        raise RecStudioError(f"--diversity takes a λ between 0 (model order) and 1 (variety only), got {diversity}.")
    return value


def category_similarity(item_categories: Sequence[frozenset[str]]) -> Similarity | None:
    """Jaccard similarity of category sets (0 when either item has none); None without categories."""
    vocab = {c: i for i, c in enumerate(sorted(set().union(*item_categories)))} if item_categories else {}
    if not vocab:
        return None
    width = max(len(s) for s in item_categories)
    table = np.full((len(item_categories), width), -1, dtype=np.int64)
    for i, cats in enumerate(item_categories):
        table[i, : len(cats)] = sorted(vocab[c] for c in cats)

    def similarity(items: np.ndarray) -> np.ndarray:
        cats = table[np.where(items >= 0, items, 0)]  # [B, P, m]
        cats = np.where((items >= 0)[..., None], cats, -1)
        present = cats >= 0
        sizes = present.sum(-1)
        same = (cats[:, :, None, :, None] == cats[:, None, :, None, :]) & present[:, :, None, :, None]
        inter = same.sum(axis=(-1, -2))
        union = sizes[:, :, None] + sizes[:, None, :] - inter
        return np.where(union > 0, inter / np.maximum(union, 1), 0.0)

    return similarity


def embedding_similarity(vectors: np.ndarray) -> Similarity:
    """Cosine similarity of item vectors [n_items, d] (0 for a zero vector or an empty slot)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.where(norms > 0, vectors / np.where(norms > 0, norms, 1.0), 0.0)

    def similarity(items: np.ndarray) -> np.ndarray:
        v = unit[np.where(items >= 0, items, 0)] * (items >= 0)[..., None]
        return v @ np.swapaxes(v, 1, 2)

    return similarity


def mmr(candidates: np.ndarray, scores: np.ndarray, k: int, diversity: float, similarity: Similarity) -> np.ndarray:
    """Re-ranked lists [B, k] (-1 = empty slot) from candidate pools [B, P] (best first, -1 = none)
    and their scores [B, P]. Rows are processed together; ties go to the earlier candidate."""
    diversity = check_diversity(diversity)
    candidates = np.atleast_2d(np.asarray(candidates, dtype=np.int64))
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    b, p = candidates.shape
    valid = candidates >= 0
    any_valid = valid.any(axis=1, keepdims=True)
    low = np.where(any_valid, np.where(valid, scores, np.inf).min(axis=1, keepdims=True), 0.0)
    high = np.where(any_valid, np.where(valid, scores, -np.inf).max(axis=1, keepdims=True), 0.0)
    span = high - low
    relevance = np.ones((b, p))
    np.divide(scores - low, span, out=relevance, where=valid & (span > 0))
    sim = similarity(candidates)  # [B, P, P]
    taken = ~valid
    closest = np.zeros((b, p))  # highest similarity to anything taken so far
    out = np.full((b, k), -1, dtype=np.int64)
    rows = np.arange(b)
    for step in range(min(k, p)):
        value = (1.0 - diversity) * relevance - diversity * closest
        value = np.where(taken, -np.inf, value)
        pick = np.argmax(value, axis=1)
        ok = ~taken[rows, pick]
        out[rows[ok], step] = candidates[rows[ok], pick[ok]]
        taken[rows, pick] = True
        closest = np.maximum(closest, sim[rows, pick])
    return out


def rerank(items: Sequence[int], scores: Sequence[float], k: int, diversity: float, similarity: Similarity) -> list[int]:
    """One list: the indices into ``items`` (best first) that MMR keeps, for the inspector and CLI."""
    items = np.asarray(items, dtype=np.int64)
    chosen = mmr(items[None], np.asarray(scores, dtype=np.float64)[None], k, diversity, similarity)[0]
    where = {int(it): n for n, it in enumerate(items.tolist())}
    return [where[int(i)] for i in chosen.tolist() if i >= 0]


def diversity_cost(
    model,
    cases: "EvalCases",
    diversity: float,
    similarity: Similarity,
    *,
    k: int = 10,
    pool: int | None = None,
    exclude_seen: bool = True,
    item_categories: Sequence[frozenset[str]] | None = None,
    item_embeddings: np.ndarray | None = None,
    batch_size: int = 256,
    device: str = "cpu",
) -> dict[str, Any]:
    """NDCG@k and intra-list diversity@k of the model's lists before and after MMR re-ranking,
    over the evaluation ``cases`` (full ranking, seen items excluded as the evaluation does).

    Before-lists are the pool's first ``k`` items, so both sides rank ties the same way; NDCG@k of
    the before-lists therefore matches the evaluation's up to tie order.
    """
    from recstudio.evaluation import metrics as m
    from recstudio.evaluation.evaluate import scored_cases
    from recstudio.evaluation.ranking import top_k

    diversity = check_diversity(diversity)
    pool = max(pool or POOL, 5 * k)
    n = len(cases)
    before = np.full((n, k), -1, dtype=np.int64)
    after = np.full((n, k), -1, dtype=np.int64)
    for lo, hi, scores in scored_cases(model, cases, exclude_seen=exclude_seen, batch_size=batch_size, device=device):
        idx, values = top_k(scores, pool)
        idx, values = idx.cpu().numpy(), values.cpu().numpy()
        before[lo:hi] = idx[:, :k]
        after[lo:hi] = mmr(idx, values, k, diversity, similarity)

    def ndcg(lists):
        hit = lists == cases.targets[:, None]
        gains = np.where(hit, 1.0 / np.log2(np.arange(k) + 2.0)[None, :], 0.0).sum(1)
        return float(gains.mean()) if n else 0.0

    div_before = m.intra_list_diversity(before, item_categories, item_embeddings=item_embeddings)
    div_after = m.intra_list_diversity(after, item_categories, item_embeddings=item_embeddings)
    nb, na = ndcg(before), ndcg(after)
    return {"lambda": diversity, "k": k, "pool": pool, "cases": n,
            f"NDCG@{k}": {"before": nb, "after": na, "cost": nb - na,
                          "relative_cost": (nb - na) / nb if nb > 0 else None},
            f"diversity@{k}": {"before": div_before, "after": div_after}}
