"""Connections to the governance database, transactions and schema upgrades.

SQLite is the embedded default and PostgreSQL the deployment database; both are used
through SQLAlchemy 2, and both get the same schema from the same Alembic chain.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from accord.errors import AccordError, DatabaseUnavailable
from accord.store import checkpoint, sqlite_bulk
from accord.store.dialect import dialect_of
from accord.store.transfer import bulk_insert as bulk_insert  # its home is transfer

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    checkpoint.pragmas(cur)
    cur.close()


def describe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@functools.lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    """One engine per URL for the life of the process."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise AccordError(f"database URL {url!r} is not a valid URL") from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise AccordError(
            f"database URL {describe(url)}: Accord supports sqlite:/// and "
            "postgresql+psycopg:// databases"
        )
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parent = Path(parsed.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise AccordError(f"database URL {url}: folder {parent} does not exist")
    try:
        engine = create_engine(parsed, pool_pre_ping=backend == "postgresql")
    except ModuleNotFoundError as exc:
        raise AccordError(f"database URL {describe(url)}: driver {exc.name} is missing") from exc
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        sqlite_bulk.install(engine)
        if parsed.database not in (None, "", ":memory:"):
            checkpoint.install(engine, Path(parsed.database))
    return engine


_BEFORE_COMMIT = "accord.before_commit"


def before_commit(conn: Connection, name: str, action: Callable[[Connection], object]) -> None:
    """Have ``action`` run in ``conn``'s transaction just before :func:`connect` commits it.

    Once per ``name`` however often it is asked for; an error it raises rolls the whole
    transaction back.  The ledger's unit of work (`accord.ledger.unit`) uses it to sign a
    tree head over the leaves a transaction appended, so that no step can forget to.
    """
    conn.info.setdefault(_BEFORE_COMMIT, {})[name] = action


def before_commit_action(conn: Connection, name: str) -> Callable[[Connection], object] | None:
    """The action asked for under ``name`` in ``conn``'s transaction, if it has not run."""
    actions: dict[str, Callable[[Connection], object]] = conn.info.get(_BEFORE_COMMIT, {})
    return actions.get(name)


_AFTER_COMMIT = "accord.after_commit"


def after_commit(conn: Connection, name: str, action: Callable[[], object]) -> None:
    """Have ``action`` run just after :func:`connect` commits ``conn``'s transaction (not
    at all if it rolls back); once per ``name``.  The ledger uses it to publish the tree
    heads a transaction signed (`accord.ledger.publish`) once they are in the database."""
    conn.info.setdefault(_AFTER_COMMIT, {})[name] = action


def _run_before_commit(conn: Connection) -> None:
    actions: dict[str, Callable[[Connection], object]] = conn.info.pop(_BEFORE_COMMIT, {})
    for action in actions.values():
        action(conn)


@contextlib.contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A connection in one transaction, committed on success, rolled back on error.

    What was asked for with :func:`before_commit` runs just before the commit.
    """
    engine = engine_for(url)
    try:
        conn_cm = engine.begin()
        conn = conn_cm.__enter__()
    except OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot reach database {describe(url)}: {str(exc.orig).strip().splitlines()[0]}"
        ) from exc
    # ``info`` lives with the pooled DBAPI connection: nothing from an earlier use stays.
    conn.info.pop(_BEFORE_COMMIT, None)
    conn.info.pop(_AFTER_COMMIT, None)
    try:
        yield conn
        _run_before_commit(conn)
    except BaseException as exc:
        conn.info.pop(_BEFORE_COMMIT, None)
        conn.info.pop(_AFTER_COMMIT, None)
        conn_cm.__exit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        after: dict[str, Callable[[], object]] = conn.info.pop(_AFTER_COMMIT, {})
        conn_cm.__exit__(None, None, None)
        for action in after.values():
            action()


def write_lock(conn: Connection) -> None:
    """On SQLite, take the database's write lock now, before the transaction reads.

    pysqlite begins a transaction only at its first write, so reads made before it see
    whatever was committed then and hold no lock: two transactions can read the same
    state and each then write on it in turn.  A write statement that changes nothing
    begins the transaction and takes the lock (waiting up to busy_timeout), so what it
    reads next is the latest committed state and stays so until it commits.  On
    PostgreSQL this does nothing: lock the rows read with ``SELECT ... FOR UPDATE``.
    """
    dialect_of(conn).take_write_lock(conn)


@contextlib.contextmanager
def session(url: str) -> Iterator[Session]:
    """An ORM session in one transaction over :func:`connect`."""
    with connect(url) as conn:
        maker = sessionmaker(bind=conn, expire_on_commit=False)
        with maker() as s:
            yield s
            s.flush()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(url: str) -> str | None:
    with connect(url) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Create or upgrade the schema; returns (revision before, revision after)."""
    with connect(url) as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(alembic_config(conn), revision)
        after = MigrationContext.configure(conn).get_current_revision()
    assert after is not None
    return before, after


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL, or None (another backend, or in memory)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def exists(url: str) -> bool:
    """False for a SQLite database whose file is not there, else True (a server's
    database is either there or cannot be reached, which connecting reports)."""
    path = sqlite_file(url)
    return path is None or path.exists()


def require_schema(url: str) -> None:
    """Refuse to work on a database `accord init` has not brought to the current schema.

    An absent SQLite file is refused before connecting, so that a command that only
    reads (or one run in the wrong folder) never leaves an empty database behind.
    """
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseUnavailable(
            f"no Accord database at {path}: run `accord init` or `accord run` first"
        )
    rev = current_revision(url)
    if rev is None:
        raise DatabaseUnavailable(
            f"database {describe(url)} has no Accord schema: run `accord init` or "
            "`accord run` first"
        )
    if rev != head_revision():
        raise DatabaseUnavailable(
            f"database {describe(url)} is at schema {rev}, this Accord needs "
            f"{head_revision()}: run `accord init` to upgrade it"
        )


def dialect_name(url: str) -> str:
    return engine_for(url).dialect.name


def ping(url: str) -> None:
    with connect(url) as conn:
        conn.execute(text("SELECT 1"))
