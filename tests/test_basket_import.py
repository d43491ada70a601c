"""Baskets at import: the basket role guessed or mapped, the report's basket numbers and warning, the
default split that follows from a basket column, and the basket codes kept by the workspace."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recstudio.data import ColumnRoles, guess_roles, import_interactions, make_split, sample_paths
from recstudio.data.append import append_events
from recstudio.data.baskets import basket_starts, basket_summary
from recstudio.runs import ImportRequest, import_or_reuse
from recstudio.workspace import Workspace

from tests.helpers import cli

WARNING = "Leave-one-out would split baskets"


def _csv(path, header: str, rows) -> str:
    path.write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return str(path)


def _planted(tmp_path):
    """Three customers' invoices, printed as a till would print them, with the baskets planted:

    c1: invoice 100 (3 lines, 10:00), invoice 101 (2 lines, 11:00)  -> last line shares its basket
    c2: invoices 200, 201, 202, one line each at 09:00, 12:00, 13:00 -> last line alone
    c3: invoice 300 (4 lines at 08:00, the last printed a minute later) -> last line shares its basket
    c4: one line (invoice 400)                                       -> not counted (one event)

    c1's and c3's lines are interleaved in the file, and c3's invoice is printed before c1's.
    """
    rows = [
        ("c3", "p1", "300", "2011-01-01 08:00:00"), ("c1", "a", "100", "2011-01-01 10:00:00"),
        ("c3", "p2", "300", "2011-01-01 08:00:00"), ("c1", "b", "100", "2011-01-01 10:00:00"),
        ("c2", "x", "201", "2011-01-01 12:00:00"), ("c1", "c", "100", "2011-01-01 10:00:00"),
        ("c3", "p3", "300", "2011-01-01 08:00:00"), ("c2", "y", "200", "2011-01-01 09:00:00"),
        ("c1", "d", "101", "2011-01-01 11:00:00"), ("c3", "p4", "300", "2011-01-01 08:01:00"),
        ("c1", "e", "101", "2011-01-01 11:00:00"), ("c2", "z", "202", "2011-01-01 13:00:00"),
        ("c4", "q", "400", "2011-01-02 10:00:00"),
    ]
    return _csv(tmp_path / "till.csv", "customer_id,stock_code,invoice_no,invoice_date", rows)


def test_the_basket_column_is_guessed_from_shop_names():
    for name in ("invoice_no", "InvoiceNo", "Invoice", "order_id", "Order Number", "basket", "basket_id",
                 "transaction_id", "receipt", "Session ID"):
        frame = pd.DataFrame({"customer_id": ["1"], "sku": ["a"], name: ["7"], "date": ["2011-01-01"]})
        assert guess_roles(frame).basket == name, name
    shop = pd.DataFrame([["x"] * 5], columns=["customer_id", "stock_code", "invoice_date", "quantity", "invoice_no"])
    assert guess_roles(shop) == ColumnRoles(user="customer_id", item="stock_code", timestamp="invoice_date",
                                            quantity="quantity", basket="invoice_no")
    # a session is the user of a session-based log, and the basket beside a user column
    sessions = pd.DataFrame([["x"] * 3], columns=["session_id", "item_id", "ts"])
    assert (guess_roles(sessions).user, guess_roles(sessions).basket) == ("session_id", None)
    both = pd.DataFrame([["x"] * 4], columns=["user_id", "session_id", "item_id", "ts"])
    assert (guess_roles(both).user, guess_roles(both).basket) == ("user_id", "session_id")
    # an order *date* is a time, and a file with none of these names has no basket column
    assert guess_roles(pd.DataFrame([["x"] * 3], columns=["user", "item", "order_date"])).basket is None
    assert guess_roles(pd.DataFrame([["x"] * 3], columns=["userId", "movieId", "timestamp"])).basket is None


def test_the_report_counts_the_planted_baskets(tmp_path):
    dataset = import_interactions(_planted(tmp_path))
    report = dataset.report
    assert report.columns["basket"] == "invoice_no"
    assert "basket" in dataset.interactions.columns
    # baskets: 100, 101, 200, 201, 202, 300, 400 -> sizes 3, 2, 1, 1, 1, 4, 1
    assert report.baskets == 7
    assert report.events_per_basket == pytest.approx(13 / 7)
    assert (report.events_per_basket_median, report.events_per_basket_max) == (1.0, 4)
    assert report.shared_time_events == 9  # the lines of 100, 101 and 300
    assert report.same_time_share == pytest.approx(2 / 3)  # c1 and c3 of the three customers with 2+ events
    assert report.users_with_three_baskets == 1  # c2
    assert any(w.startswith(WARNING) and "'invoice_no'" in w and "--split last-basket" in w for w in report.warnings)


def test_a_baskets_lines_are_consecutive_and_baskets_ordered_by_their_first_time(tmp_path):
    dataset = import_interactions(_planted(tmp_path))
    frame = dataset.interactions
    items = dataset.item_ids[frame["item"].to_numpy()].tolist()
    users = dataset.user_ids[frame["user"].to_numpy()].tolist()
    by_user = {u: [i for uu, i in zip(users, items) if uu == u] for u in ("c1", "c2", "c3")}
    assert by_user == {"c1": ["a", "b", "c", "d", "e"], "c2": ["y", "x", "z"], "c3": ["p1", "p2", "p3", "p4"]}
    # c3's basket is one basket although its last line was printed a minute later
    assert basket_starts(dataset).sum() == 7
    # the basket split holds out whole invoices: c2's last invoice, its one line z
    split = make_split(dataset, "last-basket")
    assert [dataset.user_ids[u] for u in split.test.users] == ["c2"]
    assert [dataset.item_ids[i] for i in split.test.target_set(0)] == ["z"]


def test_overlapping_sessions_stay_whole(tmp_path):
    """Two sessions of one user whose times interleave: each session stays one run of events."""
    rows = [("u", "a", "s1", 100), ("u", "b", "s2", 150), ("u", "c", "s1", 200), ("u", "d", "s2", 250),
            ("u", "e", "", 300)]  # an event with no session is a basket of its own
    dataset = import_interactions(_csv(tmp_path / "s.csv", "user_id,item_id,session_id,timestamp", rows))
    order = dataset.item_ids[dataset.interactions["item"].to_numpy()].tolist()
    assert order == ["a", "c", "b", "d", "e"]
    assert dataset.report.baskets == 3
    assert any("1 events have no value in basket column 'session_id'" in w for w in dataset.report.warnings)


def _share_log(tmp_path, shared_users: int, users: int = 10):
    """``users`` users with three events each at distinct times, except that for ``shared_users`` of
    them the last two events have the same time (no basket column)."""
    rows = []
    for u in range(users):
        times = [1000, 2000, 2000 if u < shared_users else 3000]
        rows += [(f"u{u}", f"i{u}_{k}", t) for k, t in enumerate(times)]
    return _csv(tmp_path / f"log{shared_users}.csv", "user_id,item_id,timestamp", rows)


def test_the_warning_appears_above_a_fifth_and_not_below(tmp_path, capsys):
    ws = tmp_path / "ws.sqlite"
    code, out, err = cli(capsys, "import", _share_log(tmp_path, 3), "--workspace", ws, "--json")
    assert code == 0, err
    report = out["report"]
    assert report["same_time_share"] == pytest.approx(0.3) and report["baskets"] == 27
    assert report["shared_time_events"] == 6
    assert [w for w in report["warnings"] if w.startswith(WARNING)] == [
        f"{WARNING}: for 30% of the users with two or more events, the last event has the same time as the one "
        "before it, so leave-one-out would test which of the events sharing a time was printed last. The "
        "last-basket split (--split last-basket) holds out the events sharing a time together."]
    code, out, err = cli(capsys, "import", _share_log(tmp_path, 2), "--workspace", ws, "--json")
    assert code == 0, err
    assert out["report"]["same_time_share"] == pytest.approx(0.2)  # not above a fifth: no warning
    assert not [w for w in out["report"]["warnings"] if w.startswith(WARNING)]
    # the text report says it too (the dataset imported above is reused, its report with it)
    assert cli_text(capsys, "import", _share_log(tmp_path, 3), "--workspace", ws).count(WARNING) == 1


def cli_text(capsys, *argv) -> str:
    from recstudio.cli import main

    assert main([str(a) for a in argv]) == 0
    return capsys.readouterr().out


def test_the_text_report_states_baskets(tmp_path, capsys):
    text = cli_text(capsys, "import", _planted(tmp_path), "--workspace", tmp_path / "ws.sqlite")
    assert "baskets (values of column 'invoice_no'): 7; events per basket: mean 1.9, median 1, max 4" in text
    assert "9 events share their basket with another event of their user; same_time_share 0.67" in text
    assert f"note: {WARNING}" in text


def test_basket_col_maps_and_empty_turns_the_guess_off(tmp_path, capsys):
    rows = [("c1", "a", "T1", 10), ("c1", "b", "T1", 20), ("c1", "c", "T2", 30), ("c2", "d", "T3", 40),
            ("c2", "e", "T3", 50)]
    path = _csv(tmp_path / "tickets.csv", "customer_id,stock_code,ticket,ts", rows)
    ws = tmp_path / "ws.sqlite"
    code, out, err = cli(capsys, "import", path, "--workspace", ws, "--json")
    assert code == 0 and "basket" not in out["report"]["columns"]  # "ticket" is not a basket name
    assert out["report"]["baskets"] == 5  # each event has a time of its own
    code, out, err = cli(capsys, "import", path, "--workspace", ws, "--basket-col", "ticket", "--json")
    assert code == 0, err
    assert out["report"]["columns"]["basket"] == "ticket" and out["report"]["baskets"] == 3
    assert out["report"]["same_time_share"] == pytest.approx(0.5)  # c2's last two lines are one ticket
    assert out["reused"] is False

    till = _planted(tmp_path)
    code, out, err = cli(capsys, "import", till, "--workspace", ws, "--basket-col", "", "--json")
    assert code == 0, err
    assert "basket" not in out["report"]["columns"]
    assert out["report"]["baskets"] == 8  # by time: c3's line printed a minute later is a basket apart

    code, out, err = cli(capsys, "import", path, "--workspace", ws, "--basket-col", "till_no")
    assert code == 2
    assert err.strip().count("\n") == 0 and "'till_no' (chosen as the basket column) is not in" in err


def _shop(tmp_path, basket: bool = True):
    """60 customers with four invoices of three lines each (one time per invoice)."""
    rng = np.random.default_rng(1)
    rows = []
    for u in range(60):
        for b in range(4):
            for item in rng.choice(25, size=3, replace=False):
                rows.append((f"c{u}", f"p{item}", f"{u}-{b}", 1_300_000_000 + 86_400 * (4 * u + b)))
    header = "customer_id,stock_code,invoice_no,invoice_date" if basket else "customer_id,stock_code,till,invoice_date"
    return _csv(tmp_path / ("shop.csv" if basket else "shop_no_basket.csv"), header, rows)


def test_train_defaults_to_last_basket_when_the_data_has_a_basket_column(tmp_path, capsys):
    ws = tmp_path / "ws.sqlite"
    code, out, err = cli(capsys, "train", _shop(tmp_path), "--model", "pop", "--workspace", ws, "--json")
    assert code == 0, err
    assert out["split"] == "last-basket"
    assert "Split: last-basket (the dataset has a basket column 'invoice_no')" in err
    assert "Recall@10" in out["metrics"]["test"]
    with Workspace(str(ws)) as workspace:
        assert workspace.run(out["run_id"]).split == "last-basket"
    # 12 lines from 25 products: many held-out lines were bought before, and the outcome says what that means
    share = out["metrics"]["test"]["seen_targets"]
    assert 0 < share < 1
    from recstudio.cli import main

    assert main(["train", _shop(tmp_path), "--model", "pop", "--workspace", str(ws)]) == 0
    said = capsys.readouterr()
    note = f"{share:.0%} of the test targets were already in the user's history: a list leaves the history out"
    assert note in said.out and note in said.err  # the outcome, and the test line of the progress
    # an explicit split always wins
    code, out, err = cli(capsys, "train", _shop(tmp_path), "--model", "pop", "--workspace", ws,
                         "--split", "leave-one-out", "--json")
    assert code == 0, err
    assert out["split"] == "leave-one-out" and "Recall@10" not in out["metrics"]["test"]
    assert "Split: leave-one-out (as chosen). The dataset has a basket column 'invoice_no'" in err


def test_without_a_basket_column_the_default_stays_leave_one_out(tmp_path, capsys):
    # every invoice's three lines share a time: the report warns, the split stays leave-one-out
    ws = tmp_path / "ws.sqlite"
    code, out, err = cli(capsys, "train", _shop(tmp_path, basket=False), "--model", "pop", "--workspace", ws,
                         "--json")
    assert code == 0, err
    assert out["split"] == "leave-one-out"
    assert ("Split: leave-one-out (the default without a basket column). For 100% of the users the last two "
            "events share a time") in err
    code, out, err = cli(capsys, "train", _shop(tmp_path), "--model", "pop", "--workspace", ws,
                         "--basket-col", "", "--json")
    assert code == 0, err
    assert out["split"] == "leave-one-out"


def test_the_workspace_keeps_the_baskets(tmp_path):
    path = _planted(tmp_path)
    with Workspace(str(tmp_path / "ws.sqlite")) as workspace:
        record, reused = import_or_reuse(workspace, ImportRequest(path))
        assert not reused
        loaded = workspace.load_dataset(record.id)
        fresh = import_interactions(path)
        assert loaded.interactions["basket"].tolist() == fresh.interactions["basket"].tolist()
        assert loaded.report.baskets == 7 and record.report["same_time_share"] == pytest.approx(2 / 3)
        assert basket_summary(loaded) == basket_summary(fresh)
        again, reused = import_or_reuse(workspace, ImportRequest(path))
        assert reused and again.id == record.id
        # a different basket choice is a different import
        other, reused = import_or_reuse(workspace, ImportRequest(path, roles=ColumnRoles(basket="")))
        assert not reused and "basket" not in workspace.load_dataset(other.id).interactions.columns


def test_a_cluster_job_carries_the_baskets_and_their_split(tmp_path):
    from recstudio.runs import write_cluster_job

    path = _planted(tmp_path)
    with Workspace(str(tmp_path / "ws.sqlite")) as workspace:
        record, _ = import_or_reuse(workspace, ImportRequest(path))
        here = workspace.load_dataset(record.id)
        run_sh = write_cluster_job(workspace, record.name, tmp_path / "job", model="sasrec")
        plain, _ = import_or_reuse(workspace, ImportRequest(path, roles=ColumnRoles(basket="")))
        plain_sh = write_cluster_job(workspace, plain.id, tmp_path / "plain", model="sasrec")
    args = json.loads((run_sh.parent / "job.json").read_text())["recstudio_args"]
    # the cluster reads the exported basket codes as the baskets, and trains on the dataset's default split
    assert args[args.index("--basket-col") + 1] == "basket" and args[args.index("--split") + 1] == "last-basket"
    exported = run_sh.parent / "data" / "till.parquet"
    there = import_interactions(str(exported), roles=ColumnRoles(user="user_id", item="item_id", timestamp="timestamp",
                                                                   basket="basket"))
    assert basket_summary(there) == basket_summary(here) and there.report.baskets == 7
    assert [there.user_ids[u] for u in there.interactions["user"]] == [here.user_ids[u] for u in here.interactions["user"]]
    # without baskets the cluster is told not to guess one, and the split stays leave-one-out
    args = json.loads((plain_sh.parent / "job.json").read_text())["recstudio_args"]
    assert args[args.index("--basket-col") + 1] == "" and args[args.index("--split") + 1] == "leave-one-out"
    (events,) = [f for f in (plain_sh.parent / "data").glob("*.parquet") if f.name != "items.parquet"]
    assert "basket" not in pd.read_parquet(events).columns


def test_a_dataset_stored_before_baskets_still_loads(tmp_path):
    """A workspace written before the basket column existed: no ``basket`` column, no basket numbers in
    its report. It loads, its baskets are its shared times, and its default split is leave-one-out."""
    from recstudio.data.basket_report import default_split

    path = _planted(tmp_path)
    old = import_interactions(path, roles=ColumnRoles(basket=""))
    old.report.columns.pop("basket", None)
    for key in ("baskets", "events_per_basket", "shared_time_events", "same_time_share"):
        setattr(old.report, key, 0)
    with Workspace(str(tmp_path / "ws.sqlite")) as workspace:
        record = workspace.save_dataset(old, fingerprint="f" * 64, options_key="o" * 64, source=path)
        loaded = workspace.load_dataset(record.id)
    assert "basket" not in loaded.interactions.columns and loaded.report.baskets == 0
    assert basket_summary(loaded)["baskets"] == 8
    assert default_split(loaded.report) == "leave-one-out"


def test_an_update_keeps_old_and_new_baskets_apart(tmp_path):
    dataset = import_interactions(_planted(tmp_path))
    new = _csv(tmp_path / "more.csv", "customer_id,stock_code,invoice_no,invoice_date",
               [("c1", "f", "100", "2011-01-03 10:00:00"), ("c1", "g", "100", "2011-01-03 10:00:00")])
    version = append_events(dataset, new).dataset
    # invoice number 100 again, two days later: a new basket (the old baskets' values are not kept)
    assert version.report.baskets == 8
    frame = version.interactions
    c1 = frame[frame["user"] == version.user_index("c1")]
    assert version.item_ids[c1["item"].to_numpy()].tolist() == ["a", "b", "c", "d", "e", "f", "g"]
    assert len(set(c1["basket"])) == 3
    assert sum(w.startswith(WARNING) for w in version.report.warnings) == 1


def test_the_bundled_sample_is_mostly_baskets():
    interactions, catalogue = sample_paths()
    report = import_interactions(interactions, items_path=catalogue).report
    assert report.columns["basket"] == "invoice_no"
    assert report.same_time_share == pytest.approx(0.95, abs=0.01)
    assert 4000 < report.baskets < 6000
    assert any(w.startswith(WARNING) for w in report.warnings)


def test_ml100k_shares_times_without_baskets(ml100k):
    interactions, _ = ml100k
    report = import_interactions(interactions).report
    assert "basket" not in report.columns
    assert report.same_time_share == pytest.approx(0.44, abs=0.01)
    from recstudio.data.basket_report import default_split

    assert default_split(report) == "leave-one-out"


def test_the_training_page_log_says_when_test_targets_were_already_in_the_history():
    from recstudio.gui.views.training.presenter import outcome_texts
    from recstudio.runs.training import RunOutcome

    test = {"HR@10": 0.2, "NDCG@10": 0.03, "MRR@10": 0.05, "seen_targets": 0.308}
    outcome = RunOutcome(7, "sasrec", "purchases", "completed", 36, 26, 52.0, 40.0, 900.0, {"test": test},
                         "last-basket")
    lines, _, _ = outcome_texts(outcome)
    assert lines[-1].startswith("31% of the test targets were already in the user's history")
    lines, _, _ = outcome_texts(RunOutcome(7, "sasrec", "ml", "completed", 3, 2, 5.0, 4.0, 900.0,
                                           {"test": {**test, "seen_targets": 0.0}}, "leave-one-out"))
    assert not any("already in the user's history" in line for line in lines)
