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

from sqlalchemy import Connection

from accord.store.db import bulk_insert
from accord.store.models import AuditLog

AuditRow = tuple[str, str, str | None, Mapping[str, Any]]
"""One entry for :func:`log_many`: (actor, action, person_id or None, detail)."""

_COLUMNS = ("at", "actor", "action", "person_id", "detail")


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
    return bulk_insert(conn, AuditLog.__table__, _COLUMNS, prepared)  # type: ignore[arg-type]
