"""Pretrained language-model knowledge about items: text templates, text encoders, an embedding cache.

Importing this package loads nothing heavy (not even numpy): each name is imported from its module on
first use, so the model registry can read ``DEFAULT_TEMPLATE`` while ``recstudio --help`` stays instant.
torch and transformers load when something is encoded.
"""

from importlib import import_module

_HOMES = {
    "EmbeddingCache": "cache", "default_cache_dir": "cache",
    "DEFAULT_ENCODER_NAME": "encoder", "POOLINGS": "encoder", "TextEncoder": "encoder",
    "default_encoder_path": "encoder",
    "ItemTextEmbeddings": "items", "item_embeddings": "items", "iter_item_embeddings": "items",
    "DEFAULT_TEMPLATE": "text", "check_template": "text", "render_item_texts": "text", "template_fields": "text",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'recstudio.knowledge' has no attribute {name!r}")
    value = getattr(import_module(f"recstudio.knowledge.{home}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
