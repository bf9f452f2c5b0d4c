"""The person file (`accord.personfile`): what it reads of each table, and of whom."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from accord import personfile
from accord.store import db
from accord.store.models import Base, CaseDecision, Disclosure, Event, Freeze, PoolHistory

# The people API shows these whole: their row types read every column, in table order.
WHOLE = {
    personfile.PersonRow: "people",
    personfile.CaseRow: "case_decisions",
    personfile.PoolEntryRow: "pool_entries",
    personfile.PoolChangeRow: "pool_history",
}
PART_TABLES = {
    "matches": "matches",
    "review_items": "review_items",
    "review_decisions": "review_decisions",
    "disclosures": "disclosures",
    "agreement_versions": "agreement_versions",
    "recalls": "recalls",
    "actions": "recipient_actions",
    "events": "events",
    "freezes": "freezes",
    "scores": "derived_scores",
    "destroyed": "destruction_log",
    "firewall": "firewall_refusals",
}


def _columns(table: str) -> tuple[str, ...]:
    return tuple(c.name for c in Base.metadata.tables[table].columns)


def test_whole_rows_read_every_column_of_their_table_in_order() -> None:
    for row, table in WHOLE.items():
        assert personfile.names(row) == _columns(table), table


def test_every_other_row_reads_columns_of_its_table_in_table_order() -> None:
    hints = {f.name: f.type for f in personfile.dataclasses.fields(personfile.PersonFile)}
    for part, table in PART_TABLES.items():
        row = getattr(personfile, str(hints[part]).removeprefix("tuple[").split(",")[0])
        read = personfile.names(row)
        in_table = [c for c in _columns(table) if c in read]
        assert list(read) == in_table, (part, set(read) - set(in_table))


def test_an_unknown_id_gives_an_empty_file(db_url: str) -> None:
    with db.connect(db_url) as conn:
        found = personfile.read(conn, "P-NOBODY")
    assert not found.known and not found.frozen and found.person is None
    assert found.cases == () and found.disclosures == () and found.pool is None


def test_the_file_holds_only_the_persons_rows_in_reading_order(db_url: str) -> None:
    at = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    with db.connect(db_url) as conn:
        for case_id, person, day in (("C-2", "P-1", 2), ("C-1", "P-1", 2), ("C-3", "P-2", 1)):
            conn.execute(
                insert(CaseDecision).values(
                    case_id=case_id, person_id=person, decision="refused",
                    decision_date=dt.date(2025, 1, day),
                )
            )  # fmt: skip
        for n, person in enumerate(("P-1", "P-2", "P-1")):
            conn.execute(
                insert(PoolHistory).values(
                    person_id=person, status="admitted", reasons=[], as_of=dt.date(2025, 2, 1),
                    at=at + dt.timedelta(minutes=10 - n),
                )
            )  # fmt: skip
        conn.execute(
            insert(Event).values(
                event_id="E-1", person_id="P-1", event_type="dispute_opened",
                event_date=dt.date(2025, 3, 1), applied_at=at,
            )
        )  # fmt: skip
        conn.execute(insert(Freeze).values(person_id="P-1", reason="dispute", opened_at=at))
        conn.execute(
            insert(Disclosure).values(
                disclosure_id="D-1", agreement_id="a", agreement_version=1, recipient="r",
                record_id="R-1", person_id="P-2", match_probability=0.99, decided_by="rule:auto",
                fields={}, disclosed_at=at, ledger_index=0,
            )
        )  # fmt: skip
    with db.connect(db_url) as conn:
        found = personfile.read(conn, "P-1")
    assert found.known and found.frozen
    assert [c.case_id for c in found.cases] == ["C-1", "C-2"]  # by date, then case id
    assert [h.at for h in found.pool_history] == sorted(h.at for h in found.pool_history)
    assert {h.person_id for h in found.pool_history} == {"P-1"}
    assert found.pool_history[0].at.tzinfo is dt.UTC and found.freezes[0].opened_at == at
    assert [e.event_id for e in found.events] == ["E-1"] and found.disclosures == ()
    as_api = personfile.as_dict(found.cases[0], ("case_id", "decision"))
    assert as_api == {"case_id": "C-1", "decision": "refused"}
