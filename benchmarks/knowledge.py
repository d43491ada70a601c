"""Language-model knowledge: sasrec vs sasrec-lm on cold items and on leave-one-out (full ranking).

Run:  python benchmarks/knowledge.py [--datasets ml100k,sample] [--models sasrec,sasrec-lm]
                                      [--splits cold-items,leave-one-out] [--set KEY=VALUE ...]
For each dataset (ml-100k from ../shared/datasets: titles + genres as text; the bundled Online Retail
sample: product descriptions as text) it trains each model on the cold-items split (10% of items
held out of training entirely, drawn five times: seeds 0-4) and on leave-one-out, and prints:
  - cold HR@10 / NDCG@10: test cases whose target item never appeared in training, pooled over the
    draws (one draw of ml-100k has only ~100 such cases) (target: sasrec-lm >= 5x sasrec),
  - overall NDCG@10 on leave-one-out (target: sasrec-lm >= 0.97x sasrec, ideally higher),
then the exact command and a JSON line. A benchmark, not a test: it prints, it asserts nothing.
Item texts are encoded once per dataset (the workspace's embedding cache) with the default
encoder unless --set encoder=... says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/knowledge.py
    import common


def dataset_files(name: str) -> tuple[str, str]:
    found = common.named_files(name)
    if found is None:
        raise SystemExit(f"unknown dataset {name!r}; use ml100k or sample")
    return found


def train(data: tuple[str, str], model: str, split: str, settings: dict, args, workspace: str,
          split_seed: int = 0) -> dict:
    from recstudio.runs import TrainRequest

    split_options = {"cold_fraction": args.cold_fraction, "seed": split_seed} if split == "cold-items" else {}
    train_config = {"seed": args.seed}
    if args.epochs:
        train_config["epochs"] = args.epochs
    request = TrainRequest(data=data[0], items=data[1], model=model, model_config=settings if model != "sasrec" else {},
                           train_config=train_config, split=split, split_options=split_options, device=args.device,
                           workspace=workspace)
    label = f"{Path(data[0]).parent.name}/{model}/{split}" + (f" (cold seed {split_seed})" if split_options else "")
    outcome = common.train(request, label)
    test, cold = outcome.metrics.get("test", {}), outcome.metrics.get("cold", {})
    warm = outcome.metrics.get("segments", {}).get("warm items", {})
    return {"model": model, "split": split, "HR@10": test.get("HR@10"), "NDCG@10": test.get("NDCG@10"),
            "cold_HR@10": cold.get("HR@10"), "cold_NDCG@10": cold.get("NDCG@10"), "cold_cases": cold.get("cases"),
            "warm_NDCG@10": warm.get("NDCG@10"), "epochs": outcome.epochs, "best_epoch": outcome.best_epoch,
            "seconds": round(outcome.seconds, 1), "chance_HR@10": 10 / outcome_items(outcome, workspace)}


def pooled(rows: list[dict]) -> dict:
    """One row for several cold-item draws: cold metrics over all their cold cases together (weighted by
    cases), overall and warm metrics averaged over the draws."""
    if len(rows) == 1:
        return rows[0]
    out = dict(rows[0])
    for key in ("HR@10", "NDCG@10", "warm_NDCG@10"):
        out[key] = sum(r[key] for r in rows) / len(rows)
    cases = sum(r["cold_cases"] for r in rows)
    for key in ("cold_HR@10", "cold_NDCG@10"):
        out[key] = sum(r[key] * r["cold_cases"] for r in rows) / cases
    out["cold_cases"] = cases
    out["cold_hits@10"] = [round(r["cold_HR@10"] * r["cold_cases"]) for r in rows]
    out["epochs"] = round(sum(r["epochs"] for r in rows) / len(rows))
    out["best_epoch"] = round(sum(r["best_epoch"] for r in rows) / len(rows))
    out["seconds"] = round(sum(r["seconds"] for r in rows), 1)
    out["draws"] = rows
    return out


def outcome_items(outcome, workspace: str) -> int:
    from recstudio.workspace import Workspace

    with Workspace(workspace) as ws:
        return ws.dataset_record(outcome.dataset).n_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml100k,sample")
    parser.add_argument("--models", default="sasrec,sasrec-lm")
    parser.add_argument("--splits", default="cold-items,leave-one-out")
    parser.add_argument("--cold-fraction", type=float, default=0.1)
    parser.add_argument("--cold-seeds", default="0,1,2,3,4",
                        help="draws of cold items; cold metrics pool the cold cases of every draw (default 0-4)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="sasrec-lm setting")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE[;KEY=VALUE...]",
                        help="an extra sasrec-lm row with these settings on top of --set, e.g. "
                             "'year:template={title} ({release_year}). Category: {category}.'")
    parser.add_argument("--epochs", type=int, default=None, help="epoch limit (default: the training default)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workspace", default=None, help="keep runs and the embedding cache here (default: temp)")
    args = parser.parse_args()
    settings = common.key_values(args.set)
    variants = {}
    for spec in args.variant:
        label, _, pairs = spec.partition(":")
        variants[label] = {**settings, **dict(p.split("=", 1) for p in pairs.split(";") if p)}

    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workspace = args.workspace or str(Path(tmp) / "ws.sqlite")
        for name in args.datasets.split(","):
            data = dataset_files(name)
            rows = results.setdefault(name, [])
            for split in args.splits.split(","):
                runs = [(model, model, settings) for model in args.models.split(",")]
                runs += [(f"lm:{label}", "sasrec-lm", values) for label, values in variants.items()]
                for label, model, values in runs:
                    started = time.perf_counter()
                    seeds = [int(x) for x in args.cold_seeds.split(",")] if split == "cold-items" else [0]
                    draws = [train(data, model, split, values, args, workspace, seed) for seed in seeds]
                    rows.append({**pooled(draws), "model": label})
                    print(f"  {name}/{label}/{split} done in {time.perf_counter() - started:.0f} s: {rows[-1]}",
                          file=sys.stderr, flush=True)

    print(common.command_line())
    print(f"{common.machine_line()}; sasrec-lm settings: {settings or 'defaults'}")
    for label, values in variants.items():
        print(f"variant lm:{label}: {values}")
    fmt = lambda v: "    -" if v is None else f"{v:.4f}"  # noqa: E731
    for name, rows in results.items():
        print(f"\n{name}")
        print(f"{'model':<12} {'split':<14} {'HR@10':>7} {'NDCG@10':>8} {'cold HR@10':>10} {'cold NDCG@10':>12} "
              f"{'cold cases':>10} {'warm NDCG@10':>12} {'epochs':>6} {'best':>4} {'seconds':>7}  cold hits@10 per draw")
        for r in rows:
            print(f"{r['model']:<12} {r['split']:<14} {fmt(r['HR@10']):>7} {fmt(r['NDCG@10']):>8} "
                  f"{fmt(r['cold_HR@10']):>10} {fmt(r['cold_NDCG@10']):>12} {r['cold_cases'] or '-':>10} "
                  f"{fmt(r['warm_NDCG@10']):>12} {r['epochs']:>6} {r['best_epoch']:>4} {r['seconds']:>7}  "
                  f"{r.get('cold_hits@10', '')}")
        by = {(r["model"], r["split"]): r for r in rows}
        base, lm = by.get(("sasrec", "cold-items")), by.get(("sasrec-lm", "cold-items"))
        if base and lm:
            b, l = base["cold_HR@10"], lm["cold_HR@10"]
            ratio = f"{l / b:.1f}x" if b else ("inf (sasrec has no cold hit)" if l else "n/a")
            print(f"cold HR@10: sasrec-lm {l:.4f} vs sasrec {b:.4f} = {ratio} (target >= 5x); a random ranking "
                  f"scores about {lm['chance_HR@10']:.4f} ({lm['cold_cases']} cold cases)")
        base, lm = by.get(("sasrec", "leave-one-out")), by.get(("sasrec-lm", "leave-one-out"))
        if base and lm:
            print(f"leave-one-out NDCG@10: sasrec-lm {lm['NDCG@10']:.4f} vs sasrec {base['NDCG@10']:.4f} = "
                  f"{lm['NDCG@10'] / base['NDCG@10']:.3f}x (target >= 0.97x)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
