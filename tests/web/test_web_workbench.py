"""Issue 19: the reviewer's workbench and screens anyone can use, through the real app.

The workbench (a queue to filter and sort, the item page with the decision first, both
records side by side, a waterfall on a probability axis, rivals decided together, reason
presets, the next item, blind review), recipients' recalls and actions, auditors'
drill-downs, exports and audit log, the person's own page, and plain words on every page.
The browser-driven half (keyboard, axe-core, 390 px) is tests/web/test_web_browser.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from web_support import (
    RUN_AT,
    SECRET,
    WebState,
    audit_entries,
    csrf_of,
    login,
)

from accord import blind, formats, remedy
from accord.remedy import recall_people
from accord.rights import explain
from accord.store import db
from accord.store.models import (
    AgreementVersion,
    Match,
    Person,
    PoolEntry,
    Recall,
    ReviewDecision,
    ReviewItem,
)
from accord.web import create_app, words

# Comparison levels as accord.linkage writes them, so the marks are read as in production.
EXPLANATION = [
    {"comparison": "prior", "level": "starting match weight", "match_weight": -15.0},
    {"comparison": "family_name", "level": "exact match", "match_weight": 9.0,
     "value_pool": "nguyen", "value_register": "nguyen"},
    {"comparison": "given_names", "level": "exact match", "match_weight": 10.0,
     "value_pool": "lan", "value_register": "lan"},
    {"comparison": "date_of_birth", "level": "one digit mistyped, or two neighbouring digits "
     "swapped", "match_weight": 1.7},
    {"comparison": "postcode", "level": "different", "match_weight": -2.1},
    {"comparison": "candidates", "level": "the other candidates", "match_weight": -1.5},
]  # fmt: skip
BLIND_P = 0.873


def _browser(web: WebState, username: str) -> TestClient:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, username)
    return browser


def _add_rival(web: WebState) -> None:
    """P-5, another person the register record DVLA-902 could be, with an open item of its
    own (ambiguous), and DVLA-903, another record P-2 could hold (no item)."""
    with db.connect(web.url) as conn:
        conn.execute(
            insert(Person).values(
                person_id="P-5", family_name="Nguyen", given_names="Lan",
                date_of_birth=dt.date(1991, 11, 12), nationality="VNM", postcode="E1 6AN",
                latest_decision="refusal", latest_decision_date=dt.date(2021, 5, 1),
                refusal_reason="eligibility", appeal_status="exhausted", leave="none",
                provenance={}, derived_as_of=RUN_AT.date(),
            )
        )  # fmt: skip
        conn.execute(
            insert(PoolEntry).values(
                person_id="P-5", status="admitted", reasons=["adverse_decision"],
                as_of=RUN_AT.date(), run_id="RUN-1", updated_at=RUN_AT,
            )
        )  # fmt: skip
        record = {"record_id": "DVLA-902", "family_name": "Nguyen", "given_names": "Lan",
                  "date_of_birth": "1991-11-02", "postcode": "SE5 8AA"}  # fmt: skip
        m5 = conn.execute(
            insert(Match)
            .values(
                run_id="RUN-1", register="dvla", person_id="P-5", record_id="DVLA-902",
                match_probability=0.9, match_weight=3.1, rank=1, flags=["ambiguous"],
                record=record, explanation=EXPLANATION,
                evidence={"wrong_person": 0.1, "rival_gap": 1.2, "name_others": 2},
            )
            .returning(Match.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(Match).values(
                run_id="RUN-1", register="dvla", person_id="P-2", record_id="DVLA-903",
                match_probability=0.02, match_weight=-5.6, rank=2, flags=[],
                record={"record_id": "DVLA-903", "family_name": "Tran", "given_names": "Lan",
                        "date_of_birth": "1991-11-02"},
                explanation=[],
            )
        )  # fmt: skip
        conn.execute(
            insert(ReviewItem).values(
                item_id="RV-AM-5", kind="ambiguous_match", person_id="P-5",
                record_id="DVLA-902", agreement_id="ho-to-dvla", match_id=m5,
                reason="Another record or person matches almost as well: a person must tell "
                "them apart before anything is shared.",
                detail={"reasons": ["ambiguous_match", "uncertain_match"],
                        "match_probability": 0.9, "evidence": ["Names agree."]},
                status="open", approvals_needed=2, run_id="RUN-1",
                created_at=RUN_AT + dt.timedelta(seconds=5),
            )
        )  # fmt: skip


def _post_decision(browser: TestClient, item: str, **form: Any) -> Any:
    csrf = csrf_of(browser.get(f"/review/{item}").text)
    return browser.post(f"/review/{item}/decide", data={**form, "csrf": csrf})


def _decisions(url: str) -> list[tuple[str, str, str, str]]:
    with db.connect(url) as conn:
        return [
            tuple(r)  # type: ignore[misc]
            for r in conn.execute(
                select(
                    ReviewDecision.item_id,
                    ReviewDecision.reviewer,
                    ReviewDecision.decision,
                    ReviewDecision.reason,
                ).order_by(ReviewDecision.id)
            )
        ]


def _queue_ids(html: str) -> list[str]:
    body = html.split('id="queue"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<a class="id" href="/review/[^"]+">([^<]+)</a>', body)


# --- the queue -------------------------------------------------------------------------------


def test_the_queue_waits_for_me_with_names_chances_and_age(web: WebState) -> None:
    _add_rival(web)
    rev1 = _browser(web, "rev1")
    page = rev1.get("/review").text
    assert _queue_ids(page) == ["RV-MC-4", "RV-UM-2", "RV-AM-5"]
    assert "Chidi Okafor" in page and "likely (95%)" in page and "2 days" in page
    assert "You have decided 0 items today" in page
    done = _post_decision(rev1, "RV-MC-4", preset="1")
    assert done.status_code == 303 and "decided=1" in done.headers["location"]
    after = rev1.get(done.headers["location"]).text
    assert "1 of 2 approvals" in after and "You have decided 1 item today" in after
    assert _decisions(web.url) == [
        ("RV-MC-4", "rev1", "approve", words.presets("manual_check")[0][1])
    ]
    # decided by me: off my queue, still in everyone's, marked
    assert "RV-MC-4" not in _queue_ids(rev1.get("/review").text)
    everything = rev1.get("/review?show=all").text.split('id="queue"', 1)[1]
    row = everything.split('href="/review/RV-MC-4?show=all"', 1)[1].split("</tr>", 1)[0]
    assert "1 of 2<br>you approved" in row
    assert "RV-MC-4" in _queue_ids(_browser(web, "rev2").get("/review").text)


def test_the_queue_filters_sorts_and_finds(web: WebState) -> None:
    _add_rival(web)
    with db.connect(web.url) as conn:  # one item only just opened
        conn.execute(
            update(ReviewItem)
            .where(ReviewItem.item_id == "RV-AM-5")
            .values(created_at=dt.datetime.now(dt.UTC))
        )
    rev1 = _browser(web, "rev1")
    assert _queue_ids(rev1.get("/review?kind=manual_check").text) == ["RV-MC-4"]
    assert _queue_ids(rev1.get("/review?agreement=ho-to-dvla").text) == ["RV-UM-2", "RV-AM-5"]
    assert _queue_ids(rev1.get("/review?older_than=1").text) == ["RV-MC-4", "RV-UM-2"]
    assert _queue_ids(rev1.get("/review?sort=newest").text) == ["RV-AM-5", "RV-UM-2", "RV-MC-4"]
    # least certain first: 0.90 before 0.95, an item with no match last
    least = rev1.get("/review?sort=least_certain").text
    assert _queue_ids(least) == ["RV-AM-5", "RV-UM-2", "RV-MC-4"]
    assert _queue_ids(rev1.get("/review?q=P-4").text) == ["RV-MC-4"]
    assert _queue_ids(rev1.get("/review?q=nguyen").text) == ["RV-AM-5"]
    assert _queue_ids(rev1.get("/review?q=Nguyễn").text) == ["RV-UM-2"]
    # each row's link keeps the view, so that "next" stays in it
    assert (
        'href="/review/RV-UM-2?agreement=ho-to-dvla"'
        in rev1.get("/review?agreement=ho-to-dvla").text
    )
    for bad in ("sort=best", "kind=bogus", "show=some", "older_than=x"):
        assert rev1.get(f"/review?{bad}").status_code == 400, bad


# --- the item page ---------------------------------------------------------------------------


def test_the_item_page_puts_the_decision_first_and_the_records_side_by_side(
    web: WebState,
) -> None:
    _add_rival(web)
    page = _browser(web, "rev1").get("/review/RV-AM-5").text
    assert page.index('id="decide"') < page.index('id="records"') < page.index('id="score"')
    assert "Ambiguous match: Lan Nguyen" in page
    records = page.split('id="record-table"', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r'<th scope="col">([^<]+)<br>', records)
    assert heads == ["Person P-5", "dvla record DVLA-902", "Person P-2"]  # and the rival
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<th scope="row">([^<]+)</th>(.*?)</tr>', records, re.S)
    }
    assert list(rows)[:4] == ["Family name", "Given names", "Date of birth", "Postcode"]
    marks = {f: re.findall(r'data-mark="(\w+)"', cells) for f, cells in rows.items()}
    assert marks["Family name"][0] == "same" and marks["Postcode"][0] == "differ"
    assert marks["Date of birth"][0] == "close"  # one digit: close, not the same
    assert (
        "12 November 1991" in rows["Date of birth"] and "2 November 1991" in rows["Date of birth"]
    )
    assert 'href="/review/RV-UM-2"' in rows["Review item"]  # the rival's own item
    # the waterfall: each step from the prior, on an axis labelled in probability
    fall = page.split('id="waterfall"', 1)[1].split("</table>", 1)[0]
    steps = re.findall(r'<span class="(for|against)" style="left: ([\d.]+)%; width', fall)
    assert [d for d, _ in steps] == ["against", "for", "for", "for", "against", "against"]
    ticks = re.findall(r'<span style="left: [\d.]+%">([^<]+)</span>', fall)
    assert "50%" in ticks and len(ticks) >= 3
    total = sum(e["match_weight"] for e in EXPLANATION)  # 2.1 bits
    assert f"<strong>{explain.percent(2**total / (1 + 2**total))}</strong>" in fall  # 81.1%
    # the reasons, presets bound to keys, and buttons named by what they do
    assert "Another record or person matches almost as well and the match is not" in page
    keys = re.findall(r'data-key="(\d)"', page)
    assert keys == ["1", "2", "3", "4", "5"]
    assert ">Same person: share the record</button>" in page
    assert ">Not the same person: share nothing</button>" in page
    assert "Decide the 1 other candidate with this one" in page


def test_rivals_are_decided_together(web: WebState) -> None:
    _add_rival(web)
    rev1 = _browser(web, "rev1")
    done = _post_decision(rev1, "RV-AM-5", preset="1", rivals_too="1", reason="checked")
    assert done.status_code == 303
    shown = rev1.get(done.headers["location"]).text
    assert "Also rejected 1 other candidate" in shown
    made = _decisions(web.url)
    assert [(i, d) for i, _, d, _ in made] == [("RV-AM-5", "approve"), ("RV-UM-2", "reject")]
    assert made[0][3] == words.presets("ambiguous_match")[0][1] + ". checked"
    assert "decided with RV-AM-5" in made[1][3]
    with db.connect(web.url) as conn:
        status = dict(conn.execute(select(ReviewItem.item_id, ReviewItem.status)).all())
    assert status["RV-UM-2"] == "rejected" and status["RV-AM-5"] == "open"  # four eyes


def test_a_decision_alone_leaves_the_rivals_open(web: WebState) -> None:
    _add_rival(web)
    rev1 = _browser(web, "rev1")
    assert _post_decision(rev1, "RV-AM-5", preset="3").status_code == 303
    assert [(i, d) for i, _, d, _ in _decisions(web.url)] == [("RV-AM-5", "reject")]


def test_after_deciding_the_next_item_waits(web: WebState) -> None:
    _add_rival(web)
    rev1 = _browser(web, "rev1")
    before = rev1.get("/review/RV-MC-4").text
    assert re.search(r'href="/review/RV-UM-2" id="next-item"', before)  # skip to the next
    done = _post_decision(rev1, "RV-MC-4", preset="1")
    page = rev1.get(done.headers["location"]).text
    assert re.search(
        r'href="/review/RV-UM-2" id="next-item" class="button next-link" data-focus', page
    )
    # the last item leads back round to the first still waiting, never to itself
    assert 'href="/review/RV-UM-2" id="next-item"' in rev1.get("/review/RV-AM-5").text
    # within a view, the next item stays in it
    only = rev1.get("/review/RV-UM-2?agreement=ho-to-dvla").text
    assert 'href="/review/RV-AM-5?agreement=ho-to-dvla" id="next-item"' in only
    mine = rev1.get("/review/RV-MC-4?kind=manual_check").text
    assert 'id="no-next"' in mine and "Nothing else waits for you in this view" in mine


def test_a_form_with_a_problem_says_so_at_the_top_and_keeps_what_was_typed(
    web: WebState,
) -> None:
    rev1 = _browser(web, "rev1")
    item = web.items["uncertain_match"]
    none = _post_decision(rev1, item, reason="They look alike")
    assert none.status_code == 422
    assert '<div class="error-summary"' in none.text and 'href="#decision-approve"' in none.text
    assert ">They look alike</textarea>" in none.text
    blank = _post_decision(rev1, item, decision="reject", reason="  ")
    assert blank.status_code == 422 and 'href="#reason"' in blank.text
    assert "The reason must say why" in blank.text
    assert _decisions(web.url) == []


def test_blind_review_withholds_every_score_until_the_reviewer_decides(web: WebState) -> None:
    item = web.items["uncertain_match"]
    with db.connect(web.url) as conn:
        doc = conn.scalar(
            select(AgreementVersion.document).where(AgreementVersion.agreement_id == "ho-to-dvla")
        )
        conn.execute(
            update(AgreementVersion)
            .where(AgreementVersion.agreement_id == "ho-to-dvla")
            .values(document={**doc, "review": {"four_eyes": True, "blind": True}})
        )
        conn.execute(update(Match).where(Match.record_id == "DVLA-902").values(
            match_probability=BLIND_P))  # fmt: skip
    rev2 = _browser(web, "rev2")
    queue = rev2.get("/review").text
    assert "hidden until you decide" in queue and "87.3%" not in queue
    with db.connect(web.url) as conn:  # the queue's own reading agrees with accord.blind's
        assert blind.blind_items(conn, [item, web.items["manual_check"]], "rev2") == {item}
    assert queue.count("hidden until you decide") == 1
    assert _queue_ids(rev2.get("/review?sort=least_certain").text)[-1] == item  # not by score
    page = rev2.get(f"/review/{item}").text
    assert 'id="scores-withheld"' in page
    assert 'id="waterfall"' not in page and "87.3%" not in page and "times" not in page
    assert 'data-mark="' in page  # what agrees and what differs is still shown
    api = TestClient(create_app(web.url, secret=SECRET))
    detail = api.get(f"/api/v1/review/items/{item}", headers=web.bearer("rev2")).json()
    assert "match_probability" not in detail["match"]
    assert all("match_weight" not in e for e in detail["match"]["explanation"])
    assert "match_probability" not in detail["item"]["detail"]
    assert _post_decision(rev2, item, decision="reject", reason="not her").status_code == 303
    after = rev2.get(f"/review/{item}").text
    assert 'id="waterfall"' in after and "87.3%" in after


def test_a_dispute_shows_what_is_at_stake_and_buttons_say_what_they_do(web: WebState) -> None:
    api = TestClient(create_app(web.url, secret=SECRET))
    target = web.disclosure_of["P-1"]
    table = formats.load_records(
        [{"disclosure_id": target, "action": "revoked", "action_date": "2026-01-20"}],
        "actions",
        source="test",
    )
    remedy.record_actions(web.url, "dvla", table, "test", "dvla1")
    opened = api.post(
        "/api/v1/events",
        headers=web.bearer("case1"),
        json={"events": [{"event_id": "EV-D1", "person_id": "P-1", "event_type": "dispute_opened",
                          "event_date": "2026-01-21", "detail": "I have had leave since 1973"}]},
    )  # fmt: skip
    assert opened.status_code == 200, opened.text
    with db.connect(web.url) as conn:  # the record as held now differs from what was sent
        conn.execute(
            update(Person).where(Person.person_id == "P-1").values(given_names="Hortensia")
        )
    rev1 = _browser(web, "rev1")
    page = rev1.get("/review/EV-EV-D1").text
    assert ">Uphold the dispute: stop and recall</button>" in page
    assert ">Dismiss: sharing may resume</button>" in page
    stakes = page.split('id="stakes"', 1)[1].split("</section>", 1)[0]
    assert "“I have had leave since 1973”" in stakes
    assert "DVLA-001" in stakes and "revoked (took away a licence) on 20 January 2026" in stakes
    changed = re.search(r'<tr class="differ"><th scope="row">Given names</th>(.*?)</tr>', stakes)
    assert changed and "Hortense" in changed.group(1) and "Hortensia" in changed.group(1)
    done = _post_decision(rev1, "EV-EV-D1", preset="1")
    assert "challenge upheld" in rev1.get(done.headers["location"]).text
    with db.connect(web.url) as conn:
        assert conn.scalar(select(Recall.remedy_status).where(Recall.disclosure_id == target)) == (
            "outstanding"
        )


def test_reviewers_may_open_the_person_page(web: WebState) -> None:
    page = _browser(web, "rev1").get("/people/P-2")
    assert page.status_code == 200
    assert "Thi Lan Nguyễn" in page.text and "likely (95%)" in page.text
    assert "Back to the review queue" in page.text
    assert [e.person_id for e in audit_entries(web.url, "rev1", "person_read")] == ["P-2"]


# --- recipients ------------------------------------------------------------------------------


def test_recipients_see_recalls_outstanding_first_and_act_from_their_own_list(
    web: WebState,
) -> None:
    d1, d2 = web.disclosure_of["P-1"], web.disclosure_of["P-2"]
    table = formats.load_records(
        [{"disclosure_id": d2, "action": "revoked", "action_date": "2026-01-05"}],
        "actions",
        source="test",
    )
    remedy.record_actions(web.url, "dvla", table, "test", "dvla1")
    with db.connect(web.url) as conn:
        recall_people(conn, ["P-1", "P-2"], "decision_overturned", "test")
    dvla = _browser(web, "dvla1")
    page = dvla.get("/inbox").text
    recalls = page.split('id="recall-table"', 1)[1].split("</table>", 1)[0]
    order = re.findall(r'<td class="id record">([^<]+)</td>', recalls)
    assert order == ["DVLA-002", "DVLA-001"]  # the one acted on (outstanding) first
    assert "The decision was overturned" in recalls and "decision_overturned" not in recalls
    assert "Family name: Nguyễn" in recalls  # what the recall undoes, as it was sent
    assert "Undo what you did, then report it" in recalls
    form = page.split('action="/inbox/actions"', 1)[1].split("</form>", 1)[0]
    assert '<option value="">Choose a record</option>' in form
    assert " checked" not in form and " selected" not in form  # nothing chosen for them
    assert f'<option value="{d2}">Record DVLA-002: ' in form
    chosen = dvla.get(f"/inbox?report={d2}").text.split('action="/inbox/actions"', 1)[1]
    assert f'<option value="{d2}" selected>' in chosen
    done = dvla.post(
        "/inbox/actions",
        data={"disclosure_id": d2, "action": "reinstated", "action_date_day": "7",
              "action_date_month": "1", "action_date_year": "2026", "csrf": csrf_of(page)},
    )  # fmt: skip
    assert done.status_code == 303
    with db.connect(web.url) as conn:
        assert conn.scalar(select(Recall.remedy_status).where(Recall.disclosure_id == d2)) == (
            "remedied"
        )
    # acknowledge every recall at once
    page = dvla.get("/inbox").text
    assert "Acknowledge all 2 recalls not yet acknowledged" in page
    ack = dvla.post("/inbox/acknowledge", data={"all": "recalls", "csrf": csrf_of(page)})
    assert ack.status_code == 303
    assert "Acknowledged 2 recall(s)" in dvla.get("/inbox").text
    with db.connect(web.url) as conn:
        assert conn.scalar(select(Recall.recall_id).where(Recall.acknowledged_at.is_(None))) is None
    assert d1  # both were the recipient's own


# --- auditors --------------------------------------------------------------------------------


def test_auditors_open_the_rows_behind_each_figure_export_them_and_read_the_log(
    web: WebState,
) -> None:
    aud = _browser(web, "aud1")
    page = aud.get("/oversight").text
    assert 'href="/oversight/rows/disclosures?recipient=dvla&amp;status=active"' in page
    assert "accord report" not in page  # no command to run: the report is a download
    rows = aud.get("/oversight/rows/disclosures?recipient=dvla").text
    table = rows.split('id="rows"', 1)[1].split("</table>", 1)[0]
    assert web.disclosure_of["P-1"] in table and web.disclosure_of["P-3"] not in table
    assert "almost certain (99.95%)" in table
    exported = aud.get("/oversight/rows/disclosures.csv?recipient=dvla")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    got = list(csv.reader(io.StringIO(exported.text)))
    assert got[0][0] == "Disclosure" and {r[0] for r in got[1:]} == {
        web.disclosure_of["P-1"],
        web.disclosure_of["P-2"],
    }
    reads = audit_entries(web.url, "aud1", "oversight_read")
    assert [sorted(e.detail["people"]) for e in reads] == [["P-1", "P-2"], ["P-1", "P-2"]]
    assert aud.get("/oversight/rows/disclosures?status=bogus").status_code == 400
    assert aud.get("/oversight/rows/nothing").status_code == 404
    # the audit log, filtered
    _browser(web, "case1").get("/people/P-3")
    log = aud.get("/oversight/audit?actor=case1").text
    entries = log.split('id="audit"', 1)[1].split("</table>", 1)[0]
    assert "read a person&#39;s record" in entries and "P-3" in entries
    assert "signed in" in entries and "aud1" not in entries
    only = aud.get("/oversight/audit?action=person_read&person=P-3").text
    assert only.split('id="audit"', 1)[1].count("<tr>") == 2  # header and the one read
    bad = aud.get("/oversight/audit?since_day=31&since_month=2&since_year=2026")
    assert bad.status_code == 422 and 'href="#since-day"' in bad.text
    assert "The first day to show must be a real date" in bad.text
    today = dt.date.today()
    kept = aud.get(f"/oversight/audit?since_day={today.day}&since_month={today.month}"
                   f"&since_year={today.year}&actor=case1")  # fmt: skip
    assert kept.status_code == 200 and f'value="{today.year}"' in kept.text
    exported = aud.get("/oversight/audit.csv?actor=case1")
    assert next(csv.reader(io.StringIO(exported.text)))[:3] == ["When", "Who", "Role"]
    assert audit_entries(web.url, "aud1", "audit_log_read")
    assert 'href="/oversight/report.html" download' in page  # made on the demo in the browser


# --- the person ------------------------------------------------------------------------------


def test_the_persons_page_puts_the_report_first_and_shows_who_looked(
    web: WebState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_DPO_CONTACT", "dpo@home-office.example, PO Box 1")
    _browser(web, "case1").get("/people/P-1")
    _browser(web, "dvla1").get("/inbox")
    _browser(web, "aud1").get("/oversight/rows/disclosures")
    me = _browser(web, "subj1")
    page = me.get("/me").text
    assert page.index('<iframe class="letter"') < page.index('id="dispute"')
    log = page.split('id="access-log"', 1)[1].split("</table>", 1)[0]
    assert "A caseworker" in log and "opened your record" in log
    assert "dvla, which received your records" in log
    assert "An auditor" in log
    assert "case1" not in log and "dvla1" not in log  # roles, never staff names
    assert "hmrc" not in log  # hmrc read nothing about P-1
    assert "dpo@home-office.example, PO Box 1" in page
    assert "within one month" in page
    download = me.get("/me/report.json")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    report = json.loads(download.content)
    assert report["disclosures"] and all(d["proof"] for d in report["disclosures"])


# --- plain words -----------------------------------------------------------------------------


class _Text(HTMLParser):
    """The text a person sees: no tags, no attributes, nothing in scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


# Every code a staff screen could show: reason codes, review kinds, event types, statuses.
CODES = sorted(
    {
        c
        for c in (
            *explain.REASONS, *words.REASONS, *words.KINDS, *words.EVENT_TYPES,
            *words.REMEDY, *words.POOL_STATUS, *words.AUDIT_ACTIONS,
        )
        if "_" in c
    }
)  # fmt: skip
FOUND_CODE = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, CODES)) + r")(?![\w-])")


def test_no_staff_page_shows_a_python_list_a_raw_float_or_a_code(web: WebState) -> None:
    _add_rival(web)
    with db.connect(web.url) as conn:  # what runs leave behind: codes and raw floats
        conn.execute(
            update(ReviewItem)
            .where(ReviewItem.item_id == "RV-UM-2")
            .values(detail={"reasons": ["uncertain_match", "uncorroborated_match"],
                            "match_probability": 0.9999999937679713})
        )  # fmt: skip
        conn.execute(update(Match).values(match_probability=0.9999999937679713))
        conn.execute(update(PoolEntry).values(reasons=["adverse_decision", "protected_cohort"]))
        recall_people(conn, ["P-2"], "decision_overturned", "test")
    api = TestClient(create_app(web.url, secret=SECRET))
    api.post(
        "/api/v1/events",
        headers=web.bearer("case1"),
        json={"events": [{"event_id": "EV-S1", "person_id": "P-2",
                          "event_type": "evidence_received", "event_date": "2026-01-21",
                          "detail": "a letter"}]},
    )  # fmt: skip
    pages = {
        "rev1": ["/review", "/review?show=all", "/review/RV-MC-4", "/review/RV-UM-2",
                 "/review/RV-AM-5", "/review/EV-EV-S1", "/people/P-2"],
        "case1": ["/people", "/people/P-1", "/people/P-2", "/people/P-5"],
        "dvla1": ["/inbox"],
        "aud1": ["/oversight", "/oversight/rows/disclosures", "/oversight/rows/recalls",
                 "/oversight/rows/review", "/oversight/rows/frozen", "/oversight/rows/pool",
                 "/oversight/audit"],
        "adm1": ["/admin"],
        "subj1": ["/me"],
    }  # fmt: skip
    seen = 0
    for user, paths in pages.items():
        browser = _browser(web, user)
        for path in paths:
            answer = browser.get(path)
            assert answer.status_code == 200, (user, path)
            text = visible(answer.text)
            assert "['" not in text, (user, path)
            assert "0.99999" not in text, (user, path)
            found = FOUND_CODE.findall(text)
            assert not found, (user, path, found)
            seen += 1
    assert seen == 21
    assert FOUND_CODE.findall("held: uncertain_match") == ["uncertain_match"]  # the scan works


def test_an_admin_form_with_no_reason_says_so_beside_the_field(web: WebState) -> None:
    adm = _browser(web, "adm1")
    page = adm.get("/admin").text
    refused = adm.post(
        "/admin/agreements/ho-to-dvla/pause",
        data={"reason": " ", "cohort": "over-70s", "csrf": csrf_of(page)},
    )
    assert refused.status_code == 422
    assert 'href="#reason-ho-to-dvla"' in refused.text  # the summary links to the field
    assert 'id="reason-ho-to-dvla-error"' in refused.text and 'value="over-70s"' in refused.text
    labels = re.findall(r'<label for="([^"]+)"', refused.text)
    assert "reason-ho-to-dvla" in labels and "cohort-ho-to-hmrc" in labels
    assert refused.text.count("<h1") == 1
