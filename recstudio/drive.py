"""Run an event generator (fit, train_run, an encoder) to its end and hand back what it returns."""

from __future__ import annotations

from typing import Any, Callable, Generator, TypeVar

Result = TypeVar("Result")


def drive(gen: Generator[Any, Any, Result], on_event: Callable[[Any], Any] | None = None) -> Result:
    """Exhaust ``gen``, calling ``on_event(event)`` for each event it yields, in order, and return the
    generator's return value. An exception raised inside the generator (or by ``on_event``) propagates.

    For callers that only watch the events; one that re-yields them (a job feeding the window) or
    stops early on a cancel flag keeps its own loop or ``yield from``.
    """
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)
