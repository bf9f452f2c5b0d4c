"""Linkage as its own resumable step: a register's candidates kept as Parquet, then
copied into ``matches`` in bulk.

Linkage is a run's long step (minutes for a register of tens of millions of rows), and
what it finds depends only on the register's file, the model's parameters, the pool's
identities and the lowest threshold an agreement reviews from.  So the candidates are
written to a Parquet file named by those (:class:`Key`), outside the governance
database and its transaction.  A run that finds the file for its key does no linking;
a run that fails after linkage (a later register refused, the process killed) leaves
the file, and the next run resumes from it.  The key also names the linkage code and
the DuckDB and Splink versions, so candidates another Accord found are never taken.

The files are in ``accord-candidates/<database>/`` under the scratch folder
(``ACCORD_SCRATCH_DIR``), mode 0700 (they hold register records and names), one per
register of each database: writing a register's new candidates removes its older ones.

:func:`load` copies a file into ``matches`` through the bulk path every large table
takes (:func:`accord.store.transfer.insert_query`: ``COPY`` on PostgreSQL, a staged file on
SQLite), with ids given set-based in the file's order (the ones the database would have
given them one by one), and fills the gate's ``candidates`` with the same ids: no Python
per candidate, and nothing read back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection

from accord.config import Settings
from accord.linkage import model as m
from accord.linkage.store import EVIDENCE_FIELDS
from accord.store.dialect import dialect_of
from accord.store.models import Match
from accord.store.transfer import insert_query
from accord.workspace import scratch_root

FORMAT = 1  # the file's layout; a change makes every earlier file unusable
# Candidates are copied into the database this many at a time (a Parquet row group each):
# what is held at once stays the same however many a register has.
CHUNK = 50_000
METADATA = b"accord.candidates"  # the key, as JSON, in the Parquet file's metadata
FOLDER = "accord-candidates"


@cache
def linkage_code() -> str:
    """A digest of what produces candidates: the linkage modules' source, DuckDB, Splink."""
    from importlib.metadata import version

    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(f"duckdb {duckdb.__version__}, splink {version('splink')}".encode())
    return h.hexdigest()


def pool_digest(pool: pa.Table) -> str:
    """A digest of the pool as linkage reads it: its columns, and every row in order."""
    numbered = pool.append_column("__n", pa.array(np.arange(pool.num_rows, dtype=np.int64)))
    con = duckdb.connect()
    try:
        con.register("pool", numbered)
        found = con.execute(
            "SELECT sha256(coalesce(string_agg(md5(to_json(p)), '' ORDER BY p.__n), '')) "
            "FROM pool AS p"
        ).fetchone()
    finally:
        con.close()
    assert found is not None
    return hashlib.sha256(f"{pool.schema}\n{found[0]}".encode()).hexdigest()


def model_digest(model: m.TrainedModel) -> str:
    """A digest of the model's parameters (what ``linkage_models.settings`` stores).

    Stricter than the model's id: a model trained in a run that failed is rolled back,
    and its id may then be given to another model; the same parameters score the same.
    """
    document = json.dumps(model.document(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class Key:
    """What a register's candidates depend on; the file is named by its digest."""

    register: str
    register_sha256: str
    model: str  # model_digest
    pool: str  # pool_digest
    floor: float  # the lowest probability kept (the lowest review_from)
    engine: str = "duckdb"  # what linked them: engines may score a pair differently

    def document(self) -> str:
        return json.dumps(asdict(self) | {"format": FORMAT, "code": linkage_code()}, sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha256(self.document().encode()).hexdigest()


@dataclass(frozen=True)
class Linked:
    """A register's candidates on disk: the file, how many, and whether an earlier run
    found them (``reused``: no linking was done now)."""

    path: Path
    rows: int
    reused: bool


def folder(conn: Connection, settings: Settings | None = None) -> Path:
    """The database's folder of candidate files under the scratch folder (made, 0700)."""
    url = conn.engine.url.render_as_string(hide_password=False)
    name = hashlib.sha256(url.encode()).hexdigest()[:16]
    root = scratch_root(settings or Settings()) / FOLDER
    root.mkdir(mode=0o700, exist_ok=True)
    found = root / name
    found.mkdir(mode=0o700, exist_ok=True)
    return found


def _tag(register: str) -> str:
    return hashlib.sha256(register.encode()).hexdigest()[:16]


def _kept(path: Path, key: Key) -> int | None:
    """The number of candidates in ``path`` if it holds those of ``key``, else None."""
    try:
        metadata = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return None
    kept = (metadata.metadata or {}).get(METADATA)
    return int(metadata.num_rows) if kept == key.document().encode() else None


def find_or_link(key: Key, link: Callable[[], pa.Table], where: Path) -> Linked:
    """The candidates of ``key``: the file an earlier run wrote, or ``link()``'s, written now.

    The file is written whole or not at all (a temporary file renamed into place), and
    the register's older files are removed once it is there.
    """
    tag = _tag(key.register)
    path = where / f"{tag}-{key.digest()}.parquet"
    rows = _kept(path, key) if path.exists() else None
    if rows is not None:
        return Linked(path, rows, reused=True)
    table = link()
    table = table.replace_schema_metadata({METADATA: key.document().encode()})
    handle, part = tempfile.mkstemp(prefix=f"{tag}-{os.getpid()}-", suffix=".part", dir=where)
    try:
        with os.fdopen(handle, "wb") as fh:
            pq.write_table(table, fh, row_group_size=CHUNK, compression="zstd")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    _remove_older(where, tag, path)
    return Linked(path, table.num_rows, reused=False)


def _remove_older(where: Path, tag: str, keep: Path) -> None:
    """Remove the register's other candidate files, and the parts a killed writer left."""
    for other in where.glob(f"{tag}-*"):
        if other == keep:
            continue
        if other.suffix == ".part" and _writing(other):
            continue
        with contextlib.suppress(FileNotFoundError):
            other.unlink()


def _writing(part: Path) -> bool:
    """Whether the process that named this part file is still running."""
    try:
        pid = int(part.name.split("-")[1])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    found: Linked,
    run_id: str,
    register: str,
    model_id: int | None,
) -> int:
    """Copy the candidates into ``matches`` and into the gate's ``candidates`` table in
    ``con``, each with its match id; returns how many.  They go :data:`CHUNK` at a time,
    each in one statement of the bulk path.

    ``flags`` is empty (the gate adds its reasons where it decides); ``evidence`` holds
    :data:`EVIDENCE_FIELDS`; ``record`` and ``explanation`` are the JSON linkage wrote.
    """
    if found.rows == 0:
        return 0
    # The ids the database would give rows inserted one by one (accord.store.dialect).
    first = dialect_of(conn).reserve_ids(conn, Match.__table__, found.rows)  # type: ignore[arg-type]
    rows = f"read_parquet({_literal(str(found.path))}, file_row_number = true)"
    match_id = f"CAST({first} + file_row_number AS BIGINT)"
    with _any_order(con, dialect_of(conn).copy_in):
        _copy_matches(conn, con, found, rows, match_id, run_id, register, model_id)
    con.execute(
        f"""INSERT INTO candidates BY NAME
        SELECT person_id, record_id, {_literal(register)} AS register, match_probability,
               since, second_for_person, second_for_record, {match_id} AS match_id,
               wrong_person, rival_gap, pair_probability, pattern
        FROM {rows}"""
    )
    return found.rows


@contextlib.contextmanager
def _any_order(con: duckdb.DuckDBPyConnection, allowed: bool) -> Iterator[None]:
    """Let DuckDB give rows in any order while the block runs, when ``allowed``.

    For a ``COPY`` (PostgreSQL) the order is nothing (each row carries its id), and
    DuckDB keeping it holds every row of the CSV it writes in memory at once (measured:
    6 KB a candidate, against a steady 90 MB without).
    """
    if not allowed:
        yield
        return
    kept = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {bool(kept and kept[0])}")


def _copy_matches(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    found: Linked,
    rows: str,
    match_id: str,
    run_id: str,
    register: str,
    model_id: int | None,
) -> None:
    """The ``matches`` rows of the file, each with its id, through the bulk path."""
    evidence = ", ".join(f"{f} := {f}" for f in EVIDENCE_FIELDS)
    model = "NULL" if model_id is None else str(int(model_id))
    for start in range(0, found.rows, CHUNK):
        insert_query(
            conn,
            Match.__table__,  # type: ignore[arg-type]
            con,
            f"""SELECT {match_id} AS id, {_literal(run_id)} AS run_id,
                   {_literal(register)} AS register, person_id, record_id, match_probability,
                   match_weight, CAST({model} AS INTEGER) AS model_id,
                   CAST(rank_for_person AS INTEGER) AS rank, '[]' AS flags, record,
                   explanation, CAST(to_json(struct_pack({evidence})) AS VARCHAR) AS evidence
            FROM {rows}
            WHERE file_row_number >= {start} AND file_row_number < {start + CHUNK}""",
            in_key_order=True,  # ids follow the file's rows
        )
