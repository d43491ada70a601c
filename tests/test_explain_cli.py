"""`recstudio explain`, `faithfulness`, `recommend --diversity` and `evaluate --diversity` on a tiny
trained run; MMR re-ranking on its own."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recstudio.cli import main
from recstudio.evaluation.diversity import category_similarity, embedding_similarity, mmr, rerank

GENRES = ["Garden", "Kitchen", "Candles", "Toys", "Books"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A workspace with one short SASRec run on a synthetic shop (40 users, 25 items, 5 categories)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("explain-cli")
    rng = np.random.default_rng(0)
    rows = ["user,item,time"]
    for user in range(40):
        favourite = user % 5
        for t in range(12):
            item = favourite * 5 + int(rng.integers(5)) if rng.random() < 0.7 else int(rng.integers(25))
            rows.append(f"u{user},p{item},{1_600_000_000 + 3600 * t}")
    (folder / "log.csv").write_text("\n".join(rows) + "\n")
    catalogue = ["item,title,category"] + [f"p{i},Product {chr(65 + i)},{GENRES[i // 5]}" for i in range(25)]
    (folder / "items.csv").write_text("\n".join(catalogue) + "\n")
    workspace = str(folder / "ws.sqlite")
    code = main(["train", str(folder / "log.csv"), "--items", str(folder / "items.csv"), "--model", "sasrec",
                 "--max-steps", "30", "--set", "hidden=16", "--set", "layers=1", "--set", "max_len=20",
                 "--seed", "1", "--quiet", "--workspace", workspace, "--json"])
    assert code == 0
    yield workspace
    torch.set_num_threads(threads)


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else out), err


def test_explain_a_users_recommendation(run, capsys):
    code, rec, _ = _cli(capsys, "recommend", "1", "--user", "u3", "-k", "3", "--workspace", run, "--json")
    item = rec["items"][0]["item_id"]
    code, out, err = _cli(capsys, "explain", "1", "--user", "u3", "--item", item, "--workspace", run, "--json")
    assert code == 0, err
    assert out["user"] == "u3" and out["item"] == item
    assert out["score"] == pytest.approx(rec["items"][0]["score"], abs=1e-4)
    assert len(out["attributions"]) == 12 and out["method"] == "permutation"
    total = sum(a["value"] for a in out["attributions"]) + out["base_value"]
    assert total == pytest.approx(out["score"], abs=1e-4)
    first = out["attributions"][0]
    assert set(first) == {"item_id", "title", "timestamp", "value"}
    assert first["title"].startswith("Product ") and first["timestamp"].startswith("2020-09-13T12:26:40")
    assert out["text_source"] == "grounded" and out["text"]
    # the text names only events with positive attribution
    positive = {a["title"] for a in out["attributions"] if a["value"] > 0}
    named = {t for t in (a["title"] for a in out["attributions"]) if f"“{t}”" in out["text"]}
    assert named <= positive

    code, text, _ = _cli(capsys, "explain", "1", "--user", "u3", "--item", item, "--workspace", run)
    assert code == 0 and f"Item {item}" in text and "[grounded]" in text


def test_explain_an_ad_hoc_history_exactly(run, capsys):
    code, out, _ = _cli(capsys, "explain", "1", "--history", "p0,p1,p2,p7", "--item", "p3", "--workspace", run,
                        "--json")
    assert code == 0 and out["user"] is None and out["method"] == "exact"
    assert [a["item_id"] for a in out["attributions"]] == ["p0", "p1", "p2", "p7"]
    assert all(a["timestamp"] is None for a in out["attributions"])
    assert sum(a["value"] for a in out["attributions"]) + out["base_value"] == pytest.approx(out["score"], abs=1e-5)


@pytest.mark.parametrize("argv, message", [
    (["explain", "1", "--user", "u3", "--item", "nope"], "Item 'nope'"),
    (["explain", "1", "--user", "nobody", "--item", "p1"], "User 'nobody'"),
    (["explain", "9", "--user", "u3", "--item", "p1"], "9"),
    (["faithfulness", "1", "--users", "0"], "--users"),
    (["recommend", "1", "--user", "u3", "--diversity", "1.5"], "--diversity"),
])
def test_explain_mistakes_exit_2_with_one_line(run, capsys, argv, message):
    code, _, err = _cli(capsys, *argv, "--workspace", run)
    assert code == 2 and err.startswith("recstudio: error: ") and err.count("\n") == 1 and message in err


def test_faithfulness_report(run, capsys):
    code, out, err = _cli(capsys, "faithfulness", "1", "--users", "6", "--seed", "2", "--workspace", run, "--json")
    assert code == 0, err
    assert out["users"] == 6 and 0.0 <= out["top3_beats_random"] <= 1.0
    assert set(out["deletion_auc"]) == {"attribution", "random", "attention"}
    assert all(isinstance(v, float) for v in out["deletion_auc"].values())
    assert out["max_additivity_error"] <= 1e-4


def test_recommend_and_evaluate_with_diversity(run, capsys):
    code, plain, _ = _cli(capsys, "recommend", "1", "--user", "u3", "-k", "5", "--workspace", run, "--json")
    code, varied, _ = _cli(capsys, "recommend", "1", "--user", "u3", "-k", "5", "--diversity", "0.9",
                           "--workspace", run, "--json")
    assert code == 0 and len(varied["items"]) == 5 and varied["diversity"] == 0.9
    category = lambda it: GENRES[(ord(it["title"][-1]) - 65) // 5]  # noqa: E731
    assert len({category(it) for it in varied["items"]}) >= len({category(it) for it in plain["items"]})
    assert varied["items"][0] == plain["items"][0]  # the most relevant item still leads
    code, same, _ = _cli(capsys, "recommend", "1", "--user", "u3", "-k", "5", "--diversity", "0", "--workspace", run,
                         "--json")
    assert same["items"] == plain["items"]

    code, out, _ = _cli(capsys, "evaluate", "1", "--diversity", "0.7", "--workspace", run, "--json")
    assert code == 0
    report = out["diversity_reranking"]
    assert report["lambda"] == 0.7 and report["similarity"] == "category" and report["cases"] == 40
    assert report["diversity@10"]["after"] >= report["diversity@10"]["before"]
    assert report["NDCG@10"]["before"] == pytest.approx(out["metrics"]["NDCG@10"], abs=0.02)
    code, text, _ = _cli(capsys, "evaluate", "1", "--diversity", "0.7", "--workspace", run)
    assert "MMR re-ranking (λ 0.7, category similarity)" in text


def test_mmr_trades_relevance_for_variety():
    categories = [frozenset({"a"}), frozenset({"a"}), frozenset({"a", "b"}), frozenset({"b"}), frozenset({"c"}), frozenset()]
    similarity = category_similarity(categories)
    pool, scores = np.array([[0, 1, 2, 3, 4, 5]]), np.array([[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]])
    assert mmr(pool, scores, 4, 0.0, similarity).tolist() == [[0, 1, 2, 3]]  # λ 0: the model's order
    assert mmr(pool, scores, 4, 0.5, similarity).tolist() == [[0, 3, 4, 2]]
    assert rerank([10, 11, 12], [3.0, 2.0, 1.0], 2, 0.5, lambda items: np.zeros(items.shape + items.shape[-1:])) == [0, 1]
    # empty slots stay empty and are never picked
    assert mmr(np.array([[2, -1, -1]]), np.array([[1.0, -np.inf, -np.inf]]), 3, 0.5, similarity).tolist() == [[2, -1, -1]]
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert mmr(np.array([[0, 1, 2]]), np.array([[3.0, 2.0, 1.0]]), 2, 0.6, embedding_similarity(vectors)).tolist() == [[0, 2]]
    assert category_similarity([frozenset()] * 3) is None
