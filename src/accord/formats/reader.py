"""Reading and validating interchange files as a set, never a Python loop per row.

Polars reads the file (CSV or Parquet, by extension) with every column as text and a
row number; DuckDB then runs every check as one SQL query over the whole file and
returns the problems in file order.  A file with any problem is rejected whole.

Rows are counted from 1 for the first data row; the header is not a row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from accord.errors import InputError, Problem
from accord.formats.schema import FORMATS, TEXT_MAX_BYTES, Column, FileFormat, Kind

ROW = "__row"
SHOWN = 20
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class Report:
    """Every problem found in one file: the first ``SHOWN`` of them and how many in all."""

    file: str
    rows: int
    problems: list[Problem]
    total: int

    @property
    def ok(self) -> bool:
        return self.total == 0


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _locate_ragged_row(path: Path, width: int) -> int | None:
    """Only on the error path: find the first row whose field count differs from the header."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        for i, record in enumerate(csv.reader(fh)):
            if i and len(record) != width and record:
                return i
    return None


def _read_frame(path: Path, fmt: FileFormat) -> pl.DataFrame:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError.single(
            path, f"unknown file type {path.suffix or '(none)'}: use .csv or .parquet"
        )
    if not path.is_file():
        raise InputError.single(path, "no such file")
    try:
        if kind == "csv":
            with path.open("rb") as fh:
                head = fh.read(4)
            if not head:
                raise InputError.single(path, "the file is empty: a header row is required")
            frame = pl.read_csv(
                path,
                infer_schema=False,
                encoding="utf8-lossy",
                row_index_name=ROW,
                row_index_offset=1,
                raise_if_empty=False,
            )
        else:
            raw = pl.read_parquet(path)
            frame = raw.select([pl.col(c).cast(pl.Utf8) for c in raw.columns]).with_row_index(
                ROW, offset=1
            )
    except InputError:
        raise
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        message = str(exc).strip().splitlines()[0]
        if kind == "csv" and "more fields" in message:
            with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
                header = next(csv.reader(io.StringIO(fh.readline())), [])
            row = _locate_ragged_row(path, len(header))
            raise InputError.single(
                path, f"the row has more fields than the header's {len(header)}", row=row
            ) from exc
        raise InputError.single(path, f"cannot be read as {kind}: {message}") from exc
    except (OSError, pl.exceptions.PolarsError) as exc:
        message = str(exc).strip().splitlines()[0]
        raise InputError.single(path, f"cannot be read as {kind}: {message}") from exc
    return frame


def _checks(col: Column | None, name: str) -> list[tuple[str, str, bool]]:
    """Per check on one column: (SQL marking a bad value, SQL for its message, sees NULLs)."""
    c = _ident(name)
    limit = col.max_bytes if col else TEXT_MAX_BYTES
    out: list[tuple[str, str, bool]] = [
        (f"strpos({c}, chr(0)) > 0", "'contains a NUL byte'", False),
        (f"strpos({c}, '\ufffd') > 0", "'is not valid UTF-8'", False),
        (
            f"octet_length(encode({c})) > {limit}",
            f"'is ' || octet_length(encode({c})) || ' bytes long; the limit is {limit}'",
            False,
        ),
    ]
    if col is None:
        return out
    if col.required and not col.may_be_empty:
        out.append((f"{c} IS NULL OR trim({c}) = ''", "'is required but empty'", True))
    if col.kind in (Kind.NAME, Kind.ID):
        out.append(
            (f"regexp_matches({c}, '[\\x01-\\x1f\\x7f]')", "'contains a control character'", False)
        )
    value = "'" + "''" + "' || left(" + c + ", 40) || '" + "''"  # the value, quoted, in SQL
    if col.kind is Kind.DATE:
        out.append(
            (
                f"NOT regexp_full_match({c}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') "
                f"OR try_cast({c} AS DATE) IS NULL",
                f"{value} is not a date in YYYY-MM-DD form'",
                False,
            )
        )
    if col.kind is Kind.NUMBER:
        number = f"try_cast(trim({c}) AS DOUBLE)"
        out.append(
            (
                f"{number} IS NULL OR NOT isfinite({number})",
                f"{value} is not a finite number'",
                False,
            )
        )
    if col.kind is Kind.JSON:
        out += _json_checks(c, col.keys)
    if col.values:
        listed = ", ".join(_sql_str(v) for v in col.values)
        if col.kind is Kind.COUNTRY:
            expected = "an ISO 3166-1 alpha-3 code"
        else:
            expected = "one of: " + ", ".join(col.values)
        out.append((f"{c} NOT IN ({listed})", f"{value} is not {expected}'", False))
    return out


def _json_checks(c: str, keys: tuple[str, ...]) -> list[tuple[str, str, bool]]:
    """A JSON object with every key in ``keys`` present and not empty (null, "", [] or {})."""
    j = f"if(json_valid({c}), {c}, 'null')"  # DuckDB evaluates every branch: never bad JSON
    listed = ", ".join(keys)
    shape = f" with {listed}" if keys else ""
    out = [
        (f"NOT json_valid({c})", f"'is not valid JSON: give a JSON object{shape}'", False),
        (
            f"json_valid({c}) AND json_type({c}) <> 'OBJECT'",
            f"'is JSON but not an object: give a JSON object{shape}'",
            False,
        ),
    ]
    for key in keys:
        path = _sql_str(f"$.{key}")
        empty = (
            f"CASE coalesce(json_type({j}, {path}), 'NULL') WHEN 'NULL' THEN true "
            f"WHEN 'VARCHAR' THEN trim(json_extract_string({j}, {path})) = '' "
            f"WHEN 'ARRAY' THEN json_array_length({j}, {path}) = 0 "
            f"WHEN 'OBJECT' THEN len(json_keys({j}, {path})) = 0 ELSE false END"
        )
        out.append(
            (
                f"json_type({j}) = 'OBJECT' AND ({empty})",
                _sql_str(f"has no {key}: give {' and '.join(keys)}, neither empty"),
                False,
            )
        )
    return out


def _problem_sql(fmt: FileFormat, present: list[str]) -> str:
    parts: list[str] = []
    for order, name in enumerate(present):
        col = fmt.column(name) if name in fmt.column_names else None
        for cond, message, sees_nulls in _checks(col, name):
            guard = "" if sees_nulls else f"{_ident(name)} IS NOT NULL AND "
            parts.append(
                f"SELECT {ROW} AS row, {order} AS ord, {_sql_str(name)} AS col, "
                f"{message} AS msg FROM frame WHERE {guard}({cond})"
            )
    if fmt.unique and fmt.unique in present:
        u = _ident(fmt.unique)
        parts.append(
            f"SELECT {ROW} AS row, {present.index(fmt.unique)} AS ord, "
            f"{_sql_str(fmt.unique)} AS col, "
            f"'duplicate {fmt.unique} ''' || left({u}, 40) || ''' (first at row ' || first_row "
            f"|| ')' AS msg FROM (SELECT {ROW}, {u}, min({ROW}) OVER (PARTITION BY {u}) "
            f"AS first_row FROM frame WHERE {u} IS NOT NULL) WHERE {ROW} > first_row"
        )
    return " UNION ALL ".join(parts)


def _header_problems(path: Path, fmt: FileFormat, columns: list[str]) -> list[Problem]:
    problems = []
    for col in fmt.columns:
        if col.required and col.name not in columns:
            problems.append(Problem(str(path), None, col.name, "required column is missing"))
    return problems


def validate(path: str | Path, file_format: str | FileFormat) -> Report:
    """Check one file against its format; returns every problem (the first 20 kept)."""
    report, _ = _validate(Path(path), _format(file_format))
    return report


def _format(file_format: str | FileFormat) -> FileFormat:
    if isinstance(file_format, FileFormat):
        return file_format
    try:
        return FORMATS[file_format]
    except KeyError:
        known = ", ".join(FORMATS)
        raise InputError.single(file_format, f"unknown file kind: use one of {known}") from None


def _validate(path: Path, fmt: FileFormat) -> tuple[Report, pl.DataFrame]:
    frame = _read_frame(path, fmt)
    return _validate_frame(frame, fmt, str(path)), frame


def _validate_frame(frame: pl.DataFrame, fmt: FileFormat, source: str) -> Report:
    columns = [c for c in frame.columns if c != ROW]
    header = _header_problems(Path(source), fmt, columns)
    con = duckdb.connect()
    try:
        con.register("frame", frame.to_arrow())
        sql = _problem_sql(fmt, columns)
        rows: list[tuple[int, int, str, str, int]] = []
        if sql:
            rows = con.execute(
                f"SELECT row, ord, col, msg, count(*) OVER () FROM ({sql}) "
                f"ORDER BY row, ord LIMIT {SHOWN}"
            ).fetchall()
    finally:
        con.close()
    total = len(header) + (rows[0][4] if rows else 0)
    problems = header + [Problem(source, r[0], r[2], r[3]) for r in rows]
    return Report(source, frame.height, problems[:SHOWN], total)


def _records_frame(records: list[dict[str, object]]) -> pl.DataFrame:
    """Records from an API request as text columns, like a CSV read (None stays missing)."""
    names: list[str] = []
    for r in records:
        names += [k for k in r if k not in names]
    data = {
        n: [None if r.get(n) is None or r.get(n) == "" else str(r.get(n)) for r in records]
        for n in names
    }
    return pl.DataFrame(data, schema=dict.fromkeys(names, pl.Utf8)).with_row_index(ROW, offset=1)


def load_records(
    records: list[dict[str, object]], file_format: str | FileFormat, source: str
) -> pa.Table:
    """Validate and type records that did not come from a file (an API request body).

    The same checks as a file, with ``source`` naming where they came from and rows
    counted from 1 in the order given.
    """
    fmt = _format(file_format)
    frame = _records_frame(records)
    report = _validate_frame(frame, fmt, source)
    if not report.ok:
        raise InputError(report.problems, report.total)
    return _typed(frame, fmt)


def load(path: str | Path, file_format: str | FileFormat) -> pa.Table:
    """Read a valid file as an Arrow table typed per its format, or raise :class:`InputError`.

    Dates become ``date32``; optional columns the file lacks are added as nulls; extra
    columns are kept as text (an agreement may name them); the row number is kept as
    ``__row`` so that later steps can still point at the line a value came from.
    """
    fmt = _format(file_format)
    report, frame = _validate(Path(path), fmt)
    if not report.ok:
        raise InputError(report.problems, report.total)
    return _typed(frame, fmt)


def _typed(frame: pl.DataFrame, fmt: FileFormat) -> pa.Table:
    selects = [f"{ROW}::BIGINT AS {ROW}"]
    present = set(frame.columns)
    for col in fmt.columns:
        name = _ident(col.name)
        if col.name not in present:
            typ = {Kind.DATE: "DATE", Kind.NUMBER: "DOUBLE"}.get(col.kind, "VARCHAR")
            selects.append(f"CAST(NULL AS {typ}) AS {name}")
        elif col.kind is Kind.DATE:
            selects.append(f"CAST(nullif(trim({name}), '') AS DATE) AS {name}")
        elif col.kind is Kind.NUMBER:
            selects.append(f"CAST(nullif(trim({name}), '') AS DOUBLE) AS {name}")
        elif col.kind is Kind.JSON:  # compact JSON text, the same however it was spaced
            selects.append(f"CAST(json(nullif({name}, '')) AS VARCHAR) AS {name}")
        elif col.may_be_empty:  # blank is empty, as validation judged it (one name, not two)
            selects.append(f"CASE WHEN trim({name}) = '' THEN NULL ELSE {name} END AS {name}")
        else:
            selects.append(f"nullif({name}, '') AS {name}")
    extras = [c for c in frame.columns if c != ROW and c not in fmt.column_names]
    selects += [_ident(c) for c in extras]
    con = duckdb.connect()
    try:
        con.register("frame", frame.to_arrow())
        table: pa.Table = con.sql(
            f"SELECT {', '.join(selects)} FROM frame ORDER BY {ROW}"
        ).to_arrow_table()
    finally:
        con.close()
    return table
