"""Pretrained language-model knowledge about items: text templates, text encoders, an embedding cache.

Importing this package loads neither torch nor transformers; they load when something is encoded.
"""

from recstudio.knowledge.cache import EmbeddingCache, default_cache_dir
from recstudio.knowledge.encoder import DEFAULT_ENCODER_NAME, POOLINGS, TextEncoder, default_encoder_path
from recstudio.knowledge.items import ItemTextEmbeddings, item_embeddings, iter_item_embeddings
from recstudio.knowledge.text import DEFAULT_TEMPLATE, check_template, render_item_texts, template_fields

__all__ = [
    "DEFAULT_ENCODER_NAME", "DEFAULT_TEMPLATE", "POOLINGS", "EmbeddingCache", "ItemTextEmbeddings", "TextEncoder",
    "check_template", "default_cache_dir", "default_encoder_path", "item_embeddings", "iter_item_embeddings",
    "render_item_texts", "template_fields",
]
