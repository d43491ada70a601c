"""Where the bundled sample data set (a cut of UCI Online Retail) lives."""

from __future__ import annotations

from pathlib import Path

from recstudio.errors import RecStudioError
from recstudio.resources import resources_dir

#: resources/sample in the source tree (or an editable install), or inside the packaged app.
SAMPLE_DIR = resources_dir() / "sample"


def sample_paths() -> tuple[Path, Path]:
    """(purchases, products) of the bundled sample, for ``recstudio train --sample`` and the GUI."""
    purchases, products = SAMPLE_DIR / "purchases.csv.gz", SAMPLE_DIR / "products.csv"
    missing = [p.name for p in (purchases, products) if not p.is_file()]
    if missing:
        raise RecStudioError(
            f"The bundled sample is missing {', '.join(missing)} in {SAMPLE_DIR}; "
            "recreate it with: python resources/sample/make_sample.py"
        )
    return purchases, products
