"""Writing N linkage candidates into ``matches`` (and the gate's ``candidates``): time and
peak memory of the path `accord run` takes now against the two before it.

    .venv/bin/python benchmarks/matches.py --rows 200000 [--database sqlite|postgresql]

``tuples``  (to b3f1009) ``match_rows``: a Python tuple per candidate, JSON parsed back
            into Python objects, ``db.bulk_insert``; then every id read back and joined.
``arrow``   (to 7cb54c9) ``match_table`` + ``insert_arrow``: one Arrow table made in
            DuckDB; then every id read back into a Python dict and joined.
``parquet`` (now) the candidates file linkage keeps (accord.linkage.candidates), copied
            by ``candidates.load``: ids given set-based in the file's order, nothing
            read back.  Writing the file is linkage's cost and is timed apart.

The candidates are synthetic but shaped as linkage's (``accord.linkage.predict``'s
columns; an explanation of eleven waterfall entries, about 1.6 KB of JSON, as real
ones).  Each path runs in a process of its own against a new database, so that its
peak memory is its own; memory is the process's peak resident size less its size just
before the write (the candidates already in memory, or on disk, for every path).
Prints one line per path and the ratios to ``tuples``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accord import gate
from accord.cases import insert_arrow
from accord.compute import Workspace
from accord.linkage import candidates
from accord.linkage.predict import OUTPUT_SCHEMA
from accord.linkage.store import EVIDENCE_FIELDS
from accord.store import db
from accord.store.models import Match
from accord.workspace import workspace

PG_ADMIN = os.environ.get("ACCORD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PATHS = ("tuples", "arrow", "parquet")

# ``matches`` columns that match_rows filled, in its order (linkage/store.py to b3f1009).
MATCH_COLUMNS = ("run_id", "register", "person_id", "record_id", "match_probability",
                 "match_weight", "model_id", "rank", "flags", "record", "explanation",
                 "evidence")  # fmt: skip


def synthetic(rows: int, path: Path) -> None:
    """``rows`` candidates shaped as linkage's, written where linkage keeps them."""
    comparisons = ["family_name", "tf_family_name", "given_names", "tf_given_names",
                   "date_of_birth", "postcode", "since"]  # fmt: skip
    entries = ", ".join(
        f"struct_pack(comparison := '{c}', level := 'exact match on {c} after normalising', "
        f"match_weight := (i % 97) / 7.0 - {n}, value_pool := 'value ' || (i % 1013), "
        f"value_register := 'value ' || (i % 1009))"
        for n, c in enumerate(comparisons)
    )
    con = duckdb.connect()
    try:
        table = con.sql(
            f"""SELECT 'P' || lpad(CAST(i // 3 AS VARCHAR), 9, '0') AS person_id,
                   'R' || lpad(CAST(i AS VARCHAR), 10, '0') AS record_id,
                   (i % 1000) / 1000.0 AS match_probability, (i % 61) / 3.0 AS match_weight,
                   CAST(to_json(list_concat([struct_pack(comparison := 'prior',
                       level := 'starting match weight', match_weight := -17.5,
                       value_pool := NULL::VARCHAR, value_register := NULL::VARCHAR)],
                       [{entries}],
                       [struct_pack(comparison := 'candidates', level := 'other candidates',
                        match_weight := -(i % 7) / 3.0, value_pool := NULL::VARCHAR,
                        value_register := NULL::VARCHAR)])) AS VARCHAR) AS explanation,
                   CAST(to_json(struct_pack(record_id := 'R' || i,
                       family_name := 'Family' || i % 5000,
                       given_names := 'Given Names' || i % 3000,
                       date_of_birth := DATE '1960-01-01' + CAST(i % 15000 AS INTEGER),
                       postcode := 'SW' || i % 20 || ' ' || i % 9 || 'AB',
                       since := DATE '2010-01-01' + CAST(i % 5000 AS INTEGER))) AS VARCHAR)
                       AS record,
                   DATE '2010-01-01' + CAST(i % 5000 AS INTEGER) AS since,
                   i % 3 + 1 AS rank_for_person, (i % 89) / 100.0 AS second_for_person,
                   CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 71) / 100.0 END AS second_for_record,
                   CASE WHEN i % 5 = 0 THEN NULL ELSE (i % 13) / 2.0 END AS rival_gap,
                   i % 4 AS name_others, 1 - (i % 1000) / 1000.0 AS wrong_person,
                   (i % 61) / 3.0 AS pair_weight, (i % 997) / 1000.0 AS pair_probability,
                   0.97 AS coverage,
                   'family_name=exact,given_names=first,date_of_birth=exact,postcode=else'
                       AS pattern
            FROM range({rows}) t(i) ORDER BY person_id, rank_for_person"""
        ).to_arrow_table()
    finally:
        con.close()
    pq.write_table(table.cast(OUTPUT_SCHEMA), path, compression="zstd")


def match_rows(
    table: pa.Table, run_id: str, register: str, model_id: int | None
) -> list[tuple[Any, ...]]:
    """``linkage.store.match_rows`` as it was (to b3f1009): a tuple per candidate."""
    names = ("person_id", "record_id", "match_probability", "match_weight", "rank_for_person",
             "record", "explanation", *EVIDENCE_FIELDS)  # fmt: skip
    cols = table.select(list(names)).to_pydict()
    evidence = [
        {f: _plain(v) for f, v in zip(EVIDENCE_FIELDS, values, strict=True)}
        for values in zip(*(cols[f] for f in EVIDENCE_FIELDS), strict=True)
    ]
    return [
        (run_id, register, person, record_id, float(p), float(w), model_id, int(rank), [],
         json.loads(record), json.loads(explanation), found)
        for person, record_id, p, w, rank, record, explanation, found in zip(
            cols["person_id"], cols["record_id"], cols["match_probability"],
            cols["match_weight"], cols["rank_for_person"], cols["record"],
            cols["explanation"], evidence, strict=True,
        )
    ]  # fmt: skip


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return int(value) if isinstance(value, int) else float(value)


def match_table(table: pa.Table, run_id: str, register: str, model_id: int | None) -> pa.Table:
    """``linkage.store.match_table`` as it was (to 7cb54c9): one Arrow table from DuckDB."""
    evidence = ", ".join(f"{f} := {f}" for f in EVIDENCE_FIELDS)
    con = duckdb.connect(":memory:")
    try:
        con.register("candidates", table)
        made: pa.Table = con.execute(
            f"""SELECT CAST(? AS VARCHAR) AS run_id, CAST(? AS VARCHAR) AS register,
                   person_id, record_id, match_probability, match_weight,
                   CAST(? AS INTEGER) AS model_id, CAST(rank_for_person AS INTEGER) AS rank,
                   '[]' AS flags, record, explanation,
                   CAST(to_json(struct_pack({evidence})) AS VARCHAR) AS evidence
            FROM candidates""",
            [run_id, register, model_id],
        ).to_arrow_table()
    finally:
        con.close()
    return made


def read_back(conn: Any, con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    """Both older paths: every id read back into Python, joined to the candidates."""
    ids = {
        (p, r): i
        for i, p, r in conn.execute(
            select(Match.id, Match.person_id, Match.record_id).where(
                Match.run_id == "run-1", Match.register == "bank"
            )
        )
    }
    con.register("_candidates", table)
    con.register(
        "_ids",
        pa.table(
            {
                "person_id": [k[0] for k in ids],
                "record_id": [k[1] for k in ids],
                "match_id": pa.array(list(ids.values()), pa.int64()),
            }
        ),
    )
    con.execute(
        """INSERT INTO candidates BY NAME
        SELECT c.person_id, c.record_id, 'bank' AS register, c.match_probability, c.since,
               c.second_for_person, c.second_for_record, i.match_id, c.wrong_person,
               c.rival_gap, c.pair_probability, c.pattern
        FROM _candidates c JOIN _ids i USING (person_id, record_id)"""
    )


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """This process's peak resident size.  Not getrusage's ru_maxrss: Linux carries that
    over from the parent through fork and exec, so a child would report the parent's."""
    with open("/proc/self/status") as fh:
        found = next(line for line in fh if line.startswith("VmHWM:"))
    return int(found.split()[1]) / 1024  # kB


def one(path: str, url: str, source: Path) -> dict[str, float]:
    """Write the candidates of ``source`` by ``path``, in this process; time and memory."""
    table = pq.read_table(source) if path != "parquet" else None
    rows = pq.read_metadata(source).num_rows
    linked = candidates.Linked(source, rows, reused=True)
    with workspace() as con:
        Workspace(con).declare(*gate.INPUTS)
        before = rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        with db.connect(url) as conn:
            if path == "tuples":
                assert table is not None
                db.bulk_insert(conn, Match.__table__, MATCH_COLUMNS,  # type: ignore[arg-type]
                               match_rows(table, "run-1", "bank", 1))  # fmt: skip
                read_back(conn, con, table)
            elif path == "arrow":
                assert table is not None
                insert_arrow(conn, Match.__table__, match_table(table, "run-1", "bank", 1))  # type: ignore[arg-type]
                read_back(conn, con, table)
            else:
                candidates.load(conn, con, linked, "run-1", "bank", 1)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        gated = con.execute("SELECT count(*), count(DISTINCT match_id) FROM candidates").fetchone()
    with db.connect(url) as conn:
        stored = conn.execute(select(Match.id).order_by(Match.id.desc()).limit(1)).scalar_one()
    assert gated == (rows, rows) and stored == rows, (gated, stored)
    return {"seconds": seconds, "cpu": cpu, "memory_mb": peak_mb() - before}


def database(kind: str, folder: Path) -> Any:
    """A context giving the URL of a new database at the current schema."""
    import contextlib

    from accord.store.models import Base

    @contextlib.contextmanager
    def made() -> Any:
        if kind == "sqlite":
            url = f"sqlite:///{folder / 'bench.db'}"
            Base.metadata.create_all(db.engine_for(url))
            yield url
            return
        from scratch import pg_scratch

        with pg_scratch(PG_ADMIN) as url:
            Base.metadata.create_all(db.engine_for(url))
            yield url

    return made()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--paths", default=",".join(PATHS), help="which paths, comma-separated")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a path, run in this process
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp, database(args.database, Path(tmp)) as url:
            print(json.dumps(one(args.one, url, Path(args.source))))
        return
    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        source = Path(tmp) / "candidates.parquet"
        started = time.perf_counter()
        synthetic(args.rows, source)
        made = time.perf_counter() - started
        print(f"{args.rows:,} candidates, {source.stat().st_size / 2**20:.1f} MB of Parquet "
              f"(made and written in {made:.1f} s), {args.database}")  # fmt: skip
        found: dict[str, dict[str, float]] = {}
        for path in args.paths.split(","):
            done = subprocess.run(
                [sys.executable, __file__, "--one", path, "--source", str(source),
                 "--database", args.database, "--rows", str(args.rows)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            found[path] = json.loads(done.stdout.strip().splitlines()[-1])
            f = found[path]
            print(f"{path:8} {f['seconds']:7.2f} s wall  {f['cpu']:7.2f} s CPU  "
                  f"{1e6 * f['seconds'] / args.rows:6.1f} us/row  "
                  f"+{f['memory_mb']:7.1f} MB peak  "
                  f"{1024 * f['memory_mb'] / args.rows:5.2f} KB/row")  # fmt: skip
        if "tuples" in found:
            base = found["tuples"]
            for path, f in found.items():
                if path != "tuples":
                    memory = f["memory_mb"] / max(base["memory_mb"], 1e-9)
                    print(f"{path} / tuples: wall {f['seconds'] / base['seconds']:.3f}, "
                          f"peak memory {memory:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
