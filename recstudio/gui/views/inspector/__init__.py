"""The inspector page, one module per part: :mod:`.view` lays it out and wires it; :mod:`.tables` holds
the user list and text table models, :mod:`.history` the history and what-if panel,
:mod:`.history_model` the history's basket tree, :mod:`.recommendations` the list panel,
:mod:`.explanations` the "Why this item?" box and its jobs;
:mod:`.presenter` is the jobs (workspace path and run id in, plain values out) and the rows and
sentences built from what they return, without widgets (its ``EXPLAIN_MAX_EVALS`` is the explanations'
budget, read when each job runs)."""

from recstudio.gui.views.inspector.explanations import Explainer
from recstudio.gui.views.inspector.history import HistoryPanel
from recstudio.gui.views.inspector.history_model import HistoryTreeModel
from recstudio.gui.views.inspector.presenter import (
    AS_EVALUATED, FULL_HISTORY, INSPECTABLE, MODE_HINTS, ExplanationOf, LoadedRun, QueryList,
    format_score, held_out_text, history_rows, inspectable_runs, recommendation_rows, run_label,
)
from recstudio.gui.views.inspector.recommendations import RecommendationsPanel
from recstudio.gui.views.inspector.tables import HELD_OUT_TINT, TextTableModel, UserListModel
from recstudio.gui.views.inspector.view import SEARCH_DELAY_MS, InspectorView

__all__ = [
    "AS_EVALUATED", "Explainer", "ExplanationOf", "FULL_HISTORY", "HELD_OUT_TINT",
    "HistoryPanel", "HistoryTreeModel", "INSPECTABLE", "InspectorView", "LoadedRun", "MODE_HINTS", "QueryList", "RecommendationsPanel",
    "SEARCH_DELAY_MS", "TextTableModel", "UserListModel", "format_score", "held_out_text", "history_rows",
    "inspectable_runs", "recommendation_rows", "run_label",
]
