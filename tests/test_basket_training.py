"""Training on baskets: each basket is predicted from the baskets before it, never in the order the file
printed its lines; on data where no two events share a time that is exactly the training of before."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from recstudio.data import Dataset, import_interactions, make_split
from recstudio.data.batching import basket_readout
from recstudio.errors import RecStudioError
from recstudio.models import create_model, model_config
from recstudio.models.sasrec import SASRec
from recstudio.training import TrainConfig, drive, fit
from recstudio.training.fit import basket_windows

from tests.helpers import one_thread  # noqa: F401  (fixture: tiny models on one thread)


def _write(path, rows):
    path.write_text("user,item,timestamp\n" + "".join(f"{u},{i},{t}\n" for u, i, t in rows))
    return path


def _shop(tmp_path, users=300, seed=0):
    """Seven baskets a customer, alternating: one with A (and X, two fillers), then one with B (and two
    fillers). A basket of A is always followed by one with B. Inside an A basket, Y is printed right after X in 70% of them:
    an order of the file, never a reason for the next basket (Y is in no B basket)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        t = 1_000_000
        for k in range(7):
            fillers = [f"f{x}" for x in rng.choice(20, size=2, replace=False)]
            if k % 2 == 0:
                lines = list(rng.permutation(["A", "X", *fillers]))
                if rng.random() < 0.7:
                    lines.insert(lines.index("X") + 1, "Y")
            else:
                lines = list(rng.permutation(["B", *fillers]))
            rows += [(f"u{u}", item, t) for item in lines]
            t += 86_400
    return import_interactions(_write(tmp_path / "shop.csv", rows))


def _run(gen):
    return drive(gen, lambda event: None)


def _sasrec(n_items, **settings):
    return create_model("sasrec", n_items, model_config("sasrec", {"hidden": 32, "layers": 1, "heads": 1,
                                                                  "max_len": 30, "dropout": 0.0, **settings}))


def test_a_target_is_read_at_the_end_of_the_basket_before_its_own():
    baskets = np.array([[0, 0, 1, 1, 2, 2, 2, 3],
                        [5, 5, 5, 6, 7, 7, 7, 7]])  # row 1: the window starts inside basket 5
    readout = basket_readout(baskets)
    # targets are cells 1..7; cell c's target is read at the last cell of the basket before c's
    assert readout[0].tolist() == [-1, -1, -1, 3, 3, 3, 6]
    assert readout[1].tolist() == [-1, -1, 2, 3, 3, 3, 3]


def test_no_training_event_is_a_target_of_another_event_of_its_basket(tmp_path):
    dataset = _shop(tmp_path, users=40)
    split = make_split(dataset, "last-basket")
    model = _sasrec(dataset.n_items)
    basket_of = np.cumsum(split.train_basket_starts)  # basket id of each training event, from 1
    for context in (0, 25):
        items, baskets = basket_windows(model, split, model.history_length + 1, np.random.default_rng(1), context)
        batch = model.make_batch(items, np.random.default_rng(1), baskets=baskets)
        targets, readout = batch["targets"].numpy(), batch["readout"].numpy()
        rows, cols = np.nonzero(targets > 0)
        target_basket = baskets[rows, cols + 1]
        read_basket = baskets[rows, readout[rows, cols]]
        assert (read_basket == target_basket - 1).all()  # the basket right before, never its own
        assert (baskets[rows, readout[rows, cols] + 1] == target_basket).all()  # at that basket's end
        if context:  # overlapping windows: every event outside a user's first basket is a target once
            first_basket = basket_of[split.train_indptr[:-1][np.diff(split.train_indptr) > 0]]
            expected = np.count_nonzero(~np.isin(basket_of, first_basket))
            assert len(rows) == expected


def test_without_shared_times_last_basket_training_is_leave_one_out_training():
    """Each event its own basket: the basket path of fit() reduces to the leave-one-out path, exactly."""
    rng = np.random.default_rng(5)
    users, items = [], []
    for u in range(40):
        n = int(rng.integers(3, 40))
        users += [u] * n
        items += list(rng.integers(0, 25, size=n))
    inter = pd.DataFrame({"user": np.array(users, np.int32), "item": np.array(items, np.int32),
                          "timestamp": np.arange(len(users), dtype=np.int64)})
    ids = np.array([str(i) for i in range(25)], dtype=object)
    dataset = Dataset("distinct", inter, np.array([str(u) for u in range(40)], dtype=object), ids,
                      pd.DataFrame({"item_id": ids}))
    loo, lb = make_split(dataset, "leave-one-out"), make_split(dataset, "last-basket")
    assert loo.train_basket_starts is None and lb.train_basket_starts.all()
    results = []
    for split in (loo, lb):
        torch.manual_seed(0)  # the same initial weights
        model = _sasrec(25, max_len=12)
        result = _run(fit(model, split, TrainConfig(epochs=3, batch_size=16, seed=3), device="cpu"))
        results.append((result, {k: v.clone() for k, v in model.state_dict().items()}))
    (a, state_a), (b, state_b) = results
    # the same figures (target sets add Recall, which is HR for one target)
    assert {k: b.valid_metrics[k] for k in a.valid_metrics} == a.valid_metrics and a.steps == b.steps
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def test_the_basket_split_finds_b_from_a_and_the_file_order_inside_a_basket_no_longer_leaks(tmp_path):
    dataset = _shop(tmp_path)
    split = make_split(dataset, "last-basket")  # validation: a B basket, after an A basket
    by_file_order = dataclasses.replace(split, train_basket_starts=None)  # how training read baskets before
    # B is bought again and again: validation ranks every item, or the planted answer would be left out
    config = TrainConfig(epochs=40, batch_size=64, lr=2e-3, patience=40, min_context=0, seed=1, valid_exclude_seen=False)
    models = {}
    for name, trained_on in (("baskets", split), ("file order", by_file_order)):
        torch.manual_seed(1)
        models[name] = _sasrec(dataset.n_items)
        _run(fit(models[name], trained_on, config, device="cpu"))
    a, b, x, y = (dataset.item_index(i) for i in "ABXY")

    from recstudio.evaluation import rank_cases

    # the B basket, from the A basket before it (every item ranked: B was bought before, so a list that
    # leaves the history out never shows it)
    _, lists = rank_cases(models["baskets"], split.valid, 3, exclude_seen=False)
    assert np.mean([b in row for row in lists]) > 0.9

    # a first basket with A whose last printed line is X: the next basket holds B, never Y
    rng = np.random.default_rng(7)
    fillers = [dataset.item_index(f"f{i}") for i in range(20)]
    probes = torch.tensor([[f[0], a, f[1], x] for f in (rng.choice(fillers, size=2, replace=False)
                                                         for _ in range(50))]) + 1
    seen = torch.zeros(len(probes), dataset.n_items, dtype=torch.bool).scatter_(1, probes - 1, True)
    first = {}
    for name, model in models.items():
        model.eval()
        with torch.no_grad():
            first[name] = model.score(probes).masked_fill(seen, float("-inf")).argmax(dim=1).numpy()
    # read in file order, Y "follows" X: the model learned the order the lines were printed in
    assert np.mean(first["file order"] == y) > 0.8
    # read by basket, no line is predicted from another line of its basket: B comes next, not Y
    assert np.mean(first["baskets"] == y) < 0.3
    assert np.mean(first["baskets"] == b) > 0.7


def test_a_model_that_cannot_train_on_baskets_says_so(tmp_path):
    class FileOrderOnly(SASRec):
        name = "file-order-only"
        basket_training = False

    dataset = _shop(tmp_path, users=20)
    model = FileOrderOnly(model_config("sasrec", {"hidden": 16, "max_len": 8}), dataset.n_items)
    with pytest.raises(RecStudioError, match="'file-order-only' cannot train on the last-basket split"):
        _run(fit(model, make_split(dataset, "last-basket"), TrainConfig(epochs=1), device="cpu"))
    _run(fit(model, make_split(dataset, "leave-one-out"), TrainConfig(epochs=1), device="cpu"))  # as before


@pytest.mark.parametrize("name", ["sasrec-lm"])
def test_text_fused_models_train_on_baskets(tmp_path, name):
    dataset = _shop(tmp_path, users=30)
    split = make_split(dataset, "last-basket")
    text = np.random.default_rng(0).normal(size=(dataset.n_items, 8)).astype(np.float32)
    model = create_model(name, dataset.n_items, model_config(name, {"hidden": 16, "max_len": 10}), item_text=text)
    result = _run(fit(model, split, TrainConfig(epochs=2, batch_size=16), device="cpu"))
    assert result.status == "completed" and "Recall@10" in result.valid_metrics


def test_the_language_model_reads_a_target_after_the_basket_before_its_own():
    from recstudio.models.lm_seq import LMSeq

    window = np.array([[0, 3, 4, 5, 6, 7],   # baskets 1 | 2 2 | 3 3 (last item 7, basket 3)
                       [0, 0, 0, 8, 9, 10]])  # one basket only: no target
    baskets = np.array([[0, 1, 2, 2, 3, 3],
                        [0, 0, 0, 4, 4, 4]])
    from types import SimpleNamespace

    def as_trained(targets):  # make_batch reads only the model's settings
        return SimpleNamespace(config=SimpleNamespace(targets=targets))

    batch = LMSeq.make_batch(as_trained("last"), window, np.random.default_rng(0), baskets=baskets)
    assert batch["histories"].tolist() == [[0, 0, 3, 4, 5], [0, 0, 0, 0, 0]]
    assert batch["targets"].tolist() == [7, 0]
    # every item a target: each line read at the last line of the basket before its own
    batch = LMSeq.make_batch(as_trained("every-item"), window, np.random.default_rng(0), baskets=baskets)
    assert batch["targets"].tolist() == [[0, 4, 5, 6, 7], [0, 0, 0, 0, 0]]
    assert batch["readout"][0, 1:].tolist() == [1, 1, 3, 3]


def test_temporal_keeps_a_basket_on_one_side_of_the_cut():
    # user 0's basket 9 has lines at two times that straddle the cut; the basket falls where it began
    inter = pd.DataFrame({
        "user": np.array([0] * 6 + [1] * 10, np.int32),
        "item": np.array([0, 1, 2, 3, 4, 5] + list(range(10)), np.int32),
        "timestamp": np.array([1, 2, 3, 5, 6, 7] + list(range(1, 11)), dtype=np.int64),
        "basket": np.array([1, 2, 3, 9, 9, 9] + list(range(20, 30)), dtype=np.int64),
    })
    ids = np.array([str(i) for i in range(10)], dtype=object)
    dataset = Dataset("b", inter, np.array(["0", "1"], dtype=object), ids, pd.DataFrame({"item_id": ids}))
    split = make_split(dataset, "temporal", valid_quantile=0.7, test_quantile=0.9)
    assert split.train_sequence(0).tolist() == [0, 1, 2, 3, 4, 5]  # the whole basket trains
