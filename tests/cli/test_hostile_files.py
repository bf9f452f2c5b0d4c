"""Hostile files (issue 23, items 10-12): each is refused in one line with exit status 2 and
nothing written, or read correctly; never a crash, a hang or rows silently lost.

The property test over generated hostile files is in ``test_hostile_files_property.py``.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_support import SECRET, WebState

from accord import formats
from accord.cli import main
from accord.errors import InputError
from accord.store import db
from accord.store.models import CaseDecision, Event, RecipientAction
from accord.web import create_app

EVENTS_HEADER = "event_id,person_id,event_type,event_date,detail"
EVENT = "E1,P1,evidence_received,2026-01-02,letter"
CASES_HEADER = (
    "case_id,person_id,family_name,given_names,date_of_birth,nationality,postcode,"
    "decision,decision_date,refusal_reason,appeal_status,leave,leave_expiry,arrival_date,"
    "departure_date,data_category"
)
CASE = "C{i},P{i},Doe,Jo,1980-01-0{d},GBR,SW1A 1AA,refusal,2024-01-01,eligibility,none,none,,,,"
SCORES_HEADER = "score_id,person_id,kind,value,role,computed_at,explanation"
AGREEMENT = """\
id: ho-to-dvla
title: Driving licences
source: home-office
recipient: dvla
purpose: immigration_enforcement
legal_basis: Immigration Act 2014, s.46
data_categories: [immigration_casework]
fields: [family_name, given_names, date_of_birth]
status: active
valid_from: {valid_from}
review_by: 2027-01-01
match: {{disclose_at: 0.999, review_from: 0.9, ambiguity_margin: 0.05}}
"""


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def quoted(text: str) -> str:
    """A CSV field holding ``text``."""
    return '"' + text.replace('"', '""') + '"'


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """stderr held exactly one line, no traceback; returns it."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err and "panicked" not in err
    return err.strip()


# --- item 10: crashes instead of one line and exit 2 ----------------------------------------


def test_year_0000_is_not_a_date(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # DuckDB takes 0000-01-01 (1 BC); Python cannot hold it, so applying the file crashed.
    with db.session(db_url) as s:
        s.add(CaseDecision(case_id="C1", person_id="P1", family_name="Doe", given_names="Jo",
                           decision="refusal", decision_date=dt.date(2025, 1, 1)))  # fmt: skip
        s.commit()
    path = write(tmp_path, "e.csv", f"{EVENTS_HEADER}\nE1,P1,evidence_received,0000-01-01,x\n")
    (problem,) = formats.validate(path, "events").problems
    assert (problem.row, problem.column) == (1, "event_date")
    assert problem.message == "'0000-01-01' is not a date: years start at 0001"
    out = tmp_path / "out"
    assert main(["events", str(path), "--out", str(out), "--database", db_url]) == 2
    assert one_line(capsys) == f"accord: {path}, row 1, column event_date: {problem.message}"
    assert not out.exists()
    with db.connect(db_url) as conn:
        assert conn.scalar(select(func.count()).select_from(Event)) == 0
    assert formats.validate(write(tmp_path, "f.csv", f"{EVENTS_HEADER}\n{EVENT}\n"), "events").ok


def test_year_0000_over_the_api_is_a_422_naming_the_field(web: WebState) -> None:
    client = TestClient(create_app(web.url, secret=SECRET))
    with db.connect(web.url) as conn:
        events_before = conn.scalar(select(func.count()).select_from(Event))
        actions_before = conn.scalar(select(func.count()).select_from(RecipientAction))
    event = {"event_id": "E9", "person_id": "P-1", "event_type": "evidence_received"}
    done = client.post(
        "/api/v1/events",
        json={"events": [{**event, "event_date": "0000-01-01"}]},
        headers=web.bearer("case1"),
    )
    assert done.status_code == 422, done.text
    assert "row 1, column event_date" in done.text and "years start at 0001" in done.text
    action = {"disclosure_id": web.disclosure_of["P-1"], "action": "revoked"}
    done = client.post(
        "/api/v1/actions",
        json={"actions": [{**action, "action_date": "0000-12-31"}]},
        headers=web.bearer("dvla1"),
    )
    assert done.status_code == 422, done.text
    with db.connect(web.url) as conn:
        assert conn.scalar(select(func.count()).select_from(Event)) == events_before
        assert conn.scalar(select(func.count()).select_from(RecipientAction)) == actions_before


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("event_id,person_id,,event_type,event_date", "column 3 of the header has no name"),
        ('event_id,person_id," ",event_type,event_date', "column 3 of the header has no name"),
        ("event_id,person_id,x\0y,event_type,event_date", "the header contains a NUL byte"),
        ("event_id,person_id,x\x1b[2J,event_type,event_date", "contains a control character"),
        ("event_id,person_id,event_type,event_date,event_id",
         "column 5 of the header repeats the name 'event_id' of column 1"),
        ("event_id,person_id,__row,event_type,event_date", "is named __row"),
        ("event_id,person_id," + "n" * 300 + ",event_type,event_date", "over 256 bytes long"),
    ],
)  # fmt: skip
def test_a_header_name_that_cannot_be_used_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], header: str, message: str
) -> None:
    path = write(tmp_path, "e.csv", f"{header}\nE1,P1,x,evidence_received,2026-01-02\n")
    with pytest.raises(InputError) as exc:
        formats.load(path, "events")
    assert message in str(exc.value) and str(exc.value).startswith(f"{path}: ")
    assert main(["validate", "events", str(path)]) == 2
    line = one_line(capsys)
    assert message in line
    assert "\x1b" not in line and "\0" not in line  # the name itself is never echoed raw


def test_a_value_quoted_in_a_message_never_carries_a_terminal_escape(tmp_path: Path) -> None:
    rows = ["E1,P1,\x1b[2Jgone,2026-01-02", "E1,P1,evidence_received,\x1b]0;owned\x072026"]
    path = write(tmp_path, "e.csv", "\n".join(["event_id,person_id,event_type,event_date", *rows]))
    messages = [p.message for p in formats.validate(path, "events").problems]
    assert messages[0].startswith("'?[2Jgone' is not one of: ")
    assert messages[1] == "duplicate event_id 'E1' (first at row 1)"
    assert messages[2] == "'?]0;owned?2026' is not a date in YYYY-MM-DD form"
    assert not any(ch in m for m in messages for ch in "\x1b\x07")


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("utf-16", "is UTF-16 or UTF-32 text: save it as UTF-8"),  # with a byte-order mark
        (
            "utf-16-be",
            "the header contains a NUL byte (is the file UTF-16?): save it as UTF-8 text",
        ),
        (
            "utf-16-le",
            "the header contains a NUL byte (is the file UTF-16?): save it as UTF-8 text",
        ),
        ("utf-32", "is UTF-16 or UTF-32 text: save it as UTF-8"),
    ],
)
def test_utf16_and_utf32_files_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str, message: str
) -> None:
    path = write(tmp_path, "e.csv", f"{EVENTS_HEADER}\n{EVENT}\n".encode(encoding))
    assert main(["validate", "events", str(path)]) == 2
    assert one_line(capsys) == f"{path}: {message}"


def test_a_ragged_row_with_a_field_over_128_kib_is_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = "y" * (200 * 1024)  # Python's csv module stops at 128 KiB by default
    text = f"{EVENTS_HEADER}\n{EVENT}\nE2,P1,evidence_received,2026-01-02,{big},extra\n"
    path = write(tmp_path, "e.csv", text)
    assert main(["validate", "events", str(path)]) == 2
    assert one_line(capsys) == f"{path}, row 2: the row has more fields than the header's 5"
    # a ragged row after a quoted field over 128 KiB is found too
    text = f'{EVENTS_HEADER}\nE1,P1,evidence_received,2026-01-02,"{big}"\n{EVENT},x\n'
    assert main(["validate", "events", str(write(tmp_path, "q.csv", text))]) == 2
    assert one_line(capsys).endswith("row 2: the row has more fields than the header's 5")


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        ("2026-02-30", "'2026-02-30' cannot be read: day is out of range for month"),
        ("0000-01-01", "'0000-01-01' cannot be read: year 0 is out of range"),
        ("2026-13-01", "'2026-13-01' cannot be read: month must be in 1..12"),
    ],
)
def test_an_impossible_yaml_date_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], date: str, reason: str
) -> None:
    folder = tmp_path / "agreements"
    folder.mkdir()
    path = write(folder, "a.yaml", AGREEMENT.format(valid_from=date))
    url = f"sqlite:///{tmp_path / 'never.db'}"
    for command in (["agreements", "check"], ["agreements", "load", "--database", url]):
        assert main([*command, str(folder)]) == 2
        assert one_line(capsys) == f"{path}: is not valid YAML: line 10: {reason}"
    policy = write(tmp_path, "policy.yaml", f"parameters:\n  since: {date}\n")
    for command in (["policy", "check"], ["policy", "load", "--database", url]):
        assert main([*command, str(policy)]) == 2
        assert one_line(capsys) == f"{policy}: is not valid YAML: line 2: {reason}"
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize(
    "nested",
    [
        "[" * 5000 + "]" * 5000,  # flow style, as JSON is
        "{a: " * 3000 + "1" + "}" * 3000,
        "".join("\n" + "  " * (i + 1) + "-" for i in range(500)),  # block style
    ],
)
def test_deeply_nested_yaml_is_refused_not_a_recursion_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nested: str
) -> None:
    folder = tmp_path / "agreements"
    folder.mkdir()
    path = write(folder, "a.yaml", AGREEMENT.format(valid_from="2026-01-01") + f"x: {nested}\n")
    assert main(["agreements", "check", str(folder)]) == 2
    assert one_line(capsys).startswith(f"{path}: is not valid YAML: line ")
    policy = write(tmp_path, "policy.yaml", f"parameters: {nested}\n")
    assert main(["policy", "check", str(policy)]) == 2
    assert "nested more than 32 levels deep" in one_line(capsys)
    # 32 levels are fine as YAML (the policy then says what it makes of them)
    ok = write(tmp_path, "ok.yaml", "parameters: " + "[" * 31 + "]" * 31 + "\n")
    assert main(["policy", "check", str(ok)]) == 2
    assert "nested more than" not in one_line(capsys)


def test_yaml_aliases_huge_numbers_and_unhashable_keys_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nine lines of aliases stand for 9**9 values once the document is hashed or checked.
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)
    ]
    cases = {
        "aliases.yaml": ("\n".join(laughs) + "\n", "line 2: alias *a0 is not allowed"),
        "number.yaml": ("parameters: " + "9" * 5000 + "\n", "cannot be read: Exceeds the limit"),
        "key.yaml": ("{[a]: 1}\n", "line 1: a key is a list or mapping"),
        "nul.yaml": ("a: b\0\n", "character #x0000 at position 4 is not allowed"),
    }
    for name, (text, message) in cases.items():
        policy = write(tmp_path, name, text)
        started = time.monotonic()
        assert main(["policy", "check", str(policy)]) == 2, name
        assert time.monotonic() - started < 5
        line = one_line(capsys)
        assert line.startswith(f"{policy}: is not valid YAML: ") and message in line, line
    big = write(tmp_path, "big.yaml", "# " + "x" * (1 << 20) + "\n")
    assert main(["policy", "check", str(big)]) == 2
    assert one_line(capsys) == f"{big}: is 1,048,579 bytes long; the limit is 1,048,576"


def test_a_deeply_nested_score_explanation_is_refused_before_any_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = '{"inputs": ["a"], "method": "m", "x": ' + "[" * 3000 + "]" * 3000 + "}"
    path = write(
        tmp_path,
        "s.csv",
        f"{SCORES_HEADER}\nS1,P1,risk,0.5,subject,2026-01-01,{quoted(deep)}\n",
    )
    url = f"sqlite:///{tmp_path / 'never.db'}"
    assert main(["scores", "load", str(path), "--database", url]) == 2
    assert one_line(capsys) == (
        f"accord: {path}, row 1, column explanation: "
        "is JSON nested more than 32 levels deep; the limit is 32"
    )
    assert not (tmp_path / "never.db").exists()
    # Brackets inside strings are text, not nesting; 32 levels are allowed.
    fine = [
        '{"inputs": ["' + "[{" * 100 + '"], "method": "m"}',
        '{"inputs": ["a"], "method": "m", "x": ' + "[" * 31 + "]" * 31 + "}",
        '{"inputs": ["a\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["], "method": "m"}',
    ]
    rows = [f"S{i},P1,risk,0.5,subject,2026-01-01,{quoted(e)}" for i, e in enumerate(fine)]
    report = formats.validate(
        write(tmp_path, "ok.csv", "\n".join([SCORES_HEADER, *rows])), "scores"
    )
    assert report.ok, report.problems
    too_deep = '{"inputs": ["a"], "method": "m", "x": ' + "[" * 32 + "]" * 32 + "}"
    row = f"S1,P1,risk,0.5,subject,2026-01-01,{quoted(too_deep)}"
    (problem,) = formats.validate(
        write(tmp_path, "no.csv", f"{SCORES_HEADER}\n{row}\n"), "scores"
    ).problems
    assert (problem.row, problem.column) == (1, "explanation")


# --- item 11: extra columns cost nothing ----------------------------------------------------


def wide_cases(
    folder: Path, rows: int, extra: int, bad: dict[tuple[int, int], str] | None = None
) -> Path:
    names = "".join(f",x{k}" for k in range(extra))
    lines = [CASES_HEADER + names]
    for i in range(1, rows + 1):
        values = [f"v{k}" for k in range(extra)]
        for (row, k), value in (bad or {}).items():
            if row == i:
                values[k] = value
        lines.append(CASE.format(i=i, d=1 + i % 9) + "".join("," + v for v in values))
    return write(folder, f"wide-{rows}-{extra}.csv", "\n".join(lines) + "\n")


def test_hundreds_of_extra_columns_validate_in_bounded_time(tmp_path: Path) -> None:
    # Each extra column used to add three queries to one UNION: 300 took over 20 s to plan.
    path = wide_cases(tmp_path, 1000, 300)
    started = time.monotonic()
    report = formats.validate(path, "cases")
    assert time.monotonic() - started < 5.0
    assert report.ok and report.rows == 1000


def test_extra_columns_are_still_checked_and_reported_in_file_order(tmp_path: Path) -> None:
    long = "z" * (64 * 1024 + 1)
    bad = {(3, 250): "a\0b", (2, 7): "\ufffd", (3, 5): long, (5, 1): "fine"}
    report = formats.validate(wide_cases(tmp_path, 6, 300, bad), "cases")
    assert [(p.row, p.column) for p in report.problems] == [(2, "x7"), (3, "x5"), (3, "x250")]
    assert [p.message for p in report.problems] == [
        "is not valid UTF-8",
        "is 65537 bytes long; the limit is 65536",
        "contains a NUL byte",
    ]


def test_cases_keep_hundreds_of_extra_columns_cheaply(db_url: str, tmp_path: Path) -> None:
    path = wide_cases(tmp_path, 200, 500)
    started = time.monotonic()
    table = formats.load(path, "cases")
    assert time.monotonic() - started < 5.0
    assert table.num_columns == 1 + 16 + 500
    assert main(["admit", "--cases", str(path), "--as-of", "2026-01-01", "--database", db_url]) == 0
    with db.connect(db_url) as conn:
        extras = conn.scalars(select(CaseDecision.extra).order_by(CaseDecision.case_id)).all()
    assert len(extras) == 200
    assert all(e == {f"x{k}": f"v{k}" for k in range(500)} for e in extras)


# --- item 12: CR-only line endings -----------------------------------------------------------


def test_a_file_with_cr_only_line_endings_is_read_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [CASE.format(i=i, d=i) for i in range(1, 4)]
    unix = formats.load(write(tmp_path, "lf.csv", "\n".join([CASES_HEADER, *rows]) + "\n"), "cases")
    for name, eol in (("cr.csv", "\r"), ("crlf.csv", "\r\n")):
        path = write(tmp_path, name, eol.join([CASES_HEADER, *rows]) + eol)
        assert formats.load(path, "cases").equals(unix), name
        assert main(["validate", "cases", str(path)]) == 0
        assert "3 rows, valid cases file" in capsys.readouterr().out
    # A problem in a CR-only file is found and located, not lost with the rows.
    bad = [*rows[:1], rows[1].replace("1980-01-02", "1980-02-30"), *rows[2:]]
    path = write(tmp_path, "bad.csv", "\r".join([CASES_HEADER, *bad]))
    (problem,) = formats.validate(path, "cases").problems
    assert (problem.row, problem.column) == (2, "date_of_birth")
    # A quoted value may still hold a line break; a header alone is no rows.
    events = f'{EVENTS_HEADER}\rE1,P1,evidence_received,2026-01-02,"two\r\nlines"\r'
    table = formats.load(write(tmp_path, "ev.csv", events), "events")
    assert table.column("detail").to_pylist() == ["two\r\nlines"]
    assert formats.validate(write(tmp_path, "h.csv", EVENTS_HEADER + "\r"), "events").rows == 0
    assert (
        dt.date(1980, 1, 2)
        in formats.load(write(tmp_path, "again.csv", "\r".join([CASES_HEADER, *rows])), "cases")
        .column("date_of_birth")
        .to_pylist()
    )
