"""Taking the source body's casework into the governance database.

A case decision, once recorded, is evidence: it is never changed by a later file.  So
ingesting a cases table inserts the case_ids not yet held, treats a row identical to
the one held as a no-op (a rerun is idempotent), and refuses a row whose case_id is held
with different content, naming the row - a changed decision arrives as an event.

Tables move between the governance database and DuckDB through
:mod:`accord.store.transfer` (Arrow in and out, one fast path per backend).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
from sqlalchemy import Connection

from accord.errors import InputError, Problem
from accord.formats.schema import CASES, DEFAULT_DATA_CATEGORY, Kind
from accord.store.models import CaseDecision

# The transport moved to accord.store.transfer; these names stay importable from here
# for the modules that still import them from cases (being edited elsewhere).
from accord.store.transfer import Background as Background
from accord.store.transfer import insert_arrow as insert_arrow
from accord.store.transfer import insert_query as insert_query
from accord.store.transfer import read_arrow as read_arrow
from accord.store.transfer import to_arrow as to_arrow

ROW = "__row"
SHOWN = 20
SPEC_COLUMNS = CASES.column_names
DATE_COLUMNS = CASES.date_columns
REQUIRED = tuple(c.name for c in CASES.columns if c.required)
COMBINE_BYTES = 1 << 30  # a table this small is one chunk per column (text offsets are 32-bit)


@dataclass(frozen=True)
class IngestResult:
    inserted: int
    unchanged: int


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
