"""House rules that keep the layers apart: Qt lives only in recstudio/gui; heavy imports stay lazy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "recstudio"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "superqt", "qtpy")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_outside_gui_imports_qt():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "gui" in path.relative_to(PACKAGE).parts:
            continue
        for name in _imports(path):
            if name.split(".")[0] in QT_MODULES:
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_core_packages_import_without_torch_or_qt():
    code = ("import sys\n"
            "import recstudio.cli, recstudio.data, recstudio.workspace, recstudio.models, recstudio.evaluation, "
            "recstudio.runs, recstudio.training\n"
            "heavy = [m for m in ('torch', 'transformers', 'shap', 'PySide6') if m in sys.modules]\n"
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- floors ---------------------------------------------------------------------------------------
#: The house, top floor first. A module may import its own floor and the floors below it, never above
#: (as napari's import-linter layers contract). ``gui`` and ``cli`` are the two doors; ``runs`` is what
#: they open onto; ``devices`` and ``errors`` are the ground everything stands on.
FLOORS = (
    ("gui", "cli", "cli_runs", "terminal", "__main__"),
    ("runs",),
    ("explain", "training"),
    ("models", "evaluation", "workspace", "knowledge"),
    ("data",),
    ("devices", "errors", "resources", "drive"),
)


def _floor(part: str) -> int:
    for level, names in enumerate(FLOORS):
        if part in names:
            return level
    raise AssertionError(f"recstudio.{part} is on no floor: add it to FLOORS in tests/test_architecture.py")


def _part(module: str) -> str | None:
    """The top package (or ground-floor module) under recstudio that ``module`` names."""
    pieces = module.split(".")
    return pieces[1] if pieces[0] == "recstudio" and len(pieces) > 1 else None


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts == ("__init__.py",):
            continue
        yield path, relative.parts[0].removesuffix(".py")


def _import_nodes(path: Path):
    """(module imported, names taken from it, line) for every import in the file, lazy ones included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: use absolute imports (from recstudio.x import y)"
            yield node.module, tuple(alias.name for alias in node.names), node.lineno


def layer_violations() -> list[str]:
    offenders = []
    for path, part in _modules():
        own = _floor(part)
        for module, _, line in _import_nodes(path):
            target = _part(module)
            if target is None or target == part:
                continue
            if _floor(target) < own:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({part}) imports {module}, a floor above")
    return offenders


def test_each_floor_imports_only_its_own_and_those_below():
    offenders = layer_violations()
    assert not offenders, "\n".join(offenders)


def test_a_floor_above_is_caught(tmp_path, monkeypatch):
    """The rule itself: a lower module importing from a higher one is reported."""
    package = tmp_path / "recstudio"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "leaky.py").write_text("def f():\n    from recstudio.runs import train_run\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert layer_violations() == ["recstudio/data/leaky.py:2 (data) imports recstudio.runs, a floor above"]


def test_no_module_takes_another_modules_private_names():
    offenders = []
    for path, _ in _modules():
        this = ".".join(("recstudio",) + path.relative_to(PACKAGE).with_suffix("").parts)
        for module, names, line in _import_nodes(path):
            if not module.startswith("recstudio") or module == this:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private or any(p.startswith("_") and not p.startswith("__") for p in module.split(".")):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} takes {module}:{private or module}")
    assert not offenders, "\n".join(offenders)


def _lines_matching(pattern: str, where) -> list[str]:
    import re

    found = []
    for path, _ in _modules():
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if not where(relative):
            continue
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(pattern, text) and not text.lstrip().startswith("#"):
                found.append(f"{relative}:{n}: {text.strip()}")
    return found


def test_threads_start_only_in_the_job_runner():
    found = _lines_matching(r"threading\.Thread\b|\bQThread\b|create_worker", lambda p: p != "recstudio/gui/jobs.py")
    assert not found, "start background work through recstudio.gui.jobs.JobRunner:\n" + "\n".join(found)


#: Where a run's stored config blob may be read as a dict: RunConfig itself, and the workspace's record
#: for the one key the workspace writes there itself (where ``import_run`` copied a run from).
CONFIG_READERS = {"recstudio/runs/record.py", "recstudio/workspace/records.py"}


def test_run_settings_are_read_through_the_run_record():
    found = _lines_matching(r"\.config\.get\(|config or \{\}\)\.get\(|config or \{\}\)\[",
                            lambda p: p not in CONFIG_READERS)
    assert not found, "read a run's config through recstudio.runs.RunConfig:\n" + "\n".join(found)


def test_runs_and_explain_ask_models_instead_of_probing_them():
    found = _lines_matching(r"\bhasattr\(", lambda p: p.startswith(("recstudio/runs/", "recstudio/explain/")))
    assert not found, "give the model a method on Recommender instead of hasattr probing:\n" + "\n".join(found)


#: Long modules that are one cohesive job each (the CSV importer's phases; the command line's parsers).
LONG_ON_PURPOSE = {"recstudio/data/importer.py"}
MAX_LINES = 600


def test_modules_stay_short():
    long = []
    for path, _ in _modules():
        relative = path.relative_to(PACKAGE.parent).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and relative not in LONG_ON_PURPOSE:
            long.append(f"{relative}: {lines} lines")
    assert not long, f"split modules over {MAX_LINES} lines (a view becomes a folder):\n" + "\n".join(long)
