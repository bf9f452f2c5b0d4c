"""Changes to one person's standing in the refusal pool, made after admission decided it.

``pool_entries`` holds each person's standing now and ``pool_history`` a row for every
change.  Admission writes the whole pool at once (`accord.admission`); every later change
comes here: a withdrawal (events, an upheld challenge, and through
`accord.remedy.withdraw_and_recall` the recall that goes with it) and the settling of a
manual check by its reviewers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update

from accord.store import db
from accord.store.models import PoolEntry, PoolHistory, utcnow

WITHDRAWN = "withdrawn"
_CHUNK = 10_000  # people per IN (...) list, on either database

_HISTORY = ("person_id", "status", "reasons", "as_of", "run_id", "at")


def withdraw(
    conn: Connection, person_ids: Sequence[str], reason: str, as_of: dt.date, run_id: str | None
) -> list[str]:
    """Move people to ``withdrawn`` for ``reason`` (keeping their history), in the caller's
    transaction; returns those who moved.  Those withdrawn already stay as they are."""
    people = sorted(set(person_ids))
    moved: list[str] = []
    for start in range(0, len(people), _CHUNK):
        chunk = people[start : start + _CHUNK]
        current = conn.execute(
            select(PoolEntry.person_id, PoolEntry.status).where(PoolEntry.person_id.in_(chunk))
        ).all()
        moving = [p for p, status in current if status != WITHDRAWN]
        if not moving:
            continue
        conn.execute(
            update(PoolEntry)
            .where(PoolEntry.person_id.in_(moving))
            .values(
                status=WITHDRAWN, reasons=[reason], as_of=as_of, run_id=run_id,
                updated_at=utcnow(),
            )
        )  # fmt: skip
        db.bulk_insert(
            conn,
            PoolHistory.__table__,  # type: ignore[arg-type]
            _HISTORY,
            [(p, WITHDRAWN, [reason], as_of, run_id, utcnow()) for p in moving],
        )
        moved += moving
    return moved


def settle(conn: Connection, person_id: str, status: str, reason: str, as_of: dt.date) -> None:
    """Set one person's standing, as the reviewers of their manual check decided it."""
    conn.execute(
        update(PoolEntry)
        .where(PoolEntry.person_id == person_id)
        .values(status=status, reasons=[reason], as_of=as_of, updated_at=utcnow())
    )
    conn.execute(
        insert(PoolHistory).values(
            person_id=person_id, status=status, reasons=[reason], as_of=as_of, at=utcnow()
        )
    )
