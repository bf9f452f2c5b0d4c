"""The review queue and four-eyes decisions.

``--approve`` always means "let the outcome that is adverse to the person go ahead"
(admit to the pool, disclose the match, lift a freeze so sharing resumes); ``--reject``
means the person is protected from it.  So an approval needs as many distinct reviewers
as the item asks (two where four eyes apply), while one rejection settles the item.

Kinds:
``manual_check``      a protected-cohort person before admission (approve = admit)
``uncertain_match``, ``ambiguous_match``, ``long_residence``
                      a match the gate would not make automatically (approve = disclose,
                      through the same gate and ledger as `accord run`)
``dispute``, ``re_review``
                      a freeze after a dispute or new evidence (approve = the decision
                      stands and the freeze lifts; reject = the challenge is upheld: the
                      person is withdrawn and everything shared about them recalled)
``dispute_resolution``  approve = lift the freeze; reject = keep it
``score_review``      a derived score the gate will not share without a person (F8): every
                      score for an enforcement purpose, and any whose match is uncertain
                      (approve = disclose it with its explanation, through the same gate
                      and ledger, if the score is still within its retention limit)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, insert, select, update

from accord import auditlog, pool
from accord.approval import disclose_approved
from accord.clock import business_time
from accord.errors import AccordError, Conflict, InvalidInput, NotFound
from accord.ledger import unit as ledger_unit
from accord.remedy import withdraw_and_recall
from accord.store import db
from accord.store.models import Freeze, ProposalDecision, ReviewDecision, ReviewItem
from accord.vocab import (
    CHALLENGE_KINDS,
    REVIEW_KINDS,
    UPHELD,
    Decision,
    ItemStatus,
    PoolStatus,
    Reason,
    ReviewKind,
)

# The kind groups, also for accord.demo and accord.web.readmodels, which import them here.
from accord.vocab import (
    FREEZE_KINDS as FREEZE_KINDS,
)
from accord.vocab import (
    MATCH_KINDS as MATCH_KINDS,
)
from accord.vocab import (
    SCORE_KINDS as SCORE_KINDS,
)


@dataclass(frozen=True)
class Outcome:
    item_id: str
    status: str  # open | approved | rejected
    approvals: int
    approvals_needed: int
    effect: str  # what happened, in plain words


def list_items(
    url: str, kind: str | None = None, status: str = ItemStatus.OPEN, limit: int | None = None
) -> list[ReviewItem]:
    if kind is not None and kind not in REVIEW_KINDS:
        raise AccordError(f"unknown review kind {kind!r}: use one of {', '.join(REVIEW_KINDS)}")
    query = select(ReviewItem).order_by(ReviewItem.created_at, ReviewItem.item_id)
    if status != "all":
        query = query.where(ReviewItem.status == status)
    if kind:
        query = query.where(ReviewItem.kind == kind)
    if limit:
        query = query.limit(limit)
    with db.session(url) as s:
        return list(s.scalars(query))


def count_items(url: str, kind: str | None = None, status: str = ItemStatus.OPEN) -> int:
    """How many items :func:`list_items` would list with no limit."""
    query = select(func.count()).select_from(ReviewItem)
    if status != "all":
        query = query.where(ReviewItem.status == status)
    if kind:
        query = query.where(ReviewItem.kind == kind)
    with db.connect(url) as conn:
        return int(conn.scalar(query) or 0)


def decide(
    url: str,
    item_id: str,
    approve: bool,
    reviewer: str,
    reason: str,
    as_of: dt.date,
    key: Path | None = None,
) -> Outcome:
    """Record one reviewer's decision; act once the item has what it needs.

    ``key`` is the ledger signing key (default: as `accord.ledger.keys` finds it); a
    decision that appends to the ledger (a disclosure or a recall) commits with a head
    signed over it (`accord.ledger.unit`).
    """
    reviewer = reviewer.strip()
    reason = reason.strip()
    if not reviewer:
        raise InvalidInput("reviewer", "must name the person deciding")
    if not reason:
        raise InvalidInput("reason", "must say why: it is shown to the person concerned")
    with db.connect(url) as conn, ledger_unit.work(conn, key):
        # Decisions on one item are serialised: the item is locked before anything about
        # it is read (the row on PostgreSQL, the database on SQLite), so a decision made
        # at the same moment as this one waits, then finds the item settled.
        db.write_lock(conn)
        item = conn.execute(
            select(ReviewItem.__table__).where(ReviewItem.item_id == item_id).with_for_update()
        ).first()
        if item is None:
            raise NotFound(f"no review item {item_id!r}")
        if item.status != ItemStatus.OPEN:
            raise Conflict(f"review item {item_id} is already {item.status}")
        earlier = decided_before(
            conn,
            ReviewDecision,
            ReviewDecision.item_id == item_id,
            reviewer,
            f"{reviewer} has already decided review item {item_id}: "
            "four eyes need a different reviewer",
        )
        decision = Decision.APPROVE if approve else Decision.REJECT
        conn.execute(
            insert(ReviewDecision).values(
                item_id=item_id,
                reviewer=reviewer,
                decision=decision,
                reason=reason,
                decided_at=business_time(as_of),
            )
        )
        approvals = sum(1 for _, d in earlier if d == Decision.APPROVE) + (1 if approve else 0)
        auditlog.log(
            conn,
            reviewer,
            f"review_{decision}",
            item.person_id,
            item_id=item_id,
            kind=item.kind,
            reason=reason,
        )
        if not approve:
            _close(conn, item_id, ItemStatus.REJECTED, as_of)
            effect = _on_reject(conn, item, reviewer, as_of)
            return Outcome(item_id, ItemStatus.REJECTED, approvals, item.approvals_needed, effect)
        if approvals < item.approvals_needed:
            left = item.approvals_needed - approvals
            return Outcome(
                item_id,
                ItemStatus.OPEN,
                approvals,
                item.approvals_needed,
                f"approval recorded; {left} more distinct reviewer(s) needed",
            )
        _close(conn, item_id, ItemStatus.APPROVED, as_of)
        effect = _on_approve(conn, item, reviewer, as_of)
        return Outcome(item_id, ItemStatus.APPROVED, approvals, item.approvals_needed, effect)


def decided_before(
    conn: Connection,
    decisions: type[ReviewDecision | ProposalDecision],
    of: ColumnElement[bool],
    reviewer: str,
    refusal: str,
) -> Sequence[Row[str, str]]:
    """The decisions already made on one item or proposal (``of`` picks its rows of
    ``decisions``) as (reviewer, decision), in the order they were made.

    Four eyes are two people: Conflict(``refusal``) if ``reviewer`` made one of them.
    """
    earlier = conn.execute(
        select(decisions.reviewer, decisions.decision)
        .where(of)
        .order_by(decisions.decided_at, decisions.id)
    ).all()
    if any(r == reviewer for r, _ in earlier):
        raise Conflict(refusal)
    return earlier


def _close(conn: Connection, item_id: str, status: str, as_of: dt.date) -> None:
    """Settle an item that is still open, else refuse (and so roll the decision back)."""
    closed = conn.execute(
        update(ReviewItem)
        .where(ReviewItem.item_id == item_id, ReviewItem.status == ItemStatus.OPEN)
        .values(status=status, closed_at=business_time(as_of))
    )
    if closed.rowcount != 1:
        raise Conflict(f"review item {item_id} was settled by another decision meanwhile")


def _lift_freezes(conn: Connection, person_id: str, reviewer: str, as_of: dt.date) -> int:
    result = conn.execute(
        update(Freeze)
        .where(Freeze.person_id == person_id, Freeze.lifted_at.is_(None))
        .values(lifted_at=business_time(as_of), lifted_by=reviewer)
    )
    return int(result.rowcount or 0)


def _on_approve(conn: Connection, item: Row[Any], reviewer: str, as_of: dt.date) -> str:
    if item.kind == ReviewKind.MANUAL_CHECK:
        pool.settle(conn, item.person_id, PoolStatus.ADMITTED, Reason.MANUAL_CHECK_APPROVED, as_of)
        return "admitted to the pool"
    if item.kind in MATCH_KINDS or item.kind in SCORE_KINDS:
        return disclose_approved(conn, item, as_of)
    if item.kind in FREEZE_KINDS:
        other_open = conn.scalar(
            select(func.count())
            .select_from(ReviewItem)
            .where(
                ReviewItem.person_id == item.person_id,
                ReviewItem.kind.in_(FREEZE_KINDS),
                ReviewItem.status == ItemStatus.OPEN,
                ReviewItem.item_id != item.item_id,
            )
        )
        if other_open:
            return f"decision recorded; {other_open} other open re-review(s) keep the freeze"
        lifted = _lift_freezes(conn, item.person_id, reviewer, as_of)
        return f"freeze lifted ({lifted}); sharing about the person may resume"
    raise AccordError(f"review item {item.item_id} has unknown kind {item.kind!r}")


def _on_reject(conn: Connection, item: Row[Any], reviewer: str, as_of: dt.date) -> str:
    if item.kind == ReviewKind.MANUAL_CHECK:
        pool.settle(conn, item.person_id, PoolStatus.EXCLUDED, Reason.MANUAL_CHECK_REJECTED, as_of)
        return "kept out of the pool"
    if item.kind in MATCH_KINDS:
        return "match rejected: nothing is disclosed on it"
    if item.kind in SCORE_KINDS:
        return "score not shared: nothing is disclosed"
    if item.kind in CHALLENGE_KINDS:
        upheld: dict[str, list[str]] = {UPHELD[item.kind]: [item.person_id]}
        recalls = withdraw_and_recall(conn, upheld, reviewer, as_of).recalls
        return f"challenge upheld: withdrawn from the pool, {len(recalls)} disclosure(s) recalled"
    if item.kind == ReviewKind.DISPUTE_RESOLUTION:
        return "freeze kept"
    raise AccordError(f"review item {item.item_id} has unknown kind {item.kind!r}")
