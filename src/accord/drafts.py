"""Disclosure drafts from the gate's ``disclose`` outcomes, with the agreed fields only.

A draft (:class:`accord.disclosure.Draft`) is what :func:`accord.disclosure.disclose`
writes and puts in the ledger: the matched record, or a derived score with its
explanation, and the identity fields the agreement names, taken from the identity the
firewall allows for the agreement's purpose.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb

from accord import scores
from accord.disclosure import AUTOMATIC, Draft
from accord.policy import firewall
from accord.policy.policy import Policy


def _fields_view(
    con: duckdb.DuckDBPyConnection, policy: Policy, purposes: Sequence[str], people: str
) -> dict[str, str]:
    """Per purpose, the identity table a disclosure's fields are taken from (firewalled)."""
    return {p: firewall.identity_for_purpose(con, policy, p, people=people) for p in purposes}


def drafts(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    decided_by: str | None,
    records: bool = True,
    score_rows: bool = True,
) -> list[Draft]:
    """Disclosure drafts for every ``disclose`` outcome, with the agreed fields only.

    ``records``: the matched records (``gate``, agreements that share them);
    ``score_rows``: derived scores (``score_gate``), each with its explanation.
    """
    disclosing = []
    if records:
        disclosing.append("SELECT person_id, purpose FROM gate WHERE outcome = 'disclose' "
                          "AND shares_records")  # fmt: skip
    if score_rows:
        disclosing.append("SELECT person_id, purpose FROM score_gate WHERE outcome = 'disclose'")
    if not disclosing:
        return []
    con.execute(f"CREATE OR REPLACE TABLE disclosing_any AS {' UNION ALL '.join(disclosing)}")
    purposes = [r[0] for r in con.execute(
        "SELECT DISTINCT purpose FROM disclosing_any ORDER BY purpose"
    ).fetchall()]  # fmt: skip
    con.execute(
        "CREATE OR REPLACE TABLE disclosing AS SELECT DISTINCT person_id FROM disclosing_any"
    )
    views = _fields_view(con, policy, purposes, "disclosing")
    found: list[Draft] = []
    for purpose, view in views.items():
        if records:
            found += _drafts_from(con, "gate", view, purpose, decided_by)
        if score_rows:
            found += _drafts_from(con, "score_gate", view, purpose, decided_by)
    return found


_SCORE_COLUMNS = "s.score_id, s.kind, s.value, s.role, s.explanation"


def _drafts_from(
    con: duckdb.DuckDBPyConnection, table: str, view: str, purpose: str, decided_by: str | None
) -> list[Draft]:
    """Drafts of the ``disclose`` rows of ``gate`` or ``score_gate`` for one purpose.

    Each carries the agreed identity fields; a score also carries itself and its
    explanation.  ``decided_by`` is the caller's (the reviewers of an approval being
    acted on now), else the approvers the gate found, else the automatic rule.
    """
    is_score = table == "score_gate"
    rows = con.execute(
        f"""
        SELECT s.agreement_id, s.agreement_version, s.recipient, s.record_id, s.person_id,
               s.match_probability, s.match_id, a.fields, to_json(i) AS identity,
               s.approved_by, {_SCORE_COLUMNS if is_score else "NULL, NULL, NULL, NULL, NULL"}
        FROM {table} s JOIN agreements a USING (agreement_id)
        JOIN {view} i USING (person_id)
        WHERE s.outcome = 'disclose' AND s.purpose = ?
          {"" if is_score else "AND s.shares_records"}
        ORDER BY s.agreement_id, s.person_id, s.record_id{", s.score_id" if is_score else ""}
        """,
        [purpose],
    ).fetchall()
    found = []
    for (
        agreement_id, version, recipient, record_id, person_id, p, match_id, fields, ident,
        approved_by, score_id, kind, value, role, explanation,
    ) in rows:  # fmt: skip
        values = json.loads(ident)
        score: dict[str, Any] = {}
        if is_score:
            score = {
                "score_kind": kind,
                "score_value": float(value),
                "score_role": role,
                "score_explanation": json.loads(explanation),
            }
        found.append(
            Draft(
                agreement_id=agreement_id,
                agreement_version=int(version),
                recipient=recipient,
                record_id=record_id,
                person_id=person_id,
                match_probability=float(p),
                decided_by=decided_by or approved_by or AUTOMATIC,
                # A record never carries score fields; a score carries every one, even one
                # the agreement left out (the run refuses such an agreement): a score never
                # travels without its explanation.
                fields={f: values.get(f) for f in fields if f not in scores.FIELDS} | score,
                match_id=match_id,
                score_id=score_id or "",
            )
        )
    return found
