"""What-if values: a user's history with events left out and catalogue items added (:class:`Scenario`),
and the self-contained HTML report of one explanation. The use cases that score and explain a scenario
live in :mod:`recstudio.runs.explaining`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape
import numpy as np

from recstudio.explain.attribution import BASKETS
from recstudio.explain.explained import Explained


@dataclass(frozen=True)
class Scenario:
    """``base``: the item ids of the history the inspector's mode gives (oldest first) with their
    ``times`` (ISO-8601 or None); ``left_out``: positions in ``base`` to leave out; ``added``: item ids
    appended after the last event (newest last). ``baskets``: the basket number of each ``base`` event
    (empty: not known, each event its own); ``held_out_items``: the whole held-out basket (the run's
    test targets) when the mode leaves it rankable, ``held_out`` its first item."""

    user: str
    base: tuple[str, ...]
    times: tuple[str | None, ...]
    held_out: str | None = None  # the run's test item for this user, when the mode leaves it rankable
    left_out: frozenset[int] = frozenset()
    added: tuple[str, ...] = ()
    baskets: tuple[int, ...] = ()
    held_out_items: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.left_out or self.added)

    def targets(self) -> tuple[str, ...]:
        """The held-out items a list of this scenario is asked to find (none under the full history)."""
        if self.held_out_items:
            return self.held_out_items
        return (self.held_out,) if self.held_out is not None else ()

    def toggled(self, position: int, keep: bool) -> "Scenario":
        left = set(self.left_out)
        (left.discard if keep else left.add)(position)
        return replace(self, left_out=frozenset(left))

    def basket_of(self, position: int) -> int:
        """The basket number of ``base`` event ``position`` (the position itself when baskets are not known)."""
        return int(self.baskets[position]) if self.baskets else int(position)

    def basket_positions(self, basket: int) -> list[int]:
        """The positions in ``base`` of the lines of ``basket``."""
        if not self.baskets:
            return [int(basket)] if 0 <= basket < len(self.base) else []
        return [n for n, b in enumerate(self.baskets) if b == basket]

    def basket_toggled(self, basket: int, keep: bool) -> "Scenario":
        """Every line of ``basket`` kept (``keep``) or left out together: what-if without that basket."""
        left = set(self.left_out)
        lines = self.basket_positions(basket)
        if keep:
            left.difference_update(lines)
        else:
            left.update(lines)
        return replace(self, left_out=frozenset(left))

    def left_out_baskets(self) -> list[int]:
        """The baskets (of more than one line) every line of which is left out, oldest first."""
        if not self.baskets or not self.left_out:
            return []
        sizes: dict[int, int] = {}
        for b in self.baskets:
            sizes[b] = sizes.get(b, 0) + 1
        gone: dict[int, int] = {}
        for n in self.left_out:
            gone[self.baskets[n]] = gone.get(self.baskets[n], 0) + 1
        return sorted(b for b, k in gone.items() if k == sizes[b] and sizes[b] > 1)

    def history_baskets(self) -> list[int]:
        """One basket label per event the model reads (:meth:`history`): each added item is a basket
        of its own, after the last one."""
        kept = [self.basket_of(n) for n in range(len(self.base)) if n not in self.left_out]
        after = max([self.basket_of(n) for n in range(len(self.base))], default=-1) + 1
        return kept + list(range(after, after + len(self.added)))

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
    baskets = a.over == BASKETS
    players = "baskets" if baskets else "events"
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
<p>Score {a.score:.4f} = base value {a.base_value:.4f} (empty history) + the {players}' contributions
({float(np.sum(a.values)):+.4f}); Shapley values over {players}{' (each basket removed or kept whole)' if baskets else ''},
{escape(a.method)}, {a.evaluations:,} model evaluations.</p>
{what_if}
{chart}
<table><thead><tr><th>#</th><th>Time</th><th>{'Items' if baskets else 'Item'}</th><th>{'Basket' if baskets else 'Title'}</th><th>Shapley value</th></tr></thead>
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
