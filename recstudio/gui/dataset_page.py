"""What the dataset page shows, worked out off the GUI thread: the summary, the plots and the item table
with its search text and every column's sort order ready, so showing a million-event dataset is only
handing arrays to the widgets. Plain values in and out; nothing here touches a widget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ItemTable:
    """The item table's columns (ids, titles, categories, events), the lower-cased text a filter
    searches, and each column's ascending (stable) order."""

    columns: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    haystack: pd.Series
    orders: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

    @property
    def n(self) -> int:
        return len(self.columns[3])


def item_table(ids, titles, categories, events) -> ItemTable:
    columns = (np.asarray(ids, dtype=object), np.asarray(titles, dtype=object),
               np.asarray(categories, dtype=object), np.asarray(events, dtype=np.int64))
    text = [pd.Series(c, dtype="str") for c in columns[:3]]
    haystack = (text[0] + "\x1f" + text[1] + "\x1f" + text[2]).str.lower()
    orders = []
    for column, values in enumerate(columns):
        if column == 3:
            key = values
        else:
            numbers = pd.to_numeric(pd.Series(values), errors="coerce") if column == 0 else None
            if numbers is not None and numbers.notna().all():  # numeric ids sort as numbers
                key = numbers.to_numpy()
            else:
                key = text[column].str.lower().to_numpy(dtype=object)
        orders.append(np.argsort(key, kind="stable"))
    return ItemTable(columns, haystack, tuple(orders))


@dataclass(frozen=True)
class DatasetPage:
    record: Any  # recstudio.workspace.DatasetRecord
    summary: list  # recstudio.data.stats.SummaryItem
    plots: Any  # recstudio.data.stats.DatasetPlots
    items: ItemTable


def page_data(record, dataset) -> DatasetPage:
    from recstudio.data.stats import dataset_summary, item_table_columns, plot_data

    return DatasetPage(record, dataset_summary(record, dataset), plot_data(dataset),
                       item_table(*item_table_columns(dataset)))


def dataset_page_job(workspace_path: str, record) -> DatasetPage:
    """The job behind opening the dataset page: the dataset read by the job's own connection."""
    from recstudio.workspace import Workspace

    with Workspace(workspace_path) as workspace:
        dataset = workspace.load_dataset(record.id)
    return page_data(record, dataset)
