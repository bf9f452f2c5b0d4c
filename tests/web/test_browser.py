"""End to end in Debian's Chromium: each person's screen, driven as they would drive it.

The server is the real application under uvicorn on 127.0.0.1 (a free port), over a
database built by the real services; the browser is /usr/bin/chromium, headless, driven
by Playwright.  Screenshots of each screen are written under the test's tmp dir (and
to ``ACCORD_SCREENSHOTS`` when set) so that a person can look at what was rendered.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from sqlalchemy import select
from web_support import PASSWORD, SECRET, WebState, submit_events

from accord.store import db
from accord.store.models import Freeze, PoolEntry, Recall, RecipientAction, ReviewItem
from accord.web import create_app

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test-prerequisites)"
    ),
]


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keep = (
            Path(os.environ["ACCORD_SCREENSHOTS"]) if "ACCORD_SCREENSHOTS" in os.environ else None
        )
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: object, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        assert path.stat().st_size > 5_000, f"screenshot {name} looks empty"
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.keep / path.name)
        return path

    def take_element(self, locator: object, name: str) -> Path:
        path = self.folder / f"{name}.png"
        locator.screenshot(path=str(path))  # type: ignore[attr-defined]
        assert path.stat().st_size > 5_000, f"screenshot {name} looks empty"
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.keep / path.name)
        return path


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    return Shots(tmp_path / "screenshots")


def _sign_in(browser: object, base: str, username: str) -> object:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def test_reviewers_approve_an_item_with_four_eyes(
    server: str,
    browser: object,
    web: WebState,
    shots: Shots,
) -> None:
    item = web.items["manual_check"]
    page = _sign_in(browser, server, "rev1")
    assert page.url.endswith("/review")  # type: ignore[attr-defined]
    assert page.locator(f"a:has-text('{item}')").count() == 1  # type: ignore[attr-defined]
    shots.take(page, "01-review-queue")
    page.click(f"a:has-text('{item}')")  # type: ignore[attr-defined]
    page.wait_for_selector("#four-eyes")  # type: ignore[attr-defined]
    assert "0 of 2 approvals" in page.inner_text("#four-eyes")  # type: ignore[attr-defined]
    page.fill("#reason", "Identity and status confirmed against the case file")  # type: ignore[attr-defined]
    page.click("#decision-approve")  # type: ignore[attr-defined]
    page.wait_for_selector(".flash")  # type: ignore[attr-defined]
    assert "1 of 2 approvals" in page.inner_text(".flash")  # type: ignore[attr-defined]
    assert "You have decided this item" in page.inner_text("#decide")  # type: ignore[attr-defined]
    assert page.locator("button.approve").count() == 0  # type: ignore[attr-defined]
    shots.take(page, "02-review-item-first-approval")

    second = _sign_in(browser, server, "rev2")
    second.goto(f"/review/{item}")  # type: ignore[attr-defined]
    assert "Already approved by rev1" in second.inner_text("#decide")  # type: ignore[attr-defined]
    second.fill("#reason", "Second reviewer: agree, the cohort check is satisfied")  # type: ignore[attr-defined]
    second.click("#decision-approve")  # type: ignore[attr-defined]
    second.wait_for_selector(".flash")  # type: ignore[attr-defined]
    assert "Approved (2 of 2 approvals)" in second.inner_text(".flash")  # type: ignore[attr-defined]
    shots.take(second, "03-review-item-approved")
    with db.connect(web.url) as conn:
        status = conn.scalar(select(ReviewItem.status).where(ReviewItem.item_id == item))
        pool = conn.scalar(select(PoolEntry.status).where(PoolEntry.person_id == "P-4"))
    assert (status, pool) == ("approved", "admitted")


def test_recipient_downloads_reports_a_revocation_and_sees_the_recall(
    server: str,
    browser: object,
    web: WebState,
    shots: Shots,
    tmp_path: Path,
) -> None:
    page = _sign_in(browser, server, "dvla1")
    assert page.url.endswith("/inbox")  # type: ignore[attr-defined]
    shots.take(page, "04-recipient-inbox")
    with page.expect_download() as info:  # type: ignore[attr-defined]
        page.click("#download")  # type: ignore[attr-defined]
    saved = tmp_path / "dvla.csv"
    info.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert lines[0].replace('"', "") == (
        "disclosure_id,record_id,family_name,given_names,date_of_birth"
    )
    ids = {line.split(",")[0].strip('"') for line in lines[1:]}
    assert ids == {web.disclosure_of["P-1"], web.disclosure_of["P-2"]}
    assert "P-1" not in saved.read_text(encoding="utf-8")  # never the person id

    target = web.disclosure_of["P-1"]
    page.select_option("#disclosure_id", target)  # type: ignore[attr-defined]  # from its list
    page.check("#action-revoked")  # type: ignore[attr-defined]
    page.click("form[action='/inbox/actions'] button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector(".flash")  # type: ignore[attr-defined]
    assert f"Action revoked on {target} recorded" in page.inner_text(".flash")  # type: ignore[attr-defined]
    with db.connect(web.url) as conn:
        acted = conn.execute(
            select(RecipientAction.action, RecipientAction.recipient).where(
                RecipientAction.disclosure_id == target
            )
        ).all()
    assert [tuple(a) for a in acted] == [("revoked", "dvla")]

    # The source body overturns the decision: the disclosure is recalled.
    from fastapi.testclient import TestClient

    submit_events(
        TestClient(create_app(web.url, secret=SECRET)),
        web,
        {
            "event_id": "EV-OVERTURN-1",
            "person_id": "P-1",
            "event_type": "decision_overturned",
            "event_date": "2026-02-01",
            "detail": "appeal allowed",
        },
    )
    page.goto("/inbox")  # type: ignore[attr-defined]
    recalls = page.inner_text("#recall-table")  # type: ignore[attr-defined]
    assert target in recalls and "Undo what you did, then report it" in recalls
    shots.take(page, "05-recipient-inbox-with-recall")
    with db.connect(web.url) as conn:
        remedy = conn.scalar(select(Recall.remedy_status).where(Recall.disclosure_id == target))
    assert remedy == "outstanding"


def test_subject_opens_their_report_and_files_a_dispute(
    server: str,
    browser: object,
    web: WebState,
    shots: Shots,
) -> None:
    page = _sign_in(browser, server, "subj1")
    assert page.url.endswith("/me")  # type: ignore[attr-defined]
    letter = page.frame_locator("iframe.letter")  # type: ignore[attr-defined]
    assert "dvla" in letter.locator("body").inner_text().lower()
    assert "How to dispute" in page.inner_text("h2#dispute")  # type: ignore[attr-defined]
    shots.take(page, "06-subject-report")
    frame = page.locator("iframe.letter")  # type: ignore[attr-defined]
    frame.scroll_into_view_if_needed()
    letter.locator("h1").wait_for()
    shots.take_element(frame, "06b-subject-report-letter")
    page.fill("#detail", "I have had leave to remain since 1973; the refusal is wrong.")  # type: ignore[attr-defined]
    page.click("form[action='/me/dispute'] button")  # type: ignore[attr-defined]
    page.wait_for_selector(".flash")  # type: ignore[attr-defined]
    assert "Nothing more about you will be shared" in page.inner_text(".flash")  # type: ignore[attr-defined]
    shots.take(page, "07-subject-dispute-filed")
    with db.connect(web.url) as conn:
        frozen = conn.scalars(select(Freeze.person_id).where(Freeze.lifted_at.is_(None))).all()
    assert list(frozen) == ["P-1"]


def test_other_screens_render(
    server: str,
    browser: object,
    web: WebState,
    shots: Shots,
) -> None:
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    login = context.new_page()
    login.goto("/review")
    assert "/login" in login.url
    shots.take(login, "00-login")
    page = _sign_in(browser, server, "case1")
    page.goto("/people/P-1")  # type: ignore[attr-defined]
    assert web.disclosure_of["P-1"] in page.inner_text("main")  # type: ignore[attr-defined]
    shots.take(page, "08-person-page")
    page = _sign_in(browser, server, "aud1")
    assert page.url.endswith("/oversight")  # type: ignore[attr-defined]
    assert "items waiting for review" in page.inner_text("#live-counts")  # type: ignore[attr-defined]
    shots.take(page, "09-oversight")
    page = _sign_in(browser, server, "rev2")
    page.goto(f"/review/{web.items['uncertain_match']}")  # type: ignore[attr-defined]
    assert "Nguyen" in page.inner_text("#record-table")  # type: ignore[attr-defined]
    assert "given names" in page.inner_text("#waterfall").lower()  # type: ignore[attr-defined]
    shots.take(page, "11-review-match-item")
    page = _sign_in(browser, server, "adm1")
    shots.take(page, "10-admin")
    page.goto("/review")  # type: ignore[attr-defined]
    assert "Not allowed" in page.inner_text("h1")  # type: ignore[attr-defined]
