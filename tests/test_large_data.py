"""Large data: the synthetic log generator, and the arrow fast paths of the importer, which must read
every file exactly as the pandas readers do (same dataset, same report)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from recstudio.data import import_interactions
from recstudio.data import text_columns as tc
from recstudio.data.cleaning import repeated_rows
from recstudio.data.importer import _user_time_order
from recstudio.data.timestamps import NAT, clean_text, read_iso

ROOT = Path(__file__).resolve().parents[1]


def _make_synthetic():
    spec = importlib.util.spec_from_file_location("make_synthetic", ROOT / "benchmarks" / "make_synthetic.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    return _make_synthetic().write_synthetic(folder, 30_000, 2_000, 400, seed=3)


# ---------------------------------------------------------------- the generator


def test_synthetic_log_has_the_asked_shape(synthetic):
    events_path, items_path = synthetic
    log = pd.read_csv(events_path, dtype=str)
    items = pd.read_csv(items_path, dtype=str)
    assert list(log.columns) == ["user_id", "item_id", "timestamp", "event_type", "price"]
    assert list(items.columns) == ["item_id", "title", "category", "brand", "description", "price"]
    # every event once, plus the few the logger sent twice
    assert 30_000 <= len(log) <= 30_000 * 1.003
    assert log["user_id"].nunique() == 2_000
    assert set(log["item_id"]) <= set(items["item_id"]) and len(items) == 400
    assert set(log["event_type"]) == {"view", "cart", "purchase"}
    assert (items[["title", "category", "brand", "description"]].fillna("").map(len) > 0).all().all()
    # the export is in time order
    assert log["timestamp"].is_monotonic_increasing


def test_synthetic_log_looks_like_behaviour(synthetic):
    log = pd.read_csv(synthetic[0], dtype=str)
    log["t"] = pd.to_datetime(log["timestamp"])
    # power-law popularity: the top tenth of items take most events, the bottom half few
    counts = np.sort(log["item_id"].value_counts().to_numpy())[::-1]
    assert counts[: len(counts) // 10].sum() > 0.4 * counts.sum()
    assert counts[len(counts) // 2 :].sum() < 0.25 * counts.sum()
    # sessions: most of a user's next events follow within the hour, some after days
    by_user = log.sort_values(["user_id", "t"], kind="stable")
    gaps = by_user.groupby("user_id")["t"].diff().dropna().dt.total_seconds()
    assert (gaps < 3600).mean() > 0.6 and (gaps > 86400).mean() > 0.05
    # heavy-tailed activity and some repeat visits
    per_user = log["user_id"].value_counts()
    assert per_user.max() > 10 * per_user.median()
    assert by_user.duplicated(["user_id", "item_id"]).mean() > 0.05


def test_synthetic_log_is_the_same_for_the_same_seed(tmp_path):
    make = _make_synthetic()
    a, _ = make.write_synthetic(tmp_path / "a", 2_000, 200, 50, seed=7)
    b, _ = make.write_synthetic(tmp_path / "b", 2_000, 200, 50, seed=7)
    assert a.read_bytes() == b.read_bytes()


def test_synthetic_log_in_epoch_seconds(tmp_path):
    events_path, _ = _make_synthetic().write_synthetic(tmp_path, 2_000, 200, 50, time_format="epoch")
    dataset = import_interactions(events_path)
    assert dataset.report.timestamp_format == "epoch seconds"
    assert dataset.report.time_start.startswith("2023")


# ---------------------------------------------------------------- the importer against plain pandas


def test_import_matches_a_plain_pandas_reading(synthetic):
    """Rows de-duplicated, times read, ids coded by first appearance, events sorted by user then
    time (ties in file order): the same as pandas does it step by step."""
    events_path, items_path = synthetic
    dataset = import_interactions(events_path, items_path=items_path)

    raw = pd.read_csv(events_path, dtype=str, keep_default_na=False)
    raw = raw[~raw.duplicated()]
    times = pd.to_datetime(raw["timestamp"], format="ISO8601", utc=True)
    seconds = ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).astype("int64")
    user_codes, user_ids = pd.factorize(raw["user_id"])
    item_codes, item_ids = pd.factorize(raw["item_id"])
    order = np.lexsort((seconds.to_numpy(), user_codes))

    report = dataset.report
    assert report.rows_read == len(pd.read_csv(events_path, dtype=str)) and report.dropped["duplicate row"] > 0
    assert report.events == len(raw) and report.timestamp_format == "ISO-8601"
    inter = dataset.interactions
    assert np.array_equal(dataset.user_ids, user_ids.to_numpy())
    assert np.array_equal(dataset.item_ids, item_ids.to_numpy())
    assert np.array_equal(inter["user"].to_numpy(), user_codes[order])
    assert np.array_equal(inter["item"].to_numpy(), item_codes[order])
    assert np.array_equal(inter["timestamp"].to_numpy(), seconds.to_numpy()[order])
    assert np.array_equal(inter["event"].astype(str).to_numpy(), raw["event_type"].to_numpy()[order])
    assert (dataset.items["title"] != "").all()


def test_ids_that_stop_being_plain_numbers_halfway(tmp_path):
    """Whole-number ids are coded through a table; an id that is text after that (or "007" beside
    "7") must still get its own code, in order of first appearance."""
    n = 60_000  # several chunks
    users = [str(i % 5000 + 1) for i in range(n)]
    users[40_000] = "007"
    users[50_000] = "u-1"
    users[50_001] = " 7"
    items = [str(i % 300) for i in range(n)]
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": np.arange(n) + 1_600_000_000})
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    dataset = import_interactions(path)
    expected = pd.unique(pd.Series(users).str.strip())
    assert list(dataset.user_ids) == list(expected)
    assert dataset.history(dataset.user_index("007")).tolist() == [dataset.item_index(items[40_000])]
    # " 7" is user 7 once stripped: two events, not a new user
    assert len(dataset.history(dataset.user_index("7"))) == len([u for u in users if u.strip() == "7"])


def test_mixed_timestamp_format_is_named_by_distinct_iso_values(tmp_path):
    """ISO-8601 values count once per distinct value (per chunk), epoch numbers once per row."""
    stamps = ["2021-03-04 12:00:00", "2021-03-05T12:00:00", "2021-03-05 13:00:00Z"] * 20 + [
        str(1_600_000_000 + i) for i in range(40)]
    path = tmp_path / "log.csv"
    pd.DataFrame({"user_id": [f"u{i % 7}" for i in range(100)], "item_id": [f"i{i}" for i in range(100)],
                  "timestamp": stamps}).to_csv(path, index=False)
    assert import_interactions(path).report.timestamp_format == "mixed: epoch seconds + ISO-8601"


# ---------------------------------------------------------------- the arrow fast paths


TRICKY_TIMES = [
    "2021-03-04 12:00:00", "2021-03-04T12:00:00", "2021-03-04T12:00:00Z", "2021-03-04 12:00:00Z",
    "2020-02-29 23:59:59", "2021-02-29 00:00:00", "2021-02-30 10:00:00", "2021-04-31 00:00:00",
    "2021-03-04 24:00:00", "2021-03-04 23:60:00", "2021-03-04 23:59:60", "0000-01-01 00:00:00",
    "0001-01-01 00:00:00", "9999-12-31 23:59:59", "1969-12-31 23:59:59", "1677-09-21 00:12:43",
    "2021-13-01 00:00:00", "2021-00-10 00:00:00", "2021-03-00 00:00:00", "2021-03-04 12:00:0a",
    "2021-03-04 12: 0:00", "+021-03-04 12:00:00", "2021-03-04t12:00:00", "2021-03-04 12:00:00z",
    "2021-03-04_12:00:00", "2021-03-04 12:00:00+01:00", "2021-03-04 12:00", "2021-03-04",
    " 2021-03-04 12:00:00", "2021-03-04 12:00:00 ", "２０２１-03-04 12:00:00", "2021-03-04 12:00:00.5",
]


@pytest.mark.parametrize("times", [TRICKY_TIMES, TRICKY_TIMES[:5], ["2021-03-04 12:00:00", None] * 3])
def test_iso_seconds_reads_what_pandas_reads_the_same_way(times):
    seconds, spelling = tc.iso_seconds(pa.array(times, pa.string()))
    expected = read_iso(np.array(times, dtype=object))
    read = spelling >= 0
    assert np.array_equal(seconds[read], expected[read])
    assert (seconds[~read] == NAT).all()
    # the everyday shapes are all read here
    for i, text in enumerate(times):
        if text in ("2021-03-04 12:00:00", "2021-03-04T12:00:00Z", "2020-02-29 23:59:59", "1969-12-31 23:59:59"):
            assert read[i], text


@pytest.mark.parametrize("zones", [["", "Z"], [""]])  # without "Z" arrow's cast reads them, else numpy
@pytest.mark.parametrize("valid", [False, True])  # with an impossible date the cast gives way to numpy
def test_iso_seconds_on_random_dates_matches_pandas(zones, valid):
    rng = np.random.default_rng(0)
    n = 20_000
    days = (28 if valid else 33)
    times = [f"{y:04d}-{m:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{z}" for y, m, d, sep, h, mi, s, z in zip(
        rng.integers(1 if valid else 0, 10000, n), rng.integers(1, 13, n) if valid else rng.integers(0, 14, n),
        rng.integers(1, days, n), rng.choice([" ", "T"], n), rng.integers(0, 24 if valid else 25, n),
        rng.integers(0, 60 if valid else 61, n), rng.integers(0, 60 if valid else 61, n), rng.choice(zones, n))]
    seconds, spelling = tc.iso_seconds(pa.array(times))
    expected = read_iso(np.array(times, dtype=object))
    read = spelling >= 0
    assert np.array_equal(seconds[read], expected[read])
    # all that pandas reads is read here too, but for the year 0, which is left to pandas
    year_zero = np.array([t.startswith("0000") for t in times])
    assert np.array_equal(read | year_zero, (expected != NAT) | year_zero)


def test_clean_matches_clean_text():
    values = ["abc", None, "NA", " x ", "nan", "\ta", "b\u00a0", "\u3000c", "N/A", "None", "Nonea", "é",
              "\x1cq\x1f", "", "  ", "#N/A", "null", "NULL", "12", "view"]
    cleaned = tc.clean(pa.array(values, pa.string())).to_pylist()
    expected = clean_text(pd.Series(values, dtype="str")).tolist()
    assert cleaned == [None if isinstance(v, float) else v for v in expected]
    plain = pa.array(["view", "cart", "u1234"])
    assert tc.clean(plain) is plain  # nothing to do: no copy


def test_python_whitespace_is_what_strip_strips():
    assert tc.PY_WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def test_whole_numbers():
    assert tc.integers(pa.array(["1", "-20", None, "007"])).tolist()[:2] == [1.0, -20.0]
    assert np.isnan(tc.integers(pa.array(["1", None]))[1])
    for not_plain in (["1.5"], ["1e3"], ["0x1F"], ["+5"], ["1 2"], ["9" * 16], ["1-2"]):
        assert tc.integers(pa.array(not_plain)) is None, not_plain
    numbers, present = tc.plain_integers(pa.array(["12", None, "7"]), limit=100)
    assert numbers[[0, 2]].tolist() == [12, 7] and present.tolist() == [True, False, True]
    for not_plain in (["007"], ["-1"], ["1000"], [" 1"], ["1.0"]):
        assert tc.plain_integers(pa.array(not_plain), limit=100) is None, not_plain


def test_row_hashes_tell_rows_apart():
    rng = np.random.default_rng(1)
    n = 200_000
    a = pa.array([f"u{x}" for x in rng.integers(0, 50_000, n)])
    b = pa.array([f"item-{x}-long-enough-for-three-words" for x in rng.integers(0, 50, n)])
    hashes = tc.combine_hashes([tc.text_hashes(a), tc.text_hashes(b)])
    pairs = pd.DataFrame({"a": a.to_pandas(), "b": b.to_pandas()})
    assert np.array_equal(repeated_rows(hashes), pairs.duplicated().to_numpy())
    # the same values in the other column do not make the same row; null is not the text "None"
    swapped = tc.combine_hashes([tc.text_hashes(pa.array(["x", "y"])), tc.text_hashes(pa.array(["y", "x"]))])
    assert swapped[0] != swapped[1]
    assert len(set(tc.text_hashes(pa.array([None, "None", "", "a", "a\x00"])).tolist())) == 5


def test_repeated_rows_keeps_the_first_of_each():
    hashes = np.array([5, 3, 5, 9, 3, 5, 1], dtype=np.uint64)
    assert repeated_rows(hashes).tolist() == [False, False, True, False, True, True, False]
    assert not repeated_rows(np.arange(1000, dtype=np.uint64)).any()


@pytest.mark.parametrize("in_time_order", [False, True])
def test_user_time_order_is_a_stable_lexsort(in_time_order):
    rng = np.random.default_rng(2)
    users = rng.integers(0, 300, 50_000).astype(np.int32)
    seconds = rng.integers(0, 1000, 50_000).astype(np.int32)  # many ties
    if in_time_order:
        seconds = np.sort(seconds)
    assert np.array_equal(_user_time_order(users, seconds), np.lexsort((seconds, users)))
