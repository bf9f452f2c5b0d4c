"""Memory stays flat as registers grow (issue 21): a register is validated in a DuckDB
workspace that spills to disk past its memory limit, never read whole into the process.

The check runs in a child process whose address space is capped (``RLIMIT_AS``) at what it
had after importing Accord plus ``HEADROOM``: reading a 2,000,000-row register eagerly (as
Polars and Arrow did before) needs about twice that, so the old reader fails under the
cap, where the workspace validates the file and finds its one bad row.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from accord import formats
from accord.cli import main

ROWS = 2_000_000
HEADROOM = 1 << 30  # address space the child may add to what importing Accord took
MEMORY_LIMIT = "256MB"  # the workspace's, for the child

CHILD = """
import json, resource, sys
def vm_size():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
from accord import formats
cap = vm_size() + int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
report = formats.validate(sys.argv[1], "register")
print(json.dumps({"rows": report.rows, "total": report.total,
                  "problems": [[p.row, p.column, p.message] for p in report.problems],
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def big_register(folder: Path, rows: int, bad: bool = True) -> Path:
    """A register CSV of ``rows`` rows made by DuckDB in a second or two; one bad date."""
    path = folder / "bank.csv"
    duckdb.sql(
        f"""COPY (
          SELECT 'R' || i AS record_id, 'Family' || (i % 5000) AS family_name,
                 'Given ' || (i % 700) AS given_names,
                 CASE WHEN {str(bad).lower()} AND i = {rows // 2} THEN '1984-02-30'
                      ELSE CAST(DATE '1950-01-01' + CAST(i % 20000 AS INTEGER) AS VARCHAR)
                 END AS date_of_birth,
                 'SW' || (i % 20) || ' ' || (i % 9) || 'AB' AS postcode,
                 DATE '1990-01-01' + CAST(i % 12000 AS INTEGER) AS since
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER)"""
    )
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_two_million_row_register_validates_under_an_address_space_cap(tmp_path: Path) -> None:
    path = big_register(tmp_path, ROWS)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {
        **os.environ,
        "ACCORD_DUCKDB_MEMORY_LIMIT": MEMORY_LIMIT,
        "ACCORD_SCRATCH_DIR": str(scratch),
        # One malloc arena per thread reserves 64 MB of address space each: two keep
        # what the cap measures to what the process uses, whatever the number of cores.
        "MALLOC_ARENA_MAX": "2",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(HEADROOM)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["rows"] == ROWS
    assert found["total"] == 1
    assert found["problems"] == [
        [ROWS // 2 + 1, "date_of_birth", "'1984-02-30' is not a date in YYYY-MM-DD form"]
    ]
    assert list(scratch.iterdir()) == []  # the workspace is gone with the run


def test_open_file_gives_a_relation_in_order_with_the_files_hash(tmp_path: Path) -> None:
    path = big_register(tmp_path, 300_000, bad=False)
    with formats.opened(path, "register", digest=True) as found:
        assert found.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert found.rows == 300_000
        first = found.relation().order("__row").limit(2).fetchall()
        assert [r[0] for r in first] == [1, 2] and first[0][1] == "R0"
        table = found.to_arrow(["record_id", "date_of_birth"])
        assert table.column("record_id").to_pylist()[-1] == "R299999"
        assert table.column_names == ["record_id", "date_of_birth"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ACCORD_DUCKDB_MEMORY_LIMIT", "lots", "is not a memory size"),
        ("ACCORD_DUCKDB_MEMORY_LIMIT", "10MB", "is under 128 MiB"),
        ("ACCORD_SCRATCH_DIR", "/nonexistent/scratch", "is not a folder"),
    ],
)
def test_a_workspace_setting_that_cannot_be_used_is_one_line_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    message: str,
) -> None:
    path = tmp_path / "r.csv"
    path.write_text("record_id,family_name,given_names\nR1,Doe,Jo\n", encoding="utf-8")
    monkeypatch.setenv(name, value)
    assert main(["validate", "register", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert name in err and message in err


def test_linkage_spills_under_the_scratch_folder_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linkage's in-memory DuckDB spills to a private folder under ACCORD_SCRATCH_DIR (not
    `.tmp` in the working folder), removed with the connection; the memory limit applies
    only when set."""
    from accord.linkage.model import new_duckdb

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("ACCORD_SCRATCH_DIR", str(scratch))
    monkeypatch.delenv("ACCORD_DUCKDB_MEMORY_LIMIT", raising=False)
    con = new_duckdb()
    spill = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0])  # type: ignore[index]
    assert spill.parent == scratch and spill.is_dir()
    con.close()
    del con
    assert list(scratch.iterdir()) == []
    monkeypatch.setenv("ACCORD_DUCKDB_MEMORY_LIMIT", "512MiB")
    con = new_duckdb()
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]  # type: ignore[index]
    assert limit in ("512.0 MiB", "512 MiB"), limit
