"""Validating a 5,000,000-row cases file: target under 20 s on a 2-core machine (issue 2);
memory that stays flat as the file grows (issue 21).

    .venv/bin/python benchmarks/validate.py [--rows N ...] [--kind cases|register]
        [--extra-columns K] [--keep DIR] [--before SRC]

Generates a realistic file with DuckDB (names in several scripts, optional columns mostly
filled), then validates it in a child process (`accord.formats.validate`, one process per
file so that its peak memory is its own) and prints the wall time, rows per second, peak
resident memory and the ratio to the target.  ``--rows`` takes several sizes (say
``1000000 5000000``) to show how time and memory grow.  ``--before SRC`` also runs the
same validation with the Accord source in SRC (a folder holding ``accord/``: an earlier
commit, ``git archive COMMIT src | tar -x -C /tmp/old``) and prints both and their
ratio.  With ``--extra-columns K`` each row also has K columns SPEC.md does not name,
which must cost next to nothing (issue 23: 1,000 of them on 1,000 rows took over 400 s).
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

import duckdb

TARGET_SECONDS = 20.0
SRC = Path(__file__).resolve().parent.parent / "src"

CHILD = """
import json, sys, time
started = time.perf_counter()
from accord import formats
imported = time.perf_counter()
report = formats.validate(sys.argv[1], sys.argv[2])
done = time.perf_counter()
print(json.dumps({"ok": report.ok, "rows": report.rows, "seconds": done - imported,
                  "problems": [str(p) for p in report.problems[:3]]}))
"""


def generate(path: Path, rows: int, extra: int = 0, kind: str = "cases") -> None:
    extras = "".join(f", 'v' || (i % 97) AS extra_{k}" for k in range(extra))
    names = """list_extract(['Smith','Nguyễn','O''Brien','Мельник','محمد','Campbell-Lewis',
                             '李','Okonkwo'], (i % 8) + 1) AS family_name,
               list_extract(['Anna Maria','Thị Lan','Siobhán','Олександр','عبد الله',
                             'Hubert','小龙','Chidi'], (i % 7) + 1) AS given_names,
               DATE '1950-01-01' + CAST(i % 20000 AS INTEGER) AS date_of_birth,"""
    postcode = "'SW' || (i % 20) || ' ' || (i % 9) || 'AB' AS postcode"
    if kind == "register":
        select = f"""SELECT 'R' || i AS record_id, {names} {postcode},
               DATE '1990-01-01' + CAST(i % 12000 AS INTEGER) AS since{extras}"""
    else:
        select = f"""SELECT 'C' || i AS case_id, 'P' || (i // 3) AS person_id, {names}
               list_extract(['GBR','IRL','VNM','UKR','SDN','JAM','CHN','NGA'], (i % 8) + 1)
                 AS nationality,
               {postcode},
               list_extract(['grant','refusal','refusal','curtailment','information'],
                            (i % 5) + 1) AS decision,
               DATE '2010-01-01' + CAST(i % 5000 AS INTEGER) AS decision_date,
               CASE WHEN i % 5 IN (1, 2) THEN 'eligibility' END AS refusal_reason,
               CASE WHEN i % 5 IN (1, 2) THEN 'none' END AS appeal_status,
               CASE WHEN i % 5 = 0 THEN 'limited' ELSE 'none' END AS leave,
               CASE WHEN i % 5 = 0 THEN DATE '2027-01-01' END AS leave_expiry,
               DATE '2000-01-01' + CAST(i % 3000 AS INTEGER) AS arrival_date,
               NULL AS departure_date,
               'immigration_casework' AS data_category{extras}"""
    duckdb.sql(f"COPY ({select} FROM range({rows}) t(i)) TO '{path}' (HEADER, DELIMITER ',')")


def measure(path: Path, kind: str, src: Path) -> tuple[float, float, int]:
    """Validate ``path`` in a child process with ``src`` first on its path: (wall s, peak GB,
    rows).  The peak is the child's own maximum resident set size."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), kind], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"validation in {src} failed with exit status {proc.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    assert result["ok"], result["problems"]
    return float(result["seconds"]), usage.ru_maxrss / 1e6, int(result["rows"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--kind", choices=("cases", "register"), default="cases")
    parser.add_argument("--keep", type=Path, help="write the generated files here and keep them")
    parser.add_argument("--extra-columns", type=int, default=0, help="columns beyond SPEC.md's")
    parser.add_argument("--before", type=Path, help="earlier Accord source to compare with")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="accord-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    for rows in args.rows:
        path = folder / f"{args.kind}-{rows}-{args.extra_columns}.csv"
        if not path.exists():
            started = time.perf_counter()
            generate(path, rows, args.extra_columns, args.kind)
            print(f"generated {rows:,} {args.kind} rows ({path.stat().st_size / 1e6:,.0f} MB) "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        runs = [("now", SRC)] + ([("before", args.before)] if args.before else [])
        figures = {}
        for label, src in runs:
            seconds, peak_gb, counted = measure(path, args.kind, src)
            figures[label] = (seconds, peak_gb)
            print(f"{label:>6}: validate {counted:,} {args.kind} rows in {seconds:.2f} s = "
                  f"{counted / seconds:,.0f} rows/s; peak memory {peak_gb:.2f} GB")  # fmt: skip
        seconds = figures["now"][0]
        print(f"target {TARGET_SECONDS:.0f} s: ratio {seconds / TARGET_SECONDS:.2f} of the target "
              f"({'met' if seconds < TARGET_SECONDS else 'NOT met'})")  # fmt: skip
        if args.before:
            (t1, m1), (t0, m0) = figures["now"], figures["before"]
            print(f"now / before: wall {t1 / t0:.2f}, peak memory {m1 / m0:.2f}")
        if not args.keep:
            path.unlink()


if __name__ == "__main__":
    main()
