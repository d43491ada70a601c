"""Cluster jobs: a self-contained torchrun folder written from an imported dataset, and its finished runs
brought back into the workspace."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recstudio.errors import RecStudioError
from recstudio.runs.training import check_train_config


def write_cluster_job(workspace, dataset_ref, folder: str | Path, *, model: str,
                      model_config: dict[str, Any] | None = None, train_config: dict[str, Any] | None = None,
                      split: str | None = None, split_options: dict[str, Any] | None = None,
                      nproc_per_node: int = 1, nnodes: int = 1) -> Path:
    """Write a self-contained torchrun job for a cluster: the imported dataset as Parquet (the exact
    events, already cleaned), ``job.json`` with every setting, and ``run.sh`` with the torchrun
    command (one node: ``--standalone``; several: c10d rendezvous at $MASTER_ADDR). The job writes its
    own workspace inside the folder; ``recstudio runs import FOLDER`` brings the finished run back.
    A dataset's baskets travel as a ``basket`` column (their codes) read back with ``--basket-col``;
    with ``split`` None the job gets the dataset's default split (last-basket when it has baskets).
    Returns the path of run.sh."""
    import re
    import shlex

    from recstudio.models import model_config as checked_model_config

    model_config_obj = checked_model_config(model, dict(model_config or {}))  # bad settings fail here, not on the cluster
    train = check_train_config(dict(train_config or {}), model=model)
    from recstudio.data.basket_report import default_split

    record = workspace.dataset_record(dataset_ref)
    dataset = workspace.load_dataset(record.id)
    split = split or default_split(record.report or {})
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise RecStudioError(f"{folder} is not empty; choose an empty or new folder for the job.")
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    inter = dataset.interactions
    events = pd.DataFrame({"user_id": dataset.user_ids[inter["user"].to_numpy()],
                           "item_id": dataset.item_ids[inter["item"].to_numpy()],
                           "timestamp": inter["timestamp"].to_numpy()})
    for column in ("event", "rating", "quantity", "basket"):
        if column in inter.columns:
            events[column] = inter[column].to_numpy()
    # the file's stem becomes the dataset's name on the cluster (and back here after `runs import`)
    stem = re.sub(r"[^\w.-]+", "_", record.name).strip("._") or "interactions"
    events.to_parquet(data / f"{stem}.parquet", index=False)
    items = dataset.items.copy()
    for column in items.columns:
        if items[column].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            items[column] = items[column].map(lambda v: "|".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)
    items.to_parquet(data / "items.parquet", index=False)

    args = ["train", f"data/{stem}.parquet", "--items", "data/items.parquet",
            "--user-col", "user_id", "--item-col", "item_id", "--time-col", "timestamp", "--item-key", "item_id",
            "--keep-duplicates", "--model", model, "--split", split]
    for column, flag in (("event", "--event-col"), ("rating", "--rating-col"), ("quantity", "--quantity-col")):
        if column in events.columns:
            args += [flag, column]
    # the baskets as imported here, never a guess from another column on the cluster
    args += ["--basket-col", "basket" if "basket" in events.columns else ""]
    defaults = type(model_config_obj)()
    for key, value in asdict(model_config_obj).items():
        if value != getattr(defaults, key):
            args += ["--set", f"{key}={value}"]
    flags = {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "patience": "--patience",
             "seed": "--seed", "max_steps": "--max-steps"}
    for key, flag in flags.items():
        value = getattr(train, key)
        if value is not None:
            args += [flag, str(value)]
    for option, flag in (("cold_fraction", "--cold-fraction"), ("train_fraction", "--train-fraction")):
        if (split_options or {}).get(option) is not None:
            args += [flag, str(split_options[option])]
    args += ["--device", "auto", "--distributed", "--workspace", "workspace.sqlite", "--json"]
    job = {"dataset": record.name, "events": dataset.n_events, "model": model, "model_config": asdict(model_config_obj),
           "train_config": train.to_dict(), "split": split, "split_options": dict(split_options or {}),
           "recstudio_args": args, "nproc_per_node": int(nproc_per_node), "nnodes": int(nnodes)}
    (folder / "job.json").write_text(json.dumps(job, indent=2, default=str))
    quoted = " ".join(shlex.quote(a) for a in args)
    script = f"""#!/usr/bin/env bash
# RecStudio cluster job: {model} on {record.name!r} ({dataset.n_events:,} events), written by RecStudio.
# Run it from this folder on every node (same command; NODE_RANK differs), with recstudio installed:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 bash run.sh      # on the first node
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=node0 bash run.sh      # on the second
# Then, back on your machine: recstudio runs import <this folder>
set -euo pipefail
cd "$(dirname "$0")"
NNODES=${{NNODES:-{int(nnodes)}}}
NPROC=${{NPROC:-{int(nproc_per_node)}}}
if [ "$NNODES" -gt 1 ]; then
  RDZV="--nnodes=$NNODES --node_rank=${{NODE_RANK:?set NODE_RANK}} --rdzv_backend=c10d --rdzv_endpoint=${{MASTER_ADDR:?set MASTER_ADDR}}:${{MASTER_PORT:-29500}}"
else
  RDZV="--standalone --nnodes=1"
fi
torchrun $RDZV --nproc_per_node=$NPROC -m recstudio {quoted} > result.json
"""
    run_sh = folder / "run.sh"
    run_sh.write_text(script)
    run_sh.chmod(0o755)
    return run_sh


def import_cluster_run(workspace, folder: str | Path) -> list:
    """The runs of a finished cluster job (its folder, or its workspace file) copied into ``workspace``."""
    from recstudio.workspace import Workspace

    path = Path(folder)
    source_path = path / "workspace.sqlite" if path.is_dir() else path
    if not source_path.is_file():
        raise RecStudioError(f"No workspace.sqlite in {path}; give the folder of a cluster job (or its workspace file).")
    with Workspace(source_path) as source:
        runs = [r for r in source.list_runs() if r.status != "running"]
        if not runs:
            raise RecStudioError(f"{source_path} holds no finished run yet.")
        return [workspace.import_run(source, r.id) for r in runs]
