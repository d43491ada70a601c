"""New events (and new catalogue items) added to an imported dataset: the next version of that dataset.

The new file goes through the same importer (column guessing, timestamp parsing, cleaning); its users
and items are then mapped onto the dataset's codes: ids already known keep their index, new users and
new items get the next free ones, in order of first appearance (events first, then catalogue-only items).
Nothing is written here; the workspace stores the result as a new dataset in one transaction.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recstudio.data.basket_order import basket_order
from recstudio.data.basket_report import WARNING_START, report_baskets
from recstudio.data.dataset import Dataset, ImportReport
from recstudio.errors import RecStudioError

FILE_ORDER = "file order"


@dataclass
class Appended:
    """The next version of a dataset and what changed."""

    dataset: Dataset
    added_events: int
    duplicates: int  # rows of the new file that repeat an event the dataset already had (dropped)
    new_users: list[str]
    new_items: list[str]  # every item that is new, in index order (from n_items of the old version on)
    catalogue_only: list[str]  # new items from the catalogue that have no event yet
    touched_users: np.ndarray  # int64 user indices with new events
    report: ImportReport  # the new file's own import report
    notes: list[str] = field(default_factory=list)


def append_events(dataset: Dataset, events_path, *, items_path=None, roles=None, options=None,
                  name: str | None = None) -> Appended:
    """``dataset`` with the events of ``events_path`` (and the new items of catalogue ``items_path``) added."""
    from recstudio.data.catalogue import join_catalogue
    from recstudio.data.importer import ImportOptions, import_interactions
    from recstudio.data.reading import read_table

    options = options or ImportOptions()
    if roles is None:
        roles = _same_roles(dataset, events_path)
    new = import_interactions(events_path, roles=roles, options=options)
    item_column = new.report.columns.get("item", "item")

    user_codes, new_users = _extend(dataset.user_ids, new.user_ids)
    item_codes, new_event_items = _extend(dataset.item_ids, new.item_ids)
    catalogue_only: list[str] = []
    if items_path is not None:
        table, _ = read_table(items_path)
        from recstudio.data.catalogue import catalogue_key_column

        key = catalogue_key_column(table, item_column, options.item_key, Path(items_path).name)
        known = set(map(str, dataset.item_ids)) | set(new_event_items)
        listed = pd.unique(table[key].dropna().astype(str).to_numpy())
        catalogue_only = [i for i in listed if i not in known]
    new_items = new_event_items + catalogue_only

    inter = new.interactions
    users = user_codes[inter["user"].to_numpy()].astype(np.int32)
    items = item_codes[inter["item"].to_numpy()].astype(np.int32)
    seconds = inter["timestamp"].to_numpy().astype(np.int64)
    notes: list[str] = []
    old = dataset.interactions
    old_format, new_format = dataset.report.timestamp_format, new.report.timestamp_format
    if FILE_ORDER in (old_format, new_format):
        # times that cannot be compared with the dataset's: the new events come after every old one, in order
        last = int(old["timestamp"].max()) if len(old) else 0
        seconds = last + 1 + np.argsort(np.argsort(seconds, kind="stable"), kind="stable").astype(np.int64)
        if old_format != new_format:
            notes.append(f"The dataset's times are {old_format or 'unknown'} and the new file's {new_format}; "
                         "the new events were placed after every earlier one, in their own order.")

    added = pd.DataFrame({"user": users, "item": items, "timestamp": seconds})
    for column in ("rating", "quantity"):
        if column in old.columns or column in inter.columns:
            added[column] = (inter[column].to_numpy().astype(np.float32) if column in inter.columns
                             else np.full(len(inter), np.nan, dtype=np.float32))
    if "event" in old.columns or "event" in inter.columns:
        added["event"] = inter["event"].astype(object).to_numpy() if "event" in inter.columns else None
    if "basket" in old.columns:
        added["basket"] = _new_baskets(old, inter, users, seconds)
    elif "basket" in inter.columns:
        notes.append(f"The new file's basket column {new.report.columns.get('basket')!r} was not used: the "
                     "dataset has none, so its baskets stay the events of a user sharing a time.")

    duplicate = _already_there(old, added)
    duplicates = int(duplicate.sum())
    added = added[~duplicate].reset_index(drop=True)
    if len(added) == 0 and not catalogue_only:
        raise RecStudioError(
            f"{Path(events_path).name} holds no event the dataset does not already have"
            + (" and the catalogue no new item" if items_path is not None else "")
            + "; there is nothing to update."
        )

    interactions = _merge(old, added)
    user_ids = np.concatenate([np.asarray(dataset.user_ids, dtype=object), np.asarray(new_users, dtype=object)])
    item_ids = np.concatenate([np.asarray(dataset.item_ids, dtype=object), np.asarray(new_items, dtype=object)])
    catalogue = _grow_catalogue(dataset.items, new_items, items_path, item_column, options, join_catalogue, notes)
    report = _report(dataset.report, new.report, interactions, user_ids, item_ids, duplicates, events_path,
                     len(added), len(new_users), new_items, catalogue_only, catalogue, len(dataset.item_ids), notes)
    version = Dataset(name or dataset.name, interactions, user_ids.astype(str), item_ids.astype(str), catalogue, report)
    report_baskets(version)
    touched = np.unique(added["user"].to_numpy()).astype(np.int64)
    return Appended(version, len(added), duplicates, new_users, new_items, catalogue_only, touched, new.report, notes)


def _same_roles(dataset: Dataset, events_path):
    """The dataset's own column names, where the new file has them all; otherwise None (guess)."""
    from recstudio.data.reading import read_table
    from recstudio.data.roles import ColumnRoles

    header, _ = read_table(events_path, nrows=5)
    columns = {str(c) for c in header.columns}
    used = {role: column for role, column in (dataset.report.columns or {}).items()
            if role in ColumnRoles.__dataclass_fields__}
    if used and set(used.values()) <= columns:
        return ColumnRoles(**used)
    return None


def _extend(known_ids: np.ndarray, incoming_ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes in the extended id list for each incoming id, and the ids that were not known (in order)."""
    lookup = {str(v): i for i, v in enumerate(known_ids)}
    codes = np.empty(len(incoming_ids), dtype=np.int64)
    fresh: list[str] = []
    for n, value in enumerate(map(str, incoming_ids)):
        code = lookup.get(value)
        if code is None:
            code = lookup[value] = len(lookup)
            fresh.append(value)
        codes[n] = code
    return codes, fresh


def _new_baskets(old: pd.DataFrame, inter: pd.DataFrame, users: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Basket codes of the new events after every old one: the new file's baskets, or, when it has no
    basket column, its events of a user sharing a time. (The old baskets' values are not kept, so a
    basket the new file goes on with is a new basket.)"""
    start = int(old["basket"].max()) + 1 if len(old) else 0
    if "basket" in inter.columns:
        codes = inter["basket"].to_numpy().astype(np.int64)
    else:
        codes, _ = pd.factorize(pd.MultiIndex.from_arrays([users, seconds]))
    return (start + codes).astype(np.int32)


def _already_there(old: pd.DataFrame, added: pd.DataFrame) -> np.ndarray:
    """Rows of ``added`` that repeat an old event (same user, item and time)."""
    if len(old) == 0 or len(added) == 0:
        return np.zeros(len(added), dtype=bool)
    keys = ["user", "item", "timestamp"]
    seen = pd.MultiIndex.from_frame(old[keys].astype(np.int64))
    return pd.MultiIndex.from_frame(added[keys].astype(np.int64)).isin(seen)


def _merge(old: pd.DataFrame, added: pd.DataFrame) -> pd.DataFrame:
    """Old and new events sorted by user, then time; at the same time old events come first."""
    columns = {}
    users = np.concatenate([old["user"].to_numpy(), added["user"].to_numpy()]).astype(np.int32)
    seconds = np.concatenate([old["timestamp"].to_numpy(), added["timestamp"].to_numpy()]).astype(np.int64)
    baskets = None
    if "basket" in added.columns:
        baskets = np.concatenate([old["basket"].to_numpy(), added["basket"].to_numpy()]).astype(np.int32)
        order = basket_order(users, seconds, baskets)  # a basket's events consecutive, as the importer has them
    else:
        order = np.lexsort((seconds, users))  # stable: ties keep old-before-new and file order
    columns["user"] = users[order]
    columns["item"] = np.concatenate([old["item"].to_numpy(), added["item"].to_numpy()]).astype(np.int32)[order]
    columns["timestamp"] = seconds[order]
    if "event" in added.columns:
        old_events = old["event"].astype(object).to_numpy() if "event" in old.columns else np.full(len(old), None)
        values = np.concatenate([old_events, added["event"].to_numpy()])[order]
        kinds = pd.Index(sorted({str(v) for v in values if v is not None and v == v}), dtype="str")
        columns["event"] = pd.Categorical(values, categories=kinds)
    if baskets is not None:
        columns["basket"] = baskets[order]
    for column in ("rating", "quantity"):
        if column in added.columns:
            before = old[column].to_numpy() if column in old.columns else np.full(len(old), np.nan)
            columns[column] = np.concatenate([before, added[column].to_numpy()]).astype(np.float32)[order]
    return pd.DataFrame(columns)


def _grow_catalogue(items: pd.DataFrame, new_items: list[str], items_path, item_column: str, options,
                    join_catalogue, notes: list[str]) -> pd.DataFrame:
    """The catalogue with one row per new item: its row in ``items_path``, else only its id. Rows the
    catalogue has for items already known are left as they were (their text vectors are the run's)."""
    if not new_items:
        return items
    if items_path is not None:
        join = join_catalogue(items_path, np.asarray(new_items, dtype=object), item_column, key=options.item_key,
                              separator=options.category_separator)
        rows = join.items
        if join.matched < len(new_items):
            notes.append(f"{len(new_items) - join.matched:,} new items have no row in {Path(items_path).name}; "
                         "their text is empty.")
    else:
        rows = pd.DataFrame({"item_id": new_items})
    grown = pd.concat([items, rows], ignore_index=True, sort=False)
    for column in grown.columns:
        if column == "price":
            grown[column] = pd.to_numeric(grown[column], errors="coerce")
        elif grown[column].dtype == object or pd.api.types.is_string_dtype(grown[column]):
            grown[column] = grown[column].fillna("")
    grown["item_id"] = grown["item_id"].astype(str)
    return grown


def _report(old: ImportReport, new: ImportReport, interactions: pd.DataFrame, user_ids, item_ids, duplicates: int,
            events_path, added: int, new_users: int, new_items: list[str], catalogue_only: list[str],
            catalogue: pd.DataFrame, old_items: int, notes: list[str]) -> ImportReport:
    report = copy.deepcopy(old)
    report.rows_read += new.rows_read
    for reason, count in new.dropped.items():
        report.dropped[reason] = report.dropped.get(reason, 0) + count
    if duplicates:
        report.dropped["repeats an event already imported"] = report.dropped.get(
            "repeats an event already imported", 0) + duplicates
    report.users, report.items, report.events = len(user_ids), len(item_ids), len(interactions)
    if report.timestamp_format != FILE_ORDER and len(interactions):
        from datetime import datetime, timezone

        iso = lambda s: datetime.fromtimestamp(int(s), tz=timezone.utc).isoformat()  # noqa: E731
        report.time_start, report.time_end = iso(interactions["timestamp"].min()), iso(interactions["timestamp"].max())
    text_columns = [c for c in catalogue.columns if c not in ("item_id", "price")]
    if text_columns and len(new_items):
        described = (catalogue.iloc[old_items:][text_columns].astype(str) != "").any(axis=1)
        report.catalogue_items += int(described.sum())
    report.catalogue_columns = list(dict.fromkeys([*report.catalogue_columns,
                                                   *(c for c in catalogue.columns if c != "item_id")]))
    report.warnings = [*report.warnings, *notes, *(f"{Path(events_path).name}: {w}" for w in new.warnings
                                                      if not w.startswith(WARNING_START)),
                       f"Updated with {added:,} events from {Path(events_path).name}: {new_users:,} new users, "
                       f"{len(new_items):,} new items ({len(catalogue_only):,} from the catalogue without events)."]
    return report
