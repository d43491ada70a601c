"""What a stored run says about itself, read once from the dicts the workspace and the checkpoint keep.

A run's ``config`` blob and a checkpoint's ``meta.json`` are written by several versions of RecStudio;
these two frozen views are the one place that knows their keys and what an old blob lacks, so the rest
of the code asks ``RunConfig.of(run).split_options`` instead of ``(run.config or {}).get(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAINING_STATE = "training-state"  # a run folder's resumable state, rewritten at every epoch end
RESUMABLE = ("interrupted", "cancelled", "failed")


def training_state_dir(run_folder: str | Path) -> Path:
    """Where a run folder keeps the state ``fit`` resumes from."""
    return Path(run_folder) / TRAINING_STATE


@dataclass(frozen=True)
class RunConfig:
    """A run's recorded settings. Every field is optional in old blobs; absent means empty or None.

    ``model`` and ``train``: the model's and TrainConfig's fields; ``split_options``: e.g. the cold
    fraction; ``item_text``: the encoder summary of a text-aware run; ``distill``: the teacher run and
    its temperature and alpha; ``update``: the parent run of an update with new events;
    ``quantisation`` / ``quantised_from``: an int8 copy; ``distributed``: a torchrun job's world;
    ``init_from``: the run a transferred run started from (``run``, its ``dataset`` and ``encoder``);
    ``raw``: the whole blob, for copying it into a derived run.
    """

    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    split_options: dict[str, Any] = field(default_factory=dict)
    item_text: dict[str, Any] | None = None
    distill: dict[str, Any] | None = None
    update: dict[str, Any] | None = None
    quantisation: dict[str, Any] | None = None
    quantised_from: int | None = None
    distributed: dict[str, Any] | None = None
    init_from: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, run) -> "RunConfig":
        """The settings of a :class:`recstudio.workspace.RunRecord` (or of its config dict)."""
        blob = getattr(run, "config", run) or {}
        return cls(
            model=dict(blob.get("model") or {}),
            train=dict(blob.get("train") or {}),
            split_options=dict(blob.get("split_options") or {}),
            item_text=blob.get("item_text") or None,
            distill=blob.get("distill") or None,
            update=blob.get("update") or None,
            quantisation=blob.get("quantisation") or None,
            quantised_from=blob.get("quantised_from"),
            distributed=blob.get("distributed") or None,
            init_from=blob.get("init_from") or None,
            raw=dict(blob),
        )

    @property
    def parent_run(self) -> int | None:
        """The run an update started from (None for a run trained from scratch)."""
        return (self.update or {}).get("parent_run")

    @property
    def source_run(self) -> int | None:
        """The run a transferred run started from (None for a run that started from nothing)."""
        return (self.init_from or {}).get("run")

    def source_text(self) -> str | None:
        """"run 3 on 'books'" for a transferred run, None for another."""
        if self.source_run is None:
            return None
        dataset = (self.init_from or {}).get("dataset")
        return f"run {self.source_run}" + (f" on {dataset!r}" if dataset else "")

    def without(self, *keys: str) -> dict[str, Any]:
        """The blob less ``keys``: the start of a derived run's config."""
        return {k: v for k, v in self.raw.items() if k not in keys}


@dataclass(frozen=True)
class CheckpointMeta:
    """What a run's checkpoint says about the data it was trained on (``meta.json`` beside the weights).

    ``item_ids`` in the model's item order; ``item_titles`` (the ids when an old checkpoint has none);
    ``popularity``: training counts per item, the list for an empty history; ``item_text``: the
    encoder summary of a text-aware model (``encoder.identity``, ``encoder.max_length``)."""

    item_ids: list[str]
    item_titles: list[str]
    popularity: list[float]
    dataset: str | None = None
    split: str | None = None
    split_options: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None
    item_text: dict[str, Any] | None = None
    quantisation: dict[str, Any] | None = None  # an int8 copy's scheme and layers
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # all of meta.json

    @classmethod
    def of(cls, meta: dict[str, Any]) -> "CheckpointMeta":
        ids = [str(i) for i in meta["item_ids"]]
        return cls(
            item_ids=ids,
            item_titles=[str(t) for t in (meta.get("item_titles") or ids)],
            popularity=list(meta.get("popularity") or [0.0] * len(ids)),
            dataset=meta.get("dataset"),
            split=meta.get("split"),
            split_options=dict(meta.get("split_options") or {}),
            run_id=meta.get("run_id"),
            item_text=meta.get("item_text") or None,
            quantisation=meta.get("quantisation") or None,
            raw=dict(meta),
        )

    @classmethod
    def for_training(cls, run, dataset_name: str, dataset, split, item_text=None) -> "CheckpointMeta":
        """The metadata a run's checkpoints are written with."""
        return cls(
            item_ids=[str(i) for i in dataset.item_ids], item_titles=[str(t) for t in dataset.item_titles()],
            popularity=split.train_popularity().tolist(), dataset=dataset_name, split=run.split,
            split_options=RunConfig.of(run).split_options, run_id=run.id,
            item_text=item_text.summary() if item_text is not None else None,
        )

    @property
    def encoder(self) -> dict[str, Any]:
        """The recorded text encoder (identity, max_length, ...), empty for an id-only model."""
        return dict((self.item_text or {}).get("encoder") or {})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataset": self.dataset, "split": self.split, "split_options": dict(self.split_options),
            "run_id": self.run_id, "item_ids": list(self.item_ids), "item_titles": list(self.item_titles),
            "popularity": list(self.popularity),
        }
        if self.item_text is not None:
            out["item_text"] = self.item_text
        return out
