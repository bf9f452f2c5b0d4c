"""Making disclosures: each one a row and a ledger leaf, committed together or not at all.

Both `accord run` (automatic matches and scores) and `accord review decide` (approved
matches and scores) come here, so every disclosure, a derived score's included, is
recorded, hashed into the ledger and signed the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from accord import ids
from accord.ledger import content, unit
from accord.store import db
from accord.store.models import Disclosure
from accord.vocab import DisclosureStatus

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


def disclosure_namer(key: bytes) -> ids.Namer:
    return ids.Namer(key, "disclosure", "D", 20)


def disclosure_id(
    key: bytes, agreement_id: str, record_id: str, person_id: str, score_id: str = ""
) -> str:
    """Deterministic in one database, so a run that is killed and rerun names the same
    disclosure the same way; keyed by the database's ``key`` (`accord.ids.id_key`), so
    a recipient cannot recompute it from the record and person it is about.

    A score disclosure's id also covers its score, since one matched record may carry
    several scores under one agreement besides the record itself.
    """
    return _name(disclosure_namer(key), agreement_id, record_id, person_id, score_id)


def _name(
    namer: ids.Namer, agreement_id: str, record_id: str, person_id: str, score_id: str
) -> str:
    if score_id:
        return namer(agreement_id, record_id, person_id, score_id)
    return namer(agreement_id, record_id, person_id)


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
    namer = disclosure_namer(ids.id_key(conn))
    rows: list[dict[str, Any]] = [
        {
            "disclosure_id": _name(namer, d.agreement_id, d.record_id, d.person_id, d.score_id),
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
            "status": DisclosureStatus.ACTIVE,
            "score_id": d.score_id,
        }
        for d in drafts
    ]
    leaves = [("disclosure", r["disclosure_id"], content.disclosure_leaf(r)) for r in rows]
    indexes = unit.record(conn, leaves)  # the transaction's unit signs a head over them
    for r, index in zip(rows, indexes, strict=True):
        r["ledger_index"] = index
    db.bulk_insert(
        conn,
        Disclosure.__table__,  # type: ignore[arg-type]
        COLUMNS,
        [tuple(r[c] for c in COLUMNS) for r in rows],
    )
    return [r["disclosure_id"] for r in rows]
