"""What an explanation is made of, with no workspace or run: the :class:`Explained` value (attribution and
text), the catalogue the text is grounded in, and the item similarity that diversity re-ranks by."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from recstudio.errors import RecStudioError
from recstudio.explain.attribution import Attribution
from recstudio.explain.text import Catalogue, ExplanationText

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
    import torch

    with torch.no_grad():
        vectors = model.item_vectors()
    if vectors is not None:
        vectors = vectors.detach().float().cpu().numpy()
        return embedding_similarity(vectors), "embedding", None, vectors
    raise RecStudioError(
        f"Dataset {dataset.name!r} has no item categories and model {model.name!r} no item vectors, so there "
        "is nothing to diversify by; import a catalogue with a category column (--items)."
    )
