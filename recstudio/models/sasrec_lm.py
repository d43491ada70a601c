"""SASRec with language-model knowledge: each item's vector fuses a learned id embedding with its
frozen text vector, adapted as in UniSRec (parametric whitening + a mixture of projection experts).

The fused table is both the sequence input and the output scoring table. An item never seen in
training has no trustworthy id vector, so it is placed by its text alone; hiding random items'
id vectors during training (``id_dropout``) teaches the model to score such text-only vectors.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recstudio.models.base import padded_item_text
from recstudio.models.configs import SASRecLMConfig
from recstudio.models.sasrec import SASRec


class TextAdaptor(nn.Module):
    """Frozen text vectors [N, d] -> item space [N, hidden].

    Texts are first centred and scaled by the catalogue's statistics (buffers, kept in checkpoints),
    so any encoder's vectors arrive at unit scale. Then:

    - ``linear``: one parametric whitening layer, ``(z - b) W`` with a learned bias b.
    - ``whiten-moe``: ``experts`` such layers mixed by a softmax gate on z (UniSRec's MoE adaptor).

    A fixed PCA whitening was tried and dropped: it gives the catalogue's idiosyncratic directions the
    same weight as the shared ones (genre, theme), and in a small catalogue turns item vectors into a
    simplex in which an item is anti-correlated with its own kind, which buries exactly the cold items
    text should place. The learned affine layers whiten only as much as the data asks.
    """

    def __init__(self, text: torch.Tensor, hidden: int, kind: str, experts: int, dropout: float):
        super().__init__()
        self.kind = kind
        x = text.double()
        mean = x.mean(0)
        d = x.shape[1]
        scale = (x - mean).pow(2).sum(1).mean().clamp(min=1e-12).sqrt() / np.sqrt(d)  # per-dim rms
        self.register_buffer("mean", mean.float())
        self.register_buffer("scale", scale.float())
        self.drop = nn.Dropout(dropout)
        n_experts = experts if kind == "whiten-moe" else 1
        self.bias = nn.Parameter(torch.zeros(n_experts, d))
        self.proj = nn.Parameter(torch.randn(n_experts, d, hidden) * (0.05 / np.sqrt(d)))
        self.gate = nn.Linear(d, n_experts, bias=False) if n_experts > 1 else None
        if self.gate is not None:
            nn.init.zeros_(self.gate.weight)  # experts start equally weighted

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        z = (text - self.mean) / self.scale  # [N, d]
        z = self.drop(z)
        n_experts, d, hidden = self.proj.shape
        # (z - b_k) W_k as z [W_1 .. W_E] - b_k W_k: one matmul, no [N, E, d] intermediate
        experts = (z @ self.proj.permute(1, 0, 2).reshape(d, n_experts * hidden)).view(-1, n_experts, hidden)
        experts = experts - torch.einsum("ed,edh->eh", self.bias, self.proj)  # [N, E, H]
        if self.gate is None:
            return experts[:, 0]
        weights = torch.softmax(self.gate(z), dim=-1).unsqueeze(-1)  # [N, E, 1]
        return (weights * experts).sum(1)


class SASRecLM(SASRec):
    name = "sasrec-lm"
    config_class = SASRecLMConfig
    uses_item_text = True

    def __init__(self, config: SASRecLMConfig, n_items: int, item_text=None):
        super().__init__(config, n_items)
        text = padded_item_text(item_text, n_items, "SASRecLM")
        # the frozen text vectors travel in the checkpoint, so a saved run loads without re-encoding
        self.register_buffer("item_text", text)
        # items with training events; the others have no learned id vector and are their text alone
        self.register_buffer("trained_items", torch.ones(n_items + 1, dtype=torch.bool))
        self.adaptor = TextAdaptor(text[1:], config.hidden, config.adaptor, config.experts, config.dropout)
        if config.fusion == "text-only":
            self.item_embedding = None
            self.gate = None
        else:
            self.gate = nn.Linear(2 * config.hidden, config.hidden)
            nn.init.normal_(self.gate.weight, std=0.02)
            nn.init.zeros_(self.gate.bias)

    @classmethod
    def from_state(cls, config, n_items: int, state: dict):
        return cls(config, n_items, item_text=state["item_text"])

    #: Tensors that describe one catalogue: its items' id vectors, text vectors and which have events, and
    #: the adaptor's centring statistics (buffers computed from the catalogue's text vectors, not learned)
    CATALOGUE_STATE = ("item_embedding.weight", "item_text", "trained_items", "adaptor.mean", "adaptor.scale")

    def start_from(self, source: "SASRecLM") -> None:
        """Take ``source``'s transformer (blocks, positions, norms), text adaptor (learned whitening and
        experts) and fusion gate; keep this model's own catalogue: its text vectors, the adaptor's centring
        statistics computed from them (each catalogue is centred on its own typical item, so the learned
        layers read the same kind of deviation from it), and id vectors at zero, so the model starts as a
        text-only model of the new catalogue and its ids then learn."""
        if type(source) is not type(self):
            raise ValueError(f"a sasrec-lm model cannot start from a {source.name} model")
        own = self.state_dict()
        carried = {k: v for k, v in source.state_dict().items() if k not in self.CATALOGUE_STATE}
        if set(carried) != set(own) - set(self.CATALOGUE_STATE):
            raise ValueError("the source model's tensors do not match this model's")
        if source.item_text.shape[1] != self.item_text.shape[1]:
            raise ValueError(f"text vectors of {source.item_text.shape[1]} and {self.item_text.shape[1]} dimensions")
        self.load_state_dict({**own, **carried})
        if self.item_embedding is not None:
            with torch.no_grad():
                self.item_embedding.weight.zero_()

    def _grow_state(self, state: dict[str, torch.Tensor], added: int, *, new_text, with_events) -> None:
        """New items come with their text vectors ``new_text`` [added, dim], which place them; their id
        vectors start at zero and they count as untrained until they have events (``fit_statistics``)."""
        if new_text is None or len(new_text) != added:
            raise ValueError("a text-aware model needs the new items' text vectors")
        if "item_embedding.weight" in state:  # fusion "text-only" has no id vectors
            weight = state["item_embedding.weight"]
            state["item_embedding.weight"] = torch.cat([weight, weight.new_zeros(added, weight.shape[1])])
        text = state["item_text"]
        state["item_text"] = torch.cat([text, torch.as_tensor(new_text, dtype=text.dtype, device=text.device)])
        state["trained_items"] = torch.cat([state["trained_items"], state["trained_items"].new_zeros(added)])

    def fit_statistics(self, train_indptr: np.ndarray, train_items: np.ndarray) -> None:
        super().fit_statistics(train_indptr, train_items)  # what negatives are drawn from
        seen = np.bincount(train_items, minlength=self.n_items) > 0
        self.trained_items.copy_(torch.from_numpy(np.concatenate([[False], seen])))

    def item_table(self) -> torch.Tensor:
        """[n_items + 1, H]: row 0 (padding) is zero."""
        text = self.adaptor(self.item_text)
        real = torch.ones(self.n_items + 1, 1, device=text.device, dtype=text.dtype)
        real[0] = 0
        if self.config.fusion == "text-only":
            return text * real
        visible = self.trained_items
        if self.training and self.config.id_dropout > 0:
            visible = visible & (torch.rand(visible.shape, device=visible.device) >= self.config.id_dropout)
        ids = self.item_embedding.weight * visible.unsqueeze(-1).to(text.dtype)
        gate = torch.sigmoid(self.gate(torch.cat([ids, text], dim=-1)))
        return (gate * ids + (1 - gate) * text) * real

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        histories = batch["histories"]
        table = self.item_table()  # once per step: id dropout must hide the same items in and out
        hidden = self.encoder(F.embedding(histories, table), histories)
        # items without training events are not in the training catalogue at all: pushing them down
        # as negatives would teach the adaptor to bury exactly the items text is there to place
        return self.sequence_loss(hidden, batch, table, excluded=~self.trained_items[1:])

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        table = self.inference_table()
        return self.encoder(F.embedding(histories, table), histories)[:, -1] @ table[1:].T

    def inference_table(self) -> torch.Tensor:
        """:meth:`item_table`, kept between calls at inference (eval mode, no grad): building it runs the
        adaptor over every item, which costs far more than scoring one history. It is built again when
        any parameter or buffer was replaced or changed in place (an optimiser step, a loaded state,
        new items), as tensors' version counters tell, or moved to another device."""
        if self.training or torch.is_grad_enabled():
            return self.item_table()
        key = tuple((id(t), t._version, t.device, t.dtype) for t in itertools.chain(self.parameters(), self.buffers()))
        cached = self.__dict__.get("_inference_table")
        if cached is None or cached[0] != key:
            cached = (key, self.item_table())
            self.__dict__["_inference_table"] = cached
        return cached[1]
