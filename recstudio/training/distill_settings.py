"""Distillation's own settings (the teacher's temperature and the weight of its soft targets), importable
without torch: the training form offers them, and a request is checked against them before any work."""

from __future__ import annotations

from typing import Any

from recstudio.errors import RecStudioError

DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.5


def check_settings(temperature: Any, alpha: Any) -> tuple[float, float]:
    """``(temperature, alpha)`` as floats, or a user error saying what is allowed."""
    try:
        temperature, alpha = float(temperature), float(alpha)
    except (TypeError, ValueError):
        raise RecStudioError(f"Distillation needs numbers: temperature {temperature!r}, alpha {alpha!r}.") from None
    if not 0.0 < temperature <= 100.0:
        raise RecStudioError(f"The distillation temperature must be above 0 (usually 1-5), got {temperature:g}.")
    if not 0.0 <= alpha <= 1.0:
        raise RecStudioError(f"alpha (the weight of the teacher's soft targets) must be between 0 and 1, got {alpha:g}.")
    return temperature, alpha
