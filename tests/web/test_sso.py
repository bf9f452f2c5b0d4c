"""Staff single sign-on through a real OpenID provider started here (issue 22).

node-oidc-provider (npm, pinned in tests/package.json, installed by
scripts/test-prerequisites) runs tests/oidc_provider.mjs on 127.0.0.1; Accord is served by
uvicorn with the provider in its settings; Debian's Chromium, driven by Playwright, signs
in through the provider's own pages.  Authorization code with PKCE, state, nonce and the
ID token's signature against the provider's JWKS are Authlib's, checked for real here:
nothing is mocked.

* rita (group accord-reviewers, mapped to reviewer) lands on the reviewer queue, and is
  recorded once by issuer and subject;
* nora (no group) is refused with a plain page, and no user is created;
* a returning user whose groups changed is brought into line (`accord.sso`), without a
  browser: role changed, disabled when no group maps, enabled again when one does, and
  an administrator's disable stays.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from browser_support import CHROMIUM, CHROMIUM_ARGS
from sqlalchemy import select

from accord import identity, sso
from accord.config import Settings
from accord.store import db
from accord.store.models import AuditLog, User
from accord.web import create_app

HERE = Path(__file__).resolve().parents[1]  # tests/: the provider script and node_modules
PROVIDER_SCRIPT = HERE / "oidc_provider.mjs"
PROVIDER_PACKAGE = HERE / "node_modules" / "oidc-provider"
SECRET = "sso-test-secret-" + "z" * 40
GROUP_ROLES = {"accord-reviewers": "reviewer", "accord-caseworkers": "caseworker"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_secret: str
    accord_port: int  # the port Accord must listen on: the provider knows its callback


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("needs node and npm (scripts/test-prerequisites installs npm)")
    if not PROVIDER_PACKAGE.exists():
        pytest.fail("tests/node_modules/oidc-provider is missing: run scripts/test-prerequisites")
    port, accord_port = _free_port(), _free_port()
    client_secret = secrets.token_urlsafe(24)
    callback = f"http://127.0.0.1:{accord_port}/login/oidc/callback"
    proc = subprocess.Popen(
        [node, str(PROVIDER_SCRIPT), str(port), callback, client_secret],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            _, errors = proc.communicate(timeout=10)
            pytest.fail(f"the OpenID provider did not start: {line} {errors}")
        yield Provider(f"http://127.0.0.1:{port}", client_secret, accord_port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def sso_settings(p: Provider) -> Settings:
    return Settings(
        oidc_issuer=p.issuer,
        oidc_client_id="accord",
        oidc_client_secret=p.client_secret,
        oidc_scopes="openid profile email groups",
        oidc_roles=GROUP_ROLES,
    )


@pytest.fixture
def accord(provider: Provider, db_url: str) -> Iterator[str]:
    """Accord on the port the provider sends browsers back to, over ``db_url``."""
    app = create_app(db_url, secret=SECRET, config=sso_settings(provider))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=provider.accord_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{provider.accord_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (scripts/test-prerequisites)")
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _sign_in_through_provider(browser: Any, base: str, login: str) -> Any:
    """Open Accord's sign-in page, choose the organisation's account, sign in at the
    provider as ``login`` and agree to share; the page where Accord then leaves us."""
    context = browser.new_context()
    # Nothing leaves the machine (the provider's development pages link a web font).
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).hostname == "127.0.0.1"
            else route.abort()
        ),
    )
    page = context.new_page()
    page.goto(f"{base}/login")
    assert page.locator("#username").count() == 1  # local accounts are still offered
    page.click("#sso")
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    page.wait_for_selector("button[type=submit]:has-text('Continue')")
    page.click("button[type=submit]:has-text('Continue')")
    page.wait_for_url(f"{base}/**")
    page.wait_for_load_state()
    return page


def _sso_users(url: str) -> list[Any]:
    with db.connect(url) as conn:
        return list(conn.execute(select(User.__table__).where(User.sso_subject.is_not(None))))


# In the browser on SQLite only: what the sign-in stores is checked on both databases
# by the tests below, which call accord.sso itself.
@pytest.mark.sqlite_only
@pytest.mark.browser
def test_a_reviewer_signs_in_through_the_provider_and_lands_on_the_queue(
    browser: Any, accord: str, db_url: str, provider: Provider
) -> None:
    page = _sign_in_through_provider(browser, accord, "rita")
    assert urlsplit(page.url).path == "/review", page.url
    assert page.locator("h1").first.inner_text().strip() != ""
    assert "Rita Reviewer" in page.content()
    (user,) = _sso_users(db_url)
    assert (user.sso_issuer, user.sso_subject) == (provider.issuer, "rita")
    assert user.role == "reviewer" and user.password_hash is None
    assert user.username.startswith("rita-")
    with db.connect(db_url) as conn:
        actions = list(conn.scalars(select(AuditLog.action).where(AuditLog.actor == user.username)))
    assert "user_added" in actions and "login" in actions
    # The same person signing in again is the same user.
    page.context.close()
    again = _sign_in_through_provider(browser, accord, "rita")
    assert urlsplit(again.url).path == "/review"
    assert len(_sso_users(db_url)) == 1
    again.context.close()


# In the browser on SQLite only: what the sign-in stores is checked on both databases
# by the tests below, which call accord.sso itself.
@pytest.mark.sqlite_only
@pytest.mark.browser
def test_a_user_with_no_mapped_group_is_refused_plainly_and_nothing_is_created(
    browser: Any, accord: str, db_url: str
) -> None:
    page = _sign_in_through_provider(browser, accord, "nora")
    text = page.inner_text("main")
    assert "does not give you access to Accord" in text
    assert "403" not in text and "group" in text and "claim" not in text
    assert page.title().startswith("Not allowed")
    assert _sso_users(db_url) == []
    with db.connect(db_url) as conn:
        assert conn.scalar(select(User.username)) is None
    # Going on to a page asks for a sign-in: no session was given.
    page.goto(f"{accord}/review")
    assert urlsplit(page.url).path == "/login"
    page.context.close()


# --- a returning user whose groups changed (no browser: accord.sso itself) --------------

ISSUER = "https://login.example.gov.uk"
ROLES = sso.parse_roles({**GROUP_ROLES, "dvla-staff": "recipient:dvla", "audit": "auditor"})


def _claims(groups: list[str]) -> dict[str, Any]:
    return {"sub": "s-42", "preferred_username": "sam", "name": "Sam Smith", "groups": groups}


def _user(url: str) -> Any:
    with db.connect(url) as conn:
        return conn.execute(select(User.__table__).where(User.sso_subject == "s-42")).one()


def test_a_returning_user_is_brought_into_line_with_their_groups(db_url: str) -> None:
    first = sso.sign_in(db_url, ISSUER, _claims(["accord-reviewers"]), "groups", ROLES)
    assert first.principal is not None and first.principal.role == "reviewer"
    name = first.principal.username
    token = identity.issue_token(db_url, name, "cli")
    # Moved to the DVLA team: the role follows, at the next sign-in.
    moved = sso.sign_in(db_url, ISSUER, _claims(["dvla-staff"]), "groups", ROLES)
    assert moved.principal is not None and moved.principal.username == name
    assert (moved.principal.role, moved.principal.recipient) == ("recipient", "dvla")
    # Left every mapped group: refused, and disabled, so tokens stop at once.
    gone = sso.sign_in(db_url, ISSUER, _claims(["staff"]), "groups", ROLES)
    assert gone.principal is None and gone.refusal == sso.NO_ACCESS
    assert _user(db_url).disabled and _user(db_url).sso_disabled
    with db.connect(db_url) as conn:
        assert identity.principal_for_token(conn, token) is None
    # Back in a mapped group: enabled again.
    back = sso.sign_in(db_url, ISSUER, _claims(["audit"]), "groups", ROLES)
    assert back.principal is not None and back.principal.role == "auditor"
    assert not _user(db_url).disabled
    # Two roles at once: refused (one role a person).
    both = sso.sign_in(db_url, ISSUER, _claims(["audit", "accord-reviewers"]), "groups", ROLES)
    assert both.principal is None and both.refusal == sso.MANY_ROLES
    # An administrator's disable stays, whatever the groups say.
    sso.sign_in(db_url, ISSUER, _claims(["audit"]), "groups", ROLES)
    identity.disable_user(db_url, name, actor="adm1")
    kept = sso.sign_in(db_url, ISSUER, _claims(["audit"]), "groups", ROLES)
    assert kept.principal is None and kept.refusal == sso.DISABLED and _user(db_url).disabled
    with db.connect(db_url) as conn:
        actions = list(conn.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions.count("user_role_changed") == 2 and "user_enabled" in actions
    # The same subject at another issuer is another person.
    other = sso.sign_in(db_url, "https://other.example", _claims(["audit"]), "groups", ROLES)
    assert other.principal is not None and other.principal.username != name


def test_a_first_sign_in_with_no_mapped_group_creates_nothing(db_url: str) -> None:
    refused = sso.sign_in(db_url, ISSUER, _claims([]), "groups", ROLES)
    assert refused.principal is None
    with db.connect(db_url) as conn:
        assert conn.scalar(select(User.username)) is None


def test_a_local_account_keeps_its_name_and_an_sso_user_never_takes_it(db_url: str) -> None:
    taken = sso.username_for(ISSUER, "s-42", _claims([]))
    identity.add_user(db_url, taken, "admin", password="break-glass-password")
    signed = sso.sign_in(db_url, ISSUER, _claims(["accord-reviewers"]), "groups", ROLES)
    assert signed.principal is not None and signed.principal.username != taken
    assert identity.check_password(db_url, taken, "break-glass-password") is not None
