"""Workspace-level jobs shared by the CLI and the GUI: import-or-reuse, train a run, evaluate, recommend."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator

import numpy as np

from recstudio.errors import RecStudioError

Cancelled = Callable[[], bool]
TEST_KS = (5, 10, 20)
CURVE_FLUSH_SECONDS = 1.0  # curve points are written in small batches, not one transaction per step


@dataclass(frozen=True)
class ImportRequest:
    """A file to import (or reuse, when the same file was imported with the same options)."""

    path: str
    items_path: str | None = None
    roles: Any = None  # recstudio.data.ColumnRoles
    options: Any = None  # recstudio.data.ImportOptions
    name: str | None = None


@dataclass(frozen=True)
class TrainRequest:
    """Everything a training run needs, as plain values (safe to hand to a worker thread or process)."""

    data: str  # a CSV/TSV/Parquet path or the name of an imported dataset
    model: str
    items: str | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    split: str = "leave-one-out"
    device: str = "auto"
    workspace: str | None = None
    roles: Any = None
    import_options: Any = None


@dataclass
class RunOutcome:
    run_id: int
    model: str
    dataset: str
    status: str
    epochs: int
    best_epoch: int
    seconds: float
    seconds_to_best: float
    samples_per_s: float
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def options_key(request: ImportRequest, items_fingerprint: str | None) -> str:
    """A stable digest of everything besides the file's bytes that shapes an import."""
    payload = {
        "roles": asdict(request.roles) if request.roles is not None else None,
        "options": asdict(request.options) if request.options is not None else None,
        "items": items_fingerprint,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def import_or_reuse(workspace, request: ImportRequest, progress: Callable[[float, str], None] | None = None):
    """The dataset record for ``request``: a previous import of the same bytes and options, or a new one."""
    from recstudio.data import ImportOptions, file_fingerprint, import_interactions

    fingerprint = file_fingerprint(request.path)
    items_fp = file_fingerprint(request.items_path) if request.items_path else None
    key = options_key(request, items_fp)
    found = workspace.find_dataset(fingerprint, key)
    if found is not None:
        if progress:
            progress(1.0, f"Reusing dataset {found.name!r} imported from the same file")
        return found, True
    dataset = import_interactions(
        request.path, items_path=request.items_path, roles=request.roles,
        options=request.options or ImportOptions(), name=request.name, progress=progress,
    )
    record = workspace.save_dataset(
        dataset, fingerprint=fingerprint, options_key=key, source=str(Path(request.path).resolve()),
        items_source=str(Path(request.items_path).resolve()) if request.items_path else None,
    )
    return record, False


def resolve_dataset(workspace, data: str, items: str | None = None, roles=None, import_options=None,
                    progress=None):
    """``data`` is a file (imported or reused) or the name/id of an imported dataset."""
    if os.path.exists(data):
        record, _ = import_or_reuse(workspace, ImportRequest(data, items, roles, import_options), progress)
        return record
    if items:
        raise RecStudioError(f"No file {data!r}; --items only goes with an interactions file.")
    try:
        return workspace.dataset_record(data)
    except RecStudioError:
        raise RecStudioError(
            f"{data!r} is neither a file nor an imported dataset; give a CSV path or one of the names "
            "that `recstudio datasets` lists."
        ) from None


def train_run(request: TrainRequest, cancelled: Cancelled | None = None,
              import_progress: Callable[[float, str], None] | None = None) -> Generator[Any, None, RunOutcome]:
    """Import (or reuse) the data, train, test the best checkpoint and record it all in the workspace.

    Yields the events of :func:`recstudio.training.fit` plus :class:`Stage` events for the phases
    around it. The run row is written at start (status ``running``) and finished in one
    transaction: completed, cancelled (best checkpoint kept) or failed (with the error).
    An import is reported through ``import_progress(fraction, message)``, as it cannot yield.
    """
    from recstudio.data import item_categories, make_split
    from recstudio.models import create_model, model_config
    from recstudio.training import Stage, Step, TrainConfig, Validated, fit
    from recstudio.workspace import Workspace

    cancelled = cancelled or (lambda: False)
    train_config = _train_config(request.train_config)
    config = model_config(request.model, request.model_config)  # bad settings fail before any work
    with Workspace(request.workspace) as workspace:
        record = resolve_dataset(workspace, request.data, request.items, request.roles, request.import_options,
                                 progress=import_progress)
        dataset = workspace.load_dataset(record.id)
        yield Stage("import", 1.0, f"Dataset {record.name!r}: {dataset.n_users} users, {dataset.n_items} items, "
                                   f"{dataset.n_events} events")
        split = make_split(dataset, request.split)
        model = create_model(request.model, dataset.n_items, config)
        run = workspace.create_run(record.id, request.model,
                                   {"model": asdict(config), "train": train_config.to_dict()},
                                   split=request.split, device=request.device)
        checkpoint_dir = workspace.run_dir(run.id) / "checkpoint"
        meta = {
            "dataset": record.name, "split": request.split, "run_id": run.id,
            "item_ids": [str(i) for i in dataset.item_ids], "item_titles": [str(t) for t in dataset.item_titles()],
            "popularity": split.train_popularity().tolist(),
        }
        curve: list[dict] = []
        last_flush = time.monotonic()
        try:
            gen = fit(model, split, train_config, device=request.device, checkpoint_dir=checkpoint_dir,
                      checkpoint_meta=meta, cancelled=cancelled)
            while True:
                try:
                    event = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                if isinstance(event, Step):
                    curve.append({"kind": "train", "step": event.step, "epoch": event.epoch, "loss": event.loss,
                                  "wall_time": event.elapsed, "metrics": {}})
                elif isinstance(event, Validated):
                    curve.append({"kind": "valid", "step": event.step, "epoch": event.epoch, "loss": None,
                                  "wall_time": event.elapsed, "metrics": event.metrics})
                if curve and (isinstance(event, Validated) or time.monotonic() - last_flush > CURVE_FLUSH_SECONDS):
                    workspace.append_curve(run.id, curve)
                    curve, last_flush = [], time.monotonic()
                yield event
            if curve:
                workspace.append_curve(run.id, curve)
            metrics: dict[str, Any] = {"valid": result.valid_metrics}
            if result.best_epoch > 0:
                yield Stage("test", 0.0, "Testing the best checkpoint on held-out events")
                test = _evaluate(model, split, dataset, device=request.device, cancelled=None)
                metrics["test"] = test.metrics
                metrics["segments"] = test.segments
                yield Stage("test", 1.0, _summary(test.metrics))
            artefacts = {"checkpoint": result.checkpoint} if result.checkpoint else {}
            workspace.finish_run(run.id, status=result.status, metrics=metrics, seconds=result.seconds,
                                 epochs=result.epochs, artefacts=artefacts)
        except BaseException as exc:
            status = "cancelled" if isinstance(exc, GeneratorExit) else "failed"
            workspace.finish_run(run.id, status=status, error=str(exc) or type(exc).__name__)
            raise
        return RunOutcome(run.id, request.model, record.name, result.status, result.epochs, result.best_epoch,
                          result.seconds, result.seconds_to_best, result.samples_per_s, metrics)


def _train_config(values: dict[str, Any]):
    from dataclasses import fields

    from recstudio.training import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    unknown = set(values) - known
    if unknown:
        raise RecStudioError(f"Unknown training setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}.")
    config = TrainConfig(**{k: v for k, v in values.items() if v is not None})
    if config.epochs < 1 or config.batch_size < 1 or config.lr <= 0:
        raise RecStudioError("Epochs and batch size must be at least 1 and the learning rate positive.")
    return config


def _evaluate(model, split, dataset, *, device="auto", exclude_seen=True, cancelled=None, progress=None):
    from recstudio.data import item_categories
    from recstudio.evaluation import evaluate
    from recstudio.training import resolve_device

    categories = item_categories(dataset) if "category" in dataset.items.columns else None
    return evaluate(model, split.test, popularity=split.train_popularity(), n_users=split.n_users, ks=TEST_KS,
                    exclude_seen=exclude_seen, device=str(resolve_device(device)), item_categories=categories,
                    cancelled=cancelled, progress=progress)


def _summary(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in ("HR@10", "NDCG@10", "MRR@10") if k in metrics)


def load_run_model(workspace, run_id, device: str = "cpu"):
    """The run's best model (eval mode) and its checkpoint metadata."""
    from recstudio.training import load_checkpoint

    run = workspace.run(run_id)
    path = workspace.artefacts(run.id).get("checkpoint")
    if path is None or not Path(path).exists():
        raise RecStudioError(
            f"Run {run.id} has no checkpoint (status {run.status}); train it again with `recstudio train`."
        )
    model, meta = load_checkpoint(path, device=device)
    return run, model, meta


def evaluate_run(workspace, run_id, *, exclude_seen: bool = True, device: str = "auto", cancelled=None):
    """Re-test a stored run's checkpoint on its dataset's split; stores and returns the metrics."""
    from recstudio.data import make_split

    run, model, meta = load_run_model(workspace, run_id, device="cpu")
    dataset = workspace.load_dataset(run.dataset_id)
    split = make_split(dataset, run.split)
    result = _evaluate(model, split, dataset, device=device, exclude_seen=exclude_seen, cancelled=cancelled)
    if exclude_seen:
        workspace.set_metrics(run.id, {**run.metrics, "test": result.metrics, "segments": result.segments})
    return run, result


@dataclass
class Recommendation:
    user: str | None
    source: str  # "model", or "popularity" for an empty history
    items: list[dict[str, Any]]
    history: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(workspace, run_id, *, user: str | None = None, history: list[str] | None = None, k: int = 10,
              exclude_seen: bool = True) -> Recommendation:
    """Top-``k`` items for a user of the run's dataset (every item they touched is excluded), or for an
    ad-hoc history of item ids (which needs only the checkpoint). An empty history gets the most
    popular items, labelled as such."""
    import torch

    from recstudio.data import pad_sequences
    from recstudio.evaluation import top_k

    if k < 1:
        raise RecStudioError("-k must be at least 1.")
    run, model, meta = load_run_model(workspace, run_id)
    item_ids = meta["item_ids"]
    lookup = {str(i): n for n, i in enumerate(item_ids)}
    if user is not None:
        dataset = workspace.load_dataset(run.dataset_id)
        items = dataset.history(dataset.user_index(user))
    else:
        missing = [h for h in history or [] if str(h).strip() not in lookup]
        if missing:
            raise RecStudioError(
                f"Item(s) {', '.join(map(str, missing[:5]))} are not in run {run.id}'s catalogue; "
                "use item ids from the dataset's item column."
            )
        items = np.array([lookup[str(h).strip()] for h in history or []], dtype=np.int64)
    seen = np.unique(items) if exclude_seen else np.zeros(0, np.int64)
    if len(items) == 0:
        scores = torch.tensor(meta["popularity"], dtype=torch.float32).unsqueeze(0)
        source = "popularity"
    else:
        with torch.no_grad():
            scores = model.score(torch.from_numpy(pad_sequences([items], model.history_length))).float()
        source = "model"
    idx, values = top_k(scores, k, exclude=[seen])
    titles = meta.get("item_titles") or item_ids
    ranked = [
        {"item_id": item_ids[i], "title": titles[i], "score": float(v)}
        for i, v in zip(idx[0].tolist(), values[0].tolist())
        if i >= 0
    ]
    return Recommendation(user, source, ranked, [item_ids[i] for i in items.tolist()])
