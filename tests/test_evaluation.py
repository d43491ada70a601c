"""Full-ranking evaluation over hand-made cases with fake models whose scores we know."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recstudio.data.splits import EvalCases
from recstudio.evaluation import (
    EvaluationCancelled,
    activity_segments,
    coverage,
    evaluate,
    rank_cases,
)
from recstudio.models.base import Recommender

N_ITEMS = 6


class TableModel(Recommender):
    """Scores every item by a fixed table row picked by the history's last event (row 0: no history)."""

    name = "table"

    def __init__(self, table, max_len=2):
        table = torch.as_tensor(np.asarray(table), dtype=torch.float32)
        super().__init__(SimpleNamespace(max_len=max_len), table.shape[1])
        self.table = table

    def score(self, histories):
        return self.table[histories[:, -1]]


class ConstantModel(Recommender):
    """Every item gets the same score, handed back as a view of the model's own buffer."""

    name = "constant"

    def __init__(self, n_items):
        super().__init__(SimpleNamespace(max_len=3), n_items)
        self.register_buffer("flat", torch.ones(n_items))

    def score(self, histories):
        return self.flat.expand(len(histories), -1)


def make_cases(histories, targets):
    lengths = [len(h) for h in histories]
    return EvalCases(
        users=np.arange(len(histories), dtype=np.int64),
        targets=np.asarray(targets, dtype=np.int64),
        history_indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        history_items=np.concatenate([np.asarray(h, dtype=np.int64) for h in histories] + [np.zeros(0, np.int64)]),
    )


#                  item: 0    1    2    3    4    5
TABLE = np.zeros((N_ITEMS + 1, N_ITEMS))
TABLE[0] = [0.0, 0.1, 0.2, 0.3, 0.9, 0.4]  # no history
TABLE[1 + 1] = [0.9, 0.1, 0.5, 0.6, 0.2, 0.3]  # last event was item 1
TABLE[3 + 1] = [0.1, 0.2, 0.7, 0.8, 0.3, 0.9]  # last event was item 3

CASES = make_cases(
    histories=[
        [0, 1],  # target 2 (0.5): item 0 (0.9) is seen -> only item 3 (0.6) above: rank 1; unmasked 2
        [2, 3],  # target 2 re-purchased: left out with the history, a miss (rank 5 of 6); unmasked 2
        [],  # target 4 (0.9) is the best: rank 0
        [5, 0, 1, 3],  # window is [1, 3]; seen 5, 0, 1, 3 -> only item 2 (0.7) above 4 (0.3): rank 1; unmasked 3
    ],
    targets=[2, 2, 4, 4],
)
POPULARITY = np.array([5, 4, 3, 2, 1, 0])


def run(model=None, cases=CASES, **kwargs):
    kwargs.setdefault("ks", (1, 2, 3))
    return evaluate(model or TableModel(TABLE), cases, popularity=POPULARITY, n_users=4, **kwargs)


def test_full_ranking_excludes_the_whole_history_a_repurchased_target_too():
    ranks, lists = rank_cases(TableModel(TABLE), CASES, 3)
    # case 3 shows the whole history is masked, not only the 2-event window: item 5 (0.9) is skipped
    # case 1: a re-purchased target is left out like the rest of the history (the list never shows it),
    # so it is a miss; kept rankable while items 3 was masked, it would rank 1 (second) for free
    assert ranks.tolist() == [1, 5, 0, 1]
    # case 0: items 0, 1 seen; best of the rest by score: 3 (0.6), 2 (0.5), 5 (0.3)
    assert lists[0].tolist() == [3, 2, 5]
    # case 1: items 2 and 3 seen: 5 (0.9), 4 (0.3), 1 (0.2); the list and the rank agree
    assert lists[1].tolist() == [5, 4, 1]
    result = run()
    assert result.metrics["seen_targets"] == pytest.approx(0.25)  # one target of four was in its history
    assert run(exclude_seen=False).metrics["seen_targets"] == pytest.approx(0.25)


def test_without_exclusion_seen_items_count():
    ranks, lists = rank_cases(TableModel(TABLE), CASES, 3, exclude_seen=False)
    assert ranks.tolist() == [2, 2, 0, 3]
    assert lists[0].tolist() == [0, 3, 2]


def test_metrics_from_the_ranks():
    result = run()
    # masked ranks [1, 5, 0, 1]: HR@1 = 1/4, HR@2 = 3/4; MRR@2 = (1/2 * 2 + 1) / 4 = 0.5
    assert result.metrics["HR@1"] == pytest.approx(0.25)
    assert result.metrics["HR@2"] == pytest.approx(0.75)
    assert result.metrics["MRR@2"] == pytest.approx(0.5)
    # NDCG@2 = (2 / log2(3) + 1) / 4
    assert result.metrics["NDCG@2"] == pytest.approx((2 / np.log2(3) + 1) / 4)
    unmasked = run(exclude_seen=False)
    # ranks [2, 2, 0, 3]: HR@1 = 1/4, HR@3 = 3/4, MRR@3 = (1/3 + 1/3 + 1) / 4 = 5/12
    assert unmasked.metrics["HR@3"] == pytest.approx(0.75)
    assert unmasked.metrics["MRR@3"] == pytest.approx(5 / 12)
    assert result.n_cases == 4
    assert all(type(v) is float for v in result.metrics.values())
    assert "diversity@3" not in result.metrics


def test_beyond_accuracy_metrics_use_the_masked_lists():
    _, lists = rank_cases(TableModel(TABLE), CASES, 3)
    result = run(item_categories=[frozenset({"x"}), frozenset({"y"})] * 3)
    assert result.metrics["coverage@3"] == pytest.approx(coverage(lists, N_ITEMS))
    assert 0.0 <= result.metrics["diversity@3"] <= 1.0
    assert result.metrics["ARP_ratio@3"] == pytest.approx(result.metrics["ARP@3"] / POPULARITY.mean())


def test_constant_scores_do_not_look_good():
    model = ConstantModel(50)
    cases = make_cases([[1, 2], [3], [], [7, 8, 9]], targets=[10, 20, 30, 40])
    result = evaluate(model, cases, popularity=np.ones(50), n_users=4, ks=(10,))
    assert result.metrics["HR@10"] == 0.0
    assert result.metrics["NDCG@10"] == 0.0
    assert torch.equal(model.flat, torch.ones(50))  # masking did not write into the model's buffer


def test_batch_size_does_not_change_results():
    rng = np.random.default_rng(0)
    n_items = 30
    table = rng.normal(size=(n_items + 1, n_items))
    table[:, :3] = 0.0  # some ties
    histories = [rng.choice(n_items, size=rng.integers(0, 8)) for _ in range(25)]
    cases = make_cases(histories, rng.integers(0, n_items, size=25))
    results = [
        evaluate(TableModel(table, max_len=3), cases, popularity=np.arange(n_items), n_users=25, batch_size=b).to_dict()
        for b in (1, 7, 512)
    ]
    assert results[0] == results[1] == results[2]


def test_segments_by_history_length():
    segments = activity_segments(CASES, bounds=(1, 3))
    # history lengths [2, 2, 0, 4]
    assert [mask.tolist() for mask in segments.values()] == [
        [False, False, True, False],
        [True, True, False, False],
        [False, False, False, True],
    ]
    assert list(segments) == ["short (≤1)", "medium (2–3)", "long (>3)"]
    result = run(segments=segments)
    # masked ranks [1, 5, 0, 1]: short = case 2 (rank 0), medium = cases 0 (rank 1), 1 (a miss)
    assert result.segments["short (≤1)"]["users"] == 1
    assert result.segments["short (≤1)"]["HR@1"] == 1.0
    assert result.segments["medium (2–3)"]["users"] == 2
    assert result.segments["medium (2–3)"]["HR@1"] == 0.0
    assert result.segments["medium (2–3)"]["HR@2"] == 0.5
    assert set(run().segments) == set(activity_segments(CASES))  # the default split


def test_nan_scores_raise():
    table = TABLE.copy()
    table[0, 3] = np.nan
    with pytest.raises(RuntimeError, match="'table' produced NaN"):
        run(TableModel(table))


def test_cancel_between_batches_and_progress():
    seen = []
    with pytest.raises(EvaluationCancelled):
        run(batch_size=1, progress=seen.append, cancelled=lambda: len(seen) >= 2)
    assert seen == [0.25, 0.5]
    done = []
    run(batch_size=3, progress=done.append)
    assert done == [0.75, 1.0]


def test_training_mode_is_restored():
    model = TableModel(TABLE)
    model.train()
    run(model)
    assert model.training


def test_no_cases():
    result = run(cases=make_cases([], []), item_categories=[frozenset({"x"})] * N_ITEMS)
    assert result.n_cases == 0
    assert result.metrics["HR@3"] == result.metrics["coverage@3"] == result.metrics["novelty@3"] == 0.0
    assert "diversity@3" not in result.metrics
    assert all(seg["users"] == 0 for seg in result.segments.values())
