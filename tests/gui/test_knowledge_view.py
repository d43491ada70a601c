"""The Knowledge page: item text encoded by the offline MiniLM, mapped in 2-D, neighbours on click."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from recstudio.knowledge.maps import project_2d

ML100K = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ml-100k"


def test_project_2d_finds_the_main_directions():
    rng = np.random.default_rng(0)
    x = np.zeros((200, 10))
    x[:, 3] = rng.normal(0, 10, 200)  # the widest spread
    x[:, 7] = rng.normal(0, 3, 200)
    x += rng.normal(0, 0.1, x.shape)
    coords, (a, b) = project_2d(x)
    assert coords.shape == (200, 2)
    assert abs(np.corrcoef(coords[:, 0], x[:, 3])[0, 1]) > 0.99
    assert abs(np.corrcoef(coords[:, 1], x[:, 7])[0, 1]) > 0.99
    assert a > 0.85 and 0.05 < b < a


def test_map_the_catalogue_and_find_neighbours(qtbot, window):
    from recstudio.runs import ImportRequest, import_or_reuse

    if not (ML100K / "items.csv").exists():
        pytest.skip("ml-100k is not in ../shared/datasets")
    record, _ = import_or_reuse(window.context.workspace,
                                ImportRequest(str(ML100K / "interactions.csv"), str(ML100K / "items.csv")))
    window.context.set_dataset(record)
    window.show_page("knowledge")
    view = window.pages["knowledge"]
    view.template.setText("{title}. Genres: {category}.")
    qtbot.mouseClick(view.map_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.map is not None, timeout=300_000)
    assert len(view.scatter.data) == record.n_items == len(view.map.titles)
    assert np.isfinite(view.map.coords).all() and view.map.coords.std(axis=0).min() > 0
    assert view._legend_items  # categories have colours
    # the tooltip names the item under the mouse
    assert view._tip(0, 0, 5) .startswith(view.map.titles[5])
    # neighbours by text: sequels sit next to their originals
    titles = view.map.titles
    star_wars = next(i for i, t in enumerate(titles) if t.startswith("Star Wars"))
    near = view.select_item(star_wars)
    assert view.neighbours.rowCount() == 10
    near_titles = [titles[j] for j, _ in near]
    assert any("Empire Strikes Back" in t or "Return of the Jedi" in t for t in near_titles[:5]), near_titles
    sims = [s for _, s in near]
    assert sims == sorted(sims, reverse=True) and sims[0] < 1.0 + 1e-6
    # a second map of the same catalogue reuses the cached vectors
    qtbot.waitUntil(lambda: view.map_button.isEnabled())
    first = view.map.coords.copy()
    view.map = None
    view.build_map()
    qtbot.waitUntil(lambda: view.map is not None, timeout=60_000)
    np.testing.assert_allclose(view.map.coords, first, atol=1e-4)
