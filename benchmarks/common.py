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


def named_files(name: str) -> tuple[str, str] | None:
    """(log, catalogue) of ml-100k (also spelled ml100k) or the bundled sample; None for another name."""
    if name in ("ml-100k", "ml100k"):
        return dataset_files()
    if name == "sample":
        from recstudio.data import sample_paths

        return tuple(str(p) for p in sample_paths())
    return None


def key_values(pairs: list[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` options as a dict, read as ``recstudio train --set`` reads them."""
    from recstudio.cli import parse_settings
    from recstudio.errors import RecStudioError

    try:
        return parse_settings(pairs)
    except RecStudioError as error:
        raise SystemExit(str(error)) from None


def training_values(pairs: list[str]) -> dict:
    """``--train KEY=VALUE`` options as ``TrainConfig`` fields, each value read as its field's type."""
    from dataclasses import fields

    from recstudio.training import TrainConfig

    types = {f.name: int if f.default is None else type(f.default) for f in fields(TrainConfig)}  # max_steps: int
    values = key_values(pairs)
    unknown = set(values) - set(types)
    if unknown:
        raise SystemExit(f"Unknown training setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(types))}.")
    return {k: (v.lower() in ("1", "true", "yes") if types[k] is bool else types[k](v)) for k, v in values.items()}


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


def print_header() -> None:
    """A blank line, then the command and the machine lines that head a benchmark's figures."""
    print()
    print(command_line())
    print(machine_line())


def machine_line(threads: str | None = None) -> str:
    """``machine: CPU, torch version, threads, cuda=...``; ``threads`` says how many threads did the work
    when that is not torch's default."""
    import torch

    threads = threads or f"{torch.get_num_threads()} threads"
    return (f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, {threads}, "
            f"cuda={torch.cuda.is_available()}")


# --- What the peer benchmarks share (peer_rectools.py, peer_replay.py): a peer in a virtual environment of
# its own, the event log it is handed, its driver run there, our SASRec trained beside it, and the table.

PEER_ARCH = {"hidden": 64, "layers": 2, "heads": 2, "max_len": 50}  # both sides, whatever a recipe says
SAMPLE = ROOT / "resources" / "sample" / "purchases.csv.gz"
PEER_CACHE = Path.home() / ".cache" / "recstudio-bench"
TOP = ("HR@10", "NDCG@10", "MRR@10")


def peer_python(venv: str | Path, steps: list[list[str]], probe: str, label: str) -> Path:
    """The Python of a peer's virtual environment, made on first use: each of ``steps`` is one
    ``pip install`` (torch first, pinned, so pip takes this machine's CPU build and the peer's own
    requirement finds it there); ``probe`` is code that must import the peer once it is in."""
    import subprocess

    python = Path(venv) / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0:
        return python
    progress(f"installing {label} into {venv} (once; a few minutes)…")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for packages in steps:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    subprocess.run([str(python), "-c", probe], check=True)
    return python


def peer_data(name: str) -> Path:
    """The behaviour log a ``--dataset`` name stands for: ml-100k (../shared) or the bundled sample."""
    if name == "ml-100k":
        return ML100K / "interactions.csv"
    if name == "sample":
        return SAMPLE
    raise SystemExit(f"Unknown dataset {name!r}: ml-100k or sample.")


def imported(log: str | Path, folder: Path):
    """``log`` imported by RecStudio (into a workspace in ``folder``) and its leave-one-out split."""
    from recstudio.data import make_split
    from recstudio.workspace import Workspace
    from recstudio.runs import ImportRequest, import_or_reuse

    with Workspace(str(folder / "peer.sqlite")) as ws:
        dataset = ws.load_dataset(import_or_reuse(ws, ImportRequest(str(log)))[0].id)
    split = make_split(dataset, "leave-one-out")
    return dataset, split


def write_events(dataset, path: Path) -> None:
    """Every imported event as ``user,item,position`` in RecStudio's order (position counts from 0 within a
    user), so a peer that sorts by time and splits off the last events holds out what ours does."""
    import numpy as np

    starts = dataset.indptr[:-1]
    counts = np.diff(dataset.indptr)
    order = np.arange(int(dataset.indptr[-1])) - np.repeat(starts, counts)
    frame = dataset.interactions
    users = dataset.user_ids[frame["user"].to_numpy()]
    items = dataset.item_ids[frame["item"].to_numpy()]
    with open(path, "w") as out:
        out.write("user,item,position\n")
        out.writelines(f"{u},{i},{p}\n" for u, i, p in zip(users.tolist(), items.tolist(), order.tolist()))


def held_out(dataset, cases) -> dict[str, str]:
    """Each evaluated user's held-out item, by the ids in the file: what a peer's split must match."""
    return {str(dataset.user_ids[u]): str(dataset.item_ids[i])
            for u, i in zip(cases.users.tolist(), cases.targets.tolist())}


def run_driver(python: Path, source: str, args: dict, folder: Path, label: str, env: dict | None = None) -> dict:
    """Run a peer's driver (``source``) in its environment with ``args`` as JSON; its stdout lines are
    progress, its stderr goes to ``folder/LABEL.log``, and it writes its result to ``args["out"]``."""
    import json
    import os
    import subprocess

    driver = folder / f"{label}_driver.py"
    driver.write_text(source)
    log = folder / f"{label}.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([str(python), str(driver), json.dumps(args)], cwd=folder, stdout=subprocess.PIPE,
                                stderr=err, text=True, env={**os.environ, **(env or {})})
        for line in proc.stdout:  # the driver's own progress lines
            sys.stderr.write(line)
            sys.stderr.flush()
        code = proc.wait()
    if code:
        sys.stderr.write(log.read_text()[-4000:] + "\n")
        raise SystemExit(f"{label} failed (exit {code}); the end of its log is above.")
    return json.loads(Path(args["out"]).read_text())


def train_beside_peer(dataset, split, device: str = "cpu", seed: int | None = None) -> dict:
    """Our SASRec at its own defaults (``PEER_ARCH``, full softmax), early stopping on its own validation
    (seen items left out). Each validation is also scored with seen items ranked; that extra scoring is
    taken off our clock. The best epoch is then tested both ways."""
    from recstudio.training import Validated, drive, fit
    from recstudio.models import create_model, model_config
    from recstudio.runs import check_train_config
    from recstudio.training.fit import seed_everything
    from recstudio.evaluation.evaluate import evaluate

    config = check_train_config({"seed": 42 if seed is None else seed}, model="sasrec")  # sasrec's own defaults
    seed_everything(config.seed)
    model = create_model("sasrec", dataset.n_items, model_config("sasrec", dict(PEER_ARCH)))
    popularity = split.train_popularity()

    def measured(cases, exclude_seen: bool) -> dict:
        return evaluate(model, cases, popularity=popularity, n_users=split.n_users, ks=(10,),
                        exclude_seen=exclude_seen, batch_size=config.eval_batch_size, device=device).metrics

    curve, aside = [], 0.0

    def on_event(event) -> None:
        nonlocal aside
        if not isinstance(event, Validated):
            return
        t0 = time.perf_counter()
        ranked = measured(split.valid, exclude_seen=False)["NDCG@10"]
        curve.append({"epoch": event.epoch, "seconds": event.elapsed - aside,
                      "excluded": event.metrics["NDCG@10"], "ranked": ranked})
        aside += time.perf_counter() - t0
        progress(f"ours epoch {event.epoch} ({curve[-1]['seconds']:.0f} s): valid NDCG@10 "
                 f"{event.metrics['NDCG@10']:.4f} seen left out, {ranked:.4f} seen ranked"
                 + (" *" if event.improved else ""))

    result = drive(fit(model, split, config, device=device), on_event)
    model.eval()  # fit left the best epoch's weights in place
    seconds = result.seconds - aside
    return {"epochs": result.epochs, "best_epoch": result.best_epoch, "seconds": seconds,
            "s_per_epoch": seconds / max(result.epochs, 1), "samples_per_s": result.samples_per_s,
            "validations": curve,
            "test": {"ranked": {k: measured(split.test, False)[k] for k in TOP},
                     "excluded": {k: measured(split.test, True)[k] for k in TOP}}}


def first_reaching(curve: list[dict], key: str, score: float) -> dict | None:
    """The first validation in ``curve`` whose ``key`` score is at least ``score``."""
    return next((v for v in curve if v[key] >= score - 1e-12), None)


def split_mismatch(ours: dict[str, str], theirs: dict[str, str]) -> int:
    """How many of our evaluated users the peer held out a different item for (or none)."""
    return sum(theirs.get(user) != item for user, item in ours.items())


def same_split(dataset, split, theirs: dict) -> bool:
    """Whether the peer's driver held out, for every user we evaluate and no other, the same validation
    and test item as ours (its ``valid_items`` and ``test_items``); says which part differs if not."""
    for part, cases in (("valid", split.valid), ("test", split.test)):
        differ = split_mismatch(held_out(dataset, cases), theirs[f"{part}_items"])
        if differ or len(theirs[f"{part}_items"]) != len(cases.users):
            print(f"The {part} items differ for {differ} of {len(cases.users)} users "
                  f"(the peer evaluates {len(theirs[part + '_items'])}); no comparison.", file=sys.stderr)
            return False
    progress(f"same split: all {len(split.test.users):,} evaluated users have the same validation and test "
             "item on both sides")
    return True


def peer_report(peer: str, key: str, ours: dict, theirs: dict, select: str = "excluded") -> dict:
    """Print the side-by-side table of a finished comparison and return its JSON figures.

    ``theirs`` is what a peer driver wrote: ``validations`` (epoch, seconds from the start of its fit,
    ``excluded`` and ``ranked`` NDCG@10), ``seconds``, ``train_sequences`` (per epoch) and ``test`` with
    ``ranked`` and ``excluded`` HR/NDCG/MRR@10. The peer's best epoch is the one with the best
    validation NDCG@10 on the ``select`` protocol; the speed-up is its time to that epoch over ours to
    reach the same score on the same protocol. The JSON names the peer's side ``key``."""
    best = max(theirs["validations"], key=lambda v: v[select])
    mine = first_reaching(ours["validations"], select, best[select])
    speedup = best["seconds"] / mine["seconds"] if mine and mine["seconds"] > 0 else None
    epochs = len(theirs["validations"])
    their_s_epoch = theirs["seconds"] / max(epochs, 1)
    their_rate = theirs["train_sequences"] * epochs / theirs["seconds"]
    own_best = next(v for v in ours["validations"] if v["epoch"] == ours["best_epoch"])
    protocol = {"excluded": "seen items left out", "ranked": "seen items ranked"}[select]
    print(f"{'':<44} {'RecStudio':>12} {peer:>14} {'ratio':>8}")

    def line(label, a, b, fmt="{:.4f}", ratio="higher"):
        shown = [fmt.format(x) if x is not None else "—" for x in (a, b)]
        q = ""
        if a and b and ratio == "higher":
            q = f"{a / b:.2f}x"
        elif a and b and ratio == "time":  # RecStudio is Nx faster: their time over ours
            q = f"{b / a:.1f}x"
        print(f"{label:<44} {shown[0]:>12} {shown[1]:>14} {q:>8}")

    line("epochs run (best)", f"{ours['epochs']} ({ours['best_epoch']})", f"{epochs} ({best['epoch']})", "{}", None)
    line("seconds per epoch (ratio: faster)", ours["s_per_epoch"], their_s_epoch, "{:.2f}", "time")
    line("training sequences / s", ours["samples_per_s"], their_rate, "{:,.0f}", None)
    line("seconds to own best validation", own_best["seconds"], best["seconds"], "{:.0f}", None)
    line(f"seconds to {peer}'s best valid NDCG@10", mine["seconds"] if mine else None, best["seconds"], "{:.0f}",
         "time")
    for protocol_key, name in (("excluded", "seen left out"), ("ranked", "seen ranked")):
        line(f"best-epoch valid NDCG@10 ({name})", own_best[protocol_key], best[protocol_key])
    for protocol_key, name in (("ranked", "seen ranked"), ("excluded", "seen left out")):
        for metric in TOP:
            line(f"test {metric} ({name})", ours["test"][protocol_key][metric], theirs["test"][protocol_key][metric])
    if mine:
        print(f"RecStudio reached {peer}'s best validation NDCG@10 ({best[select]:.4f}, {protocol}) after "
              f"{mine['seconds']:.0f} s (epoch {mine['epoch']}); {peer} needed {best['seconds']:.0f} s "
              f"(epoch {best['epoch']}): {speedup:.1f}x sooner.")
    else:
        print(f"RecStudio never reached {peer}'s best validation NDCG@10 ({best[select]:.4f}, {protocol}).")
    return {"speedup": speedup,
            "ours": {**ours["test"]["ranked"], "s_per_epoch": ours["s_per_epoch"],
                     "samples_per_s": ours["samples_per_s"], "epochs": ours["epochs"],
                     "best_epoch": ours["best_epoch"], "seconds_to_peer_best": mine["seconds"] if mine else None},
            key: {**theirs["test"]["ranked"], "s_per_epoch": their_s_epoch, "sequences_per_s": their_rate,
                     "epochs": epochs, "best_epoch": best["epoch"], "seconds_to_best": best["seconds"],
                     "best_valid_NDCG@10": best[select]},
            "seen_excluded": {"ours": ours["test"]["excluded"], key: theirs["test"]["excluded"]}}


def tie_order(dataset) -> str:
    """How a split here orders a user's events that share a time, and how often that decides a test
    question (the import report's same_time_share), for the benchmarks' data lines."""
    share = float(getattr(getattr(dataset, "report", None), "same_time_share", 0.0) or 0.0)
    return (f"events sharing a time in file order; for {share:.0%} of users the last two share one"
            if share else "no user's last two events share a time")


# Source put in front of each peer's driver (it runs in the peer's venv, so it can import only numpy, torch
# and the standard library): the metrics both protocols are read with, and the validation curve.
DRIVER_HELPERS = r'''
import copy, json, math, sys, time
import numpy as np
import torch


def sums_at_10(scores, want, seen):
    """[2, 3] sums over a batch of HR, NDCG and MRR@10: row 0 ranks every item, row 1 leaves out the
    ``seen`` ones (a [B, n] bool mask; a seen target too, a miss, as RecStudio's protocol has it).
    ``scores`` [B, n] holds -inf where nothing is to be ranked. Ties are pessimistic, as RecStudio counts
    them: every other item scored the same as the target ranks above it (so a -inf target is a miss)."""
    out = np.zeros((2, 3))
    for row, s in enumerate((scores, scores.masked_fill(seen, -math.inf))):
        target = s.gather(1, want[:, None])
        above = ((s > target).sum(1) + (s == target).sum(1) - 1).double()
        hit = (above < 10).double()
        out[row] = [float(hit.sum()), float((hit / torch.log2(above + 2)).sum()), float((hit / (above + 1)).sum())]
    return out


def figures(sums, n):
    """{"ranked": {...}, "excluded": {...}} from summed HR/NDCG/MRR@10 over n cases."""
    return {name: dict(zip(("HR@10", "NDCG@10", "MRR@10"), (s / max(n, 1)).tolist()))
            for name, s in zip(("ranked", "excluded"), sums)}


class Curve:
    """Validation NDCG@10 after each epoch on both protocols (over all ``n_valid`` cases: any the peer
    drops count as misses), seconds since ``start``, and the weights of the best epoch by ``select``."""

    def __init__(self, select, n_valid, label):
        self.select, self.n_valid, self.label = select, n_valid, label
        self.points, self.best_state, self.start, self.sums = [], None, time.perf_counter(), None

    def epoch_start(self):
        self.sums = np.zeros((2, 3))

    def add(self, scores, want, seen):
        self.sums += sums_at_10(scores.detach().float(), want.long(), seen)

    def epoch_end(self, epoch, weights):
        ranked, excluded = (self.sums[:, 1] / max(self.n_valid, 1)).tolist()
        point = {"epoch": epoch, "seconds": time.perf_counter() - self.start, "ranked": ranked, "excluded": excluded}
        improved = not self.points or point[self.select] > max(p[self.select] for p in self.points)
        self.points.append(point)
        if improved:
            self.best_state = copy.deepcopy(weights.state_dict())
        print(f"  {self.label} epoch {epoch} ({point['seconds']:.0f} s): valid NDCG@10 {excluded:.4f} seen left "
              f"out, {ranked:.4f} seen ranked{' *' if improved else ''}", flush=True)
        return point[self.select]


def make_watch(base, curve, read, metric, weights=lambda module: module):
    """A Lightning callback (``base``: the peer's Callback class) that feeds ``curve`` with each validation
    batch through ``read(curve, module, outputs, batch)`` and logs the selected score as ``metric`` (what
    early stopping watches). It holds ``curve`` in a closure, so a deep copy of the trainer (RecTools fits
    one) still fills the same curve."""

    class Watch(base):
        def on_validation_epoch_start(self, trainer, module):
            curve.epoch_start()

        def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
            read(curve, module, outputs, batch)

        def on_validation_epoch_end(self, trainer, module):
            module.log(metric, curve.epoch_end(trainer.current_epoch + 1, weights(module)))

    return Watch()
'''


def peer_arguments(doc: str, peer: str, venv: Path, epochs: int, quick_epochs: int, argv=None):
    """The command line every peer benchmark takes."""
    import argparse

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"bound {peer} to {quick_epochs} epochs (ours trains as usual)")
    p.add_argument("--peer-epochs", type=int, help=f"{peer}'s epoch limit (default {epochs}; {quick_epochs} with --quick)")
    p.add_argument("--dataset", choices=("ml-100k", "sample"), default="ml-100k",
                   help="ml-100k (../shared/datasets) or the bundled sample purchases log (resources/sample)")
    p.add_argument("--venv", default=str(venv), help=f"{peer}'s virtual environment (made on first use)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--device", default="cpu", help="cpu or cuda, for both sides")
    args = p.parse_args(argv)
    if args.peer_epochs is not None and args.peer_epochs < 1:
        p.error("--peer-epochs takes a positive number")
    args.epochs = args.peer_epochs or (quick_epochs if args.quick else epochs)
    return args


def peer_comparison(args, peer: str, key: str, driver: str, install: list[list[str]], probe: str,
                    settings: dict) -> int:
    """The whole comparison: import, hand the peer the events, run its driver with ``settings`` (besides
    the shared ones), check the split, train ours, print the table and (with --json) the JSON line."""
    import json
    import tempfile

    log = peer_data(args.dataset)
    if not log.exists():
        print(f"No {log}.", file=sys.stderr)
        return 2
    python = peer_python(args.venv, install, probe, peer)
    with tempfile.TemporaryDirectory(prefix=f"peer-{key}-") as tmp:
        tmp = Path(tmp)
        dataset, split = imported(log, tmp)
        write_events(dataset, tmp / "events.csv")
        progress(f"{peer}: SASRec, up to {args.epochs} epochs…")
        theirs = run_driver(python, driver, {
            "events": str(tmp / "events.csv"), "out": str(tmp / "result.json"), "seed": 42, "min_events": 3,
            "arch": PEER_ARCH, "epochs": args.epochs, "select": "excluded", "device": args.device, **settings},
            tmp, key)
        if not same_split(dataset, split, theirs):
            return 1
        progress("RecStudio: SASRec with its defaults…")
        ours = train_beside_peer(dataset, split, args.device)
    print()
    print(command_line() + (f"   (--quick: {peer} bounded to {args.epochs} epochs)" if args.quick else ""))
    print(machine_line() + f", device {args.device}")
    print(f"data: {args.dataset}, {dataset.n_users:,} users, {dataset.n_items:,} items, {len(split.test.users):,} "
          f"evaluated; leave-one-out by time ({tie_order(dataset)}), identical validation and test items; "
          "every item ranked; "
          f"{theirs['cold_test_items']} test / {theirs['cold_valid_items']} validation items {peer} cannot score "
          "(new to its training: misses)")
    print(f"a training sequence: up to {PEER_ARCH['max_len']} events with a target at each; ours covers every "
          f"event once an epoch (overlapping windows), {peer} one sequence per user (its latest events)")
    figures = peer_report(peer, key, ours, theirs)
    if args.json:
        print(json.dumps({**figures, "dataset": args.dataset, "quick": args.quick}))
    return 0
