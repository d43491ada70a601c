"""Full-ranking evaluation of a recommender over evaluation cases, overall and per user segment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from recstudio.data.batching import pad_histories
from recstudio.data.splits import EvalCases
from recstudio.evaluation import metrics as m
from recstudio.evaluation.ranking import mask_items, set_ranks, target_ranks, top_k

if TYPE_CHECKING:
    from recstudio.models.base import Recommender


class EvaluationCancelled(Exception):
    """The caller's ``cancelled()`` said stop; raised between batches."""


@dataclass
class EvaluationResult:
    """Metric values as plain floats, e.g. ``metrics["NDCG@10"]``; ``segments[name]`` holds the
    accuracy metrics of that user segment plus ``"users"``, its number of cases."""

    metrics: dict[str, float]
    segments: dict[str, dict[str, float]] = field(default_factory=dict)
    n_cases: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def activity_segments(cases: EvalCases, bounds: tuple[int, int] = (5, 20)) -> dict[str, np.ndarray]:
    """Cases split by history length (events before the target) into short / medium / long.

    Fixed bounds rather than quantiles, so a segment means the same thing across datasets and runs.
    """
    lengths = np.diff(cases.history_indptr)
    low, high = bounds
    return {
        f"short (≤{low})": lengths <= low,
        f"medium ({low + 1}–{high})": (lengths > low) & (lengths <= high),
        f"long (>{high})": lengths > high,
    }


SPARSE_MAX_EVENTS = 5
SPARSE_USERS = f"sparse users (≤{SPARSE_MAX_EVENTS} training events)"
COLD_ITEMS = "cold items"
WARM_ITEMS = "warm items"


def split_segments(split, sparse_max: int = SPARSE_MAX_EVENTS) -> dict[str, np.ndarray]:
    """The test cases' segments: activity (:func:`activity_segments`), sparse users (at most
    ``sparse_max`` training events), and, for a split with cold items, cases whose target is a
    cold item (never seen in training) or a warm one."""
    cases = split.test
    segments = activity_segments(cases)
    train_len = np.diff(split.train_indptr)
    segments[f"sparse users (≤{sparse_max} training events)"] = train_len[cases.users] <= sparse_max
    cold = getattr(split, "cold_items", None)
    if cold is not None:
        is_cold = np.isin(cases.targets, cold)
        segments[COLD_ITEMS] = is_cold
        segments[WARM_ITEMS] = ~is_cold
    return segments


def cold_metrics(result: "EvaluationResult") -> dict[str, float] | None:
    """The accuracy metrics of the cold-item cases plus ``cases``, or None without cold items."""
    segment = result.segments.get(COLD_ITEMS)
    if segment is None:
        return None
    return {"cases": segment["users"], **{k: v for k, v in segment.items() if k != "users"}}


def accuracy_metrics(ranks: np.ndarray, ks: Sequence[int], target_indptr: np.ndarray | None = None
                     ) -> dict[str, float]:
    """HR, NDCG and MRR at each cut-off from the targets' ranks; with ``target_indptr`` (a basket of
    targets per case, ``ranks`` one per target) Recall too (see :func:`case_metrics`)."""
    return {name: m.mean(values) for name, values in case_metrics(ranks, ks, target_indptr).items()}


def case_metrics(ranks: np.ndarray, ks: Sequence[int], target_indptr: np.ndarray | None = None
                 ) -> dict[str, np.ndarray]:
    """Each case's metric values (arrays [n_cases]), to average overall or per segment.

    One target per case: HR@k, NDCG@k = 1/log2(rank+2), MRR@k. A target set per case (a basket):
    HR@k = any target in the top k; Recall@k = the share of the set found there; NDCG@k with every
    target relevant, over the ideal DCG of min(k, set size); MRR@k of the first target found. With sets
    of one item these are the single-target values."""
    ranks = np.asarray(ranks, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    if target_indptr is None:
        for k in ks:
            out[f"HR@{k}"] = (ranks < k).astype(np.float64)
            out[f"NDCG@{k}"] = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
            out[f"MRR@{k}"] = np.where(ranks < k, 1.0 / (ranks + 1.0), 0.0)
        return out
    sizes = np.diff(target_indptr)
    n = len(sizes)
    case_of = np.repeat(np.arange(n), sizes)
    best = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(best, case_of, ranks)
    for k in ks:
        found = ranks < k
        hits = np.bincount(case_of[found], minlength=n).astype(np.float64)
        dcg = np.bincount(case_of[found], weights=1.0 / np.log2(ranks[found] + 2.0), minlength=n)
        ideal_discounts = np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))
        ideal = ideal_discounts[np.minimum(sizes, k) - 1]
        out[f"HR@{k}"] = (best < k).astype(np.float64)
        out[f"Recall@{k}"] = hits / np.maximum(sizes, 1)
        out[f"NDCG@{k}"] = dcg / ideal
        out[f"MRR@{k}"] = np.where(best < k, 1.0 / (best + 1.0), 0.0)
    return out


def seen_targets(cases: EvalCases) -> np.ndarray:
    """A bool per target (aligned with :func:`rank_cases`' ranks): did the user have it before, in the
    case's history? Under ``exclude_seen`` these are misses by construction."""
    rows, items = cases.target_pairs(0, len(cases))
    indptr = cases.history_indptr
    hist_rows = np.repeat(np.arange(len(cases), dtype=np.int64), np.diff(indptr))
    width = int(max(items.max(initial=0), cases.history_items.max(initial=0))) + 1
    return np.isin(rows * width + items, hist_rows * width + cases.history_items[: indptr[-1]])


def rank_cases(
    model: "Recommender",
    cases: EvalCases,
    k: int,
    *,
    exclude_seen: bool = True,
    batch_size: int = 512,
    device: str = "cpu",
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each case's target rank (int64 [n], 0 = top) and top-``k`` list (int64 [n, k], -1 = empty
    slot), ranking the full catalogue in batches of ``batch_size`` cases. Cases with target sets (a
    basket each) give one rank per target instead, aligned with ``cases.target_items``.

    - ``exclude_seen``: every item in the case's full history (not only the window the model
      reads) is removed from ranking, the target too when the user had it before: a list that never
      shows what the user has cannot recommend a re-purchase, so such a target is a miss (last, like
      a peer's ``filter_viewed``). Left rankable while the other seen items were removed, it would be
      told apart from them for free (on the sample's last baskets, 31% of the lines were bought
      before and made ~80% of the hits). ``exclude_seen=False`` ranks everything and asks them all.
    - Ties are pessimistic (see :func:`target_ranks`); NaN scores raise RuntimeError.
    - ``cancelled()`` is asked before each batch and raises :class:`EvaluationCancelled`;
      ``progress(fraction_done)`` is called after each.
    The model is moved to ``device`` and put in eval mode; its training mode is restored after.
    """
    import torch

    n = len(cases)
    ranks = np.zeros(n if cases.target_indptr is None else len(cases.target_items), dtype=np.int64)
    lists = np.full((n, k), -1, dtype=np.int64)
    for lo, hi, scores in scored_cases(model, cases, exclude_seen=exclude_seen, batch_size=batch_size,
                                       device=device, cancelled=cancelled):
        if torch.isnan(scores).any():
            raise RuntimeError(f"Model {model.name or type(model).__name__!r} produced NaN scores.")
        if cases.target_indptr is None:
            targets = torch.as_tensor(cases.targets[lo:hi], device=scores.device)
            ranks[lo:hi] = target_ranks(scores, targets).cpu().numpy()
        else:
            rows, items = cases.target_pairs(lo, hi)
            ptr = cases.target_indptr
            ranks[ptr[lo]:ptr[hi]] = set_ranks(scores, rows, items).cpu().numpy()
        lists[lo:hi] = top_k(scores, k)[0].cpu().numpy()
        if progress is not None:
            progress(hi / n)
    return ranks, lists


def scored_cases(model: "Recommender", cases: EvalCases, *, exclude_seen: bool = True, batch_size: int = 512,
                 device: str = "cpu", cancelled: Callable[[], bool] | None = None):
    """``(lo, hi, scores [hi - lo, n_items])`` for the cases in batches, full catalogue, under no_grad;
    with ``exclude_seen`` every item of a case's full history is masked, a re-purchased target
    included (see :func:`rank_cases`). The model is in eval mode on ``device`` meanwhile, its
    training mode restored after; ``cancelled()`` before each batch raises :class:`EvaluationCancelled`."""
    import torch

    n = len(cases)
    indptr = cases.history_indptr
    was_training = model.training
    model.to(device).eval()
    try:
        with torch.no_grad():
            for lo in range(0, n, batch_size):
                if cancelled is not None and cancelled():
                    raise EvaluationCancelled("Evaluation was cancelled.")
                hi = min(lo + batch_size, n)
                hist = pad_histories(indptr, cases.history_items, np.arange(lo, hi), model.history_length)
                scores = model.score(torch.as_tensor(hist, device=device)).float()
                if exclude_seen:
                    seen_rows = np.repeat(np.arange(hi - lo), np.diff(indptr[lo : hi + 1]))
                    seen = cases.history_items[indptr[lo] : indptr[hi]]
                    scores = mask_items(scores, seen_rows, seen)
                yield lo, hi, scores
    finally:
        model.train(was_training)


def evaluate(
    model: "Recommender",
    cases: EvalCases,
    *,
    popularity: np.ndarray,
    n_users: int,
    ks: Sequence[int] = (5, 10, 20),
    exclude_seen: bool = True,
    batch_size: int = 512,
    device: str = "cpu",
    item_categories: Sequence[frozenset[str]] | None = None,
    item_embeddings: np.ndarray | None = None,
    segments: dict[str, np.ndarray] | None = None,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> EvaluationResult:
    """Rank each case's target among ALL items (no sampled negatives, see :func:`rank_cases`)
    and report accuracy and beyond-accuracy metrics for each cut-off in ``ks``.

    - ``popularity``: training interaction count per item, for novelty and ARP.
    - ``segments``: name -> bool mask over cases; None uses :func:`activity_segments`, {} none.
    - ``diversity@k`` is present only when categories (or, lacking any, embeddings) are given.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive cut-offs, got {ks}")
    ranks, lists = rank_cases(
        model, cases, ks[-1], exclude_seen=exclude_seen, batch_size=batch_size, device=device,
        progress=progress, cancelled=cancelled,
    )

    per_case = case_metrics(ranks, ks, cases.target_indptr)
    metrics = {name: m.mean(values) for name, values in per_case.items()}
    # the share of targets the user had before: the list leaves them out (a miss) unless exclude_seen is off
    metrics["seen_targets"] = m.mean(seen_targets(cases).astype(np.float64))
    for k in ks:
        topk = lists[:, :k]
        metrics[f"coverage@{k}"] = m.coverage(topk, model.n_items)
        diversity = m.intra_list_diversity(topk, item_categories, item_embeddings=item_embeddings)
        if diversity is not None:
            metrics[f"diversity@{k}"] = diversity
        metrics[f"novelty@{k}"] = m.novelty(topk, popularity, n_users)
        metrics[f"ARP@{k}"] = m.average_popularity(topk, popularity)
        metrics[f"ARP_ratio@{k}"] = m.arp_ratio(topk, popularity)

    if segments is None:
        segments = activity_segments(cases)
    by_segment = {}
    for name, mask in segments.items():
        mask = np.asarray(mask, dtype=bool)
        by_segment[name] = {"users": int(mask.sum()), **{key: m.mean(values[mask]) for key, values in per_case.items()}}
    return EvaluationResult({key: float(v) for key, v in metrics.items()}, by_segment, len(cases))
