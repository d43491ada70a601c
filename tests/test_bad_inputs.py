"""A corpus of malformed and hostile inputs, plus property-based fuzzing of the importer.

Every input goes through the command line (``recstudio import``) exactly as an analyst would give
it. Each one either imports correctly (checked against what the file says) or fails with one
clear line on stderr and exit status 2, never a traceback; and a failed import leaves the
workspace (the SQLite file and its files folder) byte-for-byte as it was.
"""

from __future__ import annotations

import codecs
import csv
import errno
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recstudio.cli import main
from recstudio.data import ImportOptions, import_interactions
from recstudio.data import files as files_module
from recstudio.errors import RecStudioError

HEADER = ("user_id", "item_id", "timestamp")
#: A small clean log: 3 users, 4 items, 8 events.
ROWS = [
    ("u1", "i1", "2021-01-01T10:00:00"), ("u1", "i2", "2021-01-02T10:00:00"), ("u1", "i3", "2021-01-03T10:00:00"),
    ("u2", "i1", "2021-01-01T11:00:00"), ("u2", "i4", "2021-01-05T11:00:00"),
    ("u3", "i2", "2021-02-01T09:00:00"), ("u3", "i3", "2021-02-02T09:00:00"), ("u3", "i4", "2021-02-03T09:00:00"),
]
USERS = {"u1", "u2", "u3"}
ITEMS = {"i1", "i2", "i3", "i4"}


def table(rows=ROWS, header=HEADER, sep=",", eol="\n", quote_all=False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator=eol,
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


# -- what a case expects -------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    data: bytes | None  # None: the path is a folder
    expect: str = "ok"  # "ok" or "error"
    message: str = ""  # for errors: words the message must contain (case-insensitive)
    users: set | None = None  # for ok: the exact user ids, item ids and event count expected
    items: set | None = None
    events: int | None = None
    check: Callable | None = None  # extra check on (dataset, report)
    suffix: str = ".csv"
    args: tuple = ()
    catalogue: bytes | None = None

    def __str__(self) -> str:
        return self.name


def ok(name, data, users=USERS, items=ITEMS, events=len(ROWS), **kw) -> Case:
    return Case(name, data, "ok", users=users, items=items, events=events, **kw)


def err(name, data, message, **kw) -> Case:
    return Case(name, data, "error", message=message, **kw)


def warned(words: str) -> Callable:
    def check(dataset, report):
        assert any(words.lower() in w.lower() for w in report["warnings"]), report["warnings"]
    return check


def dropped(reason: str, count: int) -> Callable:
    def check(dataset, report):
        assert report["dropped"].get(reason) == count, report["dropped"]
    return check


def times_are(*iso: str) -> Callable:
    def check(dataset, report):
        got = sorted(pd.to_datetime(dataset.interactions["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%d"))
        assert got == sorted(iso), got
    return check


def order_kept(user: str, items: list[str]) -> Callable:
    def check(dataset, report):
        history = [str(dataset.item_ids[i]) for i in dataset.history(dataset.user_index(user))]
        assert history == items, history
    return check


def encoded_as(encoding: str) -> Callable:
    def check(dataset, report):
        assert report["encoding"] == encoding, report["encoding"]
    return check


def unit_is(unit: str) -> Callable:
    def check(dataset, report):
        assert report["timestamp_units"] == {"timestamp": unit}, report["timestamp_units"]
    return check


def both(*checks: Callable) -> Callable:
    def check(dataset, report):
        for c in checks:
            c(dataset, report)
    return check


# -- the corpus ----------------------------------------------------------------------------------

def encoding_cases() -> list[Case]:
    accented = [("usér1", "crème brûlée", "2021-01-01"), ("usér1", "café", "2021-01-02"), ("zoë", "café", "2021-01-03")]
    acc_users, acc_items = {"usér1", "zoë"}, {"crème brûlée", "café"}
    text = table(accented)
    cases = [
        ok("utf8-accents", utf8(text), acc_users, acc_items, 3),
        ok("utf8-bom", codecs.BOM_UTF8 + utf8(text), acc_users, acc_items, 3),
        ok("utf8-bom-tab", codecs.BOM_UTF8 + utf8(table(sep="\t"))),
        ok("latin1", text.encode("latin-1"), acc_users, acc_items, 3, check=warned("latin-1")),
        ok("cp1252-euro-sign", table([("u1", "€5 voucher", "2021-01-01"), ("u2", "€5 voucher", "2021-01-02")])
           .encode("cp1252"), {"u1", "u2"}, {"€5 voucher"}, 2, check=warned("windows-1252")),
        ok("cp1252-curly-quotes", table([("u1", "“i1” café", "2021-01-01"), ("u2", "“i1” café", "2021-01-02"),
                                         ("u2", "‘i2’ – naïve", "2021-01-03")]).encode("cp1252"),
           {"u1", "u2"}, {"“i1” café", "‘i2’ – naïve"}, 3, check=warned("windows-1252")),
        err("utf8-and-latin1-lines", utf8(table(accented[:2])) + table(accented[2:], header=None).encode("latin-1"),
            "line 2 is UTF-8 but line 4 is not"),
        err("latin1-then-utf8-after-64k",
            table([(f"usér{i % 50}", f"i{i % 70}", f"2021-01-{1 + i % 28:02d}") for i in range(6000)]).encode("latin-1")
            + utf8(table([("usér", "café", "2021-02-01")], header=None)), "line 6,002 is UTF-8 but line 2 is not"),
        ok("bom-then-latin1-body", codecs.BOM_UTF8 + text.encode("latin-1"), acc_users, acc_items, 3),
        ok("double-bom", codecs.BOM_UTF8 * 2 + utf8(table())),
        ok("bom-inside-gzip", gz(codecs.BOM_UTF8 + utf8(table())), suffix=".csv.gz"),
        ok("utf16-le-bom", codecs.BOM_UTF16_LE + text.encode("utf-16-le"), acc_users, acc_items, 3,
           check=encoded_as("utf-16")),
        ok("utf16-be-bom", codecs.BOM_UTF16_BE + text.encode("utf-16-be"), acc_users, acc_items, 3,
           check=encoded_as("utf-16")),
        ok("utf16-le-bom-tab-crlf-gzip", gz(codecs.BOM_UTF16_LE + table(sep="\t", eol="\r\n").encode("utf-16-le")),
           suffix=".tsv.gz"),
        ok("utf16-no-bom", table().encode("utf-16-le"), check=encoded_as("utf-16-le")),
        ok("utf32", text.encode("utf-32"), acc_users, acc_items, 3, check=encoded_as("utf-32")),
        ok("shift-jis-ids", table([("ユーザー", "商品", "2021-01-01"), ("ユーザー", "本", "2021-01-02")]).encode("shift_jis"),
           users=None, items=None, events=2),
        ok("emoji-rtl-zero-width-ids", utf8(table([("👩‍💻", "\u202eabc", "2021-01-01"), ("👩‍💻", "x\u200by", "2021-01-02")])),
           {"👩‍💻"}, {"\u202eabc", "x\u200by"}, 2),
        ok("utf8-then-latin1-after-64k",
           utf8(table([(f"u{i % 50}", f"i{i % 70}", f"2021-01-{1 + i % 28:02d}") for i in range(6000)]))
           + table([("usér", "café", "2021-02-01"), ("usér", "thé", "2021-02-02")], header=None).encode("latin-1"),
           users=None, items=None, events=6002, args=("--keep-duplicates",),
           check=warned("latin-1")),
        ok("control-characters-in-ids", utf8(table([("u\x01", "i\x07", "2021-01-01"), ("u\x01", "i\x1b", "2021-01-02")])),
           {"u\x01"}, {"i\x07", "i\x1b"}, 2),
    ]
    return cases


def line_ending_cases() -> list[Case]:
    return [
        ok("crlf", utf8(table(eol="\r\n"))),
        ok("cr-only", utf8(table(eol="\r"))),
        ok("mixed-line-endings", utf8("user_id,item_id,timestamp\r\n" + table(header=None, eol="\n")
                                      .replace("\n", "\r\n", 3))),
        ok("no-trailing-newline", utf8(table().rstrip("\n"))),
        ok("many-trailing-blank-lines", utf8(table() + "\n" * 500)),
        ok("blank-lines-between-rows", utf8(table().replace("\n", "\n\n"))),
        ok("leading-blank-lines", utf8("\n\n\n" + table())),
        ok("trailing-whitespace-lines", utf8(table() + "   \n\t\n")),
    ]


def delimiter_cases() -> list[Case]:
    return [
        ok("comma", utf8(table())),
        ok("tab", utf8(table(sep="\t")), suffix=".tsv"),
        ok("semicolon", utf8(table(sep=";"))),
        ok("pipe", utf8(table(sep="|"))),
        ok("tab-named-csv", utf8(table(sep="\t"))),
        err("space-separated", utf8(table(sep=" ")), "user"),
        ok("semicolon-with-decimal-commas",
           utf8(table([(u, i, t, "4,5") for u, i, t in ROWS], header=(*HEADER, "rating"), sep=";")),
           check=lambda d, r: None),
        ok("delimiter-inside-quoted-fields",
           utf8(table([(u, f"{i},x;y|z", t) for u, i, t in ROWS])), items={f"{i},x;y|z" for i in ITEMS}),
        ok("trailing-delimiter-everywhere", utf8(table().replace("\n", ",\n"))),
        err("trailing-delimiter-rows-only", utf8(table().split("\n", 1)[0] + "\n"
                                                 + table(header=None).replace("\n", ",\n")), "fields"),
        ok("mixed-delimiters-some-rows-skipped",
           utf8(table() + "u4;i9;2021-03-01\n"), check=dropped("malformed line", 1)),
        err("sep-line-excel-hint", utf8("sep=,\n" + table()), "user"),
    ]


def quoting_cases() -> list[Case]:
    return [
        ok("all-quoted", utf8(table(quote_all=True))),
        ok("doubled-quotes-in-ids", utf8(table([(u, f'say "{i}"', t) for u, i, t in ROWS])),
           items={f'say "{i}"' for i in ITEMS}),
        ok("ids-with-commas", utf8(table([(f"{u},x", i, t) for u, i, t in ROWS])), users={f"{u},x" for u in USERS}),
        ok("ids-with-newlines", utf8(table([(f"{u}\nline2", i, t) for u, i, t in ROWS])),
           users={f"{u}\nline2" for u in USERS}),
        ok("ids-with-crlf-inside-quotes", utf8(table([(u, f"{i}\r\nb", t) for u, i, t in ROWS])),
           items={f"{i}\r\nb" for i in ITEMS}),
        ok("single-quotes-are-text", utf8(table([(f"'{u}'", i, t) for u, i, t in ROWS])),
           users={f"'{u}'" for u in USERS}),
        ok("backslash-escapes-are-text", utf8(table([(u + "\\", i, t) for u, i, t in ROWS])),
           users={u + "\\" for u in USERS}),
        err("unbalanced-quote-swallows-file", utf8('user_id,item_id,timestamp\n"u1,i1,2021-01-01\n' + table(header=None)),
            "fields"),
        err("unbalanced-quote-in-last-row", utf8(table() + '"u9,i9,2021-01-01\n'), "quoting"),
        ok("quoted-header", utf8(table().replace("user_id,item_id,timestamp", '"user_id","item_id","timestamp"'))),
        ok("quote-in-middle-of-field", utf8(table([(u, f'{i}"x', t) for u, i, t in ROWS])),
           items={f'{i}"x' for i in ITEMS}),
    ]


def column_cases() -> list[Case]:
    wide_header = ("user_id", "item_id", "timestamp", *(f"extra_{n}" for n in range(3000)))
    wide_rows = [(*r, *("x" * (n % 3) for n in range(3000))) for r in ROWS]
    return [
        err("no-user-column", utf8(table([(i, t) for _, i, t in ROWS], header=("product", "when"))), "user"),
        err("no-item-column", utf8(table([(u, t) for u, _, t in ROWS], header=("customer", "when"))), "item"),
        err("single-column", utf8(table([(u,) for u, _, _ in ROWS], header=("user_id",))), "user"),
        err("single-column-no-header", utf8("\n".join(u for u, _, _ in ROWS) + "\n"), ""),
        err("duplicate-column-names", utf8(table([(u, i, i, t) for u, i, t in ROWS],
                                                 header=("user_id", "item_id", "item_id", "timestamp"))), "duplicate"),
        ok("empty-column-name", utf8(table([(u, i, t, "x") for u, i, t in ROWS], header=(*HEADER, "")))),
        err("blank-header-names-for-ids", utf8(table([(u, i, t) for u, i, t in ROWS], header=("", " ", "timestamp"))),
            "user"),
        err("header-only", utf8("user_id,item_id,timestamp\n"), "no data rows"),
        err("header-only-many-blank-lines", utf8("user_id,item_id,timestamp\n" + "\n" * 1000), "no data rows"),
        err("zero-bytes", b"", "empty"),
        err("only-whitespace", b"  \n \t \n", "empty"),
        ok("header-names-padded-and-cased", utf8(table(header=(" User_ID ", "ITEM_ID", " TimeStamp")))),
        err("empty-timestamp-column", utf8(table([(u, i, "") for u, i, _ in ROWS])), "they are empty"),
        ok("rows-with-fewer-fields", utf8(table() + "u9,i9\n"), check=dropped("malformed line", 1)),
        ok("rows-with-more-fields", utf8(table() + "u9,i9,2021-01-01,extra\n"), check=dropped("malformed line", 1)),
        err("every-row-malformed", utf8("user_id,item_id,timestamp\n" + "a,b\n" * 10), "fields"),
        ok("very-wide-file", utf8(table(wide_rows, header=wide_header))),
        ok("very-long-header-name", utf8(table([(u, i, t, "1") for u, i, t in ROWS], header=(*HEADER, "x" * 100_000)))),
        ok("no-timestamp-column", utf8(table([(u, i) for u, i, _ in ROWS], header=("user_id", "item_id"))),
           check=both(warned("position in the file"), order_kept("u1", ["i1", "i2", "i3"]))),
        err("numeric-header-no-names", utf8(table(ROWS, header=("1", "2", "3"))), "user"),
        err("user-col-option-missing", utf8(table()), "nope", args=("--user-col", "nope")),
        err("event-filter-without-event-column", utf8(table()), "event", args=("--events", "buy")),
        err("event-filter-matches-nothing", utf8(table([(*r, "view") for r in ROWS], header=(*HEADER, "event"))),
            "event type", args=("--events", "purchase")),
        err("k-core-empties-everything", utf8(table()), "minimum", args=("--min-user-events", "1000")),
        err("zero-min-events", utf8(table()), "at least 1", args=("--min-item-events", "0")),
    ]


def _seconds_rows(n: int) -> list[tuple]:
    """``n`` events in epoch seconds a minute apart from 1 January 2021: 60,000 are 1.6 MB, so two chunks or more."""
    return [(f"user{k % 997}", f"item{k % 1009}", str(1_609_459_200 + 60 * k)) for k in range(n)]


def value_cases() -> list[Case]:
    nan_tokens = ["", "NA", "N/A", "#N/A", "NaN", "nan", "NULL", "null", "None"]
    return [
        ok("mixed-type-user-ids", utf8(table([("1", "i1", "2021-01-01"), ("1.0", "i2", "2021-01-02"),
                                              ("one", "i3", "2021-01-03"), ("1e3", "i1", "2021-01-04")])),
           {"1", "1.0", "one", "1e3"}, {"i1", "i2", "i3"}, 4),
        ok("leading-zero-ids-stay-text", utf8(table([("007", "0042", "2021-01-01"), ("7", "42", "2021-01-02")])),
           {"007", "7"}, {"0042", "42"}, 2),
        ok("huge-integer-ids", utf8(table([("9" * 40, "1" * 30, "2021-01-01"), ("9" * 40, "2" * 30, "2021-01-02")])),
           {"9" * 40}, {"1" * 30, "2" * 30}, 2),
        ok("nan-tokens-in-user-ids", utf8(table(ROWS + [(tok, "i1", "2021-03-01") for tok in nan_tokens])),
           check=dropped("missing user id", len(nan_tokens))),
        ok("nan-tokens-in-item-ids", utf8(table(ROWS + [("u1", tok, "2021-03-01") for tok in nan_tokens])),
           check=dropped("missing item id", len(nan_tokens))),
        err("every-user-id-missing", utf8(table([("", i, t) for _, i, t in ROWS])), "user"),
        err("every-item-id-missing", utf8(table([(u, "NaN", t) for u, _, t in ROWS])), "item"),
        ok("some-unreadable-timestamps", utf8(table(ROWS + [("u1", "i4", "yesterday"), ("u2", "i2", "soon")])),
           check=dropped("unparseable timestamp", 2)),
        err("mostly-unreadable-timestamps", utf8(table([(u, i, "whenever") for u, i, _ in ROWS])), "timestamp"),
        ok("negative-epoch-seconds", utf8(table([("u1", "i1", "-86400"), ("u1", "i2", "-1")])),
           {"u1"}, {"i1", "i2"}, 2, check=times_are("1969-12-31", "1969-12-31")),
        ok("epoch-zero", utf8(table([("u1", "i1", "0"), ("u1", "i2", "1")])), {"u1"}, {"i1", "i2"}, 2,
           check=times_are("1970-01-01", "1970-01-01")),
        ok("epoch-milliseconds", utf8(table([("u1", "i1", "1609459200000"), ("u1", "i2", "1609545600000")])),
           {"u1"}, {"i1", "i2"}, 2, check=both(times_are("2021-01-01", "2021-01-02"), unit_is("epoch milliseconds"))),
        ok("epoch-microseconds", utf8(table([("u1", "i1", "1609459200000000"), ("u1", "i2", "1609545600000000")])),
           {"u1"}, {"i1", "i2"}, 2, check=both(times_are("2021-01-01", "2021-01-02"), unit_is("epoch microseconds"))),
        ok("epoch-nanoseconds", utf8(table([("u1", "i1", "1609459200000000000"), ("u1", "i2", "1609545600000000000")])),
           {"u1"}, {"i1", "i2"}, 2, check=both(times_are("2021-01-01", "2021-01-02"), unit_is("epoch nanoseconds"))),
        ok("fractional-epochs", utf8(table([("u1", "i1", "1609459200.75"), ("u1", "i2", "1609545600.25")])),
           {"u1"}, {"i1", "i2"}, 2, check=times_are("2021-01-01", "2021-01-02")),
        ok("year-3000-epoch", utf8(table([("u1", "i1", "32503680000"), ("u1", "i2", "32503766400")])),
           {"u1"}, {"i1", "i2"}, 2, check=times_are("3000-01-01", "3000-01-02")),
        ok("epoch-seconds-year-9999", utf8(table([("u1", "i1", "1609459200"), ("u1", "i2", "253402300799"),
                                                  ("u1", "i3", "1609545600")])), {"u1"}, {"i1", "i2", "i3"}, 3,
           check=both(times_are("2021-01-01", "9999-12-31", "2021-01-02"), order_kept("u1", ["i1", "i3", "i2"]),
                      unit_is("epoch seconds"))),
        ok("epoch-seconds-year-9999-after-1mb", utf8(table(_seconds_rows(60_000) + [("u1", "late", "253402300799")])),
           users=None, items=None, events=60_001,
           check=both(lambda d, r: r["time_end"].startswith("9999-12-31T23:59:59"), unit_is("epoch seconds"))),
        ok("epoch-milliseconds-with-zero", utf8(table([("u1", "i1", "1609459200000"), ("u1", "i2", "0"),
                                                       ("u1", "i3", "1609545600000")])), {"u1"}, {"i1", "i2", "i3"}, 3,
           check=both(times_are("2021-01-01", "1970-01-01", "2021-01-02"), unit_is("epoch milliseconds"))),
        err("epoch-seconds-beside-milliseconds", utf8(table([("u1", "i1", "1609459200"), ("u1", "i2", "1609459200000"),
                                                             ("u2", "i3", "1609545600")])),
            "mixes epoch units: 1609459200 (2021-01-01 in seconds) beside 1609459200000 (2021-01-01 in milliseconds)"),
        err("feed-moved-to-milliseconds-after-1mb",
            utf8(table(_seconds_rows(60_000) + [(f"u{n}", "i1", str(1_612_137_600_000 + n)) for n in range(10)])),
            "mixes epoch units"),
        ok("absurd-epoch-1e30", utf8(table(ROWS + [("u1", "i1", "1e30")])), check=dropped("unparseable timestamp", 1)),
        ok("infinite-timestamps", utf8(table(ROWS + [("u1", "i1", "inf"), ("u2", "i2", "-inf")])),
           check=dropped("unparseable timestamp", 2)),
        ok("absurd-epoch-overflow-int64", utf8(table(ROWS + [("u1", "i1", "9" * 25)])),
           check=dropped("unparseable timestamp", 1)),
        ok("date-year-1", utf8(table(ROWS + [("u1", "i1", "0001-01-01")])), users=None, items=None, events=None),
        ok("date-year-9999", utf8(table([("u1", "i1", "9999-12-31"), ("u1", "i2", "9999-12-30")])),
           {"u1"}, {"i1", "i2"}, 2, check=times_are("9999-12-31", "9999-12-30")),
        ok("date-year-10000", utf8(table(ROWS + [("u1", "i1", "10000-01-01")])), check=dropped("unparseable timestamp", 1)),
        ok("impossible-dates", utf8(table(ROWS + [("u1", "i1", "2021-02-30"), ("u2", "i2", "2021-13-01")])),
           check=dropped("unparseable timestamp", 2)),
        ok("mixed-zone-offsets", utf8(table([("u1", "i1", "2021-01-01T23:00:00-02:00"), ("u1", "i2", "2021-01-02T00:30:00+09:00")])),
           {"u1"}, {"i1", "i2"}, 2, check=order_kept("u1", ["i2", "i1"])),
        ok("boolean-timestamps", utf8(table(ROWS + [("u1", "i1", "true")])), check=dropped("unparseable timestamp", 1)),
        ok("timestamp-with-sql-noise", utf8(table(ROWS + [("u1", "i1", "2021-01-01'; DROP TABLE runs;--")])),
           check=dropped("unparseable timestamp", 1)),
        ok("duplicate-rows-dropped", utf8(table(ROWS + ROWS)), check=dropped("duplicate row", len(ROWS))),
        ok("duplicate-rows-kept", utf8(table(ROWS + ROWS)), events=2 * len(ROWS), args=("--keep-duplicates",)),
        ok("one-user-one-item", utf8(table([("u", "i", "2021-01-01")])), {"u"}, {"i"}, 1),
        ok("rating-not-numbers", utf8(table([(*r, "great") for r in ROWS], header=(*HEADER, "rating"))),
           check=warned("not numbers")),
        ok("rating-nan-and-inf", utf8(table([(*r, v) for r, v in zip(ROWS, ["nan", "inf", "-inf", "1e400", "5", "", "3", "2"])],
                                            header=(*HEADER, "rating")))),
        ok("negative-quantities", utf8(table([(*r, "-3") for r in ROWS], header=(*HEADER, "quantity")))),
        ok("empty-event-column", utf8(table([(*r, "") for r in ROWS], header=(*HEADER, "event")))),
        ok("very-long-ids", utf8(table([(u * 20_000, i, t) for u, i, t in ROWS])), users={u * 20_000 for u in USERS}),
        ok("ids-with-leading-trailing-spaces", utf8(table([(f"  {u} ", f"\t{i}", t) for u, i, t in ROWS])),
           check=both(warned("8 row(s) have a user id with spaces around it"), warned("'  u1 ' is the same user as 'u1'"),
                      warned("8 row(s) have an item id with spaces"))),
        ok("padded-ids-merge-with-plain-ones", utf8(table(ROWS + [(" u1", "i4 ", "2021-03-01")])), events=len(ROWS) + 1,
           check=both(warned("1 row(s) have a user id with spaces"), order_kept("u1", ["i1", "i2", "i3", "i4"]))),
        ok("dash-means-missing-id", utf8(table(ROWS + [("-", "i1", "2021-03-01"), ("u1", " - ", "2021-03-02"),
                                                       ("-", "i2", "2021-03-03")])),
           check=both(dropped("missing user id", 2), dropped("missing item id", 1),
                      warned("2 row(s) have the user id '-'"), warned("1 row(s) have the item id '-'"))),
        ok("dash-inside-ids-is-text", utf8(table([("u-1", "-i", "2021-01-01"), ("u-1", "i-", "2021-01-02")])),
           {"u-1"}, {"-i", "i-"}, 2),
        ok("decimal-ids-beside-whole-ones", utf8(table([("1", "10", "2021-01-01"), ("1.0", "10.00", "2021-01-02"),
                                                        ("2.0", "10", "2021-01-03")])),
           {"1", "1.0", "2.0"}, {"10", "10.00"}, 3,
           check=both(warned("user ids written like '1.0' sit beside '1'"), warned("(1 such pair)"),
                      warned("item ids written like '10.00' sit beside '10'"))),
        ok("spreadsheet-formula-ids", utf8(table([("=cmd|' /C calc'!A0", "+1+1", "2021-01-01"), ("@SUM(A1)", "-2+3", "2021-01-02"),
                                                  ("=HYPERLINK(\"http://x\")", "+1+1", "2021-01-03")])),
           {"=cmd|' /C calc'!A0", "@SUM(A1)", "=HYPERLINK(\"http://x\")"}, {"+1+1", "-2+3"}, 3),
        ok("sql-injection-ids", utf8(table([("x'); DROP TABLE runs;--", "1; DELETE FROM datasets", "2021-01-01"),
                                            ("x'); DROP TABLE runs;--", "' OR '1'='1", "2021-01-02")])),
           {"x'); DROP TABLE runs;--"}, {"1; DELETE FROM datasets", "' OR '1'='1"}, 2),
        ok("html-ids", utf8(table([("<script>alert(1)</script>", "<b>x</b>", "2021-01-01"),
                                   ("<script>alert(1)</script>", "&amp;", "2021-01-02")])),
           {"<script>alert(1)</script>"}, {"<b>x</b>", "&amp;"}, 2),
        ok("null-like-words-are-not-null", utf8(table([("Null Island", "none of them", "2021-01-01"),
                                                       ("Null Island", "NaNa", "2021-01-02")])),
           {"Null Island"}, {"none of them", "NaNa"}, 2),
    ]


def _truncated_gzip() -> bytes:
    """Half of a gzip whose text does not compress well, so the cut comes after the sniffed sample."""
    rng = random.Random(3)
    rows = [(f"u{rng.randrange(10**6)}", f"i{rng.randrange(10**6)}", str(1_600_000_000 + rng.randrange(10**7)))
            for _ in range(40_000)]
    data = gz(utf8(table(rows)))
    return data[: len(data) // 2]


def binary_cases() -> list[Case]:
    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(20_000))
    good = pd.DataFrame(ROWS, columns=list(HEADER))
    return [
        ok("gz-name-but-plain-text", utf8(table()), suffix=".csv.gz"),
        err("gzip-magic-then-garbage", b"\x1f\x8b" + noise[:5000], "gzip", suffix=".csv.gz"),
        err("truncated-gzip", gz(utf8(table() * 2000))[:1000], "", suffix=".csv.gz"),
        err("truncated-large-gzip", _truncated_gzip(), "could not be read to the end", suffix=".csv.gz"),
        err("gzip-of-binary", gz(noise), "binary", suffix=".gz"),
        err("gzip-of-nothing", gz(b""), "empty", suffix=".gz"),
        err("double-gzip", gz(gz(utf8(table()))), "", suffix=".gz"),
        ok("gzip-without-extension", gz(utf8(table())), suffix=".csv"),
        err("random-bytes", noise, "binary"),
        err("png-image", b"\x89PNG\r\n\x1a\n" + noise[:100], "png"),
        err("pdf-document", b"%PDF-1.4\n" + noise[:100], "pdf"),
        err("zip-archive", b"PK\x03\x04" + noise[:100], "zip"),
        err("sqlite-database", b"SQLite format 3\x00" + noise[:100], "sqlite"),
        err("bzip2-file", b"BZh91AY&SY" + noise[:200], ""),
        ok("nul-after-first-8k", utf8(table() + "u1,i1,2021-01-01\n" * 600) + b"u\x00,i1,2021-01-05\n",
           users=None, items=None, events=None),
        err("json-document", utf8(json.dumps([{"user_id": "u1", "item_id": "i1"}] * 5)), ""),
        err("html-page", utf8("<html><body><table><tr><td>user_id</td></tr></table></body></html>\n"), ""),
        ok("parquet", parquet(good), suffix=".parquet"),
        ok("parquet-with-csv-name", parquet(good), suffix=".csv"),
        ok("parquet-int-ids-and-datetimes",
           parquet(pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10],
                                 "timestamp": pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-03"])})),
           {"1", "2"}, {"10", "20"}, 3, suffix=".parquet"),
        err("parquet-zero-rows", parquet(good.iloc[:0]), "no rows", suffix=".parquet"),
        err("parquet-truncated", parquet(good)[:-40], "parquet", suffix=".parquet"),
        err("parquet-gzipped", gz(parquet(good)), "parquet", suffix=".parquet.gz"),
        ok("parquet-binary-column", parquet(good.assign(blob=[bytes([n, 255, 0]) for n in range(len(good))])),
           suffix=".parquet"),
        ok("parquet-list-column", parquet(good.assign(tags=[["a", "b"]] * len(good))), suffix=".parquet"),
        err("parquet-missing-item", parquet(good[["user_id", "timestamp"]]), "item", suffix=".parquet"),
        err("a-folder", None, "folder"),
    ]


def catalogue_cases() -> list[Case]:
    good_log = utf8(table())
    return [
        ok("catalogue-with-formulas-and-html", good_log,
           catalogue=utf8(table([("i1", "=cmd|' /C calc'!A0", "<script>x</script>"), ("i2", "@SUM(1)", "+cat")],
                                header=("item_id", "title", "category")))),
        err("catalogue-binary", good_log, "binary", catalogue=bytes(range(256)) * 10),
        err("catalogue-empty", good_log, "empty", catalogue=b""),
        err("catalogue-header-only", good_log, "no data rows", catalogue=b"item_id,title\n"),
        ok("catalogue-duplicate-item-rows", good_log,
           catalogue=utf8(table([("i1", "A"), ("i1", "B"), ("i2", "C")], header=("item_id", "title")))),
        ok("catalogue-without-matching-ids", good_log,
           catalogue=utf8(table([("zz", "A"), ("yy", "B")], header=("item_id", "title")))),
        err("catalogue-without-key-column", good_log, "",
            catalogue=utf8(table([("A", "x"), ("B", "y")], header=("title", "category")))),
        err("catalogue-gzip-garbage", good_log, "gzip", catalogue=b"\x1f\x8b" + b"\x00" * 50),
    ]


def all_cases() -> list[Case]:
    cases = (encoding_cases() + line_ending_cases() + delimiter_cases() + quoting_cases() + column_cases()
             + value_cases() + binary_cases() + catalogue_cases())
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


CASES = all_cases()


def test_corpus_is_large_enough():
    assert len(CASES) >= 100, len(CASES)


# -- running a case ------------------------------------------------------------------------------

def workspace_digest(path: Path) -> str:
    """sha256 over the workspace file (and -wal/-shm when present) and every file in its files folder."""
    digest = hashlib.sha256()
    files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    folder = path.with_name(path.stem + "-files")
    if folder.exists():
        files += sorted(p for p in folder.rglob("*"))
    for p in files:
        digest.update(str(p.relative_to(path.parent)).encode())
        if p.is_file():
            digest.update(p.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def template_workspace(tmp_path_factory) -> Path:
    """A workspace that already holds a dataset, so a failure that touched it would show."""
    folder = tmp_path_factory.mktemp("template")
    log = folder / "seed.csv"
    log.write_text(table([("seed-user", "seed-item", "2020-01-01"), ("seed-user", "other", "2020-01-02")]))
    ws = folder / "workspace.sqlite"
    assert main(["import", str(log), "--workspace", str(ws), "--name", "seed", "--json"]) == 0
    return ws


def copy_workspace(template: Path, folder: Path) -> Path:
    ws = folder / template.name
    shutil.copy2(template, ws)
    files = template.with_name(template.stem + "-files")
    if files.exists():
        shutil.copytree(files, ws.with_name(ws.stem + "-files"))
    return ws


def write_case(case: Case, folder: Path) -> tuple[Path, Path | None]:
    path = folder / f"input{case.suffix}"
    if case.data is None:
        path.mkdir()
    else:
        path.write_bytes(case.data)
    catalogue = None
    if case.catalogue is not None:
        catalogue = folder / "catalogue.csv"
        catalogue.write_bytes(case.catalogue)
    return path, catalogue


def dataset_names(ws: Path) -> list[str]:
    conn = sqlite3.connect(ws)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [r[0] for r in conn.execute("SELECT name FROM datasets ORDER BY id")]
    finally:
        conn.close()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case: Case, template_workspace, tmp_path, capsys):
    ws = copy_workspace(template_workspace, tmp_path)
    before = workspace_digest(ws)
    path, catalogue = write_case(case, tmp_path)
    argv = ["import", str(path), "--workspace", str(ws), "--json", "--name", "case", *case.args]
    if catalogue is not None:
        argv += ["--items", str(catalogue)]
    capsys.readouterr()
    code = main(argv)  # anything but RecStudioError escapes here and fails the test with its traceback
    out, errtext = capsys.readouterr()
    if case.expect == "error":
        assert code == 2, f"expected an error, got exit {code}: {out[:500]}"
        lines = errtext.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("recstudio: error: "), errtext
        assert "Traceback" not in errtext
        assert case.message.lower() in lines[0].lower(), lines[0]
        assert len(lines[0]) < 600, "an error message is one readable line"
        assert out == ""
        assert workspace_digest(ws) == before, "a failed import changed the workspace"
        return
    assert code == 0, f"expected an import, got: {errtext.strip()}"
    payload = json.loads(out)
    report = payload["report"]
    assert dataset_names(ws) == ["seed", "case"]
    from recstudio.workspace import Workspace

    with Workspace(ws) as workspace:
        dataset = workspace.load_dataset("case")
    assert dataset.n_events == report["events"] > 0
    assert len(dataset.user_ids) == dataset.n_users and len(dataset.item_ids) == dataset.n_items
    assert all(isinstance(u, str) for u in dataset.user_ids) and all(isinstance(i, str) for i in dataset.item_ids)
    if case.users is not None:
        assert set(dataset.user_ids) == case.users
    if case.items is not None:
        assert set(dataset.item_ids) == case.items
    if case.events is not None:
        assert dataset.n_events == case.events
    if case.check is not None:
        case.check(dataset, report)


# -- property-based fuzzing ----------------------------------------------------------------------

#: Cell text that exercises the parser: delimiters, quotes, newlines, NA words, formulas, non-ASCII.
cell_text = st.one_of(
    st.sampled_from(["", "NA", "null", "=1+1", "+x", "-3", "@a", '"', "'", ",", ";", "\t", "|", "\n", "\r\n",
                     "1e30", "inf", "2021-01-01", "1609459200", "0", "é", "\u202e", "👍", " "]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
)
column_names = st.sampled_from(["user_id", "item_id", "timestamp", "event", "rating", "customer", "sku", "time",
                                "", "x", "user_id ", "ITEM"])


@st.composite
def tables(draw):
    names = draw(st.lists(column_names, min_size=1, max_size=5))
    rows = draw(st.lists(st.lists(cell_text, min_size=len(names), max_size=len(names)), max_size=12))
    if draw(st.booleans()) and rows:  # a row with the wrong number of fields
        rows[draw(st.integers(0, len(rows) - 1))].append("extra")
    return names, rows


def _fuzz_file(folder: Path, names, rows, sep, encoding, bom, eol, compress) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator=eol)
    writer.writerow(names)
    writer.writerows(rows)
    data = out.getvalue().encode(encoding, errors="replace")
    if bom:
        data = codecs.BOM_UTF8 + data
    if compress:
        data = gz(data)
    path = folder / "fuzz.csv"
    path.write_bytes(data)
    return path


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
                database=None)  # the same examples every run, and no .hypothesis folder left behind


@FUZZ
# pyarrow cannot show a malformed Latin-1 row to its handler and reports that as "unraisable";
# the read then falls back to pandas, which is what the assertions below check
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@given(table=tables(), sep=st.sampled_from([",", "\t", ";", "|"]), encoding=st.sampled_from(["utf-8", "latin-1"]),
       bom=st.booleans(), eol=st.sampled_from(["\n", "\r\n"]), compress=st.booleans())
def test_fuzzed_tables_import_or_fail_cleanly(table, sep, encoding, bom, eol, compress):
    names, rows = table
    with tempfile.TemporaryDirectory() as folder:
        path = _fuzz_file(Path(folder), names, rows, sep, encoding, bom, eol, compress)
        try:
            dataset = import_interactions(path, options=ImportOptions())
        except RecStudioError as exc:
            message = str(exc)
            assert message and "\n" not in message and "Traceback" not in message
            return
    # an import: coded, consistent, and every id is a value the file held in some cell
    assert dataset.n_events > 0
    inter = dataset.interactions
    assert inter["user"].between(0, dataset.n_users - 1).all() and inter["item"].between(0, dataset.n_items - 1).all()
    assert (np.diff(inter["user"].to_numpy()) >= 0).all()
    cells = {str(c).strip() for row in rows for c in row} | {str(c).strip() for c in ["extra"]}
    if encoding == "utf-8":
        assert set(map(str, dataset.user_ids)) <= cells and set(map(str, dataset.item_ids)) <= cells


@FUZZ
@given(data=st.binary(max_size=2000), prefix=st.sampled_from([b"", b"user_id,item_id\n", b"\x1f\x8b", b"PAR1",
                                                              codecs.BOM_UTF8, b"user_id,item_id\nu1,"]))
def test_fuzzed_bytes_import_or_fail_cleanly(data, prefix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bytes.csv"
        path.write_bytes(prefix + data)
        try:
            dataset = import_interactions(path)
        except RecStudioError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        assert dataset.n_events > 0


# -- files that are not plain readable files, and files too odd for the byte corpus ---------------

def _unreadable(folder: Path, monkeypatch) -> Path:
    path = folder / "locked.csv"
    path.write_text(table())
    path.chmod(0)
    if os.geteuid() == 0:  # root reads any file: make opening it fail as it does for everyone else
        real_open = open

        def denied(file, *args, **kwargs):
            if Path(file) == path:
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(files_module, "open", denied, raising=False)
    return path


def _fifo(folder: Path, monkeypatch) -> Path:
    path = folder / "pipe.csv"
    os.mkfifo(path)  # nothing writes to it: reading it would wait for ever
    return path


def _symlink_loop(folder: Path, monkeypatch) -> Path:
    path = folder / "loop.csv"
    os.symlink(path, path)
    return path


def _broken_symlink(folder: Path, monkeypatch) -> Path:
    path = folder / "link.csv"
    os.symlink(folder / "gone.csv", path)
    return path


def _under_a_file(folder: Path, monkeypatch) -> Path:
    (folder / "plain.csv").write_text(table())
    return folder / "plain.csv" / "inner.csv"


def _wide_unique(folder: Path, monkeypatch) -> Path:
    """50,003 columns with unique names (a 64 KiB sample holds less than the header)."""
    names = [*HEADER, *(f"extra_{n}" for n in range(50_000))]
    path = folder / "wide.csv"
    path.write_text(table([(*r, *("x",) * 50_000) for r in ROWS[:3]], header=names))
    return path


def _wide_repeated(folder: Path, monkeypatch) -> Path:
    names = [*HEADER, *(f"extra_{n}" for n in range(50_000)), "extra_7"]
    path = folder / "wide-repeated.csv"
    path.write_text(table([(*r, *("x",) * 50_001) for r in ROWS[:3]], header=names))
    return path


#: (name, how to make the path, expected message words or None for an import of the given events)
FILE_CASES = [
    ("permission-denied", _unreadable, "permission denied: "),
    ("named-pipe", _fifo, "is a named pipe (fifo)"),
    ("dev-null", lambda folder, mp: Path("/dev/null"), "/dev/null is a device"),
    ("dev-zero", lambda folder, mp: Path("/dev/zero"), "/dev/zero is a device"),
    ("symlink-loop", _symlink_loop, "loops back on itself"),
    ("broken-symlink", _broken_symlink, "which does not exist"),
    ("path-under-a-file", _under_a_file, "a part of the path is a file"),
    ("wide-unique-names", _wide_unique, None),
    ("wide-one-repeated-name", _wide_repeated, "extra_7"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,make,message", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_file_system_case(name, make, message, template_workspace, tmp_path, capsys, monkeypatch):
    ws = copy_workspace(template_workspace, tmp_path)
    before = workspace_digest(ws)
    folder = tmp_path / "in"
    folder.mkdir()
    path = make(folder, monkeypatch)
    capsys.readouterr()
    code = main(["import", str(path), "--workspace", str(ws), "--json", "--name", "case"])
    out, errtext = capsys.readouterr()
    if message is None:
        assert code == 0, errtext
        assert json.loads(out)["report"]["events"] == 3
        return
    lines = errtext.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("recstudio: error: "), errtext
    assert message in lines[0].lower(), lines[0]
    assert workspace_digest(ws) == before, "a failed import changed the workspace"


def test_blank_header_is_named_not_skipped(tmp_path):
    path = tmp_path / "blank-header.csv"
    path.write_text(",,\n" + table(header=None))
    with pytest.raises(RecStudioError, match=r"header row of blank-header.csv \(line 1\) has 3 fields but no column names"):
        import_interactions(path)


def test_json_lines_are_read_and_a_json_document_is_named(tmp_path):
    lines = tmp_path / "events.jsonl"
    lines.write_text("".join(json.dumps(dict(zip(HEADER, r))) + "\n" for r in ROWS))
    dataset = import_interactions(lines)
    assert set(dataset.user_ids) == USERS and set(dataset.item_ids) == ITEMS and dataset.n_events == len(ROWS)
    document = tmp_path / "events.json"
    document.write_text(json.dumps([dict(zip(HEADER, r)) for r in ROWS]))
    with pytest.raises(RecStudioError, match="is a JSON document"):
        import_interactions(document)
