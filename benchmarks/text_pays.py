"""Does language-model knowledge pay on warm data? sasrec-lm beside sasrec, both at their defaults, over seeds.

    python benchmarks/text_pays.py                      # ml-100k and the sample, seeds 42, 7, 1
    python benchmarks/text_pays.py --datasets ml-100k --seeds 42
    python benchmarks/text_pays.py --set id_dropout=0.3 # a sasrec-lm setting tried (sasrec unchanged)
    python benchmarks/text_pays.py --train batch_size=32  # a sasrec-lm training setting tried
    python benchmarks/text_pays.py --json               # ... and a last line of JSON

Each dataset is trained on its default split (ml-100k: leave-one-out; the sample: its last baskets), every
model at its defaults (`--set` changes sasrec-lm only, to try a setting against sasrec's defaults), one run
per seed, and tested on the held-out events (full ranking, the history left out). Besides the test as a
whole it reports two segments, where item text should help most:

- **quarter of users**: the evaluated users with the fewest training events, a quarter of them (the cut is
  the 25% quantile of their training-event counts; users at the cut are in);
- **long-tail items**: the test cases whose target (or, for a basket, its first line) is not among the most
  popular items that together make 80% of the training events (the "short head").

Figures are means over the seeds, with each seed's value; ratios are sasrec-lm over sasrec. A benchmark, not
a test: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/text_pays.py
    import common

SEEDS = (42, 7, 1)
DATASETS = ("ml-100k", "sample")
MODELS = ("sasrec", "sasrec-lm")
QUARTER, TAIL = "quarter of users with fewest training events", "long-tail items"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--seeds", default=",".join(str(s) for s in SEEDS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a sasrec-lm setting")
    p.add_argument("--train", action="append", default=[], metavar="KEY=VALUE",
                   help="a sasrec-lm training setting (batch_size, lr, ...; sasrec keeps its defaults)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    return p.parse_args(argv)


def files(name: str) -> tuple[str, str]:
    found = common.named_files(name)
    if found is None:
        raise SystemExit(f"Unknown dataset {name!r}: ml-100k or sample.")
    return found


def segments(split) -> dict[str, np.ndarray]:
    """The two segments of the test cases (see the module's docstring)."""
    cases = split.test
    events = np.diff(split.train_indptr)[cases.users]
    quarter = events <= np.quantile(events, 0.25)
    popularity = split.train_popularity()
    order = np.argsort(-popularity, kind="stable")
    head_size = int(np.searchsorted(np.cumsum(popularity[order]), 0.8 * popularity.sum())) + 1
    head = np.zeros(len(popularity), dtype=bool)
    head[order[:head_size]] = True
    return {QUARTER: quarter, TAIL: ~head[cases.targets]}


def tested(workspace_path: str, run_id: int, device: str) -> dict:
    """NDCG@10 / HR@10 of a stored run on its test, overall and on the segments."""
    from recstudio.devices import resolve_device
    from recstudio.evaluation import evaluate
    from recstudio.runs import load_run_model, run_split
    from recstudio.workspace import Workspace

    with Workspace(workspace_path) as ws:
        run, model, _ = load_run_model(ws, run_id)
        split = run_split(ws.load_dataset(run.dataset_id), run)
    parts = segments(split)
    result = evaluate(model, split.test, popularity=split.train_popularity(), n_users=split.n_users, ks=(10,),
                      device=str(resolve_device(device)), segments=parts)
    out = {"all": {k: result.metrics[k] for k in ("NDCG@10", "HR@10")}}
    for name in parts:
        out[name] = {k: result.segments[name][k] for k in ("NDCG@10", "HR@10")}
        out[name]["users"] = result.segments[name]["users"]
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    from recstudio.runs import TrainRequest

    settings = common.key_values(args.set)
    training = common.training_values(args.train)
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workspace = str(Path(tmp) / "text.sqlite")
        for name in args.datasets.split(","):
            data, items = files(name)
            rows: dict[str, list] = {m: [] for m in MODELS}
            for seed in seeds:
                for model in MODELS:
                    request = TrainRequest(data=data, items=items, model=model, device=args.device, workspace=workspace,
                                           model_config=settings if model == "sasrec-lm" else {},
                                           train_config={"seed": seed, **(training if model == "sasrec-lm" else {})})
                    outcome = common.train(request, f"{name} {model} seed {seed}")
                    rows[model].append({"seed": seed, "run": outcome.run_id, "split": outcome.split,
                                        "epochs": outcome.epochs, **tested(workspace, outcome.run_id, args.device)})
            results[name] = rows
    report(args, results)
    return 0


def mean(rows: list[dict], part: str, key: str = "NDCG@10") -> float:
    return float(np.mean([r[part][key] for r in rows]))


def report(args, results: dict) -> None:
    common.print_header()
    summary = {}
    for name, rows in results.items():
        base, lm = rows["sasrec"], rows["sasrec-lm"]
        print(f"\n{name} ({base[0]['split']} split; {len(base)} seed(s): "
              f"{', '.join(str(r['seed']) for r in base)}; sasrec-lm settings {args.set or 'defaults'}, "
              f"training {args.train or 'defaults'}): test NDCG@10, mean (each seed)")
        print(f"{'':48} {'sasrec':>28} {'sasrec-lm':>28} {'ratio':>7}")
        summary[name] = {}
        for part in ("all", QUARTER, TAIL):
            def cell(rs):
                each = " ".join(format(r[part]["NDCG@10"], ".4f") for r in rs)
                return f"{mean(rs, part):.4f} ({each})"

            users = f" ({base[0][part]['users']} cases)" if part != "all" else ""
            ratio = mean(lm, part) / mean(base, part) if mean(base, part) else float("nan")
            print(f"{part + users:48} {cell(base):>28} {cell(lm):>28} {ratio:>6.2f}x")
            summary[name][part] = {"sasrec": mean(base, part), "sasrec-lm": mean(lm, part), "ratio": ratio}
    if args.json:
        print(json.dumps({"summary": summary, "runs": results, "sasrec_lm_settings": args.set,
                          "sasrec_lm_training": args.train}))


if __name__ == "__main__":
    sys.exit(main())
