"""The plan of one `accord run`: its steps in order, with the tables each reads and writes.

:func:`run_plan` lays a run out for :func:`accord.compute.execute`: admission decides the
pool; two SQL steps name the pool's standing and the people admitted; the gate's inputs
are declared and filled from governance state; each register is read, checked and
linked in its turn; the gate decides every candidate and every score (SQL steps of
:mod:`accord.gate`); reviews are queued, items a trusted pattern lets go are released,
and what may go automatically is disclosed; a last SQL step counts, per agreement, what
happened.  :class:`RunState` is what the steps share: the run's database connection and
inputs, and what each step found for the summary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, update

from accord import admission, formats, gate, scores
from accord.clock import business_time
from accord.compute import Plan, Step, Table, Task, Workspace
from accord.disclosure import disclose
from accord.drafts import drafts as draft
from accord.gate_inputs import agreements_table, governance_inputs, score_inputs
from accord.linkage import proposals
from accord.matching import ADMITTED_PEOPLE, LINKED_FIELDS, link_register
from accord.policy.agreement import Agreement
from accord.policy.firewall import PERSON_STATE, STATE_CASES
from accord.policy.policy import Policy
from accord.remedy import by_reason, withdraw_and_recall
from accord.review_queue import queue_reviews, queue_score_reviews
from accord.store.models import Run
from accord.vocab import AgreementStatus, PoolStatus

Progress = Callable[[str], None]

# The run's own tables, besides the gate's (accord.gate.INPUTS, GATE, SCORE_GATE).
STATE = Table(PERSON_STATE)  # one row per person (accord.admission.derive_person_state)
STATE_ROWS = Table(STATE_CASES)  # the case rows each person's state came from
POOL_NEW = Table("pool_new")  # the pool admission decided, with what changed
POOL_STATUS = Table("pool_status")  # person_id, status: each person's standing now
ADMITTED = Table(ADMITTED_PEOPLE)  # person_id of everyone admitted


@dataclass
class RunState:
    """What the steps of one run share, and what they found for its summary."""

    conn: Connection
    run_id: str
    as_of: dt.date
    actor: str
    policy: Policy
    agreements: list[Agreement]
    versions: dict[str, int]
    cases: pa.Table
    cases_source: str
    registers: dict[str, tuple[Path, str]]  # name -> (file, the source the run records)
    digests: dict[str, str]  # every input's SHA-256, the registers' added as they are read
    progress: Progress
    announce: Progress
    admitted: admission.AdmissionResult | None = None
    withdrawn: list[str] = field(default_factory=list)
    lapsed: int = 0
    released: int = 0

    @property
    def sharing(self) -> list[Agreement]:
        return [a for a in self.agreements if a.status != AgreementStatus.DRAFT]


def _admit(run: RunState, ws: Workspace) -> None:
    def recall_withdrawn(c: Connection, people: list[tuple[str, str]]) -> int:
        run.withdrawn.extend(person for person, _ in people)
        grouped = dict(sorted(by_reason(people).items()))
        return len(withdraw_and_recall(c, grouped, run.actor, run.as_of).recalls)

    run.admitted = admission.admit_in(
        run.conn, ws.con, run.as_of, run.run_id, run.cases, run.policy, run.actor,
        run.cases_source, on_withdrawn=recall_withdrawn,
    )  # fmt: skip


def _recall_lapsed(run: RunState, ws: Workspace) -> None:
    run.lapsed = len(scores.recall_lapsed(run.conn, run.as_of, run.actor))


def _gate_inputs(run: RunState, ws: Workspace) -> None:
    ws.declare(*gate.INPUTS)
    agreements_table(ws, [(a, run.versions[a.id]) for a in run.agreements], run.policy)
    governance_inputs(run.conn, ws, run.policy, run.as_of)
    score_inputs(run.conn, ws, run.agreements, run.policy, run.as_of)


def _register(name: str, run: RunState, ws: Workspace) -> None:
    """Read and check one register, and link it if an agreement in force shares with it."""
    path, source = run.registers[name]
    opened = formats.open_file(ws.con, path, "register", digest=True)
    assert opened.sha256 is not None  # a register is a file: it was hashed
    run.digests[source] = opened.sha256
    mine = [a for a in run.sharing if a.recipient == name]
    if mine:
        run.progress(f"{name}: linking {opened.rows:,} register records")
        link_register(
            run.conn, ws.con, run.policy, name,
            functools.partial(opened.to_arrow, list(LINKED_FIELDS)), opened.sha256, mine,
            run.run_id, run.progress, run.announce,
        )  # fmt: skip
    opened.close()


def _record_inputs(run: RunState, ws: Workspace) -> None:
    run.conn.execute(update(Run).where(Run.run_id == run.run_id).values(inputs=run.digests))


def _act(run: RunState, ws: Workspace) -> None:
    """Queue reviews, release what trusted patterns let go, disclose what may go."""
    at = business_time(run.as_of)  # as of the run's day (accord.clock), not the wall clock's
    queued = queue_reviews(run.conn, ws.con, run.run_id, at)
    queued += queue_score_reviews(run.conn, ws.con, run.run_id, at)
    run.released = proposals.release_trusted(run.conn, ws.con, run.actor, at)
    drafts = draft(ws.con, run.policy, None)
    run.progress(f"disclosing {len(drafts):,}, queueing {queued:,} for review")
    disclose(run.conn, drafts, at, run.run_id)


def run_plan(run: RunState) -> Plan:
    """Every step of one run, in order."""
    bind = functools.partial
    plan = Plan().add(
        Task("admission", bind(_admit, run), writes=(STATE, STATE_ROWS, POOL_NEW),
             says="admission: deciding the pool"),
        Step("pool status", "SELECT person_id, status FROM pool_new", POOL_STATUS, (POOL_NEW,)),
        Step("admitted people", "SELECT person_id FROM pool_new WHERE status = ?", ADMITTED,
             (POOL_NEW,), [PoolStatus.ADMITTED.value]),
        Task("lapsed scores", bind(_recall_lapsed, run)),
        Task("gate inputs", bind(_gate_inputs, run), reads=(STATE, POOL_STATUS),
             writes=gate.INPUTS),
    )  # fmt: skip
    for name in run.registers:
        plan.add(
            Task(f"register {name}", bind(_register, name, run),
                 reads=(STATE, STATE_ROWS, ADMITTED, gate.CANDIDATES),
                 writes=(gate.CANDIDATES,), says=f"{name}: reading and checking the register")
        )  # fmt: skip
    gate_step = gate.decide_step(gate.GateSettings(run.as_of, run.policy.long_residence_years))
    return plan.add(
        Task("record inputs", bind(_record_inputs, run)),
        dataclasses.replace(gate_step, says="gate: deciding every candidate"),
        gate.decide_scores_step(),
        Task("act", bind(_act, run), reads=(gate.GATE, gate.SCORE_GATE, gate.AGREEMENTS,
                                            gate.CANDIDATES, STATE, STATE_ROWS)),
        gate.counts_step(),
    )  # fmt: skip


def summary_counts(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Per agreement, what happened to its records and scores (``gate.counts_step``)."""
    cur = ws.con.execute(f"SELECT * FROM {gate.COUNTS} ORDER BY agreement_id")
    names = [d[0] for d in cur.description or ()][1:]
    return {r[0]: dict(zip(names, (int(x) for x in r[1:]), strict=True)) for r in cur.fetchall()}
