"""sasrec-lm (text-fused SASRec) and cold-start evaluation: the cold-items split, cold metrics, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recstudio.cli import main
from recstudio.data import import_interactions, make_split
from recstudio.errors import RecStudioError
from tests.helpers import THEMES



@pytest.fixture(scope="module")
def themed_files(tmp_path_factory):
    """Users who each stay within one theme; the catalogue's titles say which theme an item is."""
    folder = tmp_path_factory.mktemp("themed")
    rng = np.random.default_rng(0)
    catalogue, rows = [], []
    for t, (theme, titles) in enumerate(THEMES.items()):
        for i, title in enumerate(titles):
            catalogue.append({"sku": f"{theme[:2]}{i}", "title": title, "category": theme.title()})
    themes = list(THEMES)
    for user in range(80):
        theme = themes[user % 4]
        for n, i in enumerate(rng.integers(0, 10, size=14)):
            rows.append({"user": f"u{user}", "sku": f"{theme[:2]}{i}", "time": 1_600_000_000 + user * 1000 + n})
    interactions, items = folder / "events.csv", folder / "catalogue.csv"
    pd.DataFrame(rows).to_csv(interactions, index=False)
    pd.DataFrame(catalogue).to_csv(items, index=False)
    return interactions, items


@pytest.fixture(scope="module")
def themed(themed_files):
    interactions, items = themed_files
    return import_interactions(str(interactions), items_path=str(items))


def test_cold_split_keeps_cold_items_out_of_training_and_validation(themed):
    split = make_split(themed, "cold-items", cold_fraction=0.25, seed=3)
    cold = split.cold_items
    assert len(cold) == 10 and np.all(np.diff(cold) > 0)
    assert not np.isin(split.train_items, cold).any()
    assert not np.isin(split.valid.targets, cold).any() and not np.isin(split.valid.history_items, cold).any()
    assert np.isin(split.test.targets, cold).any()  # some test questions are about cold items
    # the test is leave-one-out's test: the last event, asked with the full history before it
    loo = make_split(themed)
    np.testing.assert_array_equal(split.test.targets, loo.test.targets)
    np.testing.assert_array_equal(split.test.history_items, loo.test.history_items)
    # validation targets come after every training event of the same user
    for case, user in enumerate(split.valid.users):
        np.testing.assert_array_equal(split.valid.history(case), split.train_sequence(user))
    # the same seed draws the same items; another seed other items
    np.testing.assert_array_equal(make_split(themed, "cold-items", cold_fraction=0.25, seed=3).cold_items, cold)
    assert not np.array_equal(make_split(themed, "cold-items", cold_fraction=0.25, seed=4).cold_items, cold)
    with pytest.raises(RecStudioError, match="between 0 and 1"):
        make_split(themed, "cold-items", cold_fraction=1.5)
    with pytest.raises(RecStudioError, match="no option"):
        make_split(themed, "leave-one-out", cold_fraction=0.2)


@pytest.fixture(scope="module")
def themed_text(themed):
    from recstudio.knowledge import item_embeddings

    return item_embeddings(themed, use_cache=False, device="cpu").vectors


def _train(model, split, steps: int):
    from recstudio.training import TrainConfig, fit

    gen = fit(model, split, TrainConfig(epochs=100, max_steps=steps, batch_size=32, lr=3e-3, seed=0), device="cpu")
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def _small(**overrides):
    from recstudio.models import model_config

    return model_config("sasrec-lm", {"hidden": 32, "layers": 1, "heads": 1, "max_len": 10, "dropout": 0.1,
                                      **overrides})


def test_cold_items_are_placed_by_their_text(themed, themed_text):
    import torch

    from recstudio.models import create_model

    split = make_split(themed, "cold-items", cold_fraction=0.25, seed=3)
    model = create_model("sasrec-lm", themed.n_items, _small(), item_text=themed_text)
    result = _train(model, split, steps=60)
    assert result.best_epoch >= 1 and np.isfinite(result.valid_metrics["NDCG@10"])
    cold = split.cold_items
    theme_of = themed.items["category"].to_numpy()
    same, other = [], []
    with torch.no_grad():
        for case in range(len(split.test)):
            history = split.test.history(case)
            scores = model.score(torch.from_numpy(
                np.pad(history[-10:] + 1, (10 - min(10, len(history)), 0))[None]))[0].numpy()
            assert np.isfinite(scores).all()
            user_theme = theme_of[history[-1]]
            cold_scores = scores[cold]
            same += list(cold_scores[theme_of[cold] == user_theme])
            other += list(cold_scores[theme_of[cold] != user_theme])
    # never-trained items get distinct scores, and those matching the user's theme score higher
    assert np.std(same + other) > 1e-3
    assert np.mean(same) > np.mean(other)


def test_text_only_and_linear_variants_train_and_checkpoint_is_self_contained(themed, themed_text, tmp_path):
    import torch

    from recstudio.models import create_model
    from recstudio.training import load_checkpoint, save_checkpoint

    split = make_split(themed)
    histories = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 1, 2, 3], [0] * 9 + [40]])
    for overrides in ({"fusion": "text-only", "adaptor": "linear"}, {"adaptor": "whiten-moe", "experts": 3}):
        model = create_model("sasrec-lm", themed.n_items, _small(**overrides), item_text=themed_text)
        _train(model, split, steps=5)
        model.eval()
        with torch.no_grad():
            scores = model.score(histories)
        assert scores.shape == (2, themed.n_items) and torch.isfinite(scores).all()
        folder = save_checkpoint(tmp_path / overrides["adaptor"], model, {})
        loaded, meta = load_checkpoint(folder)  # no encoder involved: the text vectors are in the checkpoint
        with torch.no_grad():
            torch.testing.assert_close(loaded.score(histories), scores)
        assert meta["config"]["fusion"] == overrides.get("fusion", "gated")


def test_settings_are_checked():
    from recstudio.models import model_config

    with pytest.raises(RecStudioError, match="fusion"):
        model_config("sasrec-lm", {"fusion": "concat"})
    with pytest.raises(RecStudioError, match="adaptor"):
        model_config("sasrec-lm", {"adaptor": "mlp"})


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else None), err


TINY = ["--set", "hidden=16", "--set", "layers=1", "--set", "heads=1", "--set", "max_len=10", "--batch-size", "32"]


def test_cli_trains_sasrec_lm_on_cold_items_and_reports_cold_metrics(themed_files, workspace_path, capsys):
    events, catalogue = (str(p) for p in themed_files)
    code, first, err = _cli(capsys, "train", events, "--items", catalogue, "--model", "sasrec-lm", "--split",
                            "cold-items", "--cold-fraction", "0.2", "--max-steps", "8", "--json", *TINY)
    assert code == 0, err
    cold = first["metrics"]["cold"]
    assert set(cold) >= {"HR@10", "NDCG@10", "cases"} and cold["cases"] > 0
    assert 0.0 <= cold["NDCG@10"] <= cold["HR@10"] <= 1.0
    assert "40 encoded" in err

    # the second run finds every text in the workspace's cache; the baseline on the same split is comparable
    code, again, err = _cli(capsys, "train", events, "--items", catalogue, "--model", "sasrec-lm", "--split",
                            "cold-items", "--cold-fraction", "0.2", "--max-steps", "2", "--json", *TINY)
    assert code == 0 and "0 encoded, 40 from the cache" in err
    code, base, _ = _cli(capsys, "train", events, "--model", "sasrec", "--split", "cold-items", "--cold-fraction",
                         "0.2", "--max-steps", "2", "--json", *TINY)
    assert code == 0 and base["metrics"]["cold"]["cases"] == cold["cases"]

    # a stored run re-tests on the same cold items, from its checkpoint alone
    code, evaluated, _ = _cli(capsys, "evaluate", str(first["run_id"]), "--json")
    assert code == 0 and evaluated["cold"]["NDCG@10"] == pytest.approx(cold["NDCG@10"])
    assert "sparse users (≤5 training events)" in evaluated["segments"]
    code, rec, _ = _cli(capsys, "recommend", str(first["run_id"]), "--user", "u1", "--json")
    assert code == 0 and len(rec["items"]) == 10

    # the inspector labels what each event was in this split: cold events trained nothing
    from recstudio.runs import RunInspector, run_split
    from recstudio.workspace import Workspace

    with Workspace(workspace_path) as ws:
        inspector = RunInspector(ws, first["run_id"])
        split = run_split(inspector.dataset, inspector.run)
        cold_ids = set(inspector.item_ids[split.cold_items])
        for user in ("u0", "u1", "u2", "u3"):
            events = inspector.history(user)
            assert events["part"].iloc[-1] == "test"
            assert not cold_ids & set(events.loc[events["part"].isin(["train", "validation"]), "item_id"])
            assert (events["part"] == "validation").sum() == 1
            trained = events.loc[events["part"] == "train", "item_id"].map(inspector.dataset.item_index).to_numpy()
            np.testing.assert_array_equal(trained, split.train_sequence(inspector.user_index(user)))


def test_cli_mistakes_exit_2_without_recording_a_run(themed_files, workspace_path, capsys, tmp_path):
    events, catalogue = (str(p) for p in themed_files)
    for argv in (["--model", "sasrec-lm", "--set", f"encoder={tmp_path / 'no-model'}"],
                 ["--model", "sasrec-lm", "--set", "template={brand}"],
                 ["--model", "sasrec", "--cold-fraction", "0.2"],
                 ["--model", "sasrec-lm", "--set", "fusion=concat"]):
        code, _, err = _cli(capsys, "train", events, "--items", catalogue, "--max-steps", "1", *argv)
        assert code == 2, argv
        last = err.strip().splitlines()[-1]
        assert last.startswith("recstudio: error: ") and "Traceback" not in err, err
    code, runs, _ = _cli(capsys, "runs", "list", "--json")
    assert runs["runs"] == []


def test_cancel_while_encoding_records_a_cancelled_run(themed_files, workspace_path):
    from recstudio.runs import TrainRequest, train_run
    from recstudio.training import Stage
    from recstudio.workspace import Workspace

    events, catalogue = (str(p) for p in themed_files)
    request = TrainRequest(data=events, items=catalogue, model="sasrec-lm", workspace=str(workspace_path))
    gen = train_run(request, cancelled=lambda: True)
    stages = []
    while True:
        try:
            stages.append(next(gen))
        except StopIteration as stop:
            outcome = stop.value
            break
    assert outcome.status == "cancelled" and outcome.epochs == 0
    assert any(isinstance(s, Stage) and s.name == "encode" for s in stages)
    with Workspace(workspace_path) as ws:
        assert ws.run(outcome.run_id).status == "cancelled"


def test_the_item_table_is_kept_between_inference_calls_and_rebuilt_after_training():
    import torch

    from recstudio.models import create_model, model_config

    torch.manual_seed(0)
    text = torch.randn(30, 16)
    model = create_model("sasrec-lm", 30, model_config("sasrec-lm", {"hidden": 16, "heads": 1, "max_len": 8}),
                         item_text=text)
    histories = torch.tensor([[0, 0, 0, 0, 0, 3, 7, 9]])
    model.eval()
    with torch.no_grad():
        first = model.score(histories)
        table = model.inference_table()
        assert model.inference_table() is table  # kept
        assert torch.allclose(first, model.score(histories)) and torch.allclose(table, model.item_table())
    model.train()  # one optimiser step changes the adaptor and the ids in place
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = model.score(histories)[0, 5] - model.score(histories)[0, 1]
    loss.backward()
    optimiser.step()
    model.eval()
    with torch.no_grad():
        after = model.score(histories)
        assert model.inference_table() is not table
        assert torch.allclose(model.inference_table(), model.item_table())
        assert not torch.allclose(after, first)
