"""Every step that appends to the ledger leaves it signed (issue 18: the ledger after cleansing).

A disclosure or recall no signed tree head covers cannot be shown with a proof, so a
subject access report about that person fails.  Each step that records one (a run, a
cleansing, an admission, events, a review decision, a score recall) commits with a head
over the whole ledger, signed with the key kept with the database: no step passes --key
here, and ACCORD_LEDGER_KEY is unset.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from reviewers import as_reviewer
from sqlalchemy import insert, select

from accord.cli import main
from accord.disclosure import AUTOMATIC, Draft, disclose
from accord.store import db
from accord.store.models import CaseDecision, DerivedScore, Disclosure, ReviewItem
from accord.synth import synthesise

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    synthesise(out, people=400, seed=11, as_of=AS_OF)
    return out


@pytest.fixture
def ran(scenario: Path, empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A first `accord run` on an empty database: it makes the key and keeps its path."""
    args = ["run", "--cases", str(scenario / "cases.csv")]
    for name in ("dvla", "hmrc", "bank"):
        args += ["--register", f"{name}={scenario / (name + '.csv')}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat()]
    key = tmp_path / "keys" / "ledger.key"
    key.parent.mkdir()
    assert (
        main([*args, "--database", empty_db_url, "--key", str(key), "--out", str(tmp_path / "out")])
        == 0
    )
    monkeypatch.delenv("ACCORD_LEDGER_KEY")
    monkeypatch.chdir(tmp_path / "out")  # no key in the working folder either
    return empty_db_url


def unsigned(url: str, capsys: pytest.CaptureFixture[str]) -> int:
    capsys.readouterr()
    assert main(["ledger", "head", "--database", url]) == 0
    head = json.loads(capsys.readouterr().out)
    assert head["ledger_size"] > 0
    return int(head["unsigned_leaves"])


def disclosed_person(url: str) -> str:
    with db.connect(url) as conn:
        return str(
            conn.scalar(
                select(Disclosure.person_id)
                .where(Disclosure.status == "active")
                .order_by(Disclosure.disclosure_id)
                .limit(1)
            )
        )


def test_cleansing_signs_its_recalls_so_subject_access_and_verify_work(
    ran: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    person = disclosed_person(ran)
    with db.connect(ran) as conn:  # the person has been granted leave since
        conn.execute(
            insert(CaseDecision).values(
                case_id="C-LEAVE-1", person_id=person, family_name="X", given_names="Y",
                decision="grant", decision_date=AS_OF, leave="indefinite",
                data_category="immigration_casework",
            )
        )  # fmt: skip
    assert main(["cleanse", "--as-of", AS_OF.isoformat(), "--database", ran]) == 0
    assert f"withdrawn {person}" in capsys.readouterr().out
    with db.connect(ran) as conn:
        recalled = conn.scalars(select(Disclosure.status).where(Disclosure.person_id == person))
        assert set(recalled) == {"recalled"}
    assert unsigned(ran, capsys) == 0
    report = tmp_path / "report.json"
    assert main(["subject-access", person, "--database", ran, "--out", str(report)]) == 0
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["recalls"] and doc["disclosures"]
    # Each of them comes with a proof against a head signed with the ledger's key: the
    # cleansing's recalls too (checked as the person would, without the database).
    capsys.readouterr()
    key = tmp_path / "keys" / "ledger.key"
    assert main(["ledger", "check-proof", str(report), "--key", str(key)]) == 0
    checked = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[2] for line in checked if line.startswith("verified")) == sorted(
        [d["disclosure_id"] for d in doc["disclosures"]] + [r["recall_id"] for r in doc["recalls"]]
    )
    assert main(["verify", "--database", ran]) == 0


def test_events_leave_the_ledger_signed(
    ran: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    person = disclosed_person(ran)
    events = tmp_path / "events.csv"
    with events.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["event_id", "person_id", "event_type", "event_date", "detail"])
        writer.writerow(["E-1", person, "decision_overturned", AS_OF.isoformat(), "appeal allowed"])
    assert main(["events", str(events), "--out", str(tmp_path / "ev"), "--database", ran]) == 0
    with (tmp_path / "ev" / "recalls.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {r["person_id"] for r in rows} == {person}
    assert unsigned(ran, capsys) == 0


def test_a_review_approval_leaves_the_ledger_signed(
    ran: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.connect(ran) as conn:
        item = conn.execute(
            select(ReviewItem.item_id, ReviewItem.approvals_needed)
            .where(ReviewItem.kind == "uncertain_match", ReviewItem.status == "open")
            .order_by(ReviewItem.item_id)
            .limit(1)
        ).one()
        before = conn.scalar(select(Disclosure.disclosure_id).where(Disclosure.run_id.is_(None)))
    assert before is None
    for reviewer in ("alice", "bob")[: item.approvals_needed]:
        assert main([
            "review", "decide", item.item_id, "--approve", *as_reviewer(ran, reviewer, tmp_path),
            "--reason", "same person", "--as-of", AS_OF.isoformat(), "--database", ran,
        ]) == 0  # fmt: skip
    with db.connect(ran) as conn:
        made = conn.scalar(select(Disclosure.disclosure_id).where(Disclosure.run_id.is_(None)))
    assert made is not None
    assert unsigned(ran, capsys) == 0


def test_a_score_recall_leaves_the_ledger_signed(
    ran: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    person = disclosed_person(ran)
    with db.connect(ran) as conn:
        conn.execute(
            insert(DerivedScore).values(
                score_id="S-1", person_id=person, kind="risk", value=0.7, role="subject",
                explanation={"basis": "test"}, computed_at=AS_OF - dt.timedelta(days=400),
                retain_until=AS_OF - dt.timedelta(days=1),
            )
        )  # fmt: skip
        disclose(
            conn,
            [Draft("home-office-to-bank", 1, "bank", "BANK-S1", person, 0.9995, AUTOMATIC,
                   {"score_value": 0.7}, score_id="S-1")],
            dt.datetime(2026, 6, 1, tzinfo=dt.UTC), None,
        )  # fmt: skip
    assert unsigned(ran, capsys) == 0  # the disclosure's own transaction signed it
    out = tmp_path / "scores"
    assert (
        main(["scores", "recall-expired", "--as-of", AS_OF.isoformat(), "--out", str(out),
              "--database", ran])
        == 0
    )  # fmt: skip
    with (out / "recalls.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["person_id"], r["record_id"]) for r in rows] == [(person, "BANK-S1")]
    assert unsigned(ran, capsys) == 0
