"""Moving rows between the governance database and Arrow, DuckDB or Python, in bulk.

One fast path per backend for each direction, inside the caller's transaction:

* **Arrow in** (:func:`insert_arrow`, :func:`insert_query`): values are put in each
  backend's storage form in DuckDB, then PostgreSQL gets one ``COPY`` of CSV that DuckDB
  wrote, and SQLite one ``INSERT ... SELECT`` from a file staged through ADBC
  (:mod:`accord.store.sqlite_bulk`), or multi-row ``INSERT`` statements when it cannot.
  :class:`Background` runs the database's side of it on another core.
* **Arrow out** (:func:`read_arrow`): ``COPY (...) TO STDOUT`` parsed by Arrow's CSV
  reader on PostgreSQL; :func:`accord.store.sqlite_bulk.export` on SQLite.
* **Rows in** (:func:`bulk_insert`): Python values through the column types' converters;
  ``COPY`` on PostgreSQL, ``executemany`` on SQLite.  :func:`insert_rows` writes a few
  rows the same way in one plain ``INSERT``; :func:`execute_many` and
  :func:`copy_binary` write rows already in their DBAPI form.
* **Rows out** (:func:`rows`): a read on the DBAPI cursor, for the few hot paths (a
  ledger proof) where SQLAlchemy's statement handling is the cost.

Every value is a bound parameter: :func:`read_arrow` and :func:`rows` take them beside
the SQL.  This is the only module, with :mod:`accord.store.sqlite_bulk`, that touches a
DBAPI connection.
"""

from __future__ import annotations

import functools
import io
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import JSON, Connection, Date, DateTime, Table

from accord.store import sqlite_bulk
from accord.store.dialect import Dialect, Params, dialect_of

SQLITE_BULK_CACHE = -262144  # KiB: 256 MiB of page cache while bulk loading
SQLITE_MAX_VARIABLES = 999  # the most conservative SQLite build's limit


def to_arrow(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pa.Table:
    """The rows of a DuckDB query as an Arrow table (without the DB-API result's copy)."""
    relation = con.sql(sql, params=params)
    assert relation is not None, "the query returns no rows"
    return relation.to_arrow_table()


def _dbapi(conn: Connection) -> Any:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    return dbapi


def read_arrow(
    conn: Connection, sql: str, types: dict[str, pa.DataType], params: Params | None = None
) -> pa.Table:
    """Run ``sql`` on the governance database and return its rows as an Arrow table.

    ``types`` gives every column's Arrow type in select order; select dates and JSON
    as text (``CAST(x AS TEXT)``) and convert them in DuckDB, which is the same on both
    backends.  ``params`` are bound to ``:name`` placeholders in ``sql`` (a sequence
    binds an ``IN`` list).
    """
    names = list(types)
    dialect = dialect_of(conn)
    statement, bound = dialect.statement(sql, params) if params else (sql, None)
    if dialect.copy_in:
        return _read_copy(_dbapi(conn), statement, types, bound)
    if sqlite_bulk.available():
        exported = sqlite_bulk.export(conn, statement, bound)
        return pa.table({n: exported.column(i).cast(types[n]) for i, n in enumerate(names)})
    cur = _dbapi(conn).cursor()
    try:
        cur.execute(statement, bound or ())
        rows = cur.fetchall()
    finally:
        cur.close()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table(
        {n: pa.array(list(col), type=types[n]) for n, col in zip(names, columns, strict=True)}
    )


def _read_copy(
    dbapi: Any,
    sql: str,
    types: dict[str, pa.DataType],
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> pa.Table:
    """PostgreSQL: ``COPY (sql) TO STDOUT`` as CSV, in the caller's transaction, parsed
    by Arrow's CSV reader (C, both cores) rather than a Python tuple per row.

    In PostgreSQL's CSV a NULL is an empty field and an empty string a quoted one
    (``""``), which is how the reader is told to tell them apart.  psycopg binds
    ``params`` on the client (``COPY`` takes no server-side parameters), as values.
    """
    names = list(types)
    buffer = io.BytesIO()
    copy = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
    with dbapi.cursor() as cur, cur.copy(copy, params) as cp:
        for chunk in cp:
            buffer.write(chunk)
    if buffer.tell() == 0:
        return pa.table({n: pa.array([], t) for n, t in types.items()})
    return pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(buffer.getbuffer())),
        read_options=pacsv.ReadOptions(column_names=names, block_size=16 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    ).select(names)


def _storage_select(conn: Connection, table: Table, names: Sequence[str]) -> str:
    stamp = dialect_of(conn).stored_timestamp_format
    parts = []
    for name in names:
        col = table.c[name]
        q = '"' + name + '"'
        if isinstance(col.type, DateTime):
            parts.append(f"strftime(CAST({q} AS TIMESTAMP), '{stamp}') AS {q}")
        elif isinstance(col.type, Date):
            parts.append(f"strftime(CAST({q} AS DATE), '%Y-%m-%d') AS {q}")
        elif isinstance(col.type, JSON):
            parts.append(f"CAST({q} AS VARCHAR) AS {q}")  # already JSON text
        else:
            parts.append(q)
    return ", ".join(parts)


def _sqlite_rows(stored: pa.Table, per_statement: int) -> list[tuple[Any, ...]]:
    """The rows flattened ``per_statement`` at a time, for multi-row INSERT statements."""
    n, k = stored.num_rows, stored.num_columns
    grid = np.empty((n, k), dtype=object)
    for j, col in enumerate(stored.columns):
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            grid[:, j] = col.to_numpy(zero_copy_only=False)
        else:  # to_numpy would turn NULL integers into NaN
            grid[:, j] = col.to_pylist()
    full = n - n % per_statement
    rows = list(map(tuple, grid[:full].reshape(-1, per_statement * k)))
    if full < n:
        rows.append(tuple(grid[full:].reshape(-1)))
    return rows


def _insert_rows(cur: Any, name: str, cols: str, stored: pa.Table) -> None:
    """Multi-row ``INSERT`` statements through ``executemany`` (binding is the cost)."""
    k = stored.num_columns
    try:
        limit = int(cur.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except AttributeError:  # not a sqlite3 connection that can say
        limit = SQLITE_MAX_VARIABLES
    per_statement = max(1, min(500, limit // k))
    marks = "(" + ", ".join("?" for _ in range(k)) + ")"
    rows = _sqlite_rows(stored, per_statement)
    many = f'INSERT INTO "{name}" ({cols}) VALUES ' + ", ".join([marks] * per_statement)
    full = [r for r in rows if len(r) == per_statement * k]
    cur.executemany(many, full)
    if len(full) < len(rows):
        rest = rows[-1]
        cur.execute(
            f'INSERT INTO "{name}" ({cols}) VALUES ' + ", ".join([marks] * (len(rest) // k)),
            rest,
        )


def insert_arrow(
    conn: Connection,
    table: Table,
    arrow: pa.Table,
    copies: Sequence[tuple[Table, Mapping[str, str]]] = (),
) -> int:
    """Insert every row of ``arrow`` (columns named as in ``table``) into ``table``.

    Timestamps are UTC; JSON columns hold JSON text.  Rows read back exactly as rows
    written through the ORM.  No SQLAlchemy defaults apply: give every column needed.
    PostgreSQL gets one ``COPY`` of CSV that DuckDB wrote; SQLite one ``INSERT ...
    SELECT`` from a staged file (:func:`accord.store.sqlite_bulk.stage`), or multi-row
    ``INSERT`` statements when a transaction has staged all it may.

    ``copies`` are further tables given the same rows, in the same order, each with a
    map of its columns to columns of ``arrow`` (of the same storage): on SQLite they are
    filled from the one staged file, so that the rows are converted and staged once.
    """
    if arrow.num_rows == 0:
        return 0
    con = duckdb.connect()
    try:
        con.register("arrow_in", arrow)
        return insert_query(conn, table, con, "SELECT * FROM arrow_in", copies)
    finally:
        con.close()


def insert_query(
    conn: Connection,
    table: Table,
    con: duckdb.DuckDBPyConnection,
    sql: str,
    copies: Sequence[tuple[Table, Mapping[str, str]]] = (),
    background: Background | None = None,
    in_key_order: bool = False,
    params: Mapping[str, Any] | None = None,
) -> int:
    """Insert the rows of the DuckDB query ``sql`` on ``con``, as :func:`insert_arrow` does.

    The rows go from the query to their stored form in one step, not through an Arrow
    table of their own first.  Returns the number of rows inserted.  With
    ``background``, the rows are put in their stored form here (an Arrow table for
    SQLite, CSV files for PostgreSQL) and written there (SQLite's C work, or the
    PostgreSQL server's ``COPY``), which leaves ``con`` free for the next query.
    Rows that give the primary key are inserted in its order; ``in_key_order`` says the
    query gives them so already, which spares a sort of them all.  ``params`` are
    DuckDB parameters of ``sql`` (``$name``; not ``$copy_file``, the staged file's).
    """
    names = con.sql(sql, params=params).columns
    for other, columns in copies:
        for target, column in columns.items():
            if _storage_kind(other.c[target]) != _storage_kind(table.c[column]):
                raise ValueError(f"{other.name}.{target} is not stored as {table.name}.{column}")
    cols = ", ".join(f'"{c}"' for c in names)
    key = [c.name for c in table.primary_key.columns if c.name in names]
    order = (" ORDER BY " + ", ".join(f'"{c}"' for c in key)) if key and not in_key_order else ""
    # B-tree inserts in key order touch each page once
    select = f"SELECT {_storage_select(conn, table, names)} FROM ({sql}){order}"
    dbapi = _dbapi(conn)
    if dialect_of(conn).copy_in:
        # DuckDB writes each table's rows as CSV here; COPY sends them, there when given
        # a background (PostgreSQL's server parses and indexes them on the other core).
        later = background or Background(threaded=False)
        tmp = tempfile.TemporaryDirectory(prefix="accord-copy-")
        try:
            path = Path(tmp.name) / "rows.csv"
            # COPY's target file is a bound parameter like any value
            to_file = "TO $copy_file (FORMAT csv, HEADER false)"
            count = con.execute(
                f"COPY ({select}) {to_file}", {**(params or {}), "copy_file": str(path)}
            )
            written = int(count.fetchall()[0][0])
            if not written:
                return 0
            loads = [(table.name, cols, path)]
            for n, (other, columns) in enumerate(copies):
                moved = ", ".join(f'"{c}"' for c in columns.values())
                copy = Path(tmp.name) / f"copy{n}.csv"
                con.execute(
                    f"COPY (SELECT {moved} FROM ({select})) {to_file}",
                    {**(params or {}), "copy_file": str(copy)},
                ).fetchall()
                loads.append((other.name, ", ".join(f'"{c}"' for c in columns), copy))
            for name, columns_sql, source in loads:
                later.submit(_copy_in, dbapi, name, columns_sql, source)
            return written
        finally:  # the files hold personal data: gone once sent, or however it ends
            later.after(tmp.cleanup)
    stored = to_arrow(con, select, dict(params) if params else None)
    if stored.num_rows == 0:
        return 0
    if background is None:
        _write_stored(conn, table, stored, copies)
    else:
        background.submit(_write_stored, conn, table, stored, copies)
    return int(stored.num_rows)


def _write_stored(
    conn: Connection,
    table: Table,
    stored: pa.Table,
    copies: Sequence[tuple[Table, Mapping[str, str]]],
) -> None:
    """Write rows in their stored form to SQLite, and their ``copies``."""
    cols = ", ".join(f'"{c}"' for c in stored.column_names)
    cur = _dbapi(conn).cursor()
    cache = cur.execute("PRAGMA cache_size").fetchone()[0]
    cur.execute(f"PRAGMA cache_size = {SQLITE_BULK_CACHE}")  # indexes stay in memory
    try:
        staged = sqlite_bulk.stage(conn, stored)
        if staged is not None:  # C all the way: ADBC into a file, then INSERT ... SELECT
            cur.execute(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM {staged}')
        else:
            _insert_rows(cur, table.name, cols, stored)
        for other, columns in copies:
            targets = ", ".join(f'"{c}"' for c in columns)
            if staged is not None:
                moved = ", ".join(f'"{c}"' for c in columns.values())
                cur.execute(
                    f'INSERT INTO "{other.name}" ({targets}) '
                    f"SELECT {moved} FROM {staged} ORDER BY rowid"
                )
            else:
                rows = stored.select(list(columns.values())).rename_columns(list(columns))
                _insert_rows(cur, other.name, targets, rows)
    finally:
        cur.execute(f"PRAGMA cache_size = {int(cache)}")
        cur.close()


def _storage_kind(column: Any) -> str:
    """How :func:`_storage_select` stores a column's values."""
    for kind in (DateTime, Date, JSON):
        if isinstance(column.type, kind):
            return kind.__name__
    return "as is"


def _copy_in(dbapi: Any, name: str, cols: str, path: Path) -> None:
    """``COPY`` a CSV file DuckDB wrote into a PostgreSQL table."""
    sql = f'COPY "{name}" ({cols}) FROM STDIN WITH (FORMAT csv)'
    with dbapi.cursor() as cur, cur.copy(sql) as cp, path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            cp.write(chunk)


class Background:
    """Writes on the governance connection in a worker thread while the caller works in DuckDB.

    Taking a million case rows in is C work (SQLite, ADBC; on PostgreSQL the server's
    parsing and indexing of a ``COPY``) on one core that needs nothing from the DuckDB
    work after it, which keeps the other core busy; on two cores running them side by
    side saves most of the shorter.  The writes run one at a time, in the
    order given, and the caller must not use the connection until :meth:`wait` returns:
    the ``with`` block waits for them all, and raises the first error one of them raised.
    Unthreaded (``threaded=False``), each write runs when it is submitted.
    """

    def __init__(self, threaded: bool = True) -> None:
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-write")
            if threaded
            else None
        )
        self._pending: list[Future[Any]] = []
        self._failed = False
        self._after: list[Callable[[], object]] = []

    def after(self, cleanup: Callable[[], object]) -> None:
        """Run ``cleanup`` once the writes submitted so far have run, failed or been
        skipped: when the ``with`` block ends, whatever ended it (at once, unthreaded,
        where every write submitted has already run).
        """
        if self._pool is None:
            cleanup()
        else:
            self._after.append(cleanup)

    def submit(self, write: Callable[..., Any], *args: Any) -> None:
        """Run ``write(*args)`` after the writes submitted before it (at once, unthreaded).

        Once one has failed, the ones after it are not run.
        """
        if self._pool is None:
            write(*args)
        else:
            self._pending.append(self._pool.submit(self._run, write, *args))

    def _run(self, write: Callable[..., Any], *args: Any) -> None:
        if self._failed:
            return
        try:
            write(*args)
        except BaseException:
            self._failed = True
            raise

    def wait(self) -> None:
        """Wait for every write submitted; raise the first error."""
        pending, self._pending = self._pending, []
        errors = [e for e in (f.exception() for f in pending) if e is not None]
        if errors:
            raise errors[0]

    def __enter__(self) -> Background:
        return self

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        try:
            if error is None:
                self.wait()
            else:  # the caller's error wins; the writes are rolled back with it
                for f in self._pending:
                    f.exception()
                self._pending = []
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            cleanups, self._after = self._after, []
            for cleanup in cleanups:
                cleanup()


# --- rows of Python values -----------------------------------------------------------------


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert many rows with each backend's fast path: COPY on PostgreSQL, executemany on SQLite.

    ``rows`` are tuples in ``columns`` order holding Python values (dates as ``date``,
    JSON columns as Python objects).  Values go through the column types' own bind
    processors on SQLite, so rows written here read back exactly as ORM-written ones.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    if not dialect_of(conn).copy_in:
        return insert_rows(conn, table, columns, rows)
    cols = ", ".join(f'"{c}"' for c in columns)
    json_cols = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    copy = f'COPY "{table.name}" ({cols}) FROM STDIN'
    with _dbapi(conn).cursor() as cur, cur.copy(copy) as cp:
        if json_cols:
            for r in rows:
                out = list(r)
                for i in json_cols:
                    if out[i] is not None:
                        out[i] = _compact_json(out[i])
                cp.write_row(out)
        else:
            for r in rows:
                cp.write_row(r)
    return len(rows)


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Insert ``rows`` (Python values, as for :func:`bulk_insert`) with one plain
    ``INSERT`` run for each: for a few rows, where setting up ``COPY`` costs more.

    The values are stored exactly as :func:`bulk_insert` stores them.
    """
    if not rows:
        return 0
    converters = _converters(dialect_of(conn), table, tuple(columns))
    if converters:
        converted = []
        for r in rows:
            out = list(r)
            for i, convert in converters:
                out[i] = convert(out[i])
            converted.append(out)
        rows = converted
    execute_many(conn, table, columns, rows)
    return len(rows)


@functools.lru_cache(maxsize=256)
def _converters(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """How :func:`bulk_insert` converts each column's values on this backend: the column
    type's bind processor on SQLite, JSON text on PostgreSQL (``COPY`` writes it so)."""
    if dialect.copy_in:
        return tuple(
            (i, _json_or_null) for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)
        )
    return tuple(
        (i, p)
        for i, c in enumerate(columns)
        if (p := table.c[c].type.bind_processor(dialect.sqlalchemy)) is not None
    )


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json_or_null(value: Any) -> str | None:
    return None if value is None else _compact_json(value)


def execute_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows of ready DBAPI values, in the connection's transaction."""
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join(["?"] * len(columns))
    sql = dialect_of(conn).positional(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})')
    cur = _dbapi(conn).cursor()
    try:
        cur.executemany(sql, rows)
    finally:
        cur.close()


def copy_binary(
    conn: Connection, table: Table, columns: Sequence[str], types: Sequence[str], rows: list[Any]
) -> None:
    """PostgreSQL ``COPY ... (FORMAT BINARY)`` of rows of ready values, bytes as bytes.

    Text COPY spells each byte of a ``bytea`` as two hex digits, which the server then
    parses back; binary COPY sends them as they are.  ``types`` are the columns'
    PostgreSQL type names.
    """
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT BINARY)'
    with _dbapi(conn).cursor() as cur, cur.copy(sql) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run a read on the connection's DBAPI cursor, inside its transaction.

    For the hot paths where SQLAlchemy's statement handling is the cost (a ledger proof
    makes three small reads).  ``sql`` uses ``?`` placeholders for ``params``.
    """
    cur = _dbapi(conn).cursor()
    try:
        cur.execute(dialect_of(conn).positional(sql), tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()
