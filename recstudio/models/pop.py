"""Most-popular baseline: every user gets the items with the most training events."""

from __future__ import annotations

import numpy as np
import torch

from recstudio.models.base import Recommender
from recstudio.models.configs import PopConfig


class Popularity(Recommender):
    name = "pop"
    config_class = PopConfig
    trainable = False

    def __init__(self, config: PopConfig, n_items: int):
        super().__init__(config, n_items)
        self.register_buffer("counts", torch.zeros(n_items))

    @property
    def history_length(self) -> int:
        return 1

    def fit_statistics(self, train_indptr: np.ndarray, train_items: np.ndarray) -> None:
        counts = np.bincount(train_items, minlength=self.n_items).astype(np.float32)
        self.counts.copy_(torch.from_numpy(counts))

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        return self.counts.unsqueeze(0).expand(histories.shape[0], -1).clone()
