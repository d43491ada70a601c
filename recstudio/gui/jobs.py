"""The one place background threads are made: jobs run as superqt generator workers, one at a time per
runner, the latest request replacing a stale one where a view asks for it."""

from __future__ import annotations

import inspect
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Generator

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid
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


class _Job:
    """One started job: its name, cancel flag, superqt worker and what it returned or raised."""

    __slots__ = ("name", "token", "worker", "outcome")

    def __init__(self, name: str, token: CancelToken, worker: GeneratorWorker):
        self.name, self.token, self.worker = name, token, worker
        self.outcome: dict[str, Any] = {}


class JobRunner(QObject):
    """Runs one background job at a time and relays its signals.

    A job is a function of plain values (config and paths, never widgets); a generator job yields
    :class:`Batch` objects as it goes. Its return value is the result. Signals: ``started(name)``, ``progress(Batch)``,
    ``result(name, value)``, ``error(name, exception)``, ``finished(name)``; ``finished`` always fires,
    after ``result`` or ``error``, and by then the runner is free (``busy`` is False). A second job while one
    runs is refused (``start`` returns False), unless it is started with ``replace=True``: then the running
    job is cancelled and disconnected (none of its signals reach the view any more, so a stale result
    never lands; Orange3's ConcurrentMixin habit) and the new one starts at once. A replaced job's thread
    still winds down in the background; :meth:`stop_and_wait` waits for it too.
    """

    started = Signal(str)
    progress = Signal(object)
    result = Signal(str, object)
    error = Signal(str, object)
    finished = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._job: _Job | None = None  # the job whose signals are relayed
        self._retired: list[_Job] = []  # replaced or discarded jobs whose threads have not ended yet

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def job_name(self) -> str:
        return self._job.name if self._job is not None else ""

    @property
    def threads(self) -> int:
        """Jobs of this runner whose threads are still running (the current one and replaced ones)."""
        return (self._job is not None) + len(self._retired)

    def start(self, name: str, job: Callable[..., Generator], *args: Any, cancellable: bool = True,
              replace: bool = False, lower_priority: bool = False) -> bool:
        """Start ``job(*args, cancelled=token)`` (or ``job(*args)`` when not cancellable).

        While a job runs this returns False, or with ``replace`` cancels and disconnects that job and
        starts this one (the latest request wins). ``lower_priority``: the job runs below the GUI
        thread (:data:`JOB_NICE`), so the window stays smooth when the job uses every core. Off by
        default: a lowered thread that holds the GIL while other processes use the processor waits
        long for a core, and the window waits for the GIL behind it (a Python-bound worker under three
        busy processes: GUI gaps up to 222 ms lowered, 67 ms not); worth it only for long jobs that
        compute on every core (training, as Preferences choose), not for ones the analyst waits on."""
        replacing = self._job is not None
        if replacing:
            if not replace:
                return False
            self._retire()
        token = CancelToken()
        kwargs = {"cancelled": token} if cancellable else {}
        worker = create_worker(_guarded, job, args, kwargs, lower_priority, _start_thread=False, _ignore_errors=True)
        record = _Job(name, token, worker)
        worker.started.connect(lambda: self._relay(record, self.started, name))
        worker.yielded.connect(lambda batch: self._relay(record, self.progress, batch))
        worker.returned.connect(lambda value: record.outcome.setdefault("result", value))
        worker.errored.connect(lambda exc: record.outcome.setdefault("error", getattr(exc, "original", exc)))
        worker.finished.connect(lambda: self._on_finished(record))
        self._job = record
        if not replacing:  # busy all along while one job replaces another
            self.busy_changed.emit(True)
        _make_room()
        worker.start()
        return True

    def cancel(self) -> None:
        """Ask the job to stop at its next step; it still finishes normally (status cancelled)."""
        if self._job is not None:
            self._job.token.cancel()

    def discard(self) -> None:
        """Cancel the running job and disconnect it: its result or error never arrives (its thread
        winds down in the background). The runner is free at once."""
        if self._job is not None:
            self._retire()
            self.busy_changed.emit(False)

    def stop_and_wait(self, timeout_ms: int = 30000) -> bool:
        """Cancel and block until the job's thread, and those of jobs it replaced, are done (for
        closing the window)."""
        from PySide6.QtCore import QCoreApplication

        self.cancel()
        for retired in self._retired:
            retired.token.cancel()
        deadline = time.monotonic() + timeout_ms / 1000
        while self.threads and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            wait_for_jobs(20)
        return not self.threads

    def _retire(self) -> None:
        record, self._job = self._job, None
        record.token.cancel()  # a cancellable job stops at its next step; its outcome is dropped
        self._retired.append(record)

    def _relay(self, record: _Job, signal, *values) -> None:
        if record is self._job and isValid(self):
            signal.emit(*values)

    def _on_finished(self, record: _Job) -> None:
        if not isValid(self):  # the view that owned this runner is gone: nobody is listening
            return
        if record is not self._job:  # replaced or discarded: bookkeeping only, nothing reaches the view
            if record in self._retired:
                self._retired.remove(record)
            return
        # result/error are emitted only once the runner is free, so a handler may start the next job
        name, outcome = record.name, record.outcome
        self._job = None
        self.busy_changed.emit(False)
        if "error" in outcome:
            self.error.emit(name, outcome["error"])
        elif "result" in outcome:
            self.result.emit(name, outcome["result"])
        self.finished.emit(name)


def _make_room() -> None:
    """Let a job start at once: Qt's pool holds one thread per core, and a training run, a replaced
    explanation winding down and a device detection must not queue behind one another."""
    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    if pool.activeThreadCount() >= pool.maxThreadCount():
        pool.setMaxThreadCount(pool.activeThreadCount() + 1)


def wait_for_jobs(timeout_ms: int = 5000) -> bool:
    """Block until every job thread has ended (True), or ``timeout_ms`` passed (False): the
    window's last step before the process exits, so no job is cut off mid-write."""
    from PySide6.QtCore import QThreadPool

    return QThreadPool.globalInstance().waitForDone(timeout_ms)


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


def _guarded(job: Callable[..., Any], args: tuple, kwargs: dict, lower_priority: bool = True) -> Generator:
    try:
        if lower_priority:
            return (yield from _at_lower_priority(job, args, kwargs))
        return (yield from _run(job, args, kwargs))
    except Exception as exc:
        raise JobError(exc) from exc


def _run(job: Callable[..., Any], args: tuple, kwargs: dict) -> Generator:
    outcome = job(*args, **kwargs)
    if inspect.isgenerator(outcome):  # a plain function is a job with no progress
        outcome = yield from outcome
    return outcome


_DONE = object()


def _at_lower_priority(job: Callable[..., Any], args: tuple, kwargs: dict) -> Generator:
    """Run the job in a thread of its own at lower priority and relay what it yields. Not in the pool's
    thread itself: a thread's priority can be lowered but (without privilege) never raised again, and
    pool threads are reused, so a later job asked to run at full speed would inherit it (as would the
    OpenMP threads torch starts from that thread)."""
    relay: queue.SimpleQueue = queue.SimpleQueue()
    outcome: dict[str, Any] = {}

    def target():
        lower_thread_priority()
        try:
            gen = _run(job, args, kwargs)
            while True:
                try:
                    relay.put(next(gen))
                except StopIteration as stop:
                    outcome["value"] = stop.value
                    break
        except BaseException as exc:  # re-raised in the pool's thread below
            outcome["error"] = exc
        finally:
            relay.put(_DONE)

    thread = threading.Thread(target=target, name=f"recstudio-job-{getattr(job, '__name__', 'job')}", daemon=True)
    thread.start()
    while (item := relay.get()) is not _DONE:
        yield item
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
