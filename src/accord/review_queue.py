"""The run's review queue: a review item for every candidate the gate sent to a person.

Items are written set-based from the gate's DuckDB tables (``gate`` and ``score_gate``,
outcome ``review``), each with its reasons and, for a match, its evidence in plain
sentences; a score item shows the score and its explanation.  Item ids are keyed hashes
(:func:`review_item_id`), so a rerun finds the item it made before.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import duckdb
from sqlalchemy import Connection, select

from accord import gate, ids, scores
from accord.linkage import words
from accord.store import db
from accord.store.models import Match, ReviewItem
from accord.vocab import ItemStatus

PLAIN_REVIEW = {
    gate.AMBIGUOUS: "Another record or person matches almost as well: a person must tell "
    "them apart before anything is shared.",
    gate.LONG_RESIDENCE: "The recipient's record shows residence long before the decision: "
    "evidence to weigh before anyone acts.",
    gate.UNCERTAIN: "The match is not certain enough to share without a person checking it.",
    gate.UNCORROBORATED: "Only the name and date of birth agree: that fits other people too, "
    "so a person must check it.",
}


def review_namer(key: bytes) -> ids.Namer:
    """Review items' ids, keyed by the database's id key as disclosure ids are (`accord.ids`)."""
    return ids.Namer(key, "review", "RV", 16)


def review_item_id(key: bytes, agreement_id: str, person_id: str, record_id: str) -> str:
    return review_namer(key)(agreement_id, person_id, record_id)


def _evidence_words(conn: Connection, match_ids: Sequence[int]) -> dict[int, list[str]]:
    """Per match, its evidence in plain sentences (:func:`accord.linkage.words.summary`),
    kept on the review item so that a reviewer reads why it needs them."""
    found: dict[int, list[str]] = {}
    step = 1_000
    for start in range(0, len(match_ids), step):
        chunk = match_ids[start : start + step]
        for match_id, explanation, evidence in conn.execute(
            select(Match.id, Match.explanation, Match.evidence).where(Match.id.in_(chunk))
        ):
            found[int(match_id)] = words.summary(explanation or [], evidence)
    return found


def queue_reviews(
    conn: Connection, con: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime
) -> int:
    """A review item per ``review`` outcome of ``gate``; returns how many."""
    rows = con.execute(
        """
        SELECT agreement_id, person_id, record_id, review_kind, reasons, match_id,
               match_probability, four_eyes
        FROM gate WHERE outcome = 'review' AND shares_records
        ORDER BY agreement_id, person_id, record_id
        """
    ).fetchall()
    name = review_namer(ids.id_key(conn))
    evidence = _evidence_words(conn, sorted({int(r[5]) for r in rows if r[5] is not None}))
    items = [
        (
            name(a, p, r), kind, p, r, a, match_id, PLAIN_REVIEW[kind],
            {"reasons": reasons, "match_probability": prob,
             "evidence": evidence.get(int(match_id), []) if match_id is not None else []},
            ItemStatus.OPEN, 2 if four_eyes else 1, run_id, now,
        )
        for a, p, r, kind, reasons, match_id, prob, four_eyes in rows
    ]  # fmt: skip
    cols = (
        "item_id", "kind", "person_id", "record_id", "agreement_id", "match_id", "reason",
        "detail", "status", "approvals_needed", "run_id", "created_at",
    )  # fmt: skip
    db.bulk_insert(conn, ReviewItem.__table__, cols, items)  # type: ignore[arg-type]
    return len(items)


def queue_score_reviews(
    conn: Connection, con: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime
) -> int:
    """A ``score_review`` item per score a person must check, showing score and explanation."""
    rows = con.execute(
        """
        SELECT agreement_id, person_id, record_id, score_id, reasons, match_review_reasons,
               match_id, match_probability, four_eyes, recipient, purpose, enforcement, kind,
               value, role, explanation, computed_at, retain_until
        FROM score_gate WHERE outcome = 'review'
        ORDER BY agreement_id, person_id, record_id, score_id
        """
    ).fetchall()
    name = scores.review_namer(ids.id_key(conn))
    items = []
    for (
        a, p, r, score_id, reasons, match_reasons, match_id, prob, four_eyes, recipient,
        purpose, enforcement, kind, value, role, explanation, computed_at, retain_until,
    ) in rows:  # fmt: skip
        reason = scores.review_reason(
            kind=kind, value=float(value), role=role, computed_at=computed_at,
            explanation=explanation, recipient=recipient, purpose=purpose,
            enforcement=bool(enforcement), match_reasons=match_reasons,
        )  # fmt: skip
        detail = {
            "reasons": reasons,
            "match_probability": prob,
            "score": {
                "score_id": score_id, "kind": kind, "value": float(value), "role": role,
                "explanation": json.loads(explanation), "computed_at": computed_at.isoformat(),
                "retain_until": retain_until.isoformat(),
            },
        }  # fmt: skip
        items.append(
            (
                name(a, p, r, score_id), scores.REVIEW_KIND, p, r, a, match_id,
                score_id, reason, detail, ItemStatus.OPEN, 2 if four_eyes else 1, run_id, now,
            )
        )  # fmt: skip
    cols = (
        "item_id", "kind", "person_id", "record_id", "agreement_id", "match_id", "score_id",
        "reason", "detail", "status", "approvals_needed", "run_id", "created_at",
    )  # fmt: skip
    db.bulk_insert(conn, ReviewItem.__table__, cols, items)  # type: ignore[arg-type]
    return len(items)
