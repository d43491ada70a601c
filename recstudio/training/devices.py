"""What this machine can train on: the CPU and each GPU torch sees, described for a person."""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_cached: list[tuple[str, str]] | None = None


def available_devices() -> list[tuple[str, str]]:
    """``(device, label)`` pairs: ``auto`` (naming what it picks), ``cpu`` and each CUDA GPU with its
    name and memory (or Apple's MPS). Imports torch and initialises CUDA, so the first call can take a
    second; the answer is cached for the process (the GUI warms it up off its thread at launch)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = _detect()
        return list(_cached)


def _detect() -> list[tuple[str, str]]:
    import torch

    cores = os.cpu_count() or 1
    cpu = ("cpu", f"cpu — {torch.get_num_threads()} threads ({cores} logical cores)")
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append((f"cuda:{i}", f"cuda:{i} — {props.name}, {props.total_memory / 2**30:.0f} GiB"))
    mps = getattr(torch.backends, "mps", None)
    if not gpus and mps is not None and mps.is_available():
        gpus.append(("mps", "mps — Apple GPU"))
    best = gpus[0][1].split(" — ", 1)[1] if gpus else "the CPU (no GPU found)"
    return [("auto", f"auto — {best}"), cpu, *gpus]
