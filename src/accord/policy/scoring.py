"""What an agreement that shares derived scores must carry (F8): the policy's side of scores.

The firewall, the policy lint and :mod:`accord.scores` (which loads, holds and shares the
scores themselves) all ask the same questions of an agreement; they live here, in the
policy package, so that checking an agreement never needs the score store.
"""

from __future__ import annotations

from accord.policy.agreement import Agreement
from accord.policy.policy import Policy

CATEGORY = "derived_score"
ROLES = ("subject", "victim", "witness")
PROTECTED_ROLES = ("victim", "witness")
ROLE_RULE = "victims' and witnesses' scores are never used for an enforcement purpose"
# What a score disclosure carries besides the agreed identity fields (policy: derived_score).
FIELDS = ("score_kind", "score_value", "score_role", "score_explanation")


def shares_scores(agreement: Agreement) -> bool:
    return CATEGORY in agreement.data_categories


def shares_records(agreement: Agreement) -> bool:
    """Whether the agreement shares anything besides scores (the matched record itself).

    An agreement whose only data category is ``derived_score`` discloses scores and
    nothing else: not even that the person is in the pool.
    """
    return any(c != CATEGORY for c in agreement.data_categories)


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
    missing = [f for f in FIELDS if f not in agreement.fields]
    if missing:
        out.append(
            (
                "missing_score_fields",
                f"shares derived_score without {', '.join(missing)} in its fields: a score "
                "is shared only with its kind, its value, its explanation (inputs and "
                "method) and whose score it is",
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
