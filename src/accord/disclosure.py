"""Making disclosures: each one a row and a ledger leaf, committed together or not at all.

Both `accord run` (automatic matches and scores) and `accord review decide` (approved
matches and scores) come here, so every disclosure, a derived score's included, is
recorded, hashed into the ledger and signed the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from accord.ledger import content, log
from accord.store import db
from accord.store.models import Disclosure

AUTOMATIC = "rule:automatic"


@dataclass(frozen=True)
class Draft:
    """A disclosure the gate allowed, before it has an id and a ledger leaf."""

    agreement_id: str
    agreement_version: int
    recipient: str
    record_id: str
    person_id: str
    match_probability: float
    decided_by: str
    fields: dict[str, Any] = field(default_factory=dict)
    match_id: int | None = None
    score_id: str = ""  # the derived score this disclosure carries; "" for a record


def disclosure_id(agreement_id: str, record_id: str, person_id: str, score_id: str = "") -> str:
    """Deterministic, so a run that is killed and rerun names the same disclosure the same way.

    A score disclosure's id also covers its score, since one matched record may carry
    several scores under one agreement besides the record itself.
    """
    key = f"{agreement_id}\x1f{record_id}\x1f{person_id}"
    if score_id:
        key += f"\x1f{score_id}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"D-{digest[:20]}"


COLUMNS = (
    "disclosure_id",
    "run_id",
    "agreement_id",
    "agreement_version",
    "recipient",
    "record_id",
    "person_id",
    "match_probability",
    "match_id",
    "decided_by",
    "fields",
    "disclosed_at",
    "ledger_index",
    "status",
    "score_id",
)


def disclose(
    conn: Connection, drafts: Sequence[Draft], disclosed_at: dt.datetime, run_id: str | None
) -> list[str]:
    """Record the drafts as disclosures with their ledger leaves, in the caller's transaction."""
    if not drafts:
        return []
    rows: list[dict[str, Any]] = [
        {
            "disclosure_id": disclosure_id(d.agreement_id, d.record_id, d.person_id, d.score_id),
            "run_id": run_id,
            "agreement_id": d.agreement_id,
            "agreement_version": d.agreement_version,
            "recipient": d.recipient,
            "record_id": d.record_id,
            "person_id": d.person_id,
            "match_probability": float(d.match_probability),
            "match_id": d.match_id,
            "decided_by": d.decided_by,
            "fields": d.fields,
            "disclosed_at": disclosed_at,
            "status": "active",
            "score_id": d.score_id,
        }
        for d in drafts
    ]
    leaves = [("disclosure", r["disclosure_id"], content.disclosure_leaf(r)) for r in rows]
    indexes = log.append(conn, leaves)
    for r, index in zip(rows, indexes, strict=True):
        r["ledger_index"] = index
    db.bulk_insert(
        conn,
        Disclosure.__table__,  # type: ignore[arg-type]
        COLUMNS,
        [tuple(r[c] for c in COLUMNS) for r in rows],
    )
    return [r["disclosure_id"] for r in rows]
