"""Changes to one person's standing in the refusal pool, made after admission decided it.

``pool_entries`` holds each person's standing now and ``pool_history`` a row for every
change, and nothing else writes them: admission's decisions for everyone at once
(:func:`write_decided`, which `accord.admission` calls with the pool it decided), a
withdrawal (:func:`withdraw`: events, an upheld challenge, and through
`accord.remedy.withdraw_and_recall` the recall that goes with it) and the settling of a
manual check by its reviewers (:func:`settle`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from accord.cases import Background, insert_query
from accord.store import db
from accord.store.models import PoolEntry, PoolHistory, utcnow
from accord.vocab import PoolStatus, sql_word

WITHDRAWN: str = PoolStatus.WITHDRAWN.value  # a plain str, as the drivers bind it
_CHUNK = 10_000  # people per IN (...) list, on either database

_HISTORY = ("person_id", "status", "reasons", "as_of", "run_id", "at")


def write_decided(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    run_id: str | None,
    cleansing: bool,
    at: dt.datetime,
    background: Background | None = None,
) -> None:
    """Write the changed rows of admission's decided pool (``pool_new`` in ``con``), of
    everyone or, in a cleansing, of those admitted before (:func:`decided_scope`): each
    replaces the person's entry, with a history row.

    ``at`` (naive UTC) is when they change.  The date, run id and time are bound as DuckDB
    parameters.  With ``background``, the writes are left to it.
    """
    later = background or Background(threaded=False)
    only = decided_scope(cleansing)
    rows = f"""
        SELECT person_id, status, to_json(reasons)::VARCHAR AS reasons,
               CAST($as_of AS DATE) AS as_of, CAST($run_id AS VARCHAR) AS run_id,
               CAST($at AS TIMESTAMP) AS updated_at
        FROM pool_new WHERE changed AND ({only})
        """
    existed = [
        r[0]
        for r in con.execute(
            f"SELECT person_id FROM pool_new WHERE changed AND ({only}) "
            "AND previous_status IS NOT NULL ORDER BY person_id"
        ).fetchall()
    ]
    later.submit(_delete_entries, conn, existed)
    history = {c: c for c in ("person_id", "status", "reasons", "as_of", "run_id")}
    insert_query(
        conn,
        PoolEntry.__table__,  # type: ignore[arg-type]
        con,
        rows,
        copies=[(PoolHistory.__table__, history | {"at": "updated_at"})],  # type: ignore[list-item]
        background=later,
        params={"as_of": as_of, "run_id": run_id, "at": at},
    )


def decided_scope(cleansing: bool) -> str:
    """The condition on ``pool_new`` of the people admission's writes cover: everyone,
    or in a cleansing (which re-validates the admitted pool and does only that) the
    people admitted before."""
    return f"previous_status = {sql_word(PoolStatus.ADMITTED)}" if cleansing else "TRUE"


def _delete_entries(conn: Connection, person_ids: list[str]) -> None:
    if person_ids:
        entries: Table = PoolEntry.__table__  # type: ignore[assignment]
        conn.execute(
            delete(entries).where(entries.c.person_id == bindparam("pid")),
            [{"pid": p} for p in person_ids],
        )


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
