"""Derived scores through `accord run` and `accord review decide` (F8, F12), end to end.

One synthetic scenario, the bank's register, the scenario's own agreement for the bank,
and two score agreements for the same register: one for an enforcement purpose (every
score a person must approve, four eyes) and one for safeguarding (automatic when the
match is). The people scored are picked from what the first run did, not hard-coded.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from reviewers import as_reviewer
from sqlalchemy import func, insert, select

from accord.cli import main
from accord.store import db
from accord.store.models import Disclosure, LedgerLeaf, Match, ReviewItem, Run
from accord.synth import synthesise

AS_OF = dt.date(2026, 6, 30)
ENFORCEMENT = "police-scores-fraud"
CARE = "police-scores-care"
SCORE_FIELDS = ["score_kind", "score_value", "score_role", "score_explanation"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scores-scenario")
    synthesise(out, people=300, seed=7, as_of=AS_OF)
    return out


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "accord-ledger.key"  # where conftest points ACCORD_LEDGER_KEY


def score_agreement(
    agreement_id: str, purpose: str, days: int, roles: list[str], fields: list[str]
) -> str:
    return "\n".join(
        [
            f"id: {agreement_id}",
            "title: Scores about people the bank serves",
            "source: police",
            "recipient: bank",
            f"purpose: {purpose}",
            'legal_basis: "a statute and section (test)"',
            "data_categories: [derived_score]",
            f"fields: [{', '.join(fields)}]",
            "status: active",
            "valid_from: 2025-06-30",
            "review_by: 2027-06-30",
            "match: {disclose_at: 0.999, review_from: 0.90, ambiguity_margin: 0.05}",
            "review: {four_eyes: true}",
            "impact_assessment: {document_id: DPIA-2026-07, date: 2026-01-15}",
            f"score_retention_days: {days}",
            f"roles: [{', '.join(roles)}]",
            "",
        ]
    )


def agreements_dir(scenario: Path, tmp_path: Path, enforcement_fields: list[str]) -> Path:
    folder = tmp_path / "agreements"
    folder.mkdir()
    shutil.copy(scenario / "agreements" / "home-office-to-bank.yaml", folder)
    identity = ["family_name", "given_names", "date_of_birth"]
    (folder / f"{ENFORCEMENT}.yaml").write_text(
        score_agreement(
            ENFORCEMENT, "fraud_enforcement", 365, ["subject"], identity + enforcement_fields
        )
    )
    (folder / f"{CARE}.yaml").write_text(
        score_agreement(
            CARE, "safeguarding", 180, ["subject", "victim"], identity[:2] + SCORE_FIELDS
        )
    )
    return folder


def run(scenario: Path, agreements: Path, url: str, key: Path, out: Path, as_of: str) -> None:
    args = ["run", "--cases", str(scenario / "cases.csv"), "--register",
            f"bank={scenario / 'bank.csv'}", "--agreements", str(agreements), "--as-of", as_of,
            "--database", url, "--key", str(key), "--out", str(out)]  # fmt: skip
    assert main(args) == 0


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def scores_file(
    path: Path, rows: list[tuple[str, str, str, float, str, str, dict[str, Any]]]
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["score_id", "person_id", "kind", "value", "role", "computed_at",
                    "explanation"])  # fmt: skip
        for sid, person, kind, value, role, computed, explanation in rows:
            w.writerow([sid, person, kind, value, role, computed, json.dumps(explanation)])
    return path


def score_disclosures(url: str) -> dict[tuple[str, str], Any]:
    """(agreement_id, score_id) -> disclosure row, for every score disclosure."""
    with db.connect(url) as conn:
        rows = conn.execute(select(Disclosure).where(Disclosure.score_id != "")).all()
    return {(r.agreement_id, r.score_id): r for r in rows}


def decide(url: str, key: Path, item: str, reviewer: str, as_of: str, approve: bool = True) -> int:
    verdict = "--approve" if approve else "--reject"
    why = "checked the score and how it was made"
    who = as_reviewer(url, reviewer, key.parent)
    args = ["review", "decide", item, verdict, *who, "--reason", why]
    return main([*args, "--as-of", as_of, "--database", url, "--key", str(key)])


def test_scores_are_disclosed_with_their_explanation_and_adverse_use_waits_for_people(
    scenario: Path, db_url: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--database", db_url, "--key", str(key)]) == 0
    agreements = agreements_dir(scenario, tmp_path, SCORE_FIELDS)
    run(scenario, agreements, db_url, key, tmp_path / "one", "2026-06-30")
    first = read_csv(tmp_path / "one" / "disclosures.csv")
    auto = sorted({d["person_id"] for d in first if d["decided_by"] == "rule:automatic"})
    uncertain = [i for i in read_csv(tmp_path / "one" / "review_queue.csv")
                 if i["kind"] == "uncertain_match"]  # fmt: skip
    assert len(auto) >= 4 and uncertain, "the scenario should match people to the bank"
    a, b, c, d = auto[:4]
    u = uncertain[0]["person_id"]
    why = {"inputs": ["arrests_12m", "associates"], "method": "logistic regression v3"}
    care = {"inputs": ["reports"], "method": "rules v1"}
    scores_file(tmp_path / "scores.csv", [
        ("S-A1", a, "risk", 0.82, "subject", "2026-05-01", why),
        ("S-A2", a, "vulnerability", 0.4, "victim", "2026-05-01", care),
        ("S-B1", b, "risk", 0.6, "subject", "2025-07-10", why),  # past 365 days on 07-10
        ("S-C1", c, "risk", 0.3, "subject", "2026-05-01", why),
        ("S-U1", u, "vulnerability", 0.7, "subject", "2026-05-01", care),
    ])  # fmt: skip
    db_args = ["--database", db_url]
    assert main(["scores", "load", str(tmp_path / "scores.csv"), "--as-of", "2026-06-30",
                 *db_args]) == 0  # fmt: skip
    # Loaded before it expired, past its limit by the run: never shared.
    scores_file(tmp_path / "old.csv", [("S-D1", d, "risk", 0.5, "subject", "2025-06-01", why)])
    assert main(["scores", "load", str(tmp_path / "old.csv"), "--as-of", "2026-01-01",
                 *db_args]) == 0  # fmt: skip

    run(scenario, agreements, db_url, key, tmp_path / "two", "2026-06-30")
    shared = score_disclosures(db_url)
    queue = read_csv(tmp_path / "two" / "review_queue.csv")
    items = {(i["agreement_id"], i["score_id"]): i for i in queue if i["kind"] == "score_review"}
    # Safeguarding is not adverse: automatic where the match is, victims' scores included.
    for score in ("S-A1", "S-A2", "S-C1"):
        assert shared[(CARE, score)].decided_by == "rule:automatic"
    assert (CARE, "S-B1") not in shared  # older than the care agreement's 180 days
    # Its uncertain match still needs a person, who sees the score and its explanation.
    assert (CARE, "S-U1") not in shared and "uncertain_match" in items[(CARE, "S-U1")]["reason"]
    # Enforcement: every score waits in the queue, none is disclosed, victims never queued.
    assert not [k for k in shared if k[0] == ENFORCEMENT]
    assert {s for (ag, s) in items if ag == ENFORCEMENT} == {"S-A1", "S-B1", "S-C1", "S-U1"}
    reason = items[(ENFORCEMENT, "S-A1")]["reason"]
    assert "enforcement" in reason and "logistic regression v3" in reason and "subject" in reason
    assert all(s != "S-D1" for (_, s) in shared) and all(s != "S-D1" for (_, s) in items)
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())["agreements"]
    assert summary[ENFORCEMENT]["scores_held_for_review"] == 4
    assert summary[ENFORCEMENT]["disclosed"] == 0 and summary[CARE]["scores_disclosed"] == 3
    # The recipient receives each score with its explanation (inputs and method).
    batch = {r["disclosure_id"]: r for r in read_csv(tmp_path / "two" / "batches" / "bank.csv")}
    row = batch[shared[(CARE, "S-A1")].disclosure_id]
    assert json.loads(row["score_explanation"]) == why
    assert (row["score_kind"], row["score_role"], float(row["score_value"])) == (
        "risk", "subject", 0.82,
    )  # fmt: skip
    assert "person_id" not in row

    # Approval: four eyes, then disclosed through the gate with a ledger leaf.
    s_a1 = items[(ENFORCEMENT, "S-A1")]["item_id"]
    assert decide(db_url, key, s_a1, "alice", "2026-07-01") == 0
    assert (ENFORCEMENT, "S-A1") not in score_disclosures(db_url)
    assert decide(db_url, key, s_a1, "alice", "2026-07-01") == 2  # the same reviewer again
    capsys.readouterr()
    assert decide(db_url, key, s_a1, "bob", "2026-07-01") == 0
    assert "disclosed as D-" in capsys.readouterr().out
    approved = score_disclosures(db_url)[(ENFORCEMENT, "S-A1")]
    assert approved.decided_by == "reviewers:alice, bob"
    assert (
        approved.fields["score_explanation"] == why and approved.fields["score_role"] == "subject"
    )
    with db.connect(db_url) as conn:
        leaf = conn.execute(
            select(LedgerLeaf).where(LedgerLeaf.ref_id == approved.disclosure_id)
        ).one()
    assert leaf.leaf_index == approved.ledger_index and b"logistic regression v3" in leaf.content
    # Approved before its limit, decided after it: never disclosed.
    s_b1 = items[(ENFORCEMENT, "S-B1")]["item_id"]
    assert decide(db_url, key, s_b1, "alice", "2026-07-20") == 0
    capsys.readouterr()
    assert decide(db_url, key, s_b1, "bob", "2026-07-20") == 0
    assert "retention limit" in capsys.readouterr().out
    assert (ENFORCEMENT, "S-B1") not in score_disclosures(db_url)
    # One rejection settles an item: nothing disclosed.
    assert decide(db_url, key, items[(ENFORCEMENT, "S-C1")]["item_id"], "carol", "2026-07-01",
                  approve=False) == 0  # fmt: skip
    # A victim's score never reaches enforcement, even through an approved review item.
    with db.connect(db_url) as conn:
        match_id = conn.scalar(select(Match.id).where(Match.person_id == a).limit(1))
        conn.execute(
            insert(ReviewItem).values(
                item_id="RV-forged", kind="score_review", person_id=a,
                record_id=approved.record_id, agreement_id=ENFORCEMENT, match_id=match_id,
                score_id="S-A2", reason="forged", detail={}, status="open", approvals_needed=1,
            )
        )  # fmt: skip
    capsys.readouterr()
    assert decide(db_url, key, "RV-forged", "mallory", "2026-07-01") == 0
    assert "firewall" in capsys.readouterr().out
    assert (ENFORCEMENT, "S-A2") not in score_disclosures(db_url)
    assert main(["verify", *db_args, "--key", str(key)]) == 0

    # A rerun discloses nothing twice, and nothing past its limit (the run is after 07-10).
    before = len(score_disclosures(db_url))
    run(scenario, agreements, db_url, key, tmp_path / "three", "2026-07-21")
    assert len(score_disclosures(db_url)) == before
    # Its batches deliver the score approved at review since run two, once (issue 23, 5),
    # and no other score.
    sent = [r for r in read_csv(tmp_path / "three" / "disclosures.csv") if r["score_id"]]
    assert [r["disclosure_id"] for r in sent] == [approved.disclosure_id]
    bank = {r["disclosure_id"] for r in read_csv(tmp_path / "three" / "batches" / "bank.csv")}
    assert approved.disclosure_id in bank

    # Subject access lists every score and the disclosures that carried it, with approvers.
    report = tmp_path / "sar.json"
    assert main(["subject-access", a, "--format", "json", "--out", str(report), *db_args]) == 0
    doc = json.loads(report.read_text())
    held = {s["score_id"]: s for s in doc["held"]["scores"]}
    assert set(held["S-A1"]["disclosed_in"]) == {
        shared[(CARE, "S-A1")].disclosure_id, approved.disclosure_id,
    }  # fmt: skip
    shown = {x["disclosure_id"]: x for x in doc["disclosures"]}
    assert shown[approved.disclosure_id]["fields"]["score_explanation"] == why
    assert {x["reviewer"] for x in shown[approved.disclosure_id]["decided"]["decisions"]} == {
        "alice", "bob",
    }  # fmt: skip

    # Withdrawing the person recalls their scores like everything else shared about them.
    events = tmp_path / "events.csv"
    events.write_text(
        f"event_id,person_id,event_type,event_date,detail\nE1,{a},decision_overturned,"
        "2026-07-22,appeal allowed\n"
    )
    assert main(["events", str(events), "--out", str(tmp_path / "ev"), "--as-of", "2026-07-22",
                 *db_args, "--key", str(key)]) == 0  # fmt: skip
    recalled = {r["disclosure_id"] for r in read_csv(tmp_path / "ev" / "recalls.csv")}
    assert {shared[(CARE, "S-A1")].disclosure_id, shared[(CARE, "S-A2")].disclosure_id,
            approved.disclosure_id} <= recalled  # fmt: skip
    # A shared score past its limit is recalled (care: 180 days from 2026-05-01), no remedy.
    assert main(["scores", "recall-expired", "--as-of", "2026-11-01", "--out",
                 str(tmp_path / "lapsed"), *db_args, "--key", str(key)]) == 0  # fmt: skip
    lapsed = read_csv(tmp_path / "lapsed" / "recalls.csv")
    assert [(r["disclosure_id"], r["reason"]) for r in lapsed] == [
        (shared[(CARE, "S-C1")].disclosure_id, "score_expired")
    ]
    assert main(["verify", *db_args, "--key", str(key)]) == 0


def test_a_run_refuses_to_share_scores_under_an_agreement_without_every_safeguard(
    scenario: Path, db_url: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--database", db_url, "--key", str(key)]) == 0
    agreements = agreements_dir(scenario, tmp_path, ["score_kind", "score_value", "score_role"])
    args = ["run", "--cases", str(scenario / "cases.csv"), "--register",
            f"bank={scenario / 'bank.csv'}", "--agreements", str(agreements), "--database",
            db_url, "--key", str(key), "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and ENFORCEMENT in err and "score_explanation" in err
    assert not (tmp_path / "out").exists()
    with db.connect(db_url) as conn:
        assert conn.scalar(select(func.count()).select_from(Run)) == 0
