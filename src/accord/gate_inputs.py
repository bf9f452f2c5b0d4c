"""The gate's inputs that come from governance state rather than from linkage.

:mod:`accord.gate` decides over DuckDB tables its caller fills; this module fills the
ones read from the database and the policy (the agreements in force, the pool, cohorts,
pauses, freezes, what earlier runs and reviewers settled or approved, and the derived
scores each agreement may share), for a whole run (`accord.cycle`) and for the one
person an approval is about (`accord.approval`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from accord import gate, scores
from accord.compute import Table, Workspace
from accord.events import open_freezes
from accord.policy import firewall, pauses
from accord.policy.agreement import Agreement
from accord.policy.compile import cohort_membership
from accord.policy.policy import Policy
from accord.remedy import chunks
from accord.store.models import Disclosure, ReviewDecision, ReviewItem
from accord.vocab import AgreementStatus, Decision, ItemStatus, PoolStatus, Settled, sql_word

REVIEWED = "reviewers:"  # decided_by of a disclosure people approved, then their names
PERSON_STATE = Table(firewall.PERSON_STATE)  # accord.admission.derive_person_state
POOL_STATUS = Table("pool_status")  # person_id, status: each person's standing now


def agreements_table(
    ws: Workspace,
    agreements: Sequence[tuple[Agreement, int]],
    policy: Policy,
) -> None:
    """``agreements`` and ``score_agreements``: each (agreement, stored version) given."""
    rows = [
        {
            "agreement_id": a.id, "version": v, "recipient": a.recipient, "purpose": a.purpose,
            "status": a.status, "valid_from": a.valid_from, "review_by": a.review_by,
            "disclose_at": a.match.disclose_at, "review_from": a.match.review_from,
            "ambiguity_margin": a.match.ambiguity_margin,
            "ambiguity_bits": a.match.ambiguity_bits,
            "wrong_person_tolerance": a.match.wrong_person_tolerance,
            "four_eyes": a.review.four_eyes,
            "exclude_cohorts": list(a.exclude_cohorts),
            "enforcement": policy.is_enforcement(a.purpose), "fields": list(a.fields),
            "trusted_patterns": a.match.trusted,
        }
        for a, v in agreements
    ]  # fmt: skip
    ws.insert_rows(gate.AGREEMENTS, rows)
    ws.insert_rows(
        gate.SCORE_AGREEMENTS,
        [
            {"agreement_id": a.id, "shares_records": scores.shares_records(a)}
            for a, _ in agreements
            if scores.shares_scores(a)
        ],
    )


def governance_inputs(
    conn: Connection,
    ws: Workspace,
    policy: Policy,
    as_of: dt.date,
    people: Sequence[str] | None = None,
) -> None:
    """Fill the gate's inputs that come from governance state rather than from linkage.

    Needs ``person_state`` and ``pool_status`` (person_id, status) in the workspace, and
    the gate's inputs declared there (``gate.INPUTS``).
    """
    ws.require((PERSON_STATE, POOL_STATUS), "the gate's pool")
    ws.con.execute(
        "INSERT INTO pool SELECT s.person_id, s.latest_decision_date, s.decision_category, "
        f"coalesce(p.status = {sql_word(PoolStatus.ADMITTED)}, false) FROM person_state s "
        "LEFT JOIN pool_status p USING (person_id)"
    )
    cohort_membership(ws.con, policy, as_of)
    ws.con.execute("INSERT INTO cohorts SELECT person_id, cohort FROM cohort_membership")
    ws.insert_rows(gate.PAUSES, [{"agreement_id": a, "cohort": c} for a, c in pauses.active(conn)])
    ws.insert_rows(gate.FROZEN_PEOPLE, [{"person_id": p} for p in open_freezes(conn)])
    ws.insert_rows(gate.PROTECTED, [{"category": c} for c in sorted(policy.protected_categories)])
    # One read of each table serves records and scores; a score row names its score_id.
    disclosed = select(
        Disclosure.agreement_id, Disclosure.person_id, Disclosure.record_id, Disclosure.score_id
    )
    items = select(
        ReviewItem.item_id, ReviewItem.agreement_id, ReviewItem.person_id, ReviewItem.record_id,
        ReviewItem.score_id, ReviewItem.status,
    ).where(ReviewItem.agreement_id.is_not(None), ReviewItem.record_id.is_not(None))  # fmt: skip
    if people is not None:
        disclosed = disclosed.where(Disclosure.person_id.in_(people))
        items = items.where(ReviewItem.person_id.in_(people))
    made = conn.execute(disclosed).all()
    found = conn.execute(items).all()
    ws.insert_rows(
        gate.SETTLED,
        [
            {"agreement_id": a, "person_id": p, "record_id": r, "state": Settled.DISCLOSED}
            for a, p, r, score in made
            if not score
        ]
        + [
            {"agreement_id": a, "person_id": p, "record_id": r, "state": st}
            for _, a, p, r, score, st in found
            if score is None
        ],
    )
    approved = [i for i in found if i[4] is None and i[5] == ItemStatus.APPROVED]
    approvers = _approvers(conn, [i[0] for i in approved])
    ws.insert_rows(
        gate.APPROVALS,
        [
            {"agreement_id": a, "person_id": p, "record_id": r, "decided_by": approvers[i]}
            for i, a, p, r, _, _ in approved
        ],
    )
    _score_governance_inputs(
        conn, ws, [m for m in made if m[3]], [i for i in found if i[4] is not None]
    )


def _score_governance_inputs(
    conn: Connection,
    ws: Workspace,
    made: Sequence[Any],
    found: Sequence[Any],
) -> None:
    """``score_settled`` and ``score_approved`` from score disclosures and their items.

    ``made``: (agreement, person, record, score) of score disclosures; ``found``: (item,
    agreement, person, record, score, status) of ``score_review`` items.
    """
    ws.insert_rows(
        gate.SCORE_SETTLED,
        [
            {"agreement_id": a, "person_id": p, "record_id": r, "score_id": s,
             "state": Settled.DISCLOSED}
            for a, p, r, s in made
        ]
        + [
            {"agreement_id": a, "person_id": p, "record_id": r, "score_id": s, "state": st}
            for _, a, p, r, s, st in found
        ],
    )  # fmt: skip
    approved = [i for i in found if i[5] == ItemStatus.APPROVED]
    approvers = _approvers(conn, [i[0] for i in approved])
    ws.insert_rows(
        gate.SCORE_APPROVED,
        [
            {"agreement_id": a, "person_id": p, "record_id": r, "score_id": s,
             "decided_by": approvers[i]}
            for i, a, p, r, s, _ in approved
        ],
    )  # fmt: skip


def _approvers(conn: Connection, item_ids: Sequence[str]) -> dict[str, str]:
    """Per approved review item, the ``decided_by`` of what it lets go: its approvers."""
    reviewers: dict[str, list[str]] = {i: [] for i in item_ids}
    for chunk in chunks(sorted(reviewers)):
        for item_id, reviewer in conn.execute(
            select(ReviewDecision.item_id, ReviewDecision.reviewer)
            .where(ReviewDecision.item_id.in_(chunk), ReviewDecision.decision == Decision.APPROVE)
            .order_by(ReviewDecision.decided_at, ReviewDecision.id)
        ):
            reviewers[item_id].append(reviewer)
    return {i: REVIEWED + ", ".join(names) for i, names in reviewers.items()}


def score_inputs(
    conn: Connection,
    ws: Workspace,
    agreements: Sequence[Agreement],
    policy: Policy,
    as_of: dt.date,
    people: Sequence[str] | None = None,
    score_ids: Sequence[str] | None = None,
) -> int:
    """``score_candidates``: what each agreement in force may share (``scores.shareable``).

    Only about people in the pool: scores follow the same admission, linkage and gate as
    everything else shared (see docs/scores.md).
    """
    found = 0
    for a in agreements:
        if a.status == AgreementStatus.DRAFT or not scores.shares_scores(a):
            continue
        table = scores.shareable_table(
            conn, a, as_of, policy, people=people, score_ids=score_ids,
            admitted_only=people is None,
        )  # fmt: skip
        if table.num_rows == 0:
            continue
        ws.require((gate.SCORE_CANDIDATES,), "the gate's score candidates")
        ws.con.register("_scores", table)
        ws.con.execute(
            "INSERT INTO score_candidates SELECT ? AS agreement_id, score_id, person_id, kind, "
            "value, role, explanation, CAST(computed_at AS DATE), CAST(retain_until AS DATE) "
            "FROM _scores",
            [a.id],
        )
        ws.con.unregister("_scores")
        found += table.num_rows
    return found
