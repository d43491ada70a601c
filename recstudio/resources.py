"""Where RecStudio's bundled files (sample data, icons, attribution) are: the source tree's resources/
folder, or the copy inside a PyInstaller bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The resources folder: $RECSTUDIO_RESOURCES when set, the bundle's own copy in a frozen app
    (PyInstaller unpacks data files under ``sys._MEIPASS``), else ``resources/`` beside the package
    (a source checkout or an editable install)."""
    explicit = os.environ.get("RECSTUDIO_RESOURCES")
    if explicit:
        return Path(explicit)
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def icon_files() -> list[Path]:
    """The application icon: PNG renderings, largest first, then the SVG they were drawn from."""
    folder = resources_dir() / "icons"
    pngs = sorted(folder.glob("png/recstudio-*.png"), key=lambda p: -int(p.stem.rsplit("-", 1)[1]))
    svg = folder / "recstudio.svg"
    return pngs + ([svg] if svg.is_file() else [])
