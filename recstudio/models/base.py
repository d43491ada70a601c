"""The model contract every recommender follows (loss / score all items / score given items)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn



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
    #: What an epoch trains on: "all" = windows covering every training event (each one a target about
    #: once); "user" = one window per user, ending at a random event of theirs, its last event the one
    #: target (for models whose step is costly, such as a language model reading histories as text).
    epoch_windows: ClassVar[str] = "all"

    def __init__(self, config: Any, n_items: int):
        super().__init__()
        self.config = config
        self.n_items = int(n_items)

    @classmethod
    def from_state(cls, config: Any, n_items: int, state: dict[str, torch.Tensor]) -> "Recommender":
        """An empty model shaped to receive ``state`` (a checkpoint's tensors); models built from
        data besides the config (e.g. item text vectors) take it from the state here."""
        return cls(config, n_items)

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

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """The optimiser's parameter groups at learning rate ``lr``; a model may give some parameters
        another rate (e.g. pretrained weights a smaller one) or leave frozen ones out."""
        return [{"params": list(self.parameters())}]

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        # forward is the loss so that a DistributedDataParallel wrapper synchronises gradients
        return self.loss(batch)

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score_items(self, histories: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.score(histories).gather(1, items)

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)


def padded_item_text(item_text, n_items: int, model: str) -> torch.Tensor:
    """Frozen item text vectors as float32 [n_items + 1, dim] with a zero row 0 (the padding item, as
    in the id tables), from [n_items(+1), dim] numpy or torch."""
    if item_text is None:
        raise ValueError(f"{model} needs item_text: float [n_items, dim] text vectors")
    text = torch.as_tensor(np.asarray(item_text, dtype=np.float32) if not torch.is_tensor(item_text)
                           else item_text.float())
    if text.ndim != 2 or text.shape[0] not in (n_items, n_items + 1):
        raise ValueError(f"item_text must be [n_items(+1), dim], got {tuple(text.shape)} for {n_items} items")
    if text.shape[0] == n_items:
        text = torch.cat([torch.zeros(1, text.shape[1]), text])
    return text.contiguous()
