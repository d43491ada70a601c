"""Is an attribution true to the model? Deletion curves against random and attention-weight orders.

A deletion curve removes a history's events one by one in a given order (most positive attribution
first, a random order, or the highest last-layer attention first) and tracks the candidate's
score. A faithful attribution makes the score fall fastest, so its curve has the smallest area.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recstudio.explain.attribution import ABSENT, Attribution, CoalitionScorer

#: Random orders drawn per explanation (their curves and top-3 drops are averaged).
RANDOM_ORDERS = 10
TOP = 3


def deletion_scores(model, players: np.ndarray, item: int, orders: np.ndarray,
                    scorer: CoalitionScorer | None = None, groups: np.ndarray | None = None) -> np.ndarray:
    """Scores [n_orders, m + 1]: column k is the candidate's score after removing the first k
    players of each order (a permutation of 0..m-1) from the events ``players``; all in one batched
    call. A player is one event, or with ``groups`` (the player of each event) a basket of them."""
    players = np.asarray(players, dtype=np.int64)
    orders = np.atleast_2d(np.asarray(orders, dtype=np.int64))
    n = len(players)
    group = np.arange(n) if groups is None else np.asarray(groups, dtype=np.int64)
    m = orders.shape[1]
    gone = np.zeros((orders.shape[0], m + 1, m), dtype=bool)  # [o, m+1, m]: players removed after k steps
    for k in range(1, m + 1):
        gone[:, k] = gone[:, k - 1]
        gone[np.arange(orders.shape[0]), k, orders[:, k - 1]] = True
    rows = np.where(gone[:, :, group], ABSENT, players[None, None, :])  # [o, m+1, n]
    scorer = scorer or CoalitionScorer(model, item)
    return scorer(rows.reshape(-1, n)).reshape(orders.shape[0], m + 1)


def deletion_auc(curve: np.ndarray, full: float, scale: float) -> float:
    """Area under a deletion curve: the score change ``(score_k - full) / scale`` over the removed
    fraction k / n in [0, 1]. ``scale`` is the largest change any order reaches for the same
    explanation, so every explanation weighs the same and the area lies in [-1, 1]; it starts at 0
    and lower means the order removed what mattered sooner. NaN when nothing changes the score."""
    curve = np.asarray(curve, dtype=np.float64)
    if len(curve) < 2 or not scale > 0:
        return float("nan")
    y = (curve - full) / scale
    x = np.linspace(0.0, 1.0, len(curve))
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def last_position_attention(model, players: np.ndarray) -> np.ndarray | None:
    """Last-layer attention of the most recent position over the history's events (mean over
    heads), aligned with ``players``; None for models without causal self-attention.

    The model reads it itself (``Recommender.history_attention``; SASRec-family models).
    """
    import torch

    from recstudio.data import pad_sequences

    players = np.asarray(players, dtype=np.int64)
    if len(players) == 0:
        return None
    width = max(1, min(int(model.history_length), len(players)))
    attention = model.history_attention(torch.from_numpy(pad_sequences([players], width)))
    if attention is None:
        return None
    weights = attention[0].double().numpy()
    read = min(width, len(players))
    out = np.zeros(len(players))
    out[len(players) - read:] = weights[width - read:]
    return out


@dataclass
class Faithfulness:
    """Deletion curves of one explanation: ``curves[order]`` holds scores after removing 0..n events."""

    score: float
    base_value: float
    curves: dict[str, np.ndarray]
    auc: dict[str, float]
    top_drop: float  # score fall after removing the top-3 attributed events
    random_drop: float  # mean score fall after removing 3 random events
    beats_random: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["curves"] = {k: v.tolist() for k, v in self.curves.items()}
        return out


def faithfulness(model, attribution: Attribution, *, seed: int = 0, random_orders: int = RANDOM_ORDERS,
                 top: int = TOP, scorer: CoalitionScorer | None = None) -> Faithfulness:
    """Deletion curves for one attribution: attribution order, ``random_orders`` random orders
    (averaged) and, for attention models, last-layer attention order; and whether removing the
    ``top`` most positive events lowers the score more than removing ``top`` random ones (their
    mean fall over the random orders). An attribution over baskets removes whole baskets (and has no
    attention order: attention weighs events, not baskets)."""
    players = np.asarray(attribution.history_items, dtype=np.int64)
    n = len(attribution.values)  # players: events, or baskets of them
    groups = None
    if attribution.members is not None:
        groups = np.zeros(len(players), dtype=np.int64)
        for g, lines in enumerate(attribution.members):
            groups[list(lines)] = g
    rng = np.random.default_rng(seed)
    orders = {"attribution": attribution.order()[None, :],
              "random": np.stack([rng.permutation(n) for _ in range(max(1, random_orders))])}
    attention = last_position_attention(model, players) if groups is None else None
    if attention is not None:
        orders["attention"] = np.argsort(-attention, kind="stable")[None, :]
    names = list(orders)
    stacked = np.concatenate([orders[k] for k in names])
    scores = deletion_scores(model, players, attribution.item_index, stacked,
                             scorer or CoalitionScorer(model, attribution.item_index), groups)
    full, empty = float(scores[0, 0]), float(scores[0, -1])
    scale = float(np.max(np.abs(scores - full)))
    curves, at = {}, 0
    for name in names:
        block = scores[at: at + len(orders[name])]
        at += len(orders[name])
        # the random curve is the mean of the random orders' curves (its area is their mean area)
        curves[name] = block.mean(axis=0)
    auc = {name: deletion_auc(curve, full, scale) for name, curve in curves.items()}
    k = min(top, n)
    top_drop = full - float(curves["attribution"][k])
    random_drop = full - float(curves["random"][k])
    return Faithfulness(full, empty, curves, auc, top_drop, random_drop, bool(top_drop > random_drop))


@dataclass
class FaithfulnessReport:
    """Over many explanations: the share where the top-3 beat random removal, mean deletion AUCs."""

    users: int
    top3_beats_random: float
    deletion_auc: dict[str, float | None]
    max_additivity_error: float = 0.0
    skipped: int = 0  # explanations whose history did not move the score (no curve to normalise)
    seconds_per_explanation: float = 0.0  # median
    details: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self, details: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not details:
            out.pop("details")
        return out


def summarise(results: list[tuple[Attribution, Faithfulness]], skipped: int = 0) -> FaithfulnessReport:
    """Mean AUC per order (over explanations where it is defined) and the top-3 share."""
    aucs: dict[str, list[float]] = {"attribution": [], "random": [], "attention": []}
    for _, faith in results:
        for name, value in faith.auc.items():
            if np.isfinite(value):
                aucs[name].append(value)
    return FaithfulnessReport(
        users=len(results),
        top3_beats_random=float(np.mean([f.beats_random for _, f in results])) if results else 0.0,
        deletion_auc={k: (float(np.mean(v)) if v else None) for k, v in aucs.items()},
        max_additivity_error=max((a.additivity_error for a, _ in results), default=0.0),
        skipped=skipped,
        seconds_per_explanation=float(np.median([a.seconds for a, _ in results])) if results else 0.0,
        details=[{"user": a.user, "item": a.item, "events": len(a), "auc": f.auc, "top_drop": f.top_drop,
                  "random_drop": f.random_drop} for a, f in results],
    )
