"""The inspector: pick a run and a user, read their history and their top-K, see where the held-out item landed."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QSplitter, QStackedWidget,
    QVBoxLayout, QWidget,
)

from recstudio.gui.context import AppContext, show_error
from recstudio.gui.jobs import JobRunner
from recstudio.gui.views.inspector import presenter
from recstudio.gui.views.inspector.explanations import Explainer
from recstudio.gui.views.inspector.history import HistoryPanel
from recstudio.gui.views.inspector.presenter import AS_EVALUATED, FULL_HISTORY, escape
from recstudio.gui.views.inspector.recommendations import RecommendationsPanel
from recstudio.gui.views.inspector.tables import UserListModel, hint_label, make_table

SEARCH_DELAY_MS = 150
INSPECT_JOB, QUERY_JOB = "Inspect", "Query"


class InspectorView(QWidget):
    """Pick a run and a user; their history (newest first) beside their top-K recommendations.

    Everything the page shows comes from background jobs given the workspace path, the run id and
    frozen values, never a loaded model: loading a run (its users and item titles), one user's
    inspection (history, list, held-out item and what-if scenario from one
    :func:`recstudio.runs.inspect_user` call), a list from words, and explanations (on a runner of
    their own). Each runner lets the latest request win, so a stale answer never lands. The page
    works while the window's runner trains, and loads a run only once it is shown.
    """

    user_shown = Signal(str)  # a user's history and list are on screen (tests and the explanation panel)
    recommendation_selected = Signal(str)  # item id of the recommendation the analyst clicked (for explanations)

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.loaded: presenter.LoadedRun | None = None  # the run on screen
        self.inspection = None  # the recstudio.runs.UserInspection on screen
        self.recommendation = None  # the list on screen
        self.scenario = None  # recstudio.explain.Scenario of the user on screen (or being asked for)
        self._summary: str | None = None  # the user's interests in words, for the report
        self._choice_ids: dict[str, str] = {}
        self._history_mode: tuple | None = None  # the (mode, grouping) the history was drawn for
        self._grouping: dict[int, bool] = {}  # run id -> the analyst's "Group by basket" choice
        self._wanted_run: int | None = None  # the run chosen in the combo (loaded once the page shows)
        # runs, users and lists from words: one job at a time, the latest replacing a stale one
        self.inspect_runner = JobRunner(self)
        self.inspect_runner.result.connect(self._job_result)
        self.inspect_runner.error.connect(self._job_failed)
        self.explainer = Explainer(context.settings, self)
        self.explain_runner = self.explainer.runner
        self.explainer.explained.connect(self._tint_history)
        self.explainer.language_model_changed.connect(self._language_model_changed)
        self.explainer.over_changed.connect(self._language_model_changed)  # the same item, explained again
        self.explainer.panel.export_requested.connect(self.export_explanation)
        self.explanation, self.explanation_panel = self.explainer.panel, self.explainer.box
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._apply_search)
        self._build()
        self._restore_settings()
        context.runs_changed.connect(self.refresh_runs)
        context.run_selected.connect(self.select_run)
        self.refresh_runs()

    # what is on screen --------------------------------------------------------------------------
    @property
    def explained(self):
        """The :class:`recstudio.explain.Explained` on screen (None before the first)."""
        return self.explainer.shown.explained if self.explainer.shown is not None else None

    @property
    def inspector(self):
        """The loaded run's :class:`recstudio.runs.RunInspector`, from the core's cache (for scripts and
        tests: the page itself reads only what its jobs return); None until a run is loaded."""
        if self.loaded is None:
            return None
        from recstudio.runs import open_inspector

        return open_inspector(self.context.workspace_path, self.loaded.run_id)

    @property
    def history_table(self):
        """The history's view on screen (a tree of baskets, or a flat table)."""
        return self.history.table

    # layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 14, 16, 12)
        outer.setSpacing(10)
        bar = QHBoxLayout()
        title = QLabel("Inspector")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        title.setFont(font)
        bar.addWidget(title)
        bar.addSpacing(18)
        bar.addWidget(QLabel("Run:"))
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("inspectorRun")
        self.run_combo.setMinimumContentsLength(44)
        self.run_combo.setPlaceholderText("no finished runs yet")
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setToolTip("Completed or cancelled runs with a checkpoint; the metric is the run's "
                                  "test NDCG@10.")
        self.run_combo.currentIndexChanged.connect(self._run_chosen)
        bar.addWidget(self.run_combo)
        self.status = QLabel("")
        self.status.setObjectName("inspectorStatus")
        bar.addSpacing(12)
        bar.addWidget(self.status, 1)
        outer.addLayout(bar)
        self.pages = QStackedWidget()
        outer.addWidget(self.pages, 1)
        self.pages.addWidget(self._build_empty_page())
        self.pages.addWidget(self._build_content())

    def _build_empty_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("inspectorEmpty")
        layout = QVBoxLayout(page)
        layout.addStretch(2)
        message = QLabel("<h3>No trained run to inspect yet</h3>"
                         "<p>Train a model on the Training page; when it finishes (or is stopped with a saved "
                         "checkpoint) pick it here to browse each user's history and recommendations.</p>")
        message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        message.setWordWrap(True)
        message.setFixedWidth(480)
        button = QPushButton("Go to Training")
        button.setObjectName("inspectorGoTrain")
        button.clicked.connect(lambda: self.context.navigate.emit("train"))
        for widget in (message, button):
            row = QHBoxLayout()
            row.addStretch()
            row.addWidget(widget)
            row.addStretch()
            layout.addLayout(row)
        layout.addStretch(3)
        return page

    def _build_users(self) -> QGroupBox:
        users_box = QGroupBox("Users")
        users = QVBoxLayout(users_box)
        self.user_search = QLineEdit()
        self.user_search.setObjectName("userSearch")
        self.user_search.setPlaceholderText("Search user id…")
        self.user_search.setClearButtonEnabled(True)
        self.user_search.textChanged.connect(lambda _text: self._search_timer.start())
        users.addWidget(self.user_search)
        self.user_model = UserListModel(self)
        self.user_table = make_table("userTable")
        self.user_table.setModel(self.user_model)
        self.user_table.setSortingEnabled(True)
        self.user_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.user_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(200)  # measure 200 rows, not every one of a million users
        self.user_table.selectionModel().currentRowChanged.connect(self._user_row_changed)
        users.addWidget(self.user_table, 1)
        self.user_count = hint_label("", "userCount")
        users.addWidget(self.user_count)
        self.query_edit = QLineEdit()
        self.query_edit.setObjectName("interestQuery")
        self.query_edit.setPlaceholderText("New user? Describe interests…")
        self.query_edit.setClearButtonEnabled(True)
        self.query_edit.setToolTip("Interests in words (\"space opera films and sci-fi novels\"): a run that knows its "
                                   "items' text (sasrec-lm) places the words among the items and recommends from there. "
                                   "Press Enter.")
        self.query_edit.returnPressed.connect(lambda: self.run_query(self.query_edit.text()))
        users.addWidget(self.query_edit)
        users_box.setMinimumWidth(190)
        return users_box

    def _build_content(self) -> QWidget:
        self.history = HistoryPanel()
        self.history_model = self.history.model
        self.add_item_edit, self.reset_button = self.history.add_item_edit, self.history.reset_button
        self.what_if_label = self.history.what_if_label
        self.history.event_toggled.connect(self._event_toggled)
        self.history.basket_toggled.connect(self._basket_toggled)
        self.history.grouping_changed.connect(self._grouping_changed)
        self.history.item_chosen.connect(self._item_chosen)
        self.history.reset_requested.connect(self.reset_what_if)
        self.lists = RecommendationsPanel()
        self.recommendation_model, self.recommendation_table = self.lists.model, self.lists.table
        self.k_spin, self.diversity_slider = self.lists.k_spin, self.lists.diversity_slider
        self.mode_as_evaluated, self.mode_full_history = self.lists.mode_as_evaluated, self.lists.mode_full_history
        self.held_out_label = self.lists.held_out_label
        self.lists.k_changed.connect(lambda _k: self._refresh())
        self.lists.diversity_changed.connect(lambda _d: self._refresh())
        self.lists.mode_changed.connect(lambda _mode: self._refresh(keep_what_if=False))
        self.lists.row_selected.connect(self._recommendation_row_changed)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.setSpacing(8)
        self.user_summary = QLabel("Pick a user on the left.")
        self.user_summary.setObjectName("userSummary")
        self.user_summary.setTextFormat(Qt.TextFormat.RichText)
        self.user_summary.setWordWrap(True)
        right_layout.addWidget(self.user_summary)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.setChildrenCollapsible(False)
        lower.addWidget(self.lists)
        lower.addWidget(self.explanation_panel)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        lower.setSizes([560, 440])
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.setChildrenCollapsible(False)
        vertical.addWidget(self.history)
        vertical.addWidget(lower)
        vertical.setStretchFactor(0, 2)
        vertical.setStretchFactor(1, 3)
        vertical.setSizes([260, 400])
        right_layout.addWidget(vertical, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("inspectorSplitter")
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._build_users())
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 930])
        return splitter

    # runs -------------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """Fill the run combo again (runs were added, finished or deleted). The choice is kept, except
        that a newly finished run is chosen while the page is out of sight (train, then inspect)."""
        keep = self._wanted_run if self._wanted_run is not None else self.current_run_id()
        shown = (self.current_run_id(), self.run_combo.currentText())
        known = {self.run_combo.itemData(i) for i in range(self.run_combo.count())}
        runs = presenter.inspectable_runs(self.context.workspace)
        if runs and runs[0].id not in known and known and not self.isVisible():
            keep = runs[0].id
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in runs:
            self.run_combo.addItem(presenter.run_label(run), run.id)
        self.run_combo.blockSignals(False)
        self.pages.setCurrentIndex(1 if runs else 0)
        self.run_combo.setEnabled(bool(runs))
        if not runs:
            self.inspect_runner.discard()
            self._clear()
            self.status.setText("")
            return
        index = self.run_combo.findData(keep) if keep is not None else -1
        self.run_combo.setCurrentIndex(max(index, 0))  # default: the newest run
        if shown[0] is None or (self.current_run_id(), self.run_combo.currentText()) != shown:
            self._run_chosen()  # another run (added or finished elsewhere) leaves the one shown alone

    def select_run(self, run_id: int) -> None:
        """Show ``run_id`` (from ``context.run_selected``); refreshes the combo if it is new."""
        if self.run_combo.findData(run_id) < 0:
            self._wanted_run = run_id
            self.refresh_runs()
        index = self.run_combo.findData(run_id)
        if index < 0:
            self.status.setText(f"Run #{run_id} has no checkpoint to inspect.")
            return
        self.run_combo.setCurrentIndex(index)

    def current_run_id(self) -> int | None:
        data = self.run_combo.currentData()
        return int(data) if data is not None else None

    def _run_chosen(self, _index: int = -1) -> None:
        run_id = self.current_run_id()
        self._wanted_run = run_id
        if run_id is None or (self.loaded is not None and self.loaded.run_id == run_id):
            return
        if self.inspect_runner.job_name == presenter.load_job_name(run_id):
            return  # already on its way
        if self.isVisible():
            self._load(run_id, self.current_user())
        else:
            self.inspect_runner.discard()  # whatever runs is for another run; this one loads when shown
            self.status.setText("")

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        wanted = self._wanted_run
        if wanted is not None and (self.loaded is None or self.loaded.run_id != wanted) \
                and self.inspect_runner.job_name != presenter.load_job_name(wanted):
            self._load(wanted, self.current_user())

    def _load(self, run_id: int, keep_user: str | None) -> None:
        """Load ``run_id`` in the background (its first load reads the checkpoint and the dataset), then
        show ``keep_user`` (else the first user)."""
        self._clear()
        self.status.setText(f"Loading run #{run_id}…")
        self.inspect_runner.start(presenter.load_job_name(run_id), presenter.load_run,
                                  str(self.context.workspace_path), run_id, keep_user, cancellable=False, replace=True)

    def _run_loaded(self, loaded: presenter.LoadedRun) -> None:
        self.loaded = loaded
        self._choice_ids = loaded.choices
        self.history.choices.setStringList(list(loaded.choices))
        self.user_model.set_users(loaded.user_ids, loaded.events)
        self._apply_search()
        self.status.setText(loaded.status)
        row = self.user_model.row_of(loaded.keep_user) if loaded.keep_user is not None else None
        self._select_row(row if row is not None else 0)

    # users --------------------------------------------------------------------------------------
    def _apply_search(self) -> None:
        current = self.current_user()
        self.user_model.set_search(self.user_search.text())
        shown, total = self.user_model.rowCount(), self.user_model.total
        self.user_count.setText(f"{total:,} users" if shown == total else f"{shown:,} of {total:,} users")
        row = self.user_model.row_of(current) if current is not None else None
        if row is not None:
            self._select_row(row)

    def _select_row(self, row: int) -> None:
        if not 0 <= row < self.user_model.rowCount():
            return
        index = self.user_model.index(row, 0)
        self.user_table.setCurrentIndex(index)
        self.user_table.scrollTo(index)

    def current_user(self) -> str | None:
        return self.recommendation.user if self.recommendation is not None else None

    def select_user(self, user_id: str) -> bool:
        """Show ``user_id`` (clearing a search that hides it); False when the run has no such user, or
        is not loaded yet (the user is then shown once it is)."""
        if self.loaded is None:
            if self._wanted_run is not None:
                self._load(self._wanted_run, str(user_id))
            return False
        row = self.user_model.row_of(user_id)
        if row is None and self.user_search.text():
            self.user_search.clear()
            self._apply_search()
            row = self.user_model.row_of(user_id)
        if row is None:
            return False
        self._select_row(row)
        return True

    def _user_row_changed(self, current: QModelIndex, _previous=None) -> None:
        user = self.user_model.user_at(current.row()) if current.isValid() else None
        if user is not None:
            self._inspect(user)

    # one user: one job ----------------------------------------------------------------------------
    def mode(self) -> str:
        return self.lists.mode()

    def diversity(self) -> float:
        return self.lists.diversity()

    def _inspect(self, user: str, scenario=None) -> None:
        """Ask for ``user``'s history and list (of ``scenario``, a what-if of them, when given)."""
        if self.loaded is None:
            return
        self.explainer.discard()  # an explanation being worked out is for the list being replaced
        self.inspect_runner.start(INSPECT_JOB, presenter.inspect_job, str(self.context.workspace_path),
                                  self.loaded.run_id, str(user), self.k_spin.value(), self.mode(), self.diversity(),
                                  scenario, cancellable=False, replace=True)

    def _refresh(self, keep_what_if: bool = True) -> None:
        """K, the diversity or the mode changed: the user on screen again (a new mode reads another
        history, so a what-if of the old one is dropped)."""
        user = self.current_user()
        if user is not None:
            self._inspect(user, self.scenario if keep_what_if else None)

    def _job_result(self, name: str, value) -> None:
        if name == INSPECT_JOB:
            self._show_inspection(value)
        elif name == QUERY_JOB:
            self._show_query(value)
        else:
            self._run_loaded(value)

    def _job_failed(self, name: str, exc) -> None:
        if name == QUERY_JOB:
            self.explanation.clear("")
            show_error(self, "Interests in words", exc)
        elif name == INSPECT_JOB:
            self.explanation.busy.hide()  # the explanation it replaced will not come either
            show_error(self, "Inspector", exc)
        else:  # a missing checkpoint or dataset: say so, keep the view usable
            self._clear()
            self.status.setText(f"Run #{self._wanted_run} could not be loaded.")
            show_error(self, "Inspector", exc)

    def _show_inspection(self, inspection) -> None:
        shown = self.inspection
        drawn = (self.mode(), self._grouped(inspection))
        same_history = (shown is not None and self.recommendation is not None and shown.user == inspection.user
                        and shown.run_id == inspection.run_id and self._history_mode == drawn)
        self.inspection, self.scenario = inspection, inspection.scenario
        self.recommendation = rec = inspection.recommendation
        if not same_history:  # a what-if of the history on screen keeps its rows (and their scroll)
            self._draw_history(inspection, drawn)
        self.history.show_checks(inspection.scenario)
        self.history.show_found(presenter.found_note(rec), presenter.found_ranks(rec))
        self.lists.set_basket_split(inspection.split == "last-basket")
        self.history.show_what_if(presenter.what_if_text(inspection.scenario, self._title), inspection.scenario.changed)
        summary = inspection.summary
        self._summary = summary.text if summary is not None else None
        self.explanation.set_summary(*((summary.text, summary.source) if summary is not None else (None,)))
        source = ", most popular items (empty history)" if rec.source == "popularity" else ""
        self.lists.show_list(presenter.recommendation_rows(rec), f"Recommendations — top {len(rec.items)}{source}",
                             presenter.list_note(rec, self._title, self.loaded.n_items, inspection.diversity,
                                                 self.diversity()))
        self._tint_history()
        if not self.lists.select_first():  # the first item is explained until the analyst picks another
            self.explainer.clear("Nothing to explain: the list is empty.")
        self.user_shown.emit(inspection.user)

    def _draw_history(self, inspection, drawn: tuple) -> None:
        """The history rows (under their baskets when ``drawn`` says so) and the line above them."""
        self._history_mode = drawn
        self.history.show_rows(presenter.history_rows(inspection.history, held_out_used=drawn[0] == FULL_HISTORY,
                                                      grouped=drawn[1]), groupable=inspection.shared, grouped=drawn[1])
        self.user_summary.setText(presenter.user_summary(inspection.user, inspection.history, inspection.held_out,
                                                         self._title, inspection.held_out_items))

    def _grouped(self, inspection) -> bool:
        """Whether to show ``inspection``'s history under its baskets: the analyst's choice for the run, else
        the run's own (a basket split or a basket column: yes; times alone shared: no)."""
        return inspection.shared and self._grouping.get(inspection.run_id, inspection.grouped)

    def _grouping_changed(self, grouped: bool) -> None:
        """Group by basket ticked or unticked: the same rows again, with the what-if and tints on them."""
        if self.inspection is None:
            return
        self._grouping[self.inspection.run_id] = bool(grouped)
        self._draw_history(self.inspection, (self.mode(), self._grouped(self.inspection)))
        self.history.show_checks(self.scenario)
        self.history.show_found(presenter.found_note(self.recommendation), presenter.found_ranks(self.recommendation))
        self._tint_history()

    def _recommendation_row_changed(self, row: int) -> None:
        if self.recommendation is not None and row < len(self.recommendation.items):
            item = self.recommendation.items[row]
            self.recommendation_selected.emit(item["item_id"])
            self.explain_item(item["item_id"])

    # explanations -------------------------------------------------------------------------------
    def explain_item(self, item_id: str) -> None:
        """Explain ``item_id`` for the scenario on screen, in the background (the latest request wins)."""
        if self.loaded is None or self.scenario is None:
            return
        self.explainer.explain(str(self.context.workspace_path), self.loaded.run_id, self.scenario, str(item_id),
                               self._title(item_id))

    def _language_model_changed(self) -> None:
        row = self.recommendation_table.currentIndex().row()
        if self.recommendation is not None and self.scenario is not None and 0 <= row < len(self.recommendation.items):
            self.explain_item(self.recommendation.items[row]["item_id"])

    def _tint_history(self) -> None:
        """Colour each history row by its event's attribution for the explanation on screen."""
        if self.explainer.matches(self.scenario):
            rows, baskets, scale = presenter.attribution_tints(self.explainer.shown.explained, self.scenario,
                                                               self.history_model.event_count())
            self.history.tint(rows, scale, baskets)
        else:
            self.history.tint({}, 0.0)

    def run_query(self, text: str) -> None:
        """Recommend for interests stated in words (a user with no history), in the background."""
        if self.loaded is None or not text.strip():
            return
        self.explainer.discard()
        self.explanation.show_busy(f"what “{text.strip()}” matches")
        self.inspect_runner.start(QUERY_JOB, presenter.query_list, str(self.context.workspace_path),
                                  self.loaded.run_id, text.strip(), self.k_spin.value(), cancellable=False,
                                  replace=True)

    def _show_query(self, found: presenter.QueryList) -> None:
        rec = self.recommendation = found.recommendation
        self.inspection, self.scenario = None, None
        self.user_table.clearSelection()
        self.history_model.set_rows([], [])
        self.user_summary.setText(f"<b>A new user</b> · interests in words: “{escape(found.text)}”")
        seeds = ", ".join(f"“{escape(self._title(i))}”" for i in rec.history[::-1][:3])
        self.lists.show_list(presenter.query_rows(rec), f"Recommendations — top {len(rec.items)} for the words",
                             f"{escape(rec.note)}<br>Closest by text: {seeds}." if seeds else escape(rec.note))
        self.what_if_label.setText("")
        self.explanation.set_summary(None)
        self.explainer.clear("A list from words has no history to attribute it to.")

    # what-if ----------------------------------------------------------------------------------
    def _event_toggled(self, row: int, checked: bool) -> None:
        if self.scenario is None:
            return
        position = self.history_model.event_count() - 1 - row
        self.set_scenario(self.scenario.toggled(position, checked))

    def _basket_toggled(self, basket: int, checked: bool) -> None:
        """A basket's box: all its lines left out (or back) at once."""
        if self.scenario is not None:
            self.set_scenario(self.scenario.basket_toggled(basket, checked))

    def _item_chosen(self, text: str) -> None:
        item = self._choice_ids.get(text)
        if item is None and self.loaded is not None and text.strip() in self.loaded.titles:
            item = text.strip()  # an item id typed as it is
        if item is None or self.scenario is None:
            return
        QTimer.singleShot(0, self.add_item_edit.clear)
        self.set_scenario(self.scenario.with_added(item))

    def add_item(self, item_id: str) -> None:
        """Append ``item_id`` to the what-if history (tests; the search box does the same)."""
        if self.scenario is not None:
            self.set_scenario(self.scenario.with_added(str(item_id)))

    def reset_what_if(self) -> None:
        if self.scenario is not None:
            self.set_scenario(self.scenario.reset())
            self.history.show_checks(self.scenario)

    def set_scenario(self, scenario) -> None:
        """Ask for the list of a what-if history of the user on screen."""
        self.scenario = scenario
        self.history.show_what_if(presenter.what_if_text(scenario, self._title), scenario.changed)
        self._inspect(scenario.user, scenario)
        self._tint_history()

    def export_explanation(self) -> None:
        """Save the explanation on screen as an HTML report (chart as PNG, every data string escaped)."""
        self.explainer.export(self._run_label(), self._summary, self.scenario)

    def write_explanation_html(self, path: str) -> bool:
        return self.explainer.write_html(path, self._run_label(), self._summary, self.scenario)

    def _run_label(self) -> str:
        return presenter.run_label(self.loaded.run) if self.loaded is not None else ""

    def _title(self, item_id: str) -> str:
        return self.loaded.titles.get(str(item_id), str(item_id)) if self.loaded is not None else str(item_id)

    def _clear(self) -> None:
        self.loaded = self.inspection = self.recommendation = self.scenario = None
        self._summary, self._choice_ids = None, {}
        self.explainer.discard()
        self.explainer.clear()
        self.explanation.set_summary(None)
        self.user_model.set_users(np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64))
        self.history.clear()
        self.lists.clear()
        self.user_summary.setText("Pick a user on the left.")
        self.user_count.setText("")

    def shutdown(self) -> None:
        """Wait for the page's jobs still being worked out (the window is closing)."""
        self.inspect_runner.stop_and_wait()
        self.explainer.shutdown()

    # settings --------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        settings = self.context.settings
        try:
            self.k_spin.setValue(int(settings.value("inspector/k", 10)))
        except (TypeError, ValueError):
            pass
        self.explanation.lm_edit.setText(str(settings.value("inspector/language_model", "") or ""))
        if settings.value("inspector/mode", AS_EVALUATED) == FULL_HISTORY:
            self.mode_full_history.setChecked(True)

    def save_settings(self) -> None:
        self.context.settings.setValue("inspector/k", self.k_spin.value())
        self.context.settings.setValue("inspector/mode", self.mode())
