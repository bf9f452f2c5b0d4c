"""`accord simulate`: the impact assessment a data protection officer needs before an
agreement touches a real person.

On a scenario with ground truth (from `accord synth`) it runs two processes side by side:

* the **naive** process of 2012-2018 (`accord.synth.truth.naive_disclosures`): every refusal
  enters the pool, an exact name and date of birth decide who a record belongs to, and
  everything is shared;
* **Accord's** process: one whole `accord run` (`accord.cycle.run_cycle`) in a throwaway
  database, whose automatic disclosures go to recipients and whose uncertain matches wait
  for a person.

Every disclosure is judged against the truth.  It is *rightful* when the record is the
person's own and the person is a rightful target (an overstayer); otherwise it is wrongful,
and is put in one category: someone else's record (a *namesake* with the same name and date
of birth, a *near namesake* one day off, or *another record*), or the person's own record
but a person who should never have been shared about (procedural refusal, appeal pending,
Windrush cohort, departed, has leave, overturned).

People whose decision is overturned by an event *after* the run (kind ``overturned``) were
indistinguishable from overstayers on the day: a disclosure about them is wrongful once the
event arrives, and Accord recalls it then.  They are counted as wrongful in every total and
shown apart as ``later_overturned``; the rate "known at the run" leaves them out, because
no process could have known.  Rates are per 10,000 disclosures made, each with its 95%
Wilson interval and rounded once (`accord.rates`): 0 wrongful of 351 is "0.0 per 10,000
(95% interval 0.0 to 108.3)", not a promise of none.

Recipients act on what they are sent (a licence revoked, an account closed: the scenario's
registers are calibrated so that each disclosure is one action), so a wrongful disclosure
avoided is a wrongful action avoided.
"""

from __future__ import annotations

import datetime as dt
import html
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import func, select

from accord.cases import read_arrow
from accord.cycle import RunInputs, run_cycle
from accord.errors import AccordError, InvalidInput
from accord.ledger import signing
from accord.rates import PERCENT, Rate
from accord.rights import explain
from accord.store import db
from accord.store.models import ReviewItem, Run
from accord.synth import REGISTERS, Scenario
from accord.synth.mix import NOT_TARGET
from accord.synth.truth import load_truth, naive_disclosures
from accord.synth.writer import connect
from accord.vocab import MATCH_KINDS, REVIEW_KINDS, ItemStatus, sql_in, sql_word

Progress = Callable[[str], None]

PROCESSES = ("naive", "accord")
# Wrongful disclosures, by what made them wrongful (in the order a reader meets them).
WRONG_PERSON = ("namesake", "near_namesake", "other_record")
CATEGORIES = (*WRONG_PERSON, *NOT_TARGET)
CATEGORY_WORDS = {
    "namesake": "someone else's record: same name and date of birth",
    "near_namesake": "someone else's record: same name, date of birth a day off",
    "other_record": "someone else's record: another look-alike",
    "procedural_refusal": "refused for a procedural reason (fee, form), leave still running",
    "appeal_pending": "appeal pending or still in time",
    "windrush": "Windrush cohort: here lawfully since before 1973, no record of it",
    "departed": "departure recorded",
    "has_leave": "holds leave",
    "overturned": "decision overturned after the run (later overturned)",
}
PER = 10_000


def per_10k(part: int, whole: int) -> float:
    """``part`` per 10,000 of ``whole``; 0 when there is no whole."""
    return PER * part / whole if whole else 0.0


@dataclass(frozen=True)
class Counts:
    """One process's figures for one recipient (or ``all``)."""

    disclosed: int = 0
    rightful: int = 0
    wrongful: int = 0
    later_overturned: int = 0
    wrongful_by: Mapping[str, int] = field(default_factory=dict)
    possible: int = 0  # rightful cases the recipient holds (records of rightful targets)
    found_disclosed: int = 0  # rightful cases disclosed
    found_in_review: int = 0  # rightful cases waiting in review (not also disclosed)
    in_review: int = 0  # match items waiting for a person
    wrongful_in_review: int = 0  # of those, matches a correct reviewer would reject
    wrongful_avoided: int = 0  # the naive process's wrongful disclosures not made

    @property
    def wrongful_known_at_run(self) -> int:
        return self.wrongful - self.later_overturned

    @property
    def per_10k(self) -> float:
        """Wrongful disclosures per 10,000 disclosures made (later overturned included)."""
        return per_10k(self.wrongful, self.disclosed)

    @property
    def per_10k_at_run(self) -> float:
        """The same, leaving out those overturned after the run (nobody could know)."""
        return per_10k(self.wrongful_known_at_run, self.disclosed)

    @property
    def rate(self) -> Rate:
        """Wrongful per 10,000 disclosures made, with its interval (later overturned included)."""
        return Rate(self.wrongful, self.disclosed)

    @property
    def rate_at_run(self) -> Rate:
        """The same known at the run, with its interval."""
        return Rate(self.wrongful_known_at_run, self.disclosed)

    @property
    def found(self) -> int:
        return self.found_disclosed + self.found_in_review

    @property
    def found_rate(self) -> Rate:
        """Rightful cases found, as a percentage of those possible, with its interval."""
        return Rate(self.found, self.possible, PERCENT)

    @property
    def found_share(self) -> float:
        """Rightful cases found (disclosed or waiting in review) as a share of those possible."""
        return self.found / self.possible if self.possible else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "disclosed": self.disclosed,
            "rightful": self.rightful,
            "wrongful": self.wrongful,
            "wrongful_known_at_run": self.wrongful_known_at_run,
            "later_overturned": self.later_overturned,
            "wrongful_by": dict(self.wrongful_by),
            "wrongful_per_10000": self.rate.to_json(),
            "wrongful_per_10000_known_at_run": self.rate_at_run.to_json(),
            "possible": self.possible,
            "found": self.found,
            "found_disclosed": self.found_disclosed,
            "found_in_review": self.found_in_review,
            "found_percent": self.found_rate.to_json(),
            "in_review": self.in_review,
            "wrongful_in_review": self.wrongful_in_review,
            "wrongful_avoided": self.wrongful_avoided,
        }


@dataclass(frozen=True)
class Simulation:
    """Both processes' figures, per recipient and for ``all`` recipients together."""

    scenario: Path
    people: int
    seed: int
    as_of: dt.date
    processes: Mapping[str, Mapping[str, Counts]]  # process -> recipient|all -> Counts
    review_workload: Mapping[str, int]  # Accord's open review items by kind
    pool: Mapping[str, Any]  # Accord's pool summary from the run

    def headline(self) -> dict[str, Rate]:
        """Wrongful disclosures per 10,000 disclosures made, under each process, known at
        the run and with later overturned: the very rates of the ``all`` rows."""
        return {
            f"{p}{suffix}": getattr(self.processes[p]["all"], attr)
            for p in PROCESSES
            for suffix, attr in (("", "rate"), ("_known_at_run", "rate_at_run"))
        }

    def headline_words(self) -> str:
        """The headline as one sentence, every rate with its interval and counts."""
        h = self.headline()
        return (
            "Wrongful disclosures per 10,000 disclosures made, known at the run: naive "
            f"process {h['naive_known_at_run'].text()}, Accord {h['accord_known_at_run'].text()}"
            f"; counting decisions overturned after the run: naive {h['naive'].text()}, "
            f"Accord {h['accord'].text()}."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": str(self.scenario),
            "people": self.people,
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "denominator": "per 10,000 disclosures made by the process",
            "interval": "95% Wilson score interval (accord.rates)",
            "headline_wrongful_per_10000": {k: r.to_json() for k, r in self.headline().items()},
            "processes": {
                p: {r: c.to_json() for r, c in by.items()} for p, by in self.processes.items()
            },
            "review_workload": dict(self.review_workload),
            "accord_pool": dict(self.pool),
            "categories": CATEGORY_WORDS,
        }

    def to_html(self) -> str:
        """A small self-contained HTML section: the headline and the per-recipient table."""
        e = html.escape
        h = self.processes
        rows = []
        for r in (*REGISTERS, "all"):
            for p in PROCESSES:
                c = h[p][r]
                rows.append(
                    f"<tr><td>{e(r)}</td><td>{e(p)}</td><td>{c.disclosed:,}</td>"
                    f"<td>{c.rightful:,}</td><td>{c.wrongful_known_at_run:,}</td>"
                    f"<td>{c.later_overturned:,}</td>"
                    f"<td>{e(c.rate_at_run.text(counts=False, compact=True))}</td>"
                    f"<td>{e(c.rate.text(counts=False, compact=True))}</td>"
                    f"<td>{c.found:,} of {c.possible:,}: "
                    f"{e(c.found_rate.text(counts=False, compact=True))}</td>"
                    f"<td>{c.in_review:,}</td><td>{c.wrongful_avoided:,}</td></tr>"
                )
        kinds = "".join(
            f"<tr><td>{e(CATEGORY_WORDS[k])}</td><td>{h['naive']['all'].wrongful_by.get(k, 0):,}"
            f"</td><td>{h['accord']['all'].wrongful_by.get(k, 0):,}</td></tr>"
            for k in CATEGORIES
        )
        work = e(explain.workload_words(self.review_workload))
        head = self.headline()
        return f"""<section id="simulation">
<h2>Impact simulation: the naive process and Accord's, side by side</h2>
<p>Scenario {e(str(self.scenario))}: {self.people:,} people, seed {self.seed}, as of
{self.as_of.isoformat()}. Wrongful disclosures per 10,000 disclosures made, known at the
run: naive <strong id="head-naive-at-run">{e(head["naive_known_at_run"].text())}</strong>,
Accord <strong id="head-accord-at-run">{e(head["accord_known_at_run"].text())}</strong>;
counting people whose decision was overturned after the run: naive
<span id="head-naive">{e(head["naive"].text())}</span>, Accord
<span id="head-accord">{e(head["accord"].text())}</span>.</p>
<p>Each rate is shown with its 95% interval (Wilson score): the range of true rates that
could well have given the counts seen. A rate of 0 on a few hundred disclosures is not a
promise of none: its interval says how many there could be.</p>
<table><thead><tr><th>recipient</th><th>process</th><th>disclosed</th><th>rightful</th>
<th>wrongful (known at run)</th><th>later overturned</th>
<th>per 10,000 at run (95% interval)</th><th>per 10,000 all (95% interval)</th>
<th>rightful cases found (95% interval)</th><th>in review</th>
<th>wrongful avoided</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<table><thead><tr><th>wrongful disclosures, by kind of person</th><th>naive</th>
<th>Accord</th></tr></thead><tbody>{kinds}</tbody></table>
<p>Accord's review workload: {work}.</p>
</section>
"""


def simulation_page(sim: Simulation) -> str:
    """A self-contained HTML page holding the simulation's section."""
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        "<title>Accord impact simulation</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #999;padding:.2em .5em;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style>"
        f"<body>{sim.to_html()}</body></html>\n"
    )


# --- judging disclosures against the truth ----------------------------------------------------


def _judge(
    scenario: Path, naive: pa.Table, disclosed: pa.Table, review: pa.Table
) -> dict[str, dict[str, Counts]]:
    """Every process's figures, per recipient, in a handful of set-based queries.

    ``naive`` and ``disclosed`` have (recipient, record_id, person_id); ``review`` the same
    for Accord's match items waiting for a person.
    """
    con = connect()
    try:
        for name, table in (("naive_src", naive), ("auto_src", disclosed), ("rev_src", review)):
            con.register(name, table.select(["recipient", "record_id", "person_id"]))
        con.execute(
            """CREATE TEMP TABLE d AS
            SELECT DISTINCT 'naive' AS process, recipient::VARCHAR AS recipient,
                   record_id::VARCHAR AS record_id, person_id::VARCHAR AS person_id,
                   false AS in_review FROM naive_src
            UNION ALL
            SELECT DISTINCT 'accord', recipient, record_id, person_id, false FROM auto_src
            UNION ALL
            SELECT DISTINCT 'accord', r.recipient, r.record_id, r.person_id, true
            FROM rev_src r ANTI JOIN auto_src a USING (recipient, record_id, person_id)"""
        )
        load_truth(con, scenario)
        con.execute(
            """CREATE TEMP TABLE j AS
            SELECT d.*, r.record_id IS NOT NULL AS known_record, p.person_id IS NOT NULL
                   AS known_person, r.person_id IS NOT DISTINCT FROM d.person_id AS own,
                   coalesce(p.rightful_target = 'true', false) AS target,
                   coalesce(r.trap, 'none') AS trap, p.kind
            FROM d LEFT JOIN rec r ON r.register = d.recipient AND r.record_id = d.record_id
            LEFT JOIN ppl p ON p.person_id = d.person_id"""
        )
        bad = con.execute(
            """SELECT recipient, record_id, person_id, known_record FROM j
            WHERE NOT known_record OR NOT known_person ORDER BY ALL LIMIT 1"""
        ).fetchall()
        if bad:
            reg, rid, pid, known_record = bad[0]
            what = f"record {rid!r} in register {reg!r}" if not known_record else f"person {pid!r}"
            raise AccordError(f"the scenario at {scenario} holds no {what}: wrong scenario?")
        con.execute(
            """CREATE TEMP TABLE judged AS SELECT *, own AND target AS rightful,
            CASE WHEN own AND target THEN 'rightful'
                 WHEN NOT own AND trap IN ('namesake', 'near_namesake') THEN trap
                 WHEN NOT own THEN 'other_record'
                 ELSE kind END AS category FROM j"""
        )
        per_recipient = con.execute(
            """SELECT process, recipient,
                count(*) FILTER (WHERE NOT in_review),
                count(*) FILTER (WHERE NOT in_review AND rightful),
                count(*) FILTER (WHERE NOT in_review AND NOT rightful),
                count(*) FILTER (WHERE NOT in_review AND category = 'overturned'),
                count(*) FILTER (WHERE in_review),
                count(*) FILTER (WHERE in_review AND rightful),
                count(*) FILTER (WHERE in_review AND NOT rightful)
            FROM judged GROUP BY ALL"""
        ).fetchall()
        by_category = con.execute(
            """SELECT process, recipient, category, count(*) FROM judged
            WHERE NOT in_review AND NOT rightful GROUP BY ALL"""
        ).fetchall()
        possible = dict(
            con.execute(
                """SELECT r.register, count(*) FROM rec r JOIN ppl p USING (person_id)
                WHERE p.rightful_target = 'true' GROUP BY ALL"""
            ).fetchall()
        )
        avoided = dict(
            con.execute(
                """SELECT n.recipient, count(*) FROM judged n
                WHERE n.process = 'naive' AND NOT n.rightful AND NOT EXISTS (
                    SELECT 1 FROM judged a WHERE a.process = 'accord' AND NOT a.in_review
                    AND a.recipient = n.recipient AND a.record_id = n.record_id
                    AND a.person_id = n.person_id) GROUP BY ALL"""
            ).fetchall()
        )
    except duckdb.Error as exc:
        raise AccordError(f"cannot judge disclosures against {scenario}: {exc}") from exc
    finally:
        con.close()
    wrongful_by: dict[tuple[str, str], dict[str, int]] = {}
    for process, recipient, category, n in by_category:
        wrongful_by.setdefault((process, recipient), dict.fromkeys(CATEGORIES, 0))[category] = n
    found = {(row[0], row[1]): row[2:] for row in per_recipient}
    result: dict[str, dict[str, Counts]] = {}
    for process in PROCESSES:
        by: dict[str, Counts] = {}
        for r in REGISTERS:
            d, right, wrong, over, rev, rev_right, rev_wrong = found.get((process, r), (0,) * 7)
            by[r] = Counts(
                disclosed=int(d),
                rightful=int(right),
                wrongful=int(wrong),
                later_overturned=int(over),
                wrongful_by=wrongful_by.get((process, r), dict.fromkeys(CATEGORIES, 0)),
                possible=int(possible.get(r, 0)),
                found_disclosed=int(right),
                found_in_review=int(rev_right),
                in_review=int(rev),
                wrongful_in_review=int(rev_wrong),
                wrongful_avoided=int(avoided.get(r, 0)) if process == "accord" else 0,
            )
        by["all"] = _total(list(by.values()))
        result[process] = by
    return result


def _total(parts: list[Counts]) -> Counts:
    def add(name: str) -> int:
        return sum(int(getattr(c, name)) for c in parts)

    return Counts(
        disclosed=add("disclosed"),
        rightful=add("rightful"),
        wrongful=add("wrongful"),
        later_overturned=add("later_overturned"),
        wrongful_by={k: sum(c.wrongful_by.get(k, 0) for c in parts) for k in CATEGORIES},
        possible=add("possible"),
        found_disclosed=add("found_disclosed"),
        found_in_review=add("found_in_review"),
        in_review=add("in_review"),
        wrongful_in_review=add("wrongful_in_review"),
        wrongful_avoided=add("wrongful_avoided"),
    )


# --- Accord's side: one run in a database of its own ------------------------------------------


def _silent(_: str) -> None:
    return None


@contextmanager
def _workspace(url: str | None) -> Iterator[tuple[str, Path]]:
    """A database and a folder for the simulation's run; throwaway unless ``url`` is given."""
    with tempfile.TemporaryDirectory(prefix="accord-simulate-") as tmp:
        work = Path(tmp)
        chosen = url or f"sqlite:///{work / 'simulate.db'}"
        prepare_empty(
            chosen,
            "a simulation needs an empty database of its own "
            "(leave --database out for a throwaway one)",
        )
        yield chosen, work


def prepare_empty(url: str, needs: str) -> None:
    """Bring ``url``'s schema up to date, and refuse it if it already holds a run: the
    simulation and the demo each need a database of their own (``needs`` says so)."""
    db.upgrade(url)
    with db.connect(url) as conn:
        runs = int(conn.scalar(select(func.count()).select_from(Run)) or 0)
    if runs:
        raise InvalidInput("database", f"{db.describe(url)} already holds {runs} run(s): {needs}")


def accord_outcome(url: str) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    """From a database just after a run: its disclosures, the match items waiting for a
    person (both as recipient, record_id, person_id) and open review items by kind."""
    text = pa.string()
    cols = {"recipient": text, "record_id": text, "person_id": text}
    with db.connect(url) as conn:
        disclosed = read_arrow(
            conn, "SELECT recipient, record_id, person_id FROM disclosures", cols
        )
        review = read_arrow(
            conn,
            "SELECT a.recipient, r.record_id, r.person_id FROM review_items r "
            "JOIN agreements a ON a.agreement_id = r.agreement_id "
            f"WHERE r.status = {sql_word(ItemStatus.OPEN)} AND r.kind IN {sql_in(MATCH_KINDS)} "
            "AND r.record_id IS NOT NULL",
            cols,
        )
        workload = dict.fromkeys(REVIEW_KINDS, 0) | {
            str(k): int(n)
            for k, n in conn.execute(
                select(ReviewItem.kind, func.count())
                .where(ReviewItem.status == ItemStatus.OPEN)
                .group_by(ReviewItem.kind)
                .order_by(ReviewItem.kind)
            )
        }
    return disclosed, review, workload


def compare(
    scenario: Scenario,
    url: str,
    pool: Mapping[str, Any],
    as_of: dt.date,
    naive: pa.Table | None = None,
) -> Simulation:
    """Judge Accord's run in ``url`` (as it stands just after the run) and the naive
    process against the scenario's truth.  ``pool`` is the run's pool summary."""
    disclosed, review, workload = accord_outcome(url)
    if naive is None:
        naive = naive_disclosures(scenario.out)
    return Simulation(
        scenario=scenario.out,
        people=scenario.people,
        seed=scenario.seed,
        as_of=as_of,
        processes=_judge(scenario.out, naive, disclosed, review),
        review_workload=workload,
        pool=pool,
    )


def simulate(
    scenario_dir: Path,
    *,
    as_of: dt.date | None = None,
    database: str | None = None,
    progress: Progress = _silent,
) -> Simulation:
    """Run both processes on the scenario and judge every disclosure against its truth."""
    scenario = Scenario.load(Path(scenario_dir))
    when = as_of or scenario.as_of
    progress("naive process: every refusal, exact name and date of birth, everything shared")
    naive = naive_disclosures(scenario.out)
    with _workspace(database) as (url, work):
        key = work / "simulate-ledger.key"
        signing.load_or_create_key(key)
        inputs = RunInputs(
            cases=scenario.cases,
            registers=scenario.registers,
            agreements=scenario.agreements,
            as_of=when,
            out=work / "run",
            key=key,
            actor="accord simulate",
        )
        summary = run_cycle(url, inputs, lambda m: progress(f"Accord's process: {m}"))
        progress("judging every disclosure against the truth")
        return compare(scenario, url, summary["pool"], when, naive)
