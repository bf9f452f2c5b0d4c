"""Moving Arrow tables in and out of a SQLite transaction without a Python object per value.

Python's ``sqlite3`` binds and fetches one Python object per value: at a register's
scale (1.5 million case rows of 18 columns) that is most of an admission's time.  The
ADBC SQLite driver (Apache Arrow) moves Arrow columns to and from SQLite in C, but it
is a connection of its own, and Accord's writes must commit in the caller's one
SQLAlchemy transaction (a run is atomic).  No library joins the two, so this module does,
with SQLite's own means:

* **In** (:func:`stage`): ADBC writes the Arrow table into a new SQLite file, which the
  caller's connection then ``ATTACH``-es (allowed inside a transaction) and reads with
  one ``INSERT ... SELECT`` - so the rows reach the governance database inside the
  caller's transaction, in C all the way.  The file is unlinked as soon as it is
  attached (the open handle keeps it readable); a file left by a process killed in
  between is removed by the next :func:`stage` in that folder.  The staged database is
  detached when the connection goes back to the pool.
* **Out** (:func:`export`): the caller's connection copies the query's rows into an
  attached in-memory database (so it sees its own uncommitted writes), serialises that
  database to a file beside the governance database, and ADBC reads it into Arrow; the
  file is unlinked as soon as ADBC has it open.

SQLite allows ten attached databases per connection; past :data:`MAX_STAGED` staged files
in one transaction (they cannot be detached before it ends), :func:`stage` returns None
and the caller uses its row-by-row path.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, event

STAGE_PREFIX = "accord_stage_"
STAGE_FILE = ".accord-stage-"  # beside the database, private to its folder's owners
EXPORT_SCHEMA = "accord_export"
BATCH_ROWS = "adbc.sqlite.query.batch_rows"  # adbc_driver_sqlite.StatementOptions.BATCH_ROWS
MAX_STAGED = 7  # of SQLite's 10 attachable databases, leaving room for others
_counter = itertools.count()


def _dbapi(conn: Connection) -> sqlite3.Connection:
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def _attached(raw: sqlite3.Connection) -> list[str]:
    return [r[1] for r in raw.execute("PRAGMA database_list").fetchall()]


def _main_folder(raw: sqlite3.Connection) -> Path | None:
    for _, name, file in raw.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return Path(file).parent if file else None
    return None


def available() -> bool:
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:  # pragma: no cover - a pinned dependency
        return False
    return True


def stage(conn: Connection, table: pa.Table) -> str | None:
    """Attach ``table`` to ``conn`` as a staged SQLite table; returns its qualified name.

    Returns None when it cannot (an in-memory database, or :data:`MAX_STAGED` staged
    files already attached in this transaction): insert row by row instead.
    """
    import adbc_driver_sqlite.dbapi as adbc

    raw = _dbapi(conn)
    folder = _main_folder(raw)
    if folder is None or not available():
        return None
    staged = [n for n in _attached(raw) if n.startswith(STAGE_PREFIX)]
    if len(staged) >= MAX_STAGED:
        return None
    _sweep(folder)
    fd, name = tempfile.mkstemp(prefix=f"{STAGE_FILE}{os.getpid()}-", suffix=".db", dir=folder)
    os.close(fd)
    path = Path(name)
    schema = f"{STAGE_PREFIX}{os.getpid()}_{next(_counter)}"
    try:
        path.unlink()  # ADBC makes the file; mkstemp only reserved a private name
        writer = adbc.connect(str(path), autocommit=True)
        try:
            cur = writer.cursor()
            try:
                for pragma in ("journal_mode=OFF", "synchronous=OFF"):  # scratch, not kept
                    cur.execute(f"PRAGMA {pragma}")
                    cur.fetchall()
                cur.execute("BEGIN")
                cur.fetchall()
                cur.adbc_ingest("rows", table, mode="create")
                cur.execute("COMMIT")
                cur.fetchall()
            finally:
                cur.close()
        finally:
            writer.close()
        raw.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))
    finally:
        path.unlink(missing_ok=True)  # attached: the open handle keeps it readable
    return f"{schema}.rows"


def _sweep(folder: Path) -> None:
    """Remove staged files left by a process that was killed before it could unlink them."""
    for path in folder.glob(f"{STAGE_FILE}*.db"):
        pid = path.name[len(STAGE_FILE) :].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def export(conn: Connection, sql: str, params: Any = None) -> pa.Table:
    """The rows of ``sql`` run on ``conn`` (its own uncommitted writes included), as Arrow.

    ``params`` are bound to ``sql``'s placeholders.  Column types are SQLite's storage
    classes as ADBC reads them; cast as needed.
    """
    import adbc_driver_sqlite.dbapi as adbc

    raw = _dbapi(conn)
    if EXPORT_SCHEMA not in _attached(raw):
        raw.execute(f"ATTACH DATABASE ':memory:' AS {EXPORT_SCHEMA}")
    raw.execute(f"DROP TABLE IF EXISTS {EXPORT_SCHEMA}.rows")
    raw.execute(f"CREATE TABLE {EXPORT_SCHEMA}.rows AS {sql}", params or ())
    count = int(raw.execute(f"SELECT count(*) FROM {EXPORT_SCHEMA}.rows").fetchone()[0])
    if count == 0:  # no rows: no copy (it would be the size of the largest read before)
        names = [r[1] for r in raw.execute(f"PRAGMA {EXPORT_SCHEMA}.table_info(rows)")]
        raw.execute(f"DROP TABLE {EXPORT_SCHEMA}.rows")
        return pa.table({n: pa.nulls(0) for n in names})
    try:
        image = raw.serialize(name=EXPORT_SCHEMA)
    finally:
        raw.execute(f"DROP TABLE {EXPORT_SCHEMA}.rows")
    # The copy holds personal data: beside the database (under its folder's protection,
    # swept like a staged file if this process is killed), and unlinked once open.
    folder = _main_folder(raw)
    if folder is not None:
        _sweep(folder)
    fd, name = tempfile.mkstemp(prefix=f"{STAGE_FILE}{os.getpid()}-", suffix=".db", dir=folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(image)
        del image
        reader = adbc.connect(str(path))
        try:
            cur = reader.cursor()
            try:
                # ADBC infers each column's type from its first batch: a column empty
                # there and text later would fail, so the first batch is every row.
                cur.adbc_statement.set_options(**{BATCH_ROWS: str(max(count, 1))})
                cur.execute("SELECT * FROM rows")
                path.unlink()
                result: pa.Table = cur.fetch_arrow_table()
            finally:
                cur.close()
        finally:
            reader.close()
    finally:
        path.unlink(missing_ok=True)
    return result


def _detach_staged(dbapi_conn: Any, _record: Any) -> None:
    """Back in the pool, the transaction is over: detach what it staged."""
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    for name in _attached(dbapi_conn):
        if name.startswith(STAGE_PREFIX):
            dbapi_conn.execute(f"DETACH DATABASE {name}")


def install(engine: Engine) -> None:
    """Detach staged files whenever one of ``engine``'s connections is checked in."""
    event.listen(engine, "checkin", _detach_staged)


__all__ = ["available", "export", "install", "stage"]
