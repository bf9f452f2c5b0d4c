"""What auditors and data protection officers see behind the oversight figures.

Every live count on `/oversight` opens the rows behind it (:func:`rows`), and each list
exports as CSV; the audit log is readable, filtered by who, what, whom and when
(:func:`audit_log`).  Rows are paged by keyset on their id, shown in words, and every
read that shows people's data is itself written to the audit log (``oversight_read``,
``audit_log_read``) in the same transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVarTuple

from sqlalchemy import Connection, Select, select

from accord import auditlog
from accord.csvsafe import neutralise
from accord.rights import explain
from accord.store.models import (
    AuditLog,
    Disclosure,
    Freeze,
    PoolEntry,
    Recall,
    ReviewItem,
    User,
    as_utc,
)
from accord.vocab import (
    DisclosureStatus,
    ItemStatus,
    PoolStatus,
    RemedyStatus,
    ReviewKind,
)
from accord.web import words
from accord.web.readmodels import APPROVALS, audit_read

PAGE = 100
CSV_ROWS = 100_000  # the most rows one CSV export holds


@dataclass(frozen=True)
class Drill:
    """One list behind a figure: its title, the filters it takes and its columns."""

    title: str
    filters: dict[str, tuple[str, ...]]  # name -> the values it may take (empty: any text)
    columns: tuple[str, ...]


DRILLS: dict[str, Drill] = {
    "disclosures": Drill(
        "Disclosures",
        {"recipient": (), "status": (DisclosureStatus.ACTIVE, DisclosureStatus.RECALLED)},
        ("Disclosure", "Recipient", "Agreement", "Their record", "Person",
         "Chance it is the same person", "Decided", "Sent", "Status", "Acknowledged"),
    ),
    "recalls": Drill(
        "Recalls",
        {"recipient": (),
         "remedy": (RemedyStatus.OUTSTANDING, RemedyStatus.REMEDIED, RemedyStatus.NONE_NEEDED)},
        ("Recall", "Disclosure", "Recipient", "Person", "Why", "Recalled", "Remedy",
         "Remedied", "Acknowledged"),
    ),
    "review": Drill(
        "Items waiting for review",
        {"kind": tuple(ReviewKind)},
        ("Item", "Kind", "Person", "Agreement", "Why it waits", "Approvals", "Waiting since"),
    ),
    "frozen": Drill(
        "People whose sharing is frozen",
        {},
        ("Person", "Why", "Since", "Event", "Review item"),
    ),
    "pool": Drill(
        "The pool",
        {"status": tuple(PoolStatus)},
        ("Person", "Status", "Why", "As of"),
    ),
}  # fmt: skip


@dataclass
class Rows:
    columns: tuple[str, ...]
    rows: list[list[str]]
    next_after: str | None
    people: list[str] = field(default_factory=list)


def _page(query: Select[Any], key: Any, after: str | None, limit: int) -> Select[Any]:
    if after:
        query = query.where(key > after)
    return query.order_by(key).limit(limit + 1)


def rows(
    conn: Connection,
    what: str,
    filters: dict[str, str],
    actor: str,
    *,
    after: str | None = None,
    limit: int = PAGE,
    via: str = "web",
) -> Rows:
    """One page of the rows behind a figure, in words, audited as ``oversight_read``."""
    drill = DRILLS[what]
    found, key_of, to_words = _QUERIES[what](filters)
    got = list(conn.execute(_page(found, key_of, after, limit)))
    more = len(got) > limit
    got = got[:limit]
    people = [str(r.person_id) for r in got]
    if got:
        audit_read(conn, actor, "oversight_read", people, [str(r[0]) for r in got], via)
    return Rows(
        drill.columns,
        [to_words(r) for r in got],
        str(got[-1][0]) if more else None,
        people,
    )


def rows_csv(conn: Connection, what: str, filters: dict[str, str], actor: str) -> bytes:
    """Every row behind a figure (up to :data:`CSV_ROWS`) as CSV, safe in a spreadsheet."""
    found = rows(conn, what, filters, actor, limit=CSV_ROWS, via="csv")
    return _csv(found.columns, found.rows)


def _csv(columns: Sequence[str], table: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([[neutralise(c) for c in r] for r in table])
    return out.getvalue().encode("utf-8")


_Row = TypeVarTuple("_Row")


# Each list's query: (query, the key it pages by, the row in words); every list's rows
# carry a ``person_id``, the person each row is about.
Query = tuple[Any, Any, Callable[[Any], list[str]]]


def _where_given(q: Select[*_Row], f: dict[str, str], **columns: Any) -> Select[*_Row]:
    """``q`` narrowed to the rows whose column equals each filter the reader gave
    (``columns`` maps a filter's name to its column; an empty filter narrows nothing)."""
    for name, column in columns.items():
        if f.get(name):
            q = q.where(column == f[name])
    return q


def _disclosures(f: dict[str, str]) -> Query:
    q = select(
        Disclosure.disclosure_id, Disclosure.recipient, Disclosure.agreement_id,
        Disclosure.record_id, Disclosure.person_id, Disclosure.match_probability,
        Disclosure.decided_by, Disclosure.disclosed_at, Disclosure.status,
        Disclosure.acknowledged_at,
    )  # fmt: skip
    return (
        _where_given(q, f, recipient=Disclosure.recipient, status=Disclosure.status),
        Disclosure.disclosure_id,
        lambda r: [
            r.disclosure_id, r.recipient, r.agreement_id, r.record_id, r.person_id,
            words.chance(r.match_probability), explain.decided_by(r.decided_by),
            words.day(as_utc(r.disclosed_at)), words.code(words.DISCLOSURE_STATUS, r.status),
            words.day(as_utc(r.acknowledged_at)) or "not yet",
        ],
    )  # fmt: skip


def _recalls(f: dict[str, str]) -> Query:
    q = select(
        Recall.recall_id, Recall.disclosure_id, Recall.recipient, Recall.person_id,
        Recall.reason, Recall.recalled_at, Recall.remedy_status, Recall.remedied_at,
        Recall.acknowledged_at,
    )  # fmt: skip
    return (
        _where_given(q, f, recipient=Recall.recipient, remedy=Recall.remedy_status),
        Recall.recall_id,
        lambda r: [
            r.recall_id, r.disclosure_id, r.recipient, r.person_id,
            words.capital(words.reason(r.reason)), words.day(as_utc(r.recalled_at)),
            words.code(words.REMEDY, r.remedy_status), words.day(as_utc(r.remedied_at)),
            words.day(as_utc(r.acknowledged_at)) or "not yet",
        ],
    )  # fmt: skip


def _review(f: dict[str, str]) -> Query:
    q = select(
        ReviewItem.item_id, ReviewItem.kind, ReviewItem.person_id, ReviewItem.agreement_id,
        ReviewItem.reason, APPROVALS.label("approvals"), ReviewItem.approvals_needed,
        ReviewItem.created_at,
    ).where(ReviewItem.status == ItemStatus.OPEN)  # fmt: skip
    return (
        _where_given(q, f, kind=ReviewItem.kind),
        ReviewItem.item_id,
        lambda r: [
            r.item_id, words.kind(r.kind), r.person_id, r.agreement_id or "", r.reason,
            f"{r.approvals} of {r.approvals_needed}", words.day(as_utc(r.created_at)),
        ],
    )  # fmt: skip


def _frozen(f: dict[str, str]) -> Query:
    q = select(
        Freeze.person_id, Freeze.reason, Freeze.opened_at, Freeze.event_id,
        Freeze.review_item_id,
    ).where(Freeze.lifted_at.is_(None))  # fmt: skip
    return (
        q,
        Freeze.person_id,
        lambda r: [
            r.person_id, words.capital(words.reason(r.reason)), words.day(as_utc(r.opened_at)),
            r.event_id or "", r.review_item_id or "",
        ],
    )  # fmt: skip


def _pool(f: dict[str, str]) -> Query:
    q = select(PoolEntry.person_id, PoolEntry.status, PoolEntry.reasons, PoolEntry.as_of)
    return (
        _where_given(q, f, status=PoolEntry.status),
        PoolEntry.person_id,
        lambda r: [
            r.person_id, words.code(words.POOL_STATUS, r.status),
            words.capital(words.reasons(r.reasons)), words.day(r.as_of),
        ],
    )  # fmt: skip


_QUERIES: dict[str, Callable[[dict[str, str]], Query]] = {
    "disclosures": _disclosures,
    "recalls": _recalls,
    "review": _review,
    "frozen": _frozen,
    "pool": _pool,
}


# --- the audit log ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    person: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive

    def query(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in ("actor", "action", "person"):
            v = getattr(self, name)
            if v:
                out[name] = v
        for name, d in (("since", self.since), ("until", self.until)):
            if d is not None:
                out |= {f"{name}_day": str(d.day), f"{name}_month": str(d.month),
                        f"{name}_year": str(d.year)}  # fmt: skip
        return out


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    person_id: str | None
    detail: dict[str, Any]

    @property
    def did(self) -> str:
        return words.code(words.AUDIT_ACTIONS, self.action)

    @property
    def about(self) -> str:
        """The entry's detail in a line: the people and ids it names, counted, and the rest."""
        d = self.detail
        parts = []
        people = d.get("people")
        if isinstance(people, list) and people and not self.person_id:
            parts.append(f"{len(people)} {'person' if len(people) == 1 else 'people'}")
        refs = d.get("refs")
        if isinstance(refs, list) and refs:
            shown = ", ".join(str(r) for r in refs[:3])
            parts.append(shown + (f" and {len(refs) - 3} more" if len(refs) > 3 else ""))
        for key in ("item_id", "kind", "reason", "recipient", "count", "username", "via"):
            if d.get(key) not in (None, "", []):
                value = d[key]
                if key == "kind":
                    value = words.kind(str(value))
                elif key == "reason" and re.fullmatch(r"[a-z0-9_]+", str(value)):
                    value = words.reason(str(value))
                parts.append(f"{words.field(key).lower()}: {value}")
        return "; ".join(parts)


def audit_log(
    conn: Connection,
    f: AuditFilter,
    actor: str,
    *,
    before: int | None = None,
    limit: int = PAGE,
    via: str = "web",
) -> tuple[list[AuditEntry], int | None]:
    """A page of the audit log, newest first, with each actor's role; the read is audited."""
    q = select(
        AuditLog.id, AuditLog.at, AuditLog.actor, User.role, AuditLog.action,
        AuditLog.person_id, AuditLog.detail,
    ).outerjoin(User, User.username == AuditLog.actor)  # fmt: skip
    if f.actor:
        q = q.where(AuditLog.actor == f.actor)
    if f.action:
        q = q.where(AuditLog.action == f.action)
    if f.person:
        q = q.where(AuditLog.person_id == f.person)
    if f.since:
        q = q.where(AuditLog.at >= dt.datetime.combine(f.since, dt.time(), dt.UTC))
    if f.until:
        end = dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time(), dt.UTC)
        q = q.where(AuditLog.at < end)
    if before is not None:
        q = q.where(AuditLog.id < before)
    got = list(conn.execute(q.order_by(AuditLog.id.desc()).limit(limit + 1)))
    more = len(got) > limit
    got = got[:limit]
    entries = [
        AuditEntry(
            int(r.id), as_utc(r.at), r.actor, r.role or "", r.action, r.person_id,
            r.detail if isinstance(r.detail, dict) else {},
        )
        for r in got
    ]  # fmt: skip
    people = sorted({e.person_id for e in entries if e.person_id})
    auditlog.log(
        conn,
        actor,
        "audit_log_read",
        people[0] if len(people) == 1 else None,
        people=people,
        filters=f.query(),
        entries=len(entries),
        via=via,
    )
    return entries, entries[-1].id if more else None


def audit_csv(conn: Connection, f: AuditFilter, actor: str) -> bytes:
    entries, _ = audit_log(conn, f, actor, limit=CSV_ROWS, via="csv")
    return _csv(
        ("When", "Who", "Role", "Did", "Person", "Detail"),
        [[e.at.isoformat(), e.actor, e.role, e.did, e.person_id or "", e.about] for e in entries],
    )


def recipients(conn: Connection) -> list[str]:
    found = conn.execute(
        select(Disclosure.recipient).distinct().union(select(Recall.recipient).distinct())
    )
    return sorted(r for (r,) in found)
