"""Moving NumPy draws into DuckDB and DuckDB results into files, set-based.

All randomness comes from NumPy generators seeded from the scenario's seed; DuckDB only
assembles strings and writes files, in an order fixed before it sees the rows, so that
a scenario is the same byte for byte whatever the thread count.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from accord.errors import AccordError

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


def copy_csv(
    con: duckdb.DuckDBPyConnection,
    select_sql: str,
    path: Path,
    params: Mapping[str, object] | None = None,
) -> None:
    """Write a query's rows to ``path`` as CSV with a header, replacing it only when complete.

    ``params`` are DuckDB parameters of ``select_sql`` (``$name``; not ``$copy_file``,
    the file's own, bound too).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    con.execute(
        f"COPY ({select_sql}) TO $copy_file (FORMAT csv, HEADER true)",
        {**(params or {}), "copy_file": str(tmp)},
    )
    os.replace(tmp, path)


def csv_view(con: duckdb.DuckDBPyConnection, path: Path, view: str) -> None:
    """Make ``view`` on ``con`` the rows of the CSV file at ``path`` (a header row, every
    column read as text), e.g. a scenario's ``truth/people.csv``.  The file is named to
    DuckDB through its API, never pasted into SQL text."""
    if not path.is_file():
        raise AccordError(f"{path}: no such file; is it a scenario made by accord synth?")
    con.read_csv(str(path), header=True, all_varchar=True).create_view(view)


def day_month_swapped(dob: Days) -> tuple[Days, npt.NDArray[np.bool_]]:
    """Each date with its day and month exchanged, and whether that is another valid date."""
    d = dob.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    dd = (d - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    mm = month_start.astype(np.int64) % 12 + 1
    yy = d.astype("datetime64[Y]").astype(np.int64)
    swappable = (dd <= 12) & (dd != mm)
    swapped = (
        (yy * 12 + np.minimum(dd, 12) - 1).astype("datetime64[M]").astype("datetime64[D]")
        + (mm - 1)
    ).astype(np.int64)
    return swapped, swappable


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
