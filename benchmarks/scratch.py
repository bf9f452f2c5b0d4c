"""A PostgreSQL database of a benchmark's own: created empty, dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from accord.store import db


@contextlib.contextmanager
def pg_scratch(admin_url: str) -> Iterator[str]:
    """The URL of a new, empty database on ``admin_url``'s server, dropped on exit."""
    import psycopg

    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
    admin = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    name = f"accord_bench_{uuid.uuid4().hex[:8]}"
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield url
    finally:
        db.engine_for(url).dispose()
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
