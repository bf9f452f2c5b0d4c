"""The linter: everything wrong with a set of agreements, or with the policy, at once.

``accord agreements check`` and ``accord policy check`` print every finding and exit 1,
so a data protection officer sees the whole list, not the first problem.  Each finding
has a stable code (for scripts) and a message a person can act on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accord.policy.agreement import Agreement
from accord.policy.firewall import breach_message, breaches
from accord.policy.policy import DEFAULT_DOCUMENT, Policy
from accord.policy.scoring import score_findings
from accord.vocab import AgreementStatus

IN_FORCE = (
    AgreementStatus.ACTIVE,
    AgreementStatus.PAUSED,
)  # a paused agreement is still in force, only held


@dataclass(frozen=True)
class Finding:
    code: str
    agreement_id: str | None
    file: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else self.message


def _agreement_findings(a: Agreement, policy: Policy, today: dt.date) -> list[Finding]:
    out: list[Finding] = []

    def add(code: str, message: str) -> None:
        out.append(Finding(code, a.id, a.file, f"agreement {a.id}: {message}"))

    if a.legal_basis is None or not a.legal_basis.strip():
        add(
            "missing_legal_basis",
            "no legal basis: name the statute and section that permit this sharing",
        )
    if a.review_by < today:
        add("review_overdue", f"review date {a.review_by} has passed (today is {today})")
    if a.review_by < a.valid_from:
        add("review_before_start", f"review date {a.review_by} is before valid_from {a.valid_from}")
    defined = policy.data_categories
    for c in a.data_categories:
        if c not in defined:
            add(
                "unknown_data_category",
                f"data category {c} is not defined in the policy (defined: {', '.join(defined)})",
            )
    provided = {f for c in a.data_categories if c in defined for f in defined[c].fields}
    for f in a.fields:
        if f not in provided:
            add(
                "field_not_covered",
                f"field {f} is not provided by its data categories "
                f"({', '.join(a.data_categories)})",
            )
    if a.match.review_from > a.match.disclose_at:
        add(
            "thresholds_out_of_order",
            f"match.review_from {a.match.review_from} is above match.disclose_at "
            f"{a.match.disclose_at}",
        )
    for c in a.exclude_cohorts:
        if c not in policy.cohorts:
            add(
                "unknown_cohort",
                f"exclude_cohorts names unknown cohort {c} (known: {', '.join(policy.cohorts)})",
            )
    if a.recipient not in policy.recipients:
        add(
            "unknown_recipient",
            f"recipient {a.recipient} is not a known recipient (known: "
            f"{', '.join(policy.recipients)})",
        )
    for code, message in score_findings(a, policy):
        add(code, message)
    for c in breaches(a, policy):
        out.append(Finding("firewall_breach", a.id, a.file, breach_message(a, c)))
    return out


def _overlaps(agreements: list[Agreement]) -> list[Finding]:
    out: list[Finding] = []
    in_force = [a for a in agreements if a.status in IN_FORCE]
    for i, a in enumerate(in_force):
        for b in in_force[i + 1 :]:
            if (a.recipient, a.purpose) != (b.recipient, b.purpose):
                continue
            start = max(a.valid_from, b.valid_from)
            out.append(
                Finding(
                    "overlapping_agreements",
                    b.id,
                    b.file,
                    f"agreements {a.id} and {b.id} are both in force for recipient "
                    f"{a.recipient} and purpose {a.purpose} from {start}",
                )
            )
    return out


def lint(agreements: list[Agreement], policy: Policy, today: dt.date) -> list[Finding]:
    """Every finding about these agreements under this policy, in file order."""
    findings: list[Finding] = []
    for a in agreements:
        findings.extend(_agreement_findings(a, policy, today))
    findings.extend(_overlaps(agreements))
    return findings


def lint_policy(policy: Policy, file: str | None = None) -> list[Finding]:
    """Every way this policy is weaker than the built-in one.

    A policy may add protected categories, enforcement patterns, cohorts and rules freely;
    removing one of the built-in safeguards is a finding.
    """
    out: list[Finding] = []

    def add(code: str, message: str) -> None:
        out.append(Finding(code, None, file, f"policy: {message}"))

    for c in DEFAULT_DOCUMENT["protected_categories"]:
        if c not in policy.protected_categories:
            add(
                "firewall_weakened",
                f"protected category {c} of the built-in firewall is not protected",
            )
    for pattern in DEFAULT_DOCUMENT["enforcement_purposes"]:
        if pattern not in policy.enforcement_purposes:
            add(
                "firewall_weakened",
                f"enforcement purpose pattern {pattern} of the built-in firewall is missing",
            )
    rules = {r.code: r for r in policy.admission_rules}
    for builtin in DEFAULT_DOCUMENT["admission_rules"]:
        code = builtin["code"]
        if code not in rules:
            add(
                "admission_rule_missing",
                f"built-in admission rule {code} is missing ({builtin['description']})",
            )
        elif rules[code].outcome != builtin["outcome"]:
            add(
                "admission_rule_weakened",
                f"admission rule {code} has outcome "
                f"{rules[code].outcome}; the built-in outcome is {builtin['outcome']}",
            )
    return out
