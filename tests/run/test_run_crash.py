"""Killing `accord run` with SIGKILL at random points never leaves half a cycle behind.

Each kill is followed by the checks a recipient and an auditor would make: the ledger
verifies (every disclosure has its leaf and every leaf its disclosure), and every batch
file holds only disclosures the database has.  A last run then completes the cycle, and
nothing is ever disclosed twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accord.cli import main
from accord.store import db
from accord.store.models import Disclosure
from accord.synth import synthesise

AS_OF = dt.date(2026, 6, 30)
# Kills that land while a run is under way: one in each twelfth of a run's time, in an
# order drawn at random, so that every part of a run is hit, as 20 uniformly drawn kills
# did only on average.
KILLS = 12


def disclosure_ids(url: str) -> set[str]:
    with db.connect(url) as conn:
        return set(conn.scalars(select(Disclosure.disclosure_id)))


def batch_ids(out: Path) -> set[str]:
    found: set[str] = set()
    for path in (out / "batches").glob("*.csv") if (out / "batches").exists() else []:
        with path.open(encoding="utf-8") as fh:
            found |= {row["disclosure_id"] for row in csv.DictReader(fh)}
    return found


@pytest.mark.slow
@pytest.mark.sqlite_only  # 20 kills take minutes; the transaction logic is the same on both
def test_sigkill_at_random_points_never_leaves_half_a_cycle(db_url: str, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario"
    synthesise(scenario, people=300, seed=11, as_of=AS_OF)
    key = tmp_path / "ledger.pem"
    assert main(["init", "--database", db_url, "--key", str(key)]) == 0
    out = tmp_path / "out"
    args = [sys.executable, "-m", "accord", "run", "--cases", str(scenario / "cases.csv")]
    for name in ("dvla", "hmrc", "bank"):
        args += ["--register", f"{name}={scenario / (name + '.csv')}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat(),
             "--database", db_url, "--key", str(key), "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The first run trains and saves the linkage models; keep them, forget the rest, and
    # time a run with saved models, so that the kills land all through such a run.
    from accord.store.models import Base

    def forget_all_but_models() -> None:
        with db.connect(db_url) as conn:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name != "linkage_models":
                    conn.execute(table.delete())
        shutil.rmtree(out, ignore_errors=True)

    first = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    forget_all_but_models()
    started = time.monotonic()
    timing = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert timing.returncode == 0, timing.stderr
    whole = time.monotonic() - started
    forget_all_but_models()
    rng = random.Random(20261124)
    strata = rng.sample(range(KILLS), KILLS)
    killed_mid_run = attempts = 0
    delivered: set[str] = set()
    # KILLS kills that land while a run is under way, the next at a random time within its
    # stratum of the run.  A run that finishes before its kill (a rerun of a cycle already
    # complete is quicker than the timed one, and the machine's load varies) is a clean
    # run, checked the same way; it bounds the next kill's time, and the stratum is drawn
    # again.
    while killed_mid_run < KILLS:
        attempts += 1
        assert attempts <= 3 * KILLS, f"only {killed_mid_run} of {attempts} kills hit a run"
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        launched = time.monotonic()
        first, last = min(0.3, whole / 2), whole * 0.95
        time.sleep(first + (last - first) * (strata[killed_mid_run] + rng.random()) / KILLS)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_run += 1
            proc.wait(timeout=120)
        else:
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
            whole = min(whole, time.monotonic() - launched)
        assert main(["verify", "--database", db_url, "--key", str(key)]) == 0
        assert batch_ids(out) <= disclosure_ids(db_url)
        delivered |= batch_ids(out)
    final = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stderr
    assert main(["verify", "--database", db_url, "--key", str(key)]) == 0
    with db.connect(db_url) as conn:
        total = conn.scalar(select(func.count()).select_from(Disclosure))
        distinct = conn.scalar(
            select(func.count()).select_from(
                select(Disclosure.agreement_id, Disclosure.record_id, Disclosure.person_id)
                .distinct()
                .subquery()
            )
        )
    assert total == distinct and total == len(disclosure_ids(db_url)) > 0
    # Every disclosure reached a recipient's batch file, if need be through a later run.
    assert delivered | batch_ids(out) == disclosure_ids(db_url)
