"""A dataset's items as text vectors: render the catalogue, look the texts up in the cache, encode the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator

import numpy as np

from recstudio.drive import drive
from recstudio.knowledge.text import DEFAULT_TEMPLATE, check_template, render_item_texts


@dataclass
class ItemTextEmbeddings:
    """One text vector per item index (float32 [n_items, dim]) and how it was obtained."""

    vectors: np.ndarray
    texts: list[str]
    encoder: dict[str, Any]  # name, identity (weights), pooling, max_length
    template: str
    encoded: int = 0  # distinct texts the encoder ran on this time
    reused: int = 0  # distinct texts found in the cache
    cache_file: str | None = None
    empty_texts: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def summary(self) -> dict[str, Any]:
        """Plain values for checkpoints and run records (no vectors)."""
        return {"encoder": self.encoder, "template": self.template, "dim": self.dim, "items": len(self.texts),
                "encoded": self.encoded, "reused": self.reused, "empty_texts": self.empty_texts}


def iter_item_embeddings(
    items, *, encoder: str | None = None, template: str = DEFAULT_TEMPLATE, pooling: str = "mean",
    cache_dir: str | Path | None = None, use_cache: bool = True, device: str = "auto",
    batch_size: int | None = None, max_length: int = 128,
) -> Generator[tuple[int, int, str], None, ItemTextEmbeddings]:
    """Text vectors of ``items`` (a Dataset or its ``items`` frame), yielding ``(done, total, message)``
    while encoding, so a caller can report progress and stop between batches.

    ``cache_dir`` None means :func:`recstudio.knowledge.cache.default_cache_dir`; texts already
    cached for this encoder (same weights, pooling, max length) are not encoded again.
    """
    from recstudio.knowledge.cache import EmbeddingCache, default_cache_dir, text_hashes
    from recstudio.knowledge.encoder import TextEncoder, describe

    frame = items.items if hasattr(items, "item_ids") else items  # a Dataset, or its items frame
    check_template(template, frame.columns)
    texts = render_item_texts(frame, template)
    text_encoder = TextEncoder(encoder, pooling=pooling, device=device, batch_size=batch_size, max_length=max_length)
    distinct, inverse = np.unique(np.array(texts, dtype=object), return_inverse=True)
    distinct = [str(t) for t in distinct]
    hashes = text_hashes(distinct)
    cache = None
    vectors, found = None, np.zeros(len(distinct), dtype=bool)
    if use_cache:
        cache = EmbeddingCache(cache_dir if cache_dir is not None else default_cache_dir(), text_encoder.identity,
                               pooling, max_length, label=text_encoder.label)
        vectors, found = cache.lookup(hashes)
    missing = np.flatnonzero(~found)
    yield 0, len(missing), f"Item text: {len(distinct) - len(missing):,} of {len(distinct):,} distinct texts cached"
    if len(missing):
        gen = text_encoder.iter_encode([distinct[i] for i in missing])
        while True:
            try:
                done, total = next(gen)
            except StopIteration as stop:
                new = stop.value
                break
            yield done, total, f"Encoding item text with {text_encoder.label}: {done:,} / {total:,}"
        if vectors is None:
            vectors = np.zeros((len(distinct), new.shape[1]), dtype=np.float32)
        vectors[missing] = new
        if cache is not None:
            cache.add(hashes[missing], new)
    elif vectors is None:  # an empty catalogue
        vectors = np.zeros((0, text_encoder.dim), dtype=np.float32)
    return ItemTextEmbeddings(
        vectors=vectors[inverse.reshape(-1)].astype(np.float32, copy=False), texts=texts,
        encoder=describe(text_encoder), template=template, encoded=len(missing), reused=int(found.sum()),
        cache_file=str(cache.path) if cache is not None else None, empty_texts=sum(1 for t in texts if not t),
    )


def item_embeddings(items, *, progress: Callable[[int, int, str], None] | None = None, **options) -> ItemTextEmbeddings:
    """:func:`iter_item_embeddings` run to the end; ``progress(done, total, message)`` per batch."""
    return drive(iter_item_embeddings(items, **options), None if progress is None else lambda event: progress(*event))
