"""What an import says about baskets, and the split that follows from them: the report's basket numbers,
its warning when leave-one-out would split baskets, and the default split of a dataset."""

from __future__ import annotations

from typing import Any

from recstudio.data.baskets import SAME_TIME_WARNING, basket_summary
from recstudio.data.dataset import Dataset, ImportReport

#: Every basket warning starts so (an updated dataset's report replaces its old one).
WARNING_START = "Leave-one-out would split baskets"
LAST_BASKET = "last-basket"
LEAVE_ONE_OUT = "leave-one-out"


def report_baskets(dataset: Dataset) -> None:
    """Write :func:`~recstudio.data.baskets.basket_summary` into the dataset's report, with the warning
    when more than :data:`SAME_TIME_WARNING` of the users' last events share a basket with the one before."""
    report = dataset.report
    for key, value in basket_summary(dataset).items():
        setattr(report, key, value)
    report.warnings = [w for w in report.warnings if not w.startswith(WARNING_START)]
    warning = basket_warning(report)
    if warning:
        report.warnings.append(warning)


def _get(report: ImportReport | dict, key: str, default: Any = None) -> Any:
    value = report.get(key, default) if isinstance(report, dict) else getattr(report, key, default)
    return default if value is None else value


def basket_column(report: ImportReport | dict) -> str | None:
    """The source column the dataset's baskets come from (None: baskets are events sharing a time)."""
    return (_get(report, "columns", {}) or {}).get("basket") or None


def basket_warning(report: ImportReport | dict) -> str:
    """The plain warning that leave-one-out would split baskets, with the split to use; "" below
    :data:`SAME_TIME_WARNING`."""
    share = float(_get(report, "same_time_share", 0.0))
    if share <= SAME_TIME_WARNING:
        return ""
    column = basket_column(report)
    if column is not None:
        return (f"{WARNING_START}: for {share:.0%} of the users with two or more events, the last event is in "
                f"the same basket (column {column!r}) as the one before it, so leave-one-out would test which "
                "line of a basket was printed last. The last-basket split (--split last-basket) holds out whole "
                "baskets; it is the default for a dataset with a basket column.")
    return (f"{WARNING_START}: for {share:.0%} of the users with two or more events, the last event has the same "
            "time as the one before it, so leave-one-out would test which of the events sharing a time was "
            "printed last. The last-basket split (--split last-basket) holds out the events sharing a time "
            "together.")


def default_split(report: ImportReport | dict) -> str:
    """The split a run gets when none is chosen: last-basket when the dataset has a basket column (mapped
    or guessed), else leave-one-out, also when events share times: with no basket column, the figures
    stay comparable with leave-one-out protocols elsewhere, and the report's warning suggests last-basket."""
    return LAST_BASKET if basket_column(report) is not None else LEAVE_ONE_OUT


def split_line(report: ImportReport | dict, split: str, chosen: bool) -> str:
    """The log line saying which split a run uses and why (``chosen``: asked for, not the default)."""
    column = basket_column(report)
    share = float(_get(report, "same_time_share", 0.0))
    if split == LAST_BASKET:
        why = (f"the dataset has a basket column {column!r}" if column is not None
               else "baskets are each user's events sharing a time")
        line = (f"Split: last-basket ({why}); each user's last basket is the test question and the basket "
                "before it the validation question, each predicted from the baskets before it.")
        if not chosen:
            line += " Give --split leave-one-out to hold out single events instead."
        return line
    origin = "as chosen" if chosen else "the default without a basket column"
    line = f"Split: {split} ({origin})."
    if split in (LEAVE_ONE_OUT, "cold-items"):
        if column is not None:
            line += (f" The dataset has a basket column {column!r}: the held-out event is one line of a basket "
                     "and the basket's other lines are history; last-basket holds out whole baskets.")
        elif share > SAME_TIME_WARNING:
            line += (f" For {share:.0%} of the users the last two events share a time, so the held-out event is "
                     "often one of several at that time; last-basket (--split last-basket) holds them out together.")
    return line
