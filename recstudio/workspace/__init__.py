"""The workspace store: imported datasets, training runs, their curves, metrics and artefacts."""

from recstudio.workspace.store import (
    RUN_STATUSES,
    CurvePoint,
    DatasetRecord,
    RunRecord,
    Workspace,
    default_workspace_path,
)

__all__ = [
    "RUN_STATUSES",
    "CurvePoint",
    "DatasetRecord",
    "RunRecord",
    "Workspace",
    "default_workspace_path",
]
