"""Shared fixtures: real dataset paths and a throwaway workspace per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
ML100K = SHARED / "ml-100k"


@pytest.fixture
def ml100k() -> tuple[Path, Path]:
    interactions, items = ML100K / "interactions.csv", ML100K / "items.csv"
    if not interactions.exists():
        pytest.skip("ml-100k is not in ../shared/datasets")
    return interactions, items


@pytest.fixture
def workspace_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "workspace.sqlite"
    monkeypatch.setenv("RECSTUDIO_WORKSPACE", str(path))
    return path
