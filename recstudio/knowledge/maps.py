"""A 2-D map of item text vectors and their nearest neighbours (for the window's Knowledge view)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ItemMap:
    coords: np.ndarray  # float32 [n_items, 2]: the first two principal components
    explained: tuple[float, float]  # share of the variance each axis carries
    vectors: np.ndarray  # float32 [n_items, dim], unit length (cosine = dot product)
    texts: list[str]
    titles: list[str]
    groups: list[str]  # first category of each item ("" when none), for colouring
    encoder: str

    def nearest(self, item: int, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` items whose text is closest to ``item``'s (cosine), best first, itself excluded."""
        sims = self.vectors @ self.vectors[item]
        sims[item] = -np.inf
        k = min(k, len(sims) - 1)
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(i), float(sims[i])) for i in top]


def project_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """PCA to two dimensions through the d×d covariance (cheap for 10⁵ items × 384 dims)."""
    x = np.asarray(vectors, dtype=np.float64)
    if len(x) == 0:
        return np.zeros((0, 2), np.float32), (0.0, 0.0)
    x = x - x.mean(axis=0)
    cov = x.T @ x / max(len(x) - 1, 1)
    values, vecs = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:2]
    total = float(values.sum()) or 1.0
    coords = x @ vecs[:, order]
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    # a sign convention, so the same data always gives the same picture
    coords *= np.where(coords[np.abs(coords).argmax(axis=0), np.arange(2)] < 0, -1.0, 1.0)
    shares = [float(values[i]) / total for i in order] + [0.0, 0.0]
    return coords.astype(np.float32), (shares[0], shares[1])


def item_map(embeddings, items) -> ItemMap:
    """An :class:`ItemMap` from :func:`recstudio.knowledge.item_embeddings` output and the items frame."""
    vectors = np.asarray(embeddings.vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    coords, explained = project_2d(unit)
    titles = (items["title"] if "title" in items.columns else items["item_id"]).astype(str).tolist()
    groups = [""] * len(items)
    if "category" in items.columns:
        groups = [_first_category(v) for v in items["category"].tolist()]
    return ItemMap(coords, explained, unit, list(embeddings.texts), titles, groups,
                   str(embeddings.encoder.get("name", "")) if isinstance(embeddings.encoder, dict) else "")


def _first_category(value) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return str(value[0]) if len(value) else ""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).split("|")[0].strip()
