"""The model contract every recommender follows, and the registry that finds models by name."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from recstudio.errors import RecStudioError


class Recommender(nn.Module):
    """A sequential recommender over ``n_items`` items.

    Histories arrive as a LongTensor [B, L] of item index + 1, right-aligned with 0 as left
    padding (see ``recstudio.data.batching``). Scores are over item indices 0..n_items-1.

    - ``loss(batch)``: training loss for a batch dict (model-specific keys, see ``make_batch``).
    - ``score(histories) -> [B, n_items]``: full-ranking scores (higher is better).
    - ``score_items(histories, items) -> [B, C]``: scores of given candidate items.
    Models that learn by counting (``trainable = False``) build themselves in ``fit_statistics``.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    trainable: ClassVar[bool] = True
    description: ClassVar[str] = ""

    def __init__(self, config: Any, n_items: int):
        super().__init__()
        self.config = config
        self.n_items = int(n_items)

    @property
    def history_length(self) -> int:
        """How many of the most recent events the model reads."""
        return int(getattr(self.config, "max_len", 50))

    def fit_statistics(self, train_indptr: np.ndarray, train_items: np.ndarray) -> None:
        """Counting models learn here from per-user training sequences; neural ones may use it
        for initialisation. The default does nothing."""

    def make_batch(self, sequences: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Training batch from right-aligned padded sequences [B, L+1] (item + 1, 0 = pad)."""
        raise NotImplementedError

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        # forward is the loss so that a DistributedDataParallel wrapper synchronises gradients
        return self.loss(batch)

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score_items(self, histories: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.score(histories).gather(1, items)

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)


_REGISTRY: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    _REGISTRY[cls.name] = cls
    return cls


def model_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def model_class(name: str) -> type[Recommender]:
    _load_builtin()
    if name not in _REGISTRY:
        raise RecStudioError(f"Unknown model {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}.")
    return _REGISTRY[name]


def model_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The model's config dataclass with defaults, updated by ``overrides`` (checked by name and type)."""
    cls = model_class(name)
    fields = {f.name: f for f in dataclasses.fields(cls.config_class)}
    values: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise RecStudioError(
                f"Model {name!r} has no setting {key!r}; its settings are: {', '.join(fields)}."
            )
        default = fields[key].default
        if isinstance(default, bool) and isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(default, (int, float)) and not isinstance(default, bool) and isinstance(value, str):
            try:
                value = type(default)(float(value)) if isinstance(default, int) else float(value)
            except ValueError:
                raise RecStudioError(f"Setting {key!r} of model {name!r} needs a number, got {value!r}.") from None
        values[key] = value
    return cls.config_class(**values)


def create_model(name: str, n_items: int, config: Any = None) -> Recommender:
    cls = model_class(name)
    return cls(config if config is not None else cls.config_class(), n_items)


def _load_builtin() -> None:
    # importing the modules registers them
    from recstudio.models import itemknn, pop, sasrec  # noqa: F401
