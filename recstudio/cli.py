"""The `recstudio` command line: a thin shell over recstudio.data, .training, .runs and .workspace."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from recstudio import __version__
from recstudio.errors import RecStudioError
from recstudio.cli_runs import (
    cmd_evaluate, cmd_explain, cmd_faithfulness, cmd_recommend, cmd_runs_import, cmd_runs_list, cmd_runs_show,
)
from recstudio.terminal import GracefulStop, StageLine, TrainReporter, print_result

#: ``recstudio.data.split_names()``, spelled out because importing recstudio.data loads pandas, which
#: `recstudio --help` must not wait for (tests/test_model_capabilities.py keeps the two the same).
SPLIT_NAMES = ("leave-one-out", "temporal", "cold-items", "last-basket")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # plain `recstudio` opens the window
        from recstudio.gui.app import main as gui_main

        return gui_main([])
    if argv[0] == "gui":  # the window parses its own options (argparse's REMAINDER drops leading flags)
        from recstudio.gui.app import main as gui_main

        return gui_main(argv[1:])
    args = parser.parse_args(argv)
    if args.self_test:
        from recstudio.gui.selftest import main as self_test

        return self_test()
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args) or 0
    except RecStudioError as exc:
        print(f"recstudio: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`recstudio runs list | head -1`): not an error of ours; keep Python's
        # exit-time flush of stdout from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser() -> argparse.ArgumentParser:
    from recstudio.models import model_names  # the registry: no torch

    parser = argparse.ArgumentParser(
        prog="recstudio",
        description="RecStudio: import behaviour logs, train sequential recommenders, evaluate and recommend.",
    )
    parser.add_argument("--version", action="version", version=f"recstudio {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="open the window offscreen on a throwaway workspace, import the bundled sample, train "
                             "one tiny step, close; exit 0 when all of that works")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", metavar="PATH",
                        help="workspace SQLite file (default: $RECSTUDIO_WORKSPACE or the user data folder)")
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("gui", help="open the window (optionally on a behaviour log)", add_help=False)
    p.add_argument("gui_args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_gui)

    p = sub.add_parser("import", parents=[common], help="import a behaviour log (and item catalogue)")
    p.add_argument("interactions", metavar="INTERACTIONS", help="CSV/TSV/Parquet file, optionally gzipped")
    _add_import_options(p)
    p.add_argument("--name", help="dataset name (default: the file's name)")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("datasets", parents=[common], help="list imported datasets")
    p.set_defaults(handler=cmd_datasets)

    p = sub.add_parser("models", parents=[common], help="list models and their settings")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("train", parents=[common], help="train a model on a file or an imported dataset")
    p.add_argument("data", metavar="DATA", nargs="?", help="CSV path or imported dataset name")
    p.add_argument("--sample", action="store_true", help="train on the bundled Online Retail sample")
    _add_import_options(p)
    p.add_argument("--model", default="sasrec", help=f"model name ({', '.join(model_names())}; default sasrec)")
    p.add_argument("--epochs", type=int, help="maximum epochs (early stopping usually ends sooner); 0 with "
                                               "--init-from: test the source run's knowledge with no training")
    p.add_argument("--max-steps", type=int, help="stop after this many optimisation steps")
    p.add_argument("--batch-size", type=int, help="training sequences per step (default 128; lm-seq 32)")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--patience", type=int, help="epochs without validation improvement before stopping")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--split", choices=SPLIT_NAMES,
                   help="leave-one-out, temporal, cold-items (leave-one-out with a random share of items held "
                        "out of training, reported apart as \"cold\") or last-basket (each user's last basket "
                        "is the test question). Default: last-basket when the data has a basket column "
                        "(invoice, order...), else leave-one-out")
    p.add_argument("--cold-fraction", type=float, metavar="F",
                   help="share of items the cold-items split holds out (default 0.1)")
    p.add_argument("--train-fraction", type=float, metavar="F",
                   help="train on a random share F (0-1) of the users' training sequences (few-shot); "
                        "validation and test stay the same questions")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model setting, e.g. --set hidden=128 (see `recstudio models`)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--resume", metavar="RUN",
                   help="continue an interrupted, cancelled or failed run from its last finished epoch "
                        "(with its own data and settings; give no DATA)")
    p.add_argument("--distributed", action="store_true",
                   help="one rank of a torchrun job: torchrun --nproc_per_node=N -m recstudio train ... --distributed "
                        "(DDP; gloo on CPU, NCCL on GPU; rank 0 writes the workspace)")
    p.add_argument("--teacher", metavar="RUN",
                   help="distil: the student (sasrec) also learns the soft targets of this trained run, on its "
                        "dataset and split (DATA may be left out)")
    p.add_argument("--temperature", type=float, metavar="T",
                   help="with --teacher: softmax temperature of the soft targets (default 2; also --set temperature=T)")
    p.add_argument("--alpha", type=float, metavar="A",
                   help="with --teacher: weight of the soft targets, 0-1 (default 0.5; also --set alpha=A)")
    p.add_argument("--init-from", metavar="RUN",
                   help="start from this finished sasrec-lm run (any dataset of the workspace): its transformer, "
                        "text adaptor and fusion weights, encoder, template and architecture; id vectors start at zero")
    p.set_defaults(handler=cmd_train)

    runs = sub.add_parser("runs", help="list or show training runs")
    runs_sub = runs.add_subparsers(title="runs commands", metavar="COMMAND")
    p = runs_sub.add_parser("list", parents=[common], help="list runs")
    p.set_defaults(handler=cmd_runs_list)
    p = runs_sub.add_parser("show", parents=[common], help="one run's settings, metrics and curve summary")
    p.add_argument("run", metavar="RUN")
    p.set_defaults(handler=cmd_runs_show)
    p = runs_sub.add_parser("import", parents=[common],
                            help="bring a finished cluster job's runs (its folder or workspace file) into this workspace")
    p.add_argument("source", metavar="DIR")
    p.set_defaults(handler=cmd_runs_import)
    runs.set_defaults(handler=lambda args: runs.print_help())

    p = sub.add_parser("evaluate", parents=[common], help="test a run's best checkpoint (full ranking)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--keep-seen", action="store_true", help="do not exclude items already in the history")
    p.add_argument("--device", default="auto")
    p.add_argument("--diversity", type=float, metavar="λ",
                   help="also report MMR re-ranking with this λ (0-1): diversity@10 before/after, NDCG@10 cost")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("recommend", parents=[common], help="top-K items for a user or an ad-hoc history")
    p.add_argument("run", metavar="RUN")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="user id as in the imported file")
    who.add_argument("--history", help="comma-separated item ids, oldest first (may be empty: \"\")")
    who.add_argument("--all-users", action="store_true",
                     help="every user's top-K, written in batches to --output (CSV: user_id, rank, item_id, title, score)")
    who.add_argument("--query", metavar="TEXT",
                     help="interests in words, for a user with no history (text-aware runs such as sasrec-lm): "
                          "items whose text matches, lifted by what the model predicts after the closest matches")
    p.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    p.add_argument("--keep-seen", action="store_true", help="allow items already in the history")
    p.add_argument("--output", metavar="FILE.csv", help="with --all-users: the CSV file to write")
    p.add_argument("--pseudonymise", metavar="SECRET",
                   help="with --all-users: replace user ids by a keyed hash (HMAC-SHA256) of this secret")
    p.add_argument("--diversity", type=float, metavar="λ",
                   help="re-rank for variety (MMR over categories or item vectors): 0 = model order, 1 = most varied")
    p.set_defaults(handler=cmd_recommend)

    p = sub.add_parser("quantise", parents=[common],
                       help="a new run holding RUN's model with its Linear layers in int8 (dynamic quantisation, for "
                            "CPU inference); reports its size and tests it")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--no-test", action="store_true", help="do not test the int8 copy on the run's split")
    p.set_defaults(handler=cmd_quantise)

    p = sub.add_parser("update", parents=[common],
                       help="append new events (and catalogue items) to RUN's dataset as a new version and fine-tune "
                            "RUN on them for a bounded number of steps, as a new run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("new_events", metavar="NEW_EVENTS", help="CSV/TSV/Parquet file of new events (columns as in the "
                                                          "original file, or guessed)")
    _add_import_options(p)
    p.add_argument("--steps", type=int, default=200, help="most fine-tuning steps (default 200)")
    p.add_argument("--replay", type=float, default=3.0,
                   help="old user sequences replayed per touched one, against forgetting (default 3)")
    p.add_argument("--lr", type=float, help="learning rate (default: a tenth of the run's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=cmd_update)

    p = sub.add_parser("explain", parents=[common], help="which history events drove one recommendation (Shapley)")
    p.add_argument("run", metavar="RUN")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="user id as in the imported file (their full history)")
    who.add_argument("--history", help="comma-separated item ids, oldest first")
    p.add_argument("--item", required=True, help="the recommended item id to explain")
    p.add_argument("--max-evals", type=int, default=None, metavar="N",
                   help="model evaluations for histories too long to explain exactly (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled permutations")
    p.add_argument("--language-model", metavar="PATH",
                   help="local causal language model (transformers folder) to reword the explanation")
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser("faithfulness", parents=[common],
                       help="do attributions find what matters? deletion curves vs random and attention order")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--users", type=int, default=100, help="random users to explain (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-evals", type=int, default=None, metavar="N", help="per explanation (default 1000)")
    p.set_defaults(handler=cmd_faithfulness)
    return parser


def _add_import_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", metavar="CATALOGUE", help="item catalogue file joined on the item id")
    for role in ("user", "item", "time", "event", "rating", "quantity"):
        p.add_argument(f"--{role}-col", metavar="COLUMN", help=f"column holding the {role} (default: guessed)")
    p.add_argument("--basket-col", metavar="COLUMN",
                   help="column grouping a user's events into baskets: invoice, order, session (default: guessed "
                        "from names like invoice_no, order_id, basket; \"\" for none, so events sharing a time "
                        "are a basket)")
    p.add_argument("--item-key", metavar="COLUMN", help="catalogue column holding the item id (default: guessed)")
    p.add_argument("--events", metavar="TYPE,...", help="keep only these event types")
    p.add_argument("--min-user-events", type=int, default=1, metavar="N", help="drop users with fewer events")
    p.add_argument("--min-item-events", type=int, default=1, metavar="N", help="drop items with fewer events")
    p.add_argument("--keep-duplicates", action="store_true", help="keep exact duplicate rows")


def _import_settings(args) -> tuple[Any, Any]:
    from recstudio.data import ColumnRoles, ImportOptions

    roles = ColumnRoles(user=args.user_col, item=args.item_col, timestamp=args.time_col,
                        event=args.event_col, rating=args.rating_col, quantity=args.quantity_col,
                        basket=args.basket_col)
    if roles == ColumnRoles():
        roles = None
    events = tuple(e.strip() for e in args.events.split(",") if e.strip()) if args.events else None
    options = ImportOptions(drop_duplicates=not args.keep_duplicates, event_types=events,
                            min_user_events=args.min_user_events, min_item_events=args.min_item_events,
                            item_key=args.item_key)
    return roles, options


def cmd_gui(args) -> int:
    from recstudio.gui.app import main as gui_main

    return gui_main(args.gui_args)


def cmd_import(args) -> int:
    from recstudio.runs import ImportRequest, import_or_reuse
    from recstudio.workspace import Workspace

    roles, options = _import_settings(args)
    request = ImportRequest(args.interactions, args.items, roles, options, args.name)
    progress = StageLine() if not args.json and sys.stderr.isatty() else None
    with Workspace(args.workspace) as ws:
        record, reused = import_or_reuse(ws, request, progress=progress)
    report = record.report
    lines = [f"{'Reused' if reused else 'Imported'} dataset {record.name!r} (id {record.id}) from {record.source}",
             f"  rows read {report.get('rows_read')}, kept {record.n_events} events, "
             f"{record.n_users} users, {record.n_items} items",
             f"  time span {report.get('time_start')} .. {report.get('time_end')}"]
    lines += _read_as_lines(report)
    lines += _basket_lines(report)
    for reason, count in (report.get("dropped") or {}).items():
        if count:
            lines.append(f"  dropped {count} rows: {reason}")
    for warning in report.get("warnings") or []:
        lines.append(f"  note: {warning}")
    print_result(args, {"dataset": record.name, "id": record.id, "reused": reused, "report": report}, "\n".join(lines))
    return 0


def _read_as_lines(report: dict) -> list[str]:
    """How the file's text and each timestamp column were read, as the import report says."""
    from recstudio.data import encoding_name

    lines = []
    if report.get("encoding"):
        lines.append(f"  text read as {encoding_name(report['encoding'])}")
    for column, unit in (report.get("timestamp_units") or {}).items():
        lines.append(f"  timestamps in column {column!r}: {unit}")
    return lines


def _basket_lines(report: dict) -> list[str]:
    """How many baskets the import found, how big, and how many events share one."""
    if not report.get("baskets"):
        return []
    by = (f"values of column {report['columns']['basket']!r}" if (report.get("columns") or {}).get("basket")
          else "events of a user sharing a time")
    return [f"  baskets ({by}): {report['baskets']:,}; events per basket: mean "
            f"{report.get('events_per_basket', 0):.1f}, median {report.get('events_per_basket_median', 0):g}, "
            f"max {report.get('events_per_basket_max', 0):,}",
            f"  {report.get('shared_time_events', 0):,} events share their basket with another event of their user; "
            f"same_time_share {report.get('same_time_share', 0):.2f} (users whose last event shares its basket "
            "with the one before)"]


def cmd_datasets(args) -> int:
    from recstudio.workspace import Workspace

    with Workspace(args.workspace) as ws:
        records = ws.list_datasets()
    rows = [{"id": r.id, "name": r.name, "users": r.n_users, "items": r.n_items, "events": r.n_events,
             "source": r.source, "created_at": r.created_at} for r in records]
    text = "\n".join(f"{r['id']:>4}  {r['name']:<30} {r['users']:>8} users {r['items']:>8} items "
                     f"{r['events']:>10} events" for r in rows) or "No datasets yet: `recstudio import FILE`."
    print_result(args, {"datasets": rows}, text)
    return 0


def cmd_models(args) -> int:
    import dataclasses

    from recstudio.models import MODEL_SPECS

    models = []
    for spec in MODEL_SPECS.values():
        settings = {f.name: f.default for f in dataclasses.fields(spec.config_class)}
        models.append({"name": spec.name, "description": spec.description, "settings": settings})
    text = "\n".join(f"{m['name']:<10} {m['description']}\n" + "".join(
        f"{'':12}{k} = {v}\n" for k, v in m["settings"].items()) for m in models)
    print_result(args, {"models": models}, text.rstrip())
    return 0


def cmd_train(args) -> int:
    from recstudio.runs import TrainRequest, file_or_dataset

    if args.resume is not None:
        if args.data or args.sample or args.distributed or args.init_from:
            raise RecStudioError("--resume continues a run with its own data and settings; give no DATA, "
                                 "--sample, --distributed or --init-from.")
        return _train(args, TrainRequest(resume=args.resume, device=args.device, workspace=args.workspace))
    data, items = args.data, args.items
    if args.sample:
        from recstudio.data import sample_paths

        if data:
            raise RecStudioError("Give either DATA or --sample, not both.")
        interactions, catalogue = sample_paths()
        data, items = str(interactions), items or str(catalogue)
    settings = parse_settings(args.set)
    distill = {}
    if args.teacher is not None:
        # temperature and alpha belong to the distillation, not the student: --set is accepted for them too
        distill = {key: settings.pop(key) for key in ("temperature", "alpha") if key in settings}
        distill.update({k: v for k, v in (("temperature", args.temperature), ("alpha", args.alpha)) if v is not None})
    elif args.temperature is not None or args.alpha is not None:
        raise RecStudioError("--temperature and --alpha go with --teacher RUN.")
    if not data and args.teacher is None:
        raise RecStudioError("Nothing to train on: give a CSV path, an imported dataset name, or --sample.")
    roles, options = _import_settings(args)
    train_config = {"epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size,
                    "lr": args.lr, "patience": args.patience, "seed": args.seed}
    split_options = {}
    if args.cold_fraction is not None:
        if args.split != "cold-items":
            raise RecStudioError("--cold-fraction goes with --split cold-items.")
        split_options["cold_fraction"] = args.cold_fraction
    if args.train_fraction is not None:
        split_options["train_fraction"] = args.train_fraction
    request = TrainRequest(
        **(file_or_dataset(data) if data else {}), items=items, model=args.model, model_config=settings, teacher=args.teacher, distill=distill,
        train_config={k: v for k, v in train_config.items() if v is not None}, split=args.split,
        device=args.device, workspace=args.workspace, roles=roles, import_options=options,
        split_options=split_options, distributed=args.distributed, init_from=args.init_from,
    )
    return _train(args, request)


def _train(args, request) -> int:
    """Run a training request with progress on stderr and the outcome on stdout."""
    from recstudio.drive import drive
    from recstudio.runs import seen_targets_note, train_run

    rank = int(os.environ.get("RANK", "0")) if args.distributed else 0
    stop = GracefulStop()
    reporter = TrainReporter(quiet=args.quiet or rank != 0)  # one rank speaks for the job
    try:
        with stop:
            gen = train_run(request, cancelled=stop.requested,
                            import_progress=StageLine() if not args.quiet and sys.stderr.isatty() else None)
            outcome = drive(gen, reporter.show)
    finally:
        if args.distributed:
            from recstudio.training.ddp import shutdown

            shutdown()
    if rank != 0:
        return 0
    payload = {"run_id": outcome.run_id, "model": outcome.model, "dataset": outcome.dataset,
               "split": outcome.split, "status": outcome.status, "epochs": outcome.epochs,
               "best_epoch": outcome.best_epoch,
               "seconds": round(outcome.seconds, 2), "seconds_to_best": round(outcome.seconds_to_best, 2),
               "samples_per_s": round(outcome.samples_per_s, 1),
               "metrics": {"valid": outcome.metrics.get("valid", {}), "test": outcome.metrics.get("test", {})}}
    if "cold" in outcome.metrics:
        payload["metrics"]["cold"] = outcome.metrics["cold"]
    test = payload["metrics"]["test"]
    text = (f"Run {outcome.run_id} ({outcome.model} on {outcome.dataset!r}) {outcome.status} after "
            f"{outcome.epochs} epochs in {outcome.seconds:.1f} s; best epoch {outcome.best_epoch}.\n"
            + ("Test: " + ", ".join(f"{k} {test[k]:.4f}" for k in ("HR@10", "Recall@10", "NDCG@10", "MRR@10")
                                   if k in test)
               if test else "No test metrics (no epoch finished)."))
    seen = seen_targets_note(test)
    if seen:
        text += "\n" + seen
    cold = outcome.metrics.get("cold")
    if cold is not None:
        text += (f"\nCold items ({cold['cases']} test cases whose item never appeared in training): "
                 + ", ".join(f"{k} {cold[k]:.4f}" for k in ("HR@10", "NDCG@10", "MRR@10") if k in cold))
    print_result(args, payload, text)
    return 0


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` options as a dict (values as given; the model's config reads them)."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise RecStudioError(f"--set takes KEY=VALUE, got {pair!r}.")
        settings[key.strip()] = value.strip()
    return settings


def cmd_quantise(args) -> int:
    from recstudio.runs import quantise_run
    from recstudio.workspace import Workspace

    with Workspace(args.workspace) as ws:
        q = quantise_run(ws, args.run, evaluate=not args.no_test)
    test = q.metrics.get("test") or {}
    text = (f"Run {q.run_id}: run {q.parent_run} ({q.model}) with {len(q.layers)} Linear layers in int8 (dynamic "
            f"quantisation). Weights on disk {q.size_bytes / 1e6:.2f} MB (float: {q.parent_size_bytes / 1e6:.2f} MB), "
            f"{q.parameters:,} parameters.")
    if test:
        text += "\nTest: " + ", ".join(f"{k} {test[k]:.4f}" for k in ("HR@10", "NDCG@10", "MRR@10") if k in test)
    print_result(args, {"run_id": q.run_id, "parent_run": q.parent_run, "model": q.model, "layers": q.layers,
                  "size_bytes": q.size_bytes, "parent_size_bytes": q.parent_size_bytes, "parameters": q.parameters,
                  "metrics": {"test": test}, "seconds": round(q.seconds, 2)}, text)
    return 0


def cmd_update(args) -> int:
    from recstudio.drive import drive
    from recstudio.runs import UpdateRequest, update_run, update_summary

    roles, options = _import_settings(args)
    request = UpdateRequest(run=args.run, events=args.new_events, items=args.items, steps=args.steps, replay=args.replay,
                            lr=args.lr, seed=args.seed, roles=roles, import_options=options, device=args.device,
                            workspace=args.workspace)
    stop = GracefulStop()
    reporter = TrainReporter(quiet=args.quiet)
    with stop:
        result = drive(update_run(request, cancelled=stop.requested), reporter.show)
    payload = result.to_dict()
    if result.outcome is not None:
        payload["run_id"] = result.outcome.run_id
    print_result(args, payload, update_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
