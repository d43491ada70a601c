"""The model contract on real modules: causality, padding, short histories, counting baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recstudio.data import pad_sequences
from recstudio.models import create_model, model_config, model_names
from recstudio.errors import RecStudioError

N_ITEMS = 30


def _sasrec(**overrides):
    torch.manual_seed(0)
    return create_model("sasrec", N_ITEMS, model_config("sasrec", {"max_len": 8, "hidden": 16, **overrides}))


@pytest.mark.parametrize("training", [True, False])
def test_sasrec_position_t_ignores_later_items(training):
    model = _sasrec(dropout=0.0)
    model.train(training)
    a = torch.tensor([[0, 0, 3, 5, 7, 9, 11, 13]])
    b = a.clone()
    b[0, 5:] = torch.tensor([20, 21, 22])  # change only what comes after position 4
    ha, hb = model.hidden_states(a), model.hidden_states(b)
    assert torch.allclose(ha[0, :5], hb[0, :5], atol=1e-6)
    assert not torch.allclose(ha[0, 5:], hb[0, 5:])


def test_sasrec_dropout_train_mode_still_causal():
    model = _sasrec(dropout=0.3)
    model.train()
    a = torch.tensor([[0, 2, 3, 5, 7, 9, 11, 13]])
    b = a.clone()
    b[0, 6:] = torch.tensor([25, 26])
    torch.manual_seed(1)
    ha = model.hidden_states(a)
    torch.manual_seed(1)
    hb = model.hidden_states(b)
    assert torch.allclose(ha[0, :6], hb[0, :6], atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_sasrec_one_item_history_gives_finite_scores(training):
    model = _sasrec()
    model.train(training)
    histories = torch.from_numpy(pad_sequences([[4], [1, 2, 3]], 8))
    assert histories[0, :-1].eq(0).all()  # left padding: every key but the last is masked
    scores = model.score(histories)
    assert scores.shape == (2, N_ITEMS)
    assert torch.isfinite(scores).all()
    loss = model.loss(model.make_batch(pad_sequences([[4, 5], [1, 2, 3]], 9), np.random.default_rng(0)))
    assert torch.isfinite(loss)


def test_sasrec_padding_does_not_change_scores():
    model = _sasrec(dropout=0.0).eval()
    short = torch.from_numpy(pad_sequences([[4, 6, 8]], 8))
    # the same history with a different padding width must score the same
    model_long = model
    s1 = model_long.score(short)
    s2 = model_long.score(torch.from_numpy(pad_sequences([[4, 6, 8]], 5)))
    assert torch.allclose(s1, s2, atol=1e-5)


def test_sasrec_learns_a_deterministic_sequence():
    # every user walks 0,1,2,...; the next item after k is k+1, which the model must learn
    sequences = [list(range(s, s + 8)) for s in range(0, 20)]
    model = _sasrec(dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = model.make_batch(pad_sequences(sequences, 9), np.random.default_rng(0))
    first = model.loss(batch).item()
    for _ in range(150):
        opt.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        opt.step()
    assert loss.item() < first / 4
    model.eval()
    top = model.score(torch.from_numpy(pad_sequences([[5, 6, 7]], 8))).argmax(1).item()
    assert top == 8


def test_pop_and_itemknn_learn_from_counts():
    indptr = np.array([0, 3, 6, 8])
    items = np.array([0, 1, 2, 0, 1, 3, 0, 1])
    pop = create_model("pop", 5)
    pop.fit_statistics(indptr, items)
    assert pop.score(torch.zeros(1, 1, dtype=torch.long))[0].tolist() == [3, 3, 1, 1, 0]
    knn = create_model("itemknn", 5, model_config("itemknn", {"shrink": 0}))
    knn.fit_statistics(indptr, items)
    scores = knn.score(torch.from_numpy(pad_sequences([[0]], 4)))[0]
    # item 1 co-occurs with item 0 for all three users: cosine 3 / (sqrt3 * sqrt3) = 1
    assert scores[1].item() == pytest.approx(1.0)
    assert scores[2].item() == pytest.approx(1 / np.sqrt(3))
    assert scores[4].item() == 0


def test_registry_and_settings():
    assert {"pop", "itemknn", "sasrec"} <= set(model_names())
    assert model_config("sasrec", {"hidden": "32"}).hidden == 32
    with pytest.raises(RecStudioError, match="no setting 'colour'"):
        model_config("sasrec", {"colour": 1})
    with pytest.raises(RecStudioError, match="Unknown model"):
        create_model("nope", 3)


def test_settings_out_of_range_are_user_errors():
    with pytest.raises(RecStudioError, match="multiple of heads"):
        model_config("sasrec", {"hidden": 30, "heads": 4})
    with pytest.raises(RecStudioError, match="between 0.0 and 0.9"):
        model_config("sasrec", {"dropout": 1.5})
    with pytest.raises(RecStudioError, match="whole number"):
        model_config("sasrec", {"layers": "2.5"})


def test_cpu_dropout_drops_at_its_rate_keeps_the_mean_and_passes_gradients_only_where_kept():
    from recstudio.models.sasrec import dropout

    torch.manual_seed(0)
    x = torch.ones(200_000, requires_grad=True)
    y = dropout(x, 0.3, True)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    assert abs(y.mean().item() - 1.0) < 0.01  # kept values are scaled up by 1 / 0.7
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)
    assert not torch.equal(dropout(x, 0.3, True) != 0, kept)  # a new mask each call
    assert dropout(x, 0.3, False) is x
    assert dropout(x, 0.0, True) is x


def test_a_checkpoint_saved_before_scale_inputs_existed_reloads_to_the_same_scores(tmp_path):
    """New SASRec runs read item vectors unscaled; a checkpoint whose config predates the setting was
    trained with them scaled by sqrt(hidden), and must score exactly as it did."""
    import json

    from recstudio.training.checkpoint import load_checkpoint, save_checkpoint

    assert model_config("sasrec").scale_inputs is False
    assert model_config("sasrec-lm").scale_inputs is False
    old = _sasrec(scale_inputs=True).eval()
    folder = save_checkpoint(tmp_path / "ckpt", old, {})
    meta = json.loads((folder / "checkpoint.json").read_text())
    del meta["config"]["scale_inputs"]  # as written before the setting existed
    (folder / "checkpoint.json").write_text(json.dumps(meta))
    histories = torch.from_numpy(pad_sequences([[1, 2, 3], [4, 5]], 8))
    loaded, _ = load_checkpoint(folder)
    assert loaded.config.scale_inputs is True
    assert torch.allclose(loaded.score(histories), old.score(histories), atol=1e-6)
    assert not torch.allclose(_sasrec(scale_inputs=False).eval().score(histories), old.score(histories))
