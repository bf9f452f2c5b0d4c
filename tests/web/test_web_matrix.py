"""Role x endpoint: every endpoint refuses every role it is not for, and every scope is kept.

The expected table is written out here, independently of the code: a route the app has
but the table lacks fails the test, so no endpoint can be added without deciding who
may call it.  A refused call must also change nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_support import ROLE_USER, SECRET, WebState, csrf_of, login, submit_events

from accord.store import db
from accord.store.models import (
    Disclosure,
    Event,
    Freeze,
    Pause,
    Recall,
    RecipientAction,
    ReviewDecision,
)
from accord.vocab import ROLES
from accord.web import create_app
from accord.web.auth import SESSION_COOKIE, SessionSigner

ALL = frozenset(ROLES)
API: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/whoami"): ALL,
    ("GET", "/api/v1/batches"): frozenset({"recipient"}),
    ("POST", "/api/v1/batches/acknowledge"): frozenset({"recipient"}),
    ("GET", "/api/v1/recalls"): frozenset({"recipient"}),
    ("POST", "/api/v1/recalls/acknowledge"): frozenset({"recipient"}),
    ("POST", "/api/v1/actions"): frozenset({"recipient"}),
    ("POST", "/api/v1/events"): frozenset({"caseworker"}),
    ("GET", "/api/v1/review/items"): frozenset({"reviewer"}),
    ("GET", "/api/v1/review/items/{item_id}"): frozenset({"reviewer"}),
    ("POST", "/api/v1/review/items/{item_id}/decisions"): frozenset({"reviewer"}),
    ("GET", "/api/v1/people/{person_id}"): frozenset({"caseworker"}),
    ("GET", "/api/v1/oversight/counts"): frozenset({"auditor"}),
    ("GET", "/api/v1/agreements"): frozenset({"admin", "auditor"}),
    ("POST", "/api/v1/agreements/{agreement_id}/pause"): frozenset({"admin"}),
    ("POST", "/api/v1/agreements/{agreement_id}/resume"): frozenset({"admin"}),
    ("GET", "/api/v1/proposals"): frozenset({"reviewer", "admin"}),
    ("POST", "/api/v1/proposals/{proposal_id}/decisions"): frozenset({"reviewer", "admin"}),
    ("GET", "/api/v1/me/report"): frozenset({"subject"}),
    ("POST", "/api/v1/me/disputes"): frozenset({"subject"}),
}
PAGES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/review"): frozenset({"reviewer"}),
    ("GET", "/review/{item_id}"): frozenset({"reviewer"}),
    ("POST", "/review/{item_id}/decide"): frozenset({"reviewer"}),
    ("GET", "/people"): frozenset({"caseworker", "reviewer"}),
    ("GET", "/people/{person_id}"): frozenset({"caseworker", "reviewer"}),
    ("GET", "/inbox"): frozenset({"recipient"}),
    ("GET", "/inbox/batch.csv"): frozenset({"recipient"}),
    ("POST", "/inbox/acknowledge"): frozenset({"recipient"}),
    ("POST", "/inbox/actions"): frozenset({"recipient"}),
    ("GET", "/oversight"): frozenset({"auditor"}),
    ("GET", "/oversight/panel"): frozenset({"auditor"}),
    ("GET", "/oversight/rows/{what}"): frozenset({"auditor"}),
    ("GET", "/oversight/rows/{what}.csv"): frozenset({"auditor"}),
    ("GET", "/oversight/audit"): frozenset({"auditor"}),
    ("GET", "/oversight/audit.csv"): frozenset({"auditor"}),
    ("GET", "/oversight/report.html"): frozenset({"auditor"}),
    ("GET", "/me"): frozenset({"subject"}),
    ("GET", "/me/report.pdf"): frozenset({"subject"}),
    ("GET", "/me/report.json"): frozenset({"subject"}),
    ("POST", "/me/dispute"): frozenset({"subject"}),
    ("GET", "/admin"): frozenset({"admin"}),
    ("POST", "/admin/agreements/{agreement_id}/{verb}"): frozenset({"admin"}),
    ("POST", "/logout"): ALL,
}
PUBLIC = {
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/healthz"),
    # Operations (tests/web/test_operations.py): readiness and counts, no personal data.
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    # Single sign-on (tests/web/test_sso.py): the way in, like /login.
    ("GET", "/login/oidc"),
    ("GET", "/login/oidc/callback"),
}


def _concrete(path: str, web: WebState) -> str:
    return (
        path.replace("{item_id}", web.items["uncertain_match"])
        .replace("{person_id}", "P-2")
        .replace("{agreement_id}", "ho-to-dvla")
        .replace("{verb}", "pause")
        .replace("{what}", "recalls")
        .replace("{proposal_id}", "P-none")
    )


def _body(method: str, path: str, web: WebState) -> dict[str, Any] | None:
    if method != "POST":
        return None
    d1 = web.disclosure_of["P-1"]
    bodies: dict[str, dict[str, Any]] = {
        "/api/v1/batches/acknowledge": {"disclosure_ids": [d1]},
        "/api/v1/recalls/acknowledge": {"recall_ids": ["RC-none"]},
        "/api/v1/actions": {
            "actions": [{"disclosure_id": d1, "action": "none", "action_date": "2026-01-05"}]
        },
        "/api/v1/events": {
            "events": [
                {
                    "event_id": "EV-M1",
                    "person_id": "P-2",
                    "event_type": "evidence_received",
                    "event_date": "2026-01-05",
                    "detail": "a letter",
                }
            ]
        },
        "/api/v1/review/items/{item_id}/decisions": {"approve": False, "reason": "not them"},
        "/api/v1/agreements/{agreement_id}/pause": {"reason": "inspection"},
        "/api/v1/agreements/{agreement_id}/resume": {"reason": "inspection over"},
        "/api/v1/me/disputes": {"detail": "this is wrong"},
        "/api/v1/proposals/{proposal_id}/decisions": {"approve": False, "reason": "no"},
    }
    return bodies[path]


def _form(path: str, web: WebState) -> dict[str, Any]:
    d1 = web.disclosure_of["P-1"]
    forms: dict[str, dict[str, Any]] = {
        "/review/{item_id}/decide": {"decision": "reject", "reason": "not them"},
        "/inbox/acknowledge": {"disclosure_id": d1},
        "/inbox/actions": {"disclosure_id": d1, "action": "none", "action_date": "2026-01-05"},
        "/me/dispute": {"detail": "this is wrong"},
        "/admin/agreements/{agreement_id}/{verb}": {"reason": "inspection"},
        "/logout": {},
    }
    return forms[path]


def _state(url: str) -> dict[str, int]:
    """Counts of everything a refused call could have changed."""
    with db.connect(url) as conn:
        return {
            "decisions": conn.scalar(select(func.count()).select_from(ReviewDecision)) or 0,
            "events": conn.scalar(select(func.count()).select_from(Event)) or 0,
            "actions": conn.scalar(select(func.count()).select_from(RecipientAction)) or 0,
            "pauses": conn.scalar(select(func.count()).select_from(Pause)) or 0,
            "freezes": conn.scalar(select(func.count()).select_from(Freeze)) or 0,
            "recalls": conn.scalar(select(func.count()).select_from(Recall)) or 0,
            "acknowledged": conn.scalar(
                select(func.count()).where(Disclosure.acknowledged_at.is_not(None))
            )
            or 0,
        }


def test_the_table_covers_every_route(client: TestClient) -> None:
    routes = {
        (m, str(r.path))
        for r in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(r.original_route, APIRoute)
        for m in r.methods or ()
    }
    assert routes == set(API) | set(PAGES) | PUBLIC


def test_api_refuses_every_role_it_is_not_for(client: TestClient, web: WebState) -> None:
    for (method, path), allowed in API.items():
        url = _concrete(path, web)
        body = _body(method, path, web)
        anonymous = client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        bogus = client.request(
            method, url, json=body, headers={"Authorization": "Bearer acc_not-a-real-token"}
        )
        assert bogus.status_code == 401, (method, path)
        for role in sorted(set(ROLES) - allowed):
            before = _state(web.url)
            refused = client.request(method, url, json=body, headers=web.bearer(ROLE_USER[role]))
            assert refused.status_code == 403, (method, path, role, refused.text)
            assert role in refused.json()["detail"]
            assert _state(web.url) == before, (method, path, role)
    # and every allowed role gets past the checks (the call itself may then 4xx on state)
    for (method, path), allowed in API.items():
        for role in sorted(allowed):
            ok = client.request(
                method,
                _concrete(path, web),
                json=_body(method, path, web),
                headers=web.bearer(ROLE_USER[role]),
            )
            assert ok.status_code not in (401, 403, 500), (method, path, role, ok.text)


def test_pages_refuse_every_role_they_are_not_for(web: WebState) -> None:
    signer = SessionSigner(SECRET)
    # One application, and one signed-in browser per role, for every page: signing in
    # hashes a password on purpose slowly, and a refused request changes nothing (checked).
    app = create_app(web.url, secret=SECRET)
    browsers: dict[str, TestClient] = {}
    for (method, path), allowed in PAGES.items():
        url = _concrete(path, web)
        anon = TestClient(app, follow_redirects=False)
        data = _form(path, web) if method == "POST" else None
        answer = anon.request(method, url, data=data)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), (
            method,
            path,
        )
        for role in sorted(set(ROLES) - allowed):
            if role not in browsers:
                browsers[role] = TestClient(app, follow_redirects=False)
                login(browsers[role], ROLE_USER[role])
            browser = browsers[role]
            form = None
            if method == "POST":
                cookie = browser.cookies[SESSION_COOKIE]
                form = {**_form(path, web), "csrf": signer.csrf_token(cookie)}
            before = _state(web.url)
            refused = browser.request(method, url, data=form)
            assert refused.status_code == 403, (method, path, role)
            assert "Not allowed" in refused.text
            assert _state(web.url) == before, (method, path, role)


def test_page_posts_need_the_forms_csrf_token(web: WebState) -> None:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "rev1")
    item = web.items["uncertain_match"]
    before = _state(web.url)
    for token in (None, "0" * 32):
        form = {"decision": "reject", "reason": "forged"}
        if token:
            form["csrf"] = token
        forged = browser.post(f"/review/{item}/decide", data=form)
        assert forged.status_code == 403
    assert _state(web.url) == before
    page = browser.get(f"/review/{item}")
    done = browser.post(
        f"/review/{item}/decide",
        data={"decision": "reject", "reason": "not the same person", "csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303
    assert _state(web.url)["decisions"] == before["decisions"] + 1


# --- scope: recipients ---------------------------------------------------------------------


def _recall_p1(client: TestClient, web: WebState) -> str:
    done = submit_events(
        client,
        web,
        {
            "event_id": "EV-OV-1",
            "person_id": "P-1",
            "event_type": "decision_overturned",
            "event_date": "2026-01-10",
        },
    )
    (recall,) = done["recalls"]
    assert recall["recipient"] == "dvla"
    return str(recall["recall_id"])


def test_a_recipient_sees_and_touches_only_its_own(client: TestClient, web: WebState) -> None:
    dvla = {
        i["disclosure_id"]
        for i in client.get("/api/v1/batches", headers=web.bearer("dvla1")).json()["items"]
    }
    hmrc = {
        i["disclosure_id"]
        for i in client.get("/api/v1/batches", headers=web.bearer("hmrc1")).json()["items"]
    }
    assert dvla == {web.disclosure_of["P-1"], web.disclosure_of["P-2"]}
    assert hmrc == {web.disclosure_of["P-3"]}

    recall_id = _recall_p1(client, web)
    assert client.get("/api/v1/recalls", headers=web.bearer("hmrc1")).json()["items"] == []
    mine = client.get("/api/v1/recalls", headers=web.bearer("dvla1")).json()["items"]
    assert [r["recall_id"] for r in mine] == [recall_id]

    theirs = web.disclosure_of["P-2"]
    before = _state(web.url)
    # Another recipient's id is answered exactly as an id that does not exist (same
    # status, same body but for the id itself): hmrc cannot learn what dvla was sent.
    for path, body in (
        ("/api/v1/batches/acknowledge", {"disclosure_ids": [theirs]}),
        ("/api/v1/batches/acknowledge", {"disclosure_ids": [web.disclosure_of["P-3"], theirs]}),
        ("/api/v1/recalls/acknowledge", {"recall_ids": [recall_id]}),
        (
            "/api/v1/actions",
            {
                "actions": [
                    {"disclosure_id": theirs, "action": "revoked", "action_date": "2026-01-02"}
                ]
            },
        ),
    ):
        foreign_id = recall_id if "recall" in path else theirs
        unknown_id = foreign_id[:3] + "0" * (len(foreign_id) - 3)
        refused = client.post(path, json=body, headers=web.bearer("hmrc1"))
        unknown = client.post(
            path,
            content=json.dumps(body).replace(foreign_id, unknown_id),
            headers={**web.bearer("hmrc1"), "Content-Type": "application/json"},
        )
        assert refused.status_code in (404, 422), (path, refused.text)
        assert refused.status_code == unknown.status_code, (path, refused.text, unknown.text)
        assert refused.text.replace(foreign_id, "ID") == unknown.text.replace(unknown_id, "ID")
        assert "dvla" not in refused.text
    assert _state(web.url) == before

    # the same on the screens
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "hmrc1")
    csrf = csrf_of(browser.get("/inbox").text)
    for path, form in (
        ("/inbox/acknowledge", {"disclosure_id": theirs}),
        ("/inbox/acknowledge", {"recall_id": recall_id}),
        (
            "/inbox/actions",
            {"disclosure_id": theirs, "action": "revoked", "action_date": "2026-01-02"},
        ),
    ):
        foreign_id = recall_id if "recall_id" in form else theirs
        unknown_id = foreign_id[:3] + "0" * (len(foreign_id) - 3)
        said = []
        for named in (foreign_id, unknown_id):
            field = "recall_id" if "recall_id" in form else "disclosure_id"
            refused = browser.post(path, data={**form, field: named, "csrf": csrf})
            assert refused.status_code in (303, 403, 422), path
            if refused.status_code == 303:  # the outcome is told on the page redirected to
                flash = re.search(r'class="flash"[^>]*>([^<]*)<', browser.get("/inbox").text)
                assert flash is not None, path
                told = flash.group(1)
            elif refused.status_code == 422:  # the form again, with the error summary
                summary = re.search(r'class="error-summary".*?</ul>', refused.text, re.S)
                assert summary is not None, path
                told = summary.group(0)
            else:
                told = refused.text
            said.append((refused.status_code, told.replace(named, "ID")))
        assert said[0] == said[1], (path, said)
        assert "dvla" not in said[0][1]
    assert _state(web.url) == before
    inbox = browser.get("/inbox").text
    csv = browser.get("/inbox/batch.csv").text
    for other in (web.disclosure_of["P-1"], theirs, recall_id):
        assert other not in inbox and other not in csv
    assert web.disclosure_of["P-3"] in inbox and web.disclosure_of["P-3"] in csv


def test_batches_carry_the_agreed_fields_and_nothing_about_the_match(
    client: TestClient, web: WebState
) -> None:
    items = client.get("/api/v1/batches", headers=web.bearer("hmrc1")).json()["items"]
    (item,) = items
    assert set(item) == {
        "disclosure_id",
        "record_id",
        "agreement_id",
        "run_id",
        "disclosed_at",
        "acknowledged_at",
        "fields",
    }
    assert set(item["fields"]) == {"family_name", "date_of_birth"}  # hmrc's agreed fields
    # The recipient's own record that was matched (SPEC.md batch contract), so that it acts
    # on that record and never matches again by name; nothing else about the match.
    assert item["record_id"] == "HMRC-003"
    text = str({k: v for k, v in item.items() if k != "record_id"})
    for never in ("P-3", "HMRC-003", "0.9995", "match"):
        assert never not in text


# --- scope: subjects -------------------------------------------------------------------------


@pytest.mark.parametrize("user, person, other", [("subj1", "P-1", "P-3"), ("subj3", "P-3", "P-1")])
def test_a_subject_sees_only_their_own_report(
    client: TestClient, web: WebState, user: str, person: str, other: str
) -> None:
    report = client.get("/api/v1/me/report", headers=web.bearer(user))
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["report"]["person_id"] == person
    shown = {d["disclosure_id"] for d in body["disclosures"]}
    assert shown == {web.disclosure_of[person]}
    assert web.disclosure_of[other] not in report.text
    assert client.get(f"/api/v1/people/{other}", headers=web.bearer(user)).status_code == 403
    filed = client.post("/api/v1/me/disputes", json={"detail": "wrong"}, headers=web.bearer(user))
    assert filed.status_code == 201, filed.text
    with db.connect(web.url) as conn:
        frozen = set(conn.scalars(select(Freeze.person_id)))
    assert frozen == {person}
