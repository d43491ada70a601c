"""The command line's commands that read stored runs: list, import and show runs, evaluate, recommend,
explain, and check explanations' faithfulness (``recstudio runs ...``, ``evaluate``, ``recommend``,
``explain``, ``faithfulness``). :mod:`recstudio.cli` builds the parser and hands each its arguments."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from recstudio.errors import RecStudioError
from recstudio.terminal import print_result


def _run_row(run) -> dict[str, Any]:
    test = (run.metrics or {}).get("test", {})
    return {"id": run.id, "model": run.model, "dataset": run.dataset_name, "status": run.status,
            "started_at": run.started_at, "seconds": run.seconds, "epochs": run.epochs,
            "NDCG@10": test.get("NDCG@10"), "HR@10": test.get("HR@10")}


def cmd_runs_list(args) -> int:
    from recstudio.workspace import Workspace

    with Workspace(args.workspace) as ws:
        rows = [_run_row(r) for r in ws.list_runs()]
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    text = "\n".join(f"{r['id']:>4}  {r['model']:<10} {r['dataset']:<24} {r['status']:<11} "
                     f"NDCG@10 {fmt(r['NDCG@10'])}  HR@10 {fmt(r['HR@10'])}  {r['started_at']}" for r in rows)
    print_result(args, {"runs": rows}, text or "No runs yet: `recstudio train FILE --model sasrec`.")
    return 0


def cmd_runs_import(args) -> int:
    from recstudio.runs import import_cluster_run
    from recstudio.workspace import Workspace

    with Workspace(args.workspace) as ws:
        runs = import_cluster_run(ws, args.source)
        rows = [_run_row(r) for r in runs]
    text = "\n".join(f"Run {r['id']} ({r['model']} on {r['dataset']!r}, {r['status']}) imported." for r in rows)
    print_result(args, {"runs": rows}, text)
    return 0


def cmd_runs_show(args) -> int:
    from recstudio.workspace import Workspace

    with Workspace(args.workspace) as ws:
        run = ws.run(args.run)
        curve = ws.curve(run.id)
        artefacts = {k: str(v) for k, v in ws.artefacts(run.id).items()}
    from recstudio.runs import RunConfig

    payload = {**_run_row(run), "init_from": RunConfig.of(run).init_from,
               "config": run.config, "metrics": run.metrics, "error": run.error,
               "device": run.device, "artefacts": artefacts,
               "curve_points": len(curve)}
    text = json.dumps(payload, indent=2, default=str)
    print_result(args, payload, text)
    return 0


def cmd_evaluate(args) -> int:
    from recstudio.runs import evaluate_run
    from recstudio.workspace import Workspace

    with Workspace(args.workspace) as ws:
        run, result = evaluate_run(ws, args.run, exclude_seen=not args.keep_seen, device=args.device)
    from recstudio.evaluation import cold_metrics

    payload = {"run_id": run.id, "model": run.model, "exclude_seen": not args.keep_seen, **result.to_dict()}
    if cold_metrics(result) is not None:
        payload["cold"] = cold_metrics(result)
    lines = [f"Run {run.id} ({run.model}), {result.n_cases} test users, full ranking"
             f"{'' if args.keep_seen else ', seen items excluded'}:"]
    lines += [f"  {k:<14} {v:.4f}" for k, v in result.metrics.items() if v is not None]
    for name, seg in result.segments.items():
        lines.append(f"  segment {name}: {seg.get('users', 0)} users, NDCG@10 {seg.get('NDCG@10', 0):.4f}")
    if args.diversity is not None:
        from recstudio.runs import diversity_report

        with Workspace(args.workspace) as ws:
            rerank = diversity_report(ws, run.id, args.diversity)
        payload["diversity_reranking"] = rerank
        div, ndcg = rerank["diversity@10"], rerank["NDCG@10"]
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        lines.append(f"  MMR re-ranking (λ {rerank['lambda']:g}, {rerank['similarity']} similarity): diversity@10 "
                     f"{fmt(div['before'])} -> {fmt(div['after'])}, NDCG@10 {fmt(ndcg['before'])} -> "
                     f"{fmt(ndcg['after'])} (cost {fmt(ndcg['cost'])})")
    print_result(args, payload, "\n".join(lines))
    return 0


def cmd_recommend(args) -> int:
    from recstudio.runs import recommend
    from recstudio.workspace import Workspace

    if args.all_users:
        return _recommend_all_users(args)
    if args.output or args.pseudonymise:
        raise RecStudioError("--output and --pseudonymise go with --all-users.")
    if args.query is not None:
        return _recommend_query(args)
    history = None
    if args.history is not None:
        history = [h.strip() for h in args.history.split(",") if h.strip()]
    with Workspace(args.workspace) as ws:
        if args.diversity is not None:
            from recstudio.runs import recommend_diverse

            rec = recommend_diverse(ws, args.run, diversity=args.diversity, user=args.user, history=history,
                                    k=args.k, exclude_seen=not args.keep_seen)
        else:
            rec = recommend(ws, args.run, user=args.user, history=history, k=args.k,
                            exclude_seen=not args.keep_seen)
    payload = {"user": rec.user, "source": rec.source, "items": rec.items}
    if args.diversity is not None:
        payload["diversity"] = args.diversity
    who = f"user {rec.user}" if rec.user is not None else f"a history of {len(rec.history)} items"
    lines = [f"Top {len(rec.items)} for {who}" + (" (most popular: the history is empty)"
                                                   if rec.source == "popularity" else "") + ":"]
    lines += [f"{n:>3}. {it['item_id']:<12} {it['score']:>9.4f}  {it['title']}" for n, it in enumerate(rec.items, 1)]
    print_result(args, payload, "\n".join(lines))
    return 0


def _recommend_query(args) -> int:
    from recstudio.runs import recommend_query
    from recstudio.workspace import Workspace

    if args.diversity is not None or args.keep_seen:
        raise RecStudioError("--diversity and --keep-seen go with --user or --history, not --query.")
    with Workspace(args.workspace) as ws:
        rec = recommend_query(ws, args.run, args.query, k=args.k)
    payload = {"user": None, "query": args.query, "source": rec.source, "items": rec.items, "seeds": rec.history}
    lines = [f"Top {len(rec.items)} for the query {args.query!r}:"]
    lines += [f"{n:>3}. {it['item_id']:<12} {it['score']:>9.4f}  {it['title']}" for n, it in enumerate(rec.items, 1)]
    print_result(args, payload, "\n".join(lines))
    return 0


def _recommend_all_users(args) -> int:
    """Every user's top-K to a CSV, written to a temporary file and moved into place when complete."""
    from pathlib import Path

    from recstudio.runs import neutralise_formulas, recommend_all
    from recstudio.workspace import Workspace

    if not args.output:
        raise RecStudioError("--all-users writes a file: give --output FILE.csv.")
    if args.diversity is not None:
        raise RecStudioError("--diversity re-ranks one list at a time; leave it out with --all-users.")
    out = Path(args.output)
    if not out.parent.is_dir():
        raise RecStudioError(f"Folder {out.parent} does not exist; create it or choose another --output.")
    partial = out.with_name(f".{out.name}.partial")
    users = rows = 0
    started = time.perf_counter()
    try:
        with Workspace(args.workspace) as ws, open(partial, "w", newline="", encoding="utf-8") as f:
            for n, chunk in enumerate(recommend_all(ws, args.run, k=args.k, exclude_seen=not args.keep_seen,
                                                    pseudonymise=args.pseudonymise)):
                neutralise_formulas(chunk).to_csv(f, header=n == 0, index=False)
                users += chunk["user_id"].nunique()
                rows += len(chunk)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    print_result(args, {"output": str(out), "users": users, "rows": rows, "seconds": round(seconds, 2)},
           f"Wrote the top {args.k} of {users:,} users ({rows:,} rows) to {out} in {seconds:.1f} s.")
    return 0


def cmd_explain(args) -> int:
    from recstudio.explain import DEFAULT_MAX_EVALS
    from recstudio.runs import explain
    from recstudio.workspace import Workspace

    history = None
    if args.history is not None:
        history = [h.strip() for h in args.history.split(",") if h.strip()]
    with Workspace(args.workspace) as ws:
        explained = explain(ws, args.run, args.item, user=args.user, history=history,
                            max_evals=args.max_evals or DEFAULT_MAX_EVALS, seed=args.seed,
                            language_model=args.language_model)
    a = explained.attribution
    who = f"user {a.user}" if a.user is not None else f"a history of {len(a) + a.older_events} items"
    lines = [f"Item {a.item} ({a.item_title}) for {who}: score {a.score:.4f} = base {a.base_value:.4f} "
             f"+ {len(a)} events ({a.method} Shapley values, {a.evaluations} evaluations)"]
    if a.older_events:
        lines.append(f"  ({a.older_events} older events are beyond what the model reads)")
    lines += [f"  {e['value']:+9.4f}  {e['item_id']:<12} {e['title']}" for e in a.top(10)]
    if len(a) > 10:
        lines.append(f"  ... {len(a) - 10} more events")
    lines.append(f"{explained.text.text} [{explained.text.source}]")
    print_result(args, explained.to_dict(), "\n".join(lines))
    return 0


def cmd_faithfulness(args) -> int:
    from recstudio.explain import DEFAULT_MAX_EVALS
    from recstudio.runs import faithfulness_report
    from recstudio.workspace import Workspace

    with Workspace(args.workspace) as ws:
        report = faithfulness_report(ws, args.run, users=args.users, seed=args.seed,
                                     max_evals=args.max_evals or DEFAULT_MAX_EVALS)
    auc = report.deletion_auc
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    text = (f"{report.users} users: removing the top-3 attributed events lowers the score more than 3 random "
            f"ones for {report.top3_beats_random:.0%}.\nDeletion AUC (lower = faster fall): attribution "
            f"{fmt(auc['attribution'])}, random {fmt(auc['random'])}, attention {fmt(auc['attention'])}")
    print_result(args, report.to_dict(), text)
    return 0
