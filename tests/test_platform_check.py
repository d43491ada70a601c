"""`recstudio gui` where the window cannot open: one line that names the problem and what to do, exit 2,
never Qt's abort. Run through the real entry point in a subprocess (Qt's abort would kill pytest)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from recstudio.gui import platform_check
from recstudio.gui.platform_check import PlatformProblem, missing_libraries, platform_problem

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check is for Linux desktops")


def _gui(env_changes: dict[str, str | None], prelude: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    script = textwrap.dedent(prelude) + "\nimport sys\nfrom recstudio.cli import main\nsys.exit(main(['gui']))\n"
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)


def _one_clean_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Aborted" not in result.stderr
    assert "qt.qpa" not in result.stderr  # Qt never got as far as trying
    return lines[0]


def test_no_display_is_one_line_and_exit_2():
    line = _one_clean_line(_gui({"QT_QPA_PLATFORM": None, "DISPLAY": "", "WAYLAND_DISPLAY": ""}))
    assert line.startswith("recstudio: error: the window needs a display")
    assert "xvfb-run" in line and "recstudio train --sample" in line


def test_missing_xcb_library_names_it_and_the_packages_to_install():
    prelude = """
        from recstudio.gui import platform_check
        platform_check.system_library_missing = (
            lambda name: name if name in ("libxcb-cursor.so.0", "libxkbcommon-x11.so.0") else None)
    """
    line = _one_clean_line(_gui({"QT_QPA_PLATFORM": None, "DISPLAY": ":0", "WAYLAND_DISPLAY": None}, prelude))
    assert "libxcb-cursor.so.0" in line and "libxkbcommon-x11.so.0" in line
    assert "sudo apt install libxcb-cursor0 libxkbcommon-x11-0" in line
    assert "sudo dnf install libxkbcommon-x11 xcb-util-cursor" in line
    assert "recstudio train --sample" in line


def test_the_xcb_plugin_is_read_for_what_it_links(monkeypatch):
    plugin = platform_check.xcb_plugin()
    if plugin is None:
        pytest.skip("this PySide6 has no xcb plugin")
    asked = []
    monkeypatch.setattr(platform_check, "system_library_missing",
                        lambda name: asked.append(name) or (name if name == "libxcb-icccm.so.4" else None))
    assert missing_libraries([plugin]) == ["libxcb-icccm.so.4"]
    # libQt6XcbQpa is bundled with PySide6 and read through the plugin's RUNPATH, not asked for
    assert "libQt6XcbQpa.so.6" not in asked and "libxcb-cursor.so.0" in asked


def test_an_unknown_platform_lists_the_ones_this_qt_has():
    problem = platform_problem({"QT_QPA_PLATFORM": "nosuch"})
    assert problem is not None and problem.reason == "no-plugin"
    assert "'nosuch'" in problem.message() and "offscreen" in problem.message()


def test_offscreen_needs_no_display():
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_a_wayland_session_without_a_compositor_falls_back_to_x(monkeypatch, tmp_path):
    # Qt tries wayland, then xcb: only when both fail is there a problem, and it is the X one
    env = {"WAYLAND_DISPLAY": "wayland-9", "XDG_RUNTIME_DIR": str(tmp_path), "DISPLAY": ""}
    assert platform_check.candidate_platforms(env) == ["wayland", "xcb"]
    assert platform_problem(env).reason in ("no-display", "no-connection")


def test_self_test_fails_on_missing_libraries_and_only_notes_a_missing_display(capsys):
    from recstudio.gui import selftest

    with pytest.raises(selftest.SelfTestFailed, match="libxcb-cursor0"):
        selftest._check_platforms(PlatformProblem("xcb", "libraries", ("libxcb-cursor.so.0",)))
    selftest._check_platforms(PlatformProblem("xcb", "no-display"))
    assert "tested offscreen" in capsys.readouterr().out
