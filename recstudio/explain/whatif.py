"""What-if for the inspector: a user's history with events left out and catalogue items added,
its top-K (optionally re-ranked for diversity) and the explanation of one of its items.

No Qt here: the window keeps a :class:`Scenario` per user and calls these functions (the list on the
GUI thread, it is one forward pass; explanations in a worker).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape
import numpy as np

from recstudio.errors import RecStudioError
from recstudio.explain.attribution import DEFAULT_MAX_EVALS, attribute
from recstudio.explain.jobs import Explained, catalogue_of, similarity_for
from recstudio.explain.text import explain_text


@dataclass(frozen=True)
class Scenario:
    """``base``: the item ids of the history the inspector's mode gives (oldest first) with their
    ``times`` (ISO-8601 or None); ``left_out``: positions in ``base`` to leave out; ``added``: item ids
    appended after the last event (newest last)."""

    user: str
    base: tuple[str, ...]
    times: tuple[str | None, ...]
    held_out: str | None = None  # the run's test item for this user, when the mode leaves it rankable
    left_out: frozenset[int] = frozenset()
    added: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.left_out or self.added)

    def toggled(self, position: int, keep: bool) -> "Scenario":
        left = set(self.left_out)
        (left.discard if keep else left.add)(position)
        return replace(self, left_out=frozenset(left))

    def with_added(self, item_id: str) -> "Scenario":
        return replace(self, added=self.added + (str(item_id),))

    def reset(self) -> "Scenario":
        return replace(self, left_out=frozenset(), added=())

    def history(self) -> list[str]:
        """The item ids the model reads, oldest first."""
        kept = [item for n, item in enumerate(self.base) if n not in self.left_out]
        return kept + list(self.added)

    def history_times(self) -> list[str | None]:
        return [t for n, t in enumerate(self.times) if n not in self.left_out] + [None] * len(self.added)


def scenario_for(inspector, user_id, mode: str) -> Scenario:
    """The unchanged scenario of ``user_id`` under the inspector's ``mode`` ("as evaluated" reads the
    events before the held-out one, "full history" all of them)."""
    from recstudio.runs import AS_EVALUATED

    rec = inspector.recommend(user_id, k=1, mode=mode)
    frame = inspector.history(user_id)
    n = len(rec.history)
    times = frame["time"].iloc[:n]
    stamps = tuple(None if t is None or t != t else t.isoformat() for t in times) if inspector.has_times \
        else (None,) * n
    held_out = rec.held_out if rec.mode == AS_EVALUATED else None
    return Scenario(str(user_id), tuple(rec.history), stamps, held_out)


def _indices(dataset, item_ids) -> np.ndarray:
    return np.array([dataset.item_index(i) for i in item_ids], dtype=np.int64)


def recommend_scenario(inspector, scenario: Scenario, k: int = 10, *, diversity: float = 0.0,
                       pool: int | None = None):
    """The top-``k`` for the scenario's history, as :meth:`RunInspector.recommend` lists them: the
    items of the history the model reads are excluded (a left-out event is not), the held-out item
    stays rankable; with ``diversity`` > 0 re-ranked by MMR from the best ``max(50, 5k)``."""
    from recstudio.evaluation.diversity import POOL, check_diversity, rerank
    from recstudio.runs import Recommendation, _best_items, _score_history

    diversity = check_diversity(diversity)
    if k < 1:
        raise RecStudioError("-k must be at least 1.")
    dataset = inspector.dataset
    history = _indices(dataset, scenario.history())
    exclude = np.unique(history)
    target = dataset.item_index(scenario.held_out) if scenario.held_out is not None else None
    if target is not None:
        exclude = exclude[exclude != target]
    wanted = max(pool or POOL, 5 * k) if diversity > 0 else k
    source, scores = _score_history(inspector.model, history, inspector.popularity)
    ranked, values, _ = _best_items(scores, exclude, wanted)
    note = ""
    if diversity > 0 and len(ranked):
        similarity, kind, _, _ = similarity_for_inspector(inspector)
        keep = rerank(ranked, values, k, diversity, similarity)
        ranked, values = ranked[keep], values[keep]
        note = f"Re-ranked for diversity (MMR, λ = {diversity:g}, {kind} similarity) from the model's best {wanted}."
    ranked, values = ranked[:k], values[:k]
    items = [
        {"rank": n, "item_id": str(inspector.item_ids[i]), "title": str(inspector.titles[i]),
         "category": str(inspector.categories[i]) if inspector.categories is not None else "",
         "score": float(v), "held_out": i == target}
        for n, (i, v) in enumerate(zip(ranked.tolist(), values.tolist()), 1)
    ]
    if source == "popularity":
        note = (note + " " if note else "") + "The history is empty, so these are the most popular items."
    in_list = next((it["rank"] for it in items if it["held_out"]), None)
    return Recommendation(scenario.user, source, items, scenario.history(), held_out=scenario.held_out,
                          held_out_in_list=in_list, note=note)


def similarity_for_inspector(inspector):
    """:func:`similarity_for` for the inspector's model and dataset, computed once per inspector."""
    cached = getattr(inspector, "_whatif_similarity", None)
    if cached is None:
        cached = similarity_for(inspector.model, inspector.dataset)
        inspector._whatif_similarity = cached
    return cached


def intra_list_diversity(inspector, item_ids) -> float | None:
    """Mean pairwise dissimilarity (1 - similarity) of a list; None for fewer than two items."""
    if len(item_ids) < 2:
        return None
    similarity, _, _, _ = similarity_for_inspector(inspector)
    items = _indices(inspector.dataset, item_ids)[None]
    sim = np.asarray(similarity(items))[0]
    n = sim.shape[0]
    off = ~np.eye(n, dtype=bool)
    return float(1.0 - sim[off].mean())


def explain_scenario(inspector, scenario: Scenario, item_id: str, *, max_evals: int = DEFAULT_MAX_EVALS,
                     seed: int = 0, language_model=None) -> Explained:
    """Shapley values of the scenario's events for ``item_id``'s score, and the grounded text."""
    dataset = inspector.dataset
    history = _indices(dataset, scenario.history())
    attribution = attribute(inspector.model, history, dataset.item_index(item_id), max_evals=max_evals, seed=seed,
                            item_ids=inspector.item_ids, titles=inspector.titles,
                            timestamps=scenario.history_times(), user=scenario.user)
    return Explained(attribution, explain_text(attribution, catalogue_of(dataset), language_model))


def explain_scenario_job(inspector, scenario: Scenario, item_id: str, language_model_path: str | None = None, *,
                         max_evals: int = DEFAULT_MAX_EVALS) -> Explained:
    """:func:`explain_scenario` for the window's worker: the optional local language model (a path or
    hub id already on disk) is loaded there, once per path."""
    lm = None
    if language_model_path:
        from recstudio.explain.text import language_model

        lm = language_model(language_model_path)
    return explain_scenario(inspector, scenario, item_id, max_evals=max_evals, language_model=lm)


def query_job(workspace_path: str, run_id: int, text: str, k: int = 10):
    """:func:`recstudio.runs.recommend_query` in a worker: its own workspace connection."""
    from recstudio.runs import recommend_query
    from recstudio.workspace import Workspace

    with Workspace(workspace_path) as workspace:
        return recommend_query(workspace, run_id, text, k)


# the HTML report -------------------------------------------------------------------------------
def explanation_html(explained: Explained, *, run_label: str, chart_png: bytes | None = None,
                     summary: str | None = None, scenario: Scenario | None = None) -> str:
    """A self-contained HTML report of one explanation. Every string that comes from the data
    (titles, ids, the texts) is escaped; the chart is embedded as a PNG data URI."""
    import base64

    a, text = explained.attribution, explained.text
    rows = "\n".join(
        f"<tr><td>{e['position']}</td><td>{escape(str(e['timestamp'] or ''))}</td><td>{escape(str(e['item_id']))}</td>"
        f"<td>{escape(str(e['title']))}</td><td class='{'pos' if e['value'] > 0 else 'neg'}'>{e['value']:+.4f}</td></tr>"
        for e in a.top()
    )
    chart = ""
    if chart_png:
        chart = f"<img alt='attribution chart' src='data:image/png;base64,{base64.b64encode(chart_png).decode()}'>"
    what_if = ""
    if scenario is not None and scenario.changed:
        left = [scenario.base[n] for n in sorted(scenario.left_out)]
        what_if = ("<p class='note'>What-if history: " + escape(
            (f"left out {', '.join(left)}" if left else "") + ("; " if left and scenario.added else "")
            + (f"added {', '.join(scenario.added)}" if scenario.added else "")) + ".</p>")
    user = escape(str(a.user)) if a.user is not None else "an ad-hoc history"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Why {escape(a.item_title)}? — RecStudio</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }}
.pos {{ color: #1b7837; }} .neg {{ color: #b2182b; }} .note {{ color: #666; }}
</style></head><body>
<h1>Why “{escape(a.item_title)}” for user {user}?</h1>
<p class="note">{escape(run_label)} · item {escape(a.item)}</p>
{f'<p><b>Interests:</b> {escape(summary)}</p>' if summary else ''}
<p><b>{escape(text.text)}</b><br><span class="note">Written by: {escape(text.source)}</span></p>
<p>Score {a.score:.4f} = base value {a.base_value:.4f} (empty history) + the events' contributions
({float(np.sum(a.values)):+.4f}); Shapley values, {escape(a.method)}, {a.evaluations:,} model evaluations.</p>
{what_if}
{chart}
<table><thead><tr><th>#</th><th>Time</th><th>Item</th><th>Title</th><th>Shapley value</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""


def write_html(path: str, html: str) -> None:
    """Write atomically: a temporary file beside ``path`` renamed over it."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".recstudio-", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(html)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
