"""A register's SHA-256 while it is opened: what each way of getting it costs (issue 21).

    .venv/bin/python benchmarks/register_digest.py [--rows 5000000] [--repeats 2]
        [--keep DIR] [--warm]

Generates a register CSV (`benchmarks/validate.py`'s generator), then opens it in a
workspace (`accord.formats.open_file`: read, every check, the typed view) in a child
process per measurement, and prints wall time, CPU time (user + system, every thread)
and peak resident memory for each way of getting the file's hash:

- ``separate``: a full read of the file to hash it, then the opening (what `accord run`
  did before: ``cycle._sha256`` over every register first);
- ``streamed``: the opening with ``digest=True``: a thread hashes the file as DuckDB
  reads it, one pass over the disk;
- ``read-file`` / ``read-pipe``: DuckDB's ``read_csv`` of the file into the workspace
  (the one read of the bytes in the opening, as ``open_file`` does it) with the hashing
  thread beside it, against ``read_csv`` of a named pipe fed by a writer that hashes
  every block it passes on (DuckDB reads a pipe in one thread).

Each measurement starts with the file out of the page cache (``posix_fadvise``
``DONTNEED``), as a register just delivered would be; ``--warm`` leaves it cached.
Measurements alternate between the ways, ``--repeats`` times; the median is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from validate import generate

SRC = Path(__file__).resolve().parent.parent / "src"
WAYS = ("separate", "streamed", "read-file", "read-pipe")

CHILD = r"""
import hashlib, json, os, sys, tempfile, threading, time
from pathlib import Path
from accord import formats
from accord.formats.reader import _Digest
from accord.workspace import workspace

path, way = Path(sys.argv[1]), sys.argv[2]
READ = ("CREATE TEMP TABLE raw AS SELECT * FROM read_csv('{}', columns = {{{}}}, "
        "header = false, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        "null_padding = true, strict_mode = true, encoding = 'utf-8', parallel = true)")
width = len(path.open(encoding="utf-8").readline().split(","))
columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
started = time.perf_counter()
rows = None
with workspace() as con:
    if way == "separate":
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        opened = formats.open_file(con, path, "register")
        rows = opened.rows
        opened.close()
    elif way == "streamed":
        opened = formats.open_file(con, path, "register", digest=True)
        digest, rows = opened.sha256, opened.rows
        opened.close()
    elif way == "read-file":
        hashing = _Digest(path)
        con.execute(READ.format(path, columns))
        digest = hashing.hexdigest()
    else:
        folder = Path(tempfile.mkdtemp())
        pipe = folder / "register.csv"
        os.mkfifo(pipe)
        h = hashlib.sha256()
        def feed():
            with path.open("rb") as src, pipe.open("wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    dst.write(block)
        writer = threading.Thread(target=feed)
        writer.start()
        con.execute(READ.format(pipe, columns))
        writer.join()
        digest = h.hexdigest()
        pipe.unlink()
        folder.rmdir()
    if rows is None:
        rows = con.execute("SELECT count(*) - 1 FROM raw").fetchone()[0]
print(json.dumps({"seconds": time.perf_counter() - started, "sha256": digest, "rows": rows}))
"""


def drop_from_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def measure(path: Path, way: str, warm: bool) -> tuple[float, float, float, str, int]:
    """(wall s, CPU s, peak GB, sha256, rows) of one way, in a child process of its own."""
    if not warm:
        drop_from_cache(path)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), way], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{way} failed with exit status {os.waitstatus_to_exitcode(status)}")
    found = json.loads(output.strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    return found["seconds"], cpu, usage.ru_maxrss / 1e6, found["sha256"], found["rows"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the register here and keep it")
    parser.add_argument("--warm", action="store_true", help="leave the file in the page cache")
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="accord-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"register-{args.rows}-0.csv"
    if not path.exists():
        started = time.perf_counter()
        generate(path, args.rows, 0, "register")
        print(f"generated {args.rows:,} register rows ({path.stat().st_size / 1e6:,.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    results: dict[str, list[tuple[float, float, float]]] = {w: [] for w in args.ways}
    digests: set[str] = set()
    for _ in range(args.repeats):
        for way in args.ways:
            wall, cpu, peak, digest, rows = measure(path, way, args.warm)
            digests.add(digest)
            results[way].append((wall, cpu, peak))
            print(f"  {way:>9}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, peak {peak:.2f} GB "
                  f"({rows:,} rows)", flush=True)  # fmt: skip
    if len(digests) != 1:
        raise SystemExit(f"the ways disagree on the hash: {sorted(digests)}")
    cache = "in the page cache" if args.warm else "out of the page cache at the start"
    print(f"{path.stat().st_size / 1e6:,.0f} MB, {cache}; median of {args.repeats}:")
    for way, runs in results.items():
        wall, cpu, peak = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"{way:>9}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, peak {peak:.2f} GB")
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
