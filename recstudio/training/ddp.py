"""Distributed data-parallel training under torchrun (PyTorch DDP): the process group and its helpers.

    torchrun --nproc_per_node=N -m recstudio train DATA --model sasrec --distributed
    torchrun --nnodes=2 --node_rank=R --rdzv_endpoint=HOST:PORT --nproc_per_node=N -m recstudio train ... --distributed

Each process is one rank; torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous. On GPUs every
rank drives ``cuda:LOCAL_RANK`` with NCCL; on CPUs the ranks talk over gloo. :func:`recstudio.training.fit`
gives every rank the same shuffled order of training windows (same seed), so each optimiser step takes
one *global* batch of ``batch_size`` windows and every rank computes its share of it; DDP averages the
gradients. Validation ranks a shard of the users on each rank and gathers the ranks, so the metrics are
those of a single process. Rank 0 alone writes the workspace and checkpoints; the workspace must be on a
filesystem every rank can read (as for any torchrun job's checkpoints).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from recstudio.errors import RecStudioError


@dataclass
class Distributed:
    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: str  # the device this rank trains on ("cpu" or "cuda:N")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model):
        """The model wrapped in DistributedDataParallel (gradients averaged across ranks)."""
        from torch.nn.parallel import DistributedDataParallel

        if self.device.startswith("cuda"):
            return DistributedDataParallel(model, device_ids=[self.local_rank], output_device=self.local_rank)
        return DistributedDataParallel(model)

    def share(self, rows: np.ndarray) -> np.ndarray:
        """This rank's part of one global batch (rows of the same shuffled order on every rank)."""
        return rows[self.rank :: self.world_size]

    def mean(self, value) -> float:
        """The mean over ranks of a scalar (a float or a 0-d tensor)."""
        import torch
        import torch.distributed as dist

        tensor = torch.as_tensor(value, dtype=torch.float64, device=self._comm_device()).detach().reshape(1).clone()
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return float(tensor.item()) / self.world_size

    def gather(self, array: np.ndarray) -> np.ndarray:
        """Every rank's array, concatenated in rank order, on every rank."""
        import torch.distributed as dist

        parts: list[Any] = [None] * self.world_size
        dist.all_gather_object(parts, np.asarray(array))
        return np.concatenate(parts)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def _comm_device(self) -> str:
        return self.device if self.backend == "nccl" else "cpu"


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def init_from_env(device: str = "auto", timeout_s: float = 1800.0) -> Distributed:
    """Join the process group torchrun set up (``env://``); gloo on CPU, NCCL on CUDA."""
    import torch
    import torch.distributed as dist

    if not launched_by_torchrun():
        raise RecStudioError("--distributed needs torchrun: torchrun --nproc_per_node=N -m recstudio train ... "
                             "--distributed (or drop --distributed to train in this process).")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    wanted = (device or "auto").lower()
    use_cuda = torch.cuda.is_available() and wanted in ("auto", "cuda") or wanted.startswith("cuda:")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise RecStudioError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto.")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        backend, rank_device = "nccl", f"cuda:{local_rank}"
    else:
        backend, rank_device = "gloo", "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return Distributed(rank, world, local_rank, backend, rank_device)


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def shard_cases(cases, rank: int, world_size: int):
    """Every ``world_size``-th evaluation case from ``rank`` on, as a smaller EvalCases."""
    return cases.subset(np.arange(rank, len(cases), world_size))
