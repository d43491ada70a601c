"""The ground floor: what this machine can compute on (the CPU, each GPU torch sees) and the device a
run asks for, resolved. Everything above may import it; it imports nothing of RecStudio but errors."""

from __future__ import annotations

import os
import threading

from recstudio.errors import RecStudioError

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


def resolve_device(device: str = "auto"):
    """``auto`` picks CUDA, then Apple MPS, then CPU; an unavailable explicit choice is a user error."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RecStudioError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto.")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RecStudioError("--device mps was asked for but Apple MPS is not available; use --device cpu or auto.")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise RecStudioError(f"Unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps.")
    return torch.device(device)
