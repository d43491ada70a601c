"""What the inspector shows and the jobs that fetch it, without widgets: the background jobs take a
workspace path, a run id and frozen values (a user id, a what-if :class:`~recstudio.explain.Scenario`)
and return plain values; the functions below turn those into table rows and sentences."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape as _html_escape
from typing import Any

import numpy as np

from recstudio.data.catalogue import category_text

#: Model evaluations per explanation (shap's permutation budget beyond 10 events; exact below).
EXPLAIN_MAX_EVALS = 1000
#: Run statuses whose best checkpoint can be inspected.
INSPECTABLE = ("completed", "cancelled")
#: The two ways of choosing a user's history (the values of recstudio.runs.INSPECTION_MODES; the view
#: keeps its own names so importing it stays light).
AS_EVALUATED, FULL_HISTORY = "as evaluated", "full history"
MODE_HINTS = {
    AS_EVALUATED: "History = the events before the user's held-out test event: the question the run's "
                  "test metrics asked. The held-out item can be ranked, unless the user had it before.",
    FULL_HISTORY: "History = every event of the user: what they would be recommended today. Everything "
                  "they touched is excluded, the held-out item too.",
}
#: The same under the last-basket split, where the held-out part is a basket.
BASKET_MODE_HINTS = {
    AS_EVALUATED: "History = the events before the user's held-out basket: the question the run's test metrics "
                  "asked. Each item of that basket the list finds is marked; one bought before is left out with the history.",
    FULL_HISTORY: "History = every event of the user, the held-out basket included: what they would be "
                  "recommended today. Everything they touched is excluded.",
}
RECOMMENDATION_HEADERS = ["Rank", "Title", "Category", "Score", "Test"]


def escape(text) -> str:
    """Text for a rich-text label: markup characters shown as typed (quotes need no escaping there)."""
    return _html_escape(str(text), quote=False)


# runs ---------------------------------------------------------------------------------------------
def run_label(run, *, metric: str = "NDCG@10") -> str:
    """'#3 sasrec — ml-100k — NDCG@10 0.0599' (the test metric; '—' when the run was not tested)."""
    value = (run.metrics or {}).get("test", {}).get(metric)
    shown = f"{value:.4f}" if isinstance(value, (int, float)) else "—"
    status = "" if run.status == "completed" else f" ({run.status})"
    return f"#{run.id} {run.model} — {run.dataset_name} — {metric} {shown}{status}"


def inspectable_runs(workspace) -> list:
    """Finished runs (completed or cancelled) whose checkpoint is on disk, newest first."""
    from recstudio.runs import checkpoint_of

    return [run for run in reversed(workspace.list_runs())
            if run.status in INSPECTABLE and checkpoint_of(workspace, run.id) is not None]


def load_job_name(run_id: int) -> str:
    return f"Load run #{run_id}"


@dataclass(frozen=True)
class LoadedRun:
    """What the inspector keeps of a run it shows: its record, its users and its items' titles."""

    run_id: int
    run: Any  # recstudio.workspace.RunRecord
    status: str  # "ml-100k: 943 users, 1,682 items, 100,000 events · split leave-one-out"
    user_ids: np.ndarray
    events: np.ndarray  # events per user
    titles: dict[str, str]  # item id -> title
    choices: dict[str, str]  # "title (item id)" -> item id, for the what-if search
    n_items: int
    keep_user: str | None = None  # the user to show first, when the run has them


def load_run(workspace_path: str, run_id: int, keep_user: str | None = None) -> LoadedRun:
    """The job behind choosing a run: its model and dataset are loaded into the core's cache
    (:func:`recstudio.runs.open_inspector`), and the view gets the lists it displays."""
    from recstudio.runs import open_inspector

    inspector = open_inspector(workspace_path, run_id)
    users = inspector.users()
    ids, titles = inspector.item_ids.tolist(), inspector.titles.tolist()
    dataset = inspector.dataset
    status = (f"{dataset.name}: {dataset.n_users:,} users, {dataset.n_items:,} items, "
              f"{dataset.n_events:,} events · split {inspector.run.split}")
    return LoadedRun(int(inspector.run.id), inspector.run, status, users["user_id"].to_numpy(),
                     users["events"].to_numpy(), {str(i): str(t) for i, t in zip(ids, titles)},
                     {f"{t} ({i})": str(i) for i, t in zip(ids, titles)}, int(dataset.n_items), keep_user)


def inspect_job(workspace_path: str, run_id: int, user_id: str, k: int, mode: str, diversity: float, scenario):
    """One click on a user (or a change of K, mode, diversity or what-if): :func:`recstudio.runs.inspect_user`."""
    from recstudio.runs import inspect_user

    return inspect_user(workspace_path, run_id, user_id, k=k, mode=mode, diversity=diversity, scenario=scenario)


@dataclass(frozen=True)
class ExplanationOf:
    """An explanation with the question it answers: the item, in that what-if scenario, over events or baskets."""

    scenario: Any  # recstudio.explain.Scenario
    item_id: str
    explained: Any  # recstudio.explain.Explained
    over: str = "events"


def explain_job(workspace_path: str, run_id: int, scenario, item_id: str,
                language_model_path: str | None = None, over: str = "events", cancelled=None) -> ExplanationOf | None:
    """Why ``item_id`` is in the scenario's list (:func:`recstudio.runs.explain_scenario_job`), its
    events or its baskets as the players; None when a newer request cancelled it before it was done."""
    from recstudio.explain import AttributionCancelled
    from recstudio.runs import explain_scenario_job

    try:
        explained = explain_scenario_job(workspace_path, run_id, scenario, item_id, language_model_path,
                                         max_evals=EXPLAIN_MAX_EVALS, cancelled=cancelled, over=over)
    except AttributionCancelled:
        return None
    return ExplanationOf(scenario, str(item_id), explained, over)


@dataclass(frozen=True)
class QueryList:
    text: str
    recommendation: Any  # recstudio.runs.Recommendation, source "query"; items carry their category


def query_list(workspace_path: str, run_id: int, text: str, k: int) -> QueryList:
    """Recommendations for interests stated in words (:func:`recstudio.runs.query_job`), with each
    item's category as the inspector lists it."""
    from recstudio.runs import open_inspector, query_job

    rec = query_job(workspace_path, run_id, text, k)
    inspector = open_inspector(workspace_path, run_id)
    for item in rec.items:
        index = inspector.dataset.item_index(item["item_id"])
        item.setdefault("category", str(inspector.categories[index]) if inspector.categories is not None else "")
    return QueryList(text, rec)


# rows and sentences -------------------------------------------------------------------------------
def format_score(value: float) -> str:
    if not np.isfinite(value):
        return "—"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:.4f}"


def history_rows(history, *, held_out_used: bool, newest_first: bool = True, grouped: bool = False) -> dict[str, Any]:
    """Table content for :meth:`RunInspector.history` (a DataFrame, oldest first).

    ``held_out_used`` False ("as evaluated"): the test event and anything after it were not in the
    history the list came from, so they are dimmed and say so. ``grouped``: ``groups`` holds the
    baskets too (see :func:`basket_groups`), else None; ``event_baskets`` is each row's basket number.
    """
    columns = [("#", "position"), ("Time (UTC)", "time"), ("Item", "item_id"), ("Title", "title"),
               ("Category", "category"), ("Event", "event"), ("Rating", "rating"), ("Quantity", "quantity"),
               ("Split", "part")]
    columns = [(h, c) for h, c in columns if c in history.columns]
    if "time" in history.columns and history["time"].isna().all():
        columns = [(h, c) for h, c in columns if c != "time"]  # file order: the position is the time
    text = {}
    for header, column in columns:
        values = history[column]
        if column == "time":
            text[column] = values.dt.strftime("%Y-%m-%d %H:%M").fillna("").tolist()
        elif column in ("rating", "quantity"):
            text[column] = [("" if v != v else f"{v:g}") for v in values.tolist()]
        elif column == "part":
            text[column] = ["test (held-out)" if v == "test" else v for v in values.tolist()]
        elif column == "category":
            text[column] = category_text(values).tolist()
        else:
            text[column] = values.astype(str).tolist()
    n = len(history)
    parts = history["part"].tolist() if "part" in history.columns else [""] * n
    test = parts.index("test") if "test" in parts else None
    order = list(range(n - 1, -1, -1)) if newest_first else list(range(n))
    rows = [[text[c][i] for _, c in columns] for i in order]
    display = {i: r for r, i in enumerate(order)}
    titles = history["title"].astype(str).tolist()
    categories = text.get("category", [""] * n)
    items = history["item_id"].astype(str).tolist()
    tooltips = {display[i]: f"{titles[i]}{' — ' + categories[i] if categories[i] else ''} (item {items[i]})"
                for i in range(n)}
    dim, tint = set(), set()
    if test is not None:
        held = [i for i in range(test, n) if parts[i] == "test"]  # one event, or the held-out basket's lines
        for i in held:
            tint.add(display[i])
            tooltips[display[i]] += ("\nA line of the user's held-out basket in this run's split." if len(held) > 1
                                     else "\nThe user's held-out test event in this run's split.")
        for i in range(test, n):
            if not held_out_used:
                dim.add(display[i])
                tooltips[display[i]] += ("\nNot in the history the list was computed from (as evaluated: only "
                                         "the events before the held-out test event).")
    baskets = (history["basket"].to_numpy() - 1).tolist() if "basket" in history.columns else list(range(n))
    event_baskets = [baskets[i] for i in order]
    headers = [h for h, _ in columns]
    groups = basket_groups(history, headers, rows, order, dim, tint, tooltips) if grouped else None
    return {"headers": headers, "rows": rows, "dim": dim, "bold": tint, "tint": tint,
            "tooltips": tooltips, "right_aligned": ("#", "Rating", "Quantity"), "event_baskets": event_baskets,
            "groups": groups}


#: Titles a basket's row names before "and N more"; lines its tooltip lists.
BASKET_TITLES, BASKET_TOOLTIP_LINES = 3, 12


def _distinct(values) -> list[str]:
    return [v for v in dict.fromkeys(values) if v]


def basket_groups(history, headers: list[str], rows: list[list[str]], order: list[int], dim: set[int],
                  tint: set[int], tooltips: dict[int, str]) -> list[dict[str, Any]]:
    """The history's baskets, newest first, for :class:`HistoryTreeModel`: each basket's event rows
    (``rows`` are the events in display ``order``) and its own row: where its lines are (#), its time,
    how many lines, a few of their titles, their categories, quantity and split parts."""
    display = {i: r for r, i in enumerate(order)}
    baskets = history["basket"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, baskets[1:] != baskets[:-1], True]) if len(baskets) else np.zeros(1, int)
    spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    newest_first = len(order) > 1 and order[0] > order[-1]
    if newest_first:
        spans = spans[::-1]  # as the rows
    column = {h: n for n, h in enumerate(headers)}
    groups = []
    for lo, hi in spans:
        events = [display[i] for i in (range(hi - 1, lo - 1, -1) if newest_first else range(lo, hi))]
        first = rows[display[lo]]
        lines = [rows[e] for e in events]
        cells = [""] * len(headers)
        if "#" in column:
            cells[column["#"]] = f"{lo + 1}–{hi}" if hi - lo > 1 else f"{lo + 1}"
        if "Time (UTC)" in column:
            cells[column["Time (UTC)"]] = first[column["Time (UTC)"]]
        cells[column["Item"]] = f"{hi - lo} lines"
        titles = _distinct(rows[display[i]][column["Title"]] for i in range(lo, hi))
        more = len(titles) - BASKET_TITLES
        cells[column["Title"]] = ", ".join(titles[:BASKET_TITLES]) + (f" and {more} more" if more > 0 else "")
        for name in ("Category", "Event"):
            if name in column:
                values = _distinct(part.strip() for line in lines for part in line[column[name]].split(","))
                cells[column[name]] = ", ".join(values[:3]) + (", …" if len(values) > 3 else "")
        if "Quantity" in column:
            quantities = [float(line[column["Quantity"]]) for line in lines if line[column["Quantity"]]]
            cells[column["Quantity"]] = f"{sum(quantities):g}" if quantities else ""
        if "Split" in column:
            cells[column["Split"]] = ", ".join(_distinct(line[column["Split"]] for line in lines))
        when = f" on {first[column['Time (UTC)']]}" if "Time (UTC)" in column and first[column["Time (UTC)"]] else ""
        shown = [tooltips[e].split("\n")[0] for e in sorted(events, key=lambda e: order[e])][:BASKET_TOOLTIP_LINES]
        extra = hi - lo - len(shown)
        tip = (f"Basket of {hi - lo} lines{when} (events {lo + 1}–{hi}); untick it to leave every line out.\n"
               + "\n".join(f"• {line}" for line in shown) + (f"\n… and {extra} more" if extra > 0 else ""))
        held = any(e in tint for e in events)
        if held:
            tip += "\nHolds the user's held-out test event(s) in this run's split."
        groups.append({"basket": int(baskets[lo]) - 1, "events": events, "cells": cells, "tooltip": tip,
                       "tint": held, "bold": held, "dim": all(e in dim for e in events)})
    return groups


def recommendation_rows(rec) -> dict[str, Any]:
    """Table content for a :class:`recstudio.runs.Recommendation` from the inspector (every item of a
    held-out basket is marked)."""
    basket = len(getattr(rec, "held_out_items", ()) or ()) > 1
    rows, tint, tooltips = [], set(), {}
    for n, item in enumerate(rec.items):
        marker = "◆ held-out" if item["held_out"] else ""
        category = category_text(item["category"])
        rows.append([str(item["rank"]), item["title"], category, format_score(item["score"]), marker])
        tooltips[n] = f"{item['title']} — {category or 'no category'} (item {item['item_id']})"
        if item["held_out"]:
            tint.add(n)
            tooltips[n] += (" — an item of the user's held-out basket" if basket
                            else " — the user's held-out test item")
    return {"headers": list(RECOMMENDATION_HEADERS), "rows": rows, "bold": tint, "tint": tint,
            "tooltips": tooltips, "right_aligned": ("Rank", "Score")}


def query_rows(rec) -> dict[str, Any]:
    """Table content for a list from words (no ranks in a split, no held-out item)."""
    rows, tooltips = [], {}
    for n, item in enumerate(rec.items):
        category = category_text(item.get("category", ""))
        rows.append([str(n + 1), item["title"], category, format_score(item["score"]), ""])
        tooltips[n] = f"{item['title']} — {category or 'no category'} (item {item['item_id']})"
    return {"headers": list(RECOMMENDATION_HEADERS), "rows": rows, "tooltips": tooltips,
            "right_aligned": ("Rank", "Score")}


#: Items of a held-out basket named in the sentence under the list (found, then not found).
BASKET_NAMED = 4


def held_out_basket_text(rec, title_of, n_items: int) -> str:
    """The sentence on a held-out basket: which of its items the list found (with their ranks) and
    where the run's test ranked the others; or that the full history excludes them."""
    items = list(rec.held_out_items)
    size = len(items)
    if rec.mode == FULL_HISTORY:
        return (f"The held-out basket ({size} items) is in the full history, so its items are excluded like "
                "every item the user touched. Choose <i>As evaluated</i> to see which of them the run's test found.")
    ranks = dict(zip(items, rec.held_out_ranks)) if rec.held_out_ranks else {}
    found = [it for it in rec.items if it["held_out"]]
    missed = [i for i in items if i not in {it["item_id"] for it in found}]

    def named(entries, limit=BASKET_NAMED) -> str:
        text = ", ".join(entries[:limit])
        return text + (f" and {len(entries) - limit} more" if len(entries) > limit else "")

    where = "this what-if list" if rec.mode is None else f"the top {len(rec.items)}"
    text = f"Held-out basket: found <b>{len(found)} of {size}</b> in {where}"
    if found:
        text += ": " + named([f"<b>{escape(it['title'])}</b> (rank {it['rank']})" for it in found])
    text += "."
    seen = set(rec.held_out_seen)
    bought = [i for i in missed if i in seen]
    missed = [i for i in missed if i not in seen]
    if missed:
        missed.sort(key=lambda i: ranks.get(i, 0))
        text += " Not found: " + named([escape(title_of(i)) + (f" (the test's rank {ranks[i]:,} of {n_items:,})"
                                                               if i in ranks else "") for i in missed]) + "."
    if bought:
        text += (" Already in the history, so left out of the list like every item the user has (a miss in "
                 "the test): " + named([escape(title_of(i)) for i in bought]) + ".")
    return text


def found_note(rec) -> str:
    """'found 2 of 5' for the held-out basket's row in the history ('' without a basket to find)."""
    items = list(getattr(rec, "held_out_items", ()) or ())
    if len(items) < 2 or rec.mode == FULL_HISTORY:
        return ""
    return f"found {sum(1 for it in rec.items if it['held_out'])} of {len(items)}"


def found_ranks(rec) -> dict[str, int]:
    """Item id -> rank in the list of each held-out item it found."""
    return {it["item_id"]: int(it["rank"]) for it in rec.items if it.get("held_out")}


def held_out_text(rec, title_of, n_items: int) -> str:
    """One sentence on the held-out item: in the list at rank r, not in it (and where the test ranked
    it), excluded (full history), or none (the user is not tested). A held-out basket: see
    :func:`held_out_basket_text`."""
    if len(getattr(rec, "held_out_items", ()) or ()) > 1:
        return held_out_basket_text(rec, title_of, n_items)
    if rec.held_out is None:
        return "This user has no held-out test event in the run's split (too few events)."
    name = f"<b>{escape(title_of(rec.held_out))}</b> (item {escape(rec.held_out)})"
    if rec.mode == FULL_HISTORY:
        if rec.held_out_in_list is not None:
            return f"Held-out test item {name}: rank {rec.held_out_in_list} of this list."
        return (f"Held-out test item {name} is in the full history, so it is excluded like every item the "
                "user touched. Choose <i>As evaluated</i> to see where the run's test ranked it.")
    if rec.held_out_in_list is not None:
        return f"Held-out test item {name} appears at <b>rank {rec.held_out_in_list}</b> of this list."
    if rec.held_out in rec.held_out_seen:
        return (f"Held-out test item {name} is already in the history, so it is left out of the list like "
                "every item the user has: the run's test counts it as a miss.")
    rank = f"{rec.held_out_rank:,}" if rec.held_out_rank is not None else "?"
    return (f"Held-out test item {name} is not in the top {len(rec.items)}; "
            f"the run's test put it at rank <b>{rank}</b> of {n_items:,} items.")


def list_note(rec, title_of, n_items: int, diversity: tuple | None, lam: float) -> str:
    """The label under the list: the held-out item's place, the list's own note, and the variety the
    diversity re-ranking bought (``diversity``: intra-list diversity before and after, λ = ``lam``)."""
    if rec.mode is None and len(rec.held_out_items) > 1:
        text = held_out_basket_text(rec, title_of, n_items)
    elif rec.mode is None:  # a what-if history: the run's test asked another question
        text = ("What-if history: the list is what the model gives for the history as changed above."
                if rec.held_out is None else
                (f"Held-out test item <b>{escape(title_of(rec.held_out))}</b>: "
                 + (f"rank {rec.held_out_in_list} of this what-if list." if rec.held_out_in_list
                    else "not in this what-if list.")))
    else:
        text = held_out_text(rec, title_of, n_items)
    if rec.note:
        text += f"<br><i>{escape(rec.note)}</i>"
    if diversity is not None and lam > 0 and None not in diversity:
        before, after = diversity
        text += f"<br>{escape(f'Intra-list diversity {before:.3f} → {after:.3f} (λ = {lam:g}).')}"
    return text


def user_summary(user: str, history, held_out: str | None, title_of, held_out_items=()) -> str:
    """'<b>User 7</b> · 23 events · 1997-09-20 → 1998-04-22 · held-out test item: …' (with baskets:
    '· 23 events in 6 baskets · … · held-out basket: 7 items on 2011-09-06')."""
    events = len(history)
    span = ""
    if events and history["time"].notna().any():
        span = f" · {history['time'].iloc[0]:%Y-%m-%d} → {history['time'].iloc[-1]:%Y-%m-%d}"
    baskets = int(history["basket"].max()) if events and "basket" in history.columns else events
    grouping = f" in {baskets:,} baskets" if baskets < events else ""
    if len(held_out_items) > 1:
        tested = history[history["part"] == "test"] if "part" in history.columns else history.iloc[:0]
        when = f" on {tested['time'].iloc[0]:%Y-%m-%d}" if len(tested) and tested["time"].notna().any() else ""
        test = f" · held-out basket: {len(held_out_items)} items{when}"
    else:
        test = (f" · held-out test item: {escape(title_of(held_out))} ({escape(held_out)})"
                if held_out is not None else "")
    return f"<b>User {escape(user)}</b> · {events:,} events{grouping}{span}{test}"


def what_if_text(scenario, title_of) -> str:
    """'What-if history: 1 event left out; added “Kitchen thing 30”.' ('' for the real history)."""
    left, added = len(scenario.left_out), len(scenario.added)
    parts = []
    whole = scenario.left_out_baskets()
    if whole:
        lines = sum(len(scenario.basket_positions(b)) for b in whole)
        parts.append(f"{len(whole)} basket{'s' if len(whole) != 1 else ''} left out ({lines} lines)")
        left -= lines
    if left:
        parts.append(f"{left} {'other ' if whole else ''}event{'s' if left != 1 else ''} left out")
    if added:
        parts.append("added " + ", ".join(f"“{title_of(i)}”" for i in scenario.added))
    return ("What-if history: " + "; ".join(parts) + ".") if parts else ""


def attribution_by_row(explained, scenario, n_rows: int) -> tuple[dict[int, float], float]:
    """Each history row's attribution in ``explained`` (event rows newest first, as the history shows
    them; left-out events get none) and the largest |value|, for tinting."""
    values, _, scale = attribution_tints(explained, scenario, n_rows)
    return values, scale


def attribution_tints(explained, scenario, n_rows: int) -> tuple[dict[int, float], dict[int, float], float]:
    """``(by event row, by basket number, largest |value|)`` for tinting the history.

    Over events: each event row its value, and each basket of several lines the sum of its lines'
    values. Over baskets: each basket its value (a basket of one line: that event's row). Events the
    scenario leaves out, and added items, have no row."""
    a = explained.attribution
    kept = [p for p in range(len(scenario.base)) if p not in scenario.left_out]
    scale = float(np.abs(a.values).max()) if len(a.values) else 0.0
    rows: dict[int, float] = {}
    baskets: dict[int, float] = {}
    sizes: dict[int, int] = {}
    for p in range(len(scenario.base)):
        sizes[scenario.basket_of(p)] = sizes.get(scenario.basket_of(p), 0) + 1
    for n, (position, value) in enumerate(zip(a.positions, a.values)):
        lines = [a.older_events + j for j in a.player_events(n)]  # indices into the history read
        read = [kept[j] for j in lines if 0 <= j < len(kept)]
        if not read:
            continue
        if a.over == "baskets" and sizes.get(scenario.basket_of(read[0]), 1) > 1:
            baskets[scenario.basket_of(read[0])] = float(value)
            continue
        for p in read:
            rows[n_rows - 1 - p] = float(value)
            basket = scenario.basket_of(p)
            if sizes.get(basket, 1) > 1:
                baskets[basket] = baskets.get(basket, 0.0) + float(value)
    return rows, baskets, scale
