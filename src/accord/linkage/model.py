"""The linkage model: Splink 5 comparisons, blocking rules and unsupervised training.

One model per recipient register.  It compares family and given names (allowing for
names recorded in the other order, dropped or initialled middle names, transliteration
and typing errors), date of birth (allowing for day and month swapped, one of day,
month and year wrong, or unknown) and postcode.  Common names, dates and postcodes weigh
less than rare ones (term-frequency adjustment, with a floor so that a rare name cannot
by itself outweigh everything else).  Training needs no labels: the prior from
deterministic rules, ``u`` from random pairs and ``m`` by expectation maximisation, all
seeded.

The model's weights are evidence for one pair.  Whether a pair may be acted on without a
person also depends on what else is in the register (a rival record, other people with
the same name) and on how likely it is that the person has no record there at all: that
is :mod:`accord.linkage.risk`, applied to every pair after scoring.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from accord.errors import AccordError
from accord.linkage import features, u_sampling

# 2: no corroboration ceiling; one-edit levels for names, dates and postcodes; earlier
# addresses; a lower given-name level; a record begun before the person arrived.  Models
# of version 1 are retrained when next used.
MODEL_VERSION = 2

# A rare name makes agreement on it strong evidence, but only up to this point: a name
# seen once in ten thousand records counts as much as one seen once in ten million.
TF_MINIMUM_U = 1e-4

SPLINK_LOGGER = "splink"

# A register record's fields as SPEC.md defines them (what a match keeps of it).
REGISTER_FIELDS = ("record_id", "family_name", "given_names", "date_of_birth", "postcode", "since")


@dataclass(frozen=True)
class Level:
    key: str
    label: str
    sql: str
    tf_column: str | None = None
    null: bool = False
    tf_minimum_u: float = 0.0


@dataclass(frozen=True)
class ComparisonSpec:
    """One comparison: its output name, the feature shown in explanations, its levels."""

    name: str
    shown: str  # feature column whose values the explanation shows ("pool|register")
    levels: tuple[Level, ...]

    def splink_dict(self) -> dict[str, Any]:
        levels: list[dict[str, Any]] = []
        for lv in self.levels:
            d: dict[str, Any] = {"sql_condition": lv.sql, "label_for_charts": lv.label}
            if lv.null:
                d["is_null_level"] = True
            if lv.tf_column:
                d["tf_adjustment_column"] = lv.tf_column
                d["tf_adjustment_weight"] = 1.0
                if lv.tf_minimum_u:
                    d["tf_minimum_u_value"] = lv.tf_minimum_u
            levels.append(d)
        return {
            "output_column_name": self.name,
            "comparison_description": self.name.replace("_", " "),
            "comparison_levels": levels,
        }

    def gamma_of(self, key: str) -> int:
        """Splink's comparison vector value for a level: -1 for null, counting down."""
        counter = sum(1 for lv in self.levels if not lv.null) - 1
        for lv in self.levels:
            if lv.null:
                if lv.key == key:
                    return -1
                continue
            if lv.key == key:
                return counter
            counter -= 1
        raise KeyError(key)


# Names recorded the other way round: one side's family name is the other's given name(s)
# and its first given name the other's first family word.
SWAPPED = (
    "((fam_c_l = giv1_r OR fam_c_l = giv_c_r) AND giv1_l = fam1_r) "
    "OR ((fam_c_r = giv1_l OR fam_c_r = giv_c_l) AND giv1_r = fam1_l)"
)

# Names recorded the other way round with a spelling difference in one or both.
SWAPPED_CLOSE = (
    "jaro_winkler_similarity(fam_c_l, giv1_r) >= 0.9 "
    "AND jaro_winkler_similarity(giv1_l, fam_c_r) >= 0.9"
)

# One side's family name is the other's given name(s): a one-name person whose name one
# body recorded as a family name and the other as a given name, or half a swap.
FAMILY_IN_OTHER_FIELD = "fam_c_l = giv_c_r OR fam_c_r = giv_c_l"


def _swapped(tf_column: str) -> Level:
    """Names recorded the other way round, weighed by how common ``tf_column`` is."""
    return Level(
        "swapped",
        "family and given names recorded the other way round",
        SWAPPED,
        tf_column=tf_column,
        tf_minimum_u=TF_MINIMUM_U,
    )


# Family and given names recorded the other way round and misspelt: a level of both.
SWAPPED_CLOSE_LEVEL = Level(
    "swapped_close",
    "family and given names recorded the other way round, spelt slightly differently",
    SWAPPED_CLOSE,
)
# Every comparison's last level: whatever its earlier levels did not catch.
ELSE_LEVEL = Level("else", "different", "ELSE")

FAMILY = ComparisonSpec(
    "family_name",
    "fam",
    (
        Level(
            "null",
            "family name missing",
            f"(fam_c_l IS NULL OR fam_c_r IS NULL) AND NOT coalesce({FAMILY_IN_OTHER_FIELD}, "
            "false)",
            null=True,
        ),
        Level(
            "exact",
            "exact match",
            "fam_c_l = fam_c_r",
            tf_column="fam_c",
            tf_minimum_u=TF_MINIMUM_U,
        ),
        _swapped("fam_c"),
        SWAPPED_CLOSE_LEVEL,
        Level(
            "other_field",
            "the family name is recorded as a given name on the other side",
            FAMILY_IN_OTHER_FIELD,
        ),
        Level(
            "part",
            "one family name is part of the other (double-barrelled)",
            "contains(' ' || fam_l || ' ', ' ' || fam_r || ' ') "
            "OR contains(' ' || fam_r || ' ', ' ' || fam_l || ' ')",
        ),
        Level(
            "close",
            "spelt almost the same (Jaro-Winkler 0.92 or more)",
            "jaro_winkler_similarity(fam_c_l, fam_c_r) >= 0.92",
        ),
        Level(
            "one_edit",
            "one letter different, missing, added or two letters swapped",
            "damerau_levenshtein(fam_c_l, fam_c_r) <= 1",
        ),
        Level("sounds", "same consonant skeleton", "fam_sk_l = fam_sk_r"),
        Level(
            "similar",
            "spelt similarly (Jaro-Winkler 0.8 or more)",
            "jaro_winkler_similarity(fam_c_l, fam_c_r) >= 0.8",
        ),
        ELSE_LEVEL,
    ),
)

GIVEN = ComparisonSpec(
    "given_names",
    "giv",
    (
        Level("null", "given names missing", "giv_c_l IS NULL OR giv_c_r IS NULL", null=True),
        Level(
            "exact",
            "exact match",
            "giv_c_l = giv_c_r",
            tf_column="giv_c",
            tf_minimum_u=TF_MINIMUM_U,
        ),
        _swapped("giv1"),
        SWAPPED_CLOSE_LEVEL,
        Level(
            "first",
            "first given name matches (middle names dropped or differ)",
            "giv1_l = giv1_r",
            tf_column="giv1",
            tf_minimum_u=TF_MINIMUM_U,
        ),
        Level(
            "reordered",
            "the same given names in another order, or some of them",
            "giv_sorted_l = giv_sorted_r "
            "OR contains(' ' || giv_l || ' ', ' ' || giv_r || ' ') "
            "OR contains(' ' || giv_r || ' ', ' ' || giv_l || ' ')",
        ),
        Level(
            "close",
            "first given name spelt almost the same (Jaro-Winkler 0.9 or more)",
            "jaro_winkler_similarity(giv1_l, giv1_r) >= 0.9",
        ),
        Level(
            "one_edit",
            "first given name one letter different, missing, added or two letters swapped",
            "damerau_levenshtein(giv1_l, giv1_r) <= 1",
        ),
        Level(
            "sounds", "first given name has the same consonant skeleton", "giv1_sk_l = giv1_sk_r"
        ),
        Level(
            "similar",
            "first given name spelt similarly (Jaro-Winkler 0.8 or more)",
            "jaro_winkler_similarity(giv1_l, giv1_r) >= 0.8",
        ),
        Level(
            "other_field",
            "the first given name is recorded as the family name on the other side",
            "giv1_l = fam_c_r OR giv1_r = fam_c_l",
        ),
        Level(
            "initial",
            "an initial matches the other's first given name",
            "(length(giv1_l) = 1 OR length(giv1_r) = 1) AND left(giv1_l, 1) = left(giv1_r, 1)",
        ),
        ELSE_LEVEL,
    ),
)

DATE_OF_BIRTH = ComparisonSpec(
    "date_of_birth",
    "dob",
    (
        Level("null", "date of birth unknown", "dob_l IS NULL OR dob_r IS NULL", null=True),
        Level("exact", "exact match", "dob_l = dob_r", tf_column="dob"),
        Level("swapped", "day and month swapped", "dob_l = dob_sw_r"),
        Level(
            "one_slip",
            "one digit mistyped, or two neighbouring digits swapped",
            "damerau_levenshtein(dob_s_l, dob_s_r) <= 1",
        ),
        Level(
            "two_of_three",
            "two of day, month and year agree",
            "CAST(year(dob_l) = year(dob_r) AS INTEGER)"
            " + CAST(month(dob_l) = month(dob_r) AS INTEGER)"
            " + CAST(day(dob_l) = day(dob_r) AS INTEGER) >= 2",
        ),
        Level("year", "within a year", "abs(date_diff('day', dob_l, dob_r)) <= 366"),
        ELSE_LEVEL,
    ),
)

POSTCODE = ComparisonSpec(
    "postcode",
    "pc",
    (
        Level("null", "postcode unknown", "pc_l IS NULL OR pc_r IS NULL", null=True),
        Level("exact", "exact match", "pc_l = pc_r", tf_column="pc"),
        Level(
            "earlier",
            "an earlier address the source holds for the person",
            "list_contains(pc_hist_l, pc_r) OR list_contains(pc_hist_r, pc_l)",
        ),
        Level(
            "one_edit",
            "one character different, or two neighbouring characters swapped",
            "damerau_levenshtein(pc_l, pc_r) <= 1",
        ),
        Level("sector", "same postcode sector", "pc_sector_l = pc_sector_r"),
        Level(
            "district",
            "same district (a UK outward code, or the first half of another format)",
            "pc_district_l = pc_district_r",
        ),
        ELSE_LEVEL,
    ),
)

# A record whose relationship with the recipient began (``since``) well before the person
# first arrived in the country, as the source records it, is hardly theirs: a licence
# issued, or an account opened, before they came.  The margin allows for dates recorded
# loosely; a missing arrival or ``since`` is no evidence either way.
BEFORE_ARRIVAL = "since_r < arrived_l - INTERVAL 365 DAY OR since_l < arrived_r - INTERVAL 365 DAY"

ARRIVAL = ComparisonSpec(
    "began_before_arrival",
    "arrived|since",
    (
        Level(
            "null",
            "no arrival or start date to compare",
            "(arrived_l IS NULL OR since_r IS NULL) AND (arrived_r IS NULL OR since_l IS NULL)",
            null=True,
        ),
        Level(
            "before",
            "the record began more than a year before the person's first recorded arrival",
            BEFORE_ARRIVAL,
        ),
        Level("else", "the record began after the person's first recorded arrival", "ELSE"),
    ),
)

COMPARISONS = (FAMILY, GIVEN, DATE_OF_BIRTH, POSTCODE, ARRIVAL)

# DuckDB's damerau_levenshtein costs about ten times a jaro_winkler_similarity, and most
# pairs (random pairs for u, blocked pairs for EM and prediction) reach the one-edit
# levels only to fail them.  Each one-edit condition is therefore run behind a cheap test
# that every pair within one edit passes: lengths at most one apart, and the first or
# last ``k`` characters equal, unless the longer value has at most ``2k`` characters (an
# edit touches at most two neighbouring characters, so it cannot reach both ends of a
# longer value).  The test is in characters, so it is skipped for values that are not
# plain ASCII.  The stored model keeps the plain condition: the test changes no level.
ONE_EDIT_PREFIX = {"fam_c": 1, "giv1": 1, "pc": 2}


def _one_edit_guarded(column: str, k: int) -> tuple[str, str]:
    a, b = f"{column}_l", f"{column}_r"
    plain = f"damerau_levenshtein({a}, {b}) <= 1"
    ascii_only = f"strlen({a}) = length({a}) AND strlen({b}) = length({b})"
    near = (
        f"abs(length({a}) - length({b})) <= 1 AND (left({a}, {k}) = left({b}, {k}) "
        f"OR right({a}, {k}) = right({b}, {k}) OR greatest(length({a}), length({b})) <= {2 * k})"
    )
    return plain, f"(NOT ({ascii_only}) OR ({near})) AND {plain}"


def _one_slip_guarded() -> tuple[str, str]:
    """The date-of-birth slip (``dob_s``, ``YYYYMMDD``) behind a test on the date's parts.

    Both strings have eight digits when both years have four, and then one edit is one
    digit changed or two neighbouring digits swapped (an insertion needs a deletion too):
    at most two neighbouring positions differ.  Such a change inside the year leaves the
    month and day equal; one across the year and the month (positions 4 and 5) leaves the
    first three digits of the year and the day; any other leaves the year.  Random pairs
    often share a decade, which the character test lets through to ``damerau_levenshtein``;
    this test does not.  On five million random pairs (one thread) the level took 0.82 s
    behind the character test and takes 0.24 s behind this one (3.64 s unguarded).  Years
    outside 1000-9999 skip the test.  tests/linkage/test_linkage_training.py checks both tests
    against the plain condition on every one-edit variant of many values.
    """
    plain = "damerau_levenshtein(dob_s_l, dob_s_r) <= 1"
    four_digits = "year(dob_l) BETWEEN 1000 AND 9999 AND year(dob_r) BETWEEN 1000 AND 9999"
    near = (
        "year(dob_l) = year(dob_r) "
        "OR (month(dob_l) = month(dob_r) AND day(dob_l) = day(dob_r)) "
        "OR (year(dob_l) // 10 = year(dob_r) // 10 AND day(dob_l) = day(dob_r))"
    )
    return plain, f"(NOT ({four_digits}) OR {near}) AND {plain}"


GUARDED_SQL = dict(_one_edit_guarded(c, k) for c, k in ONE_EDIT_PREFIX.items())
GUARDED_SQL.update([_one_slip_guarded()])

# A name that is one word of another (``contains(' ' || a || ' ', ' ' || b || ' ')``) is
# also contained in it without the spaces, which is tested without making new strings.
_WORD_IN = re.compile(r"contains\(' ' \|\| (\w+) \|\| ' ', ' ' \|\| (\w+) \|\| ' '\)")


def _word_in_guarded(sql: str) -> str:
    return _WORD_IN.sub(lambda w: f"(contains({w[1]}, {w[2]}) AND {w[0]})", sql)


for _comparison, _key in ((FAMILY, "part"), (GIVEN, "reordered")):
    _plain = next(lv.sql for lv in _comparison.levels if lv.key == _key)
    GUARDED_SQL[_plain] = _word_in_guarded(_plain)
PLAIN_SQL = {guarded: plain for plain, guarded in GUARDED_SQL.items()}


def _replace_conditions(settings: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    for comp in settings["comparisons"]:
        for lv in comp["comparison_levels"]:
            lv["sql_condition"] = mapping.get(lv["sql_condition"], lv["sql_condition"])
    return settings


def guarded(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``settings`` whose one-edit levels run behind their cheap test (the same
    levels for every pair, reached sooner): what Splink is given to train and score."""
    return _replace_conditions(copy.deepcopy(settings), GUARDED_SQL)


def unguarded(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with each guarded condition back to its plain form (what is stored)."""
    return _replace_conditions(settings, PLAIN_SQL)


# Candidate pairs: each rule is an equi-join, so every rule is a hash join, and together
# they find the person despite a spelling, a swap, a typo or a missing value in any one
# field, or an older address.  None is on a name alone (common names would give millions
# of pairs) or a postcode alone (a block of flats).
PREDICTION_BLOCKING_RULES = (
    "l.fam_c = r.fam_c AND l.dob = r.dob",
    "l.giv1 = r.giv1 AND l.dob = r.dob",
    "l.fam_sk = r.fam_sk AND l.dob = r.dob",
    "l.fam_c = r.giv1 AND l.dob = r.dob",
    "l.giv1 = r.fam1 AND l.dob = r.dob",
    "l.fam_sk = r.fam_sk AND l.dob_sw = r.dob",
    "l.fam_c = r.fam_c AND l.giv1 = r.giv1 AND l.dob_ym = r.dob_ym",
    "l.fam_c = r.fam_c AND l.giv1 = r.giv1 AND l.dob_md = r.dob_md",
    "l.fam_c = r.fam_c AND l.giv1 = r.giv1 AND l.dob_yd = r.dob_yd",
    "l.dob IS NULL AND l.fam_c = r.fam_c AND l.giv1 = r.giv1",
    "r.dob IS NULL AND l.fam_c = r.fam_c AND l.giv1 = r.giv1",
    "l.fam_srt = r.fam_srt AND l.dob = r.dob",
    # A postcode (the current one or an earlier one, its characters in any order) with
    # one other field: a record whose name was mistyped or replaced, or whose date of
    # birth is wrong or missing.
    "l.fam_c = r.fam_c AND l.pc_srt = r.pc_srt",
    "l.fam_sk = r.fam_sk AND l.pc_srt = r.pc_srt",
    "l.fam_srt = r.fam_srt AND l.pc_srt = r.pc_srt",
    "l.giv1 = r.giv1 AND l.pc_srt = r.pc_srt",
    "l.fam_c = r.giv1 AND l.pc_srt = r.pc_srt",
    "l.giv1 = r.fam1 AND l.pc_srt = r.pc_srt",
    "l.dob = r.dob AND l.pc_srt = r.pc_srt",
    "l.dob = r.dob AND l.pc_district = r.pc_district",
)

# A pair agreeing on these is almost surely a match (used only to estimate the prior).
DETERMINISTIC_RULES = ("l.fam_c = r.fam_c AND l.giv1 = r.giv1 AND l.dob = r.dob AND l.pc = r.pc",)
DETERMINISTIC_RECALL = 0.7

# EM sessions: each fixes some fields by blocking on them and learns the others.
EM_BLOCKING_RULES = (
    "l.fam_c = r.fam_c AND l.giv1 = r.giv1",
    "l.dob = r.dob",
)
EM_RULE_WORDS = {
    EM_BLOCKING_RULES[0]: "a family name and first given name",
    EM_BLOCKING_RULES[1]: "a date of birth",
}
# Splink links the pool to the register by joining the two stacked together with
# themselves and then keeping only pairs across them (the pool's id sorts first): on a
# date of birth alone that makes every register record meet every other of its birthday
# (34 million pairs for a million records) to keep two million.  Stating the sides in the
# rule lets DuckDB drop the wrong side of each join before it joins: the same pairs, for a
# sixth of the work (benchmarks/linkage.py, training on a million-record register).
ACROSS_SIDES = "l.source_dataset = 'pool' AND r.source_dataset = 'register'"
EM_MAX_PAIRS = 2_000_000
U_MAX_PAIRS = 5_000_000
# Training reads at most this many register records, a random sample of a larger register
# (seeded, so the same register and seed give the same model).  What it estimates, the
# share of each level among matches (m) and among random pairs (u), is the same in a
# random sample of the register as in the whole, and EM and u see at most a few million
# pairs anyway; training on the whole register instead held every record's features in
# memory, about 0.9 GB more per million records (docs/sizing.md).  Linking always reads
# the whole register, with term frequencies from all of it.
TRAINING_MAX_REGISTER_ROWS = 2_000_000
U_MIN_PAIRS = 250_000

# EM and random sampling leave some levels with (almost) no observations, and a
# probability of zero would make one comparison outweigh everything else.  Each m and u
# is kept at or above a floor (then each comparison's levels are renormalised): a level
# never seen among matches still counts as strong evidence against, not as proof.
M_FLOOR = 1e-4
U_FLOOR = 1e-6

# DuckDB sums EM's expectations in parallel, in no fixed order, so the last bits of a
# parameter vary from run to run.  Parameters are kept to this many significant digits,
# which makes training with the same seed give the same model.
SIGNIFICANT_DIGITS = 9


def settings_dict() -> dict[str, Any]:
    """Splink settings for an untrained Accord model."""
    return {
        "link_type": "link_only",
        "unique_id_column_name": "uid",
        "comparisons": [c.splink_dict() for c in COMPARISONS],
        "blocking_rules_to_generate_predictions": list(PREDICTION_BLOCKING_RULES),
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "max_iterations": 25,
        "em_convergence": 0.0001,
    }


@dataclass
class TrainedModel:
    """A trained model for one register: Splink's settings with every parameter."""

    register: str
    settings: dict[str, Any]
    trained_at: dt.datetime
    training_rows: int
    seed: int
    version: int = MODEL_VERSION
    id: int | None = None
    register_sha256: str | None = None

    def document(self) -> dict[str, Any]:
        """What is stored in ``linkage_models.settings``."""
        return {
            "splink": self.settings,
            "accord": {
                "version": self.version,
                "seed": self.seed,
                "tf_minimum_u": TF_MINIMUM_U,
            },
        }


def smoothed(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with every m and u at or above its floor, renormalised per comparison.

    A level EM never saw among matches (its m at the floor) is never evidence *for* a
    match: its u is raised to its m if below, so its weight is at most zero.  Splink's
    random ``linker_uid`` is dropped: it names cache tables, not the model.
    """
    settings.pop("linker_uid", None)
    for comp in settings["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        unseen = [_significant(float(lv.get("m_probability") or 0.0)) < M_FLOOR for lv in levels]
        for key, floor in (("m_probability", M_FLOOR), ("u_probability", U_FLOOR)):
            values = [max(_significant(float(lv.get(key) or 0.0)), floor) for lv in levels]
            total = sum(values)
            for lv, v in zip(levels, values, strict=True):
                lv[key] = v / total
        for lv, never in zip(levels, unseen, strict=True):
            if never and lv["u_probability"] < lv["m_probability"]:
                lv["u_probability"] = lv["m_probability"]
    return settings


def _significant(x: float) -> float:
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}")


def prior_weight(settings: dict[str, Any]) -> float:
    p = float(settings["probability_two_random_records_match"])
    return math.log2(p / (1 - p))


def quiet_splink() -> None:
    logging.getLogger(SPLINK_LOGGER).setLevel(logging.ERROR)


def new_duckdb() -> duckdb.DuckDBPyConnection:
    """Linkage's DuckDB: in memory, spilling under the scratch directory (accord.workspace)."""
    from accord.workspace import spill_in_scratch

    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = false")
    spill_in_scratch(con)
    return con


def check_inputs(pool: pa.Table, register: pa.Table) -> None:
    need_pool = {"person_id", "family_name", "given_names", "date_of_birth", "postcode"}
    need_register = {"record_id", "family_name", "given_names", "date_of_birth", "postcode"}
    missing = need_pool - set(pool.column_names)
    if missing:
        raise AccordError(f"the pool lacks column(s) {', '.join(sorted(missing))}")
    missing = need_register - set(register.column_names)
    if missing:
        raise AccordError(f"the register lacks column(s) {', '.join(sorted(missing))}")


def tf_columns() -> list[str]:
    """Every column a level adjusts by term frequency, once each."""
    return list(dict.fromkeys(lv.tf_column for c in COMPARISONS for lv in c.levels if lv.tf_column))


def with_tf_sql(side: str, features_table: str) -> str:
    """SQL: a side's features (``pool`` or ``register``) with each value's register term
    frequency (tables ``tf_<column>``), as Splink's scoring expects them."""
    source = {"pool": "'pool'", "register": "'register'"}[side]
    cols = tf_columns()
    select = ", ".join(f"tf_{c}.tf_{c}" for c in cols)
    joins = " ".join(f"LEFT JOIN tf_{c} ON tf_{c}.{c} = f.{c}" for c in cols)
    return f"SELECT {source} AS source_dataset, f.*, {select} FROM {features_table} AS f {joins}"


def _dates(table: pa.Table, column: str) -> pa.ChunkedArray | pa.Array:
    if column not in table.column_names:
        return pa.nulls(table.num_rows, pa.date32())
    return table.column(column).cast(pa.date32())


def load_inputs(con: duckdb.DuckDBPyConnection, pool: pa.Table, register: pa.Table) -> None:
    """Register the two sides as ``pool_in`` and ``register_in`` (with row numbers
    ``rid``, the join keys of candidate pairs), refusing missing or repeated ids."""
    check_inputs(pool, register)
    # ``postcodes`` (optional): every postcode the source holds for the person, a list.
    # Optional: ``postcodes`` (every postcode the source holds for the person, a list) and
    # ``arrival_date`` on the pool; ``since`` on the register.  A side without one gets
    # it empty, as Splink compares like with like.
    pool_in = pool.select(["person_id", "family_name", "given_names", "date_of_birth", "postcode"])
    if features.HISTORY_COLUMN in pool.column_names:
        pool_in = pool_in.append_column(
            features.HISTORY_COLUMN, pool.column(features.HISTORY_COLUMN)
        )
    register_in = register.select(
        ["record_id", "family_name", "given_names", "date_of_birth", "postcode"]
    )
    pool_in = pool_in.append_column("arrived", _dates(pool, "arrival_date"))
    pool_in = pool_in.append_column("since", pa.nulls(pool.num_rows, pa.date32()))
    register_in = register_in.append_column("arrived", pa.nulls(register.num_rows, pa.date32()))
    register_in = register_in.append_column("since", _dates(register, "since"))
    con.register("pool_in", pool_in.append_column("rid", row_numbers(pool_in.num_rows)))
    con.register("register_in", register_in.append_column("rid", row_numbers(register_in.num_rows)))
    for table, what, id_name in (
        ("pool_in", "the pool", "person_id"),
        ("register_in", "the register", "record_id"),
    ):
        rows = con.execute(
            f"SELECT count(*) FILTER (WHERE {id_name} IS NULL), "
            f"count({id_name}) - count(DISTINCT {id_name}) FROM {table}"
        ).fetchall()
        nulls, repeats = rows[0]
        if nulls:
            raise AccordError(f"{what} has {nulls} row(s) without a {id_name}")
        if repeats:
            example = con.execute(
                f"SELECT {id_name} FROM {table} WHERE {id_name} IS NOT NULL "
                f"GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 1"
            ).fetchall()[0][0]
            raise AccordError(f"{what} holds {id_name} {example} more than once")
    try:
        con.execute("SELECT count(CAST(date_of_birth AS DATE)) FROM pool_in").fetchall()
        con.execute("SELECT count(CAST(date_of_birth AS DATE)) FROM register_in").fetchall()
    except duckdb.ConversionException as exc:
        raise AccordError(f"a date of birth is not a date: {exc}") from exc


def prepare(
    con: duckdb.DuckDBPyConnection, pool: pa.Table, register: pa.Table, blocking_keys: bool = True
) -> tuple[int, int]:
    """Both sides as feature tables ``pool_f`` and ``register_f``, with the register's
    term frequencies (``tf_<column>``): what training and Splink's own linker use.
    Without ``blocking_keys`` the columns only prediction rules use are left out
    (:func:`features.add_features`): training blocks on none of them."""
    load_inputs(con, pool, register)
    features.build_names(con, ["pool_in", "register_in"])
    features.add_features(con, "pool_in", "person_id", "pool_f", blocking_keys=blocking_keys)
    features.add_features(
        con, "register_in", "record_id", "register_f", blocking_keys=blocking_keys
    )
    features.add_term_frequencies(con, "pool_in", "register_f", "pool_f")
    features.drop_names(con)
    return pool.num_rows, register.num_rows


def row_numbers(n: int) -> pa.Array:
    """1, 2, ... n: the ``rid`` of each row, in the table's order."""
    return pa.array(np.arange(1, n + 1, dtype=np.int64))


def linker_for(con: duckdb.DuckDBPyConnection, settings: dict[str, Any]) -> Any:
    """A Splink linker over the prepared tables, with Accord's term frequencies."""
    from splink import DuckDBAPI, Linker

    quiet_splink()
    db_api = DuckDBAPI(connection=con)
    pool_df = db_api.register("pool_f", dataset_display_name="pool")
    reg_df = db_api.register("register_f", dataset_display_name="register")
    linker = Linker([pool_df, reg_df], settings, log_level=None)
    for col in tf_columns():
        tf = db_api.register(f"tf_{col}", table_name=f"tf_lookup_{col}")
        linker.table_management.register_term_frequency_lookup(tf, col)
    return linker


LAMBDA_RECORD = "_probability_two_random_records_match"


def _clamp_records(records: list[dict[str, Any]], floor: float) -> None:
    for r in records:
        if r.get("output_column_name") == LAMBDA_RECORD:
            continue
        for key in ("m_probability", "u_probability"):
            value = r.get(key)
            if isinstance(value, float) and value < floor:
                r[key] = floor


@contextlib.contextmanager
def _em_tolerates_unreached_levels() -> Iterator[None]:
    """EM may give a level exactly 0.0 (no pair in the block reaches it), which Splink 5
    refuses with a ValueError (``below the minimum allowed value``) instead of training.

    Such a value is set to Splink's own minimum before Splink sees it; :func:`smoothed`
    then lifts it to :data:`M_FLOOR` like any level EM leaves nearly empty.  Values
    Splink accepts are untouched.  Splink has no setting for this, so its maximisation
    step is wrapped for the duration of training.
    """
    from splink.internals import expectation_maximisation as em
    from splink.internals.comparison_level import M_U_CLAMP_MIN
    from splink.internals.settings import CoreModelSettings

    original = em.maximisation_step

    def step(
        training_fixed_probabilities: set[str],
        core_model_settings: CoreModelSettings,
        param_records: list[dict[str, Any]],
    ) -> CoreModelSettings:
        _clamp_records(param_records, M_U_CLAMP_MIN)
        return original(training_fixed_probabilities, core_model_settings, param_records)

    em.maximisation_step = step
    try:
        yield
    finally:
        em.maximisation_step = original


def _for_training(settings: dict[str, Any]) -> dict[str, Any]:
    """What Splink trains on: the one-edit levels behind their cheap test (:func:`guarded`),
    no prediction rules, which training does not use but whose columns Splink would carry
    through every query, and no columns kept beside the comparison vectors (the saved
    model gets the rules and settings of :func:`settings_dict` back)."""
    out = guarded(settings)
    out["blocking_rules_to_generate_predictions"] = []
    # Nor are the compared values or the weights of each pair kept in EM's tables: EM
    # reads the comparison vectors only.
    out["retain_matching_columns"] = False
    out["retain_intermediate_calculation_columns"] = False
    return out


def scoring_sql(
    settings: dict[str, Any],
    floor: float,
    dialect: str = "duckdb",
    condition: Callable[[str], str] | None = None,
) -> str:
    """Splink's own SQL (its ``dialect``) for the comparison vectors and match weights of
    the pairs in table ``blocked`` (row ids ``join_key_l``/``join_key_r``), joined to
    ``pool_s`` and ``register_s`` (:func:`with_tf_sql`), at or above ``floor``.

    The comparisons, their levels and every parameter come from the trained settings, the
    one-edit levels behind their cheap test (:func:`guarded`), each level's condition
    rewritten by ``condition`` when given (Spark's names for DuckDB's functions).  The
    pairs are given, so no prediction rule is needed."""
    from splink import SettingsCreator
    from splink.internals.comparison_vector_values import (
        compute_comparison_vector_values_from_id_pairs_sqls,
    )
    from splink.internals.input_column import InputColumn
    from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings

    scoring = guarded(settings)
    scoring["blocking_rules_to_generate_predictions"] = []
    if condition is not None:
        for comp in scoring["comparisons"]:
            for lv in comp["comparison_levels"]:
                lv["sql_condition"] = condition(lv["sql_condition"])
    s = SettingsCreator.from_path_or_dict(scoring).get_settings(dialect)
    sqls = compute_comparison_vector_values_from_id_pairs_sqls(
        s._columns_to_select_for_blocking,
        s._columns_to_select_for_comparison_vector_values,
        input_tablename_l="pool_s",
        input_tablename_r="register_s",
        source_dataset_input_column=None,
        unique_id_input_column=InputColumn("rid", sqlglot_dialect_str=dialect),
    )
    sqls += predict_from_comparison_vectors_sqls_using_settings(
        s, threshold_match_probability=floor if floor > 0 else None
    )
    ctes = ",\n".join(f"{q['output_table_name']} AS ({q['sql']})" for q in sqls[:-1])
    ctes = ctes.replace("__splink__blocked_id_pairs", "blocked")
    return f"WITH {ctes}\n{sqls[-1]['sql']}"


def training_sample(register: pa.Table, seed: int) -> pa.Table:
    """The register records training reads: all of them, or, past
    :data:`TRAINING_MAX_REGISTER_ROWS`, that many drawn at random for ``seed``, in the
    register's order."""
    n = register.num_rows
    if n <= TRAINING_MAX_REGISTER_ROWS:
        return register
    rows = np.random.default_rng(seed).choice(n, TRAINING_MAX_REGISTER_ROWS, replace=False)
    rows.sort()
    return register.take(pa.array(rows))


def train(register_name: str, pool: pa.Table, register: pa.Table, seed: int = 1) -> TrainedModel:
    """Train a model for ``register_name`` without labels, reproducibly for a seed.

    The prior from pairs that agree exactly on everything (Splink's deterministic-rule
    estimate; when there are none, as if there were one), ``u`` by random sampling,
    ``m`` by expectation maximisation in one session per rule of
    :data:`EM_BLOCKING_RULES`; on the register's records, or a random sample of a large
    register's (:func:`training_sample`).
    """
    from splink.internals.exceptions import EMTrainingException

    register = training_sample(register, seed)
    con = new_duckdb()
    try:
        n_pool, n_reg = prepare(con, pool, register, blocking_keys=False)
        if n_pool == 0 or n_reg == 0:
            raise AccordError(
                f"cannot train a linkage model for {register_name}: "
                f"{'the pool' if n_pool == 0 else 'the register'} is empty"
            )
        linker = linker_for(con, _for_training(settings_dict()))
        linker.training.estimate_probability_two_random_records_match(
            list(DETERMINISTIC_RULES), recall=DETERMINISTIC_RECALL
        )
        settings = linker.misc.save_model_to_json()
        if settings["probability_two_random_records_match"] <= 0:
            settings["probability_two_random_records_match"] = 1.0 / (
                DETERMINISTIC_RECALL * n_pool * n_reg
            )
            linker = linker_for(con, settings)
        training = linker.training
        u_pairs = min(U_MAX_PAIRS, max(U_MIN_PAIRS, 20 * (n_pool + n_reg)), n_pool * n_reg)
        u_sampling.estimate_u(linker, max_pairs=float(u_pairs), seed=seed)
        for rule in EM_BLOCKING_RULES:
            try:
                with _em_tolerates_unreached_levels():
                    training.estimate_parameters_using_expectation_maximisation(
                        f"{rule} AND {ACROSS_SIDES}", max_pairs=EM_MAX_PAIRS
                    )
            except EMTrainingException as exc:
                raise AccordError(
                    f"cannot train a linkage model for {register_name}: no pool member and "
                    f"register record share {EM_RULE_WORDS[rule]}, so there is nothing to "
                    "learn what a match looks like from; train on a larger pool or register"
                ) from exc
        settings = linker.misc.save_model_to_json()
        settings["blocking_rules_to_generate_predictions"] = [
            {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in PREDICTION_BLOCKING_RULES
        ]
        settings["retain_matching_columns"] = True
        settings["retain_intermediate_calculation_columns"] = True
        settings = smoothed(unguarded(settings))
    finally:
        con.close()
    return TrainedModel(
        register=register_name,
        settings=settings,
        trained_at=dt.datetime.now(dt.UTC),
        training_rows=n_pool + n_reg,
        seed=seed,
    )
