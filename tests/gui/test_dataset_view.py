"""The dataset view on real data: summary numbers, plots with data, and the searchable item table."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from recstudio.gui.views.dataset import plot_data, sparsity, time_span_text
from recstudio.runs import ImportRequest, import_or_reuse


@pytest.fixture
def movielens_view(window, ml100k):
    interactions, items = ml100k
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(interactions), str(items)))
    window.context.set_dataset(record)
    window.show_page("data")
    return window.pages["data"]


def test_empty_state_before_a_dataset_is_open(window):
    window.show_page("data")
    view = window.pages["data"]
    assert view.stack.currentWidget() is view.empty
    assert view.empty.text() == "Open a dataset from the Start page"


def test_summary_numbers_for_movielens(movielens_view):
    values = {key: label.text() for key, label in movielens_view.summary_values.items()}
    assert values["users"] == "943"
    assert values["items"] == "1,682"
    assert values["events"] == "100,000"
    assert values["sparsity"] == "93.70 %"  # 1 − 100,000 / (943 × 1,682)
    assert "Sep 1997" in values["span"] and "Apr 1998" in values["span"]
    assert values["source"] == "interactions.csv"
    assert "title" in values["catalogue"] and "category" in values["catalogue"]
    assert values["dropped"] == "0"
    assert movielens_view.stack.currentIndex() == 1


def test_plots_have_data(movielens_view):
    for curve in (movielens_view.popularity_curve, movielens_view.history_curve, movielens_view.time_curve):
        x, y = curve.getData()
        assert x is not None and len(x) > 0 and len(y) > 0
    assert "week" in movielens_view.time_plot.getPlotItem().getAxis("left").labelText


def test_plot_data_adds_up(window, ml100k):
    interactions, items = ml100k
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(interactions), str(items)))
    dataset = window.context.load_dataset(record.id)
    data = plot_data(dataset)
    assert data.popularity_rank[0] == 1 and data.popularity_events[0] == 583  # Star Wars
    assert np.all(np.diff(data.popularity_events) <= 0)
    assert data.history_counts.sum() == 943
    assert len(data.history_edges) == len(data.history_counts) + 1
    assert data.time_counts.sum() == 100_000 and data.time_bucket == "week"
    assert sparsity(943, 1682, 100_000) == pytest.approx(0.93695, abs=1e-5)
    assert time_span_text("2010-12-01T08:26:00+00:00", "2011-12-09T12:50:00+00:00") == \
        "1 Dec 2010 – 9 Dec 2011 (12 months)"


def test_item_filter_finds_star_wars(qtbot, movielens_view):
    table, model = movielens_view.item_table, movielens_view.item_model
    assert model.rowCount() == 1682
    assert model.index(0, 1).data() == "Star Wars"  # most events first
    qtbot.keyClicks(movielens_view.item_filter, "STAR wars")
    qtbot.waitUntil(lambda: model.rowCount() < 1682)
    titles = [model.index(r, 1).data() for r in range(model.rowCount())]
    assert titles == ["Star Wars"]
    assert model.index(0, 0).data() == "50" and model.index(0, 3).data() == "583"
    assert movielens_view.item_count.text() == "1 of 1,682 items"

    movielens_view.item_filter.setText("sci-fi")  # categories match too
    movielens_view.apply_filter()
    assert 50 < model.rowCount() < 1682
    movielens_view.item_filter.clear()
    movielens_view.apply_filter()
    assert model.rowCount() == 1682

    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # numeric ids sort as numbers
    assert [model.index(r, 0).data() for r in range(3)] == ["1", "2", "3"]
    table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    first = [model.index(r, 1).data().lower() for r in range(20)]
    assert first == sorted(first)


def test_a_log_without_times_shows_a_note_instead_of_a_timeline(qtbot, window, tmp_path):
    log = tmp_path / "clicks.csv"
    log.write_text("user_id,item_id\n" + "".join(f"u{i % 13},i{i % 17}\n" for i in range(300)))
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(log)))
    window.context.set_dataset(record)
    window.show_page("data")
    view = window.pages["data"]
    assert "file order" in view.summary_values["span"].text()
    assert "No timestamps" in view.time_note.toPlainText()
    x, _y = view.time_curve.getData()
    assert x is None or len(x) == 0
    assert view.summary_values["catalogue"].text().startswith("none")


def test_view_follows_the_current_dataset(qtbot, window, ml100k, tmp_path):
    interactions, items = ml100k
    window.show_page("data")
    first, _ = import_or_reuse(window.context.workspace, ImportRequest(str(interactions), str(items)))
    window.context.set_dataset(first)
    view = window.pages["data"]
    view.item_filter.setText("star")
    view.apply_filter()
    log = tmp_path / "small.csv"
    log.write_text("user_id,item_id,timestamp\n" + "".join(f"u{i % 5},i{i % 9},{1_600_000_000 + i}\n"
                                                            for i in range(60)))
    second, _ = import_or_reuse(window.context.workspace, ImportRequest(str(log)))
    window.context.set_dataset(second)
    assert view.summary_values["users"].text() == "5"
    assert view.item_filter.text() == "" and view.item_model.rowCount() == 9  # a new dataset, a fresh search
    window.context.set_dataset(None)
    assert view.stack.currentWidget() is view.empty


def test_a_large_dataset_is_read_in_the_background_then_shown(qtbot, window, ml100k, monkeypatch):
    from recstudio.gui.views import dataset as dataset_view

    monkeypatch.setattr(dataset_view, "BACKGROUND_EVENTS", 10_000)  # ml-100k counts as large here
    interactions, items = ml100k
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(interactions), str(items)))
    window.show_page("data")
    view = window.pages["data"]
    window.context.set_dataset(record)
    assert view.loading and view.stack.currentWidget() is view.empty
    assert "Reading" in view.empty.text() and "100,000 events" in view.empty.text()
    qtbot.waitUntil(lambda: view.stack.currentIndex() == 1, timeout=30_000)
    assert view.summary_values["users"].text() == "943"
    assert view.item_model.rowCount() == 1682 and view.item_model.index(0, 1).data() == "Star Wars"
    window.context.set_dataset(None)  # a dataset closed while another is being read shows nothing stale
    assert view.stack.currentWidget() is view.empty and not view.loading


def test_item_table_sorts_and_searches_fifty_thousand_items(qtbot):
    from recstudio.gui.views.dataset import ItemTableModel

    n = 50_000
    rng = np.random.default_rng(0)
    ids = np.array([str(100_000 + i) for i in rng.permutation(n)], dtype=object)
    titles = np.array([f"{('red', 'Blue', 'green')[i % 3]} thing {i}" for i in range(n)], dtype=object)
    categories = np.array([("Home", "Toys", "")[i % 3] for i in range(n)], dtype=object)
    events = rng.integers(0, 1000, n)
    model = ItemTableModel()
    model.set_items(ids, titles, categories, events)
    assert model.rowCount() == n and model.total == n
    shown = [int(model.index(r, 3).data().replace(",", "")) for r in range(50)]
    assert shown == sorted(events.tolist(), reverse=True)[:50]  # most events first
    model.sort(0, Qt.SortOrder.AscendingOrder)
    assert [model.index(r, 0).data() for r in range(3)] == ["100000", "100001", "100002"]
    model.sort(1, Qt.SortOrder.DescendingOrder)
    first = [model.index(r, 1).data().lower() for r in range(200)]
    assert first == sorted(first, reverse=True) and first[0].startswith("red")
    model.set_filter("BLUE thing 4999")
    found = sorted(model.index(r, 1).data() for r in range(model.rowCount()))
    assert found == sorted(f"Blue thing {i}" for i in range(n) if i % 3 == 1 and str(i).startswith("4999"))
    model.set_filter("toys")  # the category is searched too
    assert model.rowCount() == len([i for i in range(n) if i % 3 == 1])
    model.set_filter("")
    assert model.rowCount() == n and model.index(0, 1).data().lower() == first[0]


def test_baskets_and_the_leave_one_out_warning_for_the_sample(window):
    from recstudio.data import sample_paths

    record, _ = import_or_reuse(window.context.workspace, ImportRequest(*map(str, sample_paths())))
    window.context.set_dataset(record)
    window.show_page("data")
    view = window.pages["data"]
    values = {key: label.text() for key, label in view.summary_values.items()}
    assert values["baskets"] == ("4,622 (values of column “invoice_no”) · 17.1 events each on average, "
                                 "median 13, max 100")
    assert values["shared"].startswith("78,755 events share their basket")
    assert "for 95% of users the last event shares its basket" in values["shared"]
    assert view.basket_warning.isVisible()
    assert values["basket_warning"].startswith("Leave-one-out would split baskets: for 95% of the users")
    assert "--split last-basket" in values["basket_warning"]


def test_movielens_baskets_are_shared_times(movielens_view):
    values = {key: label.text() for key, label in movielens_view.summary_values.items()}
    assert values["baskets"].startswith("49,439 (a user's events sharing a time) · 2.0 events each")
    assert "for 44% of users" in values["shared"]
    assert movielens_view.basket_warning.isVisible()
    assert "the same time as the one before it" in values["basket_warning"]


def test_no_warning_when_few_last_events_share_a_time(window, tmp_path):
    rows = "".join(f"u{u},i{k},{1000 * k + u}\n" for u in range(20) for k in range(4))
    path = tmp_path / "distinct.csv"
    path.write_text("user_id,item_id,timestamp\n" + rows)
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(path)))
    window.context.set_dataset(record)
    window.show_page("data")
    view = window.pages["data"]
    assert view.summary_values["baskets"].text().startswith("80 (a user's events sharing a time) · 1.0 events")
    assert not view.basket_warning.isVisible() and view.basket_warning.text() == ""
