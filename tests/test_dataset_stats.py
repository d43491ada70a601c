"""Dataset statistics without a window: the summary numbers, the three plots' data and the item table,
on a small generated log whose counts are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recstudio.data import import_interactions
from recstudio.data.stats import (
    dataset_summary, events_over_time, item_table_columns, plot_data, sparsity, time_span_text,
)

DAY = 86_400
START = 1_700_006_400  # Wed 15 Nov 2023 00:00 UTC


@pytest.fixture
def shop(tmp_path):
    """Five users, four items: item a is bought by everyone, d by one; one event per user and day."""
    histories = {"u1": "abcd", "u2": "abc", "u3": "ab", "u4": "ab", "u5": "a"}
    rows = [(user, item, START + day * DAY) for user, items in histories.items() for day, item in enumerate(items)]
    log = tmp_path / "log.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(log, index=False)
    items = tmp_path / "items.csv"
    pd.DataFrame({"item_id": list("abcd"), "title": ["Apple", "Bread", "Cheese", "Dates"],
                  "category": ["fruit|fresh", "bakery", "dairy", "fruit"]}).to_csv(items, index=False)
    return import_interactions(str(log), items_path=str(items))


def test_the_plots_count_every_event_user_and_item(shop):
    data = plot_data(shop)
    assert data.popularity_rank.tolist() == [1, 2, 3, 4]
    assert data.popularity_events.tolist() == [5, 4, 2, 1]  # a, b, c, d: the long tail, most popular first
    assert data.history_counts.sum() == 5  # one entry per user
    assert len(data.history_edges) == len(data.history_counts) + 1
    assert data.time_bucket == "day" and data.time_counts.tolist() == [5, 4, 2, 1]
    assert data.time_edges[0] == START and np.all(np.diff(data.time_edges) == DAY)


def test_summary_numbers_in_the_analysts_words(shop):
    values = {item.key: item.value for item in dataset_summary(None, shop)}
    assert values["users"] == "5" and values["items"] == "4" and values["events"] == "12"
    assert values["sparsity"] == "40.00 %"  # 1 − 12 / (5 × 4)
    assert values["history"] == "2 median · 2.4 mean"
    assert values["span"] == "15 Nov 2023 – 18 Nov 2023 (3 days)"
    assert values["dropped"] == "0"
    assert "title" in values["catalogue"] and "category" in values["catalogue"]


def test_item_table_columns_read_the_catalogue(shop):
    ids, titles, categories, events = item_table_columns(shop)
    order = np.argsort(ids)
    assert ids[order].tolist() == list("abcd")
    assert titles[order].tolist() == ["Apple", "Bread", "Cheese", "Dates"]
    assert categories[order][0] == "fruit, fresh"  # several categories read as a list
    assert events[order].tolist() == [5, 4, 2, 1]


def test_a_log_without_times_has_no_time_plot(tmp_path):
    log = tmp_path / "plain.csv"
    pd.DataFrame({"user_id": ["x", "x", "y"], "item_id": ["p", "q", "p"]}).to_csv(log, index=False)
    dataset = import_interactions(str(log))
    edges, counts, bucket = events_over_time(dataset)
    assert len(edges) == 0 and len(counts) == 0 and bucket == ""
    assert {item.key: item.value for item in dataset_summary(None, dataset)}["span"] == \
        "no timestamps (events in file order)"


def test_plain_numbers():
    assert sparsity(10, 10, 25) == pytest.approx(0.75)
    assert sparsity(0, 0, 0) == 0.0
    assert time_span_text("2010-12-01T08:26:00+00:00", "2010-12-01T20:26:00+00:00") == \
        "1 Dec 2010 – 1 Dec 2010 (12 hours)"
    assert time_span_text(None, None) == "no timestamps (events in file order)"
