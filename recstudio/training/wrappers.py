"""Models that stand in for another one during training: same name, settings, parameters and saved tensors.

``fit()``, checkpoints and evaluation see the inner model through the wrapper; only what the wrapper
overrides (the loss, the statistics) differs. Used by distillation and by updates with new events.
"""

from __future__ import annotations

from typing import Any

import torch

from recstudio.models.base import Recommender


class Wrapped(Recommender):
    """Delegates the model contract to ``inner``; state_dict and load_state_dict are the inner model's, so a
    checkpoint written through the wrapper loads as the inner model."""

    def __init__(self, inner: Recommender):
        super().__init__(inner.config, inner.n_items)
        self.inner = inner
        self.name = inner.name
        self.trainable = inner.trainable
        self.epoch_windows = inner.epoch_windows
        self.uses_item_text = inner.uses_item_text
        self.distillable = inner.distillable
        self.basket_training = inner.basket_training

    @property
    def history_length(self) -> int:
        return self.inner.history_length

    def config_dict(self) -> dict[str, Any]:
        return self.inner.config_dict()

    def state_dict(self, *args, **kwargs):
        return self.inner.state_dict(*args, **kwargs)

    def load_state_dict(self, state, strict: bool = True, assign: bool = False):
        return self.inner.load_state_dict(state, strict=strict, assign=assign)

    def fit_statistics(self, train_indptr, train_items) -> None:
        self.inner.fit_statistics(train_indptr, train_items)

    def make_batch(self, sequences, rng, baskets=None):
        if baskets is None:
            return self.inner.make_batch(sequences, rng)
        return self.inner.make_batch(sequences, rng, baskets=baskets)

    def parameter_groups(self, lr: float):
        return self.inner.parameter_groups(lr)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.inner.loss(batch)

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        return self.inner.score(histories)

    def score_items(self, histories: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.inner.score_items(histories, items)

    # what the inner model can do, it can do through the wrapper
    def position_scores(self, histories: torch.Tensor) -> torch.Tensor:
        return self.inner.position_scores(histories)

    def item_vectors(self):
        return self.inner.item_vectors()

    def score_query(self, text: str):
        return self.inner.score_query(text)

    def history_attention(self, histories: torch.Tensor):
        return self.inner.history_attention(histories)

    def with_items(self, n_items: int, **new_items):
        """The inner model grown (unwrapped: a wrapper stands in only while it trains)."""
        return self.inner.with_items(n_items, **new_items)


class FixedStatistics(Wrapped):
    """Learns its statistics (popularity for negatives, which items have training events) from the data it
    is given here, not from what ``fit()`` trains on: an update trains on a sample of sequences, but the
    items it has events for are those of the whole training split."""

    def __init__(self, inner: Recommender, train_indptr, train_items):
        super().__init__(inner)
        inner.fit_statistics(train_indptr, train_items)

    def fit_statistics(self, train_indptr, train_items) -> None:
        pass
