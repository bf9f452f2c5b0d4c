"""Validating a 5,000,000-row cases file: target under 20 s on a 2-core machine (issue 2).

    .venv/bin/python benchmarks/validate.py [--rows N] [--extra-columns K] [--keep DIR]

Generates a realistic cases file with DuckDB (names in several scripts, optional columns
mostly filled), then times `accord.formats.validate` on it and prints rows per second and
the ratio to the target.  The peer is the target itself: no other tool validates SPEC.md.
With ``--extra-columns K`` each row also has K columns SPEC.md does not name, which must
cost next to nothing (issue 23: 1,000 of them on 1,000 rows took over 400 s).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from accord import formats

TARGET_SECONDS = 20.0


def generate(path: Path, rows: int, extra: int = 0) -> None:
    extras = "".join(f", 'v' || (i % 97) AS extra_{k}" for k in range(extra))
    duckdb.sql(
        f"""
        COPY (
          SELECT 'C' || i AS case_id,
                 'P' || (i // 3) AS person_id,
                 list_extract(['Smith','Nguyễn','O''Brien','Мельник','محمد','Campbell-Lewis',
                               '李','Okonkwo'], (i % 8) + 1) AS family_name,
                 list_extract(['Anna Maria','Thị Lan','Siobhán','Олександр','عبد الله',
                               'Hubert','小龙','Chidi'], (i % 7) + 1) AS given_names,
                 DATE '1950-01-01' + CAST(i % 20000 AS INTEGER) AS date_of_birth,
                 list_extract(['GBR','IRL','VNM','UKR','SDN','JAM','CHN','NGA'], (i % 8) + 1)
                   AS nationality,
                 'SW' || (i % 20) || ' ' || (i % 9) || 'AB' AS postcode,
                 list_extract(['grant','refusal','refusal','curtailment','information'],
                              (i % 5) + 1) AS decision,
                 DATE '2010-01-01' + CAST(i % 5000 AS INTEGER) AS decision_date,
                 CASE WHEN i % 5 IN (1, 2) THEN 'eligibility' END AS refusal_reason,
                 CASE WHEN i % 5 IN (1, 2) THEN 'none' END AS appeal_status,
                 CASE WHEN i % 5 = 0 THEN 'limited' ELSE 'none' END AS leave,
                 CASE WHEN i % 5 = 0 THEN DATE '2027-01-01' END AS leave_expiry,
                 DATE '2000-01-01' + CAST(i % 3000 AS INTEGER) AS arrival_date,
                 NULL AS departure_date,
                 'immigration_casework' AS data_category{extras}
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keep", type=Path, help="write the generated file here and keep it")
    parser.add_argument("--extra-columns", type=int, default=0, help="columns beyond SPEC.md's")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="accord-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cases.csv"
    if not path.exists():
        started = time.perf_counter()
        generate(path, args.rows, args.extra_columns)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:,.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    started = time.perf_counter()
    report = formats.validate(path, "cases")
    seconds = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    assert report.ok, report.problems[:3]
    rate = report.rows / seconds
    print(f"validate: {report.rows:,} rows in {seconds:.2f} s = {rate:,.0f} rows/s; "
          f"peak memory {peak_gb:.1f} GB")  # fmt: skip
    print(f"target {TARGET_SECONDS:.0f} s: ratio {seconds / TARGET_SECONDS:.2f} of the target "
          f"({'met' if seconds < TARGET_SECONDS else 'NOT met'})")  # fmt: skip
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
