"""Top-K lists from a stored run: for a user, an ad-hoc history, interests stated in words, or every user."""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np
import pandas as pd

from recstudio.errors import RecStudioError
from recstudio.runs.evaluating import load_run_model
from recstudio.runs.inspect import FULL_HISTORY, RunInspector
from recstudio.runs.scoring import Recommendation, best_items, check_k, score_history

def recommend(workspace, run_id, *, user: str | None = None, history: list[str] | None = None, k: int = 10,
              exclude_seen: bool = True) -> Recommendation:
    """Top-``k`` items for a user of the run's dataset (every item they touched is excluded), or for an
    ad-hoc history of item ids (which needs only the checkpoint). An empty history gets the most
    popular items, labelled as such.

    A user's list is :meth:`RunInspector.recommend` in "full history" mode: what the user would be
    recommended today, from every event they have.
    """
    check_k(k)
    if user is not None:
        rec = RunInspector(workspace, run_id).recommend(user, k=k, exclude_seen=exclude_seen, mode=FULL_HISTORY)
        items = [{"item_id": it["item_id"], "title": it["title"], "score": it["score"]} for it in rec.items]
        return Recommendation(rec.user, rec.source, items, rec.history)
    run, model, meta = load_run_model(workspace, run_id)
    item_ids = meta.item_ids
    lookup = {str(i): n for n, i in enumerate(item_ids)}
    missing = [h for h in history or [] if str(h).strip() not in lookup]
    if missing:
        raise RecStudioError(
            f"Item(s) {', '.join(map(str, missing[:5]))} are not in run {run.id}'s catalogue; "
            "use item ids from the dataset's item column."
        )
    items = np.array([lookup[str(h).strip()] for h in history or []], dtype=np.int64)
    seen = np.unique(items) if exclude_seen else np.zeros(0, np.int64)
    source, scores = score_history(model, items, np.asarray(meta.popularity, dtype=np.float32))
    ranked, values, _ = best_items(scores, seen, k)
    titles = meta.item_titles
    return Recommendation(None, source, [{"item_id": item_ids[i], "title": titles[i], "score": v}
                                         for i, v in zip(ranked.tolist(), values.tolist())],
                          [item_ids[i] for i in items.tolist()])


#: How many best text matches the model reads as a stand-in history for a query, and how much its
#: scores count beside the text match (both as z-scores over the catalogue).
QUERY_SEED_ITEMS = 5
QUERY_MODEL_WEIGHT = 0.5


def recommend_query(workspace, run_id, text: str, k: int = 10) -> Recommendation:
    """Top-``k`` items for interests stated in words, for a user with no history (``source == "query"``).

    For a run with text knowledge (sasrec-lm; any model carrying its items' text vectors as
    ``item_text``):

    1. the run's own text encoder embeds the query, which is placed among the items' text vectors
       (cosine): what the words match;
    2. the model reads the ``QUERY_SEED_ITEMS`` best matches as a stand-in history (best match most
       recent) and scores every item: what people who chose those went on to choose;
    3. score = z(text match) + ``QUERY_MODEL_WEIGHT`` * z(model), so the list stays on the query's
       subject while the model lifts the well-liked, coherent items over obscure namesakes.

    ``history`` holds the stand-in history. A model may instead answer ``query_scores(text)`` itself.
    Runs that know items only by id are a user error.
    """
    import torch

    check_k(k)
    text = (text or "").strip()
    if not text:
        raise RecStudioError("The query is empty; describe what you are interested in, e.g. \"space opera films\".")
    run, model, meta = load_run_model(workspace, run_id, device="cpu")
    item_ids = meta.item_ids
    titles = meta.item_titles
    with torch.no_grad():
        answered = model.score_query(text)
    if answered is not None:
        scores = torch.as_tensor(answered, dtype=torch.float32).reshape(-1)
        seeds = np.zeros(0, dtype=np.int64)
    else:
        if not model.uses_item_text:
            raise RecStudioError(
                f"Run {run.id} ({run.model}) has no text knowledge: it knows items only by id, so it cannot read a "
                "query. Use a run of a text-aware model (sasrec-lm)."
            )
        query = _encode_query(model, meta, text)
        with torch.no_grad():
            vectors = torch.nn.functional.normalize(model.item_text[1:].float(), dim=-1)
            match = vectors @ torch.nn.functional.normalize(query, dim=-1)
            seeds = torch.topk(match, min(QUERY_SEED_ITEMS, model.n_items)).indices.flip(0).numpy()
            _, preference = score_history(model, seeds.astype(np.int64), np.zeros(model.n_items, np.float32))
            scores = _zscore(match) + QUERY_MODEL_WEIGHT * _zscore(preference[0])
    ranked, values, _ = best_items(scores.unsqueeze(0), np.zeros(0, np.int64), k)
    return Recommendation(None, "query", [{"item_id": item_ids[i], "title": titles[i], "score": v}
                                          for i, v in zip(ranked.tolist(), values.tolist())],
                          [item_ids[i] for i in seeds.tolist()],
                          note=f"Items whose text matches {text!r}, lifted by what the model predicts after the "
                               f"{len(seeds)} closest matches." if len(seeds) else "")


_QUERY_ENCODER: dict = {}


def _encode_query(model, meta, text: str):
    """The query's vector from the run's own text encoder (the one that made its items' vectors)."""
    import torch

    from recstudio.knowledge import TextEncoder

    config = model.config
    recorded = meta.encoder
    key = (config.encoder, config.pooling, int(recorded.get("max_length") or 128))
    encoder = _QUERY_ENCODER.get(key)
    if encoder is None:  # one kept loaded: the inspector asks query after query
        encoder = TextEncoder(config.encoder, pooling=config.pooling, device="cpu", max_length=key[2])
        _QUERY_ENCODER.clear()
        _QUERY_ENCODER[key] = encoder
    if recorded.get("identity") and encoder.identity != recorded["identity"]:
        raise RecStudioError(
            f"The run's text encoder has changed since it was trained (it was {recorded['identity']}, now "
            f"{encoder.identity}); a query would land in another space. Restore that encoder or train the run again."
        )
    vector = torch.from_numpy(encoder.encode([text]))[0]
    if vector.shape[0] != model.item_text.shape[1]:
        raise RecStudioError(f"The text encoder gives {vector.shape[0]}-d vectors; the run's items have "
                             f"{model.item_text.shape[1]}-d ones. Restore the run's encoder or train it again.")
    return vector


def _zscore(values):
    values = values.float()
    return (values - values.mean()) / values.std().clamp(min=1e-12)


def recommend_all(workspace, run_id, *, k: int = 10, exclude_seen: bool = True, batch_size: int = 1024,
                  device: str = "cpu", pseudonymise: str | None = None, progress: Callable[[float], None] | None = None):
    """Every user's top-``k`` from their full history, as DataFrames of ``batch_size`` users each
    (columns user_id, rank, item_id, title, score; best first): one batched model call per chunk,
    so memory stays bounded whatever the number of users. Users whose list is empty are skipped.

    ``pseudonymise``: a secret; user ids are then replaced by a keyed hash of it (HMAC-SHA256, the
    same id gives the same pseudonym for the same secret), for sharing a file without the ids.
    """
    import hmac

    import torch

    from recstudio.data import pad_histories
    from recstudio.evaluation import mask_items, top_k

    check_k(k)
    run, model, meta = load_run_model(workspace, run_id, device=device)
    dataset = workspace.load_dataset(run.dataset_id)
    indptr = dataset.indptr
    items = dataset.interactions["item"].to_numpy().astype(np.int64)
    item_ids = np.asarray(meta.item_ids, dtype=object)
    titles = np.asarray(meta.item_titles, dtype=object)
    user_ids = dataset.user_ids
    if pseudonymise:
        key = pseudonymise.encode()
        user_ids = np.array([hmac.new(key, str(u).encode(), hashlib.sha256).hexdigest()[:16] for u in user_ids],
                            dtype=object)
    n = dataset.n_users
    k = min(k, model.n_items)
    with torch.no_grad():
        for lo in range(0, n, batch_size):
            hi = min(lo + batch_size, n)
            rows = np.arange(lo, hi)
            scores = model.score(torch.as_tensor(pad_histories(indptr, items, rows, model.history_length),
                                                 device=device)).float()
            if exclude_seen:
                seen_rows = np.repeat(np.arange(hi - lo), np.diff(indptr[lo : hi + 1]))
                scores = mask_items(scores, seen_rows, items[indptr[lo] : indptr[hi]])
            idx, values = top_k(scores, k)
            idx, values = idx.cpu().numpy(), values.cpu().numpy()
            keep = idx >= 0
            user_of = np.repeat(rows, k).reshape(-1, k)[keep]
            rank = np.tile(np.arange(1, k + 1), hi - lo).reshape(-1, k)[keep]
            chosen = idx[keep]
            yield pd.DataFrame({"user_id": user_ids[user_of], "rank": rank, "item_id": item_ids[chosen],
                                "title": titles[chosen], "score": values[keep].astype(float)})
            if progress is not None:
                progress(hi / n)
