"""The run inspector on ml-100k: a user's history, their top-K in both modes, and the held-out item."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recstudio.errors import RecStudioError
from recstudio.runs import AS_EVALUATED, FULL_HISTORY, RunInspector, TrainRequest, recommend, train_run
from recstudio.workspace import Workspace

ML100K = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"


def _train(request: TrainRequest):
    gen = train_run(request)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workspace with ml-100k, a popularity run and a short SASRec run (shared by this module)."""
    interactions, items = ML100K / "interactions.csv", ML100K / "items.csv"
    if not interactions.exists():
        pytest.skip("ml-100k is not in ../shared/datasets")
    path = str(tmp_path_factory.mktemp("inspection") / "workspace.sqlite")
    pop = _train(TrainRequest(str(interactions), "pop", items=str(items), workspace=path))
    sasrec = _train(TrainRequest(model="sasrec", dataset="interactions", train_config={"max_steps": 20, "seed": 1},
                                 model_config={"hidden": 32, "layers": 1}, device="cpu", workspace=path))
    log = pd.read_csv(interactions, dtype={"user_id": str, "item_id": str})
    with Workspace(path) as workspace:
        yield {"workspace": workspace, "pop": pop.run_id, "sasrec": sasrec.run_id, "log": log,
               "inspectors": {run: RunInspector(workspace, run) for run in (pop.run_id, sasrec.run_id)}}


@pytest.mark.parametrize("model", ["pop", "sasrec"])
def test_as_evaluated_ranks_reproduce_the_runs_test_metrics(trained, model):
    """'As evaluated' asks each user exactly the run's test question: averaging its held-out ranks gives
    the stored test metrics back."""
    inspector = trained["inspectors"][trained[model]]
    ranks = np.array([inspector.recommend(user, k=10).held_out_rank for user in inspector.users()["user_id"]])
    stored = inspector.run.metrics["test"]
    assert np.mean(ranks <= 10) == pytest.approx(stored["HR@10"])
    ndcg = np.where(ranks <= 10, 1 / np.log2(ranks + 1), 0.0).mean()
    assert ndcg == pytest.approx(stored["NDCG@10"], rel=1e-6)


def test_lists_exclude_the_history_used(trained):
    inspector = trained["inspectors"][trained["sasrec"]]
    touched = set(trained["log"].query("user_id == '7'")["item_id"])
    evaluated = inspector.recommend("7", k=25)
    assert evaluated.mode == AS_EVALUATED and evaluated.source == "model"
    assert [it["rank"] for it in evaluated.items] == list(range(1, 26))
    assert not {it["item_id"] for it in evaluated.items} & set(evaluated.history)
    assert len(evaluated.history) == len(touched) - 1  # everything before the held-out (last) event
    assert evaluated.held_out not in evaluated.history
    scores = [it["score"] for it in evaluated.items]
    assert scores == sorted(scores, reverse=True)

    full = inspector.recommend("7", k=25, mode=FULL_HISTORY)
    assert full.mode == FULL_HISTORY and set(full.history) == touched
    assert not {it["item_id"] for it in full.items} & touched
    assert full.held_out_in_list is None and full.held_out_rank is None
    assert not any(it["held_out"] for it in full.items)


def test_a_popular_held_out_item_appears_marked_as_evaluated_and_is_excluded_with_the_full_history(trained):
    inspector = trained["inspectors"][trained["pop"]]
    popular = set(np.argsort(-inspector.popularity)[:5])
    user = next(u for u in inspector.users()["user_id"]
                if inspector.dataset.item_index(inspector.held_out(u)) in popular
                and inspector.recommend(u, k=10).held_out_in_list is not None)
    rec = inspector.recommend(user, k=10)
    marked = [it for it in rec.items if it["held_out"]]
    assert [it["item_id"] for it in marked] == [rec.held_out]
    assert rec.held_out_in_list == marked[0]["rank"] <= 10
    assert rec.held_out_rank <= 10

    full = inspector.recommend(user, k=10, mode=FULL_HISTORY)
    assert rec.held_out not in {it["item_id"] for it in full.items}


def test_history_is_the_users_events_oldest_first_with_their_part_in_the_split(trained):
    inspector = trained["inspectors"][trained["sasrec"]]
    events = trained["log"].query("user_id == '1'")
    history = inspector.history("1")
    assert len(history) == len(events) == 272
    assert {"position", "time", "item_id", "title", "category", "rating", "part"} <= set(history.columns)
    assert history["time"].is_monotonic_increasing
    assert history["time"].iloc[-1] == pd.Timestamp(events["timestamp"].max(), unit="s", tz="UTC")
    assert sorted(history["item_id"]) == sorted(events["item_id"])
    assert history["part"].tolist() == ["train"] * 270 + ["validation", "test"]
    assert inspector.held_out("1") == history["item_id"].iloc[-1]
    assert history["title"].iloc[0] and "|" in "".join(history["category"])


def test_users_and_search(trained):
    inspector = trained["inspectors"][trained["pop"]]
    users = inspector.users()
    assert len(users) == 943 and users["events"].sum() == 100_000
    counts = trained["log"].groupby("user_id").size()
    assert dict(zip(users["user_id"], users["events"])) == counts.to_dict()
    found = inspector.users("10")
    assert len(found) == sum("10" in u for u in counts.index) and all("10" in u for u in found["user_id"])
    assert inspector.users("no-such-user").empty


def test_the_cli_recommend_is_the_full_history_list(trained):
    workspace, run = trained["workspace"], trained["sasrec"]
    rec = recommend(workspace, run, user="1", k=10)
    assert all(set(it) == {"item_id", "title", "score"} for it in rec.items)
    full = trained["inspectors"][run].recommend("1", k=10, mode=FULL_HISTORY)
    assert [it["item_id"] for it in rec.items] == [it["item_id"] for it in full.items]
    assert [it["score"] for it in rec.items] == pytest.approx([it["score"] for it in full.items])


def test_user_mistakes_are_explained(trained):
    inspector = trained["inspectors"][trained["pop"]]
    with pytest.raises(RecStudioError, match="not in dataset"):
        inspector.recommend("no-such-user")
    with pytest.raises(RecStudioError, match="mode"):
        inspector.recommend("1", mode="tomorrow")
    with pytest.raises(RecStudioError, match="at least 1"):
        inspector.recommend("1", k=0)


def test_a_user_the_split_does_not_test_gets_the_full_history(tmp_path):
    log = tmp_path / "log.csv"
    rows = [("a", "x", 1), ("a", "y", 2), ("a", "z", 3), ("b", "x", 1), ("b", "z", 2), ("c", "y", 5)]
    pd.DataFrame(rows, columns=["user", "item", "time"]).to_csv(log, index=False)
    path = str(tmp_path / "workspace.sqlite")
    run = _train(TrainRequest(str(log), "pop", workspace=path)).run_id
    with Workspace(path) as workspace:
        inspector = RunInspector(workspace, run)
        assert inspector.held_out("c") is None and inspector.held_out("a") == "z"
        rec = inspector.recommend("c", k=5)
        assert rec.mode == FULL_HISTORY and "no held-out test event" in rec.note
        assert rec.history == ["y"] and {it["item_id"] for it in rec.items} == {"x", "z"}
        assert inspector.history("c")["part"].tolist() == ["train"]


def test_one_call_inspects_a_user_as_the_window_shows_them(trained):
    """inspect_user (what a click on a user runs, by workspace path and run id) gives the history, the
    list, the held-out item and the scenario together, as the inspector's separate calls do."""
    from dataclasses import replace

    from recstudio.runs import inspect_user, open_inspector

    path, run = str(trained["workspace"].path), trained["sasrec"]
    seen = inspect_user(path, run, "7", k=10)
    inspector = trained["inspectors"][run]
    plain = inspector.recommend("7", k=10)
    assert [it["item_id"] for it in seen.recommendation.items] == [it["item_id"] for it in plain.items]
    assert seen.recommendation.held_out_rank == plain.held_out_rank
    assert seen.held_out == inspector.held_out("7") == plain.held_out
    assert seen.history["item_id"].tolist() == inspector.history("7")["item_id"].tolist()
    assert list(seen.scenario.base) == plain.history and not seen.scenario.changed
    assert open_inspector(path, run) is open_inspector(path, run)  # loaded once, asked user after user

    diverse = inspect_user(path, run, "7", k=10, diversity=0.5, scenario=seen.scenario)
    assert "Re-ranked for diversity" in diverse.recommendation.note
    assert diverse.recommendation.held_out_rank == plain.held_out_rank  # the run's test rank, not re-ranked
    before, after = diverse.diversity
    assert after >= before

    left_out = replace(seen.scenario, left_out=frozenset({len(seen.scenario.base) - 1}))
    what_if = inspect_user(path, run, "7", k=10, scenario=left_out)
    assert what_if.recommendation.mode is None  # a changed history: the run's test asked another question
    assert what_if.recommendation.history == plain.history[:-1]
