"""The one front door to the core for the command line and the window: every use case over a workspace
(import, train, evaluate, recommend, inspect, explain, derived runs, cluster jobs, exports).

Each module holds one job; this package re-exports their public names, so callers write
``from recstudio.runs import train_run`` and never reach into a module's private helpers.
Importing it is light: torch and transformers load inside the functions that need them.
"""

from recstudio.runs.cluster import import_cluster_run, write_cluster_job
from recstudio.runs.derived import (
    QuantisedRun, UpdateOutcome, UpdateRequest, quantise_run, update_run, update_summary,
)
from recstudio.runs.evaluating import (
    TEST_KS, checkpoint_of, evaluate_run, evaluate_split, load_run_model, metrics_line, run_split, seen_targets_note,
    stored_metrics,
)
from recstudio.runs.explaining import (
    diversity_report, explain, explain_recommendation, explain_scenario, explain_scenario_job, faithfulness_report,
    query_job, recommend_diverse, summarise_user, user_events,
)
from recstudio.runs.export import FORMULA_STARTS, neutralise_cell, neutralise_formulas
from recstudio.runs.importing import (
    ImportIdentity, ImportRequest, dataset_named, file_or_dataset, import_identity, import_or_reuse, options_key,
    parse_import, save_import,
)
from recstudio.runs.inspect import (
    AS_EVALUATED, FULL_HISTORY, INSPECTION_MODES, PART_TEST, PART_TRAIN, PART_VALIDATION, RunInspector,
    UserInspection, inspect_user, intra_list_diversity, item_indices, open_inspector, recommend_scenario,
    scenario_for, scenario_of,
)
from recstudio.runs.record import RESUMABLE, TRAINING_STATE, CheckpointMeta, RunConfig, training_state_dir
from recstudio.runs.recommend import (
    QUERY_MODEL_WEIGHT, QUERY_SEED_ITEMS, recommend, recommend_all, recommend_query,
)
from recstudio.runs.scoring import Recommendation, best_items, check_k, score_history
from recstudio.runs.training import (
    CURVE_FLUSH_SECONDS, Cancelled, RunOutcome, TrainRequest, check_train_config, encoding_stages, fit_and_record,
    item_text_stages, request_dataset, resume_point, teacher_runs, text_inputs, train_run,
)

__all__ = [
    "AS_EVALUATED", "CURVE_FLUSH_SECONDS", "Cancelled", "CheckpointMeta", "FORMULA_STARTS", "FULL_HISTORY",
    "INSPECTION_MODES", "ImportIdentity", "ImportRequest", "PART_TEST", "PART_TRAIN", "PART_VALIDATION", "QUERY_MODEL_WEIGHT",
    "QUERY_SEED_ITEMS", "QuantisedRun", "RESUMABLE", "Recommendation", "RunConfig", "RunInspector", "RunOutcome",
    "TEST_KS", "TRAINING_STATE", "TrainRequest", "UpdateOutcome", "UpdateRequest", "UserInspection", "best_items",
    "check_k", "check_train_config", "checkpoint_of", "dataset_named", "diversity_report", "encoding_stages", "evaluate_run",
    "evaluate_split", "explain", "explain_recommendation", "explain_scenario", "explain_scenario_job",
    "faithfulness_report", "file_or_dataset", "fit_and_record", "import_cluster_run",
    "import_identity", "import_or_reuse", "inspect_user", "intra_list_diversity", "item_indices", "item_text_stages", "load_run_model",
    "metrics_line", "neutralise_cell", "seen_targets_note", "neutralise_formulas", "open_inspector", "options_key", "parse_import", "query_job",
    "quantise_run", "recommend", "recommend_all", "recommend_diverse", "recommend_query", "recommend_scenario",
    "request_dataset", "resume_point", "run_split", "save_import", "scenario_for", "scenario_of", "score_history",
    "stored_metrics", "summarise_user", "teacher_runs", "text_inputs", "train_run", "training_state_dir", "update_run", "update_summary",
    "user_events", "write_cluster_job",
]
