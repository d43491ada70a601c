"""RecStudio's SASRec beside RecBole 1.2.1's, on the same data, the same split, the same machine.

    python benchmarks/peer_recbole.py            # full runs: both train until early stopping
    python benchmarks/peer_recbole.py --quick    # RecBole bounded to 5 epochs (~140 s each here)
    python benchmarks/peer_recbole.py --json     # ... and a last line of JSON
    python benchmarks/peer_recbole.py --ours-only --seeds 42,7,1 [--set scale_inputs=true] [--train batch_size=32]
                                                 [--target 0.0648]
                                                 # our side alone, over seeds (no RecBole)

RecBole goes into its own virtual environment (created on first use, by default under
~/.cache/recstudio-bench/recbole-venv) with `pip install torch==2.13.0 recbole "numpy<2" "pandas<3"
"setuptools<81"`, and runs there with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (it saves pickled checkpoints).

Same split for both: ml-100k is imported once by RecStudio (duplicates dropped, events ordered by time
with ties in file order), and RecBole is given that exact event order (each event's timestamp is its
position in its user's sequence), so RecBole's leave-one-out by time (`LS: valid_and_test`, order TO)
holds out the same last and second-to-last item per user as ours. The script checks that every user's
test item is identical before it reports anything.

Same architecture: hidden 64, 2 layers, 2 heads, history 50, full-softmax cross-entropy. Each side keeps
its own training defaults (batch size, dropout, learning rate, early stopping with patience 10 on its own
validation NDCG@10: RecBole's ranks seen items, ours leaves them out) and is tested at its best
validation checkpoint.

Same protocol: RecBole's full-sort evaluation of sequential models ranks every item, including the ones
the user already has. After each of our validations the benchmark also scores our model that way (the
time it takes is left out of our clock), so "time to RecBole's best validation score" is read on
RecBole's scale, and both best checkpoints are tested that way. Both best checkpoints are then also
tested on RecStudio's default protocol (each user's history left out of the ranking; RecBole's model
scored by the driver below), so the comparison holds under either. "Seconds to the best validation score" is wall time from the start
of training; the speed-up is RecBole's time to its best validation NDCG@10 divided by ours to reach that
same score. A benchmark, not a test: it prints, it asserts nothing but the identical split.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/peer_recbole.py
    import common

DATA = common.ML100K
DEFAULT_VENV = Path.home() / ".cache" / "recstudio-bench" / "recbole-venv"
RECBOLE_PACKAGES = ["torch==2.13.0", "recbole==1.2.1", "numpy<2", "pandas<3", "setuptools<81"]
ARCH = {"hidden": 64, "layers": 2, "heads": 2, "max_len": 50}

# Runs inside RecBole's venv: train SASRec with callbacks timing each validation, test the best
# checkpoint, and write what happened (and the test item of each user, to check the split) as JSON.
RECBOLE_DRIVER = r'''
import json, sys, time
from logging import getLogger
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.model.sequential_recommender import SASRec
from recbole.trainer import Trainer
from recbole.utils import init_seed, init_logger

args = json.loads(sys.argv[1])
sys.argv = sys.argv[:1]  # RecBole's Config reads the command line too
config = Config(model="SASRec", dataset=args["dataset"], config_dict=args["config"])
init_seed(config["seed"], config["reproducibility"])
init_logger(config)
dataset = create_dataset(config)
train_data, valid_data, test_data = data_preparation(config, dataset)
model = SASRec(config, train_data.dataset).to(config["device"])
trainer = Trainer(config, model)
validations = []
start = time.perf_counter()
def on_validated(epoch, score):
    validations.append({"epoch": epoch + 1, "seconds": time.perf_counter() - start, "NDCG@10": float(score)})
    print(f"  recbole epoch {epoch + 1}: valid NDCG@10 {score:.4f} ({time.perf_counter() - start:.0f} s)",
          flush=True)
best_valid, best_result = trainer.fit(train_data, valid_data, saved=True, show_progress=False,
                                      callback_fn=on_validated)
seconds = time.perf_counter() - start
test = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
# the same best checkpoint on RecStudio's own protocol too: the user's history (every item before the
# test item) is left out of the ranking, as a product would
import torch
model.eval()
cut = {"HR@10": 0.0, "NDCG@10": 0.0, "MRR@10": 0.0}
cases = 0
with torch.no_grad():
    for interaction, _, _, positive_i in test_data:
        interaction = interaction.to(config["device"])
        scores = model.full_sort_predict(interaction).view(-1, dataset.item_num).float()
        scores[:, 0] = float("-inf")
        scores.scatter_(1, interaction[model.ITEM_SEQ].long(), float("-inf"))
        target = positive_i.to(scores.device).long()
        rank = (scores > scores.gather(1, target.unsqueeze(1))).sum(1).float()
        hit = rank < 10
        cut["HR@10"] += float(hit.sum())
        cut["NDCG@10"] += float((hit / torch.log2(rank + 2)).sum())
        cut["MRR@10"] += float((hit / (rank + 1)).sum())
        cases += len(target)
test_seen_excluded = {k: v / max(cases, 1) for k, v in cut.items()}
uid, iid = dataset.uid_field, dataset.iid_field
inter = test_data.dataset.inter_feat
test_items = {str(dataset.id2token(uid, int(u))): str(dataset.id2token(iid, int(i)))
              for u, i in zip(inter[uid].tolist(), inter[iid].tolist())}
json.dump({"validations": validations, "seconds": seconds, "train_samples": len(train_data.dataset),
           "best_valid": float(best_valid), "test": {k: float(v) for k, v in test.items()},
           "test_seen_excluded": test_seen_excluded,
           "test_items": test_items}, open(args["out"], "w"))
'''


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="bound RecBole to 5 epochs (ours trains as usual)")
    p.add_argument("--recbole-epochs", type=int, help="RecBole's epoch limit (default 300; 5 with --quick)")
    p.add_argument("--data", default=str(DATA), help="a folder with interactions.csv (ml-100k layout)")
    p.add_argument("--venv", default=str(DEFAULT_VENV), help="RecBole's virtual environment")
    p.add_argument("--device", default="cpu", help="cpu or cuda, for both")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--ours-only", action="store_true",
                   help="train our side alone, once per seed, and print each seed's figures and their mean")
    p.add_argument("--seeds", default="42", help="with --ours-only: comma-separated training seeds (default 42)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="with --ours-only: a SASRec setting, e.g. --set scale_inputs=true")
    p.add_argument("--train", action="append", default=[], metavar="KEY=VALUE",
                   help="with --ours-only: a training setting, e.g. --train batch_size=32")
    p.add_argument("--target", type=float,
                   help="with --ours-only: report the first epoch whose validation NDCG@10 (seen items ranked) "
                        "reaches this score, e.g. RecBole's best from a full run")
    args = p.parse_args(argv)
    if not args.ours_only and (args.set or args.train or args.target is not None or args.seeds != "42"):
        p.error("--seeds, --set, --train and --target go with --ours-only")
    try:
        args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        args.seed_list = []
    if not args.seed_list:
        p.error(f"--seeds takes comma-separated integers, got {args.seeds!r}")
    args.settings = {}
    for pair in args.set:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            p.error(f"--set takes KEY=VALUE, got {pair!r}")
        args.settings[key.strip()] = value.strip()
    return args


def ours_only(dataset, split, args) -> int:
    """Our side alone over several seeds: what a change to our defaults is judged on, without spending
    an hour on RecBole each time."""
    rows = []
    for seed in args.seed_list:
        print(f"RecStudio: SASRec, seed {seed}{', ' + ', '.join(args.set) if args.set else ''}…",
              file=sys.stderr, flush=True)
        outcome, valid, _, ranked = run_ours(dataset, split, args.device, seed=seed, settings=args.settings,
                                             training=common.training_values(args.train))
        reached = None
        if args.target is not None:
            reached = next((v for v in valid if v["NDCG@10"] >= args.target - 1e-12), None)
        rows.append({"seed": seed, "epochs": outcome.epochs, "best_epoch": outcome.best_epoch,
                     "s_per_epoch": outcome.seconds / max(outcome.epochs, 1),
                     "best_valid_ranked": max(v["NDCG@10"] for v in valid),
                     "reached_epoch": reached["epoch"] if reached else None,
                     "reached_seconds": reached["seconds"] if reached else None,
                     "test_ranked": {k: ranked[k] for k in ("HR@10", "NDCG@10", "MRR@10")},
                     "test_seen_excluded": {k: outcome.metrics["test"][k] for k in ("HR@10", "NDCG@10", "MRR@10")}})
    command = (f"python benchmarks/peer_recbole.py --ours-only --seeds {args.seeds}"
               + "".join(f" --set {shlex.quote(x)}" for x in args.set)
               + "".join(f" --train {shlex.quote(x)}" for x in args.train)
               + (f" --target {args.target}" if args.target is not None else "")
               + (f" --device {args.device}" if args.device != "cpu" else ""))
    print(f"\ncommand: {command}")
    print(f"split: leave-one-out by time on {Path(args.data).name}; test NDCG@10 with seen items ranked "
          "(RecBole's protocol) and left out (ours)")
    head = f"{'seed':>6} {'epochs (best)':>14} {'s/epoch':>8} {'ranked':>8} {'left out':>9}"
    print(head + (f" {'reached ' + format(args.target, '.4f'):>16}" if args.target is not None else ""))

    def line(label, epochs, s_epoch, ranked, left_out, reached):
        text = f"{label:>6} {epochs:>14} {s_epoch:>8.1f} {ranked:>8.4f} {left_out:>9.4f}"
        if args.target is not None:
            text += f" {reached:>16}"
        print(text)

    for r in rows:
        reached = f"epoch {r['reached_epoch']} ({r['reached_seconds']:.0f} s)" if r["reached_epoch"] else "never"
        line(r["seed"], f"{r['epochs']} ({r['best_epoch']})", r["s_per_epoch"], r["test_ranked"]["NDCG@10"],
             r["test_seen_excluded"]["NDCG@10"], reached)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("epochs", "best_epoch", "s_per_epoch")}
    mean_ranked = float(np.mean([r["test_ranked"]["NDCG@10"] for r in rows]))
    mean_out = float(np.mean([r["test_seen_excluded"]["NDCG@10"] for r in rows]))
    hits = sum(r["reached_epoch"] is not None for r in rows)
    line("mean", f"{mean['epochs']:.0f} ({mean['best_epoch']:.0f})", mean["s_per_epoch"], mean_ranked, mean_out,
         f"{hits} of {len(rows)} seeds")
    if args.json:
        print(json.dumps({"settings": args.settings, "training": args.train, "target": args.target, "runs": rows,
                          "mean": {"test_ranked_NDCG@10": mean_ranked, "test_seen_excluded_NDCG@10": mean_out}}))
    return 0


def ensure_recbole(venv: Path) -> Path:
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import recbole, torch; print(recbole.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"Installing RecBole into {venv} (once)…", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *RECBOLE_PACKAGES], check=True)
    return python


def write_recbole_data(dataset, folder: Path, name: str) -> None:
    """The imported events in RecStudio's order, as RecBole's atomic .inter file."""
    inter = dataset.interactions
    users = dataset.user_ids[inter["user"].to_numpy()]
    items = dataset.item_ids[inter["item"].to_numpy()]
    indptr = dataset.indptr
    position = np.arange(len(inter)) - np.repeat(indptr[:-1], np.diff(indptr))  # 0.. within each user
    (folder / name).mkdir(parents=True, exist_ok=True)
    with open(folder / name / f"{name}.inter", "w") as out:
        out.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for u, i, t in zip(users.tolist(), items.tolist(), position.tolist()):
            out.write(f"{u}\t{i}\t{t}\n")


def run_recbole(python: Path, folder: Path, name: str, epochs: int, device: str) -> dict:
    out = folder / "recbole-result.json"
    config = {
        "data_path": str(folder), "checkpoint_dir": str(folder / "saved"), "log_wandb": False,
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "hidden_size": ARCH["hidden"], "inner_size": 4 * ARCH["hidden"], "n_layers": ARCH["layers"],
        "n_heads": ARCH["heads"], "MAX_ITEM_LIST_LENGTH": ARCH["max_len"],
        "loss_type": "CE", "train_neg_sample_args": None,
        "epochs": epochs, "stopping_step": 10, "valid_metric": "NDCG@10",
        "metrics": ["Hit", "NDCG", "MRR"], "topk": [10],
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
        "use_gpu": device.startswith("cuda"), "show_progress": False, "worker": 0,
    }
    driver = folder / "recbole_driver.py"
    driver.write_text(RECBOLE_DRIVER)
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    args = json.dumps({"dataset": name, "config": config, "out": str(out)})
    log = folder / "recbole.log"  # RecBole's own logging and warnings
    with open(log, "w") as err:
        proc = subprocess.Popen([str(python), str(driver), args], cwd=folder, env=env, stdout=subprocess.PIPE,
                                stderr=err, text=True)
        for line in proc.stdout:  # the driver's progress lines
            print(line.rstrip(), file=sys.stderr, flush=True)
        if proc.wait() != 0:
            print(log.read_text()[-4000:], file=sys.stderr)
            raise SystemExit(f"RecBole failed (exit {proc.returncode}); its log is above.")
    return json.loads(out.read_text())


class _Outcome:
    """What the table needs of our run."""

    def __init__(self, result, test_excluded: dict):
        self.epochs, self.best_epoch, self.seconds = result.epochs, result.best_epoch, result.seconds
        self.samples_per_s = result.samples_per_s
        self.metrics = {"test": test_excluded}


def run_ours(dataset, split, device: str, seed: int | None = None, settings: dict | None = None,
             training: dict | None = None):
    """Our SASRec with its own training defaults (early stopping on its own validation: seen items left
    out). After each validation the benchmark also scores the model on RecBole's protocol (seen items
    ranked), so the time to reach RecBole's best validation score is read on RecBole's scale; the time
    that extra scoring takes is left out of our clock. ``training``: training settings instead of the model's."""
    from recstudio.evaluation.evaluate import evaluate
    from recstudio.models import create_model, model_config
    from recstudio.runs import check_train_config
    from recstudio.training import Validated, drive, fit
    from recstudio.training.fit import seed_everything

    config = check_train_config({"seed": seed, **(training or {})}, model="sasrec")
    seed_everything(config.seed)
    model = create_model("sasrec", dataset.n_items, model_config("sasrec", {**ARCH, **(settings or {})}))
    popularity = split.train_popularity()

    def score(cases, exclude_seen: bool, ks=(10,)) -> dict:
        return evaluate(model, cases, popularity=popularity, n_users=split.n_users, ks=ks, exclude_seen=exclude_seen,
                        batch_size=config.eval_batch_size, device=device).metrics

    validations, extra = [], 0.0

    def also_ranked(event) -> None:
        nonlocal extra
        if isinstance(event, Validated):
            t = time.perf_counter()
            ranked = score(split.valid, exclude_seen=False)["NDCG@10"]
            validations.append({"epoch": event.epoch, "seconds": event.elapsed - extra, "NDCG@10": ranked,
                                "own_NDCG@10": event.metrics["NDCG@10"]})
            extra += time.perf_counter() - t
            print(f"  ours epoch {event.epoch}: valid NDCG@10 {ranked:.4f} on RecBole's protocol, "
                  f"{event.metrics['NDCG@10']:.4f} on ours ({event.elapsed - extra:.0f} s)", file=sys.stderr, flush=True)

    result = drive(fit(model, split, config, device=device), also_ranked)
    model.eval()  # fit restored the best epoch (by our own validation)
    seen_ranked = score(split.test, exclude_seen=False)
    seen_excluded = score(split.test, exclude_seen=True)
    result.seconds -= extra
    return _Outcome(result, seen_excluded), validations, None, seen_ranked


def import_split(data: Path, folder: Path):
    """The data imported by RecStudio into a workspace in ``folder`` (kept while the dataset is used), and
    its leave-one-out split: what both sides train on."""
    from recstudio.data import make_split
    from recstudio.runs import ImportRequest, import_or_reuse
    from recstudio.workspace import Workspace

    with Workspace(str(folder / "ws.sqlite")) as ws:
        record, _ = import_or_reuse(ws, ImportRequest(str(data / "interactions.csv")))
        dataset = ws.load_dataset(record.id)
    return dataset, make_split(dataset, "leave-one-out")


def time_to_reach(validations: list[dict], score: float) -> float | None:
    return next((v["seconds"] for v in validations if v["NDCG@10"] >= score - 1e-12), None)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    data = Path(args.data)
    if not (data / "interactions.csv").exists():
        print(f"No interactions.csv in {data}.", file=sys.stderr)
        return 2
    if args.ours_only:
        from recstudio.errors import RecStudioError
        from recstudio.models import model_config

        try:
            model_config("sasrec", {**ARCH, **args.settings})
        except RecStudioError as error:
            print(error, file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="peer-ours-") as tmp:
            dataset, split = import_split(data, Path(tmp))
            return ours_only(dataset, split, args)
    recbole_epochs = args.recbole_epochs or (5 if args.quick else 300)
    python = ensure_recbole(Path(args.venv))
    with tempfile.TemporaryDirectory(prefix="peer-recbole-") as tmp:
        tmp = Path(tmp)
        dataset, split = import_split(data, tmp)
        our_test = {str(dataset.user_ids[u]): str(dataset.item_ids[i])
                    for u, i in zip(split.test.users.tolist(), split.test.targets.tolist())}
        write_recbole_data(dataset, tmp, "peer")

        print(f"RecBole: SASRec, up to {recbole_epochs} epochs…", file=sys.stderr, flush=True)
        theirs = run_recbole(python, tmp, "peer", recbole_epochs, args.device)
        if theirs["test_items"] != our_test:
            differ = sum(theirs["test_items"].get(u) != i for u, i in our_test.items())
            print(f"The splits differ for {differ} of {len(our_test)} users; no comparison.", file=sys.stderr)
            return 1
        print(f"Same split: all {len(our_test):,} users have the same test item in both.", file=sys.stderr)

        print("RecStudio: SASRec with its defaults…", file=sys.stderr, flush=True)
        outcome, ours_valid, started, ours_test = run_ours(dataset, split, args.device)

    ours_seen_excluded = outcome.metrics["test"]  # RecStudio's own default protocol
    r_epochs = len(theirs["validations"])
    r_best = max(theirs["validations"], key=lambda v: v["NDCG@10"])
    r_time_to_best = r_best["seconds"]
    ours_time_to_theirs = time_to_reach(ours_valid, theirs["best_valid"])
    o_best = next(v for v in ours_valid if v["epoch"] == outcome.best_epoch)  # by our own validation
    r_s_epoch = theirs["seconds"] / max(r_epochs, 1)
    o_s_epoch = outcome.seconds / max(outcome.epochs, 1)
    r_rate = theirs["train_samples"] * r_epochs / theirs["seconds"]
    o_rate = outcome.samples_per_s
    speedup = r_time_to_best / ours_time_to_theirs if ours_time_to_theirs else None

    mode = "--quick (RecBole bounded to 5 epochs)" if args.quick else "full runs"
    command = "python benchmarks/peer_recbole.py" + (" --quick" if args.quick else "") + (
        f" --recbole-epochs {args.recbole_epochs}" if args.recbole_epochs else "") + (
        f" --device {args.device}" if args.device != "cpu" else "")
    print(f"\ncommand: {command}   ({mode})")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, device {args.device}")
    print("split: leave-one-out by time, identical test items; full ranking over all items, seen items ranked")
    print(f"{'':<34} {'RecStudio':>12} {'RecBole 1.2.1':>14} {'ratio':>8}")

    def row(label, ours, theirs_, fmt="{:.4f}", ratio=True, lower_is_better=False):
        # The ratio always reads "RecStudio is Nx RecBole": for times, RecBole's ÷ ours.
        o = fmt.format(ours) if ours is not None else "—"
        t = fmt.format(theirs_) if theirs_ is not None else "—"
        q = ""
        if ratio and ours and theirs_:
            q = f"{theirs_ / ours:.1f}x" if lower_is_better else f"{ours / theirs_:.2f}x"
        print(f"{label:<34} {o:>12} {t:>14} {q:>8}")

    ours_epochs, their_epochs = f"{outcome.epochs} ({outcome.best_epoch})", f"{r_epochs} ({r_best['epoch']})"
    print(f"{'epochs run (best)':<34} {ours_epochs:>12} {their_epochs:>14}")
    row("seconds per epoch (ratio: faster)", o_s_epoch, r_s_epoch, "{:.1f}", lower_is_better=True)
    row("training samples / s", o_rate, r_rate, "{:,.0f}")
    row("seconds to own best valid NDCG@10", o_best["seconds"], r_time_to_best, "{:.0f}", ratio=False)
    row("valid NDCG@10 at the best checkpoint", o_best["NDCG@10"], theirs["best_valid"])
    row("test HR@10", ours_test["HR@10"], theirs["test"].get("hit@10"))
    row("test NDCG@10", ours_test["NDCG@10"], theirs["test"].get("ndcg@10"))
    row("test MRR@10", ours_test["MRR@10"], theirs["test"].get("mrr@10"))
    if ours_time_to_theirs is not None:
        print(f"RecStudio reached RecBole's best validation NDCG@10 ({theirs['best_valid']:.4f}) after "
              f"{ours_time_to_theirs:.0f} s; RecBole needed {r_time_to_best:.0f} s: {speedup:.1f}x sooner.")
    else:
        print(f"RecStudio never reached RecBole's best validation NDCG@10 ({theirs['best_valid']:.4f}).")
    theirs_cut = theirs.get("test_seen_excluded") or {}
    print("The same best checkpoints, tested with each user's history left out of the ranking "
          "(RecStudio's default protocol):")
    for metric in ("HR@10", "NDCG@10", "MRR@10"):
        row(f"test {metric} (seen left out)", ours_seen_excluded[metric], theirs_cut.get(metric))
    if args.json:
        print(json.dumps({
            "speedup": speedup,
            "ours": {"NDCG@10": ours_test["NDCG@10"], "HR@10": ours_test["HR@10"], "MRR@10": ours_test["MRR@10"],
                     "samples_per_s": o_rate, "s_per_epoch": o_s_epoch, "seconds_to_recbole_best": ours_time_to_theirs},
            "recbole": {"NDCG@10": theirs["test"].get("ndcg@10"), "HR@10": theirs["test"].get("hit@10"),
                        "MRR@10": theirs["test"].get("mrr@10"), "samples_per_s": r_rate, "s_per_epoch": r_s_epoch,
                        "seconds_to_best": r_time_to_best, "best_valid_NDCG@10": theirs["best_valid"]},
            "seen_excluded": {"ours": {k: ours_seen_excluded[k] for k in ("HR@10", "NDCG@10", "MRR@10")},
                              "recbole": theirs_cut},
            "quick": args.quick,
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
