"""Train a run: import or reuse the data, encode item text, fit (from scratch, resumed, distilled or as one
torchrun rank), test the best checkpoint and record it all in the workspace."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Generator

from recstudio.errors import RecStudioError
from recstudio.runs.evaluating import (checkpoint_of, evaluate_split, load_run_model, metrics_line, run_split,
                                      seen_targets_note, stored_metrics)
from recstudio.runs.importing import ImportRequest, dataset_named, import_or_reuse
from recstudio.runs.record import RESUMABLE, CheckpointMeta, RunConfig, training_state_dir

Cancelled = Callable[[], bool]
CURVE_FLUSH_SECONDS = 1.0  # curve points are written in small batches, not one transaction per step


@dataclass(frozen=True)
class TrainRequest:
    """Everything a training run needs, as plain values (safe to hand to a worker thread or process)."""

    data: str | None = None  # a CSV/TSV/Parquet file to import (or reuse when imported before)...
    model: str = ""
    dataset: int | str | None = None  # ...or the id or name of a dataset already imported (not both)
    items: str | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    # None: the dataset's default (recstudio.data.basket_report.default_split): last-basket when it has a
    # basket column, else leave-one-out; with a teacher, the teacher's split
    split: str | None = None
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
    # Transfer (recstudio.runs.transfer): a finished run of the same model, on any dataset, whose weights
    # that belong to no item the new run starts from; its settings that shape them come with it. With
    # epochs 0 the run is that knowledge tested on the new data as it is (zero-shot)
    init_from: int | str | None = None


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
    split: str = ""  # the split it was evaluated on (leave-one-out, last-basket, ...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_run(request: TrainRequest, cancelled: Cancelled | None = None,
              import_progress: Callable[[float, str], None] | None = None) -> Generator[Any, None, RunOutcome]:
    """Import (or reuse) the data, train, test the best checkpoint and record it all in the workspace.

    Yields the events of :func:`recstudio.training.fit` plus :class:`Stage` events for the phases
    around it. The run row is written at start (status ``running``) and finished in one
    transaction: completed, cancelled (best checkpoint kept) or failed (with the error).
    An import is reported through ``import_progress(fraction, message)``, as it cannot yield.
    """
    from recstudio.data import make_split
    from recstudio.data.basket_report import split_line
    from recstudio.models import create_model, model_config, model_spec
    from recstudio.training import Stage
    from recstudio.workspace import Workspace

    cancelled = cancelled or (lambda: False)
    if request.resume is not None:
        return (yield from _resume_run(request, cancelled))
    config = model_config(request.model, request.model_config)  # bad settings fail before any work
    train_config = check_train_config(request.train_config, zero_shot=request.init_from is not None,
                                      model=request.model)
    if request.init_from is not None and (request.teacher is not None or request.distributed):
        raise RecStudioError("A run started from another run (--init-from) trains in one process, without a "
                             "teacher; leave out --teacher and --distributed.")
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
        source = None
        if request.init_from is not None:
            from recstudio.runs.transfer import load_source, transfer_config

            source = load_source(workspace, request.init_from, request.model)
            config = transfer_config(source, request.model, request.model_config)
        teacher = _load_teacher(workspace, request.teacher) if distill is not None else None
        if teacher is not None and not request.data and request.dataset is None:
            record = workspace.dataset_record(teacher[0].dataset_id)  # the student learns on the teacher's dataset
        else:
            record = request_dataset(workspace, request, import_progress)
        dataset = workspace.load_dataset(record.id)
        yield Stage("import", 1.0, f"Dataset {record.name!r}: {dataset.n_users} users, {dataset.n_items} items, "
                                   f"{dataset.n_events} events")
        split_options = dict(request.split_options or {})
        split_name = run_split_name(request, dataset, teacher[0] if teacher is not None else None)
        yield Stage("split", 1.0, split_line(dataset.report, split_name,
                                             chosen=request.split is not None or teacher is not None))
        if teacher is not None:
            _check_teacher(teacher, dataset, record, split_name, split_options)
        split = make_split(dataset, split_name, **split_options)
        if split_options.get("train_fraction") is not None:
            trained = int((split.train_indptr[1:] > split.train_indptr[:-1]).sum())
            if trained == 0 and train_config.epochs > 0:
                raise RecStudioError(
                    f"A training fraction of {split_options['train_fraction']:g} keeps no user's training events, "
                    "so there is nothing to train on; test a run's knowledge as it is with --epochs 0 "
                    "--init-from RUN, or give a larger fraction.")
            yield Stage("split", 1.0, f"Training on {trained:,} users' sequences (a share "
                                      f"{split_options['train_fraction']:g} of them); validation and test unchanged.")
        item_text = None
        uses_text = model_spec(request.model).uses_item_text
        if uses_text:
            try:
                item_text = yield from item_text_stages(workspace, dataset, config, device, cancelled)
            except RecStudioError as exc:
                if source is None:
                    raise
                raise RecStudioError(f"{exc} A run started from run {source.run.id} reads items with its template "
                                     f"{config.template!r}: give this dataset a catalogue with those columns.") from None
            if source is not None and item_text is not None:
                from recstudio.runs.transfer import check_item_text

                check_item_text(source, item_text)
        if main and ddp is not None:
            ddp.barrier()
        if not main:
            run_id, result = yield from _train_rank(request, ddp, dataset, split, config, train_config, item_text,
                                                    cancelled)
            return RunOutcome(run_id, request.model, record.name, result.status, result.epochs, result.best_epoch,
                              result.seconds, result.seconds_to_best, result.samples_per_s,
                              {"valid": result.valid_metrics}, split.kind)
        run_config = {"model": asdict(config), "train": train_config.to_dict(), "split_options": split_options}
        if item_text is not None:
            run_config["item_text"] = item_text.summary()
        if ddp is not None:
            run_config["distributed"] = {"world_size": ddp.world_size, "backend": ddp.backend}
        if teacher is not None:
            run_config["distill"] = {"teacher_run": teacher[0].id, "teacher_model": teacher[0].model, **distill}
        if source is not None:
            run_config["init_from"] = source.record()
        run = workspace.create_run(record.id, request.model, run_config, split=split_name, device=request.device)
        if ddp is not None:
            ddp.broadcast(run.id)
        if uses_text and item_text is None:  # stopped while encoding item text: recorded as cancelled
            workspace.finish_run(run.id, status="cancelled", metrics={}, seconds=0.0, epochs=0, artefacts={})
            return RunOutcome(run.id, request.model, record.name, "cancelled", 0, 0, 0.0, 0.0, 0.0, {})
        from recstudio.training.fit import seed_everything

        seed_everything(train_config.seed)  # the seed also fixes the initial weights, so a run can be repeated
        if source is not None:
            from recstudio.runs.transfer import transferred_model

            model = transferred_model(source, request.model, dataset.n_items, config, item_text)
            yield Stage("transfer", 1.0, f"Starting from run {source.run.id} ({source.run.model} on "
                                         f"{source.run.dataset_name!r}): its transformer, text adaptor and fusion "
                                         "weights; id vectors start at zero"
                                         + ("; no training (zero-shot test)" if train_config.epochs == 0 else ""))
        else:
            model = create_model(request.model, dataset.n_items, config, **text_inputs(item_text))
        if teacher is not None:
            from recstudio.training.distill import Distillation

            model = Distillation(model, teacher[1], **distill)
        return (yield from fit_and_record(workspace, run, record.name, dataset, split, model, train_config,
                                           item_text, device, cancelled, ddp))


def run_split_name(request: TrainRequest, dataset, teacher_run=None) -> str:
    """The split a request trains on: the one it names; else the teacher's (a distilled student must use
    it); else the dataset's default (last-basket when it has a basket column, else leave-one-out)."""
    from recstudio.data.basket_report import default_split

    if request.split is not None:
        return request.split
    if teacher_run is not None:
        return teacher_run.split
    return default_split(dataset.report)


def request_dataset(workspace, request: TrainRequest, progress=None):
    """The dataset record a request names: its imported dataset, or its file imported (or reused)."""
    if request.dataset is not None:
        if request.data:
            raise RecStudioError("Give a file to import or an imported dataset to train on, not both.")
        if request.items:
            raise RecStudioError(f"No file {request.dataset!r}; --items only goes with an interactions file.")
        return dataset_named(workspace, request.dataset)
    if not request.data:
        raise RecStudioError("Nothing to train on: give a CSV path, an imported dataset name, or --sample.")
    record, _ = import_or_reuse(workspace, ImportRequest(request.data, request.items, request.roles,
                                                         request.import_options), progress)
    return record


def _distill_settings(request: TrainRequest) -> dict[str, float]:
    """Checked temperature and alpha of a distillation request (user errors before any work)."""
    from recstudio.models import model_spec
    from recstudio.training.distill_settings import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, check_settings

    if request.distributed:
        raise RecStudioError("Distillation runs in one process; leave out --distributed.")
    unknown = set(request.distill or {}) - {"temperature", "alpha"}
    if unknown:
        raise RecStudioError(f"Unknown distillation setting(s) {', '.join(sorted(unknown))}; "
                             "they are temperature and alpha.")
    if not model_spec(request.model).distillable:
        raise RecStudioError(f"A distilled student must be sasrec or sasrec-lm (a sequence model scored against an "
                             f"item table), not {request.model!r}.")
    values = {"temperature": DEFAULT_TEMPERATURE, "alpha": DEFAULT_ALPHA, **(request.distill or {})}
    temperature, alpha = check_settings(values["temperature"], values["alpha"])
    return {"temperature": temperature, "alpha": alpha}


def teacher_runs(workspace, dataset_id: int) -> list:
    """The runs on dataset ``dataset_id`` a student can learn from (completed, with a checkpoint), newest first."""
    return [run for run in reversed(workspace.list_runs(dataset_id))
            if run.status == "completed" and checkpoint_of(workspace, run.id) is not None]


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
    if model.n_items != dataset.n_items or [str(i) for i in dataset.item_ids] != meta.item_ids:
        raise RecStudioError(
            f"Teacher run {run.id} was trained on dataset {run.dataset_name!r}, not on {record.name!r}; the student "
            "must train on the teacher's dataset (give no DATA to use it)."
        )
    teacher_options = RunConfig.of(run).split_options
    if run.split != split or teacher_options != split_options:
        raise RecStudioError(
            f"Teacher run {run.id} was trained on the {run.split} split{f' {teacher_options}' if teacher_options else ''}; "
            "the student must use the same split (its test events would otherwise leak through the teacher): "
            f"give --split {run.split}" + (" with the same options." if teacher_options else ".")
        )


def fit_and_record(workspace, run, dataset_name: str, dataset, split, model, train_config, item_text, device,
                   cancelled: Cancelled, ddp=None, resume: bool = False, fit_split=None):
    """Train ``model`` for ``run`` (from scratch, or from its saved state with ``resume``), record the
    curve as it grows, test the best checkpoint and finish the run; returns the :class:`RunOutcome`.
    ``fit_split``: the split whose training part ``fit`` learns from, when it is not ``split``'s own
    (an update trains on the sequences its new events touched; validation and test stay ``split``'s)."""
    import shutil

    from recstudio.training import Stage, Step, Validated, fit

    folder = workspace.run_dir(run.id)
    checkpoint_dir, state_dir = folder / "checkpoint", training_state_dir(folder)
    meta = CheckpointMeta.for_training(run, dataset_name, dataset, split, item_text).to_dict()
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
        zero_shot = result.epochs == 0 and result.status == "completed"  # tested as it started (epochs 0)
        if result.best_epoch > 0 or zero_shot:
            yield Stage("test", 0.0, "Testing the best checkpoint on held-out events")
            test = evaluate_split(model, split, dataset, device=device, cancelled=None)
            metrics.update(stored_metrics(test))
            cold = metrics.get("cold")
            seen = seen_targets_note(test.metrics)
            yield Stage("test", 1.0, metrics_line(test.metrics)
                        + (f"; cold items ({cold['cases']} cases): {metrics_line(cold)}" if cold is not None else "")
                        + (f". {seen}" if seen else ""))
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
                      result.seconds, result.seconds_to_best, result.samples_per_s, metrics, split.kind)


def resume_point(workspace, run_id) -> dict[str, int] | None:
    """Where a stopped run would go on from: ``{"epoch", "step"}`` of its last finished epoch, or None
    when it cannot be resumed (it completed, still runs, or stopped before an epoch ended)."""
    from recstudio.training.checkpoint import training_position

    run = workspace.run(run_id)
    if run.status not in RESUMABLE:
        return None
    return training_position(training_state_dir(workspace.files_dir / "runs" / str(run.id)))


def _resume_run(request: TrainRequest, cancelled: Cancelled):
    """Continue a stopped run from the training state saved at its last finished epoch (see ``fit``)."""
    from recstudio.models import create_model, model_config, model_spec
    from recstudio.training import Stage
    from recstudio.training.checkpoint import training_position
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
        settings = RunConfig.of(run)
        if settings.update:
            raise RecStudioError(
                f"Run {run.id} was an update of run {settings.parent_run} with new events; it is not "
                "resumed. Run the same `recstudio update` again: it reuses the dataset version and starts afresh."
            )
        position = training_position(training_state_dir(workspace.run_dir(run.id)))
        if position is None:
            raise RecStudioError(
                f"Run {run.id} ({run.model}) has no saved training state to resume from: it stopped before its "
                "first epoch ended, or the model has nothing to train step by step. Train it again."
            )
        record = workspace.dataset_record(run.dataset_id)
        dataset = workspace.load_dataset(record.id)
        yield Stage("import", 1.0, f"Resuming run {run.id} ({run.model}) on dataset {record.name!r}: "
                                   f"{dataset.n_users} users, {dataset.n_items} items, {dataset.n_events} events")
        split = run_split(dataset, run)
        config = model_config(run.model, settings.model, saved=True)
        train_config = check_train_config(settings.train)
        item_text = None
        if model_spec(run.model).uses_item_text:
            item_text = yield from item_text_stages(workspace, dataset, config, request.device, cancelled)
            if item_text is None:
                raise RecStudioError(f"Resuming run {run.id} was stopped while its item text was encoded; "
                                     "it stays as it was.")
        model = create_model(run.model, dataset.n_items, config, **text_inputs(item_text))
        distill = settings.distill
        if distill:  # a distilled student goes on learning from its teacher
            from recstudio.training.distill import Distillation

            teacher = _load_teacher(workspace, distill["teacher_run"])
            model = Distillation(model, teacher[1], temperature=distill["temperature"], alpha=distill["alpha"])
        run = workspace.reopen_run(run.id, after_step=position["step"], device=request.device)
        return (yield from fit_and_record(workspace, run, record.name, dataset, split, model, train_config,
                                           item_text, request.device, cancelled, resume=True))


def _train_rank(request: TrainRequest, ddp, dataset, split, config, train_config, item_text, cancelled):
    """What a torchrun rank other than 0 does: train its share in step with rank 0, write nothing."""
    from recstudio.models import create_model
    from recstudio.training import fit

    model = create_model(request.model, dataset.n_items, config, **text_inputs(item_text))
    run_id = ddp.broadcast(None)  # rank 0 has created the run
    result = yield from fit(model, split, train_config, device=ddp.device, cancelled=cancelled, distributed=ddp)
    return run_id, result


def text_inputs(item_text) -> dict[str, Any]:
    """What a text-aware model is built with: the items' text vectors and their rendered texts."""
    if item_text is None:
        return {}
    return {"item_text": item_text.vectors, "item_texts": item_text.texts}


def check_train_config(values: dict[str, Any], zero_shot: bool = False, model: str | None = None):
    """A :class:`TrainConfig` from its fields' values (None: the default, or ``model``'s own where its
    spec has one, e.g. lm-seq's epoch bound and batch size), or a user error naming what is wrong.
    ``zero_shot``: epochs 0 (test the model as it starts, no training) is allowed, for a run started from
    another run."""
    from dataclasses import fields

    from recstudio.training import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    unknown = set(values) - known
    if unknown:
        raise RecStudioError(f"Unknown training setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}.")
    given = {k: v for k, v in values.items() if v is not None}
    if model is not None:
        from recstudio.models import model_spec

        given = {**model_spec(model).training, **given}
    config = TrainConfig(**given)
    if config.epochs == 0 and not zero_shot:
        raise RecStudioError("Epochs must be at least 1: 0 epochs (a zero-shot test, no training) needs a run to "
                             "start from (--init-from RUN).")
    if config.epochs < 0 or config.batch_size < 1 or config.lr <= 0:
        raise RecStudioError("Epochs and batch size must be at least 1 and the learning rate positive.")
    return config


def item_text_stages(workspace, dataset, config, device: str, cancelled: Cancelled):
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
