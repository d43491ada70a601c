"""How fast a trained model answers: one user's top-10, and every user's top-10 for export.

    python benchmarks/latency.py                    # SASRec on ml-100k (one short epoch: speed, not quality)
    python benchmarks/latency.py --model itemknn --users 500

Trains the model into a temporary workspace, then times (a) RunInspector.recommend for single users
from their full history (what the inspector and `recstudio recommend --user` do; warm, after loading
the run once), and (b) recommend_all over every user in batches (what `recommend --all-users` writes).
Target: one user ≤ 10 ms on CPU. Figures, not asserts.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/latency.py
    import common


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sasrec")
    p.add_argument("--data", default=str(common.ML100K))
    p.add_argument("--users", type=int, default=300, help="single-user requests to time")
    p.add_argument("-k", type=int, default=10)
    args = p.parse_args()

    import torch

    from recstudio.runs import FULL_HISTORY, RunInspector, TrainRequest, recommend_all
    from recstudio.workspace import Workspace

    interactions, items = common.dataset_files(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        ws_path = str(Path(tmp) / "ws.sqlite")
        request = TrainRequest(data=interactions, items=items, model=args.model, workspace=ws_path, device="cpu",
                               train_config={"epochs": 1})
        run_id = common.train(request).run_id
        with Workspace(ws_path) as ws:
            started = time.perf_counter()
            inspector = RunInspector(ws, run_id)
            load_s = time.perf_counter() - started
            dataset = ws.load_dataset(ws.run(run_id).dataset_id)
            rng = np.random.default_rng(0)
            users = [str(u) for u in rng.choice(dataset.user_ids, size=args.users)]
            inspector.recommend(users[0], k=args.k, mode=FULL_HISTORY)  # warm
            times = []
            for user in users:
                t0 = time.perf_counter()
                rec = inspector.recommend(user, k=args.k, mode=FULL_HISTORY)
                times.append((time.perf_counter() - t0) * 1000)
                assert len(rec.items) == args.k
            ms = np.array(times)
            t0 = time.perf_counter()
            rows = sum(len(chunk) for chunk in recommend_all(ws, run_id, k=args.k))
            all_s = time.perf_counter() - t0

    print(f"command: python benchmarks/latency.py --model {args.model} --users {args.users} -k {args.k}")
    print(f"machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"run loaded for inspection in {load_s * 1000:.0f} ms")
    print(f"one user's top-{args.k} ({args.users} users, full history): median {np.median(ms):.2f} ms, "
          f"p95 {np.percentile(ms, 95):.2f} ms, max {ms.max():.2f} ms  (target ≤ 10 ms)")
    print(f"every user's top-{args.k}: {dataset.n_users:,} users, {rows:,} rows in {all_s:.2f} s "
          f"({dataset.n_users / all_s:,.0f} users/s)")


if __name__ == "__main__":
    main()
