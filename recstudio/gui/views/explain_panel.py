"""The inspector's explanation panel: why one recommendation, as a bar chart of the Shapley values of
the history events (or of its baskets, a choice), the score's parts, a sentence grounded in them, the
user's interests, and Export."""

from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget,
)

#: Bars shown in the chart: the events with the largest |value|.
CHART_BARS = 8
#: The x axis caption, longest first: the first that fits the axis' width is shown (a narrow pane cut it).
AXIS_CAPTIONS = ("contribution to the score", "score contribution", "contribution")
POSITIVE, NEGATIVE = QColor(27, 120, 55), QColor(178, 24, 43)  # green / red (ColorBrewer PRGn/RdBu ends)
#: What a bar stands for (the values of recstudio.explain.ATTRIBUTION_UNITS; kept here so the panel stays light).
EVENTS, BASKETS = "events", "baskets"
NO_BASKETS_HINT = "This history has no basket of more than one line, so each event is its own basket."
OVER_HINT = ("Each event: one bar per history event. Each basket: one bar per basket (the lines of one invoice, "
             "or events sharing a time), all its lines removed or kept together. Either way the bars add up to "
             "the score minus the base.")


def tint_for(value: float, scale: float) -> QColor | None:
    """A light background for a history row: green for a positive attribution, red for a negative one,
    stronger with |value| / ``scale``; None when the event did not matter."""
    if scale <= 0 or not np.isfinite(value) or abs(value) < 1e-9:
        return None
    strength = min(1.0, abs(value) / scale)
    base = POSITIVE if value > 0 else NEGATIVE
    alpha = int(40 + 140 * strength)
    return QColor(base.red(), base.green(), base.blue(), alpha)


def bar_label(attribution, i: int) -> str:
    """A bar's name: the event's title; a basket of several lines by its day and size ('2011-03-16 · 8
    lines', the same basket as the tinted row in the history), else by its label ('Tea cup + 7 more')."""
    if getattr(attribution, "over", EVENTS) == BASKETS:
        lines, when = len(attribution.player_events(i)), attribution.timestamps[i]
        if lines > 1 and when:
            return f"{str(when)[:10]} · {lines} lines"
    return str(attribution.titles[i])


class ExplanationPanel(QWidget):
    """Shows an :class:`recstudio.explain.jobs.Explained`; the inspector drives it."""

    export_requested = Signal()
    language_model_changed = Signal()
    over_changed = Signal(str)  # the analyst chose to attribute to events or to baskets

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.explained = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("")
        self.summary.setObjectName("interestSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.summary)
        self.heading = QLabel("Select a recommendation to see why it is there.")
        self.heading.setObjectName("explanationHeading")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.heading)
        choice = QHBoxLayout()
        choice.addWidget(QLabel("Attribute to:"))
        self.over_combo = QComboBox()
        self.over_combo.setObjectName("attributionOver")
        self.over_combo.addItem("each event", EVENTS)
        self.over_combo.addItem("each basket", BASKETS)
        self.over_combo.setToolTip(NO_BASKETS_HINT)
        self.over_combo.setEnabled(False)
        self.over_combo.currentIndexChanged.connect(lambda _i: self.over_changed.emit(self.over()))
        choice.addWidget(self.over_combo)
        choice.addStretch()
        layout.addLayout(choice)
        self.busy = QProgressBar()
        self.busy.setObjectName("explanationBusy")
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(6)
        self.busy.hide()
        layout.addWidget(self.busy)

        self.plot = pg.PlotWidget()
        self.plot.setObjectName("attributionChart")
        self.plot.setBackground(None)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self.plot.setLabel("bottom", AXIS_CAPTIONS[0])
        bottom = self.plot.getAxis("bottom")
        # pyqtgraph's scale factor ("(x0.001)") made the caption too long for the pane; the ticks say 0.002
        bottom.enableAutoSIPrefix(False)
        bottom.geometryChanged.connect(self._fit_axis_caption)
        self.plot.hide()  # until there is something to draw
        left = self.plot.getAxis("left")
        left.setWidth(150)
        small = QFont()
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        # every bar keeps its title: pyqtgraph otherwise drops labels it thinks are crowded
        left.setStyle(tickFont=small, textFillLimits=[(0, 1.0)], hideOverlappingLabels=False,
                      autoReduceTextSpace=False)
        self._label_metrics = QFontMetrics(small)  # labels wider than the axis would not be drawn at all
        self.plot.setMinimumHeight(130)  # more squeezed the sentence below onto the axis caption
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[])
        self.plot.addItem(self.bars)
        self.plot.addItem(pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen((120, 120, 120), width=1)))
        layout.addWidget(self.plot, 1)
        layout.addStretch(0)  # takes the room while the chart is hidden

        self.text = QLabel("")
        self.text.setObjectName("explanationText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # titles are data: never markup
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.text)
        rewrite = QHBoxLayout()
        rewrite.addWidget(QLabel("Reword with:"))
        self.lm_edit = QLineEdit()
        self.lm_edit.setObjectName("languageModelPath")
        self.lm_edit.setPlaceholderText("optional: a local causal language model (folder or hub id)")
        self.lm_edit.setToolTip("A transformers causal language model already on this computer rewrites the "
                                "sentence from the facts alone; a check rejects any text that names an item or "
                                "attribute outside the facts, and the grounded sentence is shown instead.")
        self.lm_edit.editingFinished.connect(self.language_model_changed.emit)
        rewrite.addWidget(self.lm_edit, 1)
        layout.addLayout(rewrite)
        footer = QHBoxLayout()
        self.source = QLabel("")
        self.source.setObjectName("explanationSource")
        self.source.setWordWrap(True)
        footer.addWidget(self.source, 1)
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("exportExplanation")
        self.export_button.setToolTip("Save this explanation as an HTML report (chart, attributions, text).")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_requested.emit)
        footer.addWidget(self.export_button)
        layout.addLayout(footer)

    # what the inspector calls ------------------------------------------------------------------
    def over(self) -> str:
        """What the bars stand for: "events", or "baskets" when chosen and the history has baskets."""
        return str(self.over_combo.currentData()) if self.over_combo.isEnabled() else EVENTS

    def set_baskets_available(self, available: bool) -> None:
        """Offer the basket choice only for a history with a basket of several lines."""
        if available == self.over_combo.isEnabled():
            return
        self.over_combo.blockSignals(True)
        self.over_combo.setEnabled(available)
        self.over_combo.setToolTip(OVER_HINT if available else NO_BASKETS_HINT)
        self.over_combo.blockSignals(False)

    def set_summary(self, text: str | None, source: str = "grounded") -> None:
        self.summary.setText(f"<b>Interests:</b> {escape(text)}" if text else "")
        self.summary.setToolTip(f"Written by: {source}" if text else "")

    def show_busy(self, title: str) -> None:
        self.busy.show()
        self.heading.setText(f"Working out why <b>{escape(title)}</b>…")

    def clear(self, message: str = "Select a recommendation to see why it is there.") -> None:
        self.explained = None
        self.busy.hide()
        self.heading.setText(escape(message))
        self.bars.setOpts(x0=[], y=[], width=[], brushes=[])
        self.plot.getAxis("left").setTicks([[]])
        self.plot.hide()
        self.text.setText("")
        self.source.setText("")
        self.export_button.setEnabled(False)

    def show_explained(self, explained) -> None:
        self.explained = explained
        self.busy.hide()
        self.plot.show()
        a, text = explained.attribution, explained.text
        players = (f"{len(a):,} baskets ({len(a.history_items):,} lines)" if getattr(a, "over", EVENTS) == BASKETS
                   else f"{len(a):,} events")
        self.heading.setText(
            f"Why <b>{escape(a.item_title)}</b>? Score {a.score:.3f} = base {a.base_value:.3f} (no history) "
            f"+ {float(np.sum(a.values)):+.3f} from {players}"
            + (f" ({a.older_events:,} older ones never reach the model)" if a.older_events else "") + ".")
        order = np.argsort(-np.abs(np.asarray(a.values, dtype=np.float64)), kind="stable")[:CHART_BARS]
        order = order[np.argsort(-np.asarray(a.values)[order], kind="stable")]  # most positive on top
        values = np.asarray(a.values, dtype=np.float64)[order]
        ys = np.arange(len(order))[::-1].astype(float)
        brushes = [pg.mkBrush(POSITIVE if v > 0 else NEGATIVE) for v in values]
        self.bars.setOpts(x0=np.minimum(values, 0.0), y=ys, width=np.abs(values), height=0.7, brushes=brushes,
                          pens=[pg.mkPen(None)] * len(values))
        width = self.plot.getAxis("left").width() - 14
        labels = [self._label_metrics.elidedText(bar_label(a, i), Qt.TextElideMode.ElideRight, width)
                  for i in order.tolist()]
        self.plot.getAxis("left").setTicks([list(zip(ys.tolist(), labels))])
        if len(values):
            span = max(float(np.abs(values).max()), 1e-6)
            self.plot.setXRange(min(0.0, float(values.min())) - 0.05 * span, max(0.0, float(values.max())) + 0.05 * span)
            self.plot.setYRange(-0.6, len(values) - 0.4)
        self.text.setText(text.text)
        origin = "the local language model, checked against the facts" if text.source != "grounded" \
            else "grounded text (attributions + catalogue)"
        if text.rejected:
            origin += " (the language model's text was rejected: " + text.rejected + ")"
        self.source.setToolTip(text.candidate or "")
        self.source.setText(f"Written by: {origin} · {a.method}, {a.evaluations:,} evaluations")
        self.export_button.setEnabled(True)

    def _fit_axis_caption(self) -> None:
        axis = self.plot.getAxis("bottom")
        metrics = QFontMetrics(axis.label.font())
        room = axis.width() - 8  # the text item's own margins
        caption = next((c for c in AXIS_CAPTIONS if metrics.horizontalAdvance(c) <= room), AXIS_CAPTIONS[-1])
        if caption != axis.labelText:
            self.plot.setLabel("bottom", caption)

    def language_model_path(self) -> str | None:
        return self.lm_edit.text().strip() or None

    def bar_values(self) -> list[float]:
        """The values drawn, top to bottom (tests)."""
        opts = self.bars.opts
        if opts.get("width") is None or len(opts["width"]) == 0:
            return []
        x0, width, y = (np.asarray(opts[k], dtype=float) for k in ("x0", "width", "y"))
        values = np.where(x0 < 0, -width, width)
        return values[np.argsort(-y)].tolist()

    def chart_png(self) -> bytes:
        """The chart as PNG bytes (for the HTML report)."""
        image = self.plot.grab()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        return bytes(data.data())
