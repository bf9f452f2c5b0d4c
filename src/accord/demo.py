"""`accord demo`: the whole story on an embedded scenario, in one command.

A newcomer, an auditor or a data protection officer should see every part of Accord work
together on data that looks like the real thing, without touching a real person: a
synthetic scenario with its ground truth is written, one sharing cycle runs, a
**simulated reviewer** works the review queue, the recipients act, later facts arrive
and are recalled, the recipients report reversals, two people get their subject access
reports, the impact simulation compares the naive process with Accord's, and the
oversight report is written.  The ledger is verified at the end.

The simulated reviewer is not a person: it decides each item as the scenario's ground
truth says it should be decided, and is wrong on purpose with a stated, seeded error
rate (``REVIEWER_ERROR``).  It is labelled as simulated in the output, in its decisions'
reasons and in the audit log's actor names (``simulated-reviewer-a``/``-b``, two of them
for four eyes).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from accord import audit, formats, identity, rates
from accord.cycle import RunInputs, run_cycle
from accord.errors import AccordError, InvalidInput
from accord.events import EventsResult, apply_events
from accord.first_use import initialise
from accord.ledger import log, signing
from accord.oversight.report import write_report
from accord.remedy import outstanding, record_actions
from accord.review import decide
from accord.rights.assemble import produce
from accord.simulate import Simulation, compare, prepare_empty, simulation_page
from accord.store import db
from accord.store.models import Recall
from accord.store.transfer import read_arrow
from accord.synth import REGISTERS, Scenario, synthesise
from accord.synth.writer import connect, csv_view
from accord.vocab import MATCH_KINDS, DisclosureStatus, ItemStatus, RemedyStatus, sql_in, sql_word

# The embedded scenario: the same every time, so the figures can be compared run to run.
PEOPLE = 3_000
SEED = 1
AS_OF = dt.date(2026, 1, 15)
REVIEWER_ERROR = 0.02  # the simulated reviewer's stated error rate
REVIEWERS = ("simulated-reviewer-a", "simulated-reviewer-b")
# The simulated audit: a stratified sample of the disclosures in force at the end, each
# checked by a SIMULATED auditor that answers from the scenario's truth (not a person),
# so that the oversight report's error rates have a figure (accord.audit).
AUDIT_SAMPLE = "demo-disclosures"
AUDIT_SIZE = 100
AUDITOR = "simulated-auditor"
REVERSED_SHARE = 0.5  # of recalls with an adverse action, the share the recipient reverses
# The demo's calendar: one clock (accord.clock), so that every date in its database, its
# report and its letters falls in the order the story happened.  The run and the simulated
# review are as of AS_OF; recipients act the day after; each event is applied as of its
# own date; a reversal comes a seeded 3 to 28 days after its recall; the report and the
# letters are as of REPORT_AFTER past the latest event.
ACT_AFTER = dt.timedelta(days=1)
REVERSAL_DAYS = (3, 28)
REPORT_AFTER = dt.timedelta(days=30)
ADVERSE = {"dvla": "revoked", "hmrc": "stopped", "bank": "closed"}
REVERSAL = {"dvla": "reinstated", "hmrc": "restored", "bank": "reopened"}
ACTOR = "accord demo"
MARKER = "demo.json"

Progress = Callable[[str, str], None]  # (stage, detail)


def _silent(_stage: str, _detail: str) -> None:
    return None


@dataclass(frozen=True)
class DemoUser:
    """A user the demo makes so that a newcomer can sign in as each role."""

    username: str
    role: str
    bound_to: str  # the recipient body or the person, else ""
    password: str  # made for this demo, printed once and never stored


@dataclass
class DemoResult:
    out: Path
    database: str
    outputs: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    simulation: Simulation | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    users: list[DemoUser] = field(default_factory=list)
    key: Path | None = None

    def serve_command(self) -> str:
        """The exact command that serves what the demo built, with the key that signs it."""
        parts = ["accord", "serve", "--database", self.database]
        if self.key is not None:
            parts += ["--key", str(self.key)]
        return shlex.join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "database": db.describe(self.database),
            "scenario": {"people": PEOPLE, "seed": SEED, "as_of": AS_OF.isoformat()},
            "simulated_reviewer": {"names": list(REVIEWERS), "error_rate": REVIEWER_ERROR},
            "outputs": {k: str(v) for k, v in self.outputs.items()},
            "figures": self.figures,
            "headline_wrongful_per_10000": (
                {k: r.to_json() for k, r in self.simulation.headline().items()}
                if self.simulation
                else {}
            ),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            # Passwords are printed once by `accord demo`, never written to a file.
            "users": [{"username": u.username, "role": u.role, "bound_to": u.bound_to}
                      for u in self.users],
            "serve": self.serve_command(),
        }  # fmt: skip


def _prepare(out: Path, database: str | None) -> str:
    """The demo's folder and database; a folder from an earlier demo is reused, nothing else."""
    if out.exists() and not out.is_dir():
        raise InvalidInput("out", f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise InvalidInput(
            "out",
            f"{out}: is not empty and holds no earlier demo ({MARKER}); give a new or empty folder",
        )
    out.mkdir(parents=True, exist_ok=True)
    # Marks the folder as the demo's at once, so a demo that stopped half way can be rerun.
    (out / MARKER).write_text(json.dumps({"status": "started"}) + "\n", encoding="utf-8")
    if database is None:
        (out / "accord.db").unlink(missing_ok=True)
        for sub in ("run", "subject-access", "scenario"):
            shutil.rmtree(out / sub, ignore_errors=True)
    url = database or f"sqlite:///{(out / 'accord.db').resolve()}"
    prepare_empty(
        url, "the demo needs an empty database (leave --database out to use one in --out)"
    )
    return url


# --- the simulated reviewer ------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewerTally:
    items: int
    approved: int
    rejected: int
    wrong: int  # items whose final outcome differs from the truth


def _text_rows(
    url: str, columns: tuple[str, ...], sql: str, params: dict[str, str] | None = None
) -> pa.Table:
    """The rows of ``sql`` (``:name`` parameters), its ``columns`` read as text."""
    with db.connect(url) as conn:
        return read_arrow(conn, sql, dict.fromkeys(columns, pa.string()), params)


def _truth_views(con: duckdb.DuckDBPyConnection, scenario: Scenario) -> None:
    """Views ``truth_people`` and ``truth_records`` on ``con``: the scenario's truth files."""
    csv_view(con, scenario.truth_people, "truth_people")
    csv_view(con, scenario.truth_records, "truth_records")


def _truth_for_items(scenario: Scenario, items: pa.Table) -> pa.Table:
    """Per open item, whether the truth says its adverse outcome should go ahead.

    The items come in the order of what they are about (kind, person, recipient, record),
    not of their ids, which are random: the seeded reviewers' errors then fall on the same
    items in every demo of the same scenario."""
    con = connect()
    try:
        con.register("items", items)
        _truth_views(con, scenario)
        return con.sql(
            f"""SELECT i.item_id, i.kind,
                CASE WHEN i.kind IN {sql_in(MATCH_KINDS)}
                     THEN coalesce(r.person_id = i.person_id, false)
                          AND coalesce(p.rightful_target = 'true', false)
                     ELSE coalesce(p.rightful_target = 'true', false) END AS adverse_is_right,
                p.kind AS person_kind
            FROM items i
            LEFT JOIN truth_people p ON p.person_id = i.person_id
            LEFT JOIN truth_records r ON r.register = i.recipient AND r.record_id = i.record_id
            ORDER BY i.kind, i.person_id, i.recipient, i.record_id, i.item_id"""
        ).to_arrow_table()
    finally:
        con.close()


def simulated_review(
    url: str, scenario: Scenario, as_of: dt.date, key: Path, seed: int, progress: Progress
) -> ReviewerTally:
    """Decide every open review item as the truth says, wrong with ``REVIEWER_ERROR``.

    Each of the two simulated reviewers errs independently; a rejection settles an item,
    so a wrongful approval needs both to err, as four eyes intend.
    """
    items = _text_rows(
        url,
        ("item_id", "kind", "person_id", "record_id", "recipient"),
        "SELECT r.item_id, r.kind, r.person_id, r.record_id, a.recipient "
        "FROM review_items r LEFT JOIN agreements a ON a.agreement_id = r.agreement_id "
        f"WHERE r.status = {sql_word(ItemStatus.OPEN)}",
    )
    judged = _truth_for_items(scenario, items)
    rng = np.random.default_rng(seed)
    errs = rng.random((judged.num_rows, len(REVIEWERS))) < REVIEWER_ERROR
    approved = rejected = wrong = 0
    rows = judged.to_pylist()
    for n, (row, err) in enumerate(zip(rows, errs, strict=True)):
        right = bool(row["adverse_is_right"])
        status: str = ItemStatus.OPEN
        for reviewer, erred in zip(REVIEWERS, err, strict=True):
            approve = right != bool(erred)
            because = (
                "the truth says the record is theirs and the refusal stands"
                if right
                else "the truth says it is not their record, or they must not be shared about"
            )
            reason = (
                f"SIMULATED reviewer (demo; follows the scenario's ground truth, wrong "
                f"{REVIEWER_ERROR:.0%} of the time): {because}"
                + ("; this decision is one of its deliberate errors" if erred else "")
            )
            outcome = decide(url, row["item_id"], approve, reviewer, reason, as_of, key)
            status = outcome.status
            if status != ItemStatus.OPEN:
                break
        approved += status == ItemStatus.APPROVED
        rejected += status == ItemStatus.REJECTED
        wrong += (status == ItemStatus.APPROVED) != right
        if n % 25 == 0:
            progress("review", f"simulated reviewers: {n + 1:,} of {len(rows):,} items")
    return ReviewerTally(len(rows), approved, rejected, wrong)


# --- recipients' actions ---------------------------------------------------------------------


def _actions(url: str, rows: list[dict[str, object]], recipient: str, source: str) -> int:
    if not rows:
        return 0
    table = formats.load_records(rows, "actions", source)
    return record_actions(
        url, recipient, table, source, f"{ACTOR} (simulated {recipient})"
    ).recorded


def recipients_act(url: str, when: dt.date) -> int:
    """Each recipient acts on every disclosure it received (a licence revoked, a benefit
    stopped, an account closed): the scenario's registers are calibrated so that a
    disclosure is an action."""
    found = _text_rows(
        url,
        ("recipient", "disclosure_id"),
        "SELECT recipient, disclosure_id FROM disclosures ORDER BY disclosure_id",
    )
    recorded = 0
    for r in REGISTERS:
        ids = [d for rc, d in zip(*found.to_pydict().values(), strict=True) if rc == r]
        rows: list[dict[str, object]] = [
            {"disclosure_id": d, "action": ADVERSE[r], "action_date": when.isoformat()} for d in ids
        ]
        recorded += _actions(url, rows, r, f"demo: {r} actions")
    return recorded


def recipients_reverse(url: str, seed: int) -> int:
    """Recipients reverse a seeded share of the adverse actions whose recall needs a remedy,
    each a seeded ``REVERSAL_DAYS`` after its recall (never before it)."""
    with db.connect(url) as conn:
        due = conn.execute(
            select(Recall.recipient, Recall.disclosure_id, Recall.recalled_at)
            .where(Recall.remedy_status == RemedyStatus.OUTSTANDING)
            .order_by(Recall.disclosure_id)
        ).all()
    rng = np.random.default_rng(seed)
    pick = rng.random(len(due)) < REVERSED_SHARE
    after = rng.integers(REVERSAL_DAYS[0], REVERSAL_DAYS[1] + 1, len(due))
    reversed_ = 0
    for r in REGISTERS:
        rows: list[dict[str, object]] = [
            {
                "disclosure_id": d,
                "action": REVERSAL[r],
                "action_date": (at.date() + dt.timedelta(days=int(days))).isoformat(),
            }
            for (rc, d, at), chosen, days in zip(due, pick, after, strict=True)
            if rc == r and chosen
        ]
        reversed_ += _actions(url, rows, r, f"demo: {r} reversals")
    return reversed_


def apply_events_by_day(url: str, events: pa.Table, source: str, key: Path) -> EventsResult:
    """Apply the events feed a day at a time, each day's events as of that day, as a feed
    that delivers each fact on its date would: a withdrawal or a recall is then dated the
    day its event is."""
    total = EventsResult()
    days = sorted(set(events.column("event_date").to_pylist()))
    for day in days:
        mask = pc.equal(
            events.column("event_date"), pa.scalar(day, events.schema.field("event_date").type)
        )
        done = apply_events(url, events.filter(mask), source, day, f"{ACTOR} (events feed)", key)
        total.applied += done.applied
        total.already_applied += done.already_applied
        total.withdrawn += done.withdrawn
        total.frozen += done.frozen
        total.review_items += done.review_items
        total.recalls += done.recalls
    total.frozen = sorted(set(total.frozen))
    return total


# --- the simulated audit -------------------------------------------------------------------


def simulated_audit(url: str, scenario: Scenario, seed: int) -> audit.Estimate:
    """Draw an audit sample of the disclosures in force, record the SIMULATED auditor's
    verdicts from the scenario's truth (wrong: not the person's record, or a person who must
    not be shared about), and return `accord audit estimate`'s figures."""
    sample_id, _ = audit.sample(
        url, AUDIT_SIZE, seed, kind="disclosure", sample_id=AUDIT_SAMPLE, actor=ACTOR
    )
    drawn = _text_rows(
        url,
        ("disclosure_id", "recipient", "record_id", "person_id"),
        "SELECT s.item_ref AS disclosure_id, d.recipient, d.record_id, d.person_id "
        "FROM audit_samples s JOIN disclosures d ON d.disclosure_id = s.item_ref "
        "WHERE s.sample_id = :sample ORDER BY s.item_ref",
        {"sample": AUDIT_SAMPLE},
    )
    con = connect()
    try:
        con.register("drawn", drawn)
        _truth_views(con, scenario)
        judged = con.execute(
            """SELECT d.disclosure_id,
                coalesce(r.person_id = d.person_id, false)
                  AND coalesce(p.rightful_target = 'true', false) AS rightful,
                coalesce(p.kind, 'unknown') AS kind
            FROM drawn d
            LEFT JOIN truth_records r ON r.register = d.recipient AND r.record_id = d.record_id
            LEFT JOIN truth_people p ON p.person_id = d.person_id
            ORDER BY d.disclosure_id"""
        ).fetchall()
    finally:
        con.close()
    note = (
        "SIMULATED auditor (demo; answers from the scenario's ground truth, not a person's check)"
    )
    verdicts: list[tuple[str, str, str | None]] = [
        (ref, "correct" if rightful else "wrong",
         f"{note}: " + ("the record is theirs and they may be shared about" if rightful
                        else f"not their record, or they must not be shared about ({kind})"))
        for ref, rightful, kind in judged
    ]  # fmt: skip
    audit.record(url, sample_id, verdicts, AUDITOR)
    return audit.estimate(url, sample_id)


# --- whose subject access reports ------------------------------------------------------------


def _people_of_interest(url: str, scenario: Scenario) -> dict[str, str]:
    """A Windrush-cohort person known to the pool, and an overstayer (else a person whose
    decision was overturned) with a recalled disclosure."""
    known = _text_rows(url, ("person_id", "status"), "SELECT person_id, status FROM pool_entries")
    recalled = _text_rows(
        url, ("person_id", "remedy_status"), "SELECT person_id, remedy_status FROM recalls"
    )
    con = connect()
    try:
        con.register("known", known)
        con.register(DisclosureStatus.RECALLED, recalled)
        _truth_views(con, scenario)
        con.execute("CREATE TABLE ppl AS SELECT * FROM truth_people")
        windrush = con.execute(
            "SELECT p.person_id FROM ppl p JOIN known k USING (person_id) "
            "WHERE p.kind = 'windrush' ORDER BY p.person_id LIMIT 1"
        ).fetchall()
        overstayer = con.execute(
            "SELECT p.person_id FROM ppl p JOIN recalled r USING (person_id) "
            "WHERE p.kind IN ('overstayer', 'overturned') "
            "ORDER BY p.kind = 'overstayer' DESC, "
            f"r.remedy_status = {sql_word(RemedyStatus.OUTSTANDING)} DESC, "
            "p.person_id LIMIT 1"
        ).fetchall()
    finally:
        con.close()
    chosen: dict[str, str] = {}
    if windrush:
        chosen["windrush"] = windrush[0][0]
    if overstayer:
        chosen[DisclosureStatus.RECALLED] = overstayer[0][0]
    return chosen


# --- users to sign in with ------------------------------------------------------------------

# (username, role, recipient body): two reviewers, so that four eyes can be seen at work.
STAFF = (
    ("reviewer-a", "reviewer", None),
    ("reviewer-b", "reviewer", None),
    ("caseworker", "caseworker", None),
    ("auditor", "auditor", None),
    ("admin", "admin", None),
    *((f"recipient-{r}", "recipient", r) for r in REGISTERS),
)


def demo_users(url: str, subjects: dict[str, str]) -> list[DemoUser]:
    """A user for each role (a recipient user for each body, a subject for each person
    whose letter the demo wrote), each with a password made now.

    A user left by an earlier demo on the same database gets a new password.
    """
    wanted: list[tuple[str, str, str | None, str | None]] = [
        (name, role, recipient, None) for name, role, recipient in STAFF
    ]
    wanted += [(f"subject-{label}", "subject", None, person) for label, person in subjects.items()]
    known = {u.username for u in identity.list_users(url)}
    made: list[DemoUser] = []
    for name, role, recipient, person in wanted:
        password = secrets.token_urlsafe(12)
        if name in known:
            identity.set_password(url, name, password, actor=ACTOR)
        else:
            identity.add_user(
                url, name, role, recipient=recipient, person_id=person, password=password,
                display_name=f"{name} (demo)", actor=ACTOR,
            )  # fmt: skip
        made.append(DemoUser(name, role, recipient or person or "", password))
    return made


# --- the whole story -------------------------------------------------------------------------


def run_demo(out: Path, database: str | None = None, progress: Progress = _silent) -> DemoResult:
    """Run the whole story into ``out``; returns where everything is and the headline."""
    out = Path(out)
    clock = time.perf_counter()
    result = DemoResult(out=out, database="")

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.seconds[stage] = now - clock
        clock = now

    progress("synthesise", f"{PEOPLE:,} people, seed {SEED}, as of {AS_OF.isoformat()}")
    url = _prepare(out, database)
    result.database = url
    scenario = synthesise(out / "scenario", PEOPLE, SEED, AS_OF)
    # The key's path is kept with the database, so that serving it finds the key too.
    key = initialise(url, out / "ledger.key").key
    result.key = key
    result.outputs |= {"scenario": scenario.out, "database": out / "accord.db", "key": key}
    if database is not None:
        del result.outputs["database"]
    lap("synthesise")

    progress("run", "admission, linkage, gate, disclosure, ledger")
    inputs = RunInputs(
        cases=scenario.cases, registers=scenario.registers, agreements=scenario.agreements,
        as_of=AS_OF, out=out / "run", key=key, actor=ACTOR,
    )  # fmt: skip
    summary = run_cycle(url, inputs, lambda m: progress("run", m))
    # The impact simulation judges this very run, as it stood before anyone reviewed it,
    # against the naive process on the same scenario (`accord simulate` runs it afresh).
    progress("run", "judging the run and the naive process against the truth")
    sim = compare(scenario, url, summary["pool"], AS_OF)
    result.outputs["run"] = out / "run"
    result.figures["run"] = {
        "pool": summary["pool"],
        "disclosed": sum(a["disclosed"] for a in summary["agreements"].values()),
        "review_queue": summary["review_queue"],
    }
    lap("run")

    progress("review", "simulated reviewers work the queue")
    tally = simulated_review(url, scenario, AS_OF, key, SEED, progress)
    result.figures["simulated_review"] = {
        "items": tally.items,
        ItemStatus.APPROVED: tally.approved, ItemStatus.REJECTED: tally.rejected,
        "outcomes_against_truth": tally.wrong, "error_rate_per_reviewer": REVIEWER_ERROR,
        "reviewers": list(REVIEWERS),
    }  # fmt: skip
    lap("review")

    progress("act", "recipients act on what they received")
    acted = recipients_act(url, AS_OF + ACT_AFTER)
    events = formats.load(scenario.events, "events")
    latest = max(events.column("event_date").to_pylist(), default=AS_OF)
    end = latest + REPORT_AFTER  # the demo's last day: its report and letters are as of it
    result.figures["calendar"] = {
        "run": AS_OF.isoformat(), "recipients_act": (AS_OF + ACT_AFTER).isoformat(),
        "events": f"{min(events.column('event_date').to_pylist(), default=AS_OF).isoformat()}"
        f" to {latest.isoformat()}", "report_and_letters": end.isoformat(),
    }  # fmt: skip
    progress("events", f"{events.num_rows:,} later facts: recall, freeze, re-review")
    applied = apply_events_by_day(url, events, str(scenario.events), key)
    reversed_ = recipients_reverse(url, SEED)
    remedies = outstanding(url, end)
    result.figures["remedies"] = {
        "actions_recorded": acted, "events_applied": applied.applied,
        "recalls": len(applied.recalls), "frozen": len(applied.frozen),
        "review_items_opened": len(applied.review_items), "reversals": reversed_,
        "outstanding": len(remedies),
    }  # fmt: skip
    lap("actions and events")

    progress("audit", "a simulated auditor checks a sample of the disclosures in force")
    checked = simulated_audit(url, scenario, SEED)
    o = checked.overall
    result.figures["simulated_audit"] = {
        "sample_id": checked.sample_id, "auditor": AUDITOR, "checked": o.verified,
        "wrong": o.wrong, "population": o.population,
        "error_rate": rates.format_rate(o.rate, o.low, o.high, per=rates.PERCENT),
    }  # fmt: skip
    lap("audit")

    progress("subject access", "reports for a Windrush-cohort person and a recalled one")
    sar_dir = out / "subject-access"
    sar_dir.mkdir(exist_ok=True)
    private = signing.load_private_key(key)
    people = _people_of_interest(url, scenario)
    for label, person in people.items():
        for fmt in ("html", "pdf", "json"):
            _, data = produce(
                url, person, produced_by=ACTOR, output_format=fmt, as_of=end, key=private
            )
            path = sar_dir / f"{person}.{fmt}"
            path.write_bytes(data)
            result.outputs[f"subject access ({label}, {fmt})"] = path
    result.figures["subject_access"] = people
    lap("subject access")

    progress("simulate", "the naive process and Accord's run, side by side")
    result.simulation = sim
    (out / "simulation.json").write_text(
        json.dumps(sim.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "simulation.html").write_text(simulation_page(sim), encoding="utf-8")
    result.outputs["simulation"] = out / "simulation.json"
    result.outputs["simulation (html)"] = out / "simulation.html"
    lap("simulate")

    progress("report", "the oversight report")
    report = write_report(url, out / "report.html", end)
    result.outputs["report"] = report.path
    result.figures["report_charts"] = list(report.charts)
    lap("report")

    progress("users", "a user for each role, to sign in to `accord serve` with")
    result.users = demo_users(url, people)
    lap("users")

    progress("verify", "recomputing the ledger")
    with db.connect(url) as conn:
        check = log.verify(conn, signing.load_public_key(key))
    if not check.ok:
        raise AccordError(f"the demo's ledger failed its check: {check.first_problem}")
    result.figures["ledger"] = {
        "leaves": check.leaves, "disclosures": check.disclosures, "recalls": check.recalls,
        "heads": check.heads, "root": check.root.hex(), "intact": True,
    }  # fmt: skip
    lap("verify")
    (out / MARKER).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    result.outputs["summary"] = out / MARKER
    return result
