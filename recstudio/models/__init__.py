"""Recommenders (popularity, item-kNN, SASRec and the language-model ones) and their registry."""

from recstudio.models.base import Recommender, create_model, model_class, model_config, model_names, register

__all__ = ["Recommender", "create_model", "model_class", "model_config", "model_names", "register"]
