"""Four eyes bind to authenticated users (issue 22): a decision on the command line needs a
user token, the reviewer is the token's user, and the same user cannot give both approvals,
whether on the web, on the command line, or one on each."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_support import SECRET, WebState, csrf_of, login

from accord import identity
from accord.cli import main
from accord.store import db
from accord.store.models import ReviewDecision, ReviewItem
from accord.web import create_app


def _token_file(folder: Path, url: str, user: str) -> Path:
    path = folder / f"{user}.token"
    path.write_text(identity.issue_token(url, user, "cli") + "\n")
    return path


def _decide(url: str, item: str, *who: str) -> list[str]:
    return ["review", "decide", item, "--approve", "--reason", "checked", *who, "--database", url]


def _decisions(url: str, item: str) -> list[tuple[str, str]]:
    with db.connect(url) as conn:
        return [
            (r.reviewer, r.decision)
            for r in conn.execute(
                select(ReviewDecision.reviewer, ReviewDecision.decision)
                .where(ReviewDecision.item_id == item)
                .order_by(ReviewDecision.id)
            )
        ]


def _status(url: str, item: str) -> str:
    with db.connect(url) as conn:
        return str(conn.scalar(select(ReviewItem.status).where(ReviewItem.item_id == item)))


def test_the_command_line_takes_the_reviewer_from_a_token_and_refuses_the_same_user_twice(
    web: WebState,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = web.items["manual_check"]  # needs two approvals
    rev1 = _token_file(tmp_path, web.url, "rev1")
    assert main(_decide(web.url, item, "--token-file", str(rev1))) == 0
    assert "1 of 2 approvals" in capsys.readouterr().out
    # The same user again, by file or by ACCORD_USER_TOKEN: one line, exit 2, nothing written.
    assert main(_decide(web.url, item, "--token-file", str(rev1))) == 2
    said = capsys.readouterr().err.strip().splitlines()
    assert said == [
        f"accord: rev1 has already decided review item {item}: four eyes need a different reviewer"
    ]
    monkeypatch.setenv("ACCORD_USER_TOKEN", rev1.read_text().strip())
    assert main(_decide(web.url, item)) == 2
    assert "rev1 has already decided" in capsys.readouterr().err
    assert _decisions(web.url, item) == [("rev1", "approve")] and _status(web.url, item) == "open"
    # Another authenticated reviewer completes it.
    monkeypatch.setenv("ACCORD_USER_TOKEN", identity.issue_token(web.url, "rev2", "cli"))
    assert main(_decide(web.url, item)) == 0
    assert "approved (2 of 2 approvals)" in capsys.readouterr().out
    assert _decisions(web.url, item) == [("rev1", "approve"), ("rev2", "approve")]


def test_a_command_line_decision_without_a_usable_token_is_refused_in_one_line(
    web: WebState,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACCORD_USER_TOKEN", raising=False)
    item = web.items["uncertain_match"]
    blank = tmp_path / "blank.token"
    blank.write_text("\n")
    revoked = _token_file(tmp_path, web.url, "rev2")
    identity.revoke_tokens(web.url, "rev2")
    cases = {
        (): "accord review decide needs your user token: --token-file FILE or ACCORD_USER_TOKEN",
        ("--token-file", str(tmp_path / "absent")): f"--token-file {tmp_path / 'absent'}: "
        "no such file",
        ("--token-file", str(blank)): "the file holds no token",
        ("--token-file", str(revoked)): "the user token is not valid",
        ("--token-file", str(_token_file(tmp_path, web.url, "aud1"))): "user aud1 is auditor: "
        "deciding review items needs reviewer",
    }
    for args, expected in cases.items():
        assert main(_decide(web.url, item, *args)) == 2, args
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, lines)
    # A typed name is no longer a way to decide.
    assert main(_decide(web.url, item, "--reviewer", "rev1")) == 2
    capsys.readouterr()
    assert _decisions(web.url, item) == [] and _status(web.url, item) == "open"


def test_one_user_cannot_give_both_approvals_across_the_web_and_the_command_line(
    web: WebState,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    item = web.items["manual_check"]
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "rev1")
    page = browser.get(f"/review/{item}")
    done = browser.post(
        f"/review/{item}/decide",
        data={"decision": "approve", "reason": "checked", "csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303
    # The web refuses the second approval by the same signed-in user with a plain page...
    again = browser.post(
        f"/review/{item}/decide",
        data={"decision": "approve", "reason": "checked", "csrf": csrf_of(page.text)},
    )
    assert again.status_code == 409 and "four eyes need a different reviewer" in again.text
    assert "Traceback" not in again.text
    # ...and the command line refuses it from rev1's token too.
    rev1 = _token_file(tmp_path, web.url, "rev1")
    assert main(_decide(web.url, item, "--token-file", str(rev1))) == 2
    assert "rev1 has already decided" in capsys.readouterr().err
    assert _decisions(web.url, item) == [("rev1", "approve")] and _status(web.url, item) == "open"
