"""One whole sharing cycle, `accord run`: admission, linkage, gate, disclosure, ledger, batches.

The cases file, every agreement (a firewall breach stops the run) and the policy are read
and checked before anything is written, and each register is found.  Then one database
transaction does the whole cycle, so a crash leaves the database as it was.  Each
register is read and checked when its turn comes, in a DuckDB workspace that spills to
disk (:mod:`accord.workspace`), and dropped once linked: registers of tens of millions
of rows are never all held at once, nor held in the process's memory; a bad one stops
the run there, its transaction rolled back, nothing from it committed.
The output files are written only after it commits, each whole or not at all.  A run
that committed but died before its files were written stays ``disclosed``; the next run
delivers its disclosures in its own batches and marks it delivered, so nothing is lost
and nothing is disclosed twice (disclosure ids are deterministic, and unique per
agreement, record and person).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, func, insert, select, update

from accord import admission, formats, gate, scores
from accord.clock import business_time
from accord.disclosure import disclose
from accord.drafts import drafts as draft
from accord.errors import AccordError
from accord.first_use import initialise
from accord.gate_inputs import agreements_table, governance_inputs, score_inputs
from accord.ledger import signing
from accord.ledger import unit as ledger_unit
from accord.linkage import proposals
from accord.matching import ADMITTED_PEOPLE, LINKED_FIELDS, link_register
from accord.outputs import write_outputs
from accord.policy import firewall, trusted
from accord.policy.agreement import Agreement, load_agreements
from accord.policy.policy import Policy, load_policy
from accord.policy.registry import record_policy, store_agreements
from accord.remedy import by_reason, withdraw_and_recall
from accord.review_queue import queue_reviews, queue_score_reviews
from accord.review_queue import review_item_id as review_item_id  # where tests/test_ids looks
from accord.store import db
from accord.store.models import ReviewItem, Run, utcnow
from accord.vocab import AgreementStatus, ItemStatus, PoolStatus, sql_word
from accord.workspace import workspace

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunInputs:
    cases: Path
    registers: dict[str, Path]
    agreements: Path
    as_of: dt.date
    out: Path
    key: Path
    policy: Path | None = None
    actor: str = "accord run"
    # Inputs read from a private local copy (`accord.uri.fetched`): the copy's path and the
    # URI it came from, which the run records.
    sources: dict[str, str] = field(default_factory=dict)
    # Uploads the outputs written to ``out`` (``--out s3://...``, `accord.uri.output_folder`).
    deliver: Callable[[list[str]], None] | None = None

    def source(self, path: Path) -> str:
        return self.sources.get(str(path), str(path))


def _silent(_: str) -> None:
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _agreement_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per agreement, what happened to its records and its scores together (and scores alone)."""
    open_item = sql_word(ItemStatus.OPEN)
    rows = con.execute(
        f"""
        WITH decided AS (
            SELECT agreement_id, outcome, reasons, settled_state, false AS score FROM gate
            WHERE shares_records
            UNION ALL
            SELECT agreement_id, outcome, reasons, settled_state, true FROM score_gate
        )
        SELECT a.agreement_id,
          count(*) FILTER (WHERE outcome = 'disclose'),
          count(*) FILTER (WHERE outcome = 'review'
                           OR (outcome = 'settled' AND settled_state = {open_item})),
          count(*) FILTER (WHERE outcome = 'blocked'
                           AND list_contains(reasons, '{gate.FIREWALL}')),
          count(*) FILTER (WHERE outcome = 'held'
                           AND (list_contains(reasons, '{gate.AGREEMENT_PAUSED}')
                                OR list_contains(reasons, '{gate.COHORT_PAUSED}'))),
          count(*) FILTER (WHERE outcome = 'held' AND list_contains(reasons, '{gate.FROZEN}')),
          count(*) FILTER (WHERE outcome = 'blocked'),
          count(*) FILTER (WHERE outcome = 'settled' AND settled_state = 'disclosed'),
          count(*) FILTER (WHERE score AND outcome = 'disclose'),
          count(*) FILTER (WHERE score AND (outcome = 'review'
                           OR (outcome = 'settled' AND settled_state = {open_item})))
        FROM agreements a LEFT JOIN decided g USING (agreement_id)
        GROUP BY a.agreement_id ORDER BY a.agreement_id
        """
    ).fetchall()
    names = ("disclosed", "held_for_review", "blocked_by_firewall", "paused", "frozen",
             "blocked", "already_disclosed", "scores_disclosed",
             "scores_held_for_review")  # fmt: skip
    return {r[0]: dict(zip(names, (int(x) for x in r[1:]), strict=True)) for r in rows}


def _read_inputs(
    inputs: RunInputs, progress: Progress
) -> tuple[pa.Table, dict[str, Path], Policy, list[Agreement]]:
    progress("reading and checking inputs")
    cases = formats.load(inputs.cases, "cases")
    registers = dict(sorted(inputs.registers.items()))  # each read when its turn comes
    for path in registers.values():
        formats.reader.require_file(path)
    policy = load_policy(inputs.policy)
    agreements = load_agreements(inputs.agreements)
    for a in agreements:
        firewall.check_agreement(a, policy)
        scores.require_safeguards(a, policy)
    in_use = {a.recipient for a in agreements if a.status != AgreementStatus.DRAFT}
    missing = sorted(in_use - set(registers))
    if missing:
        raise AccordError(
            f"an agreement names recipient {missing[0]!r} but no --register "
            f"{missing[0]}=FILE was given"
        )
    return cases, registers, policy, agreements


def run_cycle(
    url: str, inputs: RunInputs, progress: Progress = _silent, announce: Progress = _silent
) -> dict[str, Any]:
    """Run one sharing cycle and write its outputs; returns ``summary.json``'s content.

    On an absent or empty database (SPEC.md's batch contract alone, with no `accord
    init` before it) the schema and the ledger key are created first, as `accord init`
    would, once the inputs have been read and found good; ``announce`` is told so.
    """
    cases, registers, policy, agreements = _read_inputs(inputs, progress)
    if not db.exists(url) or db.current_revision(url) is None:
        done = initialise(url, inputs.key)
        announce(
            f"{db.describe(url)} held no Accord database: {done.schema_words()}, ledger key "
            f"{done.key} {'created' if done.key_created else 'found'} and kept with it, "
            "as `accord init` would"
        )
    db.require_schema(url)
    signing.require_key(inputs.key)  # refused now, before any work, if it cannot sign
    # The cases file (small) is hashed here; each register as it is read to be checked,
    # when its turn comes (formats.open_file with digest), not in a read of its own.
    digests = {inputs.source(inputs.cases): _sha256(inputs.cases)}
    started = utcnow()
    run_id = f"run-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    room = contextlib.ExitStack()
    con = room.enter_context(workspace())
    try:
        with db.connect(url) as conn, ledger_unit.work(conn, inputs.key) as ledger_work:
            conn.execute(
                insert(Run).values(
                    run_id=run_id, command="run", as_of=inputs.as_of, started_at=started,
                    status="started", inputs=digests,
                )
            )  # fmt: skip
            agreements = trusted.settle(conn, agreements)  # patterns two approvers trusted
            versions = store_agreements(conn, agreements, inputs.actor)
            record_policy(conn, policy, inputs.actor)
            progress("admission: deciding the pool")
            withdrawn: list[str] = []

            def recall_withdrawn(c: Connection, people: list[tuple[str, str]]) -> int:
                withdrawn.extend(person for person, _ in people)
                grouped = dict(sorted(by_reason(people).items()))
                return len(withdraw_and_recall(c, grouped, inputs.actor, inputs.as_of).recalls)

            result = admission.admit_in(
                conn, con, inputs.as_of, run_id, cases, policy, inputs.actor,
                inputs.source(inputs.cases), on_withdrawn=recall_withdrawn,
            )  # fmt: skip
            con.execute(
                "CREATE OR REPLACE TABLE pool_status AS SELECT person_id, status FROM pool_new"
            )
            con.execute(
                f"CREATE OR REPLACE TABLE {ADMITTED_PEOPLE} AS "
                f"SELECT person_id FROM pool_new WHERE status = {sql_word(PoolStatus.ADMITTED)}"
            )
            lapsed = scores.recall_lapsed(conn, inputs.as_of, inputs.actor)
            gate.create_empty_inputs(con)
            in_force = [(a, versions[a.id]) for a in agreements]
            agreements_table(con, in_force, policy)
            governance_inputs(conn, con, policy, inputs.as_of)
            score_inputs(conn, con, agreements, policy, inputs.as_of)
            for name, path in registers.items():
                progress(f"{name}: reading and checking the register")
                opened = formats.open_file(con, path, "register", digest=True)
                assert opened.sha256 is not None  # a register is a file: it was hashed
                digests[inputs.source(path)] = opened.sha256
                mine = [
                    a
                    for a in agreements
                    if a.recipient == name and a.status != AgreementStatus.DRAFT
                ]
                if mine:
                    progress(f"{name}: linking {opened.rows:,} register records")
                    link_register(
                        conn, con, policy, name,
                        functools.partial(opened.to_arrow, list(LINKED_FIELDS)),
                        digests[inputs.source(inputs.registers[name])], mine, run_id, progress,
                        announce,
                    )  # fmt: skip
                opened.close()
            # Every input with its SHA-256 (the registers' found as they were read).
            conn.execute(update(Run).where(Run.run_id == run_id).values(inputs=digests))
            progress("gate: deciding every candidate")
            gate.decide(con, gate.GateSettings(inputs.as_of, policy.long_residence_years))
            gate.decide_scores(con)
            # Queued and disclosed as of the run's day (accord.clock), not the wall clock's.
            at = business_time(inputs.as_of)
            queued = queue_reviews(conn, con, run_id, at)
            queued += queue_score_reviews(conn, con, run_id, at)
            released = proposals.release_trusted(conn, con, inputs.actor, at)
            drafts = draft(con, policy, None)
            progress(f"disclosing {len(drafts):,}, queueing {queued:,} for review")
            disclose(conn, drafts, at, run_id)
            head = ledger_work.signed_head()  # its summary reports it
            open_items = conn.scalar(
                select(func.count())
                .select_from(ReviewItem)
                .where(ReviewItem.status == ItemStatus.OPEN)
            )
            summary: dict[str, Any] = {
                "run_id": run_id,
                "as_of": inputs.as_of.isoformat(),
                "pool": result.summary(),
                "review_queue": int(open_items or 0),
                "agreements": _agreement_counts(con),
                "ledger": {"size": head.size, "root": head.root.hex()},
                "recalled_on_withdrawal": len(withdrawn),
                "scores_recalled": len(lapsed),
                "released_by_trusted_patterns": released,
            }
            conn.execute(
                update(Run)
                .where(Run.run_id == run_id)
                .values(status="disclosed", summary=summary, finished_at=utcnow())
            )
    finally:
        room.close()
    progress("writing outputs")
    batch_fields: dict[str, list[str]] = {name: [] for name in registers}
    for a in agreements:
        if a.recipient in batch_fields:
            batch_fields[a.recipient] += [f for f in a.fields if f not in batch_fields[a.recipient]]
    write_outputs(url, run_id, inputs.out, summary, batch_fields, inputs.deliver)
    return summary
