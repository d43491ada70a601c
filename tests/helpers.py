"""Helpers shared by test modules that drive the command line on tiny models."""

from __future__ import annotations

import json

import pytest

from recstudio.cli import main

#: Catalogue titles by theme: users who stay within one theme, and text that says which it is.
THEMES = {
    "fruit": ["Fresh apple", "Ripe banana", "Juicy orange", "Sweet mango", "Green pear", "Red cherries",
              "Seedless grapes", "Wild strawberries", "Golden pineapple", "Fresh peaches"],
    "tools": ["Claw hammer", "Cordless drill", "Phillips screwdriver", "Adjustable wrench", "Hand saw",
              "Steel pliers", "Tape measure", "Spirit level", "Utility knife", "Socket set"],
    "music": ["Acoustic guitar", "Digital piano", "Violin with bow", "Drum kit", "Electric bass guitar",
              "Brass trumpet", "Wooden flute", "Alto saxophone", "Ukulele", "Cello"],
    "sport": ["Football", "Tennis racket", "Basketball", "Running shoes", "Yoga mat", "Golf clubs",
              "Ski goggles", "Cycling helmet", "Boxing gloves", "Swimming goggles"],
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train faster on one thread, and do not fight other jobs on a shared machine for cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cli(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else None), err
