"""Explanations: Shapley attributions of history events (shap), faithfulness checks, grounded text,
and diversity re-ranking jobs for the inspector and the command line.

Importing this package is light; torch, shap and transformers load inside the functions that need them.
"""

from recstudio.explain.attribution import (
    ABSENT,
    DEFAULT_MAX_EVALS,
    EXACT_UP_TO,
    Attribution,
    CoalitionScorer,
    attribute,
    attribution_budget,
)
from recstudio.explain.faithfulness import (
    Faithfulness,
    FaithfulnessReport,
    deletion_auc,
    deletion_scores,
    faithfulness,
    last_position_attention,
)
from recstudio.explain.jobs import (
    Explained,
    catalogue_of,
    diversity_report,
    explain,
    explain_recommendation,
    faithfulness_report,
    recommend_diverse,
    summarise_user,
)
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

__all__ = [
    "ABSENT", "Attribution", "Catalogue", "CoalitionScorer", "DEFAULT_MAX_EVALS", "EXACT_UP_TO", "Explained",
    "ExplanationText", "Facts", "Faithfulness", "FaithfulnessReport", "GROUNDED", "LANGUAGE_MODEL", "LanguageModel",
    "attribute", "attribution_budget", "catalogue_of", "check_text", "clean_title", "deletion_auc", "deletion_scores",
    "diversity_report", "explain", "explain_recommendation", "explain_text", "faithfulness", "faithfulness_report",
    "grounded_text", "interest_summary", "language_model", "last_position_attention", "recommend_diverse",
    "recommendation_facts", "summarise_user", "summary_facts", "write",
]
