"""What the training page offers, asks for and says, without widgets: the splits and setting labels, the
request a Start or a Resume makes, and the sentences its log, status line and comparison list show."""

from __future__ import annotations

import math
import os
from typing import Any

from recstudio.data.splits import SPLIT_CHOICES

JOB_NAME = "Training"
CLUSTER_JOB_NAME = "cluster job"
LIVE = "live"  # key of the run being trained in the plots
SPLITS = tuple((label, name, tip) for name, label, tip in SPLIT_CHOICES)  # (label, value, tooltip) for the picker
VALIDATION_METRICS = ("NDCG@10", "HR@10", "MRR@10")
def planned_work(started, max_steps: int | None) -> tuple[int, int]:
    """(epochs, steps) the run will do at most, from its Started event and the step limit."""
    steps = started.epochs * started.steps_per_epoch
    if max_steps:
        steps = min(steps, max_steps)
    epochs = min(started.epochs, math.ceil(steps / max(1, started.steps_per_epoch)))
    return max(1, epochs), max(1, steps)


def progress_texts(estimate, step: int, steps_per_epoch: int) -> tuple[str, str]:
    """(progress bar text, time-left text) for a :class:`recstudio.training.estimate.FinishEstimate`."""
    from recstudio.training.estimate import format_duration

    epoch = estimate.epoch
    if estimate.expected_epoch is not None and estimate.expected_epoch < estimate.most_epochs:
        bar = f"Epoch {epoch:,} · step {step:,} · expected to end after epoch ~{estimate.expected_epoch:,}"
    else:
        bar = f"Epoch {epoch:,} of at most {estimate.most_epochs:,} · step {step:,}"
    parts = []
    if estimate.epoch_left is not None:
        parts.append(f"epoch {epoch:,} ends in {format_duration(estimate.epoch_left)}")
    if estimate.expected_left is not None and estimate.expected_epoch < estimate.most_epochs:
        parts.append(f"finish ≈ {format_duration(estimate.expected_left)}")
    if estimate.most_left is not None:
        parts.append(f"at most {format_duration(estimate.most_left)}")
    text = " · ".join(parts)
    return bar, text[:1].upper() + text[1:]


def finished_text(estimator, status: str | None) -> str:
    """The progress bar's words once a run has ended."""
    status = (status or "failed").capitalize()
    if estimator is None or not estimator.step:
        return status
    epochs = estimator.validated_epochs
    return (f"{status} after {epochs:,} epoch{'s' if epochs != 1 else ''} · step {estimator.step:,}" if epochs
            else f"{status} at step {estimator.step:,}")


def priority_label(threads: int, lowered: bool) -> str:
    """The training page's priority line (rich text with a link to the preferences)."""
    cores = f"{threads:,} CPU thread{'s' if threads != 1 else ''} · " if threads else ""
    how = ("lower than the window, so it stays smooth" if lowered
           else "full speed, the same as the window and other programs")
    return f"{cores}{how} (<a href='preferences'>change</a>)"


def priority_text(threads: int, lowered: bool) -> str:
    """The log line saying how the run shares the processor."""
    how = ("at lower priority than the window (Edit › Preferences: “Train at full speed” when another "
           "program keeps the processor busy)" if lowered else "at full speed (the window's own priority)")
    return f"Computing with {threads:,} CPU thread{'s' if threads != 1 else ''}, {how}."


def metrics_text(metrics: dict[str, Any], names=VALIDATION_METRICS) -> str:
    return " · ".join(f"{n} {metrics[n]:.4f}" for n in names if metrics.get(n) is not None)


def dataset_line(record) -> tuple[str, str]:
    """(split, rich text) for a dataset record: the split the form starts on, the core's default
    (:func:`recstudio.data.basket_report.default_split`), and the form's dataset line saying why."""
    from html import escape  # the name comes from a file name: shown as text, never as markup

    split, note = split_default(record)
    return split, (f"Dataset <b>{escape(record.name)}</b>: {record.n_users:,} users, {record.n_items:,} items, "
                   f"{record.n_events:,} events{note}")


def split_default(record) -> tuple[str, str]:
    """(split, rich-text note): the core's default split for a dataset record, and why."""
    from html import escape

    from recstudio.data.basket_report import basket_column, default_split
    from recstudio.data.baskets import SAME_TIME_WARNING

    report = record.report or {}
    split = default_split(report)
    label = next(label for label, value, _tip in SPLITS if value == split)
    column = basket_column(report)
    if column is not None:
        return split, (f"<br>Basket column <b>{escape(column)}</b>: the split starts on <i>{label}</i> "
                       "(each user's last basket is the test question).")
    share = float(report.get("same_time_share") or 0.0)
    if share > SAME_TIME_WARNING:
        return split, (f"<br>For {share:.0%} of users the last two events share a time; the split starts on "
                       f"<i>{label}</i> (no basket column), <i>Last basket</i> holds them out together.")
    return split, ""


# devices -----------------------------------------------------------------------------------------
def cpu_label() -> str:
    return f"cpu — {os.cpu_count() or 1} logical cores"


def fallback_devices() -> list[tuple[str, str]]:
    """The device choices when detection failed: a broken CUDA install must not break the page."""
    return [("auto", "auto"), ("cpu", cpu_label())]


# requests ----------------------------------------------------------------------------------------
def train_request(dataset_id: int, model: str, model_config: dict[str, Any], *, epochs: int, batch_size: int,
                  lr: float, patience: int, seed: int, max_steps: int, split: str, device: str | None,
                  workspace: str, init_from: int | None = None, teacher: dict[str, Any] | None = None):
    """The :class:`recstudio.runs.TrainRequest` of the form's settings (``max_steps`` 0: no limit;
    ``init_from``: the run it starts from, where one is picked; with it, ``epochs`` 0 is a zero-shot test;
    ``teacher``: the request's fields of a teacher picked, its split among them, see
    ``TeacherRunPicker.request_fields``)."""
    from recstudio.runs import TrainRequest

    teacher = dict(teacher or {})
    return TrainRequest(
        dataset=dataset_id, model=model, model_config=model_config,
        train_config={"epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience, "seed": seed,
                      "max_steps": max_steps or None},
        split=teacher.pop("split", split), device=device or "auto", workspace=workspace, init_from=init_from, **teacher,
    )


def source_runs(workspace, model: str) -> list[tuple[int, str, str]]:
    """``(run id, text, tooltip)`` of the runs a new ``model`` run can start from
    (:func:`recstudio.runs.transfer.transfer_sources`: completed, with a checkpoint, not an int8 copy, on any
    dataset of the workspace), newest first."""
    from recstudio.runs.transfer import transfer_sources

    out = []
    for run in transfer_sources(workspace, model):
        out.append((run.id, f"Run {run.id} · {run.dataset_name}{test_score(run)}",
                    f"Run {run.id} ({run.model} on {run.dataset_name!r}): the new run starts from its transformer, "
                    "text adaptor and fusion weights, reads this dataset's item text with its encoder and template, "
                    "and learns its own id vectors from zero."))
    return out


def teacher_choices(workspace, dataset_id: int) -> list[tuple[int, str, str]]:
    """``(run id, text, tooltip)`` of the runs on dataset ``dataset_id`` a student can learn from
    (:func:`recstudio.runs.teacher_runs`), newest first."""
    from recstudio.runs import teacher_runs

    return [(run.id, f"Run {run.id} · {run.model} · {run.split}{test_score(run)}",
             f"Run {run.id} ({run.model}, {run.split} split): the student learns its scores beside the data, on the "
             "same split.") for run in teacher_runs(workspace, dataset_id)]


def test_score(run) -> str:
    """" · NDCG@10 0.1263" for a run with a test figure, else ""."""
    test = (run.metrics or {}).get("test", {})
    return f" · NDCG@10 {test['NDCG@10']:.4f}" if "NDCG@10" in test else ""


def source_settings(workspace, run_id: int, model: str) -> dict[str, Any]:
    """The settings a run started from ``run_id`` takes from it (shown locked in the form)."""
    from recstudio.runs.transfer import inherited_settings

    return inherited_settings(workspace.run(run_id), model)


def resume_request(run, device: str | None, workspace: str):
    """A request that continues ``run`` with its own data and settings on ``device``."""
    from recstudio.runs import RunConfig, TrainRequest

    return TrainRequest(model=run.model, train_config=RunConfig.of(run).train, device=device or "auto",
                        workspace=workspace, resume=run.id)


def patience_of(request) -> int | None:
    """The request's early-stopping patience (None: the default)."""
    if request is None or not request.train_config:
        return None
    return request.train_config.get("patience")


def step_limit(request) -> int | None:
    """The request's limit on training steps (None: none, or no request)."""
    if request is None or not request.train_config:
        return None
    return request.train_config.get("max_steps")


# what the page says --------------------------------------------------------------------------------
def comparison_entry(run) -> tuple[str, str]:
    """The comparison list's text and tooltip for a stored run."""
    from recstudio.runs import RunConfig

    status = "" if run.status == "completed" else f" · {run.status}"
    text = f"Run {run.id} · {run.model}{status}{test_score(run)}"
    settings = ", ".join(f"{k} {v}" for k, v in RunConfig.of(run).model.items())
    return text, (f"{text}\n{settings}" if settings else text)


def started_text(started, max_steps: int | None) -> str:
    """The log line for a run's Started event."""
    if started.epochs == 0:
        return (f"Zero-shot test of {started.model} on {started.device}: {started.parameters:,} parameters, no "
                "training; validated and tested as it starts.")
    limited = max_steps and max_steps < started.epochs * started.steps_per_epoch
    limit = f", stopping at step {max_steps:,}" if limited else ""
    return (f"Training {started.model} on {started.device}: {started.parameters:,} parameters, "
            f"{started.train_sequences:,} training sequences, {started.steps_per_epoch:,} steps per epoch, "
            f"up to {started.epochs:,} epoch{'s' if started.epochs != 1 else ''}{limit}.")


def validation_text(v) -> str:
    """The log line for one epoch's validation."""
    note = "best so far" if v.improved else f"best is epoch {v.best_epoch} ({v.best_score:.4f})"
    return f"Epoch {v.epoch} (step {v.step:,}), validation: {metrics_text(v.metrics)} — {note}"


def outcome_texts(outcome) -> tuple[list[str], str, str]:
    """(log lines, status line, status level) for a finished run's :class:`recstudio.runs.RunOutcome`."""
    from recstudio.training.estimate import format_duration

    epochs = f"{outcome.epochs} epoch{'s' if outcome.epochs != 1 else ''}"
    if outcome.status == "cancelled":
        kept = (f"the best checkpoint (epoch {outcome.best_epoch}) is kept" if outcome.best_epoch
                else "no epoch finished, so there is no checkpoint")
        lines = [f"Run {outcome.run_id} cancelled after {epochs} ({format_duration(outcome.seconds)}); {kept}."]
        status, level = f"Run {outcome.run_id} stopped; {kept}.", "warning"
    elif outcome.epochs == 0 and outcome.status == "completed":
        lines = [f"Run {outcome.run_id} completed: a zero-shot test, no training."]
        status, level = f"Run {outcome.run_id} {outcome.status}.", "ok"
    else:
        lines = [f"Run {outcome.run_id} {outcome.status}: {epochs} in {format_duration(outcome.seconds)}, "
                 f"best epoch {outcome.best_epoch}, {outcome.samples_per_s:,.0f} samples/s."]
        status, level = f"Run {outcome.run_id} {outcome.status}.", "ok"
    test = outcome.metrics.get("test")
    if test:
        lines.append(f"Test (held-out events, best checkpoint): {metrics_text(test)}")
        from recstudio.runs.evaluating import seen_targets_note

        seen = seen_targets_note(test)
        if seen:
            lines.append(seen)
    return lines, status, level
