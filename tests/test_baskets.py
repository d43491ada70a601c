"""Baskets: events of one user sharing a time are one question, never a sequence in file order."""

from __future__ import annotations

import numpy as np
import pytest

from recstudio.data import import_interactions, make_split, sample_paths
from recstudio.data.baskets import basket_summary
from recstudio.evaluation import case_metrics

from tests.helpers import cli


def _write(path, rows):
    path.write_text("user,item,timestamp\n" + "".join(f"{u},{i},{t}\n" for u, i, t in rows))
    return path


def test_without_shared_times_last_basket_is_leave_one_out(tmp_path):
    rng = np.random.default_rng(3)
    rows = [(u, f"i{rng.integers(40)}", 1000 + 10 * t) for u in range(30) for t in range(rng.integers(1, 12))]
    dataset = import_interactions(_write(tmp_path / "log.csv", rows))
    loo, lb = make_split(dataset, "leave-one-out"), make_split(dataset, "last-basket")
    assert np.array_equal(loo.train_indptr, lb.train_indptr) and np.array_equal(loo.train_items, lb.train_items)
    for a, b in ((loo.valid, lb.valid), (loo.test, lb.test)):
        assert np.array_equal(a.users, b.users) and np.array_equal(a.targets, b.targets)
        assert np.array_equal(a.history_items, b.history_items)
        assert all(list(b.target_set(i)) == [a.targets[i]] for i in range(len(b)))


def _shop(tmp_path):
    """Each customer buys a basket with A, later a basket with B (a rule across baskets), with filler
    lines in both; inside a basket the lines are printed in a random order."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(120):
        t = 1_000_000 + u
        for basket in ([], ["A"], ["B"], ["A"], ["B"]):
            lines = basket + [f"f{x}" for x in rng.choice(30, size=4 - len(basket), replace=False)]
            rng.shuffle(lines)
            rows += [(f"u{u}", item, t) for item in lines]
            t += 86_400
    return import_interactions(_write(tmp_path / "shop.csv", rows))


def test_the_held_out_basket_is_never_history_and_b_is_found_from_a(tmp_path):
    dataset = _shop(tmp_path)
    split = make_split(dataset, "last-basket")
    b = dataset.item_index("B")
    a = dataset.item_index("A")
    assert len(split.test) == 120
    for i in range(len(split.test)):
        targets, history = set(split.test.target_set(i)), split.test.history(i)
        assert b in targets and len(targets) == 4  # the whole last basket is the question
        assert a in history[-4:]  # the history ends with the A basket
        assert len(history) == 16  # four whole baskets before it; no line of the held-out one
    # leave-one-out asks for the last *printed* line of the B basket, with its other lines as history
    loo = make_split(dataset, "leave-one-out")
    leaked = np.mean([b in loo.test.history(i)[-3:] for i in range(len(loo.test))])
    assert leaked > 0.5

    from recstudio.evaluation import evaluate, rank_cases
    from recstudio.models import model_class, model_config

    model = model_class("itemknn")(model_config("itemknn", {}), dataset.n_items)
    model.fit_statistics(split.train_indptr, split.train_items)  # trained on baskets 1-3: A, then B
    # B is found from the A basket before it, every item ranked (B was bought before: B baskets alternate)
    _, lists = rank_cases(model, split.test, 5, exclude_seen=False)
    assert np.mean([b in row for row in lists]) > 0.8
    result = evaluate(model, split.test, popularity=split.train_popularity(), n_users=dataset.n_users, ks=(5,),
                      exclude_seen=False)
    assert 0 < result.metrics["Recall@5"] <= result.metrics["HR@5"]
    # a list that leaves the history out never shows B again: there the re-bought B is a miss
    ranks, lists = rank_cases(model, split.test, 5)
    assert not any(b in row for row in lists)
    assert evaluate(model, split.test, popularity=split.train_popularity(), n_users=dataset.n_users,
                    ks=(5,)).metrics["seen_targets"] >= 0.25


def test_basket_metrics_count_every_basket_item():
    ranks = np.array([0, 3, 7])  # case 0: a basket of two found at 0 and 3; case 1: one item at 7
    values = case_metrics(ranks, (2, 10), np.array([0, 2, 3]))
    assert values["HR@2"].tolist() == [1.0, 0.0]
    assert values["Recall@2"].tolist() == [0.5, 0.0]
    assert values["NDCG@2"][0] == pytest.approx(1.0 / (1.0 + 1.0 / np.log2(3)))
    assert values["NDCG@10"][0] == pytest.approx((1.0 + 1.0 / np.log2(5)) / (1.0 + 1.0 / np.log2(3)))
    assert values["NDCG@10"][1] == pytest.approx(1.0 / np.log2(9))
    assert values["MRR@10"].tolist() == [1.0, 1.0 / 8]
    single = case_metrics(ranks[:2], (2,))  # one target per case: as before, no Recall
    assert set(single) == {"HR@2", "NDCG@2", "MRR@2"}


def test_the_sample_is_mostly_baskets():
    interactions, catalogue = sample_paths()
    summary = basket_summary(import_interactions(interactions, items_path=catalogue))
    assert summary["same_time_share"] > 0.9
    assert summary["baskets"] < summary["shared_time_events"]
    assert 600 < summary["users_with_three_baskets"] < 750


def test_train_on_the_last_basket_split_from_the_cli(tmp_path, capsys):
    code, out, err = cli(capsys, "train", "--sample", "--workspace", tmp_path / "ws.sqlite", "--model", "pop",
                         "--split", "last-basket", "--json")
    assert code == 0, err
    assert out["split"] == "last-basket"
    assert {"HR@10", "Recall@10", "NDCG@10", "MRR@10"} <= set(out["metrics"]["test"])
    assert out["metrics"]["test"]["Recall@10"] <= out["metrics"]["test"]["HR@10"]
