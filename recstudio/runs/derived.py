"""Runs made from other runs: an int8 copy for CPU inference, and an update with new events and items.

Both are recorded as ordinary runs (their config names the run they came from), so recommend, evaluate,
explain and the inspector take them like any other. Shared by the CLI and the window.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator

import numpy as np

from recstudio.errors import RecStudioError
from recstudio.runs.evaluating import evaluate_split, load_run_model, metrics_line, run_split, stored_metrics
from recstudio.runs.record import RunConfig
from recstudio.runs.training import Cancelled, RunOutcome, check_train_config, encoding_stages, fit_and_record

# -- int8 copies ------------------------------------------------------------------------------------


@dataclass
class QuantisedRun:
    run_id: int
    parent_run: int
    model: str
    layers: list[str]  # the Linear layers now int8
    size_bytes: int  # model.safetensors of the int8 copy
    parent_size_bytes: int
    parameters: int
    metrics: dict[str, Any]  # "test" (full ranking on the parent's split) and "size"
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def weights_file(checkpoint_dir) -> Path:
    from recstudio.training.checkpoint import WEIGHTS

    return Path(checkpoint_dir) / WEIGHTS


def quantise_run(workspace, run_id, *, evaluate: bool = True) -> QuantisedRun:
    """A new run holding ``run_id``'s best model with every Linear layer dynamically quantised to int8
    (:mod:`recstudio.models.quantise`), tested on the parent's split on CPU unless ``evaluate`` is False."""
    from recstudio.models.quantise import SCHEME, count_parameters, quantise_linear_layers
    from recstudio.training.checkpoint import save_checkpoint

    started = time.perf_counter()
    parent = workspace.run(run_id)
    settings = RunConfig.of(parent)
    if settings.quantisation:
        raise RecStudioError(f"Run {parent.id} is already an int8 copy (of run {settings.quantised_from}).")
    if parent.status != "completed":
        raise RecStudioError(f"Run {parent.id} is {parent.status}; quantise a completed run.")
    _, model, meta = load_run_model(workspace, parent.id, device="cpu")
    parent_weights = weights_file(workspace.artefacts(parent.id)["checkpoint"])
    parameters = count_parameters(model)
    layers = quantise_linear_layers(model)
    if not layers:
        raise RecStudioError(f"Run {parent.id} ({parent.model}) has no Linear layers to quantise; "
                             "int8 quantisation is for the neural models (sasrec, sasrec-lm, lm-seq).")
    quantisation = {"scheme": SCHEME, "layers": layers}
    config = {**settings.raw, "quantised_from": parent.id, "quantisation": quantisation}
    run = workspace.create_run(parent.dataset_id, parent.model, config, split=parent.split, device="cpu")
    try:
        folder = workspace.run_dir(run.id) / "checkpoint"
        info = {k: v for k, v in meta.raw.items() if k not in ("model", "config", "n_items")}
        info.update({"run_id": run.id, "quantisation": quantisation, "quantised_from": parent.id})
        save_checkpoint(folder, model, info)
        size = {"bytes": weights_file(folder).stat().st_size, "parent_bytes": parent_weights.stat().st_size,
                "parameters": parameters}
        metrics: dict[str, Any] = {"size": size}
        if evaluate:
            dataset = workspace.load_dataset(run.dataset_id)
            result = evaluate_split(model, run_split(dataset, run), dataset, device="cpu")
            metrics.update(stored_metrics(result))
        seconds = time.perf_counter() - started
        workspace.finish_run(run.id, status="completed", metrics=metrics, seconds=seconds, epochs=0,
                             artefacts={"checkpoint": folder})
    except BaseException as exc:
        workspace.finish_run(run.id, status="failed", error=str(exc) or type(exc).__name__)
        raise
    return QuantisedRun(run.id, parent.id, parent.model, layers, size["bytes"], size["parent_bytes"], parameters,
                        metrics, seconds)


# -- updates with new events ------------------------------------------------------------------------

DEFAULT_UPDATE_STEPS = 200
DEFAULT_REPLAY = 3.0  # old sequences replayed per touched one, so the model does not forget the rest
MAX_PASSES = 10  # over the chosen sequences: a handful of new events is not learned a thousand times


@dataclass(frozen=True)
class UpdateRequest:
    """New events (a file) and optionally new catalogue items for a trained run, as plain values."""

    run: int | str
    events: str
    items: str | None = None
    steps: int = DEFAULT_UPDATE_STEPS
    replay: float = DEFAULT_REPLAY
    lr: float | None = None  # default: a tenth of the parent's learning rate (fine-tune, do not retrain)
    seed: int = 0
    roles: Any = None  # recstudio.data.ColumnRoles for the new file; default: the dataset's own columns
    import_options: Any = None
    device: str = "auto"
    workspace: str | None = None


@dataclass
class UpdateOutcome:
    """The new run (``outcome``) and what the update added."""

    outcome: RunOutcome | None  # None when stopped before the run was recorded
    parent_run: int
    dataset: str
    dataset_id: int
    dataset_reused: bool
    added_events: int
    duplicates: int
    new_users: list[str]
    new_items: list[str]
    catalogue_only: list[str]
    touched_users: int
    replayed_users: int
    steps: int = 0  # the most fine-tuning steps planned
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["outcome"] = self.outcome.to_dict() if self.outcome is not None else None
        return out


def update_run(request: UpdateRequest, cancelled: Cancelled | None = None) -> Generator[Any, None, UpdateOutcome]:
    """Append new events (and catalogue items) to a run's dataset as a new dataset version, fine-tune the
    run's best model on the sequences they touch plus a replay sample of the others for at most
    ``request.steps`` steps, and record the result as a new run whose config names its parent.

    Everything a user can get wrong (unknown run, unreadable file, no new events) fails before anything
    is written. New items get the next item indices; a text-aware model (sasrec-lm) places them by the
    text of their catalogue row through its frozen encoder and trained adaptor (their id vectors start at
    zero), so an item with no events can be recommended at once. An id-only model starts an item with
    events at the mean item vector and cannot place one without events (it scores 0 until it has some).
    """
    from recstudio.data import ImportOptions, file_fingerprint, make_split
    from recstudio.data.append import append_events
    from recstudio.training import Stage
    from recstudio.training.wrappers import FixedStatistics
    from recstudio.workspace import Workspace

    cancelled = cancelled or (lambda: False)
    if int(request.steps) < 1:
        raise RecStudioError("--steps must be at least 1.")
    if not 0.0 <= float(request.replay) <= 1000.0:
        raise RecStudioError("--replay must be between 0 and 1000 (old sequences per touched one).")
    for path in (request.events, request.items):
        if path is not None and not Path(path).is_file():
            raise RecStudioError(f"No file {path!r}; give the path of a CSV/TSV/Parquet file.")
    with Workspace(request.workspace) as workspace:
        parent = workspace.run(request.run)
        settings = RunConfig.of(parent)
        if settings.quantisation:
            raise RecStudioError(f"Run {parent.id} is an int8 copy for inference; update its float run "
                                 f"{settings.quantised_from} and quantise the result.")
        if parent.status != "completed":
            raise RecStudioError(f"Run {parent.id} is {parent.status}; update a completed run.")
        _, model, meta = load_run_model(workspace, parent.id, device="cpu")
        record = workspace.dataset_record(parent.dataset_id)
        dataset = workspace.load_dataset(record.id)
        if dataset.n_items != model.n_items:
            raise RecStudioError(f"Run {parent.id}'s model knows {model.n_items} items but its dataset has "
                                 f"{dataset.n_items}; train the run again.")
        options = request.import_options or ImportOptions()
        appended = append_events(dataset, request.events, items_path=request.items, roles=request.roles,
                                 options=options, name=f"{record.name} + {Path(request.events).stem}")
        version = appended.dataset
        yield Stage("import", 1.0, f"New events: {appended.added_events:,} ({len(appended.new_users):,} new users, "
                                   f"{len(appended.new_items):,} new items, {appended.duplicates:,} already there)")
        notes = list(appended.notes)

        item_text = None
        new_text = new_texts = None
        if appended.new_items and model.uses_item_text:
            embeddings = yield from _new_item_text(workspace, model, meta, version, dataset.n_items, request.device,
                                                   cancelled)
            if embeddings is None:
                return _update_outcome(None, parent, record, False, appended, 0, 0, notes)
            new_text, new_texts = embeddings.vectors, embeddings.texts
        if model.uses_item_text:
            item_text = _TextSummary({**(meta.item_text or {}), "items": version.n_items,
                                      "added_items": len(appended.new_items)})
        elif appended.catalogue_only:
            notes.append(f"{parent.model} knows items only by id: the {len(appended.catalogue_only):,} new catalogue "
                         "items without events cannot be scored (they score 0) until they have events; a text-aware "
                         "model (sasrec-lm, lm-seq) places them by their text.")
        grown = model.with_items(version.n_items, new_text=new_text, new_texts=new_texts,
                                 with_events=_has_events(version, dataset.n_items))

        split_options = settings.split_options
        split = make_split(version, parent.split, **split_options)
        rng = np.random.default_rng(request.seed)
        fit_split, replayed = _update_split(split, appended.touched_users, request.replay, rng)
        train_config = _update_train_config(parent, fit_split, grown, request)

        # stored last, so that a mistake above leaves the workspace as it was; one transaction
        fingerprint = _version_key(record, request, file_fingerprint)
        found = workspace.find_dataset(*fingerprint)
        reused = found is not None
        new_record = found if reused else workspace.save_dataset(
            version, fingerprint=fingerprint[0], options_key=fingerprint[1],
            source=f"{record.source} + {Path(request.events).resolve()}",
            items_source=str(Path(request.items).resolve()) if request.items else record.items_source)
        config = settings.without("distill", "imported_from", "update")
        config.update({
            "train": train_config.to_dict(), "split_options": split_options,
            "update": {"parent_run": parent.id, "parent_dataset": record.id, "events_file": str(Path(request.events).resolve()),
                       "items_file": str(Path(request.items).resolve()) if request.items else None,
                       "added_events": appended.added_events, "new_users": len(appended.new_users),
                       "new_items": len(appended.new_items), "catalogue_only_items": len(appended.catalogue_only),
                       "touched_users": int(len(appended.touched_users)), "replayed_users": replayed,
                       "steps": int(request.steps), "replay": float(request.replay)},
        })
        if item_text is not None:
            config["item_text"] = item_text.summary()
        run = workspace.create_run(new_record.id, parent.model, config, split=parent.split, device=request.device)
        trainee = FixedStatistics(grown, split.train_indptr, split.train_items)
        outcome = yield from fit_and_record(workspace, run, new_record.name, version, split, trainee, train_config,
                                            item_text, request.device, cancelled, fit_split=fit_split)
        return _update_outcome(outcome, parent, new_record, reused, appended, replayed, train_config.max_steps, notes)


class _TextSummary:
    """What a checkpoint records about item text, for a model whose vectors came from its parent run."""

    def __init__(self, summary: dict[str, Any]):
        self._summary = summary

    def summary(self) -> dict[str, Any]:
        return dict(self._summary)


def _update_outcome(outcome, parent, record, reused, appended, replayed, steps, notes) -> UpdateOutcome:
    return UpdateOutcome(outcome, parent.id, record.name, record.id, reused, appended.added_events,
                         appended.duplicates, appended.new_users, appended.new_items, appended.catalogue_only,
                         int(len(appended.touched_users)), int(replayed), int(steps), notes)


def _has_events(version, old_items: int) -> np.ndarray:
    """For each new item (index old_items on), whether it has any event."""
    counts = np.bincount(version.interactions["item"].to_numpy(), minlength=version.n_items)
    return counts[old_items:] > 0


def _new_item_text(workspace, model, meta, version, old_items: int, device: str, cancelled: Cancelled):
    """The new items' text (``.vectors`` float32 [new items, dim] and the rendered ``.texts``), with the
    run's encoder, template and pooling (the workspace's embedding cache is used); None when cancelled."""
    from recstudio.knowledge import iter_item_embeddings
    from recstudio.training import Stage

    config = model.config
    frame = version.items.iloc[old_items:].reset_index(drop=True)
    gen = iter_item_embeddings(frame, encoder=config.encoder, template=config.template, pooling=config.pooling,
                               cache_dir=workspace.files_dir / "embeddings", device=device)
    embeddings = yield from encoding_stages(gen, cancelled)
    if embeddings is None:  # cancelled
        return None
    _check_same_encoder(meta, embeddings.encoder, model, embeddings.dim)
    yield Stage("encode", 1.0, f"Item text of {len(frame):,} new items ({embeddings.encoded:,} encoded, "
                               f"{embeddings.reused:,} from the cache)")
    return embeddings


def _check_same_encoder(meta, encoder: dict, model, dim: int) -> None:
    recorded = meta.encoder.get("identity")
    if recorded and encoder.get("identity") != recorded:
        raise RecStudioError(
            f"The run's text encoder has changed since it was trained (it was {recorded}, now {encoder.get('identity')}); "
            "its vectors would not match the run's. Restore that encoder or train the run again."
        )
    if dim != int(model.item_text.shape[1]):
        raise RecStudioError(f"The text encoder gives {dim}-d vectors; the run's are {int(model.item_text.shape[1])}-d. "
                             "Restore the run's encoder or train the run again.")


def _update_split(split, touched: np.ndarray, replay: float, rng: np.random.Generator):
    """``split`` whose training part holds only the touched users' sequences and a random sample of
    ``replay`` times as many other users' (validation and test unchanged); and the number replayed."""
    lengths = np.diff(split.train_indptr)
    chosen = np.zeros(split.n_users, dtype=bool)
    chosen[touched] = True
    others = np.flatnonzero(~chosen & (lengths >= 2))
    n_replay = min(len(others), int(round(replay * max(1, len(touched)))))
    if n_replay:
        chosen[rng.choice(others, size=n_replay, replace=False)] = True
    kept = np.where(chosen, lengths, 0)
    indptr = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
    starts = split.train_indptr[:-1][chosen]
    idx = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths[chosen])]) if chosen.any() \
        else np.zeros(0, dtype=np.int64)
    items = split.train_items[idx.astype(np.int64)]
    if not (kept >= 2).any():
        raise RecStudioError("After the update no user has two or more training events among the sequences to "
                             "fine-tune on; add more events.")
    starts = None if split.train_basket_starts is None else split.train_basket_starts[idx.astype(np.int64)]
    return dataclasses.replace(split, train_indptr=indptr, train_items=items, train_basket_starts=starts), \
        int(n_replay)


def _update_train_config(parent, fit_split, model, request: UpdateRequest):
    """The parent's training settings, bounded: at most ``steps`` steps and at most MAX_PASSES passes
    (epochs) over the chosen sequences, validated (and checkpointed when better) after each pass, no
    early stop: the best pass is kept."""
    from recstudio.training.fit import training_windows

    base = check_train_config(RunConfig.of(parent).train, zero_shot=True)  # a zero-shot parent: epochs 0
    windows = len(training_windows(fit_split.train_indptr, fit_split.train_items, model.history_length + 1,
                                   np.random.default_rng(0)))
    steps_per_pass = max(1, math.ceil(windows / base.batch_size))
    steps = min(int(request.steps), MAX_PASSES * steps_per_pass)
    epochs = max(1, min(MAX_PASSES, math.ceil(steps / steps_per_pass)))
    # a fresh Adam moves every weight by about lr per step whatever the gradient: gently, or a converged
    # model is shaken (ml-100k: lr/2 lost 0.002 NDCG@10 in 10 steps, lr/10 kept it)
    lr = float(request.lr) if request.lr is not None else base.lr / 10
    if lr <= 0:
        raise RecStudioError("--lr must be positive.")
    return dataclasses.replace(base, epochs=epochs, max_steps=steps, patience=epochs + 1, lr=lr, seed=request.seed)


def _version_key(record, request: UpdateRequest, file_fingerprint) -> tuple[str, str]:
    """(fingerprint, options key) of the dataset version an update makes: the same update of the same
    dataset is found again instead of being appended twice."""
    from recstudio.data import ImportOptions

    events = file_fingerprint(request.events)
    items = file_fingerprint(request.items) if request.items else None
    options = {"roles": dataclasses.asdict(request.roles) if request.roles is not None else None,
               "options": dataclasses.asdict(request.import_options or ImportOptions())}
    key = hashlib.sha256(json.dumps({"parent": [record.fingerprint, record.options_key], "items": items, **options},
                                    sort_keys=True, default=str).encode()).hexdigest()
    return hashlib.sha256(f"update:{events}".encode()).hexdigest(), key


def update_summary(result: UpdateOutcome) -> str:
    """Plain-language lines about an update, for the command line and the window."""
    lines = [f"Dataset {result.dataset!r} (id {result.dataset_id}{', reused' if result.dataset_reused else ''}): "
             f"+{result.added_events:,} events, {len(result.new_users):,} new users, {len(result.new_items):,} new items"
             + (f" ({len(result.catalogue_only):,} from the catalogue without events)" if result.catalogue_only else "")
             + (f"; {result.duplicates:,} rows repeated earlier events and were skipped" if result.duplicates else "")]
    if result.outcome is None:
        lines.append("Stopped before the new run was recorded; nothing was changed.")
    else:
        o = result.outcome
        test = o.metrics.get("test") or {}
        lines.append(f"Run {o.run_id} ({o.model}, from run {result.parent_run}) {o.status}: fine-tuned for up to "
                     f"{result.steps:,} steps ({o.epochs} passes, best {o.best_epoch}) on {result.touched_users:,} "
                     f"touched + {result.replayed_users:,} replayed user sequences in {o.seconds:.1f} s."
                     + (f"\nTest: {metrics_line(test)}" if test else ""))
    lines += [f"Note: {n}" for n in result.notes]
    return "\n".join(lines)
