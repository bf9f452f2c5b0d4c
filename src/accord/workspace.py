"""A DuckDB workspace that spills to disk: where files are validated and a run's tables live.

A workspace is a file-backed DuckDB database in a private folder of its own under the
scratch directory (``ACCORD_SCRATCH_DIR``, default the system's temporary folder), with
a memory limit (``ACCORD_DUCKDB_MEMORY_LIMIT``, default a quarter of the machine's
physical memory) past which DuckDB writes what it holds to a temporary folder beside it
instead of failing.  The folder is removed when the workspace closes, however it closes.

A register of tens of millions of rows is then a table on disk that SQL reads in pieces,
not a table in the process's memory (issue 21).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import duckdb

from accord.config import Settings
from accord.errors import AccordError

MEMORY_SHARE = 0.25  # of physical memory, when ACCORD_DUCKDB_MEMORY_LIMIT is not set
MEMORY_FLOOR = 256 << 20  # never below this, however small the machine
SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*", re.IGNORECASE)
UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}  # fmt: skip


def physical_memory() -> int:
    """Bytes of physical memory on this machine (0 when the system will not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 0


def memory_limit_bytes(settings: Settings) -> int:
    """The workspace's memory limit in bytes: the setting, else a share of the machine."""
    given = settings.duckdb_memory_limit
    if given is None or not given.strip():
        return max(MEMORY_FLOOR, int(physical_memory() * MEMORY_SHARE))
    found = SIZE.fullmatch(given)
    if found is None:
        raise AccordError(
            f"ACCORD_DUCKDB_MEMORY_LIMIT {given!r} is not a memory size: "
            "give a number and a unit, such as 4GB or 512MiB"
        )
    number, unit = found.groups()
    size = int(float(number) * UNITS[(unit or "b").lower()])
    if size < 128 << 20:
        raise AccordError(
            f"ACCORD_DUCKDB_MEMORY_LIMIT {given!r} is under 128 MiB: too little for DuckDB "
            "to read files in"
        )
    return size


def scratch_root(settings: Settings) -> Path:
    """The folder workspaces are made in; one that cannot be written is one line, exit 2."""
    root = settings.scratch_dir or Path(tempfile.gettempdir())
    if not root.is_dir():
        raise AccordError(f"ACCORD_SCRATCH_DIR {str(root)!r} is not a folder")
    if not os.access(root, os.W_OK | os.X_OK):
        raise AccordError(f"ACCORD_SCRATCH_DIR {str(root)!r} cannot be written by this account")
    return root


@contextlib.contextmanager
def workspace(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a new file-backed DuckDB database that spills past its memory limit.

    The database, its write-ahead log and everything spilled are in one private folder
    (mode 0700) under the scratch directory, removed when the block ends.
    """
    s = settings or Settings()
    limit = memory_limit_bytes(s)
    root = scratch_root(s)
    folder = Path(tempfile.mkdtemp(prefix="accord-workspace-", dir=root))
    try:
        spill = folder / "spill"
        spill.mkdir()
        con = duckdb.connect(
            str(folder / "workspace.duckdb"),
            config={
                "memory_limit": f"{limit // (1 << 20)}MiB",
                "temp_directory": str(spill),
                # Insertion order is kept (the default): row numbers are the order in
                # which a file's rows were read, and a run's results do not depend on
                # how the work was split between threads.
                "preserve_insertion_order": True,
            },
        )
        con.execute("SET enable_progress_bar = false")  # a long query must not draw on stdout
        try:
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def spill_in_scratch(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> None:
    """Make an in-memory DuckDB connection (linkage's) spill to a private folder under the
    scratch directory, removed once the connection is gone, rather than to ``.tmp`` in
    the working folder (DuckDB's default for in-memory databases); with
    ``ACCORD_DUCKDB_MEMORY_LIMIT`` set, hold it to that limit too.  Without the setting
    DuckDB keeps its own default limit (80% of memory): linkage's hash joins are fastest
    in memory, and a limit is the operator's choice for a shared or smaller machine."""
    s = settings or Settings()
    root = scratch_root(s)
    folder = Path(tempfile.mkdtemp(prefix="accord-linkage-", dir=root))
    weakref.finalize(con, shutil.rmtree, folder, True)
    con.execute("SET temp_directory = ?", [str(folder)])
    if s.duckdb_memory_limit is not None and s.duckdb_memory_limit.strip():
        con.execute(f"SET memory_limit = '{memory_limit_bytes(s) // (1 << 20)}MiB'")
