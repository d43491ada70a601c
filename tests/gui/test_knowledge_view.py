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
    assert sum(len(layer.data) for layer in view.layers) == record.n_items == len(view.map.titles)
    drawn = np.sort(np.concatenate([layer.data["data"].astype(int) for layer in view.layers]))
    np.testing.assert_array_equal(drawn, np.arange(record.n_items))  # every item once, under its own index
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


def test_a_large_map_is_drawn_whole_a_slice_at_a_time(qtbot, window):
    from recstudio.gui.views.knowledge import DRAW_SLICE, category_colours
    from recstudio.knowledge.maps import ItemMap

    n = 3 * DRAW_SLICE + 17
    rng = np.random.default_rng(0)
    groups = [("Home", "Toys", "Garden", "")[i % 4] for i in range(n)]
    item_map = ItemMap(rng.normal(size=(n, 2)), (0.2, 0.1), rng.normal(size=(n, 8)).astype(np.float32),
                       [f"text {i}" for i in range(n)], [f"title {i}" for i in range(n)], groups, "test")
    window.show_page("knowledge")
    view = window.pages["knowledge"]
    view.show_map(item_map, None)
    assert view.drawing  # the rest follows as the event loop turns
    qtbot.waitUntil(lambda: not view.drawing, timeout=10_000)
    drawn = np.sort(np.concatenate([layer.data["data"].astype(int) for layer in view.layers]))
    np.testing.assert_array_equal(drawn, np.arange(n))
    colours = category_colours(groups)
    names = [layer.name() for layer in view._legend_items]
    assert names == list(colours) + ["other / none"]
    for layer in view._legend_items:  # each layer holds exactly its category's items
        members = {groups[i] for i in layer.data["data"].astype(int)}
        assert members == ({layer.name()} if layer.name() in colours else {""})
    assert view._tip(0, 0, 5).startswith("title 5")
    view.show_map(item_map, None)  # a new map replaces the one being drawn, nothing doubled
    qtbot.waitUntil(lambda: not view.drawing, timeout=10_000)
    assert sum(len(layer.data) for layer in view.layers) == n
