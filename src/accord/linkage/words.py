"""A match's evidence in a few plain sentences, for reviewers, auditors and letters.

Built from what a match keeps (its explanation and ``matches.evidence``), so the words
always agree with the figures: which details agree and which differ, how rare that
combination is in the recipient's register, whether anyone else came close, and the
chance that the record is someone else's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from accord.linkage import model

IDENTITY = ("family_name", "given_names", "date_of_birth")
NAMES = {
    "family_name": "family name",
    "given_names": "given names",
    "date_of_birth": "date of birth",
    "postcode": "postcode",
}
EXACT_LABELS = ("exact match",)
# The labels of the levels where a value is missing on one side (no evidence either way).
NULL_LABELS = frozenset(lv.label for c in model.COMPARISONS for lv in c.levels if lv.null)


def one_in(chance: float) -> str:
    """``0.0123`` as "about 1 in 80"; rounded to two significant figures."""
    if chance <= 0:
        return "less than 1 in a billion"
    if chance >= 0.5:
        return f"about {round(chance * 100)} in 100"
    n = 1.0 / chance
    if n >= 1e9:
        return "less than 1 in a billion"
    digits = max(0, math.floor(math.log10(n)) - 1)
    rounded = int(round(n / 10**digits) * 10**digits)
    return f"about 1 in {rounded:,}"


def _entries(explanation: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(e.get("comparison")): e
        for e in explanation
        if isinstance(e, Mapping) and e.get("comparison") is not None
    }


def _weight(entry: Mapping[str, Any] | None) -> float:
    value = entry.get("match_weight") if entry else None
    return float(value) if isinstance(value, int | float) else 0.0


def summary(explanation: Sequence[Any], evidence: Mapping[str, Any] | None) -> list[str]:
    """The match in plain sentences (an empty list when nothing is known about it)."""
    found = _entries(explanation)
    sentences: list[str] = []
    agree = [n for n in NAMES if str(found.get(n, {}).get("level", "")) in EXACT_LABELS]
    missing = [n for n in NAMES if n in found and str(found[n].get("level", "")) in NULL_LABELS]
    differ = [
        n
        for n in NAMES
        if n in found and n not in agree and n not in missing and _weight(found[n]) < 0
    ]
    close = [n for n in NAMES if n in found and n not in agree + missing + differ]
    if agree:
        sentences.append(f"{_listed(agree)} {_verb(agree, 'agrees', 'agree')} exactly.")
    if close:
        sentences.append(f"{_listed(close)} {_verb(close, 'agrees', 'agree')}, but not exactly.")
    if differ:
        sentences.append(f"{_listed(differ)} {_verb(differ, 'differs', 'differ')}.")
    if missing:
        sentences.append(f"{_listed(missing)} {_verb(missing, 'is', 'are')} missing on one side.")
    if (
        found.get("postcode", {}).get("level")
        == "an earlier address the source holds for the person"
    ):
        sentences.append("The postcode is one of the person's earlier addresses.")
    identity = sum(_weight(found.get(n)) + _weight(found.get(f"tf_{n}")) for n in IDENTITY)
    identity += sum(
        _weight(found.get(k)) for k in ("name_frequency", "other_way_round", "lookalikes")
    )
    if all(n in agree for n in IDENTITY) and identity > 0:
        sentences.append(
            "A record of someone else would carry these names and this date of birth "
            f"{one_in(2.0**-identity).replace('1 in', '1 time in')}."
        )
    evidence = evidence or {}
    others = evidence.get("name_others")
    if isinstance(others, int) and others > 0:
        sentences.append(
            f"{others:,} other record{'s' if others != 1 else ''} in the register "
            f"{'have' if others != 1 else 'has'} the same family and given name."
        )
    gap = evidence.get("rival_gap")
    if isinstance(gap, int | float):
        sentences.append(
            "Another record or person comes close: this one is "
            f"{_times(gap)} as likely as the strongest other."
            if gap >= 0
            else "Another record or person is the stronger candidate: it is "
            f"{_times(-gap)} as likely as this one."
        )
    elif evidence:
        sentences.append("No other record or person comes close.")
    coverage = evidence.get("coverage")
    if isinstance(coverage, int | float):
        sentences.append(
            f"The register holds a record for at least {coverage:.0%} of the people on the "
            "list, so it may hold none for this person."
            if coverage < 0.5
            else f"The register holds a record for at least {coverage:.0%} of the people on "
            "the list."
        )
    wrong = evidence.get("wrong_person")
    if isinstance(wrong, int | float):
        sentences.append(f"Chance that the record is someone else's: {one_in(float(wrong))}.")
    return sentences


def _times(bits: float) -> str:
    times = 2.0**bits
    if times >= 1e6:
        return "over a million times"
    if times >= 10:
        return f"about {times:,.0f} times"
    return f"about {times:.1f} times"


def _verb(names: Sequence[str], one: str, many: str) -> str:
    plural = len(names) > 1 or names[0] == "given_names"
    return many if plural else one


def _listed(names: Sequence[str]) -> str:
    words = [NAMES[n] for n in names]
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return text[0].upper() + text[1:]
