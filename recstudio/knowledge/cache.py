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
            write_arrays(tmp, {"text_hashes": hashes, "vectors": vectors}, meta)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        hashes, _ = self._read()
        return 0 if hashes is None else len(hashes)

    def _read(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not self.path.exists():
            return None, None
        try:
            arrays, meta = read_arrays(self.path)
            if meta.get("identity") != self.identity or meta.get("pooling") != self.pooling:
                return None, None  # a digest-prefix clash: treat as absent, it will be rewritten
            return arrays["text_hashes"], arrays["vectors"].astype(np.float32, copy=False)
        except Exception:  # a damaged file is only a cache: encode again and overwrite it
            return None, None


# The safetensors format read and written with plain file I/O: the library's numpy get_tensor and
# save_file hold the GIL for the whole copy (83 MB of embeddings: 870 ms, a 670 ms freeze of the window
# while the Knowledge map's job read its cache), while readinto/write release it during the system call.
_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "U8": np.uint8, "I8": np.int8,
           "I32": np.int32, "I64": np.int64, "U32": np.uint32, "U64": np.uint64, "BOOL": np.bool_}
_NAMES = {np.dtype(t): name for name, t in _DTYPES.items()}


def read_arrays(path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a safetensors file, as numpy arrays."""
    with open(path, "rb") as f:
        (length,) = np.frombuffer(f.read(8), dtype="<u8")
        header = json.loads(f.read(int(length)))
        meta = header.pop("__metadata__", None) or {}
        base = 8 + int(length)
        arrays = {}
        for name, spec in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            start, end = spec["data_offsets"]
            array = np.empty(spec["shape"], dtype=np.dtype(_DTYPES[spec["dtype"]]).newbyteorder("<"))
            if array.nbytes != end - start:
                raise ValueError(f"{name}: {end - start} bytes for shape {spec['shape']}")
            f.seek(base + start)
            if array.nbytes and f.readinto(memoryview(array.reshape(-1)).cast("B")) != array.nbytes:
                raise ValueError(f"{name}: the file ends early")
            arrays[name] = array
    return arrays, meta


def write_arrays(path, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """A safetensors file of these arrays (C order, little-endian) that the safetensors library reads."""
    arrays = {name: np.ascontiguousarray(a, dtype=np.asarray(a).dtype.newbyteorder("<")) for name, a in arrays.items()}
    header: dict = {"__metadata__": dict(metadata)}
    offset = 0
    for name, array in arrays.items():
        header[name] = {"dtype": _NAMES[array.dtype.newbyteorder("=")], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format aligns the data to 8 bytes
    with open(path, "wb") as f:
        f.write(np.uint64(len(raw)).astype("<u8").tobytes())
        f.write(raw)
        for array in arrays.values():
            f.write(memoryview(array.reshape(-1)).cast("B"))
