"""The oversight report over a database with 1,000,000 disclosures (issue 10).

    .venv/bin/python benchmarks/report.py [--disclosures N] [--database URL] [--keep DIR]

Fills a fresh database (SQLite in a temporary folder unless ``--database`` names an empty
one, e.g. PostgreSQL) with a governance state at the scale of the documented failures:
N disclosures to three recipients over two years, 0.7 N people, 1.2 N pool entries,
0.4 N recipient actions, N/50 recalls, review items, firewall refusals, pauses and audit
samples.  The rows are generated inside the database by one ``INSERT ... SELECT`` per
table.  Then it times `accord report` in its three steps (the SQL figures, the charts,
the HTML) and prints each and the ratio to the target: the whole report in under 60 s on
this 2-core machine, so that an auditor can run it whenever they like.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

from sqlalchemy import Connection, insert, text

from accord.oversight import charts, metrics
from accord.oversight.report import render
from accord.store import db
from accord.store.models import Pause, TreeHead

TARGET_SECONDS = 60.0
AS_OF = dt.date(2026, 6, 30)
NATIONALITIES = ("JAM", "NGA", "IND", "PAK", "BGD", "GHA", "SOM", "TTO", "BRB", "KEN",
                 "ZWE", "LKA", "CHN", "VNM", "UKR", "SDN", "IRN", "IRQ", "AFG", "ERI")  # fmt: skip


STATUSES = ("admitted", "admitted", "excluded", "quarantined", "manual_check", "excluded",
            "withdrawn")  # fmt: skip
RECALL_REASONS = ("decision_overturned", "leave_granted", "dispute_upheld", "departure_recorded")
REVIEW_KINDS = ("uncertain_match", "ambiguous_match", "long_residence", "manual_check", "dispute")


class Filler:
    """``INSERT ... SELECT`` over a generated series, spelt for SQLite or PostgreSQL."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    def day(self, base: str, offset: str) -> str:
        if self.pg:
            return f"(DATE '{base}' + CAST({offset} AS INTEGER))"
        return f"date('{base}', '+' || ({offset}) || ' days')"

    def stamp(self, base: str, offset: str) -> str:
        if self.pg:
            return f"(TIMESTAMPTZ '{base} 12:00:00+00' + ({offset}) * INTERVAL '1 day')"
        return f"(date('{base}', '+' || ({offset}) || ' days') || ' 12:00:00.000000')"

    def json(self, literal: str) -> str:
        return f"CAST('{literal}' AS JSON)" if self.pg else f"'{literal}'"

    def pick(self, values: tuple[str, ...], index: str) -> str:
        whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
        return f"(CASE ({index}) % {len(values)} {whens} END)"

    def fill(self, table: str, columns: str, select: str, n: int) -> None:
        if self.pg:
            sql = (
                f"INSERT INTO {table} ({columns}) SELECT {select} "
                f"FROM generate_series(0, {n - 1}) AS r(i)"
            )
        else:
            sql = (
                f"INSERT INTO {table} ({columns}) "
                "WITH RECURSIVE r(i) AS "
                f"(SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < {n - 1}) "
                f"SELECT {select} FROM r"
            )
        self.conn.execute(text(sql))


def populate(url: str, n: int) -> None:
    people = int(n * 0.7)
    reasons = {
        k: '["' + '", "'.join(v) + '"]' if v else "[]"
        for k, v in {
            "procedural": ["procedural_refusal"],
            "appeal": ["appeal_pending", "current_leave"],
            "missing": ["missing_key_data"],
            "cohort": ["protected_cohort"],
            "none": [],
            "eligible": ["eligible_refusal"],
        }.items()
    }
    fields = '{"family_name": "x"}'
    with db.connect(url) as conn:
        f = Filler(conn)
        f.fill(
            "people",
            "person_id, family_name, given_names, date_of_birth, nationality, arrival_date, "
            "provenance",
            f"'P' || i, 'Family', 'Given', {f.day('1935-01-01', 'i % 25000')}, "
            f"CASE WHEN i % 17 = 0 THEN NULL ELSE {f.pick(NATIONALITIES, 'i')} END, "
            f"CASE WHEN i % 11 = 0 THEN NULL ELSE {f.day('1950-01-01', '(i * 7) % 27000')} END, "
            f"{f.json('{}')}",
            people,
        )
        f.fill(
            "pool_entries",
            "person_id, status, reasons, as_of, updated_at",
            f"'P' || i, {f.pick(STATUSES, 'i')}, "
            f"CASE i % 7 WHEN 2 THEN {f.json(reasons['procedural'])} "
            f"WHEN 5 THEN {f.json(reasons['appeal'])} "
            f"WHEN 3 THEN {f.json(reasons['missing'])} "
            f"WHEN 4 THEN {f.json(reasons['cohort'])} "
            f"WHEN 6 THEN {f.json(reasons['none'])} ELSE {f.json(reasons['eligible'])} END, "
            f"{f.day('2026-06-01', '0')}, {f.stamp('2026-06-01', '0')}",
            int(n * 1.2),
        )
        f.fill(
            "disclosures",
            "disclosure_id, run_id, agreement_id, agreement_version, recipient, record_id, "
            "person_id, match_probability, decided_by, fields, disclosed_at, ledger_index, status",
            f"'D' || i, 'run-' || (i % 24), {f.pick(('ho-dvla', 'ho-hmrc', 'ho-bank'), 'i')}, 1, "
            f"{f.pick(('dvla', 'hmrc', 'bank'), 'i')}, 'R' || i, 'P' || (i % {people}), 0.9995, "
            f"CASE WHEN i % 9 = 0 THEN 'reviewer:alice+bob' ELSE 'rule:automatic' END, "
            f"{f.json(fields)}, {f.stamp('2024-07-01', 'i % 730')}, i, "
            f"CASE WHEN i % 50 = 0 THEN 'recalled' ELSE 'active' END",
            n,
        )
        actions = int(n * 0.4)
        f.fill(
            "recipient_actions",
            "disclosure_id, recipient, action, action_date, recorded_at",
            f"'D' || (i * 2), {f.pick(('dvla', 'bank', 'hmrc'), 'i * 2')}, "
            f"CASE WHEN i % 40 = 39 THEN {f.pick(('reinstated', 'reopened', 'restored'), 'i * 2')} "
            f"WHEN i % 2 = 0 THEN {f.pick(('revoked', 'closed', 'stopped'), 'i * 2')} "
            f"ELSE 'none' END, {f.day('2024-08-01', '(i * 2) % 700')}, "
            f"{f.stamp('2026-06-01', '0')}",
            actions,
        )
        f.fill(
            "recalls",
            "recall_id, disclosure_id, recipient, person_id, reason, recalled_at, ledger_index, "
            "remedy_status, remedied_at",
            f"'RC' || i, 'D' || (i * 50), {f.pick(('dvla', 'hmrc', 'bank'), 'i * 50')}, "
            f"'P' || ((i * 50) % {people}), "
            f"{f.pick(RECALL_REASONS, 'i')}, "
            f"{f.stamp('2024-09-01', 'i % 600')}, {n} + i, "
            f"{f.pick(('remedied', 'outstanding', 'none_needed', 'remedied'), 'i')}, "
            f"CASE WHEN i % 4 IN (0, 3) THEN {f.stamp('2024-09-01', '(i % 600) + (i % 97)')} END",
            n // 50,
        )
        f.fill(
            "review_items",
            "item_id, kind, person_id, reason, detail, status, approvals_needed, created_at",
            f"'I' || i, {f.pick(REVIEW_KINDS, 'i')}, "
            f"'P' || i, 'needs a person', {f.json('{}')}, "
            f"CASE WHEN i % 3 = 0 THEN 'open' WHEN i % 3 = 1 THEN 'approved' ELSE 'rejected' END, "
            f"1 + i % 2, {f.stamp('2025-06-01', 'i % 395')}",
            n // 30,
        )
        f.fill(
            "firewall_refusals",
            "agreement_id, person_id, field, data_category, purpose, use, at",
            f"{f.pick(('ho-dvla', 'ho-hmrc', 'ho-bank'), 'i')}, 'P' || i, "
            f"CASE WHEN i % 4 = 0 THEN NULL ELSE 'postcode' END, "
            f"{f.pick(('health', 'education', 'victim_or_witness'), 'i')}, "
            "'immigration_enforcement', "
            "CASE WHEN i % 2 = 0 THEN 'matching' ELSE 'disclosure' END, "
            f"{f.stamp('2025-01-01', 'i % 500')}",
            n // 100,
        )
        f.fill(
            "audit_samples",
            "sample_id, item_kind, item_ref, stratum, stratum_size, drawn_at, verdict",
            f"'S-' || (i % 3), 'disclosure', 'D' || (i * 601), "
            f"{f.pick(('dvla', 'hmrc', 'bank'), 'i / 3')}, {n // 3}, "
            f"{f.stamp('2026-05-01', '0')}, "
            f"CASE WHEN i % 23 = 0 THEN 'wrong' WHEN i % 29 = 0 THEN NULL ELSE 'correct' END",
            1500,
        )
        conn.execute(
            insert(Pause),
            [
                {
                    "agreement_id": "ho-dvla",
                    "cohort": "age_over_30",
                    "reason": "inspection",
                    "paused_by": "dpo",
                    "paused_at": dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
                    "resumed_by": None,
                    "resumed_at": None,
                    "resume_reason": None,
                },
                {
                    "agreement_id": "ho-bank",
                    "cohort": None,
                    "reason": "review",
                    "paused_by": "dpo",
                    "paused_at": dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
                    "resumed_by": "sro",
                    "resumed_at": dt.datetime(2025, 3, 20, tzinfo=dt.UTC),
                    "resume_reason": "done",
                },
            ],
        )
        conn.execute(
            insert(TreeHead).values(
                tree_size=n + n // 50,
                root_hash=os.urandom(32),
                timestamp_ms=1_780_000_000_000,
                signature=os.urandom(64),
                key_id="0" * 64,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--disclosures", type=int, default=1_000_000)
    parser.add_argument("--database", help="an empty database URL (default: a new SQLite file)")
    parser.add_argument("--keep", type=Path, help="folder for the database and the report")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="accord-bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = args.database or f"sqlite:///{folder / 'accord.db'}"
    db.upgrade(url)
    started = time.perf_counter()
    populate(url, args.disclosures)
    filled = time.perf_counter() - started
    print(f"database {db.describe(url)} filled in {filled:.1f} s")
    for table in ("disclosures", "people", "pool_entries", "recipient_actions", "recalls"):
        with db.connect(url) as conn:
            count = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        print(f"  {table:<18} {count:>12,}")

    t0 = time.perf_counter()
    figures = metrics.collect(url, AS_OF)
    t1 = time.perf_counter()
    drawn = charts.render_all(figures)
    t2 = time.perf_counter()
    page = render(figures, drawn)
    (folder / "accord-report.html").write_text(page, encoding="utf-8")
    t3 = time.perf_counter()
    total = t3 - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"figures (SQL)   {t1 - t0:6.2f} s")
    print(f"charts ({len(drawn):>2})     {t2 - t1:6.2f} s")
    print(f"HTML            {t3 - t2:6.2f} s  ({len(page.encode()):,} bytes)")
    print(
        f"report over {figures.headline.disclosures:,} disclosures: {total:.2f} s, "
        f"peak RSS {peak:,.0f} MiB; target {TARGET_SECONDS:.0f} s, "
        f"ratio {total / TARGET_SECONDS:.2f} of target"
    )
    print(f"report written to {folder / 'accord-report.html'}")


if __name__ == "__main__":
    main()
