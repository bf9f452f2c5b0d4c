"""A small governance state for the web tests, built through the real services.

Case rows, derived people and pool rows are inserted as the admission step writes them;
disclosures go through ``accord.disclosure.disclose`` (real ledger leaves, signed tree
head); users and tokens through ``accord.identity``.  Two recipients (dvla, hmrc) and
two subjects make every cross-recipient and cross-subject refusal testable.

Its fixtures (``web``, ``client``, and ``server``: the application served for real by
uvicorn, for browsers and parallel requests) are registered for every test by
conftest.py; the constants and helpers are imported from here.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from starlette.types import ASGIApp

from accord import identity
from accord.disclosure import Draft, disclose
from accord.ledger import log as ledger_log
from accord.ledger import signing
from accord.store import db
from accord.store.models import (
    Agreement,
    AgreementVersion,
    AuditLog,
    CaseDecision,
    Match,
    Person,
    PoolEntry,
    PoolHistory,
    ReviewItem,
)
from accord.web import create_app

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
RUN_AT = NOW - dt.timedelta(days=2)

PEOPLE: dict[str, dict[str, Any]] = {
    "P-1": {
        "family_name": "Campbell-Lewis",
        "given_names": "Hortense",
        "dob": dt.date(1956, 3, 14),
    },
    "P-2": {"family_name": "Nguyễn", "given_names": "Thi Lan", "dob": dt.date(1991, 11, 2)},
    "P-3": {"family_name": "O'Brien", "given_names": "Seán", "dob": dt.date(1980, 1, 1)},
    "P-4": {"family_name": "Okafor", "given_names": "Chidi", "dob": dt.date(1949, 6, 30)},
}

AGREEMENTS = {
    "ho-to-dvla": ("dvla", ["family_name", "given_names", "date_of_birth"]),
    "ho-to-hmrc": ("hmrc", ["family_name", "date_of_birth"]),
}
# (person, agreement, record_id)
SHARES = [
    ("P-1", "ho-to-dvla", "DVLA-001"),
    ("P-2", "ho-to-dvla", "DVLA-002"),
    ("P-3", "ho-to-hmrc", "HMRC-003"),
]
# username -> (role, recipient, person)
USERS = {
    "rev1": ("reviewer", None, None),
    "rev2": ("reviewer", None, None),
    "case1": ("caseworker", None, None),
    "dvla1": ("recipient", "dvla", None),
    "hmrc1": ("recipient", "hmrc", None),
    "aud1": ("auditor", None, None),
    "adm1": ("admin", None, None),
    "subj1": ("subject", None, "P-1"),
    "subj3": ("subject", None, "P-3"),
}
# One user per role, for the role x endpoint matrix.
ROLE_USER = {
    "reviewer": "rev1",
    "caseworker": "case1",
    "recipient": "dvla1",
    "auditor": "aud1",
    "admin": "adm1",
    "subject": "subj1",
}


@dataclass
class WebState:
    url: str
    key_path: Path
    tokens: dict[str, str] = field(default_factory=dict)
    disclosure_of: dict[str, str] = field(default_factory=dict)  # person -> disclosure id
    items: dict[str, str] = field(default_factory=dict)  # name -> review item id

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def build_state(url: str, tmp: Path) -> WebState:
    key_path = tmp / "ledger.key"
    key = signing.load_or_create_key(key_path)
    state = WebState(url, key_path)
    with db.connect(url) as conn:
        for pid, p in PEOPLE.items():
            # What a case says about the person, and so what the person derived from it says.
            person = {
                "person_id": pid,
                "family_name": p["family_name"],
                "given_names": p["given_names"],
                "date_of_birth": p["dob"],
                "nationality": "JAM",
                "postcode": "SE5 8AA",
                "refusal_reason": "eligibility",
                "appeal_status": "exhausted",
                "leave": "none",
            }
            conn.execute(
                insert(CaseDecision).values(
                    **person,
                    case_id=f"C-{pid}",
                    decision="refusal",
                    decision_date=dt.date(2020, 1, 1),
                    data_category="immigration_casework",
                )
            )
            conn.execute(
                insert(Person).values(
                    **person,
                    latest_decision="refusal",
                    latest_decision_date=dt.date(2020, 1, 1),
                    provenance={},
                    derived_as_of=RUN_AT.date(),
                )
            )
            pool = {
                "person_id": pid,
                "status": "manual_check" if pid == "P-4" else "admitted",
                "reasons": [],
                "as_of": RUN_AT.date(),
                "run_id": "RUN-1",
            }
            conn.execute(insert(PoolEntry).values(**pool, updated_at=RUN_AT))
            conn.execute(insert(PoolHistory).values(**pool, at=RUN_AT))
        for agreement_id, (recipient, fields) in AGREEMENTS.items():
            conn.execute(
                insert(Agreement).values(
                    agreement_id=agreement_id, recipient=recipient, current_version=1
                )
            )
            conn.execute(
                insert(AgreementVersion).values(
                    agreement_id=agreement_id,
                    version=1,
                    content_sha256="ab" * 32,
                    document={
                        "id": agreement_id,
                        "title": f"Home Office to {recipient}",
                        "source": "home-office",
                        "recipient": recipient,
                        "purpose": "immigration_enforcement",
                        "legal_basis": "a statute",
                        "data_categories": ["immigration_casework"],
                        "fields": fields,
                        "status": "active",
                    },
                    loaded_by="test",
                    loaded_at=RUN_AT,
                )
            )
        drafts = []
        for pid, agreement_id, record_id in SHARES:
            recipient, fields = AGREEMENTS[agreement_id]
            p = PEOPLE[pid]
            match_id = conn.execute(
                insert(Match)
                .values(
                    run_id="RUN-1",
                    register=recipient,
                    person_id=pid,
                    record_id=record_id,
                    match_probability=0.9995,
                    match_weight=11.0,
                    rank=1,
                    flags=[],
                    record={"record_id": record_id, "family_name": p["family_name"]},
                    explanation=[
                        {"comparison": "family_name", "level": "exact match", "match_weight": 9.5},
                        {"comparison": "date_of_birth", "level": "exact", "match_weight": 8.0},
                    ],
                )
                .returning(Match.id)
            ).scalar_one()
            values = {
                "family_name": p["family_name"],
                "given_names": p["given_names"],
                "date_of_birth": p["dob"].isoformat(),
            }
            drafts.append(
                Draft(
                    agreement_id,
                    1,
                    recipient,
                    record_id,
                    pid,
                    0.9995,
                    "rule:automatic",
                    {f: values[f] for f in fields},
                    match_id,
                )
            )
        ids = disclose(conn, drafts, RUN_AT, "RUN-1")
        state.disclosure_of = {d.person_id: i for d, i in zip(drafts, ids, strict=True)}
        # A protected-cohort person before admission: four eyes (two distinct approvals).
        m2 = conn.execute(
            insert(Match)
            .values(
                run_id="RUN-1",
                register="dvla",
                person_id="P-2",
                record_id="DVLA-902",
                match_probability=0.95,
                match_weight=4.2,
                rank=1,
                flags=["ambiguous"],
                record={
                    "record_id": "DVLA-902",
                    "family_name": "Nguyen",
                    "given_names": "Lan",
                    "date_of_birth": "1991-11-02",
                },
                explanation=[
                    {"comparison": "family_name", "level": "close", "match_weight": 6.1},
                    {"comparison": "given_names", "level": "else", "match_weight": -3.4},
                    {"comparison": "date_of_birth", "level": "exact", "match_weight": 8.0},
                ],
            )
            .returning(Match.id)
        ).scalar_one()
        for item_id, kind, pid, match_id, needed in (
            ("RV-MC-4", "manual_check", "P-4", None, 2),
            ("RV-UM-2", "uncertain_match", "P-2", m2, 2),
        ):
            conn.execute(
                insert(ReviewItem).values(
                    item_id=item_id,
                    kind=kind,
                    person_id=pid,
                    record_id="DVLA-902" if match_id else None,
                    agreement_id="ho-to-dvla" if match_id else None,
                    match_id=match_id,
                    reason="Born before 1950: protected cohort, checked by a person first"
                    if kind == "manual_check"
                    else "Match probability between review_from and disclose_at",
                    detail={},
                    status="open",
                    approvals_needed=needed,
                    run_id="RUN-1",
                    created_at=RUN_AT,
                )
            )
        state.items = {"manual_check": "RV-MC-4", "uncertain_match": "RV-UM-2"}
        ledger_log.sign_head(conn, key)
    for username, (role, recipient, person) in USERS.items():
        identity.add_user(
            url, username, role, recipient=recipient, person_id=person, password=PASSWORD
        )
        state.tokens[username] = identity.issue_token(url, username, "tests")
    return state


def audit_entries(url: str, actor: str, action: str | None = None) -> list[Any]:
    query = select(AuditLog).where(AuditLog.actor == actor)
    if action is not None:
        query = query.where(AuditLog.action == action)
    with db.session(url) as s:
        return list(s.scalars(query.order_by(AuditLog.id)))


@pytest.fixture
def web(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebState:
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(tmp_path / "ledger.key"))
    return build_state(db_url, tmp_path)


@pytest.fixture
def client(web: WebState) -> TestClient:
    return TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(app: ASGIApp) -> Iterator[str]:
    """``app`` served by uvicorn on a thread at 127.0.0.1, on a free port: its base URL."""
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{srv.config.port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(web: WebState) -> Iterator[str]:
    """The web state's application served for real: its base URL."""
    with live_server(create_app(web.url, secret=SECRET)) as base:
        yield base


def login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a browser does."""
    page = client.get("/login")
    assert page.status_code == 200
    nonce = page.text.split('name="nonce" value="', 1)[1].split('"', 1)[0]
    done = client.post(
        "/login", data={"username": username, "password": password, "nonce": nonce, "next": ""}
    )
    assert done.status_code == 303, done.text


def submit_events(client: TestClient, web: WebState, *events: dict[str, str]) -> dict[str, Any]:
    """Submit ``events`` over the API as the caseworker; they must be accepted."""
    done = client.post("/api/v1/events", json={"events": list(events)}, headers=web.bearer("case1"))
    assert done.status_code == 200, done.text
    return dict(done.json())


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_state_has_what_the_web_tests_rely_on(web: WebState) -> None:
    with db.connect(web.url) as conn:
        items = set(conn.scalars(select(ReviewItem.item_id)))
    assert set(web.items.values()) <= items
    assert set(web.disclosure_of) == {"P-1", "P-2", "P-3"}
    assert set(web.tokens) == set(USERS)
