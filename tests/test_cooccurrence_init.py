"""sasrec's item vectors start from the data's co-occurrence (``init`` cooccurrence, the default) when a model is
built fresh, and never overwrite what a model has loaded (an update, a resumed run, a run started from another)."""

from __future__ import annotations

import numpy as np
import torch

from recstudio.models import create_model, model_config


def _planted(n_users=60, seed=0):
    """Users who each buy from one of two groups of items (0-4 or 5-9); items 10-11 are never bought."""
    rng = np.random.default_rng(seed)
    seqs = [rng.choice(np.arange(5) + 5 * (u % 2), size=4, replace=False) for u in range(n_users)]
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in seqs])])
    return indptr, np.concatenate(seqs).astype(np.int64)


def _cos(v, a, b):
    return float(torch.nn.functional.cosine_similarity(v[a], v[b], dim=0))


def test_a_fresh_model_starts_with_items_bought_together_close_and_keeps_it_random_when_asked():
    indptr, items = _planted()
    model = create_model("sasrec", 12, model_config("sasrec", {"hidden": 8, "heads": 1}))
    before = model.item_embedding.weight.detach().clone()
    model.fit_statistics(indptr, items)
    v = model.item_embedding.weight.detach()[1:]
    together = np.mean([_cos(v, a, b) for a in range(5) for b in range(5) if a != b])
    apart = np.mean([_cos(v, a, b) for a in range(5) for b in range(5, 10)])
    assert together > 0.5 and abs(apart) < 0.1, (together, apart)
    assert bool((v[10:] == 0).all())  # never bought: nothing to place them by
    assert bool((model.item_embedding.weight[0] == 0).all())  # padding stays zero
    assert abs(float(v[:10].std()) - 0.1) < 0.05
    model.fit_statistics(indptr, items)  # a second fit on the same model goes on from where it is
    assert torch.equal(model.item_embedding.weight.detach()[1:], v)
    assert not torch.equal(before, model.item_embedding.weight.detach())

    random = create_model("sasrec", 12, model_config("sasrec", {"hidden": 8, "heads": 1, "init": "random"}))
    kept = random.item_embedding.weight.detach().clone()
    random.fit_statistics(indptr, items)
    assert torch.equal(random.item_embedding.weight.detach(), kept)


def test_a_model_that_loaded_weights_keeps_them():
    indptr, items = _planted()
    trained = create_model("sasrec", 12, model_config("sasrec", {"hidden": 8, "heads": 1}))
    state = {k: v.clone() for k, v in trained.state_dict().items()}
    loaded = create_model("sasrec", 12, model_config("sasrec", {"hidden": 8, "heads": 1}))
    loaded.load_state_dict(state)  # as a checkpoint, a resumed state or an update's trainee
    loaded.fit_statistics(indptr, items)
    assert torch.equal(loaded.item_embedding.weight, state["item_embedding.weight"])


def test_runs_saved_before_the_setting_read_back_as_started_at_random():
    assert model_config("sasrec", {"hidden": 64}, saved=True).init == "random"
    assert model_config("sasrec", {}).init == "cooccurrence"
    assert model_config("sasrec-lm", {"hidden": 64}, saved=True).init == "random"
