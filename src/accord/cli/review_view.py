"""`accord review show`: one review item in lines of text, as a reviewer may see it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accord import blind
from accord.linkage.words import one_in
from accord.vocab import DECIDED

IDENTITY = ("family_name", "given_names", "date_of_birth", "postcode")


def _record(values: Mapping[str, Any] | None) -> str:
    if not values:
        return "(none held)"
    return ", ".join(f"{f.replace('_', ' ')} {values.get(f) or '–'}" for f in IDENTITY)


def item_lines(detail: Mapping[str, Any]) -> list[str]:
    """What :func:`accord.blind.for_reviewer` left of a review item, as lines of text."""
    item = detail.get("item") or {}
    extra = item.get("detail") if isinstance(item.get("detail"), Mapping) else {}
    lines = [
        f"{item.get('item_id')}: {item.get('kind')}, {item.get('status')} "
        f"({detail.get('approvals', 0)} of {item.get('approvals_needed')} approvals), "
        f"agreement {item.get('agreement_id') or '–'}",
        f"why: {item.get('reason')}",
    ]
    reasons = extra.get("reasons") if isinstance(extra, Mapping) else None
    if reasons:
        lines.append(f"reasons: {', '.join(str(r) for r in reasons)}")
    lines.append(f"person {item.get('person_id')}: {_record(detail.get('person'))}")
    match = detail.get("match") if isinstance(detail.get("match"), Mapping) else None
    if match is not None:
        record = match.get("record") if isinstance(match.get("record"), Mapping) else None
        lines.append(f"register record {item.get('record_id')}: {_record(record)}")
        compared = detail.get("compared")
        if compared is None:
            explanation = match.get("explanation")
            compared = blind.in_words(explanation if isinstance(explanation, list) else [])
        for c in compared:
            lines.append(f"  {c['field']}: {c['level']} ({c['left'] or '–'} | {c['right'] or '–'})")
    if detail.get("scores_withheld"):
        lines.append(
            "score: withheld until you have decided this item (the agreement reviews blind)"
        )
    elif match is not None:
        evidence = match.get("evidence") if isinstance(match.get("evidence"), Mapping) else {}
        wrong = evidence.get("wrong_person") if isinstance(evidence, Mapping) else None
        line = f"match probability: {float(match.get('match_probability') or 0.0):.6f}"
        if isinstance(wrong, int | float):
            line += f"; chance that the record is someone else's: {one_in(float(wrong))}"
        lines.append(line)
        for sentence in (extra.get("evidence") or []) if isinstance(extra, Mapping) else []:
            lines.append(f"  {sentence}")
    for other in detail.get("other_candidates") or []:
        chance = other.get("match_probability")
        lines.append(
            f"other candidate: person {other.get('person_id')}, record {other.get('record_id')}"
            + (f", probability {float(chance):.6f}" if isinstance(chance, int | float) else "")
        )
    for d in detail.get("decisions") or []:
        done = DECIDED.get(str(d.get("decision")), "")
        lines.append(f"decided: {d.get('reviewer')} {done} ({d.get('reason')})")
    return lines
