"""What the command line prints while it works, and how Ctrl-C stops a training run: progress lines on
stderr (a throttled step line on a terminal) for `recstudio train` and `update`, and a command's answer on
stdout (:func:`print_result`)."""

from __future__ import annotations

import json
import signal
import sys
import time


class GracefulStop:
    """First Ctrl-C asks training to stop at the next step (run recorded as cancelled); a second one aborts."""

    def __init__(self):
        self._requested = False
        self._previous = None

    def requested(self) -> bool:
        return self._requested

    def _handle(self, signum, frame):
        if self._requested:
            raise KeyboardInterrupt
        self._requested = True
        print("\nStopping at the next step (Ctrl-C again to abort)...", file=sys.stderr)

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class StageLine:
    """An import's stages as percentage lines on stderr."""

    def __call__(self, fraction: float, message: str) -> None:
        print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr)


class TrainReporter:
    """Progress on stderr: a line per validation, and a throttled step line on a terminal."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def show(self, event) -> None:
        if self.quiet:
            return
        from recstudio.training import Message, Stage, Started, Step, Validated

        if isinstance(event, Started) and event.epochs == 0:
            self._line(f"Zero-shot: {event.model} on {event.device}, {event.parameters:,} parameters, no training; "
                       "validated and tested as it starts")
        elif isinstance(event, Started):
            self._line(f"Training {event.model} on {event.device}: {event.parameters:,} parameters, "
                       f"{event.train_sequences} training sequences, {event.steps_per_epoch} steps per epoch")
        elif isinstance(event, Step) and self.tty and time.monotonic() - self.last > 0.5:
            self.last = time.monotonic()
            eta = f", ETA {event.eta:.0f} s (to the epoch limit)" if event.eta is not None else ""
            print(f"\r  epoch {event.epoch} step {event.step}: loss {event.loss:.4f}, "
                  f"{event.samples_per_s:.0f} samples/s{eta}   ", end="", file=sys.stderr, flush=True)
        elif isinstance(event, Validated):
            shown = ", ".join(f"{k} {v:.4f}" for k, v in event.metrics.items() if k in ("HR@10", "NDCG@10"))
            mark = " *" if event.improved else ""
            self._line(f"epoch {event.epoch:>3} ({event.elapsed:6.1f} s) valid {shown}{mark}")
        elif isinstance(event, Stage) and event.name in ("encode", "teacher") and 0 < event.fraction < 1:
            if self.tty and time.monotonic() - self.last > 0.5:  # per-batch progress: one line on a terminal
                self.last = time.monotonic()
                print(f"\r  {event.text}   ", end="", file=sys.stderr, flush=True)
        elif isinstance(event, (Message, Stage)):
            self._line(event.text)

    def _line(self, text: str) -> None:
        if text:
            print(("\r" if self.tty else "") + text, file=sys.stderr, flush=True)


def print_result(args, payload: dict, text: str) -> None:
    """A command's answer on stdout: ``payload`` as one line of JSON with ``--json``, else ``text``."""
    if args.json:
        print(json.dumps(payload, default=str))
    else:
        print(text)
