"""Arrow in and out of a SQLite transaction in C (accord.store.sqlite_bulk)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import pyarrow as pa
import pytest
from sqlalchemy import Table, func, select

from accord.store import db, sqlite_bulk
from accord.store.models import PoolEntry
from accord.store.transfer import insert_arrow, read_arrow

pytestmark = pytest.mark.sqlite_only
POOL = cast(Table, PoolEntry.__table__)


def _entries(n: int, offset: int = 0) -> pa.Table:
    return pa.table(
        {
            "person_id": [f"P{offset + i:06d}" for i in range(n)],
            "status": ["admitted" if i % 3 else "excluded" for i in range(n)],
            "reasons": ['["procedural_refusal"]' if i % 3 == 0 else "[]" for i in range(n)],
            "as_of": pa.array([dt.date(2026, 1, 1)] * n, pa.date32()),
            "run_id": pa.array([None if i % 2 else "r1" for i in range(n)], pa.string()),
            "updated_at": pa.array([dt.datetime(2026, 1, 1, 12, 30, 5, 123456)] * n),
        }
    )


def _stage_files(url: str) -> list[Path]:
    folder = Path(url.removeprefix("sqlite:///")).parent
    return sorted(folder.glob(f"{sqlite_bulk.STAGE_FILE}*"))


def _count(url: str) -> int:
    with db.connect(url) as conn:
        return int(conn.execute(select(func.count()).select_from(PoolEntry)).scalar_one())


def test_staged_rows_read_back_as_orm_rows(db_url: str) -> None:
    """Rows staged in C read back exactly as rows inserted one by one (the fallback)."""
    table = _entries(50)
    with db.connect(db_url) as conn:
        insert_arrow(conn, POOL, table)
        staged = [tuple(r) for r in conn.execute(select(PoolEntry).order_by("person_id"))]
    with db.connect(db_url) as conn:
        conn.execute(POOL.delete())
    original = sqlite_bulk.stage
    try:
        sqlite_bulk.stage = lambda conn, table: None
        with db.connect(db_url) as conn:
            insert_arrow(conn, POOL, table)
            rowwise = [tuple(r) for r in conn.execute(select(PoolEntry).order_by("person_id"))]
    finally:
        sqlite_bulk.stage = original
    assert staged == rowwise
    assert staged[0][5] == dt.datetime(2026, 1, 1, 12, 30, 5, 123456)
    assert _stage_files(db_url) == []


def test_staged_rows_are_in_the_callers_transaction(db_url: str) -> None:
    with pytest.raises(RuntimeError), db.connect(db_url) as conn:
        insert_arrow(conn, POOL, _entries(1000))
        raise RuntimeError("crash before commit")
    assert _count(db_url) == 0
    assert _stage_files(db_url) == []
    with db.connect(db_url) as conn:
        insert_arrow(conn, POOL, _entries(1000))
    assert _count(db_url) == 1000


def test_export_sees_the_transactions_own_writes(db_url: str) -> None:
    with db.connect(db_url) as conn:
        insert_arrow(conn, POOL, _entries(10))
        read = read_arrow(
            conn,
            "SELECT person_id, run_id, CAST(as_of AS TEXT) FROM pool_entries ORDER BY person_id",
            {"person_id": pa.string(), "run_id": pa.string(), "as_of": pa.string()},
        )
        empty = read_arrow(
            conn,
            "SELECT person_id, 1 FROM pool_entries WHERE 0",
            {"person_id": pa.string(), "n": pa.int64()},
        )
    assert read.column("person_id").to_pylist() == [f"P{i:06d}" for i in range(10)]
    assert read.column("run_id").to_pylist() == [None if i % 2 else "r1" for i in range(10)]
    assert set(read.column("as_of").to_pylist()) == {"2026-01-01"}
    assert empty.num_rows == 0 and empty.schema.field("n").type == pa.int64()
    assert _stage_files(db_url) == []  # the serialised copy is gone once read


def test_more_inserts_than_can_be_attached_fall_back_and_all_land(db_url: str) -> None:
    rounds = sqlite_bulk.MAX_STAGED + 3
    with db.connect(db_url) as conn:
        for k in range(rounds):
            insert_arrow(conn, POOL, _entries(20, offset=k * 20))
        raw = conn.connection.dbapi_connection
        assert raw is not None
        names = [r[1] for r in raw.execute("PRAGMA database_list").fetchall()]
        assert sum(n.startswith(sqlite_bulk.STAGE_PREFIX) for n in names) == sqlite_bulk.MAX_STAGED
    assert _count(db_url) == rounds * 20
    with db.connect(db_url) as conn:  # back from the pool: nothing staged stays attached
        raw = conn.connection.dbapi_connection
        assert raw is not None
        names = [r[1] for r in raw.execute("PRAGMA database_list").fetchall()]
        assert not any(n.startswith(sqlite_bulk.STAGE_PREFIX) for n in names)
        insert_arrow(conn, POOL, _entries(3, offset=10_000))
    assert _count(db_url) == rounds * 20 + 3
    assert _stage_files(db_url) == []


def test_a_file_left_by_a_killed_process_is_swept(db_url: str) -> None:
    folder = Path(db_url.removeprefix("sqlite:///")).parent
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    left = folder / f"{sqlite_bulk.STAGE_FILE}{int(dead.stdout)}-abc.db"
    left.write_bytes(b"personal data a crash left behind")
    live = folder / f"{sqlite_bulk.STAGE_FILE}{os.getpid()}-def.db"
    live.write_bytes(b"being written by a live process")
    with db.connect(db_url) as conn:
        insert_arrow(conn, POOL, _entries(5))
    assert not left.exists()
    assert live.exists()


def test_export_of_a_column_empty_at_first_and_text_later(db_url: str) -> None:
    """ADBC infers a type from the rows it reads first: all of them must be read first."""
    n = 5000
    table = _entries(n)
    late = [None] * 3000 + ["late run"] * (n - 3000)
    table = table.set_column(table.schema.get_field_index("run_id"), "run_id", pa.array(late))
    with db.connect(db_url) as conn:
        insert_arrow(conn, POOL, table)
        read = read_arrow(
            conn,
            "SELECT person_id, run_id FROM pool_entries ORDER BY person_id",
            {"person_id": pa.string(), "run_id": pa.string()},
        )
    assert read.column("run_id").to_pylist() == late
