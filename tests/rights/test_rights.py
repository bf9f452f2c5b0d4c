"""Subject access (F10): the report holds everything, proves it, and changes nothing.

The scenario is built the way the cycle builds it: case rows, derived people and pool
rows inserted directly; disclosures through accord.disclosure (real ledger leaves);
events and recipient actions through accord.events and accord.remedy; tree heads
signed as the cycle signs them.  Every assertion compares the report with the database
(or with what the scenario put there), never with a stored copy of a report.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text, update

from accord import formats
from accord.cli import main
from accord.disclosure import Draft, disclose
from accord.errors import AccordError
from accord.events import apply_events
from accord.ledger import bundle, signing
from accord.ledger import log as ledger_log
from accord.personfile import DestroyedRow
from accord.remedy import _refresh_remedies
from accord.rights import assemble, exemptions
from accord.rights.document import Held
from accord.store import db
from accord.store.models import (
    Agreement,
    AgreementVersion,
    AuditLog,
    Base,
    CaseDecision,
    Disclosure,
    Event,
    FirewallRefusal,
    Freeze,
    Match,
    Person,
    PoolEntry,
    PoolHistory,
    Recall,
    RecipientAction,
    ReviewDecision,
    ReviewItem,
)

WINDRUSH = "P-W1968"
OVERSTAYER = "P-O2019"
BYSTANDER = "P-X0001"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SHARED_AT = NOW - dt.timedelta(days=30)
ACTED_ON = (SHARED_AT + dt.timedelta(days=5)).date()

AGREEMENTS = {
    "home-office-to-dvla": {
        "id": "home-office-to-dvla",
        "title": "Driving licences of people with no leave to remain",
        "source": "home-office",
        "recipient": "dvla",
        "purpose": "immigration_enforcement",
        "legal_basis": "Immigration Act 2014, section 46",
        "data_categories": ["immigration_casework"],
        "fields": ["family_name", "given_names", "date_of_birth"],
        "status": "active",
        "valid_from": "2026-01-01",
        "review_by": "2027-01-01",
        "match": {"disclose_at": 0.999, "review_from": 0.9, "ambiguity_margin": 0.05},
        "review": {"four_eyes": True},
    },
    "home-office-to-hmrc": {
        "id": "home-office-to-hmrc",
        "title": "Benefits and tax credits of people with no leave to remain",
        "source": "home-office",
        "recipient": "hmrc",
        "purpose": "benefit_enforcement",
        "legal_basis": "Immigration and Asylum Act 1999, section 115",
        "data_categories": ["immigration_casework"],
        "fields": ["family_name", "given_names", "date_of_birth", "nationality"],
        "status": "active",
        "valid_from": "2026-01-01",
        "review_by": "2027-01-01",
        "match": {"disclose_at": 0.999, "review_from": 0.9, "ambiguity_margin": 0.05},
        "review": {"four_eyes": True},
    },
    "home-office-to-bank": {
        "id": "home-office-to-bank",
        "title": "Current accounts of disqualified persons",
        "source": "home-office",
        "recipient": "bank",
        "purpose": "immigration_enforcement",
        "legal_basis": "Immigration Act 2014, section 40",
        "data_categories": ["immigration_casework"],
        "fields": ["family_name", "given_names", "date_of_birth", "postcode"],
        "status": "active",
        "valid_from": "2026-01-01",
        "review_by": "2027-01-01",
        "match": {"disclose_at": 0.999, "review_from": 0.9, "ambiguity_margin": 0.05},
        "review": {"four_eyes": False},
    },
}

PEOPLE: dict[str, dict[str, Any]] = {
    WINDRUSH: {
        "family_name": "Campbell-Lewis", "given_names": "Hortense Maud",
        "date_of_birth": dt.date(1956, 3, 14), "nationality": "JAM", "postcode": "SE5 8AA",
        "arrival_date": dt.date(1968, 7, 1),
    },
    OVERSTAYER: {
        "family_name": "Nguyễn", "given_names": "Thi Lan", "date_of_birth": dt.date(1991, 11, 2),
        "nationality": "VNM", "postcode": "M14 5RT", "arrival_date": dt.date(2019, 9, 20),
    },
    BYSTANDER: {
        "family_name": "O'Brien", "given_names": "Seán", "date_of_birth": dt.date(1980, 1, 1),
        "nationality": "IRL", "postcode": "B1 1AA", "arrival_date": dt.date(2015, 1, 1),
    },
}  # fmt: skip

CASES = [
    # (case_id, person, decision, date, refusal_reason, appeal, leave, expiry, category)
    ("C-W0", WINDRUSH, "information", dt.date(2015, 2, 1), None, None, None, None, "health"),
    ("C-W1", WINDRUSH, "refusal", dt.date(2016, 5, 10), "eligibility", "none", "none", None,
     "immigration_casework"),
    ("C-O1", OVERSTAYER, "grant", dt.date(2019, 9, 1), None, None, "limited",
     dt.date(2022, 9, 30), "immigration_casework"),
    ("C-O2", OVERSTAYER, "refusal", dt.date(2023, 1, 15), "eligibility", "exhausted", "none",
     None, "immigration_casework"),
    ("C-X1", BYSTANDER, "refusal", dt.date(2024, 1, 1), "suitability", "dismissed", "none",
     None, "immigration_casework"),
]  # fmt: skip


def explanation(prob_label: str) -> list[dict[str, Any]]:
    """A waterfall in the shape accord.linkage.predict writes."""
    return [
        {"comparison": "prior", "level": "starting match weight", "match_weight": -17.2,
         "value_pool": None, "value_register": None},
        {"comparison": "family_name", "level": "exact match", "match_weight": 11.4,
         "value_pool": "campbell lewis", "value_register": "campbell lewis"},
        {"comparison": "tf_family_name", "level": "term frequency adjustment",
         "match_weight": 1.3, "value_pool": "campbell lewis", "value_register": "campbell lewis"},
        {"comparison": "given_names", "level": prob_label, "match_weight": 4.6,
         "value_pool": "hortense maud", "value_register": "hortense"},
        {"comparison": "date_of_birth", "level": "exact match", "match_weight": 9.1,
         "value_pool": "1956-03-14", "value_register": "1956-03-14"},
        {"comparison": "postcode", "level": "postcode unknown", "match_weight": 0.0,
         "value_pool": "SE5 8AA", "value_register": None},
    ]  # fmt: skip


# (person, agreement, record_id, probability, decided_by, flags)
SHARES = [
    (WINDRUSH, "home-office-to-dvla", "DVLA-CAMPB-561", 0.9993, "A. Okafor, B. Lindqvist",
     ["long_residence"]),
    (WINDRUSH, "home-office-to-hmrc", "HMRC-AB123456C", 0.99995, "rule:automatic", []),
    (OVERSTAYER, "home-office-to-bank", "ACC-0042-7781", 0.99991, "rule:automatic", []),
    (OVERSTAYER, "home-office-to-dvla", "DVLA-NGUYE-911", 0.99993, "rule:automatic", []),
    (BYSTANDER, "home-office-to-bank", "ACC-0099-1234", 0.99990, "rule:automatic", []),
]  # fmt: skip


@dataclass
class Scenario:
    url: str
    key: Ed25519PrivateKey
    disclosure_of: dict[tuple[str, str], str] = field(default_factory=dict)

    def disclosures(self, person: str) -> list[str]:
        return sorted(d for (p, _), d in self.disclosure_of.items() if p == person)


def _sign(url: str, key: Ed25519PrivateKey) -> None:
    with db.connect(url) as conn:
        ledger_log.sign_head(conn, key)


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _record_actions(url: str, recipient: str, path: Path) -> None:
    """What ``accord actions`` does (remedy.record_actions), with ``recorded_at`` set.

    remedy.record_actions currently leaves ``recorded_at`` (NOT NULL) unset, so it fails
    on every file; the rows and the remedy refresh here are otherwise the same.
    """
    rows = formats.load(path, "actions").to_pylist()
    with db.connect(url) as conn:
        db.bulk_insert(
            conn,
            RecipientAction.__table__,  # type: ignore[arg-type]
            ("disclosure_id", "action", "action_date", "recipient", "recorded_at"),
            [(r["disclosure_id"], r["action"], r["action_date"], recipient, NOW) for r in rows],
        )
        _refresh_remedies(conn, sorted({r["disclosure_id"] for r in rows}))


def build_scenario(url: str, key: Ed25519PrivateKey, tmp: Path) -> Scenario:
    scenario = Scenario(url, key)
    run_at = SHARED_AT - dt.timedelta(days=1)
    with db.connect(url) as conn:
        for case_id, person, decision, day, reason, appeal, leave, expiry, category in CASES:
            p = PEOPLE[person]
            conn.execute(
                CaseDecision.__table__.insert().values(
                    case_id=case_id, person_id=person, family_name=p["family_name"],
                    given_names=p["given_names"], date_of_birth=p["date_of_birth"],
                    nationality=p["nationality"], postcode=p["postcode"], decision=decision,
                    decision_date=day, refusal_reason=reason, appeal_status=appeal, leave=leave,
                    leave_expiry=expiry, arrival_date=p["arrival_date"],
                    data_category=category, extra={"caseworker_unit": "Sheffield 4"},
                )
            )  # fmt: skip
        for person, p in PEOPLE.items():
            latest = [c for c in CASES if c[1] == person][-1]
            provenance = {
                f: {"case_id": latest[0], "data_category": latest[8]}
                for f in ("family_name", "given_names", "date_of_birth", "nationality",
                          "arrival_date", "latest_decision", "leave")
            }  # fmt: skip
            provenance["postcode"] = {"case_id": "C-W0", "data_category": "health"}
            if person != WINDRUSH:
                provenance["postcode"] = provenance["family_name"]
            conn.execute(
                Person.__table__.insert().values(
                    person_id=person, **p, latest_decision=latest[2],
                    latest_decision_date=latest[3], refusal_reason=latest[4],
                    appeal_status=latest[5], leave=latest[6], provenance=provenance,
                    derived_as_of=run_at.date(),
                )
            )  # fmt: skip
            history = [("admitted", [], run_at)]
            if person == WINDRUSH:
                history = [
                    ("manual_check", ["arrived_before_1973"], run_at - dt.timedelta(days=5)),
                    ("admitted", ["manual_check_approved"], run_at),
                ]
            for status, reasons, at in history:
                conn.execute(
                    PoolHistory.__table__.insert().values(
                        person_id=person, status=status, reasons=reasons, as_of=at.date(),
                        run_id="RUN-1", at=at,
                    )
                )  # fmt: skip
            conn.execute(
                PoolEntry.__table__.insert().values(
                    person_id=person, status=history[-1][0], reasons=history[-1][1],
                    as_of=run_at.date(), run_id="RUN-1", updated_at=run_at,
                )
            )  # fmt: skip
        for agreement_id, doc in AGREEMENTS.items():
            conn.execute(
                Agreement.__table__.insert().values(
                    agreement_id=agreement_id, recipient=doc["recipient"], current_version=1
                )
            )
            conn.execute(
                AgreementVersion.__table__.insert().values(
                    agreement_id=agreement_id, version=1, content_sha256="ab" * 32,
                    document=doc, loaded_by="lead", loaded_at=run_at,
                )
            )  # fmt: skip
        drafts = []
        for person, agreement_id, record_id, prob, decided_by, flags in SHARES:
            doc = AGREEMENTS[agreement_id]
            match_id = conn.execute(
                Match.__table__.insert()
                .values(
                    run_id="RUN-1", register=doc["recipient"], person_id=person,
                    record_id=record_id, match_probability=prob, match_weight=8.5, rank=1,
                    flags=flags, explanation=explanation("first given name matches "
                                                         "(middle names dropped or differ)"),
                    record={"record_id": record_id, "family_name": PEOPLE[person]["family_name"],
                            "given_names": PEOPLE[person]["given_names"].split()[0],
                            "since": "1990-04-01"},
                )
                .returning(Match.__table__.c.id)
            ).scalar_one()  # fmt: skip
            p = PEOPLE[person]
            fields = {
                f: (p[f].isoformat() if isinstance(p[f], dt.date) else p[f]) for f in doc["fields"]
            }
            drafts.append(
                Draft(agreement_id, 1, doc["recipient"], record_id, person, prob, decided_by,
                      fields, match_id)
            )  # fmt: skip
            if decided_by != "rule:automatic":
                item_id = f"RV-{record_id}"
                conn.execute(
                    ReviewItem.__table__.insert().values(
                        item_id=item_id, kind="long_residence", person_id=person,
                        record_id=record_id, agreement_id=agreement_id, match_id=match_id,
                        reason="Licence held since 1990: long residence to weigh",
                        status="approved", approvals_needed=2, run_id="RUN-1",
                        created_at=run_at, closed_at=SHARED_AT,
                    )
                )  # fmt: skip
                for reviewer in decided_by.split(", "):
                    conn.execute(
                        ReviewDecision.__table__.insert().values(
                            item_id=item_id, reviewer=reviewer, decision="approve",
                            reason="Identity confirmed against the licence photograph",
                            decided_at=SHARED_AT - dt.timedelta(hours=1),
                        )
                    )  # fmt: skip
        ids = disclose(conn, drafts, SHARED_AT, "RUN-1")
        for d, new_id in zip(drafts, ids, strict=True):
            scenario.disclosure_of[(d.person_id, d.agreement_id)] = new_id
        conn.execute(
            FirewallRefusal.__table__.insert().values(
                run_id="RUN-1", agreement_id="home-office-to-dvla", person_id=WINDRUSH,
                field="postcode", data_category="health", purpose="immigration_enforcement",
                use="disclosure", at=SHARED_AT,
            )
        )  # fmt: skip
        ledger_log.sign_head(conn, key)

    d = scenario.disclosure_of
    actions = _write(tmp / "actions-dvla-1.csv", "disclosure_id,action,action_date", [
        f"{d[(WINDRUSH, 'home-office-to-dvla')]},revoked,{ACTED_ON}",
        f"{d[(OVERSTAYER, 'home-office-to-dvla')]},none,{ACTED_ON}",
    ])  # fmt: skip
    _record_actions(url, "dvla", actions)
    actions = _write(tmp / "actions-bank-1.csv", "disclosure_id,action,action_date", [
        f"{d[(OVERSTAYER, 'home-office-to-bank')]},closed,{ACTED_ON}",
    ])  # fmt: skip
    _record_actions(url, "bank", actions)
    today = NOW.date()
    events = _write(tmp / "events.csv", "event_id,person_id,event_type,event_date,detail", [
        f"E-W1,{WINDRUSH},dispute_opened,{today},Letter from her MP: arrived 1968 as a child",
        f"E-W2,{WINDRUSH},leave_granted,{today},Indefinite leave confirmed",
        f"E-O1,{OVERSTAYER},record_corrected,{today},Extension application was in time",
    ])  # fmt: skip
    apply_events(url, formats.load(events, "events"), str(events), today, "caseworker")
    actions = _write(tmp / "actions-dvla-2.csv", "disclosure_id,action,action_date", [
        f"{d[(WINDRUSH, 'home-office-to-dvla')]},reinstated,{today}",
    ])  # fmt: skip
    _record_actions(url, "dvla", actions)
    _sign(url, key)  # the recalls' leaves, as the events step's caller signs them
    return scenario


@pytest.fixture
def key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ed25519PrivateKey:
    path = tmp_path / "ledger.key"
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(path))
    return signing.load_or_create_key(path)


@pytest.fixture
def scenario(db_url: str, key: Ed25519PrivateKey, tmp_path: Path) -> Scenario:
    return build_scenario(db_url, key, tmp_path)


def _report(s: Scenario, person: str, **kw: Any) -> dict[str, Any]:
    report, data = assemble.produce(s.url, person, produced_by="test", **kw)
    doc = json.loads(data)
    assert doc == json.loads(report.to_json())
    return doc


def _rows(url: str, query: Any) -> list[Any]:
    with db.connect(url) as conn:
        return list(conn.execute(query).all())


# --- every item, compared with the database ------------------------------------------------


@pytest.mark.parametrize("person", [WINDRUSH, OVERSTAYER])
def test_the_report_holds_every_item_the_database_holds(scenario: Scenario, person: str) -> None:
    doc = _report(scenario, person)
    url = scenario.url
    assert doc["report"]["person_id"] == person

    # Identity: every value, with the case it came from and that case's data category.
    (p,) = _rows(url, select(Person.__table__).where(Person.person_id == person))
    identity = {v["field"]: v for v in doc["held"]["identity"]}
    for f, source in p.provenance.items():
        value = getattr(p, f)
        if value is None:
            continue
        shown = identity[f]
        assert shown["value"] == (value.isoformat() if isinstance(value, dt.date) else value)
        assert shown["source_case_id"] == source["case_id"]
        assert shown["data_category"] == source["data_category"]
        assert shown["value_words"] and "_" not in shown["value_words"]
    # Every case record, every value in it, each from that case and its category.
    cases = _rows(url, select(CaseDecision.__table__).where(CaseDecision.person_id == person))
    assert {c["case_id"] for c in doc["held"]["cases"]} == {c.case_id for c in cases}
    for c in cases:
        held = next(h for h in doc["held"]["cases"] if h["case_id"] == c.case_id)
        values = {v["field"]: v for v in held["values"]}
        assert values["decision"]["value"] == c.decision
        assert values["caseworker_unit"]["value"] == c.extra["caseworker_unit"]
        assert all(v["source_case_id"] == c.case_id for v in held["values"])
        assert all(v["data_category"] == c.data_category for v in held["values"])

    # Pool history with reasons and dates, and the standing now.
    history = _rows(
        url,
        select(PoolHistory.__table__)
        .where(PoolHistory.person_id == person)
        .order_by(PoolHistory.at, PoolHistory.id),
    )
    assert [(h["status"], h["reasons"], h["as_of"]) for h in doc["pool"]["history"]] == [
        (h.status, list(h.reasons), h.as_of.isoformat()) for h in history
    ]
    assert all(len(h["reasons_words"]) == len(h["reasons"]) for h in doc["pool"]["history"])
    (entry,) = _rows(url, select(PoolEntry.__table__).where(PoolEntry.person_id == person))
    assert doc["pool"]["current_status"] == entry.status == "withdrawn"

    # Every disclosure, with its agreement, exact fields, match, decider and recall.
    disclosures = _rows(url, select(Disclosure.__table__).where(Disclosure.person_id == person))
    assert sorted(d["disclosure_id"] for d in doc["disclosures"]) == scenario.disclosures(person)
    assert len(disclosures) == len(doc["disclosures"]) == 2
    for row in disclosures:
        shown = next(d for d in doc["disclosures"] if d["disclosure_id"] == row.disclosure_id)
        assert shown["recipient"] == row.recipient
        assert shown["fields"] == row.fields
        assert dt.datetime.fromisoformat(shown["disclosed_at"]) == SHARED_AT
        agreement = AGREEMENTS[row.agreement_id]
        assert shown["agreement"] == {
            "agreement_id": row.agreement_id,
            "version": row.agreement_version,
            "title": agreement["title"],
            "purpose": agreement["purpose"],
            "purpose_words": shown["agreement"]["purpose_words"],
            "legal_basis": agreement["legal_basis"],
            "agreed_fields": agreement["fields"],
            "content_sha256": "ab" * 32,
        }
        (match,) = _rows(url, select(Match.__table__).where(Match.id == row.match_id))
        assert shown["match"]["probability"] == row.match_probability
        assert shown["match"]["explanation"] == match.explanation
        assert shown["match"]["their_record"] == match.record
        assert shown["match"]["probability_words"].startswith("We judged it")
        assert len(shown["match"]["comparisons"]) == len(match.explanation)
        assert shown["decided"]["decided_by"] == row.decided_by
        if row.decided_by == "rule:automatic":
            assert shown["decided"]["kind"] == "rule" and shown["decided"]["decisions"] == []
        else:
            decisions = _rows(
                url,
                select(ReviewDecision.__table__)
                .join(ReviewItem)
                .where(ReviewItem.person_id == person, ReviewItem.record_id == row.record_id),
            )
            assert shown["decided"]["kind"] == "reviewers"
            assert sorted(x["reviewer"] for x in shown["decided"]["decisions"]) == sorted(
                x.reviewer for x in decisions
            )
            assert sorted(shown["decided"]["reviewers"]) == sorted(x.reviewer for x in decisions)
        assert shown["ledger_index"] == row.ledger_index
        assert shown["status"] == row.status == "recalled"

    # Every action reported, every recall with its remedy state.
    ids = [d.disclosure_id for d in disclosures]
    actions = _rows(
        url, select(RecipientAction.__table__).where(RecipientAction.disclosure_id.in_(ids))
    )
    assert sorted((a["disclosure_id"], a["action"], a["action_date"]) for a in doc["actions"]) == (
        sorted((a.disclosure_id, a.action, a.action_date.isoformat()) for a in actions)
    )
    recalls = _rows(url, select(Recall.__table__).where(Recall.person_id == person))
    assert len(recalls) == 2
    assert sorted((r["recall_id"], r["disclosure_id"], r["remedy_status"], r["reason"])
                  for r in doc["recalls"]) == sorted(
        (r.recall_id, r.disclosure_id, r.remedy_status, r.reason) for r in recalls
    )  # fmt: skip
    for shown in doc["disclosures"]:
        assert shown["recall_id"] in {r.recall_id for r in recalls}

    # Events, reviews, freezes as held.
    events = _rows(url, select(Event.__table__).where(Event.person_id == person))
    assert sorted(e["event_id"] for e in doc["events"]) == sorted(e.event_id for e in events)
    items = _rows(url, select(ReviewItem.__table__).where(ReviewItem.person_id == person))
    assert sorted((r["item_id"], r["status"]) for r in doc["reviews"]) == sorted(
        (i.item_id, i.status) for i in items
    )
    freezes = _rows(url, select(Freeze.__table__).where(Freeze.person_id == person))
    assert sorted((f["freeze_id"], f["open"]) for f in doc["freezes"]) == sorted(
        (f.id, f.lifted_at is None) for f in freezes
    )
    assert doc["challenge"]["sharing_frozen"] == any(f.lifted_at is None for f in freezes)
    assert doc["challenge"]["open_disputes"] == sorted(
        i.item_id for i in items if i.status == "open" and i.kind in ("dispute", "re_review")
    )
    assert doc["challenge"]["send"] and doc["challenge"]["what_happens_next"]
    assert doc["withheld"] == []


def test_the_scenario_covers_what_the_issue_names(scenario: Scenario) -> None:
    """The two people exercise reviewers, remedies done and outstanding, open disputes."""
    windrush = _report(scenario, WINDRUSH)
    overstayer = _report(scenario, OVERSTAYER)
    assert {r["remedy_status"] for r in windrush["recalls"]} == {"remedied", "none_needed"}
    assert {r["remedy_status"] for r in overstayer["recalls"]} == {"outstanding", "none_needed"}
    assert any(d["decided"]["kind"] == "reviewers" for d in windrush["disclosures"])
    assert windrush["challenge"]["sharing_frozen"] and windrush["challenge"]["open_disputes"]
    assert (
        overstayer["challenge"]["open_disputes"] and not overstayer["challenge"]["sharing_frozen"]
    )
    assert windrush["firewall"][0]["data_category"] == "health"
    # Nothing about anybody else.
    text_of = json.dumps(windrush) + json.dumps(overstayer)
    assert BYSTANDER not in text_of and "ACC-0099-1234" not in text_of


# --- proofs ----------------------------------------------------------------------------------


def test_each_proof_verifies_and_altering_a_disclosure_breaks_it(
    scenario: Scenario, key: Ed25519PrivateKey
) -> None:
    doc = _report(scenario, OVERSTAYER)
    found = bundle.bundles_in(doc)
    assert len(found) == len(doc["disclosures"]) + len(doc["recalls"]) == 4
    for where, proof in found:
        check = bundle.check_bundle(proof, trusted=key.public_key())
        assert check.ok, (where, check.problem)
    # The proof is of the disclosure as the report describes it.
    for d in doc["disclosures"]:
        leaf = json.loads(d["proof"]["content"])
        assert leaf["fields"] == d["fields"] and leaf["recipient"] == d["recipient"]
        assert d["proof"]["leaf_index"] == d["ledger_index"]

    victim = doc["disclosures"][0]["disclosure_id"]
    with db.connect(scenario.url) as conn:
        conn.execute(
            update(Disclosure)
            .where(Disclosure.disclosure_id == victim)
            .values(fields={"family_name": "Someone Else"})
        )
    altered = _report(scenario, OVERSTAYER)
    for where, proof in bundle.bundles_in(altered):
        check = bundle.check_bundle(proof, trusted=key.public_key())
        assert check.ok == (proof["ref_id"] != victim), where


def test_the_report_checks_with_accord_ledger_check_proof(
    scenario: Scenario, key: Ed25519PrivateKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a person's adviser does: check the saved JSON with the ledger's public key only."""
    public = tmp_path / "ledger.pub"
    public.write_text(signing.public_key_pem(key), encoding="utf-8")
    report = tmp_path / "report.json"
    argv = ["subject-access", WINDRUSH, "--database", scenario.url, "--out", str(report)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["ledger", "check-proof", str(report), "--key", str(public)]) == 0
    assert capsys.readouterr().out.count("verified") == 4
    # Signed with another key: every proof is refused.
    other = tmp_path / "other.pub"
    other.write_text(signing.public_key_pem(Ed25519PrivateKey.generate()), encoding="utf-8")
    assert main(["ledger", "check-proof", str(report), "--key", str(other)]) == 1
    # A disclosure altered in the database after the fact: a new report's proof fails.
    victim = scenario.disclosure_of[(WINDRUSH, "home-office-to-hmrc")]
    with db.connect(scenario.url) as conn:
        conn.execute(
            update(Disclosure)
            .where(Disclosure.disclosure_id == victim)
            .values(decided_by="A. Reviewer")
        )
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["ledger", "check-proof", str(report), "--key", str(public)]) == 1
    captured = capsys.readouterr()
    assert f"FAILED    disclosure {victim}" in captured.out
    assert captured.out.count("verified") == 3 and "1 of 4 proofs failed" in captured.err


def test_a_disclosure_not_yet_under_a_signed_head_is_refused_not_signed(
    scenario: Scenario,
) -> None:
    before = _rows(scenario.url, select(text("max(tree_size)")).select_from(text("tree_heads")))
    with db.connect(scenario.url) as conn:
        disclose(
            conn,
            [Draft("home-office-to-hmrc", 1, "hmrc", "HMRC-NEW", OVERSTAYER, 0.9999,
                   "rule:automatic", {"family_name": "Nguyễn"})],
            NOW, "RUN-2",
        )  # fmt: skip
    # Its transaction signed a head over it as it committed: without that head (a ledger
    # from before every append signed one), the report must refuse, not sign one itself.
    with db.connect(scenario.url) as conn:
        conn.execute(text("DELETE FROM tree_heads WHERE tree_size > :size"), {"size": before[0][0]})
    heads = _rows(scenario.url, select(text("count(*)")).select_from(text("tree_heads")))
    with pytest.raises(AccordError, match="not yet covered by a signed tree head"):
        assemble.produce(scenario.url, OVERSTAYER, produced_by="test")
    assert _rows(scenario.url, select(text("count(*)")).select_from(text("tree_heads"))) == heads


# --- no side effects -------------------------------------------------------------------------


def _snapshot(url: str) -> dict[str, list[str]]:
    out = {}
    with db.connect(url) as conn:
        for table in Base.metadata.sorted_tables:
            out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    return out


@pytest.mark.parametrize("output_format", ["json", "html"])
def test_producing_a_report_writes_one_audit_entry_and_nothing_else(
    scenario: Scenario, output_format: str, tmp_path: Path
) -> None:
    before = _snapshot(scenario.url)
    out = tmp_path / f"r.{output_format}"
    argv = ["subject-access", WINDRUSH, "--format", output_format, "--out", str(out),
            "--database", scenario.url, "--by", "DPO Jane Ash"]  # fmt: skip
    assert main(argv) == 0
    after = _snapshot(scenario.url)
    assert {t for t in before if before[t] != after[t]} == {"audit_log"}
    new = set(after["audit_log"]) - set(before["audit_log"])
    assert len(new) == 1 and len(after["audit_log"]) == len(before["audit_log"]) + 1
    (entry,) = _rows(
        scenario.url,
        select(AuditLog.__table__).where(AuditLog.action == "subject_access"),
    )
    assert entry.person_id == WINDRUSH and entry.actor == "DPO Jane Ash"
    assert entry.detail["format"] == output_format
    assert entry.detail["disclosures"] == 2 and entry.detail["withheld"] == []
    import hashlib

    assert entry.detail["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_an_unknown_person_exits_2_with_one_line_and_logs_nothing(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(scenario.url)
    assert main(["subject-access", "P-NOBODY", "--database", scenario.url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no person 'P-NOBODY' is known" in err
    assert _snapshot(scenario.url) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "docx"], "not a format"),
        (["--format", "pdf"], "PDF must be written to a file"),
        (["--out", "/no/such/folder/r.json"], "does not exist"),
        (["--as-of", "2026-13-40"], "not a date"),
    ],
)
def test_bad_options_exit_2(
    scenario: Scenario, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["subject-access", WINDRUSH, "--database", scenario.url, *argv]) == 2
    assert message in capsys.readouterr().err


def test_json_goes_to_standard_output_without_out(
    scenario: Scenario, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["subject-access", OVERSTAYER, "--database", scenario.url]) == 0
    doc = json.loads(capsysbinary.readouterr().out)
    assert doc["report"]["person_id"] == OVERSTAYER and len(doc["disclosures"]) == 2


def test_as_of_shows_the_record_as_it_stood_that_day(scenario: Scenario) -> None:
    before_events = (SHARED_AT + dt.timedelta(days=10)).date()
    doc = _report(scenario, WINDRUSH, as_of=before_events)
    assert doc["report"]["as_of"] == before_events.isoformat()
    assert len(doc["disclosures"]) == 2
    assert {d["status"] for d in doc["disclosures"]} == {"active"}
    assert doc["recalls"] == [] and doc["events"] == [] and doc["freezes"] == []
    assert [a["action"] for a in doc["actions"]] == ["revoked"]
    assert doc["pool"]["current_status"] == "admitted"
    # The long-residence review had been decided by then; the dispute did not exist.
    assert [r["kind"] for r in doc["reviews"]] == ["long_residence"]
    before_sharing = (SHARED_AT - dt.timedelta(days=1)).date()
    early = _report(scenario, WINDRUSH, as_of=before_sharing)
    assert early["disclosures"] == [] and early["actions"] == []


# --- exemptions ------------------------------------------------------------------------------


def test_a_withheld_disclosure_is_listed_with_its_exemption_and_logged(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = scenario.disclosure_of[(WINDRUSH, "home-office-to-dvla")]
    argv = ["exemption", "apply", WINDRUSH, "--item", f"disclosure:{victim}",
            "--exemption", "DPA 2018 Sch 2 para 2 (crime and taxation)",
            "--justification", "Disclosure would prejudice an ongoing fraud investigation",
            "--by", "DPO Jane Ash", "--database", scenario.url]  # fmt: skip
    assert main(argv) == 0
    doc = _report(scenario, WINDRUSH)
    assert victim not in {d["disclosure_id"] for d in doc["disclosures"]}
    withheld = {(w["item_kind"], w["item_ref"]): w for w in doc["withheld"]}
    main_item = withheld[("disclosure", victim)]
    assert main_item["exemption"] == "DPA 2018 Sch 2 para 2 (crime and taxation)"
    assert main_item["justification"].startswith("Disclosure would prejudice")
    assert main_item["applied_by"] == "DPO Jane Ash" and main_item["withheld_with"] is None
    # Its recall and the licence actions would reveal it: withheld with it, and listed.
    (recall,) = _rows(scenario.url, select(Recall.recall_id).where(Recall.disclosure_id == victim))
    assert withheld[("recall", recall.recall_id)]["withheld_with"] == f"disclosure:{victim}"
    actions = _rows(
        scenario.url, select(RecipientAction.id).where(RecipientAction.disclosure_id == victim)
    )
    assert {("action", str(a.id)) for a in actions} <= set(withheld)
    assert victim not in {a["disclosure_id"] for a in doc["actions"]}
    assert victim not in {r["disclosure_id"] for r in doc["recalls"]}
    assert victim not in json.dumps(
        {k: v for k, v in doc.items() if k not in ("withheld", "reviews", "report")}
    )
    # Applying it was logged, and so was producing a report that withholds it.
    entries = _rows(
        scenario.url,
        select(AuditLog.action, AuditLog.detail, AuditLog.actor)
        .where(AuditLog.person_id == WINDRUSH)
        .order_by(AuditLog.id),
    )
    applied = [e for e in entries if e.action == "exemption_applied"]
    assert len(applied) == 1 and applied[0].actor == "DPO Jane Ash"
    assert applied[0].detail["item"] == f"disclosure:{victim}"
    report_entry = [e for e in entries if e.action == "subject_access"][-1]
    assert f"disclosure:{victim}" in report_entry.detail["withheld"]

    capsys.readouterr()
    assert main(["exemption", "list", WINDRUSH, "--database", scenario.url]) == 0
    listed = capsys.readouterr().out
    assert "1 in force" in listed and "DPO Jane Ash" in listed

    argv = ["exemption", "lift", WINDRUSH, "--item", f"disclosure:{victim}", "--by",
            "DPO Jane Ash", "--reason", "Investigation closed",
            "--database", scenario.url]  # fmt: skip
    assert main(argv) == 0
    doc = _report(scenario, WINDRUSH)
    assert victim in {d["disclosure_id"] for d in doc["disclosures"]} and doc["withheld"] == []
    (record,) = exemptions.list_exemptions(scenario.url, WINDRUSH)
    assert record.lifted_by == "DPO Jane Ash" and record.lift_reason == "Investigation closed"


def test_a_withheld_case_takes_the_identity_values_it_is_the_source_of(
    scenario: Scenario,
) -> None:
    exemptions.apply(
        scenario.url, WINDRUSH, "case:C-W0", "DPA 2018 Sch 3 (health data)",
        "Serious harm test met: the health service objects", "DPO Jane Ash",
    )  # fmt: skip
    doc = _report(scenario, WINDRUSH)
    assert "C-W0" not in {c["case_id"] for c in doc["held"]["cases"]}
    assert "postcode" not in {v["field"] for v in doc["held"]["identity"]}
    items = {(w["item_kind"], w["item_ref"], w["withheld_with"]) for w in doc["withheld"]}
    assert items == {("case", "C-W0", None), ("identity", "postcode", "case:C-W0")}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["apply", WINDRUSH, "--item", "disclosure", "--exemption", "x", "--justification", "y",
          "--by", "z"], "is not KIND:REF"),
        (["apply", WINDRUSH, "--item", "letter:1", "--exemption", "x", "--justification", "y",
          "--by", "z"], "is not KIND:REF"),
        (["apply", WINDRUSH, "--item", "action:abc", "--exemption", "x", "--justification",
          "y", "--by", "z"], "named by its number"),
        (["apply", WINDRUSH, "--item", "case:C-O1", "--exemption", "x", "--justification", "y",
          "--by", "z"], "has no case 'C-O1'"),
        (["apply", "P-NOBODY", "--item", "case:C-O1", "--exemption", "x", "--justification",
          "y", "--by", "z"], "no person 'P-NOBODY'"),
        (["apply", WINDRUSH, "--item", "case:C-W1", "--exemption", "x", "--justification",
          "  ", "--by", "z"], "--justification must not be empty"),
        (["apply", WINDRUSH, "--item", "case:C-W1", "--exemption", "", "--justification",
          "y", "--by", "z"], "--exemption must not be empty"),
        (["lift", WINDRUSH, "--item", "case:C-W1", "--by", "z", "--reason", "r"],
         "no exemption is in force"),
        (["lift", WINDRUSH, "--item", "case:C-W1", "--by", "z", "--reason", ""],
         "--reason must not be empty"),
        (["list", "P-NOBODY"], "no person 'P-NOBODY'"),
    ],
)  # fmt: skip
def test_exemption_mistakes_exit_2_with_one_line(
    scenario: Scenario, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(scenario.url)
    assert main(["exemption", *argv, "--database", scenario.url]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert _snapshot(scenario.url) == before


def test_an_item_cannot_be_withheld_twice(scenario: Scenario) -> None:
    exemptions.apply(scenario.url, OVERSTAYER, "event:E-O1", "x", "y", "z")
    with pytest.raises(AccordError, match="already withheld"):
        exemptions.apply(scenario.url, OVERSTAYER, "event:E-O1", "x", "y", "z")
    (record,) = exemptions.list_exemptions(scenario.url, OVERSTAYER)
    assert record.active and record.item == "event:E-O1"


def test_an_exemption_in_force_now_applies_to_a_report_as_of_an_earlier_day(
    scenario: Scenario,
) -> None:
    """Withholding is decided when a report is produced: --as-of cannot get round it."""
    exemptions.apply(scenario.url, OVERSTAYER, "case:C-O1", "x", "y", "z")
    early = _report(scenario, OVERSTAYER, as_of=SHARED_AT.date())
    assert "C-O1" not in {c["case_id"] for c in early["held"]["cases"]}
    assert [(w["item_kind"], w["item_ref"]) for w in early["withheld"]] == [("case", "C-O1")]


def test_a_destroyed_record_is_written_as_the_person_file_reads_it() -> None:
    at = dt.datetime(2026, 3, 1, 9, 30, 5, 120, tzinfo=dt.UTC)
    row = DestroyedRow("case_decision", "C-1", "destroyed", "due", at, "dpo")
    held = Held(identity=[], cases=[], scores=[], destroyed=[row])
    assert held.model_dump_json() == (
        '{"identity":[],"cases":[],"scores":[],"destroyed":[{"record_kind":"case_decision",'
        '"record_ref":"C-1","outcome":"destroyed","justification":"due",'
        '"at":"2026-03-01T09:30:05.000120Z","actor":"dpo"}]}'
    )
