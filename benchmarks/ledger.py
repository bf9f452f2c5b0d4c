"""The ledger's targets (issue 7): append >= 100,000 leaves/s in batch, an inclusion proof at
10,000,000 leaves in < 5 ms, `accord verify` over 1,000,000 leaves in < 20 s.

    .venv/bin/python benchmarks/ledger.py [--append N] [--proof-leaves N] [--verify-leaves N]
                                          [--pg URL | --no-pg] [--keep DIR] [--skip PART ...]

append   times `log.append` (hash, extend the subtree cache, bulk insert, commit) on
         realistic disclosure leaves in batches of 50,000, on SQLite and, if it can be
         reached, PostgreSQL (a scratch database that is dropped afterwards).
proof    builds a ledger of --proof-leaves leaves with a fast path that writes leaves and
         cache rows straight into SQLite (kept in --keep DIR for reuse), then times the real
         `log.inclusion_proof` (and `log.consistency_proof`) for random leaves, checking
         every proof against the root.
verify   records --verify-leaves disclosures the way `accord run` does (rows + leaves, heads
         signed as it goes), then times `log.verify` and the `accord verify` command.
peer     pymerkle (a maintained RFC 6962 implementation): SqliteTree bulk append, and an
         inclusion proof at --peer-leaves leaves cold (its cache is in memory only) and warm.

Wall-clock figures on a shared machine vary with its load; each line also gives the CPU
time the process itself used.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scratch import pg_scratch

from accord.ledger import content, log, merkle, signing
from accord.store import checkpoint, db
from accord.store.models import Disclosure

APPEND_TARGET = 100_000.0  # leaves per second
PROOF_TARGET_MS = 5.0
VERIFY_TARGET_S = 20.0
BATCH = 50_000
# Accord's own figures from this run, for the peer's lines to be compared with.
MEASURED: dict[str, float] = {}
PG_DEFAULT = os.environ.get(
    "ACCORD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
D_COLS = (
    "disclosure_id", "run_id", "agreement_id", "agreement_version", "recipient", "record_id",
    "person_id", "match_probability", "match_id", "decided_by", "fields", "disclosed_at",
    "ledger_index", "status",
)  # fmt: skip
AT = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)
GIVEN = ["Anna Maria", "Thị Lan", "Siobhán", "Олександр", "عبد الله", "小龙", "Chidi"]
FAMILY = ["Smith", "Nguyễn", "O'Brien", "Мельник", "محمد", "李", "Okonkwo"]


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


class Clock:
    """Wall-clock and this process's CPU seconds for one timed block."""

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def disclosure_rows(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "disclosure_id": f"D-{i:020x}", "run_id": "bench",
            "agreement_id": "home-office-to-dvla",
            "agreement_version": 1 + i % 3, "recipient": ("dvla", "hmrc", "bank")[i % 3],
            "record_id": f"DVLA{i:09d}", "person_id": f"P{i // 2:09d}",
            "match_probability": 0.999 + (i % 997) * 1e-7, "match_id": i,
            "decided_by": "rule:automatic" if i % 7 else "reviewer:alice, reviewer:bob",
            "fields": {"family_name": FAMILY[i % 7], "given_names": GIVEN[i % 7],
                       "date_of_birth": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}"},
            "disclosed_at": AT + dt.timedelta(microseconds=i), "status": "active",
        }
        for i in range(start, start + count)
    ]  # fmt: skip


def leaves_of(rows: list[dict[str, Any]]) -> list[tuple[str, str, bytes]]:
    return [("disclosure", r["disclosure_id"], content.disclosure_leaf(r)) for r in rows]


# --- append ----------------------------------------------------------------------------------


def bench_append(url: str, total: int, label: str) -> None:
    db.upgrade(url)
    spent_wall = spent_cpu = 0.0
    sizes = 0
    for start in range(0, total, BATCH):
        leaves = leaves_of(disclosure_rows(start, min(BATCH, total - start)))
        sizes += sum(len(c) for _, _, c in leaves)
        with Clock() as c, db.connect(url) as conn:
            log.append(conn, leaves)
        spent_wall += c.wall
        spent_cpu += c.cpu
    drained = ""
    if url.startswith("sqlite:///"):  # SQLite's checkpoint runs on a thread: wait for it too
        with Clock() as c:
            assert checkpoint.for_path(Path(url.removeprefix("sqlite:///"))).drain()
        spent_wall += c.wall
        spent_cpu += c.cpu
        drained = f", including {c.wall:.2f} s waiting for the last checkpoint"
    rate = total / spent_wall
    MEASURED.setdefault(f"append {label}", rate)
    print(
        f"append ({label}): {total:,} leaves (mean {sizes / total:.0f} bytes) in batches of "
        f"{BATCH:,}: {spent_wall:.2f} s{drained} = {rate:,.0f} leaves/s "
        f"(CPU of all threads {total / spent_cpu:,.0f}/s); "
        f"target {APPEND_TARGET:,.0f}/s: ratio {rate / APPEND_TARGET:.2f} "
        f"({'met' if rate >= APPEND_TARGET else 'NOT met'})"
    )
    with db.connect(url) as conn:
        assert log.tree_size(conn) == total


# --- proof at 10M ----------------------------------------------------------------------------


def build_big(path: Path, leaves: int) -> None:
    """Fast path: leaves and complete-subtree cache rows written straight into SQLite."""
    url = f"sqlite:///{path}"
    db.upgrade(url)
    db.engine_for(url).dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    frontier = merkle.CompactRange()
    stamp = AT.strftime("%Y-%m-%d %H:%M:%S.%f")
    chunk = 1 << 20
    for start in range(0, leaves, chunk):
        n = min(chunk, leaves - start)
        data = [b"leaf %d" % i for i in range(start, start + n)]
        hashes = merkle.leaf_hashes(data)
        nodes = frontier.extend(hashes, emit_from=log.CACHE_LEVEL)
        con.executemany(
            "INSERT INTO ledger_leaves (leaf_index, kind, ref_id, content, leaf_hash, appended_at) "
            "VALUES (?, 'disclosure', ?, ?, ?, ?)",
            (
                (start + i, f"D-{start + i}", d, h, stamp)
                for i, (d, h) in enumerate(zip(data, hashes, strict=True))
            ),
        )  # fmt: skip
        con.executemany('INSERT INTO ledger_nodes (level, "index", hash) VALUES (?, ?, ?)', nodes)
        con.commit()
        print(f"  built {start + n:,} leaves", flush=True)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def bench_proof(folder: Path, leaves: int, samples: int) -> None:
    path = folder / f"ledger-{leaves}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        db.upgrade(url)  # a kept ledger from an older schema
        with db.connect(url) as conn:
            have = log.tree_size(conn)
        if have != leaves:
            path.unlink()
    if not path.exists():
        with Clock() as c:
            build_big(path, leaves)
        print(
            f"built a {leaves:,}-leaf ledger ({path.stat().st_size / 1e9:.1f} GB) in {c.wall:.0f} s"
        )
    rng = random.Random(1)
    with db.connect(url) as conn:
        root = log.root(conn, leaves)
        log.inclusion_proof(conn, 0, leaves)  # warm the statement cache, not the data
        times, cpu = [], []
        for _ in range(samples):
            index = rng.randrange(leaves)
            with Clock() as c:
                proof = log.inclusion_proof(conn, index, leaves)
            times.append(c.wall * 1000)
            cpu.append(c.cpu * 1000)
            assert merkle.verify_inclusion(
                merkle.leaf_hash(b"leaf %d" % index), index, leaves, proof, root
            )
        ctimes = []
        for _ in range(samples // 4):
            first = rng.randrange(1, leaves)
            with Clock() as c:
                proof = log.consistency_proof(conn, first, leaves)
            ctimes.append(c.wall * 1000)
            assert merkle.verify_consistency(first, leaves, log.root(conn, first), root, proof)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    median = statistics.median(times)
    MEASURED["proof ms"], MEASURED["proof leaves"] = median, leaves
    print(
        f"inclusion proof at {leaves:,} leaves ({samples} random leaves, each checked): "
        f"median {median:.2f} ms, p95 {p95:.2f} ms, max {times[-1]:.2f} ms "
        f"(CPU median {statistics.median(cpu):.2f} ms); target {PROOF_TARGET_MS:.0f} ms: "
        f"ratio {p95 / PROOF_TARGET_MS:.2f} at p95 ({_met(p95 < PROOF_TARGET_MS)})"
    )
    print(f"consistency proof at {leaves:,} leaves: median {statistics.median(ctimes):.2f} ms")


# --- verify at 1M ----------------------------------------------------------------------------


def bench_verify(folder: Path, leaves: int) -> None:
    path = folder / f"verify-{leaves}.db"
    key_path = folder / "verify.key"
    url = f"sqlite:///{path}"
    key = signing.load_or_create_key(key_path)
    ready = False
    if path.exists():
        db.upgrade(url)  # a kept ledger from an older schema
        with db.connect(url) as conn:
            ready = log.tree_size(conn) == leaves and log.latest_head(conn) is not None
    if not ready:
        for f in folder.glob(f"verify-{leaves}.db*"):
            f.unlink()
        db.upgrade(url)
        with Clock() as c:
            for start in range(0, leaves, 100_000):
                rows = disclosure_rows(start, min(100_000, leaves - start))
                with db.connect(url) as conn:
                    indexes = log.append(conn, leaves_of(rows))
                    for r, i in zip(rows, indexes, strict=True):
                        r["ledger_index"] = i
                    db.bulk_insert(
                        conn,
                        Disclosure.__table__,  # type: ignore[arg-type]
                        D_COLS,
                        [tuple(r[k] for k in D_COLS) for r in rows],
                    )
                    log.sign_head(conn, key)
        print(f"recorded {leaves:,} disclosures with their leaves and heads in {c.wall:.0f} s")
    db.engine_for(url).dispose()
    with Clock() as c, db.connect(url) as conn:
        result = log.verify(conn, key.public_key())
    assert result.ok, result.problems[:3]
    print(
        f"verify (library) {result.leaves:,} leaves, {result.disclosures:,} disclosures, "
        f"{result.heads} heads: {c.wall:.2f} s (CPU {c.cpu:.2f} s); "
        f"target {VERIFY_TARGET_S:.0f} s: ratio {c.wall / VERIFY_TARGET_S:.2f} "
        f"({_met(c.wall < VERIFY_TARGET_S)})"
    )
    accord = Path(sys.executable).with_name("accord")
    for workers in ("1", "2"):
        load = os.getloadavg()[0]
        started = time.perf_counter()
        command = [str(accord), "verify", "--database", url, "--key", str(key_path)]
        done = subprocess.run(
            [*command, "--workers", workers], capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        print(
            f"`accord verify --workers {workers}` (start-up included; load average {load:.1f} "
            f"on {os.cpu_count()} cores): {seconds:.2f} s; target {VERIFY_TARGET_S:.0f} s: "
            f"ratio {seconds / VERIFY_TARGET_S:.2f} ({_met(seconds < VERIFY_TARGET_S)})"
        )


# --- peer --------------------------------------------------------------------------------------


def bench_peer(folder: Path, append_n: int, proof_leaves: int) -> None:
    try:
        from pymerkle import SqliteTree  # type: ignore[import-untyped]
    except ImportError:
        print("peer: pymerkle is not installed (`pip install -e '.[dev]'`); skipped")
        return
    entries = [leaf for _, _, leaf in leaves_of(disclosure_rows(0, append_n))]
    path = folder / "pymerkle-append.db"
    for f in folder.glob("pymerkle-append.db*"):
        f.unlink()
    tree = SqliteTree(str(path))
    with Clock() as c:
        tree.append_entries(entries)
    tree.close()
    rate = append_n / c.wall
    ours = MEASURED.get("append SQLite")
    print(
        f"peer pymerkle SqliteTree.append_entries: {rate:,.0f} leaves/s (same leaves)"
        + (f"; Accord's SQLite append above is {ours / rate:.2f}x its rate" if ours else "")
    )
    path = folder / f"pymerkle-{proof_leaves}.db"
    tree = SqliteTree(str(path))
    if tree.get_size() != proof_leaves:
        tree.close()
        path.unlink()
        tree = SqliteTree(str(path))
        tree.append_entries(b"leaf %d" % i for i in range(proof_leaves))
    rng = random.Random(2)
    index = rng.randrange(proof_leaves) + 1  # pymerkle counts leaves from 1
    with Clock() as cold:
        tree.prove_inclusion(index, proof_leaves)
    warm = []
    for _ in range(50):
        with Clock() as c:
            tree.prove_inclusion(rng.randrange(proof_leaves) + 1, proof_leaves)
        warm.append(c.wall * 1000)
    tree.close()
    print(
        f"peer pymerkle inclusion proof at {proof_leaves:,} leaves: "
        f"cold {cold.wall * 1000:,.0f} ms "
        f"(it caches subtrees in memory only), then median {statistics.median(warm):.2f} ms"
    )
    if "proof ms" in MEASURED:
        print(
            f"  Accord's median proof above, at {MEASURED['proof ms']:.2f} ms, is "
            f"{statistics.median(warm) / MEASURED['proof ms']:.0f}x faster than pymerkle's warm "
            f"median, on {MEASURED['proof leaves']:,.0f} leaves against its {proof_leaves:,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--append", type=int, default=500_000, help="leaves to append")
    parser.add_argument("--proof-leaves", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=400, help="inclusion proofs to time")
    parser.add_argument("--verify-leaves", type=int, default=1_000_000)
    parser.add_argument("--peer-append", type=int, default=200_000)
    parser.add_argument("--peer-leaves", type=int, default=1_000_000)
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL admin URL for the append run")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the built ledgers here")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["append", "proof", "verify", "peer"]
    )
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="accord-ledger-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    parts: dict[str, Callable[[], None]] = {
        "append": lambda: append_all(args, folder),
        "proof": lambda: bench_proof(folder, args.proof_leaves, args.proofs),
        "verify": lambda: bench_verify(folder, args.verify_leaves),
        "peer": lambda: bench_peer(folder, args.peer_append, args.peer_leaves),
    }
    for name, run in parts.items():
        if name not in args.skip:
            run()
    if not args.keep:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()


def append_all(args: argparse.Namespace, folder: Path) -> None:
    path = folder / "append.db"
    for f in folder.glob("append.db*"):
        f.unlink()
    bench_append(f"sqlite:///{path}", args.append, "SQLite")
    if args.no_pg:
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(pg_scratch(args.pg))
        except Exception as exc:  # any failure to reach it means: no PostgreSQL figure
            first = str(exc).splitlines()[0]
            print(f"append (PostgreSQL): not measured, {args.pg} unreachable: {first}")
            return
        bench_append(url, args.append, "PostgreSQL")


if __name__ == "__main__":
    main()
