"""Derived scores (SPEC.md F8): a data category of its own, shared only under safeguards.

A police risk database shared scores about people widely, with no distinction between
victims and perpetrators, no retention limit and no impact assessment.  Here a score
(``derived_scores``) may be shared only under an agreement naming ``derived_score`` in
its data categories, and such an agreement must name an impact assessment on file and a
retention limit (:func:`score_findings`, reported by the linter).  Victims' and
witnesses' scores never reach an enforcement purpose: an agreement whose ``roles`` name
them for one is a firewall breach, and :func:`shareable` never selects them whatever
the agreement says.  A score past its ``retain_until`` is not shared (and
:mod:`accord.retention` lists it for deletion).  Every score shared carries its
explanation (inputs and method).  Any disclosure of a score for an adverse use
(:func:`needs_human_review`) must wait for a person in the review queue.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, text

from accord.policy.agreement import Agreement
from accord.policy.policy import Policy

CATEGORY = "derived_score"
ROLES = ("subject", "victim", "witness")
PROTECTED_ROLES = ("victim", "witness")
ROLE_RULE = "victims' and witnesses' scores are never used for an enforcement purpose"


def shares_scores(agreement: Agreement) -> bool:
    return CATEGORY in agreement.data_categories


def score_findings(agreement: Agreement, policy: Policy) -> list[tuple[str, str]]:
    """(code, message) for each way an agreement sharing scores lacks a safeguard."""
    if not shares_scores(agreement):
        return []
    out: list[tuple[str, str]] = []
    if agreement.impact_assessment is None:
        out.append(
            (
                "missing_impact_assessment",
                "shares derived_score without an impact assessment on file: name "
                "impact_assessment (document_id and date)",
            )
        )
    if agreement.score_retention_days is None:
        out.append(
            (
                "missing_score_retention",
                "shares derived_score without a retention limit: set score_retention_days",
            )
        )
    if policy.is_enforcement(agreement.purpose):
        for role in agreement.roles:
            if role in PROTECTED_ROLES:
                out.append(
                    (
                        "firewall_breach",
                        f"refused by the firewall ({ROLE_RULE}): role {role} and purpose "
                        f"{agreement.purpose} is an enforcement purpose",
                    )
                )
    return out


def needs_human_review(agreement: Agreement, policy: Policy) -> bool:
    """Whether a disclosure under this agreement is a score for an adverse use.

    Every enforcement purpose is adverse.  The gate must hold each such disclosure for
    review (never ``rule:auto``), whatever its match probability.
    """
    return shares_scores(agreement) and policy.is_enforcement(agreement.purpose)


def retain_until(computed_at: dt.date, agreement: Agreement) -> dt.date:
    """The date a score computed on ``computed_at`` may be kept until under ``agreement``."""
    if agreement.score_retention_days is None:
        raise ValueError(f"agreement {agreement.id} sets no score_retention_days")
    return computed_at + dt.timedelta(days=agreement.score_retention_days)


@dataclass(frozen=True)
class SharedScore:
    score_id: str
    person_id: str
    kind: str
    value: float
    role: str
    explanation: dict[str, Any]  # inputs and how the score was computed
    computed_at: dt.date
    retain_until: dt.date


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def shareable(
    conn: Connection, agreement: Agreement, as_of: dt.date, policy: Policy
) -> list[SharedScore]:
    """The scores this agreement may share on ``as_of``, each with its explanation.

    None unless the agreement shares ``derived_score``; only the roles it names; never a
    victim's or witness's score for an enforcement purpose; never one destroyed or past
    its ``retain_until``.
    """
    if not shares_scores(agreement):
        return []
    roles = [r for r in agreement.roles if r in ROLES]
    if policy.is_enforcement(agreement.purpose):
        roles = [r for r in roles if r not in PROTECTED_ROLES]
    if not roles:
        return []
    stmt = text(
        "SELECT score_id, person_id, kind, value, role, explanation, computed_at, retain_until "
        "FROM derived_scores WHERE destroyed_at IS NULL AND retain_until >= :as_of "
        "AND role IN :roles ORDER BY score_id"
    ).bindparams(bindparam("roles", expanding=True))
    rows = conn.execute(stmt, {"as_of": as_of, "roles": roles}).all()
    return [
        SharedScore(
            score_id=r[0],
            person_id=r[1],
            kind=r[2],
            value=float(r[3]),
            role=r[4],
            explanation=r[5] if isinstance(r[5], dict) else json.loads(r[5]),
            computed_at=_date(r[6]),
            retain_until=_date(r[7]),
        )
        for r in rows
    ]
