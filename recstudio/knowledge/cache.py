"""Text embeddings kept on disk (safetensors), keyed by encoder identity, pooling and each text's hash.

One file per encoder setup (model identity + pooling + max length); inside it one row per distinct
text, found by the text's SHA-256. A second run over the same catalogue encodes nothing, and a
catalogue that gains items encodes only the new texts. Files are replaced atomically, so a reader
never sees half a file; two processes adding at once lose nothing but the other's additions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

HASH_BYTES = 16
CACHE_ENV = "RECSTUDIO_EMBEDDING_CACHE"


def default_cache_dir() -> Path:
    """$RECSTUDIO_EMBEDDING_CACHE, else ``embeddings`` in the user cache folder.

    Training runs do not use this: they keep their cache in the workspace's files folder
    (``<workspace>-files/embeddings``), so a workspace carries its embeddings with it.
    """
    raw = os.environ.get(CACHE_ENV)
    if raw:
        return Path(raw).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("RecStudio", appauthor=False)) / "embeddings"


def text_hashes(texts: list[str]) -> np.ndarray:
    """uint8 [n, 16]: the first 16 bytes of each text's SHA-256."""
    out = np.zeros((len(texts), HASH_BYTES), dtype=np.uint8)
    for i, text in enumerate(texts):
        out[i] = np.frombuffer(hashlib.sha256(text.encode("utf-8")).digest()[:HASH_BYTES], dtype=np.uint8)
    return out


def setup_key(identity: str, pooling: str, max_length: int) -> str:
    """The digest naming one encoder setup's file (what changes the vector of a given text)."""
    payload = json.dumps({"identity": identity, "pooling": pooling, "max_length": int(max_length)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class EmbeddingCache:
    """The embeddings of one encoder setup in ``directory``."""

    def __init__(self, directory: str | Path, identity: str, pooling: str, max_length: int, label: str = ""):
        self.directory = Path(directory)
        self.identity = identity
        self.pooling = pooling
        self.max_length = int(max_length)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", label or "encoder").strip("-.")[:40] or "encoder"
        self.path = self.directory / f"{slug}-{setup_key(identity, pooling, max_length)[:16]}.safetensors"

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """``(vectors [n, d] or None, found bool [n])``: rows not found are zero."""
        stored_hashes, stored = self._read()
        found = np.zeros(len(hashes), dtype=bool)
        if stored is None or len(hashes) == 0:
            return None, found
        index = {h.tobytes(): i for i, h in enumerate(stored_hashes)}
        rows = np.array([index.get(h.tobytes(), -1) for h in hashes], dtype=np.int64)
        found = rows >= 0
        vectors = np.zeros((len(hashes), stored.shape[1]), dtype=np.float32)
        vectors[found] = stored[rows[found]]
        return vectors, found

    def add(self, hashes: np.ndarray, vectors: np.ndarray) -> None:
        """Store new rows (texts already stored keep their first vector)."""
        from safetensors.numpy import save_file

        if len(hashes) == 0:
            return
        stored_hashes, stored = self._read()
        vectors = np.asarray(vectors, dtype=np.float32)
        if stored is not None and stored.shape[1] == vectors.shape[1]:
            known = {h.tobytes() for h in stored_hashes}
            new = np.array([h.tobytes() not in known for h in hashes], dtype=bool)
            hashes = np.concatenate([stored_hashes, hashes[new]])
            vectors = np.concatenate([stored, vectors[new]])
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {"identity": self.identity, "pooling": self.pooling, "max_length": str(self.max_length),
                "dim": str(vectors.shape[1])}
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=self.directory)
        os.close(fd)
        try:
            save_file({"text_hashes": np.ascontiguousarray(hashes), "vectors": np.ascontiguousarray(vectors)},
                      tmp, metadata=meta)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        hashes, _ = self._read()
        return 0 if hashes is None else len(hashes)

    def _read(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        from safetensors import safe_open

        if not self.path.exists():
            return None, None
        try:
            with safe_open(str(self.path), framework="numpy") as f:
                meta = f.metadata() or {}
                if meta.get("identity") != self.identity or meta.get("pooling") != self.pooling:
                    return None, None  # a digest-prefix clash: treat as absent, it will be rewritten
                return f.get_tensor("text_hashes"), f.get_tensor("vectors").astype(np.float32, copy=False)
        except Exception:  # a damaged file is only a cache: encode again and overwrite it
            return None, None
