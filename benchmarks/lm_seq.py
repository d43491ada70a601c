"""lm-seq at its defaults beside sasrec at its defaults: test quality, time to train, and a distilled sasrec.

    python benchmarks/lm_seq.py                          # ml-100k and the sample, seed 42
    python benchmarks/lm_seq.py --datasets sample --distil
    python benchmarks/lm_seq.py --set targets=last --set max_tokens=128   # lm-seq as it was trained before
    python benchmarks/lm_seq.py --train batch_size=32     # lm-seq with another training setting
    python benchmarks/lm_seq.py --json                   # ... and a last line of JSON

Each dataset is trained on its default split (ml-100k: leave-one-out; the sample: its last baskets), each
model at its defaults (``--set`` changes lm-seq only; its epoch bound is the model's own unless ``--epochs``),
and tested on the held-out events (full ranking, the history left out). ``--distil`` also trains a sasrec
(at its defaults) with the lm-seq run as its teacher (``recstudio train --teacher RUN``). Printed per
dataset: NDCG@10 and HR@10, the ratio to sasrec, seconds of the whole run (item text, training, test),
epochs (best). A benchmark, not a test: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/lm_seq.py
    import common

DATASETS = ("ml-100k", "sample")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an lm-seq setting")
    p.add_argument("--epochs", type=int, default=None, help="lm-seq's epoch bound (default: the model's own)")
    p.add_argument("--train", action="append", default=[], metavar="KEY=VALUE",
                   help="an lm-seq training setting (batch_size, lr, weight_decay, ...)")
    p.add_argument("--distil", action="store_true", help="also a sasrec distilled from the lm-seq run")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    return p.parse_args(argv)


def run(args, workspace: str, name: str, model: str, label: str, **request) -> dict:
    from recstudio.runs import TrainRequest

    data, items = common.named_files(name) or (None, None)
    if data is None:
        raise SystemExit(f"Unknown dataset {name!r}: ml-100k or sample.")
    train_config = {"seed": args.seed, **request.pop("train_config", {})}
    if request.get("teacher") is not None:  # a student trains on its teacher's dataset
        data, items = "", None
    outcome = common.train(TrainRequest(data=data, items=items, model=model, device=args.device, workspace=workspace,
                                        train_config=train_config, **request), f"{name} {label}")
    test = outcome.metrics.get("test", {})
    return {"model": label, "run": outcome.run_id, "split": outcome.split, "NDCG@10": test.get("NDCG@10"),
            "HR@10": test.get("HR@10"), "seconds": round(outcome.seconds, 1), "epochs": outcome.epochs,
            "best_epoch": outcome.best_epoch}


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = common.key_values(args.set)
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workspace = str(Path(tmp) / "lm_seq.sqlite")
        for name in args.datasets.split(","):
            rows = [run(args, workspace, name, "sasrec", "sasrec")]
            lm_config = {**common.training_values(args.train), **({"epochs": args.epochs} if args.epochs else {})}
            lm = run(args, workspace, name, "lm-seq", "lm-seq", model_config=settings, train_config=lm_config)
            rows.append(lm)
            if args.distil:
                rows.append(run(args, workspace, name, "sasrec", "sasrec <- lm-seq", teacher=lm["run"]))
            results[name] = rows
    report(args, results)
    return 0


def report(args, results: dict) -> None:
    common.print_header()
    summary = {}
    for name, rows in results.items():
        base = rows[0]["NDCG@10"] or float("nan")
        print(f"\n{name} ({rows[0]['split']} split, seed {args.seed}; lm-seq settings: {args.set or 'defaults'}; "
              f"training: {args.train or 'defaults'})")
        print(f"{'model':<20} {'NDCG@10':>8} {'HR@10':>7} {'x sasrec':>8} {'seconds':>8} {'epochs (best)':>14}")
        summary[name] = {}
        for r in rows:
            ratio = r["NDCG@10"] / base if r["NDCG@10"] is not None else float("nan")
            print(f"{r['model']:<20} {r['NDCG@10']:>8.4f} {r['HR@10']:>7.4f} {ratio:>7.2f}x {r['seconds']:>8.0f} "
                  f"{str(r['epochs']) + ' (' + str(r['best_epoch']) + ')':>14}")
            summary[name][r["model"]] = {"NDCG@10": r["NDCG@10"], "ratio": ratio, "seconds": r["seconds"]}
    if args.json:
        print(json.dumps({"summary": summary, "runs": results, "lm_seq_settings": args.set, "lm_seq_training": args.train}))


if __name__ == "__main__":
    sys.exit(main())
