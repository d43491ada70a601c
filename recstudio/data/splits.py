"""Train / validation / test splits of user sequences: leave-one-out and global temporal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recstudio.data.dataset import Dataset
from recstudio.errors import RecStudioError


@dataclass
class EvalCases:
    """One ranking question per row: given this user's history, where does ``targets`` rank?

    Histories are in CSR form (``history_indptr``, ``history_items``), oldest first, and hold
    every event before the target; these are also the "seen" items excluded from ranking.
    """

    users: np.ndarray  # int64 [n]
    targets: np.ndarray  # int64 [n]; with target sets, each case's first target
    history_indptr: np.ndarray  # int64 [n+1]
    history_items: np.ndarray  # int64
    # a basket of targets per case (the last-basket split): case i's targets are
    # target_items[target_indptr[i]:target_indptr[i+1]], distinct; None: one target per case
    target_indptr: np.ndarray | None = None
    target_items: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.users)

    def history(self, i: int) -> np.ndarray:
        return self.history_items[self.history_indptr[i] : self.history_indptr[i + 1]]

    @property
    def has_target_sets(self) -> bool:
        return self.target_indptr is not None

    def target_set(self, i: int) -> np.ndarray:
        """Case ``i``'s targets (one item, or its held-out basket)."""
        if self.target_indptr is None:
            return self.targets[i : i + 1]
        return self.target_items[self.target_indptr[i] : self.target_indptr[i + 1]]

    def target_pairs(self, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(case offset from ``lo``, item) of every target of cases ``lo:hi``."""
        hi = len(self) if hi is None else hi
        if self.target_indptr is None:
            return np.arange(hi - lo, dtype=np.int64), self.targets[lo:hi]
        ptr = self.target_indptr
        rows = np.repeat(np.arange(hi - lo, dtype=np.int64), np.diff(ptr[lo : hi + 1]))
        return rows, self.target_items[ptr[lo] : ptr[hi]]

    def subset(self, idx: np.ndarray) -> EvalCases:
        """The cases ``idx`` (in that order), histories and target sets with them."""
        idx = np.asarray(idx, dtype=np.int64)
        hptr, hitems = _csr_rows(self.history_indptr, self.history_items, idx)
        tptr = titems = None
        if self.target_indptr is not None:
            tptr, titems = _csr_rows(self.target_indptr, self.target_items, idx)
        return EvalCases(self.users[idx], self.targets[idx], hptr, hitems, tptr, titems)


def _csr_rows(indptr: np.ndarray, values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole rows ``rows`` of a CSR matrix."""
    lo, hi = indptr[rows], indptr[rows + 1]
    lengths = hi - lo
    out_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    gather = np.repeat(lo - out_ptr[:-1], lengths) + np.arange(out_ptr[-1])
    return out_ptr, values[gather]


@dataclass
class Split:
    """Per-user training sequences plus validation and test questions."""

    kind: str
    n_users: int
    n_items: int
    train_indptr: np.ndarray  # int64 [n_users+1]; user u's training items are train_items[p[u]:p[u+1]]
    train_items: np.ndarray  # int64, oldest first per user
    valid: EvalCases
    test: EvalCases
    cold_items: np.ndarray | None = None  # int64, sorted: items held out of training (cold-items split)
    # bool, aligned with train_items: this event starts a basket (the last-basket split). With it, training
    # predicts each basket from the baskets before it, never one line of a basket from another
    train_basket_starts: np.ndarray | None = None

    def train_sequence(self, user: int) -> np.ndarray:
        return self.train_items[self.train_indptr[user] : self.train_indptr[user + 1]]

    def train_popularity(self) -> np.ndarray:
        return np.bincount(self.train_items, minlength=self.n_items)


def _csr_take(indptr: np.ndarray, values: np.ndarray, rows: np.ndarray, ends: np.ndarray):
    """Rows ``rows`` of a CSR matrix, each cut to its first ``ends[i]`` entries (vectorised)."""
    starts = indptr[rows]
    lengths = ends.astype(np.int64)
    out_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    # index of every kept entry: start of its row + offset within the row
    offsets = np.arange(out_ptr[-1], dtype=np.int64) - np.repeat(out_ptr[:-1], lengths)
    idx = np.repeat(starts, lengths) + offsets
    return out_ptr, values[idx]


def leave_one_out(dataset: Dataset) -> Split:
    """Last event of each user is the test target, the one before it the validation target.

    Users with fewer than three events keep everything in training and are not evaluated.
    """
    indptr = dataset.indptr
    items = dataset.interactions["item"].to_numpy().astype(np.int64)
    lengths = np.diff(indptr)
    evaluated = np.flatnonzero(lengths >= 3)
    if len(evaluated) == 0:
        raise RecStudioError(
            "No user has three or more events, so leave-one-out has nothing to validate and test on; "
            "import a longer log or lower the cleaning thresholds."
        )
    train_len = np.where(lengths >= 3, lengths - 2, lengths)
    train_indptr, train_items = _csr_take(indptr, items, np.arange(dataset.n_users), train_len)

    def cases(offset_from_end: int) -> EvalCases:
        hist_len = lengths[evaluated] - offset_from_end
        hptr, hitems = _csr_take(indptr, items, evaluated, hist_len)
        targets = items[indptr[evaluated] + hist_len]
        return EvalCases(evaluated.astype(np.int64), targets, hptr, hitems)

    return Split("leave-one-out", dataset.n_users, dataset.n_items, train_indptr, train_items, cases(2), cases(1))


def temporal(dataset: Dataset, valid_quantile: float = 0.8, test_quantile: float = 0.9) -> Split:
    """Global time cut: events before the validation cut train; each user's first event after
    a cut is that user's question, asked with every earlier event as history.

    A basket (see :mod:`recstudio.data.baskets`) is on one side of a cut, as a whole: it falls where
    the time of its first event falls (events sharing a time always did; a basket value's lines
    may carry several times)."""
    from recstudio.data.baskets import basket_starts

    if not 0 < valid_quantile < test_quantile < 1:
        raise RecStudioError("Temporal split needs 0 < validation quantile < test quantile < 1.")
    ts = dataset.interactions["timestamp"].to_numpy()
    items = dataset.interactions["item"].to_numpy().astype(np.int64)
    users = dataset.interactions["user"].to_numpy().astype(np.int64)
    indptr = dataset.indptr
    starts = basket_starts(dataset)
    # each event at the time its basket began: non-decreasing per user, so counts stay positions
    ts = ts[np.flatnonzero(starts)[np.cumsum(starts) - 1]] if len(ts) else ts
    t_valid, t_test = np.quantile(ts, [valid_quantile, test_quantile])
    # position within each user's sequence of the first event at/after each cut
    train_len = _first_at_or_after(ts, users, indptr, t_valid)
    test_pos = _first_at_or_after(ts, users, indptr, t_test)
    lengths = np.diff(indptr)
    train_indptr, train_items = _csr_take(indptr, items, np.arange(dataset.n_users), train_len)

    def cases(pos: np.ndarray, upper: np.ndarray) -> EvalCases:
        # a user is asked when there is an event at pos inside its window and a non-empty history
        rows = np.flatnonzero((pos < upper) & (pos >= 1))
        hptr, hitems = _csr_take(indptr, items, rows, pos[rows])
        return EvalCases(rows.astype(np.int64), items[indptr[rows] + pos[rows]], hptr, hitems)

    valid = cases(train_len, test_pos)
    test = cases(test_pos, lengths)
    if len(test) == 0:
        raise RecStudioError("The temporal cut leaves no user with events after it; choose an earlier quantile.")
    return Split("temporal", dataset.n_users, dataset.n_items, train_indptr, train_items, valid, test)


def _first_at_or_after(ts, users, indptr, cut) -> np.ndarray:
    before = np.bincount(users[ts < cut], minlength=len(indptr) - 1)
    # sequences are time-sorted per user, so the count of earlier events is the position
    return before.astype(np.int64)


def cold_items(dataset: Dataset, cold_fraction: float = 0.1, seed: int = 0) -> Split:
    """Leave-one-out with a random ``cold_fraction`` of the catalogue held out of training entirely.

    The cold items (drawn with ``seed``, the same for every model on the dataset) never appear in
    training sequences nor in validation cases, as target or history: training and model selection
    see a catalogue without them. Each user's last event is still the test target, asked with every
    earlier event as history (cold ones included: a model meets new items in histories at inference).
    Test cases whose target is cold measure cold start (``Split.cold_items``). A user with three or
    more events is tested; validation asks each tested user's last warm event before the test
    target, when one is left to train on.
    """
    if not 0.0 < float(cold_fraction) < 1.0:
        raise RecStudioError(f"The cold fraction must be between 0 and 1 (e.g. 0.1), got {cold_fraction!r}.")
    n_items = dataset.n_items
    n_cold = min(n_items - 1, max(1, int(round(float(cold_fraction) * n_items))))
    if n_cold < 1:
        raise RecStudioError("A cold-items split needs at least two items.")
    cold = np.sort(np.random.default_rng(seed).choice(n_items, size=n_cold, replace=False)).astype(np.int64)

    indptr = dataset.indptr
    items = dataset.interactions["item"].to_numpy().astype(np.int64)
    lengths = np.diff(indptr)
    users = np.repeat(np.arange(dataset.n_users), lengths)
    position = np.arange(len(items)) - indptr[users]
    tested = lengths >= 3
    if not tested.any():
        raise RecStudioError(
            "No user has three or more events, so the cold-items split has nothing to test on; "
            "import a longer log or lower the cleaning thresholds."
        )
    is_test = tested[users] & (position == lengths[users] - 1)
    warm = ~np.isin(items, cold) & ~is_test  # events training and validation may use
    warm_idx = np.flatnonzero(warm)
    warm_count = np.bincount(users[warm_idx], minlength=dataset.n_users)
    warm_ptr = np.concatenate([[0], np.cumsum(warm_count)]).astype(np.int64)
    validated = np.flatnonzero(tested & (warm_count >= 2))
    valid_target_idx = warm_idx[warm_ptr[validated + 1] - 1]  # each validated user's last warm event
    train_mask = warm.copy()
    train_mask[valid_target_idx] = False
    train_items = items[train_mask]
    train_len = np.bincount(users[train_mask], minlength=dataset.n_users)
    train_indptr = np.concatenate([[0], np.cumsum(train_len)]).astype(np.int64)
    # the validation history is exactly the user's training sequence (warm events before the target)
    vptr, vitems = _csr_take(train_indptr, train_items, validated, train_len[validated])
    valid = EvalCases(validated.astype(np.int64), items[valid_target_idx], vptr, vitems)
    test_users = np.flatnonzero(tested)
    tptr, titems = _csr_take(indptr, items, test_users, lengths[test_users] - 1)
    test = EvalCases(test_users.astype(np.int64), items[indptr[test_users] + lengths[test_users] - 1], tptr, titems)
    if len(valid) == 0:
        raise RecStudioError(
            "With the cold items held out no user has warm events left to validate on; "
            "lower --cold-fraction or import a longer log."
        )
    return Split("cold-items", dataset.n_users, n_items, train_indptr, train_items, valid, test, cold_items=cold)


def last_basket(dataset: Dataset) -> Split:
    """Each user's last basket is the test target set, the basket before it the validation set.

    A basket is the user's events sharing a time (or a basket value, see :mod:`recstudio.data.baskets`).
    A case's history is every event before its basket, so no line of the held-out basket is history,
    and nothing inside a basket is asked in an order the file happened to print. Users with fewer than
    three baskets train on everything and are not evaluated. On a log where no two events of a user
    share a time, this is exactly leave-one-out.
    """
    from recstudio.data.baskets import basket_starts, baskets

    grouped = baskets(dataset)
    items = dataset.interactions["item"].to_numpy().astype(np.int64)
    indptr = dataset.indptr
    per_user = grouped.per_user()
    evaluated = np.flatnonzero(per_user >= 3)
    if len(evaluated) == 0:
        raise RecStudioError(
            "No user has three or more baskets, so the last-basket split has nothing to validate and test on; "
            "use leave-one-out, or import a longer log."
        )
    # first event of each user's last and second-to-last basket
    last_start = grouped.event_ptr[grouped.user_ptr[evaluated + 1] - 1]
    before_start = grouped.event_ptr[grouped.user_ptr[evaluated + 1] - 2]
    lengths = np.diff(indptr)
    train_len = lengths.copy()
    train_len[evaluated] = before_start - indptr[evaluated]
    train_indptr, train_items = _csr_take(indptr, items, np.arange(dataset.n_users), train_len)
    _, train_starts = _csr_take(indptr, basket_starts(dataset), np.arange(dataset.n_users), train_len)

    def cases(start: np.ndarray, end: np.ndarray) -> EvalCases:
        hptr, hitems = _csr_take(indptr, items, evaluated, start - indptr[evaluated])
        tptr, titems = _distinct_rows(items, start, end)
        return EvalCases(evaluated.astype(np.int64), titems[tptr[:-1]], hptr, hitems, tptr, titems)

    valid = cases(before_start, last_start)
    test = cases(last_start, indptr[evaluated + 1])
    return Split("last-basket", dataset.n_users, dataset.n_items, train_indptr, train_items, valid, test,
                 train_basket_starts=train_starts)


def _distinct_rows(items: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the distinct items of ``items[starts[i]:ends[i]]`` per row, in order of first appearance."""
    lengths = (ends - starts).astype(np.int64)
    rows = np.repeat(np.arange(len(starts), dtype=np.int64), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    values = items[np.repeat(starts, lengths) + offsets]
    # keep the first occurrence of each (row, item)
    order = np.lexsort((offsets, values, rows))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (rows[order][1:] != rows[order][:-1]) | (values[order][1:] != values[order][:-1])
    keep = np.sort(order[first])
    counts = np.bincount(rows[keep], minlength=len(starts))
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), values[keep]


SPLITS = {"leave-one-out": leave_one_out, "temporal": temporal, "cold-items": cold_items,
          "last-basket": last_basket}
#: Options each split takes besides the dataset (what a run records to rebuild its split).
SPLIT_OPTIONS = {"leave-one-out": (), "temporal": ("valid_quantile", "test_quantile"),
                 "cold-items": ("cold_fraction", "seed"), "last-basket": ()}


#: Each split in the analyst's words: (name, label, what it asks), in the order the window lists them.
SPLIT_CHOICES = (
    ("leave-one-out", "Leave one out",
     "Each user's last event is the test question, the one before it the validation question."),
    ("temporal", "Temporal",
     "A global time cut: the latest 10% of events test, the 10% before them validate."),
    ("cold-items", "Cold items",
     "Leave one out with a random 10% of the items held out of training: how well a model recommends "
     "items it has never seen trained (text-aware models place them by their text); reported apart as \"cold\"."),
    ("last-basket", "Last basket",
     "Each user's last basket (the events sharing a time, or an invoice) is the test question, the basket "
     "before it the validation question, each predicted from the baskets before it; for shop logs, where "
     "leave-one-out would ask which line of an invoice was printed last."),
)


def split_names() -> tuple[str, ...]:
    """The splits a run can use, by the names the CLI and the window take (``--split``)."""
    return tuple(SPLITS)


#: Options every split takes: ``train_fraction`` F trains on a random share F of the users' training
#: sequences (few-shot curves); validation and test stay the same questions.
COMMON_SPLIT_OPTIONS = ("train_fraction",)
#: The draw of the users a ``train_fraction`` keeps (fixed, so a run's split can be rebuilt from its options).
TRAIN_FRACTION_SEED = 0


def make_split(dataset: Dataset, kind: str = "leave-one-out", **kwargs) -> Split:
    if kind not in SPLITS:
        raise RecStudioError(f"Unknown split {kind!r}; choose one of: {', '.join(SPLITS)}.")
    unknown = set(kwargs) - set(SPLIT_OPTIONS[kind]) - set(COMMON_SPLIT_OPTIONS)
    if unknown:
        raise RecStudioError(
            f"Split {kind!r} has no option {', '.join(sorted(unknown))}; "
            f"its options are: {', '.join(SPLIT_OPTIONS[kind] + COMMON_SPLIT_OPTIONS)}."
        )
    fraction = kwargs.pop("train_fraction", None)
    split = SPLITS[kind](dataset, **kwargs)
    return split if fraction is None else few_shot(split, fraction)


def few_shot(split: Split, fraction: float) -> Split:
    """``split`` trained on a random share ``fraction`` (0-1) of the users that have training events: the
    others' training sequences are emptied; their events still read as history at validation and test
    (ordinary inference), and every validation and test question stays. The draw is fixed
    (``TRAIN_FRACTION_SEED``) and nested: a larger share keeps every user a smaller one keeps."""
    from dataclasses import replace

    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise RecStudioError(f"The training fraction must be between 0 and 1; got {fraction:g}.")
    lengths = np.diff(split.train_indptr)
    trained = np.flatnonzero(lengths > 0)
    order = np.random.default_rng(TRAIN_FRACTION_SEED).permutation(len(trained))
    keep_users = np.zeros(split.n_users, dtype=bool)
    keep_users[trained[order[: int(round(fraction * len(trained)))]]] = True
    keep = np.repeat(keep_users, lengths)
    indptr = np.concatenate([[0], np.cumsum(np.where(keep_users, lengths, 0))]).astype(np.int64)
    starts = split.train_basket_starts[keep] if split.train_basket_starts is not None else None
    return replace(split, train_indptr=indptr, train_items=split.train_items[keep], train_basket_starts=starts)
