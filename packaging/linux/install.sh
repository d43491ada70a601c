#!/usr/bin/env bash
# Install the built app (dist/recstudio) for one user, or system-wide with PREFIX=/usr/local (as root):
# the program folder, a `recstudio` command, the launcher, the AppStream metadata and the icons.
#   bash packaging/linux/install.sh            # into ~/.local
#   bash packaging/linux/install.sh --uninstall
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PREFIX="${PREFIX:-$HOME/.local}"
id=org.recstudio.RecStudio
app_dir="$PREFIX/lib/recstudio"
share="$PREFIX/share"

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$app_dir" "$PREFIX/bin/recstudio" "$share/applications/$id.desktop" "$share/metainfo/$id.metainfo.xml"
  find "$share/icons/hicolor" -name "$id.*" -delete 2>/dev/null || true
  echo "RecStudio removed from $PREFIX"
  exit 0
fi
[ -x "$root/dist/recstudio/recstudio" ] || { echo "Build it first: bash packaging/build.sh" >&2; exit 1; }
mkdir -p "$app_dir" "$PREFIX/bin" "$share/applications" "$share/metainfo"
rm -rf "$app_dir"
cp -a "$root/dist/recstudio" "$app_dir"
ln -sf "$app_dir/recstudio" "$PREFIX/bin/recstudio"
# the launcher names the installed program by its full path, so it works without $PREFIX/bin on PATH
sed -e "s|^Exec=recstudio |Exec=$app_dir/recstudio |" -e "s|^TryExec=recstudio$|TryExec=$app_dir/recstudio|" \
  "$here/$id.desktop" > "$share/applications/$id.desktop"
cp "$here/$id.metainfo.xml" "$share/metainfo/"
for png in "$root"/resources/icons/png/recstudio-*.png; do
  size="${png##*-}"; size="${size%.png}"
  mkdir -p "$share/icons/hicolor/${size}x${size}/apps"
  cp "$png" "$share/icons/hicolor/${size}x${size}/apps/$id.png"
done
mkdir -p "$share/icons/hicolor/scalable/apps"
cp "$root/resources/icons/recstudio.svg" "$share/icons/hicolor/scalable/apps/$id.svg"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$share/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
echo "RecStudio installed in $app_dir; start it from the applications menu or with: recstudio"
