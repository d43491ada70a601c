"""`recstudio update`: new events and catalogue items become a new dataset version and a fine-tuned run,
and recommendations follow a user's latest events."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from recstudio.cli import main
from recstudio.errors import RecStudioError
from recstudio.workspace import Workspace
from tests.helpers import cli, one_thread  # noqa: F401  (one_thread: an autouse fixture)

THEMES = {
    "fruit": ["Fresh apple", "Ripe banana", "Juicy orange", "Sweet mango", "Green pear", "Red cherries",
              "Seedless grapes", "Wild strawberries", "Golden pineapple", "Fresh peaches"],
    "music": ["Acoustic guitar", "Digital piano", "Violin with bow", "Drum kit", "Electric bass guitar",
              "Brass trumpet", "Wooden flute", "Alto saxophone", "Ukulele", "Cello"],
    "sport": ["Football", "Tennis racket", "Basketball", "Running shoes", "Yoga mat", "Golf clubs",
              "Ski goggles", "Cycling helmet", "Boxing gloves", "Swimming goggles"],
}
T0 = 1_600_000_000


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Users who each stay within one theme; a sasrec-lm run (run 1) and a sasrec run (run 2) on them;
    new events: user u0 (fruit) turns to music, a new user buys sport including a new item, and the new
    catalogue adds that item and one more (music) that nobody has touched."""
    folder = tmp_path_factory.mktemp("update")
    rng = np.random.default_rng(0)
    themes = list(THEMES)
    catalogue = [{"sku": f"{t[:2]}{i}", "title": title, "category": t.title()}
                 for t, titles in THEMES.items() for i, title in enumerate(titles)]
    rows = [{"user": f"u{u}", "sku": f"{themes[u % 3][:2]}{i}", "time": T0 + u * 1000 + n}
            for u in range(60) for n, i in enumerate(rng.integers(0, 10, size=12))]
    events, items = folder / "events.csv", folder / "catalogue.csv"
    pd.DataFrame(rows).to_csv(events, index=False)
    pd.DataFrame(catalogue).to_csv(items, index=False)
    new_rows = [{"user": "u0", "sku": f"mu{i}", "time": T0 + 10**6 + n} for n, i in enumerate([1, 3, 5, 7, 2, 4])]
    new_rows += [{"user": "newbie", "sku": sku, "time": T0 + 10**6 + n} for n, sku in enumerate(["sp1", "sp10", "sp2", "sp3"])]
    new_events, new_items = folder / "new_events.csv", folder / "new_catalogue.csv"
    pd.DataFrame(new_rows).to_csv(new_events, index=False)
    pd.DataFrame([{"sku": "sp10", "title": "Badminton racket", "category": "Sport"},
                  {"sku": "mu10", "title": "Electric violin", "category": "Music"},
                  {"sku": "fr0", "title": "Renamed apple", "category": "Fruit"}]).to_csv(new_items, index=False)
    workspace = folder / "workspace.sqlite"
    common = ["--set", "hidden=32", "--set", "heads=1", "--epochs", "4", "--batch-size", "16", "--quiet",
              "--workspace", str(workspace)]
    assert main(["train", str(events), "--items", str(items), "--model", "sasrec-lm", *common]) == 0
    # scaled inputs: after 4 epochs on this tiny log such a model follows the newest items of an ad-hoc
    # history closely, which the --history tests below read; the unscaled default needs longer here
    assert main(["train", str(events), "--items", str(items), "--model", "sasrec", "--set", "scale_inputs=true",
                 *common]) == 0
    return {"workspace": workspace, "events": events, "items": items, "new_events": new_events,
            "new_items": new_items, "folder": folder}


def snapshot(workspace) -> tuple:
    """Rows and files of a workspace, to tell whether anything changed."""
    with Workspace(workspace) as ws:
        datasets = [(d.id, d.n_events) for d in ws.list_datasets()]
        runs = [(r.id, r.status) for r in ws.list_runs()]
        files = sorted(str(p.relative_to(ws.files_dir)) for p in ws.files_dir.rglob("*")
                       if "embeddings" not in p.parts)
    return datasets, runs, files


@pytest.fixture(scope="module")
def updated(setup):
    """``recstudio update 1 new_events.csv --items new_catalogue.csv --json`` (sasrec-lm)."""
    code = main(["update", "1", str(setup["new_events"]), "--items", str(setup["new_items"]), "--steps", "30",
                 "--quiet", "--json", "--workspace", str(setup["workspace"])])
    assert code == 0
    with Workspace(setup["workspace"]) as ws:
        run = ws.list_runs()[-1]
    return run


def _top(workspace, run_id, **who) -> list[str]:
    """The top 5 with seen items allowed (each theme has 10 items: a user has seen most of theirs)."""
    from recstudio.runs import recommend

    with Workspace(workspace) as ws:
        return [it["item_id"] for it in recommend(ws, run_id, k=5, exclude_seen=False, **who).items]


def test_update_appends_a_new_dataset_version_and_keeps_every_old_index(setup, updated):
    with Workspace(setup["workspace"]) as ws:
        old, new = ws.load_dataset(1), ws.load_dataset(updated.dataset_id)
        parent = ws.dataset_record(1)
    assert updated.dataset_id != 1 and updated.model == "sasrec-lm"
    assert updated.config["update"]["parent_run"] == 1 and updated.config["update"]["added_events"] == 10
    assert parent.n_events == 720 and old.n_events == 720  # the parent version is untouched
    assert new.n_events == 730 and new.n_users == 61 and new.n_items == 32
    assert list(new.user_ids[:60]) == list(old.user_ids) and new.user_ids[60] == "newbie"
    assert list(new.item_ids[:30]) == list(old.item_ids)
    assert list(new.item_ids[30:]) == ["sp10", "mu10"]  # items with events first, then catalogue-only ones
    assert list(new.items["title"].iloc[30:]) == ["Badminton racket", "Electric violin"]
    assert new.items["title"].iloc[new.item_index("fr0")] == "Fresh apple"  # known items keep their row
    assert list(new.history(new.user_index("u0"))[-6:]) == [new.item_index(f"mu{i}") for i in (1, 3, 5, 7, 2, 4)]


def test_recommendations_follow_the_users_newest_events(setup, updated):
    ws = setup["workspace"]
    before = _top(ws, 1, user="u0")  # the parent run reads u0's history in the old version: fruit
    after = _top(ws, updated.id, user="u0")  # the new run reads the new version: u0 now plays music
    assert sum(i.startswith("fr") for i in before) >= 3
    assert sum(i.startswith("mu") for i in after) >= 3 and set(after) != set(before)
    # the newcomer has recommendations at once, in their theme
    assert sum(i.startswith("sp") for i in _top(ws, updated.id, user="newbie")) >= 3


def test_an_ad_hoc_history_is_read_as_given(setup, capsys):
    ws = setup["workspace"]
    fruit = "fr1,fr2,fr3,fr4"
    code, plain, _ = cli(capsys, "recommend", "2", "--history", fruit, "-k", "5", "--keep-seen", "--json",
                         "--workspace", ws)
    code, turned, _ = cli(capsys, "recommend", "2", "--history", fruit + ",mu1,mu3,mu5,mu7", "-k", "5", "--keep-seen",
                          "--json", "--workspace", ws)
    ids = lambda rec: [it["item_id"] for it in rec["items"]]  # noqa: E731
    assert sum(i.startswith("fr") for i in ids(plain)) >= 3
    assert sum(i.startswith("mu") for i in ids(turned)) >= 3


def test_a_new_catalogue_item_without_events_is_placed_by_its_text(setup, updated):
    from recstudio.data import pad_sequences
    from recstudio.runs import load_run_model

    with Workspace(setup["workspace"]) as ws:
        _, model, meta = load_run_model(ws, updated.id)
    violin = meta.item_ids.index("mu10")
    assert not bool(model.trained_items[violin + 1])  # no events: its text alone places it
    music = [meta.item_ids.index(f"mu{i}") for i in range(5)]
    with torch.no_grad():
        scores = model.score(torch.from_numpy(pad_sequences([music], model.history_length)))[0]
    assert torch.isfinite(scores[violin])
    fruit = [meta.item_ids.index(f"fr{i}") for i in range(10)]
    assert scores[violin] > scores[fruit].mean()  # after music, the violin beats the average fruit


def test_an_id_only_run_says_it_cannot_score_new_items_without_events(setup, updated, capsys):
    code, out, _ = cli(capsys, "update", "2", setup["new_events"], "--items", setup["new_items"], "--steps", "10",
                       "--quiet", "--json", "--workspace", setup["workspace"])
    assert code == 0 and out["dataset_reused"] and out["dataset_id"] == updated.dataset_id  # the same version
    assert any("cannot be scored" in n for n in out["notes"]) and out["catalogue_only"] == ["mu10"]
    code = main(["update", "2", str(setup["new_events"]), "--items", str(setup["new_items"]), "--steps", "10",
                 "--quiet", "--workspace", str(setup["workspace"])])
    assert code == 0 and "cannot be scored" in capsys.readouterr().out


def _bad_files(folder):
    no_columns = folder / "numbers.csv"
    no_columns.write_text("a\n1\n2\n")
    return {"no_columns": no_columns}


@pytest.mark.parametrize("case, message", [
    ("unknown run", "No run 99"),
    ("missing file", "No file"),
    ("no usable columns", "single column"),
    ("nothing new", "nothing to update"),
    ("bad steps", "at least 1"),
])
def test_update_mistakes_are_one_line_errors_and_change_nothing(setup, updated, capsys, case, message):
    ws = setup["workspace"]
    args = {"unknown run": ["99", setup["new_events"]],
            "missing file": ["1", setup["folder"] / "nope.csv"],
            "no usable columns": ["1", _bad_files(setup["folder"])["no_columns"]],
            "nothing new": ["1", setup["events"]],
            "bad steps": ["1", setup["new_events"], "--steps", "0"]}[case]
    before = snapshot(ws)
    code, _, err = cli(capsys, "update", *args, "--quiet", "--workspace", ws)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert snapshot(ws) == before


@pytest.mark.parametrize("where", ["writing files", "renaming into place"])
def test_a_failure_while_storing_the_new_version_leaves_the_workspace_as_it_was(setup, updated, monkeypatch, where):
    import recstudio.workspace.files as files
    import recstudio.workspace.store as store
    from recstudio.runs import UpdateRequest, update_run

    other = setup["folder"] / f"other_{where.replace(' ', '_')}.csv"
    pd.DataFrame([{"user": "u1", "sku": "mu2", "time": T0 + 2 * 10**6}]).to_csv(other, index=False)
    before = snapshot(setup["workspace"])
    if where == "writing files":
        real = files.write_parquet

        def write_then_fail(frame, path):
            real(frame, path)
            raise OSError("disk full")

        monkeypatch.setattr(files, "write_parquet", write_then_fail)
    else:
        real_replace = store.os.replace

        def fail_on_dataset(src, dst):
            if "datasets" in str(dst):
                raise OSError("rename failed")
            return real_replace(src, dst)

        monkeypatch.setattr(store.os, "replace", fail_on_dataset)
    gen = update_run(UpdateRequest(run=2, events=str(other), steps=5, workspace=str(setup["workspace"])))
    with pytest.raises(OSError):
        while True:
            next(gen)
    monkeypatch.undo()
    assert snapshot(setup["workspace"]) == before


def test_append_events_maps_known_ids_and_adds_new_ones(setup):
    from recstudio.data import import_interactions
    from recstudio.data.append import append_events

    dataset = import_interactions(str(setup["events"]), items_path=str(setup["items"]))
    appended = append_events(dataset, setup["new_events"], items_path=setup["new_items"])
    assert appended.new_users == ["newbie"] and appended.new_items == ["sp10", "mu10"]
    assert appended.catalogue_only == ["mu10"] and appended.added_events == 10
    version = appended.dataset
    inter = version.interactions
    assert np.all(np.diff(inter["user"].to_numpy()) >= 0)  # sorted by user, then time
    for user in range(version.n_users):
        lo, hi = version.indptr[user], version.indptr[user + 1]
        assert np.all(np.diff(inter["timestamp"].to_numpy()[lo:hi]) >= 0)
    with pytest.raises(RecStudioError, match="nothing to update"):
        append_events(dataset, setup["events"])  # every row is already there
