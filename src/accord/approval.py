"""Acting on one approved review item: disclosing the match or score it was about.

An approval waives only what the reviewers were asked about; the same gate as a run's,
over a DuckDB workspace of this one person (their state, pool standing and governance
inputs, read from the database), decides whether it goes now, and the same drafts and
ledger disclose it.  :mod:`accord.review` calls this when a match or score item is
approved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Row, select

from accord import admission, formats, gate, scores
from accord.cases import read_arrow
from accord.clock import business_time
from accord.compute import Workspace
from accord.config import Settings
from accord.disclosure import disclose
from accord.drafts import drafts as draft
from accord.gate_inputs import (
    PERSON_STATE,
    POOL_STATUS,
    REVIEWED,
    agreements_table,
    governance_inputs,
    score_inputs,
)
from accord.policy.policy import load_policy
from accord.policy.registry import agreement_version, stored_agreements
from accord.store.models import Match, ReviewDecision
from accord.vocab import Decision


def _state_for(conn: Connection, ws: Workspace, people: Sequence[str], as_of: dt.date) -> None:
    """``person_state`` and ``pool_status`` in the workspace for a few people, from the
    database."""
    con = ws.con
    listed = {"people": sorted(set(people))}
    cases = read_arrow(
        conn,
        f"SELECT {', '.join(f'CAST({c.name} AS TEXT)' for c in formats.schema.CASES.columns)} "
        "FROM case_decisions WHERE person_id IN :people AND destroyed_at IS NULL",
        {c.name: pa.string() for c in formats.schema.CASES.columns},
        listed,
    )
    con.register("_cases", cases)
    dates = set(formats.schema.CASES.date_columns)
    cols = ", ".join(
        f"CAST({c.name} AS DATE) AS {c.name}" if c.name in dates else c.name
        for c in formats.schema.CASES.columns
    )
    con.execute(f"CREATE OR REPLACE TABLE person_cases AS SELECT {cols} FROM _cases")
    events = read_arrow(
        conn,
        "SELECT person_id, event_type, CAST(event_date AS TEXT) FROM events "
        "WHERE person_id IN :people",
        {"person_id": pa.string(), "event_type": pa.string(), "event_date": pa.string()},
        listed,
    )
    con.register("_events", events)
    con.execute(
        "CREATE OR REPLACE TABLE person_events AS SELECT person_id, event_type, "
        "CAST(event_date AS DATE) AS event_date FROM _events"
    )
    admission.derive_person_state(con, "person_cases", as_of, "person_events")
    status = read_arrow(
        conn,
        "SELECT person_id, status FROM pool_entries WHERE person_id IN :people",
        {"person_id": pa.string(), "status": pa.string()},
        listed,
    )
    con.register("_status", status)
    con.execute("CREATE OR REPLACE TABLE pool_status AS SELECT * FROM _status")
    ws.adopt(PERSON_STATE, POOL_STATUS)


def disclose_approved(conn: Connection, item: Row[Any], as_of: dt.date) -> str:
    """Disclose an approved match, or an approved score, through the same gate and ledger
    (in the caller's ledger unit of work, `accord.ledger.unit`).

    The approval waives only what it was asked about (uncertain, ambiguous, long
    residence; for a ``score_review`` item, also the adverse use of the score); a pause, a
    freeze, an agreement no longer in force or the firewall still stop it, and the
    reviewer is told which.  A score is checked again as on ``as_of``: one past its
    retention limit, destroyed, or no longer shared under the agreement is not disclosed,
    however it was approved.
    """
    match = conn.execute(select(Match).where(Match.id == item.match_id)).first()
    if match is None or item.agreement_id is None:
        return "approved, but the match it was about is no longer held: nothing disclosed"
    found = [(a, v) for a, v in stored_agreements(conn) if a.id == item.agreement_id]
    if not found:
        return f"approved, but agreement {item.agreement_id} is not loaded: nothing disclosed"
    agreement, version = found[0]
    if agreement_version(conn, agreement.id, version) is None:
        return f"approved, but agreement {agreement.id} v{version} is missing: nothing disclosed"
    policy = load_policy(Settings().policy)  # the policy in force, as `accord run` uses
    is_score = item.kind == scores.REVIEW_KIND
    if is_score:
        why = (
            scores.why_not_shareable(conn, agreement, item.score_id, as_of, policy)
            if item.score_id
            else "the item names no score"
        )
        if why is not None:
            return f"approved, but not disclosed: {why}"
    reviewers = conn.scalars(
        select(ReviewDecision.reviewer)
        .where(ReviewDecision.item_id == item.item_id, ReviewDecision.decision == Decision.APPROVE)
        .order_by(ReviewDecision.decided_at)
    ).all()
    con = duckdb.connect()
    try:
        ws = Workspace(con)
        _state_for(conn, ws, [item.person_id], as_of)
        ws.declare(*gate.INPUTS)
        agreements_table(ws, [(agreement, version)], policy)
        governance_inputs(conn, ws, policy, as_of, people=[item.person_id])
        record = match.record if isinstance(match.record, dict) else {}
        evidence = match.evidence if isinstance(match.evidence, dict) else {}
        since = record.get("since")
        ws.insert_rows(
            gate.CANDIDATES,
            [
                {
                    "person_id": item.person_id, "record_id": item.record_id,
                    "register": agreement.recipient,
                    "match_probability": float(match.match_probability),
                    "pair_probability": evidence.get("pair_probability"),
                    "since": dt.date.fromisoformat(since) if since else None,
                    "match_id": int(match.id),
                }
            ],
        )  # fmt: skip
        ws.run(gate.decide_step(gate.GateSettings(as_of, policy.long_residence_years)))
        if is_score:
            score_inputs(
                conn, ws, [agreement], policy, as_of, people=[item.person_id],
                score_ids=[item.score_id],
            )  # fmt: skip
            ws.run(gate.decide_scores_step())
            outcome, reasons = con.execute(
                "SELECT outcome, reasons FROM score_gate WHERE agreement_id = ? AND score_id = ?",
                [agreement.id, item.score_id],
            ).fetchone() or ("no_match", [])
        else:
            outcome, reasons = con.execute(
                "SELECT outcome, reasons FROM gate WHERE agreement_id = ?", [agreement.id]
            ).fetchone() or ("no_match", [])
        if outcome != "disclose":
            return f"approved, but not disclosed now: {outcome} ({', '.join(reasons)})"
        drafts = draft(
            con, policy, REVIEWED + ", ".join(reviewers), records=not is_score,
            score_rows=is_score,
        )  # fmt: skip
        ids = disclose(conn, drafts, business_time(as_of), None)
    finally:
        con.close()
    return f"disclosed as {', '.join(ids)}"
