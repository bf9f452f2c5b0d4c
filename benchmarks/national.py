"""A national-scale register through the whole `accord run` (issue 21): on demand, not a test.

    .venv/bin/python benchmarks/national.py --rows 1000000 [--people 252000] [--seed 21]
        [--data DIR] [--chunk-rows 1000000] [--build-only] [--again]

The seed's largest check: banks matched about 70 million current accounts against about
126,000 people.  This script makes such a case and runs it as a user would:

1. **scenario**: ``accord synth``'s machinery (:func:`accord.synth.synthesise`) writes a
   scenario of ``--people`` people (default 252,000, of whom the synth's default mix has
   about half admitted to the pool: about 126,000, the seed's list; the run prints the
   number) with the source body's casework, its agreements and a bank register of up to
   three rows a person: the people who hold an account, with the bank's kinds of noise,
   their duplicates, planted namesakes and near-namesakes, and members of the public;
   reused when it exists.
2. **register**: ``--rows`` rows of Parquet, written in chunks of ``--chunk-rows`` so that
   building it fits in memory: every record of the scenario's bank register, spread evenly
   over the chunks, and the rest members of the public drawn by the synth's own functions
   (:func:`accord.synth.population.draw_public`: names from its pools of many origins with
   their spellings, the public's dates of birth, weighted postcodes), written in the bank's
   conventions (upper case, ASCII folding, a dropped or initialled middle name, swapped
   names, a typo, a missing date or postcode at the bank profile's rates).  Namesakes of
   the pool then occur as they would in a register of that size, besides the planted ones.
   Each chunk is drawn by NumPy (one array per column, no Python per row), assembled by
   one DuckDB query and appended to the file as row groups.  Reused when it exists (the
   file name carries every argument that shapes it).
3. **run**: ``accord run`` in a subprocess, on a new SQLite database in the data folder
   (so it first trains the register's linkage model, as a first run does), with the
   scenario's cases and its bank agreement, a new scratch folder (``ACCORD_SCRATCH_DIR``,
   so no earlier run's candidates are reused) and the rest of the environment as it is
   (``ACCORD_DUCKDB_MEMORY_LIMIT`` passes through).  ``--again`` runs once more on the
   same database, as next quarter's run would: the saved model, the register linked
   again.  The child is the ``accord`` command line itself, started through this file
   only so that the run's progress messages (which `accord run` shows on a terminal
   only), and the start and end of the parts in :data:`PARTS`, are written down with
   their time and the process's peak memory so far: the time and memory of each step.

Prints, per run, the wall and CPU time, the peak memory (resident set of the whole
process tree, sampled every 0.2 s, and the child's own high-water mark), the candidate
pairs (the run's rows of ``matches``), the disclosures and the review queue, the time and
peak of each step, the load average before and after (the machine may be shared: say it
beside every figure), and the ratios to the issue's targets for 70 million rows (peak at
most 16 GB, wall at most 45 minutes).  See docs/sizing.md for the figures measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from accord.synth import Scenario

TARGET_ROWS = 70_000_000
TARGET_GB = 16.0
TARGET_SECONDS = 45 * 60.0
AS_OF = dt.date(2026, 3, 31)
REGISTER = "bank"
MAX_ROWS = 1_000_000_000
STAGE_LOG = "ACCORD_BENCH_STAGES"  # the child writes its steps here (internal)


class Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"national.py: {message}\n")
        raise SystemExit(2)


def bad(message: str) -> NoReturn:
    sys.stderr.write(f"national.py: {message}\n")
    raise SystemExit(2)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    ap = Parser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", type=int, required=True, help="rows of the register")
    ap.add_argument(
        "--people", type=int, default=252_000, help="people in the scenario (about half admitted)"
    )
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--data", type=Path, help="folder for the data and the run (kept)")
    ap.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows drawn at a time")
    ap.add_argument("--build-only", action="store_true", help="make the files, do not run")
    ap.add_argument("--again", action="store_true", help="then run once more on the same database")
    args = ap.parse_args(argv)
    if not 1 <= args.rows <= MAX_ROWS:
        bad(f"--rows {args.rows}: give 1 to {MAX_ROWS:,}")
    if not 1 <= args.people <= 20_000_000:
        bad(f"--people {args.people}: give 1 to 20,000,000")
    if args.seed < 0:
        bad(f"--seed {args.seed}: give 0 or more")
    if not 10_000 <= args.chunk_rows <= 20_000_000:
        bad(f"--chunk-rows {args.chunk_rows}: give 10,000 to 20,000,000")
    args.data = args.data or Path(tempfile.gettempdir()) / "accord-bench-national"
    if args.data.exists() and not args.data.is_dir():
        bad(f"--data {args.data}: exists and is not a folder")
    return args


# --- the scenario and the register ------------------------------------------------------------


def scenario_rows(args: argparse.Namespace) -> int:
    """Rows of the synth's own bank register: three a person, at most the register's size."""
    return min(int(args.rows), 3 * int(args.people))


def build_scenario(args: argparse.Namespace) -> Scenario:
    from accord.errors import AccordError
    from accord.synth import Mix, Scenario, synthesise

    base = scenario_rows(args)
    out = args.data / f"scenario-{args.people}-{args.seed}-{base}"
    if (out / "scenario.json").is_file():
        return Scenario.load(out)
    started = time.perf_counter()
    try:
        made = synthesise(out, args.people, args.seed, AS_OF, Mix(register_rows=base))
    except AccordError as exc:
        bad(f"the scenario: {exc}")
    print(f"scenario: {args.people:,} people, bank register {base:,} rows, "
          f"{time.perf_counter() - started:.1f} s ({out})")  # fmt: skip
    return made


def scenario_records(scenario: Scenario) -> tuple[int, int]:
    """Records in the scenario's bank register that are its people's own, and those
    planted as namesakes or near-namesakes of them (from the scenario's truth)."""
    import duckdb

    truth = str(scenario.truth_records).replace("'", "''")
    found = (
        duckdb.connect()
        .execute(
            f"""SELECT count(*) FILTER (WHERE person_id IS NOT NULL),
            count(*) FILTER (WHERE planted IS NOT NULL)
        FROM read_csv('{truth}', all_varchar = true) WHERE register = '{REGISTER}'"""
        )
        .fetchone()
    )
    assert found is not None  # an aggregate gives one row
    return int(found[0]), int(found[1])


def build_register(args: argparse.Namespace, scenario: Scenario) -> Path:
    """The register of ``--rows`` rows as Parquet, made chunk by chunk (reused if made)."""
    import duckdb
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from accord.synth import Mix
    from accord.synth.names import ORIGINS, STYLES, UPPER, compile_pools
    from accord.synth.population import (
        draw_postcodes,
        draw_public,
        postcode_columns,
        postcode_sql,
        written_names,
    )
    from accord.synth.registers import PROFILES, TYPO_MACROS
    from accord.synth.writer import codes, dates, day, uniform_int, years

    name = f"register-{args.rows}-{args.people}-{args.seed}-{args.chunk_rows}.parquet"
    path = Path(args.data) / name
    if path.is_file():
        return path
    started = time.perf_counter()
    prof = PROFILES[REGISTER]
    mix = Mix()
    pools = compile_pools()
    A = day(AS_OF)
    base = scenario_rows(args)
    filler = args.rows - base
    chunks = max(1, -(-args.rows // args.chunk_rows))
    width = max(9, len(str(filler)))
    family_first = np.array([o.family_first for o in ORIGINS])
    con = duckdb.connect(config={"threads": 2, "memory_limit": "2GB"})
    con.execute("SET enable_progress_bar = false")
    con.execute(TYPO_MACROS)
    # The scenario's bank register, numbered in its (already shuffled) order, spread over
    # the chunks: chunk k takes the rows whose number is k modulo the chunks.
    synth_csv = str(scenario.registers[REGISTER]).replace("'", "''")
    con.execute(
        f"""CREATE TABLE synth AS SELECT row_number() OVER () - 1 AS n, * FROM
            read_csv('{synth_csv}', all_varchar = true, header = true)"""
    )
    schema = pa.schema(
        [(c, pa.string()) for c in ("record_id", "family_name", "given_names")]
        + [("date_of_birth", pa.date32()), ("postcode", pa.string()), ("since", pa.date32())]
    )
    tmp = path.with_name(path.name + ".part")
    written = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for k in range(chunks):
            first = k * filler // chunks
            m = (k + 1) * filler // chunks - first
            rng = np.random.default_rng([args.seed, args.people, k])
            ident = draw_public(rng, pools, m, A, mix)
            f, g1, g2 = written_names(
                ident.mononym, ident.one_as_family, ident.s_family, ident.s_given1, ident.s_given2
            )
            has_middle = g2 >= 0
            dropped = has_middle & (rng.random(m) < prof.drop_middle)
            initial = has_middle & ~dropped & (rng.random(m) < prof.initial_middle)
            upper = rng.random(m) < prof.upper
            style = np.where(upper, UPPER, 0) | np.where(rng.random(m) < prof.fold, 2, 0)
            n_styled = len(pools.styled)
            g2_styled = np.maximum(g2, 0) * STYLES + style
            swap_p = prof.swap * np.where(family_first[ident.origin], 4.0, 1.0)
            dob_missing = rng.random(m) < prof.dob_missing
            pc_missing = rng.random(m) < prof.postcode_missing
            since = uniform_int(rng, np.maximum(ident.dob + years(16), A - years(45)), A - 1)
            typo = rng.random(m) < prof.typo
            chunk = pa.table(
                {
                    "num": np.arange(first + 1, first + m + 1, dtype=np.int64),
                    "f": codes(np.where(f >= 0, f * STYLES + style, -1), pools.styled),
                    "g1": codes(
                        np.where(g1 >= 0, g1 * STYLES + style, -1), pools.styled_with_initials
                    ),
                    "g2": codes(
                        np.where(
                            dropped | ~has_middle,
                            -1,
                            np.where(initial, n_styled + g2_styled, g2_styled),
                        ),
                        pools.styled_with_initials,
                    ),
                    "swap": rng.random(m) < swap_p,
                    "up": upper,
                    "typo_field": np.where(typo, rng.integers(0, 2, size=m), -1),
                    "typo_op": rng.integers(0, 4, size=m),
                    "typo_u": rng.random(m),
                    "typo_c": rng.integers(0, 26, size=m),
                    "dob": dates(ident.dob, ~dob_missing),
                    **postcode_columns("pc", draw_postcodes(rng, m), ~pc_missing),
                    "since": dates(since),
                }
            )
            con.register("chunk", chunk)
            batch = con.sql(
                f"""SELECT record_id, family_name, given_names, date_of_birth, postcode, since
                FROM (
                    SELECT 'AN' || lpad(num::VARCHAR, {width}, '0') AS record_id,
                        coalesce(CASE WHEN swap THEN giv ELSE fam END, '') AS family_name,
                        coalesce(CASE WHEN swap THEN fam ELSE giv END, '') AS given_names,
                        dob AS date_of_birth, {postcode_sql("pc")} AS postcode, since
                    FROM (
                        SELECT *,
                            CASE WHEN typo_field = 0
                                 THEN synth_typo(f::VARCHAR, typo_op, typo_u, typo_c, up)
                                 ELSE f::VARCHAR END AS fam,
                            CASE WHEN typo_field = 1
                                 THEN synth_typo(given, typo_op, typo_u, typo_c, up)
                                 ELSE given END AS giv
                        FROM (SELECT *, g1::VARCHAR || coalesce(' ' || g2::VARCHAR, '') AS given
                              FROM chunk)
                    )
                    UNION ALL
                    SELECT record_id, coalesce(family_name, ''), coalesce(given_names, ''),
                        CAST(date_of_birth AS DATE), postcode, CAST(since AS DATE)
                    FROM synth WHERE n % {chunks} = {k}
                )
                ORDER BY hash(record_id, {args.seed})"""
            ).to_arrow_table()
            con.unregister("chunk")
            writer.write_table(batch.cast(schema), row_group_size=256_000)
            written += batch.num_rows
            del chunk, batch, ident
    con.close()
    if written != args.rows:
        tmp.unlink()
        raise SystemExit(f"national.py: wrote {written:,} rows, not {args.rows:,} (a bug)")
    os.replace(tmp, path)
    size = path.stat().st_size / 1e9
    print(f"register: {args.rows:,} rows ({base:,} from the scenario), {size:.2f} GB, "
          f"{time.perf_counter() - started:.1f} s ({path})")  # fmt: skip
    return path


# --- the run -----------------------------------------------------------------------------------


def tree_rss(root: int) -> int:
    """Resident bytes of process ``root`` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class Sampler:
    """The peak of :func:`tree_rss` while a process runs, sampled every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def run_accord(args: argparse.Namespace, scenario: Scenario, register: Path) -> None:
    """``accord run`` on a new database; with ``--again``, once more on the same one."""
    limit = os.environ.get("ACCORD_DUCKDB_MEMORY_LIMIT", "").strip()
    folder = args.data / f"run-{args.rows}{'-limit-' + limit if limit else ''}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "agreements").mkdir(parents=True)
    agreement = scenario.agreements / f"home-office-to-{REGISTER}.yaml"
    shutil.copy(agreement, folder / "agreements" / agreement.name)
    own, planted = scenario_records(scenario)
    print(f"register: {args.rows:,} records, {own:,} of them the scenario's people's own, "
          f"{planted:,} planted namesakes and near-namesakes of them")  # fmt: skip
    print(f"  ACCORD_DUCKDB_MEMORY_LIMIT={limit or '(unset)'}")
    run_once(args, scenario, register, folder, 1, "on a new database: trains the model")
    if args.again:
        run_once(args, scenario, register, folder, 2, "on the same database: its saved model")


def run_once(
    args: argparse.Namespace,
    scenario: Scenario,
    register: Path,
    folder: Path,
    number: int,
    what: str,
) -> None:
    """One ``accord run`` in a child process, with a new scratch folder (so that no
    earlier run's candidate file is reused) and output folder; prints its figures."""
    scratch, out_dir = folder / f"scratch-{number}", folder / f"out-{number}"
    scratch.mkdir()
    database = folder / "accord.db"
    stages = folder / f"stages-{number}.jsonl"
    command = [
        "run", "--cases", str(scenario.cases),
        "--register", f"{REGISTER}={register}", "--agreements", str(folder / "agreements"),
        "--out", str(out_dir), "--as-of", AS_OF.isoformat(),
        "--database", f"sqlite:///{database}",
    ]  # fmt: skip
    env = {**os.environ, "ACCORD_SCRATCH_DIR": str(scratch), STAGE_LOG: str(stages)}
    print(f"\nrun {number}, {what}:\n  ACCORD_SCRATCH_DIR={scratch} accord {' '.join(command)}")
    load_before = load_average()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with (
        open(folder / f"stdout-{number}.txt", "wb") as out,
        open(folder / f"stderr-{number}.txt", "wb") as err,
    ):
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--as-accord", *command],
            stdout=out, stderr=err, env=env,
        )  # fmt: skip
        sampler = Sampler(proc.pid)
        code = proc.wait()
        tree_peak = sampler.stop()
    seconds = time.perf_counter() - started
    load_after = load_average()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - before.ru_utime) + (usage.ru_stime - before.ru_stime)
    if code != 0:
        sys.stderr.write((folder / f"stderr-{number}.txt").read_text(errors="replace")[-4000:])
        raise SystemExit(f"national.py: accord run failed (exit {code}); see {folder}")
    summary = json.loads((out_dir / "summary.json").read_text())
    with sqlite3.connect(database) as db:
        pairs = db.execute(
            "SELECT count(*) FROM matches WHERE run_id = ?", [summary["run_id"]]
        ).fetchone()[0]
        models = db.execute("SELECT count(*) FROM linkage_models").fetchone()[0]
    disclosed = sum(a["disclosed"] for a in summary["agreements"].values())
    child_peak = print_stages(stages, started_wall=seconds)
    peak = max(tree_peak, child_peak)
    print(f"load average (1, 5, 15 min): {load_before} before, {load_after} after")
    print(f"accord run {number}, {args.rows:,} register rows, pool "
          f"{summary['pool']['admitted']:,} admitted of {args.people:,} people: wall "
          f"{seconds:.1f} s (CPU {cpu:.1f} s), peak {peak / 1e9:.2f} GB (process tree "
          f"sampled {tree_peak / 1e9:.2f} GB, the child's own high-water mark "
          f"{child_peak / 1e9:.2f} GB); {pairs:,} candidate pairs, {disclosed:,} disclosed, "
          f"{summary['review_queue']:,} in review; models in the database {models}")  # fmt: skip
    scale = TARGET_ROWS / args.rows
    print(f"targets for {TARGET_ROWS:,} rows: peak {peak / 1e9:.2f} / {TARGET_GB:.0f} GB = "
          f"{peak / 1e9 / TARGET_GB:.2f}; wall {seconds:.0f} / {TARGET_SECONDS:.0f} s = "
          f"{seconds / TARGET_SECONDS:.2f} (at this size; x{scale:.0f} rows to go)")  # fmt: skip


def print_stages(stages: Path, started_wall: float) -> int:
    """Each step's time and the child's peak memory by its end, then the parts timed
    inside the steps (summed over calls), from the child's log; returns the child's
    peak resident memory (bytes) at its last mark."""
    if not stages.is_file():
        return 0
    marks = [json.loads(line) for line in stages.read_text().splitlines() if line.strip()]
    steps = [m for m in marks if "step" in m]
    if not steps:
        return 0
    print("steps, as accord run reports its progress (seconds; the child's peak resident")
    print("memory by the step's end):")
    print(f"  {steps[0]['t']:7.1f} s  {'':>8}  starting (interpreter, imports)")
    for here, after in itertools.pairwise(steps):
        print(f"  {after['t'] - here['t']:7.1f} s  {after['hwm'] / 1e9:5.2f} GB  {here['step']}")
    print(f"  {started_wall - steps[-1]['t']:7.1f} s  {'':>8}  exit")
    parts: dict[str, list[float]] = {}
    open_at: dict[str, list[dict[str, Any]]] = {}
    for m in marks:
        if m.get("edge") == "begin":
            open_at.setdefault(m["part"], []).append(m)
        elif m.get("edge") == "end" and open_at.get(m["part"]):
            began = open_at[m["part"]].pop()
            if open_at[m["part"]]:  # a call inside a call of the same part: counted once
                continue
            seconds, calls, hwm = parts.get(m["part"], [0.0, 0, 0])
            parts[m["part"]] = [seconds + m["t"] - began["t"], calls + 1, max(hwm, m["hwm"])]
    if parts:
        print("parts inside the steps (seconds, calls, the child's peak memory by the end):")
        for label, (seconds, calls, hwm) in parts.items():
            print(f"  {seconds:7.1f} s  x{int(calls):<3} {hwm / 1e9:5.2f} GB  {label}")
    return int(max(m["hwm"] for m in marks))


# --- the child: the accord command line, its steps written down ----------------------------


# Parts of a run timed inside its steps: (module, attribute, what it is).  A part that
# is not where it is looked for (the code moved) is left out, and said so in the log.
PARTS = (
    ("accord.admission", "admit_in", "admission"),
    ("accord.formats", "open_file", "register read, checked and hashed"),
    ("accord.formats.reader", "Opened.to_arrow", "a file handed over as Arrow (cases, register)"),
    ("accord.linkage.model", "train", "linkage model trained"),
    ("accord.cycle", "link", "linkage: candidates scored"),
    ("accord.linkage.candidates", "find_or_link", "linkage and its candidates file"),
    ("accord.linkage.candidates", "load", "candidates copied into matches"),
    ("accord.gate", "decide", "gate"),
    ("accord.cycle", "_queue_reviews", "review queue"),
    ("accord.cycle", "disclose", "disclosures and their ledger leaves"),
    ("accord.cycle", "write_outputs", "output files"),
)


def as_accord(argv: list[str]) -> NoReturn:
    """Run the ``accord`` command line with ``argv``, writing each progress message of
    `accord run`, and the start and end of each of :data:`PARTS`, with the time since
    this process began and its peak memory so far."""
    import functools
    import importlib

    started = time.perf_counter() - (time.time() - process_start_time())
    log = open(os.environ[STAGE_LOG], "a", encoding="utf-8")  # noqa: SIM115 (open to the end)

    def mark(step: str, part: str | None = None) -> None:
        hwm = 0
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
        entry: dict[str, Any] = {"t": time.perf_counter() - started, "hwm": hwm}
        entry.update({"step": step} if part is None else {"part": part, "edge": step})
        log.write(json.dumps(entry) + "\n")
        log.flush()

    def timed(fn: Any, label: str) -> Any:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            mark("begin", label)
            try:
                return fn(*a, **k)
            finally:
                mark("end", label)

        return wrapper

    for module, attribute, label in PARTS:
        owner: Any = importlib.import_module(module)
        *path, name = attribute.split(".")
        for step in path:
            owner = getattr(owner, step, None)
        if owner is None or not callable(getattr(owner, name, None)):
            mark(f"(not timed: {module}.{attribute} not found)")
            continue
        setattr(owner, name, timed(getattr(owner, name), label))

    import accord.cycle as cycle
    from accord.cli import main

    real = cycle.run_cycle  # `accord run` imports it from accord.cycle when it runs

    def run_cycle(url: str, inputs: Any, progress: Any, *rest: Any) -> dict[str, Any]:
        def both(message: str) -> None:
            mark(message)
            progress(message)

        summary: dict[str, Any] = real(url, inputs, both, *rest)
        mark("done")
        return summary

    setattr(cycle, "run_cycle", run_cycle)  # noqa: B010
    sys.argv = ["accord", *argv]
    code = main()
    mark("exit")
    raise SystemExit(code)


def process_start_time() -> float:
    """When this process began, in seconds since the epoch (from /proc)."""
    with open("/proc/self/stat", encoding="ascii") as fh:
        ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat", encoding="ascii") as fh:
        boot = next(int(line.split()[1]) for line in fh if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def code_version() -> str:
    """The commit of the code the run imports, and whether src/ differs from it."""
    src = Path(__file__).resolve().parent.parent / "src"
    try:
        head = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--", "."],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"{head}" + (" with uncommitted changes in src/" if changed else "")


def main(argv: Sequence[str]) -> None:
    if argv[:1] == ["--as-accord"]:
        as_accord(list(argv[1:]))
    args = parse(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    print(f"load average (1, 5, 15 min) at start: {load_average()}; data in {args.data}")
    print(f"code: {code_version()}")
    scenario = build_scenario(args)
    register = build_register(args, scenario)
    if args.build_only:
        return
    run_accord(args, scenario, register)


if __name__ == "__main__":
    main(sys.argv[1:])
