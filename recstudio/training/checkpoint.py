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


def save_checkpoint(directory: str | Path, model, meta: dict[str, Any]) -> Path:
    """Write weights + JSON into ``directory`` atomically (a reader never sees half a checkpoint)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ckpt-", dir=directory.parent))
    try:
        tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(tensors, tmp / WEIGHTS)
        full_meta = {"model": model.name, "config": model.config_dict(), "n_items": model.n_items, **meta}
        (tmp / META).write_text(json.dumps(full_meta, indent=1, default=_plain))
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
    path = Path(directory) / META
    if not path.exists():
        raise RecStudioError(f"No checkpoint in {directory}: {META} is missing; train the run again.")
    return json.loads(path.read_text())


def load_checkpoint(directory: str | Path, device: str = "cpu"):
    """The model (in eval mode, on ``device``) and the checkpoint's metadata."""
    from safetensors.torch import load_file

    from recstudio.models import model_class, model_config

    meta = read_meta(directory)
    config = model_config(meta["model"], meta["config"])
    state = load_file(str(Path(directory) / WEIGHTS), device="cpu")
    model = model_class(meta["model"]).from_state(config, meta["n_items"], state)
    model.load_state_dict(state)
    model.to(device).eval()
    return model, meta


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
