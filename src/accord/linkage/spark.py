"""Spark as a second linkage engine (issue 21): the work that grows with the register.

A register too large for one machine is linked on Spark: the names normalised, the
blocking keys and candidate pairs, the features of the records some rule found, the
term frequencies, the name counts and Splink's scores (its Spark dialect, with the
similarity functions of the jar Splink ships, registered through Splink's ``SparkAPI``,
except Jaro-Winkler, which is DuckDB's written in Spark SQL: :func:`duckdb_jaro_winkler_sql`)
all run there, in the SQL of :mod:`accord.linkage.features` written for Spark.  What
comes back is small: the scored pairs above the rival floor, the found records' name
counts and features, and one number (the register's lookalike factor).  From there the
rivals, the chance of the wrong person and the explanations are the same DuckDB SQL as
for a register linked on DuckDB (:func:`accord.linkage.predict.link`).

Each table Spark makes is written to Parquet under the scratch directory and read back,
so that no step is computed twice and nothing is held in memory that need not be; the
folder is removed when the link ends.  One Spark session serves the process (the JVM
starts once); its master and settings come from ``ACCORD_SPARK_MASTER`` and
``ACCORD_SPARK_CONF``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from accord.config import Settings
from accord.linkage import features, pairs, risk
from accord.linkage import model as m
from accord.workspace import scratch_root

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Splink's jar registers its Jaro-Winkler as this.  Accord does not score with it: it
# differs from DuckDB's (docs/linkage.md#spark); :func:`duckdb_jaro_winkler_sql` is used.
JW_FUNCTION = "jaro_winkler"

# DuckDB functions in the model's conditions that sqlglot leaves under a name Spark does
# not know: Jaro-Winkler (a placeholder until the SQL is complete, see scoring_sql) and the
# length in bytes (the one-edit guard's).
JW_PLACEHOLDER = "accord_duckdb_jaro_winkler"
_SPARK_NAMES = {"JAROWINKLER_SIMILARITY": JW_PLACEHOLDER, "STRLEN": "octet_length"}
_SPARK_NAME = re.compile(r"\b(" + "|".join(_SPARK_NAMES) + r")\(")
_JW_CALL = re.compile(JW_PLACEHOLDER + r"\((\w+), (\w+)\)", re.IGNORECASE)

_lock = threading.Lock()
_session: SparkSession | None = None


def session(settings: Settings | None = None) -> SparkSession:
    """The process's Spark session, started on first use (the first settings win).

    Splink's similarity jar is on its class path and its functions registered
    (``SparkAPI``); Spark's scratch files go under Accord's scratch directory; a local
    master gets one shuffle partition per core rather than Spark's 200.
    """
    global _session
    with _lock:
        if _session is not None:
            return _session
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location

        s = settings or Settings()
        local = Path(tempfile.mkdtemp(prefix="accord-spark-local-", dir=scratch_root(s)))
        conf: dict[str, str] = {
            "spark.jars": similarity_jar_location(),
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.local.dir": str(local),
            "spark.sql.warehouse.dir": str(local / "warehouse"),
        }
        cores = _local_cores(s.spark_master)
        if cores:
            conf["spark.sql.shuffle.partitions"] = str(cores)
        conf.update(s.spark_conf)
        builder = SparkSession.builder.master(s.spark_master).appName("accord-linkage")
        for key, value in conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        _register_functions(spark)
        _session = spark
        return spark


def _local_cores(master: str) -> int | None:
    found = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\d+)?\])?", master.strip())
    if found is None:
        return None
    n = found.group(1)
    return (os.cpu_count() or 1) if n in (None, "*") else int(n)


def _register_functions(spark: SparkSession) -> None:
    """Splink's similarity functions (jaro_winkler, damerau_levenshtein, ...), registered
    by Splink's own ``SparkAPI`` from the jar on the class path."""
    from splink import SparkAPI

    SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]


class SparkSql:
    """:class:`accord.linkage.features.Sql` over Spark: each table a Parquet folder under
    ``folder``, read back as a temporary view of the same name."""

    dialect = features.SPARK

    def __init__(self, spark: SparkSession, folder: Path) -> None:
        self.spark = spark
        self.folder = folder
        self.made: list[str] = []

    def create(self, name: str, sql: str, *, temp: bool = False) -> None:
        self.put(name, self.spark.sql(sql))

    def put(self, name: str, frame: Any) -> None:
        """Write a Spark DataFrame as table ``name``."""
        self.drop(name)
        path = self.folder / name
        frame.write.parquet(str(path))
        # Read back with the schema known: Spark need not open the files to find it.
        self.spark.read.schema(frame.schema).parquet(str(path)).createOrReplaceTempView(name)
        self.made.append(name)

    def drop(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        shutil.rmtree(self.folder / name, ignore_errors=True)

    def columns(self, source: str) -> set[str]:
        return set(self.spark.table(source).columns)

    def arrow(self, sql: str, args: dict[str, Any] | None = None) -> pa.Table:
        """The rows of ``sql``; ``args`` are values for its named parameters (``:name``)."""
        table: pa.Table = self.spark.sql(sql, args=args).toArrow()
        return table

    def close(self) -> None:
        for name in dict.fromkeys(self.made):
            self.spark.catalog.dropTempView(name)
        shutil.rmtree(self.folder, ignore_errors=True)


# 2^53 and 2^56: a double in [0.5, 1] is a whole number of 2^-53, 0.1 to 0.4 of 2^-56.
_TWO_53 = 9007199254740992
_TWO_56 = 72057594037927936


def _fused_boost(x: str, z: str) -> str:
    """Spark SQL: ``z + x * (1 - z)`` rounded once, as a fused multiply-add rounds it, for a
    double ``z`` in (0.7, 1] and ``x`` in [0, 0.4] (``prefix * 0.1``).

    Spark has no fused multiply-add in SQL, and rounding the product first differs in the
    last bit (85 of 282,400 name pairs).  So the sum is made exactly, as a whole number of
    2^-109 in a 38-digit decimal (``z`` is a whole number of 2^-53, ``1 - z`` too, ``x`` of
    2^-56), then rounded to the nearest 2^-53, ties to even, as the double it is."""
    kz = f"CAST(CAST({z} * {_TWO_53}.0D AS BIGINT) AS DECIMAL(38, 0))"
    ky = f"CAST(CAST((1.0D - {z}) * {_TWO_53}.0D AS BIGINT) AS DECIMAL(38, 0))"
    kx = f"CAST(CAST({x} * {_TWO_56}.0D AS BIGINT) AS DECIMAL(38, 0))"
    two_56 = f"CAST({_TWO_56} AS DECIMAL(38, 0))"
    exact = f"({kz} * {two_56} + {kx} * {ky})"
    return (
        f"aggregate(array({exact}), 0.0D, (r0, n) -> aggregate(array(n div {_TWO_56}), 0.0D, "
        f"(r1, q) -> aggregate(array(n - CAST(q AS DECIMAL(38, 0)) * {two_56}), 0.0D, "
        f"(r2, r) -> CAST(q + IF(r > {_TWO_56 // 2} OR (r = {_TWO_56 // 2} AND q % 2 = 1), 1, 0) "
        f"AS DOUBLE) / {_TWO_53}.0D)))"
    )


def duckdb_jaro_winkler_sql(a: str, b: str) -> str:
    """Spark SQL for DuckDB's ``jaro_winkler_similarity(a, b)``, to the last bit.

    DuckDB (rapidfuzz) differs from the textbook and from Splink's jar in two ways: half
    the transpositions are rounded down, and the Winkler boost
    ``jaro + prefix * 0.1 * (1 - jaro)`` is one fused multiply-add, rounded once
    (:func:`_fused_boost`).  The matching is rapidfuzz's: each character of the longer string in
    turn takes the first unmatched equal character of the shorter one within the window.
    For the ASCII values the model compares (normalised names); DuckDB counts bytes.
    """
    # A "let": aggregate over a one-element array names its element in the merge lambda.
    values = (
        f"named_struct('p', IF(length({a}) <= length({b}), {a}, {b}), "
        f"'t', IF(length({a}) <= length({b}), {b}, {a}), "
        f"'lp', least(length({a}), length({b})), 'lt', greatest(length({a}), length({b})), "
        f"'w', greatest(greatest(length({a}), length({b})) div 2 - 1, 0))"
    )
    first = (
        "get(filter(IF(greatest(0, j - v.w) <= least(v.lp - 1, j + v.w), "
        "sequence(greatest(0, j - v.w), least(v.lp - 1, j + v.w)), CAST(array() AS ARRAY<INT>)), "
        "k -> NOT acc.f[k] AND substr(v.p, k + 1, 1) = substr(v.t, j + 1, 1)), 0)"
    )
    step = (
        f"(acc, j) -> aggregate(array({first}), acc, (acc2, i) -> IF(i IS NULL, acc2, "
        "named_struct('f', transform(acc2.f, (x, k) -> x OR k = i), "
        "'tm', concat(acc2.tm, array(j)))))"
    )
    matched_p = (
        "filter(transform(sequence(0, v.lp - 1), k -> IF(x.f[k], substr(v.p, k + 1, 1), NULL)), "
        "c -> c IS NOT NULL)"
    )
    matched_t = "transform(x.tm, j -> substr(v.t, j + 1, 1))"
    transposed = f"size(filter(zip_with({matched_p}, {matched_t}, (c, d) -> c <> d), z -> z))"
    m = "CAST(size(x.tm) AS DOUBLE)"
    jaro = (
        f"IF(size(x.tm) = 0, 0.0D, ({m} / v.lp + {m} / v.lt "
        f"+ ({m} - CAST({transposed} div 2 AS DOUBLE)) / {m}) / 3.0D)"
    )
    flags = (
        f"aggregate(sequence(0, v.lt - 1), named_struct('f', array_repeat(false, v.lp), "
        f"'tm', CAST(array() AS ARRAY<INT>)), {step}, x -> {jaro})"
    )
    prefix = (
        f"size(filter(sequence(1, least(4, length({a}), length({b}))), "
        f"k -> substr({a}, 1, k) = substr({b}, 1, k)))"
    )
    boosted = f"IF(sim > 0.7D, {_fused_boost(f'CAST({prefix} AS DOUBLE) * 0.1D', 'sim')}, sim)"
    return (
        f"(CASE WHEN {a} IS NULL OR {b} IS NULL THEN CAST(NULL AS DOUBLE) "
        f"WHEN length({a}) = 0 OR length({b}) = 0 THEN 0.0D "
        f"ELSE aggregate(array({values}), 0.0D, (s0, v) -> "
        f"aggregate(array({flags}), 0.0D, (s1, sim) -> {boosted})) END)"
    )


def spark_condition(sql: str) -> str:
    """A comparison level's condition (DuckDB SQL, as the model stores it) in Spark SQL."""
    import sqlglot

    if sql.strip().upper() == "ELSE":
        return sql
    out = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    return _SPARK_NAME.sub(lambda found: _SPARK_NAMES[found.group(1)] + "(", out)


def scoring_sql(settings: dict[str, Any], floor: float) -> str:
    """Splink's SQL (Spark dialect) for the comparison vectors and match weights of the
    pairs in ``blocked``: :func:`accord.linkage.model.scoring_sql` with each condition in
    Spark's names, as Splink's SparkAPI runs it."""
    import sqlglot
    from splink.internals.spark.spark_helpers import custom_spark_dialect  # noqa: F401

    sql = m.scoring_sql(settings, floor, "spark", spark_condition)
    # As Splink's SparkAPI runs its SQL: decimal literals as doubles.  Then DuckDB's
    # Jaro-Winkler in place of the placeholder (sqlglot need not parse its lambdas).
    sql = str(sqlglot.transpile(sql, read="spark", write="customspark")[0])
    return _JW_CALL.sub(lambda call: duckdb_jaro_winkler_sql(call.group(1), call.group(2)), sql)


def lookalike_factor(db: SparkSql, keys: str) -> float:
    """:func:`accord.linkage.risk.lookalike_factor` of the register's keys on Spark.

    The repeats are counted on Spark (integers, exact).  The squared frequencies are
    summed in DuckDB, smallest first as there, from each name's and date's count of
    records, which Spark groups: how many values are held by 1, 2, ... records.  So the
    factor is the one DuckDB gives, to the last digit.
    """
    named = (
        f"SELECT fam_c, giv1, dob, pc FROM {keys} "
        "WHERE fam_c IS NOT NULL AND giv1 IS NOT NULL AND dob IS NOT NULL"
    )
    counted = db.arrow(
        f"""WITH named AS ({named}), repeated AS (
            SELECT fam_c, giv1, dob, count(*) AS n FROM named
            GROUP BY fam_c, giv1, dob HAVING count(*) > 1
        ), same_address AS (
            SELECT count(*) AS n FROM named AS x
            LEFT SEMI JOIN repeated AS r
                ON r.fam_c = x.fam_c AND r.giv1 = x.giv1 AND r.dob = x.dob
            WHERE x.pc IS NOT NULL GROUP BY x.fam_c, x.giv1, x.dob, x.pc HAVING count(*) > 1
        )
        SELECT (SELECT coalesce(sum(n * (n - 1) div 2), 0) FROM repeated)
               - (SELECT coalesce(sum(n * (n - 1) div 2), 0) FROM same_address) AS observed,
               (SELECT count(*) FROM named) AS n"""
    )
    observed, n = counted.column("observed")[0].as_py(), counted.column("n")[0].as_py()
    parts = ("fam_c", "giv1", "dob")  # each column's name is also its part's label, bound
    sizes = db.arrow(
        " UNION ALL ".join(
            f"SELECT :{column} AS part, c, count(*) AS k FROM "
            f"(SELECT count(*) AS c FROM ({named}) GROUP BY {column}) GROUP BY c"
            for column in parts
        ),
        {column: column for column in parts},
    )
    con = duckdb.connect(":memory:")
    try:
        con.register("sizes", sizes)
        row = con.execute(
            """WITH f AS (
                SELECT part, CAST(c AS BIGINT) / CAST(? AS BIGINT) AS f
                FROM (SELECT part, c, unnest(range(k)) FROM sizes)
            ), squares AS (
                SELECT (SELECT sum(f * f ORDER BY f) FROM f WHERE part = 'fam_c') AS s_family,
                       (SELECT sum(f * f ORDER BY f) FROM f WHERE part = 'giv1') AS s_given,
                       (SELECT sum(f * f ORDER BY f) FROM f WHERE part = 'dob') AS s_dob,
                       CAST(? AS BIGINT) AS n
            )
            SELECT n * (n - 1) / 2.0 * s_family * s_given * s_dob FROM squares""",
            [n, n],
        ).fetchall()
    finally:
        con.close()
    expected = row[0][0]
    if not expected:
        return 1.0
    upper = risk.poisson_upper(float(observed or 0))
    return max(1.0, upper / float(expected))


# What :func:`accord.linkage.predict.link` reads after scoring, brought back from Spark.
HANDED_BACK = ("predictions", "register_s", "blocked_records", risk.NAME_COUNTS)


def score(
    con: duckdb.DuckDBPyConnection,
    model: m.TrainedModel,
    pool: pa.Table,
    register: pa.Table,
    floor: float,
    settings: Settings | None = None,
) -> float:
    """Score every candidate pair of ``pool`` and ``register`` on Spark and leave in
    DuckDB ``con`` what the rivals and explanations need (:data:`HANDED_BACK`); the
    register's lookalike factor is returned.

    The inputs are checked and numbered in ``con`` exactly as for DuckDB
    (:func:`accord.linkage.model.load_inputs`), so both engines refuse the same input
    with the same words and number the rows alike.
    """
    s = settings or Settings()
    spark = session(s)
    db = SparkSql(spark, Path(tempfile.mkdtemp(prefix="accord-spark-", dir=scratch_root(s))))
    try:
        m.load_inputs(con, pool, register)
        for name in ("pool_in", "register_in"):
            db.put(name, spark.createDataFrame(con.table(name).to_arrow_table()))
        pairs.prepare(db, model.settings)
        db.create("pool_s", m.with_tf_sql("pool", "pool_f"))
        db.create("register_s", m.with_tf_sql("register", "register_f"))
        db.create("predictions", scoring_sql(model.settings, floor))
        factor = lookalike_factor(db, "register_k")
        for name in HANDED_BACK:
            con.register("_handed", db.arrow(f"SELECT * FROM {name}"))
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _handed")
            con.unregister("_handed")
    finally:
        db.close()
    return factor
