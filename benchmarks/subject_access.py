"""One person's subject access report (JSON) among 10,000,000 disclosures: target under 200 ms
on a 2-core machine (issue 9).

    .venv/bin/python benchmarks/subject_access.py [--disclosures N] [--db PATH] [--rebuild]
                                                  [--repeat R]

Builds a SQLite database once (kept at --db and reused when it already holds N bulk
disclosures): N disclosures about other people written by one set-based SQLite statement
per million rows, each with a ledger leaf (leaf hashes by a registered SHA-256 function)
and the subtree cache the ledger keeps; then one person's own history through the real
API - case records, pool history, matches with explanations, a four-eyes review, three
disclosures with real leaves, recipient actions, a recall with its leaf, a dispute and a
freeze - and a signed tree head over all of it.  Building is timed and reported
separately from the report itself.

Then it times ``accord.rights.assemble.build`` (everything, including one inclusion proof
per disclosure and recall against the signed head) and ``produce`` (that, plus the JSON,
the audit entry and the commit), and checks every proof in the result.  The peer is the
target itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, insert, select

from accord.disclosure import Draft, disclose
from accord.ledger import bundle, merkle, signing
from accord.ledger import log as ledger_log
from accord.remedy import recall_people
from accord.rights import assemble
from accord.store import db
from accord.store.models import (
    Agreement,
    AgreementVersion,
    CaseDecision,
    Disclosure,
    Freeze,
    Match,
    Person,
    PoolEntry,
    PoolHistory,
    RecipientAction,
    ReviewDecision,
    ReviewItem,
)

TARGET_MS = 200.0
PERSON = "P-BENCH-WINDRUSH"
CHUNK = 1_000_000
AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
AGREEMENTS = {
    "home-office-to-dvla": ("dvla", "immigration_enforcement"),
    "home-office-to-hmrc": ("hmrc", "benefit_enforcement"),
    "home-office-to-bank": ("bank", "immigration_enforcement"),
}
EXPLANATION = [
    {"comparison": "prior", "level": "starting match weight", "match_weight": -17.2,
     "value_pool": None, "value_register": None},
    {"comparison": "family_name", "level": "exact match", "match_weight": 11.4,
     "value_pool": "campbell", "value_register": "campbell"},
    {"comparison": "given_names", "level": "exact match", "match_weight": 8.7,
     "value_pool": "hubert", "value_register": "hubert"},
    {"comparison": "date_of_birth", "level": "exact match", "match_weight": 9.1,
     "value_pool": "1948-06-22", "value_register": "1948-06-22"},
    {"comparison": "postcode", "level": "exact match", "match_weight": 7.9,
     "value_pool": "B19 3XY", "value_register": "B19 3XY"},
]  # fmt: skip


def _stored(table: Any, column: str, value: Any, dialect: Any) -> Any:
    """``value`` as SQLAlchemy stores it in ``table.column`` on SQLite."""
    processor = table.c[column].type.bind_processor(dialect)
    return processor(value) if processor else value


def bulk_count(path: Path) -> int:
    if not path.exists():
        return -1
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT count(*) FROM disclosures WHERE run_id = 'RUN-BULK'").fetchone()
        return int(row[0])
    except sqlite3.Error:
        return -1
    finally:
        con.close()


def build_bulk(url: str, path: Path, n: int) -> None:
    """N disclosures about 200,000-odd other people, their leaves and the subtree cache."""
    db.upgrade(url)
    dialect = db.engine_for(url).dialect
    table: Table = Disclosure.__table__  # type: ignore[assignment]
    at = _stored(table, "disclosed_at", AT, dialect)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-2000000")
    con.create_function(
        "leaf_hash", 1, lambda c: hashlib.sha256(b"\x00" + c).digest(), deterministic=True
    )
    agreements = list(AGREEMENTS)
    agreement_sql = (
        f"CASE i % 3 WHEN 0 THEN '{agreements[0]}' WHEN 1 THEN '{agreements[1]}' "
        f"ELSE '{agreements[2]}' END"
    )
    recipient_sql = "CASE i % 3 WHEN 0 THEN 'dvla' WHEN 1 THEN 'hmrc' ELSE 'bank' END"
    series = "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
    started = time.perf_counter()
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        con.execute("BEGIN")
        con.execute(
            f"""{series}
            INSERT INTO disclosures (disclosure_id, run_id, agreement_id, agreement_version,
                recipient, record_id, person_id, match_probability, match_id, decided_by,
                fields, disclosed_at, ledger_index, status)
            SELECT printf('D-B%018d', i), 'RUN-BULK', {agreement_sql}, 1, {recipient_sql},
                   printf('R%010d', i), printf('P-B%08d', i / 5), 0.9995, NULL,
                   'rule:automatic',
                   printf('{{"family_name": "Family%d", "given_names": "Given%d"}}', i / 5,
                          i / 5),
                   ?, i, 'active'
            FROM n""",
            (lo, hi, at),
        )
        con.execute(
            f"""{series}
            INSERT INTO ledger_leaves (leaf_index, kind, ref_id, content, leaf_hash, appended_at)
            SELECT i, 'disclosure', printf('D-B%018d', i), c, leaf_hash(c), ?
            FROM (SELECT i, CAST(printf('{{"type":"disclosure","disclosure_id":"D-B%018d"}}', i)
                                 AS BLOB) AS c FROM n)""",
            (lo, hi, at),
        )
        con.execute("COMMIT")
        print(f"  {hi:>12,} disclosures and leaves  {time.perf_counter() - started:7.1f} s")
    # The subtree cache, exactly as ledger.log.append fills it (complete subtrees >= 2**8).
    frontier = merkle.CompactRange()
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        hashes = [
            bytes(h)
            for (h,) in con.execute(
                "SELECT leaf_hash FROM ledger_leaves WHERE leaf_index >= ? AND leaf_index < ? "
                "ORDER BY leaf_index",
                (lo, hi),
            )
        ]
        nodes = frontier.extend(hashes, emit_from=ledger_log.CACHE_LEVEL)
        con.execute("BEGIN")
        con.executemany('INSERT INTO ledger_nodes (level, "index", hash) VALUES (?, ?, ?)', nodes)
        con.execute("COMMIT")
    print(f"  subtree cache built               {time.perf_counter() - started:7.1f} s")
    con.execute("ANALYZE")
    con.close()


def build_person(url: str, key: Ed25519PrivateKey) -> None:
    """One Windrush-cohort person's whole history through the real API, then a signed head."""
    run_at = AT - dt.timedelta(days=2)
    with db.connect(url) as conn:
        for agreement_id, (recipient, purpose) in AGREEMENTS.items():
            if conn.execute(
                select(Agreement.agreement_id).where(Agreement.agreement_id == agreement_id)
            ).first():
                continue
            conn.execute(
                insert(Agreement).values(
                    agreement_id=agreement_id, recipient=recipient, current_version=1
                )
            )
            conn.execute(
                insert(AgreementVersion).values(
                    agreement_id=agreement_id, version=1, content_sha256="0" * 64,
                    loaded_by="benchmark", loaded_at=run_at,
                    document={"id": agreement_id, "title": f"Sharing with {recipient}",
                              "recipient": recipient, "purpose": purpose,
                              "legal_basis": "Immigration Act 2014, section 40",
                              "fields": ["family_name", "given_names", "date_of_birth"]},
                )
            )  # fmt: skip
        conn.execute(
            insert(CaseDecision).values(
                case_id="C-BENCH-1", person_id=PERSON, family_name="Campbell",
                given_names="Hubert", date_of_birth=dt.date(1948, 6, 22), nationality="JAM",
                postcode="B19 3XY", decision="refusal", decision_date=dt.date(2017, 4, 3),
                refusal_reason="eligibility", appeal_status="none", leave="none",
                arrival_date=dt.date(1961, 8, 14), data_category="immigration_casework",
            )
        )  # fmt: skip
        provenance = {
            f: {"case_id": "C-BENCH-1", "data_category": "immigration_casework"}
            for f in ("family_name", "given_names", "date_of_birth", "nationality", "postcode")
        }
        conn.execute(
            insert(Person).values(
                person_id=PERSON, family_name="Campbell", given_names="Hubert",
                date_of_birth=dt.date(1948, 6, 22), nationality="JAM", postcode="B19 3XY",
                arrival_date=dt.date(1961, 8, 14), latest_decision="refusal",
                latest_decision_date=dt.date(2017, 4, 3), refusal_reason="eligibility",
                leave="none", provenance=provenance, derived_as_of=run_at.date(),
            )
        )  # fmt: skip
        for status, reasons, at in (
            ("manual_check", ["arrived_before_1973"], run_at - dt.timedelta(days=3)),
            ("admitted", ["manual_check_approved"], run_at),
        ):
            conn.execute(
                insert(PoolHistory).values(
                    person_id=PERSON, status=status, reasons=reasons, as_of=at.date(), at=at
                )
            )
        conn.execute(
            insert(PoolEntry).values(
                person_id=PERSON, status="admitted", reasons=["manual_check_approved"],
                as_of=run_at.date(), updated_at=run_at,
            )
        )  # fmt: skip
        drafts = []
        for agreement_id, (recipient, _) in AGREEMENTS.items():
            record_id = f"{recipient.upper()}-BENCH"
            match_id = conn.execute(
                insert(Match)
                .values(
                    run_id="RUN-PERSON", register=recipient, person_id=PERSON,
                    record_id=record_id, match_probability=0.9996, match_weight=11.3, rank=1,
                    flags=[], explanation=EXPLANATION, record={"record_id": record_id},
                )
                .returning(Match.id)
            ).scalar_one()  # fmt: skip
            decided_by = "A. Okafor, B. Lindqvist" if recipient == "dvla" else "rule:automatic"
            if recipient == "dvla":
                conn.execute(
                    insert(ReviewItem).values(
                        item_id="RV-BENCH", kind="long_residence", person_id=PERSON,
                        record_id=record_id, agreement_id=agreement_id, match_id=match_id,
                        reason="Licence held since 1979", status="approved",
                        approvals_needed=2, created_at=run_at, closed_at=AT,
                    )
                )  # fmt: skip
                for reviewer in ("A. Okafor", "B. Lindqvist"):
                    conn.execute(
                        insert(ReviewDecision).values(
                            item_id="RV-BENCH", reviewer=reviewer, decision="approve",
                            reason="Identity confirmed", decided_at=AT,
                        )
                    )  # fmt: skip
            drafts.append(
                Draft(agreement_id, 1, recipient, record_id, PERSON, 0.9996, decided_by,
                      {"family_name": "Campbell", "given_names": "Hubert",
                       "date_of_birth": "1948-06-22"}, match_id)
            )  # fmt: skip
        ids = disclose(conn, drafts, AT, "RUN-PERSON")
        conn.execute(
            insert(RecipientAction).values(
                disclosure_id=ids[0], recipient="dvla", action="revoked",
                action_date=(AT + dt.timedelta(days=9)).date(), recorded_at=AT,
            )
        )  # fmt: skip
        recall_people(conn, [PERSON], "leave_granted", "benchmark", at=AT + dt.timedelta(days=40))
        conn.execute(
            insert(Freeze).values(
                person_id=PERSON, reason="dispute_opened", opened_at=AT + dt.timedelta(days=41)
            )
        )
        ledger_log.sign_head(conn, key)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--disclosures", type=int, default=10_000_000)
    parser.add_argument("--db", type=Path, help="database file, kept and reused")
    parser.add_argument("--rebuild", action="store_true", help="build it again even if present")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="accord-sar-"))
    path = args.db or folder / "subject_access.db"
    key_path = path.with_suffix(".key")
    url = f"sqlite:///{path}"

    if args.rebuild or bulk_count(path) != args.disclosures:
        for stale in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm"), key_path):
            stale.unlink(missing_ok=True)
        print(f"building {args.disclosures:,} disclosures in {path}")
        started = time.perf_counter()
        build_bulk(url, path, args.disclosures)
        key = signing.load_or_create_key(key_path)
        build_person(url, key)
        print(f"build: {time.perf_counter() - started:.1f} s (not part of the measurement)")
    else:
        print(f"reusing {path} ({args.disclosures:,} bulk disclosures)")
        key = signing.load_or_create_key(key_path)
    public = key.public_key()

    with db.connect(url) as conn:
        n_all = int(conn.exec_driver_sql("SELECT count(*) FROM disclosures").scalar_one())
        leaves = ledger_log.tree_size(conn)
        cold_start = time.perf_counter()
        report = assemble.build(conn, PERSON, key=public)
        cold_ms = (time.perf_counter() - cold_start) * 1000
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            report = assemble.build(conn, PERSON, key=public)
            times.append((time.perf_counter() - t0) * 1000)
    problems = [
        where
        for where, proof in bundle.bundles_in(json.loads(report.to_json()))
        if not bundle.check_bundle(proof, trusted=public).ok
    ]
    produce_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        assemble.produce(url, PERSON, produced_by="benchmark", output_format="json", key=public)
        produce_times.append((time.perf_counter() - t0) * 1000)

    median = statistics.median(times)
    p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
    produce_median = statistics.median(produce_times)
    print(f"database: {n_all:,} disclosures, {leaves:,} ledger leaves")
    print(
        f"report for {PERSON}: {len(report.disclosures)} disclosures, {len(report.recalls)} "
        f"recall(s), {len(report.actions)} action(s); proofs checked: "
        f"{'all verify' if not problems else 'FAILED ' + ', '.join(problems)}"
    )
    print(f"assemble.build  first {cold_ms:7.1f} ms   median {median:7.1f} ms   p95 {p95:7.1f} ms"
          f"   ({args.repeat} runs)")  # fmt: skip
    print(f"produce (json)  median {produce_median:7.1f} ms  (5 runs; includes audit entry "
          "and commit)")  # fmt: skip
    print(f"target {TARGET_MS:.0f} ms: produce median is {produce_median / TARGET_MS:.2f}x "
          f"the target ({'met' if produce_median < TARGET_MS else 'NOT met'})")  # fmt: skip


if __name__ == "__main__":
    main()
