"""A dataset's arrays as Parquet files beside the workspace: written once at import, read memory-mapped."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from recstudio.data.dataset import Dataset


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    options = {}
    if path.name == "interactions.parquet":
        # The coded events are written uncompressed and plain (dictionaries only for categorical
        # columns): read back memory-mapped they cost little more than a copy. 10M events: written
        # in 0.3 s, read in 0.2 s (snappy: 0.6 s and 0.6 s), 155 MB on disk instead of 80 MB.
        import pandas as pd

        options = {"compression": None, "use_dictionary": [
            str(c) for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)] or False}
    frame.to_parquet(path, **options)


def write_dataset_files(dataset: Dataset, folder: Path) -> None:
    import numpy as np
    import pandas as pd

    write_parquet(dataset.interactions, folder / "interactions.parquet")
    write_parquet(dataset.items, folder / "items.parquet")
    for name, ids in (("user_ids", dataset.user_ids), ("item_ids", dataset.item_ids)):
        write_parquet(pd.DataFrame({"id": np.asarray(ids, dtype=object)}), folder / f"{name}.parquet")


def read_frame(path: Path) -> pd.DataFrame:
    import pandas as pd
    import pyarrow.parquet as pq

    frame = pd.read_parquet(path, memory_map=True)
    # pandas 3 reads all text back as `str`; give `object` back to the columns that had it.
    columns = (pq.read_schema(path).pandas_metadata or {}).get("columns", [])
    for col in columns:
        name = col.get("name")
        if col.get("numpy_type") == "object" and name in frame.columns and frame[name].dtype != object:
            text = frame[name]
            frame[name] = text.astype(object).where(text.notna(), None)
    return frame


def read_ids(path: Path) -> np.ndarray:
    import pandas as pd

    return pd.read_parquet(path, memory_map=True)["id"].to_numpy(dtype=object)
