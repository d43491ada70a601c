"""Checkpoints that describe themselves: weights in safetensors, config and id maps in JSON."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from recstudio.errors import RecStudioError

WEIGHTS = "model.safetensors"
META = "checkpoint.json"
OPTIMIZER = "optimizer.safetensors"  # training state: optimizer tensors and the torch random state
STATE = "state.json"  # training state: counters, optimizer settings, numpy random state


def save_checkpoint(directory: str | Path, model, meta: dict[str, Any]) -> Path:
    """Write weights + JSON into ``directory`` atomically (a reader never sees half a checkpoint)."""
    from safetensors.torch import save_file

    def write(tmp: Path) -> None:
        save_file(_weights(model), tmp / WEIGHTS)
        full_meta = {"model": model.name, "config": model.config_dict(), "n_items": model.n_items, **meta}
        (tmp / META).write_text(json.dumps(full_meta, indent=1, default=_plain))

    return _write_folder(directory, write)


def save_training_state(directory: str | Path, model, optimizer, scaler, info: dict[str, Any]) -> Path:
    """What continuing a run after the epoch just finished needs, written atomically: the current
    (not the best) weights, the optimizer's moments, the gradient scaler, the random states and
    ``info`` (epoch, step, best score... as plain JSON). Safetensors and JSON only: no pickle."""
    import torch
    from safetensors.torch import save_file

    def write(tmp: Path) -> None:
        save_file(_weights(model), tmp / WEIGHTS)
        optim = optimizer.state_dict()
        tensors, scalars = {}, {}
        for index, values in optim["state"].items():
            for name, value in values.items():
                if torch.is_tensor(value):
                    tensors[f"{index}.{name}"] = value.detach().contiguous().cpu()
                else:
                    scalars[f"{index}.{name}"] = value
        tensors["rng.torch"] = torch.get_rng_state()
        save_file(tensors, tmp / OPTIMIZER)
        state = {**info, "optimizer": {"param_groups": optim["param_groups"], "scalars": scalars},
                 "scaler": scaler.state_dict() if scaler is not None else {}}
        (tmp / STATE).write_text(json.dumps(state, indent=1, default=_plain))

    return _write_folder(directory, write)


def has_training_state(directory: str | Path) -> bool:
    directory = _recovered(directory)
    return all((directory / name).is_file() for name in (WEIGHTS, OPTIMIZER, STATE))


def training_position(directory: str | Path) -> dict[str, int] | None:
    """``{"epoch", "step"}`` of the last finished epoch saved in ``directory``, or None without a state."""
    if not has_training_state(directory):
        return None
    saved = json.loads((_recovered(directory) / STATE).read_text())
    return {"epoch": int(saved["epoch"]), "step": int(saved["step"])}


def load_training_state(directory: str | Path, model, optimizer, scaler) -> dict[str, Any]:
    """Put the saved weights, optimizer moments, scaler and torch random state back; returns ``info``."""
    import torch
    from safetensors.torch import load_file

    directory = _recovered(directory)
    if not has_training_state(directory):
        raise RecStudioError(f"No saved training state in {directory}; the run cannot be resumed, train it again.")
    state = json.loads((directory / STATE).read_text())
    model.load_state_dict(load_file(str(directory / WEIGHTS), device="cpu"))
    tensors = load_file(str(directory / OPTIMIZER), device="cpu")
    torch.set_rng_state(tensors.pop("rng.torch"))
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *state["optimizer"]["scalars"].items()]:
        index, name = key.split(".", 1)
        per_param.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": state["optimizer"]["param_groups"]})
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    return state


def _weights(model) -> dict:
    return {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}


def _recovered(directory: str | Path) -> Path:
    """``directory``, put back from its ``.old`` copy when a crash came between the two renames
    of :func:`_write_folder` (the old folder moved aside, the new one not yet in place)."""
    directory = Path(directory)
    old = directory.with_name(directory.name + ".old")
    if not directory.exists() and old.is_dir():
        try:
            os.replace(old, directory)
        except OSError:
            return old
    return directory


def _write_folder(directory: str | Path, write) -> Path:
    """Fill a temporary folder with ``write(folder)`` and swap it in for ``directory``."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ckpt-", dir=directory.parent))
    try:
        write(tmp)
        if directory.exists():
            old = directory.with_name(directory.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def read_meta(directory: str | Path) -> dict[str, Any]:
    path = _recovered(directory) / META
    if not path.exists():
        raise RecStudioError(f"No checkpoint in {directory}: {META} is missing; train the run again.")
    return json.loads(path.read_text())


def load_checkpoint(directory: str | Path, device: str = "cpu"):
    """The model (in eval mode, on ``device``) and the checkpoint's metadata."""
    from safetensors.torch import load_file

    from recstudio.models import model_class, model_config

    meta = read_meta(directory)
    config = model_config(meta["model"], meta["config"], saved=True)
    state = load_file(str(Path(directory) / WEIGHTS), device="cpu")
    model = model_class(meta["model"]).from_state(config, meta["n_items"], state)
    if meta.get("quantisation"):  # an int8 copy (recstudio.models.quantise): its Linear layers hold int8 tensors
        from recstudio.models.quantise import int8_shells

        int8_shells(model, meta["quantisation"]["layers"])
    model.load_state_dict(state)
    model.to(device).eval()
    return model, meta


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
