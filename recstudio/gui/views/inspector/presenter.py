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
                  "test metrics asked. The held-out item can be ranked.",
    FULL_HISTORY: "History = every event of the user: what they would be recommended today. Everything "
                  "they touched is excluded, the held-out item too.",
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
    runs = []
    for run in reversed(workspace.list_runs()):
        if run.status not in INSPECTABLE:
            continue
        path = workspace.artefacts(run.id).get("checkpoint")
        if path is not None and path.exists():
            runs.append(run)
    return runs


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
    """An explanation with the question it answers: the item, in that what-if scenario."""

    scenario: Any  # recstudio.explain.Scenario
    item_id: str
    explained: Any  # recstudio.explain.Explained


def explain_job(workspace_path: str, run_id: int, scenario, item_id: str,
                language_model_path: str | None = None, cancelled=None) -> ExplanationOf | None:
    """Why ``item_id`` is in the scenario's list (:func:`recstudio.runs.explain_scenario_job`); None
    when a newer request cancelled it before it was done."""
    from recstudio.explain import AttributionCancelled
    from recstudio.runs import explain_scenario_job

    try:
        explained = explain_scenario_job(workspace_path, run_id, scenario, item_id, language_model_path,
                                         max_evals=EXPLAIN_MAX_EVALS, cancelled=cancelled)
    except AttributionCancelled:
        return None
    return ExplanationOf(scenario, str(item_id), explained)


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


def history_rows(history, *, held_out_used: bool, newest_first: bool = True) -> dict[str, Any]:
    """Table content for :meth:`RunInspector.history` (a DataFrame, oldest first).

    ``held_out_used`` False ("as evaluated"): the test event and anything after it were not in the
    history the list came from, so they are dimmed and say so.
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
        tint.add(display[test])
        tooltips[display[test]] += "\nThe user's held-out test event in this run's split."
        for i in range(test, n):
            if not held_out_used:
                dim.add(display[i])
                tooltips[display[i]] += ("\nNot in the history the list was computed from (as evaluated: only "
                                         "the events before the held-out test event).")
    return {"headers": [h for h, _ in columns], "rows": rows, "dim": dim, "bold": tint, "tint": tint,
            "tooltips": tooltips, "right_aligned": ("#", "Rating", "Quantity")}


def recommendation_rows(rec) -> dict[str, Any]:
    """Table content for a :class:`recstudio.runs.Recommendation` from the inspector."""
    rows, tint, tooltips = [], set(), {}
    for n, item in enumerate(rec.items):
        marker = "◆ held-out" if item["held_out"] else ""
        category = category_text(item["category"])
        rows.append([str(item["rank"]), item["title"], category, format_score(item["score"]), marker])
        tooltips[n] = f"{item['title']} — {category or 'no category'} (item {item['item_id']})"
        if item["held_out"]:
            tint.add(n)
            tooltips[n] += " — the user's held-out test item"
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


def held_out_text(rec, title_of, n_items: int) -> str:
    """One sentence on the held-out item: in the list at rank r, not in it (and where the test ranked
    it), excluded (full history), or none (the user is not tested)."""
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
    rank = f"{rec.held_out_rank:,}" if rec.held_out_rank is not None else "?"
    return (f"Held-out test item {name} is not in the top {len(rec.items)}; "
            f"the run's test put it at rank <b>{rank}</b> of {n_items:,} items.")


def list_note(rec, title_of, n_items: int, diversity: tuple | None, lam: float) -> str:
    """The label under the list: the held-out item's place, the list's own note, and the variety the
    diversity re-ranking bought (``diversity``: intra-list diversity before and after, λ = ``lam``)."""
    if rec.mode is None:  # a what-if history: the run's test asked another question
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


def user_summary(user: str, history, held_out: str | None, title_of) -> str:
    """'<b>User 7</b> · 23 events · 1997-09-20 → 1998-04-22 · held-out test item: …'."""
    events = len(history)
    span = ""
    if events and history["time"].notna().any():
        span = f" · {history['time'].iloc[0]:%Y-%m-%d} → {history['time'].iloc[-1]:%Y-%m-%d}"
    test = f" · held-out test item: {escape(title_of(held_out))} ({escape(held_out)})" if held_out is not None else ""
    return f"<b>User {escape(user)}</b> · {events:,} events{span}{test}"


def what_if_text(scenario, title_of) -> str:
    """'What-if history: 1 event left out; added “Kitchen thing 30”.' ('' for the real history)."""
    left, added = len(scenario.left_out), len(scenario.added)
    parts = []
    if left:
        parts.append(f"{left} event{'s' if left != 1 else ''} left out")
    if added:
        parts.append("added " + ", ".join(f"“{title_of(i)}”" for i in scenario.added))
    return ("What-if history: " + "; ".join(parts) + ".") if parts else ""


def attribution_by_row(explained, scenario, n_rows: int) -> tuple[dict[int, float], float]:
    """Each history row's attribution in ``explained`` (rows newest first, as the history table shows
    them; left-out events get none) and the largest |value|, for tinting."""
    a = explained.attribution
    kept = [p for p in range(len(scenario.base)) if p not in scenario.left_out]
    scale = float(np.abs(a.values).max()) if len(a.values) else 0.0
    values = {}
    for position, value in zip(a.positions, a.values):
        j = int(position) - 1
        if 0 <= j < len(kept):
            values[n_rows - 1 - kept[j]] = float(value)
    return values, scale
