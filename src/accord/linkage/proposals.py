"""Proposals: automation that reviewers' labels support, taking effect only under four eyes.

Two kinds.  ``trusted_pattern``: `accord link propose` reads the labels
(:mod:`accord.linkage.labels`) and, for each pattern an agreement still sends to review
for uncertainty alone, proposes "raise automation for pattern X: +N automatic, expected
wrongful at most k per 10,000" when the labels on that pattern in the agreement's
register are enough (``min_labels``) and their 95% upper bound of wrong matches is
within the agreement's tolerance (``match.wrong_person_tolerance``).  ``model``: a model
re-estimated from the labels (:mod:`accord.linkage.relearn`), kept not current.

Neither changes anything when made.  Each needs two different people to approve it
(`accord link proposal approve`); one rejection settles it.  The second approval, in one
transaction: re-checks the proposal against the agreement (or model) in force now, makes
the change (a new agreement version whose ``match.trusted_patterns`` gains the pattern,
or the model made current), writes the audit log and appends a ``governance`` leaf to
the ledger, signed before the commit.  Decisions on one proposal are serialised as
review decisions are (the row locked on PostgreSQL, the write lock on SQLite).

At the next run the gate lets a pair with a trusted pattern go when uncertainty is its
only reason for review, and the open items of such pairs are closed as ``released``
(:func:`release_trusted`): their disclosures are decided by ``rule:trusted_pattern``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Row, insert, select, update

from accord import auditlog
from accord.cases import read_arrow
from accord.errors import AccordError, Conflict, InvalidInput, NotFound
from accord.ledger import content
from accord.ledger import log as ledger
from accord.ledger import unit as ledger_unit
from accord.linkage import labels as lab
from accord.linkage import store as linkage_store
from accord.linkage.limits import MIN_LABELS
from accord.policy import trusted
from accord.policy.agreement import Agreement
from accord.policy.registry import agreement_version, store_agreements, stored_agreements
from accord.remedy import chunks
from accord.review import decided_before
from accord.store import db
from accord.store.models import Agreement as AgreementRow
from accord.store.models import Proposal, ProposalDecision, ReviewItem, utcnow
from accord.vocab import (
    PROPOSAL_STATUSES,
    AgreementStatus,
    Decision,
    GateOutcome,
    ItemStatus,
    Reason,
    sql_word,
)

TRUSTED_PATTERN = trusted.TRUSTED_PATTERN
MODEL = "model"
KINDS = (TRUSTED_PATTERN, MODEL)
STATUSES = PROPOSAL_STATUSES
_OPEN = sql_word(ItemStatus.OPEN)
UNCERTAIN = Reason.UNCERTAIN_MATCH
APPROVALS_NEEDED = 2
RELEASED = ItemStatus.RELEASED  # a review item a trusted pattern let go without a person


@dataclass(frozen=True)
class Considered:
    """One pattern an agreement sends to review, and what its labels support."""

    agreement_id: str
    register: str
    pattern: str
    labels: int
    wrong: int
    wrong_upper_per_10000: float | None
    tolerance_per_10000: float
    open_items: int  # open items of this pattern sent to review for uncertainty alone
    proposal_id: str | None  # the proposal made now, or the one already open
    why_not: str | None  # why no proposal was made (None: proposed)

    def words(self) -> str:
        if self.why_not is None:
            upper = self.wrong_upper_per_10000 or 0.0
            return (
                f"raise automation for pattern {self.pattern}: +{self.open_items:,} automatic, "
                f"expected wrongful <= {upper:,.1f} per 10,000 (95% upper bound from "
                f"{self.labels:,} labels, {self.wrong:,} wrong; tolerance "
                f"{self.tolerance_per_10000:,.1f})"
            )
        return f"pattern {self.pattern}: {self.why_not}"


@dataclass(frozen=True)
class Outcome:
    proposal_id: str
    status: str  # open | approved | rejected
    approvals: int
    approvals_needed: int
    effect: str


def new_id(now: dt.datetime) -> str:
    return f"P-{now:%Y%m%d}-{secrets.token_hex(4)}"


def open_by_pattern(conn: Connection, agreement_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    """Per (agreement, pattern), the open items sent to review for uncertainty alone."""
    if not agreement_ids:
        return {}
    items = read_arrow(
        conn,
        "SELECT r.agreement_id, CAST(r.detail AS TEXT), CAST(m.evidence AS TEXT) "
        "FROM review_items r JOIN matches m ON m.id = r.match_id "
        f"WHERE r.status = {_OPEN} AND r.kind = {sql_word(UNCERTAIN)} AND r.score_id IS NULL "
        "AND r.agreement_id IN :agreements",
        {"agreement_id": pa.string(), "detail": pa.string(), "evidence": pa.string()},
        {"agreements": sorted(set(agreement_ids))},
    )
    con = duckdb.connect(":memory:")
    try:
        con.register("items", items)
        rows = con.execute(
            f"""
            SELECT agreement_id, json_extract_string(evidence, '$.pattern') AS pattern, count(*)
            FROM items
            WHERE from_json(json_extract(detail, '$.reasons'), '["VARCHAR"]')
                  = [{sql_word(UNCERTAIN)}]
              AND json_extract_string(evidence, '$.pattern') IS NOT NULL
            GROUP BY ALL
            """
        ).fetchall()
    finally:
        con.close()
    return {(str(a), str(p)): int(n) for a, p, n in rows}


def _open_proposals(conn: Connection) -> dict[tuple[str, str], str]:
    rows = conn.execute(
        select(Proposal.agreement_id, Proposal.pattern, Proposal.proposal_id).where(
            Proposal.kind == TRUSTED_PATTERN, Proposal.status == ItemStatus.OPEN
        )
    ).all()
    return {(str(a), str(p)): str(i) for a, p, i in rows}


def _in_scope(
    conn: Connection, register: str | None, agreement_id: str | None
) -> list[tuple[Agreement, int]]:
    found = [
        (a, v)
        for a, v in stored_agreements(conn)
        if a.status != AgreementStatus.DRAFT
        and (register is None or a.recipient == register)
        and (agreement_id is None or a.id == agreement_id)
    ]
    if agreement_id is not None and not found:
        raise AccordError(f"no agreement {agreement_id!r} in force in the database")
    return found


def propose(
    url: str,
    register: str | None = None,
    agreement_id: str | None = None,
    min_labels: int = MIN_LABELS,
    by: str = "accord link propose",
) -> list[Considered]:
    """Consider every pattern the agreements in scope send to review; propose those the
    labels support.  Returns each pattern considered, proposed or not, and why not."""
    if min_labels < 1:
        raise InvalidInput("min_labels", "must be at least 1")
    now = utcnow()
    with db.connect(url) as conn:
        scope = _in_scope(conn, register, agreement_id)
        labelled = lab.by_pattern(lab.read_labels(conn, register))
        waiting = open_by_pattern(conn, [a.id for a, _ in scope])
        already = _open_proposals(conn)
        considered: list[Considered] = []
        for a, version in scope:
            tolerance = a.match.wrong_person_tolerance * 10_000
            patterns = {p for (r, p) in labelled if r == a.recipient}
            patterns |= {p for (g, p) in waiting if g == a.id}
            for pattern in sorted(patterns - set(a.match.trusted)):
                figures = labelled.get((a.recipient, pattern)) or lab.precision(pattern, 0, 0)
                upper = figures.wrong_upper_per_10000
                why_not = None
                existing = already.get((a.id, pattern))
                if figures.labels < min_labels:
                    why_not = f"{figures.labels:,} label(s), fewer than {min_labels:,}"
                elif upper is None or upper > tolerance:
                    why_not = (
                        f"up to {upper or 0.0:,.1f} wrong per 10,000 (95% upper bound, "
                        f"{figures.labels:,} labels, {figures.wrong:,} wrong), beyond the "
                        f"agreement's tolerance of {tolerance:,.1f}"
                    )
                elif existing is not None:
                    why_not = f"proposal {existing} is already open"
                proposal_id = existing
                if why_not is None:
                    proposal_id = new_id(now)
                    _insert(conn, proposal_id, a, version, pattern, figures, waiting, by, now)
                considered.append(
                    Considered(
                        a.id, a.recipient, pattern, figures.labels, figures.wrong, upper,
                        tolerance, waiting.get((a.id, pattern), 0), proposal_id, why_not,
                    )
                )  # fmt: skip
    return considered


def _insert(
    conn: Connection,
    proposal_id: str,
    agreement: Agreement,
    version: int,
    pattern: str,
    figures: lab.Precision,
    waiting: dict[tuple[str, str], int],
    by: str,
    now: dt.datetime,
) -> None:
    gain = waiting.get((agreement.id, pattern), 0)
    upper = figures.wrong_upper_per_10000
    detail = {
        "precision": figures.precision,
        "precision_low": figures.low,
        "precision_high": figures.high,
        "tolerance_per_10000": agreement.match.wrong_person_tolerance * 10_000,
    }
    conn.execute(
        insert(Proposal).values(
            proposal_id=proposal_id, kind=TRUSTED_PATTERN, register=agreement.recipient,
            agreement_id=agreement.id, pattern=pattern, based_on_version=version,
            labels=figures.labels, wrong=figures.wrong, wrong_upper_per_10000=upper,
            automatic_gain=gain, detail=detail, status=ItemStatus.OPEN,
            approvals_needed=APPROVALS_NEEDED, proposed_by=by, proposed_at=now,
        )
    )  # fmt: skip
    auditlog.log(
        conn, by, "proposal_made", proposal_id=proposal_id, kind=TRUSTED_PATTERN,
        agreement_id=agreement.id, agreement_version=version, pattern=pattern,
        labels=figures.labels, wrong=figures.wrong, wrong_upper_per_10000=upper,
        automatic_gain=gain,
    )  # fmt: skip


def record_model_proposal(
    conn: Connection,
    register: str,
    model_id: int,
    based_on_model_id: int | None,
    labels: int,
    wrong: int,
    detail: dict[str, Any],
    by: str,
) -> str:
    """Record a proposal to make a re-estimated model the register's current one."""
    now = utcnow()
    proposal_id = new_id(now)
    conn.execute(
        insert(Proposal).values(
            proposal_id=proposal_id, kind=MODEL, register=register, model_id=model_id,
            based_on_model_id=based_on_model_id, labels=labels, wrong=wrong, detail=detail,
            status=ItemStatus.OPEN, approvals_needed=APPROVALS_NEEDED,
            proposed_by=by, proposed_at=now,
        )
    )  # fmt: skip
    auditlog.log(
        conn, by, "proposal_made", proposal_id=proposal_id, kind=MODEL, register=register,
        model_id=model_id, based_on_model_id=based_on_model_id, labels=labels,
    )  # fmt: skip
    return proposal_id


def list_proposals(url: str, status: str = ItemStatus.OPEN) -> list[Proposal]:
    if status != "all" and status not in STATUSES:
        raise AccordError(f"unknown status {status!r}: use {', '.join(STATUSES)} or all")
    query = select(Proposal).order_by(Proposal.proposed_at, Proposal.proposal_id)
    if status != "all":
        query = query.where(Proposal.status == status)
    with db.session(url) as s:
        return list(s.scalars(query))


def find(url: str, proposal_id: str) -> Proposal | None:
    with db.session(url) as s:
        return s.get(Proposal, proposal_id)


def decisions(url: str, proposal_id: str) -> list[ProposalDecision]:
    with db.session(url) as s:
        return list(
            s.scalars(
                select(ProposalDecision)
                .where(ProposalDecision.proposal_id == proposal_id)
                .order_by(ProposalDecision.decided_at, ProposalDecision.id)
            )
        )


def decide(
    url: str,
    proposal_id: str,
    approve: bool,
    reviewer: str,
    reason: str,
    key: Path | None = None,
) -> Outcome:
    """Record one person's decision; the second distinct approval makes the change."""
    reviewer, reason = reviewer.strip(), reason.strip()
    if not reviewer:
        raise InvalidInput("reviewer", "must name the person deciding")
    if not reason:
        raise InvalidInput("reason", "must say why")
    with db.connect(url) as conn, ledger_unit.work(conn, key):
        db.write_lock(conn)  # decisions on one proposal are serialised (docs/linkage.md)
        row = conn.execute(
            select(Proposal).where(Proposal.proposal_id == proposal_id).with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"no proposal {proposal_id!r}")
        proposal = row
        if proposal.status != ItemStatus.OPEN:
            raise Conflict(f"proposal {proposal_id} is already {proposal.status}")
        earlier = decided_before(
            conn,
            ProposalDecision,
            ProposalDecision.proposal_id == proposal_id,
            reviewer,
            f"{reviewer} has already decided proposal {proposal_id}: it needs two different people",
        )
        decision = Decision.APPROVE if approve else Decision.REJECT
        now = utcnow()
        conn.execute(
            insert(ProposalDecision).values(
                proposal_id=proposal_id, reviewer=reviewer, decision=decision, reason=reason,
                decided_at=now,
            )
        )  # fmt: skip
        auditlog.log(
            conn, reviewer, f"proposal_{decision}", proposal_id=proposal_id,
            kind=proposal.kind, reason=reason,
        )  # fmt: skip
        approvers = [r for r, d in earlier if d == Decision.APPROVE] + (
            [reviewer] if approve else []
        )
        needed = proposal.approvals_needed
        if not approve:
            _close(conn, proposal_id, ItemStatus.REJECTED, now, None)
            return Outcome(
                proposal_id, ItemStatus.REJECTED, len(approvers), needed, "nothing changes"
            )
        if len(approvers) < needed:
            left = needed - len(approvers)
            return Outcome(
                proposal_id, ItemStatus.OPEN, len(approvers), needed,
                f"approval recorded; {left} more different person(s) needed: nothing changes yet",
            )  # fmt: skip
        _close(conn, proposal_id, ItemStatus.APPROVED, now, ", ".join(approvers))
        effect = _apply(conn, proposal, ", ".join(approvers), now)
        return Outcome(proposal_id, ItemStatus.APPROVED, len(approvers), needed, effect)


def _close(
    conn: Connection, proposal_id: str, status: str, at: dt.datetime, approved_by: str | None
) -> None:
    closed = conn.execute(
        update(Proposal)
        .where(Proposal.proposal_id == proposal_id, Proposal.status == ItemStatus.OPEN)
        .values(status=status, decided_at=at, approved_by=approved_by)
    )
    if closed.rowcount != 1:
        raise Conflict(f"proposal {proposal_id} was settled by another decision meanwhile")


def _apply(conn: Connection, proposal: Row[Any], approved_by: str, at: dt.datetime) -> str:
    """Make the change an approved proposal names, log it and record it in the ledger."""
    actor = f"proposal {proposal.proposal_id} (approved by {approved_by})"
    version: int | None = None
    if proposal.kind == TRUSTED_PATTERN:
        version = _trust(conn, proposal, actor)
        effect = (
            f"agreement {proposal.agreement_id} version {version} trusts pattern "
            f"{proposal.pattern}: from the next run its pairs go without a person when "
            "uncertainty is their only reason for review"
        )
    elif proposal.kind == MODEL:
        _make_model_current(conn, proposal)
        effect = (
            f"linkage model {proposal.model_id} is now current for register {proposal.register}"
        )
    else:
        raise AccordError(f"proposal {proposal.proposal_id} has unknown kind {proposal.kind!r}")
    conn.execute(
        update(Proposal)
        .where(Proposal.proposal_id == proposal.proposal_id)
        .values(result_version=version)
    )
    change = conn.execute(
        select(*ledger.GOVERNANCE_ROW).where(Proposal.proposal_id == proposal.proposal_id)
    ).one()
    (index,) = ledger_unit.record(
        conn, [("governance", proposal.proposal_id, content.governance_leaf(change))]
    )
    conn.execute(
        update(Proposal)
        .where(Proposal.proposal_id == proposal.proposal_id)
        .values(ledger_index=index)
    )
    auditlog.log(
        conn, actor, "proposal_applied", proposal_id=proposal.proposal_id, kind=proposal.kind,
        agreement_id=proposal.agreement_id, agreement_version=version,
        model_id=proposal.model_id, approved_by=approved_by, ledger_index=index,
    )  # fmt: skip
    return f"{effect}; ledger leaf {index}"


def _trust(conn: Connection, proposal: Row[Any], actor: str) -> int:
    """A new version of the agreement trusting the proposal's pattern; its number."""
    version = conn.scalar(
        select(AgreementRow.current_version).where(
            AgreementRow.agreement_id == proposal.agreement_id
        )
    )
    agreement = None if version is None else agreement_version(conn, proposal.agreement_id, version)
    if agreement is None:
        raise AccordError(f"agreement {proposal.agreement_id} is no longer in the database")
    made = trusted.entry(proposal)
    if made.pattern in agreement.match.trusted:
        raise AccordError(
            f"agreement {agreement.id} already trusts pattern {made.pattern}: nothing to change"
        )
    if not trusted.within_tolerance(agreement, made.wrong_upper_per_10000):
        raise AccordError(
            f"agreement {agreement.id} now tolerates "
            f"{agreement.match.wrong_person_tolerance * 10_000:,.1f} wrong per 10,000, less "
            f"than the proposal's {made.wrong_upper_per_10000:,.1f}: it cannot be applied"
        )
    changed = trusted.with_patterns(agreement, [*(agreement.match.trusted_patterns or []), made])
    return store_agreements(conn, [changed], actor)[agreement.id]


def _make_model_current(conn: Connection, proposal: Row[Any]) -> None:
    if proposal.model_id is None:
        raise AccordError(f"proposal {proposal.proposal_id} names no model")
    current = linkage_store.current_model_id(conn, proposal.register)
    if current != proposal.based_on_model_id:
        raise AccordError(
            f"register {proposal.register}'s current model is {current}, not the model "
            f"{proposal.based_on_model_id} the proposal was made against: propose again"
        )
    linkage_store.make_current(conn, proposal.register, proposal.model_id)


def release_trusted(
    conn: Connection, con: duckdb.DuckDBPyConnection, actor: str, at: dt.datetime
) -> int:
    """Close as ``released`` the open items of pairs the gate now discloses under a trusted
    pattern (``gate`` rows disclosed while an item was open); how many.

    Set-based: the items are found with one read and closed in chunks of ids; each gets
    an audit entry (``review_released``).
    """
    released = con.execute(
        "SELECT DISTINCT agreement_id FROM gate "
        f"WHERE outcome = {sql_word(GateOutcome.DISCLOSE)} AND settled_state = {_OPEN}"
    ).fetchall()
    if not released:
        return 0
    agreements = [str(r[0]) for r in released]
    items = read_arrow(
        conn,
        "SELECT item_id, agreement_id, person_id, record_id FROM review_items "
        f"WHERE status = {_OPEN} AND score_id IS NULL AND agreement_id IN :agreements",
        {n: pa.string() for n in ("item_id", "agreement_id", "person_id", "record_id")},
        {"agreements": agreements},
    )
    con.register("_open_items", items)
    try:
        rows = con.execute(
            f"""
            SELECT i.item_id, i.person_id, i.agreement_id, c.pattern
            FROM gate g
            JOIN _open_items i USING (agreement_id, person_id, record_id)
            LEFT JOIN candidates c ON c.person_id = g.person_id
                 AND c.record_id = g.record_id AND c.register = g.register
            WHERE g.outcome = {sql_word(GateOutcome.DISCLOSE)} AND g.settled_state = {_OPEN}
            ORDER BY i.item_id
            """
        ).fetchall()
    finally:
        con.unregister("_open_items")
    ids = [str(r[0]) for r in rows]
    for chunk in chunks(ids):
        conn.execute(
            update(ReviewItem)
            .where(ReviewItem.item_id.in_(chunk), ReviewItem.status == ItemStatus.OPEN)
            .values(status=RELEASED, closed_at=at)
        )
    auditlog.log_many(
        conn,
        [
            (actor, "review_released", person, {"item_id": item, "agreement_id": agreement,
                                                "pattern": pattern, "by": "trusted pattern"})
            for item, person, agreement, pattern in rows
        ],
    )  # fmt: skip
    return len(rows)
