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


#: The planted rule of the transfer catalogues: after an item of one theme comes an item of the next.
SUCCESSOR = {"fruit": "tools", "tools": "music", "music": "sport", "sport": "fruit"}


def successor_catalogue(folder, prefix: str, seed: int, users: int = 80, length: int = 12):
    """``(events.csv, catalogue.csv)`` of a catalogue whose item ids all start with ``prefix`` (so two
    prefixes share no id) and whose titles and categories are :data:`THEMES`' (so they share all text).
    Each user's next item is of the theme after their last one (:data:`SUCCESSOR`), never an item they had."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    themes = list(THEMES)
    catalogue = [{"sku": f"{prefix}{t}{i}", "title": title, "category": theme.title()}
                 for t, (theme, titles) in enumerate(THEMES.items()) for i, title in enumerate(titles)]
    rows = []
    for user in range(users):
        theme = themes[rng.integers(len(themes))]
        left = {th: list(rng.permutation(len(THEMES[th]))) for th in themes}
        for n in range(length):
            rows.append({"user": f"{prefix}u{user}", "sku": f"{prefix}{themes.index(theme)}{left[theme].pop()}",
                         "time": 1_600_000_000 + user * 1000 + n})
            theme = SUCCESSOR[theme]
    events, items = folder / f"{prefix}-events.csv", folder / f"{prefix}-catalogue.csv"
    pd.DataFrame(rows).to_csv(events, index=False)
    pd.DataFrame(catalogue).to_csv(items, index=False)
    return events, items
