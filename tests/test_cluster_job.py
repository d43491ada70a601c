"""A cluster job written from the workspace runs under torchrun and comes back with `runs import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from recstudio import cli
from recstudio.runs import ImportRequest, import_or_reuse, write_cluster_job
from recstudio.workspace import Workspace

pytestmark = pytest.mark.slow


def test_export_run_and_import_back(tmp_path, capsys):
    log = tmp_path / "log.csv"
    rows = [(f"u{u}", f"i{(u * 3 + t) % 25}", 1_600_000_000 + 60 * t, 1 + t % 2) for u in range(60) for t in range(8)]
    pd.DataFrame(rows, columns=["customer", "product", "time", "quantity"]).to_csv(log, index=False)
    items = tmp_path / "items.csv"
    pd.DataFrame({"product": [f"i{i}" for i in range(25)], "title": [f"Thing {i}" for i in range(25)],
                  "category": ["a|b" if i % 2 else "c" for i in range(25)]}).to_csv(items, index=False)
    ws_path = str(tmp_path / "home.sqlite")
    with Workspace(ws_path) as ws:
        record, _ = import_or_reuse(ws, ImportRequest(str(log), str(items)))
        job = tmp_path / "job"
        run_sh = write_cluster_job(ws, record.name, job, model="sasrec",
                                   model_config={"hidden": 16, "max_len": 10, "dropout": 0.0},
                                   train_config={"epochs": 2, "batch_size": 16, "max_steps": 6}, nproc_per_node=2)
        with pytest.raises(Exception, match="not empty"):
            write_cluster_job(ws, record.name, job, model="sasrec")
    spec = json.loads((job / "job.json").read_text())
    assert spec["model_config"]["hidden"] == 16 and spec["nproc_per_node"] == 2
    assert "--distributed" in spec["recstudio_args"] and "hidden=16" in " ".join(spec["recstudio_args"])
    exported = pd.read_parquet(job / "data" / "log.parquet")
    assert len(exported) == len(rows) and set(exported.columns) >= {"user_id", "item_id", "timestamp", "quantity"}

    # run.sh as a cluster would, with this interpreter's torchrun
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(run_sh)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((job / "result.json").read_text().strip().splitlines()[-1])
    assert result["status"] == "completed"

    assert cli.main(["runs", "import", str(job), "--workspace", ws_path, "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)["runs"]
    assert len(imported) == 1
    with Workspace(ws_path) as ws:
        run = ws.run(imported[0]["id"])
        assert run.status == "completed" and run.config["distributed"]["world_size"] == 2
        assert run.config["imported_from"]["run_id"] == result["run_id"]
        assert len([p for p in ws.curve(run.id) if p.kind == "train"]) == 6
        assert ws.artefacts(run.id)["checkpoint"].exists()
        assert ws.dataset_record(run.dataset_id).n_events == len(rows)
    # the imported run answers like a local one; importing again does not duplicate it
    assert cli.main(["recommend", str(run.id), "--user", "u1", "-k", "3", "--workspace", ws_path, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["items"]) == 3
    assert cli.main(["runs", "import", str(job), "--workspace", ws_path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["id"] == run.id


def test_importing_a_folder_without_a_job_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["runs", "import", str(tmp_path), "--workspace", str(tmp_path / "w.sqlite")]) == 2
    assert "No workspace.sqlite" in capsys.readouterr().err
