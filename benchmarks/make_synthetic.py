"""A realistic synthetic shop log and catalogue of any size, for the large-data benchmarks.

The log (``events.csv``: user_id, item_id, timestamp, event_type, price) is in time order, as a shop's
export is. Items' popularity follows a power law, users' activity is heavy-tailed (log-normal); a user's events come in
sessions (seconds to minutes apart within one, hours to weeks between them) that mostly stay in one
category; some events revisit an item the user had before (a repeat purchase, a second look); a
logger that sometimes sends an event twice leaves a few exact duplicate rows. The catalogue
(``items.csv``: item_id, title, category, brand, description, price) has text for every item.

Everything is drawn with vectorised numpy and written by pyarrow, a million rows at a time:
10M events take about ten seconds.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

EVENTS = ("view", "cart", "purchase")
EVENT_SHARES = (0.86, 0.09, 0.05)
SESSION_LENGTH = 5.0  # mean events per session
SAME_CATEGORY = 0.7  # share of a session's events drawn from the session's category
REVISIT = 0.08  # share of events that return to one of the user's last ten items
DUPLICATES = 0.001  # share of events the logger sent twice
START = np.datetime64("2023-01-01T00:00:00", "s")
SPAN_DAYS = 365

_ADJECTIVES = ("red", "blue", "green", "black", "white", "grey", "small", "large", "slim", "classic", "modern",
               "vintage", "organic", "cotton", "leather", "wool", "linen", "steel", "wooden", "bamboo", "soft",
               "light", "heavy", "compact", "deluxe", "essential", "everyday", "premium", "recycled", "travel")
_NOUNS = ("shirt", "dress", "jacket", "coat", "jeans", "sneakers", "boots", "sandals", "bag", "backpack", "wallet",
          "watch", "lamp", "chair", "desk", "table", "shelf", "rug", "mug", "kettle", "pan", "knife", "blender",
          "phone case", "charger", "cable", "headphones", "speaker", "keyboard", "mouse", "notebook", "pen",
          "candle", "vase", "towel", "pillow", "blanket", "tent", "bottle", "yoga mat", "ball", "puzzle", "doll")
_DEPARTMENTS = ("Clothing", "Shoes", "Accessories", "Home", "Kitchen", "Electronics", "Office", "Sports",
                "Toys", "Beauty", "Garden", "Books")
_KINDS = ("Basics", "Outdoor", "Kids", "Women", "Men", "Gifts", "Sale", "New", "Premium", "Eco")
_BRAND_PARTS = ("North", "Blue", "Oak", "Stone", "Bright", "Nova", "Urban", "Pine", "Silver", "Maple", "Iron",
                "Cedar", "Lumen", "Aero", "Terra", "Vela", "Kite", "Echo", "Fjord", "Orbit")
_BRAND_ENDS = ("works", "line", "craft", "wear", "home", "labs", "co", "goods", "field", "studio")
_PHRASES = ("Made to last", "A customer favourite", "Easy to clean", "Designed in Denmark", "Machine washable",
            "Ships in recycled packaging", "Fits most sizes", "Two-year warranty", "Lightweight and durable",
            "Perfect as a gift", "Soft to the touch", "Ideal for small spaces", "Water resistant",
            "Limited edition", "Ethically sourced", "Ready to use")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the log (default 10M)")
    parser.add_argument("--users", type=int, default=None, help="users (default events / 10)")
    parser.add_argument("--items", type=int, default=None, help="catalogue items (default events / 100)")
    parser.add_argument("--out", default="synthetic", help="folder for events.csv and items.csv")
    parser.add_argument("--time-format", choices=("iso", "epoch"), default="iso",
                        help="timestamps as ISO-8601 text (2023-05-01 12:00:00) or epoch seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    users = args.users or max(1, args.events // 10)
    items = args.items or max(10, args.events // 100)
    start = time.perf_counter()
    events_path, items_path = write_synthetic(Path(args.out), args.events, users, items, seed=args.seed,
                                              time_format=args.time_format)
    seconds = time.perf_counter() - start
    print(f"command: python benchmarks/make_synthetic.py {' '.join(map(shlex.quote, sys.argv[1:] if argv is None else argv))}")
    print(f"wrote {events_path} ({events_path.stat().st_size / 1e6:,.0f} MB, {args.events:,} events, "
          f"{users:,} users, {items:,} items) and {items_path} ({items_path.stat().st_size / 1e6:,.1f} MB) "
          f"in {seconds:.1f} s")


def write_synthetic(folder: Path, n_events: int, n_users: int, n_items: int, *, seed: int = 0,
                    time_format: str = "iso") -> tuple[Path, Path]:
    """Write ``events.csv`` and ``items.csv`` into ``folder``; returns their paths."""
    if n_events < 1 or n_users < 1 or n_items < 2:
        raise ValueError("need at least 1 event, 1 user and 2 items")
    n_users = min(n_users, n_events)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    catalogue = _catalogue(rng, n_items)
    log = _log(rng, n_events, n_users, catalogue)
    events_path, items_path = folder / "events.csv", folder / "items.csv"
    _write_events(events_path, log, catalogue, time_format)
    _write_items(items_path, catalogue)
    return events_path, items_path


# -- the catalogue -----------------------------------------------------------------------------


def _catalogue(rng: np.random.Generator, n_items: int) -> dict:
    """Items ranked by popularity (item 0 the most popular), each in a category, with text and a price."""
    n_categories = int(np.clip(n_items // 200, 2, len(_DEPARTMENTS) * len(_KINDS)))
    # popularity is Zipf-like over all items; categories are of uneven size and mix popular and rare items
    category_weights = 1.0 / np.arange(1, n_categories + 1) ** 0.8
    category = rng.choice(n_categories, size=n_items, p=category_weights / category_weights.sum())
    category[:n_categories] = np.arange(n_categories)  # every category has an item
    popularity = 1.0 / np.arange(1, n_items + 1) ** 1.05
    n_brands = max(2, n_items // 50)
    return {
        "n": n_items,
        "ids": rng.permutation(n_items) + 100_000,  # ids say nothing about popularity
        "category": category,
        "n_categories": n_categories,
        "popularity_cdf": _cdf(popularity),
        # within a category items keep their global popularity order
        "by_category": np.argsort(category, kind="stable"),
        "category_start": np.searchsorted(np.sort(category), np.arange(n_categories + 1)),
        "category_cdf": _cdf(np.bincount(category, weights=popularity, minlength=n_categories)),
        "brand": rng.integers(0, n_brands, n_items),
        "price": np.round(np.exp(rng.normal(3.2, 0.9, n_items)), 2).clip(0.5, 5000),
        "adjective": rng.integers(0, len(_ADJECTIVES), n_items),
        "noun": rng.integers(0, len(_NOUNS), n_items),
    }


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=np.float64)
    return cdf / cdf[-1]


def _within_category(rng: np.random.Generator, catalogue: dict, categories: np.ndarray) -> np.ndarray:
    """One item per entry of ``categories``, by Zipf-like popularity rank within that category."""
    start = catalogue["category_start"][categories]
    size = catalogue["category_start"][categories + 1] - start
    # rank ~ size ** u - 1 for uniform u is a log-uniform rank: a power law with exponent 1
    rank = np.minimum((size ** rng.random(len(categories))).astype(np.int64) - 1, size - 1)
    return catalogue["by_category"][start + np.maximum(rank, 0)]


# -- the log -----------------------------------------------------------------------------------


def _log(rng: np.random.Generator, n_events: int, n_users: int, catalogue: dict) -> dict:
    # events per user: heavy-tailed (a few very active users), every user at least one event
    activity = rng.lognormal(0.0, 1.3, n_users)
    counts = rng.multinomial(n_events - n_users, activity / activity.sum()) + 1
    user = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(n_events) - np.repeat(first, counts)  # index of the event within its user

    # sessions: a user's first event opens one, later events open one with p = 1 / mean length
    opens = (position == 0) | (rng.random(n_events) < 1.0 / SESSION_LENGTH)
    session = np.cumsum(opens) - 1
    n_sessions = int(session[-1]) + 1
    session_category = np.searchsorted(catalogue["category_cdf"], rng.random(n_sessions))
    in_category = rng.random(n_events) < SAME_CATEGORY
    item = np.searchsorted(catalogue["popularity_cdf"], rng.random(n_events))
    item[in_category] = _within_category(rng, catalogue, session_category[session[in_category]])
    # revisits: an item from one of the user's previous ten events (read before this pass changes them)
    back = rng.integers(1, 11, n_events)
    revisit = (rng.random(n_events) < REVISIT) & (position >= back)
    item[revisit] = item[np.flatnonzero(revisit) - back[revisit]]

    # time: each user starts somewhere in the year; gaps are short inside a session, long between
    span = SPAN_DAYS * 86400
    gaps = np.where(opens, rng.exponential(5 * 86400, n_events), rng.lognormal(3.5, 1.2, n_events))
    gaps[position == 0] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first], counts)  # seconds since the user's first event
    user_span = np.maximum(elapsed[np.concatenate([first[1:], [n_events]]) - 1], 1.0)
    # a user whose sessions would run past the year is squeezed into part of it, so the log covers one year
    squeeze = np.minimum(1.0, span * rng.uniform(0.3, 1.0, n_users) / user_span)
    begin = rng.random(n_users) * np.maximum(span - user_span * squeeze, 0)
    seconds = START.astype(np.int64) + (begin[user] + elapsed * squeeze[user]).astype(np.int64)

    event = np.searchsorted(np.cumsum(EVENT_SHARES), rng.random(n_events) * 0.999999)
    event[revisit & (rng.random(n_events) < 0.4)] = 2  # a revisit is often a repeat purchase
    # users are known by shuffled numeric ids, as a shop's customer numbers are
    user_ids = rng.permutation(np.arange(n_users, dtype=np.int64) * 7 + 1_000_003)

    twice = np.flatnonzero(rng.random(n_events) < DUPLICATES)
    rows = np.sort(np.concatenate([np.arange(n_events), twice]))  # each duplicate right after its original
    order = rows[np.argsort(seconds[rows], kind="stable")]  # the export is in time order
    return {"user": user_ids[user[order]], "item": item[order], "seconds": seconds[order], "event": event[order]}


# -- writing -----------------------------------------------------------------------------------

_WRITE_ROWS = 1 << 20


def _write_events(path: Path, log: dict, catalogue: dict, time_format: str) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    item_ids = pa.array(catalogue["ids"].astype(str))
    prices = pa.array(np.char.mod("%.2f", catalogue["price"]))
    events = pa.array(EVENTS)
    partial = path.with_name(path.name + ".partial")
    schema = pa.schema([("user_id", pa.int64()), ("item_id", pa.string()),
                        ("timestamp", pa.string() if time_format == "iso" else pa.int64()),
                        ("event_type", pa.string()), ("price", pa.string())])
    with open(partial, "wb") as out:
        out.write((",".join(schema.names) + "\n").encode())  # a plain header, as a shop's export has
        with pacsv.CSVWriter(out, schema, write_options=pacsv.WriteOptions(include_header=False,
                                                                           quoting_style="none")) as writer:
            for lo in range(0, len(log["user"]), _WRITE_ROWS):
                part = slice(lo, lo + _WRITE_ROWS)
                items = log["item"][part]
                seconds = log["seconds"][part]
                # arrow writes a timestamp as text as 2023-05-01 12:00:00, ten times faster than strftime
                stamps = (pa.array(seconds.astype("datetime64[s]")).cast(pa.string())
                          if time_format == "iso" else pa.array(seconds))
                writer.write_table(pa.table({"user_id": pa.array(log["user"][part]),
                                             "item_id": item_ids.take(items), "timestamp": stamps,
                                             "event_type": events.take(log["event"][part]),
                                             "price": prices.take(items)}, schema=schema))
    partial.replace(path)


def _write_items(path: Path, catalogue: dict) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    n = catalogue["n"]
    rng = np.random.default_rng(n)
    words = lambda choices, index: pa.array(choices).take(pa.array(index))  # noqa: E731
    department = catalogue["category"] % len(_DEPARTMENTS)
    kind = catalogue["category"] // len(_DEPARTMENTS) % len(_KINDS)
    brand = pc.binary_join_element_wise(words(_BRAND_PARTS, catalogue["brand"] % len(_BRAND_PARTS)),
                                        words(_BRAND_ENDS, catalogue["brand"] // len(_BRAND_PARTS) % len(_BRAND_ENDS)),
                                        "")
    noun = words(_NOUNS, catalogue["noun"])
    title = pc.binary_join_element_wise(brand, words(_ADJECTIVES, catalogue["adjective"]), noun,
                                        pa.array(np.char.mod("%d", np.arange(n) % 97 + 1)), " ")
    category = pc.binary_join_element_wise(words(_DEPARTMENTS, department), words(_KINDS, kind), "|")
    lead = pc.binary_join_element_wise(pc.utf8_capitalize(words(_ADJECTIVES, rng.integers(0, len(_ADJECTIVES), n))),
                                       noun, pa.scalar("from"), brand, " ")
    description = pc.binary_join_element_wise(lead, words(_PHRASES, rng.integers(0, len(_PHRASES), n)),
                                              words(_PHRASES, rng.integers(0, len(_PHRASES), n)), pa.scalar(""), ". ")
    description = pc.utf8_rtrim(description, characters=" ")
    table = pa.table({"item_id": pa.array(catalogue["ids"]), "title": title, "category": category,
                      "brand": brand, "description": description,
                      "price": pa.array(np.char.mod("%.2f", catalogue["price"]))})
    partial = path.with_name(path.name + ".partial")
    pacsv.write_csv(table, partial)  # text quoted, as spreadsheets export it
    partial.replace(path)


if __name__ == "__main__":
    main()
