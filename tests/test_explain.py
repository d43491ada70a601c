"""Shapley attributions of history events: additivity, known answers, removal semantics, a planted
rule a trained SASRec must surface, and deletion-curve faithfulness."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recstudio.data import pad_sequences
from recstudio.explain import (
    attribute,
    deletion_auc,
    deletion_scores,
    faithfulness,
    last_position_attention,
)
from recstudio.models import create_model, model_config
from recstudio.models.base import Recommender


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models train and score fastest on one thread; on shared cores two mostly wait."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class KnownGame(Recommender):
    """A model whose score of any candidate has a known Shapley split:

    - 2.0 when item 0 is in the history (item 0 alone earns 2.0);
    - 1.0 when items 1 and 2 both are (0.5 each);
    - 1.5 when item 3 comes before item 4 (0.75 each: removal keeps the order);
    - 0.5 when the most recent event is item 5 (depends on what comes after 5: removal, not zeroing).
    """

    name = "known"
    trainable = False

    def __init__(self, n_items: int = 20, max_len: int = 30):
        super().__init__(SimpleNamespace(max_len=max_len), n_items)

    def score(self, histories: torch.Tensor) -> torch.Tensor:
        items = histories - 1
        has = lambda i: (items == i).any(dim=1).double()  # noqa: E731
        width = histories.shape[1]
        pos = torch.arange(width).expand_as(histories)
        first = lambda i: torch.where(items == i, pos, width).min(dim=1).values  # noqa: E731
        before = ((first(3) < first(4)) & (has(4) > 0)).double()
        value = 2.0 * has(0) + has(1) * has(2) + 1.5 * before + 0.5 * (items[:, -1] == 5).double()
        return value[:, None].expand(-1, self.n_items).clone()


def _known_values(history: list[int]) -> np.ndarray:
    expected = np.zeros(len(history))
    for j, item in enumerate(history):
        expected[j] = {0: 2.0, 1: 0.5, 2: 0.5, 3: 0.75, 4: 0.75}.get(item, 0.0)
    after_five = [j for j in range(history.index(5) + 1, len(history))] if 5 in history else []
    if 5 in history:
        # v(S) = 0.5 when 5 is in S and nothing after it is: Shapley gives 5 +0.5/(m+1) and each of
        # the m later events -0.5/(m(m+1))
        m = len(after_five)
        expected[history.index(5)] += 0.5 / (m + 1)
        for j in after_five:
            expected[j] -= 0.5 / (m * (m + 1))
    return expected


@pytest.mark.parametrize("history", [
    [7, 0, 1, 9, 3, 2, 4, 5, 8],  # exact: 9 events
    [10, 0, 11, 1, 12, 3, 13, 2, 14, 4, 15, 16, 5, 17],  # permutation: 14 events
])
def test_known_dependencies_get_the_attribution_they_must(history):
    model = KnownGame()
    result = attribute(model, history, item=6, max_evals=400, seed=3)
    assert result.method == ("exact" if len(history) <= 10 else "permutation")
    # pairwise interactions only: antithetic permutations are exact for them too
    np.testing.assert_allclose(result.values, _known_values(history), atol=1e-9)
    assert result.base_value == 0.0
    assert result.score == pytest.approx(2.0 + 1.0 + 1.5 + (0.5 if history[-1] == 5 else 0.0))
    assert result.additivity_error < 1e-9
    assert result.top(1)[0]["item_id"] == "0"  # item 0 is worth the most


def test_removed_events_are_removed_not_zeroed():
    # 5 is followed by 8: with 8 removed, 5 becomes the most recent event and earns its 0.5
    result = attribute(KnownGame(), [5, 8], item=1)
    np.testing.assert_allclose(result.values, [0.25, -0.25], atol=1e-12)


@pytest.mark.parametrize("model_name", ["pop", "itemknn", "sasrec"])
@pytest.mark.parametrize("length", [6, 30])
def test_values_plus_base_add_up_to_the_score(model_name, length):
    torch.manual_seed(0)
    rng = np.random.default_rng(length)
    n_items = 40
    model = create_model(model_name, n_items, model_config(model_name, {"max_len": 20} if model_name == "sasrec" else {}))
    if not model.trainable:
        indptr = np.arange(0, 41 * 10, 10)
        model.fit_statistics(indptr, rng.integers(0, n_items, indptr[-1]))
    history = rng.integers(0, n_items, length)
    result = attribute(model, history, item=3, max_evals=300, seed=1)
    assert result.additivity_error <= 1e-4
    # the score is the model's own score of the full history, as the recommendation list shows it
    with torch.no_grad():
        padded = torch.from_numpy(pad_sequences([history], model.history_length))
        listed = float(model.eval().score(padded)[0, 3])
    assert result.score == pytest.approx(listed, abs=1e-4)
    assert len(result) == min(length, model.history_length)
    assert result.older_events == length - len(result)
    assert result.positions[-1] == length


def test_permutation_estimate_is_reproducible_and_leaves_numpy_alone():
    model = create_model("sasrec", 30, model_config("sasrec", {"hidden": 16, "max_len": 20}))
    history = list(range(1, 19))
    np.random.seed(123)
    expected_next = np.random.random()
    np.random.seed(123)
    a = attribute(model, history, item=0, max_evals=200, seed=7)
    assert np.random.random() == expected_next  # shap's global seeding was undone
    b = attribute(model, history, item=0, max_evals=200, seed=7)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.to_shap().values.shape == (18,)


def test_a_cancelled_explanation_stops_between_batches_and_an_uncancelled_one_is_unchanged():
    """The window cancels an explanation the analyst moved away from: it stops at its next batch of
    coalitions instead of running to the end; asking and answering "no" changes nothing."""
    from recstudio.explain import AttributionCancelled

    model = create_model("sasrec", 30, model_config("sasrec", {"hidden": 16, "max_len": 20}))
    history = list(range(1, 19))
    asked = []

    def cancel_after_two():
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(AttributionCancelled):
        attribute(model, history, item=0, max_evals=1000, seed=7, cancelled=cancel_after_two)
    assert len(asked) == 3  # stopped at the third batch, not after every coalition was scored
    plain = attribute(model, history, item=0, max_evals=200, seed=7)
    never = attribute(model, history, item=0, max_evals=200, seed=7, cancelled=lambda: False)
    np.testing.assert_array_equal(plain.values, never.values)
    assert never.evaluations == plain.evaluations


def _planted_log(rng, n_users=100, length=10, n_items=40, rules=5):
    """Users browse random "noise" items; whenever rule item A_r appears, B_r follows it."""
    sequences = []
    noise = np.arange(2 * rules, n_items)
    for _ in range(n_users):
        seq = list(rng.choice(noise, size=length))
        for _ in range(2):
            r = int(rng.integers(rules))
            at = int(rng.integers(0, len(seq)))
            seq[at:at] = [r, rules + r]
        sequences.append(seq)
    return sequences


def test_planted_rule_a_then_b_is_found_in_a_trained_sasrec():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    n_items, rules = 40, 5
    model = create_model("sasrec", n_items, model_config("sasrec", {"hidden": 32, "layers": 1, "heads": 1,
                                                                     "max_len": 16, "dropout": 0.0}))
    batch = model.make_batch(pad_sequences(_planted_log(rng, n_users=100), 17), rng)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        model.loss(batch).backward()
        opt.step()
    model.eval()
    noise = np.arange(2 * rules, n_items)
    hits, cases = 0, 0
    for case in range(20):
        r = case % rules
        history = [*rng.choice(noise, size=int(rng.integers(4, 9))), r]  # A is the most recent event
        result = attribute(model, history, item=rules + r, seed=case)
        hits += int(result.order()[0] == len(history) - 1)
        cases += 1
    assert hits / cases >= 0.9


def test_deletion_curves_find_what_matters_in_the_known_game():
    model = KnownGame()
    history = [7, 0, 9, 1, 2, 8, 3, 4, 10, 11, 12, 13]
    result = attribute(model, history, item=6, max_evals=600)
    report = faithfulness(model, result, seed=0)
    assert report.curves["attribution"][0] == pytest.approx(result.score)
    assert report.curves["attribution"][-1] == pytest.approx(result.base_value)
    assert report.beats_random and report.top_drop == pytest.approx(2.0 + 1.5)
    assert report.auc["attribution"] < report.auc["random"]
    assert "attention" not in report.auc  # the known game has no attention to read


def test_deletion_helpers():
    model = KnownGame()
    players = np.array([0, 1, 2])
    scores = deletion_scores(model, players, 5, np.array([[0, 1, 2], [2, 1, 0]]))
    np.testing.assert_allclose(scores, [[3.0, 1.0, 0.0, 0.0], [3.0, 2.0, 2.0, 0.0]])
    assert deletion_auc(np.array([1.0, 0.0]), 1.0, 1.0) == pytest.approx(-0.5)
    assert deletion_auc(np.array([3.0, 1.0, 0.0, 0.0]), 3.0, 3.0) == pytest.approx(-13 / 18)
    assert np.isnan(deletion_auc(np.array([1.0, 1.0]), 1.0, 0.0))


def test_sasrec_attention_weights_of_the_last_position():
    torch.manual_seed(0)
    model = create_model("sasrec", 30, model_config("sasrec", {"hidden": 16, "max_len": 10})).eval()
    weights = last_position_attention(model, np.array([3, 4, 5, 6]))
    assert weights.shape == (4,) and np.all(weights >= 0)
    assert weights.sum() == pytest.approx(1.0, abs=1e-5)  # the last position attends only to real events
    assert last_position_attention(KnownGame(), np.array([1, 2])) is None
    # the hook is gone afterwards
    assert not any(m._forward_hooks for m in model.modules())
