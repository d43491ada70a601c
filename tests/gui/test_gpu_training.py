"""Training from the window on a CUDA GPU (mixed precision inside the worker thread).

Skipped without a GPU; `bash benchmarks/gpu_check.sh` runs it on a CUDA machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from recstudio.gui.views.training import LIVE

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
ML100K = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ml-100k"


def test_training_on_cuda_from_the_window(qtbot, window):
    from recstudio.runs import ImportRequest, import_or_reuse

    record, _ = import_or_reuse(window.context.workspace,
                                ImportRequest(str(ML100K / "interactions.csv"), str(ML100K / "items.csv")))
    window.context.set_dataset(record)
    window.show_page("train")
    view = window.pages["train"]
    qtbot.waitUntil(lambda: view.device_combo.findData("cuda:0") >= 0, timeout=60_000)
    assert "GiB" in view.device_combo.itemText(view.device_combo.findData("cuda:0"))
    view.select_model("sasrec")
    view.epochs_spin.setValue(2)
    view.device_combo.setCurrentIndex(view.device_combo.findData("cuda:0"))
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.is_training, timeout=240_000)
    run = window.context.workspace.list_runs()[-1]
    assert run.status == "completed", run.error
    assert view.loss_curves.point_count(LIVE) > 0
    assert "Training sasrec on cuda" in view.log.toPlainText()
    assert run.metrics["test"]["NDCG@10"] > 0.02
