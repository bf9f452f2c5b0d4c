"""The firewall: data from protected services never reaches an enforcement purpose (F7).

It acts twice, and no agreement can switch it off:

1. **When an agreement is loaded.**  An agreement whose data categories include a
   protected category and whose purpose is an enforcement purpose is refused
   (:func:`check_agreement`).
2. **At run time, value by value.**  Each identity value of a person carries the case
   row it came from (``person_state``'s ``*_case_id`` and ``*_category`` columns).  For
   an enforcement purpose, a value whose row is of a protected category is replaced by
   the latest value from a non-protected row, or NULL when there is none (the name as a
   whole: both parts from the latest non-protected row that records a name)
   (:func:`identity_for_purpose`); it is neither matched on nor disclosed.  The rest of
   the person's record is still used.  Each refusal is kept in a relation the caller
   writes to ``firewall_refusals`` and the audit log (:func:`record_refusals`).

A refusal is counted whenever the latest value of a field came from a protected row,
even if a non-protected row happens to hold the same value: what was refused is the
protected source, and the value used instead is the non-protected one.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
from sqlalchemy import Connection, select

from accord import auditlog
from accord.clock import business_time
from accord.errors import AccordError
from accord.policy.agreement import Agreement
from accord.policy.policy import Policy
from accord.policy.scoring import score_findings
from accord.store.db import bulk_insert
from accord.store.models import FirewallRefusal, Run

RULE = "protected data is never used for an enforcement purpose"
IDENTITY_FIELDS = ("family_name", "given_names", "date_of_birth", "postcode", "nationality")
NAME_FIELDS = ("family_name", "given_names")  # one name: either part may be empty
PERSON_STATE = "person_state"
STATE_CASES = "person_state_cases"  # the case rows person_state was derived from
REFUSED = "firewall_refused"  # audit log action


def breaches(agreement: Agreement, policy: Policy) -> list[str]:
    """The protected categories an agreement would route to an enforcement purpose."""
    if not policy.is_enforcement(agreement.purpose):
        return []
    return [c for c in agreement.data_categories if policy.is_protected(c)]


def breach_message(agreement: Agreement, category: str) -> str:
    return (
        f"agreement {agreement.id}: refused by the firewall ({RULE}): data category "
        f"{category} is protected and purpose {agreement.purpose} is an enforcement purpose"
    )


def check_agreement(agreement: Agreement, policy: Policy) -> None:
    """Refuse an agreement that would breach the firewall; no setting in it can override.

    Besides protected categories, a derived score about a victim or a witness may never
    serve an enforcement purpose (F8).
    """
    found = breaches(agreement, policy)
    if found:
        raise AccordError(breach_message(agreement, found[0]))
    for code, message in score_findings(agreement, policy):
        if code == "firewall_breach":
            raise AccordError(f"agreement {agreement.id}: {message}")


# The protected categories, bound as the DuckDB parameter ``$protected`` (a list).
_PROTECTED = "CAST($protected AS VARCHAR[])"


def relation_names(purpose: str) -> tuple[str, str]:
    """(identity table, refusals table) that :func:`identity_for_purpose` creates."""
    safe = re.sub(r"[^a-z0-9_]", "_", purpose.lower())
    return f"identity_{safe}", f"identity_{safe}_refusals"


def identity_for_purpose(
    con: duckdb.DuckDBPyConnection, policy: Policy, purpose: str, people: str | None = None
) -> str:
    """Create the identity a purpose may use, with protected values withheld for enforcement.

    Needs ``person_state`` and ``person_state_cases`` from
    :func:`accord.admission.derive_person_state`.  Creates the DuckDB table
    ``identity_<purpose>`` (person_id, family_name, given_names, date_of_birth, postcode,
    nationality) and ``identity_<purpose>_refusals`` (person_id, field, data_category), and
    returns the first name.  ``people`` optionally names a relation with a ``person_id``
    column that restricts both to those people (e.g. the admitted pool).
    """
    identity, refusals = relation_names(purpose)
    scope = f" WHERE person_id IN (SELECT person_id FROM {people})" if people else ""
    cols = ", ".join(IDENTITY_FIELDS)
    protected = sorted(policy.protected_categories)
    if not policy.is_enforcement(purpose) or not protected:
        con.execute(
            f"CREATE OR REPLACE TABLE {identity} AS SELECT person_id, {cols} "
            f"FROM {PERSON_STATE}{scope}"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {refusals} (person_id VARCHAR, field VARCHAR, "
            "data_category VARCHAR)"
        )
        return identity
    bound: dict[str, Any] = {"protected": protected}
    bound |= {f"field_{n}": f for n, f in enumerate(IDENTITY_FIELDS)}
    con.execute(
        f"CREATE OR REPLACE TABLE {refusals} AS "
        + " UNION ALL ".join(
            f"SELECT person_id, CAST($field_{n} AS VARCHAR) AS field, "
            f"{f}_category AS data_category FROM {PERSON_STATE} "
            f"WHERE list_contains({_PROTECTED}, {f}_category) AND {f} IS NOT NULL"
            + (f" AND person_id IN (SELECT person_id FROM {people})" if people else "")
            for n, f in enumerate(IDENTITY_FIELDS)
        ),
        bound,
    )
    key = "(decision_date, case_id)"
    # The two name parts are one value, as in person_state: both from one row, taken as
    # a struct (arg_max passes over a row whose value is NULL, as an empty part is).
    named = " OR ".join(f"{f} IS NOT NULL" for f in NAME_FIELDS)
    pair = ", ".join(f"{f} := {f}" for f in NAME_FIELDS)
    latest_open = ", ".join(
        f"arg_max(struct_pack({pair}), {key}) FILTER (WHERE {named}).{f} AS {f}"
        if f in NAME_FIELDS
        else f"arg_max({f}, {key}) FILTER (WHERE {f} IS NOT NULL) AS {f}"
        for f in IDENTITY_FIELDS
    )
    chosen = ", ".join(
        f"CASE WHEN list_contains({_PROTECTED}, s.{f}_category) THEN o.{f} ELSE s.{f} END AS {f}"
        for f in IDENTITY_FIELDS
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {identity} AS
        WITH open_values AS (
            SELECT person_id, {latest_open}
            FROM {STATE_CASES}
            WHERE NOT list_contains({_PROTECTED}, data_category)
              AND person_id IN (SELECT DISTINCT person_id FROM {refusals})
            GROUP BY person_id
        )
        SELECT s.person_id, {chosen}
        FROM (SELECT * FROM {PERSON_STATE}{scope}) s
        LEFT JOIN open_values o USING (person_id)
        """,
        {"protected": protected},
    )
    return identity


def matching_history(
    con: duckdb.DuckDBPyConnection, policy: Policy, purpose: str, people: str
) -> str:
    """Create ``<identity>_history`` (person_id, postcodes, arrival_date) for the people of
    ``people`` (a relation with ``person_id``): every postcode the source's case rows hold
    for each, and their earliest recorded arrival, from the rows the purpose may use (the
    protected ones left out for enforcement, as :func:`identity_for_purpose` leaves them
    out of the identity).  Matching finds a record at an earlier address with the
    postcodes, and weighs a record begun before the person arrived; returns the name.
    """
    identity, _ = relation_names(purpose)
    table = f"{identity}_history"
    protected = sorted(policy.protected_categories)
    withheld = policy.is_enforcement(purpose) and bool(protected)
    allowed = f" AND NOT list_contains({_PROTECTED}, data_category)" if withheld else ""
    con.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
        SELECT person_id,
               list(DISTINCT postcode ORDER BY postcode)
                   FILTER (WHERE postcode IS NOT NULL{allowed}) AS postcodes,
               min(arrival_date) FILTER (WHERE arrival_date IS NOT NULL{allowed})
                   AS arrival_date
        FROM {STATE_CASES}
        WHERE person_id IN (SELECT person_id FROM {people})
        GROUP BY person_id""",
        {"protected": protected} if withheld else None,
    )
    return table


def record_refusals(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    run_id: str | None,
    agreement_id: str,
    purpose: str,
    use: str = "matching",
    actor: str = "accord",
) -> int:
    """Write the refusals :func:`identity_for_purpose` found to the database and audit log.

    ``use`` is ``matching`` or ``disclosure``.  One ``firewall_refusals`` row and one audit
    entry per refused value; returns how many.
    """
    if use not in ("matching", "disclosure"):
        raise ValueError(f"use must be matching or disclosure, not {use!r}")
    _, refusals = relation_names(purpose)
    found = con.execute(
        f"SELECT person_id, field, data_category FROM {refusals} ORDER BY person_id, field"
    ).fetchall()
    if not found:
        return 0
    # Dated as of the run's day (accord.clock), as the run's disclosures are.
    run_as_of = conn.scalar(select(Run.as_of).where(Run.run_id == run_id)) if run_id else None
    at = business_time(run_as_of)
    bulk_insert(
        conn,
        FirewallRefusal.__table__,  # type: ignore[arg-type]
        ("run_id", "agreement_id", "person_id", "field", "data_category", "purpose", "use", "at"),
        [(run_id, agreement_id, p, f, c, purpose, use, at) for p, f, c in found],
    )
    auditlog.log_many(
        conn,
        (
            (
                actor,
                REFUSED,
                p,
                {
                    "field": f,
                    "data_category": c,
                    "agreement_id": agreement_id,
                    "purpose": purpose,
                    "use": use,
                    "run_id": run_id,
                    "rule": RULE,
                },
            )
            for p, f, c in found
        ),
    )
    return len(found)
