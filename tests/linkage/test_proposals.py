"""Proposals change automation only with two different people's approval; trusted patterns
reach the gate only as approved, and the gate waives nothing but uncertainty for them.

The whole loop on a synthetic scenario (labels, evaluation, proposal, approvals, runs) is
tests/linkage/test_labels_loop.py; these are its parts, each on its own and fast.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from reviewers import as_reviewer, token_file
from sqlalchemy import func, insert, select, update

from accord import gate
from accord.cli import main
from accord.compute import Workspace
from accord.errors import AccordError
from accord.ledger import log
from accord.linkage import labels as lab
from accord.linkage import proposals
from accord.policy.agreement import parse_agreement
from accord.policy.registry import store_agreements, stored_agreements
from accord.store import db
from accord.store.models import (
    AuditLog,
    LedgerLeaf,
    Match,
    Proposal,
    ProposalDecision,
    ReviewItem,
)

PATTERN = "family_name=exact,given_names=first,date_of_birth=exact,postcode=else"
OTHER = "family_name=exact,given_names=exact,date_of_birth=exact,postcode=else"
AS_OF = dt.date(2026, 6, 1)


def document(**match: Any) -> dict[str, Any]:
    return {
        "id": "ho-to-bank",
        "title": "Bank accounts",
        "source": "home-office",
        "recipient": "bank",
        "purpose": "immigration_enforcement",
        "legal_basis": "Immigration Act 2014, s.40",
        "data_categories": ["immigration_casework"],
        "fields": ["family_name", "given_names", "date_of_birth"],
        "status": "active",
        "valid_from": "2026-01-01",
        "review_by": "2027-01-01",
        "match": {"disclose_at": 0.9, "review_from": 0.5, **match},
    }


def current(url: str) -> tuple[dict[str, Any], int]:
    with db.connect(url) as conn:
        ((a, version),) = [(a, v) for a, v in stored_agreements(conn) if a.id == "ho-to-bank"]
    return a.document(), version


def propose(url: str, pattern: str = PATTERN, upper: float = 700.0) -> str:
    """A trusted-pattern proposal as `accord link propose` records it."""
    _, version = current(url)
    proposal_id = f"P-test-{pattern.count('first')}-{int(upper)}"
    with db.connect(url) as conn:
        conn.execute(
            insert(Proposal).values(
                proposal_id=proposal_id, kind=proposals.TRUSTED_PATTERN, register="bank",
                agreement_id="ho-to-bank", pattern=pattern, based_on_version=version,
                labels=60, wrong=0, wrong_upper_per_10000=upper, automatic_gain=4, detail={},
                status="open", approvals_needed=2, proposed_by="analyst",
            )
        )  # fmt: skip
    return proposal_id


@pytest.fixture
def loaded(db_url: str) -> str:
    with db.connect(db_url) as conn:
        store_agreements(conn, [parse_agreement(document(), "bank.yaml")], "test")
    return db_url


def test_a_proposal_changes_nothing_until_two_different_people_approve_it(
    loaded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = loaded
    before, version = current(url)
    proposal_id = propose(url)

    first = proposals.decide(url, proposal_id, True, "alice", "labels support it")
    assert (first.status, first.approvals, first.approvals_needed) == ("open", 1, 2)
    assert current(url) == (before, version)
    with pytest.raises(AccordError, match="two different people"):
        proposals.decide(url, proposal_id, True, "alice", "again")
    assert main(["link", "proposal", "approve", proposal_id,
                 *as_reviewer(url, "alice", tmp_path), "--database", url]) == 2  # fmt: skip
    assert "two different people" in capsys.readouterr().err
    with db.connect(url) as conn:
        assert conn.scalar(select(func.count()).select_from(LedgerLeaf)) == 0

    assert main(["link", "proposal", "approve", proposal_id, *as_reviewer(url, "bob", tmp_path),
                 "--reason", "checked the sample", "--database", url]) == 0  # fmt: skip
    assert "approved (2 of 2 approvals)" in capsys.readouterr().out
    after, new_version = current(url)
    assert new_version == version + 1
    assert after["match"]["trusted_patterns"] == [
        {"pattern": PATTERN, "labels": 60, "wrong_upper_per_10000": 700.0,
         "proposal_id": proposal_id}
    ]  # fmt: skip
    assert {k: v for k, v in after.items() if k != "match"} == {
        k: v for k, v in before.items() if k != "match"
    }
    with db.connect(url) as conn:
        row = conn.execute(select(Proposal).where(Proposal.proposal_id == proposal_id)).one()
        leaf = conn.execute(
            select(LedgerLeaf).where(LedgerLeaf.leaf_index == row.ledger_index)
        ).one()
        actions = list(conn.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert (row.status, row.approved_by, row.result_version) == ("approved", "alice, bob",
                                                                 new_version)  # fmt: skip
    assert (leaf.kind, leaf.ref_id) == ("governance", proposal_id)
    content = json.loads(leaf.content)
    assert content["approved_by"] == "alice, bob" and content["pattern"] == PATTERN
    assert content["agreement_version"] == new_version
    assert actions.count("proposal_approve") == 2 and "proposal_applied" in actions
    assert "agreement_loaded" in actions
    assert main(["verify", "--database", url]) == 0
    # A proof of the change, checked without the database.
    proof = tmp_path / "proof.json"
    assert main(["ledger", "proof", proposal_id, "--out", str(proof), "--database", url]) == 0
    assert main(["ledger", "check-proof", str(proof)]) == 0
    # Settled: no third decision, and an approver changed afterwards is caught.
    with pytest.raises(AccordError, match="already approved"):
        proposals.decide(url, proposal_id, False, "carol", "too late")
    with db.connect(url) as conn:
        conn.execute(
            update(Proposal)
            .where(Proposal.proposal_id == proposal_id)
            .values(approved_by="alice, mallory")
        )
    capsys.readouterr()
    assert main(["verify", "--database", url]) == 1
    assert f"governance {proposal_id} at leaf" in capsys.readouterr().err
    # Put back, but pointing at a leaf that is not its own: named too.
    with db.connect(url) as conn:
        conn.execute(
            update(Proposal)
            .where(Proposal.proposal_id == proposal_id)
            .values(approved_by="alice, bob", ledger_index=row.ledger_index + 7)
        )
    with db.connect(url) as conn:
        problems = log.verify(conn).problems
    assert problems == (
        f"leaf {row.ledger_index} records governance {proposal_id}, but no approved proposal "
        "points at it (removed or moved)",
        f"governance {proposal_id} points at leaf {row.ledger_index + 7}, which does not exist",
    )


def test_one_rejection_settles_a_proposal(loaded: str) -> None:
    url = loaded
    before = current(url)
    proposal_id = propose(url)
    proposals.decide(url, proposal_id, True, "alice", "fine")
    done = proposals.decide(url, proposal_id, False, "bob", "the sample is too small")
    assert done.status == "rejected"
    assert current(url) == before
    with pytest.raises(AccordError, match="already rejected"):
        proposals.decide(url, proposal_id, True, "carol", "fine")
    with db.connect(url) as conn:
        assert conn.scalar(select(func.count()).select_from(ProposalDecision)) == 2
        assert conn.scalar(select(Proposal.ledger_index)) is None


def test_the_proposal_is_checked_again_when_the_second_approval_comes(loaded: str) -> None:
    url = loaded
    proposal_id = propose(url, upper=700.0)
    proposals.decide(url, proposal_id, True, "alice", "fine")
    # Meanwhile the agreement tightened its tolerance to 5 per 10,000.
    with db.connect(url) as conn:
        store_agreements(conn, [parse_agreement(document(max_wrong_person=0.0005))], "test")
    before = current(url)
    with pytest.raises(AccordError, match="cannot be applied"):
        proposals.decide(url, proposal_id, True, "bob", "fine")
    assert current(url) == before
    with db.connect(url) as conn:
        assert conn.scalar(select(Proposal.status)) == "open"  # the approval rolled back


def test_an_agreement_file_keeps_or_drops_trusted_patterns_but_never_adds_one(
    loaded: str,
) -> None:
    url = loaded
    proposal_id = propose(url)
    for reviewer in ("alice", "bob"):
        proposals.decide(url, proposal_id, True, reviewer, "fine")
    trusted_doc, version = current(url)
    entry = trusted_doc["match"]["trusted_patterns"][0]

    def store(doc: dict[str, Any]) -> int:
        with db.connect(url) as conn:
            return store_agreements(conn, [parse_agreement(doc, "bank.yaml")], "test")["ho-to-bank"]

    # The file as written before: the approved pattern is carried forward, no new version.
    assert store(document()) == version
    assert current(url) == (trusted_doc, version)
    # Listing what two people approved, exactly, is the same agreement.
    assert store(document(trusted_patterns=[entry])) == version
    # Anything else is refused: a pattern no proposal made, or one with better figures.
    forged = {**entry, "pattern": OTHER}
    with pytest.raises(AccordError, match="trusted only through"):
        store(document(trusted_patterns=[entry, forged]))
    with pytest.raises(AccordError, match="trusted only through"):
        store(document(trusted_patterns=[{**entry, "wrong_upper_per_10000": 1.0}]))
    unapproved = propose(url, OTHER, upper=500.0)
    with pytest.raises(AccordError, match="trusted only through"):
        store(document(trusted_patterns=[entry, {**entry, "pattern": OTHER,
                                                 "proposal_id": unapproved}]))  # fmt: skip
    assert current(url) == (trusted_doc, version)
    # A file may drop it: a new version trusting nothing, which later files keep.
    assert store(document(trusted_patterns=[])) == version + 1
    assert current(url)[0]["match"]["trusted_patterns"] == []
    assert store(document()) == version + 1
    # Tightening the tolerance below the pattern's bound drops it too.
    assert store(document(trusted_patterns=[entry])) == version + 2
    tightened = store(document(max_wrong_person=0.0005))
    assert tightened == version + 3
    assert current(url)[0]["match"]["trusted_patterns"] == []
    with pytest.raises(AccordError, match="beyond the agreement's tolerance"):
        store(document(max_wrong_person=0.0005, trusted_patterns=[entry]))


def test_the_cli_refuses_bad_input_in_one_line(
    loaded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = loaded
    a = as_reviewer(url, "a", tmp_path)
    assert main(["link", "proposal", "approve", "P-nope", *a, "--database", url]) == 2
    assert capsys.readouterr().err.strip() == "accord: no proposal 'P-nope'"
    assert main(["link", "proposal", "reject", "P-nope", *a, "--reason", "no",
                 "--database", url]) == 2  # fmt: skip
    # A decision needs a user token, never a typed name; a token of a role that may not
    # decide proposals is refused in one line.
    capsys.readouterr()
    assert main(["link", "proposal", "approve", "P-nope", "--database", url]) == 2
    assert "needs your user token" in capsys.readouterr().err
    assert main(["link", "proposal", "approve", "P-nope", "--reviewer", "a",
                 "--database", url]) == 2  # fmt: skip
    clerk = token_file(url, "clerk", tmp_path, role="caseworker")
    assert main(["link", "proposal", "approve", "P-nope", "--token-file", str(clerk),
                 "--database", url]) == 2  # fmt: skip
    assert "deciding proposals needs reviewer or admin" in capsys.readouterr().err
    assert main(["link", "propose", "--agreement", "nope", "--database", url]) == 2
    assert "no agreement 'nope'" in capsys.readouterr().err
    assert main(["link", "evaluate", "--database", url]) == 2
    assert main(["link", "reestimate", "bank=missing.csv", "--database", url]) == 2


# --- the gate ---------------------------------------------------------------------------


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    Workspace(con).declare(*gate.INPUTS)
    con.execute(
        "INSERT INTO agreements BY NAME SELECT 'bank-1' AS agreement_id, 2 AS version, "
        "'bank' AS recipient, 'immigration_enforcement' AS purpose, 'active' AS status, "
        "0.999 AS disclose_at, 0.5 AS review_from, 10.0 AS ambiguity_bits, "
        "0.001 AS wrong_person_tolerance, false AS four_eyes, [] AS exclude_cohorts, "
        f"true AS enforcement, ['family_name'] AS fields, ['{PATTERN}'] AS trusted_patterns"
    )
    return con


def pair(
    con: duckdb.DuckDBPyConnection,
    person: str,
    p: float,
    pattern: str | None = PATTERN,
    *,
    rival_gap: float | None = None,
    since: str | None = None,
    settled: str | None = None,
    frozen: bool = False,
) -> None:
    con.execute(
        "INSERT INTO candidates BY NAME SELECT ? AS person_id, ? AS record_id, "
        "'bank' AS register, ? AS match_probability, CAST(? AS DATE) AS since, "
        "? AS wrong_person, ? AS rival_gap, ? AS pattern, 7 AS match_id",
        [person, f"R-{person}", p, since, 1.0 - p, rival_gap, pattern],
    )
    con.execute("INSERT INTO pool VALUES (?, DATE '2020-01-01', 'immigration_casework', true)",
                [person])  # fmt: skip
    if settled is not None:
        con.execute("INSERT INTO settled VALUES ('bank-1', ?, ?, ?)",
                    [person, f"R-{person}", settled])  # fmt: skip
    if frozen:
        con.execute("INSERT INTO frozen VALUES (?)", [person])


def test_the_gate_waives_uncertainty_alone_for_a_trusted_pattern(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pair(con, "trusted", 0.95)
    pair(con, "untrusted", 0.95, OTHER)
    pair(con, "no-pattern", 0.95, None)
    pair(con, "ambiguous", 0.95, rival_gap=2.0)
    pair(con, "long-residence", 0.95, since="1990-01-01")
    pair(con, "frozen", 0.95, frozen=True)
    pair(con, "waiting", 0.95, settled="open")  # an item left open by an earlier run
    pair(con, "waiting-untrusted", 0.95, OTHER, settled="open")
    pair(con, "rejected", 0.95, settled="rejected")
    pair(con, "sure", 0.9999)
    Workspace.over(con).run(gate.decide_step(gate.GateSettings(AS_OF, long_residence_years=20)))
    got = {
        r[0]: (r[1], r[2], r[3])
        for r in con.execute("SELECT person_id, outcome, reasons, approved_by FROM gate").fetchall()
    }
    trusted = ("disclose", [gate.UNCERTAIN, gate.TRUSTED_PATTERN], gate.TRUSTED_RULE)
    assert got["trusted"] == trusted
    assert got["waiting"] == trusted
    assert got["untrusted"] == ("review", [gate.UNCERTAIN], None)
    assert got["no-pattern"] == ("review", [gate.UNCERTAIN], None)
    assert got["ambiguous"][0] == "review" and gate.AMBIGUOUS in got["ambiguous"][1]
    assert got["long-residence"][0] == "review"
    assert gate.LONG_RESIDENCE in got["long-residence"][1]
    assert got["frozen"][0] == "held"
    assert got["waiting-untrusted"][0] == "settled"
    assert got["rejected"][0] == "settled"
    assert got["sure"] == ("disclose", [gate.AUTOMATIC], None)


# --- labels -----------------------------------------------------------------------------


def test_labels_follow_the_rule(db_url: str) -> None:
    """Approved is the same person, rejected is not; residence alone is no label; a pair
    under two agreements is one label, the same person only if every item said so."""
    with db.connect(db_url) as conn:

        def match(person: str, record: str, p: float, pattern: str) -> int:
            return int(
                conn.execute(
                    insert(Match)
                    .values(
                        run_id="run-1", register="bank", person_id=person, record_id=record,
                        match_probability=p, match_weight=3.0, model_id=1,
                        evidence={"pattern": pattern, "wrong_person": 1 - p},
                    )
                    .returning(Match.id)
                ).scalar_one()
            )  # fmt: skip

        def item(name: str, m: int, kind: str, reasons: list[str], status: str,
                 agreement: str = "ho-to-bank") -> None:  # fmt: skip
            conn.execute(
                insert(ReviewItem).values(
                    item_id=name, kind=kind, person_id="P", record_id="R", agreement_id=agreement,
                    match_id=m, reason="why", detail={"reasons": reasons}, status=status,
                    approvals_needed=1,
                )
            )  # fmt: skip

        item("A", match("P1", "R1", 0.95, PATTERN), "uncertain_match", ["uncertain_match"],
             "approved")  # fmt: skip
        item("B", match("P2", "R2", 0.999, PATTERN), "long_residence", ["long_residence"],
             "rejected")  # fmt: skip
        both = match("P3", "R3", 0.5, OTHER)
        item("C", both, "uncertain_match", ["uncertain_match"], "approved")
        item("D", both, "uncertain_match", ["uncertain_match"], "rejected", "ho-to-bank-2")
        item("E", match("P4", "R4", 0.93, PATTERN), "uncertain_match", ["uncertain_match"],
             "open")  # fmt: skip
        item("F", match("P5", "R5", 0.99995, OTHER), "ambiguous_match",
             ["ambiguous_match", "uncertain_match"], "rejected")  # fmt: skip
        item("G", match("P6", "R6", 0.9, PATTERN), "long_residence",
             ["long_residence", "uncertain_match"], "rejected")  # fmt: skip
        table = lab.read_labels(conn)
        figures = lab.label_figures(conn, disclose_at=0.999)
        only_one = lab.read_labels(conn, agreement_id="ho-to-bank-2")
    got = {
        r["person_id"]: (r["same"], r["identity_only"], r["band"], r["items"])
        for r in table.to_pylist()
    }
    assert got == {
        "P1": (True, True, "0.9 to 0.99", 1),
        "P3": (False, True, "below 0.9", 2),
        "P5": (False, False, "0.9999 and above", 1),
        "P6": (False, False, "0.9 to 0.99", 1),
    }
    assert [r["person_id"] for r in only_one.to_pylist()] == ["P3"]
    patterns = {p.group: (p.labels, p.wrong) for p in figures.patterns}
    assert patterns == {PATTERN: (2, 1), OTHER: (2, 2)}
    assert (figures.automatic.labels, figures.automatic.wrong) == (1, 1)
    assert figures.automatic.wrong_upper_per_10000 == pytest.approx(10_000.0)
    one = lab.by_pattern(table)
    assert {p: (v.labels, v.wrong) for (_, p), v in one.items()} == {PATTERN: (1, 0),
                                                                    OTHER: (1, 1)}  # fmt: skip
