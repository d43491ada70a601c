"""The one place background threads are made: jobs run as superqt generator workers, one at a time."""

from __future__ import annotations

import inspect
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Generator

from PySide6.QtCore import QObject, Signal
from superqt.utils import GeneratorWorker, create_worker

#: Progress reaches the GUI at most this often (20 per second); the rest is batched.
FLUSH_SECONDS = 0.05


class JobError(Exception):
    """Carries a job's exception across the thread boundary.

    superqt treats a RuntimeError escaping a worker as "the worker was deleted" and drops it
    silently; torch raises RuntimeError for real failures (CUDA out of memory, shape bugs), so every
    exception is wrapped in this non-RuntimeError type and unwrapped on the GUI side.
    """

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


@dataclass(frozen=True)
class Batch:
    """Events that arrived within one flush interval, delivered together."""

    events: tuple[Any, ...]


class CancelToken:
    """Thread-safe flag a job polls between steps."""

    def __init__(self):
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


def batched(events: Generator[Any, None, Any]) -> Generator[Batch, None, Any]:
    """Re-yield a fast event stream as at most ~20 batches per second (the last batch always flushes)."""
    pending: list[Any] = []
    last = time.monotonic()
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            if pending:
                yield Batch(tuple(pending))
            return stop.value
        pending.append(event)
        now = time.monotonic()
        if now - last >= FLUSH_SECONDS:
            yield Batch(tuple(pending))
            pending, last = [], now


def with_progress(fn: Callable[..., Any]) -> Generator[Batch, None, Any]:
    """Run ``fn(progress)`` and yield what it reports through ``progress(fraction, text)`` as batches.

    For library calls that report through a callback rather than by yielding (the importer): the
    call runs in a helper thread owned by this job, and this generator relays what it reports.
    """
    reports: queue.SimpleQueue = queue.SimpleQueue()
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = fn(lambda f, m: reports.put((f, m)))
        except BaseException as exc:  # re-raised in the job's own thread below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"recstudio-{getattr(fn, '__name__', 'job')}", daemon=True)
    thread.start()
    while thread.is_alive() or not reports.empty():
        thread.join(FLUSH_SECONDS)
        items = []
        while not reports.empty():
            items.append(reports.get())
        if items:
            yield Batch(tuple(Progress(f, m) for f, m in items))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@dataclass(frozen=True)
class Progress:
    fraction: float
    text: str


class JobRunner(QObject):
    """Runs one background job at a time and relays its signals.

    A job is a function of plain values (config and paths, never widgets); a generator job yields
    :class:`Batch` objects as it goes. Its return value is the result. Signals: ``started(name)``, ``progress(Batch)``,
    ``result(name, value)``, ``error(name, exception)``, ``finished(name)``; ``finished`` always fires,
    after ``result`` or ``error``, and by then the runner is free (``busy`` is False). A second job while one runs is refused (``start`` returns False).
    """

    started = Signal(str)
    progress = Signal(object)
    result = Signal(str, object)
    error = Signal(str, object)
    finished = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker: GeneratorWorker | None = None
        self._name = ""
        self._token: CancelToken | None = None

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @property
    def job_name(self) -> str:
        return self._name

    def start(self, name: str, job: Callable[..., Generator], *args: Any, cancellable: bool = True) -> bool:
        """Start ``job(*args, cancelled=token)`` (or ``job(*args)`` when not cancellable)."""
        if self._worker is not None:
            return False
        self._name = name
        self._token = CancelToken()
        kwargs = {"cancelled": self._token} if cancellable else {}
        worker = create_worker(_guarded, job, args, kwargs, _start_thread=False, _ignore_errors=True)
        worker.started.connect(lambda: self.started.emit(name))
        worker.yielded.connect(self.progress.emit)
        outcome: dict[str, Any] = {}
        worker.returned.connect(lambda value: outcome.setdefault("result", value))
        worker.errored.connect(lambda exc: outcome.setdefault("error", getattr(exc, "original", exc)))
        worker.finished.connect(lambda: self._on_finished(outcome))
        self._worker = worker
        self.busy_changed.emit(True)
        worker.start()
        return True

    def cancel(self) -> None:
        """Ask the job to stop at its next step; it still finishes normally (status cancelled)."""
        if self._token is not None:
            self._token.cancel()

    def stop_and_wait(self, timeout_ms: int = 30000) -> bool:
        """Cancel and block until the job's thread is done (for closing the window)."""
        from PySide6.QtCore import QCoreApplication, QThreadPool

        self.cancel()
        deadline = time.monotonic() + timeout_ms / 1000
        while self._worker is not None and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            QThreadPool.globalInstance().waitForDone(20)
        return self._worker is None

    def _on_finished(self, outcome: dict[str, Any]) -> None:
        # result/error are emitted only once the runner is free, so a handler may start the next job
        name = self._name
        self._worker, self._token = None, None
        self.busy_changed.emit(False)
        if "error" in outcome:
            self.error.emit(name, outcome["error"])
        elif "result" in outcome:
            self.result.emit(name, outcome["result"])
        self.finished.emit(name)


#: How much lower than the GUI thread a job's thread runs (Unix nice increment). The job keeps every
#: core while the window is idle; when the GUI thread wakes (a timer, a repaint, a click) the scheduler
#: gives it the core first, so a training job using all cores does not make the window stutter.
JOB_NICE = 10


def lower_thread_priority(increment: int = JOB_NICE) -> bool:
    """Lower the calling thread's scheduling priority (Linux: per thread; threads it starts later, such
    as torch's intra-op pool, inherit it). Lowering needs no privilege; elsewhere this does nothing."""
    import os
    import sys

    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < increment:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + increment))
        return True
    except OSError:
        return False


def _guarded(job: Callable[..., Any], args: tuple, kwargs: dict) -> Generator:
    lower_thread_priority()
    try:
        outcome = job(*args, **kwargs)
        if inspect.isgenerator(outcome):  # a plain function is a job with no progress
            outcome = yield from outcome
        return outcome
    except Exception as exc:
        raise JobError(exc) from exc
