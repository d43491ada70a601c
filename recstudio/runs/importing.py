"""Import a behaviour log into the workspace, or reuse the dataset a previous import of the same bytes made."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from recstudio.errors import RecStudioError


@dataclass(frozen=True)
class ImportRequest:
    """A file to import (or reuse, when the same file was imported with the same options)."""

    path: str
    items_path: str | None = None
    roles: Any = None  # recstudio.data.ColumnRoles
    options: Any = None  # recstudio.data.ImportOptions
    name: str | None = None


#: Raised when the same bytes and options import to a different dataset, so that an import made before
#: is not reused in its place. 2: a basket column (role ``basket``) is guessed, kept and counted.
IMPORT_LAYOUT = 2


def options_key(request: ImportRequest, items_fingerprint: str | None) -> str:
    """A stable digest of everything besides the file's bytes that shapes an import."""
    payload = {
        "layout": IMPORT_LAYOUT,
        "roles": asdict(request.roles) if request.roles is not None else None,
        "options": asdict(request.options) if request.options is not None else None,
        "items": items_fingerprint,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class ImportIdentity:
    """What makes two imports the same: the file's bytes and everything else that shapes the result."""

    fingerprint: str
    options_key: str


def import_identity(request: ImportRequest) -> ImportIdentity:
    """The identity of ``request``: the files' fingerprints and :func:`options_key` (reads no rows)."""
    from recstudio.data import file_fingerprint

    items_fp = file_fingerprint(request.items_path) if request.items_path else None
    return ImportIdentity(file_fingerprint(request.path), options_key(request, items_fp))


def parse_import(request: ImportRequest, progress: Callable[[float, str], None] | None = None):
    """The :class:`~recstudio.data.Dataset` that ``request`` reads to, not yet saved (the window shows
    its report before the analyst keeps it)."""
    from recstudio.data import ImportOptions, import_interactions

    return import_interactions(
        request.path, items_path=request.items_path, roles=request.roles,
        options=request.options or ImportOptions(), name=request.name, progress=progress,
    )


def save_import(workspace, request: ImportRequest, identity: ImportIdentity, dataset):
    """Store a parsed dataset under its identity (one transaction); returns its record."""
    return workspace.save_dataset(
        dataset, fingerprint=identity.fingerprint, options_key=identity.options_key,
        source=str(Path(request.path).resolve()),
        items_source=str(Path(request.items_path).resolve()) if request.items_path else None,
    )


def import_or_reuse(workspace, request: ImportRequest, progress: Callable[[float, str], None] | None = None):
    """``(record, reused)``: a previous import of the same bytes and options, or a new one."""
    identity = import_identity(request)
    found = workspace.find_dataset(identity.fingerprint, identity.options_key)
    if found is not None:
        if progress:
            progress(1.0, f"Reusing dataset {found.name!r} imported from the same file")
        return found, True
    return save_import(workspace, request, identity, parse_import(request, progress)), False


def file_or_dataset(text: str) -> dict[str, str]:
    """What an analyst typed where a file or an imported dataset may go (``recstudio train DATA``): the
    ``TrainRequest`` field it fills, ``data`` when such a file exists, else ``dataset``."""
    return {"data": text} if os.path.exists(text) else {"dataset": text}


def dataset_named(workspace, ref: int | str):
    """The imported dataset with this id or name, or a user error that says where the names are."""
    try:
        return workspace.dataset_record(ref)
    except RecStudioError:
        raise RecStudioError(
            f"{ref!r} is neither a file nor an imported dataset; give a CSV path or one of the names "
            "that `recstudio datasets` lists."
        ) from None
