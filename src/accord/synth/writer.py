"""Moving NumPy draws into DuckDB and DuckDB results into files, set-based.

All randomness comes from NumPy generators seeded from the scenario's seed; DuckDB only
assembles strings and writes files, in an order fixed before it sees the rows, so that
a scenario is the same byte for byte whatever the thread count.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

EPOCH = dt.date(1970, 1, 1)
YEAR = 365.25

Days = npt.NDArray[np.int64]

# "No date": far below any real day (dates before 1970 are negative, so -1 will not do).
NO_DATE = -(1 << 40)


def day(d: dt.date) -> int:
    """Days since 1970-01-01, the unit every date is drawn in."""
    return (d - EPOCH).days


def connect() -> duckdb.DuckDBPyConnection:
    threads = max(1, min(os.cpu_count() or 1, 4))
    con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": True})
    con.execute("SET enable_progress_bar = false")
    return con


def dates(days: npt.NDArray[np.integer], valid: npt.NDArray[np.bool_] | None = None) -> pa.Array:
    """Int days since 1970 -> Arrow date32, NULL where not ``valid``."""
    if valid is None:
        return pa.array(np.asarray(days, dtype=np.int32), type=pa.int32()).cast(pa.date32())
    values = np.where(valid, days, 0).astype(np.int32)
    return pa.array(values, type=pa.int32(), mask=~valid).cast(pa.date32())


def codes(indices: npt.NDArray[np.integer], labels: Sequence[str]) -> pa.Array:
    """Indices into ``labels`` -> a dictionary-encoded string column; negative means NULL."""
    idx = np.asarray(indices, dtype=np.int32)
    mask = idx < 0
    return pa.DictionaryArray.from_arrays(
        pa.array(np.where(mask, 0, idx), type=pa.int32(), mask=mask),
        pa.array(list(labels), type=pa.string()),
    )


def copy_csv(con: duckdb.DuckDBPyConnection, select_sql: str, path: Path) -> None:
    """Write a query's rows to ``path`` as CSV with a header, replacing it only when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    quoted = str(tmp).replace("'", "''")
    con.execute(f"COPY ({select_sql}) TO '{quoted}' (FORMAT csv, HEADER true)")
    os.replace(tmp, path)


def uniform_int(
    rng: np.random.Generator, lo: npt.ArrayLike, hi: npt.ArrayLike, size: int | None = None
) -> Days:
    """Uniform integers in ``[lo, hi]`` elementwise (``hi`` below ``lo`` counts as ``lo``)."""
    lo_a = np.asarray(lo, dtype=np.int64)
    hi_a = np.maximum(np.asarray(hi, dtype=np.int64), lo_a)
    n = size if size is not None else int(np.broadcast(lo_a, hi_a).size)
    u = rng.random(n)
    return lo_a + np.floor(u * (hi_a - lo_a + 1)).astype(np.int64)


def years(n: float) -> int:
    return round(n * YEAR)
