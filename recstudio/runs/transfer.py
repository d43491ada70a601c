"""Start a run from another run's knowledge (``--init-from RUN``): the model learned on one catalogue carries
its sequence knowledge to another, whose items it reads through the same frozen text encoder and template.

What belongs to no item (a sasrec-lm run's transformer, text adaptor and fusion gate) is carried over; what
belongs to the old catalogue (its id vectors, text vectors, centring statistics) is not. The settings that
shape the carried weights or the text they read (the spec's ``transfer_settings``) come from the source run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from recstudio.errors import RecStudioError
from recstudio.runs.evaluating import checkpoint_of, load_run_model
from recstudio.runs.record import CheckpointMeta, RunConfig


@dataclass(frozen=True)
class TransferSource:
    """A finished run to start from: its record, its best model (CPU, eval mode) and its checkpoint's meta."""

    run: Any
    model: Any
    meta: CheckpointMeta

    def record(self) -> dict[str, Any]:
        """What the new run keeps of where it came from (config key ``init_from``)."""
        return {"run": self.run.id, "model": self.run.model, "dataset": self.run.dataset_name,
                "encoder": self.meta.encoder, "template": (self.meta.item_text or {}).get("template")}


def source_problem(workspace, run, model: str) -> str | None:
    """Why ``run`` cannot start a new ``model`` run, in the analyst's words (None: it can)."""
    if run.model != model:
        return (f"Run {run.id} is a {run.model} run; a {model} run can only start from a finished {model} run "
                "(see `recstudio runs list`).")
    if run.status != "completed":
        return f"Run {run.id} is {run.status}; start from a completed run."
    settings = RunConfig.of(run)
    if settings.quantisation:
        return (f"Run {run.id} is an int8 copy (of run {settings.quantised_from}) for inference; start from run "
                f"{settings.quantised_from}, whose weights are whole.")
    if checkpoint_of(workspace, run.id) is None:
        return f"Run {run.id} has no checkpoint (status {run.status}); train it again with `recstudio train`."
    return None


def transfer_sources(workspace, model: str) -> list:
    """The workspace's runs a new ``model`` run can start from (any dataset), newest first; none for a model
    that cannot start from a run (its spec's ``transfer_settings`` are empty)."""
    from recstudio.models import model_spec

    if not model_spec(model).transfer_settings:
        return []
    return [run for run in reversed(workspace.list_runs())
            if run.model == model and source_problem(workspace, run, model) is None]


def inherited_settings(run, model: str) -> dict[str, Any]:
    """The settings a run started from ``run`` takes from it (its spec's ``transfer_settings``)."""
    from recstudio.models import model_spec

    saved = RunConfig.of(run).model
    return {k: saved[k] for k in model_spec(model).transfer_settings if k in saved}


def load_source(workspace, run_ref, model: str) -> TransferSource:
    """The run ``run_ref`` names, checked as a source for a new ``model`` run (user errors say what is wrong)."""
    from recstudio.models import model_spec

    if not model_spec(model).transfer_settings:
        raise RecStudioError(f"--init-from carries a trained sasrec-lm run to new data; {model!r} cannot start "
                             "from another run (train it from scratch, or use --model sasrec-lm).")
    run = workspace.run(run_ref)
    problem = source_problem(workspace, run, model)
    if problem is not None:
        raise RecStudioError(problem)
    run, loaded, meta = load_run_model(workspace, run.id, device="cpu")
    if not meta.encoder:
        raise RecStudioError(f"Run {run.id}'s checkpoint does not record its text encoder; train it again.")
    return TransferSource(run, loaded, meta)


def transfer_config(source: TransferSource, model: str, overrides: dict[str, Any]):
    """The new run's settings: ``overrides`` for what only training uses (dropout, id dropout, loss...), the
    source's for the spec's ``transfer_settings``. Given explicitly with another value, those are refused:
    the encoder first (its own message), then the others together."""
    from recstudio.knowledge.encoder import resolve_source
    from recstudio.models import model_config, model_spec

    inherited = model_spec(model).transfer_settings
    saved = dict(source.model.config_dict())
    given = asdict(model_config(model, overrides))  # checked by name and type
    run_id = source.run.id
    if "encoder" in overrides and resolve_source(given["encoder"])[0] != resolve_source(saved["encoder"])[0]:
        raise RecStudioError(
            f"Run {run_id} read item text with the encoder {_encoder_name(saved['encoder'])!r}; a run started "
            f"from it must read the new catalogue with the same encoder (its adaptor learned that encoder's "
            f"vectors), not {_encoder_name(given['encoder'])!r}. Leave out the encoder setting."
        )
    clashes = [k for k in inherited if k in overrides and k != "encoder" and given[k] != saved[k]]
    if clashes:
        raise RecStudioError(
            f"Run {run_id} fixes " + ", ".join(f"{k} {saved[k]!r}" for k in clashes)
            + "; a run started from it keeps the settings that shape its weights or the text they read: leave "
            "out " + ", ".join(f"{k}={given[k]!r}" for k in clashes) + " (or give the run's own values)."
        )
    return model_config(model, {**given, **{k: saved[k] for k in inherited}})


def check_item_text(source: TransferSource, item_text) -> None:
    """The new catalogue's text vectors must come from the very encoder the source run read (same weights,
    pooling and length): a folder changed since gives vectors the adaptor never learned."""
    wanted, got = source.meta.encoder, dict(item_text.encoder)
    keys = ("identity", "pooling", "max_length")
    if any(wanted.get(k) != got.get(k) for k in keys if k in wanted):
        raise RecStudioError(
            f"The text encoder run {source.run.id} read with has changed since ({wanted.get('identity')} then, "
            f"{got.get('identity')} now); a run started from it needs the same weights. Put the encoder back, "
            "or train a new source run."
        )


def transferred_model(source: TransferSource, model: str, n_items: int, config, item_text):
    """A new ``model`` over ``n_items`` items (text vectors ``item_text``) started from the source's weights."""
    from recstudio.models import create_model
    from recstudio.runs.training import text_inputs

    new = create_model(model, n_items, config, **text_inputs(item_text))
    new.start_from(source.model)
    return new


def _encoder_name(name: str) -> str:
    from recstudio.knowledge.encoder import DEFAULT_ENCODER_NAME

    return name or DEFAULT_ENCODER_NAME
