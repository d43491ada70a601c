"""Item-kNN: items similar (cosine over who touched them) to the ones in the history."""

from __future__ import annotations

import numpy as np
import torch

from recstudio.models.base import Recommender
from recstudio.models.configs import ItemKNNConfig


class ItemKNN(Recommender):
    name = "itemknn"
    config_class = ItemKNNConfig
    trainable = False

    def __init__(self, config: ItemKNNConfig, n_items: int):
        super().__init__(config, n_items)
        k = max(1, min(config.neighbours, n_items))
        self.register_buffer("neighbour_items", torch.zeros(n_items, k, dtype=torch.long))
        self.register_buffer("neighbour_sims", torch.zeros(n_items, k))

    def fit_statistics(self, train_indptr: np.ndarray, train_items: np.ndarray) -> None:
        from scipy import sparse

        n_users = len(train_indptr) - 1
        users = np.repeat(np.arange(n_users), np.diff(train_indptr))
        interactions = sparse.csr_matrix(
            (np.ones(len(train_items), dtype=np.float32), (users, train_items)), shape=(n_users, self.n_items)
        )
        interactions.data[:] = 1.0  # repeats count once
        co = (interactions.T @ interactions).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        norms = np.sqrt(np.asarray(interactions.sum(axis=0)).ravel())
        # cosine with shrinkage: co / (|a||b| + shrink)
        rows = np.repeat(np.arange(self.n_items), np.diff(co.indptr))
        co.data = co.data / (norms[rows] * norms[co.indices] + self.config.shrink)
        k = self.neighbour_items.shape[1]
        top_items = np.zeros((self.n_items, k), dtype=np.int64)
        top_sims = np.zeros((self.n_items, k), dtype=np.float32)
        dense_block = 4096  # bounded memory: rows are densified a block at a time
        for start in range(0, self.n_items, dense_block):
            block = co[start : start + dense_block].toarray()
            kk = min(k, block.shape[1])
            idx = np.argpartition(-block, kk - 1, axis=1)[:, :kk]
            top_items[start : start + len(block), :kk] = idx
            top_sims[start : start + len(block), :kk] = np.take_along_axis(block, idx, axis=1)
        self.neighbour_items.copy_(torch.from_numpy(top_items))
        self.neighbour_sims.copy_(torch.from_numpy(top_sims))

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        batch = histories.shape[0]
        present = histories > 0
        items = (histories - 1).clamp(min=0)
        neighbours = self.neighbour_items[items]  # [B, L, k]
        sims = self.neighbour_sims[items] * present.unsqueeze(-1)
        scores = torch.zeros(batch, self.n_items, device=histories.device, dtype=sims.dtype)
        scores.scatter_add_(1, neighbours.reshape(batch, -1), sims.reshape(batch, -1))
        return scores
