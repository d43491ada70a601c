"""What the benchmarks share: where ml-100k lives, a run trained to its outcome with progress on stderr,
the figures read off it, and the lines that say which command and machine printed a table.

A benchmark imports it either way it is started::

    try:
        from benchmarks import common  # python -m benchmarks.NAME, from the repository root
    except ImportError:
        import common  # python benchmarks/NAME.py: this folder is first on the path
"""

from __future__ import annotations

import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # this checkout's recstudio, installed or not
ML100K = ROOT.parent / "shared" / "datasets" / "ml-100k"


def dataset_files(folder: str | Path = ML100K) -> tuple[str, str]:
    """The behaviour log and the item catalogue of a dataset folder in ml-100k's layout."""
    return str(Path(folder) / "interactions.csv"), str(Path(folder) / "items.csv")


def train(request, label: str | None = None, on_event=None):
    """Run a ``TrainRequest`` to the end and return its ``RunOutcome``.

    With a ``label``, each validation score, each stage's start and end, and the finished run are
    printed to stderr under it (the tables go to stdout); ``on_event`` sees every event first.
    """
    from recstudio.runs import train_run
    from recstudio.training import Stage, Validated, drive

    def show(event) -> None:
        if on_event is not None:
            on_event(event)
        if label is None:
            return
        if isinstance(event, Validated):
            progress(f"{label} epoch {event.epoch} ({event.elapsed:.0f} s): valid NDCG@10 "
                     f"{event.metrics.get('NDCG@10', 0):.4f}{' *' if event.improved else ''}")
        elif isinstance(event, Stage) and event.fraction in (0.0, 1.0) and event.text:
            progress(f"{label}: {event.text}")

    started = time.perf_counter()
    outcome = drive(train_run(request), show)
    if label is not None:
        test = outcome.metrics.get("test", {}).get("NDCG@10")
        progress(f"{label}: run {outcome.run_id}, {outcome.epochs} epochs (best {outcome.best_epoch}) in "
                 f"{time.perf_counter() - started:.0f} s" + (f", test NDCG@10 {test:.4f}" if test is not None else ""))
    return outcome


def figures(outcome) -> dict:
    """What the tables read off a finished run: its id, epochs, time, pace and test metrics."""
    return {"run": outcome.run_id, "epochs": outcome.epochs, "best_epoch": outcome.best_epoch,
            "seconds": outcome.seconds, "s_per_epoch": outcome.seconds / max(outcome.epochs, 1),
            "samples_per_s": outcome.samples_per_s, "test": outcome.metrics.get("test", {})}


def progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def command_line(argv: list[str] | None = None) -> str:
    """``command: python benchmarks/NAME.py ARGS``: the exact command that printed the figures."""
    args = sys.argv[1:] if argv is None else argv
    return f"command: python benchmarks/{Path(sys.argv[0]).name}" + "".join(f" {shlex.quote(a)}" for a in args)


def machine_line(threads: str | None = None) -> str:
    """``machine: CPU, torch version, threads, cuda=...``; ``threads`` says how many threads did the work
    when that is not torch's default."""
    import torch

    threads = threads or f"{torch.get_num_threads()} threads"
    return (f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, {threads}, "
            f"cuda={torch.cuda.is_available()}")
