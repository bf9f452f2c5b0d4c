"""Decisions on one review item made at the same moment: exactly one wins, the other gets 409.

The requests go to a real server (uvicorn on a thread) from threads of their own, so they
reach the database in parallel on SQLite and PostgreSQL.  Between a decision's reads and
its first write the test waits a moment, so both decisions have read the item before
either writes: without a lock taken before the reads, both would be accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from reviewers import as_reviewer
from sqlalchemy import func, insert, select, update
from web_support import PASSWORD, WebState

from accord import identity
from accord.store import db
from accord.store.models import AgreementVersion, Disclosure, PoolEntry, ReviewDecision, ReviewItem


@pytest.fixture
def agreements_in_force(web: WebState) -> None:
    """Give the web state's agreements what an approved match needs to be disclosed."""
    terms = {
        "valid_from": "2025-01-01",
        "review_by": "2030-01-01",
        "match": {"disclose_at": 0.999, "review_from": 0.9, "ambiguity_margin": 0.05},
        "review": {"four_eyes": True},
    }
    with db.connect(web.url) as conn:
        for agreement_id, document in conn.execute(
            select(AgreementVersion.agreement_id, AgreementVersion.document)
        ).all():
            conn.execute(
                update(AgreementVersion)
                .where(AgreementVersion.agreement_id == agreement_id)
                .values(document=document | terms)
            )


@pytest.fixture
def third_reviewer(web: WebState) -> str:
    identity.add_user(web.url, "rev3", "reviewer", password=PASSWORD)
    web.tokens["rev3"] = identity.issue_token(web.url, "rev3", "tests")
    return "rev3"


def _widen_the_race(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pause each decision between reading the item and its first write."""

    def slow_insert(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.4)
        return insert(*args, **kwargs)

    monkeypatch.setattr("accord.review.insert", slow_insert)


def _at_once(base: str, web: WebState, item: str, calls: list[tuple[str, bool]]) -> list[Any]:
    """POST each (reviewer, approve) decision on ``item`` from its own thread, together."""
    barrier = threading.Barrier(len(calls))

    def send(call: tuple[str, bool]) -> httpx.Response:
        user, approve = call
        with httpx.Client(base_url=base, timeout=60) as http:
            barrier.wait()
            return http.post(
                f"/api/v1/review/items/{item}/decisions",
                json={"approve": approve, "reason": f"{user} decides"},
                headers=web.bearer(user),
            )

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def _decide(base: str, web: WebState, item: str, user: str, approve: bool) -> dict[str, Any]:
    done = httpx.post(
        f"{base}/api/v1/review/items/{item}/decisions",
        json={"approve": approve, "reason": "first look"},
        headers=web.bearer(user),
        timeout=60,
    )
    assert done.status_code == 200, done.text
    return done.json()  # type: ignore[no-any-return]


def _one_wins(responses: list[Any]) -> dict[str, Any]:
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [(r.status_code, r.text) for r in responses]
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    (loser,) = [r.json() for r in responses if r.status_code == 409]
    assert "already" in loser["detail"]
    return winner  # type: ignore[no-any-return]


def _item(url: str, item_id: str) -> tuple[str, int]:
    with db.connect(url) as conn:
        status = conn.scalar(select(ReviewItem.status).where(ReviewItem.item_id == item_id))
        decisions = conn.scalar(
            select(func.count())
            .select_from(ReviewDecision)
            .where(ReviewDecision.item_id == item_id)
        )
    assert status is not None
    return status, int(decisions or 0)


def test_an_approval_and_a_rejection_at_once_one_wins_and_a_rejection_discloses_nothing(
    server: str,
    web: WebState,
    agreements_in_force: None,
    third_reviewer: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = web.items["uncertain_match"]  # four eyes: two approvals disclose P-2's DVLA-902
    assert _decide(server, web, item, "rev1", True)["status"] == "open"
    _widen_the_race(monkeypatch)
    winner = _one_wins(_at_once(server, web, item, [("rev2", True), (third_reviewer, False)]))
    status, decisions = _item(web.url, item)
    assert status == winner["status"] and decisions == 2  # the loser's decision is not kept
    with db.connect(web.url) as conn:
        disclosed = conn.scalar(
            select(func.count())
            .select_from(Disclosure)
            .where(Disclosure.record_id == "DVLA-902", Disclosure.status == "active")
        )
    if status == "rejected":
        assert disclosed == 0
    else:
        assert status == "approved" and winner["effect"].startswith("disclosed as D-")
        assert disclosed == 1


@pytest.mark.parametrize("first", ["approve", "reject"])
def test_two_last_decisions_at_once_act_once(
    server: str,
    web: WebState,
    third_reviewer: str,
    monkeypatch: pytest.MonkeyPatch,
    first: str,
) -> None:
    """Two reviewers giving the last approval (or a rejection and an approval) together on
    a manual check: the item is settled once, by one of them."""
    item = web.items["manual_check"]
    assert _decide(server, web, item, "rev1", True)["status"] == "open"
    _widen_the_race(monkeypatch)
    calls = [("rev2", first == "approve"), (third_reviewer, True)]
    winner = _one_wins(_at_once(server, web, item, calls))
    status, decisions = _item(web.url, item)
    assert status == winner["status"] and decisions == 2
    with db.connect(web.url) as conn:
        pool = conn.scalar(select(PoolEntry.status).where(PoolEntry.person_id == "P-4"))
    assert pool == ("admitted" if status == "approved" else "excluded")


def test_the_command_line_refuses_a_decision_on_a_settled_item_in_one_line(
    web: WebState, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from accord.cli import main

    item = web.items["manual_check"]
    args: Callable[[str], list[str]] = lambda who: [  # noqa: E731
        "review", "decide", item, "--reject", *as_reviewer(web.url, who, tmp_path),
        "--reason", "no",
        "--database", web.url,
    ]  # fmt: skip
    assert main(args("rev1")) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(args("rev2")) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"accord: review item {item} is already rejected"
