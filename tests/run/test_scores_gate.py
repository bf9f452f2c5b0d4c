"""The score gate: a score goes nowhere its match may not, and adverse use waits for a person."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from accord import gate, scores
from accord.compute import Workspace

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    Workspace(con).declare(*gate.INPUTS)
    for agreement_id, purpose, enforcement in (
        ("fraud", "fraud_enforcement", True),
        ("care", "safeguarding", False),
        ("both", "safeguarding", False),
    ):
        con.execute(
            "INSERT INTO agreements VALUES (?, 1, 'bank', ?, 'active', DATE '2026-01-01', "
            "DATE '2027-01-01', 0.999, 0.90, 0.05, 10.0, 0.001, true, [], ?, ['family_name'], [])",
            [agreement_id, purpose, enforcement],
        )
    # "both" also shares the matched record; the others share scores only.
    con.execute("INSERT INTO score_agreements VALUES ('fraud', false), ('care', false), "
                "('both', true)")  # fmt: skip
    con.execute("INSERT INTO protected VALUES ('health'), ('victim_or_witness')")
    return con


def person(con: duckdb.DuckDBPyConnection, pid: str, p: float, *, frozen: bool = False) -> None:
    con.execute(
        "INSERT INTO candidates VALUES (?, ?, 'bank', ?, NULL, NULL, NULL, 1, ?, NULL, ?, NULL)",
        [pid, f"R-{pid}", p, 1.0 - p, p],
    )
    con.execute(
        "INSERT INTO pool VALUES (?, DATE '2025-01-01', 'immigration_casework', true)", [pid]
    )
    for agreement_id in ("fraud", "care", "both"):
        con.execute(
            "INSERT INTO score_candidates VALUES (?, ?, ?, 'risk', 0.5, 'subject', "
            '\'{"inputs":["x"],"method":"m"}\', DATE \'2026-05-01\', DATE \'2027-05-01\')',
            [agreement_id, f"S-{pid}", pid],
        )
    if frozen:
        con.execute("INSERT INTO frozen VALUES (?)", [pid])


def decided(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[str, list[str]]]:
    ws = Workspace.over(con)
    ws.run(gate.decide_step(gate.GateSettings(AS_OF)))
    ws.run(gate.decide_scores_step())
    rows = con.execute(
        "SELECT agreement_id, person_id, outcome, reasons FROM score_gate"
    ).fetchall()
    return {(a, p): (o, r) for a, p, o, r in rows}


def test_enforcement_always_waits_and_other_purposes_follow_the_match(
    con: duckdb.DuckDBPyConnection,
) -> None:
    person(con, "auto", 0.9999)
    person(con, "unsure", 0.95)
    got = decided(con)
    assert got[("fraud", "auto")] == ("review", [scores.ADVERSE_USE])
    assert got[("care", "auto")] == ("disclose", [gate.AUTOMATIC])
    assert got[("care", "unsure")] == ("review", [gate.UNCERTAIN])
    assert got[("fraud", "unsure")] == ("review", [gate.UNCERTAIN, scores.ADVERSE_USE])
    kinds = {r[0] for r in con.execute("SELECT review_kind FROM score_gate").fetchall()}
    assert kinds == {scores.REVIEW_KIND}
    # Only "both" discloses the record itself; score-only agreements never do.
    shares = dict(con.execute("SELECT agreement_id, shares_records FROM gate").fetchall())
    assert shares == {"fraud": False, "care": False, "both": True}


def test_a_score_takes_its_matchs_block_or_hold(con: duckdb.DuckDBPyConnection) -> None:
    person(con, "frozen", 0.9999, frozen=True)
    person(con, "out", 0.9999)
    con.execute("UPDATE pool SET admitted = false WHERE person_id = 'out'")
    got = decided(con)
    for agreement_id in ("fraud", "care"):
        assert got[(agreement_id, "frozen")] == ("held", [gate.FROZEN])
        assert got[(agreement_id, "out")] == ("blocked", [gate.NOT_ADMITTED])


def test_approvals_settle_and_release_exactly_what_they_were_about(
    con: duckdb.DuckDBPyConnection,
) -> None:
    person(con, "p", 0.95)
    # The record under "both" was approved and disclosed; its score is still undecided.
    con.execute("INSERT INTO settled VALUES ('both', 'p', 'R-p', 'approved'), "
                "('both', 'p', 'R-p', 'disclosed')")  # fmt: skip
    con.execute("INSERT INTO approvals VALUES ('both', 'p', 'R-p', 'reviewers:c, d')")
    # The fraud score was approved; the care score's item was rejected.
    con.execute("INSERT INTO score_approved VALUES ('fraud', 'p', 'R-p', 'S-p', 'reviewers:a, b')")
    con.execute("INSERT INTO score_settled VALUES ('fraud', 'p', 'R-p', 'S-p', 'approved'), "
                "('care', 'p', 'R-p', 'S-p', 'rejected')")  # fmt: skip
    got = decided(con)
    record = con.execute("SELECT outcome FROM gate WHERE agreement_id = 'both'").fetchall()
    assert record == [("settled",)]  # one row: a disclosed, approved record is decided once
    assert got[("fraud", "p")] == (
        "disclose", [gate.UNCERTAIN, scores.ADVERSE_USE, gate.REVIEW_APPROVED],
    )  # fmt: skip
    assert got[("care", "p")][0] == "settled"
    # A person approved the match under "both": its non-adverse score may go.
    assert got[("both", "p")] == ("disclose", [gate.UNCERTAIN, gate.REVIEW_APPROVED])
    by = dict(con.execute("SELECT agreement_id, approved_by FROM score_gate").fetchall())
    assert by["fraud"] == "reviewers:a, b"  # who approved the score
    assert by["both"] == "reviewers:c, d"  # who approved the match it goes with
    # Once the fraud score is disclosed too, nothing is decided again.
    con.execute("INSERT INTO score_settled VALUES ('fraud', 'p', 'R-p', 'S-p', 'disclosed')")
    assert decided(con)[("fraud", "p")][0] == "settled"
