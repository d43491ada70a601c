"""The inspector on a shop log of invoices, as an analyst reads it: the history one row per basket that
opens to its lines, the held-out basket with what the list found of it, attributions per event or per
basket, and a what-if without a whole basket."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt

from PySide6.QtWidgets import QTableView

from recstudio.runs import TrainRequest, train_run

from tests.test_basket_inspection import invoices, write_shop


@pytest.fixture(autouse=True)
def small_budget(monkeypatch):
    from recstudio.gui.views.inspector import presenter

    monkeypatch.setattr(presenter, "EXPLAIN_MAX_EVALS", 200)


@pytest.fixture
def shop(tmp_path):
    log, items = write_shop(tmp_path)
    return log, items, pd.read_csv(log, dtype={"customer_id": str, "product_id": str})


def train(window, log, items, split: str = "last-basket", model: str = "sasrec") -> int:
    request = TrainRequest(str(log), model, items=str(items), split=split, device="cpu",
                           workspace=str(window.context.workspace_path),
                           train_config={"max_steps": 30, "epochs": 30, "seed": 1},
                           model_config={"hidden": 16, "layers": 1, "max_len": 20} if model == "sasrec" else {})
    gen = train_run(request)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            window.context.runs_changed.emit()
            return stop.value.run_id


def open_inspector(qtbot, window):
    view = window.pages["inspect"]
    window.show_page("inspect")
    qtbot.waitUntil(lambda: view.inspector is not None, timeout=30000)
    return view


def show_user(qtbot, view, user: str, explained: bool = True):
    assert view.select_user(user)
    qtbot.waitUntil(lambda: view.inspection is not None and view.inspection.user == user, timeout=30000)
    if explained:
        qtbot.waitUntil(lambda: view.explained is not None and view.explainer.matches(view.scenario), timeout=120000)


def texts(model, column: str, parent=None) -> list[str]:
    c = model.headers.index(column)
    parent = parent if parent is not None else QModelIndex()
    return [model.index(r, c, parent).data() for r in range(model.rowCount(parent))]


def a_customer(view, log, fewest_lines: int = 3, found: bool = False, k: int = 10) -> str:
    inspector = view.inspector
    for user in inspector.users()["user_id"]:
        baskets = invoices(log, user)
        if len(baskets) < 4 or len(baskets[-1]) < fewest_lines or max(len(b) for b in baskets[:-1]) < 3:
            continue
        if not found or inspector.recommend(user, k=k).held_out_in_list is not None:
            return user
    raise AssertionError("no such customer in the generated shop")


def test_the_history_shows_one_row_per_basket_that_opens_to_its_lines(qtbot, window, shop):
    log, items, frame = shop
    train(window, log, items)
    view = open_inspector(qtbot, window)
    user = a_customer(view, frame)
    show_user(qtbot, view, user, explained=False)
    baskets = invoices(frame, user)
    model, tree = view.history_model, view.history_table
    assert model.grouped and view.history.group_check.isEnabled() and view.history.group_check.isChecked()
    assert model.rowCount() == len(baskets) and model.event_count() == sum(map(len, baskets))
    assert f"{model.event_count()} events in {len(baskets)} baskets" in view.history.title()
    newest_first = baskets[::-1]
    items_shown = texts(model, "Item")
    for row, lines in enumerate(newest_first):
        if len(lines) == 1:  # a basket of one line is that event's own row
            assert items_shown[row] == lines[0] and not model.hasChildren(model.index(row, 0))
            continue
        assert items_shown[row] == f"{len(lines)} lines"
        title = model.index(row, model.headers.index("Title")).data()
        assert title.split(",")[0] == view.inspector.titles[view.inspector.dataset.item_index(lines[0])]
        parent = model.index(row, 0)
        assert sorted(texts(model, "Item", parent)) == sorted(lines)
        assert texts(model, "Item", parent) == lines[::-1]  # newest first inside it too

    # the held-out basket is open, the others closed until clicked
    held = model.index(0, 0)
    assert model.index(0, model.headers.index("Split")).data().startswith("test (held-out)")
    assert tree.isExpanded(held) == (len(baskets[-1]) > 1)
    closed = next(r for r in model.basket_rows() if r > 0)
    assert not tree.isExpanded(model.index(closed, 0))
    tree.scrollTo(model.index(closed, 0))
    cell = tree.visualRect(model.index(closed, 0))
    arrow = QPoint(cell.left() - tree.indentation() // 2, cell.center().y())  # the branch arrow left of the cell
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=arrow)
    qtbot.waitUntil(lambda: tree.isExpanded(model.index(closed, 0)))
    first_line = model.index(0, 0, model.index(closed, 0))
    assert tree.visualRect(first_line).isValid()  # its lines are on screen now

    # flat on request (the table of before), grouped again
    view.history.group_check.click()
    assert not model.grouped and model.rowCount() == sum(map(len, baskets))
    assert isinstance(view.history_table, QTableView) and view.history_table.isVisible()
    assert texts(model, "Item") == [i for lines in newest_first for i in lines[::-1]]
    view.history.group_check.click()
    assert model.grouped and model.rowCount() == len(baskets) and view.history_table is tree


def test_the_held_out_basket_says_what_the_list_found(qtbot, window, shop):
    log, items, frame = shop
    train(window, log, items)
    view = open_inspector(qtbot, window)
    user = a_customer(view, frame, found=True, k=10)
    show_user(qtbot, view, user, explained=False)
    assert len(view.recommendation.items) == 10
    held_out = list(dict.fromkeys(invoices(frame, user)[-1]))
    inspection = view.inspection
    assert inspection.held_out_items == tuple(held_out) and inspection.found
    table = view.recommendation_table
    marks = [table.model().index(r, 4).data() for r in range(table.model().rowCount())]
    marked = [view.recommendation.items[r]["item_id"] for r, m in enumerate(marks) if m == "◆ held-out"]
    assert marked == list(inspection.found)
    label = view.held_out_label.text()
    assert f"found <b>{len(marked)} of {len(held_out)}</b> in the top 10" in label
    for item in inspection.found:
        assert view._title(item) in label
    seen = set(view.recommendation.held_out_seen)  # left out of any list, said apart
    if set(held_out) - set(marked) - seen:
        assert "Not found:" in label
    if seen:
        assert "Already in the history" in label
    assert f"held-out basket: {len(held_out)} items" in view.user_summary.text()
    split = view.history_model.index(0, view.history_model.headers.index("Split")).data()
    if len(held_out) > 1:
        assert split == f"test (held-out) · found {len(marked)} of {len(held_out)}"
        found_line = next(r for r, i in enumerate(texts(view.history_model, "Item", view.history_model.index(0, 0)))
                          if i == marked[0])
        line = view.history_model.index(found_line, view.history_model.headers.index("Split"),
                                        view.history_model.index(0, 0)).data()
        rank = next(it["rank"] for it in view.recommendation.items if it["item_id"] == marked[0])
        assert line == f"test (held-out) · found, rank {rank}"

    # the full history reads the held-out basket, so none of it can be recommended
    view.mode_full_history.click()
    qtbot.waitUntil(lambda: view.recommendation.mode == "full history", timeout=30000)
    assert "is in the full history" in view.held_out_label.text()
    assert not {it["item_id"] for it in view.recommendation.items} & set(held_out)


def test_attributions_per_event_or_per_basket(qtbot, window, shop):
    log, items, frame = shop
    train(window, log, items)
    view = open_inspector(qtbot, window)
    user = a_customer(view, frame)
    show_user(qtbot, view, user)
    combo = view.explanation.over_combo
    assert combo.isEnabled() and combo.currentData() == "events"
    per_event = view.explained.attribution
    assert per_event.over == "events" and len(per_event) == len(view.scenario.base)
    baskets_read = len(set(view.scenario.baskets))

    combo.setCurrentIndex(combo.findData("baskets"))
    qtbot.waitUntil(lambda: view.explained.attribution.over == "baskets", timeout=120000)
    a = view.explained.attribution
    assert len(a) == baskets_read and a.item == per_event.item
    assert abs(a.base_value + float(np.sum(a.values)) - a.score) <= 1e-4  # the parts still add up
    assert abs(a.score - per_event.score) <= 1e-4
    assert f"from {baskets_read} baskets ({len(view.scenario.base)} lines)" in view.explanation.heading.text()
    assert len(view.explanation.bar_values()) == min(8, baskets_read)
    model = view.history_model
    tinted = [r for r in model.basket_rows() if model.background(r) is not None]
    assert tinted  # each basket's row carries its basket's colour
    biggest = int(np.argmax(np.abs(a.values)))
    if len(a.members[biggest]) > 1:  # that basket's row is among the tinted ones
        position = a.members[biggest][0]
        row = next(r for r in model.basket_rows()
                   if model.group_at(r)["basket"] == view.scenario.basket_of(position))
        assert row in tinted

    # another recommendation is explained the chosen way too; back to events
    view.recommendation_table.setCurrentIndex(view.recommendation_model.index(1, 0))
    second = view.recommendation.items[1]["item_id"]
    qtbot.waitUntil(lambda: view.explained.attribution.item == second, timeout=120000)
    assert view.explained.attribution.over == "baskets"
    combo.setCurrentIndex(combo.findData("events"))
    qtbot.waitUntil(lambda: view.explained.attribution.over == "events", timeout=120000)
    assert len(view.explained.attribution) == len(view.scenario.base)


def test_what_if_without_a_whole_basket(qtbot, window, shop):
    log, items, frame = shop
    train(window, log, items)
    view = open_inspector(qtbot, window)
    user = a_customer(view, frame)
    show_user(qtbot, view, user)
    model = view.history_model
    before = list(view.recommendation.history)
    row = next(r for r in model.basket_rows() if model.is_checked(r))  # a basket the list reads
    group = model.group_at(row)
    lines = len(group["events"])
    index = model.index(row, 0)
    assert index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    with qtbot.waitSignal(view.user_shown, timeout=60000):
        model.setData(index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    positions = set(view.scenario.basket_positions(group["basket"]))
    assert len(positions) == lines and view.scenario.left_out == frozenset(positions)
    assert view.recommendation.history == [i for n, i in enumerate(before) if n not in positions]
    assert f"1 basket left out ({lines} lines)" in view.what_if_label.text()
    assert not model.is_checked(row)
    assert all(model.index(n, 0, index).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
               for n in range(lines))
    qtbot.waitUntil(lambda: view.explainer.matches(view.scenario), timeout=120000)
    assert len(view.explained.attribution.history_items) == len(before) - lines

    # one line back: the basket is partly kept
    with qtbot.waitSignal(view.user_shown, timeout=60000):
        model.setData(model.index(0, 0, index), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.PartiallyChecked
    assert len(view.scenario.left_out) == lines - 1 and view.scenario.left_out_baskets() == []
    assert f"{lines - 1} event{'s' if lines - 1 != 1 else ''} left out" in view.what_if_label.text()
    with qtbot.waitSignal(view.user_shown, timeout=60000):
        view.reset_button.click()
    assert view.scenario.left_out == frozenset() and model.is_checked(row)
    assert view.recommendation.history == before


def test_a_log_without_shared_times_looks_as_before(qtbot, window, tmp_path):
    rows = [(f"u{u}", f"i{(u + 3 * t) % 15}", 1_000 + 60 * t) for u in range(30) for t in range(6)]
    log = tmp_path / "log.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(log, index=False)
    items = tmp_path / "items.csv"
    pd.DataFrame({"item_id": [f"i{i}" for i in range(15)], "title": [f"Thing {i}" for i in range(15)]}).to_csv(
        items, index=False)
    train(window, log, items, split="leave-one-out")
    view = open_inspector(qtbot, window)
    show_user(qtbot, view, "u4")
    model, tree = view.history_model, view.history_table
    assert not model.grouped and model.rowCount() == 6 and isinstance(tree, QTableView)  # as before
    assert not view.history.group_check.isEnabled()
    assert view.history.title() == "History — newest first"
    assert texts(model, "Split") == ["test (held-out)", "validation"] + ["train"] * 4
    assert not view.explanation.over_combo.isEnabled() and view.explained.attribution.over == "events"
    assert "Held-out test item" in view.held_out_label.text()
