"""Agreements and the policy, versioned in the governance database.

Every disclosure cites the agreement version it was made under, so an agreement is
never edited in place: loading a file whose content changed adds a version and moves
``agreements.current_version`` to it; loading an unchanged file is a no-op.  The policy
is versioned the same way, and every change of the policy in force is written to the
audit log with who made it, which sections changed and what the linter says about it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from accord import auditlog
from accord.policy import trusted
from accord.policy.agreement import Agreement, parse_agreement
from accord.policy.firewall import check_agreement
from accord.policy.lint import lint_policy
from accord.policy.policy import Policy, default_policy
from accord.store.models import Agreement as AgreementRow
from accord.store.models import AgreementVersion, AuditLog, PolicyVersion, versions_in_force

POLICY_LOADED = "policy_loaded"


def store_agreements(
    conn: Connection, agreements: list[Agreement], actor: str, policy: Policy | None = None
) -> dict[str, int]:
    """Record agreements; returns agreement_id -> the version now in force.

    Each agreement is checked against the firewall first (``policy``, else the built-in
    one) and nothing is stored if any breaches it.  Trusted patterns are carried forward
    from the version in force or checked against approved proposals
    (:func:`accord.policy.trusted.settle`).
    """
    policy = policy or default_policy()
    for a in agreements:
        check_agreement(a, policy)
    agreements = trusted.settle(conn, agreements)  # approved trusted patterns only
    versions: dict[str, int] = {}
    for a in agreements:
        sha = a.sha256
        current = conn.execute(
            select(AgreementRow.current_version, AgreementRow.recipient).where(
                AgreementRow.agreement_id == a.id
            )
        ).first()
        if current is not None:
            stored_sha = conn.execute(
                select(AgreementVersion.content_sha256).where(
                    AgreementVersion.agreement_id == a.id,
                    AgreementVersion.version == current.current_version,
                )
            ).scalar_one()
            if stored_sha == sha:
                versions[a.id] = current.current_version
                continue
        last = conn.execute(
            select(func.max(AgreementVersion.version)).where(AgreementVersion.agreement_id == a.id)
        ).scalar_one()
        version = (last or 0) + 1
        if current is None:
            conn.execute(
                insert(AgreementRow).values(
                    agreement_id=a.id, recipient=a.recipient, current_version=version
                )
            )
        conn.execute(
            insert(AgreementVersion).values(
                agreement_id=a.id,
                version=version,
                content_sha256=sha,
                document=a.document(),
                loaded_by=actor,
            )
        )
        if current is not None:
            conn.execute(
                update(AgreementRow)
                .where(AgreementRow.agreement_id == a.id)
                .values(current_version=version, recipient=a.recipient)
            )
        auditlog.log(
            conn,
            actor,
            "agreement_loaded",
            agreement_id=a.id,
            version=version,
            previous_version=current.current_version if current else None,
            sha256=sha,
            file=a.file,
        )
        versions[a.id] = version
    return versions


def stored_agreements(conn: Connection) -> list[tuple[Agreement, int]]:
    """Every agreement in the database at its current version, with that version."""
    rows = conn.execute(
        versions_in_force(AgreementVersion.document, AgreementVersion.version).order_by(
            AgreementVersion.agreement_id
        )
    ).all()
    return [(parse_agreement(doc, "<database>"), version) for doc, version in rows]


def agreement_version(conn: Connection, agreement_id: str, version: int) -> Agreement | None:
    """An agreement exactly as it was at one version (what a disclosure cites)."""
    doc = conn.execute(
        select(AgreementVersion.document).where(
            AgreementVersion.agreement_id == agreement_id, AgreementVersion.version == version
        )
    ).scalar_one_or_none()
    return None if doc is None else parse_agreement(doc, f"<{agreement_id} v{version}>")


def policy_in_force(conn: Connection) -> int | None:
    """The version of the policy most recently recorded as in force, if any."""
    detail = conn.execute(
        select(AuditLog.detail)
        .where(AuditLog.action == POLICY_LOADED)
        .order_by(AuditLog.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if detail is None else int(detail["version"])


def _changed_sections(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    if before is None:
        return sorted(after)
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def record_policy(conn: Connection, policy: Policy, actor: str) -> int:
    """Record the policy in force; returns its version.

    A policy seen before keeps its version.  When the policy in force changes (to a new
    one, or back to an earlier one), the audit log gets who, which sections changed, and
    the linter's findings.
    """
    sha = policy.sha256
    version = conn.execute(
        select(PolicyVersion.version).where(PolicyVersion.content_sha256 == sha)
    ).scalar_one_or_none()
    in_force = policy_in_force(conn)
    if version is not None and version == in_force:
        return version
    document = policy.document()
    if version is None:
        last = conn.execute(select(func.max(PolicyVersion.version))).scalar_one()
        version = (last or 0) + 1
        conn.execute(
            insert(PolicyVersion).values(
                version=version, content_sha256=sha, document=document, loaded_by=actor
            )
        )
    before = None
    if in_force is not None:
        before = conn.execute(
            select(PolicyVersion.document).where(PolicyVersion.version == in_force)
        ).scalar_one()
    auditlog.log(
        conn,
        actor,
        POLICY_LOADED,
        version=version,
        previous_version=in_force,
        sha256=sha,
        changed_sections=_changed_sections(before, document),
        findings=[f.message for f in lint_policy(policy)],
    )
    return version
