"""Transfer between datasets (issue 18): a sasrec-lm run trained on one catalogue starts a run on another
that shares no item id but shares the text, zero-shot (``--epochs 0``) or then trained; what is refused."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from recstudio.errors import RecStudioError
from tests.helpers import SUCCESSOR, THEMES, cli, one_thread, successor_catalogue  # noqa: F401  (one_thread: autouse)

TINY = ["--set", "hidden=32", "--set", "layers=1", "--set", "heads=1", "--set", "max_len=10", "--batch-size", "32"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """One workspace holding catalogues A and B (same titles, no shared id) and a source run trained on A."""
    folder = tmp_path_factory.mktemp("transfer")
    a = successor_catalogue(folder, "a", seed=0)
    b = successor_catalogue(folder, "b", seed=1)
    path = str(folder / "workspace.sqlite")
    code = _main("train", a[0], "--items", a[1], "--model", "sasrec-lm", "--max-steps", "60", "--lr", "3e-3",
                 "--workspace", path, "--quiet", *TINY)
    assert code == 0
    from recstudio.runs import ImportRequest, import_or_reuse
    from recstudio.workspace import Workspace

    with Workspace(path) as ws:
        import_or_reuse(ws, ImportRequest(str(b[0]), str(b[1])))  # "b-events", for tests that read it first
    return SimpleNamespace(path=path, a=a, b=b, source=1)


def _main(*argv) -> int:
    from recstudio.cli import main

    return main([str(a) for a in argv])


def _run_ids(path) -> list[int]:
    from recstudio.workspace import Workspace

    with Workspace(path) as ws:
        return [r.id for r in ws.list_runs()]


def test_zero_shot_ranks_the_planted_successor_in_a_catalogue_sharing_no_ids(workspace, capsys):
    events, items = workspace.b
    code, zero, err = cli(capsys, "train", events, "--items", items, "--model", "sasrec-lm", "--init-from",
                          workspace.source, "--epochs", "0", "--workspace", workspace.path, "--json")
    assert code == 0, err
    assert (zero["status"], zero["epochs"], zero["best_epoch"]) == ("completed", 0, 0)
    assert "Zero-shot" in err and "id vectors start at zero" in err
    code, pop, _ = cli(capsys, "train", "b-events", "--model", "pop", "--workspace", workspace.path, "--json")
    # chance: the target's theme holds ~7 of the ~29 items a user has not had; the rule puts all of them first
    assert zero["metrics"]["test"]["HR@10"] >= 0.9 > pop["metrics"]["test"]["HR@10"]
    assert zero["metrics"]["test"]["NDCG@10"] > 2 * pop["metrics"]["test"]["NDCG@10"]

    # a completed run like any other: its checkpoint recommends, and the items come from the next theme
    code, rec, err = cli(capsys, "recommend", zero["run_id"], "--history", "b00,b11", "-k", "5",
                         "--workspace", workspace.path, "--json")
    assert code == 0, err
    assert all(r["item_id"].startswith("b2") for r in rec["items"])  # after tools (theme 1) comes music (2)
    code, explained, err = cli(capsys, "explain", zero["run_id"], "--user", "bu3", "--item",
                               rec["items"][0]["item_id"], "--workspace", workspace.path, "--json")
    assert code == 0, err
    total = sum(a["value"] for a in explained["attributions"]) + explained["base_value"]
    assert total == pytest.approx(explained["score"], abs=1e-4)

    from recstudio.runs import inspect_user

    seen = inspect_user(workspace.path, zero["run_id"], "bu3")  # what the inspector shows of one user
    assert seen.recommendation.held_out is not None and seen.recommendation.held_out_rank is not None
    assert seen.recommendation.held_out_in_list is not None  # the planted successor is in the top ten

    code, shown, _ = cli(capsys, "runs", "show", zero["run_id"], "--workspace", workspace.path, "--json")
    source = shown["init_from"]
    assert (source["run"], source["dataset"]) == (workspace.source, "a-events")
    assert source["encoder"]["name"] == "all-MiniLM-L6-v2" and source["encoder"]["identity"]
    assert shown["config"]["model"]["hidden"] == 32  # the architecture came from the source run


def test_weights_are_the_sources_and_id_vectors_start_at_zero_then_learn(workspace, capsys):
    import torch

    from recstudio.runs import RunConfig, load_run_model
    from recstudio.workspace import Workspace

    events, items = workspace.b
    code, zero, err = cli(capsys, "train", events, "--items", items, "--model", "sasrec-lm", "--init-from",
                          workspace.source, "--epochs", "0", "--workspace", workspace.path, "--json")
    assert code == 0, err
    code, tuned, err = cli(capsys, "train", events, "--items", items, "--model", "sasrec-lm", "--init-from",
                           workspace.source, "--max-steps", "3", "--set", "id_dropout=0.5",
                           "--workspace", workspace.path, "--json")
    assert code == 0, err
    with Workspace(workspace.path) as ws:
        _, source, _ = load_run_model(ws, workspace.source)
        _, start, meta = load_run_model(ws, zero["run_id"])
        _, trained, _ = load_run_model(ws, tuned["run_id"])
        assert RunConfig.of(ws.run(tuned["run_id"])).model["id_dropout"] == 0.5  # a training setting of its own
    assert meta.item_ids[0].startswith("b") and start.n_items == 40
    carried = [k for k in source.state_dict() if k not in source.CATALOGUE_STATE]
    assert any(k.startswith("encoder.blocks.") for k in carried) and "encoder.position.weight" in carried
    assert {"adaptor.proj", "adaptor.bias", "adaptor.gate.weight", "gate.weight"} <= set(carried)
    for name in carried:
        torch.testing.assert_close(start.state_dict()[name], source.state_dict()[name], msg=name)
    assert torch.count_nonzero(start.item_embedding.weight) == 0
    assert not torch.equal(start.item_text, source.item_text)  # B's items in B's order, B's own vectors
    # the centring statistics are the new catalogue's own (its text vectors' mean), not carried
    torch.testing.assert_close(start.adaptor.mean, start.item_text[1:].mean(0))
    # trained a few steps, the id vectors have learned and the carried weights moved
    assert torch.count_nonzero(trained.item_embedding.weight) > 0
    assert not torch.equal(trained.encoder.norm.weight, source.encoder.norm.weight)


@pytest.mark.parametrize("argv, message", [
    (["--set", "encoder={folder}"], "same encoder"),
    (["--set", "hidden=64"], "fixes hidden 32"),
    (["--model", "sasrec"], "cannot start from another run"),
    (["--init-from", "99"], "No run 99"),
    (["--teacher", "1"], "without a teacher"),
])
def test_refusals_exit_2_and_write_no_run(workspace, capsys, tmp_path, argv, message):
    events, items = workspace.b
    before = _run_ids(workspace.path)
    argv = [a.replace("{folder}", str(tmp_path)) for a in argv]  # a folder that is not the source's encoder
    full = ["train", events, "--items", items, "--model", "sasrec-lm", "--init-from", workspace.source,
            "--epochs", "0", "--workspace", workspace.path, *argv]
    code, _, err = cli(capsys, *full)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("recstudio: error: ") and message in last and "Traceback" not in err
    assert _run_ids(workspace.path) == before


def test_epochs_0_without_a_run_to_start_from_stays_refused(workspace, capsys):
    before = _run_ids(workspace.path)
    code, _, err = cli(capsys, "train", "b-events", "--model", "sasrec-lm", "--epochs", "0",
                       "--workspace", workspace.path)
    assert code == 2 and "--init-from" in err.strip().splitlines()[-1]
    assert _run_ids(workspace.path) == before


def test_a_source_must_be_a_finished_run_with_the_same_encoder_weights(workspace):
    from recstudio.runs.transfer import check_item_text, load_source
    from recstudio.workspace import Workspace

    with Workspace(workspace.path) as ws:
        source = load_source(ws, workspace.source, "sasrec-lm")
        running = ws.create_run(ws.run(workspace.source).dataset_id, "sasrec-lm", {}, split="leave-one-out")
        with pytest.raises(RecStudioError, match="is running; start from a completed run"):
            load_source(ws, running.id, "sasrec-lm")
        ws.finish_run(running.id, status="completed", metrics={}, seconds=0.0, epochs=0, artefacts={})
        with pytest.raises(RecStudioError, match="has no checkpoint"):
            load_source(ws, running.id, "sasrec-lm")
        ws.delete_run(running.id)
    same = SimpleNamespace(encoder=dict(source.meta.encoder))
    check_item_text(source, same)
    changed = SimpleNamespace(encoder={**source.meta.encoder, "identity": "local:/elsewhere#0123"})
    with pytest.raises(RecStudioError, match="has changed since"):
        check_item_text(source, changed)


def test_the_source_knows_the_rule_only_through_text(workspace):
    """The control for the zero-shot test: with B's titles shuffled between themes, the same source run
    no longer finds the successor (what it carried was the text's theme, not the ids)."""
    import torch

    from recstudio.knowledge import item_embeddings
    from recstudio.runs.transfer import load_source, transferred_model
    from recstudio.workspace import Workspace

    with Workspace(workspace.path) as ws:
        source = load_source(ws, workspace.source, "sasrec-lm")
        dataset = ws.load_dataset(ws.dataset_record("b-events").id)
    config = source.model.config
    order = list(THEMES)
    rank_of_successor = {}
    for shuffled in (False, True):
        items = dataset.items.copy()
        if shuffled:
            items["title"] = items["title"].sample(frac=1.0, random_state=0).to_numpy()
            items["category"] = ""
        vectors = item_embeddings(items, use_cache=False, device="cpu")
        model = transferred_model(source, "sasrec-lm", dataset.n_items, config, vectors).eval()
        hits = []
        with torch.no_grad():
            for sku in dataset.item_ids:
                theme = order[int(str(sku)[1])]
                scores = model.score(torch.tensor([[0] * 9 + [dataset.item_index(str(sku)) + 1]]))[0]
                top = scores.topk(10).indices.numpy()
                wanted = SUCCESSOR[theme]
                hits.append(np.mean([order[int(str(dataset.item_ids[i])[1])] == wanted for i in top]))
        rank_of_successor[shuffled] = float(np.mean(hits))
    assert rank_of_successor[False] > 0.8 > 0.5 > rank_of_successor[True]


def test_a_catalogue_without_the_runs_template_columns_is_refused(workspace, capsys, tmp_path):
    events, _ = workspace.b
    bare = tmp_path / "bare-events.csv"
    bare.write_text(events.read_text())  # the same events, no catalogue: no title, no category
    before = _run_ids(workspace.path)
    code, _, err = cli(capsys, "train", bare, "--model", "sasrec-lm", "--init-from", workspace.source,
                       "--epochs", "0", "--workspace", workspace.path)
    last = err.strip().splitlines()[-1]
    assert code == 2 and "uses no catalogue column" in last and "started from run 1 reads items with its template" in last
    assert _run_ids(workspace.path) == before


def test_an_int8_copy_is_not_a_source(workspace, capsys):
    code, copy, err = cli(capsys, "quantise", workspace.source, "--no-test", "--workspace", workspace.path, "--json")
    assert code == 0, err
    before = _run_ids(workspace.path)
    events, items = workspace.b
    code, _, err = cli(capsys, "train", events, "--items", items, "--model", "sasrec-lm", "--init-from",
                       copy["run_id"], "--epochs", "0", "--workspace", workspace.path)
    last = err.strip().splitlines()[-1]
    assert code == 2 and f"start from run {workspace.source}" in last and "Traceback" not in err
    assert _run_ids(workspace.path) == before


# few-shot: --train-fraction ----------------------------------------------------------------------------
def test_a_training_fraction_keeps_validation_and_test_and_trains_on_a_nested_share_of_users(workspace):
    from recstudio.data import make_split
    from recstudio.workspace import Workspace

    with Workspace(workspace.path) as ws:
        dataset = ws.load_dataset(ws.dataset_record("b-events").id)
    whole = make_split(dataset, "leave-one-out")
    trained = np.flatnonzero(np.diff(whole.train_indptr) > 0)
    kept = {}
    for fraction in (0.0, 0.1, 0.5, 1.0):
        split = make_split(dataset, "leave-one-out", train_fraction=fraction)
        for cases, same in ((split.valid, whole.valid), (split.test, whole.test)):  # the same questions
            assert np.array_equal(cases.users, same.users) and np.array_equal(cases.targets, same.targets)
            assert np.array_equal(cases.history_indptr, same.history_indptr)
            assert np.array_equal(cases.history_items, same.history_items)
        lengths = np.diff(split.train_indptr)
        kept[fraction] = set(np.flatnonzero(lengths > 0).tolist())
        assert len(kept[fraction]) == round(fraction * len(trained))
        for user in kept[fraction]:  # a kept user's sequence is whole
            assert np.array_equal(split.train_sequence(user), whole.train_sequence(user))
    assert kept[0.0] == set() and kept[1.0] == set(trained.tolist())
    assert kept[0.1] <= kept[0.5] <= kept[1.0]  # nested: a larger share keeps every user a smaller one keeps
    with pytest.raises(RecStudioError, match="between 0 and 1"):
        make_split(dataset, "leave-one-out", train_fraction=1.5)


def test_train_fraction_from_the_cli_is_recorded_and_zero_trains_only_zero_shot(workspace, capsys):
    events, items = workspace.b
    before = _run_ids(workspace.path)
    code, _, err = cli(capsys, "train", "b-events", "--model", "sasrec-lm", "--init-from", workspace.source,
                       "--train-fraction", "0", "--workspace", workspace.path)
    assert code == 2 and "keeps no user's training events" in err and _run_ids(workspace.path) == before
    code, zero, err = cli(capsys, "train", "b-events", "--model", "sasrec-lm", "--init-from", workspace.source,
                          "--train-fraction", "0", "--epochs", "0", "--workspace", workspace.path, "--json")
    assert code == 0, err
    code, few, err = cli(capsys, "train", "b-events", "--model", "sasrec-lm", "--init-from", workspace.source,
                         "--train-fraction", "0.1", "--max-steps", "5", "--workspace", workspace.path, "--json")
    assert code == 0, err
    assert "a share 0.1 of them" in err
    from recstudio.runs import RunConfig
    from recstudio.workspace import Workspace

    with Workspace(workspace.path) as ws:
        for out, fraction in ((zero, 0.0), (few, 0.1)):
            run = ws.run(out["run_id"])
            assert RunConfig.of(run).split_options == {"train_fraction": fraction}
    assert np.isfinite(list(zero["metrics"]["test"].values())).all()  # nothing trained on: still numbers
