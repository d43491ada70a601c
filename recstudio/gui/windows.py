"""Where the window's dialogs appear: centred on the window that opened them.

Qt centres a dialog itself only as well as it knows the window frames: with no window manager (Xvfb, a
kiosk session) it guessed and the import dialog opened against the screen's top edge. A dialog the
window opens calls :func:`centre_on_first_show` once; message boxes need nothing, Qt places them well.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget


def centre_on_parent(dialog: QWidget) -> None:
    """Move ``dialog`` so that its centre is its parent window's centre, kept inside that screen (a
    dialog taller or wider than a small screen is first made to fit, as far as its minimum size allows)."""
    parent = dialog.parentWidget()
    host = parent.window() if parent is not None else None
    if host is None or not host.isVisible():
        return
    screen = host.screen()
    area = screen.availableGeometry() if screen is not None else None
    if area is not None:
        borders = dialog.frameGeometry().size() - dialog.size()
        fitted = dialog.size().boundedTo(area.size() - borders).expandedTo(dialog.minimumSizeHint())
        if fitted != dialog.size():
            dialog.resize(fitted)
    frame = dialog.frameGeometry()
    frame.moveCenter(host.frameGeometry().center())
    if area is not None:
        frame.moveLeft(max(area.left(), min(frame.left(), area.right() + 1 - frame.width())))
        frame.moveTop(max(area.top(), min(frame.top(), area.bottom() + 1 - frame.height())))
    dialog.move(frame.topLeft())


class _CentreOnShow(QObject):
    """Centres its dialog on the first show, then leaves it where the analyst puts it."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Show:
            watched.removeEventFilter(self)
            centre_on_parent(watched)
            self.deleteLater()
        return False


def centre_on_first_show(dialog: QWidget) -> None:
    """Centre ``dialog`` on its parent window when it is first shown (before it is drawn)."""
    dialog.installEventFilter(_CentreOnShow(dialog))
