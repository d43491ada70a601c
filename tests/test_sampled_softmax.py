"""Sampled softmax with log-Q correction for SASRec-family models: exact with every item as a negative,
consistent (and biased without the correction) with a large popularity draw, and it trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recstudio.errors import RecStudioError
from recstudio.models import create_model, model_config

N_ITEMS = 40


def _model(name: str = "sasrec", **overrides):
    torch.manual_seed(0)
    # random item vectors: a start from co-occurrence needs users' sequences, and the loss is what is tested
    config = model_config(name, {"hidden": 16, "layers": 1, "heads": 1, "max_len": 10, "dropout": 0.0,
                                 "init": "random", **overrides})
    if name == "sasrec-lm":
        text = np.random.default_rng(0).normal(size=(N_ITEMS, 24)).astype(np.float32)
        model = create_model(name, N_ITEMS, config, item_text=text)
        model.config.id_dropout = 0.0  # the same table in both runs
    else:
        model = create_model(name, N_ITEMS, config)
    # a skewed popularity to draw from; sasrec-lm leaves out the items never trained on (the last five)
    trained = np.repeat(np.arange(N_ITEMS - 5), (np.arange(N_ITEMS - 5) % 7 + 1) ** 2)
    model.fit_statistics(None, trained)
    return model


def _sequences(rows: int = 24, seed: int = 1) -> np.ndarray:
    # item index + 1, among the items trained on
    sequences = np.random.default_rng(seed).integers(1, N_ITEMS - 4, size=(rows, 11))
    sequences[:4, :5] = 0  # some short histories
    return sequences


def _gradient(model, batch) -> tuple[float, torch.Tensor]:
    model.zero_grad()
    loss = model.loss(batch)
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("name", ["sasrec", "sasrec-lm"])
def test_with_every_item_as_a_negative_it_is_the_full_softmax(name):
    sequences = _sequences()
    full = _model(name)
    sampled = _model(name, loss="sampled", negatives=N_ITEMS)
    batch = sampled.make_batch(sequences, np.random.default_rng(0))
    assert batch["negatives"].tolist() == list(range(N_ITEMS))  # each item once, the target left out per row
    full_loss, full_grad = _gradient(full, full.make_batch(sequences, np.random.default_rng(0)))
    sampled_loss, sampled_grad = _gradient(sampled, batch)
    assert sampled_loss == pytest.approx(full_loss, rel=1e-6)
    assert torch.allclose(sampled_grad, full_grad, atol=1e-6, rtol=1e-5)


def _drawn(model, sequences, k: int, corrected: bool, seed: int = 2):
    batch = model.make_batch(sequences, np.random.default_rng(0))
    p = np.exp(model._log_p)
    negatives = np.random.default_rng(seed).choice(N_ITEMS, size=k, p=p)
    log_q = np.log(k * p[negatives]) if corrected else np.full(k, np.log(k / N_ITEMS))
    batch["negatives"] = torch.from_numpy(negatives)
    batch["negative_log_q"] = torch.from_numpy(log_q.astype(np.float32))
    return batch


def test_a_large_popularity_draw_with_log_q_approaches_the_full_gradient():
    sequences = _sequences()
    full = _model()
    full_loss, full_grad = _gradient(full, full.make_batch(sequences, np.random.default_rng(0)))
    model = _model(loss="sampled", negatives=8)

    def cosine(grad):
        return torch.nn.functional.cosine_similarity(grad, full_grad, dim=0).item()

    loss, corrected = _gradient(model, _drawn(model, sequences, 200_000, corrected=True))
    _, uncorrected = _gradient(model, _drawn(model, sequences, 200_000, corrected=False))
    assert loss == pytest.approx(full_loss, rel=0.01)
    assert cosine(corrected) > 0.995
    assert cosine(uncorrected) < 0.98  # popular items would be pushed down too hard without log Q


def test_sampled_negatives_are_drawn_by_popularity_and_never_the_target():
    model = _model(loss="sampled", negatives=16)
    batch = model.make_batch(_sequences(), np.random.default_rng(0))
    assert batch["negatives"].shape == (16,) and batch["negative_log_q"].shape == (16,)
    draws = np.concatenate([model.draw_negatives(np.random.default_rng(s))["negatives"].numpy() for s in range(300)])
    counts = np.bincount(draws, minlength=N_ITEMS)
    assert counts[6] > 5 * counts[0]  # item 6 is 49 times as popular as item 0
    # a position whose target is among the negatives does not count it against itself
    sequences = np.array([[0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]])
    batch = model.make_batch(sequences, np.random.default_rng(0))
    batch["negatives"] = torch.tensor([1, 2, 1])  # items 2, 3, 2 (item index + 1 in sequences)
    batch["negative_log_q"] = torch.zeros(3)
    hits = model.loss(batch)
    batch["negatives"] = torch.tensor([5, 6, 7])
    assert torch.isfinite(hits) and hits.item() != pytest.approx(model.loss(batch).item())


def test_sampled_softmax_trains():
    rng = np.random.default_rng(3)
    # each item is followed by the next one: a pattern to learn
    starts = rng.integers(1, N_ITEMS - 11, size=64)
    sequences = starts[:, None] + np.arange(11)[None, :]
    model = _model(loss="sampled", negatives=8)
    full = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    full_before = full.loss(full.make_batch(sequences, rng)).item()
    losses = []
    for _ in range(60):
        loss = model.loss(model.make_batch(sequences, rng))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    # what it learnt holds for the full softmax too
    full.load_state_dict(model.state_dict())
    assert full.loss(full.make_batch(sequences, rng)).item() < 0.5 * full_before


def test_loss_setting_is_checked():
    with pytest.raises(RecStudioError, match="loss"):
        model_config("sasrec", {"loss": "approximate"})
    with pytest.raises(RecStudioError, match="negatives"):
        model_config("sasrec", {"negatives": 0})
    assert model_config("sasrec").loss == "full"  # the default is unchanged
