"""The language model behind lm-seq: what of it trains, how it takes a per-token attention mask, its width
and identity, and each item's text tokenised once into a table the model keeps."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from recstudio.errors import RecStudioError
from recstudio.models.configs import LMSeqConfig

#: What a history's items are joined with (after each item's own text, tokenised on its own).
SEPARATOR = " |"
#: Attention projections that LoRA adapts, by the names model families give them (first match wins).
LORA_TARGETS = (("q_proj", "v_proj"), ("query", "value"), ("c_attn",), ("query_key_value",), ("qkv_proj",),
                ("Wqkv",), ("q_lin", "v_lin"), ("qkv",))


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


def prepare_backbone(backbone: nn.Module, config: LMSeqConfig) -> nn.Module:
    """Freeze the language model, then open what ``config.finetune`` trains: nothing, the last layers
    (and the norm after them), or LoRA adapters on its attention projections."""
    for p in backbone.parameters():
        p.requires_grad_(False)
    if config.finetune == "last-n":
        name, layers = layer_list(backbone)
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


def layer_list(backbone: nn.Module) -> tuple[str, nn.ModuleList]:
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


def block_mask(backbone: nn.Module):
    """A function that turns a boolean mask [B, 1, T, T] (True: may attend) into the form this language
    model takes: as it is (PyTorch's fused attention) or additive float (0 / the dtype's minimum; eager
    attention). Probed once on three tokens: the first, barred from the other two, must read as it reads
    alone. A model that honours neither cannot read every item boundary in one pass."""
    def boolean(allowed):
        return allowed

    def additive(allowed):
        return torch.zeros(allowed.shape, device=allowed.device).masked_fill(~allowed, torch.finfo(torch.float32).min)

    was_training = backbone.training
    backbone.eval()
    ids = torch.tensor([[101, 102, 103]]) % max(2, int(getattr(backbone.config, "vocab_size", None) or 104))
    allowed = torch.tril(torch.ones(3, 3, dtype=torch.bool)).view(1, 1, 3, 3)
    try:
        with torch.no_grad():
            alone = backbone(input_ids=ids[:, :1], attention_mask=torch.ones(1, 1, dtype=torch.long)).last_hidden_state
            for form in (boolean, additive):
                try:
                    states = backbone(input_ids=ids, attention_mask=form(allowed)).last_hidden_state
                except (RuntimeError, ValueError, TypeError, IndexError):
                    continue
                if torch.allclose(states[:, 0], alone[:, 0], atol=1e-4, rtol=1e-3):
                    return form
    finally:
        backbone.train(was_training)
    raise RecStudioError(
        f"{type(backbone).__name__} does not take a per-token attention mask, so it cannot read every item "
        "boundary of a history in one pass; use --set targets=last (one target per history).")


def width_of(config) -> int:
    for attr in ("hidden_size", "n_embd", "d_model", "dim"):
        if getattr(config, attr, None):
            return int(getattr(config, attr))
    raise RecStudioError("Cannot tell the language model's width from its config.")


def digest_of(loader) -> torch.Tensor:
    """SHA-256 of the language model's weights' identity (a local folder's fingerprint, not its path, so a
    moved folder still loads; a hub id and revision)."""
    identity = loader.identity
    if loader.is_local:
        identity = "local#" + identity.rsplit("#", 1)[-1]
    return torch.frombuffer(bytearray(hashlib.sha256(identity.encode()).digest()), dtype=torch.uint8).clone()
