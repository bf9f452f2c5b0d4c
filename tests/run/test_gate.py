"""The gate decides every (candidate, agreement) with all its reasons; precedence holds."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from accord import gate
from accord.compute import Workspace

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    Workspace(con).declare(*gate.INPUTS)
    con.execute(
        "INSERT INTO agreements VALUES ('dvla-1', 3, 'dvla', 'immigration_enforcement', "
        "'active', DATE '2026-01-01', DATE '2027-01-01', 0.999, 0.90, 0.05, 10.0, 0.001, "
        "true, ['age_over_30'], true, ['family_name'], [])"
    )
    con.execute("INSERT INTO protected VALUES ('health'), ('education'), ('victim_or_witness')")
    return con


def candidate(
    con: duckdb.DuckDBPyConnection,
    person: str,
    p: float,
    *,
    record: str | None = None,
    since: str | None = None,
    second_person: float | None = None,
    second_record: float | None = None,
    rival_gap: float | None = None,
    wrong_person: float | None = None,
    pair: float | None = None,
    admitted: bool = True,
    decided: str = "2025-01-01",
    category: str = "immigration_casework",
) -> None:
    con.execute(
        "INSERT INTO candidates VALUES (?, ?, 'dvla', ?, ?, ?, ?, NULL, ?, ?, ?, NULL)",
        [
            person,
            record or f"R-{person}",
            p,
            since,
            second_person,
            second_record,
            1.0 - p if wrong_person is None else wrong_person,
            rival_gap,
            pair,
        ],
    )
    con.execute("INSERT INTO pool VALUES (?, ?, ?, ?)", [person, decided, category, admitted])


def decided(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, list[str], str | None]]:
    Workspace.over(con).run(gate.decide_step(gate.GateSettings(AS_OF)))
    rows = con.execute("SELECT person_id, outcome, reasons, review_kind FROM gate").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_thresholds_and_ambiguity(con: duckdb.DuckDBPyConnection) -> None:
    candidate(con, "auto", 0.9995)
    candidate(con, "uncertain", 0.95)
    candidate(con, "below", 0.5)
    # The chance is low (a crowded register), but the two records' own comparison is
    # strong: a person looks at it.
    candidate(con, "strong-pair", 0.5, pair=0.995)
    candidate(con, "weak-pair", 0.5, pair=0.6)
    # A rival within 10 bits of the best pair: ambiguous, however sure the best one is.
    candidate(con, "twin", 0.9995, rival_gap=3.0)
    candidate(con, "clear-rival", 0.9999, rival_gap=12.0, second_person=0.0001)
    # The agreement's margin of 0.05 on the chances, shared out among the candidates.
    candidate(con, "near-tie", 0.5, second_record=0.47, rival_gap=20.0, pair=0.95)
    candidate(con, "no-tie", 0.99, second_record=0.009, rival_gap=20.0)
    got = decided(con)
    assert got["auto"] == ("disclose", [gate.AUTOMATIC], None)
    assert got["uncertain"] == ("review", [gate.UNCERTAIN], gate.UNCERTAIN)
    assert "below" not in got and "weak-pair" not in got
    assert got["strong-pair"] == ("review", [gate.UNCERTAIN], gate.UNCERTAIN)
    assert got["twin"] == ("review", [gate.AMBIGUOUS], gate.AMBIGUOUS)
    assert got["clear-rival"][0] == "disclose"
    assert got["near-tie"] == ("review", [gate.AMBIGUOUS, gate.UNCERTAIN], gate.AMBIGUOUS)
    assert got["no-tie"] == ("review", [gate.UNCERTAIN], gate.UNCERTAIN)


def test_the_chance_of_the_wrong_person_has_the_agreements_tolerance(
    con: duckdb.DuckDBPyConnection,
) -> None:
    candidate(con, "sure", 0.9999, wrong_person=0.0001)
    candidate(con, "not-sure-enough", 0.9995, wrong_person=0.0005)
    got = decided(con)
    assert got["sure"][0] == "disclose" and got["not-sure-enough"][0] == "disclose"
    con.execute("UPDATE agreements SET wrong_person_tolerance = 0.0002")  # max_wrong_person
    got = decided(con)
    assert got["sure"][0] == "disclose"
    assert got["not-sure-enough"] == ("review", [gate.UNCERTAIN], gate.UNCERTAIN)


def test_long_residence_goes_to_review_even_when_certain(con: duckdb.DuckDBPyConnection) -> None:
    candidate(con, "since-1979", 0.99999, since="1979-05-02", decided="2017-10-04")
    candidate(con, "since-2000", 0.99999, since="2000-05-02", decided="2017-10-04")
    got = decided(con)
    assert got["since-1979"] == ("review", [gate.LONG_RESIDENCE], gate.LONG_RESIDENCE)
    assert got["since-2000"][0] == "disclose"


def test_blocks_beat_holds_beat_reviews_and_keep_every_reason(
    con: duckdb.DuckDBPyConnection,
) -> None:
    candidate(con, "old-and-frozen", 0.95)
    con.execute("INSERT INTO cohorts VALUES ('old-and-frozen', 'age_over_30')")
    con.execute("INSERT INTO frozen VALUES ('old-and-frozen')")
    candidate(con, "frozen", 0.95)
    con.execute("INSERT INTO frozen VALUES ('frozen')")
    candidate(con, "from-school", 0.9999, category="education")
    candidate(con, "not-admitted", 0.9999, admitted=False)
    got = decided(con)
    assert got["old-and-frozen"] == (
        "blocked",
        [gate.COHORT_EXCLUDED, gate.FROZEN, gate.UNCERTAIN],
        gate.UNCERTAIN,
    )
    assert got["frozen"] == ("held", [gate.FROZEN, gate.UNCERTAIN], gate.UNCERTAIN)
    assert got["from-school"] == ("blocked", [gate.FIREWALL], None)
    assert got["not-admitted"] == ("blocked", [gate.NOT_ADMITTED], None)


def test_pauses_hold_the_whole_agreement_or_exactly_a_cohort(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("UPDATE agreements SET exclude_cohorts = []")
    candidate(con, "young", 0.9999)
    candidate(con, "older", 0.9999)
    con.execute("INSERT INTO cohorts VALUES ('older', 'age_over_30')")
    con.execute("INSERT INTO pauses VALUES ('dvla-1', 'age_over_30')")
    got = decided(con)
    assert got["older"] == ("held", [gate.COHORT_PAUSED], None)
    assert got["young"][0] == "disclose"
    con.execute("DELETE FROM pauses")
    con.execute("INSERT INTO pauses VALUES ('dvla-1', NULL)")
    got = decided(con)
    assert {k: v[0] for k, v in got.items()} == {"young": "held", "older": "held"}
    assert got["young"][1] == [gate.AGREEMENT_PAUSED]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("status = 'draft'", gate.AGREEMENT_NOT_ACTIVE),
        ("valid_from = DATE '2026-07-01'", gate.AGREEMENT_NOT_YET_VALID),
        ("review_by = DATE '2026-05-31'", gate.AGREEMENT_REVIEW_OVERDUE),
    ],
)
def test_an_agreement_not_in_force_blocks(
    con: duckdb.DuckDBPyConnection, change: str, reason: str
) -> None:
    con.execute(f"UPDATE agreements SET {change}")
    candidate(con, "p", 0.9999)
    assert decided(con)["p"] == ("blocked", [reason], None)


def test_settled_candidates_are_never_decided_twice(con: duckdb.DuckDBPyConnection) -> None:
    for person in ("done", "queued", "rejected", "approved"):
        candidate(con, person, 0.95)
    con.execute(
        "INSERT INTO settled VALUES ('dvla-1', 'done', 'R-done', 'disclosed'), "
        "('dvla-1', 'queued', 'R-queued', 'open'), "
        "('dvla-1', 'rejected', 'R-rejected', 'rejected'), "
        "('dvla-1', 'approved', 'R-approved', 'approved')"
    )
    con.execute(
        "INSERT INTO approvals VALUES ('dvla-1', 'approved', 'R-approved', 'reviewers:ann, bo')"
    )
    got = decided(con)
    assert {k: v[0] for k, v in got.items()} == {
        "done": "settled",
        "queued": "settled",
        "rejected": "settled",
        "approved": "disclose",
    }
    assert got["approved"][1] == [gate.UNCERTAIN, gate.REVIEW_APPROVED]
    approvers = dict(con.execute("SELECT person_id, approved_by FROM gate").fetchall())
    assert approvers == {
        "done": None,
        "queued": None,
        "rejected": None,
        "approved": "reviewers:ann, bo",
    }
