"""Explanations as a library: Shapley attributions of history events (shap), faithfulness checks, grounded
text, what-if scenarios and the HTML report. It knows models and datasets, never a workspace or a run:
the use cases over stored runs are in :mod:`recstudio.runs.explaining`.

Importing this package is light; torch, shap and transformers load inside the functions that need them.
"""

from recstudio.explain.attribution import (
    ABSENT,
    ATTRIBUTION_UNITS,
    BASKETS,
    EVENTS,
    DEFAULT_MAX_EVALS,
    AttributionCancelled,
    EXACT_UP_TO,
    Attribution,
    CoalitionScorer,
    attribute,
    attribution_budget,
    basket_label,
    warm_up_shap,
)
from recstudio.explain.faithfulness import (
    Faithfulness,
    FaithfulnessReport,
    deletion_auc,
    deletion_scores,
    faithfulness,
    last_position_attention,
)
from recstudio.explain.explained import Explained, catalogue_of, similarity_for
from recstudio.explain.text import (
    GROUNDED,
    LANGUAGE_MODEL,
    Catalogue,
    ExplanationText,
    Facts,
    LanguageModel,
    check_text,
    clean_title,
    explain_text,
    grounded_text,
    interest_summary,
    language_model,
    recommendation_facts,
    summary_facts,
    write,
)
from recstudio.explain.whatif import Scenario, explanation_html, write_html

__all__ = [
    "ABSENT", "ATTRIBUTION_UNITS", "Attribution", "BASKETS", "EVENTS", "basket_label", "AttributionCancelled", "Catalogue", "CoalitionScorer", "DEFAULT_MAX_EVALS", "EXACT_UP_TO", "Explained",
    "ExplanationText", "Facts", "Faithfulness", "FaithfulnessReport", "GROUNDED", "LANGUAGE_MODEL", "LanguageModel",
    "Scenario", "attribute", "attribution_budget", "catalogue_of", "check_text", "clean_title", "deletion_auc",
    "deletion_scores", "explain_text", "explanation_html", "faithfulness", "grounded_text", "interest_summary",
    "language_model", "last_position_attention", "recommendation_facts", "similarity_for", "summary_facts",
    "warm_up_shap", "write", "write_html",
]
