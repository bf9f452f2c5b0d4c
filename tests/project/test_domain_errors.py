"""Use cases raise domain errors; the command line, the pages and the API map them (issue 20).

A use case names an invalid value by its field in the domain's words ("reason must say
why"), never by a command-line option.  The command line shows the field as its option
(``--reason``), as it always has; a page shows it against the form's field in the page's
words; the API answers 422 with the field in ``loc``.  Something missing is a 404 and a
refusal in the present state a 409 on the web.  The last tests read the source: no
``raise`` outside ``accord/cli/`` words a message as a command-line option.
"""

from __future__ import annotations

import ast
import html
import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_support import SECRET, WebState, csrf_of, login

from accord.cli import common, main
from accord.errors import AccordError, Conflict, InvalidInput, NotFound
from accord.store import db
from accord.store.models import ReviewDecision
from accord.web import create_app

SRC = Path(__file__).resolve().parents[2] / "src"
NO_REASON = "must say why: it is shown to the person concerned"


def _decisions(url: str) -> int:
    with db.connect(url) as conn:
        return int(conn.scalar(select(func.count()).select_from(ReviewDecision)) or 0)


def _messages(page: str) -> list[str]:
    """What a page says is wrong: its error summary's lines and its fields' errors."""
    summary = re.findall(r'<div class="error-summary".*?</div>', page, re.S)
    lines = [li for s in summary for li in re.findall(r"<li>(.*?)</li>", s, re.S)]
    fields = re.findall(r'<p class="error-message"[^>]*>(.*?)</p>', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in lines + fields]


# --- the errors themselves -------------------------------------------------------------


def test_an_invalid_value_is_named_by_its_field_and_each_caller_names_it_its_own_way() -> None:
    exc = InvalidInput("expires_days", "must be at least 1")
    assert isinstance(exc, AccordError) and exc.exit_code == 2
    assert (exc.field, exc.problem) == ("expires_days", "must be at least 1")
    assert str(exc) == "expires days must be at least 1"
    assert exc.naming("The expiry") == "The expiry must be at least 1"
    assert common.message(exc) == "--expires-days must be at least 1"
    # a field the command line carries under another option's name
    assert common.message(InvalidInput("applied_by", "must not be empty")) == (
        "--by must not be empty"
    )
    assert common.message(NotFound("no review item 'X'")) == "no review item 'X'"
    # a problem that names its field mid-sentence
    pause = InvalidInput("reason", "a pause needs a reason ({field})")
    assert common.message(pause) == "a pause needs a reason (--reason)"
    assert str(pause) == "a pause needs a reason (reason)"
    # survives a worker process (pickled with its field, not its message)
    again = pickle.loads(pickle.dumps(exc))
    assert (type(again), again.field, again.problem) == (InvalidInput, exc.field, exc.problem)


# --- the command line: the option, as today ---------------------------------------------


def test_the_command_line_names_the_option_for_an_invalid_value(
    web: WebState, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # ``web`` loads ho-to-dvla into ``db_url``: an unknown agreement is refused first
    assert main(["agreements", "pause", "ho-to-dvla", "--reason", " ", "--database", db_url]) == 2
    assert capsys.readouterr().err == "accord: a pause needs a reason (--reason)\n"
    assert main(["agreements", "pause", "nope", "--reason", " ", "--database", db_url]) == 2
    assert capsys.readouterr().err == "accord: no agreement 'nope'\n"
    args = ["exemption", "apply", "P-1", "--item", "case:C-1", "--exemption", "x",
            "--justification", "y", "--database", db_url]  # fmt: skip
    assert main([*args, "--by", "  "]) == 2
    assert capsys.readouterr().err == (
        "accord: --by must not be empty: name the person applying it\n"
    )
    assert main([*args[:3], "--item", "case", *args[5:], "--by", "z"]) == 2
    assert capsys.readouterr().err.startswith("accord: --item 'case' is not KIND:REF with KIND")


# --- the pages: the form's field, in the page's words -----------------------------------


def test_a_reviewer_deciding_without_a_reason_is_told_so_against_the_field_not_an_option(
    web: WebState,
) -> None:
    browser = TestClient(create_app(web.url, secret=SECRET), follow_redirects=False)
    login(browser, "rev1")
    item = web.items["uncertain_match"]
    csrf = csrf_of(browser.get(f"/review/{item}").text)
    blank = browser.post(
        f"/review/{item}/decide", data={"decision": "approve", "reason": "  ", "csrf": csrf}
    )
    assert blank.status_code == 422
    said = _messages(blank.text)
    # in the summary at the top, and at the field (with "Error:" for screen readers)
    assert said == [f"The reason {NO_REASON}", f"Error: The reason {NO_REASON}"]
    assert 'href="#reason"' in blank.text and 'id="reason-error"' in blank.text
    assert not any("--" in s for s in said)
    assert _decisions(web.url) == 0


# --- the API: 422 naming the field, 404, 409 ---------------------------------------------


def test_the_api_names_the_field_of_an_invalid_value_and_maps_each_kind_to_its_status(
    web: WebState,
) -> None:
    api = TestClient(create_app(web.url, secret=SECRET))
    rev1, rev2 = web.bearer("rev1"), web.bearer("rev2")
    item = web.items["uncertain_match"]
    decisions = f"/api/v1/review/items/{item}/decisions"

    blank = api.post(decisions, json={"approve": True, "reason": " "}, headers=rev1)
    assert blank.status_code == 422
    assert blank.json() == {
        "detail": [{"loc": ["body", "reason"], "msg": f"reason {NO_REASON}", "type": "value_error"}]
    }
    assert "--" not in blank.text

    missing = api.post(
        "/api/v1/review/items/RV-NOSUCH/decisions", json={"approve": True, "reason": "r"},
        headers=rev1,
    )  # fmt: skip
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no review item 'RV-NOSUCH'"}

    first = api.post(decisions, json={"approve": True, "reason": "same person"}, headers=rev1)
    assert first.status_code == 200 and first.json()["status"] == "open"
    twice = api.post(decisions, json={"approve": True, "reason": "again"}, headers=rev1)
    assert twice.status_code == 409 and "four eyes need a different reviewer" in twice.text
    assert (
        api.post(decisions, json={"approve": False, "reason": "no"}, headers=rev2).json()["status"]
        == "rejected"
    )
    settled = api.post(decisions, json={"approve": True, "reason": "late"}, headers=rev2)
    assert settled.status_code == 409 and "is already rejected" in settled.text
    assert _decisions(web.url) == 2

    paused = api.post(
        "/api/v1/agreements/ho-to-dvla/pause", json={"reason": "  "}, headers=web.bearer("adm1")
    )
    assert paused.status_code == 422 and paused.json()["detail"][0]["loc"] == ["body", "reason"]
    assert "--" not in paused.text

    proposal = "/api/v1/proposals/PR-NOSUCH/decisions"
    no_why = api.post(proposal, json={"approve": True, "reason": ""}, headers=rev1)
    assert no_why.status_code == 422
    assert no_why.json()["detail"][0]["loc"] == ["body", "reason"]
    assert "--" not in no_why.text
    unknown = api.post(proposal, json={"approve": True, "reason": "r"}, headers=rev1)
    assert unknown.status_code == 404 and unknown.json() == {"detail": "no proposal 'PR-NOSUCH'"}


def test_kinds_of_domain_error_are_distinct() -> None:
    assert not issubclass(NotFound, Conflict) and not issubclass(Conflict, NotFound)
    assert all(issubclass(k, AccordError) for k in (InvalidInput, NotFound, Conflict))


# --- the source: no option in a use case's message ---------------------------------------


def options_in_raises(root: Path) -> Iterator[str]:
    """``file:line: text`` for each string in a ``raise`` outside ``accord/cli/`` that opens
    with ``--``: a message worded as a command-line option, which then reaches web users
    too.  F-strings count by their literal parts (``f"--item {text!r}"``)."""
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("accord/cli/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            for part in ast.walk(node.exc):
                if (
                    isinstance(part, ast.Constant)
                    and isinstance(part.value, str)
                    and part.value.lstrip().startswith("--")
                ):
                    yield f"{relative}:{part.lineno}: {part.value!r}"


def test_no_use_case_words_an_error_as_a_command_line_option() -> None:
    found = list(options_in_raises(SRC))
    assert found == [], "raise the field (accord.errors.InvalidInput), not the option:\n" + (
        "\n".join(found)
    )


def test_the_option_check_finds_a_planted_option_and_spares_the_command_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "accord" / "cli").mkdir(parents=True)
    (tmp_path / "accord" / "review.py").write_text(
        "def decide(reason, item):\n"
        "    if not reason:\n"
        "        raise AccordError('--reason must say why')\n"
        "    if not item:\n"
        "        raise AccordError(f'--item {item!r}: no such item')\n"
        "    raise InvalidInput('reason', 'must say why')\n",
        encoding="utf-8",
    )
    (tmp_path / "accord" / "cli" / "review.py").write_text(
        "raise typer.BadParameter('--reason is needed')\n", encoding="utf-8"
    )
    assert list(options_in_raises(tmp_path)) == [
        "accord/review.py:3: '--reason must say why'",
        "accord/review.py:5: '--item '",
    ]
