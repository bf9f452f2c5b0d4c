"""Every benchmark, this code against a baseline checkout, on the same machine (issue 20).

    .venv/bin/python benchmarks/before_after.py --baseline DIR [--repeats 3] [--only a,b]
        [--quick] [--pg URL] [--work DIR] [--json FILE] [--list]

Issue 20's "every benchmark is within 10% of today's or better" needs the earlier code
measured beside this code, not figures from another day: ``DIR`` is a checkout of the
earlier code (``git worktree add /tmp/base-7cb-wt 7cb54c9``, the code when the issue was
filed).  For each benchmark the baseline runs ITS OWN script with its own code
(``PYTHONPATH=DIR/src python DIR/benchmarks/X.py ARGS``, in DIR) and this code runs
``benchmarks/X.py ARGS`` (``PYTHONPATH=src``, here), with the same arguments, each run in
a fresh process with a fresh ``ACCORD_SCRATCH_DIR``.  The two alternate (baseline first,
then this code first, ...) ``--repeats`` times, so that the load of a shared machine falls
on both alike.

Per run it records the wall time and CPU time (user + sys, from ``RUSAGE_CHILDREN``: the
script and the processes it waited for) of the whole process, and the script's own
headline figures read from its output with a pattern per script.  The headline figures
time the measured work without the set-up (generating data, building a database), so
they are what the verdict is about; the rest is shown as information.  Data a script can
keep is made before the timed runs and not timed: a synthetic scenario or input file
shared by both sides (``run``, ``linkage``, ``validate``, ``register_digest``), a database
or ledger each side builds for itself with its own code in an untimed first run
(``subject_access``, ``remedy``, ``ledger``, ``national``).

Prints per benchmark each figure's median for the baseline and this code and the ratio
this / baseline (baseline / this for a throughput, so above 1 is always slower), flags
ratios above 1.10, and ends with a one-line verdict.  It is a measurement, not a test: it
exits 0 whatever the figures are, and 2 only when the runner itself cannot work.

``--quick`` uses the sizes in the QUICK column below (each run within about a minute on
the 2-core machine); without it each script runs at its own default sizes (the ones its
target is set for; ``linkage`` and ``run`` then take minutes a run).  ``linkage.py`` and
``run.py`` also have ``--baseline`` modes of their own (training and linking, and the
whole run, with their CPU times): at full size those are the fuller comparison.
``national`` runs only when ``--only`` names it.  ``--pg URL`` adds PostgreSQL where a
script can use it (``admit``, ``api``, ``ledger``'s append); without it everything runs on
SQLite.  A benchmark whose baseline script is missing (added later) or does not take the
arguments used is reported and skipped.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

HERE = Path(__file__).resolve().parent.parent
THRESHOLD = 1.10
NUMBER = r"(?P<value>[0-9][0-9,]*(?:\.[0-9]+)?)"


@dataclass(frozen=True)
class Figure:
    """A figure read from a script's output: ``pattern`` has a group ``value`` (and may
    have ``label``, put into ``name`` as ``{label}``); the last match of each name wins,
    so that a script printing its runs and then their median gives the median."""

    name: str
    pattern: str
    unit: str
    better: Literal["lower", "higher"] = "lower"
    headline: bool = True  # False: shown, but not part of the verdict


@dataclass(frozen=True)
class Bench:
    name: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    figures: tuple[Figure, ...]
    # folders: "{shared}" (one for both sides) and "{side}" (one per side) in the arguments
    warmup: tuple[str, ...] = ()  # sides given an untimed first run (it builds their data)
    prepare: Callable[[Sequence[str], Path], None] | None = None  # makes {shared} data
    link_shared: Callable[[Sequence[str], Path, Path], None] | None = None  # into {side}
    pg_args: tuple[str, ...] = ()  # with --pg URL: added, "{pg}" replaced
    opt_in: bool = False  # runs only when --only names it
    env: tuple[tuple[str, str], ...] = ()  # set for both sides, "{side}" replaced
    note: str = ""


def seconds(name: str, pattern: str, headline: bool = True) -> Figure:
    return Figure(name, pattern.replace("{N}", NUMBER), "s", "lower", headline)


def ms(name: str, pattern: str, headline: bool = True) -> Figure:
    return Figure(name, pattern.replace("{N}", NUMBER), "ms", "lower", headline)


def rate(name: str, pattern: str, unit: str, headline: bool = True) -> Figure:
    return Figure(name, pattern.replace("{N}", NUMBER), unit, "higher", headline)


def option(args: Sequence[str], flag: str, default: str) -> str:
    return args[args.index(flag) + 1] if flag in args else default


def python(code: str, cwd: Path) -> None:
    """Run ``code`` with this checkout's code (untimed preparation)."""
    env = {**os.environ, "PYTHONPATH": str(HERE / "src")}
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)


def prepare_run(args: Sequence[str], shared: Path) -> None:
    """run.py's scenario (its own seed and date), made once with this code."""
    if (shared / "scenario" / "scenario.json").exists():
        return
    people, rows = option(args, "--people", "100000"), option(args, "--register-rows", "1000000")
    python(
        textwrap.dedent(f"""
            import sys; sys.path.insert(0, "benchmarks")
            from pathlib import Path
            import run
            from accord.synth import Mix, synthesise
            synthesise(Path({str(shared / "scenario")!r}), {people}, 3, run.AS_OF,
                       Mix(register_rows={rows}))
        """),
        HERE,
    )


def link_run(args: Sequence[str], shared: Path, side: Path) -> None:
    if not (side / "scenario").exists():
        (side / "scenario").symlink_to(shared / "scenario")


def linkage_folder(args: Sequence[str]) -> str:
    people, rows = option(args, "--people", "100000"), option(args, "--register-rows", "1000000")
    return f"accord-bench-linkage-{people}-{rows}-{option(args, '--seed', '5')}"


def prepare_linkage(args: Sequence[str], shared: Path) -> None:
    """linkage.py's Parquet files (its ``prepare``), made once with this code."""
    people, rows = option(args, "--people", "100000"), option(args, "--register-rows", "1000000")
    python(
        textwrap.dedent(f"""
            import argparse, sys; sys.path.insert(0, "benchmarks")
            import linkage
            linkage.prepare(argparse.Namespace(people={people}, register_rows={rows},
                            seed={option(args, "--seed", "5")}, data={str(shared)!r}))
        """),
        HERE,
    )


def link_linkage(args: Sequence[str], shared: Path, side: Path) -> None:
    """The Parquet files linked into the side's folder; its saved models stay its own."""
    source, target = shared / linkage_folder(args), side / linkage_folder(args)
    target.mkdir(parents=True, exist_ok=True)
    for f in [*source.glob("*.parquet"), source / "ready.json"]:
        if not (target / f.name).exists():
            (target / f.name).symlink_to(f)


BENCHMARKS: tuple[Bench, ...] = (
    Bench(
        "admit",
        (),
        ("--people", "200000", "--decisions", "300000"),
        (
            seconds(
                "admit, cases taken in", r"^admission with the cases taken in first .*?: {N} s"
            ),
            seconds("admit, cases held", r"^admission from the cases held: {N} s"),
            seconds("admit, rerun", r"^rerun with the same cases \(idempotent\): {N} s"),
        ),
        pg_args=("--pg", "{pg}"),
        note="with --pg on PostgreSQL instead of SQLite",
    ),
    Bench(
        "api",
        (),
        (
            "--disclosures",
            "20000",
            "--review-items",
            "500",
            "--requests",
            "4000",
            "--seconds",
            "10",
        ),
        (
            rate(
                "{label} req/s",
                r"^(?P<label>reviewer queue page|recipient batch fetch) "
                r"\(.*?\)\s+[0-9,]+ requests in\s+[0-9.]+ s =\s+{N} req/s",
                "req/s",
            ),
            ms(
                "{label} server CPU/request",
                r"^(?P<label>reviewer queue page|recipient batch fetch) .*\n\s+"
                r"server CPU {N} ms a request",
            ),
            ms(
                "{label} p99",
                r"^(?P<label>reviewer queue page|recipient batch fetch) "
                r".*? p99\s+{N} ms",
                headline=False,
            ),
        ),
        pg_args=("--pg", "{pg}"),
        note="starts its own `accord serve`; with --pg on PostgreSQL instead of SQLite",
    ),
    Bench(
        "demo",
        (),
        (),
        (
            seconds("accord demo", r"^accord demo wall time {N} s"),
            seconds("stage {label}", r"^  (?P<label>\S.*?)\s+{N} s$", headline=False),
        ),
        note="no size option: the whole `accord demo` each run",
    ),
    Bench(
        "febrl",
        ("--no-plain",),
        ("--no-plain",),
        (seconds("accord run on FEBRL4", r"^accord run: {N} s \(training the model included\)"),),
        note="FEBRL4 is a fixed 5,000 + 5,000 records; the plain Splink peer is left out",
    ),
    Bench(
        "ledger",
        ("--keep", "{side}", "--skip", "peer", "--no-pg"),
        (
            "--keep",
            "{side}",
            "--skip",
            "peer",
            "--no-pg",
            "--append",
            "100000",
            "--proof-leaves",
            "1000000",
            "--proofs",
            "200",
            "--verify-leaves",
            "100000",
        ),
        (
            rate(
                "append {label}",
                r"^append \((?P<label>SQLite|PostgreSQL)\): .*? = {N} leaves/s",
                "leaves/s",
            ),
            ms("inclusion proof median", r"^inclusion proof at .*?: median {N} ms"),
            ms("consistency proof median", r"^consistency proof at .*?: median {N} ms"),
            seconds("verify (library)", r"^verify \(library\) .*?: {N} s \(CPU"),
            seconds(
                "accord verify --workers {label}",
                r"^`accord verify --workers (?P<label>\d+)` .*?: {N} s;",
            ),
        ),
        warmup=("baseline", "this"),
        pg_args=("--pg", "{pg}"),
        note="the proof ledger is built once per side (--keep); the pymerkle peer is left out",
    ),
    Bench(
        "linkage",
        ("--data", "{side}"),
        ("--data", "{side}", "--people", "20000", "--register-rows", "200000"),
        (
            seconds("train wall", r"^  train {N} s wall"),
            seconds("train CPU", r"^  train [0-9.]+ s wall, {N} s CPU"),
            seconds("link wall", r"^  link  {N} s wall"),
            seconds("link CPU", r"^  link  [0-9.]+ s wall, {N} s CPU"),
            seconds("plain Splink predict", r"^  train [0-9.]+ s; predict {N} s", headline=False),
        ),
        prepare=prepare_linkage,
        link_shared=link_linkage,
        note="its own --baseline mode (train and link, CPU times) is the fuller comparison",
    ),
    Bench(
        "matches",
        ("--paths", "parquet"),
        ("--paths", "parquet", "--rows", "50000"),
        (
            seconds("{label} write wall", r"^(?P<label>tuples|arrow|parquet)\s+{N} s wall"),
            seconds(
                "{label} write CPU",
                r"^(?P<label>tuples|arrow|parquet)\s+[0-9.]+ s wall\s+{N} s CPU",
            ),
        ),
        note="only the path `accord run` takes (parquet), not the script's copies of older ones",
    ),
    Bench(
        "national",
        ("--rows", "1000000", "--data", "{side}"),
        ("--rows", "300000", "--people", "30000", "--data", "{side}"),
        (
            seconds("accord run wall", r"^accord run 1, .*?: wall {N} s"),
            seconds("accord run CPU", r"^accord run 1, .*?: wall [0-9.]+ s \(CPU {N} s\)"),
        ),
        warmup=("baseline", "this"),
        opt_in=True,
        note="on demand only (--only national); each side's register built in its first run",
    ),
    Bench(
        "policy",
        (),
        ("--people", "1000000"),
        (
            seconds("rules + cohorts", r"^rules: .*?together {N} s"),
            seconds("rules", r"^rules: {N} s", headline=False),
            seconds("cohorts", r"^rules: .*?cohorts: {N} s", headline=False),
        ),
    ),
    Bench(
        "register_digest",
        ("--keep", "{shared}", "--repeats", "1"),
        ("--keep", "{shared}", "--repeats", "1", "--rows", "1000000"),
        (
            seconds("{label} wall", r"^\s*(?P<label>streamed): +{N} s wall"),
            seconds("{label} CPU", r"^\s*(?P<label>streamed): +[0-9.]+ s wall, +{N} s CPU"),
            seconds(
                "{label} wall",
                r"^\s*(?P<label>separate|read-file|read-pipe): +{N} s wall",
                headline=False,
            ),
        ),
        warmup=("this",),
        note="the register file is made once and shared",
    ),
    Bench(
        "remedy",
        ("--db", "{side}/remedy.db"),
        ("--db", "{side}/remedy.db", "--disclosures", "300000", "--repeat", "20"),
        (
            ms("recall one person median", r"^ledger of .*?: median {N} ms"),
            ms("recall one person p95", r"^ledger of .*?, p95 {N} ms", headline=False),
        ),
        warmup=("baseline", "this"),
        # The script makes its key beside --db but (since the ledger's unit of work signs a
        # head in `disclose`, issue 20) does not say where: the environment does.
        env=(("ACCORD_LEDGER_KEY", "{side}/remedy.key"),),
        note="each side builds its database once (--db) in an untimed first run; "
        "ACCORD_LEDGER_KEY names the key the script makes",
    ),
    Bench(
        "report",
        (),
        ("--disclosures", "200000"),
        (
            seconds("report", r"^report over [0-9,]+ disclosures: {N} s"),
            seconds("figures (SQL)", r"^figures \(SQL\)\s+{N} s", headline=False),
            seconds("charts", r"^charts \(\s*\d+\)\s+{N} s", headline=False),
            seconds("HTML", r"^HTML\s+{N} s", headline=False),
        ),
    ),
    Bench(
        "run",
        ("--data", "{side}"),
        ("--data", "{side}", "--people", "10000", "--register-rows", "100000"),
        (
            seconds("accord run wall", r"^accord run: .*?: {N} s, peak memory"),
            seconds("accord run CPU", r"^CPU \(user \+ sys, all threads\): {N} s"),
            seconds(
                "admit + train 3 models",
                r"^admitted [0-9,]+ and trained 3 models in {N} s",
                headline=False,
            ),
        ),
        prepare=prepare_run,
        link_shared=link_run,
        note="one scenario shared; its own --baseline mode is the fuller comparison",
    ),
    Bench(
        "subject_access",
        ("--db", "{side}/subject_access.db"),
        ("--db", "{side}/subject_access.db", "--disclosures", "300000", "--repeat", "20"),
        (
            ms("assemble.build median", r"^assemble\.build .*?median +{N} ms"),
            ms("produce (json) median", r"^produce \(json\)\s+median +{N} ms"),
            ms("assemble.build first", r"^assemble\.build\s+first +{N} ms", headline=False),
        ),
        warmup=("baseline", "this"),
        note="each side builds its database once (--db) in an untimed first run",
    ),
    Bench(
        "synth",
        (),
        ("--people", "100000"),
        (
            seconds("synth wall", r"^  wall time +{N} s"),
            seconds("synth CPU", r"^  wall time +[0-9.]+ s +\(CPU {N} s\)"),
        ),
    ),
    Bench(
        "validate",
        ("--keep", "{shared}"),
        ("--keep", "{shared}", "--rows", "1000000"),
        (
            seconds("validate", r"^ *now: validate [0-9,]+ \w+ rows in {N} s"),
            Figure(
                "peak memory", r"^ *now: .*?peak memory " + NUMBER + " GB", "GB", headline=False
            ),
        ),
        warmup=("this",),
        note="the cases file is made once and shared",
    ),
)
NOT_BENCHMARKS = {
    "scratch": "a helper (PostgreSQL scratch databases), not a benchmark",
    "link_statements": "linkage.py's link statement by statement beside a baseline it is given "
    "(--baseline): an accounting, with no target of its own",
}


@dataclass
class Run:
    wall: float
    cpu: float
    status: int
    figures: dict[str, float]
    output: str


@dataclass
class Side:
    label: str
    root: Path
    runs: list[Run] = field(default_factory=list)

    def script(self, name: str) -> Path:
        return self.root / "benchmarks" / f"{name}.py"


def parse_figures(bench: Bench, output: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for figure in bench.figures:
        for m in re.finditer(figure.pattern, output, re.MULTILINE):
            groups = m.groupdict()
            name = figure.name.format(label=groups.get("label") or "")
            found[name] = float(m.group("value").replace(",", ""))
    return found


def figure_of(bench: Bench, name: str) -> Figure:
    """The figure a parsed name came from (the first whose name template fits)."""
    for figure in bench.figures:
        template = re.escape(figure.name).replace(r"\{label\}", ".*")
        if re.fullmatch(template, name):
            return figure
    raise KeyError(name)


def unsupported(bench: Bench, args: Sequence[str], scripts: Sequence[Path]) -> str | None:
    """Why these arguments cannot be given to every script, or None."""
    for script in scripts:
        if not script.is_file():
            return f"{script} does not exist (a benchmark added later)"
        source = script.read_text(encoding="utf-8")
        for flag in (a for a in args if a.startswith("--")):
            if f'"{flag}"' not in source:
                return f"{script} takes no {flag}"
    return None


def changed_lines(a: Path, b: Path) -> int:
    old = a.read_text(encoding="utf-8").splitlines()
    new = b.read_text(encoding="utf-8").splitlines()
    return sum(
        1 for line in difflib.unified_diff(old, new, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )  # fmt: skip


def arguments(args: Sequence[str], shared: Path, side: Path) -> list[str]:
    return [a.replace("{shared}", str(shared)).replace("{side}", str(side)) for a in args]


def run_once(
    bench: Bench, side: Side, folder: Path, args: list[str], scratch: Path, timeout: float
) -> Run:
    env = {**os.environ, "PYTHONPATH": str(side.root / "src")}
    env.update((k, v.replace("{side}", str(folder))) for k, v in bench.env)
    fresh = Path(tempfile.mkdtemp(prefix="scratch-", dir=scratch))
    env["ACCORD_SCRATCH_DIR"] = str(fresh)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(side.script(bench.name)), *args],
            cwd=side.root, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        status, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        status = -1
        caught = [x.decode() if isinstance(x, bytes) else x or "" for x in (exc.stdout, exc.stderr)]
        output = f"{caught[0]}{caught[1]}\n(killed after {timeout:.0f} s)"
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(fresh, ignore_errors=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, status, parse_figures(bench, output), output)


def ratio(figure: Figure, base: float, this: float) -> float:
    """Above 1 is slower, whichever way the figure goes."""
    if figure.better == "higher":
        return base / this if this else float("inf")
    return this / base if base else float("inf")


def compare(
    bench: Bench, baseline: Side, this: Side
) -> tuple[list[tuple[str, Figure, float, float, float]], list[str]]:
    """Rows (name, figure, baseline median, this median, ratio), and the names missing."""
    process = (
        Figure("process wall (set-up included)", "", "s", headline=False),
        Figure("process CPU (set-up included)", "", "s", headline=False),
    )
    rows = []
    missing = []
    names = list(dict.fromkeys(n for s in (baseline, this) for r in s.runs for n in r.figures))
    for name in names:
        figure = figure_of(bench, name)
        values = [[r.figures[name] for r in s.runs if name in r.figures] for s in (baseline, this)]
        if not all(values):
            missing.append(name)
            continue
        b, t = statistics.median(values[0]), statistics.median(values[1])
        rows.append((name, figure, b, t, ratio(figure, b, t)))
    wall = [[r.wall for r in s.runs] for s in (baseline, this)]
    cpu = [[r.cpu for r in s.runs] for s in (baseline, this)]
    for figure, (old, new) in zip(process, (wall, cpu), strict=True):
        b, t = statistics.median(old), statistics.median(new)
        rows.append((figure.name, figure, b, t, ratio(figure, b, t)))
    return rows, missing


def report(bench: Bench, rows: list[tuple[str, Figure, float, float, float]]) -> list[str]:
    """Print the table; return the headline figures slower by more than the threshold."""
    slower = []
    print(f"  {'figure':<38} {'baseline':>12} {'this code':>12} {'ratio':>7}")
    for name, figure, b, t, r in rows:
        flag = ""
        if r > THRESHOLD:
            flag = "  SLOWER" if figure.headline else "  (slower)"
            if figure.headline:
                slower.append(f"{bench.name}: {name} {r:.2f}")
        shown = f"{name} ({figure.unit}{', higher is better' if figure.better == 'higher' else ''})"
        mark = "" if figure.headline else "  info"
        print(f"  {shown:<38} {b:>12,.2f} {t:>12,.2f} {r:>7.2f}{flag}{mark}")
    return slower


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    | " + line for line in text.rstrip().splitlines()[-lines:])


def measure(
    bench: Bench, opts: argparse.Namespace, baseline: Side, this: Side, work: Path
) -> tuple[str, list[str]]:
    """One benchmark: ("ok" | "skipped" | "failed", headline figures slower)."""
    args = list(bench.quick if opts.quick else bench.full)
    if opts.pg and bench.pg_args:
        args += [a.replace("{pg}", opts.pg) for a in bench.pg_args]
    if opts.pg and bench.name == "ledger":
        args.remove("--no-pg")
    print(f"\n== {bench.name}: {' '.join(args) or '(its own defaults)'}")
    if bench.note:
        print(f"   ({bench.note})")
    why = unsupported(bench, args, [baseline.script(bench.name), this.script(bench.name)])
    if why:
        print(f"   skipped: {why}")
        return "skipped", []
    differ = changed_lines(baseline.script(bench.name), this.script(bench.name))
    if differ:
        print(f"   script: {differ} lines changed since the baseline's: check it times the same")
    else:
        print("   script: the same as the baseline's")
    shared = work / bench.name / "shared"
    sides = {s.label: (s, work / bench.name / s.label) for s in (baseline, this)}
    for folder in (shared, *(f for _, f in sides.values())):
        folder.mkdir(parents=True, exist_ok=True)
    scratch = work / "scratch"
    scratch.mkdir(exist_ok=True)
    try:
        if bench.prepare:
            started = time.perf_counter()
            bench.prepare(args, shared)
            print(f"   shared data ready in {time.perf_counter() - started:.0f} s (not timed)")
        if bench.link_shared:
            for _, folder in sides.values():
                bench.link_shared(args, shared, folder)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"   failed: preparing the shared data: {exc}")
        return "failed", []
    for label in ("this", "baseline"):
        if label in bench.warmup:
            side, folder = sides[label]
            warm = run_once(
                bench, side, folder, arguments(args, shared, folder), scratch, opts.timeout
            )
            print(f"   {label}: untimed first run (builds its data) {warm.wall:.0f} s, "
                  f"exit {warm.status}")  # fmt: skip
            if warm.status != 0 and not warm.figures:
                print(tail(warm.output))
                return "failed", []
    for s, _ in sides.values():
        s.runs.clear()
    for repeat in range(opts.repeats):
        order = ("baseline", "this") if repeat % 2 == 0 else ("this", "baseline")
        for label in order:
            side, folder = sides[label]
            run = run_once(
                bench, side, folder, arguments(args, shared, folder), scratch, opts.timeout
            )
            headline = [f.name for f in bench.figures if f.headline and "{label}" not in f.name]
            lost = [n for n in headline if n not in run.figures]
            note = f"; exit {run.status}" if run.status else ""
            print(f"   run {repeat + 1} {label:<8} {run.wall:7.1f} s wall, {run.cpu:7.1f} s CPU"
                  f"{note}{'; no figure for ' + ', '.join(lost) if lost else ''}")  # fmt: skip
            if run.status != 0 and not run.figures:
                print(tail(run.output))
                return "failed", []
            if opts.verbose:
                print(tail(run.output, 40))
            side.runs.append(run)
    rows, missing = compare(bench, baseline, this)
    if missing:
        print(f"   only one side printed: {', '.join(missing)}")
    return "ok", report(bench, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog=table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--baseline", type=Path, help="a checkout of the earlier code")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (medians)")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--quick", action="store_true", help="the smaller sizes (QUICK below)")
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL admin URL for admit, api, ledger")
    parser.add_argument("--work", type=Path, help="keep data here (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds a run, at most")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--verbose", action="store_true", help="print each run's output")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    opts = parser.parse_args(argv)
    if opts.list:
        print(table())
        return 0
    if opts.baseline is None or not (opts.baseline / "src" / "accord").is_dir():
        parser.error("--baseline DIR must be a checkout of Accord (with src/accord)")
    if opts.repeats < 1:
        parser.error("--repeats must be at least 1")
    known = {b.name: b for b in BENCHMARKS}
    wanted = [n.strip() for n in opts.only.split(",")] if opts.only else []
    for name in wanted:
        if name not in known:
            parser.error(f"no benchmark {name!r}: one of {', '.join(known)}")
    chosen = [b for b in BENCHMARKS if b.name in wanted or (not wanted and not b.opt_in)]
    baseline = Side("baseline", opts.baseline.resolve())
    this = Side("this", HERE)
    work = opts.work or Path(tempfile.mkdtemp(prefix="accord-before-after-"))
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"baseline {baseline.root} ({revision(baseline.root)}); this code {HERE} "
          f"({revision(HERE)}); {opts.repeats} runs a side, alternating; "
          f"{'quick' if opts.quick else 'full'} sizes; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")  # fmt: skip
    for name in sorted(set(p.stem for p in (HERE / "benchmarks").glob("*.py"))):
        if name in NOT_BENCHMARKS and not wanted:
            print(f"not run: {name}: {NOT_BENCHMARKS[name]}")
    # both trees compiled first, so that no run pays for writing bytecode
    for root in (baseline.root, HERE):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "src")],
                       check=False, capture_output=True)  # fmt: skip
    outcome: dict[str, str] = {}
    slower: list[str] = []
    record: dict[str, object] = {}
    for bench in chosen:
        status, late = measure(bench, opts, baseline, this, work)
        outcome[bench.name] = status
        slower += late
        record[bench.name] = {
            "status": status,
            **{s.label: [{"wall": r.wall, "cpu": r.cpu, "exit": r.status, **r.figures}
                         for r in s.runs] for s in (baseline, this)},
        }  # fmt: skip
    if opts.json:
        opts.json.write_text(json.dumps(record, indent=2), encoding="utf-8")
    if not opts.work:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(verdict(outcome, slower, opts.repeats))
    return 0


def verdict(outcome: dict[str, str], slower: list[str], repeats: int) -> str:
    done = [n for n, s in outcome.items() if s == "ok"]
    others = [f"{n} {s}" for n, s in outcome.items() if s != "ok"]
    tail_ = f"; not compared: {', '.join(others)}" if others else ""
    if not done:
        return f"verdict: nothing compared{tail_}"
    medians = f"medians of {repeats}"
    if slower:
        return (
            f"verdict: {len(slower)} headline figure(s) more than {THRESHOLD - 1:.0%} slower "
            f"than the baseline ({medians}): {'; '.join(slower)}{tail_}"
        )
    return (
        f"verdict: every headline figure of {len(done)} benchmark(s) ({', '.join(done)}) "
        f"within {THRESHOLD - 1:.0%} of the baseline or better ({medians}){tail_}"
    )


def revision(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() or "not a git checkout"


def table() -> str:
    lines = ["benchmarks (FULL: the arguments without --quick; QUICK: with it):"]
    for b in BENCHMARKS:
        extra = " (only with --only)" if b.opt_in else ""
        lines.append(f"  {b.name}{extra}")
        lines.append(f"    FULL  {' '.join(b.full) or '(its own defaults)'}")
        lines.append(f"    QUICK {' '.join(b.quick) or '(its own defaults)'}")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(2)
