"""The import dialog's preview of the file's first rows: columns that fill the dialog's width as it is
resized, a long column cut to a shared cap (its cells elided, the whole value in the tooltip)."""

from __future__ import annotations

import pandas as pd
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

#: No preview column is made narrower than this (px): below it a value is only its first letters.
MIN_COLUMN = 72


def column_widths(natural: list[int], available: int, floor: int = MIN_COLUMN) -> list[int]:
    """Widths that fill ``available`` pixels: every column at its ``natural`` width plus a share of the
    spare room in proportion to it when they fit; when they do not, the widest are cut to one cap
    (short columns keep their width), none below ``floor`` (then the table scrolls)."""
    if not natural:
        return []
    natural = [max(int(n), floor) for n in natural]
    total = sum(natural)
    if total <= available:
        widths = [n + (available - total) * n // total for n in natural]
    else:
        cap, rest, left = floor, len(natural), available
        for n in sorted(natural):  # water-filling: the cap that the widest columns share
            if n * rest > left:
                cap = max(floor, left // rest)
                break
            left -= n
            rest -= 1
        widths = [min(n, cap) for n in natural]
    spare = available - sum(widths)
    if spare > 0:  # rounding: the widest column takes the last pixels
        widest = max(range(len(widths)), key=widths.__getitem__)
        widths[widest] += spare
    return widths


class PreviewTable(QTableWidget):
    """The first rows of the file as text; see the module docstring for the sizing. A column the analyst
    drags to another width stops the automatic sizing."""

    def __init__(self, rows: pd.DataFrame, parent=None):
        super().__init__(len(rows), len(rows.columns), parent)
        self.setObjectName("previewTable")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().setDefaultSectionSize(22)
        for r in range(len(rows)):
            for c in range(len(rows.columns)):
                value = rows.iloc[r, c]
                text = "" if pd.isna(value) else str(value)
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                self.setItem(r, c, cell)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.user_sized = False
        self._fitting = False
        header.sectionResized.connect(self._section_resized)

    def natural_widths(self) -> list[int]:
        """Each column's width for its longest cell or its header, with a little room."""
        header = self.horizontalHeader()
        return [max(self.sizeHintForColumn(c), header.sectionSizeFromContents(c).width()) + 12
                for c in range(self.columnCount())]

    def fit_columns(self) -> None:
        """Size the columns to fill the visible width (see :func:`column_widths`)."""
        if self.user_sized or self.columnCount() == 0:
            return
        self._fitting = True
        try:
            for column, width in enumerate(column_widths(self.natural_widths(), self.viewport().width())):
                self.setColumnWidth(column, width)
        finally:
            self._fitting = False

    def _section_resized(self, *_args) -> None:
        if not self._fitting:
            self.user_sized = True

    def viewportEvent(self, event) -> bool:  # noqa: N802 (Qt's name)
        # the visible width changes with the dialog and when the vertical scroll bar comes and goes
        handled = super().viewportEvent(event)
        if event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return handled
