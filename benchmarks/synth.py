"""Benchmark `accord synth`: 1,000,000 people with registers of 3,000,000 rows each.

Target (issue 3): under 120 s and under 6 GB of memory on a 2-core machine.  Prints the
wall time, CPU time, rows per second, peak resident memory (resource.getrusage), each
phase's time, and the ratios to the targets.  With ``--naive`` it then also scores the
naive baseline on the scenario (timed separately; not part of the target).

    .venv/bin/python benchmarks/synth.py [--people N] [--out DIR] [--naive]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from accord.synth import REGISTERS, synthesise
from accord.synth.truth import naive_disclosures, score

TARGET_SECONDS = 120.0
TARGET_BYTES = 6 * 1024**3


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2026-01-15")
    parser.add_argument("--out", type=Path, help="keep the scenario here (default: a temp dir)")
    parser.add_argument("--naive", action="store_true", help="also score the naive baseline")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="accord-synth-bench-")) / "s"
    try:
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        scenario = synthesise(out, args.people, args.seed, dt.date.fromisoformat(args.as_of))
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
        peak = peak_rss_bytes()
        register_rows = sum(scenario.rows[r] for r in REGISTERS)
        all_rows = sum(scenario.rows.values())
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(f"accord synth: {args.people:,} people, seed {args.seed}, as of {args.as_of}")
        print(
            f"  files        {size / 1e9:.2f} GB; rows: "
            + ", ".join(f"{k} {v:,}" for k, v in scenario.rows.items())
        )
        print(f"  wall time    {seconds:.1f} s  (CPU {cpu:.1f} s)")
        print("  phases       " + ", ".join(f"{k} {v:.1f} s" for k, v in scenario.timings.items()))
        print(
            f"  rows/s       {register_rows / seconds:,.0f} register rows/s; "
            f"{all_rows / seconds:,.0f} rows/s written in all"
        )
        print(f"  peak memory  {peak / 1024**3:.2f} GiB (resource.getrusage ru_maxrss)")
        print(
            f"  vs target    time {seconds / TARGET_SECONDS:.2f} of {TARGET_SECONDS:.0f} s; "
            f"memory {peak / TARGET_BYTES:.2f} of 6 GiB"
        )
        ok = seconds < TARGET_SECONDS and peak < TARGET_BYTES
        if args.naive:
            t1 = time.perf_counter()
            naive = naive_disclosures(out)
            s = score(naive, out)
            print(
                f"  naive        {s.total:,} disclosures, wrongful {s.wrongful_share:.1%} "
                f"({s.wrongful:,}: {s.not_target:,} not targets, {s.wrong_person:,} wrong "
                f"person) in {time.perf_counter() - t1:.1f} s"
            )
            for r in REGISTERS:
                t = s.by_register[r]
                print(f"    {r:<5} {t.total:>9,} disclosures, wrongful {t.wrongful_share:.1%}")
        print("PASS" if ok else "FAIL: over target")
        return 0 if ok else 1
    finally:
        if args.out is None:
            shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
