"""The JSON API's behaviour: pagination, acknowledgement, events, review, errors, audit."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from web_support import WebState, audit_entries, submit_events

from accord import identity
from accord.store import db
from accord.store.models import ApiToken, Disclosure, Freeze, PoolEntry, Recall, ReviewItem


def test_batches_page_by_keyset_and_filter(client: TestClient, web: WebState) -> None:
    h = web.bearer("dvla1")
    first = client.get("/api/v1/batches?limit=1", headers=h).json()
    assert len(first["items"]) == 1 and first["next_after"] == first["items"][0]["disclosure_id"]
    second = client.get(f"/api/v1/batches?limit=1&after={first['next_after']}", headers=h).json()
    assert len(second["items"]) == 1 and second["next_after"] is None
    seen = [first["items"][0]["disclosure_id"], second["items"][0]["disclosure_id"]]
    assert sorted(seen) == seen  # disclosure-id order
    assert set(seen) == {web.disclosure_of["P-1"], web.disclosure_of["P-2"]}
    assert client.get("/api/v1/batches?run=RUN-1", headers=h).json()["items"]
    assert client.get("/api/v1/batches?run=RUN-9", headers=h).json()["items"] == []
    # every read of a disclosure is audited against the person it is about
    # one entry per read, naming every person whose data it showed
    reads = audit_entries(web.url, "dvla1", "disclosure_read")
    assert [e.detail["people"] for e in reads] == [["P-1"], ["P-2"], ["P-1", "P-2"]] or [
        e.detail["people"] for e in reads
    ] == [["P-2"], ["P-1"], ["P-1", "P-2"]]
    assert [e.person_id for e in reads][:2] == [
        p for (p,) in (e.detail["people"] for e in reads[:2])
    ]
    assert reads[2].person_id is None  # two people: found through detail.people
    assert set(reads[2].detail["refs"]) == set(seen)


def test_acknowledging_a_batch(client: TestClient, web: WebState) -> None:
    h = web.bearer("dvla1")
    d1 = web.disclosure_of["P-1"]
    done = client.post("/api/v1/batches/acknowledge", json={"disclosure_ids": [d1]}, headers=h)
    assert done.json() == {"acknowledged": 1, "already_acknowledged": 0}
    again = client.post("/api/v1/batches/acknowledge", json={"disclosure_ids": [d1]}, headers=h)
    assert again.json() == {"acknowledged": 0, "already_acknowledged": 1}
    left = client.get("/api/v1/batches?unacknowledged=true", headers=h).json()["items"]
    assert [i["disclosure_id"] for i in left] == [web.disclosure_of["P-2"]]
    with db.connect(web.url) as conn:
        when = conn.scalar(select(Disclosure.acknowledged_at).where(Disclosure.disclosure_id == d1))
    assert when is not None
    unknown = client.post(
        "/api/v1/batches/acknowledge", json={"disclosure_ids": ["D-nope"]}, headers=h
    )
    assert unknown.status_code == 404 and "D-nope" in unknown.json()["detail"]
    empty = client.post("/api/v1/batches/acknowledge", json={"disclosure_ids": []}, headers=h)
    assert empty.status_code == 422


def test_a_revocation_then_a_recall_makes_a_remedy_outstanding(
    client: TestClient, web: WebState
) -> None:
    h = web.bearer("dvla1")
    d1 = web.disclosure_of["P-1"]
    acted = client.post(
        "/api/v1/actions",
        json={"actions": [{"disclosure_id": d1, "action": "revoked", "action_date": "2026-01-03"}]},
        headers=h,
    )
    assert acted.status_code == 200, acted.text
    assert acted.json()["recorded"] == 1
    result = submit_events(
        client,
        web,
        {
            "event_id": "EV-1",
            "person_id": "P-1",
            "event_type": "decision_overturned",
            "event_date": "2026-01-10",
            "detail": "appeal allowed",
        },
    )
    assert result["applied"] == 1 and result["withdrawn"] == ["P-1"]
    (recall,) = result["recalls"]
    assert recall["disclosure_id"] == d1
    inbox = client.get("/api/v1/recalls", headers=h).json()["items"]
    assert [(r["disclosure_id"], r["remedy_status"]) for r in inbox] == [(d1, "outstanding")]
    assert client.get("/api/v1/batches", headers=h).json()["items"][0]["disclosure_id"] != d1
    ack = client.post(
        "/api/v1/recalls/acknowledge", json={"recall_ids": [recall["recall_id"]]}, headers=h
    )
    assert ack.json() == {"acknowledged": 1, "already_acknowledged": 0}
    reinstated = client.post(
        "/api/v1/actions",
        json={
            "actions": [{"disclosure_id": d1, "action": "reinstated", "action_date": "2026-01-12"}]
        },
        headers=h,
    )
    assert reinstated.json()["remedied"] == 1
    with db.connect(web.url) as conn:
        status = conn.scalar(select(Recall.remedy_status).where(Recall.disclosure_id == d1))
    assert status == "remedied"
    counts = client.get("/api/v1/oversight/counts", headers=web.bearer("aud1")).json()
    assert counts["recalls"] == {"total": 1, "outstanding": 0, "remedied": 1, "none_needed": 0}
    assert counts["disclosures"]["recalled"] == 1


def test_bad_records_are_422_naming_row_and_column(client: TestClient, web: WebState) -> None:
    h = web.bearer("dvla1")
    d1 = web.disclosure_of["P-1"]
    bad = client.post(
        "/api/v1/actions",
        json={
            "actions": [
                {"disclosure_id": d1, "action": "revoked", "action_date": "2026-01-03"},
                {"disclosure_id": d1, "action": "revoked", "action_date": "3 January"},
            ]
        },
        headers=h,
    )
    assert bad.status_code == 422
    (problem,) = bad.json()["detail"]
    assert problem["loc"] == ["body", "actions", 1, "action_date"]
    assert "row 2" in problem["msg"] and "action_date" in problem["msg"]
    unknown = client.post(
        "/api/v1/actions",
        json={"actions": [{"disclosure_id": "D-x", "action": "none", "action_date": "2026-01-03"}]},
        headers=h,
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "actions", 0, "disclosure_id"]
    wrong_type = client.post(
        "/api/v1/actions",
        json={"actions": [{"disclosure_id": d1, "action": "burned", "action_date": "2026-01-03"}]},
        headers=h,
    )
    assert wrong_type.status_code == 422
    person = client.post(
        "/api/v1/events",
        json={
            "events": [
                {
                    "event_id": "EV-9",
                    "person_id": "P-404",
                    "event_type": "evidence_received",
                    "event_date": "2026-01-05",
                }
            ]
        },
        headers=web.bearer("case1"),
    )
    assert person.status_code == 422
    assert person.json()["detail"][0]["loc"] == ["body", "events", 0, "person_id"]
    for body in ("not json", '{"events": "x"}', "[]"):
        broken = client.post(
            "/api/v1/events",
            content=body,
            headers={**web.bearer("case1"), "Content-Type": "application/json"},
        )
        assert 400 <= broken.status_code < 500
    with db.connect(web.url) as conn:
        assert conn.scalar(select(Freeze.id)) is None  # nothing was applied


def test_events_are_idempotent_and_freeze(client: TestClient, web: WebState) -> None:
    event = {
        "event_id": "EV-2",
        "person_id": "P-2",
        "event_type": "evidence_received",
        "event_date": "2026-01-05",
        "detail": "a letter",
    }
    first = submit_events(client, web, event)
    assert first["frozen"] == ["P-2"] and first["review_items"] == ["EV-EV-2"]
    again = submit_events(client, web, event)
    assert again["applied"] == 0 and again["already_applied"] == 1
    changed = client.post(
        "/api/v1/events",
        json={"events": [{**event, "event_type": "dispute_opened"}]},
        headers=web.bearer("case1"),
    )
    assert changed.status_code == 422 and "different content" in changed.text


def test_review_over_the_api_needs_four_eyes(client: TestClient, web: WebState) -> None:
    item = web.items["manual_check"]
    listed = client.get("/api/v1/review/items?kind=manual_check", headers=web.bearer("rev1"))
    assert [i["item_id"] for i in listed.json()["items"]] == [item]
    assert listed.json()["open_by_kind"] == {"manual_check": 1, "uncertain_match": 1}
    assert (
        client.get("/api/v1/review/items?kind=nope", headers=web.bearer("rev1")).status_code == 400
    )
    detail = client.get(
        f"/api/v1/review/items/{web.items['uncertain_match']}", headers=web.bearer("rev1")
    )
    body = detail.json()
    assert body["match"]["record"]["family_name"] == "Nguyen"
    assert [c["name"] for c in body["comparisons"]] == [
        "family_name",
        "given_names",
        "date_of_birth",
    ]
    assert body["comparisons"][1]["weight"] < 0

    url = f"/api/v1/review/items/{item}/decisions"
    one = client.post(url, json={"approve": True, "reason": "checked"}, headers=web.bearer("rev1"))
    assert one.json()["status"] == "open" and one.json()["approvals"] == 1
    twice = client.post(url, json={"approve": True, "reason": "again"}, headers=web.bearer("rev1"))
    assert twice.status_code == 409 and "four eyes" in twice.json()["detail"]
    two = client.post(url, json={"approve": True, "reason": "agree"}, headers=web.bearer("rev2"))
    assert two.json()["status"] == "approved"
    closed = client.post(url, json={"approve": False, "reason": "late"}, headers=web.bearer("rev2"))
    assert closed.status_code == 409
    with db.connect(web.url) as conn:
        assert (
            conn.scalar(select(PoolEntry.status).where(PoolEntry.person_id == "P-4")) == "admitted"
        )
    missing = client.post(
        "/api/v1/review/items/RV-NONE/decisions",
        json={"approve": True, "reason": "x"},
        headers=web.bearer("rev1"),
    )
    assert missing.status_code == 404
    blank = client.post(url, json={"approve": True, "reason": "   "}, headers=web.bearer("rev1"))
    assert blank.status_code == 422
    reads = audit_entries(web.url, "rev1", "review_queue_read")
    assert [e.detail["people"] for e in reads] == [["P-4"]]
    assert [e.person_id for e in reads] == ["P-4"]


def test_people_and_audit(client: TestClient, web: WebState) -> None:
    h = web.bearer("case1")
    person = client.get("/api/v1/people/P-1", headers=h).json()
    assert person["disclosures"][0]["disclosure_id"] == web.disclosure_of["P-1"]
    assert person["cases"][0]["case_id"] == "C-P-1"
    assert client.get("/api/v1/people/P-404", headers=h).status_code == 404
    assert [e.person_id for e in audit_entries(web.url, "case1", "person_read")] == ["P-1"]


def test_pausing_is_for_admins_through_the_pause_service(client: TestClient, web: WebState) -> None:
    h = web.bearer("adm1")
    url = "/api/v1/agreements/ho-to-dvla"
    assert client.post(f"{url}/pause", json={"reason": "inspection"}, headers=h).status_code == 200
    again = client.post(f"{url}/pause", json={"reason": "inspection"}, headers=h)
    assert again.status_code == 409 and "already paused" in again.json()["detail"]
    listed = client.get("/api/v1/agreements", headers=web.bearer("aud1")).json()
    assert [a["agreement_id"] for a in listed if a["pauses"]] == ["ho-to-dvla"]
    assert client.post(f"{url}/resume", json={"reason": "done"}, headers=h).status_code == 200
    assert client.post(f"{url}/resume", json={"reason": "done"}, headers=h).status_code == 409
    cohort = client.post(f"{url}/pause", json={"reason": "x", "cohort": "no_such"}, headers=h)
    assert cohort.status_code == 409 and "unknown cohort" in cohort.json()["detail"]
    for verb, reason in [("pause", "x"), ("resume", "x"), ("pause", " ")]:
        nowhere = client.post(f"/api/v1/agreements/nope/{verb}", json={"reason": reason}, headers=h)
        assert (nowhere.status_code, nowhere.json()) == (404, {"detail": "no agreement 'nope'"})
    assert [e.action for e in audit_entries(web.url, "adm1")] == [
        "agreement_paused",
        "agreement_resumed",
    ]


def test_subject_dispute_freezes_sharing(client: TestClient, web: WebState) -> None:
    filed = client.post(
        "/api/v1/me/disputes", json={"detail": "not me"}, headers=web.bearer("subj1")
    )
    assert filed.status_code == 201
    body = filed.json()
    assert body["sharing_frozen"] is True and len(body["review_items"]) == 1
    with db.connect(web.url) as conn:
        kind = conn.scalar(
            select(ReviewItem.kind).where(ReviewItem.item_id == body["review_items"][0])
        )
    assert kind == "dispute"
    report = client.get("/api/v1/me/report", headers=web.bearer("subj1")).json()
    assert report["challenge"]["sharing_frozen"] is True
    assert audit_entries(web.url, "subj1", "subject_access")
    blank = client.post("/api/v1/me/disputes", json={"detail": " "}, headers=web.bearer("subj1"))
    assert blank.status_code == 422


def test_tokens_stop_working_when_revoked_expired_or_the_user_is_disabled(
    client: TestClient, web: WebState
) -> None:
    assert client.get("/api/v1/whoami", headers=web.bearer("dvla1")).json()["recipient"] == "dvla"
    identity.revoke_tokens(web.url, "dvla1")
    assert client.get("/api/v1/whoami", headers=web.bearer("dvla1")).status_code == 401
    with db.connect(web.url) as conn:
        conn.execute(
            update(ApiToken)
            .where(ApiToken.username == "hmrc1")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert client.get("/api/v1/whoami", headers=web.bearer("hmrc1")).status_code == 401
    identity.disable_user(web.url, "rev1")
    assert client.get("/api/v1/whoami", headers=web.bearer("rev1")).status_code == 401
    assert client.get("/api/v1/whoami", headers=web.bearer("rev2")).status_code == 200
    basic = client.get("/api/v1/whoami", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
