"""The records the workspace hands out (datasets, runs, curve points) and their rows in SQLite."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any


@dataclass(frozen=True)
class DatasetRecord:
    id: int
    name: str
    source: str
    items_source: str | None
    fingerprint: str
    options_key: str
    created_at: str  # ISO-8601, UTC
    n_users: int
    n_items: int
    n_events: int
    report: dict[str, Any]  # ImportReport.to_dict()


@dataclass(frozen=True)
class RunRecord:
    id: int
    dataset_id: int
    dataset_name: str
    model: str
    config: dict[str, Any]
    split: str
    status: str  # one of RUN_STATUSES
    device: str | None
    started_at: str  # ISO-8601, UTC
    finished_at: str | None
    seconds: float | None
    epochs: int | None
    metrics: dict[str, Any]
    error: str | None
    pid: int | None
    hostname: str | None

    @property
    def imported_from(self) -> dict[str, Any] | None:
        """Where ``Workspace.import_run`` copied this run from (workspace, run id, start, host), if it did."""
        return (self.config or {}).get("imported_from")


@dataclass(frozen=True)
class CurvePoint:
    step: int
    epoch: int
    loss: float | None
    wall_time: float  # seconds since the run started
    metrics: dict[str, Any] = field(default_factory=dict)
    kind: str = "train"  # "train" or "valid"


def to_json(value: Any) -> str:
    return json.dumps(value, default=plain)


def plain(value: Any) -> Any:
    # Configs and metrics arrive with numpy numbers, paths, sets and dataclasses in them.
    if hasattr(value, "tolist"):
        return value.tolist()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def curve_row(run_id: int, point: CurvePoint | dict) -> dict:
    if isinstance(point, CurvePoint):
        point = asdict(point)
    known = CurvePoint.__dataclass_fields__
    p = CurvePoint(**{k: v for k, v in point.items() if k in known})
    loss = None if p.loss is None else float(p.loss)
    return {
        "run_id": run_id,
        "step": int(p.step),
        "epoch": int(p.epoch),
        "loss": loss,
        "wall_time": float(p.wall_time),
        "metrics": to_json(p.metrics or {}),
        "kind": p.kind,
    }


def dataset_record_of(row: dict) -> DatasetRecord:
    fields = DatasetRecord.__dataclass_fields__
    values = {k: v for k, v in row.items() if k in fields}
    return DatasetRecord(**{**values, "report": json.loads(row["report"])})


def run_record_of(row: dict) -> RunRecord:
    fields = RunRecord.__dataclass_fields__
    values = {k: v for k, v in row.items() if k in fields}
    decoded = {"config": json.loads(row["config"]), "metrics": json.loads(row["metrics"])}
    return RunRecord(**{**values, **decoded})
