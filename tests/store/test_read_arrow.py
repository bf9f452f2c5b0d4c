"""Reading the governance database into Arrow (accord.store.transfer.read_arrow) on each backend.

SQLite goes through ADBC (tests/store/test_sqlite_bulk.py); PostgreSQL through ``COPY ... TO
STDOUT`` as CSV parsed by Arrow, where NULL and the empty string, quotes, commas and line
breaks inside values must all come back as they went in.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import pyarrow as pa
from sqlalchemy import Table

from accord.store import db
from accord.store.models import PoolEntry
from accord.store.transfer import insert_arrow, read_arrow

POOL = cast(Table, PoolEntry.__table__)
AWKWARD = [
    None,
    "",
    '"',
    '""',
    "a,b",
    "two\nlines",
    "cr\r\nlf",
    "Nguyễn Thị Lan",
    "عبد الله",
    "\\N",
    "NULL",
    " padded ",
]


def test_values_read_back_as_written(db_url: str) -> None:
    n = len(AWKWARD)
    rows = pa.table(
        {
            "person_id": [f"P{i:03d}" for i in range(n)],
            "status": ["admitted"] * n,
            "reasons": ["[]"] * n,
            "as_of": pa.array([dt.date(2026, 1, 1)] * n, pa.date32()),
            "run_id": pa.array(AWKWARD, pa.string()),
            "updated_at": pa.array([dt.datetime(2026, 1, 1, 12, 0)] * n),
        }
    )
    with db.connect(db_url) as conn:
        insert_arrow(conn, POOL, rows)
        read = read_arrow(  # the transaction's own rows, not yet committed
            conn,
            "SELECT person_id, run_id, CAST(as_of AS TEXT) FROM pool_entries ORDER BY person_id",
            {"person_id": pa.string(), "run_id": pa.string(), "as_of": pa.string()},
        )
    assert read.column("run_id").to_pylist() == AWKWARD
    assert set(read.column("as_of").to_pylist()) == {"2026-01-01"}


def test_numbers_and_an_empty_result(db_url: str) -> None:
    with db.connect(db_url) as conn:
        numbers = read_arrow(
            conn,
            "SELECT 'a' AS k, CAST(0.5 AS DOUBLE PRECISION) AS v, 3 AS n "
            "UNION ALL SELECT 'b', NULL, NULL "
            "UNION ALL SELECT 'c', CAST(-1.25e-7 AS DOUBLE PRECISION), 12345678901",
            {"k": pa.string(), "v": pa.float64(), "n": pa.int64()},
        )
        empty = read_arrow(
            conn,
            "SELECT person_id, status FROM pool_entries WHERE person_id = 'nobody'",
            {"person_id": pa.string(), "status": pa.string()},
        )
    assert numbers.to_pylist() == [
        {"k": "a", "v": 0.5, "n": 3},
        {"k": "b", "v": None, "n": None},
        {"k": "c", "v": -1.25e-7, "n": 12345678901},
    ]
    assert empty.num_rows == 0
    assert empty.schema == pa.schema({"person_id": pa.string(), "status": pa.string()})
