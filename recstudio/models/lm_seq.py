"""lm-seq: a pretrained language model reads the user's recent history as text and scores every item.

A history of item indices is rendered as its items' texts (the catalogue template), oldest first, joined
by a separator and cut from the left, whole items at a time, to ``max_tokens``. The language model (any
Hugging Face encoder or decoder; the bundled all-MiniLM-L6-v2 by default) reads it, its token states are
pooled (mean, or the last token for a decoder) and projected into the item space, where items are scored:

- ``head="text"``: against each item's frozen text vector (the same language model's cached encoding of
  the item's text) through a learned adaptor, optionally plus a learned id vector; an item nobody has
  touched still has a vector, so it can be recommended. Cosine scores times a learned scale, plus a
  per-item bias that starts at the item's log training popularity (the usual prior-initialised output).
- ``head="linear"``: one learned output per item id, as in the seed text (no text behind the items).

Each item's text is tokenised once, when the model is made, into a padded token table kept among the
model's tensors (so a checkpoint carries it); rendering a batch of histories is then a gather and a
scatter on the model's device, for training, evaluation and any ad-hoc history (the inspector, the
explanations' sub-histories) alike: no Python tokenisation per history.

Only what trains is saved: the language model is named by its folder or hub id (``encoder``) and the
digest of its weights (``backbone_digest``); its frozen weights are read from there when a checkpoint
loads, and a model whose weights have changed is refused.
"""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recstudio.errors import RecStudioError
from recstudio.models.base import Recommender, padded_item_text
from recstudio.models.configs import LMSeqConfig

#: What a history's items are joined with (after each item's own text, tokenised on its own).
SEPARATOR = " |"
#: Attention projections that LoRA adapts, by the names model families give them (first match wins).
LORA_TARGETS = (("q_proj", "v_proj"), ("query", "value"), ("c_attn",), ("query_key_value",), ("qkv_proj",),
                ("Wqkv",), ("q_lin", "v_lin"), ("qkv",))
INITIAL_LOGIT_SCALE = 20.0


class LMSeq(Recommender):
    name = "lm-seq"
    config_class = LMSeqConfig
    epoch_windows = "user"  # one window per user and epoch: each step reads whole histories as text
    basket_training = True  # its one target, a window's last item, is read after the basket before its own
    uses_item_text = True

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
        self.register_buffer("backbone_digest", _digest(loader))
        width = _width(backbone.config)
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

        self.backbone = _prepare_backbone(backbone, config)
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
        if self.config.finetune == "frozen":
            self.backbone.eval()  # no dropout: a frozen model reads a history the same way every time
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
                self.prior_set.fill_(True)

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
        histories = histories.long()
        device = histories.device
        b = histories.shape[0]
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
        end = n_prefix + body
        if n_suffix:
            ids.scatter_(1, end.unsqueeze(1) + torch.arange(n_suffix, device=device), self.suffix_ids.expand(b, -1))
        mask = (torch.arange(total, device=device) < (end + n_suffix).unsqueeze(1)).long()
        return ids, mask

    def read(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The language model's pooled, projected reading of token ids [B, T] -> [B, width]."""
        from recstudio.knowledge.encoder import pool

        grad = torch.is_grad_enabled() and self.config.finetune != "frozen"
        with torch.set_grad_enabled(grad):  # a frozen model keeps no activations for a backward pass
            states = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        return self.project(self.drop(pool(states, mask, self.pooling)))

    def history_vectors(self, histories: torch.Tensor) -> torch.Tensor:
        return self.read(*self.render(histories))

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
        windows = F.pad(histories.long(), (width - 1, 0)).unfold(1, width, 1).reshape(-1, width)
        keep = histories.reshape(-1) > 0
        rows = windows[keep]
        out = torch.zeros(b * length, self.n_items, device=histories.device)
        if len(rows):
            out[keep] = torch.cat([self.score(rows[i : i + chunk]).float() for i in range(0, len(rows), chunk)])
        return out.view(b, length, self.n_items)

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


def popularity_prior(counts: np.ndarray) -> np.ndarray:
    """Each item's starting bias: its log training popularity (centred), so that the head starts where a
    popularity ranking is; an item without training events starts at the median trained item's, because
    its popularity is unknown rather than the lowest (its bias then stays there: it is never a target)."""
    prior = np.log((counts + 1.0) / (counts.sum() + len(counts)))
    seen = counts > 0
    if seen.any():
        prior = np.where(seen, prior, np.median(prior[seen]))
    return (prior - prior.mean()).astype(np.float32)


def tokenise_items(tokenizer, texts: list[str], item_tokens: int, max_tokens: int, pooling: str) -> dict:
    """Each item's text tokenised once: a table [n_items + 1, P] whose row i + 1 is the separator then item
    i's tokens (row 0, no item, is empty), their lengths, and the special tokens around a history."""
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    full = tokenizer("x")["input_ids"]
    prefix, suffix = [], []
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            prefix, suffix = full[:start], full[start + len(plain):]
            break
    if not suffix and pooling == "last" and tokenizer.eos_token_id is not None:
        suffix = [tokenizer.eos_token_id]  # a decoder's last token then reads the whole history alike
    if not prefix and not suffix:  # an empty history still needs one token to read
        for candidate in (tokenizer.eos_token_id, tokenizer.sep_token_id, tokenizer.unk_token_id):
            if candidate is not None:
                suffix = [candidate]
                break
    separator = tokenizer(SEPARATOR, add_special_tokens=False)["input_ids"]
    if not prefix and not suffix:
        suffix = separator[:1]
    budget = max_tokens - len(prefix) - len(suffix)
    cap = max(1, min(item_tokens, budget))
    encoded = tokenizer([" " + t for t in texts], add_special_tokens=False, truncation=True, max_length=cap)["input_ids"]
    width = len(separator) + cap
    table = np.zeros((len(texts) + 1, width), dtype=np.int32)
    lengths = np.zeros(len(texts) + 1, dtype=np.int64)
    table[1:, : len(separator)] = separator
    for i, ids in enumerate(encoded, 1):
        ids = ids[:cap]
        table[i, len(separator) : len(separator) + len(ids)] = ids
        lengths[i] = len(separator) + len(ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    return {"item_tokens": torch.from_numpy(table), "item_lengths": torch.from_numpy(lengths),
            "prefix_ids": torch.tensor(prefix, dtype=torch.long), "suffix_ids": torch.tensor(suffix, dtype=torch.long),
            "pad_id": torch.tensor(int(pad)), "sep_length": torch.tensor(len(separator))}


def _prepare_backbone(backbone: nn.Module, config: LMSeqConfig) -> nn.Module:
    """Freeze the language model, then open what ``config.finetune`` trains: nothing, the last layers
    (and the norm after them), or LoRA adapters on its attention projections."""
    for p in backbone.parameters():
        p.requires_grad_(False)
    if config.finetune == "last-n":
        name, layers = _layer_list(backbone)
        opened = list(layers)[-config.last_n:]
        for layer in opened:
            for p in layer.parameters():
                p.requires_grad_(True)
        for module_name, module in backbone.named_modules():
            inside = module_name == name or module_name.startswith(name + ".")
            if "norm" in type(module).__name__.lower() and "embed" not in module_name and not inside:
                for p in module.parameters(recurse=False):  # a final norm (GPT-2's ln_f) reads the last layer
                    p.requires_grad_(True)
    elif config.finetune == "lora":
        from peft import LoraConfig, inject_adapter_in_model
        from transformers.pytorch_utils import Conv1D

        leaves = {}
        for module_name, module in backbone.named_modules():
            if isinstance(module, (nn.Linear, Conv1D)):
                leaves.setdefault(module_name.rsplit(".", 1)[-1], type(module))
        targets = next((list(t) for t in LORA_TARGETS if all(n in leaves for n in t)), None)
        if targets is None:
            raise RecStudioError(
                f"Cannot tell which layers of {type(backbone).__name__} are its attention projections for LoRA "
                f"(looked for {', '.join('/'.join(t) for t in LORA_TARGETS)}); use finetune=last-n or frozen.")
        conv = leaves[targets[0]] is Conv1D  # GPT-2 stores its projections transposed
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, target_modules=targets, lora_dropout=0.0,
                          bias="none", fan_in_fan_out=conv)
        backbone = inject_adapter_in_model(lora, backbone)
        for n, p in backbone.named_parameters():
            p.requires_grad_("lora_" in n)
    return backbone


def _layer_list(backbone: nn.Module) -> tuple[str, nn.ModuleList]:
    """The language model's stack of layers: the longest ModuleList (as long as the config's layer count)."""
    count = getattr(backbone.config, "num_hidden_layers", None)
    best = None
    for name, module in backbone.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) and (count is None or len(module) == count):
            if best is None or len(module) > len(best[1]):
                best = (name, module)
    if best is None:
        raise RecStudioError(f"Cannot find the layers of {type(backbone).__name__} to fine-tune; use "
                             "finetune=lora or frozen.")
    return best


def _width(config) -> int:
    for attr in ("hidden_size", "n_embd", "d_model", "dim"):
        if getattr(config, attr, None):
            return int(getattr(config, attr))
    raise RecStudioError("Cannot tell the language model's width from its config.")


def _digest(loader) -> torch.Tensor:
    """SHA-256 of the language model's weights' identity (a local folder's fingerprint, not its path, so a
    moved folder still loads; a hub id and revision)."""
    identity = loader.identity
    if loader.is_local:
        identity = "local#" + identity.rsplit("#", 1)[-1]
    return torch.frombuffer(bytearray(hashlib.sha256(identity.encode()).digest()), dtype=torch.uint8).clone()


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
