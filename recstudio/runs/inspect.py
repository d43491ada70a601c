"""One run looked at user by user: the history as the split saw it (grouped into baskets), the list, the
held-out item or basket, and what-if scenarios of that history. :func:`inspect_user` answers a click on a
user in one call."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recstudio.errors import RecStudioError
from recstudio.explain import ExplanationText, Scenario, catalogue_of, interest_summary, similarity_for
from recstudio.runs.evaluating import load_run_model, run_split
from recstudio.runs.scoring import Recommendation, best_items, check_k, score_history


#: How :class:`RunInspector` picks the history a user's list is computed from.
AS_EVALUATED = "as evaluated"
FULL_HISTORY = "full history"
INSPECTION_MODES = (AS_EVALUATED, FULL_HISTORY)
#: What each event was in the run's split (:meth:`RunInspector.history` column ``part``).
PART_TRAIN, PART_VALIDATION, PART_TEST = "train", "validation", "test"


class RunInspector:
    """One run's best model and its dataset, loaded once, for looking at user after user.

    A user's list can be asked for in two ways, and the difference matters:

    - ``"as evaluated"`` (the default): the history is the user's test case in the run's split
      (``make_split(dataset, run.split).test``), i.e. every event before the user's held-out test
      event. The held-out item is not in that history, so it can be ranked, and the list says
      whether it appears and where (``held_out_in_list``), plus the rank the run's test gave it in
      the full catalogue (``held_out_rank``, pessimistic on ties like the metrics). Exclusion
      follows the evaluation exactly: every item in that history is removed, a held-out item the
      user had before too (``held_out_seen``: a miss, as the test counts it). This is the question the run's test
      metrics average over. A user the split does not test (under leave-one-out, one with fewer
      than three events) gets the full history instead, with a ``note`` saying so.
    - ``"full history"``: every event the user has in the imported data, i.e. what the user would
      be recommended today, and what :func:`recommend` and ``recstudio recommend --user`` give.
      Every item the user touched is excluded, the held-out one included, so it never appears.

    Under the last-basket split the held-out part is the user's whole last basket: the "as evaluated"
    history is every event before it, each of its items is marked in the list, and the evaluation's
    exclusion is followed (every history item is removed, a basket item bought before included).

    The model was trained on the split's training part only; reading the later events it never
    trained on is ordinary inference. An empty history gets the training popularity list
    (``source == "popularity"``). Scoring runs on CPU under ``torch.no_grad``; torch is imported
    when the inspector is made, not when this module is.
    """

    def __init__(self, workspace, run_id, dataset=None):
        """``dataset``: the run's dataset when the caller already holds it (else it is loaded)."""
        self.run, self.model, meta = load_run_model(workspace, run_id, device="cpu")
        self.checkpoint = workspace.artefacts(self.run.id).get("checkpoint")  # the folder the model came from
        self.dataset = dataset if dataset is not None else workspace.load_dataset(self.run.dataset_id)
        if self.dataset.n_items != self.model.n_items:
            raise RecStudioError(
                f"Run {self.run.id}'s model knows {self.model.n_items} items but dataset {self.dataset.name!r} "
                f"has {self.dataset.n_items}; the dataset changed since the run, so train the run again."
            )
        self.item_ids = np.asarray(self.dataset.item_ids).astype(str)
        self.titles = np.asarray(self.dataset.item_titles(), dtype=object)
        items = self.dataset.items
        self.categories = (items["category"].fillna("").astype(str).to_numpy(dtype=object)
                           if "category" in items.columns else None)
        self.popularity = np.asarray(meta.popularity, dtype=np.float32)
        self.has_times = self.dataset.report.timestamp_format != "file order"
        self._parts: tuple[np.ndarray, ...] | None = None
        self._ends: tuple[np.ndarray, np.ndarray] | None = None  # end of each user's validation / test target
        self._baskets = None  # recstudio.data.baskets.Baskets, computed once
        self._sets = False  # the split's test asks target sets (baskets)
        self._cold: np.ndarray | None = None
        self._users = None
        self._similarity = None

    # users and their events --------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return self.dataset.n_users

    def users(self, search: str = ""):
        """DataFrame ``user_id`` (str), ``events`` (int) of the users whose id contains ``search``
        (case-insensitive; all users when empty), in dataset order."""
        import pandas as pd

        if self._users is None:
            self._users = pd.DataFrame({"user_id": np.asarray(self.dataset.user_ids).astype(str),
                                        "events": np.diff(self.dataset.indptr)})
        search = (search or "").strip()
        if not search:
            return self._users
        hit = self._users["user_id"].str.contains(search, case=False, regex=False)
        return self._users[hit.to_numpy()].reset_index(drop=True)

    def similarity(self):
        """:func:`recstudio.explain.similarity_for` of this run's model and dataset, computed once."""
        if self._similarity is None:
            self._similarity = similarity_for(self.model, self.dataset)
        return self._similarity

    def user_index(self, user_id) -> int:
        return self.dataset.user_index(user_id)

    def basket_numbers(self, user: int) -> np.ndarray:
        """The basket (0, 1, ... oldest first) of each of user index ``user``'s events: events sharing a
        time, or a basket value (see :mod:`recstudio.data.baskets`)."""
        grouped = self._basket_groups()
        lo, hi = int(grouped.user_ptr[user]), int(grouped.user_ptr[user + 1])
        bounds = grouped.event_ptr[lo: hi + 1] - self.dataset.indptr[user]
        return np.repeat(np.arange(hi - lo, dtype=np.int64), np.diff(bounds))

    def _basket_groups(self):
        if self._baskets is None:
            from recstudio.data.baskets import baskets

            self._baskets = baskets(self.dataset)
        return self._baskets

    @property
    def basket_split(self) -> bool:
        """Whether the run's split holds out whole baskets (last-basket)."""
        return self.run.split == "last-basket"

    @property
    def reads_as_baskets(self) -> bool:
        """Whether histories are best shown as baskets: the split holds out baskets, or the data names them
        (a basket column: invoices, orders, sessions). Times alone shared (ml-100k's ratings given in the
        same second) do not make a basket of a film."""
        return self.basket_split or "basket" in self.dataset.interactions.columns

    def history(self, user_id):
        """The user's events, oldest first: DataFrame ``position`` (1-based), ``time`` (UTC datetime;
        NaT when the file had no timestamps), ``item_id``, ``title``, then ``category``, ``event``,
        ``rating``, ``quantity`` when the dataset has them, ``basket`` (1-based, oldest first: the
        events sharing a time or basket value) and ``part``: what the event was in the run's split
        ("train", "validation", "test" = the held-out item, or every line of the held-out basket under
        last-basket, "" for an event the split uses only as history or not at all)."""
        import pandas as pd

        user = self.user_index(user_id)
        lo, hi = int(self.dataset.indptr[user]), int(self.dataset.indptr[user + 1])
        events = self.dataset.interactions.iloc[lo:hi]
        items = events["item"].to_numpy().astype(np.int64)
        frame = {"position": np.arange(1, hi - lo + 1)}
        if self.has_times:
            frame["time"] = pd.to_datetime(events["timestamp"].to_numpy(), unit="s", utc=True)
        else:
            frame["time"] = pd.Series(pd.NaT, index=range(hi - lo), dtype="datetime64[ns, UTC]")
        frame["item_id"] = self.item_ids[items]
        frame["title"] = self.titles[items]
        if self.categories is not None:
            frame["category"] = self.categories[items]
        for column in ("event", "rating", "quantity"):
            if column in events.columns:
                frame[column] = events[column].to_numpy()
        frame["basket"] = self.basket_numbers(user) + 1
        train_len, valid_pos, test_pos = (part[user] for part in self._split_parts())
        valid_end, test_end = (int(end[user]) for end in self._target_ends())
        part = np.full(hi - lo, "", dtype=object)
        part[: min(train_len, hi - lo)] = PART_TRAIN
        if self._cold is not None:  # cold-items split: cold events before the validation target trained nothing
            part[(part == PART_TRAIN) & np.isin(items, self._cold)] = ""
        if valid_pos >= 0:
            part[valid_pos:valid_end] = PART_VALIDATION
        if test_pos >= 0:
            part[test_pos:test_end] = PART_TEST
        frame["part"] = part
        return pd.DataFrame(frame)

    def held_out(self, user_id) -> str | None:
        """The item id of the user's test target in the run's split (the first item of the held-out
        basket under last-basket), or None when the user is not tested."""
        items = self.held_out_items(user_id)
        return items[0] if items else None

    def held_out_items(self, user_id) -> list[str]:
        """The item ids the run's test asked this user for: the held-out item, or the distinct items of
        the held-out basket in their order in the file (last-basket); empty when the user is not tested."""
        return [str(self.item_ids[i]) for i in self._targets(self.user_index(user_id)).tolist()]

    def _targets(self, user: int) -> np.ndarray:
        """Item indices of user index ``user``'s test targets, distinct, as the split's target set."""
        test_pos = int(self._split_parts()[2][user])
        if test_pos < 0:
            return np.zeros(0, dtype=np.int64)
        lines = self.dataset.history(user)[test_pos: int(self._target_ends()[1][user])]
        _, first = np.unique(lines, return_index=True)
        return np.asarray(lines[np.sort(first)], dtype=np.int64)

    # recommendations ----------------------------------------------------------------------
    def recommend(self, user_id, k: int = 10, exclude_seen: bool = True, mode: str = AS_EVALUATED) -> Recommendation:
        """The user's top-``k`` (see the class docstring for ``mode``). Items are dicts ``rank``
        (1-based), ``item_id``, ``title``, ``category`` ("" without a catalogue category),
        ``score``, ``held_out`` (True for the user's test item, or an item of the held-out basket).
        ``held_out_rank`` is the best full-catalogue rank of the held-out items (as the run's MRR counts
        the first hit), ``held_out_ranks`` each one's."""
        check_k(k)
        if mode not in INSPECTION_MODES:
            raise RecStudioError(f"Unknown inspection mode {mode!r}; choose one of: {', '.join(INSPECTION_MODES)}.")
        user = self.user_index(user_id)
        full = self.dataset.history(user)
        test_pos = int(self._split_parts()[2][user])
        targets = self._targets(user)
        target = int(targets[0]) if len(targets) else None
        note = ""
        if mode == AS_EVALUATED and target is None:
            mode = FULL_HISTORY
            note = (f"User {user_id} has no held-out test event in this run's {self.run.split} split "
                    f"(too few events), so the full history is used.")
        history = full[:test_pos] if mode == AS_EVALUATED else full
        exclude = np.unique(history) if exclude_seen else np.zeros(0, np.int64)
        source, scores = score_history(self.model, history, self.popularity)
        ranked, values, masked = best_items(scores, exclude, k)
        wanted = set(targets.tolist())
        items = [
            {"rank": n, "item_id": str(self.item_ids[i]), "title": str(self.titles[i]),
             "category": str(self.categories[i]) if self.categories is not None else "",
             "score": v, "held_out": i in wanted}
            for n, (i, v) in enumerate(zip(ranked.tolist(), values.tolist()), 1)
        ]
        in_list = next((it["rank"] for it in items if it["held_out"]), None)
        held_out_rank, held_out_ranks = None, []
        if mode == AS_EVALUATED:
            from recstudio.evaluation.ranking import set_ranks

            ranks = set_ranks(masked, np.zeros(len(targets), dtype=np.int64), targets).numpy() + 1
            held_out_ranks = [int(r) for r in ranks]
            held_out_rank = min(held_out_ranks)
        if source == "popularity":
            note = (note + " " if note else "") + "The history is empty, so these are the most popular items."
        return Recommendation(
            str(user_id), source, items, [str(self.item_ids[i]) for i in history.tolist()], mode=mode,
            held_out=str(self.item_ids[target]) if target is not None else None,
            held_out_in_list=in_list, held_out_rank=held_out_rank, note=note,
            held_out_items=[str(self.item_ids[i]) for i in targets.tolist()], held_out_ranks=held_out_ranks,
            held_out_seen=[str(self.item_ids[i]) for i in targets[np.isin(targets, exclude)].tolist()]
            if mode == AS_EVALUATED else [],
        )

    def _cold_parts(self, cold: np.ndarray, valid_pos: np.ndarray, test_pos: np.ndarray):
        """Under the cold-items split training skips cold events, so histories are not prefixes: the
        validation target is the last warm event before the test target, and the training part is the
        prefix before it (its cold events are labelled "" by :meth:`history`)."""
        self._cold = cold
        indptr = self.dataset.indptr
        lengths = np.diff(indptr)
        items = self.dataset.interactions["item"].to_numpy()
        users = np.repeat(np.arange(self.dataset.n_users), lengths)
        position = np.arange(len(items)) - indptr[users]
        end = np.where(test_pos >= 0, test_pos, lengths)
        warm = ~np.isin(items, cold) & (position < end[users])
        last_warm = np.full(self.dataset.n_users, -1, dtype=np.int64)
        np.maximum.at(last_warm, users[warm], position[warm])
        valid_pos = np.where(valid_pos >= 0, last_warm, -1)
        return np.where(valid_pos >= 0, valid_pos, end), valid_pos

    def _split_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per user: training length, validation target position, test target position (-1: none).

        A case's history is every event before its target, so its length is the target's position
        in the user's sequence. Only these three arrays are kept, not the split itself.
        """
        if self._parts is None:
            split = run_split(self.dataset, self.run)
            train_len = np.diff(split.train_indptr)
            valid_pos = np.full(self.dataset.n_users, -1, dtype=np.int64)
            test_pos = np.full(self.dataset.n_users, -1, dtype=np.int64)
            valid_pos[split.valid.users] = np.diff(split.valid.history_indptr)
            test_pos[split.test.users] = np.diff(split.test.history_indptr)
            if split.cold_items is not None:
                train_len, valid_pos = self._cold_parts(split.cold_items, valid_pos, test_pos)
            self._parts = (train_len, valid_pos, test_pos)
            self._sets = split.test.has_target_sets
        return self._parts

    def _target_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """Per user: the end (exclusive) of the validation and of the test target: the position after
        it, or with target sets (last-basket) the end of its basket."""
        if self._ends is None:
            parts = self._split_parts()
            ends = []
            for pos in parts[1:]:
                end = np.where(pos >= 0, pos + 1, -1)
                if self._sets:
                    asked = np.flatnonzero(pos >= 0)
                    starts = self._basket_groups().event_ptr
                    first = self.dataset.indptr[asked] + pos[asked]  # the basket's first event
                    after = starts[np.searchsorted(starts, first, side="right")]
                    end[asked] = after - self.dataset.indptr[asked]
                ends.append(end)
            self._ends = (ends[0], ends[1])
        return self._ends


# what-if ----------------------------------------------------------------------------------------
def scenario_for(inspector, user_id, mode: str) -> Scenario:
    """The unchanged scenario of ``user_id`` under the inspector's ``mode`` ("as evaluated" reads the
    events before the held-out one, "full history" all of them)."""
    return scenario_of(inspector, inspector.recommend(user_id, k=1, mode=mode), inspector.history(user_id))


def scenario_of(inspector, rec: Recommendation, frame) -> Scenario:
    """The unchanged scenario behind a list :meth:`RunInspector.recommend` gave, with the user's
    ``frame`` (:meth:`RunInspector.history`) for the events' times and baskets."""
    n = len(rec.history)
    times = frame["time"].iloc[:n]
    stamps = tuple(None if t is None or t != t else t.isoformat() for t in times) if inspector.has_times \
        else (None,) * n
    evaluated = rec.mode == AS_EVALUATED
    held_out = rec.held_out if evaluated else None
    baskets = tuple(int(b) - 1 for b in frame["basket"].iloc[:n]) if "basket" in frame.columns else ()
    return Scenario(str(rec.user), tuple(rec.history), stamps, held_out, baskets=baskets,
                    held_out_items=tuple(rec.held_out_items) if evaluated else ())


def item_indices(dataset, item_ids) -> np.ndarray:
    return np.array([dataset.item_index(i) for i in item_ids], dtype=np.int64)


def recommend_scenario(inspector, scenario: Scenario, k: int = 10, *, diversity: float = 0.0,
                       pool: int | None = None):
    """The top-``k`` for the scenario's history, as :meth:`RunInspector.recommend` lists them: the
    items of the history the model reads are excluded (a left-out event is not), a held-out item in
    that history too (``held_out_seen``); with ``diversity`` > 0 re-ranked by MMR from the
    best ``max(50, 5k)``."""
    from recstudio.evaluation.diversity import POOL, check_diversity, rerank

    diversity = check_diversity(diversity)
    check_k(k)
    dataset = inspector.dataset
    history = item_indices(dataset, scenario.history())
    exclude = np.unique(history)
    targets = item_indices(dataset, scenario.targets())
    wanted_items = set(targets.tolist())
    wanted = max(pool or POOL, 5 * k) if diversity > 0 else k
    source, scores = score_history(inspector.model, history, inspector.popularity)
    ranked, values, _ = best_items(scores, exclude, wanted)
    note = ""
    if diversity > 0 and len(ranked):
        similarity, kind, _, _ = inspector.similarity()
        keep = rerank(ranked, values, k, diversity, similarity)
        ranked, values = ranked[keep], values[keep]
        note = f"Re-ranked for diversity (MMR, λ = {diversity:g}, {kind} similarity) from the model's best {wanted}."
    ranked, values = ranked[:k], values[:k]
    items = [
        {"rank": n, "item_id": str(inspector.item_ids[i]), "title": str(inspector.titles[i]),
         "category": str(inspector.categories[i]) if inspector.categories is not None else "",
         "score": float(v), "held_out": i in wanted_items}
        for n, (i, v) in enumerate(zip(ranked.tolist(), values.tolist()), 1)
    ]
    if source == "popularity":
        note = (note + " " if note else "") + "The history is empty, so these are the most popular items."
    in_list = next((it["rank"] for it in items if it["held_out"]), None)
    return Recommendation(scenario.user, source, items, scenario.history(), held_out=scenario.held_out,
                          held_out_in_list=in_list, note=note, held_out_items=list(scenario.targets()),
                          held_out_seen=[str(inspector.item_ids[i]) for i in targets[np.isin(targets, exclude)].tolist()])


def intra_list_diversity(inspector, item_ids) -> float | None:
    """Mean pairwise dissimilarity (1 - similarity) of a list; None for fewer than two items."""
    if len(item_ids) < 2:
        return None
    similarity, _, _, _ = inspector.similarity()
    items = item_indices(inspector.dataset, item_ids)[None]
    sim = np.asarray(similarity(items))[0]
    n = sim.shape[0]
    off = ~np.eye(n, dtype=bool)
    return float(1.0 - sim[off].mean())


# one click on a user -------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserInspection:
    """Everything the inspector shows for one user, from one call.

    ``history``: :meth:`RunInspector.history`; ``held_out``: the user's test item (or None);
    ``scenario``: the what-if scenario the list was made from (unchanged unless one was given);
    ``recommendation``: the list (``mode`` None for a changed what-if history); ``diversity``:
    intra-list diversity ``(before, after)`` MMR re-ranking, when ``diversity`` > 0 was asked;
    ``summary``: the grounded summary of the user's interests, None when the catalogue gives none.

    Baskets: ``held_out_items`` is everything the run's test asked this user for (the held-out item, or
    under last-basket the whole held-out basket), ``found`` those of them the list holds, best ranked
    first (none under the full history, which excludes them); ``grouped`` says whether the history reads
    best as baskets (the run holds out baskets, or the data has a basket column: see
    :attr:`RunInspector.reads_as_baskets`); ``shared`` whether any of the user's baskets has more than
    one line (events sharing a time or basket value), so that grouping changes what is shown."""

    run_id: int
    user: str
    history: Any  # pandas.DataFrame
    held_out: str | None
    scenario: Scenario
    recommendation: Recommendation
    diversity: tuple[float | None, float | None] | None = None
    summary: ExplanationText | None = None
    held_out_items: tuple[str, ...] = ()
    found: tuple[str, ...] = ()
    grouped: bool = False
    split: str = ""
    shared: bool = False


def inspect_user(workspace_path: str | Path | None, run_id: int, user_id: str, *, k: int = 10,
                 exclude_seen: bool = True, mode: str = AS_EVALUATED, diversity: float = 0.0,
                 scenario: Scenario | None = None) -> UserInspection:
    """One user of a stored run as the inspector shows them: the history read once, one scored list.

    With ``scenario`` (a what-if of this user) the list is that scenario's; with ``diversity`` > 0 it
    is re-ranked by MMR and the diversity before and after is measured."""
    inspector = open_inspector(workspace_path, run_id)
    check_k(k)
    frame = inspector.history(user_id)
    base = None
    if scenario is None or scenario.user != str(user_id):
        base = inspector.recommend(user_id, k=k, exclude_seen=exclude_seen, mode=mode)
        scenario = scenario_of(inspector, base, frame)
    if scenario.changed or diversity > 0:
        rec = recommend_scenario(inspector, scenario, k, diversity=diversity)
        rec.mode = mode if not scenario.changed else None
        if not scenario.changed:  # re-ranked, same history: where the run's test ranked the held-out item
            base = base if base is not None else inspector.recommend(user_id, k=k, exclude_seen=exclude_seen,
                                                                      mode=mode)
            rec.held_out_rank, rec.held_out_ranks = base.held_out_rank, base.held_out_ranks
    else:
        rec = base if base is not None else inspector.recommend(user_id, k=k, exclude_seen=exclude_seen, mode=mode)
    measured = None
    if diversity > 0:
        plain = recommend_scenario(inspector, scenario, k)
        measured = (intra_list_diversity(inspector, [it["item_id"] for it in plain.items]),
                    intra_list_diversity(inspector, [it["item_id"] for it in rec.items]))
    summary = None
    try:  # from the history the list reads ("as evaluated": not the held-out event)
        summary = interest_summary(item_indices(inspector.dataset, scenario.base), catalogue_of(inspector.dataset))
    except Exception:  # a summary is a nicety: a catalogue without text gives none
        summary = None
    baskets = frame["basket"].to_numpy()
    held_out_items = tuple(inspector.held_out_items(user_id))
    return UserInspection(inspector.run.id, str(user_id), frame, held_out_items[0] if held_out_items else None,
                          scenario, rec, measured, summary, held_out_items=held_out_items,
                          found=tuple(rec.found), grouped=inspector.reads_as_baskets, split=str(inspector.run.split),
                          shared=bool(np.any(baskets[1:] == baskets[:-1])))


_OPEN: dict[tuple[str, int], tuple[Any, RunInspector]] = {}
_OPEN_LOCK = threading.Lock()
KEEP_OPEN = 2  # inspectors kept loaded (the run on screen and the one before it)


def _checkpoint_stamp(checkpoint) -> tuple | None:
    """What tells a loaded checkpoint from a rewritten one (its folder's and weights' mtimes), None if gone."""
    try:
        folder = Path(checkpoint)
        return (str(folder), folder.stat().st_mtime_ns,
                max((f.stat().st_mtime_ns for f in folder.iterdir()), default=0) if folder.is_dir() else 0)
    except (OSError, TypeError):
        return None


def open_inspector(workspace_path: str | Path | None, run_id: int) -> RunInspector:
    """The :class:`RunInspector` of a stored run, loaded once and kept while its checkpoint is unchanged:
    a worker thread asks by workspace path and run id, user after user, and gets the loaded one.

    A hit costs a few ``stat`` calls, not a workspace connection: opening one also tidies the workspace
    (a write), and two workers doing that at once would wait on each other's lock."""
    from recstudio.workspace import Workspace, default_workspace_path

    key = (str(default_workspace_path(workspace_path)), int(run_id))
    with _OPEN_LOCK:
        found = _OPEN.get(key)
    if found is not None and found[0] is not None and _checkpoint_stamp(found[1].checkpoint) == found[0]:
        with _OPEN_LOCK:
            if key in _OPEN:
                _OPEN[key] = _OPEN.pop(key)  # most recently used last
        return found[1]
    with Workspace(workspace_path) as workspace:
        inspector = RunInspector(workspace, run_id)
    stamp = _checkpoint_stamp(inspector.checkpoint)
    with _OPEN_LOCK:
        _OPEN.pop(key, None)
        _OPEN[key] = (stamp, inspector)
        while len(_OPEN) > KEEP_OPEN:
            _OPEN.pop(next(iter(_OPEN)))
    return inspector
