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

This module only puts a run in order: what each step does lives in its own module, and
the steps inside the transaction are an explicit plan (:func:`accord.run_plan.run_plan`)
that :func:`accord.compute.execute` runs over the declared workspace.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import func, insert, select, update

from accord import formats, scores
from accord.compute import Workspace, execute
from accord.digest import file_sha256
from accord.errors import AccordError
from accord.first_use import initialise
from accord.ledger import signing
from accord.ledger import unit as ledger_unit
from accord.outputs import write_outputs
from accord.policy import firewall, trusted
from accord.policy.agreement import Agreement, load_agreements
from accord.policy.policy import Policy, load_policy
from accord.policy.registry import record_policy, store_agreements
from accord.run_plan import RunState, run_plan, summary_counts
from accord.store import db
from accord.store.models import ReviewItem, Run, utcnow
from accord.vocab import AgreementStatus, ItemStatus
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
    digests = {inputs.source(inputs.cases): file_sha256(inputs.cases)}
    started = utcnow()
    run_id = f"run-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    with (
        workspace() as con,
        db.connect(url) as conn,
        ledger_unit.work(conn, inputs.key) as ledger_work,
    ):
        conn.execute(
            insert(Run).values(
                run_id=run_id, command="run", as_of=inputs.as_of, started_at=started,
                status="started", inputs=digests,
            )
        )  # fmt: skip
        agreements = trusted.settle(conn, agreements)  # patterns two approvers trusted
        versions = store_agreements(conn, agreements, inputs.actor)
        record_policy(conn, policy, inputs.actor)
        run = RunState(
            conn, run_id, inputs.as_of, inputs.actor, policy, agreements, versions, cases,
            inputs.source(inputs.cases),
            {name: (path, inputs.source(path)) for name, path in registers.items()},
            digests, progress, announce,
        )  # fmt: skip
        ws = Workspace(con)
        execute(run_plan(run), ws, progress)
        assert run.admitted is not None  # the plan's first step admitted
        head = ledger_work.signed_head()  # its summary reports it
        open_items = conn.scalar(
            select(func.count()).select_from(ReviewItem).where(ReviewItem.status == ItemStatus.OPEN)
        )
        summary: dict[str, Any] = {
            "run_id": run_id,
            "as_of": inputs.as_of.isoformat(),
            "pool": run.admitted.summary(),
            "review_queue": int(open_items or 0),
            "agreements": summary_counts(ws),
            "ledger": {"size": head.size, "root": head.root.hex()},
            "recalled_on_withdrawal": len(run.withdrawn),
            "scores_recalled": run.lapsed,
            "released_by_trusted_patterns": run.released,
        }
        conn.execute(
            update(Run)
            .where(Run.run_id == run_id)
            .values(status="disclosed", summary=summary, finished_at=utcnow())
        )
    progress("writing outputs")
    batch_fields: dict[str, list[str]] = {name: [] for name in registers}
    for a in agreements:
        if a.recipient in batch_fields:
            batch_fields[a.recipient] += [f for f in a.fields if f not in batch_fields[a.recipient]]
    write_outputs(url, run_id, inputs.out, summary, batch_fields, inputs.deliver)
    return summary
