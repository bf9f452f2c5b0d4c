"""Trusted patterns stay what two approvers made them, whatever an agreement file says.

A trusted pattern lets pairs go without a person, so only an approved proposal may add
one (`accord link proposal approve`, two different people).  Agreement files are
written by hand and loaded by every `accord run`, so each time an agreement is stored:

* a file that does not mention ``trusted_patterns`` keeps those of the version in
  force, except any whose upper bound of wrong matches is no longer within the
  agreement's tolerance (a file that tightens the tolerance drops them);
* a file that lists them may list fewer (a pattern is no longer trusted) but every one
  it lists must be exactly what an approved proposal for that agreement and pattern
  made, within the tolerance; anything else is refused, so editing a file can never
  add automation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from accord.errors import AccordError
from accord.policy.agreement import Agreement, TrustedPattern, parse_agreement
from accord.store.models import AgreementVersion, Proposal, versions_in_force
from accord.vocab import ItemStatus, Reason

TRUSTED_PATTERN = Reason.TRUSTED_PATTERN  # the proposal kind that trusts a pattern
APPROVED = ItemStatus.APPROVED


def within_tolerance(agreement: Agreement, upper_per_10000: float) -> bool:
    """Whether labels' upper bound of wrong matches is within the agreement's tolerance."""
    return upper_per_10000 <= agreement.match.wrong_person_tolerance * 10_000


def in_force(conn: Connection, agreement_ids: Sequence[str]) -> dict[str, list[TrustedPattern]]:
    """The trusted patterns of each agreement's version in force that lists any, even
    none (one read)."""
    if not agreement_ids:
        return {}
    rows = conn.execute(
        versions_in_force(AgreementVersion.agreement_id, AgreementVersion.document).where(
            AgreementVersion.agreement_id.in_(sorted(set(agreement_ids)))
        )
    ).all()
    found: dict[str, list[TrustedPattern]] = {}
    for agreement_id, document in rows:
        match = document.get("match") if isinstance(document, dict) else None
        listed = match.get("trusted_patterns") if isinstance(match, dict) else None
        if isinstance(listed, list):  # set, even to none: carried forward as it is
            found[agreement_id] = [TrustedPattern.model_validate(t) for t in listed]
    return found


def approved(conn: Connection, agreement_ids: Sequence[str]) -> dict[tuple[str, str], Row[Any]]:
    """Approved trusted-pattern proposals by (agreement, proposal id) (one read)."""
    if not agreement_ids:
        return {}
    rows = conn.execute(
        select(Proposal).where(
            Proposal.kind == TRUSTED_PATTERN,
            Proposal.status == APPROVED,
            Proposal.agreement_id.in_(sorted(set(agreement_ids))),
        )
    ).all()
    return {(str(r.agreement_id), str(r.proposal_id)): r for r in rows}


def entry(proposal: Any) -> TrustedPattern:
    """The trusted pattern an approved proposal makes."""
    if proposal.pattern is None or proposal.wrong_upper_per_10000 is None:
        raise AccordError(f"proposal {proposal.proposal_id} does not name a pattern")
    return TrustedPattern(
        pattern=proposal.pattern,
        labels=proposal.labels,
        wrong_upper_per_10000=proposal.wrong_upper_per_10000,
        proposal_id=proposal.proposal_id,
    )


def with_patterns(agreement: Agreement, patterns: list[TrustedPattern]) -> Agreement:
    """``agreement`` with exactly these trusted patterns (validated, keeping its file)."""
    document = agreement.document()
    document["match"] = {
        **document["match"],
        "trusted_patterns": [t.model_dump(mode="json") for t in patterns],
    }
    changed = parse_agreement(document, agreement.file or f"<{agreement.id}>")
    changed._file = agreement.file
    return changed


def settle(conn: Connection, agreements: Sequence[Agreement]) -> list[Agreement]:
    """The agreements as they may be stored: trusted patterns carried forward or checked.

    Raises :class:`AccordError` naming the agreement and pattern when a file lists a
    trusted pattern that no approved proposal made as it stands.
    """
    ids = [a.id for a in agreements]
    current = in_force(conn, ids)
    listed = [a for a in agreements if a.match.trusted_patterns is not None]
    proposals = approved(conn, [a.id for a in listed])
    settled: list[Agreement] = []
    for a in agreements:
        if a.match.trusted_patterns is None:
            if a.id not in current:
                settled.append(a)
                continue
            kept = [t for t in current[a.id] if within_tolerance(a, t.wrong_upper_per_10000)]
            settled.append(with_patterns(a, kept))
            continue
        for t in a.match.trusted_patterns:
            made = proposals.get((a.id, t.proposal_id))
            if made is None or entry(made) != t:
                raise AccordError(
                    f"agreement {a.id}: trusted pattern {t.pattern!r} does not stand as "
                    f"approved proposal {t.proposal_id!r} made it: a pattern is trusted only "
                    "through `accord link propose` and two approvals"
                )
            if not within_tolerance(a, t.wrong_upper_per_10000):
                raise AccordError(
                    f"agreement {a.id}: trusted pattern {t.pattern!r} has up to "
                    f"{t.wrong_upper_per_10000:.1f} wrong per 10,000, beyond the agreement's "
                    f"tolerance of {a.match.wrong_person_tolerance * 10_000:.1f}: leave it out"
                )
        settled.append(a)
    return settled
