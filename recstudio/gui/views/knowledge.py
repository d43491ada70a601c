"""The Knowledge page: what a language model knows about the catalogue, as a map.

Each item's text (rendered by the template) is encoded by the text encoder the language-model models
use; the vectors are laid out in 2-D by PCA and drawn as a scatter coloured by category. Hovering a
point shows the item; clicking it lists the items whose text is nearest (cosine), which is where
text-fused models start an item that has no behaviour yet.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QSplitter, QStackedWidget, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from recstudio.gui import tasks
from recstudio.gui.plots import RUN_COLOURS, colour_icon, make_plot_widget

JOB_NAME = "Item text map"
#: Categories drawn in their own colour (the most common ones); the rest share a grey.
MAX_COLOURED = len(RUN_COLOURS)
OTHER_COLOUR = "#b0b0b0"
#: Points added to the map per turn of the event loop: pyqtgraph spends a Python loop iteration per point
#: adding them (0.4 s for 50k), so a large catalogue is drawn in slices and the window keeps answering.
DRAW_SLICE = 4000


def category_colours(groups: list[str]) -> dict[str, str]:
    """The most common categories, most common first, each with a colour; others are grey."""
    values, counts = np.unique(np.array([g for g in groups if g], dtype=object), return_counts=True)
    order = sorted(zip(values.tolist(), counts.tolist()), key=lambda vc: (-vc[1], vc[0]))
    return {name: RUN_COLOURS[i] for i, (name, _count) in enumerate(order[:MAX_COLOURED])}


class KnowledgeView(QWidget):
    def __init__(self, context, parent: QWidget | None = None):
        super().__init__(parent)
        from recstudio.gui.views.training import EncoderPicker
        from recstudio.knowledge import DEFAULT_TEMPLATE

        self.setObjectName("knowledgeView")
        self.context = context
        self.map = None
        self._map_for: int | None = None
        self._running = False

        self.empty = QLabel("Open a dataset with an item catalogue to see what a language model knows about it.")
        self.empty.setObjectName("knowledgeEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text);")

        self.encoder = EncoderPicker("")
        self.encoder.setToolTip("The text encoder: empty for the bundled all-MiniLM-L6-v2, a model folder, or a hub id.")
        self.template = QLineEdit(DEFAULT_TEMPLATE)
        self.template.setObjectName("knowledgeTemplate")
        self.template.setToolTip("How each catalogue row becomes text; {column} reads a column.")
        self.map_button = QPushButton("Map item text")
        self.map_button.setObjectName("mapButton")
        self.map_button.clicked.connect(self.build_map)
        self.status = QLabel()
        self.status.setObjectName("knowledgeStatus")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Encoder", self.encoder)
        form.addRow("Template", self.template)
        top = QHBoxLayout()
        top.addLayout(form, 1)
        top.addWidget(self.map_button, 0, Qt.AlignmentFlag.AlignBottom)

        self.plot_widget = make_plot_widget(self, left="", bottom="", legend_corner="top-right")
        self.plot_widget.setObjectName("knowledgeMap")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setTitle("Item text, first two principal components",
                           color=self.palette().color(QPalette.ColorRole.Text), size="10pt")
        # one scatter per colour (the most common categories, then the rest in grey): a per-point brush
        # list costs pyqtgraph a Python loop per point (0.4 s for 50k items), one brush per layer does not
        self.layers: list[pg.ScatterPlotItem] = []
        self.selected_marker = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#000000", width=2), brush=None, symbol="o")
        self.selected_marker.setZValue(10)
        self.plot.addItem(self.selected_marker)
        self._legend_items: list[pg.ScatterPlotItem] = []  # the layers named in the legend
        self._colours: dict[str, str] = {}
        self._to_draw: list[tuple[pg.ScatterPlotItem, np.ndarray, np.ndarray]] = []  # (layer, coords, items)
        self._draw_timer = QTimer(self, singleShot=True, interval=0)
        self._draw_timer.timeout.connect(self._draw_slice)

        self.selected_label = QLabel("Click an item on the map to see the items whose text is nearest.")
        self.selected_label.setObjectName("selectedItem")
        self.selected_label.setWordWrap(True)
        self.neighbours = QTableWidget(0, 3)
        self.neighbours.setObjectName("neighbourTable")
        self.neighbours.setHorizontalHeaderLabels(["Title", "Category", "Similarity"])
        self.neighbours.verticalHeader().setVisible(False)
        self.neighbours.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.neighbours.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.selected_label)
        side_layout.addWidget(self.neighbours, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plot_widget)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(top)
        column.addWidget(self.status)
        column.addWidget(splitter, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.stack)

        runner = context.runner
        runner.result.connect(self._job_result)
        runner.error.connect(self._job_error)
        runner.finished.connect(self._job_finished)
        runner.busy_changed.connect(lambda _busy: self._update_controls())
        context.dataset_changed.connect(self._dataset_changed)
        self._dataset_changed(context.dataset)

    # state ----------------------------------------------------------------------------------
    def _dataset_changed(self, record) -> None:
        self.stack.setCurrentIndex(0 if record is None else 1)
        if record is not None and record.id != self._map_for:
            self._clear()
            self.status.setText(f"Dataset {record.name}: {record.n_items:,} items. Press “Map item text” to "
                                "encode their text (cached: the second time is instant).")
        self._update_controls()

    def _update_controls(self) -> None:
        busy = self.context.runner.busy
        self.map_button.setEnabled(self.context.dataset is not None and not busy)

    def _clear(self) -> None:
        self.map = None
        self._map_for = None
        self._draw_timer.stop()
        self._to_draw = []
        self.selected_marker.setData([], [])
        self.neighbours.setRowCount(0)
        for layer in self.layers:
            self.plot.removeItem(layer)  # and its legend entry
        self.layers, self._legend_items, self._colours = [], [], {}

    def _add_layer(self, coords: np.ndarray, indices: np.ndarray, brush, name: str | None) -> None:
        layer = pg.ScatterPlotItem(size=7, pen=None, brush=brush, hoverable=True, hoverSize=11,
                                   hoverPen=pg.mkPen(self.palette().color(QPalette.ColorRole.Text), width=1.5),
                                   tip=self._tip, name=name)
        layer.setData(pos=np.zeros((0, 2)), data=np.zeros(0, dtype=np.int64))
        for start in range(0, len(indices), DRAW_SLICE):
            part = indices[start:start + DRAW_SLICE]
            self._to_draw.append((layer, coords[part], part))
        layer.sigClicked.connect(self._clicked)
        self.plot.addItem(layer)
        self.layers.append(layer)
        if name is not None:
            self._legend_items.append(layer)

    # the job --------------------------------------------------------------------------------
    def build_map(self) -> bool:
        record = self.context.dataset
        if record is None:
            return False
        started = self.context.runner.start(JOB_NAME, tasks.knowledge_map_task, str(self.context.workspace_path),
                                            record.id, self.encoder.text(), self.template.text())
        if started:
            self._running = True
            self.status.setText("Encoding item text…")
        return started

    def _job_result(self, name: str, item_map) -> None:
        if name != JOB_NAME or not self._running:
            return
        if item_map is None:
            self.status.setText("Stopped before the map was finished.")
            return
        self.show_map(item_map, self.context.dataset.id if self.context.dataset else None)

    def _job_error(self, name: str, exc) -> None:
        if name == JOB_NAME and self._running:
            self.status.setText(f"No map: {exc}")

    def _job_finished(self, name: str) -> None:
        if name == JOB_NAME:
            self._running = False
        self._update_controls()

    # drawing --------------------------------------------------------------------------------
    def show_map(self, item_map, dataset_id: int | None) -> None:
        self._clear()
        self.map, self._map_for = item_map, dataset_id
        colours = self._colours = category_colours(item_map.groups)
        groups = np.asarray(item_map.groups, dtype=object)
        coords = np.asarray(item_map.coords)
        in_colour = np.zeros(len(groups), dtype=bool)
        layers = []
        for name, colour in colours.items():
            members = groups == name
            in_colour |= members
            layers.append((np.flatnonzero(members), pg.mkBrush(QColor(colour).red(), QColor(colour).green(),
                                                               QColor(colour).blue(), 190), name))
        for indices, brush, name in layers:
            self._add_layer(coords, indices, brush, name)
        rest = np.flatnonzero(~in_colour)
        if len(rest):  # drawn under the coloured ones; in the legend only beside named colours
            self._add_layer(coords, rest, pg.mkBrush(OTHER_COLOUR), "other / none" if colours else None)
            self.layers[-1].setZValue(-1)
        self._draw_slice()  # the first slice now (a small catalogue is drawn whole), the rest as the loop turns
        legend = self.plot.legend
        if legend is not None:
            legend.setVisible(bool(self._legend_items))
        self.neighbours.setColumnHidden(1, not colours)  # a catalogue without categories
        a, b = item_map.explained
        self.plot.setLabel("bottom", f"PC 1 ({a:.0%} of the variance)")
        self.plot.setLabel("left", f"PC 2 ({b:.0%})")
        self.plot.enableAutoRange()
        coloured = ", coloured by category" if colours else " (one colour: the catalogue has no category column)"
        self.status.setText(f"{len(item_map.titles):,} items encoded by {item_map.encoder or 'the text encoder'}"
                            f"{coloured}. Hover a point for its item; click it for its nearest neighbours.")

    @property
    def drawing(self) -> bool:
        """Points of the map are still being added."""
        return bool(self._to_draw)

    def _draw_slice(self) -> None:
        budget = DRAW_SLICE
        while self._to_draw and budget > 0:
            layer, coords, items = self._to_draw.pop(0)
            layer.addPoints(pos=coords, data=items)
            budget -= len(items)
        if self._to_draw:
            self._draw_timer.start()

    def _tip(self, x, y, data) -> str:
        if self.map is None:
            return ""
        i = int(data)
        group = self.map.groups[i]
        return f"{self.map.titles[i]}" + (f"\n{group}" if group else "")

    def _clicked(self, _item, points, _event=None) -> None:
        if len(points):
            self.select_item(int(points[0].data()))

    def select_item(self, index: int, k: int = 10) -> list[tuple[int, float]]:
        """Mark an item and list its nearest neighbours by text."""
        if self.map is None:
            return []
        self.selected_marker.setData(pos=self.map.coords[[index]])
        self.selected_label.setText(f"<b>{self.map.titles[index]}</b><br>{self.map.texts[index]}")
        near = self.map.nearest(index, k)
        self.neighbours.setRowCount(len(near))
        colours = self._colours
        for row, (j, sim) in enumerate(near):
            title = QTableWidgetItem(self.map.titles[j])
            title.setToolTip(self.map.texts[j])
            group = QTableWidgetItem(self.map.groups[j])
            group.setIcon(colour_icon(colours.get(self.map.groups[j], OTHER_COLOUR)))
            value = QTableWidgetItem(f"{sim:.3f}")
            value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for col, cell in enumerate((title, group, value)):
                self.neighbours.setItem(row, col, cell)
        return near
