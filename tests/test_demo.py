"""`accord demo`: the whole story through the command line, once, then checked piece by piece."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accord import demo
from accord.cli import main
from accord.errors import AccordError
from accord.store import db
from accord.store.models import AuditLog, Disclosure, Recall, ReviewDecision
from accord.synth.truth import people_truth

OneLineError = Callable[[list[str], int, str], None]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
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

    @property
    def url(self) -> str:
        return f"sqlite:///{self.out / 'accord.db'}"


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    out = tmp_path_factory.mktemp("demo") / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["demo", "--out", str(out)])
    return Ran(out, code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def one_line_error(capsys: pytest.CaptureFixture[str]) -> OneLineError:
    def check(args: list[str], code: int, fragment: str) -> None:
        assert main(args) == code
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err
        assert fragment in err, err
        assert "\n" not in err, err

    return check


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
    assert (
        f"naive process {head['naive_known_at_run']:,.1f}, Accord "
        f"{head['accord_known_at_run']:,.1f} (known at the run)"
    ) in ran.printed
    assert head["accord_known_at_run"] <= 10
    assert head["naive_known_at_run"] > 500
    assert "SIMULATED" in ran.printed


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
