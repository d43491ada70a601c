"""Training: the fit() generator, its events, checkpoints, device choice and the run orchestration."""

from recstudio.training.checkpoint import load_checkpoint, read_meta, save_checkpoint
from recstudio.training.events import FitResult, Message, Stage, Started, Step, Validated, event_to_dict
from recstudio.training.fit import TrainConfig, fit, resolve_device, training_windows

__all__ = [
    "FitResult", "Message", "Stage", "Started", "Step", "TrainConfig", "Validated", "event_to_dict",
    "fit", "load_checkpoint", "read_meta", "resolve_device", "save_checkpoint", "training_windows",
]
