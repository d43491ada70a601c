"""Meta-knowledge transfer: a sasrec-lm run trained on one catalogue, carried to another (`--init-from`), beside
the same models trained from scratch, when only a share of the new data's users train (few-shot curves).

    python benchmarks/transfer.py                 # every pair, fractions 0, 0.1, 1.0 (about an hour here)
    python benchmarks/transfer.py --quick         # each training bounded to 300 steps
    python benchmarks/transfer.py --pairs ml-100k:sample --json

Pairs (source -> target): ml-100k -> the bundled sample, the sample -> ml-100k, and the Online Retail log in
../shared split two ways: by country (customers in the United Kingdom -> everyone else; the same products,
their text the log's own descriptions) and by time (`retail-early`, every purchase before the middle of the
log's year -> `retail-new`, the purchases after it of the products first sold after it: a new catalogue
that shares no item with the source, customers returning). A source may be two datasets trained at once
(`ml-100k+retail-uk`: both logs' sequences mixed in one dataset, users and items of each kept apart by a
prefix, both catalogues' text), as UniSRec pre-trains on several domains. For each target and training fraction F (`--train-fraction F`: a fixed share F
of the target's users train, validation and test are the same questions) it trains (a) sasrec from scratch,
(b) sasrec-lm from scratch and (c) sasrec-lm started from the source run, and tests each on the target's
default split (last-basket where there are invoices, else leave-one-out). At F = 0 nothing trains: (c) is the
source's knowledge tested as it is (zero-shot, `--epochs 0`), (a) and (b) have nothing to learn from, and
popularity over the target's training part would be empty too, so the popularity of the whole target log's
training part (F = 1) is the line to beat. Settings are each model's defaults. Figures, not asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/transfer.py
    import common

RETAIL = common.ROOT.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"
FRACTIONS = (0.0, 0.1, 1.0)
PAIRS = ("ml-100k:sample", "sample:ml-100k", "retail-uk:retail-other", "retail-early:retail-new",
         "ml-100k+retail-uk:retail-other")
QUICK_STEPS = 300


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", default=",".join(PAIRS), help=f"comma-separated SOURCE:TARGET (default {','.join(PAIRS)})")
    p.add_argument("--fractions", default=",".join(f"{f:g}" for f in FRACTIONS))
    p.add_argument("--quick", action="store_true", help=f"bound every training to {QUICK_STEPS} steps")
    p.add_argument("--source-set", action="append", default=[], metavar="KEY=VALUE",
                   help="a sasrec-lm setting of the source runs (those that shape the carried weights, such as "
                        "fusion, come to the transferred run with them)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    return p.parse_args(argv)


def retail_parts(folder: Path) -> dict[str, tuple[str, str]]:
    """The Online Retail log as datasets (events, catalogue) files each: by the customer's country
    (retail-uk, retail-other) and by time (retail-early: before the middle of the log's span; retail-new:
    the purchases after it of products first sold after it)."""
    import pandas as pd

    log = pd.read_csv(RETAIL, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    log = log[log["CustomerID"].notna() & (log["Quantity"] > 0) & ~log["InvoiceNo"].str.startswith("C")]
    when = pd.to_datetime(log["InvoiceDate"])
    cut = when.min() + (when.max() - when.min()) / 2
    first_sold = when.groupby(log["StockCode"]).transform("min")
    parts = {}
    for name, rows in (("retail-uk", log[log["Country"] == "United Kingdom"]),
                       ("retail-other", log[log["Country"] != "United Kingdom"]),
                       ("retail-early", log[when < cut]),
                       ("retail-new", log[(when >= cut) & (first_sold >= cut)])):
        events = folder / f"{name}.csv"
        items = folder / f"{name}-items.csv"
        rows[["CustomerID", "StockCode", "InvoiceDate", "Quantity", "InvoiceNo"]].rename(columns={
            "CustomerID": "customer_id", "StockCode": "stock_code", "InvoiceDate": "invoice_date",
            "Quantity": "quantity", "InvoiceNo": "invoice_no"}).to_csv(events, index=False)
        catalogue = rows.groupby("StockCode")["Description"].agg(lambda d: d.dropna().mode().iat[0] if d.notna().any()
                                                                  else "")
        catalogue.rename("title").rename_axis("stock_code").reset_index().to_csv(items, index=False)
        parts[name] = (str(events), str(items))
    return parts


def mixed(names: list[str], folder: Path, retail: dict) -> tuple[str, str]:
    """Several datasets as one (events, catalogue): every user and item id prefixed by its dataset's
    name, so none is shared; the events' times as dates, a basket per invoice (or, where a log has none,
    per user and time); the catalogues' title and category (genres) columns."""
    import pandas as pd

    events, catalogues = [], []
    for name in names:
        log_file, items_file = files(name, folder, retail)
        log, items = pd.read_csv(log_file, dtype=str), pd.read_csv(items_file, dtype=str)
        user, item = log.columns[0], log.columns[1]
        time = next(c for c in log.columns if "time" in c or "date" in c)
        when = pd.to_datetime(log[time].astype("int64"), unit="s") if log[time].str.isdigit().all() else \
            pd.to_datetime(log[time])
        basket = log["invoice_no"] if "invoice_no" in log else log[user] + "@" + log[time]
        events.append(pd.DataFrame({"user_id": f"{name}:" + log[user], "item_id": f"{name}:" + log[item],
                                    "timestamp": when.dt.strftime("%Y-%m-%d %H:%M:%S"),
                                    "basket": f"{name}:" + basket}))
        category = items["genres"].str.replace("|", ", ") if "genres" in items else ""
        catalogues.append(pd.DataFrame({"item_id": f"{name}:" + items[items.columns[0]], "title": items["title"],
                                        "category": category}))
    label = "+".join(names)
    events_file, items_file = folder / f"{label}.csv", folder / f"{label}-items.csv"
    pd.concat(events).to_csv(events_file, index=False)
    pd.concat(catalogues).to_csv(items_file, index=False)
    return str(events_file), str(items_file)


def files(name: str, folder: Path, retail: dict) -> tuple[str, str]:
    if "+" in name:
        return mixed(name.split("+"), folder, retail)
    found = common.named_files(name)
    if found is not None:
        return found
    if name.startswith("retail-"):
        if not retail:
            retail.update(retail_parts(folder))
        if name in retail:
            return retail[name]
    raise SystemExit(f"Unknown dataset {name!r}: ml-100k, sample, retail-uk, retail-other, retail-early, retail-new, "
                     "or several joined by + (a source trained on them at once).")


def main(argv=None) -> int:
    args = parse_args(argv)
    from recstudio.runs import TrainRequest

    fractions = [float(f) for f in args.fractions.split(",")]
    source_settings = common.key_values(args.source_set)
    steps = {"max_steps": QUICK_STEPS} if args.quick else {}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder, retail = Path(tmp), {}
        workspace = str(folder / "transfer.sqlite")
        for pair in args.pairs.split(","):
            source_name, target_name = pair.split(":")
            source_files, target_files = files(source_name, folder, retail), files(target_name, folder, retail)

            def request(data, model, **extra):
                return TrainRequest(data=data[0], items=data[1], model=model, device=args.device,
                                    workspace=workspace, train_config={**steps, **extra.pop("train", {})}, **extra)

            source = common.train(request(source_files, "sasrec-lm", model_config=source_settings),
                                  f"{source_name} sasrec-lm (source)")
            row: dict[str, dict] = {"source": {"run": source.run_id, "split": source.split,
                                               "NDCG@10": source.metrics["test"]["NDCG@10"]}}
            pop = common.train(request(target_files, "pop"), f"{target_name} pop")
            row["pop"] = _figures(pop)
            for fraction in fractions:
                label = f"{target_name} F={fraction:g}"
                options = {"split_options": {"train_fraction": fraction}}
                cell: dict[str, dict | None] = {}
                if fraction > 0:
                    cell["sasrec"] = _figures(common.train(request(target_files, "sasrec", **options), f"{label} sasrec"))
                    cell["sasrec-lm"] = _figures(common.train(request(target_files, "sasrec-lm", **options),
                                                              f"{label} sasrec-lm"))
                else:
                    cell["sasrec"] = cell["sasrec-lm"] = None
                transferred = request(target_files, "sasrec-lm", init_from=source.run_id, **options,
                                      train={"epochs": 0} if fraction == 0 else {})
                cell["transferred"] = _figures(common.train(transferred, f"{label} sasrec-lm from {source_name}"))
                row[f"{fraction:g}"] = cell
            results[pair] = row
    report(args, results, fractions)
    return 0


def _figures(outcome) -> dict:
    test = outcome.metrics.get("test", {})
    return {"run": outcome.run_id, "split": outcome.split, "epochs": outcome.epochs, "seconds": round(outcome.seconds, 1),
            **{k: test[k] for k in ("HR@10", "Recall@10", "NDCG@10") if k in test}}


def report(args, results: dict, fractions) -> None:
    print()
    print(common.command_line() + (f"   (--quick: every training bounded to {QUICK_STEPS} steps)" if args.quick else ""))
    print(common.machine_line())
    for pair, row in results.items():
        target_split = row["pop"]["split"]
        print(f"\n{pair}: source sasrec-lm run {row['source']['run']} (test NDCG@10 {row['source']['NDCG@10']:.4f} on "
              f"its {row['source']['split']} split); target split {target_split}; popularity NDCG@10 "
              f"{row['pop']['NDCG@10']:.4f}, HR@10 {row['pop']['HR@10']:.4f}")
        print(f"{'F':>5} {'sasrec':>16} {'sasrec-lm':>16} {'transferred':>16} {'transferred / lm':>17}")
        for fraction in fractions:
            cell = row[f"{fraction:g}"]

            def show(name):
                f = cell[name]
                return f"{f['NDCG@10']:.4f} / {f['HR@10']:.3f}" if f else "—"

            lm, tr = cell["sasrec-lm"], cell["transferred"]
            ratio = f"{tr['NDCG@10'] / lm['NDCG@10']:.2f}x" if lm and lm["NDCG@10"] else "—"
            print(f"{fraction:>5g} {show('sasrec'):>16} {show('sasrec-lm'):>16} {show('transferred'):>16} {ratio:>17}")
    print("(cells: test NDCG@10 / HR@10 on the target; at F = 0 nothing trains, the transferred run is zero-shot)")
    if args.json:
        print(json.dumps({"pairs": results,
                          "quick": bool(args.quick)}))


if __name__ == "__main__":
    sys.exit(main())
