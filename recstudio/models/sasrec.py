"""SASRec: causal self-attention over the most recent items, scored against all items.

Training is a softmax over every item at every position (``loss="full"``), or, for large catalogues,
a sampled softmax (``loss="sampled"``): each batch draws ``negatives`` items by training popularity,
shared by all its positions; a position's softmax runs over its target and those negatives (less any
that is the target itself), each negative's logit less the log of its expected count in the draw
(log Q). The negatives then estimate the sum over all other items, so the loss and its gradient
approach the full softmax's as the draw grows (Bengio & Senecal 2008; Jean et al. 2015).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recstudio.models.base import Recommender
from recstudio.models.configs import SASRecConfig


def dropout_mask(shape: torch.Size, p: float, device: torch.device) -> tuple[torch.Tensor, float]:
    """A keep-mask for dropout at rate ``p`` and the scale that keeps expectations, drawn on the CPU from
    16-bit slices of random 64-bit words: one generator call per four elements, about 3.5x faster than
    ``bernoulli_``, which made dropout a third of a SASRec training step on a 2-core CPU. The rate is
    ``p`` rounded to 1/65536."""
    n = math.prod(shape)
    words = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=device)
    dropped = round(p * 65536)
    keep = words.view(torch.int16)[:n].view(shape) >= dropped - 32768
    return keep, 65536 / (65536 - dropped)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout``, with the CPU's mask drawn by :func:`dropout_mask` (same distribution, other draws).
    Accelerators keep PyTorch's fused kernel."""
    if not training or p <= 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return F.dropout(x, p, True)
    keep, scale = dropout_mask(x.shape, p, x.device)
    return x * keep.to(x.dtype).mul_(scale)


class Dropout(nn.Dropout):
    """``nn.Dropout`` through :func:`dropout` (fast masks on the CPU)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


class CausalSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if self.training and self.dropout > 0.0 and x.device.type == "cpu":
            # what SDPA's math path does with dropout on the CPU, with the faster mask
            weights = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
            weights = weights.masked_fill(~allowed, float("-inf")).softmax(-1)
            y = dropout(weights, self.dropout, True) @ v
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
            )
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden)
        self.attn = CausalSelfAttention(hidden, heads, dropout)
        self.norm2 = nn.LayerNorm(hidden)
        self.ff = nn.Sequential(
            nn.Linear(hidden, 4 * hidden), nn.GELU(), Dropout(dropout), nn.Linear(4 * hidden, hidden)
        )
        self.drop = Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), allowed))
        return x + self.drop(self.ff(self.norm2(x)))


class SequenceEncoder(nn.Module):
    """Transformer over a right-aligned item sequence; shared by SASRec and its text-fused variants."""

    def __init__(self, hidden: int, layers: int, heads: int, max_len: int, dropout: float,
                 scale_inputs: bool = False):
        super().__init__()
        self.input_scale = math.sqrt(hidden) if scale_inputs else 1.0
        self.position = nn.Embedding(max_len, hidden)
        self.drop = Dropout(dropout)
        self.blocks = nn.ModuleList(Block(hidden, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)

    def forward(self, item_vectors: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """item_vectors [B, L, H] for histories [B, L] (0 = padding) -> hidden states [B, L, H]."""
        b, t = histories.shape
        present = histories > 0
        # positions count back from the most recent event, so the newest item always has the same one
        positions = torch.arange(t - 1, -1, -1, device=histories.device).clamp(max=self.position.num_embeddings - 1)
        x = item_vectors * self.input_scale + self.position(positions)
        x = self.drop(x * present.unsqueeze(-1))
        causal = torch.ones(t, t, dtype=torch.bool, device=histories.device).tril()
        # a query may look at earlier real events, and always at itself: a padded row then never has
        # every key masked (the all-masked row is what makes nn.TransformerEncoder return NaN)
        allowed = (causal & present.unsqueeze(1)) | torch.eye(t, dtype=torch.bool, device=histories.device)
        allowed = allowed.unsqueeze(1)  # broadcast over heads
        for block in self.blocks:
            x = block(x, allowed)
        return self.norm(x)


def at_readout(x: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``x`` [B, L, ...] (per position of the histories) at the position each target is predicted from:
    the position itself, or with baskets the last event of the basket before the target's
    (``batch["readout"]``, see ``recstudio.data.batching.basket_readout``)."""
    readout = batch.get("readout")
    if readout is None:
        return x
    index = readout.view(*readout.shape, *([1] * (x.dim() - 2))).expand(*readout.shape, *x.shape[2:])
    return x.gather(1, index)


class SASRec(Recommender):
    name = "sasrec"
    config_class = SASRecConfig
    distillable = True
    basket_training = True

    def __init__(self, config: SASRecConfig, n_items: int):
        super().__init__(config, n_items)
        self.item_embedding = nn.Embedding(n_items + 1, config.hidden, padding_idx=0)
        self.encoder = SequenceEncoder(config.hidden, config.layers, config.heads, config.max_len, config.dropout,
                                       config.scale_inputs)
        self.apply(_init_weights)
        # log of each item's probability of being drawn as a negative (set by fit_statistics)
        self._log_p: np.ndarray | None = None
        self._cdf: np.ndarray | None = None
        # built here, never trained nor loaded: the item vectors may still start from the data (``init``)
        self._fresh = True

    def load_state_dict(self, state_dict, *args, **kwargs):
        self._fresh = False  # a checkpoint, a resumed state or another run's weights: they are what it knows
        return super().load_state_dict(state_dict, *args, **kwargs)

    def fit_statistics(self, train_indptr: np.ndarray, train_items: np.ndarray) -> None:
        """Negatives are drawn by training popularity, plus one event for every item, so that every
        item can be drawn (the negatives estimate the sum over all items only then). A model built fresh
        with ``init`` cooccurrence starts its item vectors from the data (:func:`cooccurrence_vectors`);
        one that has loaded weights (an update, a resumed run, a run started from another) keeps them."""
        weights = np.bincount(train_items, minlength=self.n_items).astype(np.float64) + 1.0
        p = weights / weights.sum()
        self._log_p, self._cdf = np.log(p), np.cumsum(p)
        if self._fresh and self.config.init == "cooccurrence" and self.item_embedding is not None:
            vectors = cooccurrence_vectors(train_indptr, train_items, self.n_items, self.config.hidden)
            with torch.no_grad():
                rows = self.item_embedding.weight[1:]
                rows[:, : vectors.shape[1]] = torch.from_numpy(vectors).to(rows.device, rows.dtype)
        self._fresh = False

    def item_table(self) -> torch.Tensor:
        """[n_items + 1, H] vectors used both as inputs and as the output scoring table (row 0: padding)."""
        return self.item_embedding.weight

    def inference_table(self) -> torch.Tensor:
        """:meth:`item_table` for scoring (a variant whose table is costly to build keeps it between calls)."""
        return self.item_table()

    def hidden_states(self, histories: torch.Tensor) -> torch.Tensor:
        table = self.item_table()
        return self.encoder(F.embedding(histories, table), histories)

    def make_batch(self, sequences: np.ndarray, rng: np.random.Generator,
                   baskets: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        seq = torch.from_numpy(sequences)
        # items stored negated are history only (training.fit.context_windows): read, never a target
        batch = {"histories": seq[:, :-1].abs(), "targets": seq[:, 1:].clamp(min=0)}
        if baskets is not None:
            # each basket's items are targets of the state at the end of the basket before it (the same
            # state the last event of a history gives at test time); the first basket in view is none
            from recstudio.data.batching import basket_readout

            readout = torch.from_numpy(basket_readout(baskets))
            batch["targets"] = batch["targets"].masked_fill(readout < 0, 0)
            batch["readout"] = readout.clamp(min=0)
        if self.config.loss == "sampled":
            batch.update(self.draw_negatives(rng))
        return batch

    def draw_negatives(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """The batch's shared negatives (item indices, with repeats) and log Q of each: the log of how
        many times the draw is expected to hold that item.

        With as many negatives as items, every item is a negative once (log Q = 0): the sampled
        softmax is then exactly the full one.
        """
        k = int(self.config.negatives)
        if k >= self.n_items:
            negatives = np.arange(self.n_items)
            log_q = np.zeros(self.n_items, dtype=np.float32)
        else:
            if self._cdf is None:  # no statistics: uniform
                self._log_p = np.full(self.n_items, -np.log(self.n_items))
                self._cdf = np.arange(1, self.n_items + 1) / self.n_items
            negatives = np.minimum(np.searchsorted(self._cdf, rng.random(k), side="right"), self.n_items - 1)
            log_q = (np.log(k) + self._log_p[negatives]).astype(np.float32)
        return {"negatives": torch.from_numpy(negatives.astype(np.int64)), "negative_log_q": torch.from_numpy(log_q)}

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.sequence_loss(self.hidden_states(batch["histories"]), batch, self.item_table())

    def sequence_loss(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor], table: torch.Tensor,
                      excluded: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy of the next item at every position that has one.

        ``hidden`` [B, L, H] are the states over ``batch["histories"]``, ``table`` [n_items + 1, H] the
        items' vectors (row 0: padding); ``excluded`` [n_items] marks items that are never candidates.
        The softmax runs over every item, or, when the batch has negatives, over the target and the
        negatives, each negative's logit less its log Q, less any negative that is the position's target.
        """
        targets = batch["targets"]
        histories, hidden = at_readout(batch["histories"], batch), at_readout(hidden, batch)
        mask = (targets > 0) & (histories > 0)
        hidden, items = hidden[mask], table[1:]
        if "negatives" not in batch:
            logits = (hidden @ items.T).float()
            if excluded is not None:
                logits = logits.masked_fill(excluded, float("-inf"))
            return F.cross_entropy(logits, targets[mask] - 1)
        wanted = targets[mask] - 1
        negatives = batch["negatives"]
        positive = (hidden * items[wanted]).sum(-1).float()
        negative = (hidden @ items[negatives].T).float() - batch["negative_log_q"]
        negative = negative.masked_fill(negatives.unsqueeze(0) == wanted.unsqueeze(1), float("-inf"))
        if excluded is not None:
            negative = negative.masked_fill(excluded[negatives], float("-inf"))
        logits = torch.cat([positive.unsqueeze(1), negative], dim=1)
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        return self.hidden_states(histories)[:, -1] @ self.item_table()[1:].T

    # capabilities ---------------------------------------------------------------------------------
    def position_scores(self, histories: torch.Tensor) -> torch.Tensor:
        """Scores [B, L, n_items] after each prefix, in one pass: the state at each position against the
        item table (causal attention: a position reads only what came before it)."""
        table = self.inference_table()
        return self.encoder(F.embedding(histories, table), histories) @ table[1:].T

    def item_vectors(self) -> torch.Tensor:
        """[n_items, H]: the item table without its padding row."""
        return self.inference_table()[1:]

    def history_attention(self, histories: torch.Tensor) -> torch.Tensor:
        """[B, L]: the last block's attention of the most recent position over the positions (mean over heads).

        Read with a forward hook on that block's attention: the hook recomputes the softmax weights from
        the module's own query/key projection and mask, because the fused attention kernel never
        materialises them. Nothing in the model changes (it is scored once, in eval mode, without grad).
        """
        attention = self.encoder.blocks[-1].attn
        captured: dict[str, torch.Tensor] = {}

        def hook(module, inputs, output):
            x, allowed = inputs
            b, t, c = x.shape
            q, k, _ = module.qkv(x).split(c, dim=2)
            q = q.view(b, t, module.heads, c // module.heads).transpose(1, 2)
            k = k.view(b, t, module.heads, c // module.heads).transpose(1, 2)
            logits = (q @ k.transpose(-1, -2)) / (c // module.heads) ** 0.5
            logits = logits.masked_fill(~allowed, float("-inf"))
            captured["weights"] = F.softmax(logits, dim=-1)[:, :, -1, :].mean(dim=1)  # [b, t]

        handle = attention.register_forward_hook(hook)
        was_training = self.training
        try:
            self.eval()
            with torch.no_grad():
                self.score_items(histories, torch.zeros((histories.shape[0], 1), dtype=torch.long,
                                                        device=histories.device))
        finally:
            handle.remove()
            self.train(was_training)
        return captured["weights"]

    def with_items(self, n_items: int, *, new_text=None, new_texts: list[str] | None = None,
                   with_events=None) -> "SASRec":
        """A copy knowing ``n_items`` items, with a row of the item table per new item: an item with events
        (``with_events``) starts at the mean item vector, one without at zero (it cannot be placed by id:
        it scores 0 until it has events and the model has trained on them)."""
        added = self._items_added(n_items)
        if not added:
            return self
        state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        self._grow_state(state, added, new_text=new_text, with_events=with_events)
        grown = self.from_state(self.config, n_items, state)
        grown.load_state_dict(state)  # the adaptor keeps the statistics it was trained with
        return grown

    def _grow_state(self, state: dict[str, torch.Tensor], added: int, *, new_text, with_events) -> None:
        """Extend ``state`` (this model's tensors, copied) in place by ``added`` items."""
        weight = state["item_embedding.weight"]
        rows = weight.new_zeros(added, weight.shape[1])
        if with_events is not None and len(weight) > 1:
            rows[torch.from_numpy(np.asarray(with_events, dtype=bool)).to(rows.device)] = weight[1:].mean(0)
        state["item_embedding.weight"] = torch.cat([weight, rows])


#: Per-coordinate spread of item vectors started from co-occurrence: five times the random start's (0.02),
#: measured best of 0.02-0.4 on the sample and ml-100k (smaller ones drown in the positions, larger overfit)
COOCCURRENCE_STD = 0.1


def cooccurrence_vectors(train_indptr: np.ndarray, train_items: np.ndarray, n_items: int, width: int) -> np.ndarray:
    """[n_items, k <= width] item vectors from which items the same users have: the top right singular
    vectors of the binary user-item matrix with rows and columns scaled by 1/sqrt(count), times their singular
    values, so two items' dot product is their count-normalised co-occurrence (item-KNN's cosine, low-rank),
    scaled to :data:`COOCCURRENCE_STD` per coordinate. Sparse throughout (truncated SVD, ARPACK, a fixed start),
    so its cost grows with the events, not with the square of the catalogue; an item without training events
    gets zeros. Fewer than ``width`` columns when the data has fewer users or items."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    n_users = len(train_indptr) - 1
    users = np.repeat(np.arange(n_users), np.diff(train_indptr))
    x = sp.csr_matrix((np.ones(len(train_items)), (users, train_items)), shape=(n_users, n_items))
    x.data[:] = 1.0  # an item bought again counts once
    per_user, per_item = np.asarray(x.sum(1)).ravel(), np.asarray(x.sum(0)).ravel()
    x = sp.diags(1 / np.sqrt(np.maximum(per_user, 1))) @ x @ sp.diags(1 / np.sqrt(np.maximum(per_item, 1)))
    k = min(width, min(x.shape) - 1)
    if k < 1:
        return np.zeros((n_items, 0), dtype=np.float32)
    _, values, right = svds(x, k=k, random_state=0)
    vectors = right.T * values
    vectors[per_item == 0] = 0.0  # exactly: the solver leaves round-off there
    spread = vectors.std()
    return (vectors / spread * COOCCURRENCE_STD if spread > 0 else vectors).astype(np.float32)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
