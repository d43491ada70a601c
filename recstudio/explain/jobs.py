"""Workspace-level jobs for explanations, shared by the CLI and the window: explain one
recommendation, check faithfulness over many users, re-rank a list for diversity and measure its cost."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from recstudio.errors import RecStudioError
from recstudio.explain.attribution import DEFAULT_MAX_EVALS, Attribution, attribute
from recstudio.explain.text import Catalogue, ExplanationText, explain_text, interest_summary

_catalogues: dict[int, Catalogue] = {}  # id(dataset) -> its catalogue, dropped with the dataset


def catalogue_of(dataset) -> Catalogue:
    """The dataset's :class:`Catalogue` (built once per loaded dataset)."""
    key = id(dataset)
    found = _catalogues.get(key)
    if found is None:
        found = _catalogues[key] = Catalogue.from_dataset(dataset)
        weakref.finalize(dataset, _catalogues.pop, key, None)
    return found


@dataclass
class Explained:
    """One recommendation explained: the attribution and the text (with its source)."""

    attribution: Attribution
    text: ExplanationText

    def to_dict(self) -> dict[str, Any]:
        a = self.attribution
        return {"user": a.user, "item": a.item, "item_title": a.item_title, "score": a.score,
                "base_value": a.base_value,
                "attributions": [{k: e[k] for k in ("item_id", "title", "timestamp", "value")} for e in a.events()],
                "text": self.text.text, "text_source": self.text.source, "method": a.method,
                "evaluations": a.evaluations, "older_events": a.older_events, "seconds": round(a.seconds, 4),
                "rejected": self.text.rejected}


def _inspector(workspace, run_id, inspector=None):
    from recstudio.runs import RunInspector

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


def explain_recommendation(inspector, item, *, user=None, history=None, max_evals: int = DEFAULT_MAX_EVALS,
                           seed: int = 0, language_model=None) -> Explained:
    """Attribution and text for ``item`` (an item id) given a user's full history or an ad-hoc
    ``history`` of item ids (oldest first), with the run's model held by ``inspector``
    (a :class:`recstudio.runs.RunInspector`)."""
    dataset = inspector.dataset
    if (user is None) == (history is None):
        raise RecStudioError("Explain either a user (--user) or an ad-hoc history (--history), not both.")
    item_index = dataset.item_index(item)
    if user is not None:
        items, times = user_events(inspector, user)
        label = str(user)
    else:
        items = np.array([dataset.item_index(h) for h in history], dtype=np.int64)
        times, label = None, None
    attribution = attribute(inspector.model, items, item_index, max_evals=max_evals, seed=seed,
                            item_ids=inspector.item_ids, titles=inspector.titles, timestamps=times, user=label)
    text = explain_text(attribution, catalogue_of(dataset), language_model)
    return Explained(attribution, text)


def explain(workspace, run_id, item, *, user=None, history=None, max_evals: int = DEFAULT_MAX_EVALS, seed: int = 0,
            language_model=None, inspector=None) -> Explained:
    """:func:`explain_recommendation` for a stored run (``recstudio explain``)."""
    if max_evals < 1:
        raise RecStudioError("--max-evals must be at least 1.")
    return explain_recommendation(_inspector(workspace, run_id, inspector), item, user=user, history=history,
                                  max_evals=max_evals, seed=seed, language_model=language_model)


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
    from recstudio.runs import FULL_HISTORY

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
def similarity_for(model, dataset):
    """(similarity, kind, item_categories, item_embeddings) for MMR and diversity: category Jaccard
    when the catalogue has categories, else the cosine of the model's item vectors."""
    from recstudio.data import item_categories
    from recstudio.evaluation.diversity import category_similarity, embedding_similarity

    categories = item_categories(dataset) if "category" in dataset.items.columns else None
    similarity = category_similarity(categories) if categories is not None else None
    if similarity is not None:
        return similarity, "category", categories, None
    table = getattr(model, "item_table", None)
    if callable(table):
        import torch

        with torch.no_grad():
            vectors = table()[1:].detach().float().cpu().numpy()
        return embedding_similarity(vectors), "embedding", None, vectors
    raise RecStudioError(
        f"Dataset {dataset.name!r} has no item categories and model {model.name!r} no item vectors, so there "
        "is nothing to diversify by; import a catalogue with a category column (--items)."
    )


def recommend_diverse(workspace, run_id, *, diversity: float, user=None, history=None, k: int = 10,
                      exclude_seen: bool = True, pool: int | None = None):
    """:func:`recstudio.runs.recommend` re-ranked by MMR with λ = ``diversity`` from the model's
    best ``max(50, 5k)`` items; the list says so in its ``note``."""
    from recstudio.evaluation.diversity import POOL, check_diversity, rerank
    from recstudio.runs import load_run_model, recommend

    diversity = check_diversity(diversity)
    if k < 1:
        raise RecStudioError("-k must be at least 1.")
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
    from recstudio.data import make_split
    from recstudio.evaluation.diversity import check_diversity, diversity_cost
    from recstudio.runs import load_run_model

    diversity = check_diversity(diversity)
    started = time.perf_counter()
    run, model, _ = load_run_model(workspace, run_id)
    dataset = workspace.load_dataset(run.dataset_id)
    split = make_split(dataset, run.split, **((run.config or {}).get("split_options") or {}))
    similarity, kind, categories, vectors = similarity_for(model, dataset)
    report = diversity_cost(model, split.test, diversity, similarity, k=k, item_categories=categories,
                            item_embeddings=vectors, device=device)
    report["similarity"] = kind
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report
