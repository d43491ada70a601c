"""What the packaged app relies on: launcher and AppStream files that validate, one version everywhere,
icons in every size, resources found from the source tree and from a frozen bundle, and a self-test
that says clearly when it fails. (The build itself is a CI step of its own, not a test.)"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "org.recstudio.RecStudio"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"


def pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils is not installed")
def test_desktop_file_validates():
    done = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstream is not installed")
def test_metainfo_validates():
    done = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_name_version_and_id_everywhere():
    from recstudio import __version__

    project = pyproject()
    assert "recstudio" in project["scripts"] and project["version"] == __version__
    meta = ET.parse(METAINFO).getroot()
    assert meta.findtext("id") == APP_ID
    assert meta.find("releases/release").get("version") == __version__  # the newest release comes first
    assert meta.find("launchable").text == DESKTOP.name
    assert meta.find("provides/binary").text == next(iter(project["scripts"]))
    entry = ConfigParser(interpolation=None)
    entry.read(DESKTOP, encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Icon"] == APP_ID and desktop["Name"] == meta.findtext("name")
    assert desktop["Exec"].split()[:2] == ["recstudio", "gui"]  # `recstudio gui FILE` opens a file in the window


def test_icons_in_every_size():
    icons = ROOT / "resources" / "icons"
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        png = icons / "png" / f"recstudio-{size}.png"
        header = png.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (size, size)
    assert (icons / "recstudio.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (icons / "recstudio.icns").read_bytes()[:4] == b"icns"
    assert (icons / "recstudio.svg").read_text().lstrip().startswith("<svg")


def test_resources_from_the_tree_and_from_a_bundle(tmp_path, monkeypatch):
    from recstudio import resources

    monkeypatch.delenv("RECSTUDIO_RESOURCES", raising=False)
    assert resources.resources_dir() == ROOT / "resources"
    assert (resources.resources_dir() / "sample" / "ATTRIBUTION.md").is_file()
    assert resources.icon_files()[0].name == "recstudio-512.png" and resources.icon_files()[-1].suffix == ".svg"
    # PyInstaller unpacks the data files under sys._MEIPASS and sets sys.frozen
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resources_dir() == tmp_path / "resources"
    monkeypatch.setenv("RECSTUDIO_RESOURCES", str(tmp_path / "elsewhere"))
    assert resources.resources_dir() == tmp_path / "elsewhere"


def test_self_test_says_what_failed(tmp_path):
    env = {**os.environ, "RECSTUDIO_RESOURCES": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "recstudio", "--self-test"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"recstudio self-test: FAILED: no application icon in {tmp_path / 'icons'}"
    assert "Traceback" not in done.stderr


def test_the_spec_and_the_build_script_agree():
    spec = (ROOT / "packaging" / "recstudio.spec").read_text()
    build = (ROOT / "packaging" / "build.sh").read_text()
    assert "pyproject.toml" in spec and 'PROJECT["version"]' in spec and 'PROJECT["scripts"]' in spec
    assert "dist/recstudio/recstudio" in build and "pip install" in build and "pyinstaller" in build.lower()
