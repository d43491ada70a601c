"""Training: the fit() generator, its events, checkpoints, device choice and the run orchestration."""

from recstudio.training.checkpoint import load_checkpoint, read_meta, save_checkpoint
from recstudio.training.events import FitResult, Message, Stage, Started, Step, Validated
from recstudio.devices import resolve_device
from recstudio.drive import drive
from recstudio.training.fit import TrainConfig, fit, training_windows

__all__ = [
    "FitResult", "Message", "Stage", "Started", "Step", "TrainConfig", "Validated", "drive",
    "fit", "load_checkpoint", "read_meta", "resolve_device", "save_checkpoint", "training_windows",
]
