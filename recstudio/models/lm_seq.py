"""lm-seq: a pretrained language model reads the user's recent history as text and scores every item.

A history of item indices is rendered as its items' texts (the catalogue template), oldest first, joined
by a separator and cut from the left, whole items at a time, to ``max_tokens``. The language model (any
Hugging Face encoder or decoder; the bundled all-MiniLM-L6-v2 by default) reads it, its token states are
pooled (mean, or the last token for a decoder) and projected into the item space, where items are scored:

- ``head="text"``: against each item's frozen text vector (the same language model's cached encoding of
  the item's text) through a learned adaptor, plus a learned id vector (``id_embeddings``) that starts from
  the data's co-occurrence (``id_init``); an item nobody has touched has no id vector but still its text, so
  it can be recommended. Cosine scores times a learned scale, plus a
  per-item bias that starts at the item's log training popularity (the usual prior-initialised output).
- ``head="linear"``: one learned output per item id, as in the seed text (no text behind the items).

Training (``targets="every-item"``, the default) reads a window of a user's history once and predicts the
next item at every item boundary: an encoder's tokens see only their own item's text and older items'
(a causal item-block attention mask), a decoder reads left to right anyway, and each boundary is pooled
from the tokens up to it, so each item's reading is what that history alone would give (and is how a
history is read at inference). An epoch tiles every user's sequence, each event a target once.
``targets="last"`` (runs saved before it existed): one window per user and epoch, its last item the one
target, read with full attention.

Each item's text is tokenised once, when the model is made, into a padded token table kept among the
model's tensors (so a checkpoint carries it); rendering a batch of histories is then a gather and a
scatter on the model's device, for training, evaluation and any ad-hoc history (the inspector, the
explanations' sub-histories) alike: no Python tokenisation per history.

Only what trains is saved: the language model is named by its folder or hub id (``encoder``) and the
digest of its weights (``backbone_digest``); its frozen weights are read from there when a checkpoint
loads, and a model whose weights have changed is refused.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recstudio.errors import RecStudioError
from recstudio.knowledge.encoder import is_decoder
from recstudio.models.base import Recommender, padded_item_text
from recstudio.models.configs import LMSeqConfig
from recstudio.models.lm_backbone import block_mask, digest_of, prepare_backbone, tokenise_items, width_of

INITIAL_LOGIT_SCALE = 20.0


class LMSeq(Recommender):
    name = "lm-seq"
    config_class = LMSeqConfig
    epoch_windows = "user"  # one window per user and epoch: each step reads whole histories as text
    basket_training = True  # its one target, a window's last item, is read after the basket before its own
    uses_item_text = True
    slow_position_scores = True  # a distillation keeps its scores once read

    def __init__(self, config: LMSeqConfig, n_items: int, item_text=None, item_texts: list[str] | None = None,
                 *, tokens: dict[str, torch.Tensor] | None = None):
        """``item_text``: float [n_items(+1), dim] frozen text vectors (``recstudio.knowledge``);
        ``item_texts``: each item's rendered text, tokenised here; or ``tokens``: the token tensors of a
        saved model (see :meth:`from_state`), so loading needs no tokenizer."""
        super().__init__(config, n_items)
        from recstudio.knowledge.encoder import TextEncoder

        text = padded_item_text(item_text, n_items, "LMSeq")
        self.register_buffer("item_text", text)
        self.register_buffer("trained_items", torch.ones(n_items + 1, dtype=torch.bool))
        # the bias starts at the log training popularity once, not again when a trained model is updated
        self.register_buffer("prior_set", torch.zeros((), dtype=torch.bool))

        loader = TextEncoder(config.encoder, pooling=config.pooling, device="cpu")
        self.pooling = loader.pooling  # "auto" resolved by the model's type
        backbone = loader.load_model(dtype=torch.float32)
        if getattr(backbone.config, "is_encoder_decoder", False):
            backbone = backbone.get_encoder()
        self.register_buffer("backbone_digest", digest_of(loader))
        width = width_of(backbone.config)
        positions = getattr(backbone.config, "max_position_embeddings", None) or config.max_tokens
        self.max_tokens = int(min(config.max_tokens, positions))
        if tokens is None:
            if item_texts is None or len(item_texts) != n_items:
                raise ValueError(f"LMSeq needs item_texts: one text per item ({n_items})")
            tokens = tokenise_items(loader.load_tokenizer(), item_texts, config.item_tokens, self.max_tokens,
                                    self.pooling)
        for key in ("item_tokens", "item_lengths", "prefix_ids", "suffix_ids", "pad_id", "sep_length"):
            self.register_buffer(key, torch.as_tensor(tokens[key]).clone())
        if self.body_budget < 1:
            raise RecStudioError(f"max_tokens ({config.max_tokens}) leaves no room for item text; raise it.")

        self.backbone = prepare_backbone(backbone, config)
        # every item boundary a target: one window per stretch of history, each read once an epoch
        self.epoch_windows = "user" if config.targets == "last" else "tiles"
        # an encoder reads the whole text both ways: a mask keeps each item's tokens off later items'
        self.mask_form = None if config.targets == "last" or is_decoder(backbone.config) else block_mask(self.backbone)
        self.drop = nn.Dropout(config.dropout)
        # the language model's pooled history and its pooled item texts live in one space: start as the identity
        self.project = nn.Linear(width, width)
        _identity(self.project)
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.adaptor = self.ids = self.output = self.logit_scale = None
        if config.head == "text":
            self.adaptor = nn.Linear(text.shape[1], width)
            _identity(self.adaptor)
            if config.id_embeddings:
                self.ids = nn.Embedding(n_items + 1, width, padding_idx=0)
                nn.init.zeros_(self.ids.weight)
            self.logit_scale = nn.Parameter(torch.tensor(math.log(INITIAL_LOGIT_SCALE)))
        else:
            self.output = nn.Linear(width, n_items, bias=False)
            nn.init.normal_(self.output.weight, std=0.02)

        # checkpoints hold what trains, not the pretrained weights read from ``encoder``
        trained = {f"backbone.{n}" for n, p in self.backbone.named_parameters() if p.requires_grad}
        self._pretrained = {k for k in self.state_dict() if k.startswith("backbone.") and k not in trained}
        self.register_state_dict_post_hook(_drop_pretrained)
        self.register_load_state_dict_pre_hook(_keep_pretrained)

    @classmethod
    def from_state(cls, config: LMSeqConfig, n_items: int, state: dict):
        missing = [k for k in ("item_text", "item_tokens", "backbone_digest") if k not in state]
        if missing:
            raise RecStudioError(f"This lm-seq checkpoint lacks {', '.join(missing)}; train the run again.")
        model = cls(config, n_items, item_text=state["item_text"], tokens=state)
        if not torch.equal(model.backbone_digest, state["backbone_digest"].to(model.backbone_digest.dtype)):
            raise RecStudioError(
                f"The run's language model ({config.encoder or 'the bundled all-MiniLM-L6-v2'}) has changed since it "
                "was trained: its weights are not the ones the run learned on. Restore that model or train the run again."
            )
        return model

    # what trains ---------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        super().train(mode)
        # the language model reads without dropout, its trained layers too (the pooled reading has its own):
        # a frozen layer then reads a history the same way every time, and attention without dropout takes
        # the fused kernels (on ml-100k a training step costs half as much)
        self.backbone.eval()
        return self

    def parameter_groups(self, lr: float) -> list[dict]:
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        own = [p for n, p in self.named_parameters() if p.requires_grad and not n.startswith("backbone.")]
        groups = [{"params": own, "lr": lr}]
        if backbone:
            groups.append({"params": backbone, "lr": lr * self.config.backbone_lr})
        return groups

    def fit_statistics(self, train_indptr: np.ndarray, train_items: np.ndarray) -> None:
        counts = np.bincount(train_items, minlength=self.n_items)
        self.trained_items.copy_(torch.from_numpy(np.concatenate([[False], counts > 0])))
        if not bool(self.prior_set):
            with torch.no_grad():
                self.item_bias.copy_(torch.from_numpy(popularity_prior(counts)))
                if self.ids is not None and self.config.id_init == "cooccurrence":
                    self.ids.weight[1:] = self.cooccurrence_ids(train_indptr, train_items, counts > 0)
                self.prior_set.fill_(True)

    def cooccurrence_ids(self, train_indptr: np.ndarray, train_items: np.ndarray, seen: np.ndarray) -> torch.Tensor:
        """[n_items, width] starting id vectors: the data's co-occurrence vectors (sasrec's start,
        :func:`~recstudio.models.sasrec.cooccurrence_vectors`), scaled so that a trained item's is on average
        as long as its adapted text vector; the item table then starts as text and co-occurrence in equal parts."""
        from recstudio.models.sasrec import cooccurrence_vectors

        width = self.ids.weight.shape[1]
        vectors = torch.zeros(self.n_items, width)
        found = torch.from_numpy(cooccurrence_vectors(train_indptr, train_items, self.n_items, width))
        vectors[:, : found.shape[1]] = found
        seen = torch.from_numpy(seen)
        if seen.any() and found.shape[1]:
            text = self.adaptor(self.item_text[1:]).norm(dim=-1)[seen].mean()
            vectors *= text.cpu() / vectors[seen].norm(dim=-1).mean().clamp(min=1e-12)
        return vectors.to(self.ids.weight.device, self.ids.weight.dtype)

    def with_items(self, n_items: int, *, new_text=None, new_texts: list[str] | None = None,
                   with_events=None) -> "LMSeq":
        """A copy that knows ``n_items`` items: the first ``self.n_items`` unchanged, the new ones placed by
        their text vectors ``new_text`` and read from their rendered texts ``new_texts`` (tokenised with the
        run's tokenizer), their bias that of a typical trained item until they have events."""
        added = self._items_added(n_items)
        if not added:
            return self
        if new_text is None or new_texts is None:
            raise ValueError(f"a {self.name} model needs the new items' text vectors and texts")
        if len(new_texts) != added or len(new_text) != added:
            raise ValueError(f"with_items() needs {added} new items' vectors and texts")
        from recstudio.knowledge.encoder import TextEncoder

        tokenizer = TextEncoder(self.config.encoder, pooling=self.pooling).load_tokenizer()
        cap = self.item_tokens.shape[1] - int(self.sep_length)
        fresh = tokenise_items(tokenizer, list(new_texts), cap, self.max_tokens, self.pooling)
        state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        table = torch.zeros(added, self.item_tokens.shape[1], dtype=self.item_tokens.dtype)
        table[:, : fresh["item_tokens"].shape[1]] = fresh["item_tokens"][1:].to(table.dtype)
        state["item_tokens"] = torch.cat([state["item_tokens"], table])
        state["item_lengths"] = torch.cat([state["item_lengths"], fresh["item_lengths"][1:]])
        state["item_text"] = torch.cat([state["item_text"], torch.as_tensor(np.asarray(new_text), dtype=torch.float32)])
        state["trained_items"] = torch.cat([state["trained_items"], torch.zeros(added, dtype=torch.bool)])
        bias = state["item_bias"]
        typical = bias[self.trained_items[1:]].median() if bool(self.trained_items[1:].any()) else bias.new_zeros(())
        state["item_bias"] = torch.cat([bias, typical.expand(added)])
        if "ids.weight" in state:
            weight = state["ids.weight"]
            state["ids.weight"] = torch.cat([weight, weight.new_zeros(added, weight.shape[1])])
        if "output.weight" in state:
            weight = state["output.weight"]
            state["output.weight"] = torch.cat([weight, weight.new_zeros(added, weight.shape[1])])
        grown = type(self)(self.config, n_items, item_text=state["item_text"], tokens=state)
        grown.load_state_dict(state)
        return grown

    # histories as text -----------------------------------------------------------------------------
    @property
    def body_budget(self) -> int:
        return self.max_tokens - len(self.prefix_ids) - len(self.suffix_ids)

    def render(self, histories: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask [B, T] (padding on the right) for histories [B, L] (item + 1, 0 =
        none, anywhere): the items' texts oldest first, each after the separator but the first, the oldest
        whole items dropped until the text fits, between the tokenizer's special tokens."""
        ids, mask, _, _ = self.layout(histories)
        return ids, mask

    def layout(self, histories: torch.Tensor):
        """:meth:`render`'s ids and mask, plus each token's item block [B, T] (the history cell its text
        comes from; -1 for the leading special tokens, L for the trailing ones and padding) and each
        cell's last token [B, L] (-1 for a cell not read: no item, or dropped to fit)."""
        histories = histories.long()
        device = histories.device
        b, cells = histories.shape
        sep = int(self.sep_length)
        lengths = self.item_lengths[histories]  # [B, L]: separator + text, 0 for no item
        later = lengths.flip(1).cumsum(1).flip(1)  # this item's tokens and every later one's
        lengths = lengths * (later - sep <= self.body_budget)  # the first item read loses its separator
        width = self.item_tokens.shape[1]
        valid = (torch.arange(width, device=device) < lengths.unsqueeze(-1)).flatten(1)  # [B, L * P]
        position = valid.cumsum(1) - 1 - sep
        valid &= position >= 0
        body = (lengths.sum(1) - sep).clamp(min=0)
        n_prefix, n_suffix = len(self.prefix_ids), len(self.suffix_ids)
        total = n_prefix + int(body.max()) + n_suffix
        ids = torch.full((b, total), int(self.pad_id), dtype=torch.long, device=device)
        ids[:, :n_prefix] = self.prefix_ids
        rows = torch.arange(b, device=device).unsqueeze(1).expand_as(valid)
        ids[rows[valid], position[valid] + n_prefix] = self.item_tokens[histories].flatten(1)[valid].long()
        blocks = torch.full((b, total), cells, dtype=torch.long, device=device)
        blocks[:, :n_prefix] = -1
        cell_of = (torch.arange(cells * width, device=device) // width).expand(b, -1)
        blocks[rows[valid], position[valid] + n_prefix] = cell_of[valid]
        end = n_prefix + body
        if n_suffix:
            ids.scatter_(1, end.unsqueeze(1) + torch.arange(n_suffix, device=device), self.suffix_ids.expand(b, -1))
        mask = (torch.arange(total, device=device) < (end + n_suffix).unsqueeze(1)).long()
        ends = torch.where(lengths > 0, n_prefix + lengths.cumsum(1) - sep - 1, -1)
        return ids, mask, blocks, ends

    def read(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The language model's pooled, projected reading of token ids [B, T] -> [B, width]."""
        from recstudio.knowledge.encoder import pool

        return self.project(self.drop(pool(self._states(ids, mask), mask, self.pooling)))

    def _states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        grad = torch.is_grad_enabled() and self.config.finetune != "frozen"
        bf16 = ids.device.type == "cpu" and self.config.cpu_bf16 and _cpu_has_bf16()
        with torch.set_grad_enabled(grad), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            # a frozen model keeps no activations for a backward pass
            return self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state.float()

    def read_boundaries(self, histories: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every item boundary of histories [B, L] read in one pass (``targets="every-item"``): vectors
        [B, L, width], cell c's the reading of the history up to and including item c, and whether cell c
        was read [B, L]. An encoder's tokens see their own item's text and older items' only (a causal
        item-block mask), so cell c's reading is what the history ending at c alone would give; a
        decoder reads left to right anyway. Pooled as :meth:`read` pools: the mean of the tokens up to
        the item's last (the leading special tokens included), or that last token's state."""
        ids, mask, blocks, ends = self.layout(histories)
        if self.mask_form is None:
            states = self._states(ids, mask)
        else:
            allowed = (blocks.unsqueeze(1) <= blocks.unsqueeze(2)) & mask.bool().unsqueeze(1)
            states = self._states(ids, self.mask_form(allowed.unsqueeze(1)))
        at = ends.clamp(min=0)
        if self.pooling == "mean":
            running = (states * mask.unsqueeze(-1).to(states.dtype)).cumsum(1)
            counts = mask.cumsum(1).gather(1, at).clamp(min=1).unsqueeze(-1).to(states.dtype)
            pooled = running.gather(1, at.unsqueeze(-1).expand(-1, -1, states.shape[-1])) / counts
        else:
            pooled = states.gather(1, at.unsqueeze(-1).expand(-1, -1, states.shape[-1]))
        return self.project(self.drop(pooled)), ends >= 0

    def history_vectors(self, histories: torch.Tensor) -> torch.Tensor:
        if self.config.targets == "last":
            return self.read(*self.render(histories))
        # the history's reading is its newest item's boundary; an empty one reads the special tokens alone
        histories = F.pad(histories.long(), (1, 0))  # cell 0: never an item, read when nothing else is
        vectors, read = self.read_boundaries(histories)
        newest = (read * torch.arange(read.shape[1], device=read.device)).argmax(1)
        return vectors[torch.arange(len(vectors), device=vectors.device), newest]

    # scoring ------------------------------------------------------------------------------------
    def item_table(self) -> torch.Tensor:
        """[n_items, width] unit item vectors of the text head (no padding row, unlike SASRec's)."""
        vectors = self.adaptor(self.item_text[1:])
        if self.ids is not None:  # items without training events have no id vector to trust
            vectors = vectors + self.ids.weight[1:] * self.trained_items[1:].unsqueeze(-1).to(vectors.dtype)
        return F.normalize(vectors, dim=-1)

    def logits(self, query: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Scores [B, n_items] of history vectors [B, width], or [B, C] of candidate items [B, C]."""
        if self.config.head == "text":
            table = self.inference_table()
            query = F.normalize(query, dim=-1) * self.logit_scale.exp()
            if items is None:
                return query @ table.T.to(query.dtype) + self.item_bias
            return torch.einsum("bh,bch->bc", query, table[items].to(query.dtype)) + self.item_bias[items]
        if items is None:
            return self.output(query) + self.item_bias
        return torch.einsum("bh,bch->bc", query, self.output.weight[items].to(query.dtype)) + self.item_bias[items]

    def make_batch(self, sequences: np.ndarray, rng: np.random.Generator,
                   baskets: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        if self.config.targets != "last":
            # every cell predicts the next item; with baskets, each item is read at the end of the basket
            # before its own (``basket_readout``), so no line of a basket is a target for another
            from recstudio.data.batching import basket_readout

            cells = sequences.shape[1] - 1
            readout = (np.broadcast_to(np.arange(cells), (len(sequences), cells)) if baskets is None
                       else basket_readout(baskets))
            targets = np.where((sequences[:, 1:] > 0) & (readout >= 0), sequences[:, 1:], 0)
            return {"histories": torch.from_numpy(np.abs(sequences[:, :-1])),
                    "targets": torch.from_numpy(targets), "readout": torch.from_numpy(readout.clip(min=0).copy())}
        if baskets is not None:
            # the window's last item is predicted from the baskets before its own: the history is cut
            # after the last event of the basket before it, and right-aligned again
            from recstudio.data.batching import basket_readout

            readout = basket_readout(baskets)[:, -1]
            width = sequences.shape[1] - 1
            shift = np.where(readout >= 0, width - 1 - readout, width)
            source = np.arange(width)[None, :] - shift[:, None]
            histories = np.where(source >= 0, np.take_along_axis(sequences[:, :-1], source.clip(min=0), 1), 0)
            targets = np.where(readout >= 0, sequences[:, -1], 0)
            return {"histories": torch.from_numpy(histories), "targets": torch.from_numpy(targets)}
        seq = torch.from_numpy(sequences)
        return {"histories": seq[:, :-1], "targets": seq[:, -1]}

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        targets = batch["targets"]
        if "readout" in batch:  # every item boundary of each window, from one pass
            vectors, read = self.read_boundaries(batch["histories"])
            readout = batch["readout"].long()
            keep = (targets > 0) & read.gather(1, readout)
            rows = torch.arange(len(targets), device=targets.device).unsqueeze(1).expand_as(readout)
            logits = self.logits(vectors[rows[keep], readout[keep]]).float()
        else:
            keep = targets > 0
            logits = self.logits(self.history_vectors(batch["histories"][keep])).float()
        # items without training events are no candidates here: pushing them down as negatives would
        # teach the adaptor to bury exactly the items the text is there to place
        logits = logits.masked_fill(~self.trained_items[1:], float("-inf"))
        return F.cross_entropy(logits, targets[keep] - 1)

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        return self.logits(self.history_vectors(histories))

    def score_items(self, histories: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.logits(self.history_vectors(histories), items.long())

    def position_scores(self, histories: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """Scores [B, L, n_items] after each prefix of ``histories`` [B, L] (each read as its last
        ``history_length`` items), as a teacher for distillation: every prefix that ends in an item is one
        row of a few large batches; padding positions score 0."""
        b, length = histories.shape
        width = self.history_length
        if self.config.targets != "last":
            return self._boundary_scores(histories, chunk)
        windows = F.pad(histories.long(), (width - 1, 0)).unfold(1, width, 1).reshape(-1, width)
        keep = histories.reshape(-1) > 0
        rows = windows[keep]
        out = torch.zeros(b * length, self.n_items, device=histories.device)
        if len(rows):
            out[keep] = torch.cat([self.score(rows[i : i + chunk]).float() for i in range(0, len(rows), chunk)])
        return out.view(b, length, self.n_items)

    def _boundary_scores(self, histories: torch.Tensor, chunk: int) -> torch.Tensor:
        """:meth:`position_scores` from a few passes: windows of ``history_length`` cells every half
        window, each scoring its newer half (so each prefix is read with at least half a window before it;
        the oldest window scores all its cells); a prefix whose item the token budget left out is read alone."""
        b, length = histories.shape
        width = self.history_length
        stride = max(1, width // 2)
        device = histories.device
        padded = F.pad(histories.long(), (width - 1, 0))
        newest = torch.arange(length - 1, -1, -stride, device=device)  # each window's newest cell
        windows = torch.stack([padded[:, e : e + width] for e in newest.tolist()], 1).reshape(-1, width)
        users = torch.arange(b, device=device).repeat_interleave(len(newest))
        last = newest.repeat(b)
        first_col = torch.where(torch.arange(len(newest), device=device) == len(newest) - 1, 0, width - stride).repeat(b)
        cols = torch.arange(width, device=device)
        wanted = (cols >= first_col.unsqueeze(1)) & (windows > 0)
        cells = last.unsqueeze(1) - (width - 1) + cols  # [rows, width]: the history cell of each column
        out = torch.zeros(b, length, self.n_items, device=device)
        for i in range(0, len(windows), chunk):
            part = slice(i, i + chunk)
            vectors, read = self.read_boundaries(windows[part])
            hit = wanted[part] & read
            if hit.any():
                rows = users[part].unsqueeze(1).expand_as(hit)
                out[rows[hit], cells[part][hit]] = self.logits(vectors[hit]).float()
            missed = wanted[part] & ~read
            if missed.any():
                rows = users[part].unsqueeze(1).expand_as(missed)[missed]
                alone = torch.stack([padded[u, c : c + width] for u, c in zip(rows.tolist(), cells[part][missed].tolist())])
                out[rows, cells[part][missed]] = self.score(alone).float()
        return out

    def item_vectors(self) -> torch.Tensor:
        """[n_items, width]: the text head's unit item vectors, or the linear head's output rows."""
        if self.config.head == "text":
            return self.inference_table()
        from recstudio.models.quantise import Int8Linear

        return self.output.dequantised_weight() if isinstance(self.output, Int8Linear) else self.output.weight

    def score_query(self, text: str) -> torch.Tensor:
        """Scores [n_items] for interests stated in words: the language model reads them as it reads a
        history's text."""
        from recstudio.knowledge.encoder import TextEncoder

        tokenizer = self.__dict__.get("_tokenizer")
        if tokenizer is None:
            tokenizer = self.__dict__["_tokenizer"] = TextEncoder(self.config.encoder, pooling=self.pooling).load_tokenizer()
        device = self.item_text.device
        ids = tokenizer(" " + text, add_special_tokens=False)["input_ids"][-self.body_budget:]
        ids = torch.cat([self.prefix_ids, torch.tensor(ids, dtype=torch.long, device=device), self.suffix_ids])
        return self.logits(self.read(ids.unsqueeze(0), torch.ones_like(ids).unsqueeze(0)))[0]

    def inference_table(self) -> torch.Tensor:
        """:meth:`item_table`, kept between calls at inference (eval mode, no grad), and built again when a
        parameter or buffer was replaced or changed in place (as tensors' version counters tell)."""
        if self.training or torch.is_grad_enabled():
            return self.item_table()
        tensors = itertools.chain(self.adaptor.parameters(), [self.item_text, self.trained_items],
                                  self.ids.parameters() if self.ids is not None else [])
        key = tuple((id(t), t._version, t.device, t.dtype) for t in tensors)
        cached = self.__dict__.get("_inference_table")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_inference_table"] = (key, self.item_table())
        return cached[1]


def _cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX); elsewhere it would be emulated, slower."""
    cpu = getattr(torch, "cpu", None)
    return any(bool(getattr(cpu, name, lambda: False)()) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def popularity_prior(counts: np.ndarray) -> np.ndarray:
    """Each item's starting bias: its log training popularity (centred), so that the head starts where a
    popularity ranking is; an item without training events starts at the median trained item's, because
    its popularity is unknown rather than the lowest (its bias then stays there: it is never a target)."""
    prior = np.log((counts + 1.0) / (counts.sum() + len(counts)))
    seen = counts > 0
    if seen.any():
        prior = np.where(seen, prior, np.median(prior[seen]))
    return (prior - prior.mean()).astype(np.float32)


def _identity(layer: nn.Linear) -> None:
    """The identity where input and output widths agree; else a random projection that keeps scale."""
    with torch.no_grad():
        if layer.weight.shape[0] == layer.weight.shape[1]:
            layer.weight.copy_(torch.eye(layer.weight.shape[0]))
        else:
            nn.init.normal_(layer.weight, std=1.0 / math.sqrt(layer.weight.shape[1]))
        layer.bias.zero_()


def _drop_pretrained(module: LMSeq, state_dict, prefix: str, local_metadata) -> None:
    for key in module._pretrained:
        state_dict.pop(prefix + key, None)


def _keep_pretrained(module: LMSeq, state_dict, prefix: str, local_metadata, strict, missing_keys,
                     unexpected_keys, error_msgs) -> None:
    """A checkpoint has no pretrained weights: the model keeps the ones it read from ``encoder``."""
    own = dict(itertools.chain(module.named_parameters(remove_duplicate=False),
                               module.named_buffers(remove_duplicate=False)))
    for key in module._pretrained:
        if prefix + key not in state_dict:
            state_dict[prefix + key] = own[key].detach()
