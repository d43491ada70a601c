"""How long a run has left, said honestly: when the current epoch ends, when the run is expected to end
(early stopping's patience after the epoch where the validation trend levels off), and the planned
maximum only as an upper bound. A run with early stopping rarely goes to its maximum, so "time left to
the last planned step" (hours, for a run that ends in minutes) is the one figure not to lead with.

Pure arithmetic on the fit() events (no torch, no Qt): the window and the command line share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: A validation gain per epoch below this fraction of the best score counts as levelled off (early
#: stopping needs a strict improvement, but gains this small are within the noise of one evaluation).
PLATEAU_GAIN = 0.0025
#: Validations needed before the trend is read.
TREND_MIN_EPOCHS = 3


@dataclass(frozen=True)
class FinishEstimate:
    epoch: int  # the epoch being trained
    epoch_left: float | None  # seconds until it has trained and validated
    most_left: float | None  # seconds to the planned maximum (epochs or step limit)
    expected_left: float | None  # seconds to the expected end (None: not known yet)
    expected_epoch: int | None  # the epoch expected to be the last
    most_epochs: int  # the planned maximum of epochs
    reason: str  # what the expectation rests on, in words
    expected_progress: float | None = None  # 0..1 of the steps of the expected run, for a progress bar


class FinishEstimator:
    """Fed the run's steps and validations; ``estimate()`` at any time."""

    def __init__(self, steps_per_epoch: int, max_epochs: int, max_steps: int | None = None, patience: int = 10):
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        planned = max_epochs * self.steps_per_epoch
        self.planned_steps = min(planned, max_steps) if max_steps else planned
        self.max_epochs = max(1, math.ceil(self.planned_steps / self.steps_per_epoch))
        self.patience = max(1, int(patience))
        self.step = 0
        self.epoch = 1
        self.elapsed = 0.0
        self._validation_seconds: list[float] = []
        self._last_step_elapsed = 0.0
        self._train_seconds = 0.0
        self._bests: list[float] = []  # best score so far after each validation
        self._best_epoch = 0
        self._validated = 0
        self._recent: list[tuple[int, float]] = []  # the last steps' (step, elapsed): the current pace

    # events --------------------------------------------------------------------------------------
    def add_step(self, step: int, epoch: int, elapsed: float) -> None:
        self.step, self.epoch, self.elapsed = step, epoch, elapsed
        self._last_step_elapsed = elapsed
        self._train_seconds = elapsed - sum(self._validation_seconds)  # every validation so far came before
        self._recent.append((step, elapsed))
        if len(self._recent) > 200:
            del self._recent[:100]

    def add_validation(self, epoch: int, best_epoch: int, best_score: float, elapsed: float) -> None:
        self._validation_seconds.append(max(0.0, elapsed - self._last_step_elapsed))
        self._validated = epoch
        self._best_epoch = best_epoch
        self._bests.append(float(best_score))
        self.elapsed = elapsed
        self.epoch = epoch + 1
        self._recent = [(self.step, elapsed)]  # the pace after a validation counts from its end

    @property
    def validated_epochs(self) -> int:
        """The last epoch validated (the epochs the run has finished)."""
        return self._validated

    # the estimate -------------------------------------------------------------------------------
    def seconds_per_step(self) -> float | None:
        if len(self._recent) >= 2:
            (s0, t0), (s1, t1) = self._recent[0], self._recent[-1]
            if s1 > s0:
                return (t1 - t0) / (s1 - s0)
        if self.step:
            return max(self._train_seconds, 0.0) / self.step
        return None

    def validation_seconds(self) -> float:
        return sum(self._validation_seconds) / len(self._validation_seconds) if self._validation_seconds else 0.0

    def _seconds_to(self, last_epoch: int, pace: float) -> float:
        """Seconds from now until ``last_epoch`` has been trained and validated."""
        end_step = min(last_epoch * self.steps_per_epoch, self.planned_steps)
        validations = max(0, last_epoch - self._validated)
        return max(0, end_step - self.step) * pace + validations * self.validation_seconds()

    def expected_last_epoch(self) -> tuple[int | None, str]:
        """(the epoch expected to be the last, why) from the best-so-far scores and the patience."""
        if len(self._bests) < TREND_MIN_EPOCHS:
            return None, f"expected finish after {TREND_MIN_EPOCHS} validations"
        done = self._validated
        earliest = min(self.max_epochs, self._best_epoch + self.patience)
        bests = self._bests
        best = bests[-1]
        gains = [b - a for a, b in zip(bests, bests[1:])]  # per epoch; 0 where it did not improve
        width = min(4, len(gains) // 2)  # two equal blocks of the latest gains
        recent, before = sum(gains[-width:]), sum(gains[-2 * width:-width])
        tolerance = PLATEAU_GAIN * max(abs(best), 1e-9)
        if recent / width <= tolerance:
            return max(earliest, done), (f"validation has levelled off (best at epoch {self._best_epoch}); "
                                         f"early stopping waits {self.patience} epochs after the best")
        if before <= 0 or recent >= 0.9 * before:
            return self.max_epochs, "validation is still rising steadily, so the run may go to its maximum"
        per_epoch = (recent / before) ** (1.0 / width)  # geometric: the gain shrinks by this factor each epoch
        centre = done - (width - 1) / 2  # the epoch the recent block's mean gain stands for
        plateau = math.ceil(centre + math.log(tolerance / (recent / width)) / math.log(per_epoch))
        last = min(self.max_epochs, max(earliest, plateau + self.patience, done))
        return last, (f"the validation trend levels off around epoch {max(plateau, done)}; early stopping waits "
                      f"{self.patience} epochs after the best")

    def estimate(self) -> FinishEstimate:
        pace = self.seconds_per_step()
        epoch = min(self.epoch, self.max_epochs)
        expected_epoch, reason = self.expected_last_epoch()
        if pace is None:
            return FinishEstimate(epoch, None, None, None, expected_epoch, self.max_epochs, reason)
        epoch_left = self._seconds_to(epoch, pace)
        most_left = self._seconds_to(self.max_epochs, pace)
        expected_left = progress = None
        if expected_epoch is not None:
            expected_left = self._seconds_to(expected_epoch, pace)
            progress = min(1.0, self.step / max(1, min(expected_epoch * self.steps_per_epoch, self.planned_steps)))
        return FinishEstimate(epoch, epoch_left, most_left, expected_left, expected_epoch, self.max_epochs, reason,
                              progress)


def format_duration(seconds: float | None) -> str:
    """``75`` → ``1 min 15 s``; ``4000`` → ``1 h 6 min``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
