"""The two hot paths are written without the general machinery: a recipient's batch
fetch writes its JSON straight from the rows, and the review queue writes its table rows
in Python.  They must say exactly what the models and the template say, escape what they
show, and check the caller as strictly as every other endpoint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from html.parser import HTMLParser
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from web_support import NOW, SECRET, WebState, audit_entries, login

from accord import auditlog, identity
from accord.disclosure import Draft, disclose
from accord.store import db
from accord.store.models import AuditLog, ReviewItem
from accord.web import create_app, inbox, pages
from accord.web.api.schemas import BatchPage
from accord.web.readmodels import QueueItem

AWKWARD = {
    "family_name": 'Quote " and back\\slash',
    "given_names": "Ŧĥé <b>&amp;</b> \u2028 line",
    "date_of_birth": "1999-12-31",
}


def test_the_batch_json_is_the_documented_page(client: TestClient, web: WebState) -> None:
    with db.connect(web.url) as conn:
        (awkward,) = disclose(
            conn,
            [Draft("ho-to-dvla", 1, "dvla", "DVLA-777", "P-4", 0.9995, "rule:automatic", AWKWARD)],
            NOW,
            "RUN-2",
        )
    h = web.bearer("dvla1")
    first = client.get("/api/v1/batches?limit=2", headers=h).json()
    queries: list[dict[str, object]] = [
        {},
        {"limit": 2},
        {"limit": 2, "after": first["next_after"]},
        {"run": "RUN-2"},
        {"unacknowledged": True},
    ]
    for query in queries:
        response = client.get("/api/v1/batches", params=query, headers=h)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        page = BatchPage.model_validate_json(response.content)
        with db.connect(web.url) as conn:
            expected = inbox.batch(
                conn,
                "dvla",
                "test",
                run_id=query.get("run"),  # type: ignore[arg-type]
                unacknowledged=bool(query.get("unacknowledged")),
                after=query.get("after"),  # type: ignore[arg-type]
                limit=query.get("limit", 100),  # type: ignore[arg-type]
            )
        assert [i.model_dump() for i in page.items] == [
            dataclasses.asdict(i) for i in expected.items
        ], query
        assert page.next_after == expected.next_after
    only = client.get("/api/v1/batches?run=RUN-2", headers=h).json()["items"]
    assert [i["disclosure_id"] for i in only] == [awkward]
    assert json.loads(json.dumps(only[0]["fields"])) == AWKWARD


class _Rows(HTMLParser):
    """Each row of the queue table: its cells' text and the first link's address."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[list[str], str | None]] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append(([], None))
        elif self._in_body and tag == "td":
            self._cell = []
        elif self._in_body and tag == "a" and self.rows and self.rows[-1][1] is None:
            self.rows[-1] = (self.rows[-1][0], dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1][0].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _rows(html: str) -> list[tuple[list[str], str | None]]:
    parser = _Rows()
    parser.feed(html)
    return parser.rows


def test_the_queue_rows_show_every_value_escaped(web: WebState) -> None:
    odd_id = "RV-<1>&\"2' %x"
    reason = "<script>alert('x')</script> & more"
    with db.connect(web.url) as conn:
        conn.execute(
            insert(ReviewItem).values(
                item_id=odd_id,
                kind="manual_check",
                person_id="P-<3>",
                record_id="R&D-1",
                agreement_id=None,
                reason=reason,
                detail={},
                status="open",
                approvals_needed=2,
                run_id="RUN-1",
                created_at=NOW + dt.timedelta(days=1),  # the last row
            )
        )
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "rev1")
    page = browser.get("/review")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    rows = _rows(page.text)
    assert [cells[0] for cells, _ in rows] == ["RV-MC-4", "RV-UM-2", odd_id]
    cells, href = rows[-1]
    # item, person (no name derived), kind, agreement, match, why, approvals, how long
    assert cells == [odd_id, "P-<3>", "Check before admission", "", "", reason, "0 of 2", "today"]
    assert href == "/review/" + quote(odd_id, safe="")
    assert browser.get(href).status_code == 200  # the link leads to the item
    uncertain = rows[1][0]
    assert uncertain[1:5] == ["Thi Lan NguyễnP-2", "Uncertain match", "ho-to-dvla", "likely (95%)"]
    assert uncertain[7] == "2 days"
    assert [e.detail["refs"] for e in audit_entries(web.url, "rev1", "review_queue_read")] == [
        ["RV-MC-4", "RV-UM-2", odd_id]
    ]


def test_a_nul_in_a_value_is_escaped_one_value_at_a_time() -> None:
    now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    items = [
        QueueItem("RV-1", "manual_check", "P-1", None, "a&b", "x\x00<y>", "open", 1, 2, now),
        QueueItem("RV-2", "dispute", "P-2", "R-2", None, "plain", "open", 0, 1, now),
    ]
    html = str(pages.queue_rows(items, now + dt.timedelta(days=3)))
    assert "x\x00&lt;y&gt;" in html and "a&amp;b" in html
    rows = _rows(f"<table><tbody>{html}</tbody></table>")
    assert [cells[0] for cells, _ in rows] == ["RV-1", "RV-2"]
    assert rows[1][0] == ["RV-2", "P-2", "Dispute", "", "", "plain", "0 of 1", "3 days"]


def test_the_hot_paths_refuse_as_every_endpoint_does(client: TestClient, web: WebState) -> None:
    identity.revoke_tokens(web.url, "dvla1")
    revoked = client.get("/api/v1/batches", headers=web.bearer("dvla1"))
    assert revoked.status_code == 401 and revoked.headers["www-authenticate"].startswith("Bearer")
    wrong = client.get("/api/v1/batches", headers=web.bearer("rev1"))
    assert wrong.status_code == 403 and "reviewer" in wrong.json()["detail"]
    assert audit_entries(web.url, "dvla1", "disclosure_read") == []
    assert audit_entries(web.url, "rev1", "disclosure_read") == []

    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "dvla1")
    assert browser.get("/review").status_code == 403  # signed in, but not a reviewer
    login(browser, "rev2")
    assert browser.get("/review?kind=bogus").status_code == 400
    assert browser.get("/review").status_code == 200
    identity.set_password(web.url, "rev2", "a brand new password")
    assert browser.get("/review").headers["location"] == "/login?next=/review"
    login(browser, "rev2", "a brand new password")
    identity.disable_user(web.url, "rev2")
    assert browser.get("/review").status_code == 303
    assert len(audit_entries(web.url, "rev2", "review_queue_read")) == 1


def test_audit_entries_read_back_the_same_by_either_write_path(db_url: str) -> None:
    detail = {"people": ["P-1", "P-2"], "refs": ("R-1",), "on": dt.date(2026, 1, 2)}
    with db.connect(db_url) as conn:
        assert auditlog.log_many(conn, [("a", "few", "P-1", detail)]) == 1
        assert auditlog.log_many(conn, [("a", "many", "P-1", detail)] * 10) == 10
    with db.connect(db_url) as conn:
        rows = conn.execute(
            select(AuditLog.at, AuditLog.actor, AuditLog.person_id, AuditLog.detail).order_by(
                AuditLog.id
            )
        ).all()
    assert len(rows) == 11
    assert {(r.actor, r.person_id, json.dumps(r.detail, sort_keys=True)) for r in rows} == {
        ("a", "P-1", json.dumps(auditlog.jsonable(detail), sort_keys=True))
    }
    assert {type(r.at) for r in rows} == {dt.datetime}
    assert len({r.at.tzinfo is None for r in rows}) == 1
