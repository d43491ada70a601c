"""Distributed training under torchrun: 2 CPU processes (gloo, loopback) match one process with the
same global batch, and rank 0 alone writes the workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from recstudio.workspace import Workspace

pytestmark = pytest.mark.slow

COMMON = ["--model", "sasrec", "--device", "cpu", "--set", "hidden=16", "--set", "dropout=0", "--set", "max_len=10",
          "--batch-size", "32", "--max-steps", "24", "--epochs", "10", "--seed", "7", "--json", "--quiet"]


@pytest.fixture
def log(tmp_path) -> str:
    """A small log with a learnable habit: each user walks the item ring in steps of 1 or 3."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(120):
        item, stride = int(rng.integers(0, 40)), int(rng.choice([1, 3]))
        for t in range(int(rng.integers(6, 14))):
            rows.append((f"u{u}", f"i{item}", 1_600_000_000 + 60 * t))
            item = (item + stride) % 40
    path = tmp_path / "walks.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(path, index=False)
    return str(path)


def _run(args: list[str], tmp_path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stdout  # one rank speaks for the job
    return json.loads(lines[0])


def _train_losses(workspace: str, run_id: int) -> np.ndarray:
    with Workspace(workspace) as ws:
        return np.array([p.loss for p in ws.curve(run_id) if p.kind == "train"])


def test_two_ranks_match_one_process(log, tmp_path):
    single_ws, ddp_ws = str(tmp_path / "single.sqlite"), str(tmp_path / "ddp.sqlite")
    single = _run([sys.executable, "-m", "recstudio", "train", log, "--workspace", single_ws, *COMMON], tmp_path)
    ddp = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                "-m", "recstudio", "train", log, "--workspace", ddp_ws, "--distributed", *COMMON], tmp_path)

    with Workspace(ddp_ws) as ws:
        runs = ws.list_runs()
        assert len(runs) == 1 and runs[0].status == "completed"  # rank 1 wrote nothing of its own
        assert runs[0].config["distributed"] == {"world_size": 2, "backend": "gloo"}
    a, b = _train_losses(single_ws, single["run_id"]), _train_losses(ddp_ws, ddp["run_id"])
    assert len(a) == len(b) == 24
    assert a[-1] < a[0] - 0.1  # it learned something
    # the same global batches: the two halves' mean loss is the whole batch's, up to how positions split
    np.testing.assert_allclose(b, a, rtol=0.03)
    # validation is gathered across ranks, so it is the single process's figure for the same weights
    assert ddp["epochs"] == single["epochs"]
    assert ddp["metrics"]["test"]["NDCG@10"] == pytest.approx(single["metrics"]["test"]["NDCG@10"], abs=0.05)


def test_distributed_without_torchrun_is_a_clear_error(log, tmp_path, capsys):
    from recstudio import cli

    code = cli.main(["train", log, "--workspace", str(tmp_path / "w.sqlite"), "--distributed", *COMMON])
    assert code == 2
    assert "needs torchrun" in capsys.readouterr().err
