"""Recalling everything about one person in a ledger of 10,000,000 disclosures: target under
100 ms on a 2-core machine (issue 8).

    .venv/bin/python benchmarks/remedy.py [--disclosures N] [--db PATH] [--repeat R]

Builds (or reuses, at --db) the same 10,000,000-disclosure SQLite database as
benchmarks/subject_access.py, with its builder, then gives one person three active
disclosures through the real API.  It times `accord.remedy.recall_people` for that person
(find the active disclosures, check the recipients' last actions, write a recall row and a
ledger leaf each, mark the disclosures recalled, write the audit log) plus signing the new
tree head, each repetition in a transaction that is rolled back so the next one starts
from the same state.  The peer is the target itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from accord.disclosure import Draft, disclose
from accord.ledger import log as ledger_log
from accord.ledger import signing
from accord.ledger import unit as ledger_unit
from accord.remedy import recall_people
from accord.store import db
from accord.store.models import Disclosure

sys.path.insert(0, str(Path(__file__).parent))
from subject_access import build_bulk, bulk_count

TARGET_MS = 100.0
PERSON = "P-BENCH-RECALL"


def give_disclosures(url: str, key: Path) -> None:
    with db.connect(url) as conn, ledger_unit.work(conn, key):
        if conn.scalar(
            select(func.count()).select_from(Disclosure).where(Disclosure.person_id == PERSON)
        ):
            return
        drafts = [
            Draft(f"home-office-to-{r}", 1, r, f"{r.upper()}-42", PERSON, 0.9995,
                  "rule:automatic", {"family_name": "Okafor", "given_names": "Ada"})
            for r in ("dvla", "hmrc", "bank")
        ]  # fmt: skip
        disclose(conn, drafts, dt.datetime(2026, 3, 1, tzinfo=dt.UTC), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--disclosures", type=int, default=10_000_000)
    parser.add_argument("--db", type=Path, help="database file, kept and reused")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="accord-remedy-")) / "remedy.db"
    url = f"sqlite:///{path}"
    key_path = path.with_suffix(".key")
    key = signing.load_or_create_key(key_path)
    if bulk_count(path) != args.disclosures:
        for stale in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
            stale.unlink(missing_ok=True)
        print(f"building {args.disclosures:,} disclosures in {path}")
        started = time.perf_counter()
        build_bulk(url, path, args.disclosures)
        print(f"build: {time.perf_counter() - started:.1f} s (not part of the measurement)")
    give_disclosures(url, key_path)
    engine = db.engine_for(url)
    times: list[float] = []
    recalled = 0
    with engine.connect() as conn:
        size = ledger_log.tree_size(conn)
        conn.rollback()
        for _ in range(args.repeat + 1):
            conn.begin()
            t0 = time.perf_counter()
            rows = recall_people(conn, [PERSON], "decision_overturned", "benchmark")
            ledger_log.sign_head(conn, key)
            times.append((time.perf_counter() - t0) * 1000)
            recalled = len(rows)
            conn.rollback()
    cold, warm = times[0], times[1:]
    median = statistics.median(warm)
    p95 = sorted(warm)[max(0, int(len(warm) * 0.95) - 1)]
    print(f"ledger of {size:,} leaves; recalling {recalled} disclosures about one person "
          f"and signing the head: median {median:.1f} ms, p95 {p95:.1f} ms, "
          f"first {cold:.1f} ms ({args.repeat} repetitions)")  # fmt: skip
    verdict = "met" if median < TARGET_MS else "NOT met"
    print(f"target {TARGET_MS:.0f} ms: ratio {median / TARGET_MS:.2f} ({verdict})")


if __name__ == "__main__":
    main()
