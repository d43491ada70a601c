"""lm-seq: a pretrained language model reads each history as text (the offline MiniLM and a tiny GPT-2
built from a config with MiniLM's tokenizer; nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recstudio.errors import RecStudioError
from recstudio.workspace import Workspace
from tests.helpers import THEMES as ALL_THEMES, cli, one_thread  # noqa: F401  (one_thread: an autouse fixture)

THEMES = {theme: ALL_THEMES[theme] for theme in ("fruit", "tools", "music")}
T0 = 1_600_000_000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Users who each stay within one theme; a catalogue whose titles and categories say which; new
    events with a new catalogue item nobody has touched (for `update`)."""
    folder = tmp_path_factory.mktemp("lmseq")
    rng = np.random.default_rng(0)
    themes = list(THEMES)
    catalogue = [{"sku": f"{t[:2]}{i}", "title": title, "category": t.title()}
                 for t, titles in THEMES.items() for i, title in enumerate(titles)]
    rows = [{"user": f"u{u}", "sku": f"{themes[u % 3][:2]}{i}", "time": T0 + u * 1000 + n}
            for u in range(60) for n, i in enumerate(rng.integers(0, 10, size=10))]
    paths = {name: folder / f"{name}.csv" for name in ("events", "items", "new_events", "new_items")}
    pd.DataFrame(rows).to_csv(paths["events"], index=False)
    pd.DataFrame(catalogue).to_csv(paths["items"], index=False)
    pd.DataFrame([{"user": "u1", "sku": f"to{i}", "time": T0 + 10**6 + n} for n, i in enumerate([1, 2, 3])]
                 ).to_csv(paths["new_events"], index=False)
    pd.DataFrame([{"sku": "to10", "title": "Power sander", "category": "Tools"}]).to_csv(paths["new_items"], index=False)
    paths["workspace"] = folder / "workspace.sqlite"
    return paths


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    """A 2-layer GPT-2 built from a config (random weights) with MiniLM's tokenizer, saved as a local
    Hugging Face folder: what a user's own decoder model looks like on disk."""
    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    from recstudio.knowledge import default_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path(), local_files_only=True)
    torch.manual_seed(0)
    model = GPT2Model(GPT2Config(vocab_size=len(tokenizer), n_layer=2, n_embd=64, n_head=2, n_positions=256,
                                bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id))
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make(tiny_gpt2, texts, **settings):
    from recstudio.models.configs import LMSeqConfig
    from recstudio.models.lm_seq import LMSeq

    config = LMSeqConfig(encoder=str(tiny_gpt2), **settings)
    torch.manual_seed(0)
    text = torch.randn(len(texts), 16)
    return LMSeq(config, len(texts), item_text=text, item_texts=texts)


TEXTS = ["red apple", "green pear", "claw hammer", "cordless drill", "violin"]


def _read(model, tokenizer, history: list[int]) -> str:
    ids, mask = model.render(torch.tensor([history]))
    return tokenizer.decode(ids[0][mask[0].bool()].tolist())


def test_a_history_is_read_as_its_items_texts_oldest_first(tiny_gpt2):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    model = make(tiny_gpt2, TEXTS, max_tokens=64)
    assert model.pooling == "last"  # GPT-2 is a decoder: its last token has read the whole history
    # item indices + 1, 0 = no item (padding may sit anywhere)
    assert _read(model, tokenizer, [0, 1, 3, 5]) == "[CLS] red apple | claw hammer | violin [SEP]"
    assert _read(model, tokenizer, [5, 0, 2]) == "[CLS] violin | green pear [SEP]"
    # a batch pads on the right and masks the padding
    ids, mask = model.render(torch.tensor([[0, 0, 1], [2, 3, 4]]))
    assert mask.tolist()[0] == [1] * int(mask[0].sum()) + [0] * int((1 - mask[0]).sum())
    assert int(mask[0].sum()) < int(mask[1].sum())
    # too long: the oldest whole items are dropped, never half an item, and the markers stay
    short = make(tiny_gpt2, TEXTS, max_tokens=9)
    assert _read(short, tokenizer, [1, 2, 3, 4, 5]) == "[CLS] cordless drill | violin [SEP]"


def test_fine_tune_modes_train_only_what_they_say(tiny_gpt2):
    trained = {mode: {n for n, p in make(tiny_gpt2, TEXTS, finetune=mode, last_n=1).backbone.named_parameters()
                      if p.requires_grad}
               for mode in ("frozen", "last-n", "lora")}
    assert trained["frozen"] == set()
    assert trained["last-n"] and all(n.startswith(("h.1.", "ln_f.")) for n in trained["last-n"])
    assert any(n.startswith("ln_f.") for n in trained["last-n"])  # the final norm reads the last layer
    assert trained["lora"] and all("lora_" in n for n in trained["lora"])

    model = make(tiny_gpt2, TEXTS, finetune="lora", backbone_lr=0.5)
    groups = model.parameter_groups(1e-3)
    assert [g["lr"] for g in groups] == [1e-3, 5e-4]  # the head at the run's rate, the adapters at half
    before = {n: p.detach().clone() for n, p in model.backbone.named_parameters()}
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    model.train()
    model.fit_statistics(np.array([0, 4]), np.array([0, 1, 2, 3]))
    loss = model.loss({"histories": torch.tensor([[1, 2, 3], [0, 3, 4]]), "targets": torch.tensor([4, 1])})
    loss.backward()
    optimizer.step()
    changed = {n for n, p in model.backbone.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all("lora_" in n for n in changed)


def test_items_without_training_events_are_scored_by_their_text(tiny_gpt2):
    model = make(tiny_gpt2, TEXTS).eval()
    model.fit_statistics(np.array([0, 7]), np.array([0, 0, 0, 1, 1, 2, 3]))  # item 4 (violin) never seen
    assert not bool(model.trained_items[5])
    with torch.no_grad():
        scores = model.score(torch.tensor([[1, 2, 3]]))[0]
        trained_bias, unseen = model.item_bias[:4].detach(), model.item_bias[4].detach()
    assert torch.isfinite(scores).all()
    # an unseen item's bias is a typical trained item's, not the least popular one's
    assert float(trained_bias.min()) < float(unseen) < float(trained_bias.max())
    with pytest.raises(RecStudioError, match="one of"):
        make(tiny_gpt2, TEXTS, head="sideways")


def test_id_vectors_start_from_co_occurrence_as_long_as_the_text_and_only_when_built_fresh(tiny_gpt2):
    texts = [f"thing {i}" for i in range(12)]
    rng = np.random.default_rng(0)  # users buy from one of two groups (items 0-4 or 5-9); 10 and 11 never
    seqs = [rng.choice(np.arange(5) + 5 * (u % 2), size=4, replace=False) for u in range(60)]
    indptr, items = np.concatenate([[0], np.cumsum([len(q) for q in seqs])]), np.concatenate(seqs)
    model = make(tiny_gpt2, texts)
    assert bool((model.ids.weight == 0).all())
    model.fit_statistics(indptr, items)
    ids = model.ids.weight.detach()[1:]
    cos = lambda a, b: float(torch.nn.functional.cosine_similarity(ids[a], ids[b], dim=0))  # noqa: E731
    assert np.mean([cos(a, b) for a in range(5) for b in range(5) if a != b]) > 0.5
    assert abs(np.mean([cos(a, b) for a in range(5) for b in range(5, 10)])) < 0.1
    assert bool((ids[10:] == 0).all())  # never bought: their text alone
    with torch.no_grad():
        text_norm = model.adaptor(model.item_text[1:11]).norm(dim=-1).mean()
    assert float(ids[:10].norm(dim=-1).mean()) == pytest.approx(float(text_norm), rel=1e-4)

    loaded = make(tiny_gpt2, texts)
    loaded.load_state_dict(model.state_dict())  # a checkpoint or an update: its ids are what it learned
    with torch.no_grad():
        loaded.ids.weight.mul_(2)
    kept = loaded.ids.weight.detach().clone()
    loaded.fit_statistics(indptr, items)
    assert torch.equal(loaded.ids.weight, kept)

    zero = make(tiny_gpt2, texts, id_init="zero")
    zero.fit_statistics(indptr, items)
    assert bool((zero.ids.weight == 0).all())
    from recstudio.models import model_config

    assert model_config("lm-seq", {"max_len": 20}, saved=True).id_init == "zero"  # runs saved before it


def test_a_checkpoint_holds_what_trained_and_refuses_a_changed_language_model(tiny_gpt2, tmp_path):
    import shutil

    from safetensors import safe_open

    from recstudio.training import load_checkpoint
    from recstudio.training.checkpoint import save_checkpoint

    folder = tmp_path / "gpt2"
    shutil.copytree(tiny_gpt2, folder)
    model = make(folder, TEXTS, finetune="last-n", last_n=1).eval()
    with torch.no_grad():
        model.project.weight.add_(0.01)  # something trained
        expected = model.score(torch.tensor([[1, 3, 5]]))
    path = save_checkpoint(tmp_path / "ckpt", model, {})
    with safe_open(str(next(path.glob("*.safetensors"))), "pt") as f:
        keys = set(f.keys())
    assert any(k.startswith("backbone.h.1.") for k in keys)  # the fine-tuned layer is saved
    assert not any(k.startswith(("backbone.h.0.", "backbone.wte.")) for k in keys)  # the pretrained ones are not
    loaded, _ = load_checkpoint(path)
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval().score(torch.tensor([[1, 3, 5]])), expected)

    from transformers import GPT2Model

    other = GPT2Model.from_pretrained(folder)
    with torch.no_grad():
        other.wte.weight.mul_(2)
    other.save_pretrained(folder)  # the user replaced the model in that folder
    with pytest.raises(RecStudioError, match="has changed"):
        load_checkpoint(path)


def _minilm(texts, **settings):
    from recstudio.models.configs import LMSeqConfig
    from recstudio.models.lm_seq import LMSeq

    torch.manual_seed(0)
    settings.setdefault("cpu_bf16", False)  # float32: readings compared to the last digits
    return LMSeq(LMSeqConfig(**settings), len(texts), item_text=torch.randn(len(texts), 384), item_texts=texts)


@pytest.mark.parametrize("reader", ["minilm", "gpt2"])
def test_every_item_boundary_reads_as_that_history_alone(reader, tiny_gpt2):
    """One pass over a window gives, at each item, the reading of the history that ends there: an
    encoder (MiniLM, bidirectional) behind the causal item-block mask, a decoder (GPT-2) as it is."""
    model = (_minilm(TEXTS, dropout=0.0) if reader == "minilm" else
             make(tiny_gpt2, TEXTS, dropout=0.0, cpu_bf16=False)).eval()
    assert model.epoch_windows == "tiles"
    histories = torch.tensor([[0, 0, 1, 2, 3], [4, 5, 1, 3, 2]])
    with torch.no_grad():
        vectors, read = model.read_boundaries(histories)
        assert read.tolist() == (histories > 0).tolist()
        for b, c in zip(*torch.nonzero(read, as_tuple=True)):
            alone = model.history_vectors(histories[b : b + 1, : c + 1])[0]
            torch.testing.assert_close(vectors[b, c], alone, atol=2e-5, rtol=1e-4)
        later = histories.clone()
        later[:, -1] = 5  # another newest item: every older item's reading stays as it was
        torch.testing.assert_close(model.read_boundaries(later)[0][:, :-1], vectors[:, :-1])
        if reader == "minilm":  # without the mask the encoder's older items would read the newest one
            full = model._states(*model.render(histories))
            assert not torch.allclose(full[:, 1], model._states(*model.render(histories[:, :3]))[:, 1], atol=1e-3)


def test_a_training_step_predicts_every_item_of_the_window_and_baskets_from_the_basket_before():
    from recstudio.training.fit import epoch_windows

    model = _minilm(TEXTS, dropout=0.0)
    model.fit_statistics(np.array([0, 5]), np.arange(5))
    batch = model.make_batch(np.array([[0, 1, 2, 3, 4]]), np.random.default_rng(0))
    assert batch["targets"].tolist() == [[1, 2, 3, 4]] and batch["readout"].tolist() == [[0, 1, 2, 3]]
    model.eval()
    # the loss is the mean cross-entropy of every boundary that has an item (not the padding cell before
    # the first one), each read as its history alone
    with torch.no_grad():
        expected = torch.stack([torch.nn.functional.cross_entropy(model.score(torch.tensor([[1, 2, 3][: c + 1]])),
                                                                  torch.tensor([c + 1])) for c in range(3)]).mean()
        torch.testing.assert_close(model.loss(batch), expected, atol=1e-5, rtol=1e-4)
    # with baskets {1, 2} then {3, 4}: both lines of the second basket are read after the first basket
    basket = model.make_batch(np.array([[1, 2, 3, 4]]), np.random.default_rng(0), baskets=np.array([[1, 1, 2, 2]]))
    assert basket["targets"].tolist() == [[0, 3, 4]] and basket["readout"][0, 1:].tolist() == [1, 1]
    # an epoch tiles each sequence (a user's 30 events in at most 2 windows of 20 targets, not one window per
    # target as overlapping context windows would), the cuts moving between epochs so every event is a target
    indptr, items = np.array([0, 30, 33]), np.arange(33)
    rng, seen = np.random.default_rng(0), set()
    for _ in range(20):
        windows = epoch_windows(model, indptr, items, model.history_length + 1, rng)
        assert len(windows) <= 3
        seen |= {int(t) for w in windows for t in w[1:][(w[1:] > 0) & (w[:-1] > 0)] - 1}  # read after an item
    assert seen == {i for i in range(33) if i not in (0, 30)}


def test_an_lm_seq_run_saved_before_every_item_targets_reads_as_it_was_trained():
    from recstudio.models.registry import model_config

    assert model_config("lm-seq").targets == "every-item"
    assert model_config("lm-seq", {"max_len": 20}, saved=True).targets == "last"  # a saved config without it
    assert model_config("lm-seq", {"max_len": 20}, saved=True).cpu_bf16 is False  # read in float32, as trained
    model = _minilm(TEXTS, targets="last")
    assert model.epoch_windows == "user" and model.mask_form is None


def test_bfloat16_on_cpu_reads_close_to_float32():
    from recstudio.models.lm_seq import _cpu_has_bf16

    exact = _minilm(TEXTS, dropout=0.0).eval()
    fast = _minilm(TEXTS, dropout=0.0, cpu_bf16=True).eval()
    histories = torch.tensor([[0, 1, 2, 3], [4, 5, 1, 3]])
    with torch.no_grad():
        a, b = exact.history_vectors(histories), fast.history_vectors(histories)
    assert torch.nn.functional.cosine_similarity(a, b).min() > 0.99
    assert torch.equal(a, b) is not _cpu_has_bf16()  # bfloat16 only where the CPU has it


def test_lm_seq_runs_get_its_own_epoch_bound_and_batch_unless_given():
    from recstudio.models import model_spec
    from recstudio.runs import check_train_config
    from recstudio.training import TrainConfig

    lm_seq = check_train_config({}, model="lm-seq")
    assert lm_seq.epochs == model_spec("lm-seq").training["epochs"] < TrainConfig().epochs
    assert lm_seq.batch_size == model_spec("lm-seq").training["batch_size"] < TrainConfig().batch_size
    assert lm_seq.lr == model_spec("lm-seq").training["lr"] < TrainConfig().lr
    assert lm_seq.weight_decay == TrainConfig().weight_decay  # a setting the model does not name keeps the default
    given = check_train_config({"epochs": 9, "batch_size": None}, model="lm-seq")
    assert (given.epochs, given.batch_size) == (9, lm_seq.batch_size)
    sasrec = check_train_config({"epochs": None}, model="sasrec")
    assert (sasrec.epochs, sasrec.batch_size) == (TrainConfig().epochs, TrainConfig().batch_size)


def test_user_windows_give_each_user_one_window_and_cover_every_event():
    from recstudio.training.fit import user_windows

    indptr = np.array([0, 1, 5, 8])  # user 0 has one event: no window
    items = np.arange(8)
    rng = np.random.default_rng(0)
    ends = {1: set(), 2: set()}
    for _ in range(200):
        windows = user_windows(indptr, items, 3, rng)
        assert windows.shape == (2, 3)
        for row, user in zip(windows, (1, 2)):
            real = row[row > 0] - 1
            assert len(real) >= 2 and np.all(np.diff(real) == 1)  # consecutive events of that user
            assert indptr[user] <= real[0] and real[-1] < indptr[user + 1]
            ends[user].add(int(real[-1]))
    assert ends == {1: {2, 3, 4}, 2: {6, 7}}  # every event after a user's first is a target sometime


def test_cli_trains_lm_seq_with_the_offline_minilm(files, capsys):
    code, out, err = cli(capsys, "train", files["events"], "--items", files["items"], "--model", "lm-seq",
                         "--epochs", "3", "--batch-size", "32", "--quiet", "--json", "--workspace", files["workspace"])
    assert code == 0, err
    assert out["model"] == "lm-seq" and out["status"] == "completed"
    assert 0.0 <= out["metrics"]["test"]["NDCG@10"] <= 1.0
    with Workspace(files["workspace"]) as ws:
        run = ws.run(out["run_id"])
        assert run.config["item_text"]["encoder"]["name"] == "all-MiniLM-L6-v2"
        from recstudio.runs import recommend

        top = [it["item_id"] for it in recommend(ws, run.id, user="u0", k=5, exclude_seen=False).items]
    assert sum(sku.startswith("fr") for sku in top) >= 4  # u0 buys fruit: MiniLM reads that from the titles

    code, out, err = cli(capsys, "recommend", str(out["run_id"]), "--query", "hammers and drills", "-k", "5",
                         "--json", "--workspace", files["workspace"])
    assert code == 0, err
    assert sum(it["item_id"].startswith("to") for it in out["items"]) >= 4


def test_cli_cold_items_split_and_update_with_a_tiny_gpt2(files, tiny_gpt2, capsys):
    code, out, err = cli(capsys, "train", files["events"], "--items", files["items"], "--model", "lm-seq",
                         "--set", f"encoder={tiny_gpt2}", "--set", "finetune=lora", "--split", "cold-items",
                         "--cold-fraction", "0.2", "--max-steps", "3", "--batch-size", "16", "--quiet", "--json",
                         "--workspace", files["workspace"])
    assert code == 0, err
    assert set(out["metrics"]["cold"]) >= {"HR@10", "NDCG@10"}
    run_id = out["run_id"]

    code, out, err = cli(capsys, "update", str(run_id), files["new_events"], "--items", files["new_items"],
                         "--steps", "2", "--quiet", "--json", "--workspace", files["workspace"])
    assert code == 0, err
    from recstudio.runs import load_run_model

    with Workspace(files["workspace"]) as ws:
        updated = ws.list_runs()[-1]
        _, model, meta = load_run_model(ws, updated.id)
    sander = meta.item_ids.index("to10")
    assert model.n_items == 31 and not bool(model.trained_items[sander + 1])
    with torch.no_grad():
        scores = model.score(torch.tensor([[meta.item_ids.index("to1") + 1]]))[0]
    assert torch.isfinite(scores[sander])  # the new item is read from its text, without a retrain


def test_an_lm_seq_teacher_distils_into_a_small_sasrec(files, tiny_gpt2, capsys):
    from recstudio.runs import load_run_model
    from recstudio.training.distill import teacher_position_scores

    ws = files["workspace"]
    code, teacher, err = cli(capsys, "train", files["events"], "--items", files["items"], "--model", "lm-seq",
                             "--set", f"encoder={tiny_gpt2}", "--set", "max_len=5", "--set", "cpu_bf16=false",
                             "--max-steps", "2", "--quiet",
                             "--json", "--workspace", ws)
    assert code == 0, err
    with Workspace(ws) as workspace:
        _, model, _ = load_run_model(workspace, teacher["run_id"])
    histories = torch.tensor([[0, 0, 3, 7, 9, 1, 4, 2], [5, 6, 7, 8, 9, 10, 11, 12]])
    with torch.no_grad():
        scores = teacher_position_scores(model, histories)
        # windows of max_len (5) cells every 2 cells, each scoring its newest 2: the prefix ending at cell 6
        # is read from the window of cells 3..7, so with the 4 items of cells 3..6; the oldest window
        # (cells 0..3) scores all of its prefixes
        torch.testing.assert_close(scores[1, 6], model.score(histories[1:, 3:7])[0])
        torch.testing.assert_close(scores[1, 7], model.score(histories[1:, 3:8])[0])
        torch.testing.assert_close(scores[0, 3], model.score(torch.tensor([[3, 7]]))[0])
    assert bool((scores[0, :2] == 0).all())  # padding positions are no targets
    # a slow teacher's scores are kept once read: a later window ending at the same events is not read again
    from recstudio.training.distill import ScoreMemo

    with torch.no_grad():
        memo = ScoreMemo(model)
        torch.testing.assert_close(memo.scores(histories), scores)
        assert (memo.read, len(memo)) == (2, 14)  # both windows read, each prefix that ends in an item kept
        again = memo.scores(torch.tensor([[0, 0, 0, 0, 3, 7, 9, 1]]))  # a window that ends earlier
        assert memo.read == 2  # every prefix of it was in the memo
        torch.testing.assert_close(again[0, 4:], scores[0, 2:6], atol=2e-2, rtol=1e-2)  # kept in float16
        mixed = memo.scores(torch.tensor([[3, 7, 9, 1, 4, 2, 11, 12]]))  # two prefixes new: the window is read
        assert memo.read == 3 and len(memo) == 16
        torch.testing.assert_close(mixed, teacher_position_scores(model, torch.tensor([[3, 7, 9, 1, 4, 2, 11, 12]])))
        assert ScoreMemo(model, budget=0).scores(histories).equal(scores)  # no room: read every time
    code, student, err = cli(capsys, "train", "--teacher", str(teacher["run_id"]), "--model", "sasrec", "--set",
                             "hidden=16", "--set", "heads=1", "--max-steps", "2", "--batch-size", "16", "--quiet",
                             "--json", "--workspace", ws)
    assert code == 0, err
    assert student["model"] == "sasrec" and student["status"] == "completed"


def test_a_slow_teacher_is_read_once_before_the_first_epoch_which_then_trains_at_the_students_pace(tiny_gpt2):
    from recstudio.data import leave_one_out
    from recstudio.models import create_model, model_config
    from recstudio.training import Stage, Step, TrainConfig, drive, fit
    from recstudio.training.distill import Distillation
    from tests.test_training import _dataset

    dataset = _dataset(n_users=30, n_items=len(TEXTS), length=8)
    teacher = make(tiny_gpt2, TEXTS, max_len=5, cpu_bf16=False).eval()
    student = create_model("sasrec", len(TEXTS), model_config("sasrec", {"hidden": 16, "heads": 1, "max_len": 6}))
    distilled = Distillation(student, teacher)
    seen = []  # (event, windows the teacher had read by then)
    result = drive(fit(distilled, leave_one_out(dataset), TrainConfig(epochs=2, batch_size=8), device="cpu"),
                   lambda event: seen.append((event, distilled.memo.read)))
    assert result.status == "completed"
    stages = [(e, read) for e, read in seen if isinstance(e, Stage) and e.name == "teacher"]
    steps = [(e, read) for e, read in seen if isinstance(e, Step)]
    first_step = next(i for i, (e, _) in enumerate(seen) if isinstance(e, Step))
    assert stages and all(seen.index(s) < first_step for s in stages)  # read before training starts
    fractions = [e.fraction for e, _ in stages]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert stages[-1][0].text.startswith("Teacher read: ") and "histories kept" in stages[-1][0].text
    read_before = stages[-1][1]
    assert read_before > 0
    # the first epoch's windows are the ones read: its steps ask the teacher for nothing
    assert all(read == read_before for e, read in steps if e.epoch == 1)

    # cancelled while the teacher is read: no step is taken
    again = Distillation(create_model("sasrec", len(TEXTS), model_config("sasrec", {"hidden": 16, "heads": 1})),
                         teacher)
    events = []
    outcome = drive(fit(again, leave_one_out(dataset), TrainConfig(epochs=2, batch_size=8), device="cpu",
                        cancelled=lambda: any(isinstance(e, Stage) and e.name == "teacher" for e in events)),
                    events.append)
    assert outcome.status == "cancelled" and not any(isinstance(e, Step) for e in events)
