"""The import dialog, one module per part: :mod:`.view` lays it out and runs the check and save jobs;
:mod:`.panels` holds the columns, catalogue and cleaning panels; :mod:`.presenter` is what the dialog says
and asks for, without widgets (the catalogue key guess itself is the importer's own,
:func:`recstudio.data.catalogue.guess_catalogue_key`)."""

from recstudio.gui.views.import_dialog.panels import CataloguePanel, CleaningPanel, ColumnsPanel
from recstudio.gui.views.import_dialog.presenter import (
    CATALOGUE_FILTER, DELIMITERS, ERROR_STYLE, MUTED_STYLE, NONE, ROLE_LABELS, ROLE_TIPS, chosen_roles, default_name,
    describe_source, guess_catalogue_key, import_request, parse_event_types, report_html, roles_problem,
    timestamp_format_text,
)
from recstudio.gui.views.import_dialog.view import ImportDialog

__all__ = [
    "CATALOGUE_FILTER", "CataloguePanel", "CleaningPanel", "ColumnsPanel", "DELIMITERS", "ERROR_STYLE",
    "ImportDialog", "MUTED_STYLE", "NONE", "ROLE_LABELS", "ROLE_TIPS", "chosen_roles", "default_name",
    "describe_source", "guess_catalogue_key", "import_request", "parse_event_types", "report_html",
    "roles_problem", "timestamp_format_text",
]
