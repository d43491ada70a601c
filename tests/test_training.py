"""fit(): events, early stopping, cancellation, NaN stop and checkpoints that load without the data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from recstudio.data import Dataset, leave_one_out
from recstudio.errors import RecStudioError
from recstudio.models import create_model, model_config
from recstudio.training import (
    FitResult, Started, Step, TrainConfig, Validated, drive, fit, load_checkpoint, training_windows,
)


def _dataset(n_users=40, n_items=12, length=10, seed=0) -> Dataset:
    # each user cycles through items from a random start: a learnable "next item" pattern
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        start = rng.integers(n_items)
        users += [u] * length
        items += [(start + t) % n_items for t in range(length)]
    inter = pd.DataFrame({"user": np.array(users, np.int32), "item": np.array(items, np.int32),
                          "timestamp": np.arange(len(users), dtype=np.int64)})
    ids = np.array([str(i) for i in range(n_items)], dtype=object)
    return Dataset("cycle", inter, np.array([str(u) for u in range(n_users)], dtype=object), ids,
                   pd.DataFrame({"item_id": ids}))


def _run(gen):
    events = []
    return events, drive(gen, events.append)


def _small_sasrec(n_items):
    return create_model("sasrec", n_items, model_config("sasrec", {"hidden": 16, "max_len": 6, "dropout": 0.0}))


def test_windows_cover_every_training_event_once():
    indptr = np.array([0, 1, 4, 20])
    items = np.arange(20)
    windows = training_windows(indptr, items, width=5, rng=np.random.default_rng(3))
    # targets are columns 1..; every event but each user's first is a target at least once
    targets = set((windows[:, 1:][(windows[:, 1:] > 0) & (windows[:, :-1] > 0)] - 1).tolist())
    assert targets == set(range(20)) - {0, 1, 4}
    assert (windows[:, -1] > 0).all()  # right-aligned


def test_context_windows_give_every_target_its_history_and_predict_each_event_once():
    from recstudio.training.fit import context_windows

    indptr = np.array([0, 1, 4, 40])  # user 0: one event (no target); user 2: a long sequence
    items = np.arange(40)
    windows = context_windows(indptr, items, width=11, context=6)
    model = _small_sasrec(40)
    batch = model.make_batch(windows, np.random.default_rng(0))
    histories, targets = batch["histories"].numpy(), batch["targets"].numpy()
    counted = (targets > 0) & (histories > 0)
    predicted = (targets[counted] - 1).tolist()
    assert sorted(predicted) == sorted(set(range(40)) - {0, 1, 4})  # each event after a user's first, once
    for row, col in zip(*np.nonzero(counted)):
        target = targets[row, col] - 1
        first = 1 if target < 4 else 4
        seen = histories[row, : col + 1]
        assert len(seen[seen > 0]) >= min(6, target - first)  # at least 6 earlier events when there are 6
        assert np.array_equal(seen[seen > 0] - 1, np.arange(target - len(seen[seen > 0]), target))


def test_fit_learns_and_restores_best_checkpoint(tmp_path):
    ds = _dataset()
    split = leave_one_out(ds)
    model = _small_sasrec(ds.n_items)
    config = TrainConfig(epochs=15, batch_size=16, lr=5e-3, patience=20)
    events, result = _run(fit(model, split, config, device="cpu", checkpoint_dir=tmp_path / "ckpt",
                              checkpoint_meta={"item_ids": list(ds.item_ids)}))
    assert isinstance(events[0], Started)
    steps = [e for e in events if isinstance(e, Step)]
    valids = [e for e in events if isinstance(e, Validated)]
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))
    assert len(valids) == 15 and steps[-1].fraction == pytest.approx(1.0)
    assert isinstance(result, FitResult) and result.status == "completed"
    assert result.valid_metrics["HR@10"] > 0.9  # the cycle is easy once learnt
    assert steps[-1].loss < steps[0].loss
    # the checkpoint is the best epoch and loads without the dataset
    loaded, meta = load_checkpoint(tmp_path / "ckpt")
    assert meta["epoch"] == result.best_epoch and meta["item_ids"][0] == "0"
    hist = torch.tensor([[0, 0, 0, 1, 2, 3]])
    assert torch.allclose(loaded.score(hist), model.eval().score(hist), atol=1e-5)
    assert json.loads((tmp_path / "ckpt" / "checkpoint.json").read_text())["model"] == "sasrec"


def test_early_stopping_stops_after_patience():
    ds = _dataset()
    model = _small_sasrec(ds.n_items)
    events, result = _run(fit(model, leave_one_out(ds), TrainConfig(epochs=50, lr=0.0, patience=3), device="cpu"))
    # lr 0 never improves after epoch 1, so epochs 2-4 are stale and the run stops after epoch 4
    assert result.epochs == 4 and result.best_epoch == 1


def test_cancel_stops_at_next_step_and_keeps_best(tmp_path):
    ds = _dataset()
    model = _small_sasrec(ds.n_items)
    flag = {"stop": False}
    gen = fit(model, leave_one_out(ds), TrainConfig(epochs=30, batch_size=8), device="cpu",
              checkpoint_dir=tmp_path / "ckpt", cancelled=lambda: flag["stop"])
    seen = {"valid": False, "steps_after": 0}

    def watch(event):
        if isinstance(event, Validated):
            seen["valid"], flag["stop"] = True, True
        elif isinstance(event, Step) and seen["valid"]:
            seen["steps_after"] += 1

    result = drive(gen, watch)
    steps_after = seen["steps_after"]
    assert result.status == "cancelled" and steps_after == 0
    assert result.best_epoch == 1 and (tmp_path / "ckpt" / "model.safetensors").exists()


def test_nan_loss_stops_with_a_clear_error():
    ds = _dataset()
    model = _small_sasrec(ds.n_items)
    with torch.no_grad():
        model.item_embedding.weight[3] = float("nan")
    with pytest.raises(RecStudioError, match="loss became nan"):
        _run(fit(model, leave_one_out(ds), TrainConfig(epochs=2), device="cpu"))


def test_counting_models_fit_in_one_pass():
    ds = _dataset()
    events, result = _run(fit(create_model("pop", ds.n_items), leave_one_out(ds), device="cpu"))
    assert result.epochs == 1 and any(isinstance(e, Validated) for e in events)


def test_unavailable_device_is_a_user_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    ds = _dataset()
    with pytest.raises(RecStudioError, match="no CUDA GPU"):
        _run(fit(_small_sasrec(ds.n_items), leave_one_out(ds), device="cuda"))


def test_drive_hands_each_event_over_in_order_and_returns_the_result():
    def job():
        yield "started"
        yield 1
        yield 2
        return {"done": True}

    seen = []
    assert drive(job(), seen.append) == {"done": True}
    assert seen == ["started", 1, 2]
    assert drive(job()) == {"done": True}  # no watcher: run to the end all the same


def test_drive_lets_an_error_inside_the_job_through():
    seen = []

    def job():
        yield "started"
        raise RecStudioError("the CSV has no user column")

    with pytest.raises(RecStudioError, match="no user column"):
        drive(job(), seen.append)
    assert seen == ["started"]
