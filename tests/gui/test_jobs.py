"""The one job mechanism: signal order, errors of every kind, refusal while busy, cancellation."""

from __future__ import annotations

import time

import pytest

from recstudio.errors import RecStudioError
from recstudio.gui.jobs import Batch, JobRunner, batched, with_progress


def counting_job(n, cancelled):
    for i in range(n):
        if cancelled():
            return "cancelled"
        yield Batch((i,))
        time.sleep(0.002)
    return "done"


def failing_job(exc, cancelled):
    yield Batch(("about to fail",))
    raise exc


@pytest.fixture
def runner(qtbot):
    return JobRunner()


def _record(runner):
    seen = []
    runner.started.connect(lambda name: seen.append(("started", name)))
    runner.progress.connect(lambda batch: seen.append(("progress",)))
    runner.result.connect(lambda name, value: seen.append(("result", value)))
    runner.error.connect(lambda name, exc: seen.append(("error", exc)))
    runner.finished.connect(lambda name: seen.append(("finished", name)))
    return seen


def test_signals_arrive_in_order_and_finished_always_fires(qtbot, runner):
    seen = _record(runner)
    with qtbot.waitSignal(runner.finished, timeout=10000):
        assert runner.start("Count", counting_job, 5)
    assert seen[0] == ("started", "Count")
    assert seen.count(("progress",)) == 5
    assert seen[-2:] == [("result", "done"), ("finished", "Count")]
    assert not runner.busy


@pytest.mark.parametrize("exc", [RecStudioError("bad column"), RuntimeError("CUDA out of memory"), ValueError("bug")])
def test_every_exception_reaches_the_error_signal(qtbot, runner, exc):
    # superqt swallows a RuntimeError escaping a worker; torch raises exactly that, so it must not be lost
    seen = _record(runner)
    with qtbot.waitSignal(runner.finished, timeout=10000):
        runner.start("Fail", failing_job, exc)
    errors = [e for kind, *e in seen if kind == "error"]
    assert len(errors) == 1 and errors[0][0] is exc
    assert seen[-1] == ("finished", "Fail") and not any(kind == "result" for kind, *_ in seen)


def test_second_job_is_refused_while_one_runs(qtbot, runner):
    with qtbot.waitSignal(runner.finished, timeout=10000):
        assert runner.start("Long", counting_job, 50)
        assert not runner.start("Other", counting_job, 1)
    assert runner.start("Next", counting_job, 1)  # free again once finished
    qtbot.waitUntil(lambda: not runner.busy, timeout=10000)


def test_cancel_stops_the_job_at_its_next_step(qtbot, runner):
    results = []
    runner.result.connect(lambda name, value: results.append(value))
    with qtbot.waitSignal(runner.finished, timeout=10000):
        runner.start("Long", counting_job, 10_000)
        qtbot.waitSignal(runner.progress, timeout=5000).wait()
        runner.cancel()
    assert results == ["cancelled"]


def test_plain_function_jobs_have_no_progress(qtbot, runner):
    results = []
    runner.result.connect(lambda name, value: results.append(value))
    with qtbot.waitSignal(runner.finished, timeout=10000):
        runner.start("Plain", lambda x, cancelled: x * 2, 21)
    assert results == [42]


def test_batched_keeps_every_event_and_returns_the_value():
    def events():
        for i in range(1000):
            yield i
        return "end"

    gen = batched(events())
    seen = []
    while True:
        try:
            seen.extend(next(gen).events)
        except StopIteration as stop:
            assert stop.value == "end"
            break
    assert seen == list(range(1000))


def test_with_progress_relays_callback_reports_and_errors():
    def work(progress):
        for i in range(3):
            progress(i / 3, f"part {i}")
        return "ok"

    gen = with_progress(work)
    reports = []
    while True:
        try:
            reports.extend(next(gen).events)
        except StopIteration as stop:
            assert stop.value == "ok"
            break
    assert [r.text for r in reports] == ["part 0", "part 1", "part 2"]

    def broken(progress):
        raise RecStudioError("no user column")

    with pytest.raises(RecStudioError, match="no user column"):
        list(with_progress(broken))


def test_runner_is_free_when_the_result_arrives(qtbot, runner):
    # a result handler may start the next job straight away (the import dialog's Check, then Import)
    started_next = []
    runner.result.connect(lambda name, value: started_next.append(runner.start("Next", counting_job, 1))
                          if name == "First" else None)
    with qtbot.waitSignal(runner.finished, timeout=10000, check_params_cb=lambda name: name == "Next"):
        runner.start("First", counting_job, 1)
    assert started_next == [True]


def _priorities(cancelled):
    """The job thread's nice value, and that of a thread it starts (as torch's intra-op pool is)."""
    import os
    import threading

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    child = {}
    t = threading.Thread(target=lambda: child.setdefault("nice", os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    t.start()
    t.join()
    yield Batch(())
    return own, child["nice"]


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_a_lowered_job_runs_below_the_gui_thread_so_training_cannot_starve_the_window(qtbot, runner):
    import os
    import threading

    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    results = []
    runner.result.connect(lambda name, value: results.append(value))
    for lower in (True, None):  # None: the default, for jobs the analyst waits on
        with qtbot.waitSignal(runner.finished, timeout=10000):
            if lower is None:
                runner.start("Priorities", _priorities)
            else:
                runner.start("Priorities", _priorities, lower_priority=lower)
    (own, child), (default, default_child) = results
    assert own > gui and child == own
    assert default == gui and default_child == gui
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == gui  # the window's thread is untouched


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_a_full_speed_job_after_lowered_ones_runs_at_the_windows_priority(qtbot, runner):
    # pool threads are reused and a lowered priority cannot be raised again without privilege, so a job
    # asked to run at full speed must not land on a thread an earlier job lowered
    import os
    import threading

    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    results = []
    runner.result.connect(lambda name, value: results.append(value))
    for lower in (True, True, False):
        with qtbot.waitSignal(runner.finished, timeout=10000):
            runner.start("Priorities", _priorities, lower_priority=lower)
    (lowered, _), _, (full, full_child) = results
    assert lowered > gui
    assert full == gui and full_child == gui


def slow_value(value, seconds, cancelled):
    """A job that ignores cancellation for a while (as an explanation does), then returns ``value``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.005)
    return value


def test_a_replaced_job_never_reports_and_the_new_one_does(qtbot, runner):
    seen = _record(runner)
    with qtbot.waitSignals([runner.finished], timeout=10000, check_params_cbs=[lambda name: name == "New"]):
        assert runner.start("Old", slow_value, "stale", 0.3)
        assert runner.start("New", slow_value, "fresh", 0.05, replace=True)
        assert runner.busy and runner.job_name == "New"
    assert ("result", "fresh") in seen and ("result", "stale") not in seen
    assert ("finished", "New") in seen and ("finished", "Old") not in seen
    assert runner.stop_and_wait(10000) and runner.threads == 0  # the replaced job's thread ended too
    assert ("result", "stale") not in seen and not runner.busy


def test_replacing_cancels_the_running_job(qtbot, runner):
    results, progress = [], []
    runner.result.connect(lambda name, value: results.append((name, value)))
    cancelled_seen = {}

    def watching(cancelled):
        while not cancelled():
            yield Batch(("old",))
            time.sleep(0.002)
        cancelled_seen["old"] = True
        return "old"

    runner.progress.connect(lambda batch: progress.append(batch.events))
    with qtbot.waitSignal(runner.finished, timeout=10000, check_params_cb=lambda name: name == "New"):
        runner.start("Old", watching)
        qtbot.waitSignal(runner.progress, timeout=5000).wait()
        runner.start("New", counting_job, 3, replace=True)
    assert runner.stop_and_wait(10000)
    assert cancelled_seen == {"old": True}
    assert results == [("New", "done")]


def test_stop_and_wait_waits_for_a_replaced_job_as_well(qtbot, runner):
    ended = []

    def remember(value, seconds, cancelled):
        slow_value(value, seconds, cancelled)
        ended.append(value)
        return value

    busy = []
    runner.busy_changed.connect(busy.append)
    runner.start("Old", remember, "old", 0.4)
    runner.start("New", remember, "new", 0.01, replace=True)
    assert busy == [True]  # busy all along while one job replaces the other
    assert runner.stop_and_wait(10000)
    assert sorted(ended) == ["new", "old"] and runner.threads == 0 and busy == [True, False]


def test_discard_drops_the_running_job_and_frees_the_runner(qtbot, runner):
    seen = _record(runner)
    runner.start("Old", slow_value, "stale", 0.2)
    runner.discard()
    assert not runner.busy
    with qtbot.waitSignal(runner.finished, timeout=10000):
        assert runner.start("Next", slow_value, "next", 0.01)  # free for the next job at once
    assert runner.stop_and_wait(10000)
    assert [s for s in seen if s[0] in ("result", "finished")] == [("result", "next"), ("finished", "Next")]
