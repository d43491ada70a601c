"""The inspector's "Why this item?" box and the background explanations behind it: one job at a time of
its own (the window's runner may be training), the latest request replacing a stale one."""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QGroupBox, QVBoxLayout, QWidget

from recstudio.gui.context import show_error
from recstudio.gui.jobs import JobRunner
from recstudio.gui.views.explain_panel import ExplanationPanel
from recstudio.gui.views.inspector import presenter

EXPLAIN_JOB = "Explain"


def has_baskets(scenario) -> bool:
    """Whether the scenario's history has a basket of more than one line (attributing to baskets differs)."""
    baskets = getattr(scenario, "baskets", ())
    return any(a == b for a, b in zip(baskets, baskets[1:]))


class Explainer(QObject):
    """``box`` (the group box) holds ``panel`` (:class:`ExplanationPanel`); ``shown`` is the
    :class:`~recstudio.gui.views.inspector.presenter.ExplanationOf` on screen."""

    explained = Signal()  # a new explanation is on screen
    language_model_changed = Signal()  # the analyst named another local language model
    over_changed = Signal()  # the analyst chose to attribute to events or to baskets

    def __init__(self, settings, parent: QWidget):
        super().__init__(parent)
        self.settings = settings
        self.view = parent
        self.shown: presenter.ExplanationOf | None = None
        self.box = QGroupBox("Why this item?")
        self.box.setObjectName("explanationPanel")
        self.box.setMinimumWidth(300)
        layout = QVBoxLayout(self.box)
        self.panel = ExplanationPanel(self.box)
        self.panel.language_model_changed.connect(self._language_model_changed)
        self.panel.over_changed.connect(lambda _over: self.over_changed.emit())
        layout.addWidget(self.panel)
        self.runner = JobRunner(self)
        self.runner.result.connect(self._ready)
        self.runner.error.connect(self._failed)

    def explain(self, workspace_path: str, run_id: int, scenario, item_id: str, title: str) -> None:
        """Explain ``item_id`` for ``scenario`` in the background, over events or baskets as the panel
        says (baskets only when the scenario has one of several lines); a request still running is dropped."""
        self.panel.set_baskets_available(has_baskets(scenario))
        self.panel.show_busy(title)
        self.runner.start(EXPLAIN_JOB, presenter.explain_job, workspace_path, run_id, scenario, str(item_id),
                          self.panel.language_model_path(), self.panel.over(),
                          replace=True)  # a replaced one stops early

    def discard(self) -> None:
        """The list changed: an explanation still being worked out is for a list no longer shown."""
        self.runner.discard()

    def matches(self, scenario) -> bool:
        """Whether the explanation on screen read ``scenario``'s history (so its tints fit the table)."""
        return self.shown is not None and scenario is not None and self.shown.scenario == scenario

    def clear(self, message: str | None = None) -> None:
        self.shown = None
        if message is None:
            self.panel.clear()
        else:
            self.panel.clear(message)

    def _ready(self, _name: str, shown) -> None:
        if shown is None:  # cancelled before it was done: a newer request is on its way
            return
        self.shown = shown
        self.panel.show_explained(shown.explained)
        self.explained.emit()

    def _failed(self, _name: str, exc) -> None:
        self.panel.clear("No explanation for this item.")
        show_error(self.view, "Explanation", exc)

    def _language_model_changed(self) -> None:
        self.settings.setValue("inspector/language_model", self.panel.lm_edit.text().strip())
        self.language_model_changed.emit()

    # the HTML report ------------------------------------------------------------------------------
    def export(self, run_label: str, summary: str | None, scenario) -> None:
        """Ask where, then save the explanation on screen as an HTML report."""
        if self.shown is None:
            return
        folder = str(self.settings.value("folders/export", "") or "")
        a = self.shown.explained.attribution
        suggested = f"why-{a.item}-for-user-{a.user}.html".replace("/", "_").replace("\\", "_")
        path, _ = QFileDialog.getSaveFileName(self.view, "Export the explanation",
                                              f"{folder}/{suggested}" if folder else suggested,
                                              "HTML report (*.html)")
        if path:
            self.write_html(path, run_label, summary, scenario)
            self.settings.setValue("folders/export", os.path.dirname(path))

    def write_html(self, path: str, run_label: str, summary: str | None, scenario) -> bool:
        """The report (chart as PNG, every data string escaped); False when it could not be written."""
        from recstudio.explain import explanation_html, write_html

        try:
            write_html(path, explanation_html(self.shown.explained, run_label=run_label,
                                              chart_png=self.panel.chart_png(), summary=summary, scenario=scenario))
        except OSError as exc:
            show_error(self.view, "Export", exc)
            return False
        return True

    def shutdown(self) -> None:
        self.runner.stop_and_wait()
