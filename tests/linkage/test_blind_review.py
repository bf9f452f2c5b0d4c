"""Blind review: under `review: blind: true` a reviewer sees both records and what agrees
and differs, never the score, until they have decided the item; then everything.

The same rule for the function the screens call (`accord.blind.for_reviewer`), the JSON
API's item read and `accord review show`.  And the API's proposal decisions: one
approval per authenticated user.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reviewers import as_reviewer
from sqlalchemy import insert, select, update
from web_support import WebState

from accord import blind
from accord.cli import main
from accord.policy.agreement import parse_agreement
from accord.policy.registry import store_agreements
from accord.store import db
from accord.store.models import (
    AgreementVersion,
    Match,
    Proposal,
    ReviewDecision,
    ReviewItem,
)
from accord.web import readmodels

ITEM = "RV-UM-2"
CHANCE = 0.9512345  # the match's probability: appears nowhere else
WRONG = 0.0487655
SENTENCE = "Chance that the record is someone else's: about 1 in 21."
SCORES = (str(CHANCE), str(WRONG), "match_weight", SENTENCE)
# The fixture's explanation weights (tests/web_support.py), as numbers standing
# alone: a bare "6.1" would also be found inside a time such as 21:26:16.123.
WEIGHTS = re.compile(r"(?<![\d.])(6\.1|-3\.4)(?![\d])")


def review_blind(url: str, on: bool = True) -> None:
    """ho-to-dvla's version in force reviews blind (or not); its match has a full score."""
    with db.connect(url) as conn:
        doc = conn.scalar(
            select(AgreementVersion.document).where(AgreementVersion.agreement_id == "ho-to-dvla")
        )
        conn.execute(
            update(AgreementVersion)
            .where(AgreementVersion.agreement_id == "ho-to-dvla")
            .values(document={**doc, "review": {"four_eyes": True, "blind": on}})
        )
        match_id = conn.scalar(select(ReviewItem.match_id).where(ReviewItem.item_id == ITEM))
        conn.execute(
            update(Match)
            .where(Match.id == match_id)
            .values(
                match_probability=CHANCE,
                evidence={"wrong_person": WRONG, "pattern": "family_name=close"},
            )
        )
        conn.execute(
            update(ReviewItem)
            .where(ReviewItem.item_id == ITEM)
            .values(
                detail={
                    "reasons": ["uncertain_match"],
                    "match_probability": CHANCE,
                    "evidence": ["Date of birth agrees exactly.", SENTENCE],
                }
            )
        )


def seen_by(url: str, reviewer: str) -> dict[str, Any]:
    with db.connect(url) as conn:
        detail = readmodels.review_item(conn, ITEM, reviewer)
        assert detail is not None
        return blind.for_reviewer(conn, detail, reviewer)


def shows_a_score(view: Any) -> bool:
    text = json.dumps(view, default=str)
    return any(s in text for s in SCORES) or WEIGHTS.search(text) is not None


def test_the_score_is_withheld_until_the_reviewer_has_decided(web: WebState) -> None:
    review_blind(web.url)
    with db.connect(web.url) as conn:
        assert blind.blind_agreements(conn) == {"ho-to-dvla"}
        assert blind.blind_items(conn, [ITEM, "RV-MC-4"], "rev1") == {ITEM}
    view = seen_by(web.url, "rev1")
    assert view["blind"] and view["scores_withheld"] and not shows_a_score(view)
    # Both records and what agrees and differs stay, in words.
    assert view["match"]["record"]["family_name"] == "Nguyen"
    assert view["person"]["family_name"] == "Nguyễn"
    assert [(c["name"], c["level"]) for c in view["compared"]] == [
        ("family_name", "close"), ("given_names", "else"), ("date_of_birth", "exact"),
    ]  # fmt: skip
    assert view["item"]["detail"]["reasons"] == ["uncertain_match"]
    # Once rev1 has decided (an approval, four eyes: the item stays open), rev1 sees it all;
    # rev2 has not decided, so rev2 still does not.
    with db.connect(web.url) as conn:
        conn.execute(
            ReviewDecision.__table__.insert().values(  # type: ignore[attr-defined]
                item_id=ITEM, reviewer="rev1", decision="approve", reason="same person"
            )
        )
    after = seen_by(web.url, "rev1")
    assert not after["scores_withheld"] and shows_a_score(after)
    assert after["match"]["match_probability"] == pytest.approx(CHANCE)
    assert not shows_a_score(seen_by(web.url, "rev2"))
    # An agreement that does not review blind shows everything to everyone.
    review_blind(web.url, on=False)
    plain = seen_by(web.url, "rev2")
    assert not plain["blind"] and not plain["scores_withheld"] and shows_a_score(plain)


def test_the_api_item_read_withholds_the_score_until_the_reviewer_decides(
    client: TestClient, web: WebState
) -> None:
    review_blind(web.url)
    before = client.get(f"/api/v1/review/items/{ITEM}", headers=web.bearer("rev2"))
    assert before.status_code == 200
    assert before.json()["scores_withheld"] and not shows_a_score(before.json())
    assert before.json()["compared"]
    decided = client.post(
        f"/api/v1/review/items/{ITEM}/decisions",
        json={"approve": False, "reason": "not the same person"},
        headers=web.bearer("rev2"),
    )
    assert decided.status_code == 200, decided.text
    after = client.get(f"/api/v1/review/items/{ITEM}", headers=web.bearer("rev2"))
    assert not after.json()["scores_withheld"] and shows_a_score(after.json())


def test_review_show_withholds_the_score_until_the_reviewer_decides(
    web: WebState, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    review_blind(web.url)
    rev1 = as_reviewer(web.url, "rev1", tmp_path)
    assert main(["review", "show", ITEM, *rev1, "--database", web.url]) == 0
    shown = capsys.readouterr().out
    assert "withheld until you have decided" in shown and "match probability" not in shown
    assert "Nguyen" in shown and "Family name: close" in shown
    assert main(["review", "decide", ITEM, "--reject", *as_reviewer(web.url, "rev1", tmp_path),
                 "--reason", "different people", "--database", web.url]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["review", "show", ITEM, *rev1, "--database", web.url]) == 0
    shown = capsys.readouterr().out
    assert f"match probability: {CHANCE:.6f}" in shown and SENTENCE in shown
    # Without a token the reader has decided nothing: a blind item's score stays hidden,
    # and a typed name cannot stand in for the reviewer who decided.
    assert main(["review", "show", ITEM, "--database", web.url]) == 0
    assert "withheld until you have decided" in capsys.readouterr().out
    assert main(["review", "show", ITEM, "--reviewer", "rev1", "--database", web.url]) == 2
    assert main(["review", "show", "RV-nope", "--database", web.url]) == 2


def test_a_proposal_needs_two_different_users_on_the_api(client: TestClient, web: WebState) -> None:
    """Proposals are decided on the API by reviewers or admins, one approval per user."""
    document = {
        "id": "ho-to-dvla", "title": "Driving licences", "source": "home-office",
        "recipient": "dvla", "purpose": "immigration_enforcement", "legal_basis": "RTA s.97",
        "data_categories": ["immigration_casework"], "fields": ["family_name"],
        "status": "active", "valid_from": "2026-01-01", "review_by": "2027-01-01",
        "match": {"disclose_at": 0.99, "review_from": 0.5},
    }  # fmt: skip
    with db.connect(web.url) as conn:
        version = store_agreements(conn, [parse_agreement(document)], "test")["ho-to-dvla"]
        conn.execute(
            insert(Proposal).values(
                proposal_id="P-api", kind="trusted_pattern", register="dvla",
                agreement_id="ho-to-dvla", pattern="family_name=exact", based_on_version=version,
                labels=400, wrong=0, wrong_upper_per_10000=95.0, automatic_gain=2, detail={},
                status="open", approvals_needed=2, proposed_by="analyst",
            )
        )  # fmt: skip
    listed = client.get("/api/v1/proposals", headers=web.bearer("rev1"))
    assert listed.status_code == 200
    assert [(p["proposal_id"], p["register"]) for p in listed.json()] == [("P-api", "dvla")]
    body = {"approve": True, "reason": "the labels support it"}
    first = client.post("/api/v1/proposals/P-api/decisions", json=body, headers=web.bearer("rev1"))
    assert first.status_code == 200 and first.json()["status"] == "open"
    again = client.post("/api/v1/proposals/P-api/decisions", json=body, headers=web.bearer("rev1"))
    assert again.status_code == 409 and "two different people" in again.text
    assert client.post("/api/v1/proposals/P-nope/decisions", json=body,
                       headers=web.bearer("rev1")).status_code == 404  # fmt: skip
    second = client.post("/api/v1/proposals/P-api/decisions", json=body, headers=web.bearer("adm1"))
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "approved"
    done = client.get("/api/v1/proposals?status=approved", headers=web.bearer("adm1")).json()
    assert done[0]["approved_by"] == "rev1, adm1" and done[0]["result_version"] == version + 1
    assert main(["verify", "--database", web.url, "--key", str(web.key_path)]) == 0
