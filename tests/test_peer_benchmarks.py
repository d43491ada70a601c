"""What the peer benchmarks (benchmarks/peer_rectools.py, peer_replay.py) rest on, checked without the
peers: the event order they hand a peer holds out the same items as RecStudio's split, a peer's split
is refused when it differs, and the metrics their drivers read both protocols with are RecStudio's own."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("peer_common", ROOT / "benchmarks" / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_events_handed_to_a_peer_hold_out_what_our_split_does(common, tmp_path):
    # out of order in the file, a tie in time (file order decides), a repeated item, one user too short
    rows = [("u1", "a", 3), ("u1", "b", 1), ("u1", "c", 2), ("u1", "d", 2), ("u1", "a", 5),
            ("u2", "c", 9), ("u2", "b", 7), ("u2", "e", 8), ("u3", "a", 1), ("u3", "b", 2)]
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(tmp_path / "log.csv", index=False)
    dataset, split = common.imported(tmp_path / "log.csv", tmp_path)
    common.write_events(dataset, tmp_path / "events.csv")
    events = pd.read_csv(tmp_path / "events.csv", dtype={"user": str, "item": str})
    ordered = events.sort_values("position", kind="stable").groupby("user")
    newest, before = ordered.nth(-1), ordered.nth(-2)  # what a peer's leave-last-out by time reads off
    assert common.held_out(dataset, split.test) == {"u1": "a", "u2": "c"}
    assert common.held_out(dataset, split.valid) == {"u1": "a", "u2": "e"}
    assert {u: i for u, i in zip(newest["user"], newest["item"]) if u != "u3"} == {"u1": "a", "u2": "c"}
    assert {u: i for u, i in zip(before["user"], before["item"]) if u != "u3"} == {"u1": "a", "u2": "e"}
    theirs = {"test_items": {"u1": "a", "u2": "c"}, "valid_items": {"u1": "a", "u2": "e"}}
    assert common.same_split(dataset, split, theirs)
    # a peer that also evaluates the user too short for us, or holds out another item, is refused
    assert not common.same_split(dataset, split, {**theirs, "test_items": {"u1": "a", "u2": "c", "u3": "b"}})
    assert not common.same_split(dataset, split, {**theirs, "valid_items": {"u1": "a", "u2": "b"}})


def test_driver_metrics_are_recstudios_on_both_protocols(common):
    import torch

    from recstudio.evaluation.metrics import hit_rate, mrr, ndcg
    from recstudio.evaluation.ranking import mask_items, target_ranks

    helpers: dict = {}
    exec(compile(common.DRIVER_HELPERS, "DRIVER_HELPERS", "exec"), helpers)
    gen = torch.Generator().manual_seed(3)
    n_cases, n_items = 300, 40
    scores = torch.randint(0, 12, (n_cases, n_items), generator=gen).float()  # many ties
    scores[torch.rand(n_cases, n_items, generator=gen) < 0.05] = float("-inf")  # items a peer cannot score
    want = torch.randint(0, n_items, (n_cases,), generator=gen)
    seen = torch.rand(n_cases, n_items, generator=gen) < 0.3
    seen[:50, :][torch.arange(50), want[:50]] = True  # re-bought targets: left out too, so misses
    got = helpers["figures"](helpers["sums_at_10"](scores, want, seen), n_cases)

    rows, items = np.nonzero(seen.numpy())
    for name, s in (("ranked", scores), ("excluded", mask_items(scores, rows, items))):
        ranks = target_ranks(s, want).numpy()
        assert got[name]["HR@10"] == pytest.approx(hit_rate(ranks, 10))
        assert got[name]["NDCG@10"] == pytest.approx(ndcg(ranks, 10))
        assert got[name]["MRR@10"] == pytest.approx(mrr(ranks, 10))
    # a re-bought target is left out with the rest of the history, a miss; for the others leaving seen
    # items out moves them up
    bought = helpers["figures"](helpers["sums_at_10"](scores[:50], want[:50], seen[:50]), 50)
    rest = helpers["figures"](helpers["sums_at_10"](scores[50:], want[50:], seen[50:]), n_cases - 50)
    assert bought["excluded"]["HR@10"] == 0.0 < bought["ranked"]["HR@10"]
    assert rest["excluded"]["NDCG@10"] > rest["ranked"]["NDCG@10"]
