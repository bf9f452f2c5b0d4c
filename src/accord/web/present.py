"""What the item page draws from a review item: the records side by side, the waterfall.

Pure functions of what `readmodels.review_item` read, so the page's layout can be tested
without a browser: the records in one field order with each field marked as the same,
close, different or missing (from the match's own comparison where it made one), and the
match's evidence as a cumulative waterfall on a probability axis, as Splink draws it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.rights import explain
from accord.web import words

# The fields compared, in the one order both records are shown in.
COMPARED = ("family_name", "given_names", "date_of_birth", "postcode")
# Shown beside them where either side holds them (not compared by the model).
ALSO = ("nationality", "arrival_date", "since")
EXACT = ("exact match",)


@dataclass(frozen=True)
class Mark:
    kind: str  # same | close | differ | missing | "" (nothing to compare)
    words: str

    @property
    def symbol(self) -> str:
        return {"same": "✓", "close": "≈", "differ": "✗", "missing": "–"}.get(self.kind, "")


@dataclass
class Column:
    """One record in the comparison: the person, the register record or a rival."""

    heading: str
    note: str  # "this item", "another record for this person", ...
    values: dict[str, str] = field(default_factory=dict)
    marks: dict[str, Mark] = field(default_factory=dict)
    item_id: str | None = None
    item_status: str | None = None
    decided_by_me: bool = False
    probability: float | None = None


@dataclass
class Comparison:
    fields: list[str]
    columns: list[Column]

    def label(self, name: str) -> str:
        return words.field(name)


def _norm(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace("-", " ").replace("'", "").lower().split())


def _mark(name: str, ours: Any, theirs: Any, explanation: Sequence[Any]) -> Mark:
    """How one field of two records compares: the model's level where it compared it."""
    entry = next(
        (e for e in explanation if isinstance(e, Mapping) and str(e.get("comparison", "")) == name),
        None,
    )
    missing = ours in (None, "") or theirs in (None, "")
    if entry is not None:
        label = str(entry.get("level") or entry.get("label_for_charts") or "")
        low = label.lower()
        found = words.capital(words.level(label))
        if missing or "missing" in low or "unknown" in low or "null" in low:
            return Mark("missing", "Missing on one side")
        if low in EXACT:
            return Mark("same", "The same")
        weight = entry.get("match_weight")
        if low in ("different", "else", "all other comparisons"):
            return Mark("differ", "Different")
        if isinstance(weight, int | float) and weight < 0:
            return Mark("differ", found)
        return Mark("close", found)
    if missing:
        return Mark("missing", "Missing on one side") if (ours or theirs) else Mark("", "")
    if _norm(ours) == _norm(theirs):
        return Mark("same", "The same")
    return Mark("differ", "Different")


def _marks(
    names: Sequence[str],
    person: Mapping[str, Any],
    record: Mapping[str, Any],
    explanation: Sequence[Any],
) -> dict[str, Mark]:
    """Each field marked; a field the model does not compare is marked only where both
    records hold it (a register that keeps no nationality is not "missing" one)."""
    return {
        n: _mark(n, person.get(n), record.get(n), explanation)
        for n in names
        if n in COMPARED or (n in person and n in record)
    }


def _values(record: Mapping[str, Any] | None, names: Sequence[str]) -> dict[str, str]:
    record = record or {}
    return {n: words.value(n, record.get(n)) for n in names}


def comparison(detail: Mapping[str, Any]) -> Comparison | None:
    """The person's record and the register record (and every rival) in one field order."""
    match = detail.get("match")
    if not match:
        return None
    person = detail.get("person") or {}
    record = match.get("record") or {}
    rivals = detail.get("rivals") or []
    names = list(COMPARED)
    for n in ALSO:
        present = n in record or any(n in (r.get("record") or {}) for r in rivals)
        if (n in person and person.get(n) is not None) or present:
            names.append(n)
    ours = Column(f"Person {detail['item']['person_id']}", "the person", _values(person, names))
    theirs = Column(
        f"{match.get('register', '')} record {match.get('record_id', '')}".strip(),
        "this item's record",
        _values(record, names),
        probability=match.get("match_probability"),
    )
    explanation = match.get("explanation") or []
    theirs.marks = _marks(names, person, record, explanation)
    columns = [ours, theirs]
    for r in rivals:
        if r is None:
            continue
        rex = r.get("explanation") or []
        if r.get("same_person"):
            rec = r.get("record") or {}
            col = Column(
                f"{r.get('register', '')} record {r.get('record_id', '')}".strip(),
                "another record for this person",
                _values(rec, names),
            )
            col.marks = _marks(names, person, rec, rex)
        else:
            other = r.get("person") or {}
            col = Column(
                f"Person {r.get('person_id', '')}",
                "another person this record could be",
                _values(other, names),
            )
            col.marks = _marks(names, other, record, rex)
        col.item_id = r.get("item_id")
        col.item_status = r.get("item_status")
        col.decided_by_me = bool(r.get("decided_by_me"))
        col.probability = r.get("match_probability")
        columns.append(col)
    return Comparison(names, columns)


# --- the waterfall ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    what: str
    found: str
    weight: float
    start: float  # cumulative weight before this step
    end: float  # and after it
    left: float  # the bar's position on the axis, in % of its width
    width: float
    chance: str  # the running chance after this step, in words

    @property
    def direction(self) -> str:
        return "for" if self.weight >= 0 else "against"

    @property
    def effect(self) -> str:
        return words.weight_effect(self.weight)


@dataclass(frozen=True)
class Tick:
    at: float  # % of the axis width
    label: str


@dataclass(frozen=True)
class Waterfall:
    steps: list[Step]
    ticks: list[Tick]
    final: str  # the final chance in words
    zero: float  # where 50% falls, in % of the axis width


def probability(weight: float) -> float:
    """Splink's match weight (log2 odds) as a probability."""
    if weight > 60:
        return 1.0
    return 1.0 / (1.0 + math.pow(2.0, -weight))


def _chance(weight: float) -> str:
    """The chance at a match weight: a percentage, else "1 in 2 million" for tiny ones."""
    p = probability(weight)
    if p < 0.001:
        return f"1 in {_round(1 / p)}" if p > 0 else "none"
    return explain.percent(p)


def _round(x: float) -> str:
    if x >= 1e9:
        return f"{x / 1e9:,.0f} billion"
    if x >= 1e6:
        return f"{x / 1e6:,.0f} million"
    digits = max(0, math.floor(math.log10(x)) - 1)
    return f"{round(x / 10**digits) * 10**digits:,}"


def waterfall(explanation: Sequence[Any]) -> Waterfall | None:
    """The match's evidence step by step from the prior, each bar where the running total
    was before and after it, on an axis labelled in probability (Splink's waterfall)."""
    lines = explain.comparison_lines(explanation)
    steps_in = [ln for ln in lines if ln["weight"] is not None and math.isfinite(ln["weight"])]
    if not steps_in:
        return None
    running = 0.0
    spans: list[tuple[dict[str, Any], float, float]] = []
    for ln in steps_in:
        start = running
        running += float(ln["weight"])
        spans.append((ln, start, running))
    low = min(0.0, *(min(s, e) for _, s, e in spans))
    high = max(0.0, *(max(s, e) for _, s, e in spans))
    pad = max(1.0, (high - low) * 0.04)
    low, high = low - pad, high + pad
    span = high - low

    def at(w: float) -> float:
        return round(100.0 * (w - low) / span, 2)

    steps = [
        Step(
            what=words.capital(words.third_person(str(ln["what"]))),
            found=words.third_person(str(ln["found"])),
            weight=float(ln["weight"]),
            start=s,
            end=e,
            left=at(min(s, e)),
            width=max(0.4, round(at(max(s, e)) - at(min(s, e)), 2)),
            chance=_chance(e),
        )
        for ln, s, e in spans
    ]
    every = 10 if span > 40 else 5 if span > 16 else 2
    first = math.ceil(low / every) * every
    ticks = [Tick(at(w), _chance(w)) for w in range(int(first), math.floor(high) + 1, every)]
    return Waterfall(steps, ticks, _chance(running), at(0.0))
