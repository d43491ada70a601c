"""The GPU check: SASRec and sasrec-lm on ml-100k with mixed precision on CUDA, beside the CPU figures.

    bash benchmarks/gpu_check.sh          # this, then the window's training flow on cuda (pytest-qt)
    python benchmarks/gpu_check.py [--cpu-epochs 3]

For each model: seconds per epoch, training samples/s, peak GPU memory and test NDCG@10 on cuda (bf16
or fp16 autocast, whichever the GPU supports), and the same run for a few epochs on the CPU for the
per-epoch figures. Prints a table and the command. Meant to finish in under 5 minutes on a CUDA machine.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/gpu_check.py
    import common


def train(model: str, device: str, workspace: str, train_config: dict) -> dict:
    import torch

    from recstudio.runs import TrainRequest
    from recstudio.training import Started

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    interactions, items = common.dataset_files()
    request = TrainRequest(data=interactions, items=items, model=model, device=device, workspace=workspace,
                           train_config=train_config)
    started_at, described = time.perf_counter(), ""

    def note_device(event) -> None:
        nonlocal described
        if isinstance(event, Started):
            described = event.device

    run = common.figures(common.train(request, on_event=note_device))
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    return {"model": model, "device": described or device, "epochs": run["epochs"],
            "s_per_epoch": run["s_per_epoch"], "samples_per_s": run["samples_per_s"],
            "peak_mib": peak, "NDCG@10": run["test"].get("NDCG@10"), "wall_s": time.perf_counter() - started_at}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="sasrec,sasrec-lm")
    p.add_argument("--cpu-epochs", type=int, default=2, help="epochs of the CPU comparison runs")
    p.add_argument("--gpu-epochs", type=int, default=200, help="epoch limit on the GPU (early stopping ends sooner)")
    args = p.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("No CUDA GPU here: the GPU check needs one (see benchmarks/gpu_check.sh).", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            rows.append(train(model, "cuda", str(Path(tmp) / "gpu.sqlite"), {"epochs": args.gpu_epochs}))
            rows.append(train(model, "cpu", str(Path(tmp) / "cpu.sqlite"), {"epochs": args.cpu_epochs}))
    print(f"command: python benchmarks/gpu_check.py --models {args.models} --cpu-epochs {args.cpu_epochs}")
    print(f"machine: {platform.machine()}, torch {torch.__version__}, {torch.cuda.get_device_name(0)}, "
          f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no (fp16 with loss scaling)'}")
    print(f"{'model':<10} {'device':<34} {'epochs':>6} {'s/epoch':>8} {'samples/s':>10} {'peak MiB':>9} {'NDCG@10':>8}")
    for r in rows:
        peak = f"{r['peak_mib']:.0f}" if r["peak_mib"] is not None else "—"
        ndcg = f"{r['NDCG@10']:.4f}" if r["NDCG@10"] is not None else "—"
        print(f"{r['model']:<10} {r['device'][:34]:<34} {r['epochs']:>6} {r['s_per_epoch']:>8.2f} "
              f"{r['samples_per_s']:>10,.0f} {peak:>9} {ndcg:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
