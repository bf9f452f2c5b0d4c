"""`accord run` end to end on a synthetic scenario, then events, actions, freezes and pauses.

The scenario is small (a few hundred people) so that each run takes seconds; the truth
files say who each person really is, so the tests check outcomes against it, not
against what the code happened to produce.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from reviewers import as_reviewer
from sqlalchemy import func, select, update

from accord.cli import main
from accord.remedy import unacknowledged
from accord.store import db
from accord.store.models import Disclosure, Recall
from accord.synth import synthesise
from accord.synth.truth import people_truth, score

AS_OF = dt.date(2026, 6, 30)
OUTPUTS = ("summary.json", "disclosures.csv", "review_queue.csv", "excluded.csv")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    synthesise(out, people=800, seed=7, as_of=AS_OF)
    return out


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "ledger.pem"


def run_args(scenario: Path, url: str, key: Path, out: Path) -> list[str]:
    args = ["run", "--cases", str(scenario / "cases.csv")]
    for name in ("dvla", "hmrc", "bank"):
        args += ["--register", f"{name}={scenario / (name + '.csv')}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat()]
    return [*args, "--database", url, "--key", str(key), "--out", str(out)]


def init(url: str, key: Path) -> None:
    assert main(["init", "--database", url, "--key", str(key)]) == 0


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def count(url: str, model: type) -> int:
    with db.connect(url) as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def test_run_writes_every_output_and_the_ledger_verifies(
    scenario: Path, db_url: str, key: Path, tmp_path: Path
) -> None:
    init(db_url, key)
    out = tmp_path / "out"
    assert main(run_args(scenario, db_url, key, out)) == 0
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert {"candidates", "admitted", "quarantined", "excluded"} <= set(summary["pool"])
    assert set(summary["agreements"]) == {
        "home-office-to-dvla",
        "home-office-to-hmrc",
        "home-office-to-bank",
    }
    for counts in summary["agreements"].values():
        assert {"disclosed", "held_for_review", "blocked_by_firewall", "paused"} <= set(counts)
    disclosures = read_csv(out / "disclosures.csv")
    assert len(disclosures) == count(db_url, Disclosure) > 0
    assert summary["ledger"]["size"] == len(disclosures)
    assert summary["review_queue"] == len(read_csv(out / "review_queue.csv"))
    # Each recipient receives the disclosure id, its own record id and the agreed fields,
    # nothing else.
    for name in ("dvla", "hmrc", "bank"):
        agreement = (scenario / "agreements" / f"home-office-to-{name}.yaml").read_text()
        batch = read_csv(out / "batches" / f"{name}.csv")
        header = list(batch[0]) if batch else []
        assert header[:2] == ["disclosure_id", "record_id"] or not batch
        for field in header[2:]:
            assert field in agreement
        assert "person_id" not in header and "match_probability" not in header
        assert len(batch) == sum(1 for d in disclosures if d["recipient"] == name)
    # Automatic disclosures are about the right person (truth), never a namesake.
    auto = pl.DataFrame(disclosures).filter(pl.col("decided_by") == "rule:automatic")
    result = score(auto.select("recipient", "record_id", "person_id"), scenario)
    assert result.wrong_person == 0
    assert main(["verify", "--database", db_url, "--key", str(key)]) == 0


def test_a_rerun_discloses_nothing_twice(
    scenario: Path, db_url: str, key: Path, tmp_path: Path
) -> None:
    init(db_url, key)
    assert main(run_args(scenario, db_url, key, tmp_path / "one")) == 0
    before = count(db_url, Disclosure)
    assert main(run_args(scenario, db_url, key, tmp_path / "two")) == 0
    assert count(db_url, Disclosure) == before
    second = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert sum(a["disclosed"] for a in second["agreements"].values()) == 0
    assert read_csv(tmp_path / "two" / "disclosures.csv") == []


def test_a_later_run_recalls_what_it_disclosed_about_people_it_withdraws(
    scenario: Path, db_url: str, key: Path, tmp_path: Path
) -> None:
    """New case decisions withdraw people a run disclosed about: the next run recalls
    every disclosure about each of them, with their own reasons."""
    init(db_url, key)
    assert main(run_args(scenario, db_url, key, tmp_path / "one")) == 0
    disclosed = sorted({d["person_id"] for d in read_csv(tmp_path / "one" / "disclosures.csv")})
    granted, departed = disclosed[:2], disclosed[2:3]
    with (scenario / "cases.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    latest = {r["person_id"]: r for r in rows}  # any row of theirs, to copy identity from
    later = []
    for n, person in enumerate(granted + departed):
        row = dict(latest[person], case_id=f"LATER-{n}", decision_date="2026-06-29")
        row.update(refusal_reason="", appeal_status="", leave_expiry="", departure_date="")
        if person in granted:
            row.update(decision="grant", leave="indefinite")
        else:
            row.update(decision="information", leave="", departure_date="2026-06-29")
        later.append(row)
    scenario_two = tmp_path / "scenario"
    shutil.copytree(scenario, scenario_two)
    with (scenario_two / "cases.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + later)
    assert main(run_args(scenario_two, db_url, key, tmp_path / "two")) == 0
    with db.connect(db_url) as conn:
        recalled = conn.execute(select(Recall.person_id, Recall.reason)).all()
        still = conn.scalar(
            select(func.count())
            .select_from(Disclosure)
            .where(Disclosure.person_id.in_(granted + departed), Disclosure.status == "active")
        )
    assert still == 0
    assert {p for p, _ in recalled} == set(granted + departed)
    reasons = {p: r for p, r in recalled}
    assert all("current_leave" in reasons[p] for p in granted)
    assert "departed" in reasons[departed[0]] and "current_leave" not in reasons[departed[0]]
    assert main(["verify", "--database", db_url, "--key", str(key)]) == 0


def test_events_recall_exactly_the_overturned_and_remedies_track_reversals(
    scenario: Path, db_url: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(db_url, key)
    out = tmp_path / "out"
    assert main(run_args(scenario, db_url, key, out)) == 0
    disclosures = read_csv(out / "disclosures.csv")
    truth = {r["person_id"]: r for r in people_truth(scenario).to_pylist()}
    events = read_csv(scenario / "events.csv")
    withdrawing = {"decision_overturned", "leave_granted", "record_corrected"}
    wronged = {e["person_id"] for e in events if e["event_type"] in withdrawing}
    # Every person the truth says was overturned gets an event that withdraws them.
    assert {p for p, t in truth.items() if t["kind"] == "overturned"} <= wronged
    assert main(["events", str(scenario / "events.csv"), "--out", str(out), "--as-of",
                 "2026-07-01", "--database", db_url, "--key", str(key)]) == 0  # fmt: skip
    recalls = read_csv(out / "recalls.csv")
    departed = {e["person_id"] for e in events if e["event_type"] == "departure_recorded"}
    expected = {d["disclosure_id"] for d in disclosures if d["person_id"] in wronged | departed}
    assert {r["disclosure_id"] for r in recalls} == expected
    assert expected, "the scenario should hold disclosures about overturned people"
    # Applying the same file again changes nothing.
    assert main(["events", str(scenario / "events.csv"), "--out", str(tmp_path / "again"),
                 "--database", db_url, "--key", str(key)]) == 0  # fmt: skip
    assert read_csv(tmp_path / "again" / "recalls.csv") == []
    # The recipient reports revocations on some recalled disclosures: those are outstanding.
    wrongful = sorted(r["disclosure_id"] for r in recalls if r["reason"] != "departure_recorded")
    revoked = wrongful[:3]
    by_recipient = {d["disclosure_id"]: d["recipient"] for d in disclosures}
    for d in revoked:
        path = tmp_path / f"actions-{d}.csv"
        path.write_text(f"disclosure_id,action,action_date\n{d},revoked,2026-06-15\n")
        assert main(["actions", by_recipient[d], str(path), "--database", db_url]) == 0
    capsys.readouterr()
    assert main(["remedies", "--as-of", "2026-07-10", "--database", db_url]) == 0
    listed = capsys.readouterr().out
    assert all(d in listed for d in revoked)
    assert f"{len(revoked)} outstanding" in listed
    # Recalls no recipient has acknowledged yet are counted, per recipient.
    assert f"{len(recalls)} recall(s) not yet acknowledged by their recipient:" in listed
    waiting = unacknowledged(db_url, dt.date(2026, 7, 10))
    assert {w.recipient: w.recalls for w in waiting} == dict(
        Counter(r["recipient"] for r in recalls)
    )
    # The reversal closes the remedy.
    first = revoked[0]
    path = tmp_path / "reversal.csv"
    path.write_text(f"disclosure_id,action,action_date\n{first},reinstated,2026-07-05\n")
    assert main(["actions", by_recipient[first], str(path), "--database", db_url]) == 0
    capsys.readouterr()
    assert main(["remedies", "--database", db_url]) == 0
    listed = capsys.readouterr().out
    assert first not in listed and f"{len(revoked) - 1} outstanding" in listed
    with db.connect(db_url) as conn:
        remedy = conn.execute(
            select(Recall.remedy_status, Recall.remedied_at).where(
                Recall.disclosure_id.in_(revoked)
            )
        ).all()
    assert sorted((status, at and at.date()) for status, at in remedy) == [
        *[("outstanding", None)] * (len(revoked) - 1),
        ("remedied", dt.date(2026, 7, 5)),
    ]
    with db.connect(db_url) as conn:
        conn.execute(update(Recall).values(acknowledged_at=dt.datetime.now(dt.UTC)))
    capsys.readouterr()
    assert main(["remedies", "--database", db_url]) == 0
    assert "every recall has been acknowledged by its recipient" in capsys.readouterr().out
    assert main(["verify", "--database", db_url, "--key", str(key)]) == 0


def test_actions_for_unknown_or_another_recipients_disclosures_are_refused_whole(
    scenario: Path, db_url: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(db_url, key)
    out = tmp_path / "out"
    assert main(run_args(scenario, db_url, key, out)) == 0
    bank = next(d for d in read_csv(out / "disclosures.csv") if d["recipient"] == "bank")
    path = tmp_path / "actions.csv"
    path.write_text(
        "disclosure_id,action,action_date\n"
        f"{bank['disclosure_id']},closed,2026-07-01\nD-nonesuch,closed,2026-07-01\n"
    )
    assert main(["actions", "bank", str(path), "--database", db_url]) == 2
    said = capsys.readouterr().err
    assert "row 2, column disclosure_id: disclosure 'D-nonesuch' was not made to bank" in said
    path.write_text(
        f"disclosure_id,action,action_date\n{bank['disclosure_id']},revoked,2026-07-01\n"
    )
    assert main(["actions", "dvla", str(path), "--database", db_url]) == 2
    assert "was not made to dvla" in capsys.readouterr().err
    from accord.store.models import RecipientAction

    assert count(db_url, RecipientAction) == 0


def test_events_for_unknown_people_are_refused_whole(
    scenario: Path, db_url: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(db_url, key)
    assert main(run_args(scenario, db_url, key, tmp_path / "out")) == 0
    known = read_csv(scenario / "cases.csv")[0]["person_id"]
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,person_id,event_type,event_date,detail\n"
        f"X1,{known},dispute_opened,2026-07-01,\nX2,P-nobody,dispute_opened,2026-07-01,\n"
    )
    assert main(["events", str(path), "--out", str(tmp_path), "--database", db_url]) == 2
    assert "row 2, column person_id: unknown person 'P-nobody'" in capsys.readouterr().err
    from accord.store.models import Event, Freeze

    assert count(db_url, Event) == 0 and count(db_url, Freeze) == 0


def test_a_dispute_freezes_the_person_and_review_lifts_it(
    scenario: Path, db_url: str, key: Path, tmp_path: Path
) -> None:
    init(db_url, key)
    out = tmp_path / "out"
    assert main(run_args(scenario, db_url, key, out)) == 0
    queue = read_csv(out / "review_queue.csv")
    match_item = next(i for i in queue if i["kind"] in ("uncertain_match", "ambiguous_match"))
    person = match_item["person_id"]
    path = tmp_path / "dispute.csv"
    path.write_text(
        "event_id,person_id,event_type,event_date,detail\n"
        f"D1,{person},dispute_opened,2026-07-01,I am not the person in this record\n"
    )
    db_args = ["--database", db_url, "--key", str(key)]
    assert main(["events", str(path), "--out", str(tmp_path), *db_args]) == 0
    # Approving the match now does not disclose: the person is frozen.
    for reviewer in ("alice", "bob"):
        assert main(["review", "decide", match_item["item_id"], "--approve",
                     *as_reviewer(db_url, reviewer, tmp_path), "--reason", "same person",
                     *db_args]) == 0  # fmt: skip
    with db.connect(db_url) as conn:
        about = conn.scalar(
            select(func.count()).select_from(Disclosure).where(Disclosure.person_id == person)
        )
    before = count(db_url, Disclosure)
    assert main(run_args(scenario, db_url, key, tmp_path / "again")) == 0
    with db.connect(db_url) as conn:
        assert about == conn.scalar(
            select(func.count()).select_from(Disclosure).where(Disclosure.person_id == person)
        )
    assert count(db_url, Disclosure) == before
    # The dispute review (four eyes) lifts the freeze; the next run may disclose again.
    for reviewer in ("carol", "dan"):
        assert main(["review", "decide", "EV-D1", "--approve",
                     *as_reviewer(db_url, reviewer, tmp_path),
                     "--reason", "record checked and confirmed", *db_args]) == 0  # fmt: skip
    assert main(run_args(scenario, db_url, key, tmp_path / "after")) == 0
    with db.connect(db_url) as conn:
        now = conn.scalar(
            select(func.count()).select_from(Disclosure).where(Disclosure.person_id == person)
        )
    assert now == about + 1
    with db.connect(db_url) as conn:
        released = conn.execute(
            select(Disclosure.decided_by).where(
                Disclosure.person_id == person, Disclosure.record_id == match_item["record_id"]
            )
        ).scalar_one()
    assert released == "reviewers:alice, bob"  # the run acted on their approval, not a rule
    assert main(["verify", *db_args]) == 0


def test_pausing_a_cohort_holds_exactly_those_people_and_resume_releases_them(
    scenario: Path, db_url: str, key: Path, tmp_path: Path
) -> None:
    init(db_url, key)
    assert main(["agreements", "load", str(scenario / "agreements"), "--database", db_url]) == 0
    assert main(["agreements", "pause", "home-office-to-bank", "--cohort", "age_over_30",
                 "--reason", "inspection of over-30s", "--database", db_url]) == 0  # fmt: skip
    paused = tmp_path / "paused"
    assert main(run_args(scenario, db_url, key, paused)) == 0
    held = json.loads((paused / "summary.json").read_text())["agreements"]
    assert held["home-office-to-bank"]["paused"] > 0
    assert held["home-office-to-dvla"]["paused"] == 0
    first = {d["person_id"] for d in read_csv(paused / "disclosures.csv")
             if d["recipient"] == "bank"}  # fmt: skip
    assert main(["agreements", "resume", "home-office-to-bank", "--cohort", "age_over_30",
                 "--reason", "inspection done", "--database", db_url]) == 0  # fmt: skip
    resumed = tmp_path / "resumed"
    assert main(run_args(scenario, db_url, key, resumed)) == 0
    released = [d for d in read_csv(resumed / "disclosures.csv") if d["recipient"] == "bank"]
    # What the pause held is released: disclosed now, or queued where a person must look.
    queued_before = {i["item_id"] for i in read_csv(paused / "review_queue.csv")}
    queued_now = [
        i for i in read_csv(resumed / "review_queue.csv")
        if i["agreement_id"] == "home-office-to-bank" and i["item_id"] not in queued_before
    ]  # fmt: skip
    assert released
    assert len(released) + len(queued_now) == held["home-office-to-bank"]["paused"]
    assert not {d["person_id"] for d in released} & first
    # Everyone released is over 30 on the as-of date; nothing else changed.
    from accord.store.models import Person

    with db.connect(db_url) as conn:
        born = dict(
            conn.execute(
                select(Person.person_id, Person.date_of_birth).where(
                    Person.person_id.in_([d["person_id"] for d in released])
                )
            ).all()
        )
    assert all((AS_OF - b).days / 365.25 > 30 for b in born.values())
    assert all(d["decided_by"] == "rule:automatic" for d in released)


def test_an_agreement_that_breaches_the_firewall_stops_the_run(
    scenario: Path, db_url: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(db_url, key)
    agreements = tmp_path / "agreements"
    shutil.copytree(scenario / "agreements", agreements)
    path = agreements / "home-office-to-dvla.yaml"
    path.write_text(
        path.read_text().replace("[immigration_casework]", "[immigration_casework, education]")
    )
    args = run_args(scenario, db_url, key, tmp_path / "out")
    args[args.index("--agreements") + 1] = str(agreements)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "firewall" in err and "education" in err
    assert not (tmp_path / "out").exists()
    assert count(db_url, Disclosure) == 0


def test_an_unusable_out_stops_the_run_before_anything_is_committed(
    scenario: Path, db_url: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(db_url, key)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(run_args(scenario, db_url, key, blocker / "out")) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is a file, not a folder" in err and len(err.splitlines()) == 1
    assert count(db_url, Disclosure) == 0


def test_a_killed_runs_staging_folder_is_cleared_by_the_next(
    scenario: Path, db_url: str, key: Path, tmp_path: Path
) -> None:
    init(db_url, key)
    out = tmp_path / "out"
    stale = out / ".run-20260101T000000Z-abc123.partial"
    (stale / "batches").mkdir(parents=True)
    (stale / "disclosures.csv").write_text("disclosure_id\n")
    assert main(run_args(scenario, db_url, key, out)) == 0
    assert not stale.exists()
    assert not list(out.glob(".*.partial")) and (out / "summary.json").is_file()
