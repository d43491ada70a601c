"""Small things an analyst notices (issue 15, point 5), on real widgets: categories read "a, b" in every
table, the Category column is hidden when the catalogue has none, the explanation chart's axis caption
is whole, the import dialog opens centred on the window, its preview columns fill the table's width."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFontMetrics

from recstudio.data import sample_paths
from recstudio.data.catalogue import category_text
from recstudio.runs import ImportRequest, TrainRequest, import_or_reuse, train_run

ML100K = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ml-100k"


@pytest.fixture
def ml100k_files() -> tuple[Path, Path]:
    if not (ML100K / "interactions.csv").exists():
        pytest.skip("ml-100k is not in ../shared/datasets")
    return ML100K / "interactions.csv", ML100K / "items.csv"


def headers(table) -> list[str]:
    model = table.model()
    return [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]


def column(table, name: str) -> int:
    return headers(table).index(name)


def cells(table, name: str) -> list[str]:
    model, c = table.model(), column(table, name)
    return [model.index(r, c).data() for r in range(model.rowCount())]


def train_pop(window, log: Path, items: Path) -> int:
    request = TrainRequest(str(log), "pop", items=str(items), workspace=str(window.context.workspace_path))
    gen = train_run(request)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            window.context.runs_changed.emit()
            return stop.value.run_id


def open_user(qtbot, window, user: str | None = None):
    view = window.pages["inspect"]
    window.show_page("inspect")
    qtbot.waitUntil(lambda: view.inspector is not None, timeout=30000)
    user = user or str(view.inspector.users()["user_id"].iloc[0])
    assert view.select_user(user)
    qtbot.waitUntil(lambda: view.current_user() == user and view.recommendation is not None, timeout=30000)
    return view


# categories -------------------------------------------------------------------------------------
def test_category_text_reads_as_the_item_text():
    assert category_text("Action|Adventure|Sci-Fi") == "Action, Adventure, Sci-Fi"
    assert category_text(None) == "" and category_text(float("nan")) == ""
    assert list(category_text(["a | b", None, "", "c"])) == ["a, b", "", "", "c"]


def test_dataset_item_table_shows_categories_as_a_list(window, ml100k_files):
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(*map(str, ml100k_files)))
    window.context.set_dataset(record)
    window.show_page("data")
    view = window.pages["data"]
    table = view.item_table
    star_wars = cells(table, "Title").index("Star Wars")
    assert cells(table, "Category")[star_wars] == "Action, Adventure, Romance, Sci-Fi, War"
    assert not any("|" in text for text in cells(table, "Category"))
    assert not table.isColumnHidden(column(table, "Category"))


def test_dataset_item_table_hides_category_for_a_catalogue_without_one(window):
    interactions, catalogue = sample_paths()  # titles and prices, no categories
    record, _ = import_or_reuse(window.context.workspace, ImportRequest(str(interactions), str(catalogue)))
    window.context.set_dataset(record)
    window.show_page("data")
    table = window.pages["data"].item_table
    assert table.isColumnHidden(column(table, "Category"))
    assert not table.isColumnHidden(column(table, "Title"))
    assert "category" not in window.pages["data"].item_filter.placeholderText()


def test_inspector_tables_show_categories_as_a_list(qtbot, window, ml100k_files):
    train_pop(window, *ml100k_files)
    view = open_user(qtbot, window, "1")
    history, recommendations = view.history_table, view.recommendation_table
    for table in (history, recommendations):
        texts = cells(table, "Category")
        assert texts and not any("|" in t for t in texts)
        assert any(", " in t for t in texts)  # several genres per film
        assert not table.isColumnHidden(column(table, "Category"))
    toy_story = cells(history, "Item").index("1")  # user 1 watched Toy Story
    assert cells(history, "Category")[toy_story] == "Animation, Children's, Comedy"
    tip = history.model().index(toy_story, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "Animation, Children's, Comedy" in tip


def test_inspector_tables_hide_category_for_a_catalogue_without_one(qtbot, window):
    train_pop(window, *sample_paths())
    view = open_user(qtbot, window)
    assert view.recommendation_table.model().rowCount() > 0
    recommendations = view.recommendation_table
    assert recommendations.isColumnHidden(column(recommendations, "Category"))
    assert not recommendations.isColumnHidden(column(recommendations, "Title"))
    history = view.history_table
    assert "Title" in headers(history)
    assert "Category" not in headers(history) or history.isColumnHidden(column(history, "Category"))


# the explanation chart --------------------------------------------------------------------------
def small_explanation(scale: float):
    from recstudio.explain.attribution import Attribution

    values = np.array([3, -2, 1.5, 0.5, -1, 2, 0.2, -0.4]) * scale
    attribution = Attribution("i1", "A thing", 1.0, 1.0 - float(values.sum()), values,
                              [f"i{k}" for k in range(8)], [f"Title {k}" for k in range(8)], [None] * 8,
                              list(range(1, 9)), method="exact", evaluations=256)
    text = SimpleNamespace(text="Recommended because of Title 0.", source="grounded", rejected=None, candidate=None)
    return SimpleNamespace(attribution=attribution, text=text)


@pytest.mark.parametrize("width", [260, 330, 700])
def test_the_chart_axis_caption_is_whole_at_any_width(qtbot, width):
    """Attributions of a few thousandths made pyqtgraph add "(x0.001)" to the caption, and a narrow
    pane cut it at "contribution to the score (x0."."""
    from recstudio.gui.views.explain_panel import ExplanationPanel

    panel = ExplanationPanel()
    qtbot.addWidget(panel)
    panel.resize(width, 420)
    panel.show()
    panel.show_explained(small_explanation(0.001))
    qtbot.waitExposed(panel)
    qtbot.wait(50)
    axis = panel.plot.getAxis("bottom")
    caption = axis.label.toPlainText().strip()
    assert caption.startswith("contribution") or caption == "score contribution"
    assert "(x" not in caption
    assert QFontMetrics(axis.label.font()).horizontalAdvance(caption) <= axis.width()
    box = axis.label.mapRectToScene(axis.label.boundingRect())
    viewport = panel.plot.viewport().rect()
    assert box.left() >= 0 and box.right() <= viewport.width() + 0.5, (box, viewport)


def test_the_full_caption_when_there_is_room(qtbot):
    from recstudio.gui.views.explain_panel import AXIS_CAPTIONS, ExplanationPanel

    panel = ExplanationPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 420)
    panel.show()
    panel.show_explained(small_explanation(1.0))
    qtbot.waitExposed(panel)
    qtbot.wait(50)
    assert panel.plot.getAxis("bottom").label.toPlainText().strip() == AXIS_CAPTIONS[0]


# dialogs ----------------------------------------------------------------------------------------
def test_the_import_dialog_opens_centred_on_the_window_and_on_the_screen(qtbot, window):
    """The offscreen screen is 800 x 800, smaller than the dialog's 1040 x 760 and the window's 1250-px
    minimum width: the dialog is made to fit the screen, centred on the window as far as the screen allows."""
    area = window.screen().availableGeometry()
    window.setGeometry(area.adjusted(0, 0, 0, -60))
    qtbot.wait(20)
    dialog = window.open_sample()
    qtbot.waitExposed(dialog)
    frame, host = dialog.frameGeometry(), window.frameGeometry().center()
    assert area.contains(frame.topLeft()) and area.contains(frame.bottomRight()), (frame, area)
    # the window's centre, or the nearest point to it where the whole dialog is on the screen
    nearest_x = min(max(host.x(), area.left() + frame.width() // 2), area.right() - frame.width() // 2)
    nearest_y = min(max(host.y(), area.top() + frame.height() // 2), area.bottom() - frame.height() // 2)
    assert abs(frame.center().x() - nearest_x) <= 2 and abs(frame.center().y() - nearest_y) <= 2, \
        (frame, window.frameGeometry())
    dialog.reject()


def test_a_dialog_put_elsewhere_is_centred_when_first_shown(qtbot):
    """Without a window manager Qt guesses the frames and the dialog lands off-centre (at the screen's
    top edge for the import dialog): the helper puts it on the window's centre however it started."""
    from PySide6.QtWidgets import QDialog, QWidget

    from recstudio.gui.windows import centre_on_first_show

    window = QWidget()
    qtbot.addWidget(window)
    window.setGeometry(100, 60, 600, 500)
    window.show()
    qtbot.waitExposed(window)
    dialog = QDialog(window)
    dialog.resize(300, 200)
    dialog.move(QPoint(0, 0))  # where a WM-less X server left it
    centre_on_first_show(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert (dialog.frameGeometry().center() - window.frameGeometry().center()).manhattanLength() <= 4
    dialog.move(QPoint(10, 10))  # the analyst moves it: later shows leave it there
    dialog.hide()
    dialog.show()
    assert dialog.pos() == QPoint(10, 10)
    dialog.close()


# the import preview -----------------------------------------------------------------------------
def preview_fills(table) -> bool:
    widths = sum(table.columnWidth(c) for c in range(table.columnCount()))
    return abs(widths - table.viewport().width()) <= 1


def test_preview_columns_fill_the_table_and_follow_the_dialog(qtbot, window, ml100k_files):
    interactions, items = ml100k_files
    dialog = window.open_file(str(interactions), str(items))
    qtbot.waitExposed(dialog)
    table = dialog.preview_table
    qtbot.waitUntil(lambda: preview_fills(table))
    first = table.columnWidth(0)
    dialog.resize(dialog.width() + 200, dialog.height())
    qtbot.waitUntil(lambda: preview_fills(table) and table.columnWidth(0) > first)
    dialog.resize(dialog.minimumSizeHint().width(), dialog.height())
    qtbot.waitUntil(lambda: preview_fills(table) or table.horizontalScrollBar().maximum() > 0)
    dialog.reject()


def test_a_long_preview_column_is_cut_and_says_all_in_its_tooltip(qtbot, tmp_path, window):
    path = tmp_path / "log.csv"
    long_text = "a very long free-text note that someone typed into the export " * 3
    rows = [f"u{i},i{i % 7},{1_600_000_000 + i},{long_text.strip()}" for i in range(30)]
    path.write_text("user_id,item_id,timestamp,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
    dialog = window.open_file(str(path))
    qtbot.waitExposed(dialog)
    table = dialog.preview_table
    qtbot.waitUntil(lambda: preview_fills(table))
    note = table.columnCount() - 1
    natural = table.natural_widths()
    assert table.columnWidth(note) < natural[note]  # cut, so the short columns keep their room
    assert all(table.columnWidth(c) >= natural[c] for c in range(note))
    assert table.item(0, note).toolTip() == long_text.strip()
    dialog.reject()


def test_column_widths_share_spare_room_and_cap_the_widest():
    from recstudio.gui.views.import_dialog.preview import column_widths

    assert column_widths([100, 100, 200], 800) == [200, 200, 400]
    assert column_widths([100, 900, 80, 700], 800) == [100, 310, 80, 310]
    assert sum(column_widths([97, 131, 80], 1000)) == 1000
    assert column_widths([300] * 10, 500) == [72] * 10  # never below the floor: the table scrolls
