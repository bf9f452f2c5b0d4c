"""Taking the source body's casework into the governance database, and moving tables in bulk.

A case decision, once recorded, is evidence: it is never changed by a later file.  So
ingesting a cases table inserts the case_ids not yet held, treats a row identical to
the one held as a no-op (a rerun is idempotent), and refuses a row whose case_id is held
with different content, naming the row - a changed decision arrives as an event.

DuckDB's sqlite and postgres scanners cannot be installed everywhere, so tables move
between the governance database and DuckDB through Arrow: :func:`read_arrow` and
:func:`insert_arrow` (values put in each backend's storage form in DuckDB, then ``COPY``
on PostgreSQL).  On SQLite both go through :mod:`accord.store.sqlite_bulk`, which moves
Arrow columns in C (ADBC) inside the caller's transaction; ``executemany`` is the
fallback when it cannot.  :func:`insert_query` writes a DuckDB query's rows without an
Arrow table of them first, and :class:`Background` lets SQLite's C work on them run on
one core while DuckDB works on the other.
"""

from __future__ import annotations

import io
import sqlite3
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import JSON, Connection, Date, DateTime, Table

from accord.errors import InputError, Problem
from accord.formats.schema import CASES, DEFAULT_DATA_CATEGORY, Kind
from accord.store import sqlite_bulk
from accord.store.models import CaseDecision

ROW = "__row"
SHOWN = 20
SPEC_COLUMNS = CASES.column_names
DATE_COLUMNS = CASES.date_columns
SQLITE_BULK_CACHE = -262144  # KiB: 256 MiB of page cache while bulk loading
SQLITE_MAX_VARIABLES = 999  # the most conservative SQLite build's limit
REQUIRED = tuple(c.name for c in CASES.columns if c.required)
COMBINE_BYTES = 1 << 30  # a table this small is one chunk per column (text offsets are 32-bit)


@dataclass(frozen=True)
class IngestResult:
    inserted: int
    unchanged: int


# --- moving tables through Arrow -----------------------------------------------------------


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


def read_arrow(conn: Connection, sql: str, types: dict[str, pa.DataType]) -> pa.Table:
    """Run ``sql`` on the governance database and return its rows as an Arrow table.

    ``types`` gives every column's Arrow type in select order; select dates and JSON
    as text (``CAST(x AS TEXT)``) and convert them in DuckDB, which is the same on both
    backends.
    """
    names = list(types)
    if conn.dialect.name == "sqlite" and sqlite_bulk.available():
        exported = sqlite_bulk.export(conn, sql)
        return pa.table({n: exported.column(i).cast(types[n]) for i, n in enumerate(names)})
    if conn.dialect.name == "postgresql":
        return _read_copy(_dbapi(conn), sql, types)
    cur = _dbapi(conn).cursor()
    try:
        cur.execute(sql)
        rows = cur.fetchall()
    finally:
        cur.close()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table(
        {n: pa.array(list(col), type=types[n]) for n, col in zip(names, columns, strict=True)}
    )


def _read_copy(dbapi: Any, sql: str, types: dict[str, pa.DataType]) -> pa.Table:
    """PostgreSQL: ``COPY (sql) TO STDOUT`` as CSV, in the caller's transaction, parsed
    by Arrow's CSV reader (C, both cores) rather than a Python tuple per row.

    In PostgreSQL's CSV a NULL is an empty field and an empty string a quoted one
    (``""``), which is how the reader is told to tell them apart.
    """
    names = list(types)
    buffer = io.BytesIO()
    with dbapi.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as cp:
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
    postgres = conn.dialect.name == "postgresql"
    parts = []
    for name in names:
        col = table.c[name]
        q = '"' + name + '"'
        if isinstance(col.type, DateTime):
            fmt = "%Y-%m-%d %H:%M:%S.%f" + ("+00:00" if postgres else "")
            parts.append(f"strftime(CAST({q} AS TIMESTAMP), '{fmt}') AS {q}")
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
) -> int:
    """Insert the rows of the DuckDB query ``sql`` on ``con``, as :func:`insert_arrow` does.

    The rows go from the query to their stored form in one step, not through an Arrow
    table of their own first.  Returns the number of rows inserted.  With
    ``background``, the rows are put in their stored form here (an Arrow table for
    SQLite, CSV files for PostgreSQL) and written there (SQLite's C work, or the
    PostgreSQL server's ``COPY``), which leaves ``con`` free for the next query.
    """
    names = con.sql(sql).columns
    for other, columns in copies:
        for target, column in columns.items():
            if _storage_kind(other.c[target]) != _storage_kind(table.c[column]):
                raise ValueError(f"{other.name}.{target} is not stored as {table.name}.{column}")
    cols = ", ".join(f'"{c}"' for c in names)
    key = [c.name for c in table.primary_key.columns if c.name in names]
    order = (" ORDER BY " + ", ".join(f'"{c}"' for c in key)) if key else ""
    # B-tree inserts in key order touch each page once
    select = f"SELECT {_storage_select(conn, table, names)} FROM ({sql}){order}"
    dbapi = _dbapi(conn)
    if conn.dialect.name == "postgresql":
        # DuckDB writes each table's rows as CSV here; COPY sends them, there when given
        # a background (PostgreSQL's server parses and indexes them on the other core).
        later = background or Background(threaded=False)
        tmp = tempfile.TemporaryDirectory(prefix="accord-copy-")
        try:
            path = Path(tmp.name) / "rows.csv"
            count = con.execute(f"COPY ({select}) TO '{path}' (FORMAT csv, HEADER false)")
            written = int(count.fetchall()[0][0])
            if not written:
                return 0
            loads = [(table.name, cols, path)]
            for n, (other, columns) in enumerate(copies):
                moved = ", ".join(f'"{c}"' for c in columns.values())
                copy = Path(tmp.name) / f"copy{n}.csv"
                con.execute(
                    f"COPY (SELECT {moved} FROM ({select})) TO '{copy}' (FORMAT csv, HEADER false)"
                ).fetchall()
                loads.append((other.name, ", ".join(f'"{c}"' for c in columns), copy))
            for name, columns_sql, source in loads:
                later.submit(_copy_in, dbapi, name, columns_sql, source)
            return written
        finally:  # the files hold personal data: gone once sent, or however it ends
            later.after(tmp.cleanup)
    stored = to_arrow(con, select)
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


# --- cases ---------------------------------------------------------------------------------

_CASE_TYPES: dict[str, pa.DataType] = {c: pa.string() for c in SPEC_COLUMNS} | {
    "destroyed": pa.int64()
}


def load_cases(conn: Connection, con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Create the DuckDB table ``name``: every case decision held, typed, with
    ``destroyed`` (1 when destroyed under F9)."""
    selects = [f"CAST({c} AS TEXT)" if c in DATE_COLUMNS else c for c in SPEC_COLUMNS]
    raw = read_arrow(
        conn,
        f"SELECT {', '.join(selects)}, "
        "CASE WHEN destroyed_at IS NULL THEN 0 ELSE 1 END FROM case_decisions",
        _CASE_TYPES,
    )
    con.register("_cases_raw", raw)
    try:
        typed = [f"CAST({c} AS DATE) AS {c}" if c in DATE_COLUMNS else c for c in SPEC_COLUMNS]
        con.execute(
            f"CREATE OR REPLACE TABLE {name} AS "
            f"SELECT {', '.join(typed)}, destroyed FROM _cases_raw"
        )
    finally:
        con.unregister("_cases_raw")


def normalise(con: duckdb.DuckDBPyConnection, relation: str, target: str, source: str) -> None:
    """Create ``target``: a cases relation in the stored shape, with ``__row`` and ``extra``.

    ``relation`` is a cases table as :func:`accord.formats.load` returns it; optional
    columns it lacks are NULL, and columns beyond SPEC.md's become ``extra`` (JSON text).
    """
    present = [d[0] for d in con.execute(f"SELECT * FROM {relation} LIMIT 0").description]
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise InputError([Problem(source, None, c, "required column is missing") for c in missing])
    selects = []
    for col in CASES.columns:
        q = '"' + col.name + '"'
        typ = "DATE" if col.kind is Kind.DATE else "VARCHAR"
        if col.name not in present:
            selects.append(f"CAST(NULL AS {typ}) AS {q}")
        elif col.name == "data_category":
            selects.append(f"coalesce(CAST({q} AS VARCHAR), '{DEFAULT_DATA_CATEGORY}') AS {q}")
        else:
            selects.append(f"CAST({q} AS {typ}) AS {q}")
    selects.append(
        f"CAST({ROW} AS BIGINT) AS {ROW}"
        if ROW in present
        else f"CAST(row_number() OVER () AS BIGINT) AS {ROW}"
    )
    extras = [c for c in present if c not in SPEC_COLUMNS and c != ROW]
    if extras:
        quoted = ['"' + e.replace('"', '""') + '"' for e in extras]  # any name a header has
        packed = ", ".join(f"{q} := CAST({q} AS VARCHAR)" for q in quoted)
        selects.append(f"to_json(struct_pack({packed}))::VARCHAR AS extra")
    else:
        selects.append("CAST(NULL AS VARCHAR) AS extra")
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {target} AS SELECT {', '.join(selects)} FROM {relation}"
        )
    except duckdb.ConversionException as exc:
        message = str(exc).strip().splitlines()[0]
        raise InputError.single(source, f"a value has the wrong type: {message}") from exc


def _conflicts(con: duckdb.DuckDBPyConnection, incoming: str, held: str, source: str) -> None:
    """Refuse rows that contradict a held case decision, or each other."""
    cases = " ".join(
        f"WHEN n.{c} IS DISTINCT FROM h.{c} THEN '{c}'" for c in SPEC_COLUMNS if c != "case_id"
    )
    olds = " ".join(
        f"WHEN n.{c} IS DISTINCT FROM h.{c} THEN CAST(h.{c} AS VARCHAR)"
        for c in SPEC_COLUMNS
        if c != "case_id"
    )
    # Only rows held with other content, and case_ids given twice, can clash: finding
    # those first (one anti-join, one count) spares comparing column by column the
    # million rows a rerun gives again unchanged.
    same = " AND ".join(f"h.{c} IS NOT DISTINCT FROM n.{c}" for c in SPEC_COLUMNS)
    rows = con.execute(
        f"""
        WITH differ AS (
            SELECT * FROM {incoming} n
            WHERE NOT EXISTS (SELECT 1 FROM {held} h WHERE {same})
        ),
        twice AS (
            SELECT * FROM {incoming} WHERE case_id IN (
                SELECT case_id FROM {incoming} GROUP BY case_id HAVING count(*) > 1)
        ),
        clash AS (
            SELECT n.{ROW} AS row, n.case_id, 'held' AS against,
                   CASE {cases} END AS col, CASE {olds} END AS old
            FROM differ n JOIN {held} h USING (case_id)
            UNION ALL
            SELECT n.{ROW}, n.case_id, 'row ' || h.{ROW}, CASE {cases} END, CASE {olds} END
            FROM twice n JOIN twice h ON n.case_id = h.case_id AND h.{ROW} < n.{ROW}
        )
        SELECT row, case_id, against, col, old, count(*) OVER () FROM clash
        WHERE col IS NOT NULL ORDER BY row LIMIT {SHOWN}
        """
    ).fetchall()
    if not rows:
        return
    problems = []
    for row, case_id, against, col, old in (r[:5] for r in rows):
        shown = "empty" if old is None else repr(old)
        if against == "held":
            where, why = "already recorded", "a recorded decision cannot change (send an event)"
        else:
            where, why = f"given at {against}", "a case_id names one decision"
        problems.append(
            Problem(
                source,
                int(row),
                col,
                f"case {case_id} is {where} with {col} {shown}; {why}",
            )
        )
    raise InputError(problems, int(rows[0][5]))


def sql_text(value: str | None) -> str:
    """``value`` as a SQL text literal (``NULL`` for None), for DuckDB SQL built as text."""
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def ingest(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    cases: pa.Table,
    held: str,
    run_id: str | None,
    source: str = "cases",
    background: Background | None = None,
) -> tuple[IngestResult, str]:
    """Insert the new rows of ``cases`` into ``case_decisions``.

    ``held`` names a DuckDB relation of the case decisions already held (from
    :func:`load_cases`).  Returns the counts and the name of a DuckDB table of the rows
    inserted (stored shape).  Nothing is written if any row conflicts.  With
    ``background``, the rows are written there, once the checks have passed.
    """
    if cases.nbytes < COMBINE_BYTES:  # DuckDB reads many small chunks in order, slowly
        cases = cases.combine_chunks()
    con.register("_cases_in", cases)
    try:
        normalise(con, "_cases_in", "_cases_norm", source)
    finally:
        con.unregister("_cases_in")
    _conflicts(con, "_cases_norm", held, source)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE cases_inserted AS
        SELECT n.* FROM _cases_norm n
        WHERE NOT EXISTS (SELECT 1 FROM {held} h WHERE h.case_id = n.case_id)
          AND NOT EXISTS (  -- the same row given twice in the file is taken once
            SELECT 1 FROM _cases_norm d WHERE d.case_id = n.case_id AND d.{ROW} < n.{ROW})
        """
    )
    total = con.execute("SELECT count(*) FROM _cases_norm").fetchall()[0]
    inserted = insert_query(
        conn,
        CaseDecision.__table__,  # type: ignore[arg-type]
        con,
        f"SELECT {', '.join(SPEC_COLUMNS)}, extra, CAST({sql_text(run_id)} AS VARCHAR) "
        "AS loaded_by_run FROM cases_inserted",
        background=background,
    )
    con.execute("DROP TABLE _cases_norm")
    return IngestResult(inserted, int(total[0]) - inserted), "cases_inserted"
