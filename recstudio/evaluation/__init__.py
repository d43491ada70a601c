"""Honest full-ranking evaluation: accuracy and beyond-accuracy metrics, overall and per user segment."""

from recstudio.evaluation.evaluate import (
    COLD_ITEMS,
    SPARSE_USERS,
    WARM_ITEMS,
    EvaluationCancelled,
    EvaluationResult,
    accuracy_metrics,
    case_metrics,
    activity_segments,
    cold_metrics,
    evaluate,
    rank_cases,
    split_segments,
)
from recstudio.evaluation.metrics import (
    arp_ratio,
    average_popularity,
    coverage,
    hit_rate,
    intra_list_diversity,
    mrr,
    ndcg,
    novelty,
)
from recstudio.evaluation.ranking import mask_items, target_ranks, top_k

__all__ = [
    "COLD_ITEMS",
    "SPARSE_USERS",
    "WARM_ITEMS",
    "EvaluationCancelled",
    "EvaluationResult",
    "accuracy_metrics",
    "case_metrics",
    "activity_segments",
    "arp_ratio",
    "average_popularity",
    "cold_metrics",
    "coverage",
    "evaluate",
    "hit_rate",
    "intra_list_diversity",
    "mask_items",
    "mrr",
    "ndcg",
    "novelty",
    "rank_cases",
    "split_segments",
    "target_ranks",
    "top_k",
]
