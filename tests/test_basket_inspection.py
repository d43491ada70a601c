"""The inspector and the explanations on baskets: a generated shop log whose invoices share a time, a
tiny SASRec trained on the last-basket split into a real workspace, and the questions an analyst asks of
one customer (which basket was held out, which of its items the list found, which baskets drove a
recommendation, what the list would be without one)."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest

from recstudio.errors import RecStudioError
from recstudio.explain import BASKETS, EVENTS, CoalitionScorer, attribute, explanation_html, faithfulness
from recstudio.runs import AS_EVALUATED, FULL_HISTORY, TrainRequest, inspect_user, open_inspector, train_run
from recstudio.runs.explaining import explain, explain_scenario
from recstudio.runs.scoring import score_history

from tests.helpers import one_thread  # noqa: F401  (fixture: tiny models on one thread)

N_ITEMS = 40


def write_shop(folder, users: int = 90, seed: int = 0):
    """Customers buy 3 to 8 invoices of 1 to 5 lines; the lines of an invoice share its time. Items come
    in aisles of eight and a customer keeps to one or two aisles, so a tiny model has something to learn."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        aisles = rng.choice(N_ITEMS // 8, size=2, replace=False)
        t = 1_600_000_000 + user * 1_000
        for _ in range(int(rng.integers(3, 9))):
            lines = int(rng.integers(1, 6))
            picks = rng.choice(8, size=lines, replace=False) + 8 * rng.choice(aisles)
            rows += [(f"c{user}", f"p{int(p)}", t, int(rng.integers(1, 6))) for p in picks]
            t += int(rng.integers(1, 30)) * 86_400
    log = folder / "shop.csv"
    pd.DataFrame(rows, columns=["customer_id", "product_id", "timestamp", "quantity"]).to_csv(log, index=False)
    items = folder / "products.csv"
    aisles = ["Tea", "Garden", "Kitchen", "Toy", "Paper"]
    pd.DataFrame({"product_id": [f"p{i}" for i in range(N_ITEMS)],
                  "title": [f"{aisles[i // 8]} thing {i}" for i in range(N_ITEMS)],
                  "category": [f"Aisle {i // 8}" for i in range(N_ITEMS)]}).to_csv(items, index=False)
    return log, items


def _train(request: TrainRequest):
    gen = train_run(request)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("basket_inspection")
    log, items = write_shop(folder)
    workspace = str(folder / "workspace.sqlite")
    outcome = _train(TrainRequest(str(log), "sasrec", items=str(items), split="last-basket", device="cpu",
                                  workspace=workspace, train_config={"max_steps": 30, "epochs": 30, "seed": 1},
                                  model_config={"hidden": 16, "layers": 1, "max_len": 20}))
    assert outcome.split == "last-basket"
    log_frame = pd.read_csv(log, dtype={"customer_id": str, "product_id": str})
    return {"workspace": workspace, "run": outcome.run_id, "log": log_frame,
            "inspector": open_inspector(workspace, outcome.run_id)}


def invoices(log: pd.DataFrame, user: str) -> list[list[str]]:
    """The user's invoices from the file itself, oldest first: the lines sharing a time."""
    mine = log[log["customer_id"] == user]
    return [list(group["product_id"]) for _, group in mine.groupby("timestamp", sort=True)]


def evaluated_users(inspector) -> list[str]:
    return [u for u in inspector.users()["user_id"] if inspector.held_out_items(u)]


def test_the_history_is_grouped_into_invoices_and_the_whole_last_one_is_held_out(shop_run):
    inspector, log = shop_run["inspector"], shop_run["log"]
    user = next(u for u in evaluated_users(inspector) if len(invoices(log, u)[-1]) >= 3)
    baskets = invoices(log, user)
    history = inspector.history(user)
    assert history["basket"].tolist() == [n + 1 for n, lines in enumerate(baskets) for _ in lines]
    parts = history["part"].tolist()
    last, before = len(baskets[-1]), len(baskets[-2])
    assert parts[-last:] == ["test"] * last  # every line of the last invoice, not its last printed line
    assert parts[-last - before:-last] == ["validation"] * before
    assert set(parts[:-last - before]) == {"train"}
    assert inspector.held_out_items(user) == list(dict.fromkeys(baskets[-1]))

    shown = inspect_user(shop_run["workspace"], shop_run["run"], user, k=10)
    assert shown.grouped and shown.split == "last-basket"
    assert shown.held_out_items == tuple(dict.fromkeys(baskets[-1])) and shown.held_out == baskets[-1][0]
    assert list(shown.recommendation.history) == [i for lines in baskets[:-1] for i in lines]
    assert shown.scenario.baskets == tuple(n for n, lines in enumerate(baskets[:-1]) for _ in lines)


def test_as_evaluated_reproduces_the_runs_basket_metrics(shop_run):
    """Each tested user's list asks the run's test question: the held-out basket's ranks give the stored
    HR@10, Recall@10, NDCG@10 and MRR@10 back."""
    inspector = shop_run["inspector"]
    hr, recall, ndcg, mrr = [], [], [], []
    for user in evaluated_users(inspector):
        rec = inspector.recommend(user, k=10)
        ranks = np.array(rec.held_out_ranks)
        assert len(ranks) == len(rec.held_out_items) and rec.held_out_rank == ranks.min()
        found = ranks <= 10
        hr.append(found.any())
        recall.append(found.mean())
        ideal = sum(1 / np.log2(r + 1) for r in range(1, min(10, len(ranks)) + 1))
        ndcg.append(sum(1 / np.log2(r + 1) for r in ranks[found]) / ideal)
        mrr.append(1 / ranks.min() if ranks.min() <= 10 else 0.0)
    stored = inspector.run.metrics["test"]
    assert len(hr) == sum(len(invoices(shop_run["log"], u)) >= 3 for u in inspector.users()["user_id"])
    assert np.mean(hr) == pytest.approx(stored["HR@10"])
    assert np.mean(recall) == pytest.approx(stored["Recall@10"])
    assert np.mean(ndcg) == pytest.approx(stored["NDCG@10"], rel=1e-6)
    assert np.mean(mrr) == pytest.approx(stored["MRR@10"], rel=1e-6)


def test_the_list_marks_every_item_of_the_held_out_basket_it_found(shop_run):
    inspector, workspace, run = shop_run["inspector"], shop_run["workspace"], shop_run["run"]
    shown = None
    for user in evaluated_users(inspector):
        candidate = inspect_user(workspace, run, user, k=20)
        if candidate.found:
            shown = candidate
            break
    assert shown is not None, "the tiny model found no held-out item in anyone's top 20"
    rec = shown.recommendation
    marked = [it["item_id"] for it in rec.items if it["held_out"]]
    assert marked == list(shown.found) and set(marked) <= set(shown.held_out_items)
    assert rec.held_out_in_list == next(it["rank"] for it in rec.items if it["held_out"])
    ranks = dict(zip(rec.held_out_items, rec.held_out_ranks))
    assert all(ranks[it["item_id"]] == it["rank"] for it in rec.items if it["held_out"])
    assert all(r > 20 for item, r in ranks.items() if item not in shown.found)
    # every history item is excluded, a basket item bought before too: a miss, said as such
    assert not {it["item_id"] for it in rec.items} & set(rec.history)
    assert rec.held_out_seen == [i for i in rec.held_out_items if i in set(rec.history)]
    assert all(ranks[i] == inspector.model.n_items for i in rec.held_out_seen)  # last: a miss

    full = inspect_user(workspace, run, shown.user, k=20, mode=FULL_HISTORY)
    assert full.found == () and full.held_out_items == shown.held_out_items
    assert not {it["item_id"] for it in full.recommendation.items} & set(shown.held_out_items)


def test_a_log_without_shared_times_under_leave_one_out_is_not_grouped(tmp_path):
    rows = [(f"u{u}", f"i{(u + t) % 12}", 1_000 + 10 * t) for u in range(20) for t in range(5)]
    log = tmp_path / "log.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(log, index=False)
    workspace = str(tmp_path / "workspace.sqlite")
    run = _train(TrainRequest(str(log), "pop", split="leave-one-out", workspace=workspace)).run_id
    shown = inspect_user(workspace, run, "u3", k=5)
    assert not shown.grouped
    assert shown.history["part"].tolist() == ["train"] * 3 + ["validation", "test"]
    assert shown.history["basket"].tolist() == [1, 2, 3, 4, 5]
    assert shown.held_out_items == (shown.held_out,) == ("i7",)
    assert shown.recommendation.held_out_items == ["i7"] and len(shown.recommendation.held_out_ranks) == 1


# attributions over baskets ------------------------------------------------------------------------
def brute_shapley(scorer: CoalitionScorer, events: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Shapley values by the definition, each group of events one player removed or kept whole."""
    m = len(groups)

    def value(players: tuple[int, ...]) -> float:
        keep = sorted(j for p in players for j in groups[p])
        row = np.full(len(events), -1, dtype=np.int64)
        row[keep] = events[keep]
        return float(scorer(row[None, :])[0])

    out = np.zeros(m)
    for p in range(m):
        others = [q for q in range(m) if q != p]
        for size in range(m):
            for coalition in combinations(others, size):
                weight = factorial(size) * factorial(m - size - 1) / factorial(m)
                out[p] += weight * (value(tuple(sorted(coalition + (p,)))) - value(coalition))
    return out


def a_user_with_baskets(inspector, log, fewest: int, most: int) -> str:
    for user in inspector.users()["user_id"]:
        baskets = invoices(log, user)
        if fewest <= len(baskets) <= most and max(len(b) for b in baskets) >= 3:
            return user
    raise AssertionError("the generated log has no such customer")


def test_attributions_over_baskets_are_the_shapley_values_of_whole_baskets_and_add_up(shop_run):
    inspector, log = shop_run["inspector"], shop_run["log"]
    user = a_user_with_baskets(inspector, log, 4, 5)
    index = inspector.dataset.user_index(user)
    events = inspector.dataset.history(index)
    labels = inspector.basket_numbers(index)
    item = int(np.argmax(inspector.popularity))
    model = inspector.model
    over_baskets = attribute(model, events, item, baskets=labels, titles=inspector.titles)
    over_events = attribute(model, events, item, titles=inspector.titles)
    baskets = invoices(log, user)
    assert over_baskets.over == BASKETS and over_events.over == EVENTS
    assert len(over_baskets) == len(baskets) and len(over_events) == len(events)
    for a in (over_baskets, over_events):
        assert a.method == "exact" and a.additivity_error < 1e-5  # values + base value == score
    assert over_baskets.score == pytest.approx(over_events.score)
    assert over_baskets.base_value == pytest.approx(over_events.base_value)
    groups = [list(lines) for lines in over_baskets.members]
    assert [len(g) for g in groups] == [len(b) for b in baskets]
    assert [inspector.item_ids[events[g]].tolist() for g in groups] == baskets
    assert over_baskets.positions == list(np.cumsum([0] + [len(b) for b in baskets[:-1]]) + 1)
    expected = brute_shapley(CoalitionScorer(model, item), events, groups)
    assert np.allclose(over_baskets.values, expected, atol=1e-5)
    assert over_baskets.titles[0].startswith(str(inspector.titles[events[0]]))
    lines = [e["lines"] for e in over_baskets.events()]
    assert lines == [len(b) for b in baskets]


def test_attributions_over_many_baskets_are_sampled_and_still_add_up(shop_run):
    inspector, log = shop_run["inspector"], shop_run["log"]
    user = max(inspector.users()["user_id"], key=lambda u: len(invoices(log, u)))
    index = inspector.dataset.user_index(user)
    events = inspector.dataset.history(index)
    item = int(np.argsort(-inspector.popularity)[3])
    a = attribute(inspector.model, events, item, baskets=inspector.basket_numbers(index), exact_up_to=3,
                  max_evals=200)
    assert a.method == "permutation" and a.over == BASKETS and a.additivity_error < 1e-5
    assert len(a) == len({int(b) for b in inspector.basket_numbers(index)[a.older_events:]})
    assert sorted(j for lines in a.members for j in lines) == list(range(len(a.history_items)))
    check = faithfulness(inspector.model, a, random_orders=3)
    assert len(check.curves["attribution"]) == len(a) + 1  # one step per basket removed
    assert check.curves["attribution"][0] == pytest.approx(a.score, abs=1e-5)
    assert check.curves["attribution"][-1] == pytest.approx(a.base_value, abs=1e-5)


def test_a_scenario_explained_over_baskets_and_over_events(shop_run):
    inspector, workspace, run = shop_run["inspector"], shop_run["workspace"], shop_run["run"]
    user = a_user_with_baskets(inspector, shop_run["log"], 5, 8)
    shown = inspect_user(workspace, run, user, k=5)
    item = shown.recommendation.items[0]["item_id"]
    scenario = shown.scenario.with_added("p1")
    by_basket = explain_scenario(inspector, scenario, item, over=BASKETS, max_evals=300).attribution
    by_event = explain_scenario(inspector, scenario, item, over=EVENTS, max_evals=300).attribution
    assert by_basket.additivity_error < 1e-5 and by_event.additivity_error < 1e-5
    assert by_basket.score == pytest.approx(by_event.score, abs=1e-5)
    assert len(by_basket) == len(set(shown.scenario.baskets)) + 1  # the added item is a basket of its own
    assert by_basket.members[-1] == (len(scenario.history()) - 1,)
    explained = explain(None, run, item, user=user, over=BASKETS, max_evals=300, inspector=inspector)
    assert explained.attribution.over == BASKETS
    # the saved report says what a player was
    report = explanation_html(explained, run_label="run")
    assert "Shapley values over baskets (each basket removed or kept whole)" in report
    assert "<th>Items</th><th>Basket</th>" in report
    assert "over events" in explanation_html(explain_scenario(inspector, scenario, item, over=EVENTS,
                                                              max_evals=300), run_label="run")
    with pytest.raises(RecStudioError, match="ad-hoc history has no baskets"):
        explain(None, run, item, history=["p1", "p2"], over=BASKETS, inspector=inspector)
    with pytest.raises(RecStudioError, match="events or baskets"):
        explain(None, run, item, user=user, over="invoices", inspector=inspector)


# what-if without a basket -------------------------------------------------------------------------
def test_what_if_removes_a_whole_basket(shop_run):
    inspector, workspace, run, log = (shop_run[k] for k in ("inspector", "workspace", "run", "log"))
    user = a_user_with_baskets(inspector, log, 5, 8)
    shown = inspect_user(workspace, run, user, k=10)
    scenario = shown.scenario
    baskets = invoices(log, user)[:-1]  # the history "as evaluated": every invoice before the held-out one
    biggest = max(range(len(baskets)), key=lambda b: len(baskets[b]))
    without = scenario.basket_toggled(biggest, keep=False)
    assert without.left_out_baskets() == [biggest]
    assert without.history() == [i for n, lines in enumerate(baskets) if n != biggest for i in lines]
    changed = inspect_user(workspace, run, user, k=10, scenario=without)
    rec = changed.recommendation
    assert rec.mode is None and rec.history == without.history()
    # the list is the model's own for that history, every item of it left out, the held-out basket marked
    history = np.array([inspector.dataset.item_index(i) for i in rec.history], dtype=np.int64)
    _, scores = score_history(inspector.model, history, inspector.popularity)
    scores = scores[0].numpy().copy()
    allowed = np.ones(len(scores), dtype=bool)
    for i in set(rec.history):
        allowed[inspector.dataset.item_index(i)] = False
    best = [str(inspector.item_ids[i]) for i in np.argsort(-np.where(allowed, scores, -np.inf), kind="stable")[:10]]
    assert [it["item_id"] for it in rec.items] == best
    assert changed.found == tuple(i for i in best if i in shown.held_out_items)
    assert [it["item_id"] for it in rec.items if it["held_out"]] == list(changed.found)
    # one line back: the basket is no longer wholly out
    back = without.toggled(without.basket_positions(biggest)[0], keep=True)
    assert back.left_out_baskets() == [] and len(back.left_out) == len(baskets[biggest]) - 1
    assert without.basket_toggled(biggest, keep=True).left_out == frozenset()
    assert AS_EVALUATED == shown.recommendation.mode


def test_the_sentence_under_the_list_says_a_held_out_item_the_user_had_is_never_listed():
    from recstudio.gui.views.inspector.presenter import held_out_text
    from recstudio.runs import Recommendation

    items = [{"rank": 1, "item_id": "a", "title": "A", "category": "", "score": 1.0, "held_out": True}]
    rec = Recommendation("u", "model", items, ["b", "c"], mode=AS_EVALUATED, held_out="a", held_out_in_list=1,
                         held_out_rank=1, held_out_items=["a", "b", "d"], held_out_ranks=[1, 9, 40],
                         held_out_seen=["b"])
    text = held_out_text(rec, str.upper, 50)
    assert "found <b>1 of 3</b>" in text and "Not found: D (the test's rank 40 of 50)" in text
    assert "Already in the history, so left out of the list" in text and text.endswith("the test): B.")
    single = Recommendation("u", "model", [], ["x"], mode=AS_EVALUATED, held_out="x", held_out_rank=50,
                            held_out_items=["x"], held_out_ranks=[50], held_out_seen=["x"])
    assert "is already in the history" in held_out_text(single, str.upper, 50)
