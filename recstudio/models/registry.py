"""Finding models by name and building their settings; importable without torch."""

from __future__ import annotations

import dataclasses
from typing import Any

from recstudio.errors import RecStudioError


def model_names() -> list[str]:
    from recstudio.models.configs import MODEL_SPECS

    return list(MODEL_SPECS)


def model_spec(name: str):
    from recstudio.models.configs import MODEL_SPECS

    if name not in MODEL_SPECS:
        raise RecStudioError(f"Unknown model {name!r}; choose one of: {', '.join(MODEL_SPECS)}.")
    return MODEL_SPECS[name]


def _setting_field(model: str, setting: str):
    """The config field of ``setting`` of ``model`` (a user error for an unknown model), or None when the
    model has no such setting (e.g. one a run saved by an older version recorded)."""
    for f in dataclasses.fields(model_spec(model).config_class):
        if f.name == setting:
            return f
    return None


def setting_label(model: str, setting: str) -> str:
    """The words a form labels ``setting`` of ``model`` with, e.g. "Hidden size" for sasrec's ``hidden``;
    a setting the model does not have (any longer) reads as its name in sentence case."""
    f = _setting_field(model, setting)
    label = f.metadata.get("label") if f is not None else None
    return label or setting.replace("_", " ").capitalize()


def setting_help(model: str, setting: str) -> str | None:
    """The tooltip-sized explanation of ``setting`` of ``model``; None when it has none."""
    f = _setting_field(model, setting)
    return (f.metadata.get("help") or None) if f is not None else None


def key_settings(model: str) -> tuple[str, ...]:
    """The settings of ``model`` that tell its runs apart (the runs table shows them; the others are in the
    tooltip), in the config's order; empty for a model without settings."""
    return _marked_settings(model, "key")


def fresh_only_settings(model: str) -> tuple[str, ...]:
    """The settings of ``model`` that decide how a model built fresh starts (``fresh_only``, e.g. sasrec's
    ``init``): they mean nothing for a run that starts from another run's weights."""
    return _marked_settings(model, "fresh_only")


def _marked_settings(model: str, mark: str) -> tuple[str, ...]:
    """The settings of ``model`` whose field metadata sets ``mark``, in the config's order."""
    return tuple(f.name for f in dataclasses.fields(model_spec(model).config_class) if f.metadata.get(mark))


def model_class(name: str):
    import importlib

    spec = model_spec(name)
    return getattr(importlib.import_module(spec.module), spec.class_name)


def model_config(name: str, overrides: dict[str, Any] | None = None, saved: bool = False) -> Any:
    """The model's config dataclass with defaults, updated by ``overrides`` (checked by name and type).
    With ``saved``, ``overrides`` is a saved run's config: settings added since it was saved take the value
    it was trained with (``configs.LEGACY_SETTINGS``), not today's default."""
    spec = model_spec(name)
    fields = {f.name: f for f in dataclasses.fields(spec.config_class)}
    values: dict[str, Any] = {}
    if saved:
        from recstudio.models.configs import LEGACY_SETTINGS

        overrides = {**{k: v for k, v in LEGACY_SETTINGS.items() if k in fields}, **(overrides or {})}
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise RecStudioError(
                f"Model {name!r} has no setting {key!r}; its settings are: {', '.join(fields) or 'none'}."
            )
        values[key] = _coerce(name, key, fields[key].default, value)
        choices = fields[key].metadata.get("choices")
        if choices is not None and values[key] not in choices:
            raise RecStudioError(
                f"Setting {key!r} of model {name!r} must be one of: {', '.join(map(str, choices))}; got {value!r}."
            )
        low, high = fields[key].metadata.get("min"), fields[key].metadata.get("max")
        if (low is not None and values[key] < low) or (high is not None and values[key] > high):
            raise RecStudioError(f"Setting {key!r} of model {name!r} must be between {low} and {high}, got {value!r}.")
    return spec.config_class(**values)


def _coerce(model: str, key: str, default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, (int, float)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RecStudioError(f"Setting {key!r} of model {model!r} needs a number, got {value!r}.") from None
        if isinstance(default, int):
            if not number.is_integer():
                raise RecStudioError(f"Setting {key!r} of model {model!r} needs a whole number, got {value!r}.")
            return int(number)
        return number
    return value


def create_model(name: str, n_items: int, config: Any = None, *, item_text: Any = None,
                 item_texts: list[str] | None = None):
    """A new model; ``item_text`` (float [n_items, dim] text vectors) is required by, and only given
    to, models whose spec says ``uses_item_text``; ``item_texts`` (each item's rendered text) likewise
    for ``uses_item_strings``."""
    spec = model_spec(name)
    cls = model_class(name)
    config = config if config is not None else spec.config_class()
    if spec.uses_item_strings:
        if item_text is None or item_texts is None:
            raise ValueError(f"model {name!r} needs item_text and item_texts (see recstudio.knowledge.item_embeddings)")
        return cls(config, n_items, item_text=item_text, item_texts=item_texts)
    if spec.uses_item_text:
        if item_text is None:
            raise ValueError(f"model {name!r} needs item_text (see recstudio.knowledge.item_embeddings)")
        return cls(config, n_items, item_text=item_text)
    return cls(config, n_items)
