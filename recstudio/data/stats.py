"""Statistics of an imported dataset in the analyst's words: the summary numbers, the three shape plots'
data (popularity long tail, history lengths, events over time) and the item table's columns. Pure numpy
and pandas, vectorised for millions of events; the dataset view only draws them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recstudio.data.catalogue import category_text

DAY = 86_400
POPULARITY_POINTS = 2_000  # a long tail is drawn from this many log-spaced ranks at most
HISTORY_BINS = 40


def time_span_text(start: str | None, end: str | None) -> str:
    """"20 Sep 1997 – 22 Apr 1998 (7 months)" from two ISO-8601 times."""
    if not start or not end:
        return "no timestamps (events in file order)"
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    days = (last - first).total_seconds() / DAY
    if days < 2:
        length = f"{days * 24:.0f} hours"
    elif days < 62:
        length = f"{days:.0f} days"
    elif days < 730:
        length = f"{days / 30.44:.0f} months"
    else:
        length = f"{days / 365.25:.1f} years"
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y} ({length})"


def sparsity(users: int, items: int, events: int) -> float:
    """Share of the user × item matrix with no event: 1 − events / (users · items)."""
    cells = users * items
    return 1.0 - events / cells if cells else 0.0


@dataclass(frozen=True)
class SummaryItem:
    key: str  # objectName suffix, e.g. "users"
    label: str
    value: str
    tip: str = ""


def dataset_summary(record, dataset) -> list[SummaryItem]:
    """The numbers at the top of the view, in the analyst's words."""
    report = dataset.report
    lengths = np.diff(dataset.indptr)
    dropped = sum(report.dropped.values())
    dropped_text = f"{dropped:,}" + (" (" + ", ".join(f"{n:,} {why}" for why, n in report.dropped.items()) + ")"
                                     if dropped else "")
    catalogue = [c for c in dataset.items.columns if c != "item_id"]
    empty_share = sparsity(dataset.n_users, dataset.n_items, dataset.n_events)
    source = getattr(record, "source", None) or report.source
    items_source = getattr(record, "items_source", None)
    return [
        SummaryItem("users", "Users", f"{dataset.n_users:,}"),
        SummaryItem("items", "Items", f"{dataset.n_items:,}"),
        SummaryItem("events", "Events", f"{dataset.n_events:,}"),
        SummaryItem("sparsity", "Sparsity", f"{100 * empty_share:.2f} %",
                    "Share of the user × item matrix with no event: 1 − events / (users × items)"),
        SummaryItem("history", "Events per user",
                    f"{np.median(lengths):,.0f} median · {lengths.mean():,.1f} mean" if len(lengths) else "–",
                    "How long users' histories are"),
        SummaryItem("span", "Time span", time_span_text(report.time_start, report.time_end)),
        SummaryItem("source", "Source file", Path(source).name if source else "–", source or ""),
        SummaryItem("catalogue", "Catalogue columns",
                    ", ".join(catalogue) if catalogue else "none (no catalogue joined)", items_source or ""),
        SummaryItem("dropped", "Rows dropped at import", dropped_text),
        *basket_items(dataset),
    ]


def basket_items(dataset) -> list[SummaryItem]:
    """The baskets (a basket column's values, or events sharing a time), how big, how many events share
    one, and the warning when leave-one-out would split them ("" when it would not)."""
    from recstudio.data.basket_report import basket_column, basket_warning
    from recstudio.data.baskets import basket_summary

    summary = basket_summary(dataset)  # counted afresh: a dataset imported before baskets were counted too
    column = basket_column(dataset.report)
    by = f"values of column “{column}”" if column else "a user's events sharing a time"
    count = summary["baskets"]
    baskets = (f"{count:,} ({by}) · {summary['events_per_basket']:,.1f} events each on average, median "
               f"{summary['events_per_basket_median']:,g}, max {summary['events_per_basket_max']:,}") if count else "–"
    share = summary["same_time_share"]
    shared = (f"{summary['shared_time_events']:,} events share their basket with another event of their user; "
              f"for {share:.0%} of users the last event shares its basket with the one before")
    return [
        SummaryItem("baskets", "Baskets", baskets,
                    "A basket is one invoice, order or session: the events of a user with the same basket-column "
                    "value, or, without a basket column, with the same time"),
        SummaryItem("shared", "Shared baskets", shared if count else "–",
                    "same_time_share: how often leave-one-out's held-out event is one line of a basket whose "
                    "other lines are in the history"),
        SummaryItem("basket_warning", "", basket_warning({"columns": dataset.report.columns, "same_time_share": share})),
    ]


@dataclass(frozen=True)
class DatasetPlots:
    popularity_rank: np.ndarray  # item rank (1 = most popular), log-spaced subsample
    popularity_events: np.ndarray  # events of the item at that rank
    history_edges: np.ndarray  # histogram bin edges of events per user (len = counts + 1)
    history_counts: np.ndarray  # users per bin
    time_edges: np.ndarray  # bucket edges in Unix seconds (len = counts + 1); empty without timestamps
    time_counts: np.ndarray  # events per bucket
    time_bucket: str  # "day", "week" or "month" ("" without timestamps)


def plot_data(dataset) -> DatasetPlots:
    """The three plots' data, computed with vectorised numpy (fine for millions of events)."""
    popularity = np.sort(dataset.item_popularity())[::-1]
    popularity = popularity[popularity > 0]
    n = len(popularity)
    if n > POPULARITY_POINTS:
        ranks = np.unique(np.geomspace(1, n, POPULARITY_POINTS).round().astype(np.int64))
    else:
        ranks = np.arange(1, n + 1)
    lengths = np.diff(dataset.indptr)
    lengths = lengths[lengths > 0]
    if len(lengths):
        low, top = int(lengths.min()), int(lengths.max()) + 1
        edges = np.unique(np.geomspace(low, top, HISTORY_BINS + 1).astype(np.int64))
        if edges[-1] < top:
            edges = np.append(edges, top)
        if len(edges) < 2:
            edges = np.array([low, top + 1])
        counts, _ = np.histogram(lengths, bins=edges)
    else:
        edges, counts = np.zeros(0), np.zeros(0)
    time_edges, time_counts, bucket = events_over_time(dataset)
    return DatasetPlots(ranks.astype(float), popularity[ranks - 1].astype(float), edges.astype(float),
                        counts.astype(float), time_edges, time_counts, bucket)


def events_over_time(dataset) -> tuple[np.ndarray, np.ndarray, str]:
    """Events per day, week (from Monday) or month, whichever suits the span: (bucket edges in Unix
    seconds, counts, bucket name); empty arrays and "" without timestamps."""
    if dataset.report.timestamp_format == "file order" or dataset.n_events == 0:
        return np.zeros(0), np.zeros(0), ""
    seconds = dataset.interactions["timestamp"].to_numpy().astype(np.int64)
    lo, hi = int(seconds.min()), int(seconds.max())
    span_days = (hi - lo) / DAY
    if span_days <= 120:
        bucket, starts = "day", (seconds // DAY) * DAY
        step = DAY
    elif span_days <= 3 * 365:
        day = seconds // DAY
        monday = day - (day + 3) % 7  # 1 Jan 1970 was a Thursday
        bucket, starts, step = "week", monday * DAY, 7 * DAY
    else:
        months = seconds.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
        first, last = int(months.min()), int(months.max())
        counts = np.bincount(months - first, minlength=last - first + 1)
        edges = np.arange(first, last + 2).astype("datetime64[M]").astype("datetime64[s]").astype(np.int64)
        return edges.astype(float), counts.astype(float), "month"
    first = int(starts.min())
    counts = np.bincount((starts - first) // step)
    edges = first + step * np.arange(len(counts) + 1)
    return edges.astype(float), counts.astype(float), bucket


def item_table_columns(dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids, titles, categories, events) per item; titles and categories are blank without a catalogue."""
    items = dataset.items
    blank = np.full(dataset.n_items, "", dtype=object)
    title_column = next((c for c in ("title", "name") if c in items.columns), None)
    titles = items[title_column].astype("string").fillna("").to_numpy(dtype=object) if title_column else blank
    categories = category_text(items["category"]) if "category" in items.columns else blank
    return dataset.item_ids.astype(object), titles, categories, dataset.item_popularity()
