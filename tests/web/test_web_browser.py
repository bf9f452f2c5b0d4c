"""Issue 19 in Debian's Chromium, on the database `accord demo` builds, one user per role.

* A reviewer clears 50 demo items with the keyboard alone: one key decides with a preset
  reason, one goes on to the next item; every decision is then read back from the database.
* axe-core (from npm: tests/package.json, installed by scripts/test-prerequisites) runs in
  every page of every role and finds no serious or critical violation, at 1280 px and at
  390 px, where no page scrolls sideways either.
* `/api/docs` renders with every request off the machine refused.

Screenshots of each role's main screens are written under the test's tmp dir (and copied
to ``ACCORD_SCREENSHOTS`` when it is set).  The demo runs once for the session (demo_cache)
and the module serves its own copy of the database; the pages are checked before the
reviewer changes anything.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from browser_support import CHROMIUM, CHROMIUM_ARGS
from demo_cache import DemoBuild
from sqlalchemy import select

from accord.store import db
from accord.store.models import ReviewDecision, ReviewItem
from accord.web import create_app, words

playwright_sync = pytest.importorskip("playwright.sync_api")

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
SECRET = "browser-test-secret-" + "y" * 40
WIDTHS = (1280, 390)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test-prerequisites)"
    ),
    pytest.mark.skipif(
        not AXE.exists(), reason="needs axe-core from npm (scripts/test-prerequisites)"
    ),
]


@dataclass(frozen=True)
class Demo:
    out: Path
    url: str
    users: dict[str, tuple[str, str]]  # username -> (password, role)
    base: str

    def user(self, role: str) -> tuple[str, str]:
        name = next(u for u, (_, r) in self.users.items() if r == role)
        return name, self.users[name][0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo(demo_build: DemoBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The session's one `accord demo` (demo_cache), a copy of its database served by
    the app in this process (the reviewers' tests decide items)."""
    assert demo_build.code == 0, demo_build.errors
    out = demo_build.out
    listed = demo_build.printed.split("sign in as one of these demo users", 1)[1]
    users = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(r"^  (\S+)\s+(\S+)\s+(\w+)(?: \(\S+\))?$", listed, re.M)
    }
    url = f"sqlite:///{demo_build.own_database(tmp_path_factory.mktemp('web-demo'))}"
    saved = os.environ.get("ACCORD_LEDGER_KEY")
    os.environ["ACCORD_LEDGER_KEY"] = str(out / "ledger.key")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(url, secret=SECRET), host="127.0.0.1", port=port,
                       log_level="warning")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Demo(out, url, users, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if saved is None:
            os.environ.pop("ACCORD_LEDGER_KEY", None)
        else:
            os.environ["ACCORD_LEDGER_KEY"] = saved


@pytest.fixture(autouse=True)
def _demo_ledger_key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The served demo signs with the demo's own ledger key.  conftest gives every test a
    fresh key of its own (``ACCORD_LEDGER_KEY``), which the server, running in this
    process, would read, and a decision that signs a tree head refuses a key that is not
    the one the ledger's heads are signed with."""
    if "demo" in request.fixturenames:
        demo: Demo = request.getfixturevalue("demo")
        monkeypatch.setenv("ACCORD_LEDGER_KEY", str(demo.out / "ledger.key"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Shots:
    """Screenshots of the screens, under the test's tmp dir and ``ACCORD_SCREENSHOTS``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        keep = os.environ.get("ACCORD_SCREENSHOTS")
        self.keep = Path(keep) if keep else None
        self.taken: list[Path] = []

    def take(self, page: Any, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5_000, f"screenshot {name} looks empty"
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.keep / path.name)
        self.taken.append(path)
        return path


def _sign_in(browser: Any, demo: Demo, role: str, width: int, **options: Any) -> Any:
    username, password = demo.user(role)
    context = browser.new_context(
        base_url=demo.base, viewport={"width": width, "height": 900}, **options
    )
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, role
    return page


# axe-core's report, reduced to what the issue forbids: serious and critical violations.
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _pages(demo: Demo) -> dict[str, list[tuple[str, str]]]:
    """Every page of every role on the demo, as (name, path)."""
    with db.connect(demo.url) as conn:
        items = dict(conn.execute(select(ReviewItem.kind, ReviewItem.item_id)
                                  .order_by(ReviewItem.item_id)).all())  # fmt: skip
        match = conn.scalar(
            select(ReviewItem.item_id).where(ReviewItem.kind == "ambiguous_match").limit(1)
        )
        person = conn.scalar(
            select(ReviewItem.person_id).where(ReviewItem.kind == "dispute").limit(1)
        )
    return {
        "reviewer": [
            ("queue", "/review"),
            ("queue-all", "/review?show=all&sort=least_certain"),
            ("dispute", f"/review/{items['dispute']}"),
            ("re-review", f"/review/{items['re_review']}"),
            ("match", f"/review/{match}"),
            ("person", f"/people/{person}"),
        ],
        "caseworker": [("people", "/people"), ("person", f"/people/{person}")],
        "recipient": [("inbox", "/inbox")],
        "auditor": [
            ("oversight", "/oversight"),
            ("disclosures", "/oversight/rows/disclosures?status=active"),
            ("recalls", "/oversight/rows/recalls"),
            ("review", "/oversight/rows/review"),
            ("audit-log", "/oversight/audit"),
        ],
        "admin": [("admin", "/admin"), ("not-allowed", "/review")],
        "subject": [("me", "/me")],
    }


def test_every_page_of_every_role_passes_axe_at_desktop_and_390px(
    demo: Demo, browser: Any, tmp_path: Path
) -> None:
    shots = Shots(tmp_path / "screenshots")
    axe = AXE.read_text(encoding="utf-8")
    found: dict[str, Any] = {}
    checked = 0
    anonymous = browser.new_context(base_url=demo.base, bypass_csp=True).new_page()
    sessions: list[tuple[str, Any, list[tuple[str, str]]]] = [
        ("anonymous", anonymous, [("login", "/login")])
    ]
    for role, pages in _pages(demo).items():
        # bypass_csp: the test injects axe-core, which the pages' own CSP would refuse
        sessions.append((role, _sign_in(browser, demo, role, WIDTHS[0], bypass_csp=True), pages))
    for role, page, pages in sessions:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for n, (name, path) in enumerate(pages):
                page.goto(path)
                page.wait_for_load_state("load")
                page.add_script_tag(content=axe)
                problems = page.evaluate(AXE_RUN)
                if problems:
                    found[f"{role} {path} at {width} px"] = problems
                sideways = page.evaluate(SIDEWAYS)
                if sideways > 0:
                    found[f"{role} {path} at {width} px scrolls sideways"] = sideways
                if n == 0 or name in ("dispute", "match"):  # each role's main screens
                    shots.take(page, f"{role}-{name}-{width}")
                checked += 1
    assert not found, found
    assert checked == 2 * (1 + sum(len(p) for p in _pages(demo).values()))
    assert len(shots.taken) == 2 * (len(sessions) + 2)
    # and the check itself finds what it must: a page with a violation of each kind
    anonymous.set_content('<html><body><img src="x.png"><input type="text"></body></html>')
    anonymous.add_script_tag(content=axe)
    caught = {v["id"] for v in anonymous.evaluate(AXE_RUN)}
    assert {"image-alt", "label"} <= caught, caught
    # what the auditor's page offers: the whole oversight report, made now
    auditor = next(page for role, page, _ in sessions if role == "auditor")
    report = auditor.request.get("/oversight/report.html")
    assert report.status == 200 and b"<html" in report.body()


def test_api_docs_render_with_the_network_off(demo: Demo, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    refused: list[str] = []

    def only_accord(route: Any) -> None:
        if route.request.url.startswith(demo.base + "/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_accord)
    page = context.new_page()
    said: list[str] = []
    page.on("console", lambda m: said.append(f"{m.type}: {m.text}"))
    page.goto(demo.base + "/api/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Accord" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 15  # every operation of the API
    assert refused == [] and said == [], (refused, said)
    Shots(tmp_path / "screenshots").take(page, "anonymous-api-docs-1280")


def test_a_reviewer_clears_fifty_demo_items_with_the_keyboard_alone(
    demo: Demo, browser: Any, tmp_path: Path
) -> None:
    shots = Shots(tmp_path / "screenshots")
    username, password = demo.user("reviewer")
    page = browser.new_context(
        base_url=demo.base, viewport={"width": 1280, "height": 900}
    ).new_page()
    page.goto("/login")
    for _ in range(10):  # past the skip link and the header to the first field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "username":
            break
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/review")
    shots.take(page, "reviewer-keyboard-00-queue")
    with page.expect_navigation():
        page.keyboard.press("n")  # the first item waiting
    expected: list[tuple[str, str, str]] = []
    for n in range(50):
        item = page.url.split("/review/", 1)[1].split("?", 1)[0]
        key = "1" if n % 2 == 0 else "2"
        button = page.locator(f'button[data-key="{key}"]')
        decision = "approve" if "approve" in (button.get_attribute("class") or "") else "reject"
        kind = _kind(demo.url, item)
        reason = words.presets(kind)[int(key) - 1][1]
        expected.append((item, decision, reason))
        with page.expect_navigation():
            page.keyboard.press(key)  # decide, with that preset's reason
        assert "decided=1" in page.url
        assert "You have decided this item" in page.inner_text("#decide")
        assert f"You have decided {n + 1} item" in page.inner_text(".progress")
        if n in (0, 49):
            shots.take(page, f"reviewer-keyboard-{n + 1:02d}-decided")
        if n < 49:
            with page.expect_navigation():
                page.keyboard.press("n")  # on to the next item
            assert page.url.split("/review/", 1)[1].split("?", 1)[0] != item
    with db.connect(demo.url) as conn:
        made = conn.execute(
            select(ReviewDecision.item_id, ReviewDecision.decision, ReviewDecision.reason)
            .where(ReviewDecision.reviewer == username)
            .order_by(ReviewDecision.id)
        ).all()
    assert [tuple(m) for m in made] == expected
    assert len({i for i, _, _ in expected}) == 50  # fifty different items
    assert {d for _, d, _ in expected} == {"approve", "reject"}


def _kind(url: str, item: str) -> str:
    with db.connect(url) as conn:
        return str(conn.scalar(select(ReviewItem.kind).where(ReviewItem.item_id == item)))
