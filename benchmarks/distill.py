"""Distillation and int8 quantisation on ml-100k: teacher vs distilled student vs plain student vs int8 copies.

Run:  python benchmarks/distill.py [--teacher-model sasrec-lm] [--teacher-hidden 128] [--student-hidden 64]
                                   [--temperature 2] [--alpha 0.5] [--epochs 30] [--patience 5] [--users 200]
On ml-100k (../shared/datasets/ml-100k; titles + genres as item text for the text-aware teacher) it trains
  - the teacher (sasrec-lm by default, hidden 128),
  - the student: sasrec with hidden 64, distilled from the teacher (soft targets at every position),
  - the same sasrec without a teacher (the reference the student must beat),
then makes dynamic int8 copies of the teacher and the student, and prints for each: NDCG@10 and HR@10
(leave-one-out, full ranking, seen items excluded), ms per user (one user's top-10 from their full
history on one CPU thread, median over --users random users), size on disk (model.safetensors, MB)
and learned parameters; then the exact command and a JSON line. A benchmark, not a test: it prints.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/distill.py
    import common

ML100K = common.ML100K


def train(args, workspace: str, model: str, settings: dict, teacher: int | None = None, data: str | None = None) -> dict:
    from recstudio.runs import TrainRequest

    distill = {"temperature": args.temperature, "alpha": args.alpha} if teacher is not None else {}
    request = TrainRequest(
        data=data or "", items=str(ML100K / "items.csv") if data else None, model=model, model_config=settings,
        train_config={"epochs": args.epochs, "patience": args.patience, "seed": args.seed}, device=args.device,
        workspace=workspace, teacher=teacher, distill=distill)
    label = f"{model} {settings}" + (f" <- teacher run {teacher}" if teacher is not None else "")
    return common.figures(common.train(request, f"[{label}]"))


def ms_per_user(workspace, run_id: int, users: int, seed: int) -> float:
    """Median ms for one user's top-10 (full history, seen items excluded), one thread, model loaded once."""
    import numpy as np
    import torch

    from recstudio.runs import best_items, load_run_model, score_history

    run, model, meta = load_run_model(workspace, run_id, device="cpu")
    dataset = workspace.load_dataset(run.dataset_id)
    popularity = np.asarray(meta.popularity, dtype=np.float32)
    chosen = np.random.default_rng(seed).choice(dataset.n_users, size=min(users, dataset.n_users), replace=False)
    torch.set_num_threads(1)
    for user in chosen[:10]:  # warm-up: kernels built, caches filled
        score_history(model, dataset.history(int(user)), popularity)
    times = []
    for user in chosen:
        history = dataset.history(int(user))
        t0 = time.perf_counter()
        _, scores = score_history(model, history, popularity)
        best_items(scores, np.unique(history), 10)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def describe(workspace, run_id: int) -> dict:
    from recstudio.models.quantise import count_parameters
    from recstudio.runs import load_run_model
    from recstudio.runs.derived import weights_file

    _, model, _ = load_run_model(workspace, run_id, device="cpu")
    path = weights_file(workspace.artefacts(run_id)["checkpoint"])
    return {"mb": path.stat().st_size / 1e6, "parameters": count_parameters(model)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher-model", default="sasrec-lm")
    parser.add_argument("--teacher-hidden", type=int, default=128)
    parser.add_argument("--student-hidden", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=30, help="epoch cap per model (early stopping may end sooner)")
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workspace", help="workspace file (default: a temporary one)")
    args = parser.parse_args(argv)
    if not (ML100K / "interactions.csv").exists():
        raise SystemExit(f"ml-100k not found in {ML100K}")

    from recstudio.runs import quantise_run
    from recstudio.workspace import Workspace

    started = time.perf_counter()
    folder = tempfile.mkdtemp(prefix="recstudio-distill-")
    workspace = args.workspace or str(Path(folder) / "workspace.sqlite")
    data = str(ML100K / "interactions.csv")
    heads = 2
    teacher = train(args, workspace, args.teacher_model, {"hidden": args.teacher_hidden, "heads": heads}, data=data)
    student = train(args, workspace, "sasrec", {"hidden": args.student_hidden, "heads": heads}, teacher=teacher["run"])
    plain = train(args, workspace, "sasrec", {"hidden": args.student_hidden, "heads": heads}, data=data)
    rows = []
    with Workspace(workspace) as ws:
        int8 = {}
        for name, trained in (("teacher", teacher), ("student", student)):
            q = quantise_run(ws, trained["run"])
            int8[name] = {"run": q.run_id, "test": q.metrics["test"], "seconds": q.seconds}
        entries = [
            (f"teacher ({args.teacher_model} h{args.teacher_hidden})", teacher),
            ("teacher int8", int8["teacher"]),
            (f"student (sasrec h{args.student_hidden}, distilled)", student),
            ("student int8", int8["student"]),
            (f"plain sasrec h{args.student_hidden} (no teacher)", plain),
        ]
        for label, entry in entries:
            size = describe(ws, entry["run"])
            rows.append({"model": label, "run": entry["run"], "NDCG@10": entry["test"].get("NDCG@10"),
                         "HR@10": entry["test"].get("HR@10"), "ms_per_user": ms_per_user(ws, entry["run"], args.users, args.seed),
                         "size_mb": size["mb"], "parameters": size["parameters"],
                         "epochs": entry.get("epochs"), "best_epoch": entry.get("best_epoch"),
                         "train_s": round(entry.get("seconds", 0.0), 1)})
    total = time.perf_counter() - started

    print(f"\nml-100k, leave-one-out, full ranking, seen items excluded; {args.users} users timed on 1 thread; "
          f"epochs <= {args.epochs}, patience {args.patience}; T={args.temperature:g}, alpha={args.alpha:g}")
    print(f"{'model':<36} {'NDCG@10':>8} {'HR@10':>7} {'ms/user':>8} {'MB':>7} {'params':>10} {'epochs':>8} {'train s':>8}")
    for r in rows:
        epochs = f"{r['epochs']} ({r['best_epoch']})" if r["epochs"] else "-"
        print(f"{r['model']:<36} {r['NDCG@10']:>8.4f} {r['HR@10']:>7.4f} {r['ms_per_user']:>8.2f} {r['size_mb']:>7.2f} "
              f"{r['parameters']:>10,} {epochs:>8} {r['train_s']:>8}")
    print(f"\ntotal {total:.0f} s on {platform.node()} ({platform.processor() or platform.machine()})")
    print(common.command_line(argv))
    print(json.dumps({"benchmark": "distill", "dataset": "ml-100k", "settings": vars(args), "rows": rows,
                      "seconds": round(total, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
