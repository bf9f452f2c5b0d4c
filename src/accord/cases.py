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
fallback when it cannot.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
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


def _storage_select(conn: Connection, table: Table, arrow: pa.Table) -> str:
    postgres = conn.dialect.name == "postgresql"
    parts = []
    for name in arrow.column_names:
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


def insert_arrow(conn: Connection, table: Table, arrow: pa.Table) -> int:
    """Insert every row of ``arrow`` (columns named as in ``table``) into ``table``.

    Timestamps are UTC; JSON columns hold JSON text.  Rows read back exactly as rows
    written through the ORM.  No SQLAlchemy defaults apply: give every column needed.
    PostgreSQL gets one ``COPY`` of CSV that DuckDB wrote; SQLite one ``INSERT ...
    SELECT`` from a staged file (:func:`accord.store.sqlite_bulk.stage`), or multi-row
    ``INSERT`` statements when a transaction has staged all it may.
    """
    if arrow.num_rows == 0:
        return 0
    cols = ", ".join(f'"{c}"' for c in arrow.column_names)
    dbapi = _dbapi(conn)
    con = duckdb.connect()
    try:
        con.register("arrow_in", arrow)
        select = f"SELECT {_storage_select(conn, table, arrow)} FROM arrow_in"
        key = [c.name for c in table.primary_key.columns if c.name in arrow.column_names]
        if key:  # B-tree inserts in key order touch each page once
            select += " ORDER BY " + ", ".join(f'"{c}"' for c in key)
        if conn.dialect.name == "postgresql":
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "rows.csv"
                con.execute(f"COPY ({select}) TO '{path}' (FORMAT csv, HEADER false)")
                sql = f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv)'
                with dbapi.cursor() as cur, cur.copy(sql) as cp, path.open("rb") as fh:
                    while chunk := fh.read(1 << 20):
                        cp.write(chunk)
            return int(arrow.num_rows)
        stored = to_arrow(con, select)
    finally:
        con.close()
    cur = dbapi.cursor()
    cache = cur.execute("PRAGMA cache_size").fetchone()[0]
    cur.execute(f"PRAGMA cache_size = {SQLITE_BULK_CACHE}")  # indexes stay in memory
    try:
        staged = sqlite_bulk.stage(conn, stored)
        if staged is not None:  # C all the way: ADBC into a file, then INSERT ... SELECT
            cur.execute(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM {staged}')
        else:
            _insert_rows(cur, table.name, cols, stored)
    finally:
        cur.execute(f"PRAGMA cache_size = {int(cache)}")
        cur.close()
    return int(arrow.num_rows)


# --- cases ---------------------------------------------------------------------------------

_CASE_TYPES: dict[str, pa.DataType] = {c: pa.string() for c in SPEC_COLUMNS} | {
    "destroyed": pa.int64()
}


def read_cases(conn: Connection) -> pa.Table:
    """Every case decision held, typed, with ``destroyed`` (1 when destroyed under F9)."""
    selects = [f"CAST({c} AS TEXT)" if c in DATE_COLUMNS else c for c in SPEC_COLUMNS]
    raw = read_arrow(
        conn,
        f"SELECT {', '.join(selects)}, "
        "CASE WHEN destroyed_at IS NULL THEN 0 ELSE 1 END FROM case_decisions",
        _CASE_TYPES,
    )
    con = duckdb.connect()
    try:
        con.register("raw", raw)
        typed = [f"CAST({c} AS DATE) AS {c}" if c in DATE_COLUMNS else c for c in SPEC_COLUMNS]
        return to_arrow(con, f"SELECT {', '.join(typed)}, destroyed FROM raw")
    finally:
        con.close()


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
        packed = ", ".join(f'"{e}" := CAST("{e}" AS VARCHAR)' for e in extras)
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
    rows = con.execute(
        f"""
        WITH clash AS (
            SELECT n.{ROW} AS row, n.case_id, 'held' AS against,
                   CASE {cases} END AS col, CASE {olds} END AS old
            FROM {incoming} n JOIN {held} h USING (case_id)
            UNION ALL
            SELECT n.{ROW}, n.case_id, 'row ' || h.{ROW}, CASE {cases} END, CASE {olds} END
            FROM {incoming} n JOIN {incoming} h ON n.case_id = h.case_id AND h.{ROW} < n.{ROW}
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


def ingest(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    cases: pa.Table,
    held: str,
    run_id: str | None,
    source: str = "cases",
) -> tuple[IngestResult, str]:
    """Insert the new rows of ``cases`` into ``case_decisions``.

    ``held`` names a DuckDB relation of the case decisions already held (from
    :func:`read_cases`).  Returns the counts and the name of a DuckDB table of the rows
    inserted (stored shape).  Nothing is written if any row conflicts.
    """
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
    new = to_arrow(
        con,
        f"SELECT {', '.join(SPEC_COLUMNS)}, extra, CAST($run AS VARCHAR) AS loaded_by_run "
        "FROM cases_inserted",
        {"run": run_id},
    )
    inserted = insert_arrow(conn, CaseDecision.__table__, new)  # type: ignore[arg-type]
    con.execute("DROP TABLE _cases_norm")
    return IngestResult(inserted, int(total[0]) - inserted), "cases_inserted"
