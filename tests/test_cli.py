"""The command line end to end on ml-100k and on bad input: JSON shapes, exit codes, workspace state."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from recstudio.cli import main


def run_cli(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    payload = json.loads(out) if "--json" in argv and code == 0 else None
    return code, payload, err


def _table_counts(path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f'select count(*) from "{t}"').fetchone()[0]
                for (t,) in conn.execute("select name from sqlite_master where type='table'")}
    finally:
        conn.close()


@pytest.mark.slow
def test_end_to_end_on_ml100k(ml100k, workspace_path, capsys):
    interactions, items = ml100k
    code, imported, _ = run_cli(capsys, "import", str(interactions), "--items", str(items), "--json")
    assert code == 0 and imported["report"]["users"] == 943 and not imported["reused"]

    code, pop, _ = run_cli(capsys, "train", str(interactions), "--items", str(items), "--model", "pop", "--json")
    assert code == 0 and pop["status"] == "completed"
    assert set(pop["metrics"]["test"]) >= {"HR@10", "NDCG@10", "MRR@10"}
    # the same file with the same options reuses the imported dataset
    code, listing, _ = run_cli(capsys, "datasets", "--json")
    assert len(listing["datasets"]) == 1

    code, sas, err = run_cli(capsys, "train", "interactions", "--model", "sasrec", "--max-steps", "40",
                             "--seed", "1", "--json")
    assert code == 0 and sas["model"] == "sasrec" and sas["metrics"]["test"]["NDCG@10"] > 0
    assert "valid" in err  # progress went to stderr, not into the JSON

    code, rec, _ = run_cli(capsys, "recommend", str(sas["run_id"]), "--user", "1", "-k", "10", "--json")
    assert code == 0 and rec["user"] == "1" and len(rec["items"]) == 10
    seen = set(pd.read_csv(interactions).query("user_id == 1")["item_id"].astype(str))
    assert not seen & {it["item_id"] for it in rec["items"]}
    assert all(it["title"] for it in rec["items"])
    scores = [it["score"] for it in rec["items"]]
    assert scores == sorted(scores, reverse=True)

    code, adhoc, _ = run_cli(capsys, "recommend", str(sas["run_id"]), "--history", "50,172,181", "--json")
    assert code == 0 and adhoc["source"] == "model" and not {"50", "172", "181"} & {i["item_id"] for i in adhoc["items"]}
    code, empty, _ = run_cli(capsys, "recommend", str(sas["run_id"]), "--history", "", "-k", "5", "--json")
    assert code == 0 and empty["source"] == "popularity" and len(empty["items"]) == 5

    code, ev, _ = run_cli(capsys, "evaluate", str(pop["run_id"]), "--json")
    assert code == 0 and ev["metrics"]["NDCG@10"] == pytest.approx(pop["metrics"]["test"]["NDCG@10"])
    code, runs, _ = run_cli(capsys, "runs", "list", "--json")
    assert [r["status"] for r in runs["runs"]] == ["completed", "completed"]

    before = _table_counts(workspace_path)
    for argv in (["recommend", str(sas["run_id"]), "--user", "no-such-user"],
                 ["recommend", "999", "--user", "1"],
                 ["recommend", str(sas["run_id"]), "--history", "999999"],
                 ["train", "no-such-dataset", "--model", "pop"],
                 ["train", str(interactions), "--model", "nope"]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("recstudio: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert _table_counts(workspace_path) == before


def test_user_errors_exit_2_and_leave_workspace_untouched(tmp_path, workspace_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text("user,item,time\n" + "".join(f"u{u},i{(u + t) % 7},{1000 + t}\n" for u in range(9) for t in range(6)))
    assert main(["import", str(good)]) == 0
    before = _table_counts(workspace_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("user_id,item_id,timestamp\n")
    for argv in (["import", str(tmp_path / "missing.csv")], ["import", str(empty)], ["import", str(header_only)],
                 ["train", str(good), "--epochs", "0"], ["train", str(good), "--set", "hidden"]):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("recstudio: error: ") and err.count("\n") == 1
    assert _table_counts(workspace_path) == before


def test_help_and_version_do_not_import_torch():
    code = ("import sys; from recstudio.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules and 'pandas' not in sys.modules, 'heavy import at start-up'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    version = subprocess.run([sys.executable, "-m", "recstudio.cli", "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("recstudio ")


def test_error_from_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "recstudio.cli", "import", str(tmp_path / "nope.csv"),
                             "--workspace", str(tmp_path / "ws.sqlite")], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_output_into_a_closed_pipe_is_not_a_traceback(tmp_path):
    # `recstudio runs list | head -1`: the reader leaves early; the command must end quietly
    proc = subprocess.Popen([sys.executable, "-m", "recstudio.cli", "runs", "list", "--workspace",
                             str(tmp_path / "ws.sqlite")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err, err.decode()
