"""A recipient's inbox on the web and the API: the record each disclosure and recall is
about, every recall reachable, downloads safe to open and to name, and plain words for
everyone when the operators have something to put right."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from web_support import SECRET, SHARES, WebState, csrf_of, login

from accord import identity
from accord.csvsafe import TRIGGERS
from accord.disclosure import AUTOMATIC, Draft, disclose
from accord.remedy import recall_people
from accord.store import db
from accord.store.models import Disclosure, Recall, ReviewItem
from accord.web import create_app

PASSWORD = "correct horse battery"


def _browser(web: WebState, username: str) -> TestClient:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, username)
    return browser


def _share_with_dvla(web: WebState, people: list[tuple[str, str, dict[str, str]]]) -> list[str]:
    drafts = [
        Draft("ho-to-dvla", 1, "dvla", record, person, 0.9995, AUTOMATIC, fields)
        for person, record, fields in people
    ]
    with db.connect(web.url) as conn:
        return disclose(conn, drafts, dt.datetime.now(dt.UTC), "RUN-2")


def test_batches_and_recalls_name_the_recipients_own_record(
    client: TestClient, web: WebState
) -> None:
    expected = {web.disclosure_of[p]: r for p, a, r in SHARES if a == "ho-to-dvla"}
    items = client.get("/api/v1/batches", headers=web.bearer("dvla1")).json()["items"]
    assert {i["disclosure_id"]: i["record_id"] for i in items} == expected
    with db.connect(web.url) as conn:
        recall_people(conn, ["P-1"], "decision_overturned", "test")
    recalls = client.get("/api/v1/recalls", headers=web.bearer("dvla1")).json()["items"]
    assert [(r["disclosure_id"], r["record_id"], r["reason"]) for r in recalls] == [
        (web.disclosure_of["P-1"], "DVLA-001", "decision_overturned")
    ]
    page = _browser(web, "dvla1").get("/inbox").text
    recall_table = page.split('id="recall-table"', 1)[1].split("</table>", 1)[0]
    assert "DVLA-001" in recall_table and "The decision was overturned" in recall_table
    batch_table = page.split('id="batch-table"', 1)[1].split("</table>", 1)[0]
    assert "DVLA-002" in batch_table


def test_the_inbox_pages_through_every_recall(web: WebState) -> None:
    many = 230  # more than two pages, and more than the 200 the inbox once showed
    _share_with_dvla(
        web, [(f"P-R{i:03d}", f"DVLA-R{i:03d}", {"family_name": "X"}) for i in range(many)]
    )
    with db.connect(web.url) as conn:
        recall_people(conn, [f"P-R{i:03d}" for i in range(many)], "record_corrected", "test")
        expected = set(conn.scalars(select(Recall.recall_id).where(Recall.recipient == "dvla")))
    assert len(expected) == many
    browser = _browser(web, "dvla1")
    seen: list[str] = []
    href: str | None = "/inbox"
    pages = 0
    while href is not None:
        page = browser.get(href)
        assert page.status_code == 200
        table = page.text.split('id="recall-table"', 1)[1].split("</table>", 1)[0]
        seen += re.findall(r'name="recall_id" value="([^"]+)"', table)  # none acknowledged
        found = re.search(r'id="recalls-next" href="([^"]+)"', page.text)
        href = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
        assert pages < 10
    assert len(seen) == len(set(seen)) == many and set(seen) == expected
    assert pages == 3


def test_the_batch_download_carries_no_spreadsheet_formula(web: WebState) -> None:
    hostile = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "@SUM(1)",
               "-1+1", "\t=1", "\r=1"]  # fmt: skip
    _share_with_dvla(
        web,
        [
            (f"P-H{i}", f"DVLA-H{i}", {"family_name": v, "given_names": v})
            for i, v in enumerate(hostile)
        ],
    )
    body = _browser(web, "dvla1").get("/inbox/batch.csv")
    assert body.status_code == 200
    rows = list(csv.DictReader(io.StringIO(body.text, newline="")))
    assert rows and list(rows[0])[:2] == ["disclosure_id", "record_id"]
    cells = [v for r in rows for v in r.values()]
    assert not [c for c in cells if c and c[0] in TRIGGERS]
    assert {r["family_name"] for r in rows} >= {"'" + v for v in hostile}


@pytest.mark.parametrize(
    "recipient",
    ['bank "quoted"', "Bank Ōsaka 銀行", "bank\r\nSet-Cookie: stolen=1", "bank\\..\\x;y=z"],
)
def test_any_recipient_name_gives_a_download_name_that_cannot_break_the_header(
    web: WebState, recipient: str
) -> None:
    identity.add_user(web.url, "odd1", "recipient", recipient=recipient, password=PASSWORD)
    response = _browser(web, "odd1").get("/inbox/batch.csv")
    assert response.status_code == 200
    header = response.headers["content-disposition"]
    assert not set(header) & {"\r", "\n"} and all(" " <= c <= "~" for c in header)
    quoted, encoded = re.fullmatch(
        r"attachment; filename=\"([^\"\\]*)\"; filename\*=UTF-8''([A-Za-z0-9%._~-]+)", header
    ).groups()  # type: ignore[union-attr]
    assert unquote(encoded, encoding="utf-8") == f"{recipient}.csv"
    assert quoted.endswith(".csv")


def test_a_member_of_the_public_never_sees_an_operators_instructions(
    web: WebState,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the ledger key gone, a person's report and a reviewer's approval cannot be
    made: they get plain words and a reference; the operators get the detail in the log."""
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(tmp_path / "gone" / "ledger.key"))
    operator_words = ("--key", "ACCORD_LEDGER_KEY", "accord init", "ledger.key")
    caplog.set_level(logging.ERROR, logger="accord.web")
    subject = _browser(web, "subj1")
    page = subject.get("/me")
    api = subject.get("/api/v1/me/report", headers=web.bearer("subj1"))
    with db.connect(web.url) as conn:  # a re-review that, upheld, recalls P-1's disclosure
        conn.execute(
            insert(ReviewItem).values(
                item_id="RV-RR-1", kind="re_review", person_id="P-1", status="open",
                reason="New evidence arrived", detail={}, approvals_needed=2,
            )
        )  # fmt: skip
    reviewer = _browser(web, "rev1")
    csrf = csrf_of(reviewer.get("/review/RV-RR-1").text)
    decided = reviewer.post(
        "/review/RV-RR-1/decide",
        data={"decision": "reject", "reason": "the evidence shows leave", "csrf": csrf},
    )
    assert decided.status_code == 503, decided.text
    for response in (page, api, decided):
        assert response.status_code in (409, 503), response.text
        assert "reference" in response.text
        for words in operator_words:
            assert words not in response.text, (words, response.text)
    references = re.findall(r"reference ([0-9A-F]{8})", page.text + api.text + decided.text)
    assert len(references) == 3
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for ref in references:
        assert f"reference {ref}: " in logged
    assert "no ledger" in logged
    with db.connect(web.url) as conn:  # nothing of the decision was recorded either
        status = conn.scalar(select(ReviewItem.status).where(ReviewItem.item_id == "RV-RR-1"))
        shared = conn.scalar(
            select(Disclosure.status).where(Disclosure.disclosure_id == web.disclosure_of["P-1"])
        )
    assert (status, shared) == ("open", "active")
