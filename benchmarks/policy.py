"""The compiled policy over 5,000,000 people: admission rules and cohorts, set-based.

Target (issue 4): under 10 s on this machine for the rules (outcome and reason codes for
everyone, written to a table) and every cohort's membership (evaluated in full and
counted; `cohort_membership` is a view, so the gate evaluates it only for candidates).

    .venv/bin/python benchmarks/policy.py [--people N]

``person_state`` is generated inside the script (DuckDB) with every rule and cohort
represented (one in 50 people has one name, one in 1,000 none); generating it is not
timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import duckdb

from accord.policy import compile as policy_compile
from accord.policy.policy import default_policy

TARGET_SECONDS = 10.0
AS_OF = dt.date(2026, 1, 1)


def generate(con: duckdb.DuckDBPyConnection, people: int) -> None:
    con.execute("SELECT setseed(0.42)").fetchall()
    con.execute(
        f"""
        CREATE TABLE person_state AS
        SELECT 'P' || lpad(CAST(i AS VARCHAR), 8, '0') AS person_id,
          CASE WHEN i % 1000 <> 0 THEN 'family' || CAST(i % 9000 AS VARCHAR) END AS family_name,
          CASE WHEN i % 50 <> 0 THEN 'given' || CAST(i % 700 AS VARCHAR) END AS given_names,
          CASE WHEN u < 0.01 THEN NULL
               ELSE DATE '1940-01-01' + CAST(i % 25000 AS INTEGER) END AS date_of_birth,
          CASE WHEN i % 40 = 0 THEN DATE '1958-01-01' + CAST(i % 5000 AS INTEGER)
               ELSE DATE '1980-01-01' + CAST(i % 15000 AS INTEGER) END AS arrival_date,
          ['refusal', 'refusal', 'refusal', 'curtailment', 'revocation', 'grant'][
            1 + CAST(floor(v * 6) AS INTEGER)] AS latest_decision,
          DATE '2005-01-01' + CAST(floor(w * 7000) AS INTEGER) AS latest_decision_date,
          ['eligibility', 'suitability', 'fee_not_paid', 'incomplete_application',
           'invalid_application', 'deception', 'criminality', 'eligibility'][
            1 + i % 8] AS refusal_reason,
          ['none', 'in_time', 'pending', 'allowed', 'dismissed', 'exhausted', 'none'][
            1 + (i // 3) % 7] AS appeal_status,
          ['none', 'limited', 'indefinite', 'none', 'none'][1 + (i // 7) % 5] AS leave,
          DATE '2020-01-01' + CAST(floor(u * 3000) AS INTEGER) AS leave_expiry,
          CASE WHEN u > 0.97 THEN DATE '2025-01-01' END AS departure_date,
          CASE WHEN i % 500 = 0 THEN DATE '2025-06-01' END AS leave_granted_date,
          CASE WHEN i % 700 = 0 THEN DATE '2025-06-01' END AS overturned_date,
          CAST(1 + i % 3 AS BIGINT) AS decisions,
          CAST(1 + i % 2 AS BIGINT) AS adverse_decisions,
          CAST(CASE WHEN i % 97 = 0 THEN 1 ELSE 0 END AS BIGINT) AS departures_before_decision,
          CAST(CASE WHEN i % 50 = 0 THEN 2 ELSE 1 END AS BIGINT) AS dob_distinct,
          CAST(1 AS BIGINT) AS nationality_distinct
        FROM (SELECT i, random() AS u, random() AS v, random() AS w FROM range({people}) t(i))
        """
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5_000_000)
    args = parser.parse_args()
    con = duckdb.connect()
    t0 = time.perf_counter()
    generate(con, args.people)
    print(f"generated person_state for {args.people:,} people in {time.perf_counter() - t0:.1f} s")

    policy = default_policy()
    start = time.perf_counter()
    policy_compile.evaluate_rules(con, policy, AS_OF)
    rules = time.perf_counter() - start
    mid = time.perf_counter()
    name = policy_compile.cohort_membership(con, policy, AS_OF)  # a view: counted in full
    members = con.execute(
        f"SELECT cohort, count(*) FROM {name} GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    cohorts = time.perf_counter() - mid
    seconds = rules + cohorts

    outcomes = con.execute(
        "SELECT outcome, count(*) FROM rule_outcomes GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    print(
        f"rules: {rules:.2f} s, cohorts: {cohorts:.2f} s, together {seconds:.2f} s "
        f"for {args.people:,} people ({args.people / seconds:,.0f} people/s)"
    )
    print(f"  outcomes: {dict(outcomes)}")
    print(f"  cohorts:  {dict(members)}")
    print(
        f"  target {TARGET_SECONDS:.0f} s: ratio {seconds / TARGET_SECONDS:.2f} "
        f"({'met' if seconds < TARGET_SECONDS else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
