"""What the screens and the API show, read from the governance tables.

These are read models only: every decision and change goes through the services the
command line uses (`accord.review`, `accord.events`, `accord.remedy`,
`accord.policy.pauses`, `accord.rights`).  Each function that returns personal data
writes its audit entries in the caller's transaction, so a read and its record in the
audit log stand or fall together.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable, Integer, and_, bindparam, func, or_, select

from accord import auditlog
from accord.store.models import (
    Agreement,
    AgreementVersion,
    CaseDecision,
    Disclosure,
    Event,
    Freeze,
    Match,
    Pause,
    Person,
    PoolEntry,
    PoolHistory,
    Recall,
    RecipientAction,
    ReviewDecision,
    ReviewItem,
    as_utc,
)

MAX_PAGE = 500


def _row(r: Any) -> dict[str, Any]:
    out = dict(r._mapping)
    for k, v in out.items():
        if isinstance(v, dt.datetime):
            out[k] = as_utc(v)
    return out


def _rows(conn: Connection, query: Executable) -> list[dict[str, Any]]:
    return [_row(r) for r in conn.execute(query)]


def _about(
    conn: Connection,
    model: Any,
    person_id: str,
    columns: Sequence[Any] = (),
    order_by: Sequence[Any] = (),
) -> list[dict[str, Any]]:
    """One person's rows of ``model``'s table (``columns`` of them, else all), by ``order_by``."""
    query = select(*columns or [model.__table__]).where(model.person_id == person_id)
    return _rows(conn, query.order_by(*order_by))


def _one_about(
    conn: Connection, model: Any, person_id: str, *columns: Any
) -> dict[str, Any] | None:
    """A person's one row of ``model``'s table (their record, their pool entry), if any."""
    query = select(*columns or [model.__table__]).where(model.person_id == person_id)
    row = conn.execute(query).first()
    return _row(row) if row is not None else None


def _cases(conn: Connection, person_id: str) -> list[dict[str, Any]]:
    """A person's case decisions, oldest first."""
    return _about(
        conn,
        CaseDecision,
        person_id,
        order_by=[CaseDecision.decision_date, CaseDecision.case_id],
    )


def audit_read(
    conn: Connection,
    actor: str,
    action: str,
    people: Sequence[str],
    refs: Sequence[str],
    via: str,
) -> None:
    """One audit entry for one read, naming every person whose data it showed.

    A page of a batch shows a hundred people: one entry per read (not per person) keeps
    the audit write to one row per request, while ``detail.people`` still lets anyone
    find every read of one person's data.  ``person_id`` is set when the read showed
    exactly one person, so per-person reads stay indexed.
    """
    unique = sorted(set(people))
    auditlog.log(
        conn,
        actor,
        action,
        unique[0] if len(unique) == 1 else None,
        people=unique,
        refs=list(refs),
        via=via,
    )


# --- review ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One row of the review queue (attributes, not a dict: templates read them cheaply)."""

    item_id: str
    kind: str
    person_id: str
    record_id: str | None
    agreement_id: str | None
    reason: str
    status: str
    approvals: int
    approvals_needed: int
    created_at: dt.datetime


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_after: str | None
    open_by_kind: dict[str, int]


# Each item's approvals so far, counted in the page's own query (one statement, not two).
_APPROVALS = (
    select(func.count())
    .where(ReviewDecision.item_id == ReviewItem.item_id, ReviewDecision.decision == "approve")
    .correlate(ReviewItem)
    .scalar_subquery()
)


@functools.cache
def _queue_query(by_status: bool, by_kind: bool, paged: bool) -> Executable:
    """The queue page query for one combination of filters, built once (a hot path)."""
    query = select(
        ReviewItem.item_id,
        ReviewItem.kind,
        ReviewItem.person_id,
        ReviewItem.record_id,
        ReviewItem.agreement_id,
        ReviewItem.reason,
        ReviewItem.status,
        _APPROVALS,
        ReviewItem.approvals_needed,
        ReviewItem.created_at,
    )
    if by_status:
        query = query.where(ReviewItem.status == bindparam("status"))
    if by_kind:
        query = query.where(ReviewItem.kind == bindparam("kind"))
    if paged:
        query = query.where(
            or_(
                ReviewItem.created_at > bindparam("cursor"),
                and_(
                    ReviewItem.created_at == bindparam("cursor"),
                    ReviewItem.item_id > bindparam("after"),
                ),
            )
        )
    return query.order_by(ReviewItem.created_at, ReviewItem.item_id).limit(
        bindparam("limit", type_=Integer)
    )


_OPEN_BY_KIND = (
    select(ReviewItem.kind, func.count())
    .where(ReviewItem.status == "open")
    .group_by(ReviewItem.kind)
)
_CURSOR = select(ReviewItem.created_at).where(ReviewItem.item_id == bindparam("after"))


def review_queue(
    conn: Connection,
    actor: str,
    *,
    kind: str | None = None,
    status: str = "open",
    after: str | None = None,
    limit: int = 50,
    via: str = "web",
) -> QueuePage:
    """A page of the review queue, oldest first, as `accord review list` orders it."""
    limit = max(1, min(limit, MAX_PAGE))
    params: dict[str, Any] = {"limit": limit + 1}
    if status != "all":
        params["status"] = status
    if kind is not None:
        params["kind"] = kind
    cursor = None
    if after is not None:
        cursor = conn.execute(_CURSOR, {"after": after}).scalar_one_or_none()
        if cursor is not None:
            params.update(cursor=cursor, after=after)
    query = _queue_query(status != "all", kind is not None, cursor is not None)
    rows = conn.execute(query, params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        QueueItem(
            item_id,
            kind_,
            person_id,
            record_id,
            agreement_id,
            reason,
            status_,
            int(approvals or 0),
            approvals_needed,
            as_utc(created_at),
        )
        for (
            item_id,
            kind_,
            person_id,
            record_id,
            agreement_id,
            reason,
            status_,
            approvals,
            approvals_needed,
            created_at,
        ) in rows
    ]
    counts = {k: int(n) for k, n in conn.execute(_OPEN_BY_KIND)}
    # The audit entry last: on SQLite the write lock is then held only for it and the commit.
    if items:
        audit_read(
            conn,
            actor,
            "review_queue_read",
            [i.person_id for i in items],
            [i.item_id for i in items],
            via,
        )
    return QueuePage(items, items[-1].item_id if more else None, counts)


def review_item(
    conn: Connection, item_id: str, actor: str, via: str = "web"
) -> dict[str, Any] | None:
    """One review item side by side: the source record, the register record, the match's
    comparisons, the reasons and the four-eyes state so far."""
    item = conn.execute(select(ReviewItem.__table__).where(ReviewItem.item_id == item_id)).first()
    if item is None:
        return None
    decisions = _rows(
        conn,
        select(
            ReviewDecision.reviewer,
            ReviewDecision.decision,
            ReviewDecision.reason,
            ReviewDecision.decided_at,
        )
        .where(ReviewDecision.item_id == item_id)
        .order_by(ReviewDecision.decided_at, ReviewDecision.id),
    )
    person = _one_about(conn, Person, item.person_id)
    cases = _cases(conn, item.person_id)
    match = None
    if item.match_id is not None:
        match = conn.execute(select(Match.__table__).where(Match.id == item.match_id)).first()
    elif item.record_id is not None:
        match = conn.execute(
            select(Match.__table__)
            .where(Match.person_id == item.person_id, Match.record_id == item.record_id)
            .order_by(Match.id.desc())
            .limit(1)
        ).first()
    others = []
    if match is not None:
        # Other candidates for the same register record: the namesakes an ambiguous match is about.
        others = _rows(
            conn,
            select(
                Match.person_id,
                Match.match_probability,
                Match.rank,
                Match.flags,
            ).where(
                Match.run_id == match.run_id,
                Match.register == match.register,
                Match.record_id == match.record_id,
                Match.person_id != match.person_id,
            ),
        )
    pool = _one_about(
        conn, PoolEntry, item.person_id, PoolEntry.status, PoolEntry.reasons, PoolEntry.as_of
    )
    auditlog.log(conn, actor, "review_item_read", item.person_id, item_id=item_id, via=via)
    approvals = sum(1 for d in decisions if d["decision"] == "approve")
    return {
        "item": _row(item),
        "decisions": decisions,
        "approvals": approvals,
        "approvals_left": max(0, item.approvals_needed - approvals) if item.status == "open" else 0,
        "reviewers": [d["reviewer"] for d in decisions],
        "person": person,
        "cases": cases,
        "match": _row(match) if match is not None else None,
        "comparisons": comparisons(match.explanation if match is not None else []),
        "other_candidates": others,
        "pool": pool,
    }


def _first(entry: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if entry.get(k) is not None:
            return entry[k]
    return None


def comparisons(explanation: Sequence[Any]) -> list[dict[str, Any]]:
    """Each comparison of a match's explanation as ``{name, level, weight, left, right}``.

    Reads the shapes Splink's waterfall and Accord's linkage store use; an entry it
    cannot read is shown as it is rather than dropped.
    """
    out: list[dict[str, Any]] = []
    for entry in explanation:
        if not isinstance(entry, Mapping):
            out.append(
                {"name": str(entry), "level": "", "weight": None, "left": None, "right": None}
            )
            continue
        weight = _first(entry, "match_weight", "log2_bayes_factor", "weight")
        out.append(
            {
                "name": str(
                    _first(entry, "comparison", "column_name", "name", "output_column_name") or ""
                ),
                "level": str(_first(entry, "level", "label", "label_for_charts") or ""),
                "weight": float(weight) if isinstance(weight, int | float) else None,
                "left": _first(entry, "value_l", "value_pool", "left", "ours"),
                "right": _first(entry, "value_r", "value_register", "right", "theirs"),
            }
        )
    return out


# --- a person --------------------------------------------------------------------------


def person(conn: Connection, person_id: str, actor: str, via: str = "web") -> dict[str, Any] | None:
    """Everything Accord holds and did about one person, for a caseworker."""
    p = _one_about(conn, Person, person_id)
    cases = _cases(conn, person_id)
    if p is None and not cases:
        return None
    result = {
        "person_id": person_id,
        "person": p,
        "cases": cases,
        "pool": _one_about(conn, PoolEntry, person_id),
        "pool_history": _about(
            conn, PoolHistory, person_id, order_by=[PoolHistory.at, PoolHistory.id]
        ),
        "matches": _about(
            conn,
            Match,
            person_id,
            [
                Match.id,
                Match.run_id,
                Match.register,
                Match.record_id,
                Match.match_probability,
                Match.rank,
                Match.flags,
            ],
            [Match.id],
        ),
        "review_items": _about(
            conn,
            ReviewItem,
            person_id,
            [
                ReviewItem.item_id,
                ReviewItem.kind,
                ReviewItem.status,
                ReviewItem.reason,
                ReviewItem.record_id,
                ReviewItem.agreement_id,
                ReviewItem.created_at,
            ],
            [ReviewItem.created_at, ReviewItem.item_id],
        ),
        "disclosures": _about(
            conn,
            Disclosure,
            person_id,
            [
                Disclosure.disclosure_id,
                Disclosure.agreement_id,
                Disclosure.recipient,
                Disclosure.record_id,
                Disclosure.match_probability,
                Disclosure.decided_by,
                Disclosure.disclosed_at,
                Disclosure.status,
                Disclosure.acknowledged_at,
                Disclosure.fields,
            ],
            [Disclosure.disclosed_at, Disclosure.disclosure_id],
        ),
        "recalls": _about(
            conn,
            Recall,
            person_id,
            [
                Recall.recall_id,
                Recall.disclosure_id,
                Recall.recipient,
                Recall.reason,
                Recall.recalled_at,
                Recall.remedy_status,
                Recall.remedied_at,
                Recall.acknowledged_at,
            ],
            [Recall.recalled_at, Recall.recall_id],
        ),
        "actions": _rows(
            conn,
            select(
                RecipientAction.disclosure_id,
                RecipientAction.recipient,
                RecipientAction.action,
                RecipientAction.action_date,
            )
            .join(Disclosure, Disclosure.disclosure_id == RecipientAction.disclosure_id)
            .where(Disclosure.person_id == person_id)
            .order_by(RecipientAction.action_date, RecipientAction.id),
        ),
        "events": _about(
            conn,
            Event,
            person_id,
            [Event.event_id, Event.event_type, Event.event_date, Event.detail],
            [Event.event_date, Event.event_id],
        ),
        "freezes": _about(
            conn,
            Freeze,
            person_id,
            [Freeze.reason, Freeze.event_id, Freeze.opened_at, Freeze.lifted_at, Freeze.lifted_by],
            [Freeze.opened_at, Freeze.id],
        ),
    }
    auditlog.log(conn, actor, "person_read", person_id, via=via)
    return result


# --- oversight -------------------------------------------------------------------------


def live_counts(conn: Connection) -> dict[str, Any]:
    """The oversight dashboard's live counts: aggregates only, no personal data."""
    disclosures = {
        (recipient, status): int(n)
        for recipient, status, n in conn.execute(
            select(Disclosure.recipient, Disclosure.status, func.count()).group_by(
                Disclosure.recipient, Disclosure.status
            )
        )
    }
    recalls = {
        (recipient, status): int(n)
        for recipient, status, n in conn.execute(
            select(Recall.recipient, Recall.remedy_status, func.count()).group_by(
                Recall.recipient, Recall.remedy_status
            )
        )
    }
    recipients = sorted({r for r, _ in disclosures} | {r for r, _ in recalls})
    queue = {
        kind: int(n)
        for kind, n in conn.execute(
            select(ReviewItem.kind, func.count())
            .where(ReviewItem.status == "open")
            .group_by(ReviewItem.kind)
        )
    }
    pool = {
        status: int(n)
        for status, n in conn.execute(
            select(PoolEntry.status, func.count()).group_by(PoolEntry.status)
        )
    }
    frozen = conn.scalar(
        select(func.count(func.distinct(Freeze.person_id))).where(Freeze.lifted_at.is_(None))
    )
    return {
        "disclosures": {
            "active": sum(n for (_, s), n in disclosures.items() if s == "active"),
            "recalled": sum(n for (_, s), n in disclosures.items() if s == "recalled"),
            "total": sum(disclosures.values()),
        },
        "recalls": {
            "total": sum(recalls.values()),
            "outstanding": sum(n for (_, s), n in recalls.items() if s == "outstanding"),
            "remedied": sum(n for (_, s), n in recalls.items() if s == "remedied"),
            "none_needed": sum(n for (_, s), n in recalls.items() if s == "none_needed"),
        },
        "by_recipient": {
            r: {
                "disclosures_active": disclosures.get((r, "active"), 0),
                "disclosures_recalled": disclosures.get((r, "recalled"), 0),
                "recalls": sum(n for (rr, _), n in recalls.items() if rr == r),
                "remedies_outstanding": recalls.get((r, "outstanding"), 0),
            }
            for r in recipients
        },
        "review_queue": {"open": sum(queue.values()), "by_kind": dict(sorted(queue.items()))},
        "pool": dict(sorted(pool.items())),
        "people_frozen": int(frozen or 0),
    }


def agreements(conn: Connection) -> list[dict[str, Any]]:
    """Each agreement with its current version's terms and the pauses in force."""
    rows = conn.execute(
        select(
            Agreement.agreement_id,
            Agreement.recipient,
            Agreement.current_version,
            AgreementVersion.document,
        )
        .join(
            AgreementVersion,
            and_(
                AgreementVersion.agreement_id == Agreement.agreement_id,
                AgreementVersion.version == Agreement.current_version,
            ),
        )
        .order_by(Agreement.agreement_id)
    ).all()
    pauses: dict[str, list[dict[str, Any]]] = {}
    for p in conn.execute(
        select(
            Pause.id,
            Pause.agreement_id,
            Pause.cohort,
            Pause.reason,
            Pause.paused_by,
            Pause.paused_at,
        )
        .where(Pause.resumed_at.is_(None))
        .order_by(Pause.paused_at, Pause.id)
    ):
        pauses.setdefault(p.agreement_id, []).append(_row(p))
    out = []
    for r in rows:
        doc = r.document if isinstance(r.document, dict) else {}
        out.append(
            {
                "agreement_id": r.agreement_id,
                "recipient": r.recipient,
                "version": r.current_version,
                "title": str(doc.get("title", "")),
                "purpose": str(doc.get("purpose", "")),
                "status": str(doc.get("status", "")),
                "fields": [str(f) for f in doc.get("fields", [])],
                "pauses": pauses.get(r.agreement_id, []),
            }
        )
    return out
