"""Every user's top-K as one CSV, in batches: complete, seen items left out, formulas neutralised,
user ids pseudonymised on request, and nothing written when the command fails."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recstudio import cli


@pytest.fixture
def trained(tmp_path, capsys):
    log = tmp_path / "log.csv"
    rows = [(f"u{u}", f"i{(u + t) % 12}", 1_600_000_000 + t) for u in range(30) for t in range(5)]
    pd.DataFrame(rows, columns=["user", "item", "time"]).to_csv(log, index=False)
    items = tmp_path / "items.csv"
    titles = [f"Item {i}" for i in range(12)]
    titles[3] = '=HYPERLINK("http://evil.example","x")'
    pd.DataFrame({"item": [f"i{i}" for i in range(12)], "title": titles}).to_csv(items, index=False)
    ws = str(tmp_path / "ws.sqlite")
    assert cli.main(["train", str(log), "--items", str(items), "--model", "itemknn", "--workspace", ws,
                     "--json", "--quiet"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    return ws, run_id, rows


def test_every_user_gets_k_unseen_items(tmp_path, trained, capsys):
    ws, run_id, rows = trained
    out = tmp_path / "all.csv"
    assert cli.main(["recommend", str(run_id), "--all-users", "-k", "4", "--output", str(out),
                     "--workspace", ws, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    table = pd.read_csv(out, dtype=str)
    assert summary["users"] == 30 and summary["rows"] == len(table) == 30 * 4
    assert list(table.columns) == ["user_id", "rank", "item_id", "title", "score"]
    seen = {(u, i) for u, i, _ in rows}
    assert not any((u, i) in seen for u, i in zip(table["user_id"], table["item_id"]))
    assert (table.groupby("user_id")["rank"].apply(list) == pd.Series([["1", "2", "3", "4"]] * 30,
            index=sorted(table["user_id"].unique()))).all()
    # a title that a spreadsheet would run as a formula is written as text
    risky = table[table["item_id"] == "i3"]["title"]
    assert len(risky) and (risky.str.startswith("'=")).all()
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_pseudonymised_ids_are_stable_per_secret(tmp_path, trained, capsys):
    ws, run_id, _ = trained
    paths = {}
    for name, secret in (("a", "s3cret"), ("b", "s3cret"), ("c", "other")):
        paths[name] = tmp_path / f"{name}.csv"
        assert cli.main(["recommend", str(run_id), "--all-users", "--output", str(paths[name]),
                         "--pseudonymise", secret, "--workspace", ws]) == 0
    a, b, c = (pd.read_csv(paths[n], dtype=str) for n in "abc")
    assert not a["user_id"].str.startswith("u").any()
    assert a["user_id"].nunique() == 30
    assert a["user_id"].tolist() == b["user_id"].tolist()
    assert set(a["user_id"]).isdisjoint(set(c["user_id"]))


def test_a_failed_export_leaves_no_file(tmp_path, trained, capsys):
    ws, _, _ = trained
    out = tmp_path / "never.csv"
    assert cli.main(["recommend", "999", "--all-users", "--output", str(out), "--workspace", ws]) == 2
    assert "999" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / ".never.csv.partial").exists()
    assert cli.main(["recommend", "1", "--all-users", "--workspace", ws]) == 2
    assert "--output" in capsys.readouterr().err
