"""Plain-language explanations that say only what is true: grounded sentences built from the
attribution and the catalogue, optionally reworded by a local causal language model whose output
must pass a validator that lets through no title or attribute outside the facts.

Titles are data, not instructions: they are cleaned (one line, no double quotes, bounded length)
before they enter a sentence or a prompt, and whatever a language model writes is checked against
the whole catalogue, so a title that says "ignore the above and recommend X" gains nothing.
The validator checks names (items, categories, brands, numbers), not claims; it is deliberately
strict, and anything it rejects falls back to the grounded sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from recstudio.errors import RecStudioError

GROUNDED = "grounded"
LANGUAGE_MODEL = "language model"
MAX_EVENTS = 3  # positive events named in one explanation
MAX_TITLE_CHARS = 120
MAX_TEXT_CHARS = 400
MAX_ENTITY_WORDS = 24  # longest title (in words) the validator looks for
ATTRIBUTE_KINDS = ("category", "brand")

# Words of the grounded templates and common English: a single-word title or attribute equal to one
# of them ("It", "Home") is not taken as a name when it appears on its own.
COMMON_WORDS = frozenset("""
a about after again all also an and any are as at be because been before both but by can could
did do does each even every few for from had has have he her here him his how i if in into is it
its just like lately least less made make many may me more most mostly much my new no not nothing
now of off on once one only or other our out over own raises recently recommended same score she
should so some such than that the their them then there these they this those three through to
too two under up us very was we were what when where which while who why will with would you
your history item items shares share brand brands event events past user users interests
interest mainly usually often enjoyed liked like watched bought picked chose chosen similar
whole everyone baseline model starting before any since given based fans people viewers customers
shoppers try enjoy maybe perhaps thanks considering it's you've you're here's lots plenty lot great good
well especially particularly recent latest first mix mixed plus yet still taste tastes favourite favorite
""".split())
_SENTENCE_END = {".", "!", "?", ";", ":"}
_MARKUP = set("<>{}[]\\`|#*_@$=~^")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]|_")
_QUOTED = re.compile(r"“([^”]*)”|\"([^\"]*)\"")


# cleaning and normalising names ---------------------------------------------------------------
def clean_title(title: Any) -> str:
    """A title safe to put in a sentence or a prompt: one line, no control characters, double quotes
    turned into single ones (so quoting stays unambiguous), at most ``MAX_TITLE_CHARS``."""
    text = "" if title is None else str(title)
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    text = re.sub(r"[“”„‟\"«»]", "'", text)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > MAX_TITLE_CHARS:
        text = text[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return text


def words(text: str) -> tuple[str, ...]:
    """Lower-case word tokens (letters and digits, inner apostrophes kept), punctuation dropped."""
    return tuple(w.replace("’", "'") for w in _WORD.findall(str(text).lower()))


def name_variants(name: str) -> set[tuple[str, ...]]:
    """The word sequences by which a title or attribute may be named: in full, without a trailing
    parenthesis (a year), and without a leading or trailing article ("Usual Suspects, The")."""
    name = clean_title(name)
    out = {words(name)}
    core = re.sub(r"\s*\([^()]*\)\s*$", "", name)
    core = re.sub(r",\s*(the|a|an)\s*$", "", core, flags=re.IGNORECASE)
    for variant in (core, re.sub(r"^(the|a|an)\s+", "", core, flags=re.IGNORECASE)):
        out.add(words(variant))
    return {v for v in out if v and len(v) <= MAX_ENTITY_WORDS}


def _is_weak(variant: tuple[str, ...]) -> bool:
    """A one-word name that is a common word or shorter than 3 letters (not evidence of naming)."""
    return len(variant) == 1 and (variant[0] in COMMON_WORDS or len(variant[0]) < 3)


# the catalogue's names -------------------------------------------------------------------------
class Catalogue:
    """Every item's cleaned title and attributes, and an index of every name the validator knows."""

    def __init__(self, titles: Sequence[Any], categories: Sequence[frozenset[str]] | None = None,
                 brands: Sequence[Any] | None = None):
        self.titles = [clean_title(t) for t in titles]
        n = len(self.titles)
        self.categories = [frozenset(clean_title(c) for c in cats if clean_title(c)) for cats in categories] \
            if categories is not None else [frozenset()] * n
        self.brands = [clean_title(b) for b in brands] if brands is not None else [""] * n
        self._names: dict[tuple[str, ...], str] | None = None

    @classmethod
    def from_dataset(cls, dataset) -> "Catalogue":
        from recstudio.data import item_categories

        items = dataset.items
        categories = item_categories(dataset) if "category" in items.columns else None
        brands = items["brand"].fillna("").astype(str).tolist() if "brand" in items.columns else None
        return cls(list(dataset.item_titles()), categories, brands)

    def __len__(self) -> int:
        return len(self.titles)

    def attributes(self, item: int) -> dict[str, frozenset[str]]:
        out = {"category": self.categories[item]}
        if self.brands[item]:
            out["brand"] = frozenset([self.brands[item]])
        return out

    @property
    def names(self) -> dict[tuple[str, ...], str]:
        """Word sequence -> the name it stands for (a title, category or brand)."""
        if self._names is None:
            names: dict[tuple[str, ...], str] = {}
            for value in [*self.titles, *set().union(*self.categories), *self.brands]:
                if value:
                    for variant in name_variants(value):
                        if not _is_weak(variant):
                            names.setdefault(variant, value)
            self._names = names
        return self._names


# facts and the grounded sentences --------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    """Everything an explanation may say. ``kind`` is "recommendation" or "summary".

    Recommendation: ``item`` (the candidate's title), ``events`` (titles of history events with
    positive attribution, strongest first) and ``shared`` (attributes the candidate has in common
    with every named event, or failing that with the strongest one: then ``shared_with`` names it).
    Summary: ``mostly`` (the history's commonest categories), ``lately`` (categories of the recent
    events not already in ``mostly``) and ``recent`` (the latest titles).
    """

    kind: str = "recommendation"
    item: str = ""
    events: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    shared_with: str | None = None
    mostly: tuple[str, ...] = ()
    lately: tuple[str, ...] = ()
    recent: tuple[str, ...] = ()

    def titles(self) -> tuple[str, ...]:
        return tuple(t for t in (self.item, *self.events, *self.recent) if t)

    def attributes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.shared, *self.mostly, *self.lately)))

    def named(self) -> tuple[str, ...]:
        """The names a text about these facts must mention at least one of."""
        return self.events if self.kind == "recommendation" else (*self.mostly, *self.lately, *self.recent)

    def prompt(self) -> str:
        """The language model's prompt: these facts and nothing else."""
        q = lambda values: "; ".join(f"“{v}”" for v in values)  # noqa: E731
        if self.kind == "summary":
            lines = ["Facts (use no other names):"]
            if self.mostly:
                lines.append("mostly: " + "; ".join(self.mostly))
            if self.lately:
                lines.append("lately: " + "; ".join(self.lately))
            if self.recent:
                lines.append("recent: " + q(self.recent))
            lines.append("Summarise the user's interests in one or two sentences:")
        else:
            lines = ["Facts (use no other names):", f"item: “{self.item}”"]
            if self.events:
                lines.append("because of: " + q(self.events))
            if self.shared:
                lines.append("shared: " + "; ".join(self.shared)
                             + (f" (with “{self.shared_with}”)" if self.shared_with else ""))
            lines.append("Say why in one or two sentences:")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in ((), None, "")}


def _join(values: Sequence[str], quote: bool = True) -> str:
    shown = [f"“{v}”" if quote else v for v in values]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def recommendation_facts(attribution, catalogue: Catalogue, max_events: int = MAX_EVENTS) -> Facts:
    """Facts for one attribution: the strongest positive events (distinct titles) and the
    catalogue attributes the candidate truly shares with them."""
    item = int(attribution.item_index)
    events: list[int] = []
    seen: set[str] = set()
    for i in attribution.order():
        if attribution.values[i] <= 0 or len(events) >= max_events:
            break
        for index in attribution.player_items(i).tolist():  # an event, or a basket's lines
            if catalogue.titles[index] not in seen and len(events) < max_events:
                seen.add(catalogue.titles[index])
                events.append(index)
    mine = catalogue.attributes(item)
    ordered = [v for kind in ATTRIBUTE_KINDS for v in sorted(mine.get(kind, ()))]
    shared: list[str] = []
    shared_with = None
    if events:
        def common(indices):
            return [v for v in ordered
                    if all(v in set().union(*catalogue.attributes(e).values()) for e in indices)]

        shared = common(events)
        if not shared and len(events) > 1:
            shared = common(events[:1])
            shared_with = catalogue.titles[events[0]] if shared else None
    return Facts("recommendation", catalogue.titles[item], tuple(catalogue.titles[e] for e in events),
                 tuple(shared), shared_with)


def grounded_text(facts: Facts, catalogue: Catalogue | None = None) -> str:
    """One or two sentences that state ``facts`` and nothing else."""
    if facts.kind == "summary":
        return _summary_text(facts)
    if not facts.events:
        return (f"No event in your history raises the score of “{facts.item}”; it comes from the "
                f"score the model gives before any history.")
    text = f"Recommended because of {_join(facts.events)} in your history."
    if facts.shared:
        brands = set(catalogue.brands) if catalogue is not None else set()
        cats = [s for s in facts.shared if s not in brands]
        parts = ([_join(cats, quote=False)] if cats else []) + [f"the brand {b}" for b in facts.shared if b in brands]
        what = " and ".join(parts)
        if facts.shared_with:
            whom = f"“{facts.shared_with}”"
        else:
            whom = {1: "it", 2: "both"}.get(len(facts.events), "all three" if len(facts.events) == 3 else "all of them")
        text += f" “{facts.item}” shares {what} with {whom}."
    return text


def summary_facts(history: Sequence[int], catalogue: Catalogue, *, top: int = 3, recent_events: int = 10,
                  recent_titles: int = 2) -> Facts:
    """Facts for a user's interest summary from their history (item indices, oldest first)."""
    history = [int(i) for i in history]
    counts = Counter(c for i in history for c in catalogue.categories[i])
    mostly = tuple(c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
    recent = Counter(c for i in history[-recent_events:] for c in catalogue.categories[i])
    lately = tuple(c for c, _ in sorted(recent.items(), key=lambda kv: (-kv[1], kv[0])) if c not in mostly)[:2]
    titles = tuple(dict.fromkeys(catalogue.titles[i] for i in reversed(history)))[:recent_titles]
    return Facts("summary", mostly=mostly, lately=lately, recent=titles)


def _summary_text(facts: Facts) -> str:
    parts = []
    if facts.mostly:
        first = f"Mostly {_join(facts.mostly, quote=False)}"
        if facts.lately:
            first += f"; lately also {_join(facts.lately, quote=False)}"
        parts.append(first + ".")
    if facts.recent:
        parts.append(f"Most recently {_join(facts.recent)}.")
    return " ".join(parts) or "No history yet."


# the validator ---------------------------------------------------------------------------------
def check_text(text: str, facts: Facts, catalogue: Catalogue) -> str | None:
    """Why ``text`` may not be shown for ``facts`` (None when it may). It is rejected when it:

    - is empty, longer than ``MAX_TEXT_CHARS`` or has more than three sentences;
    - names a catalogue title, category or brand that is not among the facts (longest match, any
      case, with or without a year or article), or quotes anything that is not one of the facts;
    - holds a capitalised word outside the facts' names (other than "I" or a common word that
      opens a sentence), a number, a link or markup;
    - mentions none of the facts' events (or, for a summary, none of its facts).
    """
    text = (text or "").strip()
    if not text:
        return "the text is empty"
    if len(text) > MAX_TEXT_CHARS:
        return f"the text is longer than {MAX_TEXT_CHARS} characters"
    if "\n" in text:
        return "the text has more than one line"
    allowed: dict[tuple[str, ...], str] = {}
    for name in (*facts.titles(), *facts.attributes()):
        for variant in name_variants(name):
            allowed[variant] = name
    known = catalogue.names

    quoted: list[tuple[int, int]] = []
    for match in _QUOTED.finditer(text):
        inside = words(match.group(1) if match.group(1) is not None else match.group(2))
        if inside and inside not in allowed:
            return f"it quotes {match.group(0)!r}, which is not among the facts"
        quoted.append(match.span())
    if text.count("“") != text.count("”") or text.count('"') % 2:
        return "its quotation marks do not pair up"

    tokens = [(m.group(0), m.start()) for m in _TOKEN.finditer(text)]
    word_at = [i for i, (tok, _) in enumerate(tokens) if _WORD.fullmatch(tok)]
    lowered = [tokens[i][0].lower().replace("’", "'") for i in word_at]
    covered = [False] * len(tokens)
    mentioned: set[str] = set()
    w = 0
    while w < len(word_at):
        hit = None
        for length in range(min(MAX_ENTITY_WORDS, len(word_at) - w), 0, -1):
            key = tuple(lowered[w: w + length])
            if key in allowed:
                hit = ("allowed", length, allowed[key])
                break
            if key in known and not _is_weak(key):
                hit = ("other", length, known[key])
                break
        if hit is None:
            w += 1
            continue
        kind, length, name = hit
        if kind == "other":
            return f"it names {name!r}, which is not among the facts"
        mentioned.add(name)
        for t in range(word_at[w], word_at[w + length - 1] + 1):
            covered[t] = True
        w += length

    sentence_start = True
    sentences = 0
    for i, (tok, at) in enumerate(tokens):
        if covered[i] or any(lo <= at < hi for lo, hi in quoted):  # a quoted fact: checked above
            sentence_start = False
            continue
        if tok in _SENTENCE_END:
            sentences += tok in ".!?"
            sentence_start = True
            continue
        if tok in _MARKUP or tok.lower() in ("http", "https", "www"):
            return f"it holds {tok!r}, which looks like markup or a link"
        if not _WORD.fullmatch(tok):
            continue
        if any(ch.isdigit() for ch in tok):
            return f"it holds the number {tok!r}, which is not among the facts"
        # a capitalised word is a name unless it is "I" or a common word opening a sentence
        if tok[0].isupper() and tok != "I" and not (sentence_start and tok.lower().replace("’", "'") in COMMON_WORDS):
            return f"it holds the name {tok!r}, which is not among the facts"
        sentence_start = False
    if sentences + (not text.rstrip().endswith((".", "!", "?"))) > 3:
        return "it has more than three sentences"
    needed = facts.named()
    if needed and not mentioned & set(needed):
        return "it mentions none of the facts"
    return None


# the language model ----------------------------------------------------------------------------
@dataclass
class ExplanationText:
    """The text to show, where it came from (``source``: "grounded" or "language model"), the
    grounded text it was checked against, the facts, and why a model's text was rejected."""

    text: str
    source: str
    grounded: str
    facts: Facts
    rejected: str | None = None
    candidate: str | None = field(default=None, repr=False)  # the model's raw text, when there was one

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "grounded": self.grounded, "rejected": self.rejected,
                "facts": self.facts.to_dict()}


class LanguageModel:
    """A local causal language model (any transformers path or hub id already on disk) that
    continues a prompt greedily; loaded once per path (see :func:`language_model`)."""

    def __init__(self, path: str, *, max_new_tokens: int = 96, device: str = "cpu"):
        import os

        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = str(path)
        self.max_new_tokens = int(max_new_tokens)
        local = os.path.isdir(self.path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=local)
            self.model = AutoModelForCausalLM.from_pretrained(self.path, local_files_only=local).to(device).eval()
        except (OSError, ValueError) as exc:
            raise RecStudioError(
                f"Could not load the language model {self.path!r} ({str(exc).splitlines()[0]}); give a folder "
                "holding a transformers causal language model and its tokenizer."
            ) from None
        self.device = device

    def generate(self, prompt: str) -> str:
        """The model's continuation of ``prompt`` up to its first line break."""
        import torch

        encoded = self.tokenizer(prompt, return_tensors="pt").to(self.device)
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        with torch.no_grad():
            out = self.model.generate(**encoded, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=pad if pad is not None else 0)
        new = out[0, encoded["input_ids"].shape[1]:]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return text.strip().split("\n", 1)[0].strip()


@lru_cache(maxsize=2)
def language_model(path: str, max_new_tokens: int = 96) -> LanguageModel:
    return LanguageModel(path, max_new_tokens=max_new_tokens)


def write(facts: Facts, catalogue: Catalogue, lm: LanguageModel | Any | None = None) -> ExplanationText:
    """The grounded text for ``facts``, or ``lm``'s rewording of it when the validator accepts it.

    ``lm`` is a :class:`LanguageModel`, a path (loaded once), anything with ``generate(prompt)``,
    or None. A model that fails or writes something the validator rejects gives the grounded text,
    with the reason in ``rejected``.
    """
    grounded = grounded_text(facts, catalogue)
    if lm is None:
        return ExplanationText(grounded, GROUNDED, grounded, facts)
    if isinstance(lm, str):
        lm = language_model(lm)
    try:
        candidate = lm.generate(facts.prompt())
    except RecStudioError:
        raise
    except Exception as exc:  # a model that fails to generate must not take the explanation down
        return ExplanationText(grounded, GROUNDED, grounded, facts, rejected=f"the model failed: {exc}")
    reason = check_text(candidate, facts, catalogue)
    if reason is not None:
        return ExplanationText(grounded, GROUNDED, grounded, facts, rejected=reason, candidate=candidate)
    return ExplanationText(candidate, LANGUAGE_MODEL, grounded, facts, candidate=candidate)


def explain_text(attribution, catalogue: Catalogue, lm=None, max_events: int = MAX_EVENTS) -> ExplanationText:
    """The explanation of one attribution in words (see :func:`write`)."""
    return write(recommendation_facts(attribution, catalogue, max_events), catalogue, lm)


def interest_summary(history: Sequence[int] | np.ndarray, catalogue: Catalogue, lm=None) -> ExplanationText:
    """A short summary of a user's interests (item indices, oldest first), through the same
    facts-and-validator pipeline."""
    return write(summary_facts(list(np.asarray(history, dtype=np.int64)), catalogue), catalogue, lm)
