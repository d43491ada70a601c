"""Ten million events on a laptop: import speed and memory, reopen time, and sampled-softmax training.

Run:  python benchmarks/large_data.py [--events 10000000] [--dir DIR] [--steps 200]

Makes the synthetic log once (benchmarks/make_synthetic.py), then runs each phase in a fresh Python
process, so that each peak memory (VmHWM, the most resident memory the process ever had) is its own:

- bare:   ``pyarrow.csv.read_csv`` of the file (multi-threaded, types inferred), for comparison
- import: what ``recstudio import`` does: fingerprint the file, read, guess roles, parse times, code
          ids, clean, sort, write Parquet beside the SQLite metadata
- reopen: open the workspace and load the imported dataset (and its per-user row pointer)
- train:  SASRec with the sampled softmax (1,024 negatives) on the leave-one-out split: seconds per
          1,000 steps, samples/s, and the epoch that makes (a full epoch is estimated from the pace)

Prints a table, the load average while it ran, and the exact command. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/large_data.py
    import common

MB = 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "recstudio-large"),
                        help="folder for the generated log and the workspace (reused across runs)")
    parser.add_argument("--phases", default="bare,import,reopen,train")
    parser.add_argument("--steps", type=int, default=200, help="training steps timed (after 20 warm-up steps)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--negatives", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=1, help="runs of bare, import and reopen; the best is shown")
    parser.add_argument("--phase", help=argparse.SUPPRESS)  # internal: run one phase in this process
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    folder = Path(args.dir)
    events_path = folder / f"events-{args.events}" / "events.csv"
    if args.phase:
        print(json.dumps(PHASES[args.phase](args, events_path, folder)), flush=True)
        return

    if not events_path.exists():
        began = time.perf_counter()
        subprocess.run([sys.executable, str(Path(common.__file__).with_name("make_synthetic.py")), "--events",
                        str(args.events), "--out", str(events_path.parent)], check=True)
        print(f"generated in {time.perf_counter() - began:.1f} s", flush=True)
    figures: dict[str, dict] = {}
    loads = [os.getloadavg()[0]]
    for phase in args.phases.split(","):
        runs = []
        for _ in range(args.repeat if phase != "train" else 1):
            command = [sys.executable, __file__, "--phase", phase, *sys.argv[1:]]
            out = subprocess.run(command, check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            loads.append(os.getloadavg()[0])
            print(f"  {phase}: {runs[-1]}", file=sys.stderr, flush=True)
        figures[phase] = min(runs, key=lambda r: r["seconds"])
    _report(args, events_path, figures, loads)


# -- phases: each runs in its own process and returns plain figures ----------------------------


def _bare(args, events_path: Path, folder: Path) -> dict:
    import pyarrow.csv as pacsv

    with _Clock() as clock:
        table = pacsv.read_csv(events_path)
    return clock.figures(rows=table.num_rows)


def _import(args, events_path: Path, folder: Path) -> dict:
    from recstudio.data import ImportOptions, file_fingerprint, import_interactions
    from recstudio.runs import ImportRequest, options_key
    from recstudio.workspace import Workspace

    workspace_path = folder / f"workspace-{args.events}.sqlite"
    for stale in (workspace_path, workspace_path.with_name(workspace_path.stem + "-files")):
        subprocess.run(["rm", "-rf", str(stale)], check=True)
    parts = {}
    with Workspace(workspace_path) as workspace, _Clock() as clock:
        # the steps of runs.import_or_reuse, timed one by one
        began = time.perf_counter()
        fingerprint = file_fingerprint(events_path)
        parts["fingerprint_s"] = time.perf_counter() - began
        began = time.perf_counter()
        dataset = import_interactions(events_path, options=ImportOptions())
        parts["read_parse_code_clean_sort_s"] = time.perf_counter() - began
        began = time.perf_counter()
        workspace.save_dataset(dataset, fingerprint=fingerprint, options_key=options_key(ImportRequest(str(events_path)), None),
                               source=str(events_path.resolve()))
        parts["write_parquet_and_sqlite_s"] = time.perf_counter() - began
    report = dataset.report
    return {**clock.figures(rows=report.rows_read), **{k: round(v, 2) for k, v in parts.items()},
            "events": report.events, "users": report.users, "items": report.items, "dropped": report.dropped,
            "timestamp_format": report.timestamp_format}


def _reopen(args, events_path: Path, folder: Path) -> dict:
    from recstudio.workspace import Workspace

    with _Clock() as clock:
        workspace = Workspace(folder / f"workspace-{args.events}.sqlite")
        dataset = workspace.load_dataset(workspace.list_datasets()[-1].id)
        dataset.indptr  # the per-user row pointer every split needs
    return clock.figures(rows=dataset.n_events)


def _train(args, events_path: Path, folder: Path) -> dict:
    import numpy as np
    import torch

    from recstudio.data import make_split
    from recstudio.models import create_model, model_config
    from recstudio.training import Started, Step, TrainConfig, drive, fit
    from recstudio.workspace import Workspace

    warm_up = 20
    with _Clock() as clock:
        workspace = Workspace(folder / f"workspace-{args.events}.sqlite")
        dataset = workspace.load_dataset(workspace.list_datasets()[-1].id)
        split = make_split(dataset, "leave-one-out")
        del dataset
        config = model_config("sasrec", {"loss": "sampled", "negatives": args.negatives})
        model = create_model("sasrec", split.n_items, config)
        steps: list = []
        started = None
        gen = fit(model, split, TrainConfig(batch_size=args.batch_size), device="cpu",
                  cancelled=lambda: len(steps) >= warm_up + args.steps)
        setup = time.perf_counter()

        def note(event) -> None:
            nonlocal started, setup
            if isinstance(event, Started):
                started, setup = event, time.perf_counter() - setup
            elif isinstance(event, Step):
                steps.append(event)

        drive(gen, note)
    timed = steps[warm_up:]
    seconds_per_step = (timed[-1].elapsed - steps[warm_up - 1].elapsed) / len(timed)
    samples = len(timed) * args.batch_size
    return {**clock.figures(rows=samples), "threads": torch.get_num_threads(), "n_items": split.n_items,
            "train_sequences": started.train_sequences, "steps_per_epoch": started.steps_per_epoch,
            "setup_s": round(setup, 1), "s_per_1000_steps": round(1000 * seconds_per_step, 1),
            "samples_per_s": round(args.batch_size / seconds_per_step), "epoch_estimate_s": round(
                started.steps_per_epoch * seconds_per_step), "loss_first": round(float(np.mean([s.loss for s in steps[:10]])), 3),
            "loss_last": round(float(np.mean([s.loss for s in steps[-10:]])), 3), "steps": len(steps)}


PHASES = {"bare": _bare, "import": _import, "reopen": _reopen, "train": _train}


class _Clock:
    """Wall and CPU seconds of a block, and the process's peak resident memory (VmHWM), which a
    thread also samples (VmRSS) in case the kernel's counter is reset."""

    def __enter__(self):
        self.peak_sampled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.cpu = time.process_time()
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while not self._stop.is_set():
            self.peak_sampled = max(self.peak_sampled, _status("VmRSS"))
            self._stop.wait(0.02)

    def figures(self, rows: int) -> dict:
        peak = max(_status("VmHWM"), self.peak_sampled, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        return {"seconds": round(self.wall, 2), "cpu_seconds": round(self.cpu, 2), "rows": rows,
                "rows_per_s": round(rows / self.wall), "peak_rss_MB": round(peak / MB)}


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _report(args, events_path: Path, figures: dict, loads: list[float]) -> None:
    import numpy as np
    import pyarrow as pa
    import torch

    size = events_path.stat().st_size
    print(f"\n{common.command_line()}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"pyarrow {pa.__version__}, numpy {np.__version__}, torch {torch.__version__}; "
          f"load average (1 min) while running: {min(loads):.1f}..{max(loads):.1f}")
    print(f"file: {events_path} ({size / MB:,.0f} MB, {args.events:,} events)")
    if "bare" in figures and "import" in figures:
        bare, imp = figures["bare"], figures["import"]
        print(f"{'phase':<8} {'wall s':>7} {'cpu s':>7} {'rows/s':>11} {'peak RSS MB':>12}")
        for name in ("bare", "import"):
            f = figures[name]
            print(f"{name:<8} {f['seconds']:7.2f} {f['cpu_seconds']:7.2f} {f['rows_per_s']:11,} {f['peak_rss_MB']:12,}")
        print(f"import / bare pyarrow.csv.read_csv: {imp['seconds'] / bare['seconds']:.2f}x the time; import steps "
              f"(s): fingerprint {imp['fingerprint_s']}, read+parse+code+clean+sort {imp['read_parse_code_clean_sort_s']}, "
              f"write Parquet+SQLite {imp['write_parquet_and_sqlite_s']}; {imp['events']:,} events, {imp['users']:,} "
              f"users, {imp['items']:,} items, dropped {imp['dropped']}, times {imp['timestamp_format']}")
    elif "import" in figures:
        print(f"import: {figures['import']}")
    if "reopen" in figures:
        f = figures["reopen"]
        print(f"reopen (open workspace, load dataset, row pointer): {f['seconds']:.2f} s wall, {f['cpu_seconds']:.2f} s cpu, "
              f"peak RSS {f['peak_rss_MB']:,} MB")
    if "train" in figures:
        f = figures["train"]
        print(f"train: SASRec, sampled softmax ({args.negatives} negatives, log-Q), batch {args.batch_size}, CPU "
              f"({f['threads']} threads), {f['n_items']:,} items: {f['s_per_1000_steps']} s per 1,000 steps, "
              f"{f['samples_per_s']:,} samples/s; an epoch is {f['steps_per_epoch']:,} steps "
              f"({f['train_sequences']:,} sequences), about {f['epoch_estimate_s'] / 60:.0f} min at this pace "
              f"(estimated from {f['steps'] - 20} timed steps, not a full epoch); setup (load, split, windows) "
              f"{f['setup_s']} s; loss {f['loss_first']} -> {f['loss_last']}; peak RSS {f['peak_rss_MB']:,} MB")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
