"""Spark as a second linkage engine (issue 21): the same features, pairs and decisions.

The Spark session starts once for the whole file (``local[1]``, as in CI).  Skipped only
where Java is missing; ``./dev test`` installs it (scripts/test-prerequisites).
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from accord import formats
from accord.config import Settings
from accord.errors import AccordError
from accord.linkage import ambiguity_flags, features, link, train
from accord.linkage import evaluate as ev
from accord.linkage import model as m
from accord.linkage.engine import engine_for
from accord.synth import Scenario, synthesise

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="Java is not installed (scripts/test-prerequisites installs openjdk-17-jre-headless)",
)

spark_linkage = pytest.importorskip("accord.linkage.spark", reason="pyspark is not installed")

AS_OF = dt.date(2026, 1, 15)
PEOPLE = 1_000
REGISTER = "bank"
DISCLOSE_AT, REVIEW_FROM = 0.999, 0.5


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings(spark_master="local[1]", scratch_dir=tmp_path_factory.mktemp("spark"))
    return spark_linkage.session(settings)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return synthesise(tmp_path_factory.mktemp("spark-linkage") / "s", PEOPLE, 11, AS_OF)


@pytest.fixture(scope="module")
def sides(scenario: Scenario) -> tuple[pa.Table, pa.Table]:
    pool = ev.load_scenario_pool(scenario.out)
    return pool, formats.load(scenario.registers[REGISTER], "register")


@pytest.fixture(scope="module")
def model(sides: tuple[pa.Table, pa.Table]) -> m.TrainedModel:
    return train(REGISTER, *sides, seed=1)


@pytest.fixture(scope="module")
def linked(
    spark: Any, model: m.TrainedModel, sides: tuple[pa.Table, pa.Table]
) -> tuple[pa.Table, pa.Table]:
    pool, register = sides
    return (
        link(model, pool, register, 0.01, engine="duckdb"),
        link(model, pool, register, 0.01, engine="spark"),
    )


def _names() -> list[str]:
    """A name around every code point of the Basic Multilingual Plane (a letter either
    side, so that a removed mark joins them and anything else parts them), every
    hundredth code point above it, and whole names in other scripts and spellings."""
    points = [*range(1, 0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 100)]
    return [f"Ab{chr(cp)}cd" for cp in points] + [
        "Мельник", "ОЛЕКСАНДР", "Щербак-Юрченко", "Γεωργίου", "ΣΑΣ", "محمد", "عبد الله",
        "Nguyễn", "Nguye\u0302\u0303n", "O'Brien", "D\u2019Arcy", "Campbell-Lewis", "Øster",
        "Łukasz", "STRAßE", "İSTANBUL", "Ærø", "  mary   ann ", "", "'", "Żółć", "Dvořák",
    ]  # fmt: skip


def test_names_normalise_alike_on_both_engines(spark: Any) -> None:
    names = pa.table({"raw": pa.array(_names(), pa.string())})
    sql = "SELECT raw, {n} AS n, {sk} AS sk FROM names"
    con = duckdb.connect()
    con.register("names", names)
    duck = con.sql(
        sql.format(n=features.normalised_name("raw"), sk=features.skeleton("raw"))
    ).to_arrow_table()
    spark.createDataFrame(names).createOrReplaceTempView("names")
    on_spark = spark.sql(
        sql.format(
            n=features.normalised_name("raw", features.SPARK),
            sk=features.skeleton("raw", features.SPARK),
        )
    ).toArrow()
    con.register("duck", duck)
    con.register("on_spark", on_spark)
    differ = con.sql(
        "SELECT d.raw, d.n, s.n, d.sk, s.sk FROM duck AS d JOIN on_spark AS s USING (raw) "
        "WHERE d.n IS DISTINCT FROM s.n OR d.sk IS DISTINCT FROM s.sk"
    ).fetchall()
    assert con.sql("SELECT count(*) FROM on_spark").fetchall()[0][0] == names.num_rows
    assert differ == []
    # And the table really does the work: accents, transliteration, marks, apostrophes.
    found = dict(con.sql("SELECT raw, n FROM on_spark").fetchall())
    assert found["Мельник"] == "melnyk" and found["Nguye\u0302\u0303n"] == "nguyen"
    assert found["D\u2019Arcy"] == "darcy" and found["Ab\u0301cd"] == "abcd"
    assert found["Γεωργίου"] == "georgioy" and found["Ab\u00e9cd"] == "abecd"


def _feature_tables(con_or_sql: Any) -> None:
    features.build_names(con_or_sql, ["pool_in", "register_in"])
    features.add_features(con_or_sql, "pool_in", "person_id", "pool_f")
    features.add_features(con_or_sql, "register_in", "record_id", "register_f")


def test_every_feature_is_the_same_on_spark(
    spark: Any, sides: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    pool, register = sides
    con = m.new_duckdb()
    m.load_inputs(con, pool, register)
    _feature_tables(con)
    db = spark_linkage.SparkSql(spark, tmp_path)
    try:
        for name in ("pool_in", "register_in"):
            db.put(name, spark.createDataFrame(con.table(name).to_arrow_table()))
        _feature_tables(db)
        # (The term frequencies are checked through the weights of the linked pairs.)
        for table in ("pool_f", "register_f"):
            con.register("s", db.arrow(f"SELECT * FROM {table}"))
            columns = [c for c in con.table(table).columns if c != "pc_hist"]
            listed = ", ".join(columns)
            only_duck = con.sql(f"SELECT {listed} FROM {table} EXCEPT ALL SELECT {listed} FROM s")
            only_spark = con.sql(f"SELECT {listed} FROM s EXCEPT ALL SELECT {listed} FROM {table}")
            assert only_duck.fetchall() == [] and only_spark.fetchall() == [], table
            if "pc_hist" in con.table(table).columns:  # a set: order is no part of it
                assert con.sql(
                    f"SELECT count(*) FROM {table} AS d JOIN s USING (rid) "
                    "WHERE list_sort(d.pc_hist) IS DISTINCT FROM list_sort(s.pc_hist)"
                ).fetchall() == [(0,)]
            con.unregister("s")
    finally:
        db.close()
        con.close()


def test_spark_links_to_the_same_pairs_levels_and_decisions_as_duckdb(
    linked: tuple[pa.Table, pa.Table],
) -> None:
    duck, on_spark = linked
    assert duck.schema == on_spark.schema
    assert duck.num_rows > 300
    con = duckdb.connect()
    con.register("d", duck)
    con.register("s", on_spark)
    # The same candidate pairs, each with the same register record as matched and the
    # same level of every comparison (one Jaro-Winkler on both engines: DuckDB's).
    assert con.sql(
        "SELECT count(*) FROM d FULL JOIN s USING (person_id, record_id) "
        "WHERE d.person_id IS NULL OR s.person_id IS NULL OR d.record IS DISTINCT FROM s.record "
        "OR d.pattern IS DISTINCT FROM s.pattern OR d.rank_for_person <> s.rank_for_person"
    ).fetchall() == [(0,)]
    # The same weights and chances but for the last bits (Splink's Spark SQL takes its
    # logarithms otherwise than DuckDB's).
    gaps = con.sql(
        "SELECT max(abs(d.pair_weight - s.pair_weight)), max(abs(d.match_weight - s.match_weight)),"
        " max(abs(d.match_probability - s.match_probability)) "
        "FROM d JOIN s USING (person_id, record_id)"
    ).fetchall()[0]
    assert max(gaps) < 1e-9, gaps
    # And so the same decision for every pair at an agreement's thresholds.
    decided = {
        engine: ambiguity_flags(table, disclose_at=DISCLOSE_AT, review_from=REVIEW_FROM)
        for engine, table in (("duckdb", duck), ("spark", on_spark))
    }
    con.register("fd", decided["duckdb"])
    con.register("fs", decided["spark"])
    changed = con.sql(
        "SELECT fd.person_id, fd.record_id, fd.decision, fs.decision FROM fd "
        "JOIN fs USING (person_id, record_id) WHERE fd.decision <> fs.decision"
    ).fetchall()
    assert changed == []
    counts = dict(con.sql("SELECT decision, count(*) FROM fd GROUP BY 1").fetchall())
    assert counts.get("automatic", 0) > 0 and counts.get("review", 0) > 0


def _jw_duckdb(a: str, b: str) -> float:
    found = duckdb.sql("SELECT jaro_winkler_similarity(?, ?)", params=[a, b]).fetchall()
    return float(found[0][0])


def _jw(spark: Any, a: str, b: str) -> float:
    found = spark.sql(f"SELECT {spark_linkage.JW_FUNCTION}(?, ?) AS v", args=[a, b]).collect()
    return float(found[0].v)


def _words(n: int) -> list[str]:
    """``n`` made-up names and as many with two neighbouring letters swapped."""
    rng = random.Random(7)
    words = ["".join(rng.choice("abdehilmnorsuy") for _ in range(rng.randint(1, 12)))
             for _ in range(n)]  # fmt: skip
    swapped = []
    for w in words:
        i = rng.randrange(max(len(w) - 1, 1))
        swapped.append(w[:i] + w[i + 1 : i + 2] + w[i : i + 1] + w[i + 2 :])
    return words + swapped


def test_duckdbs_jaro_winkler_runs_on_spark_to_the_last_bit(spark: Any) -> None:
    words = _words(60)
    pairs = sorted({(a, b) for a in words for b in words} | {
        ("yousufzai", "yousafzai"), ("bcoruebrhyr", "bu"), ("deshnmueh", "dsehnmueh"),
        ("martha", "marhta"), ("a", "a"), ("a", "b"), ("ab", "ba"), ("", "a"), ("x" * 70, "x"),
        ("abcdefghijklmnopqrstuvwxyz", "zyxwvutsrqponmlkjihgfedcba"),
    })  # fmt: skip
    table = pa.table({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]})
    con = duckdb.connect()
    con.register("jw", table)
    duck = con.sql("SELECT a, b, jaro_winkler_similarity(a, b) AS v FROM jw").to_arrow_table()
    spark.createDataFrame(table).createOrReplaceTempView("jw")
    pinned = spark.sql(
        f"SELECT a, b, {spark_linkage.duckdb_jaro_winkler_sql('a', 'b')} AS v, "
        f"{spark_linkage.JW_FUNCTION}(a, b) AS jar FROM jw"
    ).toArrow()
    con.register("duck", duck)
    con.register("pinned", pinned)
    compared = con.sql(
        "SELECT count(*), count(*) FILTER (WHERE d.v IS DISTINCT FROM p.v), "
        "count(*) FILTER (WHERE d.v <> p.jar) "
        "FROM duck AS d JOIN pinned AS p USING (a, b)"
    ).fetchall()[0]
    total, differ, jar_differs = compared
    assert total == len(pairs) and differ == 0
    # Splink's own function is not DuckDB's: it differs on pairs with transpositions.
    assert jar_differs > 0


def test_the_jaro_winkler_difference_is_measured(spark: Any) -> None:
    # Splink's jar counts half transpositions (t / 2 = 1.5); DuckDB (rapidfuzz) rounds
    # them down (1), so DuckDB scores these spellings higher.
    assert round(_jw_duckdb("yousufzai", "yousafzai"), 4) == 0.9306
    assert round(_jw(spark, "yousufzai", "yousafzai"), 4) == 0.9181
    # Without transpositions the two agree.
    assert _jw(spark, "martha", "marhta") == pytest.approx(_jw_duckdb("martha", "marhta"))
    assert _jw(spark, "dixon", "dicksonx") == pytest.approx(_jw_duckdb("dixon", "dicksonx"))


def test_the_engine_is_chosen_per_register(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(linkage_engines={"bank": "spark", "*": "duckdb"})
    assert engine_for("bank", settings) == "spark"
    assert engine_for("dvla", settings) == "duckdb"
    assert engine_for("hmrc", Settings()) == "duckdb"
    assert engine_for("dvla", Settings(linkage_engines={"*": "Spark"})) == "spark"
    with pytest.raises(AccordError, match="ACCORD_LINKAGE_ENGINES names engine 'polars'"):
        engine_for("bank", Settings(linkage_engines={"bank": "polars"}))
    monkeypatch.setenv("ACCORD_LINKAGE_ENGINES", '{"bank": "spark"}')
    assert engine_for("bank") == "spark"
    monkeypatch.setenv("PATH", "")
    with pytest.raises(AccordError, match="needs Java"):
        engine_for("bank")
