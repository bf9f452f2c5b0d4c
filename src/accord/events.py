"""Facts that arrive after a run (SPEC.md events): each one reaches every body it should.

``decision_overturned``, ``leave_granted``, ``record_corrected``  withdraw the person from the
    pool and recall every disclosure about them (a wrong was done: remedies are tracked);
    ``record_corrected`` also opens a re-review, since what was held was wrong.
``departure_recorded``  withdraws and tells recipients, without implying a wrong.
``evidence_received``, ``dispute_opened``  freeze all further sharing about the person and
    open a re-review item (F6).
``dispute_resolved``  opens a review item whose approval lifts the freeze: a person, not
    the arrival of a message, decides that sharing may resume.

A file is applied whole or not at all; an event already applied (same id and content) is
skipped, so applying the same file twice changes nothing.

`accord events` writes the recalls it made to ``recalls.csv`` after they are committed.
So that a recall is never lost when that file cannot be written (a full disk, a kill),
the application is recorded in the same transaction as its recalls, as a ``runs`` row
(``command`` ``events``, status ``applied``, the recall ids in ``summary``); once a
``recalls.csv`` carrying them is in place it is marked ``completed``.  Each call writes
the recalls of every application still ``applied`` besides its own, as `accord run`
delivers the disclosures of a run that died before its files were written.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, insert, select, update

from accord import auditlog
from accord.clock import business_time
from accord.errors import InputError, Problem
from accord.ledger import unit as ledger_unit
from accord.remedy import RecallRow, chunks, withdraw_and_recall
from accord.store import db
from accord.store.models import (
    CaseDecision,
    Disclosure,
    Event,
    Freeze,
    Recall,
    ReviewItem,
    Run,
    utcnow,
)
from accord.vocab import (
    FREEZING_EVENTS,
    WITHDRAWING_EVENTS,
    EventType,
    ItemStatus,
    ReviewKind,
)

WITHDRAWING = WITHDRAWING_EVENTS
FREEZING = FREEZING_EVENTS
REVIEW_KIND = {
    EventType.EVIDENCE_RECEIVED: ReviewKind.RE_REVIEW,
    EventType.DISPUTE_OPENED: ReviewKind.DISPUTE,
    EventType.RECORD_CORRECTED: ReviewKind.RE_REVIEW,
    EventType.DISPUTE_RESOLVED: ReviewKind.DISPUTE_RESOLUTION,
}
PLAIN = {
    EventType.EVIDENCE_RECEIVED: (
        "New evidence arrived; sharing is frozen until a person re-reviews."
    ),
    EventType.DISPUTE_OPENED: "The person disputes what is held; sharing is frozen until resolved.",
    EventType.RECORD_CORRECTED: "The record was corrected; what was shared must be re-reviewed.",
    EventType.DISPUTE_RESOLVED: "The dispute is reported resolved; approving lifts the freeze.",
}


@dataclass
class EventsResult:
    applied: int = 0
    already_applied: int = 0
    withdrawn: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)
    review_items: list[str] = field(default_factory=list)
    recalls: list[RecallRow] = field(default_factory=list)


def _check(conn: Connection, path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reject unknown people and changed events; return the events not applied before."""
    people = sorted({r["person_id"] for r in rows})
    known: set[str] = set()
    for chunk in chunks(people):
        known |= set(
            conn.scalars(
                select(CaseDecision.person_id).where(CaseDecision.person_id.in_(chunk)).distinct()
            )
        )
    ids = [r["event_id"] for r in rows]
    before: dict[str, tuple[str, str, dt.date]] = {}
    for chunk in chunks(ids):
        for e in conn.execute(
            select(Event.event_id, Event.person_id, Event.event_type, Event.event_date).where(
                Event.event_id.in_(chunk)
            )
        ):
            before[e.event_id] = (e.person_id, e.event_type, e.event_date)
    problems = []
    for r in rows:
        if r["person_id"] not in known:
            problems.append(
                Problem(str(path), r["__row"], "person_id", f"unknown person {r['person_id']!r}")
            )
        elif r["event_id"] in before and before[r["event_id"]] != (
            r["person_id"],
            r["event_type"],
            r["event_date"],
        ):
            problems.append(
                Problem(
                    str(path),
                    r["__row"],
                    "event_id",
                    f"event {r['event_id']!r} was applied before with different content",
                )
            )
    if problems:
        raise InputError(problems[:20], len(problems))
    return [r for r in rows if r["event_id"] not in before]


def apply_events(
    url: str,
    table: pa.Table,
    source: str,
    as_of: dt.date,
    actor: str,
    key: Path | None = None,
    deliver_by_file: bool = False,
) -> EventsResult:
    """Apply events already read by `accord.formats` (from a file or an API request).

    ``key`` is the ledger signing key (default: as `accord.ledger.keys` finds it); the
    transaction commits with a tree head signed over the recalls' leaves
    (`accord.ledger.unit`).  With ``deliver_by_file``
    (`accord events`) the recalls made wait, recorded, until :func:`mark_delivered`.
    """
    path = Path(source)
    rows = sorted(table.to_pylist(), key=lambda r: (r["event_date"], r["__row"]))
    result = EventsResult()
    with db.connect(url) as conn, ledger_unit.work(conn, key):
        new = _check(conn, path, rows)
        result.already_applied = len(rows) - len(new)
        if not new:
            return result
        db.bulk_insert(
            conn,
            Event.__table__,  # type: ignore[arg-type]
            ("event_id", "person_id", "event_type", "event_date", "detail", "applied_at"),
            [
                (
                    r["event_id"],
                    r["person_id"],
                    r["event_type"],
                    r["event_date"],
                    r["detail"],
                    utcnow(),
                )
                for r in new
            ],
        )
        for event_type in WITHDRAWING:
            group = [r for r in new if r["event_type"] == event_type]
            if not group:
                continue
            done = withdraw_and_recall(
                conn, {event_type: [r["person_id"] for r in group]}, actor, as_of,
                event_of={r["person_id"]: r["event_id"] for r in group},
            )  # fmt: skip
            result.withdrawn += done.withdrawn
            result.recalls += done.recalls
        items: list[dict[str, Any]] = []
        freezes: list[dict[str, Any]] = []
        for r in new:
            kind = REVIEW_KIND.get(r["event_type"])
            if kind is None:
                continue
            item_id = f"EV-{r['event_id']}"
            items.append(
                {
                    "item_id": item_id,
                    "kind": kind,
                    "person_id": r["person_id"],
                    "reason": PLAIN[r["event_type"]],
                    "detail": {
                        "event_id": r["event_id"],
                        "event_type": r["event_type"],
                        "event_date": r["event_date"].isoformat(),
                        "detail": r["detail"],
                    },
                    # Approving lets sharing resume (adverse to the person): four eyes.
                    "approvals_needed": 2,
                }
            )
            if r["event_type"] in FREEZING:
                freezes.append(
                    {
                        "person_id": r["person_id"],
                        "reason": r["event_type"],
                        "event_id": r["event_id"],
                        "review_item_id": item_id,
                    }
                )
        # Opened as of the day the events are applied (accord.clock), not the wall clock's.
        opened = business_time(as_of)
        for item in items:
            conn.execute(
                insert(ReviewItem).values(**item, status=ItemStatus.OPEN, created_at=opened)
            )
        for f in freezes:
            conn.execute(insert(Freeze).values(**f, opened_at=opened))
        if result.recalls and deliver_by_file:
            _await_delivery(conn, result.recalls, as_of)
        result.review_items = [i["item_id"] for i in items]
        result.frozen = sorted({f["person_id"] for f in freezes})
        result.applied = len(new)
        auditlog.log_many(
            conn,
            [
                (actor, f"event_{r['event_type']}", r["person_id"], {"event_id": r["event_id"]})
                for r in new
            ],
        )
    return result


def _await_delivery(conn: Connection, recalls: Sequence[RecallRow], as_of: dt.date) -> None:
    """Record, with the recalls, that no ``recalls.csv`` carries them yet."""
    now = utcnow()
    conn.execute(
        insert(Run).values(
            run_id=f"events-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
            command="events",
            as_of=as_of,
            started_at=now,
            status="applied",
            inputs={},
            summary={"recalls": [r.recall_id for r in recalls]},
        )
    )


@dataclass(frozen=True)
class Undelivered:
    """Recalls `accord events` made that no ``recalls.csv`` has carried yet."""

    applications: list[str]  # their ``runs`` rows, to mark delivered once written
    recalls: list[RecallRow]


def undelivered(url: str) -> Undelivered:
    """Every recall of an `accord events` application still waiting for its file, in
    ledger order (the call just made included)."""
    with db.connect(url) as conn:
        waiting = conn.execute(
            select(Run.run_id, Run.summary)
            .where(Run.command == "events", Run.status == "applied")
            .order_by(Run.started_at, Run.run_id)
        ).all()
        recall_ids = sorted(
            {i for _, summary in waiting for i in (summary or {}).get("recalls", [])}
        )
        names = [f.name for f in fields(RecallRow)]
        columns = {c.name: c for c in Recall.__table__.c} | {"record_id": Disclosure.record_id}
        found: list[Any] = []
        for chunk in chunks(recall_ids):
            found += conn.execute(
                select(*(columns[n].label(n) for n in names), Recall.ledger_index)
                .join(Disclosure, Disclosure.disclosure_id == Recall.disclosure_id)
                .where(Recall.recall_id.in_(chunk))
            ).all()
    found.sort(key=lambda r: r.ledger_index)
    recalls = [RecallRow(**{n: getattr(r, n) for n in names}) for r in found]
    return Undelivered([run_id for run_id, _ in waiting], recalls)


def mark_delivered(url: str, applications: Sequence[str]) -> None:
    """The ``recalls.csv`` carrying these applications' recalls is in place."""
    with db.connect(url) as conn:
        for chunk in chunks(list(applications)):
            conn.execute(
                update(Run)
                .where(Run.run_id.in_(chunk), Run.status == "applied")
                .values(status="completed", finished_at=utcnow())
            )


def open_freezes(conn: Connection) -> list[str]:
    return sorted(set(conn.scalars(select(Freeze.person_id).where(Freeze.lifted_at.is_(None)))))
