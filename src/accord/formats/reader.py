"""Reading and validating interchange files as a set, never a Python loop per row.

Polars reads the file (CSV or Parquet, by extension) with every column as text and a
row number; DuckDB then runs every check as one SQL query over the whole file and
returns the problems in file order.  A file with any problem is rejected whole.

Rows are counted from 1 for the first data row; the header is not a row.
"""

from __future__ import annotations

import csv
import itertools
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
JSON_DEPTH = 32  # levels of nesting a JSON value may have (a score's explanation)
# RE2 patterns, as SQL literals: a JSON string, a character that is not a bracket, [] or {}
JSON_STRING = r"""'"(?:[^"\\]|\\.)*"'"""
NOT_BRACKET = r"'[^\[\]{}]'"
EMPTY_PAIR = r"'\[\]|\{\}'"
CONTROL = r"'[\x00-\x1f\x7f]'"  # shown as "?" where a message quotes a value


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


def _ragged(path: Path) -> tuple[int, int | None]:
    """Only on the error path: the header's field count and the first row with more."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, path.stat().st_size + 1))  # a field may be the whole file
    try:
        # newline="": the csv module ends a line at CR, LF or CR LF, as Polars was told to.
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            records = itertools.dropwhile(lambda r: not r, csv.reader(fh))
            width = len(next(records, []))
            for i, record in enumerate(records, start=1):
                if len(record) > width:
                    return width, i
    finally:
        csv.field_size_limit(limit)
    return width, None


# The start of a CSV file looked at to find its header line and its line ending.
HEADER_SCAN = 1 << 20
NAME_LIMIT = 256  # bytes in a column name
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-32's start with one of these or with NULs


def _csv_layout(path: Path) -> tuple[str, int]:
    """The line ending of a CSV file and how many blank lines come before its header.

    A file whose first line ends in a carriage return alone (classic Mac) is read with
    that ending; UTF-16 and UTF-32 text (a byte-order mark, or NUL bytes in the header)
    is refused in one line rather than read as garbage.
    """
    with path.open("rb") as fh:
        head = fh.read(HEADER_SCAN + 1)
    if not head:
        raise InputError.single(path, "the file is empty: a header row is required")
    if head.startswith(UTF16_BOMS):
        raise InputError.single(path, "is UTF-16 or UTF-32 text: save it as UTF-8")
    body = head.lstrip(b"\r\n")
    ends = [i for i in (body.find(b"\r"), body.find(b"\n")) if i >= 0]
    end = min(ends) if ends else len(body)
    cr_only = end + 1 < len(body) and body[end : end + 1] == b"\r" and body[end + 1] != 0x0A
    eol = "\r" if cr_only else "\n"
    if b"\0" in body[:end]:
        raise InputError.single(
            path, "the header contains a NUL byte (is the file UTF-16?): save it as UTF-8 text"
        )
    blank = head[: len(head) - len(body)].count(eol.encode())
    return eol, blank


def _header_problems_of(path: Path, names: list[str | None]) -> list[Problem]:
    """Column names that cannot be used: empty, not text, too long, repeated, or reserved."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        where = f"column {number} of the header"
        text = name or ""
        bad = None
        if not text.strip():
            bad = "has no name: every column needs one"
        elif "\0" in text:
            bad = "contains a NUL byte"
        elif "\ufffd" in text:
            bad = "is not valid UTF-8"
        elif any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            bad = "contains a control character"
        elif len(text.encode("utf-8")) > NAME_LIMIT:
            bad = f"is a name over {NAME_LIMIT} bytes long"
        elif text == ROW:
            bad = f"is named {ROW}, which Accord keeps for row numbers"
        elif text in first:
            bad = f"repeats the name {text!r} of column {first[text]}"
        if bad is not None:
            problems.append(Problem(str(path), None, None, f"{where} {bad}"))
        first.setdefault(text, number)
    return problems


def _read_csv(path: Path) -> pl.DataFrame:
    """Every column as text, the header read as a row so that its names are exactly the
    file's (Polars would rename a repeated one and keep an empty one)."""
    eol, blank = _csv_layout(path)
    try:
        raw = pl.read_csv(
            path,
            has_header=False,
            infer_schema=False,
            encoding="utf8-lossy",
            row_index_name=ROW,
            row_index_offset=0,
            raise_if_empty=False,
            eol_char=eol,
            skip_lines=blank,
        )
    except pl.exceptions.ComputeError as exc:
        if "more fields" not in str(exc):
            raise
        width, row = _ragged(path)
        raise InputError.single(
            path, f"the row has more fields than the header's {width}", row=row
        ) from exc
    if raw.height == 0:
        raise InputError.single(path, "the file is empty: a header row is required")
    names = list(raw.row(0))[1:]
    problems = _header_problems_of(path, names)
    if problems:
        raise InputError(problems)
    frame = raw.slice(1)
    frame.columns = [ROW, *(str(n) for n in names)]
    return frame


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
            return _read_csv(path)
        raw = pl.read_parquet(path)
        problems = _header_problems_of(path, list(raw.columns))
        if problems:
            raise InputError(problems)
        return raw.cast(pl.Utf8).with_row_index(ROW, offset=1)
    except InputError:
        raise
    except (OSError, pl.exceptions.PolarsError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError.single(path, f"cannot be read as {kind}: {message}") from exc


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
    # The value, quoted, in SQL; a control character (a terminal escape) is shown as "?".
    shown = f"regexp_replace(left({c}, 40), {CONTROL}, '?', 'g')"
    value = "'" + "''" + "' || " + shown + " || '" + "''"
    if col.kind is Kind.DATE:
        # DuckDB has a year 0 (1 BC); Python, PostgreSQL's ISO form and SPEC.md do not.  One
        # condition for both, so that a date column is still scanned once.
        year0 = f"starts_with({c}, '0000')"
        out.append(
            (
                f"NOT regexp_full_match({c}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') "
                f"OR try_cast({c} AS DATE) IS NULL OR {year0}",
                f"CASE WHEN {year0} AND try_cast({c} AS DATE) IS NOT NULL "
                f"THEN {value} is not a date: years start at 0001' "
                f"ELSE {value} is not a date in YYYY-MM-DD form' END",
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
    # Nesting: with the text of strings taken out, then every bracket that is not one
    # removed, then JSON_DEPTH times every empty [] and {} (the innermost level), nothing
    # is left of JSON nested no deeper than that.  Only a value with more than JSON_DEPTH
    # opening brackets in all can be deeper, so only those are looked at.
    opened = f"length({c}) - length(replace(replace({c}, '[', ''), '{{', ''))"
    brackets = f"regexp_replace({c}, {JSON_STRING}, '', 'g')"
    brackets = f"regexp_replace({brackets}, {NOT_BRACKET}, '', 'g')"
    for _ in range(JSON_DEPTH):
        brackets = f"regexp_replace({brackets}, {EMPTY_PAIR}, '', 'g')"
    out.append(
        (
            f"{opened} > {JSON_DEPTH} AND json_valid({c}) AND {brackets} <> ''",
            f"'is JSON nested more than {JSON_DEPTH} levels deep; the limit is {JSON_DEPTH}'",
            False,
        )
    )
    # A key given twice in one object reads as one value here and as another wherever
    # the JSON is parsed again (DuckDB keeps the first, Python the last): refused.
    twice = (
        f"SELECT 1 FROM json_tree({j}) AS t WHERE t.key IS NOT NULL "
        "GROUP BY t.parent, t.key HAVING count(*) > 1"
    )
    out.append(
        (
            f"json_valid({c}) AND EXISTS ({twice})",
            "'has a key given twice in one object: give each key once'",
            False,
        )
    )
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


def _problem_sql(fmt: FileFormat, present: list[str], checked: set[str]) -> str:
    """Every problem in the columns ``checked`` of ``present`` (the file's, in order)."""
    parts: list[str] = []
    for order, name in enumerate(present):
        if name not in checked:
            continue
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
            f"'duplicate {fmt.unique} ''' || regexp_replace(left({u}, 40), {CONTROL}, '?', 'g') "
            f"|| ''' (first at row ' || first_row "
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


def _suspect_extras(frame: pl.DataFrame, fmt: FileFormat) -> set[str]:
    """The extra columns holding a value that an extra column's checks would refuse.

    Found by Polars in one pass over them all, so that extra columns cost nothing in the
    common case: each column checked in SQL adds its own queries, and a file with
    hundreds of extra columns made the query planner the slowest part of validation.
    """
    names = frame.columns
    extras = [i for i, n in enumerate(names) if n != ROW and n not in fmt.column_names]
    if not extras or frame.height == 0:
        return set()
    e = pl.nth(extras)  # by position: a name such as "*" or "^a.*$" would be a pattern
    bad = (
        e.str.contains("\0", literal=True)
        | e.str.contains("\ufffd", literal=True)
        | (e.str.len_bytes() > TEXT_MAX_BYTES)
    ).any()
    flags = frame.select(bad).row(0)
    return {names[i] for i, flagged in zip(extras, flags, strict=True) if flagged}


def _validate_frame(frame: pl.DataFrame, fmt: FileFormat, source: str) -> Report:
    columns = [c for c in frame.columns if c != ROW]
    header = _header_problems(Path(source), fmt, columns)
    checked = {c for c in columns if c in fmt.column_names} | _suspect_extras(frame, fmt)
    wanted = [i for i, c in enumerate(frame.columns) if c == ROW or c in checked]
    con = duckdb.connect()
    try:
        con.register("frame", frame.select(pl.nth(wanted)).to_arrow())
        sql = _problem_sql(fmt, columns, checked)
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
