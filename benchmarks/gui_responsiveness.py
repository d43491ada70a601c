"""Does the window stay responsive while SASRec trains? Ticks a 10 ms timer on the GUI thread and prints the gaps.

Starts the real main window (offscreen unless --show), imports the bundled sample (or ml-100k, or a file),
presses Start on the Training page with SASRec and records the gap between timer ticks from the moment
the job starts until it finishes. Target: max gap ≤ 50 ms and p99 ≤ 20 ms. Figures, not asserts.

    python benchmarks/gui_responsiveness.py                        # sample, 300 steps, app warm-up
    python benchmarks/gui_responsiveness.py --data ml-100k --max-steps 500 --device cpu
    python benchmarks/gui_responsiveness.py --warmup none          # torch first imported by the worker
    python benchmarks/gui_responsiveness.py --inspect --diagnose   # browse users meanwhile; say what stalled
    python benchmarks/gui_responsiveness.py --page start           # no live plots on screen (isolates them)
    python benchmarks/gui_responsiveness.py --profile-gui          # where the GUI thread's time went

Phases reported: "warm-up" (the background import at launch, while the start page is up), "open page"
(the Training page shown, settings filled in), "start" (the
job started → its first step reported: dataset, split, model, first optimiser step) and "training" (the
rest: steps, validations, checkpoints, the test); the target applies to start + training. --diagnose
runs a watchdog thread that, when a tick is late, notes where the GUI thread and the other threads were.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/gui_responsiveness.py
    import common

TARGET_MAX_MS, TARGET_P99_MS = 50.0, 20.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="sample", help="'sample' (bundled), 'ml-100k', or a behaviour log path")
    p.add_argument("--items", help="item catalogue for a --data path")
    p.add_argument("--max-steps", type=int, default=300, help="training steps (bounds the run; default 300)")
    p.add_argument("--epochs", type=int, default=200, help="epoch limit (validation runs at each epoch end)")
    p.add_argument("--batch-size", type=int, help="training batch size (default: the form's)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--warmup", choices=("none", "app"), default="app",
                   help="none: no background import; app: recstudio.gui.app.warm_up_in_background (torch, "
                        "torch.optim and torch._dynamo, which the first optimiser step would otherwise import)")
    p.add_argument("--inspect", action="store_true",
                   help="train a popularity run first, then browse the inspector (a user every 0.5 s) during training")
    p.add_argument("--train-threads", type=int,
                   help="torch threads for the training job (set inside the job's thread; default: torch's, "
                        "all cores). Try cores - 1 to leave the GUI thread a core on CPU training")
    p.add_argument("--priority", choices=("smooth", "full"), default="smooth",
                   help="Preferences' training priority: smooth (below the window, the default) or full")
    p.add_argument("--page", choices=("train", "start", "runs"), default="train",
                   help="page on screen during training (start: no live plots painting); --inspect shows the inspector")
    p.add_argument("--profile-gui", action="store_true",
                   help="cProfile the GUI thread during training and print where its time went")
    p.add_argument("--diagnose", action="store_true", help="record where threads were during late ticks")
    p.add_argument("--tick-ms", type=int, default=10)
    p.add_argument("--show", action="store_true", help="use the real display instead of offscreen")
    p.add_argument("--workspace", help="workspace file (default: a temporary one)")
    return p.parse_args(argv)


@dataclass
class Phase:
    name: str
    gaps: list[float] = field(default_factory=list)  # seconds
    at: list[float] = field(default_factory=list)  # when the late tick arrived, seconds since the phase began
    step: list[int] = field(default_factory=list)  # last training step seen before the tick
    began: float = 0.0

    def summary(self) -> str:
        if not self.gaps:
            return f"{self.name:<14} no ticks"
        ms = np.array(self.gaps) * 1000
        return (f"{self.name:<14} {len(ms):>7,} {ms.max():>8.1f} {np.percentile(ms, 99):>8.1f} "
                f"{np.percentile(ms, 50):>8.1f} {int((ms > TARGET_MAX_MS).sum()):>6} "
                f"{int((ms > TARGET_P99_MS).sum()):>6}")

    def worst(self, n: int = 5) -> list[str]:
        order = np.argsort(self.gaps)[::-1][:n]
        return [f"  {self.gaps[i] * 1000:8.1f} ms at {self.at[i]:6.2f} s (after step {self.step[i]})" for i in order]


class Ticker:
    """A 10 ms precise timer on the GUI thread recording the gap between ticks into the current phase."""

    def __init__(self, interval_ms: int):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.phase: Phase | None = None
        self.last = time.perf_counter()
        self.step = 0
        self.stalls: list[dict] = []  # from the watchdog

    def start(self, phase: Phase) -> None:
        self.phase = phase
        phase.began = self.last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.phase is not None:
            self.phase.gaps.append(now - self.last)
            self.phase.at.append(now - self.phase.began)
            self.phase.step.append(self.step)
        self.last = now


class Watchdog(threading.Thread):
    """When the GUI thread has not ticked for ``late_ms``, note where every thread is (once per stall)."""

    def __init__(self, ticker: Ticker, gui_thread: int, late_ms: float = 40.0):
        super().__init__(name="benchmark-watchdog", daemon=True)
        self.ticker, self.gui_thread, self.late = ticker, gui_thread, late_ms / 1000
        self.stop = threading.Event()

    def run(self) -> None:
        noted_for = None
        while not self.stop.wait(0.005):
            last = self.ticker.last
            if time.perf_counter() - last > self.late and noted_for != last:
                noted_for = last
                frames = sys._current_frames()
                names = {t.ident: t.name for t in threading.enumerate()}
                where = {}
                for ident, frame in frames.items():
                    if ident == threading.get_ident():
                        continue
                    stack = traceback.extract_stack(frame)[-4:]
                    label = "GUI" if ident == self.gui_thread else names.get(ident, str(ident))
                    where[label] = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))
                self.ticker.stalls.append({"tick": last, "step": self.ticker.step, "where": where})


def pump(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def warm_up(mode: str):
    """Start the background warm-up the way the app does at launch; returns its JobRunner (None: no warm-up)."""
    from recstudio.gui import app as gui_app

    if mode == "none":
        return None
    return gui_app.warm_up_in_background()


def data_paths(args) -> tuple[str, str | None]:
    if args.data == "sample":
        from recstudio.data import sample_paths

        interactions, catalogue = sample_paths()
        return str(interactions), str(catalogue)
    if args.data == "ml-100k":
        return common.dataset_files()
    return args.data, args.items


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.show:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    folder = Path(tempfile.mkdtemp(prefix="recstudio-bench-"))
    workspace = args.workspace or str(folder / "workspace.sqlite")
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)

    from recstudio.gui.app import create_window
    from recstudio.runs import ImportRequest, TrainRequest, import_or_reuse

    t0 = time.perf_counter()
    window = create_window(workspace, settings)
    window.context.set_train_at_full_speed(args.priority == "full")
    window.show()
    pump(app, 0.2)
    opened = time.perf_counter() - t0
    torch_at_open = "torch" in sys.modules

    interactions, items = data_paths(args)
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(interactions, items))
    window.context.set_dataset(record)
    if args.inspect:  # a run to inspect (this imports torch on the GUI thread, before any timing)
        common.train(TrainRequest(dataset=record.id, model="pop", workspace=workspace))
        window.context.runs_changed.emit()

    ticker = Ticker(args.tick_ms)
    watchdog = None
    if args.diagnose:
        watchdog = Watchdog(ticker, threading.get_ident())
        watchdog.start()

    # phase 1: the launch warm-up, with the start page up
    warm_phase = Phase("warm-up")
    ticker.start(warm_phase)
    warmer = warm_up(args.warmup)
    while warmer is not None and warmer.busy:
        app.processEvents()
        time.sleep(0.001)
    pump(app, 0.3)

    # phase 2: training, started from the Training page's Start button
    start_phase = Phase("start")  # job started → first step reported: data, split, model, first step
    train_phase = Phase("training")  # every later step, validations, checkpoints, the test
    runner = window.context.runner
    outcome: dict = {}
    runner.started.connect(lambda _name: ticker.start(start_phase))
    runner.result.connect(lambda _name, value: outcome.setdefault("result", value))
    runner.error.connect(lambda _name, exc: outcome.setdefault("error", exc))

    def on_progress(batch) -> None:
        for event in batch.events:
            step = getattr(event, "step", None)
            if isinstance(step, int):
                ticker.step = step
                if ticker.phase is start_phase and step >= 1:
                    ticker.phase = train_phase
                    train_phase.began = start_phase.began

    runner.progress.connect(on_progress)
    if args.train_threads:
        from recstudio.gui import tasks

        original = tasks.train_task

        def train_task_with_threads(request, cancelled):
            import torch

            torch.set_num_threads(args.train_threads)  # this worker thread only
            return (yield from original(request, cancelled))

        tasks.train_task = train_task_with_threads
    page = window.pages.get("train")
    started_via = "Start button"
    page_phase = Phase("open page")  # the Training page detects devices (imports torch) when first shown
    ticker.phase, page_phase.began = page_phase, time.perf_counter()
    window.show_page("train")
    pump(app, 0.3)
    if page is not None and hasattr(page, "start_button"):
        page.select_model("sasrec")
        pump(app, 0.05)
        page.max_steps_spin.setValue(args.max_steps)
        page.epochs_spin.setValue(args.epochs)
        if args.batch_size:
            page.batch_spin.setValue(args.batch_size)
        index = page.device_combo.findData(args.device)
        if index < 0:
            print(f"device {args.device!r} is not offered on this machine", file=sys.stderr)
            return 2
        page.device_combo.setCurrentIndex(index)
        page.start_button.click()
    else:
        from recstudio.gui import tasks

        started_via = "runner.start (no training view)"
        train_config = {"max_steps": args.max_steps, "epochs": args.epochs}
        if args.batch_size:
            train_config["batch_size"] = args.batch_size
        runner.start("Training", tasks.train_task, TrainRequest(record.name, "sasrec", train_config=train_config,
                                                                device=args.device, workspace=workspace))
    if args.page != "train":
        window.show_page(args.page)
    switches: list[float] = []
    if args.inspect:
        window.show_page("inspect")
        inspector = window.pages["inspect"]
        users = iter(range(10**9))

        def next_user() -> None:
            if inspector.inspector is None:
                return
            table = inspector.user_table
            row = next(users) % max(1, table.model().rowCount())
            begin = time.perf_counter()
            inspector.select_user(table.model().index(row, 0).data())
            switches.append(time.perf_counter() - begin)

        browse = QTimer()
        browse.timeout.connect(next_user)
        browse.start(500)
    profiler = None
    if args.profile_gui:
        import cProfile

        profiler = cProfile.Profile()  # profiles this (the GUI) thread only
        profiler.enable()
    began = time.perf_counter()
    while runner.busy or not outcome:
        app.processEvents()
        time.sleep(0.0005)
        if time.perf_counter() - began > 3600:
            print("training did not finish within an hour; stopping", file=sys.stderr)
            runner.stop_and_wait()
            break
    ticker.timer.stop()
    if profiler is not None:
        profiler.disable()
    if watchdog is not None:
        watchdog.stop.set()
    wall = time.perf_counter() - began

    result = outcome.get("result")
    print("GUI responsiveness while SASRec trains")
    print(f"  data {Path(interactions).name} ({record.n_users:,} users, {record.n_items:,} items, "
          f"{record.n_events:,} events); started via {started_via}; device {args.device}; warm-up {args.warmup}")
    import torch

    print(f"  {os.cpu_count()} logical cores; torch threads: GUI {torch.get_num_threads()}, training "
          f"{args.train_threads or 'default'}, priority {args.priority}; page shown: {'inspect' if args.inspect else args.page}")
    print(f"  window opened in {opened:.2f} s (torch imported at open: {torch_at_open})")
    if result is not None:
        print(f"  run #{result.run_id}: {result.status}, {result.epochs} epoch(s), "
              f"{ticker.step} steps in {wall:.1f} s, {result.samples_per_s:,.0f} samples/s")
    elif "error" in outcome:
        print(f"  training failed: {outcome['error']!r}")
    print(f"\n  {'phase':<14} {'ticks':>7} {'max ms':>8} {'p99 ms':>8} {'p50 ms':>8} {'>50ms':>6} {'>20ms':>6}")
    whole = Phase("start+training", start_phase.gaps + train_phase.gaps, start_phase.at + train_phase.at,
                  start_phase.step + train_phase.step)
    for phase in (warm_phase, page_phase, start_phase, train_phase, whole):
        print("  " + phase.summary())
    if whole.gaps:
        ms = np.array(whole.gaps) * 1000
        ok = ms.max() <= TARGET_MAX_MS and np.percentile(ms, 99) <= TARGET_P99_MS
        print(f"\n  target (the whole run): max ≤ {TARGET_MAX_MS:.0f} ms, p99 ≤ {TARGET_P99_MS:.0f} ms: "
              f"{'met' if ok else 'MISSED'}")
        print("  largest gaps (seconds after the job started):")
        print("\n".join(whole.worst()))
    for phase in (warm_phase, page_phase):
        if phase.gaps and max(phase.gaps) * 1000 > TARGET_MAX_MS:
            print(f"  largest {phase.name} gaps:")
            print("\n".join(phase.worst(3)))
    if switches:
        s = np.array(switches) * 1000
        print(f"\n  inspector user switches during training: {len(s)}, median {np.median(s):.1f} ms, "
              f"max {s.max():.1f} ms (GUI-thread work per switch)")
    if watchdog is not None and ticker.stalls:
        print(f"\n  where threads were during late ticks (> 40 ms; {len(ticker.stalls)} stalls, first 8):")
        for stall in ticker.stalls[:8]:
            print(f"  - after step {stall['step']}:")
            for name, where in stall["where"].items():
                print(f"      {name}: {where}")
    if profiler is not None:
        import io
        import pstats

        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"(recstudio|pyqtgraph)", 18)
        print(f"\n  GUI thread during training ({wall:.1f} s), by cumulative time:")
        print("\n".join("  " + line for line in out.getvalue().splitlines()[6:] if line.strip()))
    print(f"\n  {common.command_line(argv or None)}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
