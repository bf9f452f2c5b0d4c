"""Exemptions: items kept out of a subject access report, explicitly and accountably (F10).

An exemption in data-protection law once let a department refuse people the data used
against them, wholesale and silently.  Here an exemption covers one named item (a case
record, a disclosure, a recall, ...), must say which exemption applies and why, names
who applied it, and is written to the audit log when applied and when lifted.  The
report then lists the item as withheld, with all of that, instead of leaving it out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from accord import auditlog
from accord.errors import AccordError, InvalidInput
from accord.store import db
from accord.store.models import (
    AuditLog,
    CaseDecision,
    DerivedScore,
    Disclosure,
    Event,
    Exemption,
    Freeze,
    Person,
    PoolEntry,
    PoolHistory,
    Recall,
    RecipientAction,
    ReviewItem,
    as_utc,
    utcnow,
)
from accord.vocab import EXEMPTION_ITEM_KINDS

# What can be withheld, and how each is named on the command line (KIND:REF).
_INTEGER_REFS = ("pool_status", "action", "freeze")


@dataclass(frozen=True)
class ExemptionRecord:
    exemption_id: int
    person_id: str
    item_kind: str
    item_ref: str
    exemption: str
    justification: str
    applied_by: str
    applied_at: dt.datetime
    lifted_at: dt.datetime | None
    lifted_by: str | None
    lift_reason: str | None

    @property
    def item(self) -> str:
        return f"{self.item_kind}:{self.item_ref}"

    @property
    def active(self) -> bool:
        return self.lifted_at is None


def parse_item(text: str) -> tuple[str, str]:
    """``KIND:REF`` -> (kind, ref); AccordError naming the kinds when it is not one."""
    kind, sep, ref = text.partition(":")
    kind, ref = kind.strip(), ref.strip()
    if not sep or not ref or kind not in EXEMPTION_ITEM_KINDS:
        raise InvalidInput(
            "item",
            f"{text!r} is not KIND:REF with KIND one of {', '.join(EXEMPTION_ITEM_KINDS)} "
            "(for example disclosure:D-0123456789abcdef0123)",
        )
    if kind in _INTEGER_REFS and not ref.isdigit():
        raise InvalidInput("item", f"{text!r}: a {kind} is named by its number")
    return kind, ref


def person_known(conn: Connection, person_id: str) -> bool:
    """Whether any case record, derived person, pool entry or disclosure has this id."""
    for column in (
        Person.person_id, CaseDecision.person_id, PoolEntry.person_id, Disclosure.person_id,
    ):  # fmt: skip
        if conn.execute(select(column).where(column == person_id).limit(1)).first() is not None:
            return True
    return False


def _require_person(conn: Connection, person_id: str) -> None:
    if not person_known(conn, person_id):
        raise AccordError(
            f"no person {person_id!r} is known to Accord: no case record, pool entry or "
            "disclosure has that id"
        )


def item_belongs(conn: Connection, person_id: str, kind: str, ref: str) -> bool:
    """Whether the item exists and is about this person."""
    query: Any
    if kind == "case":
        query = select(CaseDecision.case_id).where(
            CaseDecision.case_id == ref, CaseDecision.person_id == person_id
        )
    elif kind == "pool_status":
        query = select(PoolHistory.id).where(
            PoolHistory.id == int(ref), PoolHistory.person_id == person_id
        )
    elif kind == "disclosure":
        query = select(Disclosure.disclosure_id).where(
            Disclosure.disclosure_id == ref, Disclosure.person_id == person_id
        )
    elif kind == "action":
        query = (
            select(RecipientAction.id)
            .join(Disclosure, Disclosure.disclosure_id == RecipientAction.disclosure_id)
            .where(RecipientAction.id == int(ref), Disclosure.person_id == person_id)
        )
    elif kind == "recall":
        query = select(Recall.recall_id).where(
            Recall.recall_id == ref, Recall.person_id == person_id
        )
    elif kind == "event":
        query = select(Event.event_id).where(Event.event_id == ref, Event.person_id == person_id)
    elif kind == "review":
        query = select(ReviewItem.item_id).where(
            ReviewItem.item_id == ref, ReviewItem.person_id == person_id
        )
    elif kind == "freeze":
        query = select(Freeze.id).where(Freeze.id == int(ref), Freeze.person_id == person_id)
    elif kind == "score":
        query = select(DerivedScore.score_id).where(
            DerivedScore.score_id == ref, DerivedScore.person_id == person_id
        )
    else:
        raise AccordError(
            f"{kind!r} is not an item kind: use one of {', '.join(EXEMPTION_ITEM_KINDS)}"
        )
    return conn.execute(query.limit(1)).first() is not None


def active_exemptions(conn: Connection, person_id: str) -> list[Any]:
    """Exemption rows in force for the person now, oldest first."""
    return list(
        conn.execute(
            select(Exemption.__table__)
            .where(Exemption.person_id == person_id, Exemption.lifted_at.is_(None))
            .order_by(Exemption.applied_at, Exemption.id)
        ).all()
    )


def _in_force(conn: Connection, person_id: str, kind: str, ref: str) -> Any | None:
    """The exemption row in force on one item of the person's, or None if it is not withheld."""
    return conn.execute(
        select(Exemption.__table__).where(
            Exemption.person_id == person_id,
            Exemption.item_kind == kind,
            Exemption.item_ref == ref,
            Exemption.lifted_at.is_(None),
        )
    ).first()


def _required(value: str, field: str, why: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(field, f"must not be empty: {why}")
    return value


def apply(
    url: str,
    person_id: str,
    item: str,
    exemption: str,
    justification: str,
    applied_by: str,
) -> ExemptionRecord:
    """Withhold one item from the person's reports; logged in the same transaction."""
    kind, ref = parse_item(item)
    exemption = _required(exemption, "exemption", "name the exemption in law that applies")
    justification = _required(justification, "justification", "say why it applies to this item")
    applied_by = _required(applied_by, "applied_by", "name the person applying it")
    with db.connect(url) as conn:
        _require_person(conn, person_id)
        if not item_belongs(conn, person_id, kind, ref):
            raise AccordError(f"person {person_id!r} has no {kind} {ref!r}")
        clash = _in_force(conn, person_id, kind, ref)
        if clash is not None:
            raise AccordError(
                f"{kind}:{ref} is already withheld (exemption {clash.id}); lift it first"
            )
        at = utcnow()
        new_id = conn.execute(
            Exemption.__table__.insert()  # type: ignore[attr-defined]
            .values(
                person_id=person_id, item_kind=kind, item_ref=ref, exemption=exemption,
                justification=justification, applied_by=applied_by, applied_at=at,
            )
            .returning(Exemption.id)
        ).scalar_one()  # fmt: skip
        auditlog.log(
            conn, applied_by, "exemption_applied", person_id, exemption_id=new_id,
            item=f"{kind}:{ref}", exemption=exemption, justification=justification,
        )  # fmt: skip
    return ExemptionRecord(
        int(new_id), person_id, kind, ref, exemption, justification, applied_by, at,
        None, None, None,
    )  # fmt: skip


def lift(url: str, person_id: str, item: str, lifted_by: str, reason: str) -> ExemptionRecord:
    """End the exemption in force on one item; the item appears in reports again."""
    kind, ref = parse_item(item)
    lifted_by = _required(lifted_by, "lifted_by", "name the person lifting it")
    reason = _required(reason, "reason", "say why it no longer applies")
    with db.connect(url) as conn:
        _require_person(conn, person_id)
        row = _in_force(conn, person_id, kind, ref)
        if row is None:
            raise AccordError(f"no exemption is in force on {kind}:{ref} for {person_id!r}")
        at = utcnow()
        conn.execute(update(Exemption).where(Exemption.id == row.id).values(lifted_at=at))
        auditlog.log(
            conn, lifted_by, "exemption_lifted", person_id, exemption_id=row.id,
            item=f"{kind}:{ref}", reason=reason,
        )  # fmt: skip
    return ExemptionRecord(
        int(row.id), person_id, kind, ref, row.exemption, row.justification, row.applied_by,
        as_utc(row.applied_at), at, lifted_by, reason,
    )  # fmt: skip


def list_exemptions(url: str, person_id: str) -> list[ExemptionRecord]:
    """Every exemption ever applied for the person, in force or lifted, with who lifted it."""
    with db.connect(url) as conn:
        _require_person(conn, person_id)
        rows = conn.execute(
            select(Exemption.__table__)
            .where(Exemption.person_id == person_id)
            .order_by(Exemption.applied_at, Exemption.id)
        ).all()
        lifts: dict[int, tuple[str, str | None]] = {}
        for actor, detail in conn.execute(
            select(AuditLog.actor, AuditLog.detail)
            .where(AuditLog.person_id == person_id, AuditLog.action == "exemption_lifted")
            .order_by(AuditLog.id)  # the latest lift of an exemption is the one shown
        ):
            if isinstance(detail, dict) and isinstance(detail.get("exemption_id"), int):
                lifts[detail["exemption_id"]] = (actor, detail.get("reason"))
    return [
        ExemptionRecord(
            int(r.id), r.person_id, r.item_kind, r.item_ref, r.exemption, r.justification,
            r.applied_by, as_utc(r.applied_at),
            as_utc(r.lifted_at) if r.lifted_at is not None else None,
            lifts.get(int(r.id), (None, None))[0] if r.lifted_at is not None else None,
            lifts.get(int(r.id), (None, None))[1] if r.lifted_at is not None else None,
        )
        for r in rows
    ]  # fmt: skip
