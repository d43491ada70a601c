"""Distillation (a small sasrec learns a teacher run's soft targets) and int8 copies of trained runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from recstudio.cli import main
from recstudio.runs import load_run_model
from tests.helpers import cli, one_thread  # noqa: F401  (one_thread: an autouse fixture)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workspace with a sasrec teacher (hidden 32) trained on users who walk the catalogue in strides."""
    folder = tmp_path_factory.mktemp("distill")
    rng = np.random.default_rng(0)
    rows = []
    for user in range(90):
        start, stride = rng.integers(0, 30), 1 + user % 3
        rows += [(f"u{user}", f"i{(start + t * stride) % 30}", 1_600_000_000 + 3600 * t + user) for t in range(14)]
    events = folder / "events.csv"
    pd.DataFrame(rows, columns=["user", "item", "time"]).to_csv(events, index=False)
    workspace = folder / "workspace.sqlite"
    code = main(["train", str(events), "--model", "sasrec", "--set", "hidden=32", "--set", "heads=1",
                 "--epochs", "8", "--batch-size", "16", "--seed", "1", "--quiet",
                 "--workspace", str(workspace)])
    assert code == 0
    return {"events": events, "workspace": workspace, "teacher": 1}


def _runs(workspace) -> list:
    from recstudio.workspace import Workspace

    with Workspace(workspace) as ws:
        return ws.list_runs()


def _kl_to_teacher(workspace, teacher_id: int, student_id: int) -> float:
    """Mean KL(teacher || student) of next-item distributions over the validation histories."""
    from recstudio.data import pad_histories
    from recstudio.runs import run_split
    from recstudio.workspace import Workspace

    with Workspace(workspace) as ws:
        run, teacher, _ = load_run_model(ws, teacher_id)
        _, student, _ = load_run_model(ws, student_id)
        cases = run_split(ws.load_dataset(run.dataset_id), run).valid
    histories = torch.from_numpy(pad_histories(cases.history_indptr, cases.history_items, np.arange(len(cases)), 50))
    with torch.no_grad():
        t, s = torch.log_softmax(teacher.score(histories), -1), torch.log_softmax(student.score(histories), -1)
    return float((t.exp() * (t - s)).sum(-1).mean())


def test_distilled_student_is_closer_to_its_teacher_than_one_trained_alone(trained, capsys):
    # both students start at random: a start from co-occurrence already brings either one nearer the teacher
    ws, common = trained["workspace"], ["--model", "sasrec", "--set", "hidden=16", "--set", "heads=1", "--set", "init=random",
                                        "--batch-size", "16", "--epochs", "6", "--patience", "100", "--seed", "3"]
    code, alone, _ = cli(capsys, "train", trained["events"], *common, "--workspace", ws, "--json", "--quiet")
    assert code == 0
    code, distilled, _ = cli(capsys, "train", "--teacher", trained["teacher"], *common, "--alpha", "0.9",
                             "--set", "temperature=2", "--workspace", ws, "--json", "--quiet")
    assert code == 0 and distilled["dataset"] == alone["dataset"]  # the teacher's dataset, no DATA given
    kl_alone = _kl_to_teacher(ws, trained["teacher"], alone["run_id"])
    kl_distilled = _kl_to_teacher(ws, trained["teacher"], distilled["run_id"])
    assert kl_distilled < 0.85 * kl_alone, (kl_distilled, kl_alone)  # 0.080 vs 0.098 when written

    # an ordinary run: the teacher in its config, a curve, a checkpoint of the student alone
    code, shown, _ = cli(capsys, "runs", "show", distilled["run_id"], "--workspace", ws, "--json")
    assert shown["config"]["distill"] == {"teacher_run": 1, "teacher_model": "sasrec", "temperature": 2.0, "alpha": 0.9}
    assert shown["curve_points"] > 0 and shown["model"] == "sasrec"
    from safetensors import safe_open

    with safe_open(str(shown["artefacts"]["checkpoint"]) + "/model.safetensors", "pt") as f:
        assert f.get_tensor("item_embedding.weight").shape == (31, 16)  # the student's, nothing of the teacher
    code, rec, _ = cli(capsys, "recommend", distilled["run_id"], "--user", "u5", "-k", "5", "--workspace", ws, "--json")
    assert code == 0 and len(rec["items"]) == 5
    code, evaluated, _ = cli(capsys, "evaluate", distilled["run_id"], "--workspace", ws, "--device", "cpu", "--json")
    assert code == 0 and evaluated["metrics"]["NDCG@10"] > 0


@pytest.mark.parametrize("argv, message", [
    (["--teacher", "99"], "No run 99"),
    (["--teacher", "1", "--model", "itemknn"], "must be sasrec or sasrec-lm"),
    (["--teacher", "1", "--split", "temporal"], "same split"),
    (["--teacher", "1", "--alpha", "1.5"], "between 0 and 1"),
    (["--teacher", "1", "--temperature", "0"], "above 0"),
    (["--temperature", "2", "--sample"], "go with --teacher"),
])
def test_distillation_mistakes_are_one_line_errors_and_record_nothing(trained, capsys, argv, message):
    before = len(_runs(trained["workspace"]))
    code, _, err = cli(capsys, "train", *argv, "--workspace", trained["workspace"], "--quiet")
    assert code == 2 and message in err and "Traceback" not in err
    assert len(_runs(trained["workspace"])) == before


def test_int8_copy_scores_like_the_float_model_and_is_smaller(trained, capsys):
    from scipy.stats import spearmanr

    ws = trained["workspace"]
    code, q, _ = cli(capsys, "quantise", trained["teacher"], "--workspace", ws, "--json")
    assert code == 0 and q["parent_run"] == trained["teacher"]
    assert q["size_bytes"] < q["parent_size_bytes"] and len(q["layers"]) == 8  # 2 blocks x (qkv, proj, 2 ff)
    from recstudio.models.quantise import Int8Linear
    from recstudio.workspace import Workspace

    with Workspace(ws) as w:
        _, float_model, _ = load_run_model(w, trained["teacher"])
        _, int8_model, meta = load_run_model(w, q["run_id"])
        parent_ndcg = w.run(trained["teacher"]).metrics["test"]["NDCG@10"]
    assert meta.quantisation["scheme"] == "dynamic-int8"
    assert isinstance(int8_model.encoder.blocks[0].ff[0], Int8Linear)
    histories = torch.randint(1, 31, (40, 50))
    histories[:, :20] = 0  # left padding, as real histories have
    with torch.no_grad():
        a, b = float_model.score(histories).numpy(), int8_model.score(histories).numpy()
    rho = np.mean([spearmanr(x, y)[0] for x, y in zip(a, b)])
    overlap = np.mean([len(set(np.argsort(-x)[:10]) & set(np.argsort(-y)[:10])) / 10 for x, y in zip(a, b)])
    assert rho > 0.98 and overlap >= 0.9, (rho, overlap)
    assert abs(q["metrics"]["test"]["NDCG@10"] - parent_ndcg) < 0.05
    # stored as plain tensors: int8 weights and float scales in safetensors, nothing pickled
    from safetensors import safe_open

    with Workspace(ws) as w:
        path = w.artefacts(q["run_id"])["checkpoint"] / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        assert f.get_tensor("encoder.blocks.0.ff.0.weight_int8").dtype == torch.int8
        assert f.get_tensor("encoder.blocks.0.ff.0.weight_scale").dtype == torch.float32
    code, rec, _ = cli(capsys, "recommend", q["run_id"], "--user", "u5", "-k", "3", "--workspace", ws, "--json")
    assert code == 0 and len(rec["items"]) == 3
    # an int8 copy is for inference: not quantised again, not fine-tuned
    code, _, err = cli(capsys, "quantise", q["run_id"], "--workspace", ws)
    assert code == 2 and "already an int8 copy" in err


def test_int8_layer_kernel_and_its_fallback_agree():
    from recstudio.models.quantise import Int8Linear

    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 96)
    layer = Int8Linear.from_linear(linear)
    x = torch.randn(7, 5, 48)
    with torch.no_grad():
        exact = linear(x)
        fast = layer(x)  # the dynamic-quantised kernel where the engine has one
        slow = layer(x.double()).float()  # the dequantised-weight fallback
    scale = exact.abs().max()
    assert (fast - exact).abs().max() < 0.05 * scale and (slow - exact).abs().max() < 0.02 * scale
    assert set(layer.state_dict()) == {"weight_int8", "weight_scale", "bias"}


def test_quantising_a_counting_model_is_a_user_error(trained, capsys):
    ws = trained["workspace"]
    code, pop, _ = cli(capsys, "train", trained["events"], "--model", "pop", "--workspace", ws, "--json", "--quiet")
    before = len(_runs(ws))
    code, _, err = cli(capsys, "quantise", pop["run_id"], "--workspace", ws)
    assert code == 2 and "no Linear layers" in err and len(_runs(ws)) == before
