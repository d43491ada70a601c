"""The model contract every recommender follows (loss / score all items / score given items)."""

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

    What a model can do besides (its capabilities) is asked of it, never guessed from its type or its
    attributes: ``uses_item_text`` and ``distillable`` say it, and ``item_vectors``, ``score_query``,
    ``history_attention`` and ``with_items`` answer None, or raise a :class:`RecStudioError` that says
    so, for a model that cannot. A model overrides what it has.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    trainable: ClassVar[bool] = True
    #: What an epoch trains on: "all" = windows covering every training event (each one a target about
    #: once, each read with ``TrainConfig.min_context`` events before it); "tiles" = every event a target
    #: once, in windows that do not overlap (for models whose every window is costly, such as a language
    #: model reading histories as text); "user" = one window per user, ending at a random event of theirs,
    #: its last event the one target.
    epoch_windows: ClassVar[str] = "all"
    #: Built with the items' frozen text vectors, which it keeps as the buffer ``item_text``
    #: [n_items + 1, dim] (row 0: padding), encoded by its settings ``encoder``, ``template`` and
    #: ``pooling``: new items need theirs (see ``with_items``), and a query can be placed among them.
    uses_item_text: ClassVar[bool] = False
    #: Can learn as a distillation student (``recstudio.training.distill``): a sequence model whose
    #: state at every position (``encoder``) is scored against the item table it reads histories with
    #: (``item_table``, ``sequence_loss``), as SASRec and its text-fused variant are.
    distillable: ClassVar[bool] = False
    #: Can train on baskets (a split with ``train_basket_starts``, e.g. last-basket): its ``make_batch``
    #: takes the windows' basket ids (``baskets=``) and predicts every item of a basket from the baskets
    #: before it, never from another line of the same basket. ``fit`` refuses such a split for a trainable
    #: model that cannot (it would learn the order the file printed a basket's lines in).
    basket_training: ClassVar[bool] = False
    #: Its ``position_scores`` are costly (lm-seq reads each history as text through a language model), so
    #: a distillation that has it as the teacher keeps them once read (``recstudio.training.distill``).
    slow_position_scores: ClassVar[bool] = False

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

    def make_batch(self, sequences: np.ndarray, rng: np.random.Generator,
                   baskets: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Training batch from right-aligned padded sequences [B, L+1] (item + 1, 0 = pad); ``baskets``
        [B, L+1], each cell's basket id, for a model that has ``basket_training``."""
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

    # capabilities ---------------------------------------------------------------------------------
    def position_scores(self, histories: torch.Tensor) -> torch.Tensor:
        """Scores [B, L, n_items] after each prefix of ``histories`` [B, L] (each read as its last
        ``history_length`` items), e.g. a distillation teacher's soft targets. This default asks
        ``score`` once per prefix (correct, but L calls); models that read a whole sequence in one pass
        override it."""
        width = self.history_length
        columns = [self.score(histories[:, max(0, p + 1 - width) : p + 1]) for p in range(histories.shape[1])]
        return torch.stack(columns, dim=1)

    def item_vectors(self) -> torch.Tensor | None:
        """One vector per item, [n_items, dim] in item index order: what the model scores histories
        against (similar items have similar vectors, e.g. for diversity re-ranking); None for a model
        without item vectors (this default: the counting models). Call under ``torch.no_grad()``."""
        return None

    def score_query(self, text: str) -> torch.Tensor | None:
        """Scores [n_items] for interests stated in words, when the model reads words itself; None
        (this default) when it does not. A model that ``uses_item_text`` but returns None can still
        answer a query: its items' text vectors place it (``recstudio.runs`` does that)."""
        return None

    def history_attention(self, histories: torch.Tensor) -> torch.Tensor | None:
        """[B, L]: how much the most recent position of ``histories`` [B, L] attends to each position
        (last self-attention layer, mean over heads, in eval mode); None for a model without self-attention
        over the history (this default)."""
        return None

    def with_items(self, n_items: int, *, new_text=None, new_texts: list[str] | None = None,
                   with_events=None) -> "Recommender":
        """The model knowing ``n_items`` items, its first ``self.n_items`` unchanged (itself when there are
        no new ones), for an update with new catalogue items.

        ``new_text``: the new items' text vectors [added, dim] (models that ``uses_item_text``);
        ``new_texts``: their rendered texts (a model that reads them itself); ``with_events``: bool
        [added], which new items have events. A counting model (``trainable = False``, this default)
        starts empty at the new size and counts again in ``fit_statistics``; a trained model that cannot
        take new items raises a :class:`RecStudioError` that says so.
        """
        if not self._items_added(n_items):
            return self
        if not self.trainable:
            return type(self)(self.config, n_items)
        raise RecStudioError(f"Updating a {self.name} run with new items is not supported yet; train it again.")

    def start_from(self, source: "Recommender") -> None:
        """Take over what ``source`` (a trained model of the same kind and settings, on another catalogue)
        knows that belongs to no item, for a run started from another run (its spec's
        ``transfer_settings`` say the model can). This default cannot: it raises a :class:`RecStudioError`."""
        raise RecStudioError(f"A {self.name} run cannot start from another run; train it from scratch.")

    def _items_added(self, n_items: int) -> int:
        added = int(n_items) - self.n_items
        if added < 0:
            raise ValueError(f"a {self.name} model knows {self.n_items} items and cannot forget some ({n_items})")
        return added


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
