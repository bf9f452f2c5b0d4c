"""Corrections that reach every recipient, and remedies tracked until the harm is undone.

A recall is a ledger leaf like a disclosure, so a recipient (and the person) can prove it
was sent.  Its remedy is ``outstanding`` while the recipient's last reported action on the
disclosure is adverse (revoked, stopped, closed, refused) and becomes ``remedied`` only
when the recipient reports the reversal (reinstated, restored, reopened).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, and_, func, select, update

from accord import auditlog, ids, pool
from accord.clock import business_time
from accord.errors import InputError, Problem
from accord.formats.schema import ADVERSE_ACTIONS, REVERSAL_ACTIONS
from accord.ledger import content, unit
from accord.store import db
from accord.store.models import Disclosure, Recall, RecipientAction, utcnow
from accord.vocab import DisclosureStatus, EventType, RecallReason, RemedyStatus

# Reasons a recall does not imply the disclosure was wrong (no remedy is tracked): a
# departure, and a derived score that reached its retention limit or was destroyed (F8).
NOT_WRONGFUL = (
    EventType.DEPARTURE_RECORDED,
    RecallReason.SCORE_EXPIRED,
    RecallReason.SCORE_DESTROYED,
)
CHUNK = 10_000


@dataclass(frozen=True)
class RecallRow:
    recall_id: str
    disclosure_id: str
    recipient: str
    person_id: str
    reason: str
    record_id: str  # the recipient's own record the recalled disclosure was about


# `recalls.csv` (`accord events`, `accord scores recall-expired`): SPEC.md's columns, then
# the recipient's record_id, so that the recipient undoes what it did on that record.
RECALL_COLUMNS = ("recall_id", "disclosure_id", "recipient", "person_id", "reason", "record_id")


def recall_csv_rows(recalls: Sequence[RecallRow]) -> list[list[object]]:
    """``recalls.csv``'s rows, in :data:`RECALL_COLUMNS` order."""
    return [[getattr(r, c) for c in RECALL_COLUMNS] for r in recalls]


def recall_id(key: bytes, disclosure_id: str) -> str:
    """Keyed like the disclosure's own id (`accord.ids`): one recall per disclosure."""
    return ids.Namer(key, "recall", "RC", 20)(disclosure_id)


def chunks(items: Sequence[str]) -> list[Sequence[str]]:
    """Slices small enough for an IN (...) list on either database."""
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def recall_people(
    conn: Connection,
    person_ids: Sequence[str],
    reason: str,
    actor: str,
    event_id: str | None = None,
    at: dt.datetime | None = None,
    event_of: Mapping[str, str] | None = None,
) -> list[RecallRow]:
    """Recall every active disclosure about these people, in the caller's transaction.

    ``event_of`` names, per person, the event that caused their recall (else ``event_id``).
    """
    found = _active(conn, Disclosure.person_id, person_ids)
    return _recall(conn, found, reason, actor, event_id, at, event_of)


def recall_disclosures(
    conn: Connection,
    disclosure_ids: Sequence[str],
    reason: str,
    actor: str,
    at: dt.datetime | None = None,
) -> list[RecallRow]:
    """Recall these disclosures (those still active), in the caller's transaction.

    For a recall about one thing shared rather than about the person, such as a derived
    score past its retention limit.
    """
    found = _active(conn, Disclosure.disclosure_id, disclosure_ids)
    return _recall(conn, found, reason, actor, None, at, None)


@dataclass(frozen=True)
class Withdrawal:
    withdrawn: list[str]  # the people this moved to ``withdrawn`` (not those already there)
    recalls: list[RecallRow]


def withdraw_and_recall(
    conn: Connection,
    people_by_reason: Mapping[str, Sequence[str]],
    actor: str,
    as_of: dt.date,
    event_of: Mapping[str, str] | None = None,
) -> Withdrawal:
    """Withdraw people from the pool and recall everything disclosed about them, in the
    caller's transaction: a reason at a time, in the order given, each recall dated as of
    the day the withdrawal takes effect (`accord.clock`).

    Every step that takes someone out of the pool comes here: events, an upheld challenge
    (`accord review decide`), and a run or a cleansing, whose admission has already
    withdrawn the people it names (they stay as they are; only their disclosures are
    recalled).  ``event_of`` names, per person, the event that caused the recall.
    """
    at = business_time(as_of)
    withdrawn: list[str] = []
    recalls: list[RecallRow] = []
    for reason, people in people_by_reason.items():
        withdrawn += pool.withdraw(conn, people, reason, as_of, None)
        recalls += recall_people(conn, people, reason, actor, at=at, event_of=event_of)
    return Withdrawal(withdrawn, recalls)


def by_reason(withdrawn: Sequence[tuple[str, str]], prefix: str = "") -> dict[str, list[str]]:
    """``(person_id, reasons)`` pairs as admission reports them, grouped by ``prefix +
    reasons`` in order of first appearance: one recall reason per set of reasons, not per
    person (a cleansing can withdraw thousands of people for a handful of reasons)."""
    grouped: dict[str, list[str]] = {}
    for person_id, reasons in withdrawn:
        grouped.setdefault(prefix + reasons, []).append(person_id)
    return grouped


def _active(conn: Connection, column: Any, values: Sequence[str]) -> list[Any]:
    """(disclosure_id, recipient, person_id, record_id) of the active disclosures whose
    ``column`` is one of ``values``, read a chunk of values at a time."""
    found: list[Any] = []
    for chunk in chunks(sorted(set(values))):
        found += conn.execute(
            select(
                Disclosure.disclosure_id,
                Disclosure.recipient,
                Disclosure.person_id,
                Disclosure.record_id,
            ).where(column.in_(chunk), Disclosure.status == DisclosureStatus.ACTIVE)
        ).all()
    return found


def _recall(
    conn: Connection,
    found: list[Any],
    reason: str,
    actor: str,
    event_id: str | None,
    at: dt.datetime | None,
    event_of: Mapping[str, str] | None,
) -> list[RecallRow]:
    """Recall the active disclosures ``found`` (id, recipient, person, record): leaves, rows,
    log."""
    at = at or utcnow()
    if not found:
        return []
    found.sort()
    disclosure_ids = [f.disclosure_id for f in found]
    adverse = {d: a in ADVERSE_ACTIONS for d, (a, _) in _last_actions(conn, disclosure_ids).items()}
    wrongful = reason not in NOT_WRONGFUL
    name = ids.Namer(ids.id_key(conn), "recall", "RC", 20)
    rows = [
        {
            "recall_id": name(f.disclosure_id),
            "disclosure_id": f.disclosure_id,
            "recipient": f.recipient,
            "person_id": f.person_id,
            "reason": reason,
            "event_id": (event_of or {}).get(f.person_id, event_id),
            "recalled_at": at,
            "remedy_status": RemedyStatus.OUTSTANDING
            if wrongful and adverse.get(f.disclosure_id)
            else RemedyStatus.NONE_NEEDED,
        }
        for f in found
    ]
    indexes = unit.record(conn, [("recall", r["recall_id"], content.recall_leaf(r)) for r in rows])
    cols = (
        "recall_id",
        "disclosure_id",
        "recipient",
        "person_id",
        "reason",
        "event_id",
        "recalled_at",
        "remedy_status",
        "ledger_index",
    )
    for r, index in zip(rows, indexes, strict=True):
        r["ledger_index"] = index
    db.bulk_insert(conn, Recall.__table__, cols, [tuple(r[c] for c in cols) for r in rows])  # type: ignore[arg-type]
    for chunk in chunks(disclosure_ids):
        conn.execute(
            update(Disclosure)
            .where(Disclosure.disclosure_id.in_(chunk))
            .values(status=DisclosureStatus.RECALLED)
        )
    auditlog.log_many(
        conn,
        [
            (
                actor,
                "recall",
                r["person_id"],
                {
                    "recall_id": r["recall_id"],
                    "disclosure_id": r["disclosure_id"],
                    "reason": reason,
                    "event_id": r["event_id"],
                },
            )
            for r in rows
        ],
    )
    record_of = {f.disclosure_id: f.record_id for f in found}
    return [
        RecallRow(
            r["recall_id"], r["disclosure_id"], r["recipient"], r["person_id"], reason,
            record_of[r["disclosure_id"]],
        )
        for r in rows
    ]  # fmt: skip


# --- recipient actions ---------------------------------------------------------------------


@dataclass(frozen=True)
class ActionsResult:
    recorded: int
    already_known: int
    outstanding: int
    remedied: int


def record_actions(
    url: str, recipient: str, table: pa.Table, source: str, actor: str
) -> ActionsResult:
    """Store what a recipient did with its disclosures; refuse the whole file on any bad row.

    ``table`` comes from `accord.formats` (a file or an API request); ``source`` names it.
    """
    path = source
    rows = table.to_pylist()
    ids = sorted({r["disclosure_id"] for r in rows})
    with db.connect(url) as conn:
        owner: dict[str, str] = {}
        for chunk in chunks(ids):
            owner.update(
                conn.execute(
                    select(Disclosure.disclosure_id, Disclosure.recipient).where(
                        Disclosure.disclosure_id.in_(chunk)
                    )
                ).all()
            )
        # Another recipient's disclosure is refused in the very words an unknown one is,
        # so that a recipient reporting actions learns nothing about what others were sent.
        problems = [
            Problem(
                str(path),
                r["__row"],
                "disclosure_id",
                f"disclosure {r['disclosure_id']!r} was not made to {recipient}",
            )
            for r in rows
            if owner.get(r["disclosure_id"]) != recipient
        ]
        if problems:
            raise InputError(problems[:20], len(problems))
        existing: set[tuple[str, str, dt.date]] = set()
        for chunk in chunks(ids):
            existing |= set(
                (r[0], r[1], r[2])
                for r in conn.execute(
                    select(
                        RecipientAction.disclosure_id,
                        RecipientAction.action,
                        RecipientAction.action_date,
                    ).where(RecipientAction.disclosure_id.in_(chunk))
                ).all()
            )
        new = []
        now = utcnow()
        for r in rows:
            key = (r["disclosure_id"], r["action"], r["action_date"])
            if key not in existing:
                existing.add(key)
                new.append((*key, recipient, now))
        db.bulk_insert(
            conn,
            RecipientAction.__table__,  # type: ignore[arg-type]
            ("disclosure_id", "action", "action_date", "recipient", "recorded_at"),
            new,
        )
        outstanding, remedied = _refresh_remedies(conn, sorted({n[0] for n in new}))
        auditlog.log(
            conn, actor, "recipient_actions", recipient=recipient, file=str(path), recorded=len(new)
        )
    return ActionsResult(len(new), len(rows) - len(new), outstanding, remedied)


def _refresh_remedies(conn: Connection, disclosure_ids: Sequence[str]) -> tuple[int, int]:
    """Recompute the remedy state of recalls whose disclosures have new actions.

    A recall whose disclosure was last acted on adversely is outstanding; one whose
    disclosure's last action reversed it is remedied on that day.  The changes are
    written a chunk of recalls at a time, one ``UPDATE`` per state (and day), not one
    per recall.
    """
    if not disclosure_ids:
        return 0, 0
    last = _last_actions(conn, disclosure_ids)
    outstanding: list[str] = []
    remedied: dict[dt.date, list[str]] = {}
    for chunk in chunks(disclosure_ids):
        recalls = conn.execute(
            select(
                Recall.recall_id, Recall.disclosure_id, Recall.reason, Recall.remedy_status
            ).where(Recall.disclosure_id.in_(chunk))
        ).all()
        for rid, did, reason, status in recalls:
            if reason in NOT_WRONGFUL or did not in last:
                continue
            action, day = last[did]
            if action in ADVERSE_ACTIONS and status != RemedyStatus.OUTSTANDING:
                outstanding.append(rid)
            elif action in REVERSAL_ACTIONS and status == RemedyStatus.OUTSTANDING:
                remedied.setdefault(day, []).append(rid)
    for chunk in chunks(outstanding):
        conn.execute(
            update(Recall)
            .where(Recall.recall_id.in_(chunk))
            .values(remedy_status=RemedyStatus.OUTSTANDING, remedied_at=None)
        )
    for day, recall_ids in remedied.items():
        at = dt.datetime.combine(day, dt.time(), dt.UTC)
        for chunk in chunks(recall_ids):
            conn.execute(
                update(Recall)
                .where(Recall.recall_id.in_(chunk))
                .values(remedy_status=RemedyStatus.REMEDIED, remedied_at=at)
            )
    return len(outstanding), sum(len(ids) for ids in remedied.values())


def _last_actions(
    conn: Connection, disclosure_ids: Sequence[str]
) -> dict[str, tuple[str, dt.date]]:
    last: dict[str, tuple[dt.date, int, str]] = {}
    for chunk in chunks(disclosure_ids):
        for d, action, day, ident in conn.execute(
            select(
                RecipientAction.disclosure_id,
                RecipientAction.action,
                RecipientAction.action_date,
                RecipientAction.id,
            ).where(RecipientAction.disclosure_id.in_(chunk))
        ):
            if d not in last or (day, ident) > last[d][:2]:
                last[d] = (day, ident, action)
    return {d: (v[2], v[0]) for d, v in last.items()}


@dataclass(frozen=True)
class Outstanding:
    recall_id: str
    disclosure_id: str
    recipient: str
    person_id: str
    reason: str
    recalled_at: dt.datetime
    age_days: int


def outstanding(url: str, as_of: dt.date, recipient: str | None = None) -> list[Outstanding]:
    """Recalls whose adverse action has not yet been reversed, oldest first."""
    query = select(
        Recall.recall_id,
        Recall.disclosure_id,
        Recall.recipient,
        Recall.person_id,
        Recall.reason,
        Recall.recalled_at,
    ).where(Recall.remedy_status == RemedyStatus.OUTSTANDING)
    if recipient:
        query = query.where(and_(Recall.recipient == recipient))
    with db.connect(url) as conn:
        rows = conn.execute(query.order_by(Recall.recalled_at, Recall.recall_id)).all()
    return [Outstanding(*r, age_days=(as_of - r.recalled_at.date()).days) for r in rows]


@dataclass(frozen=True)
class Unacknowledged:
    """A recipient's recalls it has not yet acknowledged, and how old the oldest is."""

    recipient: str
    recalls: int
    oldest_days: int


def unacknowledged(url: str, as_of: dt.date, recipient: str | None = None) -> list[Unacknowledged]:
    """Per recipient, the recalls it has not acknowledged (in one grouped query).

    A remedy is tracked from what a recipient reports it did; until it acknowledges a
    recall, Accord cannot tell whether the correction reached the people who acted on
    the disclosure, so these are chased as well as the outstanding remedies.
    """
    with db.connect(url) as conn:
        return unacknowledged_in(conn, as_of, recipient)


def unacknowledged_in(
    conn: Connection, as_of: dt.date, recipient: str | None = None
) -> list[Unacknowledged]:
    """:func:`unacknowledged` on an open connection (the oversight report reads it too)."""
    query = select(Recall.recipient, func.count(), func.min(Recall.recalled_at)).where(
        Recall.acknowledged_at.is_(None)
    )
    if recipient:
        query = query.where(Recall.recipient == recipient)
    rows = conn.execute(query.group_by(Recall.recipient).order_by(Recall.recipient)).all()
    return [Unacknowledged(r, int(n), (as_of - oldest.date()).days) for r, n, oldest in rows]
