"""Quality and speed of the built-in models on ml-100k (leave-one-out, full ranking, seen excluded).

Run:  python benchmarks/ml100k.py [--models pop,itemknn,sasrec] [--device auto]
Prints HR@10, NDCG@10, MRR@10, seconds per epoch and training samples/s for each model with its
default settings, and the exact command. A benchmark, not a test: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/ml100k.py
    import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pop,itemknn,sasrec")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data", default=str(common.ML100K))
    args = parser.parse_args()

    from recstudio.runs import TrainRequest

    interactions, items = common.dataset_files(args.data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            request = TrainRequest(data=interactions, items=items, model=model, device=args.device,
                                   workspace=str(Path(tmp) / "ws.sqlite"))
            run = common.figures(common.train(request, model))
            test = run["test"]
            rows.append({
                "model": model, "HR@10": test["HR@10"], "NDCG@10": test["NDCG@10"], "MRR@10": test["MRR@10"],
                "epochs": run["epochs"], "best_epoch": run["best_epoch"], "seconds": run["seconds"],
                "s_per_epoch": run["s_per_epoch"], "samples_per_s": run["samples_per_s"],
            })
    print(f"command: python benchmarks/{Path(__file__).name} --models {args.models} --device {args.device}")
    print(common.machine_line())
    print(f"{'model':<9} {'HR@10':>7} {'NDCG@10':>8} {'MRR@10':>7} {'epochs':>6} {'best':>5} {'s/epoch':>8} "
          f"{'samples/s':>10} {'total s':>8}")
    for r in rows:
        print(f"{r['model']:<9} {r['HR@10']:7.4f} {r['NDCG@10']:8.4f} {r['MRR@10']:7.4f} {r['epochs']:6d} "
              f"{r['best_epoch']:5d} {r['s_per_epoch']:8.2f} {r['samples_per_s']:10.0f} {r['seconds']:8.1f}")
    pop = next((r for r in rows if r["model"] == "pop"), None)
    if pop:
        for r in rows:
            if r is not pop:
                print(f"{r['model']} / pop NDCG@10: {r['NDCG@10'] / pop['NDCG@10']:.2f}x")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
