"""People with one name, end to end: taken in, admitted, matched, shared, shown to them.

Many people have one name (SPEC.md: either name part may be empty, not both).  Three
people are added to a small synthetic scenario: Sukarno, recorded with given names only;
Haile, recorded with a family name only and held by the DVLA with the one name in both
fields; and Chidi Okafor, whose date of birth nobody recorded.  None of them may be
refused, quarantined or shown as "None".
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from reviewers import as_reviewer
from sqlalchemy import select

from accord import identity
from accord.cli import main
from accord.store import db
from accord.store.models import Disclosure, Person, PoolEntry
from accord.synth import synthesise
from accord.web import create_app

AS_OF = dt.date(2026, 6, 30)
SECRET = "mononym-test-secret-" + "x" * 40
PASSWORD = "correct horse battery"
CASES = [
    "CM1,PM1,,Sukarno,1975-03-14,IDN,E8 3PN,refusal,2024-02-01,eligibility,exhausted,none,,"
    "2019-01-01,,",
    "CM2,PM2,Haile,,1980-07-02,ERI,N1 9GU,refusal,2023-05-10,suitability,none,none,,2018-01-01,,",
    "CM3,PM3,Okafor,Chidi,,NGA,SE15 4QT,refusal,2024-09-01,eligibility,dismissed,none,,"
    "2020-01-01,,",
]
DVLA = [
    "DM1,,SUKARNO,1975-03-14,E8 3PN,2020-01-01",
    "DM2,HAILE,HAILE,1980-07-02,N1 9GU,2019-05-01",
    "DM3,OKAFOR,CHIDI,,SE15 4QT,2021-03-01",
]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mononyms")
    synthesise(out, people=300, seed=3, as_of=AS_OF)
    for name, rows in (("cases.csv", CASES), ("dvla.csv", DVLA)):
        with (out / name).open("a", encoding="utf-8") as fh:
            fh.write("\n".join(rows) + "\n")
    return out


def gauge(scrape: str, name: str) -> float:
    """The value of an unlabelled series in a Prometheus text scrape."""
    found = re.search(rf"^{name} (\S+)$", scrape, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run(scenario: Path, url: str, key: Path, out: Path) -> None:
    args = ["run", "--cases", str(scenario / "cases.csv")]
    for name in ("dvla", "hmrc", "bank"):
        args += ["--register", f"{name}={scenario / (name + '.csv')}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat()]
    assert main([*args, "--database", url, "--key", str(key), "--out", str(out)]) == 0


def test_one_name_people_go_through_a_run_and_reach_the_letter_the_batch_and_the_pages(
    scenario: Path,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = tmp_path / "ledger.pem"
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(key))
    assert main(["validate", "cases", str(scenario / "cases.csv")]) == 0
    assert main(["validate", "register", str(scenario / "dvla.csv")]) == 0
    assert main(["init", "--database", db_url, "--key", str(key)]) == 0
    first = tmp_path / "run1"
    # The service's /metrics, scraped before and after the run: what the run disclosed
    # and appended to the ledger shows at the next scrape (issue 22).
    ops = TestClient(create_app(db_url, secret=SECRET))
    before = ops.get("/metrics").text
    run(scenario, db_url, key, first)
    after = ops.get("/metrics").text
    made = len(read_csv(first / "disclosures.csv"))
    assert made > 0
    assert gauge(after, "accord_disclosures") == gauge(before, "accord_disclosures") + made
    assert gauge(after, "accord_ledger_leaves") >= gauge(before, "accord_ledger_leaves") + made

    # Admitted, not quarantined: one name, or no date of birth, is enough to be someone.
    with db.connect(db_url) as conn:
        pool = dict(conn.execute(select(PoolEntry.person_id, PoolEntry.status)).all())
        names = {
            p: (f, g)
            for p, f, g in conn.execute(
                select(Person.person_id, Person.family_name, Person.given_names)
            )
        }
    assert {p: pool[p] for p in ("PM1", "PM2", "PM3")} == dict.fromkeys(
        ("PM1", "PM2", "PM3"), "admitted"
    )
    assert names["PM1"] == (None, "Sukarno") and names["PM2"] == ("Haile", None)
    assert not {r["person_id"] for r in read_csv(first / "excluded.csv")} & {"PM1", "PM2", "PM3"}

    # Each one's DVLA record is found: shared, or waiting for a reviewer.
    disclosed = {(r["person_id"], r["record_id"]) for r in read_csv(first / "disclosures.csv")}
    queued = {
        (r["person_id"], r["record_id"]): r["item_id"]
        for r in read_csv(first / "review_queue.csv")
        if r["record_id"]
    }
    for pair in (("PM1", "DM1"), ("PM2", "DM2"), ("PM3", "DM3")):
        assert pair in disclosed or pair in queued, pair
    for person_id, record_id in disclosed | set(queued):
        if record_id in ("DM1", "DM2", "DM3"):
            assert person_id == "PM" + record_id[2], (person_id, record_id)
    if ("PM1", "DM1") in queued:
        item = queued[("PM1", "DM1")]
        for reviewer in ("alice", "bob"):
            argv = ["review", "decide", item, "--approve", *as_reviewer(db_url, reviewer, tmp_path)]
            argv += ["--reason", "one name, date of birth and postcode agree"]
            assert main([*argv, "--database", db_url, "--key", str(key)]) == 0
    with db.connect(db_url) as conn:
        disclosure_id, fields = conn.execute(
            select(Disclosure.disclosure_id, Disclosure.fields).where(
                Disclosure.person_id == "PM1", Disclosure.record_id == "DM1"
            )
        ).one()
    assert fields["family_name"] is None and fields["given_names"] == "Sukarno"

    # The letter: addressed by the one name, the empty part shown as empty, never "None".
    capsys.readouterr()
    assert main(["subject-access", "PM1", "--database", db_url]) == 0
    report = json.loads(capsys.readouterr().out)
    held = {v["field"]: v["value"] for v in report["held"]["identity"]}
    assert held["given_names"] == "Sukarno" and "family_name" not in held
    letter = tmp_path / "pm1.html"
    assert main(["subject-access", "PM1", "--format", "html", "--database", db_url, "--out",
                 str(letter)]) == 0  # fmt: skip
    html = letter.read_text(encoding="utf-8")
    assert "Dear Sukarno," in html and "None" not in html

    # The recipient's batch and the caseworker's page.
    for username, role, recipient in (
        ("dvla1", "recipient", "dvla"),
        ("case1", "caseworker", None),
    ):
        identity.add_user(db_url, username, role, recipient=recipient, password=PASSWORD)
    client = TestClient(create_app(db_url, secret=SECRET), follow_redirects=False)
    login(client, "dvla1")
    batch = client.get("/inbox/batch.csv")
    assert batch.status_code == 200
    rows = {r["disclosure_id"]: r for r in csv.DictReader(batch.text.splitlines())}
    assert (rows[disclosure_id]["family_name"], rows[disclosure_id]["given_names"]) == (
        "",
        "Sukarno",
    )
    client.cookies.clear()
    login(client, "case1")
    page = client.get("/people/PM1")
    assert page.status_code == 200 and "Given names: Sukarno" in page.text
    assert "Family name: —" in page.text and ": None" not in page.text  # the disclosure
    assert "<dd>Sukarno</dd>" in page.text and "<dd>None</dd>" not in page.text  # the person


def login(client: TestClient, username: str) -> None:
    nonce = client.get("/login").text.split('name="nonce" value="', 1)[1].split('"', 1)[0]
    done = client.post(
        "/login", data={"username": username, "password": PASSWORD, "nonce": nonce, "next": ""}
    )
    assert done.status_code == 303, done.text
