"""Importing behaviour logs and catalogues: formats, roles, timestamps, cleaning, the report and bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recstudio.data import (
    NAT,
    ColumnRoles,
    Dataset,
    ImportOptions,
    file_fingerprint,
    guess_roles,
    import_interactions,
    item_categories,
    leave_one_out,
    parse_timestamps,
    preview,
    read_table,
    sample_paths,
)
from recstudio.errors import RecStudioError

ML100K = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"
needs_ml100k = pytest.mark.skipif(not (ML100K / "interactions.csv").is_file(), reason="ml-100k not available")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def history_ids(dataset: Dataset, user_id: str) -> list[str]:
    return [str(dataset.item_ids[i]) for i in dataset.history(dataset.user_index(user_id))]


def raises_one_line(fragment: str, call, *args, **kwargs) -> str:
    with pytest.raises(RecStudioError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert fragment.lower() in message.lower(), message
    return message


SMALL = "user_id,item_id,timestamp\nu1,a,100\nu1,b,200\nu2,a,150\nu2,c,300\n"


# ---------------------------------------------------------------- real files


@needs_ml100k
def test_movielens_100k_counts_span_and_genres():
    ds = import_interactions(ML100K / "interactions.csv", items_path=ML100K / "items.csv")
    report = ds.report
    assert (ds.n_users, ds.n_items, ds.n_events) == (943, 1682, 100_000)
    assert (report.users, report.items, report.events, report.rows_read) == (943, 1682, 100_000, 100_000)
    assert report.time_start.startswith("1997-09-20") and report.time_end.startswith("1998-04-22")
    assert report.columns == {"user": "user_id", "item": "item_id", "timestamp": "timestamp", "rating": "rating"}
    assert report.timestamp_format == "epoch seconds"
    assert report.catalogue_items == 1682 and "title" in report.catalogue_columns
    assert ds.name == "interactions"
    # sequences run forward in time within each user
    inter = ds.interactions
    assert (np.diff(inter["user"].to_numpy()) >= 0).all()
    same_user = np.diff(inter["user"].to_numpy()) == 0
    assert (np.diff(inter["timestamp"].to_numpy())[same_user] >= 0).all()
    assert inter["rating"].between(1, 5).all()
    # the catalogue joins on the original ids, genres are kept as one "|" string
    toy_story = ds.item_index("1")
    assert ds.items.loc[toy_story, "title"] == "Toy Story"
    assert ds.items.loc[toy_story, "category"] == "Animation|Children's|Comedy"
    assert item_categories(ds)[toy_story] == frozenset({"Animation", "Children's", "Comedy"})
    assert len(leave_one_out(ds).test) == 943


def test_bundled_online_retail_sample():
    purchases, products = sample_paths()
    assert purchases.stat().st_size + products.stat().st_size < 3_000_000
    ds = import_interactions(purchases, items_path=products)
    r = ds.report
    assert ds.name == "purchases"
    assert 1000 <= r.users <= 2000 and 1000 <= r.items <= 5000 and 50_000 <= r.events <= 150_000
    assert r.columns == {"user": "customer_id", "item": "stock_code", "timestamp": "invoice_date",
                         "quantity": "quantity", "basket": "invoice_no"}
    assert r.time_start.startswith("2010-12") and r.time_end.startswith("2011-12")
    assert r.catalogue_items == r.items and r.dropped == {}
    lengths = np.diff(ds.indptr)
    assert lengths.min() >= 5 and lengths.max() <= 100
    assert ds.item_popularity().min() >= 1
    assert (ds.interactions["quantity"] > 0).all()
    titles = ds.item_titles()
    assert all(isinstance(t, str) and t for t in titles[:50])
    assert ds.items.loc[ds.item_index("85123A"), "title"] == "White Hanging Heart T-Light Holder"
    assert (ds.items["price"] > 0).all()
    assert (Path(purchases).parent / "ATTRIBUTION.md").read_text().count("CC BY 4.0") >= 1


# ---------------------------------------------------------------- formats and encodings


@pytest.mark.parametrize("sep", ["\t", ";", "|", ","])
def test_any_delimiter(tmp_path, sep):
    path = write(tmp_path / "log.txt", SMALL.replace(",", sep))
    ds = import_interactions(path)
    assert ds.report.delimiter == sep
    assert (ds.n_users, ds.n_items, ds.n_events) == (2, 3, 4)


def test_sniffer_not_fooled_by_pipes_inside_fields(tmp_path):
    catalogue = write(tmp_path / "items.csv", "item_id,title,genres\na,Alpha,x|y|z\nb,Beta,y\nc,Gamma,x|z\n")
    log = write(tmp_path / "log.csv", SMALL)
    ds = import_interactions(log, items_path=catalogue)
    assert item_categories(ds)[ds.item_index("a")] == frozenset({"x", "y", "z"})


def test_gzip_with_and_without_extension(tmp_path):
    for name in ("log.csv.gz", "log.dat"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(SMALL.encode()))
        ds = import_interactions(path)
        assert ds.n_events == 4
    assert import_interactions(tmp_path / "log.csv.gz").name == "log"


def test_parquet(tmp_path):
    frame = pd.DataFrame({
        "userId": [7, 7, 8],
        "movieId": [1.0, 2.0, 1.0],
        "when": pd.to_datetime(["2020-01-02 03:04:05", "2020-01-01 00:00:00", "2020-01-03 00:00:00"]),
    })
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    ds = import_interactions(path)
    assert set(ds.user_ids) == {"7", "8"} and set(ds.item_ids) == {"1", "2"}
    assert history_ids(ds, "7") == ["2", "1"]  # sorted by time
    assert ds.report.time_start == "2020-01-01T00:00:00+00:00"


def test_utf8_bom(tmp_path):
    path = write(tmp_path / "log.csv", "\ufeff" + SMALL)
    ds = import_interactions(path)
    assert ds.report.columns["user"] == "user_id"
    assert ds.report.encoding == "utf-8-sig"


def test_latin1_fallback(tmp_path):
    log = write(tmp_path / "log.csv", "user,item,time\nZoë,m1,1\nZoë,m2,2\nAnn,m1,3\n", encoding="latin-1")
    items = write(tmp_path / "films.csv", "item,title\nm1,\"Misérables, Les\"\nm2,Amélie\n", encoding="latin-1")
    ds = import_interactions(log, items_path=items)
    assert ds.report.encoding == "latin-1"
    assert any("Latin-1" in w for w in ds.report.warnings)
    assert "Zoë" in set(ds.user_ids)
    assert ds.items.loc[ds.item_index("m1"), "title"] == "Misérables, Les"


def test_latin1_found_after_the_sniffed_sample(tmp_path):
    rows = "".join(f"u{i % 50},i{i % 70},{1000 + i}\n" for i in range(20_000))
    path = tmp_path / "log.csv"
    path.write_bytes(("user_id,item_id,timestamp\n" + rows).encode() + "late,café,99999\n".encode("latin-1"))
    ds = import_interactions(path)
    assert ds.report.encoding == "latin-1"
    assert ds.n_events == 20_001 and "café" in set(ds.item_ids)


def test_ids_stay_text(tmp_path):
    path = write(tmp_path / "log.csv", "user_id,item_id,timestamp\n007, 42 ,1\n7,abc,2\n007,3.5,3\n007,42,4\n")
    ds = import_interactions(path)
    assert set(ds.user_ids) == {"007", "7"}  # "007" is not the number 7
    assert set(ds.item_ids) == {"42", "abc", "3.5"}  # mixed types, whitespace stripped
    assert history_ids(ds, "007") == ["42", "3.5", "42"]


def test_read_table_and_preview(tmp_path):
    path = write(tmp_path / "log.tsv", "visitorid\tasin\tbehaviour\tdate\n1\tB00X\tview\t2011-03-04\n")
    table, info = read_table(path)
    assert list(table.columns) == ["visitorid", "asin", "behaviour", "date"]
    assert info["delimiter"] == "\t" and info["encoding"] == "utf-8" and info["format"] == "csv"
    shown = preview(path)
    assert shown.roles == ColumnRoles(user="visitorid", item="asin", timestamp="date", event="behaviour")
    assert shown.timestamp_format == "ISO-8601" and len(shown.rows) == 1


def test_file_fingerprint(tmp_path):
    a = write(tmp_path / "a.csv", SMALL)
    b = write(tmp_path / "b.csv", SMALL)
    assert file_fingerprint(a) == file_fingerprint(b)
    write(b, SMALL + "u3,a,400\n")
    assert file_fingerprint(a) != file_fingerprint(b)
    assert len(file_fingerprint(a)) == 64


# ---------------------------------------------------------------- column roles


@pytest.mark.parametrize("names, expected", [
    (["userId", "movieId", "rating", "timestamp"], dict(user="userId", item="movieId", rating="rating",
                                                         timestamp="timestamp")),
    (["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"],
     dict(user="CustomerID", item="StockCode", timestamp="InvoiceDate", quantity="Quantity", basket="InvoiceNo")),
    (["visitor", "product", "action", "time"], dict(user="visitor", item="product", event="action",
                                                    timestamp="time")),
    (["Session ID", "SKU", "Event Type", "Date"], dict(user="Session ID", item="SKU", event="Event Type",
                                                       timestamp="Date")),
    (["customer", "asin", "stars", "qty"], dict(user="customer", item="asin", rating="stars", quantity="qty")),
    (["user_id", "item_id", "behavior", "score", "count"], dict(user="user_id", item="item_id", event="behavior",
                                                               rating="score", quantity="count")),
    (["USER", "ITEM", "TYPE"], dict(user="USER", item="ITEM", event="TYPE")),
])
def test_roles_guessed_from_names(names, expected):
    frame = pd.DataFrame([["x"] * len(names)], columns=names)
    assert guess_roles(frame) == ColumnRoles(**expected)


def test_roles_guessed_from_contents():
    frame = pd.DataFrame({
        "user_id": ["1", "2", "3"], "item_id": ["9", "8", "7"],
        "col_a": ["2011-01-01 10:00", "2011-01-02 11:00", "2011-01-03 12:00"],
        "col_b": ["4", "5", "3.5"], "col_c": ["red", "blue", "red"],
    })
    assert guess_roles(frame) == ColumnRoles(user="user_id", item="item_id", timestamp="col_a", rating="col_b")
    epochs = pd.DataFrame({"u": ["1"], "i": ["2"], "x": ["1291191960"], "y": ["3"]})
    assert guess_roles(epochs).timestamp == "x"


def test_explicit_roles_override_guesses(tmp_path):
    # names that would be guessed the other way round
    path = write(tmp_path / "log.csv", "item_id,user_id,ts,stamp\na,x,5,1\na,y,6,2\nb,x,7,3\n")
    ds = import_interactions(path, roles=ColumnRoles(user="item_id", item="user_id", timestamp="stamp"))
    assert set(ds.user_ids) == {"a", "b"} and set(ds.item_ids) == {"x", "y"}
    assert ds.report.columns["timestamp"] == "stamp"
    assert ds.interactions["timestamp"].tolist() == [1, 2, 3]


def test_explicit_role_that_does_not_exist(tmp_path):
    path = write(tmp_path / "log.csv", SMALL)
    message = raises_one_line("'customer'", import_interactions, path, roles=ColumnRoles(user="customer"))
    assert "user_id" in message and "item_id" in message and "timestamp" in message


# ---------------------------------------------------------------- timestamps


def test_epoch_milliseconds(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,ts\nu,a,1291191960000\nu,b,1291191961000\n")
    ds = import_interactions(path)
    assert ds.interactions["timestamp"].tolist() == [1291191960, 1291191961]
    assert ds.report.timestamp_format == "epoch milliseconds"


def test_iso_with_zone_converted_to_utc(tmp_path):
    path = write(tmp_path / "log.csv",
                 "user,item,time\nu,a,2010-12-01T08:26:00+01:00\nu,b,2010-12-01T08:00:00Z\nu,c,2010-12-01 07:30:00\n")
    ds = import_interactions(path)
    # 08:26+01:00 is 07:26 UTC, so it comes before 07:30 (naive, read as UTC) and 08:00Z
    assert history_ids(ds, "u") == ["a", "c", "b"]
    assert ds.report.time_start == "2010-12-01T07:26:00+00:00"


def test_three_formats_in_one_column(tmp_path):
    path = write(tmp_path / "log.csv",
                 "user,item,when\nu,a,1291191960\nu,b,2010-12-01T09:00:00\nu,c,12/1/2010 8:26\nu,d,12/2/2010 8:26\n")
    ds = import_interactions(path)
    assert ds.report.dropped == {}
    assert ds.interactions["timestamp"].tolist() == [1291191960, 1291191960, 1291194000, 1291278360]
    assert history_ids(ds, "u") == ["a", "c", "b", "d"]  # a and c are the same minute: file order
    fmt = ds.report.timestamp_format
    assert fmt.startswith("mixed") and "epoch seconds" in fmt and "ISO-8601" in fmt and "%m/%d/%Y %H:%M" in fmt


@pytest.mark.parametrize("text, expected", [
    ("2010-12-01 08:26:00", "2010-12-01 08:26:00"),
    ("12/1/2010 8:26", "2010-12-01 08:26:00"),
    ("2010/12/01", "2010-12-01 00:00:00"),
    ("1291191960123", "2010-12-01 08:26:00"),
    ("1291191960123456", "2010-12-01 08:26:00"),
    ("2010-12-01T08:26:00-05:00", "2010-12-01 13:26:00"),
])
def test_parse_timestamps_formats(text, expected):
    seconds, _ = parse_timestamps(pd.Series([text], name="t"))
    assert pd.Timestamp(seconds[0], unit="s") == pd.Timestamp(expected)


def test_day_first_dates_detected_from_the_column():
    # 13/12/2010 can only be day-first, so the whole column is read day-first
    seconds, fmt = parse_timestamps(pd.Series(["01/12/2010 08:26", "13/12/2010 09:00"], name="t"))
    assert fmt == "%d/%m/%Y %H:%M"
    assert pd.Timestamp(seconds[0], unit="s") == pd.Timestamp("2010-12-01 08:26")


def test_parse_timestamps_marks_unreadable_values():
    seconds, _ = parse_timestamps(pd.Series(["2011-01-01", "2011-01-02", "soon", None], name="t"))
    assert seconds[2] == NAT and seconds[3] == NAT and seconds[0] != NAT


def test_unparseable_timestamps_dropped_and_counted(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,time\nu,a,2011-01-01\nu,b,not a date\nu,c,2011-01-03\nv,a,\n")
    ds = import_interactions(path)
    assert ds.report.dropped == {"unparseable timestamp": 2}
    assert ds.n_events == 2 and ds.report.rows_read == 4
    assert any("not a date" in w for w in ds.report.warnings)


def test_mostly_unparseable_timestamps_is_an_error(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,time\nu,a,yesterday\nu,b,today\nu,c,2011-01-03\n")
    message = raises_one_line("column 'time'", import_interactions, path)
    assert "yesterday" in message


def test_no_timestamp_column_uses_file_order(tmp_path):
    path = write(tmp_path / "log.csv", "user,item\nu,c\nv,a\nu,a\nu,b\n")
    ds = import_interactions(path)
    assert history_ids(ds, "u") == ["c", "a", "b"]
    assert any("position in the file" in w for w in ds.report.warnings)
    assert ds.report.time_start is None


def test_ties_keep_file_order(tmp_path):
    rows = "".join(f"u,{item},2011-05-05 10:00\n" for item in "qwertyuiop")
    path = write(tmp_path / "log.csv", "user,item,time\nu,z,2011-05-05 11:00\n" + rows + "u,first,2011-05-04\n")
    ds = import_interactions(path)
    assert history_ids(ds, "u") == ["first", *"qwertyuiop", "z"]


# ---------------------------------------------------------------- cleaning


def test_missing_ids_and_duplicates_dropped_and_counted(tmp_path):
    path = write(tmp_path / "log.csv",
                 "user,item,time\nu,a,1\n,b,2\nu,,3\n  ,c,4\nNaN,d,5\nu,a,1\nu,a,1\nv,a,2\n")
    ds = import_interactions(path)
    r = ds.report
    assert r.dropped == {"missing user id": 3, "missing item id": 1, "duplicate row": 2}
    assert r.rows_read == 8 and r.events == 2 == r.rows_read - sum(r.dropped.values())
    kept = import_interactions(path, options=ImportOptions(drop_duplicates=False))
    assert kept.n_events == 4 and "duplicate row" not in kept.report.dropped


def test_event_type_filter(tmp_path):
    path = write(tmp_path / "log.csv",
                 "user,item,event,time\nu,a,view,1\nu,a,purchase,2\nu,b,view,3\nv,b,cart,4\nv,c,purchase,5\n")
    ds = import_interactions(path, options=ImportOptions(event_types=("purchase", "cart")))
    assert ds.report.dropped == {"event type filtered": 2}
    assert sorted(ds.interactions["event"]) == ["cart", "purchase", "purchase"]


def test_k_core_is_iterated(tmp_path):
    # u3 has one event; dropping u3 leaves item "c" with one user, which must then go too,
    # and that in turn leaves u2 with a single event.
    log = ("user,item,time\n"
           "u1,a,1\nu1,b,2\nu1,d,3\n"
           "u2,c,1\nu2,a,2\n"
           "u3,c,1\n"
           "u4,a,1\nu4,b,2\nu4,d,3\n")
    path = write(tmp_path / "log.csv", log)
    once = import_interactions(path, options=ImportOptions(min_user_events=2, min_item_events=2))
    assert set(once.user_ids) == {"u1", "u4"} and set(once.item_ids) == {"a", "b", "d"}
    assert once.report.dropped == {"k-core": 3}
    assert (np.bincount(once.interactions["user"]) >= 2).all()
    assert (np.bincount(once.interactions["item"]) >= 2).all()


def test_codes_are_dense(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,time\nb,y,1\na,x,2\nb,x,3\nc,z,4\n")
    ds = import_interactions(path, options=ImportOptions(min_item_events=2))
    assert sorted(ds.interactions["user"].unique()) == list(range(ds.n_users))
    assert sorted(ds.interactions["item"].unique()) == list(range(ds.n_items))
    assert ds.interactions["user"].dtype == np.int32 and ds.interactions["timestamp"].dtype == np.int64


def test_progress_is_reported(tmp_path):
    path = write(tmp_path / "log.csv", SMALL)
    calls = []
    import_interactions(path, progress=lambda fraction, message: calls.append((fraction, message)))
    fractions = [f for f, _ in calls]
    assert len(calls) >= 4 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in calls)


# ---------------------------------------------------------------- catalogue


def test_catalogue_join(tmp_path):
    log = write(tmp_path / "log.csv", "customer,sku,time\nu,A1,1\nu,B2,2\nv,C3,3\n")
    catalogue = write(tmp_path / "products.csv",
                      "SKU,Product Name,Genre,Brand,Description,Price,Colour\n"
                      "A1,Kettle,Kitchen,Acme,Boils water,19.99,red\n"
                      "A1,Kettle again,Other,X,dup,1,blue\n"
                      "B2,Toaster,Kitchen|Electric,Acme,Toasts,24.50,\n"
                      "Z9,Unsold,None,Nobody,never bought,5,green\n")
    ds = import_interactions(log, items_path=catalogue)
    items = ds.items
    assert list(items.columns) == ["item_id", "title", "category", "brand", "description", "price", "Colour"]
    assert len(items) == ds.n_items == 3  # Z9 had no interactions
    a1, c3 = ds.item_index("A1"), ds.item_index("C3")
    assert items.loc[a1, "title"] == "Kettle" and items.loc[a1, "price"] == pytest.approx(19.99)
    assert items.loc[c3, "title"] == "" and np.isnan(items.loc[c3, "price"])  # no catalogue row
    assert ds.report.catalogue_items == 2
    assert any("repeat an item id" in w for w in ds.report.warnings)
    assert item_categories(ds)[ds.item_index("B2")] == frozenset({"Kitchen", "Electric"})
    assert ds.item_titles()[c3] == "C3"


def test_catalogue_description_is_the_title_when_there_is_no_title(tmp_path):
    log = write(tmp_path / "log.csv", "CustomerID,StockCode,InvoiceDate\n1,85123A,2010-12-01 08:26:00\n")
    catalogue = write(tmp_path / "cat.csv", "StockCode,Description\n85123A,WHITE HANGING HEART\n")
    ds = import_interactions(log, items_path=catalogue)
    assert ds.items.loc[0, "title"] == "WHITE HANGING HEART"


def test_catalogue_item_key_and_separator_options(tmp_path):
    log = write(tmp_path / "log.csv", SMALL)
    catalogue = write(tmp_path / "cat.csv", "code;label;categories\na;Alpha;x, y\nb;Beta;y\n")
    options = ImportOptions(item_key="code", category_separator=",")
    ds = import_interactions(log, items_path=catalogue, options=options)
    assert ds.report.catalogue_items == 2
    assert ds.items.loc[ds.item_index("a"), "category"] == "x|y"
    assert item_categories(ds)[ds.item_index("a")] == frozenset({"x", "y"})
    raises_one_line("'nope'", import_interactions, log, items_path=catalogue,
                    options=ImportOptions(item_key="nope"))


# ---------------------------------------------------------------- bad input


def test_nonexistent_file(tmp_path):
    raises_one_line("not found", import_interactions, tmp_path / "missing.csv")


def test_empty_file(tmp_path):
    raises_one_line("empty", import_interactions, write(tmp_path / "log.csv", ""))
    raises_one_line("empty", import_interactions, write(tmp_path / "blank.csv", "\n\n  \n"))


def test_header_only(tmp_path):
    raises_one_line("no data rows", import_interactions, write(tmp_path / "log.csv", "user_id,item_id,timestamp\n"))


def test_binary_file(tmp_path):
    png = tmp_path / "photo.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    raises_one_line("PNG", import_interactions, png)
    blob = tmp_path / "blob.csv"
    blob.write_bytes(b"user,item\n\x00\x01\x02\x00")
    raises_one_line("binary", import_interactions, blob)


def test_wrong_delimiter(tmp_path):
    path = write(tmp_path / "log.csv", "user_id:item_id:timestamp\n1:2:3\n4:5:6\n")
    message = raises_one_line("delimiter", import_interactions, path)
    assert "user_id:item_id:timestamp" in message


def test_missing_id_columns(tmp_path):
    path = write(tmp_path / "log.csv", "user_id,colour,timestamp\n1,red,3\n")
    message = raises_one_line("no item id column", import_interactions, path)
    assert "'colour'" in message


def test_duplicate_column_names(tmp_path):
    path = write(tmp_path / "log.csv", "user_id,item_id,item_id,timestamp\n1,2,3,4\n")
    raises_one_line("duplicate column names: 'item_id'", import_interactions, path)


def test_all_ids_empty(tmp_path):
    path = write(tmp_path / "log.csv", "user_id,item_id\n,a\n,b\n")
    raises_one_line("user id", import_interactions, path)


def test_empty_after_event_filter(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,event\nu,a,view\nu,b,cart\n")
    message = raises_one_line("event type 'purchase'", import_interactions, path,
                              options=ImportOptions(event_types=("purchase",)))
    assert "'view'" in message and "'cart'" in message
    no_event_column = write(tmp_path / "plain.csv", SMALL)
    raises_one_line("event column", import_interactions, no_event_column,
                    options=ImportOptions(event_types=("purchase",)))


def test_empty_after_k_core(tmp_path):
    path = write(tmp_path / "log.csv", SMALL)
    raises_one_line("at least 10 events", import_interactions, path, options=ImportOptions(min_user_events=10))


def test_bad_options():
    with pytest.raises(RecStudioError):
        ImportOptions(min_user_events=0)


def test_bad_catalogue_fails_fast(tmp_path):
    log = write(tmp_path / "log.csv", SMALL)
    raises_one_line("not found", import_interactions, log, items_path=tmp_path / "nope.csv")
    catalogue = write(tmp_path / "cat.csv", "colour,size\nred,1\n")
    raises_one_line("no item id column found in catalogue", import_interactions, log, items_path=catalogue)


def test_rows_with_the_wrong_number_of_fields(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,time\nu,a,1\nu,b,2,extra\nu,\"c\nd\",3\n")
    ds = import_interactions(path)
    assert ds.report.dropped == {"malformed line": 1} and ds.n_events == 2
    every_line_bad = write(tmp_path / "bad.csv", "user,item,time\nu,a,1,\nu,b,2,\n")
    raises_one_line("none of the 2 data lines", import_interactions, every_line_bad)


def test_absent_role_is_left_out_rather_than_guessed(tmp_path):
    from recstudio.data import ABSENT

    path = tmp_path / "ratings.csv"
    path.write_text("user_id,item_id,rating,timestamp\n1,10,5,100\n1,11,3,200\n2,10,4,150\n")
    guessed = import_interactions(path)
    assert "rating" in guessed.interactions.columns
    left_out = import_interactions(path, roles=ColumnRoles(rating=ABSENT))
    assert "rating" not in left_out.interactions.columns and "rating" not in left_out.report.columns
    with pytest.raises(RecStudioError, match="user column cannot be left out"):
        import_interactions(path, roles=ColumnRoles(user=ABSENT))
