"""Reading and validating interchange files as a set, never a Python loop per row.

DuckDB reads the file (CSV through ``read_csv``, Parquet through ``read_parquet``, by
extension) with every column as text and a row number, into a workspace: a file-backed
database that spills to disk past its memory limit (:mod:`accord.workspace`), so that a
register of tens of millions of rows is never held in the process's memory.  Every check
is then one SQL query over the whole file, returning the problems in file order.  A file
with any problem is rejected whole.  What a valid file gives is a relation in the
workspace (:class:`Opened`), typed per its format; :func:`load` turns a small one into an
Arrow table.

Rows are counted from 1 for the first data row; the header is not a row.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from accord.errors import AccordError, InputError, Problem
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


class _Undecodable(InputError):
    """Values that are not UTF-8 (found on the error path): a report, not a single line."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.problems, report.total)
        self.report = report


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- the file's bytes: its hash, its layout, its header ---------------------------------------


class _Digest:
    """The SHA-256 of a file, read in a thread of its own while DuckDB reads the file: one
    pass over the disk (the two readers share the page cache), in blocks of 1 MiB.

    Chosen over the alternatives measured (``benchmarks/register_digest.py``): a read of
    its own before the file is opened adds a whole pass to the wall time; DuckDB reading a
    pipe that a hashing writer fills was no faster (slower with the file out of the page
    cache), and a pipe cannot serve Parquet (read by seeking) nor the second read a CSV
    file sometimes needs.  The file hashed is the one DuckDB read only if it did not change
    meanwhile: :meth:`hexdigest` refuses one whose size, modification time or inode
    changed, or whose length is not what was hashed.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._before = _identity(path)
        self._hash = hashlib.sha256()
        self._read_bytes = 0
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._read, args=(path,), daemon=True)
        self._thread.start()

    def _read(self, path: Path) -> None:
        try:
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    self._hash.update(block)  # releases the GIL for blocks this size
                    self._read_bytes += len(block)
        except OSError as exc:
            self._error = exc

    def hexdigest(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise InputError.single(self._path, f"cannot be read: {self._error.strerror}")
        try:
            now: tuple[int, int, int, int] | None = _identity(self._path)
        except OSError:  # removed meanwhile
            now = None
        if now != self._before or self._read_bytes != self._before[0]:
            raise InputError.single(
                self._path, "changed while it was being read: give a file no one is writing"
            )
        return self._hash.hexdigest()


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What changes when a file is written or replaced: size, modification time, inode."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev


# The start of a CSV file looked at to find its header line and its line ending.
HEADER_SCAN = 1 << 20
NAME_LIMIT = 256  # bytes in a column name
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-32's start with one of these or with NULs


def _csv_layout(path: Path) -> tuple[str, int]:
    """The line ending of a CSV file and how many fields its header has.

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
    if not body.strip():
        raise InputError.single(path, "the file is empty: a header row is required")
    text = body.decode("utf-8-sig", errors="replace")
    with _csv_fields_unlimited(len(text)):
        header = next(iter(csv.reader(io.StringIO(text, newline=""))), [])
    return eol, max(1, len(header))


@contextlib.contextmanager
def _csv_fields_unlimited(size: int) -> Iterator[None]:
    """Python's csv module refuses a field over 128 KiB: here a field may be the whole file."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, size + 1))
    try:
        yield
    finally:
        csv.field_size_limit(limit)


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


def out_of_memory(exc: duckdb.Error) -> AccordError:
    """DuckDB could not stay within its memory limit: one line naming the setting."""
    return AccordError(
        f"the DuckDB workspace ran out of memory ({_first_line(exc)}): raise "
        "ACCORD_DUCKDB_MEMORY_LIMIT, or give ACCORD_SCRATCH_DIR a disk with room to spill to"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line.removeprefix("Invalid Input Error: ").strip() or type(exc).__name__


def _unreadable_csv(path: Path, width: int, exc: duckdb.Error) -> InputError:
    """Only on the error path, when DuckDB cannot read the file: what is wrong, located.

    A row with more fields than the header (the first), or every value that is not UTF-8
    (with its row and column), found by Python's csv module reading the file once in a
    stream; anything else is DuckDB's own first line.
    """
    problems: list[Problem] = []
    total = rows = 0
    source = str(path)
    with (
        _csv_fields_unlimited(path.stat().st_size),
        path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh,
    ):
        # newline="": the csv module ends a line at CR, LF or CR LF, as DuckDB does; it
        # skips blank lines, as DuckDB does.
        records = (r for r in csv.reader(fh) if r)
        header = next(records, [])
        names = [_shown_text(n) for n in header]
        header_problems = _header_problems_of(path, list(names))
        if header_problems:
            return InputError(header_problems)
        for rows, record in enumerate(records, start=1):
            if len(record) > width:
                return InputError.single(
                    path, f"the row has more fields than the header's {width}", row=rows
                )
            for i, value in enumerate(record):
                if _shown_text(value) != value:
                    total += 1
                    if len(problems) < SHOWN:
                        problems.append(Problem(source, rows, names[i], "is not valid UTF-8"))
    if problems:
        return _Undecodable(Report(source, rows, problems, total))
    return InputError.single(path, f"cannot be read as csv: {_first_line(exc)}")


def _shown_text(text: str) -> str:
    """Text read with ``surrogateescape``, each byte that was not UTF-8 as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# --- opening a file in the workspace ----------------------------------------------------------

_names = itertools.count(1)


@dataclass
class Opened:
    """A valid file in a workspace: the view ``table`` typed per its format, ordered by
    ``__row`` when scanned, with the file's row count and (if asked for) its SHA-256.

    Dates are ``DATE``; optional columns the file lacks are there as nulls; extra columns
    are kept as text (an agreement may name them); the row number is ``__row``.
    """

    con: duckdb.DuckDBPyConnection
    path: str
    rows: int
    table: str
    sha256: str | None
    columns: list[str]
    _made: list[tuple[str, str]] = field(default_factory=list)

    def relation(self) -> duckdb.DuckDBPyRelation:
        return self.con.sql(f"SELECT * FROM {self.table}")

    def to_arrow(self, columns: list[str] | None = None) -> pa.Table:
        """The rows in file order, as Arrow: all columns, or those named."""
        picked = ", ".join(_ident(c) for c in columns) if columns else "*"
        table: pa.Table = self.con.sql(
            f"SELECT {picked} FROM {self.table} ORDER BY {ROW}"
        ).to_arrow_table()
        return table

    def close(self) -> None:
        """Drop what the file made in the workspace (its rows on disk go with it)."""
        for kind, name in reversed(self._made):
            self.con.execute(f"DROP {kind} IF EXISTS {name}")
        self._made.clear()


def _open_csv(
    con: duckdb.DuckDBPyConnection, path: Path, stem: str, made: list[tuple[str, str]]
) -> _Source:
    """The file as a table of text columns in the workspace, its header row first."""
    eol, width = _csv_layout(path)
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    raw = f"{stem}_raw"

    newline = "new_line = '\\r', " if eol == "\r" else ""
    made.append(("TABLE", raw))
    parallel, max_line = True, 0
    while True:
        # Every column text, the header read as a row so that its names are exactly the
        # file's (DuckDB would rename a repeated one); strict: a row with more fields than
        # the header, or a quote left open, is an error, not a value silently cut.  A
        # temporary table: held by DuckDB's buffer manager, spilled past its memory limit.
        longest = f"max_line_size = {max_line}, " if max_line else ""
        try:
            con.execute(
                f"CREATE TEMP TABLE {raw} AS SELECT * FROM read_csv({_sql_str(str(path))}, "
                f"columns = {columns}, header = false, auto_detect = false, delim = ',', "
                f"quote = '\"', escape = '\"', null_padding = true, strict_mode = true, "
                f"encoding = 'utf-8', {longest}{newline}parallel = {str(parallel).lower()})"
            )
            break
        except duckdb.OutOfMemoryException as exc:
            raise out_of_memory(exc) from exc
        except duckdb.Error as exc:
            con.execute(f"DROP TABLE IF EXISTS {raw}")
            said = str(exc)
            if "null_padding" in said and parallel:
                # A short row is padded with nulls, as Polars did; DuckDB's parallel reader
                # cannot do that in a file with line breaks inside quotes: read it in one.
                parallel = False
            elif "Maximum line size" in said and not max_line:
                # A line over DuckDB's 2 MB: read again with room for the longest there can
                # be, so that a value over the limits is reported with its length.
                max_line = path.stat().st_size + 2
            else:
                raise _unreadable_csv(path, width, exc) from exc
    header = con.execute(f"SELECT * FROM {raw} WHERE rowid = 0").fetchone()
    if header is None:
        raise InputError.single(path, "the file is empty: a header row is required")
    names: list[str | None] = list(header)
    problems = _header_problems_of(path, names)
    if problems:
        raise InputError(problems)
    exprs = [(str(n), f"c{i}") for i, n in enumerate(names)]
    return _Source(stem, f"{raw} WHERE rowid > 0", "rowid", exprs)


def _open_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, stem: str, made: list[tuple[str, str]]
) -> _Source:
    """The file's rows as text, read where it lies (Parquet is read in pieces)."""
    try:
        names: list[str | None] = list(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as exc:
        raise InputError.single(path, f"cannot be read as parquet: {_first_line(exc)}") from exc
    problems = _header_problems_of(path, names)
    if problems:
        raise InputError(problems)
    source = _Source(
        stem,
        f"read_parquet({_sql_str(str(path))}, file_row_number = true)",
        "file_row_number + 1",
        [(str(n), f"CAST({_ident(str(n))} AS VARCHAR)") for n in names],
    )
    try:
        con.execute(f"SELECT count(*) FROM ({source.select()})").fetchone()
    except duckdb.Error as exc:
        raise InputError.single(path, f"cannot be read as parquet: {_first_line(exc)}") from exc
    return source


@dataclass(frozen=True)
class _Source:
    """Where a file's rows are in the workspace: each column's SQL by its name."""

    stem: str  # prefix of every name made in the workspace for the file
    rows_from: str  # the FROM clause of its data rows
    row: str  # the SQL of a row's number, from 1
    exprs: list[tuple[str, str]]  # (column name as in the header, its SQL)

    @property
    def columns(self) -> list[str]:
        return [n for n, _ in self.exprs]

    def select(self, names: set[str] | None = None) -> str:
        """The rows with ``__row`` and the columns named (all, by default), in file order."""
        picks = [f"{self.row} AS {ROW}"]
        picks += [f"{e} AS {_ident(n)}" for n, e in self.exprs if names is None or n in names]
        return f"SELECT {', '.join(picks)} FROM {self.rows_from}"


def require_file(path: Path) -> str:
    """The file's kind (``csv`` or ``parquet``), or one line if it is of neither or absent."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError.single(
            path, f"unknown file type {path.suffix or '(none)'}: use .csv or .parquet"
        )
    if not path.is_file():
        raise InputError.single(path, "no such file")
    return kind


def _frame(con: duckdb.DuckDBPyConnection, path: Path, made: list[tuple[str, str]]) -> _Source:
    kind = require_file(path)
    stem = f"_file{next(_names)}"
    try:
        if kind == "csv":
            return _open_csv(con, path, stem, made)
        return _open_parquet(con, path, stem, made)
    except OSError as exc:
        raise InputError.single(path, f"cannot be read as {kind}: {_first_line(exc)}") from exc


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


def _problem_sql(fmt: FileFormat, present: list[str], checked: set[str], frame: str) -> str:
    """Every problem in the columns ``checked`` of ``present`` (the file's, in order),
    in the view ``frame``."""
    parts: list[str] = []
    for order, name in enumerate(present):
        if name not in checked:
            continue
        col = fmt.column(name) if name in fmt.column_names else None
        for cond, message, sees_nulls in _checks(col, name):
            guard = "" if sees_nulls else f"{_ident(name)} IS NOT NULL AND "
            parts.append(
                f"SELECT {ROW} AS row, {order} AS ord, {_sql_str(name)} AS col, "
                f"{message} AS msg FROM {frame} WHERE {guard}({cond})"
            )
    if fmt.unique and fmt.unique in present:
        u = _ident(fmt.unique)
        parts.append(
            f"SELECT {ROW} AS row, {present.index(fmt.unique)} AS ord, "
            f"{_sql_str(fmt.unique)} AS col, "
            f"'duplicate {fmt.unique} ''' || regexp_replace(left({u}, 40), {CONTROL}, '?', 'g') "
            f"|| ''' (first at row ' || first_row "
            f"|| ')' AS msg FROM (SELECT {ROW}, {u}, min({ROW}) OVER (PARTITION BY {u}) "
            f"AS first_row FROM {frame} WHERE {u} IS NOT NULL) WHERE {ROW} > first_row"
        )
    return " UNION ALL ".join(parts)


def _header_problems(path: Path, fmt: FileFormat, columns: list[str]) -> list[Problem]:
    problems = []
    for col in fmt.columns:
        if col.required and col.name not in columns:
            problems.append(Problem(str(path), None, col.name, "required column is missing"))
    return problems


def _format(file_format: str | FileFormat) -> FileFormat:
    if isinstance(file_format, FileFormat):
        return file_format
    try:
        return FORMATS[file_format]
    except KeyError:
        known = ", ".join(FORMATS)
        raise InputError.single(file_format, f"unknown file kind: use one of {known}") from None


def _suspect_extras(con: duckdb.DuckDBPyConnection, source: _Source, fmt: FileFormat) -> set[str]:
    """The extra columns holding a value that an extra column's checks would refuse.

    Found in one pass over them all (one aggregate per column in one query), so that extra
    columns cost next to nothing in the common case: each column checked by the per-value
    queries adds its own, and hundreds of them made the query planner the slowest part.
    """
    extras = [(n, e) for n, e in source.exprs if n not in fmt.column_names]
    if not extras:
        return set()
    flags = ", ".join(
        f"coalesce(bool_or(strpos({e}, chr(0)) > 0 OR strpos({e}, '\ufffd') > 0 "
        f"OR octet_length(encode({e})) > {TEXT_MAX_BYTES}), false)"
        for _, e in extras
    )
    found = con.execute(f"SELECT {flags} FROM {source.rows_from}").fetchone() or ()
    return {n for (n, _), flagged in zip(extras, found, strict=True) if flagged}


def _problems(
    con: duckdb.DuckDBPyConnection,
    frame: str,
    columns: list[str],
    fmt: FileFormat,
    source: str,
    checked: set[str] | None = None,
) -> tuple[list[Problem], int]:
    """The first ``SHOWN`` problems in the file (header first, then in file order) and how
    many there are in all.  ``frame`` holds ``__row`` and the ``checked`` columns (by
    default, those of the format)."""
    header = _header_problems(Path(source), fmt, columns)
    if checked is None:
        checked = {c for c in columns if c in fmt.column_names}
    sql = _problem_sql(fmt, columns, checked, frame)
    rows: list[tuple[int, int, str, str, int]] = []
    if sql:
        rows = con.execute(
            f"SELECT row, ord, col, msg, count(*) OVER () FROM ({sql}) "
            f"ORDER BY row, ord LIMIT {SHOWN}"
        ).fetchall()
    total = len(header) + (rows[0][4] if rows else 0)
    problems = header + [Problem(source, r[0], r[2], r[3]) for r in rows]
    return problems[:SHOWN], total


def _typed_sql(frame: str, columns: list[str], fmt: FileFormat) -> str:
    selects = [f"{ROW}::BIGINT AS {ROW}"]
    present = set(columns)
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
    selects += [_ident(c) for c in columns if c not in fmt.column_names]
    return f"SELECT {', '.join(selects)} FROM {frame}"


def _count(con: duckdb.DuckDBPyConnection, frame: str) -> int:
    found = con.execute(f"SELECT count(*) FROM {frame}").fetchone()
    return int(found[0]) if found else 0


def _check(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: FileFormat, made: list[tuple[str, str]]
) -> tuple[Report, _Source | None]:
    try:
        source = _frame(con, path, made)
    except _Undecodable as exc:
        return exc.report, None
    columns = source.columns
    checked = {c for c in columns if c in fmt.column_names} | _suspect_extras(con, source, fmt)
    # Only the columns checked, in a view of their own: each check reads the view, and a
    # view of every column (hundreds, in a wide file) is that much slower to plan each time.
    frame = f"{source.stem}_checked"
    con.execute(f"CREATE VIEW {frame} AS {source.select(checked)}")
    made.append(("VIEW", frame))
    problems, total = _problems(con, frame, columns, fmt, str(path), checked)
    return Report(str(path), _count(con, frame), problems, total), source


def open_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    file_format: str | FileFormat,
    digest: bool = False,
) -> Opened:
    """Check a file and open it in the workspace ``con`` as a typed relation, or raise
    :class:`InputError` with every problem (nothing is left in ``con`` then).

    With ``digest``, the file's SHA-256 is computed as it is read.  Call
    :meth:`Opened.close` when done with it.
    """
    fmt = _format(file_format)
    path = Path(path)
    made: list[tuple[str, str]] = []
    opened = Opened(con, str(path), 0, "", None, [], made)
    hashing = _Digest(path) if digest and path.is_file() else None
    try:
        report, source = _check(con, path, fmt, made)
        if not report.ok or source is None:
            raise InputError(report.problems, report.total)
        typed = f"{source.stem}_typed"
        con.execute(
            f"CREATE VIEW {typed} AS {_typed_sql(f'({source.select()})', source.columns, fmt)}"
        )
        made.append(("VIEW", typed))
        opened.rows, opened.table = report.rows, typed
        opened.columns = [d[0] for d in con.execute(f"SELECT * FROM {typed} LIMIT 0").description]
        if hashing is not None:
            opened.sha256 = hashing.hexdigest()
    except BaseException:
        if hashing is not None:
            with contextlib.suppress(InputError, OSError):
                hashing.hexdigest()  # the thread is done before the file is let go
        opened.close()
        raise
    return opened


@contextlib.contextmanager
def opened(
    path: str | Path, file_format: str | FileFormat, digest: bool = False
) -> Iterator[Opened]:
    """:func:`open_file` in a workspace of its own, removed when the block ends."""
    from accord.workspace import workspace

    with workspace() as con:
        found = open_file(con, path, file_format, digest=digest)
        try:
            yield found
        finally:
            found.close()


def validate(path: str | Path, file_format: str | FileFormat) -> Report:
    """Check one file against its format; returns every problem (the first 20 kept)."""
    from accord.workspace import workspace

    fmt = _format(file_format)
    made: list[tuple[str, str]] = []
    with workspace() as con:
        report, _ = _check(con, Path(path), fmt, made)
    return report


def load(path: str | Path, file_format: str | FileFormat) -> pa.Table:
    """Read a valid file as an Arrow table typed per its format, or raise :class:`InputError`.

    For files that fit in memory (cases, events, actions, scores); a register is opened
    as a relation instead (:func:`open_file`).  Dates become ``date32``; optional columns
    the file lacks are added as nulls; extra columns are kept as text (an agreement may
    name them); the row number is kept as ``__row`` so that later steps can still point
    at the line a value came from.
    """
    with opened(path, file_format) as found:
        return found.to_arrow()


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
    columns = [c for c in frame.columns if c != ROW]
    con = duckdb.connect()
    try:
        con.register("records", frame.to_arrow())
        checked = set(columns)  # a request's fields are few: every one checked
        problems, total = _problems(con, "records", columns, fmt, source, checked)
        if total:
            raise InputError(problems, total)
        table: pa.Table = con.sql(
            f"{_typed_sql('records', columns, fmt)} ORDER BY {ROW}"
        ).to_arrow_table()
    finally:
        con.close()
    return table
