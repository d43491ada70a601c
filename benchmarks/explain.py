"""Explanations on ml-100k with a trained SASRec: additivity, faithfulness, speed, a planted rule, diversity.

Run:  python benchmarks/explain.py [--pairs 100] [--seed 0] [--epochs 30] [--workspace WS --run RUN]

Prints, for random (user, recommended item) pairs (a random item of each user's top 10, full
history): the largest |sum of values + base value - score|, the share of users for whom removing
the top-3 attributed events lowers the score more than removing 3 random ones (mean of 10 random
draws), the mean deletion AUC by attribution, random and attention order; the time of one
explanation of a 50-event history at the default budget; agreement of the default budget with a
10x budget; whether grounded texts pass the validator; the planted-rule hit rate on a synthetic
log; and the MMR diversity trade-off on the test split. A benchmark, not a test: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/explain.py
    import common


def train_sasrec(workspace: str, data: Path, epochs: int, seed: int) -> int:
    from recstudio.runs import TrainRequest

    interactions, items = common.dataset_files(data)
    request = TrainRequest(data=interactions, items=items, model="sasrec",
                           train_config={"epochs": epochs, "seed": seed}, device="cpu", workspace=workspace)
    return common.train(request, "sasrec").run_id


def timing(inspector, max_evals: int, repeats: int = 10) -> dict:
    """Seconds for one explanation of a 50-event history (the model's full window) at ``max_evals``."""
    from recstudio.explain import attribute
    from recstudio.runs import FULL_HISTORY

    lengths = np.diff(inspector.dataset.indptr)
    user = int(np.flatnonzero(lengths >= 50)[0])
    user_id = str(inspector.dataset.user_ids[user])
    history = inspector.dataset.history(user)[-50:]
    item = inspector.dataset.item_index(inspector.recommend(user_id, k=1, mode=FULL_HISTORY).items[0]["item_id"])
    attribute(inspector.model, history, item, max_evals=max_evals)  # warm-up: shap's numba compilation
    seconds, evaluations = [], 0
    for r in range(repeats):
        started = time.perf_counter()
        result = attribute(inspector.model, history, item, max_evals=max_evals, seed=r)
        seconds.append(time.perf_counter() - started)
        evaluations = result.evaluations
    return {"events": len(history), "max_evals": max_evals, "evaluations": evaluations, "threads": 1,
            "median_s": float(np.median(seconds)), "max_s": float(np.max(seconds))}


def budget_agreement(inspector, max_evals: int, pairs: int, seed: int) -> dict:
    """How close the default budget's values are to a 10x budget's: Spearman correlation and top-3 overlap."""
    from scipy.stats import spearmanr

    from recstudio.explain import attribute
    from recstudio.runs import FULL_HISTORY

    rng = np.random.default_rng(seed + 1)
    lengths = np.diff(inspector.dataset.indptr)
    users = rng.choice(np.flatnonzero(lengths >= 20), size=pairs, replace=False)
    rhos, overlaps = [], []
    for n, user in enumerate(users.tolist()):
        user_id = str(inspector.dataset.user_ids[user])
        items = inspector.recommend(user_id, k=10, mode=FULL_HISTORY).items
        item = inspector.dataset.item_index(items[int(rng.integers(len(items)))]["item_id"])
        history = inspector.dataset.history(user)
        a = attribute(inspector.model, history, item, max_evals=max_evals, seed=n)
        b = attribute(inspector.model, history, item, max_evals=10 * max_evals, seed=10_000 + n)
        rhos.append(spearmanr(a.values, b.values).statistic)
        overlaps.append(len(set(a.order()[:3].tolist()) & set(b.order()[:3].tolist())) / 3)
    return {"pairs": pairs, "spearman_mean": float(np.mean(rhos)), "top3_overlap_mean": float(np.mean(overlaps))}


def grounded_texts(inspector, pairs: int, seed: int) -> dict:
    """Grounded explanations and interest summaries for random users: how many pass the validator
    (all should), and one example of each."""
    from recstudio.explain import catalogue_of, check_text
    from recstudio.runs import FULL_HISTORY, explain_recommendation, summarise_user

    rng = np.random.default_rng(seed + 2)
    users = rng.choice(inspector.dataset.n_users, size=pairs, replace=False)
    catalogue = catalogue_of(inspector.dataset)
    passed, example, summary = 0, None, None
    for user in users.tolist():
        user_id = str(inspector.dataset.user_ids[user])
        item = inspector.recommend(user_id, k=1, mode=FULL_HISTORY).items[0]["item_id"]
        text = explain_recommendation(inspector, item, user=user_id, seed=user).text
        about = summarise_user(inspector, user_id)
        passed += (check_text(text.text, text.facts, catalogue) is None) + (check_text(about.text, about.facts,
                                                                                       catalogue) is None)
        example, summary = example or text.text, summary or about.text
    return {"texts": 2 * pairs, "pass_validator": passed, "example": example, "summary_example": summary}


def planted_rule(seed: int, cases: int = 200) -> dict:
    """A synthetic log where rule item A_r is always followed by B_r; SASRec trained on it; the share of
    histories (random events, then A_r as the most recent) where A_r is the top attribution for B_r."""
    import torch

    from recstudio.data import pad_sequences
    from recstudio.explain import attribute
    from recstudio.models import create_model, model_config

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    n_items, rules = 200, 20
    noise = np.arange(2 * rules, n_items)
    sequences = []
    for _ in range(2000):
        seq = list(rng.choice(noise, size=20))
        for _ in range(3):
            r, at = int(rng.integers(rules)), int(rng.integers(0, len(seq)))
            seq[at:at] = [r, rules + r]
        sequences.append(seq)
    model = create_model("sasrec", n_items, model_config("sasrec", {"hidden": 64, "layers": 2, "max_len": 50}))
    windows = pad_sequences(sequences, 51)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for epoch in range(20):
        for lo in range(0, len(windows), 128):
            batch = model.make_batch(windows[lo: lo + 128], rng)
            opt.zero_grad()
            model.loss(batch).backward()
            opt.step()
    model.eval()
    hits = 0
    for case in range(cases):
        r = case % rules
        history = [*rng.choice(noise, size=int(rng.integers(5, 30))), r]
        result = attribute(model, history, rules + r, seed=case)
        hits += int(result.order()[0] == len(history) - 1)
    return {"cases": cases, "rules": rules, "history_events": "6-30 (A last)", "top_is_A": hits / cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30, help="SASRec epoch limit when training (early stopping)")
    parser.add_argument("--max-evals", type=int, default=None, help="explanation budget (default: the library's)")
    parser.add_argument("--workspace", help="reuse a workspace holding an ml-100k SASRec run (with --run)")
    parser.add_argument("--run", help="the run to reuse")
    parser.add_argument("--data", default=str(common.ML100K))
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: agreement,texts,diversity,planted")
    args = parser.parse_args()

    from recstudio.explain import DEFAULT_MAX_EVALS
    from recstudio.runs import RunInspector, diversity_report, faithfulness_report
    from recstudio.workspace import Workspace

    max_evals = args.max_evals or DEFAULT_MAX_EVALS
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = args.workspace or str(Path(tmp) / "ws.sqlite")
        run_id = args.run or train_sasrec(path, Path(args.data), args.epochs, args.seed)
        with Workspace(path) as ws:
            inspector = RunInspector(ws, run_id)
            results["run"] = {"id": int(inspector.run.id), "model": inspector.run.model,
                              "test_NDCG@10": (inspector.run.metrics.get("test") or {}).get("NDCG@10")}
            started = time.perf_counter()
            report = faithfulness_report(ws, run_id, users=args.pairs, seed=args.seed, max_evals=max_evals,
                                         inspector=inspector)
            results["faithfulness"] = {**report.to_dict(), "seconds": round(time.perf_counter() - started, 1)}
            results["timing_50_events"] = timing(inspector, max_evals)
            if "agreement" not in skip:
                results["budget_agreement"] = budget_agreement(inspector, max_evals, 20, args.seed)
            if "texts" not in skip:
                results["grounded_texts"] = grounded_texts(inspector, 50, args.seed)
            if "diversity" not in skip:
                results["diversity"] = [diversity_report(ws, run_id, lam) for lam in (0.1, 0.3, 0.5)]
    if "planted" not in skip:
        started = time.perf_counter()
        results["planted_rule"] = {**planted_rule(args.seed), "seconds": round(time.perf_counter() - started, 1)}

    command = f"python benchmarks/{Path(__file__).name} --pairs {args.pairs} --seed {args.seed}"
    command += f" --epochs {args.epochs}" if not args.run else f" --workspace {args.workspace} --run {args.run}"
    command += f" --max-evals {args.max_evals}" if args.max_evals else ""
    command += f" --skip {args.skip}" if args.skip else ""
    print(f"command: {command}")
    print(common.machine_line("explanations on 1 thread"))
    f = results["faithfulness"]
    auc = f["deletion_auc"]
    print(f"run {results['run']['id']} (sasrec, test NDCG@10 {results['run']['test_NDCG@10']:.4f})")
    print(f"{f['users']} (user, recommended item) pairs: max |sum + base - score| = {f['max_additivity_error']:.2e}; "
          f"top-3 removal beats random for {f['top3_beats_random']:.0%}; deletion AUC attribution "
          f"{auc['attribution']:.3f}, random {auc['random']:.3f}, attention {auc['attention']:.3f} "
          f"(lower = faster fall); {f['seconds_per_explanation']:.3f} s per explanation")
    t = results["timing_50_events"]
    print(f"one explanation of a {t['events']}-event history: median {t['median_s']:.3f} s, max {t['max_s']:.3f} s "
          f"(budget max_evals {t['max_evals']} -> {t['evaluations']} model evaluations, 1 thread)")
    if "budget_agreement" in results:
        b = results["budget_agreement"]
        print(f"default vs 10x budget over {b['pairs']} pairs: Spearman {b['spearman_mean']:.3f}, "
              f"top-3 overlap {b['top3_overlap_mean']:.0%}")
    if "grounded_texts" in results:
        g = results["grounded_texts"]
        print(f"grounded texts passing the validator: {g['pass_validator']}/{g['texts']}; e.g. {g['example']!r} / "
              f"{g['summary_example']!r}")
    for d in results.get("diversity", []):
        print(f"MMR λ {d['lambda']:.1f}: diversity@10 {d['diversity@10']['before']:.4f} -> {d['diversity@10']['after']:.4f}, "
              f"NDCG@10 {d['NDCG@10']['before']:.4f} -> {d['NDCG@10']['after']:.4f} (cost {d['NDCG@10']['cost']:.4f})")
    if "planted_rule" in results:
        p = results["planted_rule"]
        print(f"planted rule (A then B, A most recent): A is the top attribution in {p['top_is_A']:.0%} of "
              f"{p['cases']} cases")
    print(json.dumps(results, default=float))


if __name__ == "__main__":
    main()
