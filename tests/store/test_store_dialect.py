"""What the backends do differently, in accord.store.dialect, and the transfer's bound values.

Each check runs on SQLite and PostgreSQL and asks the database itself: the same
expression or statement must give the same answer on both.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import pyarrow as pa
import pytest
from sqlalchemy import DateTime, Table, func, literal, select, text

from accord.store import db, sqlite_bulk, transfer
from accord.store.dialect import PostgreSQLDialect, SQLiteDialect, dialect_of
from accord.store.models import AuditLog, PoolEntry, Secret

AUDIT = cast(Table, AuditLog.__table__)
POOL = cast(Table, PoolEntry.__table__)
AWKWARD_IDS = ["O'Brien", "50%", "a,b", "); DROP TABLE pool_entries; --", "P2"]


def _pool(ids: list[str]) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "person_id": ids,
            "status": ["x"] * n,
            "reasons": ['["a", "b"]'] + ["[]"] * (n - 1),
            "as_of": pa.array([dt.date(2026, 1, 1)] * n, pa.date32()),
            "run_id": ["R1"] * n,
            "updated_at": pa.array([dt.datetime(2026, 1, 1, 12, 0)] * n),
        }
    )


def test_one_dialect_per_backend(db_url: str) -> None:
    with db.connect(db_url) as conn:
        d = dialect_of(conn)
        assert d is dialect_of(conn.engine)  # made once per engine
        expected = SQLiteDialect if db_url.startswith("sqlite") else PostgreSQLDialect
        assert type(d) is expected
        assert d.copy_in is (expected is PostgreSQLDialect)


@pytest.mark.parametrize("adbc", [True, False])
def test_read_arrow_binds_values_and_in_lists(
    db_url: str, adbc: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values given beside the SQL reach the database as values, quotes, ``%`` and all,
    on every read path (COPY, ADBC export, and the cursor when ADBC is missing)."""
    if not adbc:
        monkeypatch.setattr(sqlite_bulk, "available", lambda: False)
    with db.connect(db_url) as conn:
        transfer.insert_arrow(conn, POOL, _pool([*AWKWARD_IDS, "P3"]))
        read = transfer.read_arrow(
            conn,
            "SELECT person_id FROM pool_entries "
            "WHERE person_id IN :ids AND run_id = :run AND person_id LIKE '%' "
            "ORDER BY person_id",
            {"person_id": pa.string()},
            {"ids": AWKWARD_IDS[:4], "run": "R1"},
        )
        everyone = conn.execute(text("SELECT count(*) FROM pool_entries")).scalar_one()
    assert read.column("person_id").to_pylist() == sorted(AWKWARD_IDS[:4])
    assert everyone == 6


def test_a_statement_holds_placeholders_not_values(db_url: str) -> None:
    with db.connect(db_url) as conn:
        sql, params = dialect_of(conn).statement(
            "SELECT 1 WHERE :a IN :many", {"a": "O'Brien", "many": ["x", "O'Brien"]}
        )
    assert "O'Brien" not in sql and "'x'" not in sql
    values = list(params.values()) if isinstance(params, dict) else list(params)
    assert values == ["O'Brien", "x", "O'Brien"]


def test_rows_takes_question_marks_on_both(db_url: str) -> None:
    with db.connect(db_url) as conn:
        transfer.insert_arrow(conn, POOL, _pool(["P1", "P2"]))
        found = transfer.rows(
            conn, "SELECT person_id FROM pool_entries WHERE person_id = ? OR run_id = ?", ("P2", "")
        )
    assert [r[0] for r in found] == ["P2"]


def test_insert_on_conflict_does_nothing_the_second_time(db_url: str) -> None:
    with db.connect(db_url) as conn:
        table = cast(Table, Secret.__table__)
        for value in ("first", "second"):
            conn.execute(
                dialect_of(conn)
                .insert(table)
                .values(name="test_key", value=value, created_at=dt.datetime.now(dt.UTC))
                .on_conflict_do_nothing(index_elements=[table.c.name])
            )
        stored = conn.execute(select(Secret.value).where(Secret.name == "test_key")).all()
    assert stored == [("first",)]


def test_reserved_ids_are_skipped_by_the_next_row(db_url: str) -> None:
    with db.connect(db_url) as conn:
        transfer.insert_rows(conn, AUDIT, ("at", "actor", "action", "detail"), [_audit("x")])
        held = conn.execute(select(func.max(AuditLog.id))).scalar_one()
        first = dialect_of(conn).reserve_ids(conn, AUDIT, 3)
        assert first == held + 1
        transfer.insert_rows(
            conn,
            AUDIT,
            ("id", "at", "actor", "action", "detail"),
            [(first + i, *_audit(f"r{i}")) for i in range(3)],
        )
        transfer.insert_rows(conn, AUDIT, ("at", "actor", "action", "detail"), [_audit("next")])
        after = conn.execute(select(AuditLog.id).where(AuditLog.actor == "next")).scalar_one()
    assert after == first + 3


def _audit(actor: str) -> tuple[object, ...]:
    return (dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC), actor, "test", {"k": [1, "é"]})


def test_dates_are_taken_in_utc_on_both(db_url: str) -> None:
    late = literal(dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC), DateTime(timezone=True))
    early = literal(dt.datetime(2025, 12, 30, 1, 0, tzinfo=dt.UTC), DateTime(timezone=True))
    with db.connect(db_url) as conn:
        d = dialect_of(conn)
        month, day, days = conn.execute(
            select(d.month_of_timestamp(late), d.utc_day(late), d.days_between(late, early))
        ).one()
    assert (month, str(day), days) == ("2026-01", "2026-01-31", 32)


def test_json_array_items_and_length(db_url: str) -> None:
    with db.connect(db_url) as conn:
        transfer.insert_arrow(conn, POOL, _pool(["P1", "P2"]))
        d = dialect_of(conn)
        items = conn.execute(
            text(
                f"SELECT p.person_id, j.value FROM pool_entries p "
                f"{d.json_array_items('p.reasons', 'j')} ORDER BY j.value"
            )
        ).all()
        empty = conn.execute(
            text(f"SELECT person_id FROM pool_entries WHERE {d.json_array_length('reasons')} = 0")
        ).all()
        grouped = conn.execute(
            text(f"SELECT count(DISTINCT {d.json_text('reasons')}) FROM pool_entries")
        ).scalar_one()
    assert [tuple(r) for r in items] == [("P1", "a"), ("P1", "b")]
    assert [r[0] for r in empty] == ["P2"]
    assert grouped == 2


def test_a_few_rows_are_stored_as_bulk_insert_stores_many(db_url: str) -> None:
    columns = ("at", "actor", "action", "detail")
    with db.connect(db_url) as conn:
        transfer.insert_rows(conn, AUDIT, columns, [_audit("few")])
        transfer.bulk_insert(conn, AUDIT, columns, [_audit("many")] * 2)
        stored = conn.execute(
            text("SELECT DISTINCT CAST(at AS TEXT), CAST(detail AS TEXT) FROM audit_log")
        ).all()
        read = conn.execute(select(AuditLog.at, AuditLog.detail)).all()
    assert len(stored) == 1
    assert {(at.replace(tzinfo=dt.UTC), repr(detail)) for at, detail in read} == {
        (_audit("")[0], repr({"k": [1, "é"]}))
    }


def test_writers_lock_and_snapshot_run_on_both(db_url: str) -> None:
    with db.connect(db_url) as conn:
        d = dialect_of(conn)
        d.read_only_snapshot(conn)
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    with db.connect(db_url) as conn:
        dialect_of(conn).lock_writers(conn, 12345)
        dialect_of(conn).take_write_lock(conn)
        with dialect_of(conn).sequential_read(conn):
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0
