"""Item text for language models: each catalogue row rendered through a template the analyst can edit."""

from __future__ import annotations

import math
import string
from typing import TYPE_CHECKING, Any

from recstudio.errors import RecStudioError

if TYPE_CHECKING:
    import pandas as pd

#: What an item says about itself by default; a field the catalogue lacks is dropped with its label.
DEFAULT_TEMPLATE = "{title}. Category: {category}. Brand: {brand}."
_OPENERS = {"(": ")", "[": "]", "{": "}", '"': '"', "“": "”", "«": "»", "'": "'"}
_LEADING_JUNK = " \t.,;:-–—|/"


def template_fields(template: str) -> list[str]:
    """The column names a template reads, in order; a malformed template is a user error."""
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise RecStudioError(
            f"Item text template {template!r} is malformed ({exc}); write fields as {{title}} and a literal "
            "brace as {{ or }}."
        ) from None
    fields = []
    for _literal, field, _spec, _conversion in pieces:
        if field is None:
            continue
        if not field or field.isdigit() or any(c in field for c in ".[]"):
            raise RecStudioError(
                f"Item text template {template!r} has the field {{{field}}}; a field names a catalogue "
                "column, e.g. {title} or {category}."
            )
        fields.append(field)
    return fields


def check_template(template: str, columns) -> list[str]:
    """The template's fields that are catalogue columns; at least one must be, or every text is empty."""
    fields = template_fields(template)
    known = [f for f in fields if f in set(columns)]
    if not known:
        shown = ", ".join(c for c in columns if c != "item_id") or "none besides the item id"
        raise RecStudioError(
            f"Item text template {template!r} uses no catalogue column, so every item's text would be empty; "
            f"the catalogue's columns are: {shown}. Import with --items CATALOGUE or edit the template."
        )
    return known


def render_item_texts(items: "pd.DataFrame", template: str = DEFAULT_TEMPLATE) -> list[str]:
    """One text per row of ``items`` (a dataset's ``items`` frame, or a slice of it for a preview).

    A field that is empty for an item, or is not a column at all, is dropped together with the
    literal text just before it (its label: ". Category: "), and a bracket that label opened is
    closed by nothing; so "{title}. Category: {category}." gives "Toy Story." for an item with no
    category. Category lists ("a|b") read "a, b"; whole-number floats lose their ".0".
    """
    fields = template_fields(template)
    pieces = [(literal, field) for literal, field, _s, _c in string.Formatter().parse(template)]
    values = {f: _column_text(items, f) for f in set(fields)}
    return [_render(pieces, values, row) for row in range(len(items))]


def _render(pieces, values: dict[str, list[str]], row: int) -> str:
    out = ""
    pending_closers = ""
    for literal, field in pieces:
        if pending_closers:
            literal = _drop_closers(literal, pending_closers)
            pending_closers = ""
        value = values[field][row] if field is not None else None
        if field is not None and not value:
            pending_closers = _unclosed(literal)
            continue
        if not out:
            if field is None:  # nothing was written: a trailing "." alone is no text
                break
            literal = literal.lstrip(_LEADING_JUNK)
        elif out[-1] in ".!?" and literal.startswith("."):
            literal = literal[1:]  # "Videotape." + ". Category" must not read ".."
        out += literal + (value or "")
    return " ".join(out.split())


def _unclosed(literal: str) -> str:
    """Closing characters owed by brackets ``literal`` opens and does not close, innermost first."""
    stack: list[str] = []
    for ch in literal:
        if stack and ch == stack[-1]:
            stack.pop()
        elif ch in _OPENERS:
            stack.append(_OPENERS[ch])
    return "".join(reversed(stack))


def _drop_closers(literal: str, closers: str) -> str:
    for closer in closers:
        stripped = literal.lstrip(" ")
        if stripped.startswith(closer):
            literal = stripped[len(closer):]
    return literal


def _column_text(items: "pd.DataFrame", field: str) -> list[str]:
    if field not in items.columns:
        return [""] * len(items)
    texts = [_as_text(v) for v in items[field].tolist()]
    if field == "category":  # stored "a|b|c", read "a, b, c" as the window's tables show it
        from recstudio.data.catalogue import category_text

        texts = [str(t) for t in category_text(texts)]
    return texts


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else f"{value:g}"
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return ""
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value).strip()
