"""The window at real size: every page on a 1M-event log (100k users, 50k items with text), with the time
each takes to show, the longest GUI-thread stall and the peak memory.

Generates the log and catalogue with make_synthetic.py (cached under ~/.cache/recstudio-bench, or --out),
starts the real main window (offscreen unless --show), imports the log through the import dialog (the file
and the catalogue set as a user would, Check, then Import), then opens every page in turn: the dataset page
(plots and item table), the Knowledge map (encoding with its progress bar; the map's data is ready when
encoding has finished), a sampled-softmax SASRec trained for 200 steps, the runs page, and the inspector
(user search, one user's history and top-K, an explanation, a what-if). For each it prints the time from its
data being ready until it is shown, the longest gap between the ticks of a 10 ms timer on the GUI thread,
and the process's peak memory so far (ru_maxrss). Targets: shown ≤ 1 s after the data is ready, no stall
> 100 ms, peak memory ≤ 3 GB. Figures, not asserts.

    python benchmarks/gui_at_scale.py                     # 1M events; encoding 50k texts takes a while
    python benchmarks/gui_at_scale.py --quick             # 100k events, 10k users, 5k items
    python benchmarks/gui_at_scale.py --knowledge random  # map random vectors: the drawing, not the encoder
    python benchmarks/gui_at_scale.py --json --diagnose   # figures as JSON; where the GUI thread stalled
    python benchmarks/gui_at_scale.py --profile           # cProfile the GUI thread per page that missed

Encoded item texts are cached under the cache folder too, so a second run reuses them (encoding time is
reported apart: it is background work with a progress bar, not a wait for the window).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    from benchmarks import common
    from benchmarks.gui_responsiveness import Phase, Ticker, Watchdog
    from benchmarks.make_synthetic import write_synthetic
except ImportError:  # run as python benchmarks/gui_at_scale.py
    import common
    from gui_responsiveness import Phase, Ticker, Watchdog
    from make_synthetic import write_synthetic

TARGET_SHOWN_S, TARGET_STALL_MS, TARGET_PEAK_MB = 1.0, 100.0, 3072.0
CACHE = Path.home() / ".cache" / "recstudio-bench"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--items", type=int, default=50_000)
    p.add_argument("--quick", action="store_true", help="100k events, 10k users, 5k items (for iterating)")
    p.add_argument("--out", help=f"folder for the generated files (default {CACHE}/synthetic-E-U-I)")
    p.add_argument("--knowledge", choices=("encode", "random", "skip"), default="encode",
                   help="encode: the real encoder (cached after the first run); random: random vectors in "
                        "place of the encoder's (the map's drawing at full size); skip: no Knowledge page")
    p.add_argument("--encode-timeout", type=float, default=3600,
                   help="stop encoding after this many seconds and map random vectors instead")
    p.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    p.add_argument("--device", default="auto", help="training device: auto, cpu, cuda")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--diagnose", action="store_true", help="note where the GUI thread was during stalls")
    p.add_argument("--profile", action="store_true", help="cProfile the GUI thread of each page that stalled")
    p.add_argument("--tick-ms", type=int, default=10)
    p.add_argument("--show", action="store_true", help="use the real display instead of offscreen")
    p.add_argument("--shots", metavar="DIR", help="save a PNG of the window (or its dialog) as each page ends, "
                   "outside the measured time")
    args = p.parse_args(argv)
    if args.quick:
        args.events, args.users, args.items = 100_000, 10_000, 5_000
    return args


# -- figures ----------------------------------------------------------------------------------------
def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Row:
    """One page (or one step on a page): when its data was ready, when it was on screen, its ticks."""

    name: str
    phase: Phase
    ready: float | None = None
    shown: float | None = None
    peak: float = 0.0
    notes: list[str] = field(default_factory=list)
    stalls: list[dict] = field(default_factory=list)
    profile: str = ""

    @property
    def shown_s(self) -> float | None:
        return None if self.ready is None or self.shown is None else max(0.0, self.shown - self.ready)

    @property
    def stall_ms(self) -> float:
        return max(self.phase.gaps, default=0.0) * 1000

    def met(self) -> dict[str, bool | None]:
        return {"shown": None if self.shown_s is None else self.shown_s <= TARGET_SHOWN_S,
                "stall": self.stall_ms <= TARGET_STALL_MS, "memory": self.peak <= TARGET_PEAK_MB}

    def as_dict(self) -> dict:
        return {"page": self.name, "shown_s": self.shown_s, "max_stall_ms": round(self.stall_ms, 1),
                "ticks": len(self.phase.gaps), "peak_rss_mb": round(self.peak), "met": self.met(),
                "notes": self.notes, "stalls": self.stalls[:5]}


class Bench:
    """The window, the ticking timer and the rows measured so far."""

    def __init__(self, app, window, args):
        self.app, self.window, self.args = app, window, args
        self.ticker = Ticker(args.tick_ms)
        self.rows: list[Row] = []
        self.row: Row | None = None
        self.watchdog = None
        self.profiler = None
        self.collections: list[tuple[float, str]] = []  # slow garbage collections: (ms, thread)
        if args.diagnose:
            self.watchdog = Watchdog(self.ticker, threading.get_ident(), late_ms=TARGET_STALL_MS)
            self.watchdog.start()
            gc.callbacks.append(self._on_collection)
        self.ready: dict[str, list[float]] = {}  # job name -> when each of its runs returned (worker side)

    def begin(self, name: str) -> Row:
        self.end()
        row = Row(name, Phase(name))
        self.rows.append(row)
        self.row = row
        self._stalls_from = len(self.ticker.stalls)
        if self.args.profile:
            import cProfile

            self.profiler = cProfile.Profile()
            self.profiler.enable()
        self.ticker.start(row.phase)
        common.progress(f"{name}…")
        return row

    def end(self) -> None:
        row, self.row = self.row, None
        if row is None:
            return
        self.ticker.phase = None
        row.peak = peak_mb()
        if self.args.shots:  # after the row's measurement: the grab's own time is nobody's stall
            self.shoot(row.name)
        row.stalls = [s["where"] for s in self.ticker.stalls[self._stalls_from:]]  # GUI and every other thread
        slow = [c for c in self.collections if c[0] > TARGET_STALL_MS / 2]
        if slow:  # a collection holds the GIL: the watchdog cannot see it, every thread waits
            row.notes.append(f"{len(slow)} garbage collection(s) over {TARGET_STALL_MS / 2:g} ms, longest "
                             f"{max(slow)[0]:.0f} ms (in {max(slow)[1]})")
        self.collections = []
        if self.profiler is not None:
            self.profiler.disable()
            if row.stall_ms > TARGET_STALL_MS:
                import pstats

                out = io.StringIO()
                pstats.Stats(self.profiler, stream=out).sort_stats("cumulative").print_stats(
                    r"(recstudio|pyqtgraph|pandas|numpy)", 14)
                row.profile = "\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip())
            self.profiler = None
        shown = "—" if row.shown_s is None else f"{row.shown_s:.2f} s"
        common.progress(f"{row.name}: shown {shown}, max stall {row.stall_ms:.0f} ms, peak {row.peak:,.0f} MB"
                        + (f" ({'; '.join(row.notes)})" if row.notes else ""))

    def _on_collection(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._collection_began = time.perf_counter()
        elif info["generation"] == 2:
            self.collections.append(((time.perf_counter() - self._collection_began) * 1000,
                                     threading.current_thread().name))

    def shoot(self, name: str) -> None:
        """The window on top (a dialog while one is open) as DIR/NN-name.png."""
        import re

        from PySide6.QtWidgets import QApplication

        folder = Path(self.args.shots)
        folder.mkdir(parents=True, exist_ok=True)
        shown = QApplication.activeModalWidget() or QApplication.activeWindow() or self.window
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        shown.grab().save(str(folder / f"{len(self.rows):02d}-{slug}.png"))

    def wait(self, condition, timeout: float = 600.0, what: str = "") -> bool:
        """Run the event loop until ``condition()`` (True), or ``timeout`` seconds (False, noted)."""
        end = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > end:
                if self.row is not None:
                    self.row.notes.append(f"gave up waiting for {what or 'it'} after {timeout:.0f} s")
                return False
            self.app.processEvents()
            time.sleep(0.001)
        return True

    def settle(self) -> float:
        """Let the pending layout and paint events run; returns when the page is on screen."""
        for _ in range(3):
            self.app.processEvents()
        return time.perf_counter()

    def pump(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        self.wait(lambda: time.perf_counter() >= end)

    def stamp_when_done(self, module, name: str, key: str) -> None:
        """Record when each call of ``module.name`` (a job function) returns: its data is ready then."""
        import inspect

        original = getattr(module, name)
        times = self.ready.setdefault(key, [])

        if inspect.isgeneratorfunction(original):
            def stamped(*args, **kwargs):
                value = yield from original(*args, **kwargs)
                times.append(time.perf_counter())
                return value
        else:
            def stamped(*args, **kwargs):
                value = original(*args, **kwargs)
                times.append(time.perf_counter())
                return value
        setattr(module, name, stamped)

    def next_ready(self, key: str, after: int, timeout: float = 600.0) -> float | None:
        """When the job ``key`` next returned after its ``after``-th run (waiting for it)."""
        times = self.ready.setdefault(key, [])
        if self.wait(lambda: len(times) > after, timeout, key):
            return times[after]
        return None


# -- the pages --------------------------------------------------------------------------------------
def data_files(args) -> tuple[str, str, str]:
    folder = Path(args.out) if args.out else CACHE / f"synthetic-{args.events}-{args.users}-{args.items}"
    events, items = folder / "events.csv", folder / "items.csv"
    if events.exists() and items.exists():
        return str(events), str(items), "cached"
    started = time.perf_counter()
    write_synthetic(folder, args.events, args.users, args.items)
    return str(events), str(items), f"generated in {time.perf_counter() - started:.1f} s"


def import_through_dialog(bench: Bench, events: str, items: str):
    window = bench.window
    row = bench.begin("import: check report")
    dialog = window.open_file(events)
    bench.settle()
    dialog.set_catalogue(items)
    bench.settle()
    checks = len(bench.ready.get("check", []))
    started = time.perf_counter()
    dialog.check_button.click()
    row.ready = bench.next_ready("check", checks, 1800)
    bench.wait(lambda: not dialog.running and dialog.report is not None, 60, "the report")
    row.shown = bench.settle()
    row.notes.append(f"check {row.ready - started:.1f} s" if row.ready else "check did not finish")

    row = bench.begin("dataset page")
    imported: list = []
    dialog.imported.connect(lambda record, _path: imported.append(record))
    saves = len(bench.ready.get("save", []))
    started = time.perf_counter()
    dialog.import_button.click()
    row.ready = bench.next_ready("save", saves, 600)
    page = window.pages["data"]
    bench.wait(lambda: imported and window.current_page() == "data" and page.item_model.rowCount() > 0, 120,
               "the dataset page")
    row.shown = bench.settle()
    record = imported[0] if imported else None
    if row.ready:
        row.notes.append(f"import (save) {row.ready - started:.1f} s")
    if record is not None:
        row.notes.append(f"{record.n_users:,} users, {record.n_items:,} items, {record.n_events:,} events")
    return record


def item_table_row(bench: Bench) -> None:
    """Sort the item table by title and filter it, as an analyst looking for an item would."""
    from PySide6.QtCore import Qt

    page = bench.window.pages["data"]
    row = bench.begin("dataset: item sort + filter")
    row.ready = time.perf_counter()
    page.item_table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    bench.settle()
    page.item_filter.setText("blue")
    bench.wait(lambda: "of" in page.item_count.text(), 10, "the filter")
    row.shown = bench.settle()
    row.notes.append(page.item_count.text())
    page.item_filter.clear()
    page.apply_filter()
    page.item_table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    bench.settle()


def knowledge_row(bench: Bench, mode: str, timeout: float) -> None:
    page = bench.window.pages["knowledge"]
    row = bench.begin("knowledge map")
    bench.window.show_page("knowledge")
    bench.settle()
    runs = len(bench.ready.get("knowledge", []))
    started = time.perf_counter()
    page.map_button.click()
    runner, deadline = bench.window.context.runner, time.perf_counter() + timeout
    bench.wait(lambda: len(bench.ready["knowledge"]) > runs or not runner.busy or time.perf_counter() > deadline,
               timeout + 60)
    if len(bench.ready["knowledge"]) <= runs and runner.busy:
        row.notes.append(f"encoding stopped after {timeout:.0f} s (--encode-timeout): {page.status.text()[:60]}; "
                         "the map below is of random vectors")
        runner.cancel()
        bench.wait(lambda: not runner.busy, 120, "the encoder to stop")
        from recstudio.gui import tasks

        tasks.knowledge_map_task = random_map_task
        bench.stamp_when_done(tasks, "knowledge_map_task", "knowledge")
        runs, started = len(bench.ready["knowledge"]), time.perf_counter()
        page.map_button.click()
        bench.wait(lambda: len(bench.ready["knowledge"]) > runs or not runner.busy, 600)
    if len(bench.ready["knowledge"]) > runs:
        row.ready = bench.ready["knowledge"][runs]
        bench.wait(lambda: page.map is not None and not getattr(page, "drawing", False), 60, "the map")
        row.shown = bench.settle()
        row.notes.append(f"encoding + layout {row.ready - started:.1f} s ({mode})")
        row.notes.append(page.status.text()[:90])
    else:
        row.notes.append(page.status.text()[:120])


def random_map_task(workspace_path: str, dataset_id: int, encoder: str, template: str, cancelled):
    """The Knowledge page's job with random vectors in place of the encoder's (--knowledge random)."""
    from recstudio.knowledge import render_item_texts
    from recstudio.knowledge.maps import item_map
    from recstudio.workspace import Workspace

    with Workspace(workspace_path) as workspace:
        items = workspace.load_items(dataset_id)
    texts = render_item_texts(items, template)
    vectors = np.random.default_rng(0).normal(size=(len(items), 384)).astype(np.float32)
    fake = type("Embeddings", (), {"vectors": vectors, "texts": texts, "encoder": {"name": "random vectors"}})
    return item_map(fake, items)
    yield  # a generator job, as the real one is


def training_row(bench: Bench, steps: int, device: str) -> int | None:
    window = bench.window
    page = window.pages["train"]
    runner = window.context.runner
    row = bench.begin("training page")
    row.ready = time.perf_counter()
    window.show_page("train")
    bench.wait(lambda: page.device_combo.count() > 0, 60, "the device list")
    row.shown = bench.settle()

    row = bench.begin(f"training: {steps} steps")
    page.select_model("sasrec")
    bench.settle()
    loss = page.model_form.editors.get("loss")
    if loss is not None:
        loss.setCurrentIndex(loss.findData("sampled"))
    page.max_steps_spin.setValue(steps)
    index = page.device_combo.findData(device)
    if index >= 0:
        page.device_combo.setCurrentIndex(index)
    outcome: dict = {}
    yielded: dict[int, float] = {}  # id(batch) -> when the worker yielded it
    lags: list[float] = []
    steps_seen = [0]

    def on_progress(batch) -> None:  # connected after the views: they have drawn it by now
        began = yielded.pop(id(batch), None)
        if began is not None:
            lags.append(time.perf_counter() - began)
        for event in batch.events:
            if isinstance(getattr(event, "step", None), int):
                steps_seen[0] = max(steps_seen[0], event.step)

    from recstudio.gui import tasks

    original = tasks.train_task

    def stamped_train(request, cancelled):
        gen = original(request, cancelled)
        while True:
            try:
                batch = next(gen)
            except StopIteration as stop:
                return stop.value
            yielded[id(batch)] = time.perf_counter()
            yield batch

    tasks.train_task = stamped_train
    runner.progress.connect(on_progress)
    runner.result.connect(lambda _name, value: outcome.setdefault("result", value))
    runner.error.connect(lambda _name, exc: outcome.setdefault("error", exc))
    started = time.perf_counter()
    page.start_button.click()
    bench.wait(lambda: outcome and not runner.busy, 3600, "training")
    tasks.train_task = original
    runner.progress.disconnect(on_progress)
    row.ready, row.shown = 0.0, (max(lags) if lags else None)  # each batch of steps: yielded → drawn
    result = outcome.get("result")
    if result is not None:
        row.notes.append(f"run #{result.run_id} {result.status}: {steps_seen[0]} steps in "
                         f"{time.perf_counter() - started:.0f} s, {result.samples_per_s:,.0f} samples/s; "
                         f"shown = slowest progress batch, yielded → drawn")
        return result.run_id
    row.notes.append(f"training failed: {outcome.get('error')!r}")
    return None


def runs_row(bench: Bench, run_id: int | None) -> None:
    page = bench.window.pages["runs"]
    row = bench.begin("runs page")
    row.ready = time.perf_counter()
    bench.window.show_page("runs")
    bench.wait(lambda: page.model.rowCount() > 0, 30, "the runs table")
    if run_id is not None:
        page.select_runs([run_id])
    row.shown = bench.settle()
    row.notes.append(page.count_label.text())


def inspector_rows(bench: Bench) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = bench.window
    page = window.pages["inspect"]
    shown_users, explained = [0], [0]
    page.user_shown.connect(lambda _user: shown_users.__setitem__(0, shown_users[0] + 1))
    page.explainer.explained.connect(lambda: explained.__setitem__(0, explained[0] + 1))

    def user_row(name: str, act, explain: bool = True) -> None:
        row = bench.begin(name)
        n_inspect, n_users = len(bench.ready.get("inspect", [])), shown_users[0]
        act()
        row.ready = bench.next_ready("inspect", n_inspect, 120)
        bench.wait(lambda: shown_users[0] > n_users, 60, "the list")
        row.shown = bench.settle()
        if page.recommendation is not None:
            row.notes.append(f"user {page.recommendation.user}: {page.history_model.rowCount()} events, "
                             f"top {len(page.recommendation.items)}")
        if explain:
            explanation_row()

    def explanation_row() -> None:
        row = bench.begin("inspector: explanation")
        listed = time.perf_counter()
        n_explain, n_explained = len(bench.ready.get("explain", [])), explained[0]
        row.ready = bench.next_ready("explain", n_explain, 300)
        bench.wait(lambda: explained[0] > n_explained, 60, "the explanation")
        row.shown = bench.settle()
        if row.ready is not None:
            row.notes.append(f"worked out {max(0.0, row.ready - listed):.1f} s after the list was shown")

    row = bench.begin("inspector: open run")
    loads, n_inspect, n_users = len(bench.ready.get("load", [])), len(bench.ready.get("inspect", [])), shown_users[0]
    window.show_page("inspect")
    row.ready = bench.next_ready("load", loads, 300)
    bench.wait(lambda: page.user_model.rowCount() > 0, 60, "the user list")
    row.shown = bench.settle()
    row.notes.append(page.user_count.text())
    # the first user is shown (and explained) on its own once the run is loaded: wait for both
    bench.next_ready("inspect", n_inspect, 120)
    bench.wait(lambda: shown_users[0] > n_users, 60, "the first user")
    bench.wait(lambda: page.explained is not None, 300, "the first explanation")
    bench.pump(0.3)

    # a user with a long history, found by typing part of their id
    model = page.user_model
    busiest = str(model._ids[int(np.argmax(model._events))]) if model.total else ""
    row = bench.begin("inspector: user search")
    row.ready = time.perf_counter()
    page.user_search.setFocus()
    QTest.keyClicks(page.user_search, busiest)
    bench.wait(lambda: model._search == busiest.lower(), 10, "the search")
    row.shown = bench.settle()
    row.notes.append(f"typed {busiest!r}: {page.user_count.text()}")

    user_row("inspector: history + top-K", lambda: page.select_user(busiest))
    history = page.history_model

    def untick_newest() -> None:  # the newest event the list reads (as evaluated: before the held-out one)
        row = next(r for r in range(history.rowCount()) if history.is_checked(r))
        history.setData(history.index(row, 0), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)

    user_row("inspector: what-if (untick newest)", untick_newest)


# -- the run ----------------------------------------------------------------------------------------
def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.show:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    events, items, generated = data_files(args)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    folder = Path(tempfile.mkdtemp(prefix="recstudio-bench-"))
    workspace = folder / "workspace.sqlite"
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    embeddings = CACHE / "embeddings"  # encoded texts outlive the throwaway workspace
    embeddings.mkdir(parents=True, exist_ok=True)
    files = folder / "workspace-files"
    files.mkdir()
    (files / "embeddings").symlink_to(embeddings, target_is_directory=True)

    from recstudio.gui import app as gui_app, tasks
    from recstudio.gui.views.inspector import presenter

    started = time.perf_counter()
    warmer = gui_app.warm_up_in_background()  # as `recstudio gui` does: before the window is built
    window = gui_app.create_window(str(workspace), settings)
    window.show()
    bench = Bench(app, window, args)
    if files != window.context.workspace.files_dir:
        print(f"the workspace keeps its files in {window.context.workspace.files_dir}, not {files}", file=sys.stderr)
    row = bench.begin("launch (window + warm-up)")
    row.ready = started
    row.shown = bench.settle()
    bench.wait(lambda: not warmer.busy, 300, "the warm-up")
    row.notes.append(f"warm-up {time.perf_counter() - started:.1f} s")

    bench.stamp_when_done(tasks, "import_task", "check")
    bench.stamp_when_done(tasks, "save_task", "save")
    if args.knowledge == "random":
        tasks.knowledge_map_task = random_map_task
    bench.stamp_when_done(tasks, "knowledge_map_task", "knowledge")
    bench.stamp_when_done(presenter, "load_run", "load")
    bench.stamp_when_done(presenter, "inspect_job", "inspect")
    bench.stamp_when_done(presenter, "explain_job", "explain")

    record = import_through_dialog(bench, events, items)
    if record is None:
        bench.end()
        print("the import did not finish; see the notes", file=sys.stderr)
    else:
        item_table_row(bench)
        if args.knowledge != "skip":
            knowledge_row(bench, args.knowledge, args.encode_timeout)
        run_id = training_row(bench, args.steps, args.device)
        runs_row(bench, run_id)
        if run_id is not None:
            inspector_rows(bench)
        bench.end()
    bench.ticker.timer.stop()
    report(bench, args, events, generated, record)
    window.context.runner.stop_and_wait()
    window.close()
    return 0


def report(bench: Bench, args, events: str, generated: str, record) -> None:
    import torch

    size = (f"{record.n_events:,} events, {record.n_users:,} users, {record.n_items:,} items" if record
            else f"{args.events:,} events requested")
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"command": common.command_line(), "machine": common.machine_line(),
                          "data": {"file": events, "size": size, "files": generated},
                          "load_average": [round(x, 2) for x in load],
                          "targets": {"shown_s": TARGET_SHOWN_S, "max_stall_ms": TARGET_STALL_MS,
                                      "peak_rss_mb": TARGET_PEAK_MB},
                          "rows": [r.as_dict() for r in bench.rows]}, indent=2))
        return
    print(f"{common.command_line()}")
    print(common.machine_line(f"{torch.get_num_threads()} threads, {os.cpu_count()} cores, "
                              f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"))
    print(f"data: {Path(events).parent} ({size}; files {generated})")
    print(f"targets: shown ≤ {TARGET_SHOWN_S:g} s after the data is ready, stall ≤ {TARGET_STALL_MS:g} ms, "
          f"peak ≤ {TARGET_PEAK_MB / 1024:g} GB\n")
    print(f"  {'page':<36} {'shown s':>8} {'stall ms':>9} {'peak MB':>8}  {'shown':<6} {'stall':<6} {'memory':<6}")
    word = {True: "met", False: "MISSED", None: "—"}
    for r in bench.rows:
        met = r.met()
        shown = "—" if r.shown_s is None else f"{r.shown_s:.2f}"
        print(f"  {r.name:<36} {shown:>8} {r.stall_ms:>9.0f} {r.peak:>8,.0f}  {word[met['shown']]:<6} "
              f"{word[met['stall']]:<6} {word[met['memory']]:<6}")
        for note in r.notes:
            print(f"  {'':<38}{note}")
    for r in bench.rows:
        if r.stalls:
            print(f"\n  where the GUI thread was in {r.name}'s stalls (> {TARGET_STALL_MS:g} ms):")
            for stall in r.stalls[:4]:
                for thread, where in stall.items():
                    if thread != "benchmark-watchdog" and "threading.py" not in where.split(" < ")[0]:
                        print(f"    {thread}: {where}")
                print("    -")
        if r.profile:
            print(f"\n  {r.name}: the GUI thread by cumulative time")
            print("\n".join("  " + line for line in r.profile.splitlines()))


if __name__ == "__main__":
    sys.exit(main())
