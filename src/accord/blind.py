"""Blind review: what a reviewer may see of a match before they have decided it.

An agreement with ``review: blind: true`` asks its reviewers to judge a match from the
two records and what agrees and differs between them, not from the model's score, so
that their decisions are labels the model can be checked against without the score's
anchoring (docs/policy.md).  Until the reviewer has recorded a decision on an item of
such an agreement, every figure that quotes a chance is withheld: the match probability,
the wrong-person chance, the match weights and the evidence sentences built from them.
The records, each comparison's level in words, the reasons for review and the other
candidates (without their chances) stay.  Once they have decided it, everything is
shown.

:func:`for_reviewer` is the one call the screens, the API and the command line make:
given what :func:`accord.web.readmodels.review_item` read, it returns what this
reviewer may see.  :func:`blind_items` answers the same question for many items at once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from accord.store.models import Agreement, AgreementVersion, ReviewDecision, ReviewItem

# The comparisons a blind reviewer sees, in the order they are shown: the fields
# themselves, never the prior, term-frequency or risk adjustments (those are weights).
FIELDS = ("family_name", "given_names", "date_of_birth", "postcode", "began_before_arrival")
FIELD_WORDS = {
    "family_name": "Family name",
    "given_names": "Given names",
    "date_of_birth": "Date of birth",
    "postcode": "Postcode",
    "began_before_arrival": "Start of the record against the person's arrival",
}
HIDDEN_ITEM_DETAIL = ("match_probability", "evidence")
HIDDEN_MATCH = ("match_probability", "match_weight", "evidence", "flags", "rank")
HIDDEN_CANDIDATE = ("match_probability",)


def blind_agreements(conn: Connection, agreement_ids: Sequence[str] | None = None) -> set[str]:
    """The agreements whose version in force asks for blind review (one read)."""
    query = select(AgreementVersion.agreement_id, AgreementVersion.document).join(
        Agreement,
        (Agreement.agreement_id == AgreementVersion.agreement_id)
        & (Agreement.current_version == AgreementVersion.version),
    )
    if agreement_ids is not None:
        query = query.where(AgreementVersion.agreement_id.in_(sorted(set(agreement_ids))))
    found = set()
    for agreement_id, document in conn.execute(query):
        review = document.get("review") if isinstance(document, dict) else None
        if isinstance(review, dict) and review.get("blind") is True:
            found.add(str(agreement_id))
    return found


def blind_items(conn: Connection, item_ids: Sequence[str], reviewer: str) -> set[str]:
    """Of ``item_ids``, those whose score ``reviewer`` may not see yet (two reads)."""
    if not item_ids:
        return set()
    items = conn.execute(
        select(ReviewItem.item_id, ReviewItem.agreement_id).where(
            ReviewItem.item_id.in_(sorted(set(item_ids))), ReviewItem.agreement_id.is_not(None)
        )
    ).all()
    if not items:
        return set()
    blind = blind_agreements(conn, [str(a) for _, a in items])
    candidates = {str(i) for i, a in items if a in blind}
    if not candidates:
        return set()
    decided = {
        str(i)
        for (i,) in conn.execute(
            select(ReviewDecision.item_id).where(
                ReviewDecision.item_id.in_(sorted(candidates)),
                ReviewDecision.reviewer == reviewer,
            )
        )
    }
    return candidates - decided


def is_blind(conn: Connection, item_id: str, reviewer: str) -> bool:
    """Whether ``reviewer`` must not yet see the score of review item ``item_id``."""
    return item_id in blind_items(conn, [item_id], reviewer)


def in_words(explanation: Sequence[Any]) -> list[dict[str, Any]]:
    """Each field comparison of a match: its name, its level in words and both values."""
    found = {
        str(e.get("comparison")): e
        for e in explanation
        if isinstance(e, Mapping) and e.get("comparison") in FIELDS
    }
    return [
        {
            "name": name,
            "field": FIELD_WORDS[name],
            "level": str(found[name].get("level") or ""),
            "left": found[name].get("value_pool"),
            "right": found[name].get("value_register"),
        }
        for name in FIELDS
        if name in found
    ]


def redact(detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` (:func:`accord.web.readmodels.review_item`'s shape) without the score.

    Adds ``blind: True``, ``scores_withheld: True`` and ``compared``: each field's level
    in words with both values.
    """
    seen = copy.deepcopy(dict(detail))
    item = seen.get("item")
    if isinstance(item, dict) and isinstance(item.get("detail"), dict):
        item["detail"] = {k: v for k, v in item["detail"].items() if k not in HIDDEN_ITEM_DETAIL}
    match = seen.get("match")
    explanation: Sequence[Any] = []
    if isinstance(match, dict):
        found = match.get("explanation")
        explanation = found if isinstance(found, list) else []
        seen["match"] = _bare(match)
    if isinstance(seen.get("rivals"), list):
        seen["rivals"] = [_bare(r) for r in seen["rivals"] if isinstance(r, Mapping)]
    if "comparisons" in seen:
        seen["comparisons"] = [
            {**c, "weight": None}
            for c in seen["comparisons"]
            if isinstance(c, Mapping) and c.get("name") in FIELDS
        ]
    if isinstance(seen.get("other_candidates"), list):
        seen["other_candidates"] = [
            {k: v for k, v in c.items() if k not in HIDDEN_CANDIDATE}
            for c in seen["other_candidates"]
            if isinstance(c, Mapping)
        ]
    seen["compared"] = in_words(explanation)
    seen["blind"] = True
    seen["scores_withheld"] = True
    return seen


def _bare(match: Mapping[str, Any]) -> dict[str, Any]:
    """A match without its chances and weights: its explanation keeps the field
    comparisons' levels and values only."""
    kept = {k: v for k, v in match.items() if k not in HIDDEN_MATCH}
    explanation = match.get("explanation")
    kept["explanation"] = [
        {k: v for k, v in e.items() if k != "match_weight"}
        for e in (explanation if isinstance(explanation, list) else [])
        if isinstance(e, Mapping) and e.get("comparison") in FIELDS
    ]
    return kept


def for_reviewer(conn: Connection, detail: Mapping[str, Any], reviewer: str) -> dict[str, Any]:
    """What ``reviewer`` may see of a review item read by ``readmodels.review_item``:
    everything (``scores_withheld: False``) unless blind review withholds the score.
    ``blind`` says whether the item's agreement reviews blind at all."""
    item = detail.get("item")
    item_id = item.get("item_id") if isinstance(item, Mapping) else None
    if isinstance(item_id, str) and is_blind(conn, item_id, reviewer):
        return redact(detail)
    agreement = item.get("agreement_id") if isinstance(item, Mapping) else None
    blind = isinstance(agreement, str) and agreement in blind_agreements(conn, [agreement])
    return {**detail, "blind": blind or bool(detail.get("blind")),
            "scores_withheld": bool(detail.get("scores_withheld"))}  # fmt: skip
