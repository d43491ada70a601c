"""Can the window open here? Asked before any Qt GUI library is loaded, because Qt's own answer to "no"
is an abort (exit 134) with "could not load the Qt platform plugin … Reinstalling the application may fix
this problem", which names neither the missing system library nor the package that brings it.

PySide6 wheels bundle Qt but not the X11/Wayland client libraries of the system (libxcb-cursor,
libxkbcommon-x11, …): pip cannot install them, many desktop installs lack a few. The check follows Qt's
own choice of platform (``QT_QPA_PLATFORM``, else Wayland when the session is Wayland, then xcb), reads
the ``DT_NEEDED`` entries of the platform plugin and of the bundled Qt libraries it links (ELF, no
tools needed), resolves bundled ones through their ``RUNPATH`` and asks the dynamic loader for the rest.
For xcb it also tries to connect to the X server, so a stale ``DISPLAY`` is named too.

Linux only; on Windows and macOS Qt's platform plugins need nothing outside the wheel.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import struct
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: Platforms that draw nowhere and so need no display (the tests', the self-test's).
HEADLESS = {"offscreen", "minimal", "vnc"}

#: soname → (Debian/Ubuntu package, Fedora package) for the libraries Qt's xcb and Wayland plugins and
#: QtGui link that a minimal system may lack. Others are named by their soname.
PACKAGES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl"),
}


@dataclass(frozen=True)
class PlatformProblem:
    """Why the window cannot open, and what to do about it."""

    platform: str
    reason: str  # "no-display", "libraries", "no-plugin", "no-connection"
    missing: tuple[str, ...] = ()
    detail: str = ""

    def message(self) -> str:
        """One line: what is wrong, how to fix it, and the command-line way meanwhile."""
        headless = "without a display, `recstudio train --sample` does the same work from the command line"
        if self.reason == "no-display":
            return ("the window needs a display, and there is none (DISPLAY and WAYLAND_DISPLAY are not set): "
                    "run it in a desktop session, over `ssh -X`, or under `xvfb-run recstudio gui`; "
                    f"{headless}.")
        if self.reason == "no-connection":
            return (f"the window cannot connect to the display {self.detail}: check that its server is running "
                    f"and that this user may use it (X: `xhost`, XAUTHORITY), or use `xvfb-run recstudio gui`; "
                    f"{headless}.")
        if self.reason == "no-plugin":
            return (f"Qt has no {self.platform!r} platform plugin{self.detail}: unset QT_QPA_PLATFORM or set it "
                    f"to one of these; {headless}.")
        debian = sorted({PACKAGES[name][0] for name in self.missing if name in PACKAGES})
        fedora = sorted({PACKAGES[name][1] for name in self.missing if name in PACKAGES})
        unknown = [name for name in self.missing if name not in PACKAGES]
        fixes = []
        if debian:
            fixes.append(f"`sudo apt install {' '.join(debian)}` (Debian/Ubuntu)")
            fixes.append(f"`sudo dnf install {' '.join(fedora)}` (Fedora)")
        if unknown:
            fixes.append(f"the package that provides {', '.join(unknown)} (Debian: `apt-file search {unknown[0]}`)")
        return (f"the window cannot open: Qt's {self.platform} platform needs system libraries that are missing "
                f"({', '.join(self.missing)}); install {' or '.join(fixes)}; {headless}.")


def platform_problem(environ: dict[str, str] | None = None) -> PlatformProblem | None:
    """None when Qt can open a window with the platform it would choose; else why not. Call before
    importing PySide6.QtGui (whose own libraries are part of what is checked)."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None
    qt = _qt_folder()
    if qt is None:
        return None  # no PySide6 at all: the import error says so itself
    problems = []
    for platform in candidate_platforms(env):
        problem = _check(platform, env, qt)
        if problem is None:
            return None  # Qt takes the first platform that loads
        problems.append(problem)
    # the most useful one to say: a library to install beats "no display" from a Wayland attempt
    order = ("libraries", "no-connection", "no-plugin", "no-display")
    return min(problems, key=lambda p: order.index(p.reason)) if problems else None


def candidate_platforms(env) -> list[str]:
    """The platforms Qt will try, in its order (qguiapplication.cpp: QT_QPA_PLATFORM wins; otherwise
    Wayland first in a Wayland session, then xcb)."""
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return [name.split(":")[0].strip() for name in chosen.split(";") if name.strip()]
    names = []
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        names.append("wayland")
    names.append("xcb")
    return names


def _check(platform: str, env, qt: Path) -> PlatformProblem | None:
    if platform == "xcb" and not env.get("DISPLAY"):
        return PlatformProblem(platform, "no-display")
    if platform.startswith("wayland"):
        runtime = env.get("XDG_RUNTIME_DIR", "")
        socket = Path(runtime, env.get("WAYLAND_DISPLAY") or "wayland-0")  # Qt's default socket
        if not (runtime or socket.is_absolute()) or not socket.exists():
            if env.get("WAYLAND_DISPLAY"):
                return PlatformProblem(platform, "no-connection", detail=f"{env['WAYLAND_DISPLAY']!r} (Wayland: "
                                       f"no socket {socket})")
            return PlatformProblem(platform, "no-display")
    plugin = _plugin_file(platform, qt, env)
    if plugin is None:
        available = sorted({p.name[4:-3] for folder in _plugin_folders(qt, env) for p in folder.glob("libq*.so")})
        return PlatformProblem(platform, "no-plugin", detail=f" (this Qt has: {', '.join(available)})"
                               if available else "")
    missing = missing_libraries([plugin, qt / "lib" / "libQt6Widgets.so.6"])
    if missing:
        return PlatformProblem(platform, "libraries", tuple(missing))
    if platform == "xcb" and not _x_display_answers(env["DISPLAY"]):
        return PlatformProblem(platform, "no-connection", detail=f"{env['DISPLAY']!r} (X11)")
    return None


def _qt_folder() -> Path | None:
    """PySide6's Qt folder (plugins/, lib/), found without importing PySide6's Qt modules."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "Qt"
        if folder.is_dir():
            return folder
    return None


def _plugin_folders(qt: Path, env) -> list[Path]:
    folders = [Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"])] if env.get("QT_QPA_PLATFORM_PLUGIN_PATH") else []
    folders.append(qt / "plugins" / "platforms")
    return [folder for folder in folders if folder.is_dir()]


def _plugin_file(platform: str, qt: Path, env) -> Path | None:
    for folder in _plugin_folders(qt, env):
        exact = folder / f"libq{platform}.so"
        if exact.is_file():
            return exact
        if platform == "wayland":  # Qt before 6.8 shipped libqwayland-egl.so and libqwayland-generic.so
            found = sorted(folder.glob("libqwayland*.so"))
            if found:
                return found[0]
    return None


# the libraries --------------------------------------------------------------------------------------
def missing_libraries(objects: list[Path]) -> list[str]:
    """The sonames these ELF objects need, directly or through the libraries bundled beside them,
    that the dynamic loader cannot find (in the order first needed)."""
    missing: list[str] = []
    seen: set[Path] = set()
    todo = [Path(p) for p in objects if Path(p).is_file()]
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        needed, search = _dynamic_entries(current)
        search += _bundle_folders()
        for name in needed:
            bundled = next((folder / name for folder in search if (folder / name).is_file()), None)
            if bundled is not None:
                todo.append(bundled)
                continue
            absent = system_library_missing(name)
            if absent and absent not in missing:
                missing.append(absent)
    return missing


def _bundle_folders() -> list[Path]:
    """A packaged app's own library folder (PyInstaller puts the system libraries it collected there)."""
    bundle = getattr(sys, "_MEIPASS", None)
    return [Path(bundle)] if getattr(sys, "frozen", False) and bundle else []


def xcb_plugin() -> Path | None:
    """Qt's xcb platform plugin in this installation (for the packaging script's check)."""
    qt = _qt_folder()
    return None if qt is None else _plugin_file("xcb", qt, {})


def system_library_missing(soname: str) -> str | None:
    """None when the dynamic loader can load ``soname``; else the library it could not find (the soname
    itself, or a library that one needs in turn, as the loader's message names it)."""
    return _loader_answer(soname)


@lru_cache(maxsize=None)
def _loader_answer(soname: str) -> str | None:
    try:
        ctypes.CDLL(soname)
        return None
    except OSError as exc:
        text = str(exc)
        first = text.split(":", 1)[0].strip()
        return first if first.startswith("lib") and ".so" in first else soname


def _dynamic_entries(path: Path) -> tuple[list[str], list[Path]]:
    """(DT_NEEDED sonames, RUNPATH/RPATH folders with $ORIGIN resolved) of an ELF shared object."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            return [], []
        wide, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
        header = f.read(48 if wide else 36)
        if wide:
            shoff, shentsize, shnum = struct.unpack(order + "24xQ10xHH2x", header)
        else:
            shoff, shentsize, shnum = struct.unpack(order + "16xI10xHH2x", header)
        f.seek(shoff)
        sections = []
        for _ in range(shnum):
            raw = f.read(shentsize)
            if wide:
                _name, kind, _flags, _addr, offset, size, link = struct.unpack(order + "IIQQQQI", raw[:44])
            else:
                _name, kind, _flags, _addr, offset, size, link = struct.unpack(order + "IIIIIII", raw[:28])
            sections.append((kind, offset, size, link))
        dynamic = next((s for s in sections if s[0] == 6), None)  # SHT_DYNAMIC
        if dynamic is None:
            return [], []
        _kind, offset, size, link = dynamic
        f.seek(offset)
        raw = f.read(size)
        _k, str_offset, str_size, _l = sections[link]
        f.seek(str_offset)
        strings = f.read(str_size)
    entry = struct.Struct(order + ("qQ" if wide else "iI"))
    needed, paths = [], []
    for tag, value in entry.iter_unpack(raw[: len(raw) - len(raw) % entry.size]):
        if tag == 0:
            break
        if tag not in (1, 15, 29):
            continue
        text = strings[value: strings.index(b"\0", value)].decode("utf-8", "replace")
        if tag == 1:  # DT_NEEDED
            needed.append(text)
        elif tag in (15, 29):  # DT_RPATH, DT_RUNPATH
            paths += [Path(p.replace("$ORIGIN", str(path.parent)).replace("${ORIGIN}", str(path.parent)))
                      for p in text.split(":") if p]
    return needed, [path.parent, *paths]


def _x_display_answers(display: str) -> bool:
    """Whether an X server accepts a connection on ``display`` (libxcb, as Qt's xcb plugin connects)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # its absence is reported as a missing library
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def exit_if_window_cannot_open() -> int | None:
    """For the entry points: print the problem on one line and give exit status 2, or None to go on."""
    problem = platform_problem()
    if problem is None:
        return None
    print(f"recstudio: error: {problem.message()}", file=sys.stderr)
    return 2
