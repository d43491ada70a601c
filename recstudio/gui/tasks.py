"""Background jobs of the window: plain generator functions over the core's public functions.

Each receives only plain values (paths, frozen requests) and a ``cancelled`` callable, opens its own
workspace connection when it needs one, yields :class:`~recstudio.gui.jobs.Batch` progress and
returns a plain result. None of them touches a widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from recstudio.gui.jobs import batched, with_progress


class ImportCancelled(Exception):
    """Raised inside the importer's progress callback to stop a cancelled import."""


@dataclass(frozen=True)
class ImportResult:
    """A parsed (not yet saved) dataset, or the record of an earlier identical import."""

    dataset: Any  # recstudio.data.Dataset, or None when ``existing`` is set
    existing: Any  # DatasetRecord of an earlier import of the same file and options
    identity: Any  # recstudio.runs.ImportIdentity


def import_task(request, workspace_path: str, cancelled: Callable[[], bool]):
    """Parse ``request`` (a :class:`recstudio.runs.ImportRequest`) without saving it, so the analyst
    can read the report first; an earlier identical import is found instead of parsed again.
    Returns None when cancelled."""
    from recstudio.runs import import_identity, parse_import
    from recstudio.workspace import Workspace

    identity = import_identity(request)
    with Workspace(workspace_path) as workspace:
        existing = workspace.find_dataset(identity.fingerprint, identity.options_key)
    if existing is not None:
        return ImportResult(None, existing, identity)

    def run(progress):
        def report(fraction: float, message: str) -> None:
            if cancelled():  # the importer polls progress often, so raising here stops it promptly
                raise ImportCancelled("Import cancelled; nothing was saved.")
            progress(fraction, message)

        return parse_import(request, report)

    try:
        dataset = yield from with_progress(run)
    except ImportCancelled:  # the analyst asked for it: not an error to show
        return None
    return ImportResult(dataset, None, identity)


def save_task(result: ImportResult, request, workspace_path: str, cancelled: Callable[[], bool]):
    """Store a parsed dataset in the workspace (one transaction); returns its record."""
    from recstudio.runs import save_import
    from recstudio.workspace import Workspace

    if result.existing is not None:
        return result.existing
    with Workspace(workspace_path) as workspace:
        return save_import(workspace, request, result.identity, result.dataset)


def train_task(request, cancelled: Callable[[], bool]):
    """Train a run (see :func:`recstudio.runs.train_run`); progress arrives in batches ≤ 20 per second."""
    from recstudio.runs import train_run

    return (yield from batched(train_run(request, cancelled=cancelled)))



def cluster_job_task(workspace_path: str, request, folder: str, processes: int):
    """Write a torchrun job for ``request`` (a TrainRequest on an imported dataset) into ``folder``."""
    from recstudio.errors import RecStudioError
    from recstudio.runs import write_cluster_job
    from recstudio.workspace import Workspace

    if request.init_from is not None:
        raise RecStudioError("A cluster job trains from scratch; a run started from another run trains here "
                             "(set “Start from a run” to none to export the job).")
    with Workspace(workspace_path) as workspace:
        return write_cluster_job(workspace, request.dataset, folder, model=request.model,
                                 model_config=request.model_config, train_config=request.train_config,
                                 split=request.split, split_options=request.split_options,
                                 nproc_per_node=processes)


def knowledge_map_task(workspace_path: str, dataset_id: int, encoder: str, template: str, cancelled):
    """Encode the dataset's item text (cached in the workspace) and lay it out in 2-D; returns an
    ItemMap, or None when cancelled."""
    from recstudio.gui.jobs import Progress
    from recstudio.knowledge import iter_item_embeddings
    from recstudio.knowledge.maps import item_map
    from recstudio.workspace import Workspace

    with Workspace(workspace_path) as workspace:
        items = workspace.load_items(dataset_id)
        cache = workspace.files_dir / "embeddings"

    def events():
        gen = iter_item_embeddings(items, encoder=encoder or None, template=template, cache_dir=cache)
        while True:
            try:
                done, total, message = next(gen)
            except StopIteration as stop:
                return stop.value
            yield Progress(done / total if total else 1.0, message)
            if cancelled():
                gen.close()
                return None

    embeddings = yield from batched(events())
    if embeddings is None:
        return None
    return item_map(embeddings, items)
