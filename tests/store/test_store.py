"""`accord init` and the migration chain, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from accord.cli import main
from accord.store import db
from accord.store.models import Base


def _schema(url: str) -> dict[str, set[str]]:
    with db.connect(url) as conn:
        insp = inspect(conn)
        return {
            t: {c["name"] for c in insp.get_columns(t)}
            for t in insp.get_table_names()
            if t != "alembic_version"
        }


def test_init_creates_the_models_schema_and_is_idempotent(empty_db_url: str, capsys) -> None:
    assert main(["init", "--database", empty_db_url]) == 0
    assert "schema created" in capsys.readouterr().out
    expected = {t.name: {c.name for c in t.columns} for t in Base.metadata.sorted_tables}
    assert _schema(empty_db_url) == expected
    assert main(["init", "--database", empty_db_url]) == 0
    assert "already current" in capsys.readouterr().out
    assert db.current_revision(empty_db_url) == db.head_revision()


def test_init_upgrades_a_database_at_an_older_migration(empty_db_url: str, capsys) -> None:
    from alembic.script import ScriptDirectory

    revisions = list(ScriptDirectory.from_config(db.alembic_config()).walk_revisions())
    oldest = revisions[-1].revision
    db.upgrade(empty_db_url, oldest)
    assert db.current_revision(empty_db_url) == oldest
    assert main(["init", "--database", empty_db_url]) == 0
    printed = capsys.readouterr().out
    if len(revisions) > 1:
        assert f"upgraded from {oldest}" in printed
    assert db.current_revision(empty_db_url) == db.head_revision()


def test_an_unreachable_database_is_one_line_and_exit_2(capsys) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    assert main(["init", "--database", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("accord: cannot reach database") and err.count("\n") == 1


def test_a_database_without_schema_is_refused(empty_db_url: str) -> None:
    import pytest

    from accord.errors import DatabaseUnavailable

    with pytest.raises(DatabaseUnavailable, match="accord init"):
        db.require_schema(empty_db_url)


def test_bulk_insert_round_trips_through_the_orm(db_url: str) -> None:
    import datetime as dt

    from sqlalchemy import select

    from accord.store.models import AuditLog, CaseDecision

    rows = [
        (f"C{i}", f"P{i}", "O'Brien-Ñúñez", "Zoë 李", dt.date(1980, 1, i % 28 + 1), "refusal",
         dt.date(2020, 2, 2), "immigration_casework", {"k": i})
        for i in range(500)
    ]  # fmt: skip
    cols = ["case_id", "person_id", "family_name", "given_names", "date_of_birth", "decision",
            "decision_date", "data_category", "extra"]  # fmt: skip
    with db.connect(db_url) as conn:
        assert db.bulk_insert(conn, CaseDecision.__table__, cols, rows) == 500  # type: ignore[arg-type]
        db.bulk_insert(
            conn,
            AuditLog.__table__,
            ["actor", "action", "detail", "at"],  # type: ignore[arg-type]
            [("t", "x", {"a": [1]}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))],
        )
    with db.session(db_url) as s:
        got = s.scalars(select(CaseDecision).order_by(CaseDecision.case_id)).all()
        assert len(got) == 500
        first = s.get(CaseDecision, "C7")
        assert first is not None
        assert first.family_name == "O'Brien-Ñúñez" and first.given_names == "Zoë 李"
        assert first.date_of_birth == dt.date(1980, 1, 8) and first.extra == {"k": 7}
        log = s.scalars(select(AuditLog)).one()
        assert log.detail == {"a": [1]} and log.at.year == 2026


def test_migrations_match_the_models_exactly(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.connect(db_url) as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_every_migration_downgrades_to_an_empty_database_and_up_again(
    empty_db_url: str,
) -> None:
    from alembic import command

    expected = {t.name: {c.name for c in t.columns} for t in Base.metadata.sorted_tables}
    db.upgrade(empty_db_url)
    with db.connect(empty_db_url) as conn:
        command.downgrade(db.alembic_config(conn), "base")
    assert _schema(empty_db_url) == {}
    assert db.current_revision(empty_db_url) is None
    db.upgrade(empty_db_url)
    assert _schema(empty_db_url) == expected
