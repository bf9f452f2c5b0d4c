"""Where the link's time goes: each statement it sends to DuckDB, timed on one thread.

    .venv/bin/python benchmarks/link_statements.py [--register bank] [--repeats 3]
        [--baseline /tmp/old-417501d] [--people 100000] [--register-rows 1000000]
        [--seed 5] [--data DIR]

On the scenario ``benchmarks/linkage.py`` writes (the same arguments name the same
folder; it is made, and the register's model trained, if they are not there yet), each
code links the pool to the register in a fresh process, with DuckDB on one thread
(``SET threads = 1``) so that a statement's time is its CPU time, undisturbed by how well
it spreads over cores.  A wrapper around the link's DuckDB connection times every
statement; what is left of the link's time is Python and Arrow (loading the inputs,
ordering the result).

``--baseline DIR`` (a checkout of earlier code: ``git worktree add /tmp/old-417501d
417501d`` for the code before issue 17's linkage work) does the same with that code
(``PYTHONPATH=DIR/src``), on the same data with its own saved model, and prints the two
side by side, statement by statement (matched by the table a statement makes), with
medians of ``--repeats`` runs.  This is the accounting behind ``benchmarks/linkage.py``'s
ratio: which steps the gap is made of (docs/linkage.md, "Measured").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, cast

# Statements quicker than this are summed into one line.
SHOWN_SECONDS = 0.03


def label(sql: str) -> str:
    """A statement's name: the table it makes, else its opening words."""
    text = " ".join(sql.split())
    made = re.match(r"CREATE (?:OR REPLACE )?(?:TEMP )?TABLE (\w+)", text, re.IGNORECASE)
    if made:
        return made.group(1)
    return "query: " + text[:40]


def side(data: Path, register: str) -> dict[str, Any]:
    """One timed link with this process's code (run in a child process)."""
    import duckdb
    import pyarrow.parquet as pq

    from accord.linkage import link, load_model
    from accord.linkage import model as m
    from accord.store import db

    timings: list[tuple[str, float]] = []

    class Timed:
        """The link's DuckDB connection, every statement it runs timed."""

        def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
            self._con = con

        def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            out = self._con.execute(sql, *args, **kwargs)
            timings.append((label(sql), time.process_time() - t0))
            return out

        def sql(self, sql: str, *args: Any, **kwargs: Any) -> Any:
            relation = self._con.sql(sql, *args, **kwargs)
            return TimedRelation(relation, label(sql))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._con, name)

    class TimedRelation:
        def __init__(self, relation: Any, name: str) -> None:
            self._relation, self._name = relation, name

        def __getattr__(self, name: str) -> Any:
            found = getattr(self._relation, name)
            if not callable(found):
                return found

            def timed(*args: Any, **kwargs: Any) -> Any:
                t0 = time.process_time()
                out = found(*args, **kwargs)
                timings.append((self._name, time.process_time() - t0))
                return out

            return timed

    new_duckdb = m.new_duckdb

    def one_thread() -> Any:
        con = new_duckdb()
        con.execute("SET threads = 1")
        return Timed(con)

    m.new_duckdb = one_thread
    try:  # later code passes connections through features.as_sql
        from accord.linkage import features

        as_sql = features.as_sql
        features.as_sql = lambda con: (
            features.DuckDBSql(cast(Any, con)) if isinstance(con, Timed) else as_sql(con)
        )
    except (ImportError, AttributeError):
        pass

    pool = pq.read_table(data / "pool.parquet")
    reg = pq.read_table(data / f"{register}.parquet")
    url = f"sqlite:///{data / 'models.db'}"
    db.upgrade(url)  # as benchmarks/linkage.py's training does: a new folder has no models
    with db.connect(url) as conn:
        saved = load_model(conn, register)
    if saved is None:
        return {"untrained": True}
    t0 = time.process_time()
    candidates = link(saved, pool, reg, 0.5)
    total = time.process_time() - t0
    return {"total": total, "statements": timings, "pairs": candidates.num_rows}


def run(code: Path | None, data: Path, register: str) -> dict[str, Any]:
    """One link in a fresh process, with the code of checkout ``code`` if given."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code / "src")
    script = str(Path(__file__).resolve())
    proc = subprocess.run(
        [sys.executable, script, "--side", str(data), "--register", register],
        capture_output=True, text=True, check=False, env=env, cwd=code,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"the link with {code or 'this code'} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def medians(runs: list[dict[str, Any]]) -> tuple[dict[str, float], float, int]:
    """Each statement's median CPU time (a name made twice is numbered), the link's."""
    seen: defaultdict[str, list[float]] = defaultdict(list)
    for r in runs:
        names: Counter[str] = Counter()
        for name, seconds in r["statements"]:
            names[name] += 1
            seen[name if names[name] == 1 else f"{name} ({names[name]})"].append(seconds)
    out = {name: statistics.median(v) for name, v in seen.items()}
    return out, statistics.median(r["total"] for r in runs), runs[-1]["pairs"]


def linked(code: Path | None, data: Path, register: str, repeats: int) -> list[dict[str, Any]]:
    import linkage as bench

    first = run(code, data, register)
    if first.get("untrained"):
        bench.run_side("accord-train", data, register, code)
        first = run(code, data, register)
    return [first] + [run(code, data, register) for _ in range(repeats - 1)]


def show(columns: list[tuple[str, list[dict[str, Any]]]]) -> None:
    timed = [medians(runs) for _, runs in columns]
    names = list(dict.fromkeys(n for statements, _, _ in timed for n in statements))
    shown = [n for n in names if any(s.get(n, 0.0) >= SHOWN_SECONDS for s, _, _ in timed)]
    width = max(len(n) for n in [*shown, "statement"])
    print("\none thread, CPU seconds, medians of", len(columns[0][1]), "runs")
    print(f"  {'statement':<{width}}" + "".join(f"  {h:>10}" for h, _ in columns))
    for n in shown:
        cells = "".join(f"  {s[n]:>10.2f}" if n in s else f"  {'-':>10}" for s, _, _ in timed)
        print(f"  {n:<{width}}{cells}")
    rows = (
        ("other statements", [sum(v for k, v in s.items() if k not in shown) for s, _, _ in timed]),
        ("all statements", [sum(s.values()) for s, _, _ in timed]),
        ("Python and Arrow", [t - sum(s.values()) for s, t, _ in timed]),
        ("the link", [t for _, t, _ in timed]),
    )
    for name, values in rows:
        print(f"  {name:<{width}}" + "".join(f"  {v:>10.2f}" for v in values))
    print(f"  {'pairs':<{width}}" + "".join(f"  {p:>10,}" for _, _, p in timed))
    if len(timed) == 2:
        (_, new, _), (_, old, _) = timed
        print(f"\nthis code / baseline, one thread: {new:.2f} s / {old:.2f} s = {new / old:.2f}")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import linkage as bench

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    bench.add_scenario_arguments(ap)
    ap.add_argument("--baseline", type=Path, help="a checkout of earlier code to set beside")
    ap.add_argument("--repeats", type=int, default=3, help="links per code (medians)")
    ap.add_argument("--side", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(side(args.side, args.register)))
        return
    data = bench.prepare(args)
    columns = [("this code", linked(None, data, args.register, args.repeats))]
    if args.baseline:
        old = bench.baseline_data(data, args.baseline)
        columns.append(("baseline", linked(args.baseline, old, args.register, args.repeats)))
    print(f"data: {data}, register {args.register}")
    show(columns)


if __name__ == "__main__":
    main()
