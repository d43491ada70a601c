#!/usr/bin/env bash
# Build RecStudio as one folder with PyInstaller: dist/recstudio/recstudio (plus its libraries beside it).
# Uses the active virtual environment (or $PYTHON), which must have RecStudio installed
# (pip install -e .); installs PyInstaller into it. Prints the build time and the folder's size.
#   bash packaging/build.sh && dist/recstudio/recstudio --self-test
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ]; then PYTHON="$VIRTUAL_ENV/bin/python"; else PYTHON=python3; fi
fi
"$PYTHON" -c "import recstudio" 2>/dev/null || {
  echo "build.sh: RecStudio is not installed in $PYTHON; run: $PYTHON -m pip install -e ." >&2; exit 1; }
echo "+ installing PyInstaller into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
"$PYTHON" -m pip install --quiet --disable-pip-version-check "pyinstaller>=6.10,<7"
if [ "$(uname -s)" = Linux ]; then
  # PyInstaller bundles the X libraries Qt's xcb plugin links from this machine; one missing here is
  # missing from the app too, and its users would have to install it themselves
  "$PYTHON" - <<'PY'
from recstudio.gui.platform_check import PlatformProblem, missing_libraries, xcb_plugin
plugin = xcb_plugin()
missing = missing_libraries([plugin]) if plugin else []
if missing:
    print("build.sh: warning: not bundled, as this machine lacks them:",
          PlatformProblem("xcb", "libraries", tuple(missing)).message())
PY
fi
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level "${PYINSTALLER_LOG_LEVEL:-WARN}" \
  --distpath dist --workpath build/pyinstaller packaging/recstudio.spec
seconds=$(( $(date +%s) - start ))
app=dist/recstudio/recstudio
[ -x "$app" ] || [ -x "$app.exe" ] || { echo "build.sh: $app was not made" >&2; exit 1; }
echo "Built $app in ${seconds} s; dist/recstudio is $(du -sh dist/recstudio | cut -f1)" \
     "($(find dist/recstudio -type f | wc -l) files)"
