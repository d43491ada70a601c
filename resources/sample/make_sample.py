"""Cut RecStudio's bundled sample (purchases.csv.gz, products.csv) out of the UCI Online Retail log.

Run from anywhere:  python resources/sample/make_sample.py [--source PATH/online_retail.csv.gz]
The cut is deterministic: the same source gives byte-identical outputs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"

SEED = 20111209  # the last day of the log
CUSTOMERS = 1500  # customers drawn from those with enough purchase lines
MIN_CUSTOMER_LINES = 5
MIN_ITEM_CUSTOMERS = 3
MAX_EVENTS = 100  # most recent purchase lines kept per customer
PRODUCT_CODE = r"\d{5}[A-Za-z]?"


def clean(log: pd.DataFrame) -> pd.DataFrame:
    """Purchases only, as the source README advises, each purchase line once."""
    log = log.apply(lambda column: column.str.strip())
    keep = (
        (log["CustomerID"] != "")
        & ~log["InvoiceNo"].str[:1].isin(["C", "A"])  # cancellations and bad-debt adjustments
        & (pd.to_numeric(log["Quantity"], errors="coerce") > 0)
        & log["StockCode"].str.fullmatch(PRODUCT_CODE)  # drops POST, DOT, M, BANK CHARGES, gift_...
    )
    # lines repeated within an invoice would be duplicate rows of the sample's columns
    return log[keep].drop_duplicates(["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "CustomerID"])


def cut(purchases: pd.DataFrame) -> pd.DataFrame:
    """Sample customers, keep their recent lines, and keep items several sampled customers bought."""
    lines = purchases["CustomerID"].value_counts()
    eligible = np.sort(lines[lines >= MIN_CUSTOMER_LINES].index.to_numpy(dtype=str))
    chosen = np.random.default_rng(SEED).choice(eligible, size=min(CUSTOMERS, len(eligible)), replace=False)
    sample = purchases[purchases["CustomerID"].isin(chosen)].copy()
    sample["order"] = np.arange(len(sample))  # file order breaks ties between lines of one invoice
    sample = sample.sort_values(["InvoiceDate", "order"], kind="stable")
    sample = sample.groupby("CustomerID", sort=False).tail(MAX_EVENTS)
    # dropping rare items can leave customers too short, and the reverse, so repeat until stable
    while True:
        buyers = sample.groupby("StockCode")["CustomerID"].nunique()
        sample = sample[sample["StockCode"].map(buyers) >= MIN_ITEM_CUSTOMERS]
        counts = sample["CustomerID"].value_counts()
        short = sample["CustomerID"].map(counts) < MIN_CUSTOMER_LINES
        if not short.any():
            break
        sample = sample[~short]
    return sample.sort_values("order", kind="stable").drop(columns="order")


def products(purchases: pd.DataFrame, codes: pd.Index) -> pd.DataFrame:
    """One row per sampled product: its most common description in Title Case and its median price."""
    rows = purchases[purchases["StockCode"].isin(codes) & (purchases["Description"] != "")]
    names = (
        rows.groupby(["StockCode", "Description"]).size().rename("n").reset_index()
        .sort_values(["StockCode", "n", "Description"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("StockCode")
        .set_index("StockCode")["Description"]
    )
    title = names.str.title().str.replace(r"'S\b", "'s", regex=True).str.replace(r"\s+", " ", regex=True)
    price = pd.to_numeric(rows["UnitPrice"]).groupby(rows["StockCode"]).median().round(2)
    table = pd.DataFrame({"title": title, "price": price}).reindex(sorted(codes))
    table.index.name = "stock_code"
    return table.reset_index()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="online_retail.csv.gz (UCI Online Retail)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the outputs (default: beside this script)")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"source not found: {args.source}")

    raw = pd.read_csv(args.source, dtype=str, keep_default_na=False)
    purchases = clean(raw)
    sample = cut(purchases)
    out = pd.DataFrame({
        "customer_id": sample["CustomerID"],
        "stock_code": sample["StockCode"],
        "invoice_date": pd.to_datetime(sample["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
        .dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "quantity": sample["Quantity"],
        "invoice_no": sample["InvoiceNo"],
    })
    args.out.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out / "purchases.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    catalogue = products(purchases, pd.Index(out["stock_code"].unique()))
    catalogue.to_csv(args.out / "products.csv", index=False)
    print(
        f"{len(raw):,} source lines -> {len(purchases):,} clean purchase lines -> sample of {len(out):,} lines, "
        f"{out['customer_id'].nunique():,} customers, {out['stock_code'].nunique():,} products, "
        f"{out['invoice_date'].min()} .. {out['invoice_date'].max()}"
    )


if __name__ == "__main__":
    main()
