"""The screens: signing in, sessions, forms and what each page shows."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from web_support import (
    PASSWORD,
    SECRET,
    WebState,
    audit_entries,
    csrf_of,
    login,
)

from accord import identity
from accord.store import db
from accord.store.models import Freeze, Pause, ReviewDecision
from accord.web import create_app
from accord.web.auth import SESSION_COOKIE


def _nonce(client: TestClient) -> str:
    return client.get("/login").text.split('name="nonce" value="', 1)[1].split('"', 1)[0]


def test_signing_in_and_out(client: TestClient, web: WebState) -> None:
    assert client.get("/review").headers["location"] == "/login?next=/review"
    wrong = client.post(
        "/login",
        data={"username": "rev1", "password": "nope-nope-nope", "nonce": _nonce(client)},
    )
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    nobody = client.post(
        "/login", data={"username": "ghost", "password": PASSWORD, "nonce": _nonce(client)}
    )
    assert nobody.status_code == 401 and "Wrong username or password" in nobody.text
    assert [e.action for e in audit_entries(web.url, "anonymous")] == ["login_failed"] * 2
    stale = client.post("/login", data={"username": "rev1", "password": PASSWORD, "nonce": "x"})
    assert stale.status_code == 403
    ok = client.post(
        "/login",
        data={"username": "rev1", "password": PASSWORD, "nonce": _nonce(client), "next": "/review"},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/review"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/review").status_code == 200
    assert client.get("/").headers["location"] == "/review"
    out = client.post("/logout", data={"csrf": csrf_of(client.get("/review").text)})
    assert out.status_code == 303
    assert client.get("/review").status_code == 303


def test_next_never_leaves_the_site(client: TestClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "\\\\evil"):
        done = client.post(
            "/login",
            data={
                "username": "case1",
                "password": PASSWORD,
                "nonce": _nonce(client),
                "next": target,
            },
        )
        assert done.headers["location"] == "/people"
        client.cookies.clear()


def test_sessions_end_with_a_tampered_cookie_a_new_password_or_a_disabled_user(
    web: WebState,
) -> None:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "case1")
    assert browser.get("/people").status_code == 200
    good = browser.cookies[SESSION_COOKIE]
    for cookie, secret in (
        (good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1], SECRET),
        (good, "another-secret-" + "y" * 40),
        ("not-a-session", SECRET),
    ):
        forged = TestClient(create_app(web.url, secret=secret), follow_redirects=False)
        forged.cookies.set(SESSION_COOKIE, cookie)
        assert forged.get("/people").status_code == 303
    identity.set_password(web.url, "case1", "a brand new password")
    assert browser.get("/people").status_code == 303
    login(browser, "case1", "a brand new password")
    assert browser.get("/people").status_code == 200
    identity.disable_user(web.url, "case1")
    assert browser.get("/people").status_code == 303


def test_review_screens_enforce_four_eyes(web: WebState) -> None:
    item = web.items["manual_check"]
    first = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(first, "rev1")
    queue = first.get("/review").text
    assert item in queue and web.items["uncertain_match"] in queue
    assert item not in first.get("/review?kind=uncertain_match").text
    assert first.get("/review?kind=bogus").status_code == 400
    page = first.get(f"/review/{item}")
    assert "0 of 2 approvals" in page.text
    csrf = csrf_of(page.text)
    blank = first.post(
        f"/review/{item}/decide", data={"decision": "approve", "reason": " ", "csrf": csrf}
    )
    assert blank.status_code == 422 and "The reason must say why" in blank.text
    done = first.post(
        f"/review/{item}/decide", data={"decision": "approve", "reason": "ok", "csrf": csrf}
    )
    assert done.status_code == 303
    after = first.get(done.headers["location"]).text
    assert "1 of 2 approvals" in after and "You have decided this item" in after
    again = first.post(
        f"/review/{item}/decide", data={"decision": "approve", "reason": "ok", "csrf": csrf}
    )
    assert again.status_code == 409 and "four eyes" in again.text
    bad = first.post(
        f"/review/{item}/decide", data={"decision": "maybe", "reason": "x", "csrf": csrf}
    )
    assert bad.status_code == 422
    assert first.get("/review/RV-NONE").status_code == 404
    with db.connect(web.url) as conn:
        assert conn.scalar(select(ReviewDecision.reviewer)) == "rev1"


def test_match_item_shows_both_records_and_each_comparison(
    client: TestClient, web: WebState
) -> None:
    login(client, "rev2")
    page = client.get(f"/review/{web.items['uncertain_match']}").text
    records = page.split('id="record-table"', 1)[1].split("</table>", 1)[0]
    assert "Nguyễn" in records and "Nguyen" in records  # ours and theirs, side by side
    fall = page.split('id="waterfall"', 1)[1].split("</table>", 1)[0]
    # each comparison's weight, as how many times likelier or less likely it made it
    assert "11 times less likely" in fall and "256 times more likely" in fall
    assert "likely (95%)" in page


def test_inbox_forms(web: WebState) -> None:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "dvla1")
    page = browser.get("/inbox")
    csrf = csrf_of(page.text)
    d1, d2 = web.disclosure_of["P-1"], web.disclosure_of["P-2"]
    assert d1 in page.text and d2 in page.text and "Campbell-Lewis" in page.text
    done = browser.post("/inbox/acknowledge", data={"disclosure_id": [d1, d2], "csrf": csrf})
    assert done.status_code == 303
    assert "Acknowledged 2 disclosure(s)" in browser.get("/inbox").text
    bad = browser.post(
        "/inbox/actions",
        data={
            "disclosure_id": d1,
            "action": "revoked",
            "action_date_day": "31",
            "action_date_month": "2",
            "action_date_year": "2026",
            "csrf": csrf,
        },
    )
    assert bad.status_code == 422  # the form again, with what was wrong and what was typed
    assert "There is a problem" in bad.text and "must be a real date" in bad.text
    assert 'name="action_date_day" type="text" inputmode="numeric" maxlength="2" ' in bad.text
    assert 'value="31"' in bad.text and f'value="{d1}" selected' in bad.text
    assert 'value="revoked" checked' in bad.text
    csv = browser.get("/inbox/batch.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].replace('"', "") == (
        "disclosure_id,record_id,family_name,given_names,date_of_birth"
    )
    assert "Nguyễn" in csv.text and "P-1" not in csv.text
    assert browser.get("/inbox/batch.csv?unacknowledged=true").text.count("\n") == 1


def test_subject_page_and_dispute(web: WebState) -> None:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "subj3")
    page = browser.get("/me")
    assert page.status_code == 200 and "How to dispute" in page.text
    assert "srcdoc=" in page.text and web.disclosure_of["P-3"] in page.text
    assert web.disclosure_of["P-1"] not in page.text
    csrf = csrf_of(page.text)
    empty = browser.post("/me/dispute", data={"detail": "  ", "csrf": csrf})
    assert empty.status_code == 422 and "There is a problem" in empty.text
    assert "say what is wrong" in empty.text.lower()
    with db.connect(web.url) as conn:
        assert conn.scalar(select(Freeze.id)) is None
    filed = browser.post("/me/dispute", data={"detail": "That is not me.", "csrf": csrf})
    assert filed.status_code == 303
    assert "Nothing more about you will be shared" in browser.get("/me").text
    with db.connect(web.url) as conn:
        assert list(conn.scalars(select(Freeze.person_id))) == ["P-3"]
    pdf = browser.get("/me/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_admin_pauses_and_resumes(web: WebState) -> None:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "adm1")
    page = browser.get("/admin")
    assert "ho-to-dvla" in page.text and "dvla1" in page.text
    assert "P-1" not in page.text  # subjects are shown as bound to a person, not by id
    csrf = csrf_of(page.text)
    paused = browser.post(
        "/admin/agreements/ho-to-dvla/pause", data={"reason": "audit", "csrf": csrf}
    )
    assert paused.status_code == 303
    assert "Agreement ho-to-dvla paused" in browser.get("/admin").text
    twice = browser.post(
        "/admin/agreements/ho-to-dvla/pause", data={"reason": "audit", "csrf": csrf}
    )
    assert twice.status_code == 303 and "already paused" in browser.get("/admin").text
    browser.post("/admin/agreements/ho-to-dvla/resume", data={"reason": "done", "csrf": csrf})
    with db.connect(web.url) as conn:
        assert conn.scalar(select(Pause.resumed_by)) == "adm1"
    assert (
        browser.post("/admin/agreements/nope/pause", data={"reason": "x", "csrf": csrf}).status_code
        == 404
    )
    assert (
        browser.post("/admin/agreements/ho-to-dvla/delete", data={"csrf": csrf}).status_code == 404
    )


def test_oversight_and_people_pages(web: WebState) -> None:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "aud1")
    page = browser.get("/oversight")
    assert 'hx-get="/oversight/panel"' in page.text and "items waiting for review" in page.text
    panel = browser.get("/oversight/panel").text
    assert "<html" not in panel and "dvla" in panel
    login(browser, "case1")
    assert browser.get("/people?q=P-2").headers["location"] == "/people/P-2"
    person = browser.get("/people/P-2").text
    assert web.disclosure_of["P-2"] in person and "RV-UM-2" in person
    assert browser.get("/people/P-404").status_code == 404
    assert [e.person_id for e in audit_entries(web.url, "case1", "person_read")] == ["P-2"]


def test_security_headers_and_static_files(client: TestClient) -> None:
    page = client.get("/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/htmx.min.js").status_code == 200
    assert client.get("/static/accord.css").status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/api/v1/nothing").json() == {"detail": "Not Found"}
    assert "Not found" in client.get("/nothing").text
    for address in ("/review/RV%00x", "/api/v1/batches?after=%00", "/people/P%0A1"):
        refused = client.get(address)
        assert refused.status_code == 400 and "control character" in refused.text


def test_repeated_failed_sign_ins_lock_the_username_for_a_while(
    client: TestClient, web: WebState
) -> None:
    def attempt(password: str) -> Any:
        return client.post(
            "/login", data={"username": "rev2", "password": password, "nonce": _nonce(client)}
        )

    for _ in range(identity.FREE_FAILURES + 1):
        assert attempt("not the password").status_code == 401
    locked = attempt(PASSWORD)  # the right password, refused unchecked while locked
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= identity.LOCK_FIRST.total_seconds()
    assert "Too many failed sign-ins" in locked.text and "1 minute" in locked.text
    assert SESSION_COOKIE not in locked.headers.get("set-cookie", "")
    assert [e.action for e in audit_entries(web.url, "anonymous")][-1] == "login_locked"
    assert identity.unlock(web.url, "rev2", actor="adm1")
    assert attempt(PASSWORD).status_code == 303


def test_the_api_docs_come_from_accords_own_files_under_its_csp(client: TestClient) -> None:
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "script-src 'self'" in docs.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    assert "<script>" not in docs.text  # nothing inline for the CSP to refuse
    for asset in sources:
        assert client.get(asset).status_code == 200, asset
    assert 'data-openapi="/api/openapi.json"' in docs.text
    assert "SwaggerUIBundle" in client.get("/static/swagger-ui/accord-init.js").text
