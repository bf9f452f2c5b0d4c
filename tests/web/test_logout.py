"""Signing out ends the session on the server, not only in the browser (issue 23, low 13).

The session is a signed cookie; signing out only asked the browser to forget it, so a
copy taken before (from a shared computer, a proxy log) stayed good for eight hours.
Signing out now ends every session the user had started until then.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_support import SECRET, WebState, csrf_of, login

from accord.web import create_app
from accord.web.auth import SESSION_COOKIE


def _browser(web: WebState) -> TestClient:
    return TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)


def test_a_session_cookie_kept_from_before_signing_out_no_longer_works(web: WebState) -> None:
    browser = _browser(web)
    login(browser, "rev1")
    page = browser.get("/review")
    assert page.status_code == 200
    stolen = browser.cookies[SESSION_COOKIE]
    other_device = _browser(web)
    login(other_device, "rev1")
    assert other_device.get("/review").status_code == 200

    out = browser.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"

    thief = _browser(web)
    thief.cookies.set(SESSION_COOKIE, stolen)
    refused = thief.get("/review")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    # Every session the user had is over (sign out everywhere), and signing in works again.
    assert other_device.get("/review").status_code == 303
    again = _browser(web)
    login(again, "rev1")
    assert again.get("/review").status_code == 200
    # Another user's sessions are not touched.
    bystander = _browser(web)
    login(bystander, "rev2")
    assert bystander.get("/review").status_code == 200
