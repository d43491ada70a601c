"""Joining an item catalogue (titles, categories, brands, prices...) to the imported items."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recstudio.data.dataset import Dataset
from recstudio.data.reading import read_table
from recstudio.data.roles import normalise_name
from recstudio.errors import RecStudioError

# Catalogue columns renamed to the names the rest of RecStudio looks for; earlier names win.
_WELL_KNOWN = {
    "title": ("title", "name", "movietitle", "producttitle", "productname", "itemname", "itemtitle",
              "booktitle", "tracktitle", "songtitle", "displayname"),
    "category": ("category", "categories", "genres", "genre", "class", "classes", "categoryname",
                 "productcategory", "itemcategory", "maincategory", "categorycode"),
    "brand": ("brand", "brandname", "manufacturer", "maker", "vendor"),
    "description": ("description", "desc", "summary", "overview", "plot", "details",
                    "productdescription", "itemdescription", "text"),
    "price": ("price", "unitprice", "listprice", "saleprice", "cost"),
}
_KEY_NAMES = ("itemid", "item", "id", "movieid", "productid", "product", "stockcode", "sku", "asin",
              "parentasin", "articleid", "bookid", "isbn", "trackid", "productcode", "itemcode", "code")


@dataclass
class CatalogueJoin:
    items: pd.DataFrame  # one row per item index: item_id plus the catalogue's columns
    key: str
    matched: int
    columns: list[str]
    warnings: list[str] = field(default_factory=list)


def join_catalogue(path, item_ids: np.ndarray, item_column: str, *, key: str | None = None,
                   separator: str = "|") -> CatalogueJoin:
    """Look up each imported item in the catalogue; items it lacks get empty text.

    Well-known columns are renamed (title, category, brand, description, price) and a
    multi-valued category is rewritten with "|" between values, so :func:`item_categories`
    reads it the same whatever the file used.
    """
    table, info = read_table(path)
    name = Path(path).name
    warnings = list(info["warnings"])
    key = catalogue_key_column(table, item_column, key, name)
    table = table[table[key].notna()]
    repeats = table[key].duplicated()
    if repeats.any():
        warnings.append(
            f"{name}: {int(repeats.sum()):,} rows repeat an item id already listed "
            f"(e.g. {table[key][repeats].iloc[0]!r}); the first row of each was kept."
        )
        table = table[~repeats]
    table = table.set_index(key).rename(columns=_well_known_names(table.columns.drop(key)))
    if "item_id" in table.columns:  # a second id column; keep it without clashing with ours
        table = table.rename(columns={"item_id": "catalogue_item_id"})

    if "price" in table.columns:
        table["price"] = pd.to_numeric(table["price"], errors="coerce")
    if "category" in table.columns:
        table["category"] = _canonical_categories(table["category"], separator)

    ids = pd.Index(np.asarray(item_ids, dtype=object), dtype="str")
    found = ids.isin(table.index)
    matched = int(found.sum())
    joined = table.reindex(ids).reset_index(drop=True)
    text = [c for c in joined.columns if c != "price"]
    joined[text] = joined[text].fillna("")
    items = pd.concat([pd.DataFrame({"item_id": ids.to_numpy()}), joined], axis=1)

    if matched == 0:
        warnings.append(
            f"No row of {name} matched an imported item: its key column {key!r} holds e.g. "
            f"{table.index[0]!r} while the items are e.g. {ids[0]!r}; choose the catalogue's item column."
        )
    elif matched < len(ids):
        warnings.append(f"{len(ids) - matched:,} of {len(ids):,} items have no row in {name}; their text is empty.")
    return CatalogueJoin(items, key, matched, list(joined.columns), warnings)


#: An item's several categories are stored joined by CATEGORY_SEPARATOR ("Comedy|Drama", see
#: :func:`join_catalogue`); tables and texts show them joined by CATEGORY_JOINER ("Comedy, Drama").
CATEGORY_SEPARATOR, CATEGORY_JOINER = "|", ", "


def category_text(values):
    """Stored categories as a reader sees them: "Comedy|Drama" -> "Comedy, Drama", a missing value -> "".

    One value gives a string; a sequence (a column, an array) gives an object array of strings, worked
    out vectorised, so a million-item table stays quick. Every table and text that shows categories
    formats them here."""
    if isinstance(values, (str, type(None), float)) or np.ndim(values) == 0:
        return str(category_text([values])[0])
    codes, uniques = pd.factorize(pd.Series(values, dtype="object"), use_na_sentinel=True)
    # a catalogue has few distinct category lists: format each once
    shown = [CATEGORY_JOINER.join(p.strip() for p in str(u).split(CATEGORY_SEPARATOR) if p.strip())
             for u in uniques] + [""]  # the last one for missing values (code -1)
    return np.asarray(shown, dtype=object)[codes]


def item_categories(dataset: Dataset, separator: str = "|") -> list[frozenset[str]]:
    """Each item's set of categories (from the catalogue's category column; empty when there is none)."""
    if "category" not in dataset.items.columns:
        return [frozenset() for _ in range(dataset.n_items)]
    codes, uniques = pd.factorize(dataset.items["category"].fillna("").astype("str"))
    # a catalogue has few distinct category lists: split each once (a regex split of 50k strings held
    # the GUI thread's lock for a third of a second), then one frozenset per item, the shape diversity
    # metrics want
    sets = [frozenset(p.strip() for p in str(u).split(separator) if p.strip()) for u in uniques]
    empty = frozenset()
    return [sets[c] if c >= 0 else empty for c in codes]


def catalogue_key_column(table: pd.DataFrame, item_column: str, wanted: str | None, name: str) -> str:
    """The catalogue column holding the item id: ``wanted`` (names compared loosely) or, when None,
    :func:`guess_catalogue_key`; a user error naming the columns when there is none."""
    columns = [str(c) for c in table.columns]
    by_name = {normalise_name(c): c for c in reversed(columns)}  # first column wins on a clash
    if wanted is not None:
        column = wanted if wanted in columns else by_name.get(normalise_name(wanted))
        if column is None:
            raise RecStudioError(
                f"Column {wanted!r} (chosen as the catalogue's item id) is not in {name}; "
                f"the columns are: {', '.join(map(repr, columns[:20]))}."
            )
        return column
    column = guess_catalogue_key(columns, item_column)
    if column is not None:
        return column
    raise RecStudioError(
        f"No item id column found in catalogue {name}; the columns are: {', '.join(map(repr, columns[:20]))}. "
        "Choose the catalogue's item column explicitly."
    )


def guess_catalogue_key(columns, item_column: str | None) -> str | None:
    """The catalogue column that holds the item id when none is chosen: the log's item column name, else
    a usual id name (``itemid``, ``movieid``, ``sku``, ``asin``…), names compared as the importer compares
    them (case, spaces, ``_``, ``-`` and ``.`` ignored; the first column wins on a clash). None when
    neither is there: the analyst must choose. The import dialog shows this guess, so it is the key the
    import picks."""
    columns = [str(c) for c in columns]
    by_name = {normalise_name(c): c for c in reversed(columns)}
    for candidate in ([item_column] if item_column else []) + list(_KEY_NAMES):
        column = candidate if candidate in columns else by_name.get(normalise_name(candidate))
        if column is not None:
            return column
    return None




def _well_known_names(columns: pd.Index) -> dict[str, str]:
    renames: dict[str, str] = {}
    keys = [normalise_name(c) for c in columns]
    for role, names in _WELL_KNOWN.items():
        ranked = [(names.index(k), i) for i, k in enumerate(keys) if k in names and columns[i] not in renames]
        if ranked and role not in renames.values():
            column = columns[min(ranked)[1]]
            if column == role or role not in columns:
                renames[column] = role
    # Online Retail and many shops call the product name "Description": it is the title there.
    if "title" not in renames.values() and "title" not in columns:
        source = next((c for c, r in renames.items() if r == "description"), None)
        if source is not None:
            renames[source] = "title"
    return renames


def _canonical_categories(values: pd.Series, separator: str) -> pd.Series:
    return values.str.replace(rf"\s*{re.escape(separator)}\s*", "|", regex=True).str.strip("| ")
