"""Item text and text encoders: templates, pooling, the on-disk cache, bad encoder names, the offline default."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from recstudio.errors import RecStudioError
from recstudio.knowledge import (
    DEFAULT_TEMPLATE,
    TextEncoder,
    default_encoder_path,
    item_embeddings,
    render_item_texts,
)

CATALOGUE = pd.DataFrame({
    "item_id": ["1", "2", "3", "4"],
    "title": ["Toy Story", "GoldenEye", "", "Sex, Lies, and Videotape."],
    "category": ["Animation|Children's|Comedy", "", "Drama", "Drama"],
    "price": [1.0, 2.5, float("nan"), 3.0],
})


def test_template_drops_missing_fields_with_their_labels():
    texts = render_item_texts(CATALOGUE, DEFAULT_TEMPLATE)  # no brand column at all
    assert texts == [
        "Toy Story. Category: Animation, Children's, Comedy.",
        "GoldenEye.",
        "Category: Drama.",
        "Sex, Lies, and Videotape. Category: Drama.",
    ]
    assert render_item_texts(CATALOGUE, "{title} ({category})")[:2] == [
        "Toy Story (Animation, Children's, Comedy)", "GoldenEye"]
    assert render_item_texts(CATALOGUE, "{title}, {price} EUR")[1] == "GoldenEye, 2.5 EUR"
    assert render_item_texts(CATALOGUE, "{title}, {price} EUR")[0] == "Toy Story, 1 EUR"


def test_bad_templates_are_user_errors():
    with pytest.raises(RecStudioError, match="malformed"):
        render_item_texts(CATALOGUE, "{title")
    with pytest.raises(RecStudioError, match="names a catalogue column"):
        render_item_texts(CATALOGUE, "{} and {0}")
    with pytest.raises(RecStudioError, match="uses no catalogue column"):
        item_embeddings(CATALOGUE, template="{brand} by {maker}", use_cache=False)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(default_encoder_path()), local_files_only=True)


def _save_tiny(folder, tokenizer, kind: str, seed: int = 0):
    import torch
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model

    torch.manual_seed(seed)
    if kind == "bert":
        model = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128))
    else:
        model = GPT2Model(GPT2Config(vocab_size=tokenizer.vocab_size, n_embd=32, n_layer=2, n_head=2, n_positions=128))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, tokenizer):
    return _save_tiny(tmp_path_factory.mktemp("tiny-bert"), tokenizer, "bert")


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, tokenizer):
    return _save_tiny(tmp_path_factory.mktemp("tiny-gpt2"), tokenizer, "gpt2")


TEXTS = ["espresso beans", "a very long description of a garden hose that goes on and on", "tea"]


@pytest.mark.parametrize("kind,pooling", [("bert", "mean"), ("gpt2", "last")])
def test_pooling_ignores_padding(kind, pooling, tiny_bert, tiny_gpt2):
    path = tiny_bert if kind == "bert" else tiny_gpt2
    encoder = TextEncoder(path, pooling=pooling, device="cpu", batch_size=8)
    batched = encoder.encode(TEXTS)
    alone = np.concatenate([encoder.encode([t]) for t in TEXTS])
    assert batched.shape == (3, 32) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, alone, atol=1e-5)  # padded and unpadded texts pool the same
    assert encoder.identity.startswith("local:")


def test_cache_second_run_encodes_nothing(tiny_bert, tokenizer, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    progress = []
    first = item_embeddings(CATALOGUE, encoder=tiny_bert, cache_dir=cache, device="cpu",
                            progress=lambda *e: progress.append(e))
    assert first.encoded == 4 and first.reused == 0 and first.vectors.shape == (4, 32)
    assert progress[-1][:2] == (4, 4)

    def refuse(self, texts):
        raise AssertionError("encoded again")

    monkeypatch.setattr(TextEncoder, "iter_encode", refuse)
    again = item_embeddings(CATALOGUE, encoder=tiny_bert, cache_dir=cache, device="cpu")
    assert again.encoded == 0 and again.reused == 4
    np.testing.assert_array_equal(again.vectors, first.vectors)
    monkeypatch.undo()

    # a new item encodes only its own text
    grown = pd.concat([CATALOGUE, pd.DataFrame({"item_id": ["5"], "title": ["Coffee Pods"], "category": ["Food"],
                                                "price": [4.0]})], ignore_index=True)
    more = item_embeddings(grown, encoder=tiny_bert, cache_dir=cache, device="cpu")
    assert more.encoded == 1 and more.reused == 4
    np.testing.assert_array_equal(more.vectors[:4], first.vectors)
    # other pooling, or other weights in the same folder, never reuse these vectors
    assert item_embeddings(CATALOGUE, encoder=tiny_bert, cache_dir=cache, pooling="last", device="cpu").encoded == 4
    _save_tiny(tiny_bert, tokenizer, "bert", seed=1)
    changed = item_embeddings(CATALOGUE, encoder=tiny_bert, cache_dir=cache, device="cpu")
    assert changed.encoded == 4 and not np.allclose(changed.vectors, first.vectors)


def test_bad_encoder_names_say_what_to_do(tmp_path):
    with pytest.raises(RecStudioError) as missing:
        TextEncoder(str(tmp_path / "no-such-model"))
    assert "does not exist" in str(missing.value) and "\n" not in str(missing.value)

    junk = tmp_path / "junk-model"
    junk.mkdir()
    (junk / "config.json").write_text("{not json")
    with pytest.raises(RecStudioError) as broken:
        TextEncoder(str(junk)).encode(["x"])
    message = str(broken.value)
    assert "Cannot load the text encoder" in message and "\n" not in message and "junk-model" in message

    with pytest.raises(RecStudioError, match="pooling"):
        TextEncoder("", pooling="max")


def test_default_encoder_is_offline_minilm_and_knows_coffee(tmp_path):
    result = item_embeddings(
        pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["Espresso Beans", "Coffee Pods", "Garden Hose"]}),
        cache_dir=tmp_path, device="cpu")
    assert result.encoder["name"] == "all-MiniLM-L6-v2" and result.dim == 384
    v = result.vectors / np.linalg.norm(result.vectors, axis=1, keepdims=True)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1  # a pretrained model knows espresso is closer to coffee than to hoses


def test_knowledge_imports_without_torch():
    import subprocess

    code = ("import sys, recstudio.knowledge, recstudio.models\n"
            "from recstudio.knowledge import render_item_texts\n"
            "assert not [m for m in ('torch', 'transformers') if m in sys.modules]")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cache_files_are_safetensors_both_ways(tmp_path):
    """The embedding cache reads and writes safetensors itself (plain file I/O, which lets the window's
    thread run meanwhile): what it writes the library reads, and what the library wrote it reads."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from recstudio.knowledge.cache import read_arrays, write_arrays

    rng = np.random.default_rng(0)
    arrays = {"text_hashes": rng.integers(0, 255, (7, 16), dtype=np.uint8),
              "vectors": rng.standard_normal((7, 5)).astype(np.float32), "ids": np.arange(3, dtype=np.int64)}
    ours = tmp_path / "ours.safetensors"
    write_arrays(ours, arrays, {"identity": "x"})
    with safe_open(str(ours), framework="numpy") as f:
        assert f.metadata() == {"identity": "x"}
        for name, array in arrays.items():
            assert np.array_equal(f.get_tensor(name), array) and f.get_tensor(name).dtype == array.dtype
    theirs = tmp_path / "theirs.safetensors"
    save_file(arrays, str(theirs), metadata={"identity": "y"})
    back, meta = read_arrays(theirs)
    assert meta == {"identity": "y"}
    assert all(np.array_equal(back[name], array) and back[name].dtype == array.dtype for name, array in arrays.items())
    (tmp_path / "cut.safetensors").write_bytes(ours.read_bytes()[:-8])
    with pytest.raises(ValueError):
        read_arrays(tmp_path / "cut.safetensors")
