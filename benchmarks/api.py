"""The web application under load: a reviewer's queue page and a recipient's batch fetch.

    .venv/bin/python benchmarks/api.py [--disclosures N] [--review-items N] [--workers W]
        [--connections C] [--requests N] [--seconds S] [--database URL | --pg URL]

Target (issue 11): at least 500 requests per second for each, with p99 under 100 ms, on
this 2-core machine.  It builds a governance database through the real services
(disclosures with their ledger leaves, review items, users and tokens), starts
`accord serve` on 127.0.0.1 in its own process(es), and drives it from a second process
with a small HTTP/1.1 keep-alive client (C connections, each sending its next request
when the last one is answered; an asyncio protocol on uvloop with pre-built requests, so
that it takes little of the CPU it shares with the server), bounded by a request count
and a time limit.  It prints the server's and the client's CPU per request.  Each
request is a real one: the session or token is checked, the page is read from the
database and every read of personal data is written to the audit log.  A PostgreSQL
database is vacuumed and analysed after the build, as autovacuum would soon do.

The batch fetch walks the recipient's batch page by page (``after`` cursors spread over
the whole batch, 100 disclosures a page); the queue page is the reviewer's first page
(50 items) of an open queue of ``--review-items``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import multiprocessing as mp
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from scratch import pg_scratch

TARGET_RPS = 500.0
TARGET_P99_MS = 100.0
PASSWORD = "benchmark password"


# --- the database --------------------------------------------------------------------------


def build(url: str, disclosures: int, review_items: int) -> list[str]:
    """A database with ``disclosures`` to dvla and an open review queue; returns cursors."""
    from sqlalchemy import insert, select

    from accord import identity
    from accord.disclosure import Draft, disclose
    from accord.store import db
    from accord.store.models import Agreement, AgreementVersion, Disclosure, ReviewItem

    db.upgrade(url)
    ensure_model_indexes(url)
    now = dt.datetime.now(dt.UTC)
    with db.connect(url) as conn:
        conn.execute(
            insert(Agreement).values(agreement_id="ho-to-dvla", recipient="dvla", current_version=1)
        )
        conn.execute(
            insert(AgreementVersion).values(
                agreement_id="ho-to-dvla",
                version=1,
                content_sha256="ab" * 32,
                document={
                    "id": "ho-to-dvla",
                    "fields": ["family_name", "given_names", "date_of_birth"],
                },
                loaded_by="benchmark",
                loaded_at=now,
            )
        )
    chunk = 50_000
    for start in range(0, disclosures, chunk):
        drafts = [
            Draft(
                "ho-to-dvla",
                1,
                "dvla",
                f"DVLA-{i:08d}",
                f"P-{i:08d}",
                0.9995,
                "rule:automatic",
                {
                    "family_name": ("Nguyễn", "O'Brien", "Campbell-Lewis", "Okafor")[i % 4],
                    "given_names": ("Thi Lan", "Seán", "Hortense", "Chidi")[i % 4],
                    "date_of_birth": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}",
                },
            )
            for i in range(start, min(disclosures, start + chunk))
        ]
        with db.connect(url) as conn:
            disclose(conn, drafts, now, "RUN-BENCH")
    with db.connect(url) as conn:
        db.bulk_insert(
            conn,
            ReviewItem.__table__,  # type: ignore[arg-type]
            ("item_id", "kind", "person_id", "record_id", "agreement_id", "reason", "detail",
             "status", "approvals_needed", "run_id", "created_at"),
            [
                (f"RV-{i:07d}", ("uncertain_match", "manual_check", "ambiguous_match")[i % 3],
                 f"P-{i:08d}", f"DVLA-{i:08d}", "ho-to-dvla",
                 "Match probability between review_from and disclose_at", {}, "open",
                 2, "RUN-BENCH", now + dt.timedelta(microseconds=i))
                for i in range(review_items)
            ],
        )  # fmt: skip
        ids = list(
            conn.scalars(select(Disclosure.disclosure_id).order_by(Disclosure.disclosure_id))
        )
    identity.add_user(url, "reviewer1", "reviewer", password=PASSWORD)
    identity.add_user(url, "dvla-fetch", "recipient", recipient="dvla")
    if db.dialect_name(url) == "postgresql":
        # The state autovacuum reaches soon after a load: without statistics the planner
        # sorts the whole batch for every page (~150 ms) instead of walking the index, and
        # without a visibility map the queue's counts cannot be read from their index.
        with db.engine_for(url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    # cursors: the start of every 100-disclosure page of the batch
    return ["", *ids[99:-1:100]]


def ensure_model_indexes(url: str) -> None:
    """Create any index the models declare that the migrations do not yet (a no-op once
    they do): the web pages' keyset indexes were added to the models with issue 11."""
    from accord.store import db
    from accord.store.models import Base

    with db.connect(url) as conn:
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)


# --- the load generator (second process) ---------------------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending pre-built requests, the next as soon as
    the last is answered.  A protocol, not streams, and uvloop when installed: the client
    shares the machine with the server, so it must cost little per request."""

    def __init__(
        self,
        requests: list[bytes],
        deadline: float,
        budget: list[int],
        latencies: list[float],
        statuses: dict[int, int],
        done: asyncio.Future[None],
    ) -> None:
        self.requests = requests
        self.deadline = deadline
        self.budget = budget
        self.latencies = latencies
        self.statuses = statuses
        self.done = done
        self.buffer = bytearray()
        self.need = 0  # bytes of the whole response once its head is read; 0 before
        self.status = 0
        self.sent = 0
        self.start = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        now = time.perf_counter()
        if self.budget[0] <= 0 or now >= self.deadline:
            self.transport.close()
            return
        self.budget[0] -= 1
        request = self.requests[self.sent % len(self.requests)]
        self.sent += 1
        self.start = now
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.need:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            self.status = int(head[9:12])
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            self.need = end + 4 + length
        if len(buffer) < self.need:
            return
        self.latencies.append(time.perf_counter() - self.start)
        self.statuses[self.status] = self.statuses.get(self.status, 0) + 1
        del buffer[: self.need]
        self.need = 0
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _load(
    host: str,
    port: int,
    requests: list[bytes],
    connections: int,
    total: int,
    seconds: float,
    out: Any,
) -> None:
    async def run() -> tuple[list[float], dict[int, int], float]:
        loop = asyncio.get_running_loop()
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        budget = [total]
        start = time.perf_counter()
        deadline = start + seconds
        per = [requests[k::connections] or requests for k in range(connections)]
        finished = []
        for k in range(connections):
            done: asyncio.Future[None] = loop.create_future()
            await loop.create_connection(
                functools.partial(_Connection, per[k], deadline, budget, latencies, statuses, done),
                host,
                port,
            )
            finished.append(done)
        await asyncio.gather(*finished)
        return latencies, statuses, time.perf_counter() - start

    try:
        import uvloop
    except ImportError:
        uvloop = None
    cpu = time.process_time()
    latencies, statuses, elapsed = uvloop.run(run()) if uvloop else asyncio.run(run())
    out.send((latencies, statuses, elapsed, time.process_time() - cpu))


def drive(
    host: str, port: int, requests: list[bytes], connections: int, total: int, seconds: float
) -> tuple[list[float], dict[int, int], float, float]:
    """Latencies, statuses, elapsed seconds and the client's own CPU seconds."""
    parent, child = mp.Pipe()
    proc = mp.Process(target=_load, args=(host, port, requests, connections, total, seconds, child))
    proc.start()
    result: tuple[list[float], dict[int, int], float, float] = parent.recv()
    proc.join()
    return result


def get(path: str, header: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}\r\n\r\n".encode()


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ACCORD_WEB_SECRET": secrets.token_urlsafe(32)}
    accord = Path(sys.executable).with_name("accord")
    proc = subprocess.Popen(
        [str(accord), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
         str(workers), "--no-access-log", "--database", url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "serve died")
    proc.terminate()
    raise RuntimeError("accord serve did not start")


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(times.get(pid, 0.0) for pid in tree)


def report(
    name: str,
    latencies: list[float],
    statuses: dict[int, int],
    elapsed: float,
    client_cpu: float,
    server_cpu: float,
) -> bool:
    n = len(latencies)
    rps = n / elapsed
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = ms[min(n - 1, int(n * 0.99))]
    ok = statuses.get(200, 0) == n
    passed = ok and rps >= TARGET_RPS and p99 < TARGET_P99_MS
    print(
        f"{name:<28} {n:>7,} requests in {elapsed:5.1f} s = {rps:7.0f} req/s "
        f"(x{rps / TARGET_RPS:.2f} of {TARGET_RPS:.0f}); p50 {p50:5.1f} ms, p99 {p99:5.1f} ms "
        f"(target < {TARGET_P99_MS:.0f}); statuses {dict(sorted(statuses.items()))}"
        f"{'' if passed else '  BELOW TARGET'}"
    )
    per = server_cpu / n * 1000 if n else float("nan")
    print(
        f"{'':<28} server CPU {per:.2f} ms a request: at most {os.cpu_count() or 1} cores / "
        f"that = {(os.cpu_count() or 1) * 1000 / per:,.0f} req/s with the whole machine; "
        f"client CPU {client_cpu / n * 1000 if n else float('nan'):.2f} ms a request"
    )
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disclosures", type=int, default=100_000)
    parser.add_argument("--review-items", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=20_000, help="per workload, at most")
    parser.add_argument("--seconds", type=float, default=30.0, help="per workload, at most")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database", help="a PostgreSQL URL of an empty database")
    where.add_argument(
        "--pg",
        metavar="URL",
        help="run on a new database on this PostgreSQL server (dropped afterwards), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres; default: a new SQLite file",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.pg:
            args.database = stack.enter_context(pg_scratch(args.pg))
        run(args)


def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="accord-api-bench-"))
    url = args.database or f"sqlite:///{folder / 'accord.db'}"
    # The build signs the ledger's heads and the server refuses to start unless it can
    # sign: both find this key through the environment (the server inherits it).
    from accord.ledger import signing

    key = folder / "ledger.key"
    signing.load_or_create_key(key)
    os.environ["ACCORD_LEDGER_KEY"] = str(key)
    t0 = time.perf_counter()
    cursors = build(url, args.disclosures, args.review_items)
    print(
        f"built {args.disclosures:,} disclosures and {args.review_items:,} open review items "
        f"in {time.perf_counter() - t0:.1f} s ({url.split('://')[0]})"
    )
    from accord import identity

    token = identity.issue_token(url, "dvla-fetch", "benchmark")
    port = free_port()
    server = serve(url, port, args.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as client:
            form = client.get("/login").text
            nonce = form.split('name="nonce" value="', 1)[1].split('"', 1)[0]
            client.post(
                "/login", data={"username": "reviewer1", "password": PASSWORD, "nonce": nonce}
            )
            cookie = client.cookies["accord_session"]
            assert client.get("/review").status_code == 200
        queue = [get("/review", f"Cookie: accord_session={cookie}")]
        batches = [
            get(
                f"/api/v1/batches?limit=100{'&after=' + c if c else ''}",
                f"Authorization: Bearer {token}",
            )
            for c in cursors
        ]
        # warm up both paths (imports, caches, connection pools) before timing
        drive("127.0.0.1", port, queue + batches[:50], 4, 400, 10)
        print(
            f"server: accord serve --workers {args.workers}; "
            f"client: {args.connections} keep-alive connections"
        )
        results = []
        for name, requests in (
            ("reviewer queue page (HTML)", queue),
            ("recipient batch fetch (API)", batches),
        ):
            before = tree_cpu_seconds(server.pid)
            measured = drive(
                "127.0.0.1", port, requests, args.connections, args.requests, args.seconds
            )
            results.append(report(name, *measured, tree_cpu_seconds(server.pid) - before))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)  # the SQLite database: hundreds of MB
    load = os.getloadavg()
    print(
        f"load average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print("PASS" if all(results) else "BELOW TARGET")


if __name__ == "__main__":
    main()
