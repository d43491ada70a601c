"""fit(): the one training loop, a generator of progress events shared by CLI, GUI worker and torchrun."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Generator

import numpy as np

from recstudio.errors import RecStudioError
from recstudio.devices import resolve_device
from recstudio.training.events import FitResult, Message, Started, Step, Validated


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200  # an upper bound: early stopping usually ends the run first
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10  # validations without improvement before stopping
    metric: str = "NDCG@10"  # validation metric that picks the best epoch
    seed: int = 42
    max_steps: int | None = None
    grad_clip: float = 1.0
    eval_batch_size: int = 512
    mixed_precision: bool = True  # only takes effect on CUDA
    # Validation leaves out the items a user already has (as the test does); False ranks them too,
    # which is the protocol of toolkits that do not mask history (RecBole's sequential full sort)
    valid_exclude_seen: bool = True
    # History every training target of a long sequence is read with: overlapping windows, each event a
    # target once (see context_windows); 0 tiles each sequence, so a target early in a window sees few
    # events (cheaper per epoch; on ml-100k NDCG@10 0.098 instead of 0.111). Capped at the history length - 1.
    min_context: int = 25

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_everything(seed: int) -> np.random.Generator:
    import random

    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def training_windows(indptr: np.ndarray, items: np.ndarray, width: int, rng: np.random.Generator) -> np.ndarray:
    """One epoch of right-aligned windows [n, width] (item + 1, 0 = pad) covering each sequence.

    Every user's most recent window is always there; earlier parts of long sequences are cut into
    further windows at a random offset each epoch, so every training event is a target about once
    per epoch and the cut points move between epochs.
    """
    lengths = np.diff(indptr)
    users = np.flatnonzero(lengths >= 2)
    n = lengths[users]
    step = width - 1
    offset = rng.integers(0, step, size=len(users))
    extra = np.maximum(0, (n - offset - 2) // step)
    window_users = np.concatenate([users, np.repeat(users, extra)])
    j = np.arange(extra.sum()) - np.repeat(np.cumsum(extra) - extra, extra) + 1
    ends = np.concatenate([n, np.repeat(n - offset, extra) - j * step])
    starts = indptr[window_users]
    cols = np.arange(width)
    src = (starts + ends)[:, None] - width + cols[None, :]
    valid = src >= starts[:, None]
    out = np.zeros((len(window_users), width), dtype=np.int64)
    out[valid] = items[src[valid]] + 1
    return out


def context_windows(indptr: np.ndarray, items: np.ndarray, width: int, context: int) -> np.ndarray:
    """One epoch of overlapping windows [n, width] in which every training target (after a user's first
    `context` events) is read with at least ``context`` earlier events, as at test time when a user has a
    long history; each event is a target exactly once per epoch.

    A window's items that are there only as history for later targets are stored negated (``-(item + 1)``):
    read, never predicted (see ``SASRec.make_batch``). Windows end every ``width - 1 - context`` events
    from a user's newest; the earliest one reaches back to the user's first event and predicts all of its.
    """
    stride = width - 1 - context
    if stride < 1:
        raise ValueError(f"context {context} leaves no targets in a window of {width}")
    lengths = np.diff(indptr)
    users = np.flatnonzero(lengths >= 2)
    n = lengths[users]
    extra = np.maximum(0, -(-(n - stride - 1) // stride))  # windows before the newest, while targets remain
    window_users = np.concatenate([users, np.repeat(users, extra)])
    j = np.arange(extra.sum()) - np.repeat(np.cumsum(extra) - extra, extra) + 1
    ends = np.concatenate([n, np.repeat(n, extra) - j * stride])  # exclusive, relative to the user's start
    starts = indptr[window_users]
    cols = np.arange(width)
    rel = ends[:, None] - width + cols[None, :]
    valid = rel >= 0
    out = np.zeros((len(window_users), width), dtype=np.int64)
    out[valid] = items[(starts[:, None] + rel)[valid]] + 1
    earliest = ends - stride <= 1  # this window predicts from the user's second event on
    history_only = valid & (rel < (ends - stride)[:, None]) & ~earliest[:, None]
    out[history_only] = -out[history_only]
    return out


def user_windows(indptr: np.ndarray, items: np.ndarray, width: int, rng: np.random.Generator) -> np.ndarray:
    """One window [n, width] (item + 1, 0 = pad) per user with two or more events, ending at a random
    event (uniform over the user's events after the first): each epoch shows every user once, and over
    epochs every training event becomes a target, not only each user's latest."""
    lengths = np.diff(indptr)
    users = np.flatnonzero(lengths >= 2)
    starts = indptr[users]
    ends = starts + rng.integers(2, lengths[users] + 1)  # exclusive: at least two events in the window
    src = ends[:, None] - width + np.arange(width)[None, :]
    valid = src >= starts[:, None]
    out = np.zeros((len(users), width), dtype=np.int64)
    out[valid] = items[src[valid]] + 1
    return out


def epoch_windows(model, indptr: np.ndarray, items: np.ndarray, width: int, rng: np.random.Generator,
                  context: int = 0) -> np.ndarray:
    """One epoch's windows as ``model.epoch_windows`` asks: every event covered ("all"; with ``context``
    > 0, overlapping windows that give each target that much history), every event covered by tiles that
    do not overlap whatever ``context`` says ("tiles": for a model whose every window is costly), or one
    window per user ("user")."""
    if model.epoch_windows == "user":
        return user_windows(indptr, items, width, rng)
    if model.epoch_windows == "tiles":
        return training_windows(indptr, items, width, rng)
    if context > 0:
        return context_windows(indptr, items, width, min(context, width - 2))
    return training_windows(indptr, items, width, rng)


def basket_windows(model, split, width: int, rng: np.random.Generator, context: int = 0):
    """One epoch's windows, as :func:`epoch_windows` lays them out (the same draws), with each cell's
    basket id beside its item (``split.train_basket_starts``; 0 = padding), so that a model predicts each
    basket from the baskets before it (see ``recstudio.data.batching.basket_readout``). Windows in which
    no event can be predicted so (a user's one basket, or a basket wider than the window) are left out."""
    from recstudio.data.batching import basket_readout

    events = epoch_windows(model, split.train_indptr, np.arange(len(split.train_items)), width, rng, context)
    real = events != 0
    source = np.abs(events[real]) - 1
    items = np.zeros_like(events)
    items[real] = (split.train_items[source] + 1) * np.sign(events[real])  # history-only cells stay negated
    baskets = np.zeros_like(events)
    baskets[real] = np.cumsum(split.train_basket_starts)[source]  # ids from 1: 0 stays padding
    predicted = (items[:, 1:] > 0) & (basket_readout(baskets) >= 0)
    # a model whose window has one target (its last item, "user" windows) needs that one predictable
    predicted = predicted[:, -1] if model.epoch_windows == "user" else predicted.any(axis=1)
    return items[predicted], baskets[predicted]


def check_basket_training(model, split) -> None:
    """A split that holds baskets (``train_basket_starts``) is trained on only by a model that can
    predict a basket from the baskets before it; another would learn the file order of a basket's lines."""
    if split.train_basket_starts is not None and model.trainable and not model.basket_training:
        raise RecStudioError(
            f"Model {model.name!r} cannot train on the {split.kind} split yet: it would learn to predict one "
            "line of a basket from another in the order the file printed them. Train sasrec or sasrec-lm on "
            "it, or use another split."
        )


def fit(
    model,
    split,
    config: TrainConfig = TrainConfig(),
    *,
    device: str = "auto",
    checkpoint_dir: str | Path | None = None,
    checkpoint_meta: dict[str, Any] | None = None,
    cancelled: Callable[[], bool] | None = None,
    distributed=None,
    state_dir: str | Path | None = None,
    resume: bool = False,
) -> Generator[Any, None, FitResult]:
    """Train ``model`` on ``split`` and yield events; returns a :class:`FitResult`.

    The best model (by validation ``config.metric``) is restored into ``model`` at the end and
    written to ``checkpoint_dir`` at each epoch end where it improved. ``cancelled()`` is polled
    between steps. ``distributed`` (see ``recstudio.training.ddp``) shards the windows by rank.
    ``state_dir`` receives the training state (current weights, optimizer, counters, random
    states) at every epoch end; with ``resume`` training continues from the state found there,
    after the last epoch that finished, as if it had never stopped.
    """
    import torch

    from recstudio.evaluation import EvaluationCancelled, evaluate
    from recstudio.training.checkpoint import load_training_state, save_checkpoint, save_training_state

    cancelled = cancelled or (lambda: False)
    rng = seed_everything(config.seed)
    dev = resolve_device(device)
    model.to(dev)
    is_main = distributed is None or distributed.rank == 0
    popularity = split.train_popularity()
    meta = dict(checkpoint_meta or {})
    start = time.perf_counter()

    def validate(epoch: int, step: int):
        if distributed is not None and model.trainable:
            return _validate_sharded(model, split, config, distributed, str(dev), cancelled)
        result = evaluate(
            model, split.valid, popularity=popularity, n_users=split.n_users, ks=(10,),
            exclude_seen=config.valid_exclude_seen, batch_size=config.eval_batch_size, device=str(dev),
            cancelled=cancelled,
        )
        return result.metrics

    def write_checkpoint(epoch: int, step: int, best_score: float, valid_metrics: dict) -> str | None:
        if checkpoint_dir is None or not is_main:
            return None
        info = {"epoch": epoch, "step": step, "best_score": best_score, "metric": config.metric,
                "valid_metrics": valid_metrics, "train_config": config.to_dict(), **meta}
        return str(save_checkpoint(checkpoint_dir, _unwrap(model), info))

    def as_it_is(started):
        """A model with nothing to train here, validated once and kept: one that only counts (``started``
        says epoch 1), or one handed over from another run, tested zero-shot (epochs 0)."""
        model.fit_statistics(split.train_indptr, split.train_items)
        yield started
        epoch = started.epochs
        try:
            metrics = validate(epoch, epoch)
        except EvaluationCancelled:
            return FitResult("cancelled", 0, 0, 0, time.perf_counter() - start, 0.0, {}, 0.0, None)
        score = float(metrics.get(config.metric, 0.0))
        elapsed = time.perf_counter() - start
        yield Validated(epoch, epoch, metrics, epoch, score, True, elapsed)
        ckpt = write_checkpoint(epoch, epoch, score, metrics)
        return FitResult("completed", epoch, epoch, epoch, elapsed, elapsed, metrics, 0.0, ckpt)

    trained_users = int((np.diff(split.train_indptr) > 0).sum())
    if not model.trainable:
        return (yield from as_it_is(Started(model.name, str(dev), 0, 1, 1, trained_users)))
    if config.epochs == 0:  # zero-shot: the model as it was handed over (started from another run)
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return (yield from as_it_is(Started(model.name, _describe(dev), n_params, 0, 0, trained_users,
                                            torch.get_num_threads())))

    check_basket_training(model, split)
    model.fit_statistics(split.train_indptr, split.train_items)
    width = model.history_length + 1
    by_basket = split.train_basket_starts is not None

    def windows_of_epoch():
        if by_basket:
            return basket_windows(model, split, width, rng, config.min_context)
        return epoch_windows(model, split.train_indptr, split.train_items, width, rng, config.min_context), None

    windows, window_baskets = windows_of_epoch()
    if len(windows) == 0:
        raise RecStudioError("No user has two or more training events, so there is nothing to learn a sequence from."
                             if not by_basket else
                             "No user has two or more training baskets, so there is nothing to learn a sequence from.")
    # Under DDP every rank has the same windows and order (same seed); each step is one global batch
    # of batch_size windows, shared out by rank, so every rank takes the same number of steps.
    steps_per_epoch = math.ceil(len(windows) / config.batch_size)
    planned = config.epochs * steps_per_epoch
    if config.max_steps:
        planned = min(planned, config.max_steps)

    train_model = distributed.wrap(model) if distributed is not None else model
    # The shared rng must stay in step on every rank (it picks windows and their order); what a model
    # draws for its own share of a batch comes from a rank's own stream.
    batch_rng = rng if distributed is None else np.random.default_rng([config.seed, distributed.rank])
    optimizer = torch.optim.AdamW(model.parameter_groups(config.lr), lr=config.lr, weight_decay=config.weight_decay)
    amp_dtype = None
    if dev.type == "cuda" and config.mixed_precision:
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    yield Started(model.name, _describe(dev), n_params, config.epochs, steps_per_epoch, len(windows),
                  torch.get_num_threads())

    best_score, best_epoch, best_state, best_metrics = -math.inf, 0, None, {}
    seconds_to_best, checkpoint = 0.0, None
    step, samples, epochs_done, stale = 0, 0, 0, 0
    status = "completed"
    first_epoch = 1
    if resume:
        if distributed is not None or state_dir is None:
            raise RecStudioError("A run can be resumed only in one process, from its saved training state.")
        saved = load_training_state(state_dir, model, optimizer, scaler)
        model.to(dev)
        rng.bit_generator.state = saved["numpy_rng"]
        epochs_done, step, samples, stale = saved["epoch"], saved["step"], saved["samples"], saved["stale"]
        best_score, best_epoch = saved["best_score"], saved["best_epoch"]
        best_metrics, seconds_to_best = saved["best_metrics"], saved["seconds_to_best"]
        start -= saved["seconds"]  # the run's clock goes on from where it stopped
        if checkpoint_dir is not None and best_epoch:
            from safetensors.torch import load_file

            from recstudio.training.checkpoint import WEIGHTS, read_meta

            read_meta(checkpoint_dir)  # puts back a checkpoint a crash left half-swapped
            best_state = load_file(str(Path(checkpoint_dir) / WEIGHTS), device=str(dev))
            checkpoint = str(checkpoint_dir)
        first_epoch = epochs_done + 1
        if stale >= config.patience or (config.max_steps and step >= config.max_steps):
            first_epoch = config.epochs + 1  # it had stopped for good at that epoch's end
        yield Message(f"Resuming after epoch {epochs_done} (step {step:,}); best so far: epoch {best_epoch}.")

    def write_state(epoch: int) -> None:
        if state_dir is None or not is_main:
            return
        save_training_state(state_dir, _unwrap(model), optimizer, scaler, {
            "epoch": epoch, "step": step, "samples": samples, "stale": stale, "best_score": best_score,
            "best_epoch": best_epoch, "best_metrics": best_metrics, "seconds_to_best": seconds_to_best,
            "seconds": time.perf_counter() - start, "numpy_rng": rng.bit_generator.state,
        })

    # a model with work to do once before training (a distillation whose slow teacher is read into its
    # memo); its time is left out of the pace that the steps' rate and time left are worked out from.
    # Under DDP each rank's windows are known only batch by batch, so they are read as training meets them
    prepare, prepared = getattr(model, "prepare", None), 0.0
    if prepare is not None and distributed is None and first_epoch <= config.epochs:
        began = time.perf_counter()
        for stage in prepare(windows, config.batch_size, dev):
            if cancelled():
                status, first_epoch = "cancelled", config.epochs + 1
                break
            yield stage
        prepared = time.perf_counter() - began
    for epoch in range(first_epoch, config.epochs + 1):
        if epoch > 1:
            windows, window_baskets = windows_of_epoch()
        order = rng.permutation(len(windows))
        model.train()
        for lo in range(0, len(order), config.batch_size):
            if cancelled():
                status = "cancelled"
                break
            picked = order[lo : lo + config.batch_size]
            rows = windows[picked]
            row_baskets = window_baskets[picked] if by_basket else None
            global_rows = len(rows)
            if distributed is not None:
                if global_rows < distributed.world_size:
                    continue  # a last sliver smaller than the ranks: every rank skips it alike
                rows = distributed.share(rows)
                row_baskets = distributed.share(row_baskets) if by_basket else None
            batch = model.make_batch(rows, batch_rng) if not by_basket else \
                model.make_batch(rows, batch_rng, baskets=row_baskets)
            out_of_memory = False
            try:
                batch = {k: v.to(dev, non_blocking=True) for k, v in batch.items()}
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    loss = train_model(batch)
                # under DDP the reported loss is the ranks' mean, so every rank stops alike on a NaN
                loss_value = distributed.mean(loss.detach()) if distributed is not None else float(loss.item())
                if math.isfinite(loss_value):
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    if config.grad_clip:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
            except torch.cuda.OutOfMemoryError:
                out_of_memory = True  # raised below, outside this handler, so its frames can be freed
            if out_of_memory:
                batch = loss = None
                optimizer.zero_grad(set_to_none=True)
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                raise RecStudioError(
                    f"Training stopped: out of memory on {_describe(dev)} at step {step + 1} (epoch {epoch}) with "
                    f"batches of {config.batch_size}. Lower the batch size or the history length, or train on the "
                    "CPU, then train again."
                )
            if not math.isfinite(loss_value):
                raise RecStudioError(
                    f"Training stopped: the loss became {loss_value} at step {step + 1} (epoch {epoch}). "
                    "Lower the learning rate or check the data, then train again."
                )
            step += 1
            samples += global_rows
            elapsed = time.perf_counter() - start
            training = elapsed - prepared
            rate = samples / training if training > 0 else 0.0
            eta = (planned - step) * training / step if step else None
            yield Step(step, epoch, loss_value, rate, elapsed, eta, min(1.0, step / planned))
            if config.max_steps and step >= config.max_steps:
                break
        if status == "cancelled":
            break
        epochs_done = epoch
        try:
            metrics = validate(epoch, step)
        except EvaluationCancelled:  # cancellation during validation ends the run like a cancelled step
            status = "cancelled"
            break
        score = float(metrics.get(config.metric, 0.0))
        improved = score > best_score
        if improved:
            best_score, best_epoch, best_metrics = score, epoch, metrics
            best_state = copy.deepcopy(model.state_dict())
            seconds_to_best = time.perf_counter() - start
            checkpoint = write_checkpoint(epoch, step, score, metrics) or checkpoint
            stale = 0
        else:
            stale += 1
        # The state that a resume goes on from is written once the consumer has had the epoch's events
        # (fit_and_record commits the curve on Validated): a crash between the two resumes from the epoch
        # before, whose later curve points are dropped and trained again, never leaving a gap in the curve.
        # ``finally``: a consumer that closes the generator here still gets the epoch saved.
        try:
            yield Validated(epoch, step, metrics, best_epoch, best_score, improved, time.perf_counter() - start)
        finally:
            write_state(epoch)
        if stale >= config.patience:
            yield Message(f"Early stopping: {config.metric} has not improved for {config.patience} epochs.")
            break
        if config.max_steps and step >= config.max_steps:
            yield Message(f"Stopped at the step limit ({config.max_steps} steps).")
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    elapsed = time.perf_counter() - start
    training = elapsed - prepared  # the rate of training, a slow teacher's first reading left out
    return FitResult(status, epochs_done, best_epoch, step, elapsed, seconds_to_best, best_metrics,
                     samples / training if training > 0 else 0.0, checkpoint)


def _validate_sharded(model, split, config: TrainConfig, distributed, device: str, cancelled) -> dict[str, float]:
    """Validation metrics computed by all ranks together: each ranks a shard of the cases, the ranks
    are gathered, and every rank gets the single-process figures (so all stop early alike)."""
    from recstudio.evaluation.evaluate import case_metrics, rank_cases
    from recstudio.evaluation.metrics import mean
    from recstudio.training.ddp import shard_cases

    shard = shard_cases(split.valid, distributed.rank, distributed.world_size)
    ranks, _ = rank_cases(model, shard, 10, exclude_seen=config.valid_exclude_seen,
                          batch_size=config.eval_batch_size, device=device, cancelled=cancelled)
    # per-case values, gathered: a case's targets (a basket) stay together on the rank that ranked them
    per_case = case_metrics(ranks, (10,), shard.target_indptr)
    return {name: mean(distributed.gather(values)) for name, values in per_case.items()}


def _unwrap(model):
    return getattr(model, "module", model)


def _describe(dev) -> str:
    import torch

    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        return f"cuda ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    if dev.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(dev)
