"""Explanations of a stored run's lists, shared by the CLI and the window: one recommendation explained
(Shapley values of the history and grounded text), faithfulness over many users, diversity re-ranking
and its cost, and the inspector's what-if scenarios. The attribution maths lives in :mod:`recstudio.explain`."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from recstudio.errors import RecStudioError
from recstudio.explain import (
    ATTRIBUTION_UNITS, BASKETS, DEFAULT_MAX_EVALS, EVENTS, Explained, ExplanationText, Scenario, attribute, catalogue_of, explain_text, interest_summary,
    similarity_for,
)
from recstudio.runs.evaluating import load_run_model, run_split
from recstudio.runs.inspect import FULL_HISTORY, RunInspector, item_indices, open_inspector
from recstudio.runs.recommend import recommend, recommend_query
from recstudio.runs.scoring import check_k


def _inspector(workspace, run_id, inspector=None):
    return inspector if inspector is not None else RunInspector(workspace, run_id)


def user_events(inspector, user_id) -> tuple[np.ndarray, list[str | None]]:
    """The user's item indices (oldest first) and their times as ISO-8601 UTC strings (None without times)."""
    import pandas as pd

    dataset = inspector.dataset
    user = dataset.user_index(user_id)
    items = dataset.history(user)
    if not inspector.has_times:
        return items, [None] * len(items)
    lo, hi = int(dataset.indptr[user]), int(dataset.indptr[user + 1])
    stamps = pd.to_datetime(dataset.interactions["timestamp"].to_numpy()[lo:hi], unit="s", utc=True)
    return items, [t.isoformat() for t in stamps]


def check_over(over: str) -> str:
    """``over`` as :func:`recstudio.explain.attribute` takes it ("events" or "baskets"), or one clear error."""
    if over not in ATTRIBUTION_UNITS:
        raise RecStudioError(f"Attributions are over {' or '.join(ATTRIBUTION_UNITS)}, not {over!r}.")
    return over


def explain_recommendation(inspector, item, *, user=None, history=None, max_evals: int = DEFAULT_MAX_EVALS,
                           seed: int = 0, language_model=None, over: str = EVENTS) -> Explained:
    """Attribution and text for ``item`` (an item id) given a user's full history or an ad-hoc
    ``history`` of item ids (oldest first), with the run's model held by ``inspector``
    (a :class:`recstudio.runs.RunInspector`). ``over="baskets"`` makes each of the user's baskets one
    player (its lines removed or kept together); an ad-hoc history has no baskets."""
    dataset = inspector.dataset
    check_over(over)
    if (user is None) == (history is None):
        raise RecStudioError("Explain either a user (--user) or an ad-hoc history (--history), not both.")
    if over == BASKETS and user is None:
        raise RecStudioError("An ad-hoc history has no baskets: attribute over baskets for a user (--user).")
    item_index = dataset.item_index(item)
    baskets = None
    if user is not None:
        items, times = user_events(inspector, user)
        label = str(user)
        if over == BASKETS:
            baskets = inspector.basket_numbers(dataset.user_index(user))
    else:
        items = np.array([dataset.item_index(h) for h in history], dtype=np.int64)
        times, label = None, None
    attribution = attribute(inspector.model, items, item_index, max_evals=max_evals, seed=seed,
                            item_ids=inspector.item_ids, titles=inspector.titles, timestamps=times, user=label,
                            baskets=baskets)
    text = explain_text(attribution, catalogue_of(dataset), language_model)
    return Explained(attribution, text)


def explain(workspace, run_id, item, *, user=None, history=None, max_evals: int = DEFAULT_MAX_EVALS, seed: int = 0,
            language_model=None, inspector=None, over: str = EVENTS) -> Explained:
    """:func:`explain_recommendation` for a stored run (``recstudio explain``)."""
    if max_evals < 1:
        raise RecStudioError("--max-evals must be at least 1.")
    return explain_recommendation(_inspector(workspace, run_id, inspector), item, user=user, history=history,
                                  max_evals=max_evals, seed=seed, language_model=language_model, over=over)


def summarise_user(inspector, user_id, language_model=None) -> ExplanationText:
    """A short, grounded summary of the user's interests."""
    items, _ = user_events(inspector, user_id)
    return interest_summary(items, catalogue_of(inspector.dataset), language_model)


def faithfulness_report(workspace, run_id, *, users: int = 100, seed: int = 0, max_evals: int = DEFAULT_MAX_EVALS,
                        k: int = 10, inspector=None, progress: Callable[[float], None] | None = None):
    """Deletion-curve faithfulness over ``users`` random users (seeded) with at least 4 events:
    each user's candidate is a random item of their top-``k`` (full history, seen items excluded).
    Returns a :class:`recstudio.explain.faithfulness.FaithfulnessReport`."""
    from recstudio.explain.faithfulness import TOP, faithfulness, summarise

    if users < 1:
        raise RecStudioError("--users must be at least 1.")
    inspector = _inspector(workspace, run_id, inspector)
    rng = np.random.default_rng(seed)
    lengths = np.diff(inspector.dataset.indptr)
    eligible = np.flatnonzero(lengths > TOP)
    if len(eligible) == 0:
        raise RecStudioError(f"No user of run {inspector.run.id}'s dataset has more than {TOP} events to remove.")
    chosen = rng.choice(eligible, size=min(users, len(eligible)), replace=False)
    results = []
    for n, user in enumerate(chosen.tolist()):
        user_id = str(inspector.dataset.user_ids[user])
        rec = inspector.recommend(user_id, k=k, mode=FULL_HISTORY)
        if not rec.items:
            continue
        item = rec.items[int(rng.integers(len(rec.items)))]["item_id"]
        explained = explain_recommendation(inspector, item, user=user_id, max_evals=max_evals, seed=seed + n)
        results.append((explained.attribution, faithfulness(inspector.model, explained.attribution, seed=seed + n)))
        if progress is not None:
            progress((n + 1) / len(chosen))
    report = summarise(results)
    report.skipped = sum(1 for _, f in results if not np.isfinite(f.auc["attribution"]))
    return report


# diversity -----------------------------------------------------------------------------------
def recommend_diverse(workspace, run_id, *, diversity: float, user=None, history=None, k: int = 10,
                      exclude_seen: bool = True, pool: int | None = None):
    """:func:`recstudio.runs.recommend` re-ranked by MMR with λ = ``diversity`` from the model's
    best ``max(50, 5k)`` items; the list says so in its ``note``."""
    from recstudio.evaluation.diversity import POOL, check_diversity, rerank

    diversity = check_diversity(diversity)
    check_k(k)
    pool = max(pool or POOL, 5 * k)
    rec = recommend(workspace, run_id, user=user, history=history, k=pool, exclude_seen=exclude_seen)
    run, model, _ = load_run_model(workspace, run_id)
    dataset = workspace.load_dataset(run.dataset_id)
    similarity, kind, _, _ = similarity_for(model, dataset)
    indices = [dataset.item_index(it["item_id"]) for it in rec.items]
    keep = rerank(indices, [it["score"] for it in rec.items], k, diversity, similarity)
    rec.items = [rec.items[i] for i in keep]
    rec.note = (rec.note + " " if rec.note else "") + (
        f"Re-ranked for diversity (MMR, λ = {diversity:g}, {kind} similarity) from the model's best {len(indices)}.")
    return rec


def diversity_report(workspace, run_id, diversity: float, *, k: int = 10, device: str = "cpu") -> dict[str, Any]:
    """Intra-list diversity@k before/after MMR re-ranking and the NDCG@k it costs on the run's test split."""
    from recstudio.evaluation.diversity import check_diversity, diversity_cost

    diversity = check_diversity(diversity)
    started = time.perf_counter()
    run, model, _ = load_run_model(workspace, run_id)
    dataset = workspace.load_dataset(run.dataset_id)
    split = run_split(dataset, run)
    similarity, kind, categories, vectors = similarity_for(model, dataset)
    report = diversity_cost(model, split.test, diversity, similarity, k=k, item_categories=categories,
                            item_embeddings=vectors, device=device)
    report["similarity"] = kind
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


# what-if -------------------------------------------------------------------------------------
def explain_scenario(inspector, scenario: Scenario, item_id: str, *, max_evals: int = DEFAULT_MAX_EVALS,
                     seed: int = 0, language_model=None, cancelled=None, over: str = EVENTS) -> Explained:
    """Shapley values of the scenario's events (``over="baskets"``: of its baskets, each added item one
    of its own) for ``item_id``'s score, and the grounded text (``cancelled``: see
    :func:`recstudio.explain.attribute`)."""
    dataset = inspector.dataset
    history = item_indices(dataset, scenario.history())
    baskets = scenario.history_baskets() if check_over(over) == BASKETS else None
    attribution = attribute(inspector.model, history, dataset.item_index(item_id), max_evals=max_evals, seed=seed,
                            item_ids=inspector.item_ids, titles=inspector.titles,
                            timestamps=scenario.history_times(), user=scenario.user, cancelled=cancelled,
                            baskets=baskets)
    return Explained(attribution, explain_text(attribution, catalogue_of(dataset), language_model))


def explain_scenario_job(workspace_path, run_id: int, scenario: Scenario, item_id: str,
                         language_model_path: str | None = None, *, max_evals: int = DEFAULT_MAX_EVALS,
                         cancelled=None, over: str = EVENTS) -> Explained:
    """:func:`explain_scenario` for the window's worker, by workspace path and run id (the loaded
    inspector is reused, see :func:`open_inspector`); the optional local language model (a path or hub
    id already on disk) is loaded there, once per path. A ``cancelled()`` that turns true (the analyst
    moved on) stops the attribution with :class:`recstudio.explain.AttributionCancelled`."""
    lm = None
    if language_model_path:
        from recstudio.explain import language_model

        lm = language_model(language_model_path)
    return explain_scenario(open_inspector(workspace_path, run_id), scenario, item_id, max_evals=max_evals,
                            language_model=lm, cancelled=cancelled, over=over)


def query_job(workspace_path: str, run_id: int, text: str, k: int = 10):
    """:func:`recstudio.runs.recommend_query` in a worker: its own workspace connection."""
    from recstudio.workspace import Workspace

    with Workspace(workspace_path) as workspace:
        return recommend_query(workspace, run_id, text, k)
