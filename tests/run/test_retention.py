"""Evidence retention (F9) on a synthetic scenario aged forward, checked against the truth."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from accord.cli import main
from accord.errors import AccordError
from accord.retention import apply, content_digest, plan
from accord.store import db
from accord.store.models import CaseDecision, DerivedScore, DestructionLog, Recall
from accord.synth import synthesise
from accord.synth.truth import people_truth

AS_OF = dt.date(2026, 6, 30)
LATER = dt.date(2080, 1, 1)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    synthesise(out, people=800, seed=7, as_of=AS_OF)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run_and_revoke(scenario: Path, url: str, tmp_path: Path) -> set[str]:
    """A run, its events, and adverse actions left unreversed: the people owed a remedy."""
    key = tmp_path / "ledger.pem"
    assert main(["init", "--database", url, "--key", str(key)]) == 0
    out = tmp_path / "out"
    args = ["run", "--cases", str(scenario / "cases.csv")]
    for name in ("dvla", "hmrc", "bank"):
        args += ["--register", f"{name}={scenario / (name + '.csv')}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat(),
             "--database", url, "--key", str(key), "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert main(["events", str(scenario / "events.csv"), "--out", str(out), "--as-of",
                 "2026-07-01", "--database", url, "--key", str(key)]) == 0  # fmt: skip
    recalls = [r for r in read_csv(out / "recalls.csv") if r["reason"] != "departure_recorded"]
    assert recalls, "the scenario should recall disclosures about wronged people"
    path = tmp_path / "actions.csv"
    for r in recalls[:3]:
        path.write_text(f"disclosure_id,action,action_date\n{r['disclosure_id']},revoked,"
                        "2026-06-15\n")  # fmt: skip
        assert main(["actions", r["recipient"], str(path), "--database", url]) == 0
    with db.connect(url) as conn:
        owed = set(
            conn.scalars(select(Recall.person_id).where(Recall.remedy_status == "outstanding"))
        )
    assert owed
    return owed


def test_apply_destroys_routine_records_and_refuses_evidence_and_remedies(
    scenario: Path, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owed = run_and_revoke(scenario, db_url, tmp_path)
    truth = people_truth(scenario).to_pylist()
    windrush = {t["person_id"] for t in truth if t["kind"] == "windrush"}
    assert windrush
    cases = read_csv(scenario / "cases.csv")
    arrival_records = {c["case_id"] for c in cases if c["arrival_date"] and
                       c["person_id"] in windrush}  # fmt: skip
    assert arrival_records
    owed_records = {c["case_id"] for c in cases if c["person_id"] in owed}
    before = {c.case_id: c for c in _cases(db_url)}

    capsys.readouterr()
    assert main(["retention", "plan", "--as-of", LATER.isoformat(), "--database", db_url]) == 0
    listed = capsys.readouterr().out
    assert "evidence of status: an arrival record" in listed
    assert "the person has an outstanding remedy" in listed

    assert main(["retention", "apply", "--as-of", LATER.isoformat(), "--by", "records officer",
                 "--database", db_url]) == 0  # fmt: skip
    with db.connect(db_url) as conn:
        log = {r.record_ref: r for r in conn.execute(select(DestructionLog)).all()}
    destroyed = {ref for ref, r in log.items() if r.outcome == "destroyed"}
    refused = {ref for ref, r in log.items() if r.outcome == "refused"}
    # Routine records went; no arrival record of the pre-1973 cohort and nothing of a
    # person owed a remedy did, and each refusal is logged with its reason.
    assert destroyed
    assert arrival_records <= refused
    assert owed_records <= refused
    assert not (arrival_records | owed_records) & destroyed
    for ref in owed_records:
        assert "an outstanding remedy" in log[ref].justification or "evidence of" in (
            log[ref].justification
        )
    after = {c.case_id: c for c in _cases(db_url)}
    for ref in arrival_records | owed_records:
        assert after[ref].destroyed_at is None
        assert after[ref].family_name == before[ref].family_name
    for ref in destroyed:
        row, was = after[ref], before[ref]
        assert row.destroyed_at is not None and row.person_id == was.person_id
        assert (row.family_name, row.given_names, row.date_of_birth, row.postcode) == (
            "", "", None, None)  # fmt: skip
        assert log[ref].actor == "records officer"
        assert log[ref].content_sha256 == content_digest(_held(was))
    # A second pass finds nothing more to destroy.
    assert all(i.action == "refuse" for i in plan(db_url, LATER))


def _cases(url: str) -> list[CaseDecision]:
    with db.session(url) as s:
        rows = list(s.scalars(select(CaseDecision)))
        s.expunge_all()
        return rows


def _held(c: CaseDecision) -> dict[str, object]:
    cols = ("case_id", "person_id", "decision", "decision_date", "data_category", "family_name",
            "given_names", "date_of_birth", "nationality", "postcode", "refusal_reason",
            "appeal_status", "leave", "leave_expiry", "arrival_date", "departure_date")  # fmt: skip
    held: dict[str, object] = {k: getattr(c, k) for k in cols}
    held["extra"] = None if c.extra is None else json.dumps(c.extra)  # as stored
    return held


def test_expired_scores_are_listed_for_deletion_and_destroyed(db_url: str) -> None:
    with db.session(db_url) as s:
        for sid, until in (("S-old", dt.date(2026, 1, 1)), ("S-new", dt.date(2027, 1, 1))):
            s.add(DerivedScore(score_id=sid, person_id=f"P-{sid}", kind="risk", value=0.5,
                               role="subject", explanation={"method": "m"},
                               computed_at=dt.date(2025, 1, 1), retain_until=until))  # fmt: skip
        s.commit()
    items = plan(db_url, AS_OF)
    assert [(i.record_ref, i.action, i.justification) for i in items] == [
        ("S-old", "destroy", "past its retention limit (retain_until 2026-01-01)")
    ]
    assert apply(db_url, AS_OF, "dpo").destroyed == 1
    with db.connect(db_url) as conn:
        old = conn.execute(select(DerivedScore).where(DerivedScore.score_id == "S-old")).one()
        new = conn.execute(select(DerivedScore).where(DerivedScore.score_id == "S-new")).one()
    assert old.destroyed_at is not None and old.explanation == {}
    assert new.destroyed_at is None
    assert plan(db_url, AS_OF) == []


def test_a_person_under_a_freeze_keeps_their_expired_score(db_url: str) -> None:
    from accord.store.models import Freeze

    with db.session(db_url) as s:
        s.add(DerivedScore(score_id="S1", person_id="P1", kind="risk", value=0.5, role="victim",
                           explanation={}, computed_at=dt.date(2020, 1, 1),
                           retain_until=dt.date(2021, 1, 1)))  # fmt: skip
        s.add(Freeze(person_id="P1", reason="dispute"))
        s.commit()
    [item] = plan(db_url, AS_OF)
    assert (item.action, item.justification) == ("refuse", "the person has an open freeze")
    assert apply(db_url, AS_OF, "dpo").refused == 1
    with db.session(db_url) as s:
        s.execute(update(Freeze).values(lifted_at=dt.datetime.now(dt.UTC)))
        s.commit()
    assert [i.action for i in plan(db_url, AS_OF)] == ["destroy"]


def test_apply_without_an_actor_is_refused(db_url: str) -> None:
    with pytest.raises(AccordError, match="retention apply needs --by NAME"):
        apply(db_url, AS_OF, "  ")
    assert main(["retention", "apply", "--as-of", "2026-13-01", "--by", "x",
                 "--database", db_url]) == 2  # fmt: skip


def test_an_open_dispute_keeps_a_record_until_it_is_resolved(db_url: str) -> None:
    from accord.store.models import Event

    with db.session(db_url) as s:
        s.add(DerivedScore(score_id="S1", person_id="P1", kind="risk", value=0.5, role="subject",
                           explanation={}, computed_at=dt.date(2020, 1, 1),
                           retain_until=dt.date(2021, 1, 1)))  # fmt: skip
        s.add(Event(event_id="E1", person_id="P1", event_type="dispute_opened",
                    event_date=dt.date(2026, 1, 1)))  # fmt: skip
        s.commit()
    [item] = plan(db_url, AS_OF)
    assert (item.action, item.justification) == ("refuse", "the person has an open dispute")
    with db.session(db_url) as s:
        s.add(Event(event_id="E2", person_id="P1", event_type="dispute_resolved",
                    event_date=dt.date(2026, 2, 1)))  # fmt: skip
        s.commit()
    assert [i.action for i in plan(db_url, AS_OF)] == ["destroy"]


def test_an_expired_score_is_kept_only_while_that_score_is_disclosed(db_url: str) -> None:
    """A record shared about the person does not rest on their score: only an active
    disclosure of the score itself keeps it past its limit; any disclosure about the
    person still keeps their case records."""
    from accord.store.models import Disclosure

    def disclosure(n: int, person: str, score_id: str) -> Disclosure:
        return Disclosure(
            disclosure_id=f"D{n}", agreement_id="A", agreement_version=1, recipient="bank",
            record_id=f"R{n}", person_id=person, match_probability=1.0, decided_by="rule:auto",
            fields={}, score_id=score_id, disclosed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            ledger_index=n,
        )  # fmt: skip

    with db.session(db_url) as s:
        for sid, person in (("S1", "P1"), ("S2", "P2")):
            s.add(DerivedScore(score_id=sid, person_id=person, kind="risk", value=0.5,
                               role="subject", explanation={}, computed_at=dt.date(2020, 1, 1),
                               retain_until=dt.date(2021, 1, 1)))  # fmt: skip
        s.add(disclosure(0, "P1", ""))  # a record about P1
        s.add(disclosure(1, "P2", "S2"))  # P2's score itself
        s.commit()
    items = {i.record_ref: (i.action, i.justification) for i in plan(db_url, AS_OF)}
    assert items == {
        "S1": ("destroy", "past its retention limit (retain_until 2021-01-01)"),
        "S2": ("refuse", "the person has an active disclosure that depends on it"),
    }
    with db.session(db_url) as s:
        s.execute(update(Disclosure).where(Disclosure.score_id == "S2").values(status="recalled"))
        s.commit()
    assert [(i.record_ref, i.action) for i in plan(db_url, AS_OF)] == [
        ("S1", "destroy"),
        ("S2", "destroy"),
    ]
