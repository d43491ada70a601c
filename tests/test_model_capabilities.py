"""What a model can do, asked of the model: capabilities with defaults on ``Recommender`` and overrides in the
models that have them, and the registry's words for each setting (labels, tooltips, key settings)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from recstudio.data import pad_sequences, split_names
from recstudio.data.splits import SPLIT_CHOICES
from recstudio.errors import RecStudioError
from recstudio.models import (
    MODEL_SPECS, create_model, key_settings, model_class, model_config, model_names, setting_help, setting_label,
)
from recstudio.models.base import Recommender
from tests.helpers import one_thread  # noqa: F401  (an autouse fixture)

N_ITEMS = 12
TEXT_DIM = 10


def _sasrec(**overrides):
    torch.manual_seed(0)
    config = model_config("sasrec", {"hidden": 16, "heads": 1, "layers": 1, "max_len": 6, "dropout": 0.0, **overrides})
    return create_model("sasrec", N_ITEMS, config).eval()


def _sasrec_lm(**overrides):
    torch.manual_seed(0)
    config = model_config("sasrec-lm", {"hidden": 16, "heads": 1, "layers": 1, "max_len": 6, "dropout": 0.0,
                                        "experts": 2, **overrides})
    return create_model("sasrec-lm", N_ITEMS, config, item_text=torch.randn(N_ITEMS, TEXT_DIM)).eval()


def _counted(name: str):
    model = create_model(name, N_ITEMS)
    indptr = np.array([0, 4, 7, 10])
    model.fit_statistics(indptr, np.array([0, 1, 2, 3, 1, 2, 4, 0, 1, 5]))
    return model


HISTORIES = torch.from_numpy(pad_sequences([[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [0]], 6))


class Constant(Recommender):
    """A trained model that has none of the optional abilities: what the defaults answer."""

    name = "constant"

    def __init__(self, config=None, n_items: int = N_ITEMS):
        super().__init__(config, n_items)
        self.bias = torch.nn.Parameter(torch.arange(n_items, dtype=torch.float32))

    def score(self, histories):
        return self.bias.expand(histories.shape[0], -1)


# -- what every registered model says about itself -----------------------------------------------------

@pytest.mark.parametrize("name", model_names())
def test_a_registry_entry_and_its_model_class_agree(name):
    spec, cls = MODEL_SPECS[name], model_class(name)
    assert (cls.name, cls.config_class, cls.trainable, cls.uses_item_text, cls.distillable) == (
        spec.name, spec.config_class, spec.trainable, spec.uses_item_text, spec.distillable)


@pytest.mark.parametrize("name", model_names())
def test_every_setting_of_every_model_has_a_label_and_a_tooltip(name):
    for f in dataclasses.fields(MODEL_SPECS[name].config_class):
        assert isinstance(f.metadata.get("label"), str) and f.metadata["label"].strip(), (name, f.name)
        assert setting_label(name, f.name) == f.metadata["label"]
        assert setting_help(name, f.name) and setting_help(name, f.name) == f.metadata["help"], (name, f.name)


def test_labels_read_as_the_window_showed_them():
    assert setting_label("sasrec", "hidden") == "Hidden size"
    assert setting_label("sasrec-lm", "max_len") == "History length"  # inherited from sasrec's settings
    assert setting_label("lm-seq", "backbone_lr") == "LM learning rate ×"
    assert setting_label("itemknn", "shrink") == "Shrink"
    # a setting a model no longer has (an older run's) reads as its name; it has no tooltip
    assert setting_label("sasrec", "old_thing") == "Old thing" and setting_help("sasrec", "old_thing") is None
    with pytest.raises(RecStudioError, match="Unknown model"):
        setting_label("nope", "hidden")


@pytest.mark.parametrize("name", model_names())
def test_key_settings_are_settings_of_the_model_and_every_model_with_settings_has_some(name):
    fields = [f.name for f in dataclasses.fields(MODEL_SPECS[name].config_class)]
    keys = key_settings(name)
    assert list(keys) == [f for f in fields if f in keys]  # the config's own order
    assert bool(keys) == bool(fields)  # pop has no settings at all, so nothing to tell its runs apart


def test_key_settings_are_the_ones_the_runs_table_showed():
    assert key_settings("sasrec") == ("hidden", "layers", "heads", "max_len")
    assert key_settings("sasrec-lm") == ("hidden", "layers", "heads", "max_len", "fusion")
    assert key_settings("itemknn") == ("neighbours", "shrink", "max_len")
    assert key_settings("lm-seq") == ("max_len",)
    assert key_settings("pop") == ()


def test_the_command_line_lists_every_registered_model_and_split(capsys):
    from recstudio.cli import SPLIT_NAMES, main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name in model_names():
        assert name in text
    assert SPLIT_NAMES == split_names() == tuple(name for name, _, _ in SPLIT_CHOICES)
    assert "{" + ",".join(split_names()) + "}" in text


# -- item vectors ----------------------------------------------------------------------------------

def test_counting_models_have_no_item_vectors_and_sasrec_models_have_one_per_item():
    assert _counted("pop").item_vectors() is None and _counted("itemknn").item_vectors() is None
    sasrec = _sasrec()
    vectors = sasrec.item_vectors()
    assert vectors.shape == (N_ITEMS, 16)
    torch.testing.assert_close(vectors, sasrec.item_embedding.weight[1:])  # item i is row i: no padding row
    fused = _sasrec_lm()
    with torch.no_grad():
        torch.testing.assert_close(fused.item_vectors(), fused.item_table()[1:])


# -- distillation ----------------------------------------------------------------------------------

def test_only_sasrec_models_learn_as_distillation_students():
    from recstudio.training.distill import check_student

    assert [n for n in model_names() if model_class(n).distillable] == ["sasrec", "sasrec-lm"]
    check_student(_sasrec())
    with pytest.raises(RecStudioError, match="distilled student"):
        check_student(_counted("pop"))


@pytest.mark.parametrize("make", [_sasrec, _sasrec_lm], ids=["sasrec", "sasrec-lm"])
def test_position_scores_read_the_whole_window_in_one_pass(make):
    model = make()
    with torch.no_grad():
        scores = model.position_scores(HISTORIES)
        torch.testing.assert_close(scores[:, -1], model.score(HISTORIES))  # the last position: the model's scores
        changed = HISTORIES.clone()
        changed[1, -1] = 12  # a later event does not change what earlier positions predict
        torch.testing.assert_close(model.position_scores(changed)[1, :-1], scores[1, :-1])
    assert scores.shape == (len(HISTORIES), HISTORIES.shape[1], N_ITEMS)


def test_the_default_position_scores_ask_score_once_per_prefix():
    model = _counted("pop")
    with torch.no_grad():
        scores = model.position_scores(HISTORIES)
    assert scores.shape == (len(HISTORIES), HISTORIES.shape[1], N_ITEMS)
    torch.testing.assert_close(scores[:, 2], model.score(HISTORIES[:, :3]))


# -- queries and attention ----------------------------------------------------------------------------

def test_models_that_do_not_read_words_answer_no_query():
    assert _counted("pop").score_query("space opera") is None
    assert _sasrec().score_query("space opera") is None
    assert _sasrec_lm().score_query("space opera") is None  # placed by its text vectors instead (runs)


def test_history_attention_of_sasrec_is_a_distribution_over_the_real_events():
    model = _sasrec().train()
    weights = model.history_attention(HISTORIES)
    assert model.training  # asked in eval mode, left as it was
    assert weights.shape == HISTORIES.shape
    torch.testing.assert_close(weights.sum(1), torch.ones(len(HISTORIES)))
    assert bool((weights[0, :3] == 0).all()) and bool((weights[0, 3:] > 0).all())  # row 0 is padded: those get none
    assert _counted("itemknn").history_attention(HISTORIES) is None


# -- new items (updates) -----------------------------------------------------------------------------

def test_sasrec_with_new_items_keeps_every_old_row_and_starts_the_new_ones_by_their_events():
    model = _sasrec()
    grown = model.with_items(N_ITEMS + 3, with_events=np.array([True, False, True])).eval()
    assert grown is not model and grown.n_items == N_ITEMS + 3 and model.n_items == N_ITEMS
    old, new = model.item_embedding.weight.detach(), grown.item_embedding.weight.detach()
    torch.testing.assert_close(new[: N_ITEMS + 1], old)
    mean = old[1:].mean(0)
    torch.testing.assert_close(new[N_ITEMS + 1], mean)  # has events: starts at the mean item vector
    assert bool((new[N_ITEMS + 2] == 0).all())  # no events: cannot be placed by id
    torch.testing.assert_close(new[N_ITEMS + 3], mean)
    with torch.no_grad():  # the old items score as they did
        torch.testing.assert_close(grown.score(HISTORIES)[:, :N_ITEMS], model.score(HISTORIES))
    assert model.with_items(N_ITEMS) is model  # nothing new: the model itself
    with pytest.raises(ValueError, match="cannot forget"):
        model.with_items(N_ITEMS - 1)


def test_sasrec_lm_places_new_items_by_their_text():
    model = _sasrec_lm()
    new_text = np.random.default_rng(0).normal(size=(2, TEXT_DIM)).astype(np.float32)
    grown = model.with_items(N_ITEMS + 2, new_text=new_text, with_events=np.array([True, True])).eval()
    assert grown.n_items == N_ITEMS + 2
    torch.testing.assert_close(grown.item_text[: N_ITEMS + 1], model.item_text)
    torch.testing.assert_close(grown.item_text[N_ITEMS + 1 :], torch.from_numpy(new_text))
    assert grown.trained_items[: N_ITEMS + 1].equal(model.trained_items)
    assert not bool(grown.trained_items[N_ITEMS + 1 :].any())  # untrained until they have events
    weight = grown.item_embedding.weight.detach()
    torch.testing.assert_close(weight[: N_ITEMS + 1], model.item_embedding.weight.detach())
    assert bool((weight[N_ITEMS + 1 :] == 0).all())  # the text places them, not an id vector
    with torch.no_grad():
        scores = grown.score(HISTORIES)
        torch.testing.assert_close(scores[:, :N_ITEMS], model.score(HISTORIES))
    assert torch.isfinite(scores[:, N_ITEMS:]).all()
    with pytest.raises(ValueError, match="text vectors"):
        model.with_items(N_ITEMS + 2)


def test_text_only_sasrec_lm_grows_without_id_vectors():
    model = _sasrec_lm(fusion="text-only")
    grown = model.with_items(N_ITEMS + 1, new_text=np.ones((1, TEXT_DIM), dtype=np.float32))
    assert grown.n_items == N_ITEMS + 1 and grown.item_embedding is None


@pytest.mark.parametrize("name", ["pop", "itemknn"])
def test_counting_models_with_new_items_start_empty_and_count_again(name):
    model = _counted(name)
    grown = model.with_items(N_ITEMS + 4)
    assert type(grown) is type(model) and grown.n_items == N_ITEMS + 4
    assert not any(bool(t.any()) for t in grown.state_dict().values())  # nothing counted yet
    new_item, other = N_ITEMS + 3, N_ITEMS + 1
    grown.fit_statistics(np.array([0, 3, 5]), np.array([new_item, other, new_item, new_item, other]))
    history = torch.tensor([[other + 1]])  # for itemknn: what co-occurs with a new item
    assert grown.score(history)[0].argmax().item() == new_item


def test_a_model_that_cannot_take_new_items_says_so():
    model = Constant()
    assert model.with_items(N_ITEMS) is model
    with pytest.raises(RecStudioError, match="constant run with new items is not supported yet; train it again"):
        model.with_items(N_ITEMS + 1)
    # and answers no to the other abilities
    assert model.item_vectors() is None and model.score_query("x") is None
    assert model.history_attention(HISTORIES) is None
    assert not model.uses_item_text and not model.distillable
