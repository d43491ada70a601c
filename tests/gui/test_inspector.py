"""The inspector page as an analyst uses it: pick a run, find a user, read their history and their top-K."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from recstudio.runs import TrainRequest, train_run

ML100K = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ml-100k"


@pytest.fixture
def ml100k_log() -> pd.DataFrame:
    if not (ML100K / "interactions.csv").exists():
        pytest.skip("ml-100k is not in ../shared/datasets")
    return pd.read_csv(ML100K / "interactions.csv", dtype={"user_id": str, "item_id": str})


def train_pop(window) -> int:
    """A popularity run on ml-100k in the window's workspace (fast; the scores are counts)."""
    request = TrainRequest(str(ML100K / "interactions.csv"), "pop", items=str(ML100K / "items.csv"),
                           workspace=str(window.context.workspace_path))
    gen = train_run(request)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            window.context.runs_changed.emit()
            return stop.value.run_id


def rows(table) -> int:
    return table.model().rowCount()


def cell_texts(table, column: int) -> list[str]:
    model = table.model()
    return [model.index(r, column).data() for r in range(model.rowCount())]


def click_row(qtbot, table, row: int) -> None:
    rect = table.visualRect(table.model().index(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_browse_a_users_history_and_recommendations(qtbot, window, ml100k_log):
    view = window.pages["inspect"]
    window.show_page("inspect")
    assert view.pages.currentWidget().objectName() == "inspectorEmpty"  # nothing trained yet

    run_id = train_pop(window)
    combo = view.findChild(type(view.run_combo), "inspectorRun")
    assert combo.count() == 1 and combo.currentData() == run_id
    assert combo.currentText().startswith(f"#{run_id} pop — ") and "NDCG@10 0." in combo.currentText()
    users = view.findChild(type(view.user_table), "userTable")
    qtbot.waitUntil(lambda: rows(users) == 943, timeout=20000)
    assert view.user_count.text() == "943 users"

    qtbot.keyClicks(view.findChild(type(view.user_search), "userSearch"), "10")
    with_10 = {u for u in ml100k_log["user_id"].unique() if "10" in u}
    qtbot.waitUntil(lambda: rows(users) == len(with_10))
    assert set(cell_texts(users, 0)) == with_10
    assert view.user_count.text() == f"{len(with_10)} of 943 users"

    click_row(qtbot, users, 3)
    user = users.model().index(3, 0).data()
    qtbot.waitUntil(lambda: view.current_user() == user)
    events = ml100k_log.query("user_id == @user")
    history = view.findChild(type(view.history_table), "historyTable")
    assert rows(history) == len(events)
    items = cell_texts(history, history.model()._headers.index("Item"))
    assert sorted(items) == sorted(events["item_id"])
    times = cell_texts(history, history.model()._headers.index("Time (UTC)"))
    assert times == sorted(times, reverse=True)  # newest first
    assert f"User {user}" in view.user_summary.text()

    recommendations = view.findChild(type(view.recommendation_table), "recommendationTable")
    assert rows(recommendations) == 10
    assert cell_texts(recommendations, 0) == [str(n) for n in range(1, 11)]
    k = view.findChild(type(view.k_spin), "topK")
    k.setValue(25)
    qtbot.waitUntil(lambda: rows(recommendations) == 25)
    k.setValue(3)
    qtbot.waitUntil(lambda: rows(recommendations) == 3)
    assert view.findChild(type(view.explanation_panel), "explanationPanel").title() == "Why this item?"


def test_the_held_out_item_is_marked_and_the_mode_switches(qtbot, window, ml100k_log):
    view = window.pages["inspect"]
    train_pop(window)
    window.show_page("inspect")
    qtbot.waitUntil(lambda: view.inspector is not None, timeout=20000)
    inspector = view.inspector
    user = next(u for u in inspector.users()["user_id"] if inspector.recommend(u, k=10).held_out_in_list)
    assert view.select_user(user)
    qtbot.waitUntil(lambda: view.current_user() == user)

    table = view.recommendation_table
    marks = cell_texts(table, table.model()._headers.index("Test"))
    rank = view.recommendation.held_out_in_list
    assert marks[rank - 1] == "◆ held-out" and marks.count("◆ held-out") == 1
    assert table.model().index(rank - 1, 1).data(Qt.ItemDataRole.FontRole).bold()
    assert f"rank {rank}" in view.held_out_label.text()
    assert view.findChild(type(view.mode_as_evaluated), "modeAsEvaluated").isChecked()

    qtbot.mouseClick(view.findChild(type(view.mode_full_history), "modeFullHistory"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.recommendation.mode == "full history")
    assert "◆ held-out" not in cell_texts(table, table.model()._headers.index("Test"))
    assert "excluded" in view.held_out_label.text()
    touched = set(ml100k_log.query("user_id == @user")["item_id"])
    assert not touched & {it["item_id"] for it in view.recommendation.items}


def test_run_selected_opens_that_run(qtbot, window, ml100k_log):
    view = window.pages["inspect"]
    first = train_pop(window)
    second = train_pop(window)  # the same file is reused, so this is quick
    assert view.run_combo.count() == 2 and view.run_combo.currentData() == second  # newest first
    window.context.run_selected.emit(first)
    assert window.current_page() == "inspect"
    assert view.run_combo.currentData() == first
    qtbot.waitUntil(lambda: view.inspector is not None and view.inspector.run.id == first, timeout=20000)
    qtbot.waitUntil(lambda: rows(view.user_table) == 943)
    qtbot.waitUntil(lambda: rows(view.recommendation_table) == view.k_spin.value())  # the first user's list: a job
