"""Test a stored run: load its best model, rebuild its split, rank the held-out events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recstudio.errors import RecStudioError
from recstudio.runs.record import CheckpointMeta, RunConfig

TEST_KS = (5, 10, 20)


def run_split(dataset, run):
    """The split a stored run was trained and tested on (its kind and recorded options)."""
    from recstudio.data import make_split

    return make_split(dataset, run.split, **RunConfig.of(run).split_options)


def evaluate_split(model, split, dataset, *, device="auto", exclude_seen=True, cancelled=None, progress=None):
    """Rank ``split``'s test events with ``model`` (full ranking, cut-offs ``TEST_KS``, with segments)."""
    from recstudio.data import item_categories
    from recstudio.devices import resolve_device
    from recstudio.evaluation import evaluate, split_segments

    categories = item_categories(dataset) if "category" in dataset.items.columns else None
    return evaluate(model, split.test, popularity=split.train_popularity(), n_users=split.n_users, ks=TEST_KS,
                    exclude_seen=exclude_seen, device=str(resolve_device(device)), item_categories=categories,
                    segments=split_segments(split), cancelled=cancelled, progress=progress)


def stored_metrics(result) -> dict[str, Any]:
    """What a run keeps of a test: the metrics, the segment reports and, on a cold-items split, the cold ones."""
    from recstudio.evaluation import cold_metrics

    stored = {"test": result.metrics, "segments": result.segments}
    cold = cold_metrics(result)
    if cold is not None:
        stored["cold"] = cold
    return stored


def seen_targets_note(metrics: dict[str, Any]) -> str:
    """A sentence when some test targets were already in their user's history (``seen_targets``): a list
    leaves the history out, so those are misses; '' when there were none. For metrics of a test that
    left the history out (the default), not of ``--keep-seen``."""
    share = float(metrics.get("seen_targets") or 0.0)
    if share <= 0:
        return ""
    return (f"{share:.0%} of the test targets were already in the user's history: a list leaves the history "
            "out, so they count as misses (`recstudio evaluate RUN --keep-seen` ranks every item).")


def metrics_line(metrics: dict[str, Any]) -> str:
    """HR, NDCG and MRR at 10 in one line, for progress messages."""
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in ("HR@10", "NDCG@10", "MRR@10") if k in metrics)


def checkpoint_of(workspace, run_id: int) -> Path | None:
    """The folder of a run's best checkpoint, when it is on disk (None: never written, or deleted)."""
    path = workspace.artefacts(run_id).get("checkpoint")
    return Path(path) if path is not None and Path(path).exists() else None


def load_run_model(workspace, run_id, device: str = "cpu"):
    """``(run, model, meta)``: the run's record, its best model (eval mode) and its :class:`CheckpointMeta`."""
    from recstudio.training import load_checkpoint

    run = workspace.run(run_id)
    path = checkpoint_of(workspace, run.id)
    if path is None:
        raise RecStudioError(
            f"Run {run.id} has no checkpoint (status {run.status}); train it again with `recstudio train`."
        )
    model, meta = load_checkpoint(path, device=device)
    return run, model, CheckpointMeta.of(meta)


def evaluate_run(workspace, run_id, *, exclude_seen: bool = True, device: str = "auto", cancelled=None):
    """Re-test a stored run's checkpoint on its dataset's split; stores and returns the metrics."""
    run, model, _ = load_run_model(workspace, run_id, device="cpu")
    dataset = workspace.load_dataset(run.dataset_id)
    split = run_split(dataset, run)
    result = evaluate_split(model, split, dataset, device=device, exclude_seen=exclude_seen, cancelled=cancelled)
    if exclude_seen:
        workspace.set_metrics(run.id, {**run.metrics, **stored_metrics(result)})
    return run, result
