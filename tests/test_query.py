"""`recstudio recommend RUN --query TEXT`: interests in words, for a user with no history."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recstudio.cli import main
from recstudio.workspace import Workspace
from tests.helpers import cli, one_thread  # noqa: F401  (one_thread: an autouse fixture)


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    """ml-100k cut to its first 300 movies and 200 users (titles + genres as item text); a sasrec-lm run
    (run 1, a few steps: the query leans on the text) and a popularity run (run 2, no text knowledge)."""
    from conftest import ML100K

    if not (ML100K / "interactions.csv").exists():
        pytest.skip("ml-100k is not in ../shared/datasets")
    folder = tmp_path_factory.mktemp("query")
    ratings = pd.read_csv(ML100K / "interactions.csv")
    ratings = ratings[(ratings["item_id"] <= 300) & (ratings["user_id"] <= 200)]
    items = pd.read_csv(ML100K / "items.csv")
    events, catalogue = folder / "ratings.csv", folder / "movies.csv"
    ratings.to_csv(events, index=False)
    items[items["item_id"] <= 300].to_csv(catalogue, index=False)
    workspace = folder / "workspace.sqlite"
    assert main(["train", str(events), "--items", str(catalogue), "--model", "sasrec-lm", "--set", "hidden=32",
                 "--set", "heads=1", "--set", "max_len=20", "--batch-size", "32", "--max-steps", "8", "--quiet",
                 "--workspace", str(workspace)]) == 0
    assert main(["train", str(events), "--model", "pop", "--quiet", "--workspace", str(workspace)]) == 0
    return {"workspace": workspace, "genres": dict(zip(items["title"], items["genres"]))}


def test_a_query_finds_items_whose_text_matches(movies, capsys):
    code, out, _ = cli(capsys, "recommend", "1", "--query", "star wars", "-k", "5", "--json",
                       "--workspace", movies["workspace"])
    assert code == 0 and out["source"] == "query" and out["user"] is None and len(out["items"]) == 5
    titles = [it["title"] for it in out["items"]]
    assert titles[0] == "Star Wars", titles
    assert sum("Sci-Fi" in movies["genres"][t] for t in titles[:3]) >= 2, titles
    assert all(set(it) == {"item_id", "title", "score"} for it in out["items"])
    assert len(out["seeds"]) == 5  # the closest text matches the model read as a stand-in history


def test_the_engine_returns_what_recommend_returns(movies):
    from recstudio.runs import Recommendation, recommend_query

    with Workspace(movies["workspace"]) as ws:
        rec = recommend_query(ws, 1, "animated children's movie", k=8)
    assert isinstance(rec, Recommendation) and rec.source == "query" and len(rec.items) == 8
    scores = [it["score"] for it in rec.items]
    assert scores == sorted(scores, reverse=True)
    assert sum("Children" in movies["genres"][it["title"]] for it in rec.items) >= 4, rec.items


def test_an_int8_copy_answers_queries_too(movies, capsys):
    code, q, _ = cli(capsys, "quantise", "1", "--no-test", "--json", "--workspace", movies["workspace"])
    assert code == 0
    code, out, _ = cli(capsys, "recommend", q["run_id"], "--query", "star wars", "-k", "3", "--json",
                       "--workspace", movies["workspace"])
    assert code == 0 and out["items"][0]["title"] == "Star Wars"


@pytest.mark.parametrize("argv, message", [
    (["2", "--query", "star wars"], "no text knowledge"),
    (["1", "--query", "   "], "query is empty"),
    (["1", "--query", "star wars", "--diversity", "0.5"], "not --query"),
    (["99", "--query", "star wars"], "No run 99"),
])
def test_query_mistakes_are_one_line_errors(movies, capsys, argv, message):
    code, _, err = cli(capsys, "recommend", *argv, "--workspace", movies["workspace"])
    assert code == 2 and message in err and "Traceback" not in err, err
