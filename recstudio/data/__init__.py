"""Getting behaviour logs into RecStudio: import, cleaning, the coded Dataset, splits and batching."""

from recstudio.data.batching import pad_histories, pad_sequences
from recstudio.data.catalogue import item_categories
from recstudio.data.dataset import ROLES, Dataset, ImportReport
from recstudio.data.encodings import label as encoding_name
from recstudio.data.files import readable_file
from recstudio.data.importer import ImportOptions, Preview, import_interactions, preview
from recstudio.data.reading import file_fingerprint, read_table
from recstudio.data.roles import ABSENT, ColumnRoles, guess_roles
from recstudio.data.sample import sample_paths
from recstudio.data.splits import (
    SPLIT_OPTIONS, SPLITS, EvalCases, Split, cold_items, leave_one_out, make_split, split_names, temporal,
)
from recstudio.data.timestamps import NAT, parse_timestamps

__all__ = [
    "ABSENT", "ROLES", "SPLITS", "SPLIT_OPTIONS", "ColumnRoles", "Dataset", "EvalCases", "ImportOptions", "ImportReport", "NAT", "Preview", "Split",
    "cold_items", "encoding_name", "file_fingerprint", "guess_roles", "import_interactions", "item_categories", "leave_one_out", "make_split",
    "pad_histories", "pad_sequences", "parse_timestamps", "preview", "read_table", "readable_file", "sample_paths",
    "split_names",
    "temporal",
]
