"""Render the application icon (resources/icons/recstudio.svg) as PNGs of every size desktops ask for,
plus recstudio.ico (Windows) and recstudio.icns (macOS).

    python packaging/make_icons.py

Qt's SVG renderer draws the PNGs (Pillow cannot read SVG); Pillow packs the ICO and the ICNS.
Needs PySide6 (a RecStudio dependency) and Pillow (`pip install pillow`). The outputs are committed,
so a build does not need to run this; run it again after changing the SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SVG = ICONS / "recstudio.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512)  # Pillow adds the @2x variants it can from these


def render(size: int, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        sys.exit(f"cannot read {SVG}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out), "PNG"):
        sys.exit(f"cannot write {out}")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (QImage/QPainter want one)
    png_dir = ICONS / "png"
    png_dir.mkdir(exist_ok=True)
    pngs = {}
    for size in SIZES:
        out = png_dir / f"recstudio-{size}.png"
        render(size, out)
        pngs[size] = out
    largest = Image.open(pngs[max(SIZES)]).convert("RGBA")
    largest.save(ICONS / "recstudio.ico", sizes=[(s, s) for s in ICO_SIZES])
    largest.save(ICONS / "recstudio.icns", sizes=[(s, s) for s in ICNS_SIZES])
    for path in sorted(ICONS.rglob("*")):
        if path.is_file():
            print(f"{path.relative_to(ICONS.parent.parent)}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
