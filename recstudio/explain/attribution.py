"""Shapley attributions of a user's history events for a model's score of one candidate item.

A player is one history event, or one basket (every line of it removed or kept together, see
``baskets`` of :func:`attribute`). An absent event is removed from the sequence (the others keep
their order and move up to the most recent slots), never zeroed in place, so every coalition is a
history the model could really have been given. The game is played by ``shap``: its exact
explainer for short histories, its antithetic permutation explainer beyond, both fed a batched
model call that turns thousands of coalitions into a few ``score_items`` calls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recstudio.errors import RecStudioError

#: Histories up to this many events are explained exactly (2**n coalitions); longer ones by sampling.
EXACT_UP_TO = 10
#: Default budget of model evaluations for the permutation explainer. Each antithetic permutation of
#: n events costs 2n + 1 evaluations, so a 50-event history gets 9 permutations (909 evaluations,
#: about 0.3 s for SASRec on one CPU thread). On ml-100k, removing the top-3 events beat removing 3
#: random ones for 93% / 95% / 97% of 100 users at budgets 500 / 1000 / 2000 (benchmarks/explain.py).
DEFAULT_MAX_EVALS = 1000
#: Rows scored per ``score_items`` call, before the catalogue size shrinks it (bounds memory).
MAX_ROWS_PER_CALL = 2048
CANCELLABLE_ROWS_PER_CALL = 128
ABSENT = -1  # marks a removed event inside a coalition row
#: What a player of the game is (``attribute(..., baskets=...)``): one event, or one whole basket.
EVENTS, BASKETS = "events", "baskets"
ATTRIBUTION_UNITS = (EVENTS, BASKETS)


@dataclass
class Attribution:
    """How much each history event moved the model's score of one candidate item.

    Shaped like ``shap.Explanation``: ``values`` (one per event, oldest first), ``base_value`` (the
    candidate's score with an empty history), ``data`` (the events' item ids) and ``feature_names``
    (their titles). ``values.sum() + base_value == score`` up to float rounding: exactly so for the
    exact method, and by construction for the antithetic permutation estimate (each permutation's
    marginal contributions telescope to ``score - base_value``).

    The players are the events the model reads (its ``history_length`` most recent ones);
    ``older_events`` counts earlier events, which never reach the score and so are left out of
    every coalition. ``positions`` are the events' 1-based positions in the full history.

    Over baskets (``over == "baskets"``) a player is a basket: ``values``, ``item_ids`` (its items'
    ids joined by ", "), ``titles`` (a short label of its lines), ``timestamps`` and ``positions`` (of
    its first line) are one per basket, ``members`` gives each basket's events as indices into
    ``history_items`` (always the events the model reads), and the values still add up to the score.
    """

    item: str
    item_title: str
    score: float
    base_value: float
    values: np.ndarray
    item_ids: list[str]
    titles: list[str]
    timestamps: list[str | None]
    positions: list[int]
    user: str | None = None
    method: str = "exact"  # "exact", "permutation" or "none" (empty history)
    evaluations: int = 0  # coalitions the model scored
    older_events: int = 0
    seconds: float = 0.0
    history_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    item_index: int = -1
    over: str = EVENTS  # what a player is: "events" or "baskets"
    members: list[tuple[int, ...]] | None = None  # over baskets: each player's events (indices into history_items)

    # shap.Explanation's names ------------------------------------------------------------
    @property
    def data(self) -> list[str]:
        return self.item_ids

    @property
    def feature_names(self) -> list[str]:
        return self.titles

    @property
    def base_values(self) -> float:
        return self.base_value

    # reading it ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.values)

    @property
    def additivity_error(self) -> float:
        """|sum of values + base value - score|."""
        return abs(float(np.sum(self.values, dtype=np.float64)) + self.base_value - self.score)

    def player_events(self, i: int) -> tuple[int, ...]:
        """The events of player ``i`` as indices into ``history_items`` (one event, or a basket's lines)."""
        return (int(i),) if self.members is None else tuple(self.members[i])

    def player_items(self, i: int) -> np.ndarray:
        """The item indices of player ``i``'s events."""
        return np.asarray(self.history_items, dtype=np.int64)[list(self.player_events(i))]

    def order(self) -> np.ndarray:
        """Event indices from the most positive attribution to the most negative (stable on ties)."""
        return np.argsort(-np.asarray(self.values, dtype=np.float64), kind="stable")

    def events(self) -> list[dict[str, Any]]:
        """One dict per player (event or basket), oldest first: ``item_id``, ``title``, ``timestamp``,
        ``position`` (of its first event), ``value``, and ``lines`` (the number of events it holds)."""
        return [{"item_id": i, "title": t, "timestamp": ts, "position": p, "value": float(v),
                 "lines": len(self.player_events(n))}
                for n, (i, t, ts, p, v) in enumerate(zip(self.item_ids, self.titles, self.timestamps, self.positions,
                                                         self.values))]

    def top(self, n: int | None = None) -> list[dict[str, Any]]:
        """The events by attribution, most positive first (all of them when ``n`` is None)."""
        rows = self.events()
        ranked = [rows[i] for i in self.order()]
        return ranked if n is None else ranked[:n]

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "item": self.item, "item_title": self.item_title, "score": self.score,
                "base_value": self.base_value,
                "attributions": [{k: e[k] for k in ("item_id", "title", "timestamp", "value")} for e in self.events()],
                "method": self.method, "evaluations": self.evaluations, "older_events": self.older_events,
                "over": self.over, "seconds": round(self.seconds, 4)}

    def to_shap(self):
        """The same numbers as a ``shap.Explanation`` (for shap's own plots)."""
        import shap

        return shap.Explanation(values=np.asarray(self.values, dtype=np.float64), base_values=self.base_value,
                                data=np.asarray(self.item_ids, dtype=object), feature_names=list(self.titles))


class AttributionCancelled(Exception):
    """The caller's ``cancelled()`` turned true while coalitions were being scored (a stale request)."""


class CoalitionScorer:
    """The model as a function of coalitions: rows of item indices with ``ABSENT`` for removed events.

    Each row is compacted (absent events removed, order kept), right-aligned with
    :func:`recstudio.data.pad_sequences`, and scored for the candidate in as few ``score_items``
    calls as memory allows. ``rows_scored`` counts the evaluations. Scoring uses ``threads`` intra-op
    threads (None: the caller's setting): one by default, because explanations run beside training
    and the GUI, and on busy cores extra threads mostly wait on each other (a 50-event explanation
    took 0.15 s on one thread and 0.45-1.2 s on two while a training run shared the machine). Rows are padded to the
    coalition width (at most the model's history length), not always to the full window: the model
    contract reads right-aligned histories of any width alike, and a 10-event history then costs
    10 positions per coalition instead of 50.
    """

    def __init__(self, model, item: int, *, threads: int | None = 1, cancelled=None):
        self.model = model
        self.cancelled = cancelled  # asked before each batch of rows: a stale explanation stops early
        self.item = int(item)
        self.history_length = max(1, int(model.history_length))
        self.rows_scored = 0
        self.threads = threads
        n_items = max(1, int(getattr(model, "n_items", 1)))
        # score_items may score the whole catalogue first: keep rows x items near 32M floats
        self.rows_per_call = int(max(16, min(MAX_ROWS_PER_CALL, (1 << 25) // n_items)))
        if cancelled is not None:  # smaller calls, so that a cancel is heard within a few milliseconds
            self.rows_per_call = min(self.rows_per_call, CANCELLABLE_ROWS_PER_CALL)

    def padded(self, rows: np.ndarray) -> np.ndarray:
        """[m, width] model input (item + 1, 0 = pad) for coalition rows [m, n]."""
        from recstudio.data import pad_sequences

        rows = np.asarray(rows, dtype=np.int64)
        width = max(1, min(self.history_length, rows.shape[1]))
        return pad_sequences([row[row != ABSENT] for row in rows], width)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        import torch

        rows = np.atleast_2d(np.asarray(rows))
        out = np.empty(len(rows), dtype=np.float64)
        if len(rows) == 0:
            return out
        threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                for lo in range(0, len(rows), self.rows_per_call):
                    if self.cancelled is not None and self.cancelled():
                        raise AttributionCancelled("The explanation was no longer wanted.")
                    chunk = rows[lo: lo + self.rows_per_call]
                    histories = torch.from_numpy(self.padded(chunk))
                    items = torch.full((len(chunk), 1), self.item, dtype=torch.long)
                    out[lo: lo + len(chunk)] = self.model.score_items(histories, items)[:, 0].double().cpu().numpy()
        finally:
            torch.set_num_threads(threads)
        self.rows_scored += len(rows)
        return out


def attribute(
    model,
    history: Sequence[int] | np.ndarray,
    item: int,
    *,
    max_evals: int = DEFAULT_MAX_EVALS,
    exact_up_to: int = EXACT_UP_TO,
    seed: int = 0,
    item_ids: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
    timestamps: Sequence[str | None] | None = None,
    user: str | None = None,
    threads: int | None = 1,
    cancelled=None,
    baskets: Sequence | np.ndarray | None = None,
) -> Attribution:
    """Shapley values of the events of ``history`` (item indices, oldest first) for ``model``'s
    score of item index ``item``.

    - Up to ``exact_up_to`` events the values are exact (shap's ``ExactExplainer``, 2**n coalitions).
    - Beyond, shap's ``PermutationExplainer`` samples antithetic permutations within ``max_evals``
      model evaluations (raised to one permutation, 2n + 1, when smaller); the values still add up
      exactly, only their split between events is an estimate. ``seed`` fixes the permutations
      (numpy's global random state is restored afterwards).
    - ``item_ids`` / ``titles`` name all catalogue items by index (default: the index as text);
      ``timestamps`` gives one ISO-8601 string (or None) per event of ``history``.
    The model is put in eval mode and scored on CPU tensors under ``torch.no_grad``, on ``threads``
    intra-op threads (see :class:`CoalitionScorer`). ``cancelled()``, when given, is asked between batches
    of coalitions and raises :class:`AttributionCancelled` once true.
    - ``baskets``: one label per event of ``history`` (consecutive events with the same label are one
      basket): each basket is then one player, all its lines removed or kept together, so the values
      say what each basket did (``Attribution.over == "baskets"``). The exact/permutation choice and
      the budget count baskets. A basket cut by the model's window plays with the lines it reads.
    """
    started = time.perf_counter()
    history = np.asarray(history, dtype=np.int64).ravel()
    n_items = int(getattr(model, "n_items", 0))
    if not 0 <= int(item) < n_items:
        raise RecStudioError(f"Item index {item} is outside the model's catalogue of {n_items} items.")
    if len(history) and (history.min() < 0 or history.max() >= n_items):
        raise RecStudioError(f"The history holds item indices outside the model's catalogue of {n_items} items.")
    model.eval()
    width = max(1, int(model.history_length))
    older = max(0, len(history) - width)
    players = history[older:]
    n = len(players)
    scorer = CoalitionScorer(model, int(item), threads=threads, cancelled=cancelled)
    full_and_empty = scorer(np.stack([players, np.full(n, ABSENT, np.int64)]))
    score, base = float(full_and_empty[0]), float(full_and_empty[1])

    group = _basket_players(baskets, len(history), older) if baskets is not None else None
    if n == 0:
        values, method = np.zeros(0), "none"
    elif group is None:
        values, method = _shapley(scorer, players, max_evals=max_evals, exact_up_to=exact_up_to, seed=seed)
    else:
        def basket_game(rows: np.ndarray) -> np.ndarray:
            """Rows over baskets (a basket index or ABSENT) scored as rows over their events."""
            rows = np.atleast_2d(np.asarray(rows))
            return scorer(np.where(rows[:, group] != ABSENT, players[None, :], ABSENT))

        m = int(group[-1]) + 1
        values, method = _shapley(basket_game, np.arange(m, dtype=np.int64), max_evals=max_evals,
                                  exact_up_to=exact_up_to, seed=seed)

    ids = [str(i) for i in item_ids] if item_ids is not None else None
    names = [str(t) for t in titles] if titles is not None else ids
    label = (lambda i: ids[i]) if ids is not None else str
    title = (lambda i: names[i]) if names is not None else str
    times = list(timestamps)[older:] if timestamps is not None else [None] * n
    if len(times) != n:
        raise ValueError("timestamps must give one entry per history event")
    events = players.tolist()
    members = None
    if group is None:
        player_ids, player_titles = [label(i) for i in events], [title(i) for i in events]
        positions = list(range(older + 1, len(history) + 1))
    else:
        firsts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if n else np.zeros(0, np.int64)
        ends = np.r_[firsts[1:], n].astype(np.int64)
        members = [tuple(range(int(a), int(b))) for a, b in zip(firsts, ends)]
        player_ids = [", ".join(label(events[j]) for j in lines) for lines in members]
        player_titles = [basket_label([title(events[j]) for j in lines]) for lines in members]
        positions = [older + int(a) + 1 for a in firsts]
        times = [times[int(a)] for a in firsts]
    return Attribution(
        item=label(int(item)), item_title=title(int(item)), score=score, base_value=base,
        values=np.asarray(values, dtype=np.float64), item_ids=player_ids, titles=player_titles, timestamps=times,
        positions=positions, user=user, method=method,
        evaluations=scorer.rows_scored, older_events=older, seconds=time.perf_counter() - started,
        history_items=players.copy(), item_index=int(item), over=EVENTS if group is None else BASKETS,
        members=members,
    )


def _basket_players(baskets, n_history: int, older: int) -> np.ndarray:
    """The player (0, 1, ...) of each event the model reads, from one basket label per history event."""
    labels = np.asarray(baskets).ravel()
    if len(labels) != n_history:
        raise ValueError("baskets must give one label per history event")
    read = labels[older:]
    starts = np.ones(len(read), dtype=bool)
    starts[1:] = read[1:] != read[:-1]
    return np.cumsum(starts) - 1


def basket_label(titles: Sequence[str]) -> str:
    """A basket in a few words: 'Tea cup' for one line, 'Tea cup + 3 more' for four."""
    if not titles:
        return ""
    return titles[0] if len(titles) == 1 else f"{titles[0]} + {len(titles) - 1} more"


def _shapley(scorer: CoalitionScorer, players: np.ndarray, *, max_evals: int, exact_up_to: int, seed: int):
    """(values [n], method) from shap, with the absent-event background and the batched scorer."""
    import shap

    n = len(players)
    x = players.reshape(1, n)
    masker = _RemovalMasker(n)
    state = np.random.get_state()  # shap's permutation explainer seeds numpy's global generator
    try:
        if n <= exact_up_to:
            explainer = shap.explainers.Exact(scorer, masker)
            result = explainer(x, max_evals=2 ** n + 1, batch_size=masker.default_batch_size, silent=True)
            method = "exact"
        else:
            budget = max(int(max_evals), 2 * n + 1)
            explainer = shap.explainers.Permutation(scorer, masker, seed=seed)
            result = explainer(x, max_evals=budget, batch_size=masker.default_batch_size, silent=True)
            method = "permutation"
    finally:
        np.random.set_state(state)
    values = np.asarray(result.values, dtype=np.float64).reshape(n)
    if not np.all(np.isfinite(values)):
        raise RuntimeError("The model gave non-finite scores while being explained.")
    return values, method


def warm_up_shap() -> None:
    """Compile shap's numba kernels once, on a toy scorer, both ways (exact and permutation): the first
    real explanation of a process otherwise spends 3-4 s in numba, holding the GIL in long stretches,
    so a window's other background work (the next list) waits behind it."""
    def toy(rows: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(rows) != ABSENT).sum(1).astype(np.float64)

    for n in (2, EXACT_UP_TO + 2):
        _shapley(toy, np.arange(n, dtype=np.int64), max_evals=2 * n + 1, exact_up_to=EXACT_UP_TO, seed=0)


class _RemovalMasker:
    """shap masker for history events: a masked-out event becomes ``ABSENT``, which the scorer then
    removes from the sequence. (A plain callable masker rather than ``maskers.Independent`` with an
    ABSENT background: same coalitions, and half the numba compilation on a process's first call.)"""

    immutable_outputs = True  # each call returns a new array, so shap need not copy it
    default_batch_size = 1 << 14  # coalitions handed to the scorer at once (it chunks by memory)

    def __init__(self, n: int):
        self.shape = (1, n)

    def __call__(self, mask: np.ndarray, x: np.ndarray):
        return (np.where(np.asarray(mask, dtype=bool), np.asarray(x).reshape(-1), ABSENT).reshape(1, -1),)


def attribution_budget(n_events: int, max_evals: int = DEFAULT_MAX_EVALS, exact_up_to: int = EXACT_UP_TO) -> int:
    """How many model evaluations :func:`attribute` spends on ``n_events`` players (about)."""
    if n_events <= exact_up_to:
        return 2 ** n_events
    per = 2 * n_events + 1
    return max(1, max(max_evals, per) // per) * per


__all__ = ["ABSENT", "ATTRIBUTION_UNITS", "Attribution", "BASKETS", "EVENTS", "basket_label", "CoalitionScorer", "DEFAULT_MAX_EVALS", "EXACT_UP_TO", "attribute",
           "attribution_budget"]
