"""Privacy and security: no network unless a hub model is named, pseudonymised exports, checkpoints that
are safetensors + JSON (nothing unpickled, no remote code), spreadsheet formulas neutralised in CSV
exports, and SQL that data can never rewrite."""

from __future__ import annotations

import ast
import csv
import json
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recstudio.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "recstudio"
HOSTILE_NAME = "x'); DROP TABLE runs;--"


def cli(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else None), err


@pytest.fixture
def shop(tmp_path) -> tuple[Path, Path]:
    """A small shop: users walking through 30 items; titles that a spreadsheet or a browser would run."""
    rng = np.random.default_rng(1)
    rows = [(f"u{u}", f"p{(s + t) % 30}", 1_600_000_000 + 3600 * t + u)
            for u, s in enumerate(rng.integers(30, size=80)) for t in range(10)]
    rows += [("=cmd|' /C calc'!A0", "p1", 1_600_000_000), ("=cmd|' /C calc'!A0", "p2", 1_600_003_600),
             ("=cmd|' /C calc'!A0", "p3", 1_600_007_200)]
    log = tmp_path / "shop.csv"
    pd.DataFrame(rows, columns=["customer", "product", "time"]).to_csv(log, index=False)
    titles = [f"Product {i}" for i in range(30)]
    titles[1], titles[2], titles[3] = "=HYPERLINK(\"http://evil.example\")", "<script>alert(1)</script>", "@SUM(A1)"
    catalogue = tmp_path / "products.csv"
    pd.DataFrame({"product": [f"p{i}" for i in range(30)], "title": titles,
                  "category": [["Garden", "Kitchen", "Toys"][i % 3] for i in range(30)]}).to_csv(catalogue, index=False)
    return log, catalogue


@pytest.fixture
def no_network(monkeypatch):
    """Every way out to the network raises, and is recorded even when the caller swallows the error."""
    attempts: list[str] = []

    def refuse(name):
        def blocked(*args, **kwargs):
            attempts.append(f"{name}{args[1:] if name.startswith('socket.') else args}")
            raise OSError(f"network blocked by the test ({name})")
        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


# -- no network ------------------------------------------------------------------------------------

def test_the_whole_flow_opens_no_network_connection(shop, tmp_path, capsys, no_network):
    log, catalogue = shop
    ws = tmp_path / "workspace.sqlite"
    common = ["--workspace", ws, "--json"]
    tiny = ["--set", "hidden=16", "--set", "layers=1", "--set", "max_len=10", "--quiet"]
    code, imported, err = cli(capsys, "import", log, "--items", catalogue, *common)
    assert code == 0, err
    code, sasrec, err = cli(capsys, "train", log, "--items", catalogue, "--model", "sasrec", "--max-steps", "5",
                            *tiny, *common)
    assert code == 0 and sasrec["status"] == "completed", err
    # the language-model fused model with its default, bundled text encoder works offline too
    code, fused, err = cli(capsys, "train", log, "--items", catalogue, "--model", "sasrec-lm", "--max-steps", "2",
                           "--set", "experts=2", *tiny, *common)
    assert code == 0 and fused["status"] == "completed", err
    run = sasrec["run_id"]
    assert cli(capsys, "evaluate", run, *common)[0] == 0
    code, rec, _ = cli(capsys, "recommend", run, "--user", "u1", "-k", "5", *common)
    assert code == 0 and len(rec["items"]) == 5
    out = tmp_path / "top.csv"
    assert cli(capsys, "recommend", run, "--all-users", "--output", out, "--pseudonymise", "s3cret", *common)[0] == 0
    code, explained, err = cli(capsys, "explain", run, "--user", "u1", "--item", rec["items"][0]["item_id"],
                               "--max-evals", "64", *common)
    assert code == 0, err
    assert no_network == []


def test_the_window_opens_no_network_connection(tmp_path):
    """The packaged app's own check (open the window, import the sample, train a step) with sockets blocked,
    in a process of its own so that Qt starts under the block."""
    child = textwrap.dedent('''
        import socket, sys
        def blocked(*args, **kwargs):
            print("NETWORK ATTEMPT", args, file=sys.stderr, flush=True)
            raise OSError("network blocked by the test")
        socket.socket.connect = socket.socket.connect_ex = blocked
        socket.create_connection = socket.getaddrinfo = blocked
        from recstudio.cli import main
        sys.exit(main(["--self-test"]))
    ''')
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**__import__("os").environ, "PYTHONPATH": str(PACKAGE.parent),
                               "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "recstudio self-test: OK" in done.stdout
    assert "NETWORK ATTEMPT" not in done.stderr


# -- exports ---------------------------------------------------------------------------------------

def _trained(shop, tmp_path, capsys, model="itemknn") -> tuple[Path, int]:
    log, catalogue = shop
    ws = tmp_path / "workspace.sqlite"
    code, out, err = cli(capsys, "train", log, "--items", catalogue, "--model", model, "--max-steps", "3",
                         "--set", "max_len=10", "--quiet", "--workspace", ws, "--json")
    assert code == 0, err
    return ws, out["run_id"]


def test_exported_recommendations_can_hide_user_ids(shop, tmp_path, capsys):
    ws, run = _trained(shop, tmp_path, capsys)
    plain, hidden = tmp_path / "plain.csv", tmp_path / "hidden.csv"
    assert cli(capsys, "recommend", run, "--all-users", "--output", plain, "--workspace", ws)[0] == 0
    assert cli(capsys, "recommend", run, "--all-users", "--output", hidden, "--pseudonymise", "k3y",
               "--workspace", ws)[0] == 0
    real = set(pd.read_csv(plain, dtype=str)["user_id"])
    pseudonyms = pd.read_csv(hidden, dtype=str)["user_id"]
    assert len(real) == 81 and pseudonyms.nunique() == 81
    assert pseudonyms.str.fullmatch(r"[0-9a-f]{16}").all()
    text = hidden.read_text()
    assert not any(re.search(rf"(^|,){re.escape(u)}(,|$)", text, re.M) for u in real | {"u1", "'=cmd"})


def test_csv_exports_neutralise_formulas(shop, tmp_path, capsys):
    from recstudio.gui.views.runs import export_runs_csv

    ws, run = _trained(shop, tmp_path, capsys)
    out = tmp_path / "top.csv"
    assert cli(capsys, "recommend", run, "--all-users", "--output", out, "-k", "30", "--workspace", ws)[0] == 0
    with open(out, newline="", encoding="utf-8") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells and "'=HYPERLINK(\"http://evil.example\")" in cells and "'@SUM(A1)" in cells
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)
    assert not any(c.startswith("-") and not re.fullmatch(r"-[0-9.e+-]+", c) for c in cells)  # only numbers

    rows = [{"Run": 1, "Dataset": "=cmd|' /C calc'!A0", "Model": "+sasrec", "Settings": "-x", "Status": "@done",
             "Started (UTC)": "\tlater", "Test NDCG@10": -0.5, "Duration (s)": None}]
    path = tmp_path / "runs.csv"
    export_runs_csv(rows, path)
    [written] = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    assert written == {"Run": "1", "Dataset": "'=cmd|' /C calc'!A0", "Model": "'+sasrec", "Settings": "'-x",
                       "Status": "'@done", "Started (UTC)": "'\tlater", "Test NDCG@10": "-0.5", "Duration (s)": ""}


# -- checkpoints and code that loads things --------------------------------------------------------

def test_workspace_files_are_safetensors_json_and_parquet_only(shop, tmp_path, capsys, monkeypatch):
    import pickle

    import torch

    log, catalogue = shop
    ws = tmp_path / "workspace.sqlite"
    tiny = ["--set", "max_len=10", "--set", "hidden=16", "--set", "layers=1"]
    for model, settings in (("pop", []), ("itemknn", ["--set", "max_len=10"]), ("sasrec", tiny),
                            ("sasrec-lm", [*tiny, "--set", "experts=2"])):
        code, _, err = cli(capsys, "train", log, "--items", catalogue, "--model", model, "--max-steps", "2",
                           *settings, "--quiet", "--workspace", ws, "--json")
        assert code == 0, err
    files = [p for p in (tmp_path / "workspace-files").rglob("*") if p.is_file()]
    assert files and {p.suffix for p in files} <= {".safetensors", ".json", ".parquet"}, {p.suffix for p in files}

    def refuse(*args, **kwargs):
        raise AssertionError("a pickle was about to be loaded")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    for run in (1, 2, 3, 4):
        assert cli(capsys, "recommend", run, "--user", "u1", "--workspace", ws, "--json")[0] == 0


def unsafe_loading(source: str, name: str = "<code>") -> list[str]:
    """Calls that may run code from a file: pickle-family loads, torch.load without weights_only=True,
    numpy allow_pickle, pandas read_pickle, yaml.load, eval/exec, shell=True, trust_remote_code."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        dotted = ast.unparse(func)
        kw = {k.arg: k.value for k in node.keywords if k.arg}

        def const(key, value) -> bool:
            return isinstance(kw.get(key), ast.Constant) and kw[key].value is value

        where = f"{name}:{node.lineno}: {dotted}"
        if isinstance(func, ast.Attribute) and func.attr in ("load", "loads", "Unpickler") and \
                ast.unparse(func.value) in ("pickle", "cPickle", "dill", "joblib", "marshal", "cloudpickle", "shelve"):
            found.append(where)
        elif dotted == "torch.load" and not const("weights_only", True):
            found.append(where + " without weights_only=True")
        elif dotted in ("np.load", "numpy.load") and not (const("allow_pickle", False) or "allow_pickle" not in kw):
            found.append(where + " with allow_pickle")
        elif dotted in ("pd.read_pickle", "pandas.read_pickle", "shelve.open"):
            found.append(where)
        elif dotted == "yaml.load" and "SafeLoader" not in ast.unparse(kw.get("Loader", ast.Constant(None))):
            found.append(where + " without SafeLoader")
        elif isinstance(func, ast.Name) and func.id in ("eval", "exec"):
            found.append(where)
        elif "shell" in kw and not const("shell", False):
            found.append(where + " with shell=True")
        if "trust_remote_code" in kw and not const("trust_remote_code", False):
            found.append(where + " with trust_remote_code")
    return found


def test_the_unsafe_loading_scan_finds_what_it_looks_for():
    bad = textwrap.dedent('''
        import pickle, torch, numpy as np, yaml, subprocess
        pickle.load(f); pickle.loads(b); torch.load(p); torch.load(p, weights_only=False)
        np.load(p, allow_pickle=True); yaml.load(t); eval("1"); subprocess.run("ls", shell=True)
        AutoModel.from_pretrained(x, trust_remote_code=True)
    ''')
    assert len(unsafe_loading(bad)) == 9
    good = "torch.load(p, weights_only=True); np.load(p); yaml.load(t, Loader=yaml.SafeLoader); model.eval()\n" \
           "AutoModel.from_pretrained(x, trust_remote_code=False)"
    assert unsafe_loading(good) == []


def test_no_code_in_recstudio_loads_pickles_or_remote_code():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += unsafe_loading(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert found == []
    texts = [p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".toml", ".cfg", ".txt")]
    assert not [p for p in texts if re.search(r"trust_remote_code\s*=\s*True", p.read_text(encoding="utf-8"))]


# -- SQL -------------------------------------------------------------------------------------------

def sql_built_from_values(source: str, name: str = "<code>") -> list[str]:
    """execute/query calls whose SQL text is built at run time from anything but module constants
    (an f-string of UPPER_CASE names, or the schema version number): values must go in as parameters."""
    allowed = {"version + 1"}  # PRAGMA user_version takes no parameter; an int the code computes
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany", "executescript", "query", "_rows") and node.args):
            continue
        sql = node.args[0]
        where = f"{name}:{node.lineno}: {ast.unparse(sql)[:80]}"
        if isinstance(sql, ast.JoinedStr):
            for part in sql.values:
                if isinstance(part, ast.FormattedValue):
                    text = ast.unparse(part.value)
                    if not (re.fullmatch(r"_?[A-Z][A-Z0-9_]*", text) or text in allowed):
                        found.append(where)
        elif isinstance(sql, ast.BinOp) or (isinstance(sql, ast.Call) and ast.unparse(sql.func).endswith(".format")):
            found.append(where)
    return found


def test_the_sql_scan_finds_sql_built_from_values():
    bad = 'db.execute(f"SELECT * FROM runs WHERE name = \'{name}\'"); db.execute("DELETE FROM t WHERE id=%s" % i)\n' \
          'db.query("SELECT {}".format(x)); self._rows(f"{_RUN_SELECT} WHERE id = {rid}")'
    assert len(sql_built_from_values(bad)) == 4
    good = 'db.execute("SELECT * FROM runs WHERE id = ?", [i]); self._rows(f"{_RUN_SELECT} ORDER BY runs.id")'
    assert sql_built_from_values(good) == []


def test_sql_in_recstudio_takes_values_as_parameters():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += sql_built_from_values(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert found == []


def test_hostile_names_and_ids_are_data_not_sql(shop, tmp_path, capsys):
    log, catalogue = shop
    ws = tmp_path / "workspace.sqlite"
    common = ["--workspace", ws, "--json"]
    code, imported, err = cli(capsys, "import", log, "--items", catalogue, "--name", HOSTILE_NAME, *common)
    assert code == 0 and imported["dataset"] == HOSTILE_NAME, err
    code, trained, err = cli(capsys, "train", HOSTILE_NAME, "--model", "pop", "--quiet", *common)
    assert code == 0 and trained["dataset"] == HOSTILE_NAME, err
    code, rec, _ = cli(capsys, "recommend", trained["run_id"], "--user", "=cmd|' /C calc'!A0", *common)
    assert code == 0 and rec["user"] == "=cmd|' /C calc'!A0"
    for argv in (("runs", "show", "1 OR 1=1"), ("train", "' OR '1'='1", "--model", "pop"),
                 ("recommend", "1; DROP TABLE runs", "--user", "u1")):
        code, _, err = cli(capsys, *argv, *common)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    conn = sqlite3.connect(ws)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"datasets", "runs", "curve", "artefacts"} <= tables
        assert [r[0] for r in conn.execute("SELECT name FROM datasets")] == [HOSTILE_NAME]
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    finally:
        conn.close()
    code, listing, _ = cli(capsys, "datasets", *common)
    assert [d["name"] for d in listing["datasets"]] == [HOSTILE_NAME]
