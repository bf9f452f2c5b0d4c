"""A whole `accord run` at scale: target under 2 minutes (issue 7).

    .venv/bin/python benchmarks/run.py [--people 100000] [--register-rows 1000000] [--data DIR]

A 100,000-person `accord synth` scenario with three registers of 1,000,000 rows.  The
issue's figure is for a run with saved linkage models, so the script first admits the
pool and trains and saves each register's model (timed apart), then times one
`accord run` (admission again, linkage with the saved models, the gate, disclosure, the
ledger and every output file) on that SQLite database, and prints the figures and the
ratio to the 120 s target.  Each invocation links afresh: candidate pairs an earlier one
kept for the same database path are removed first.  The peer is the target: no other
tool runs this cycle.

``--baseline DIR`` (a checkout of earlier code: ``git worktree add /tmp/old-417501d
417501d`` for the code before issue 17's linkage work) then runs this script again with
that checkout's code (``PYTHONPATH=DIR/src``) on the same scenario, with its own database
and models, and prints this run's wall and CPU time (user + sys, all threads, the run
alone) over the baseline's.  The machine may be shared: compare CPU times first.

    .venv/bin/python benchmarks/run.py --data DIR --baseline /tmp/old-417501d
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accord import admission, formats
from accord.cycle import RunInputs, run_cycle
from accord.ledger import signing
from accord.linkage import store as linkage_store
from accord.policy.policy import load_policy
from accord.store import db
from accord.synth import Mix, synthesise

TARGET_SECONDS = 120.0
AS_OF = dt.date(2026, 6, 30)
REGISTERS = ("dvla", "hmrc", "bank")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--register-rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--data", type=Path, help="keep the scenario and database here")
    ap.add_argument("--baseline", type=Path, help="a checkout of earlier code to run beside")
    args = ap.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="accord-bench-run-"))
    scenario = data / "scenario"
    if not (scenario / "scenario.json").exists():
        started = time.perf_counter()
        synthesise(scenario, args.people, args.seed, AS_OF, Mix(register_rows=args.register_rows))
        print(f"synthesised {args.people:,} people in {time.perf_counter() - started:.1f} s")
    database = data / "accord.db"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    key = data / "ledger.pem"
    db.upgrade(url)
    signing.load_or_create_key(key)
    policy = load_policy(None)
    started = time.perf_counter()
    admission.admit(url, AS_OF, cases=formats.load(scenario / "cases.csv", "cases"), policy=policy)
    with db.connect(url) as conn:
        pool = linkage_store.admitted_pool(conn, policy.protected_categories)
    for name in REGISTERS:
        register = formats.load(scenario / f"{name}.csv", "register")
        with db.connect(url) as conn:
            linkage_store.load_or_train(conn, name, pool, register)
    print(f"admitted {pool.num_rows:,} and trained 3 models in "
          f"{time.perf_counter() - started:.1f} s (not part of the figure)")  # fmt: skip
    forget_candidates(url)
    inputs = RunInputs(
        cases=scenario / "cases.csv",
        registers={n: scenario / f"{n}.csv" for n in REGISTERS},
        agreements=scenario / "agreements",
        as_of=AS_OF,
        out=data / "out",
        key=key,
    )
    cpu_started = time.process_time()
    marks: list[tuple[str, float]] = [("start", time.perf_counter())]
    summary = run_cycle(url, inputs, lambda m: marks.append((m, time.perf_counter())))
    marks.append(("end", time.perf_counter()))
    seconds = marks[-1][1] - marks[0][1]
    cpu = time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    for (phase, began), (_, ended) in itertools.pairwise(marks[1:]):
        print(f"  {ended - began:6.1f} s  {phase}")
    disclosed = sum(a["disclosed"] for a in summary["agreements"].values())
    print(f"accord run: {args.people:,} people, 3 registers of {args.register_rows:,} rows: "
          f"{seconds:.1f} s, peak memory {peak:.1f} GB; {disclosed:,} disclosed, "
          f"{summary['review_queue']:,} in review")  # fmt: skip
    print(f"CPU (user + sys, all threads): {cpu:.1f} s")
    verdict = "met" if seconds < TARGET_SECONDS else "NOT met"
    print(f"target {TARGET_SECONDS:.0f} s: ratio {seconds / TARGET_SECONDS:.2f} ({verdict})")
    if args.baseline:
        old_seconds, old_cpu = run_baseline(args, data, scenario)
        print(f"this run / baseline {args.baseline}: wall {seconds:.1f} s / {old_seconds:.1f} s = "
              f"{seconds / old_seconds:.2f}; CPU {cpu:.1f} s / {old_cpu:.1f} s = "
              f"{cpu / old_cpu:.2f}")  # fmt: skip


def forget_candidates(url: str) -> None:
    """Remove the candidate pairs an earlier run of this script left for a database at
    this path (:mod:`accord.linkage.candidates` keeps them by register, model and pool,
    which are the same again): the run is timed linking, not taking them from disk.
    The baseline's code may be older than that store and then has none."""
    try:
        from accord.linkage import candidates
    except ImportError:
        return
    with db.connect(url) as conn:
        shutil.rmtree(candidates.folder(conn))


def run_baseline(args: argparse.Namespace, data: Path, scenario: Path) -> tuple[float, float]:
    """This script with the baseline checkout's code, on the same scenario in its own
    folder and database: the run's wall and CPU time, as it prints them."""
    folder = data / f"baseline-{args.baseline.resolve().name}"
    folder.mkdir(exist_ok=True)
    if not (folder / "scenario").exists():
        (folder / "scenario").symlink_to(scenario.resolve())
    proc = subprocess.run(
        [sys.executable, __file__, "--data", str(folder),
         "--people", str(args.people), "--register-rows", str(args.register_rows)],
        capture_output=True, text=True, check=False, cwd=args.baseline,
        env={**os.environ, "PYTHONPATH": str(args.baseline / "src")},
    )  # fmt: skip
    sys.stdout.write(proc.stdout)
    found = re.search(r"^accord run: .*?: ([0-9.]+) s, ", proc.stdout, re.MULTILINE)
    cpu = re.search(r"^CPU \(user \+ sys, all threads\): ([0-9.]+) s", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not found or not cpu:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"the baseline failed (exit {proc.returncode})")
    return float(found.group(1)), float(cpu.group(1))


if __name__ == "__main__":
    main()
