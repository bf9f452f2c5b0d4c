"""Admission of 1,000,000 people with 1,500,000 decisions, end to end on SQLite (or PostgreSQL).

Target (issue 5): under 20 s, including taking the cases into ``case_decisions`` and
writing ``people``, ``pool_entries``, ``pool_history`` and the manual-check queue.

    .venv/bin/python benchmarks/admit.py [--people N] [--decisions M] [--pg URL]

The input is generated inside the script (DuckDB), with every rule represented: current
and expired leave, procedural refusals, appeals, departures, missing and contradictory
dates of birth, arrivals before 1973 and long residence.

Each figure is wall-clock time, with the process's CPU time beside it (all threads: DuckDB
uses both cores, and on SQLite the rows are written by a thread of their own while DuckDB
derives, so CPU time exceeds wall time).  The phases overlap for the same reason: a
"finish writing" phase is what was left to wait for.  The three admissions run back to
back, so the second and third share the machine with the checkpoint of the one before.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from scratch import pg_scratch
from sqlalchemy import text

from accord.admission import admit
from accord.store import db
from accord.store.transfer import to_arrow

AS_OF = dt.date(2026, 1, 1)

TARGET_SECONDS = 20.0


def generate(people: int, decisions: int, seed: int = 7) -> pa.Table:
    """A cases table in the shape :func:`accord.formats.load` returns (typed, with ``__row``)."""
    con = duckdb.connect()
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})").fetchall()
    extra = decisions - people
    table = to_arrow(
        con,
        f"""
        WITH rows AS (
            SELECT i AS person, 0 AS k FROM range({people}) t(i)
            UNION ALL
            SELECT (i * 7919) % {people} AS person, 1 + i // {people} AS k
            FROM range({extra}) t(i)
        ),
        r AS (SELECT person, k, random() AS u, random() AS v, random() AS w FROM rows)
        SELECT
          row_number() OVER () AS __row,
          'C' || lpad(CAST(person AS VARCHAR), 8, '0') || '-' || k AS case_id,
          'P' || lpad(CAST(person AS VARCHAR), 8, '0') AS person_id,
          ['Smith','Okafor','Nguyen','Kowalski','O''Brien','Campbell-Lewis','Ahmed',
           'Garcia','Zhang','Mensah'][1 + person % 10] || CAST(person % 997 AS VARCHAR)
            AS family_name,
          ['Ada','Wei','Hubert Winston','Siobhan','Oleksandr','Fatima','Kofi','Lan'][
            1 + person % 8] AS given_names,
          CASE WHEN u < 0.01 THEN NULL
               WHEN u < 0.02 AND k = 1 THEN DATE '1990-01-01' + CAST(person % 9000 AS INTEGER)
               ELSE DATE '1940-01-01' + CAST(person % 25000 AS INTEGER) END AS date_of_birth,
          ['JAM','IND','NGA','POL','VNM','UKR','IRL','CHN'][1 + person % 8] AS nationality,
          'E' || (person % 20) || ' ' || (person % 9) || 'AB' AS postcode,
          CASE WHEN v < 0.80 THEN 'refusal' WHEN v < 0.88 THEN 'grant'
               WHEN v < 0.93 THEN 'curtailment' WHEN v < 0.96 THEN 'revocation'
               ELSE 'information' END AS decision,
          DATE '2005-01-01' + CAST(floor(w * 7000) AS INTEGER) AS decision_date,
          CASE WHEN v < 0.80 THEN ['eligibility','suitability','fee_not_paid',
               'incomplete_application','invalid_application','deception','criminality',
               'eligibility'][1 + CAST(floor(u * 8) AS INTEGER) % 8] END AS refusal_reason,
          CASE WHEN v < 0.96 THEN ['none','in_time','pending','allowed','dismissed',
               'exhausted','none','none'][1 + CAST(floor(w * 97) AS INTEGER) % 8]
               END AS appeal_status,
          CASE WHEN v >= 0.80 AND v < 0.88 THEN ['limited','indefinite'][1 + person % 2]
               WHEN v < 0.96 THEN 'none' END AS leave,
          CASE WHEN v >= 0.80 AND v < 0.88 AND person % 2 = 0
               THEN DATE '2020-01-01' + CAST(floor(u * 3000) AS INTEGER) END AS leave_expiry,
          CASE WHEN person % 300 = 0 THEN DATE '1958-01-01' + CAST(person % 5000 AS INTEGER)
               WHEN person % 100 = 0 THEN DATE '1980-01-01' + CAST(person % 3000 AS INTEGER)
               ELSE DATE '2004-01-01' + CAST(person % 7000 AS INTEGER) END AS arrival_date,
          CASE WHEN u > 0.97 THEN DATE '2026-01-01' - CAST(floor(w * 400) AS INTEGER)
               END AS departure_date,
          CASE WHEN v >= 0.96 THEN ['education','health','immigration_casework'][
               1 + person % 3] ELSE 'immigration_casework' END AS data_category
        FROM r
        """,
    )
    con.close()
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--decisions", type=int, default=1_500_000)
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="run on a new database on this PostgreSQL server (dropped afterwards), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres; default: a new SQLite file",
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    cases = generate(args.people, args.decisions)
    print(f"generated {cases.num_rows:,} case rows in {time.perf_counter() - t0:.1f} s")

    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        if args.pg:
            url = stack.enter_context(pg_scratch(args.pg))
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db.upgrade(url)
        start, cpu = time.perf_counter(), time.process_time()
        result = admit(url, AS_OF, run_id="bench", cases=cases)
        seconds = time.perf_counter() - start
        print(
            f"admission with the cases taken in first ({db.describe(url)}): {seconds:.1f} s "
            f"(CPU {time.process_time() - cpu:.1f} s) "
            f"for {args.people:,} people and {cases.num_rows:,} decisions"
        )
        report(result.timings, seconds, cases.num_rows, args.people)
        print(f"  pool: {result.summary()}")

        with db.connect(url) as conn:  # the same decision again, from the cases now held
            for table in ("people", "pool_entries", "pool_history", "review_items"):
                conn.execute(text(f"DELETE FROM {table}"))
        start, cpu = time.perf_counter(), time.process_time()
        again = admit(url, AS_OF, run_id="bench-held")
        seconds = time.perf_counter() - start
        print(
            f"admission from the cases held: {seconds:.1f} s "
            f"(CPU {time.process_time() - cpu:.1f} s)"
        )
        report(again.timings, seconds, cases.num_rows, args.people)

        start, cpu = time.perf_counter(), time.process_time()
        rerun = admit(url, AS_OF, run_id="bench-rerun", cases=cases)
        seconds = time.perf_counter() - start
        print(
            f"rerun with the same cases (idempotent): {seconds:.1f} s "
            f"(CPU {time.process_time() - cpu:.1f} s), {rerun.changed} pool entries changed"
        )
        report(rerun.timings, seconds, cases.num_rows, args.people)


def report(timings: dict[str, float], seconds: float, decisions: int, people: int) -> None:
    for phase, t in timings.items():
        print(f"    {phase}: {t:.1f} s")
    print(
        f"  {decisions / seconds:,.0f} decisions/s, {people / seconds:,.0f} people/s; "
        f"target {TARGET_SECONDS:.0f} s: ratio {seconds / TARGET_SECONDS:.2f} "
        f"({'met' if seconds < TARGET_SECONDS else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
