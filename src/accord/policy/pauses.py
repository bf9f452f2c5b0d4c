"""Pauses: stop sharing under an agreement, or about one cohort within it, at once (F5).

A pause takes effect for the next gate decision without a restart, because the gate
reads :func:`active` each time it runs.  Nothing held is lost: the gate keeps held
disclosures as held and decides them again once the pause is lifted.  Every pause and
resume is written to the audit log with who and why.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, insert, select, update

from accord import auditlog
from accord.errors import AccordError, InvalidInput, NotFound
from accord.policy.policy import Policy, default_policy
from accord.store.db import connect
from accord.store.models import Agreement as AgreementRow
from accord.store.models import Pause
from accord.vocab import Reason


def _known(conn: Connection, agreement_id: str) -> None:
    """Refuse an agreement the database does not hold."""
    found = conn.scalar(
        select(AgreementRow.agreement_id).where(AgreementRow.agreement_id == agreement_id)
    )
    if found is None:
        raise NotFound(f"no agreement {agreement_id!r}")


def _what(agreement_id: str, cohort: str | None) -> str:
    return f"agreement {agreement_id}" + (f" for cohort {cohort}" if cohort else "")


def pause(
    url: str,
    agreement_id: str,
    cohort: str | None,
    reason: str,
    actor: str,
    policy: Policy | None = None,
) -> int:
    """Pause sharing under an agreement (or for one cohort in it); returns the pause id.

    An agreement not in the database is :class:`NotFound`, whatever else is wrong.
    """
    policy = policy or default_policy()
    with connect(url) as conn:
        _known(conn, agreement_id)
        if not reason.strip():
            raise InvalidInput("reason", "a pause needs a reason ({field})")
        if cohort is not None and cohort not in policy.cohorts:
            raise AccordError(
                f"unknown cohort {cohort}: the policy defines {', '.join(policy.cohorts) or 'none'}"
            )
        existing = conn.execute(
            select(Pause.id, Pause.paused_at, Pause.paused_by).where(
                Pause.agreement_id == agreement_id,
                Pause.resumed_at.is_(None),
                Pause.cohort.is_(None) if cohort is None else Pause.cohort == cohort,
            )
        ).first()
        if existing is not None:
            raise AccordError(
                f"{_what(agreement_id, cohort)} is already paused (pause {existing.id} by "
                f"{existing.paused_by})"
            )
        now = dt.datetime.now(dt.UTC)
        result = conn.execute(
            insert(Pause).values(
                agreement_id=agreement_id,
                cohort=cohort,
                reason=reason,
                paused_by=actor,
                paused_at=now,
            )
        )
        pause_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        auditlog.log(
            conn,
            actor,
            Reason.AGREEMENT_PAUSED,
            agreement_id=agreement_id,
            cohort=cohort,
            reason=reason,
            pause_id=pause_id,
        )
    return pause_id


def resume(url: str, agreement_id: str, cohort: str | None, reason: str, actor: str) -> int:
    """Lift a pause; returns the id of the pause lifted (an unknown agreement is
    :class:`NotFound`, as for :func:`pause`)."""
    with connect(url) as conn:
        _known(conn, agreement_id)
        if not reason.strip():
            raise InvalidInput("reason", "a resume needs a reason ({field})")
        open_id = conn.execute(
            select(Pause.id).where(
                Pause.agreement_id == agreement_id,
                Pause.resumed_at.is_(None),
                Pause.cohort.is_(None) if cohort is None else Pause.cohort == cohort,
            )
        ).scalar_one_or_none()
        if open_id is None:
            raise AccordError(f"{_what(agreement_id, cohort)} is not paused")
        conn.execute(
            update(Pause)
            .where(Pause.id == open_id)
            .values(resumed_at=dt.datetime.now(dt.UTC), resumed_by=actor, resume_reason=reason)
        )
        auditlog.log(
            conn,
            actor,
            "agreement_resumed",
            agreement_id=agreement_id,
            cohort=cohort,
            reason=reason,
            pause_id=open_id,
        )
    return int(open_id)


def active(conn: Connection) -> list[tuple[str, str | None]]:
    """The pauses in force: (agreement_id, cohort, or None for the whole agreement)."""
    rows = conn.execute(
        select(Pause.agreement_id, Pause.cohort)
        .where(Pause.resumed_at.is_(None))
        .order_by(Pause.agreement_id, Pause.cohort)
    ).all()
    return [(a, c) for a, c in rows]


def held(
    con: duckdb.DuckDBPyConnection,
    pauses: list[tuple[str, str | None]],
    membership: str = "cohort_membership",
    people: str = "person_state",
    target: str = "held",
) -> str:
    """The DuckDB table ``target`` of (agreement_id, person_id, cohort) the pauses hold.

    ``membership`` is a relation of (person_id, cohort) (see
    :func:`accord.policy.compile.cohort_membership`); a whole-agreement pause holds every
    person in ``people``, with cohort NULL.
    """
    table = pa.table(
        {
            "agreement_id": pa.array([a for a, _ in pauses], pa.string()),
            "cohort": pa.array([c for _, c in pauses], pa.string()),
        }
    )
    con.register("_active_pauses", table)
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TABLE {target} AS
            SELECT DISTINCT z.agreement_id, m.person_id, z.cohort
            FROM _active_pauses z JOIN {membership} m ON m.cohort = z.cohort
            UNION ALL
            SELECT z.agreement_id, s.person_id, CAST(NULL AS VARCHAR) AS cohort
            FROM _active_pauses z CROSS JOIN (SELECT DISTINCT person_id FROM {people}) s
            WHERE z.cohort IS NULL
            """
        )
    finally:
        con.unregister("_active_pauses")
    return target
