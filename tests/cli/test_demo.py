"""`accord demo`: the whole story through the command line, once, then checked piece by piece."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import letter_check
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from demo_cache import DemoBuild
from one_line import OneLineError
from sqlalchemy import func, select

from accord import demo
from accord.cli import main
from accord.errors import AccordError
from accord.ledger import signing
from accord.rights import assemble, render
from accord.store import db
from accord.store.models import (
    AuditLog,
    AuditSample,
    Disclosure,
    FirewallRefusal,
    Freeze,
    LedgerLeaf,
    PoolHistory,
    Recall,
    RecipientAction,
    ReviewDecision,
    ReviewItem,
    as_utc,
)
from accord.synth.truth import people_truth
from accord.vocab import ROLES

# Each chart's SVG size on the page and the size of every mark drawn in it.
MEASURE_CHARTS = """
() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = Array.from(svg.querySelectorAll('[id*="-mark-"]')).map(m => {
    const b = m.getBoundingClientRect();
    return [b.width, b.height];
  });
  return {name: svg.dataset.chart, width: box.width, height: box.height, marks: marks};
})
"""


@dataclass(frozen=True)
class Ran:
    out: Path
    code: int
    printed: str
    errors: str
    database: Path  # this module's copy of the demo's database: some tests change it
    ended: Path  # the demo's database as the demo left it

    @property
    def url(self) -> str:
        return f"sqlite:///{self.database}"

    @property
    def as_it_ended(self) -> str:
        """The demo's database as the demo left it (a later test changes this module's)."""
        return f"sqlite:///{self.ended}"


@pytest.fixture(scope="module")
def ran(demo_build: DemoBuild, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """The session's one demo (demo_cache), with a copy of its database of our own."""
    build = demo_build
    own = build.own_database(tmp_path_factory.mktemp("demo-db")) if build.code == 0 else Path()
    return Ran(build.out, build.code, build.printed, build.errors, own, build.as_it_ended)


def test_the_demo_runs_to_the_end_and_every_output_exists(ran: Ran) -> None:
    assert ran.code == 0, ran.errors
    summary = json.loads((ran.out / "demo.json").read_text(encoding="utf-8"))
    outputs = {k: Path(v) for k, v in summary["outputs"].items()}
    for name in ("scenario", "database", "key", "run", "simulation", "report"):
        assert name in outputs, name
    for name, path in outputs.items():
        assert path.exists(), name
        assert str(path) in ran.printed, name  # where each output is, printed
    for f in ("summary.json", "disclosures.csv", "review_queue.csv", "excluded.csv"):
        assert (ran.out / "run" / f).is_file()
    sar = [k for k in outputs if k.startswith("subject access")]
    assert len(sar) == 6  # two people, html + pdf + json
    assert all(outputs[k].stat().st_size > 1000 for k in sar)
    assert outputs["subject access (windrush, pdf)"].read_bytes().startswith(b"%PDF")


def test_the_headline_is_printed_and_matches_the_simulation(ran: Ran) -> None:
    sim = json.loads((ran.out / "simulation.json").read_text(encoding="utf-8"))
    head = sim["headline_wrongful_per_10000"]
    printed = " ".join(ran.printed.split())
    assert (
        f"known at the run: naive process {head['naive_known_at_run']['text']}, Accord "
        f"{head['accord_known_at_run']['text']}"
    ) in printed
    assert head["accord_known_at_run"]["value"] <= 10
    assert head["naive_known_at_run"]["value"] > 500
    assert "SIMULATED" in ran.printed
    # Each rate says how sure it is: its 95% interval, from its own counts.
    for rate in head.values():
        assert rate["low"] <= rate["value"] <= rate["high"] and rate["high"] > 0, rate
        assert f"95% interval {rate['low']:,.1f} to {rate['high']:,.1f}" in rate["text"]
        assert f"{rate['part']:,} of {rate['whole']:,}" in rate["text"]
    assert json.loads((ran.out / "demo.json").read_text())["headline_wrongful_per_10000"] == head


def test_the_report_has_an_error_rate_from_a_simulated_audit(ran: Ran) -> None:
    """Issue 18: the demo draws an audit sample of the disclosures in force and records the
    SIMULATED auditor's truth-based verdicts, so its report's error rates have a figure."""
    figures = json.loads((ran.out / "demo.json").read_text())["figures"]["simulated_audit"]
    assert figures["sample_id"] == demo.AUDIT_SAMPLE and figures["checked"] > 0
    with db.connect(ran.as_it_ended) as conn:
        verdicts = conn.execute(
            select(AuditSample.verdict, AuditSample.verdict_by, AuditSample.verdict_note).where(
                AuditSample.sample_id == demo.AUDIT_SAMPLE
            )
        ).all()
    assert len(verdicts) == figures["checked"]
    assert {by for _, by, _ in verdicts} == {demo.AUDITOR}
    assert all(
        v in ("correct", "wrong") and note.startswith("SIMULATED") for v, _, note in verdicts
    )
    assert sum(v == "wrong" for v, _, _ in verdicts) == figures["wrong"]
    page = (ran.out / "report.html").read_text(encoding="utf-8")
    section = page.split('id="errors"', 1)[1].split("</section>", 1)[0]
    assert "No audit sample has been drawn yet" not in section
    row = re.search(rf"<tr><td>{demo.AUDIT_SAMPLE}</td>(.*?)</tr>", section)
    assert row, section[:500]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1])]
    estimate, interval = cells[5], cells[6]  # after items, strata, population, checked, wrong
    low, high = (float(x.rstrip("%")) for x in interval.split(" to "))
    assert re.fullmatch(r"\d+\.\d%", estimate) and low <= float(estimate[:-1]) <= high
    assert high > 0  # how high it could be, even when none was found wrong
    assert f"{estimate} (95% interval {interval}" in figures["error_rate"]
    assert "simulated-auditor (SIMULATED" in " ".join(ran.printed.split())


def test_verify_passes_on_the_demo_database(ran: Ran, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["verify", "--database", ran.url, "--key", str(ran.out / "ledger.key")]
    assert main(args) == 0
    assert "ledger intact" in capsys.readouterr().out


def test_the_simulated_reviewer_is_labelled_as_simulated(ran: Ran) -> None:
    with db.session(ran.url) as s:
        reviewers = set(s.scalars(select(ReviewDecision.reviewer).distinct()))
        reasons = list(s.scalars(select(ReviewDecision.reason)))
        actors = set(s.scalars(select(AuditLog.actor).distinct()))
        reviewed = s.scalar(select(func.count()).select_from(Disclosure).where(
            Disclosure.decided_by != "rule:automatic"
        ))  # fmt: skip
    assert reviewers == set(demo.REVIEWERS)
    assert all(r.startswith("SIMULATED reviewer") for r in reasons)
    assert set(demo.REVIEWERS) <= actors
    assert reviewed and reviewed > 0  # approved matches were disclosed through the gate


def test_some_remedies_are_outstanding_and_some_remedied(
    ran: Ran, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.session(ran.url) as s:
        states = dict(
            s.execute(
                select(Recall.remedy_status, func.count()).group_by(Recall.remedy_status)
            ).all()
        )
    assert states.get("outstanding", 0) > 0, states
    assert states.get("remedied", 0) > 0, states
    assert main(["remedies", "--database", ran.url]) == 0
    assert f"{states['outstanding']} outstanding" in capsys.readouterr().out


def test_subject_access_reports_are_for_the_people_promised(ran: Ran) -> None:
    summary = json.loads((ran.out / "demo.json").read_text(encoding="utf-8"))
    people = summary["figures"]["subject_access"]
    truth = {
        p: k
        for p, k in zip(
            *people_truth(ran.out / "scenario").select(["person_id", "kind"]).to_pydict().values(),
            strict=True,
        )
    }
    assert truth[people["windrush"]] == "windrush"
    assert truth[people["recalled"]] in ("overstayer", "overturned")
    report = json.loads((ran.out / "subject-access" / f"{people['recalled']}.json").read_text())
    assert report["recalls"], "the recalled person's report shows the recall"
    # Anyone can check each report against the ledger without the database.
    from accord.cli import main

    for person in (people["windrush"], people["recalled"]):
        path = ran.out / "subject-access" / f"{person}.json"
        if json.loads(path.read_text())["disclosures"]:
            assert main(["ledger", "check-proof", str(path)]) == 0, person
    assert report["disclosures"]


def test_the_report_is_written_with_every_chart(ran: Ran) -> None:
    summary = json.loads((ran.out / "demo.json").read_text(encoding="utf-8"))
    page = (ran.out / "report.html").read_text(encoding="utf-8")
    assert summary["figures"]["report_charts"]
    for chart in summary["figures"]["report_charts"]:
        assert f'data-chart="{chart}"' in page, chart
    assert summary["figures"]["ledger"]["root"] in page


@pytest.mark.browser
def test_the_demo_report_draws_every_chart_in_chromium(ran: Ran, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}")
    charts = json.loads((ran.out / "demo.json").read_text())["figures"]["report_charts"]
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto((ran.out / "report.html").as_uri(), wait_until="load")
            measured = page.evaluate(MEASURE_CHARTS)
            page.screenshot(path=str(tmp_path / "demo-report.png"), full_page=True)
        finally:
            browser.close()
    assert [m["name"] for m in measured] == charts
    for m in measured:
        assert m["width"] > 100 and m["height"] > 50, m["name"]
        assert [w * h for w, h in m["marks"] if w > 0 and h > 0], m["name"]
    assert (tmp_path / "demo-report.png").stat().st_size > 50_000


def test_demo_refuses_a_folder_that_is_not_its_own(
    tmp_path: Path, one_line_error: OneLineError
) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    one_line_error(["demo", "--out", str(tmp_path)], 2, "is not empty and holds no earlier demo")
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_demo_refuses_a_file_as_its_folder(tmp_path: Path, one_line_error: OneLineError) -> None:
    (tmp_path / "f").write_text("x")
    one_line_error(["demo", "--out", str(tmp_path / "f")], 2, "is not a folder")


def test_demo_refuses_a_database_that_already_holds_a_run(
    db_url: str, tmp_path: Path, one_line_error: OneLineError
) -> None:
    with db.connect(db_url) as conn:
        conn.exec_driver_sql(
            "INSERT INTO runs (run_id, command, as_of, started_at, status, inputs) "
            "VALUES ('run-x', 'run', '2026-01-15', '2026-01-15 00:00:00', 'disclosed', '{}')"
        )
    one_line_error(
        ["demo", "--out", str(tmp_path / "d"), "--database", db_url], 2, "already holds 1 run(s)"
    )


def test_an_earlier_demo_folder_is_reused_from_a_clean_database(ran: Ran, tmp_path: Path) -> None:
    """The preparation step alone: a rerun into the same folder starts from nothing."""
    folder = tmp_path / "again"
    folder.mkdir()
    (folder / demo.MARKER).write_text("{}")
    (folder / "accord.db").write_text("not a database")
    url = demo._prepare(folder, None)
    with db.connect(url) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM runs").scalar() == 0
    with pytest.raises(AccordError, match="not empty"):
        other = tmp_path / "other"
        other.mkdir()
        (other / "x").write_text("x")
        demo._prepare(other, None)


# --- one clock: every date in the demo's story, and its letters read against its database -----


def _calendar(ran: Ran) -> tuple[dt.date, dt.date]:
    """The demo's first day (its run) and last (its report and letters), from demo.json."""
    calendar = json.loads((ran.out / "demo.json").read_text(encoding="utf-8"))["figures"][
        "calendar"
    ]
    return (
        dt.date.fromisoformat(calendar["run"]),
        dt.date.fromisoformat(calendar["report_and_letters"]),
    )


def test_every_business_date_in_the_demo_falls_on_its_own_calendar(ran: Ran) -> None:
    """Issue 18: disclosures, recalls, remedies, review items and decisions, freezes,
    firewall refusals, pool changes and recipients' actions are all dated by the demo's
    clock (from the run's day to its last day), none by the day the demo happens to run."""
    first, last = _calendar(ran)
    assert first == demo.AS_OF and last > first
    assert first != dt.date.today()  # else this test could not tell the clocks apart
    dated = [
        Disclosure.disclosed_at, Recall.recalled_at, Recall.remedied_at, ReviewItem.created_at,
        ReviewItem.closed_at, ReviewDecision.decided_at, Freeze.opened_at,
        FirewallRefusal.at,
    ]  # fmt: skip
    days = [PoolHistory.as_of, RecipientAction.action_date]
    with db.connect(ran.as_it_ended) as conn:
        for column in dated:
            low, high = conn.execute(select(func.min(column), func.max(column))).one()
            if low is None:
                assert column is FirewallRefusal.at, column  # none in this scenario
                continue
            assert first <= as_utc(low).date() and as_utc(high).date() <= last, column
        for column in days:
            low, high = conn.execute(select(func.min(column), func.max(column))).one()
            assert first <= low and high <= last, column
        # A remedy follows its recall, and a recall its disclosure.
        for recalled, remedied, disclosed in conn.execute(
            select(Recall.recalled_at, Recall.remedied_at, Disclosure.disclosed_at).join(
                Disclosure, Disclosure.disclosure_id == Recall.disclosure_id
            )
        ):
            assert as_utc(disclosed) <= as_utc(recalled)
            assert remedied is None or as_utc(recalled).date() <= as_utc(remedied).date()


def test_each_demo_letter_agrees_statement_by_statement_with_the_database(ran: Ran) -> None:
    """Issue 18: each letter the demo wrote, read as the person reads it, against the rows
    each statement summarises (tests/letter_check.py says what is checked)."""
    _, last = _calendar(ran)
    people = json.loads((ran.out / "demo.json").read_text())["figures"]["subject_access"]
    assert set(people) == {"windrush", "recalled"}
    for person in people.values():
        letter = (ran.out / "subject-access" / f"{person}.html").read_text(encoding="utf-8")
        assert f"Written on {letter_check.day(last)}" in " ".join(letter.split())
        found = letter_check.problems(ran.as_it_ended, letter, person, last, nothing_later=True)
        assert found == [], (person, found)
    recalled = json.loads((ran.out / "subject-access" / f"{people['recalled']}.json").read_text())
    assert recalled["recalls"] and recalled["actions"]  # a withdrawal and what was done


def test_letters_for_each_kind_of_story_in_the_demo_agree_with_the_database(ran: Ran) -> None:
    """Beyond the two letters the demo writes: the first people with each kind of recall
    remedy, review, freeze and reviewed disclosure, each letter checked the same way."""
    _, last = _calendar(ran)
    with db.connect(ran.as_it_ended) as conn:
        kinds = [
            select(Recall.person_id).where(Recall.remedy_status == status)
            for status in ("none_needed", "outstanding", "remedied")
        ] + [
            select(ReviewItem.person_id).where(ReviewItem.kind == kind)
            for kind in ("manual_check", "uncertain_match", "dispute", "re_review",
                         "dispute_resolution")
        ] + [
            select(Freeze.person_id),
            select(Disclosure.person_id).where(Disclosure.decided_by.like("reviewers:%")),
        ]  # fmt: skip
        people: set[str] = set()
        for query in kinds:
            found = conn.scalars(query.distinct().order_by(query.selected_columns[0]).limit(3))
            chosen = list(found)
            assert chosen, query
            people |= set(chosen)
        key = signing.load_public_key(ran.out / "ledger.key")
        letters = {
            p: render.to_html(assemble.build(conn, p, as_of=last, key=key)) for p in sorted(people)
        }
    assert len(letters) >= 10
    for person, letter in letters.items():
        found_problems = letter_check.problems(
            ran.as_it_ended, letter, person, last, nothing_later=True
        )
        assert found_problems == [], (person, found_problems)


# --- what the demo built, served with the command it prints ---------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login(client: httpx.Client, username: str, password: str) -> None:
    page = client.get("/login")
    nonce = page.text.split('name="nonce" value="', 1)[1].split('"', 1)[0]
    done = client.post(
        "/login", data={"username": username, "password": password, "nonce": nonce, "next": ""}
    )
    assert done.status_code == 303, (username, done.text)


def _csrf(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _decide(client: httpx.Client, item: str, decision: str) -> str:
    csrf = _csrf(client.get(f"/review/{item}").text)
    done = client.post(
        f"/review/{item}/decide",
        data={"decision": decision, "reason": "checked against the file", "csrf": csrf},
    )
    assert done.status_code == 303, done.text
    return client.get(done.headers["location"]).text


def test_the_demo_served_with_the_command_it_prints_works_for_every_role(
    ran: Ran, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18: the printed command, run from another folder with no ACCORD_* settings,
    serves every role's main page, a subject's letter, and reviewers' decisions that sign
    the ledger.  (Last in this file: it changes the demo's database.)"""
    commands = [line.strip() for line in ran.printed.splitlines() if "accord serve" in line]
    assert len(commands) == 1
    argv = shlex.split(commands[0])
    assert argv[:2] == ["accord", "serve"] and "--key" in argv
    assert argv[argv.index("--database") + 1] == f"sqlite:///{ran.out / 'accord.db'}"
    argv[argv.index("--database") + 1] = ran.url  # serve this module's copy: it changes it
    listed = ran.printed.split("sign in as one of these demo users", 1)[1]
    users = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(r"^  (\S+)\s+(\S+)\s+(\w+)(?: \(\S+\))?$", listed, re.M)
    }
    assert {role for _, role in users.values()} == set(ROLES)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    folder = tmp_path / "somewhere-else"
    folder.mkdir()
    accord = str(Path(sys.executable).parent / "accord")
    server = subprocess.Popen(
        [accord, *argv[1:], "--port", str(port), "--no-access-log"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        home = {"reviewer": "/review", "caseworker": "/people", "recipient": "/inbox",
                "auditor": "/oversight", "admin": "/admin", "subject": "/me"}  # fmt: skip
        for username, (password, role) in users.items():
            with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
                _login(client, username, password)
                page = client.get(home[role])
                assert page.status_code == 200, (username, page.text)
                if role == "subject":  # their own letter, and how to dispute it
                    assert "How to dispute" in page.text
                    pdf = client.get("/me/report.pdf")
                    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
                if role == "recipient":  # each row names the recipient's own record
                    assert 'class="id record"' in page.text
        with db.connect(ran.url) as conn:
            # Two challenges about people whose disclosures are still in force.
            dispute, upheld = conn.scalars(
                select(ReviewItem.item_id)
                .join(Disclosure, Disclosure.person_id == ReviewItem.person_id)
                .where(
                    ReviewItem.kind.in_(("dispute", "re_review")),
                    ReviewItem.status == "open",
                    Disclosure.status == "active",
                )
                .group_by(ReviewItem.item_id)
                .order_by(ReviewItem.item_id)
                .limit(2)
            ).all()
            leaves = conn.scalar(select(func.count()).select_from(LedgerLeaf))
        reviewers = [u for u, (_, role) in users.items() if role == "reviewer"]
        clients = []
        for name in reviewers[:2]:
            client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
            _login(client, name, users[name][0])
            clients.append(client)
        assert "1 of 2 approvals" in _decide(clients[0], dispute, "approve")
        assert "Approved (2 of 2 approvals)" in _decide(clients[1], dispute, "approve")
        # Upholding a challenge recalls what was shared: ledger leaves, signed as it commits.
        assert "challenge upheld" in _decide(clients[0], upheld, "reject")
        for client in clients:
            client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    with db.connect(ran.url) as conn:
        assert conn.scalar(select(func.count()).select_from(LedgerLeaf)) > leaves
    monkeypatch.delenv("ACCORD_LEDGER_KEY")  # the key kept with the demo's database
    capsys.readouterr()
    assert main(["ledger", "head", "--database", ran.url]) == 0
    assert json.loads(capsys.readouterr().out)["unsigned_leaves"] == 0
    assert main(["verify", "--database", ran.url]) == 0
