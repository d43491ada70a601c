"""One history scored by a run's model, the best items of a score row, and the :class:`Recommendation`
they make: what every list is made from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recstudio.errors import RecStudioError


@dataclass
class Recommendation:
    """A top-K list: ``items`` best first; ``source`` is "model", or "popularity" for an empty history.

    ``history`` holds the item ids the list was computed from. Lists from :class:`RunInspector` also
    say which ``mode`` gave the history, the user's ``held_out`` test item, where it sits in the list
    (``held_out_in_list``, 1-based, None when absent) and in the full ranking as the run's test
    ranked it (``held_out_rank``, "as evaluated" mode only), and a ``note`` for the analyst. Under
    the last-basket split ``held_out_items`` is the whole held-out basket (``held_out`` its first item,
    ``held_out_rank`` the best rank among them, ``held_out_ranks`` each one's); otherwise it is the
    one held-out item. ``held_out_seen`` are the held-out items the user had before: like every item
    of the history they are left out of the list (and count as misses in the run's test).
    """

    user: str | None
    source: str  # "model", or "popularity" for an empty history
    items: list[dict[str, Any]]
    history: list[str]
    mode: str | None = None
    held_out: str | None = None
    held_out_in_list: int | None = None
    held_out_rank: int | None = None
    note: str = ""
    held_out_items: list[str] = field(default_factory=list)
    held_out_ranks: list[int] = field(default_factory=list)  # aligned with held_out_items ("as evaluated")
    held_out_seen: list[str] = field(default_factory=list)  # held-out items already in the history

    @property
    def found(self) -> list[str]:
        """The held-out items this list holds, best ranked first."""
        return [it["item_id"] for it in self.items if it.get("held_out")]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)



def check_k(k: int) -> None:
    if k < 1:
        raise RecStudioError("-k must be at least 1.")


def score_history(model, history: np.ndarray, popularity: np.ndarray):
    """``(source, scores [1, n_items])`` for one history of item indices, oldest first: the model's
    scores on CPU, or the training popularity when the history is empty (source "popularity")."""
    import torch

    from recstudio.data import pad_sequences

    if len(history) == 0:
        return "popularity", torch.from_numpy(np.asarray(popularity, dtype=np.float32)).unsqueeze(0)
    # One [1, L] history is too small for intra-op threads to help: they only add synchronisation,
    # which costs 30-100 ms per call on busy cores (a training worker beside the GUI) against ~1 ms
    # on one thread. The setting is the calling thread's own; threads already running keep theirs.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            padded = torch.from_numpy(pad_sequences([history], model.history_length))
            return "model", model.score(padded).float()
    finally:
        torch.set_num_threads(threads)


def best_items(scores, exclude: np.ndarray, k: int):
    """The ``k`` best item indices and their scores (numpy, best first) with ``exclude`` removed,
    and the masked score row (for ranking one item as the evaluation does)."""
    from recstudio.evaluation import mask_items, top_k

    masked = mask_items(scores, np.zeros(len(exclude), dtype=np.int64), np.asarray(exclude, dtype=np.int64))
    idx, values = top_k(masked, k)
    keep = idx[0] >= 0
    return idx[0][keep].numpy(), values[0][keep].numpy().astype(float), masked
