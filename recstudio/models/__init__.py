"""Recommenders (popularity, item-kNN, SASRec and the language-model ones) and their registry.

The registry and settings import without torch; the model classes load when a model is built.
"""

from recstudio.models.configs import MODEL_SPECS, ModelSpec
from recstudio.models.registry import (
    create_model, fresh_only_settings, key_settings, model_class, model_config, model_names, model_spec, setting_help,
    setting_label,
)

__all__ = ["MODEL_SPECS", "ModelSpec", "create_model", "fresh_only_settings", "key_settings", "model_class",
           "model_config", "model_names", "model_spec", "setting_help", "setting_label"]
