"""The audit log: who did what, when, to whom, and why.

Every governance step that a person may later ask about (a pause, a policy change, a
withdrawal from the pool, a value the firewall refused) writes here in the same
transaction as the change itself, so the log and the state can never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

from sqlalchemy import Connection, Table

from accord.store.models import AuditLog
from accord.store.transfer import bulk_insert, insert_rows

AuditRow = tuple[str, str, str | None, Mapping[str, Any]]
"""One entry for :func:`log_many`: (actor, action, person_id or None, detail)."""

_COLUMNS = ("at", "actor", "action", "person_id", "detail")
_TABLE: Table = AuditLog.__table__  # type: ignore[assignment]
_FEW = 4


def jsonable(value: Any) -> Any:
    """``value`` with dates, paths, enums, sets and tuples made JSON-safe (recursively)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and all(type(v) is str for v in value):
        return list(value)  # ids, as every read of personal data lists them: nothing to convert
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [jsonable(v) for v in items]
    return str(value)


def log(
    conn: Connection, actor: str, action: str, person_id: str | None = None, **detail: Any
) -> None:
    """Write one audit entry in the caller's transaction."""
    log_many(conn, [(actor, action, person_id, detail)])


def log_many(conn: Connection, rows: Iterable[AuditRow]) -> int:
    """Write many audit entries at once (COPY on PostgreSQL); returns how many were written."""
    at = dt.datetime.now(dt.UTC)
    prepared = [
        (at, actor, action, person_id, jsonable(dict(detail)))
        for actor, action, person_id, detail in rows
    ]
    if len(prepared) > _FEW:
        return bulk_insert(conn, _TABLE, _COLUMNS, prepared)
    # A few entries (each web request's one): the same values bulk_insert would write, in
    # one plain INSERT, without setting up COPY every time.
    return insert_rows(conn, _TABLE, _COLUMNS, prepared)
