"""Progress events that fit() yields: small frozen values the CLI, GUI and logs consume alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Started:
    model: str
    device: str
    parameters: int
    epochs: int
    steps_per_epoch: int
    train_sequences: int
    threads: int = 0  # CPU threads torch computes with (intra-op), 0: not reported


@dataclass(frozen=True)
class Step:
    step: int
    epoch: int  # 1-based
    loss: float
    samples_per_s: float
    elapsed: float  # seconds since fit started
    eta: float | None  # seconds left at the current pace (to max epochs or max steps)
    fraction: float  # 0..1 of the planned work


@dataclass(frozen=True)
class Validated:
    epoch: int
    step: int
    metrics: dict[str, Any]
    best_epoch: int
    best_score: float
    improved: bool
    elapsed: float


@dataclass(frozen=True)
class Message:
    text: str
    level: str = "info"


@dataclass(frozen=True)
class Stage:
    """A long phase outside the training loop (importing, encoding, testing) and how far along it is."""

    name: str
    fraction: float
    text: str = ""


@dataclass
class FitResult:
    status: str  # "completed" or "cancelled"
    epochs: int  # epochs finished
    best_epoch: int
    steps: int
    seconds: float
    seconds_to_best: float
    valid_metrics: dict[str, Any] = field(default_factory=dict)
    samples_per_s: float = 0.0
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
