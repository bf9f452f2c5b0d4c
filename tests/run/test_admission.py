"""Admission to the pool: person state, the rules by kind, quarantine, manual checks, cleansing."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from sqlalchemy import Connection, func, select, update

from accord import formats
from accord.admission import admit, cleanse, derive_person_state, kept_out
from accord.cli import main
from accord.errors import InputError
from accord.formats.schema import CASES, Kind
from accord.store import db
from accord.store.models import (
    AuditLog,
    CaseDecision,
    Event,
    Person,
    PoolEntry,
    PoolHistory,
    ReviewItem,
)

AS_OF = dt.date(2026, 1, 1)
D = dt.date


def cases_table(rows: list[dict[str, Any]], extra: dict[str, list[str]] | None = None) -> pa.Table:
    """A cases table shaped as `accord.formats.load` returns it."""
    defaults = {
        "decision": "refusal",
        "family_name": "Doe",
        "given_names": "Jo",
        "decision_date": D(2020, 1, 1),
        "date_of_birth": D(1990, 1, 1),
        "refusal_reason": "eligibility",
        "appeal_status": "exhausted",
        "arrival_date": D(2015, 1, 1),
        "data_category": "immigration_casework",
    }
    cols: dict[str, pa.Array] = {"__row": pa.array(range(1, len(rows) + 1), pa.int64())}
    for c in CASES.columns:
        typ = pa.date32() if c.kind is Kind.DATE else pa.string()
        cols[c.name] = pa.array([r.get(c.name, defaults.get(c.name)) for r in rows], typ)
    for name, values in (extra or {}).items():
        cols[name] = pa.array(values, pa.string())
    return pa.table(cols)


# One person per rule, each as their case history: (person_id, rows, status, reasons)
KINDS: list[tuple[str, list[dict[str, Any]], str, list[str]]] = [
    ("overstayer", [{}], "admitted", []),
    (
        "granted_later",
        [{}, {"decision": "grant", "decision_date": D(2021, 1, 1), "leave": "indefinite"}],
        "excluded",
        ["no_adverse_decision", "current_leave"],
    ),
    (
        "limited_leave",
        [{"leave": "limited", "leave_expiry": D(2027, 1, 1)}],
        "excluded",
        ["current_leave"],
    ),
    (
        "expired_leave",
        [
            {
                "decision": "grant",
                "decision_date": D(2015, 1, 1),
                "leave": "limited",
                "leave_expiry": D(2018, 1, 1),
            },
            {},
        ],
        "admitted",
        [],
    ),
    ("fee", [{"refusal_reason": "fee_not_paid"}], "excluded", ["procedural_refusal"]),
    (
        "incomplete",
        [{"refusal_reason": "incomplete_application"}],
        "excluded",
        ["procedural_refusal"],
    ),
    ("invalid", [{"refusal_reason": "invalid_application"}], "excluded", ["procedural_refusal"]),
    ("pending", [{"appeal_status": "pending"}], "excluded", ["appeal_pending"]),
    ("in_time", [{"appeal_status": "in_time"}], "excluded", ["appeal_pending"]),
    ("allowed", [{"appeal_status": "allowed"}], "excluded", ["appeal_allowed"]),
    ("departed", [{"departure_date": D(2021, 3, 1)}], "excluded", ["departed"]),
    # No date of birth is no evidence either way for matching: not a reason to quarantine.
    ("no_dob", [{"date_of_birth": None}], "admitted", []),
    ("one_name", [{"family_name": None, "given_names": "Sukarno"}], "admitted", []),
    # Only a caller that skips validation can give a row no name at all.
    ("no_name", [{"family_name": None, "given_names": None}], "quarantined", ["missing_name"]),
    (
        "two_dobs",
        [
            {},
            {
                "decision": "curtailment",
                "decision_date": D(2021, 1, 1),
                "date_of_birth": D(1991, 1, 1),
            },
        ],
        "quarantined",
        ["contradictory_date_of_birth"],
    ),
    (
        "windrush",
        [
            {
                "arrival_date": D(1962, 4, 2),
                "date_of_birth": D(1958, 7, 30),
                "decision_date": D(2017, 10, 4),
            }
        ],
        "manual_check",
        ["arrived_before_1973", "long_residence"],
    ),
    ("long_resident", [{"arrival_date": D(1995, 1, 1)}], "manual_check", ["long_residence"]),
    ("granted_only", [{"decision": "grant", "leave": "indefinite"}], "", []),
    ("information_only", [{"decision": "information", "data_category": "education"}], "", []),
]


def kinds_table() -> pa.Table:
    rows = []
    for person, history, _, _ in KINDS:
        for i, r in enumerate(history):
            rows.append({"case_id": f"{person}-{i}", "person_id": person, **r})
    return cases_table(rows)


def pool(url: str) -> dict[str, tuple[str, list[str]]]:
    with db.connect(url) as conn:
        rows = conn.execute(select(PoolEntry.person_id, PoolEntry.status, PoolEntry.reasons)).all()
    return {p: (s, list(r)) for p, s, r in rows}


def count(url: str, model: Any) -> int:
    with db.connect(url) as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


# --- person state ---------------------------------------------------------------------------


def test_person_state_takes_each_fact_from_the_right_row() -> None:
    con = duckdb.connect()
    con.register(
        "cases",
        cases_table(
            [
                {
                    "case_id": "C1",
                    "person_id": "P",
                    "decision": "grant",
                    "decision_date": D(2010, 1, 1),
                    "leave": "limited",
                    "leave_expiry": D(2030, 1, 1),
                    "arrival_date": D(2009, 5, 1),
                    "postcode": "E1 1AA",
                    "nationality": "JAM",
                },
                {
                    "case_id": "C2",
                    "person_id": "P",
                    "decision_date": D(2019, 1, 1),
                    "refusal_reason": "suitability",
                    "appeal_status": "dismissed",
                    "leave": None,
                    "arrival_date": D(2011, 1, 1),
                    "departure_date": D(2012, 1, 1),
                    "postcode": None,
                    "date_of_birth": D(1990, 1, 2),
                },
                {
                    "case_id": "C3",
                    "person_id": "P",
                    "decision": "information",
                    "decision_date": D(2024, 1, 1),
                    "postcode": "OX1 2JD",
                    "data_category": "education",
                    "family_name": "Doe-Smith",
                },
                {
                    "case_id": "C4",
                    "person_id": "P",
                    "decision": "grant",
                    "decision_date": D(2027, 1, 1),
                    "leave": "citizen",
                },
            ]
        ),
    )
    con.execute(
        "CREATE TABLE ev AS SELECT 'P' AS person_id, 'departure_recorded' AS event_type, "
        "DATE '2025-06-01' AS event_date UNION ALL SELECT 'P', 'leave_granted', DATE '2027-01-01'"
    )
    derive_person_state(con, "cases", AS_OF, "ev")
    [row] = con.sql("SELECT * FROM person_state").fetchall()
    s = dict(
        zip([d[0] for d in con.sql("SELECT * FROM person_state").description], row, strict=True)
    )
    assert (s["latest_decision"], s["latest_decision_date"], s["decision_case_id"]) == (
        "refusal",
        D(2019, 1, 1),
        "C2",
    )  # the 2027 grant is after the as-of date
    assert (s["refusal_reason"], s["appeal_status"]) == ("suitability", "dismissed")
    assert (s["leave"], s["leave_expiry"]) == ("limited", D(2030, 1, 1))  # C2 records no leave
    assert s["arrival_date"] == D(2009, 5, 1)
    assert (s["postcode"], s["postcode_case_id"], s["postcode_category"]) == (
        "OX1 2JD",
        "C3",
        "education",
    )
    assert (s["family_name"], s["family_name_category"]) == ("Doe-Smith", "education")
    assert (s["nationality"], s["nationality_case_id"]) == ("JAM", "C1")
    assert (s["departure_date"], s["departures_before_decision"]) == (D(2025, 6, 1), 1)
    assert s["leave_granted_date"] is None  # dated after the as-of date
    assert (s["dob_distinct"], s["decisions"], s["adverse_decisions"]) == (2, 2, 1)


# --- admission by kind ------------------------------------------------------------------------


def test_each_rule_decides_its_kind_of_person(db_url: str) -> None:
    result = admit(db_url, AS_OF, "R1", cases=kinds_table())
    got = pool(db_url)
    for person, _, status, reasons in KINDS:
        if not status:
            assert person not in got, person
        else:
            assert got[person] == (status, reasons), person
    assert result.candidates == len([k for k in KINDS if k[2]])
    assert result.admitted == 4 and result.quarantined == 2 and result.manual_check == 2
    assert result.excluded == {
        "appeal_allowed": 1,
        "appeal_pending": 2,
        "current_leave": 2,
        "departed": 1,
        "no_adverse_decision": 1,
        "procedural_refusal": 3,
    }
    assert result.cases is not None and result.cases.inserted == kinds_table().num_rows
    assert count(db_url, Person) == len(KINDS)
    assert count(db_url, PoolHistory) == result.candidates


def test_people_keep_where_each_value_came_from(db_url: str) -> None:
    rows = [
        {"case_id": "C1", "person_id": "P", "postcode": "E8 3PN"},
        {
            "case_id": "C2",
            "person_id": "P",
            "decision": "information",
            "postcode": "OX1 2JD",
            "decision_date": D(2022, 1, 1),
            "data_category": "education",
        },
    ]
    admit(db_url, AS_OF, cases=cases_table(rows))
    with db.connect(db_url) as conn:
        person = conn.execute(
            select(Person.postcode, Person.provenance, Person.derived_as_of)
        ).one()
    assert person.postcode == "OX1 2JD" and person.derived_as_of == AS_OF
    assert person.provenance["postcode"] == {"case_id": "C2", "data_category": "education"}
    assert person.provenance["date_of_birth"] == {"case_id": "C2", "data_category": "education"}


def test_a_name_is_taken_whole_from_the_latest_row_that_records_one() -> None:
    """An empty part on that row is the person's one name, not a gap to fill from older rows."""
    con = duckdb.connect()
    histories: dict[str, list[tuple[str | None, str | None]]] = {
        # Recorded with two names, then (the latest row) with one: one name now.
        "later_one": [("Putra", "Budi"), (None, "Budi")],
        # One name written both ways round: never "Sukarno Sukarno".
        "both_ways": [(None, "Sukarno"), ("Sukarno", None)],
        # The latest row has no name at all (a caller that skipped validation): the older.
        "no_name_latest": [("Doe", "Jo"), (None, None)],
        "never_named": [(None, None)],
    }
    rows = [
        {
            "case_id": f"{person}-{i}",
            "person_id": person,
            "decision_date": D(2018 + i, 1, 1),
            "family_name": family,
            "given_names": given,
        }
        for person, names in histories.items()
        for i, (family, given) in enumerate(names)
    ]
    con.register("cases", cases_table(rows))
    derive_person_state(con, "cases", AS_OF)
    got = {
        p: (f, g, fc, gc)
        for p, f, g, fc, gc in con.sql(
            "SELECT person_id, family_name, given_names, family_name_case_id, "
            "given_names_case_id FROM person_state"
        ).fetchall()
    }
    assert got["later_one"] == (None, "Budi", "later_one-1", "later_one-1")
    assert got["both_ways"] == ("Sukarno", None, "both_ways-1", "both_ways-1")
    assert got["no_name_latest"] == ("Doe", "Jo", "no_name_latest-0", "no_name_latest-0")
    assert got["never_named"] == (None, None, None, None)


def test_a_person_with_one_name_is_held_with_one_name(db_url: str) -> None:
    rows = [
        {"case_id": "C1", "person_id": "M", "family_name": None, "given_names": "Sukarno"},
        {"case_id": "C2", "person_id": "N", "family_name": "Haile", "given_names": None},
    ]
    admit(db_url, AS_OF, cases=cases_table(rows))
    with db.connect(db_url) as conn:
        people = {
            p.person_id: p
            for p in conn.execute(
                select(Person.person_id, Person.family_name, Person.given_names, Person.provenance)
            )
        }
        held = dict(conn.execute(select(CaseDecision.case_id, CaseDecision.family_name)).all())
    assert (people["M"].family_name, people["M"].given_names) == (None, "Sukarno")
    assert (people["N"].family_name, people["N"].given_names) == ("Haile", None)
    assert people["M"].provenance["family_name"] == "C1"  # C1 records no family name
    assert held == {"C1": None, "C2": "Haile"}
    assert pool(db_url) == {"M": ("admitted", []), "N": ("admitted", [])}


def test_a_value_from_ordinary_casework_is_named_by_its_case_id_alone(db_url: str) -> None:
    rows = [
        {"case_id": "C1", "person_id": "P", "postcode": "E8 3PN"},
        {"case_id": "C2", "person_id": "P", "decision_date": D(2021, 1, 1)},
    ]
    admit(db_url, AS_OF, cases=cases_table(rows))
    with db.connect(db_url) as conn:
        provenance = conn.execute(select(Person.provenance)).scalar_one()
    assert provenance["postcode"] == "C1"
    assert provenance["family_name"] == "C2" and provenance["date_of_birth"] == "C2"
    assert provenance["nationality"] is None  # no row gives one


def test_people_are_brought_up_to_date_on_a_later_admission(db_url: str) -> None:
    admit(db_url, AS_OF, cases=kinds_table())
    grant = cases_table(
        [
            {
                "case_id": "fee-g",
                "person_id": "fee",
                "decision": "grant",
                "decision_date": D(2026, 2, 1),
                "leave": "indefinite",
            }
        ]
    )
    later = D(2026, 3, 1)
    admit(db_url, later, cases=grant)
    with db.connect(db_url) as conn:
        people = {
            p.person_id: p
            for p in conn.execute(
                select(Person.person_id, Person.latest_decision, Person.derived_as_of)
            ).all()
        }
    assert people["fee"].latest_decision == "grant"
    assert people["overstayer"].latest_decision == "refusal"
    assert {p.derived_as_of for p in people.values()} == {later}
    assert len(people) == len(KINDS)


def test_protected_cohorts_are_queued_once_for_two_reviewers(db_url: str) -> None:
    admit(db_url, AS_OF, "R1", cases=kinds_table())
    admit(db_url, AS_OF, "R2", cases=kinds_table())
    with db.connect(db_url) as conn:
        items = conn.execute(
            select(
                ReviewItem.item_id,
                ReviewItem.person_id,
                ReviewItem.kind,
                ReviewItem.approvals_needed,
                ReviewItem.status,
                ReviewItem.reason,
                ReviewItem.run_id,
            ).order_by(ReviewItem.item_id)
        ).all()
    assert [(i.item_id, i.kind, i.approvals_needed, i.status, i.run_id) for i in items] == [
        ("MC-long_resident", "manual_check", 2, "open", "R1"),
        ("MC-windrush", "manual_check", 2, "open", "R1"),
    ]
    assert "two reviewers" in items[1].reason and "Arrived before 1973" in items[1].reason


def decide_item(url: str, item_id: str, status: str) -> None:
    """What the review queue does once two reviewers have decided (issue of the lead)."""
    with db.connect(url) as conn:
        conn.execute(update(ReviewItem).where(ReviewItem.item_id == item_id).values(status=status))


def test_an_approved_manual_check_admits_and_a_rejected_one_excludes(db_url: str) -> None:
    admit(db_url, AS_OF, cases=kinds_table())
    decide_item(db_url, "MC-windrush", "approved")
    decide_item(db_url, "MC-long_resident", "rejected")
    result = admit(db_url, AS_OF)
    got = pool(db_url)
    assert got["windrush"] == ("admitted", ["manual_check_approved"])
    assert got["long_resident"] == ("excluded", ["manual_check_rejected"])
    assert result.manual_checks_queued == 0
    assert count(db_url, ReviewItem) == 2


def test_an_approved_manual_check_does_not_override_bad_identity_data(db_url: str) -> None:
    rows = [
        {"case_id": "C1", "person_id": "W", "arrival_date": D(1960, 1, 1)},
        {
            "case_id": "C2",
            "person_id": "W",
            "arrival_date": D(1960, 1, 1),
            "decision_date": D(2021, 1, 1),
            "date_of_birth": D(1991, 1, 1),
        },
    ]
    admit(db_url, AS_OF, cases=cases_table(rows))
    assert pool(db_url)["W"] == (
        "manual_check",
        ["arrived_before_1973", "long_residence", "contradictory_date_of_birth"],
    )
    decide_item(db_url, "MC-W", "approved")
    admit(db_url, AS_OF)
    assert pool(db_url)["W"] == (
        "quarantined",
        ["contradictory_date_of_birth", "manual_check_approved"],
    )


def test_a_rerun_with_the_same_cases_changes_nothing(db_url: str) -> None:
    first = admit(db_url, AS_OF, "R1", cases=kinds_table())
    history = count(db_url, PoolHistory)
    again = admit(db_url, AS_OF, "R2", cases=kinds_table())
    assert again.cases is not None and (again.cases.inserted, again.cases.unchanged) == (
        0,
        kinds_table().num_rows,
    )
    assert again.changed == 0 and again.summary() == first.summary() | {"manual_checks_queued": 0}
    assert count(db_url, PoolHistory) == history
    assert count(db_url, CaseDecision) == kinds_table().num_rows


def test_a_held_case_decision_cannot_change(db_url: str) -> None:
    admit(db_url, AS_OF, cases=kinds_table())
    changed = kinds_table().to_pylist()
    changed[3]["appeal_status"] = "allowed"
    with pytest.raises(InputError) as exc:
        admit(
            db_url,
            AS_OF,
            cases=pa.Table.from_pylist(changed, kinds_table().schema),
            source="cases.csv",
        )
    p = exc.value.problems[0]
    assert (p.file, p.row, p.column) == ("cases.csv", 4, "appeal_status")
    assert "is already recorded with appeal_status 'exhausted'" in p.message


def test_conflicting_rows_in_one_file_are_refused_and_nothing_is_written(db_url: str) -> None:
    rows = [{"case_id": "C1", "person_id": "P"}, {"case_id": "C1", "person_id": "Q"}]
    with pytest.raises(InputError, match="row 2, column person_id: case C1 is given at row 1"):
        admit(db_url, AS_OF, cases=cases_table(rows))
    assert count(db_url, CaseDecision) == 0 and count(db_url, PoolEntry) == 0


def test_a_cases_table_missing_a_required_column_is_refused(db_url: str) -> None:
    table = cases_table([{"case_id": "C1", "person_id": "P"}]).drop_columns(["decision"])
    with pytest.raises(InputError, match="column decision: required column is missing"):
        admit(db_url, AS_OF, cases=table)


def test_extra_columns_are_kept(db_url: str) -> None:
    table = cases_table([{"case_id": "C1", "person_id": "P"}], extra={"office": ["Croydon"]})
    admit(db_url, AS_OF, cases=table)
    with db.connect(db_url) as conn:
        assert conn.execute(select(CaseDecision.extra)).scalar_one() == {"office": "Croydon"}


def test_someone_admitted_who_no_longer_qualifies_is_withdrawn(db_url: str) -> None:
    admit(db_url, AS_OF, "R1", cases=kinds_table())
    grant = cases_table(
        [
            {
                "case_id": "overstayer-g",
                "person_id": "overstayer",
                "decision": "grant",
                "decision_date": D(2025, 6, 1),
                "leave": "indefinite",
            }
        ]
    )
    result = admit(db_url, AS_OF, "R2", cases=grant)
    assert result.withdrawn == [("overstayer", "no_adverse_decision,current_leave")]
    assert pool(db_url)["overstayer"] == ("withdrawn", ["no_adverse_decision", "current_leave"])
    with db.connect(db_url) as conn:
        history = conn.execute(
            select(PoolHistory.status, PoolHistory.run_id)
            .where(PoolHistory.person_id == "overstayer")
            .order_by(PoolHistory.id)
        ).all()
    assert [tuple(h) for h in history] == [("admitted", "R1"), ("withdrawn", "R2")]


def test_an_upheld_challenge_keeps_a_person_out(db_url: str) -> None:
    admit(db_url, AS_OF, cases=kinds_table())
    with db.connect(db_url) as conn:
        conn.execute(
            ReviewItem.__table__.insert().values(
                item_id="EV-1",
                kind="re_review",
                person_id="overstayer",
                reason="new evidence",
                status="rejected",
                approvals_needed=1,
                detail={},
            )
        )
    admit(db_url, AS_OF)
    assert pool(db_url)["overstayer"] == ("withdrawn", ["re_review_upheld"])


# --- cleansing ----------------------------------------------------------------------------------


def add_events(url: str, events: list[tuple[str, str, str, dt.date]]) -> None:
    with db.connect(url) as conn:
        db.bulk_insert(
            conn,
            Event.__table__,  # type: ignore[arg-type]
            ("event_id", "person_id", "event_type", "event_date", "detail", "applied_at"),
            [(e, p, t, d, None, dt.datetime.now(dt.UTC)) for e, p, t, d in events],
        )


def test_cleansing_after_leave_granted_withdraws_that_person_with_the_reason(db_url: str) -> None:
    admit(db_url, AS_OF, cases=kinds_table())
    add_events(
        db_url,
        [
            ("E1", "overstayer", "leave_granted", D(2026, 2, 1)),
            ("E2", "fee", "leave_granted", D(2026, 2, 1)),
        ],
    )
    before = pool(db_url)
    seen: list[list[tuple[str, str]]] = []

    def recall(conn: Connection, withdrawn: list[tuple[str, str]]) -> int:
        seen.append(withdrawn)
        return 0

    assert cleanse(db_url, D(2026, 1, 15), "auditor") == []  # the event is later than that
    withdrawn = cleanse(db_url, D(2026, 3, 1), "auditor", on_withdrawn=recall)
    assert withdrawn == [("overstayer", "leave_granted")] and seen == [withdrawn]
    after = pool(db_url)
    assert after["overstayer"] == ("withdrawn", ["leave_granted"])
    assert {p: v for p, v in after.items() if p != "overstayer"} == {
        p: v for p, v in before.items() if p != "overstayer"
    }  # only the admitted are re-checked
    with db.connect(db_url) as conn:
        log = conn.execute(
            select(AuditLog.actor, AuditLog.person_id, AuditLog.detail).where(
                AuditLog.action == "pool_withdrawn"
            )
        ).all()
    assert [(a, p, d["reasons"]) for a, p, d in log] == [
        ("auditor", "overstayer", ["leave_granted"])
    ]


def test_cleansing_withdraws_on_departure_and_overturning_events(db_url: str) -> None:
    rows = [{"case_id": f"C{p}", "person_id": p} for p in ("A", "B", "C")]
    admit(db_url, AS_OF, cases=cases_table(rows))
    add_events(
        db_url,
        [
            ("E1", "A", "departure_recorded", D(2026, 2, 1)),
            ("E2", "B", "decision_overturned", D(2026, 2, 1)),
        ],
    )
    assert cleanse(db_url, D(2026, 3, 1), "auditor") == [
        ("A", "departed"),
        ("B", "decision_overturned"),
    ]
    assert pool(db_url)["C"] == ("admitted", [])


# --- the command line ---------------------------------------------------------------------------


def test_admit_and_cleanse_cli(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cases.csv"
    named = kinds_table().filter(pc.field("person_id") != "no_name")  # a file needs a name
    pacsv.write_csv(named.drop_columns(["__row"]), path)
    out = tmp_path / "out"
    args = [
        "admit",
        "--cases",
        str(path),
        "--as-of",
        "2026-01-01",
        "--out",
        str(out),
        "--database",
        db_url,
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "admitted 4, quarantined 1, manual check 2, excluded 9" in printed
    assert "excluded procedural_refusal: 3" in printed
    with (out / "excluded.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {"person_id": "fee", "reason": "procedural_refusal"} in rows
    assert {"person_id": "windrush", "reason": "arrived_before_1973"} in rows
    kept_out_people = {p for p, _, s, _ in KINDS if s and s != "admitted"} - {"no_name"}
    assert {r["person_id"] for r in rows} == kept_out_people
    assert sorted(rows, key=lambda r: (r["person_id"], r["reason"])) == sorted(
        ({"person_id": p, "reason": r} for p, _, r in kept_out(db_url)),
        key=lambda r: (r["person_id"], r["reason"]),
    )
    add_events(db_url, [("E1", "overstayer", "leave_granted", D(2026, 2, 1))])
    assert main(["cleanse", "--as-of", "2026-03-01", "--by", "auditor", "--database", db_url]) == 0
    assert "withdrawn overstayer: leave_granted" in capsys.readouterr().out


def test_admit_cli_reports_a_bad_cases_file_in_one_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("case_id,person_id\nC1,P1\n")
    assert main(["admit", "--cases", str(path), "--database", db_url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required column is missing" in err


# --- against the synthetic scenario's truth ----------------------------------------------


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    synth = pytest.importorskip("accord.synth")
    out = tmp_path_factory.mktemp("scenario")
    mix = synth.Mix().with_kinds(
        {"windrush": 0.02, "procedural_refusal": 0.02, "appeal_pending": 0.02, "overturned": 0.02}
    )
    synth.synthesise(out, 3000, 17, AS_OF, mix)
    return out


def test_admission_against_the_truth_of_a_synthetic_scenario(db_url: str, scenario: Path) -> None:
    admit(db_url, AS_OF, "synth", cases=formats.load(scenario / "cases.csv", "cases"))
    con = duckdb.connect()
    got = pool(db_url)
    con.register(
        "pool",
        pa.table(
            {
                "person_id": list(got),
                "status": [s for s, _ in got.values()],
                "reasons": [",".join(r) for _, r in got.values()],
            }
        ),
    )
    rows = con.sql(
        f"SELECT t.kind, t.arrived_before_1973, t.quality_fault, p.status, p.reasons "
        f"FROM read_csv('{scenario / 'truth' / 'people.csv'}', all_varchar=true) t "
        "LEFT JOIN pool p USING (person_id)"
    ).fetchall()
    by_kind: dict[str, set[str | None]] = {}
    for kind, _, _, status, _ in rows:
        by_kind.setdefault(kind, set()).add(status)
    for kind in ("has_leave", "procedural_refusal", "appeal_pending", "departed"):
        assert "admitted" not in by_kind[kind], kind
    assert by_kind["procedural_refusal"] - {"excluded"} == set()
    assert by_kind["appeal_pending"] - {"excluded"} == set()
    before_1973 = [r for r in rows if r[1] == "true"]
    assert before_1973 and all(r[3] == "manual_check" for r in before_1973)
    assert all(r[3] == "manual_check" for r in rows if r[0] == "windrush")
    # Two dates of birth quarantine; none at all does not (no evidence either way).
    conflicting = [r for r in rows if r[0] == "overstayer" and r[2] == "conflicting_dob"]
    assert conflicting and all(r[3] == "quarantined" for r in conflicting)
    clean = [r for r in rows if r[0] == "overstayer" and r[2] != "conflicting_dob"]
    assert any(r[2] == "no_dob" for r in clean)
    assert clean and all(r[3] == "admitted" for r in clean)


def test_cleansing_the_synthetic_pool_after_its_events(db_url: str, scenario: Path) -> None:
    admit(db_url, AS_OF, "synth", cases=formats.load(scenario / "cases.csv", "cases"))
    events = formats.load(scenario / "events.csv", "events").to_pylist()
    add_events(
        db_url, [(e["event_id"], e["person_id"], e["event_type"], e["event_date"]) for e in events]
    )
    last = max(e["event_date"] for e in events)
    withdrawn = dict(cleanse(db_url, last, "auditor"))
    admitted = {p for p, (s, _) in pool(db_url).items() if s == "admitted"}
    for e in events:
        expected = {
            "leave_granted": "leave_granted",
            "decision_overturned": "decision_overturned",
            "departure_recorded": "departed",
        }.get(e["event_type"])
        if expected and e["person_id"] in withdrawn:
            assert expected in withdrawn[e["person_id"]].split(",")
        if expected:
            assert e["person_id"] not in admitted
    assert any(r == "leave_granted" for r in withdrawn.values())
    assert json.dumps(withdrawn)  # reasons are plain codes
