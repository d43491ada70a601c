"""The model's settings form (generated from its config dataclass) and the text-encoder picker."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox,
    QWidget,
)



class ModelSettingsForm(QWidget):
    """A form generated from a model's config dataclass: int → spin box, float → decimal spin box,
    bool → check box, a field with ``choices`` → combo box, ``kind="encoder"`` → a path or hub id with
    Browse…, ``kind="template"`` → the item-text template with a live preview of three items' text;
    defaults filled, ranges and tooltips from the fields' metadata."""

    def __init__(self, config_class: type, parent: QWidget | None = None, *, preview_items=None):
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        self.preview_items = preview_items  # a few catalogue rows (DataFrame) for the template preview
        self.template_preview: QLabel | None = None
        self._conditions: list = []
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for f in dataclasses.fields(config_class):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            editor = self._editor(default, f.metadata)
            editor.setObjectName(f"setting_{f.name}")
            help_text = f.metadata.get("help", "")
            editor.setToolTip(help_text)
            label = QLabel(f.metadata.get("label") or f.name)  # a model's settings carry their words
            label.setToolTip(help_text)
            label.setBuddy(editor)
            layout.addRow(label, editor)
            self.editors[f.name] = editor
            if f.metadata.get("when"):  # (setting, values): only meaningful while that setting has one of them
                self._conditions.append((f.metadata["when"], editor, label))
            if f.metadata.get("kind") == "template":
                self.template_preview = QLabel()
                self.template_preview.setObjectName("templatePreview")
                self.template_preview.setWordWrap(True)
                self.template_preview.setTextFormat(Qt.TextFormat.PlainText)
                self.template_preview.setToolTip("The text the encoder reads for three items of this dataset.")
                layout.addRow(self.template_preview)
                editor.textChanged.connect(self.update_preview)
        self._fixed: dict[str, str] = {}  # setting -> its own tooltip, while another run decides it
        for (name, _values), _editor, _label in self._conditions:
            self.editors[name].currentIndexChanged.connect(lambda _i=None: self._update_enabled())
        self._update_enabled()
        if not self.editors:
            note = QLabel("This model has no settings.")
            note.setEnabled(False)
            layout.addRow(note)
        self.update_preview()

    def _update_enabled(self) -> None:
        """A setting is editable unless another run decides it (:meth:`fix_settings`) or it means nothing
        with the value of the setting it depends on (its ``when``)."""
        for name, editor in self.editors.items():
            editor.setEnabled(name not in self._fixed)
        for (name, values), editor, label in self._conditions:
            meaningful = self.editors[name].currentData() in tuple(values)
            editor.setEnabled(meaningful and editor.isEnabled())
            label.setEnabled(meaningful)

    def fix_settings(self, values: dict[str, Any] | None, why: str = "", unused: dict[str, str] | None = None) -> None:
        """Show ``values`` in their editors and lock them, ``why`` in their tooltips (settings another run
        decides, e.g. the run a new one starts from); lock the settings ``unused`` names too, keeping their
        values, each with its tooltip (settings that mean nothing then); None unlocks what was locked (the
        values stay)."""
        for name, tip in self._fixed.items():
            self.editors[name].setToolTip(tip)
        self._fixed = {}

        def lock(name: str, tip: str):
            editor = self.editors.get(name)
            if editor is not None:
                self._fixed[name] = editor.toolTip()
                editor.setToolTip(tip or editor.toolTip())
            return editor

        for name, value in (values or {}).items():
            editor = lock(name, why)
            if editor is not None:
                set_editor_value(editor, value)
        for name, tip in (unused or {}).items():
            lock(name, tip)
        self._update_enabled()

    def fixed_settings(self) -> tuple[str, ...]:
        return tuple(self._fixed)

    def set_preview_items(self, items) -> None:
        self.preview_items = items
        self.update_preview()

    def update_preview(self) -> None:
        """Render the template for the preview items (or say what is wrong with it)."""
        if self.template_preview is None:
            return
        from recstudio.knowledge import check_template, render_item_texts

        items = self.preview_items
        if items is None or len(items) == 0:
            self.template_preview.setText("Open a dataset with a catalogue to preview the item text.")
            return
        template = self.editors["template"].text()
        try:
            check_template(template, items.columns)
            texts = render_item_texts(items, template)
        except Exception as exc:  # a template being typed is often half-finished: say why, no dialog
            self.template_preview.setText(f"⚠ {exc}")
            return
        self.template_preview.setText("\n".join(f"• {t}" if t else "• (empty)" for t in texts))

    def _editor(self, default: Any, meta) -> QWidget:
        lo, hi = meta.get("min"), meta.get("max")
        if meta.get("choices"):
            combo = QComboBox()
            for choice in meta["choices"]:
                combo.addItem(str(choice), choice)
            combo.setCurrentIndex(max(0, combo.findData(default)))
            return combo
        if meta.get("kind") == "encoder":
            return EncoderPicker(str(default or ""))
        if isinstance(default, bool):
            box = QCheckBox()
            box.setChecked(default)
            return box
        if isinstance(default, int):
            spin = QSpinBox()
            spin.setRange(int(lo if lo is not None else 0), int(hi if hi is not None else 2**31 - 1))
            spin.setValue(default)
            spin.setGroupSeparatorShown(True)
            return spin
        if isinstance(default, float):
            spin = QDoubleSpinBox()
            lo = float(lo if lo is not None else 0.0)
            hi = float(hi if hi is not None else 1e9)
            if hi <= 1.0:  # a rate or a probability
                decimals, step = 2, 0.05
            else:
                magnitude = math.floor(math.log10(abs(default))) if default else 0
                step = 10.0 ** max(magnitude - 1, -6) if default else 0.1
                decimals = max(1, min(6, 1 - magnitude))
            spin.setDecimals(decimals)
            spin.setRange(lo, hi)
            spin.setSingleStep(step)
            spin.setValue(default)
            return spin
        line = QLineEdit("" if default is None else str(default))
        return line

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                out[name] = editor.value()
            elif isinstance(editor, QComboBox):
                out[name] = editor.currentData()
            else:
                out[name] = editor.text()
        return out


def set_editor_value(editor: QWidget, value: Any) -> None:
    """Put ``value`` in one of the form's editors (the inverse of :meth:`ModelSettingsForm.values`)."""
    if isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QSpinBox):
        editor.setValue(int(value))
    elif isinstance(editor, QDoubleSpinBox):
        editor.setValue(float(value))
    elif isinstance(editor, QComboBox):
        editor.setCurrentIndex(max(0, editor.findData(value)))
    else:
        editor.setText("" if value is None else str(value))


def secondary_label(name: str) -> QLabel:
    """A wrapping label for secondary text (a model's description): muted, still readable (a disabled
    label is too faint)."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    palette = label.palette()
    muted = palette.color(palette.ColorRole.WindowText)
    muted.setAlpha(175)
    palette.setColor(palette.ColorRole.WindowText, muted)
    label.setPalette(palette)
    return label


def double_spin_box(name: str, lo: float, hi: float, value: float, tip: str, *, decimals: int,
                    step: float) -> QDoubleSpinBox:
    """A decimal spin box for a form row, named ``name`` as :func:`spin_box`'s are."""
    spin = QDoubleSpinBox()
    spin.setObjectName(name)
    spin.setDecimals(decimals)
    spin.setRange(lo, hi)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def spin_box(name: str, lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    """An integer spin box for a form row, named ``name`` (tests and style sheets find it by name)."""
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(lo, hi)
    spin.setValue(value)
    spin.setGroupSeparatorShown(True)
    spin.setToolTip(tip)
    return spin


class EncoderPicker(QWidget):
    """A text encoder: empty for the bundled MiniLM, a folder holding a Hugging Face model (Browse…),
    or a hub id the analyst has access to."""

    textChanged = Signal(str)

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.line = QLineEdit(text)
        self.line.setPlaceholderText("bundled all-MiniLM-L6-v2")
        self.line.textChanged.connect(self.textChanged.emit)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.line, 1)
        row.addWidget(self.browse)

    def text(self) -> str:
        return self.line.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self.line.setText(text)

    def setToolTip(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setToolTip(text)
        self.line.setToolTip(text)

    def _browse(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Folder holding a Hugging Face model", self.text() or "")
        if folder:
            self.line.setText(folder)
