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
import pandas as pd

from recstudio.errors import RecStudioError

Cancelled = Callable[[], bool]
TEST_KS = (5, 10, 20)
CURVE_FLUSH_SECONDS = 1.0  # curve points are written in small batches, not one transaction per step
TRAINING_STATE = "training-state"  # a run folder's resumable state, rewritten at every epoch end
RESUMABLE = ("interrupted", "cancelled", "failed")


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
    split_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"cold_fraction": 0.2} for cold-items
    distributed: bool = False  # one rank of a torchrun job (see recstudio.training.ddp)
    # Continue this run (interrupted, cancelled or failed) from the state saved at its last finished
    # epoch, with its own data and settings; the fields above other than workspace and device are ignored
    resume: int | str | None = None
    # Distillation (recstudio.training.distill): a trained run whose scores the student also learns from,
    # on the teacher's dataset and split (``data`` may then be empty); distill: temperature and alpha
    teacher: int | str | None = None
    distill: dict[str, Any] = field(default_factory=dict)


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
    from recstudio.data import make_split
    from recstudio.models import create_model, model_config, model_spec
    from recstudio.training import Stage
    from recstudio.workspace import Workspace

    cancelled = cancelled or (lambda: False)
    if request.resume is not None:
        return (yield from _resume_run(request, cancelled))
    train_config = _train_config(request.train_config)
    config = model_config(request.model, request.model_config)  # bad settings fail before any work
    distill = None
    if request.teacher is not None:
        distill = _distill_settings(request)
    ddp = None
    if request.distributed:
        from recstudio.training.ddp import init_from_env

        ddp = init_from_env(request.device)
    main = ddp is None or ddp.is_main
    device = ddp.device if ddp is not None else request.device
    if not main:
        ddp.barrier()  # rank 0 imports the data and encodes item text first; the others then reuse both
    with Workspace(request.workspace) as workspace:
        teacher = _load_teacher(workspace, request.teacher) if distill is not None else None
        if teacher is not None and not request.data:  # the student learns on the teacher's dataset
            record = workspace.dataset_record(teacher[0].dataset_id)
        else:
            record = resolve_dataset(workspace, request.data, request.items, request.roles, request.import_options,
                                     progress=import_progress)
        dataset = workspace.load_dataset(record.id)
        yield Stage("import", 1.0, f"Dataset {record.name!r}: {dataset.n_users} users, {dataset.n_items} items, "
                                   f"{dataset.n_events} events")
        split_options = dict(request.split_options or {})
        if teacher is not None:
            _check_teacher(teacher, dataset, record, request.split, split_options)
        split = make_split(dataset, request.split, **split_options)
        item_text = None
        uses_text = model_spec(request.model).uses_item_text
        if uses_text:
            item_text = yield from _item_text_stages(workspace, dataset, config, device, cancelled)
        if main and ddp is not None:
            ddp.barrier()
        if not main:
            run_id, result = yield from _train_rank(request, ddp, dataset, split, config, train_config, item_text,
                                                    cancelled)
            return RunOutcome(run_id, request.model, record.name, result.status, result.epochs, result.best_epoch,
                              result.seconds, result.seconds_to_best, result.samples_per_s,
                              {"valid": result.valid_metrics})
        run_config = {"model": asdict(config), "train": train_config.to_dict(), "split_options": split_options}
        if item_text is not None:
            run_config["item_text"] = item_text.summary()
        if ddp is not None:
            run_config["distributed"] = {"world_size": ddp.world_size, "backend": ddp.backend}
        if teacher is not None:
            run_config["distill"] = {"teacher_run": teacher[0].id, "teacher_model": teacher[0].model, **distill}
        run = workspace.create_run(record.id, request.model, run_config, split=request.split, device=request.device)
        if ddp is not None:
            ddp.broadcast(run.id)
        if uses_text and item_text is None:  # stopped while encoding item text: recorded as cancelled
            workspace.finish_run(run.id, status="cancelled", metrics={}, seconds=0.0, epochs=0, artefacts={})
            return RunOutcome(run.id, request.model, record.name, "cancelled", 0, 0, 0.0, 0.0, 0.0, {})
        from recstudio.training.fit import seed_everything

        seed_everything(train_config.seed)  # the seed also fixes the initial weights, so a run can be repeated
        model = create_model(request.model, dataset.n_items, config, **_text_inputs(item_text))
        if teacher is not None:
            from recstudio.training.distill import Distillation

            model = Distillation(model, teacher[1], **distill)
        return (yield from _fit_and_record(workspace, run, record.name, dataset, split, model, train_config,
                                           item_text, device, cancelled, ddp))


def _distill_settings(request: TrainRequest) -> dict[str, float]:
    """Checked temperature and alpha of a distillation request (user errors before any work)."""
    from recstudio.models import model_class
    from recstudio.models.sasrec import SASRec
    from recstudio.training.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, check_settings

    if request.distributed:
        raise RecStudioError("Distillation runs in one process; leave out --distributed.")
    unknown = set(request.distill or {}) - {"temperature", "alpha"}
    if unknown:
        raise RecStudioError(f"Unknown distillation setting(s) {', '.join(sorted(unknown))}; "
                             "they are temperature and alpha.")
    if not issubclass(model_class(request.model), SASRec):
        raise RecStudioError(f"A distilled student must be sasrec or sasrec-lm (a sequence model scored against an "
                             f"item table), not {request.model!r}.")
    values = {"temperature": DEFAULT_TEMPERATURE, "alpha": DEFAULT_ALPHA, **(request.distill or {})}
    temperature, alpha = check_settings(values["temperature"], values["alpha"])
    return {"temperature": temperature, "alpha": alpha}


def _load_teacher(workspace, teacher_ref):
    """``(run, model, meta)`` of a finished run to distil from (CPU, eval mode)."""
    run = workspace.run(teacher_ref)
    if run.status != "completed":
        raise RecStudioError(f"Teacher run {run.id} is {run.status}; distil from a completed run.")
    return load_run_model(workspace, run.id, device="cpu")


def _check_teacher(teacher, dataset, record, split: str, split_options: dict) -> None:
    """The student must see the teacher's items in the same order, and the same split: a teacher trained
    on another split may have trained on the student's test events, and would leak them."""
    run, model, meta = teacher
    if model.n_items != dataset.n_items or [str(i) for i in dataset.item_ids] != [str(i) for i in meta["item_ids"]]:
        raise RecStudioError(
            f"Teacher run {run.id} was trained on dataset {run.dataset_name!r}, not on {record.name!r}; the student "
            "must train on the teacher's dataset (give no DATA to use it)."
        )
    teacher_options = (run.config or {}).get("split_options") or {}
    if run.split != split or teacher_options != split_options:
        raise RecStudioError(
            f"Teacher run {run.id} was trained on the {run.split} split{f' {teacher_options}' if teacher_options else ''}; "
            "the student must use the same split (its test events would otherwise leak through the teacher): "
            f"give --split {run.split}" + (" with the same options." if teacher_options else ".")
        )


def _fit_and_record(workspace, run, dataset_name: str, dataset, split, model, train_config, item_text, device,
                    cancelled: Cancelled, ddp=None, resume: bool = False, fit_split=None):
    """Train ``model`` for ``run`` (from scratch, or from its saved state with ``resume``), record the
    curve as it grows, test the best checkpoint and finish the run; returns the :class:`RunOutcome`.
    ``fit_split``: the split whose training part ``fit`` learns from, when it is not ``split``'s own
    (an update trains on the sequences its new events touched; validation and test stay ``split``'s)."""
    import shutil

    from recstudio.evaluation import cold_metrics
    from recstudio.training import Stage, Step, Validated, fit

    folder = workspace.run_dir(run.id)
    checkpoint_dir, state_dir = folder / "checkpoint", folder / TRAINING_STATE
    meta = {
        "dataset": dataset_name, "split": run.split, "split_options": (run.config or {}).get("split_options") or {},
        "run_id": run.id, "item_ids": [str(i) for i in dataset.item_ids],
        "item_titles": [str(t) for t in dataset.item_titles()], "popularity": split.train_popularity().tolist(),
    }
    if item_text is not None:
        meta["item_text"] = item_text.summary()
    curve: list[dict] = []
    last_flush = time.monotonic()
    try:
        gen = fit(model, fit_split if fit_split is not None else split, train_config, device=device,
                  checkpoint_dir=checkpoint_dir,
                  checkpoint_meta=meta, cancelled=cancelled, distributed=ddp,
                  state_dir=state_dir if model.trainable else None, resume=resume)
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
            test = _evaluate(model, split, dataset, device=device, cancelled=None)
            metrics["test"] = test.metrics
            metrics["segments"] = test.segments
            cold = cold_metrics(test)
            if cold is not None:
                metrics["cold"] = cold
            yield Stage("test", 1.0, _summary(test.metrics)
                        + (f"; cold items ({cold['cases']} cases): {_summary(cold)}" if cold is not None else ""))
        artefacts = {"checkpoint": result.checkpoint} if result.checkpoint else {}
        workspace.finish_run(run.id, status=result.status, metrics=metrics, seconds=result.seconds,
                             epochs=result.epochs, artefacts=artefacts)
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, GeneratorExit) else "failed"
        workspace.finish_run(run.id, status=status, error=str(exc) or type(exc).__name__)
        raise
    if result.status == "completed":  # nothing left to resume: the best checkpoint is what stays
        shutil.rmtree(state_dir, ignore_errors=True)
    return RunOutcome(run.id, run.model, dataset_name, result.status, result.epochs, result.best_epoch,
                      result.seconds, result.seconds_to_best, result.samples_per_s, metrics)


def resume_point(workspace, run_id) -> dict[str, int] | None:
    """Where a stopped run would go on from: ``{"epoch", "step"}`` of its last finished epoch, or None
    when it cannot be resumed (it completed, still runs, or stopped before an epoch ended)."""
    from recstudio.training.checkpoint import STATE, has_training_state

    run = workspace.run(run_id)
    folder = workspace.files_dir / "runs" / str(run.id) / TRAINING_STATE
    if run.status not in RESUMABLE or not has_training_state(folder):
        return None
    saved = json.loads((folder / STATE).read_text())
    return {"epoch": int(saved["epoch"]), "step": int(saved["step"])}


def _resume_run(request: TrainRequest, cancelled: Cancelled):
    """Continue a stopped run from the training state saved at its last finished epoch (see ``fit``)."""
    from recstudio.models import create_model, model_config, model_spec
    from recstudio.training import Stage
    from recstudio.training.checkpoint import has_training_state
    from recstudio.workspace import Workspace

    if request.distributed:
        raise RecStudioError("A run is resumed in one process; leave out --distributed.")
    with Workspace(request.workspace) as workspace:
        run = workspace.run(request.resume)
        if run.status not in RESUMABLE:
            raise RecStudioError(
                f"Run {run.id} is {run.status}; only an interrupted, cancelled or failed run can be resumed."
                + (" If its process is gone, open the workspace again to mark it interrupted." if run.status == "running" else "")
            )
        if (run.config or {}).get("update"):
            raise RecStudioError(
                f"Run {run.id} was an update of run {run.config['update'].get('parent_run')} with new events; it is not "
                "resumed. Run the same `recstudio update` again: it reuses the dataset version and starts afresh."
            )
        state_dir = workspace.run_dir(run.id) / TRAINING_STATE
        if not has_training_state(state_dir):
            raise RecStudioError(
                f"Run {run.id} ({run.model}) has no saved training state to resume from: it stopped before its "
                "first epoch ended, or the model has nothing to train step by step. Train it again."
            )
        record = workspace.dataset_record(run.dataset_id)
        dataset = workspace.load_dataset(record.id)
        yield Stage("import", 1.0, f"Resuming run {run.id} ({run.model}) on dataset {record.name!r}: "
                                   f"{dataset.n_users} users, {dataset.n_items} items, {dataset.n_events} events")
        split = run_split(dataset, run)
        config = model_config(run.model, (run.config or {}).get("model") or {}, saved=True)
        train_config = _train_config((run.config or {}).get("train") or {})
        item_text = None
        if model_spec(run.model).uses_item_text:
            item_text = yield from _item_text_stages(workspace, dataset, config, request.device, cancelled)
            if item_text is None:
                raise RecStudioError(f"Resuming run {run.id} was stopped while its item text was encoded; "
                                     "it stays as it was.")
        model = create_model(run.model, dataset.n_items, config, **_text_inputs(item_text))
        distill = (run.config or {}).get("distill")
        if distill:  # a distilled student goes on learning from its teacher
            from recstudio.training.distill import Distillation

            teacher = _load_teacher(workspace, distill["teacher_run"])
            model = Distillation(model, teacher[1], temperature=distill["temperature"], alpha=distill["alpha"])
        saved = json.loads((state_dir / "state.json").read_text())
        run = workspace.reopen_run(run.id, after_step=int(saved["step"]), device=request.device)
        return (yield from _fit_and_record(workspace, run, record.name, dataset, split, model, train_config,
                                           item_text, request.device, cancelled, resume=True))


def _train_rank(request: TrainRequest, ddp, dataset, split, config, train_config, item_text, cancelled):
    """What a torchrun rank other than 0 does: train its share in step with rank 0, write nothing."""
    from recstudio.models import create_model
    from recstudio.training import fit

    model = create_model(request.model, dataset.n_items, config, **_text_inputs(item_text))
    run_id = ddp.broadcast(None)  # rank 0 has created the run
    result = yield from fit(model, split, train_config, device=ddp.device, cancelled=cancelled, distributed=ddp)
    return run_id, result


def _text_inputs(item_text) -> dict[str, Any]:
    """What a text-aware model is built with: the items' text vectors and their rendered texts."""
    if item_text is None:
        return {}
    return {"item_text": item_text.vectors, "item_texts": item_text.texts}


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


def _item_text_stages(workspace, dataset, config, device: str, cancelled: Cancelled):
    """Encode the dataset's item text for a model that uses it, yielding ``Stage("encode", ...)``;
    returns the :class:`~recstudio.knowledge.ItemTextEmbeddings`, or None when cancelled.

    The cache lives in the workspace's files folder (``embeddings/``): a second run on the same
    catalogue with the same encoder, template and pooling encodes nothing.
    """
    from recstudio.knowledge import iter_item_embeddings
    from recstudio.training import Stage

    gen = iter_item_embeddings(dataset, encoder=config.encoder, template=config.template, pooling=config.pooling,
                               cache_dir=workspace.files_dir / "embeddings", device=device)
    embeddings = yield from encoding_stages(gen, cancelled)
    if embeddings is None:  # cancelled
        return None
    if embeddings.empty_texts == len(embeddings.texts):
        raise RecStudioError(
            f"Every item's text is empty with the template {config.template!r}; the catalogue's columns are: "
            f"{', '.join(c for c in dataset.items.columns if c != 'item_id') or 'none'}. Edit the template."
        )
    yield Stage("encode", 1.0, f"Item text: {embeddings.dim}-d vectors for {len(embeddings.texts):,} items "
                               f"({embeddings.encoded:,} encoded, {embeddings.reused:,} from the cache)")
    return embeddings


def run_split(dataset, run):
    """The split a stored run was trained and tested on (its kind and recorded options)."""
    from recstudio.data import make_split

    return make_split(dataset, run.split, **((run.config or {}).get("split_options") or {}))


def _evaluate(model, split, dataset, *, device="auto", exclude_seen=True, cancelled=None, progress=None):
    from recstudio.data import item_categories
    from recstudio.evaluation import evaluate, split_segments
    from recstudio.training import resolve_device

    categories = item_categories(dataset) if "category" in dataset.items.columns else None
    return evaluate(model, split.test, popularity=split.train_popularity(), n_users=split.n_users, ks=TEST_KS,
                    exclude_seen=exclude_seen, device=str(resolve_device(device)), item_categories=categories,
                    segments=split_segments(split), cancelled=cancelled, progress=progress)


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
    from recstudio.evaluation import cold_metrics

    run, model, meta = load_run_model(workspace, run_id, device="cpu")
    dataset = workspace.load_dataset(run.dataset_id)
    split = run_split(dataset, run)
    result = _evaluate(model, split, dataset, device=device, exclude_seen=exclude_seen, cancelled=cancelled)
    if exclude_seen:
        stored = {**run.metrics, "test": result.metrics, "segments": result.segments}
        cold = cold_metrics(result)
        if cold is not None:
            stored["cold"] = cold
        workspace.set_metrics(run.id, stored)
    return run, result



def encoding_stages(gen, cancelled):
    """Drive :func:`recstudio.knowledge.iter_item_embeddings`: yield its progress as ``Stage("encode", ...)``
    events and return its embeddings, or None when ``cancelled()`` turned true (the encoder is closed)."""
    from recstudio.training import Stage

    while True:
        try:
            done, total, message = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Stage("encode", done / total if total else 1.0, message)
        if cancelled():
            gen.close()
            return None

@dataclass
class Recommendation:
    """A top-K list: ``items`` best first; ``source`` is "model", or "popularity" for an empty history.

    ``history`` holds the item ids the list was computed from. Lists from :class:`RunInspector` also
    say which ``mode`` gave the history, the user's ``held_out`` test item, where it sits in the list
    (``held_out_in_list``, 1-based, None when absent) and in the full ranking as the run's test
    ranked it (``held_out_rank``, "as evaluated" mode only), and a ``note`` for the analyst.
    """

    user: str | None
    source: str  # "model", or "popularity" for an empty history
    items: list[dict[str, Any]]
    history: list[str]
    mode: str | None = None
    held_out: str | None = None
    held_out_in_list: int | None = None
    held_out_rank: int | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(workspace, run_id, *, user: str | None = None, history: list[str] | None = None, k: int = 10,
              exclude_seen: bool = True) -> Recommendation:
    """Top-``k`` items for a user of the run's dataset (every item they touched is excluded), or for an
    ad-hoc history of item ids (which needs only the checkpoint). An empty history gets the most
    popular items, labelled as such.

    A user's list is :meth:`RunInspector.recommend` in "full history" mode: what the user would be
    recommended today, from every event they have.
    """
    _check_k(k)
    if user is not None:
        rec = RunInspector(workspace, run_id).recommend(user, k=k, exclude_seen=exclude_seen, mode=FULL_HISTORY)
        items = [{"item_id": it["item_id"], "title": it["title"], "score": it["score"]} for it in rec.items]
        return Recommendation(rec.user, rec.source, items, rec.history)
    run, model, meta = load_run_model(workspace, run_id)
    item_ids = meta["item_ids"]
    lookup = {str(i): n for n, i in enumerate(item_ids)}
    missing = [h for h in history or [] if str(h).strip() not in lookup]
    if missing:
        raise RecStudioError(
            f"Item(s) {', '.join(map(str, missing[:5]))} are not in run {run.id}'s catalogue; "
            "use item ids from the dataset's item column."
        )
    items = np.array([lookup[str(h).strip()] for h in history or []], dtype=np.int64)
    seen = np.unique(items) if exclude_seen else np.zeros(0, np.int64)
    source, scores = _score_history(model, items, np.asarray(meta["popularity"], dtype=np.float32))
    ranked, values, _ = _best_items(scores, seen, k)
    titles = meta.get("item_titles") or item_ids
    return Recommendation(None, source, [{"item_id": item_ids[i], "title": titles[i], "score": v}
                                         for i, v in zip(ranked.tolist(), values.tolist())],
                          [item_ids[i] for i in items.tolist()])


#: How many best text matches the model reads as a stand-in history for a query, and how much its
#: scores count beside the text match (both as z-scores over the catalogue).
QUERY_SEED_ITEMS = 5
QUERY_MODEL_WEIGHT = 0.5


def recommend_query(workspace, run_id, text: str, k: int = 10) -> Recommendation:
    """Top-``k`` items for interests stated in words, for a user with no history (``source == "query"``).

    For a run with text knowledge (sasrec-lm; any model carrying its items' text vectors as
    ``item_text``):

    1. the run's own text encoder embeds the query, which is placed among the items' text vectors
       (cosine): what the words match;
    2. the model reads the ``QUERY_SEED_ITEMS`` best matches as a stand-in history (best match most
       recent) and scores every item: what people who chose those went on to choose;
    3. score = z(text match) + ``QUERY_MODEL_WEIGHT`` * z(model), so the list stays on the query's
       subject while the model lifts the well-liked, coherent items over obscure namesakes.

    ``history`` holds the stand-in history. A model may instead answer ``query_scores(text)`` itself.
    Runs that know items only by id are a user error.
    """
    import torch

    _check_k(k)
    text = (text or "").strip()
    if not text:
        raise RecStudioError("The query is empty; describe what you are interested in, e.g. \"space opera films\".")
    run, model, meta = load_run_model(workspace, run_id, device="cpu")
    item_ids = meta["item_ids"]
    titles = meta.get("item_titles") or item_ids
    if hasattr(model, "query_scores"):
        with torch.no_grad():
            scores = torch.as_tensor(model.query_scores(text), dtype=torch.float32).reshape(-1)
        seeds = np.zeros(0, dtype=np.int64)
    else:
        item_text = getattr(model, "item_text", None)
        if item_text is None or not hasattr(model.config, "encoder"):
            raise RecStudioError(
                f"Run {run.id} ({run.model}) has no text knowledge: it knows items only by id, so it cannot read a "
                "query. Use a run of a text-aware model (sasrec-lm)."
            )
        query = _encode_query(model, meta, text)
        with torch.no_grad():
            vectors = torch.nn.functional.normalize(item_text[1:].float(), dim=-1)
            match = vectors @ torch.nn.functional.normalize(query, dim=-1)
            seeds = torch.topk(match, min(QUERY_SEED_ITEMS, model.n_items)).indices.flip(0).numpy()
            _, preference = _score_history(model, seeds.astype(np.int64), np.zeros(model.n_items, np.float32))
            scores = _zscore(match) + QUERY_MODEL_WEIGHT * _zscore(preference[0])
    ranked, values, _ = _best_items(scores.unsqueeze(0), np.zeros(0, np.int64), k)
    return Recommendation(None, "query", [{"item_id": item_ids[i], "title": titles[i], "score": v}
                                          for i, v in zip(ranked.tolist(), values.tolist())],
                          [item_ids[i] for i in seeds.tolist()],
                          note=f"Items whose text matches {text!r}, lifted by what the model predicts after the "
                               f"{len(seeds)} closest matches." if len(seeds) else "")


_QUERY_ENCODER: dict = {}


def _encode_query(model, meta: dict, text: str):
    """The query's vector from the run's own text encoder (the one that made its items' vectors)."""
    import torch

    from recstudio.knowledge import TextEncoder

    config = model.config
    recorded = (meta.get("item_text") or {}).get("encoder") or {}
    key = (config.encoder, config.pooling, int(recorded.get("max_length") or 128))
    encoder = _QUERY_ENCODER.get(key)
    if encoder is None:  # one kept loaded: the inspector asks query after query
        encoder = TextEncoder(config.encoder, pooling=config.pooling, device="cpu", max_length=key[2])
        _QUERY_ENCODER.clear()
        _QUERY_ENCODER[key] = encoder
    if recorded.get("identity") and encoder.identity != recorded["identity"]:
        raise RecStudioError(
            f"The run's text encoder has changed since it was trained (it was {recorded['identity']}, now "
            f"{encoder.identity}); a query would land in another space. Restore that encoder or train the run again."
        )
    vector = torch.from_numpy(encoder.encode([text]))[0]
    if vector.shape[0] != model.item_text.shape[1]:
        raise RecStudioError(f"The text encoder gives {vector.shape[0]}-d vectors; the run's items have "
                             f"{model.item_text.shape[1]}-d ones. Restore the run's encoder or train it again.")
    return vector


def _zscore(values):
    values = values.float()
    return (values - values.mean()) / values.std().clamp(min=1e-12)


def recommend_all(workspace, run_id, *, k: int = 10, exclude_seen: bool = True, batch_size: int = 1024,
                  device: str = "cpu", pseudonymise: str | None = None, progress: Callable[[float], None] | None = None):
    """Every user's top-``k`` from their full history, as DataFrames of ``batch_size`` users each
    (columns user_id, rank, item_id, title, score; best first): one batched model call per chunk,
    so memory stays bounded whatever the number of users. Users whose list is empty are skipped.

    ``pseudonymise``: a secret; user ids are then replaced by a keyed hash of it (HMAC-SHA256, the
    same id gives the same pseudonym for the same secret), for sharing a file without the ids.
    """
    import hmac

    import torch

    from recstudio.data import pad_histories
    from recstudio.evaluation import mask_items, top_k

    _check_k(k)
    run, model, meta = load_run_model(workspace, run_id, device=device)
    dataset = workspace.load_dataset(run.dataset_id)
    indptr = dataset.indptr
    items = dataset.interactions["item"].to_numpy().astype(np.int64)
    item_ids = np.asarray(meta["item_ids"], dtype=object)
    titles = np.asarray(meta.get("item_titles") or meta["item_ids"], dtype=object)
    user_ids = dataset.user_ids
    if pseudonymise:
        key = pseudonymise.encode()
        user_ids = np.array([hmac.new(key, str(u).encode(), hashlib.sha256).hexdigest()[:16] for u in user_ids],
                            dtype=object)
    n = dataset.n_users
    k = min(k, model.n_items)
    with torch.no_grad():
        for lo in range(0, n, batch_size):
            hi = min(lo + batch_size, n)
            rows = np.arange(lo, hi)
            scores = model.score(torch.as_tensor(pad_histories(indptr, items, rows, model.history_length),
                                                 device=device)).float()
            if exclude_seen:
                seen_rows = np.repeat(np.arange(hi - lo), np.diff(indptr[lo : hi + 1]))
                scores = mask_items(scores, seen_rows, items[indptr[lo] : indptr[hi]])
            idx, values = top_k(scores, k)
            idx, values = idx.cpu().numpy(), values.cpu().numpy()
            keep = idx >= 0
            user_of = np.repeat(rows, k).reshape(-1, k)[keep]
            rank = np.tile(np.arange(1, k + 1), hi - lo).reshape(-1, k)[keep]
            chosen = idx[keep]
            yield pd.DataFrame({"user_id": user_ids[user_of], "rank": rank, "item_id": item_ids[chosen],
                                "title": titles[chosen], "score": values[keep].astype(float)})
            if progress is not None:
                progress(hi / n)


def write_cluster_job(workspace, dataset_ref, folder: str | Path, *, model: str,
                      model_config: dict[str, Any] | None = None, train_config: dict[str, Any] | None = None,
                      split: str = "leave-one-out", split_options: dict[str, Any] | None = None,
                      nproc_per_node: int = 1, nnodes: int = 1) -> Path:
    """Write a self-contained torchrun job for a cluster: the imported dataset as Parquet (the exact
    events, already cleaned), ``job.json`` with every setting, and ``run.sh`` with the torchrun
    command (one node: ``--standalone``; several: c10d rendezvous at $MASTER_ADDR). The job writes its
    own workspace inside the folder; ``recstudio runs import FOLDER`` brings the finished run back.
    Returns the path of run.sh."""
    import shlex

    model_config_obj = _model_config_checked(model, dict(model_config or {}))  # bad settings fail here, not on the cluster
    train = _train_config(dict(train_config or {}))
    record = workspace.dataset_record(dataset_ref)
    dataset = workspace.load_dataset(record.id)
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise RecStudioError(f"{folder} is not empty; choose an empty or new folder for the job.")
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    inter = dataset.interactions
    events = pd.DataFrame({"user_id": dataset.user_ids[inter["user"].to_numpy()],
                           "item_id": dataset.item_ids[inter["item"].to_numpy()],
                           "timestamp": inter["timestamp"].to_numpy()})
    for column in ("event", "rating", "quantity"):
        if column in inter.columns:
            events[column] = inter[column].to_numpy()
    import re

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
    if (split_options or {}).get("cold_fraction") is not None:
        args += ["--cold-fraction", str(split_options["cold_fraction"])]
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


def _model_config_checked(model: str, values: dict[str, Any]):
    from recstudio.models import model_config

    return model_config(model, values)


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


#: What a spreadsheet may run as a formula when a cell starts with it (OWASP's list for CSV exports).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with an apostrophe; numbers and
    other text as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where text cells a spreadsheet would run as a formula (starting with = + - @, tab or CR)
    start with an apostrophe instead, as OWASP advises for CSV exports; numbers are left alone."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            text = out[column].astype(str)
            risky = text.str.match(r"^[=+\-@\t\r]")
            if risky.any():
                out[column] = out[column].where(~risky, "'" + text)
    return out


def _check_k(k: int) -> None:
    if k < 1:
        raise RecStudioError("-k must be at least 1.")


def _score_history(model, history: np.ndarray, popularity: np.ndarray):
    """``(source, scores [1, n_items])`` for one history of item indices, oldest first: the model's
    scores on CPU, or the training popularity when the history is empty (source "popularity")."""
    import torch

    from recstudio.data import pad_sequences

    if len(history) == 0:
        return "popularity", torch.from_numpy(np.asarray(popularity, dtype=np.float32)).unsqueeze(0)
    # One [1, L] history is too small for intra-op threads to help: they only add synchronisation,
    # which costs 30-100 ms per call on busy cores (a training worker beside the GUI) against ~1 ms
    # on one thread. The setting is the calling thread's own; threads already running keep theirs.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            padded = torch.from_numpy(pad_sequences([history], model.history_length))
            return "model", model.score(padded).float()
    finally:
        torch.set_num_threads(threads)


def _best_items(scores, exclude: np.ndarray, k: int):
    """The ``k`` best item indices and their scores (numpy, best first) with ``exclude`` removed,
    and the masked score row (for ranking one item as the evaluation does)."""
    from recstudio.evaluation import mask_items, top_k

    masked = mask_items(scores, np.zeros(len(exclude), dtype=np.int64), np.asarray(exclude, dtype=np.int64))
    idx, values = top_k(masked, k)
    keep = idx[0] >= 0
    return idx[0][keep].numpy(), values[0][keep].numpy().astype(float), masked


#: How :class:`RunInspector` picks the history a user's list is computed from.
AS_EVALUATED = "as evaluated"
FULL_HISTORY = "full history"
INSPECTION_MODES = (AS_EVALUATED, FULL_HISTORY)
#: What each event was in the run's split (:meth:`RunInspector.history` column ``part``).
PART_TRAIN, PART_VALIDATION, PART_TEST = "train", "validation", "test"


class RunInspector:
    """One run's best model and its dataset, loaded once, for looking at user after user.

    A user's list can be asked for in two ways, and the difference matters:

    - ``"as evaluated"`` (the default): the history is the user's test case in the run's split
      (``make_split(dataset, run.split).test``), i.e. every event before the user's held-out test
      event. The held-out item is not in that history, so it can be ranked, and the list says
      whether it appears and where (``held_out_in_list``), plus the rank the run's test gave it in
      the full catalogue (``held_out_rank``, pessimistic on ties like the metrics). Exclusion
      follows the evaluation exactly: every item in that history is removed except the held-out
      item itself (a re-purchased item stays rankable). This is the question the run's test
      metrics average over. A user the split does not test (under leave-one-out, one with fewer
      than three events) gets the full history instead, with a ``note`` saying so.
    - ``"full history"``: every event the user has in the imported data, i.e. what the user would
      be recommended today, and what :func:`recommend` and ``recstudio recommend --user`` give.
      Every item the user touched is excluded, the held-out one included, so it never appears.

    The model was trained on the split's training part only; reading the later events it never
    trained on is ordinary inference. An empty history gets the training popularity list
    (``source == "popularity"``). Scoring runs on CPU under ``torch.no_grad``; torch is imported
    when the inspector is made, not when this module is.
    """

    def __init__(self, workspace, run_id, dataset=None):
        """``dataset``: the run's dataset when the caller already holds it (else it is loaded)."""
        self.run, self.model, meta = load_run_model(workspace, run_id, device="cpu")
        self.dataset = dataset if dataset is not None else workspace.load_dataset(self.run.dataset_id)
        if self.dataset.n_items != self.model.n_items:
            raise RecStudioError(
                f"Run {self.run.id}'s model knows {self.model.n_items} items but dataset {self.dataset.name!r} "
                f"has {self.dataset.n_items}; the dataset changed since the run, so train the run again."
            )
        self.item_ids = np.asarray(self.dataset.item_ids).astype(str)
        self.titles = np.asarray(self.dataset.item_titles(), dtype=object)
        items = self.dataset.items
        self.categories = (items["category"].fillna("").astype(str).to_numpy(dtype=object)
                           if "category" in items.columns else None)
        self.popularity = np.asarray(meta["popularity"], dtype=np.float32)
        self.has_times = self.dataset.report.timestamp_format != "file order"
        self._parts: tuple[np.ndarray, ...] | None = None
        self._cold: np.ndarray | None = None
        self._users = None

    # users and their events --------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return self.dataset.n_users

    def users(self, search: str = ""):
        """DataFrame ``user_id`` (str), ``events`` (int) of the users whose id contains ``search``
        (case-insensitive; all users when empty), in dataset order."""
        import pandas as pd

        if self._users is None:
            self._users = pd.DataFrame({"user_id": np.asarray(self.dataset.user_ids).astype(str),
                                        "events": np.diff(self.dataset.indptr)})
        search = (search or "").strip()
        if not search:
            return self._users
        hit = self._users["user_id"].str.contains(search, case=False, regex=False)
        return self._users[hit.to_numpy()].reset_index(drop=True)

    def user_index(self, user_id) -> int:
        return self.dataset.user_index(user_id)

    def history(self, user_id):
        """The user's events, oldest first: DataFrame ``position`` (1-based), ``time`` (UTC datetime;
        NaT when the file had no timestamps), ``item_id``, ``title``, then ``category``, ``event``,
        ``rating``, ``quantity`` when the dataset has them, and ``part``: what the event was in the
        run's split ("train", "validation", "test" = the held-out item, "" for an event the split
        uses only as history or not at all)."""
        import pandas as pd

        user = self.user_index(user_id)
        lo, hi = int(self.dataset.indptr[user]), int(self.dataset.indptr[user + 1])
        events = self.dataset.interactions.iloc[lo:hi]
        items = events["item"].to_numpy().astype(np.int64)
        frame = {"position": np.arange(1, hi - lo + 1)}
        if self.has_times:
            frame["time"] = pd.to_datetime(events["timestamp"].to_numpy(), unit="s", utc=True)
        else:
            frame["time"] = pd.Series(pd.NaT, index=range(hi - lo), dtype="datetime64[ns, UTC]")
        frame["item_id"] = self.item_ids[items]
        frame["title"] = self.titles[items]
        if self.categories is not None:
            frame["category"] = self.categories[items]
        for column in ("event", "rating", "quantity"):
            if column in events.columns:
                frame[column] = events[column].to_numpy()
        train_len, valid_pos, test_pos = (part[user] for part in self._split_parts())
        part = np.full(hi - lo, "", dtype=object)
        part[: min(train_len, hi - lo)] = PART_TRAIN
        if self._cold is not None:  # cold-items split: cold events before the validation target trained nothing
            part[(part == PART_TRAIN) & np.isin(items, self._cold)] = ""
        if valid_pos >= 0:
            part[valid_pos] = PART_VALIDATION
        if test_pos >= 0:
            part[test_pos] = PART_TEST
        frame["part"] = part
        return pd.DataFrame(frame)

    def held_out(self, user_id) -> str | None:
        """The item id of the user's test target in the run's split, or None when the user is not tested."""
        user = self.user_index(user_id)
        test_pos = self._split_parts()[2][user]
        if test_pos < 0:
            return None
        return str(self.item_ids[self.dataset.history(user)[test_pos]])

    # recommendations ----------------------------------------------------------------------
    def recommend(self, user_id, k: int = 10, exclude_seen: bool = True, mode: str = AS_EVALUATED) -> Recommendation:
        """The user's top-``k`` (see the class docstring for ``mode``). Items are dicts ``rank``
        (1-based), ``item_id``, ``title``, ``category`` ("" without a catalogue category),
        ``score``, ``held_out`` (True for the user's test item)."""
        _check_k(k)
        if mode not in INSPECTION_MODES:
            raise RecStudioError(f"Unknown inspection mode {mode!r}; choose one of: {', '.join(INSPECTION_MODES)}.")
        user = self.user_index(user_id)
        full = self.dataset.history(user)
        test_pos = int(self._split_parts()[2][user])
        target = int(full[test_pos]) if test_pos >= 0 else None
        note = ""
        if mode == AS_EVALUATED and target is None:
            mode = FULL_HISTORY
            note = (f"User {user_id} has no held-out test event in this run's {self.run.split} split "
                    f"(too few events), so the full history is used.")
        history = full[:test_pos] if mode == AS_EVALUATED else full
        exclude = np.unique(history) if exclude_seen else np.zeros(0, np.int64)
        if mode == AS_EVALUATED:
            exclude = exclude[exclude != target]  # as the evaluation does: the target stays rankable
        source, scores = _score_history(self.model, history, self.popularity)
        ranked, values, masked = _best_items(scores, exclude, k)
        items = [
            {"rank": n, "item_id": str(self.item_ids[i]), "title": str(self.titles[i]),
             "category": str(self.categories[i]) if self.categories is not None else "",
             "score": v, "held_out": i == target}
            for n, (i, v) in enumerate(zip(ranked.tolist(), values.tolist()), 1)
        ]
        in_list = next((it["rank"] for it in items if it["held_out"]), None)
        held_out_rank = None
        if mode == AS_EVALUATED:
            import torch

            from recstudio.evaluation import target_ranks

            held_out_rank = int(target_ranks(masked, torch.tensor([target]))[0]) + 1
        if source == "popularity":
            note = (note + " " if note else "") + "The history is empty, so these are the most popular items."
        return Recommendation(
            str(user_id), source, items, [str(self.item_ids[i]) for i in history.tolist()], mode=mode,
            held_out=str(self.item_ids[target]) if target is not None else None,
            held_out_in_list=in_list, held_out_rank=held_out_rank, note=note,
        )

    def _cold_parts(self, cold: np.ndarray, valid_pos: np.ndarray, test_pos: np.ndarray):
        """Under the cold-items split training skips cold events, so histories are not prefixes: the
        validation target is the last warm event before the test target, and the training part is the
        prefix before it (its cold events are labelled "" by :meth:`history`)."""
        self._cold = cold
        indptr = self.dataset.indptr
        lengths = np.diff(indptr)
        items = self.dataset.interactions["item"].to_numpy()
        users = np.repeat(np.arange(self.dataset.n_users), lengths)
        position = np.arange(len(items)) - indptr[users]
        end = np.where(test_pos >= 0, test_pos, lengths)
        warm = ~np.isin(items, cold) & (position < end[users])
        last_warm = np.full(self.dataset.n_users, -1, dtype=np.int64)
        np.maximum.at(last_warm, users[warm], position[warm])
        valid_pos = np.where(valid_pos >= 0, last_warm, -1)
        return np.where(valid_pos >= 0, valid_pos, end), valid_pos

    def _split_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per user: training length, validation target position, test target position (-1: none).

        A case's history is every event before its target, so its length is the target's position
        in the user's sequence. Only these three arrays are kept, not the split itself.
        """
        if self._parts is None:
            split = run_split(self.dataset, self.run)
            train_len = np.diff(split.train_indptr)
            valid_pos = np.full(self.dataset.n_users, -1, dtype=np.int64)
            test_pos = np.full(self.dataset.n_users, -1, dtype=np.int64)
            valid_pos[split.valid.users] = np.diff(split.valid.history_indptr)
            test_pos[split.test.users] = np.diff(split.test.history_indptr)
            if split.cold_items is not None:
                train_len, valid_pos = self._cold_parts(split.cold_items, valid_pos, test_pos)
            self._parts = (train_len, valid_pos, test_pos)
        return self._parts
