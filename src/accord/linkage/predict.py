"""Candidate matches between the pool and a register, each with its explanation.

The model's blocking rules find the candidate pairs (one hash join each); Splink's own
SQL scores them with the trained parameters; everything after that is one DuckDB query
over all pairs: the name-frequency correction and the chance of the wrong person
(:mod:`accord.linkage.risk`), the explanation (Splink's waterfall as JSON), each
person's and each record's rival candidates, and the register record as matched.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from accord.errors import AccordError
from accord.linkage import model as m
from accord.linkage import pairs, risk
from accord.linkage.engine import SPARK, engine_for

# Rival candidates are looked for down to this probability even when the caller asks
# for fewer pairs: a rival the gate never sees cannot make a match ambiguous.
RIVAL_FLOOR = 0.01

OUTPUT_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("record_id", pa.string()),
        ("match_probability", pa.float64()),
        ("match_weight", pa.float64()),
        ("explanation", pa.string()),
        ("record", pa.string()),
        ("since", pa.date32()),
        ("rank_for_person", pa.int64()),
        ("second_for_person", pa.float64()),
        ("second_for_record", pa.float64()),
        ("rival_gap", pa.float64()),
        ("name_others", pa.int64()),
        ("wrong_person", pa.float64()),
        ("pair_weight", pa.float64()),
        ("pair_probability", pa.float64()),
        ("coverage", pa.float64()),
        ("pattern", pa.string()),
    ]
)

# The register fields a match keeps (SPEC.md register columns; nothing else).
RECORD_FIELDS = m.REGISTER_FIELDS


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _probability(weight: str) -> str:
    return (
        f"CASE WHEN ({weight}) >= 0 THEN 1.0 / (1.0 + pow(2.0, -({weight}))) "
        f"ELSE pow(2.0, ({weight})) / (1.0 + pow(2.0, ({weight}))) END"
    )


def _levels(settings: dict[str, Any]) -> dict[str, list[tuple[int, str]]]:
    """Each comparison's levels as (comparison vector value, label), as Splink numbers them."""
    out: dict[str, list[tuple[int, str]]] = {}
    for comp in settings["comparisons"]:
        levels = comp["comparison_levels"]
        counter = sum(1 for lv in levels if not lv.get("is_null_level")) - 1
        numbered: list[tuple[int, str]] = []
        for lv in levels:
            label = str(lv.get("label_for_charts") or lv["sql_condition"])
            if lv.get("is_null_level"):
                numbered.append((-1, label))
            else:
                numbered.append((counter, label))
                counter -= 1
        out[comp["output_column_name"]] = numbered
    return out


def _has_tf(settings: dict[str, Any], comparison: str) -> bool:
    for comp in settings["comparisons"]:
        if comp["output_column_name"] == comparison:
            return any(lv.get("tf_adjustment_column") for lv in comp["comparison_levels"])
    return False


def _json(value: str) -> str:
    """SQL: ``value`` as JSON text, ``null`` when it is NULL (``to_json`` gives NULL)."""
    return f"coalesce(to_json({value}), 'null')"


def _entry(comparison: str, level: str, weight: str, pool: str, register: str) -> str:
    """SQL: one step of the waterfall as a JSON object, the text ``to_json`` would give
    the struct of these five fields.  It is written out rather than built as a list of
    structs and serialised, which took half of the final query's time."""
    return (
        f"""'{{"comparison":' || {_json(comparison)} || ',"level":' || {_json(level)} """
        f"""|| ',"match_weight":' || {_json(f"CAST({weight} AS DOUBLE)")} """
        f"""|| ',"value_pool":' || {_json(pool)} """
        f"""|| ',"value_register":' || {_json(register)} || '}}'"""
    )


def _explanation_sql(model: m.TrainedModel) -> str:
    """SQL for the waterfall of one pair, a JSON list: prior, each comparison (and its
    term-frequency adjustment), the name-frequency correction when it applied, and what
    the other candidates and the chance of no record take away or add; the weights sum
    to the pair's match weight, whose probability is the chance the record is the
    person's."""
    settings = model.settings
    none = "CAST(NULL AS VARCHAR)"
    entries = [
        _entry("'prior'", "'starting match weight'", repr(m.prior_weight(settings)), none, none)
    ]
    shown = {c.name: c.shown for c in m.COMPARISONS}
    for name, levels in _levels(settings).items():
        cases = " ".join(f"WHEN {g} THEN {_sql_str(label)}" for g, label in levels)
        col = shown.get(name)
        # "left|right": the comparison sets one side's value against another's.
        left, right = col.split("|") if col and "|" in col else (col, col)
        value_l = f"CAST({left}_l AS VARCHAR)" if left else none
        value_r = f"CAST({right}_r AS VARCHAR)" if right else none
        level = f"CASE gamma_{name} {cases} END"
        entries.append(_entry(_sql_str(name), level, f"mw_{name}", value_l, value_r))
        if _has_tf(settings, name):
            entries.append(
                _entry(
                    _sql_str("tf_" + name),
                    "'term frequency adjustment'",
                    f"mw_tf_adj_{name}",
                    value_l,
                    value_r,
                )
            )
    # Each correction is shown only when it took something away.
    for adjustment, comparison, label, pool in (
        ("name_adjustment", "name_frequency", risk.NAME_FREQUENCY_LABEL,
         "CAST(name_others AS VARCHAR)"),
        ("swapped_adjustment", "other_way_round", risk.SWAPPED_LABEL, none),
        ("heaped_date_adjustment", "heaped_date", risk.HEAPED_DATE_LABEL, none),
        ("lookalike_adjustment", "lookalikes", risk.LOOKALIKE_LABEL, none),
    ):  # fmt: skip
        shown_entry = _entry(_sql_str(comparison), _sql_str(label), adjustment, pool, none)
        entries.append(f"CASE WHEN {adjustment} < 0 THEN {shown_entry} END")
    entries.append(
        _entry("'candidates'", _sql_str(risk.CONTEXT_LABEL), "context_weight", none, none)
    )
    # concat_ws skips the NULLs of the corrections not shown.
    return f"'[' || concat_ws(',', {', '.join(entries)}) || ']'"


def pattern_sql() -> str:
    """SQL: a pair's agreement pattern, the level it reached in each comparison by key
    (``family_name=exact,given_names=first,date_of_birth=exact,postcode=else``): what
    reviewers' labels are counted by (``accord link evaluate --labels``)."""
    parts = []
    for c in m.COMPARISONS:
        cases = " ".join(f"WHEN {c.gamma_of(lv.key)} THEN '{lv.key}'" for lv in c.levels)
        parts.append(f"'{c.name}=' || CASE gamma_{c.name} {cases} END")
    return " || ',' || ".join(parts)


def link(
    model: m.TrainedModel,
    pool: pa.Table,
    register: pa.Table,
    min_probability: float,
    engine: str | None = None,
) -> pa.Table:
    """Every candidate pair at or above ``min_probability``, best first per person.

    ``second_for_person`` is the best probability among the person's *other* candidate
    records, leaving out records that duplicate this one (the register holding the same
    person twice: same normalised family name, first given name, date of birth and
    postcode); ``second_for_record`` the best among other pool members for the same
    record.  Both are null when there is no rival at or above :data:`RIVAL_FLOOR`.
    ``match_probability`` is the chance that the record is the person's, all candidates
    and the chance that the person holds no record here considered, and
    ``wrong_person`` one minus it (computed apart, so that a tiny chance keeps its
    digits); ``match_weight`` its log-odds, the sum of the explanation's weights.
    ``pair_weight`` is the evidence of the two records alone (Splink's weight, with the
    name-frequency and lookalike corrections); ``pair_probability`` the probability of
    the comparison alone (Splink's, with the name-frequency correction only), which is
    what can make a pair worth a person's look however crowded the register is; a pair is
    returned when either probability reaches ``min_probability``.
    ``rival_gap`` is how many bits of the pair weight this pair is ahead of
    its strongest rival (either kind), and ``coverage`` the lower bound of the share of
    the pool whose record is among the candidates (see :mod:`accord.linkage.risk`).

    ``engine`` scores the pairs: ``duckdb`` here, or ``spark`` (:mod:`accord.linkage.spark`);
    unset, the one the settings name for the model's register (:mod:`accord.linkage.engine`).
    Everything after the scores is this module's DuckDB SQL on either.
    """
    if not 0.0 <= min_probability <= 1.0:
        raise AccordError(f"minimum probability {min_probability} is not between 0 and 1")
    chosen = engine or engine_for(model.register)
    con = m.new_duckdb()
    try:
        floor = min(min_probability, RIVAL_FLOOR)
        if chosen == SPARK:
            from accord.linkage import spark

            factor = spark.score(con, model, pool, register, floor)
        else:
            m.load_inputs(con, pool, register)
            pairs.prepare(con, model.settings)
            con.execute(f"CREATE TABLE pool_s AS {m.with_tf_sql('pool', 'pool_f')}")
            con.execute(f"CREATE TABLE register_s AS {m.with_tf_sql('register', 'register_f')}")
            con.execute(f"CREATE TABLE predictions AS {m.scoring_sql(model.settings, floor)}")
            factor = risk.lookalike_factor(con, "register_k")
        if "since" not in register.column_names:
            register = register.append_column("since", pa.nulls(register.num_rows, pa.date32()))
        raw = register.select(list(RECORD_FIELDS))
        # Only the records some rule found (``rid`` is the row number, from 1).
        found = (
            con.sql("SELECT rid FROM blocked_records ORDER BY rid")
            .to_arrow_table()
            .column("rid")
            .combine_chunks()
        )
        kept = raw.take(pc.subtract(found, 1)).append_column("rid", found)
        con.register("register_raw", kept)
        con.execute(
            f"""CREATE TABLE probs AS
            WITH adjusted AS (
                SELECT uid_l AS person_id, uid_r AS record_id, p.*, n.name_others,
                       n.register_size, n.family_n, n.family_jan1, n.given_n, n.given_jan1,
                       n.jan1_share,
                       {risk.name_adjustment_sql()} AS name_adjustment
                FROM predictions AS p
                LEFT JOIN {risk.NAME_COUNTS} AS n ON n.uid = p.uid_r
            ), lookalikes AS (
                SELECT *,
                    {risk.identity_adjustment_sql(factor)} AS lookalike_adjustment,
                    {risk.swapped_adjustment_sql(model)} AS swapped_adjustment,
                    {risk.heaped_date_adjustment_sql()} AS heaped_date_adjustment
                FROM adjusted
            ), weighted AS (
                SELECT *, least(match_weight + name_adjustment + lookalike_adjustment
                                + heaped_date_adjustment + swapped_adjustment,
                                {risk.MAX_WEIGHT}) AS weight
                FROM lookalikes
            )
            SELECT w.*, {_probability("weight")} AS probability, d.dupkey, d.rid
            FROM weighted AS w JOIN (
                SELECT uid, rid,
                    CASE WHEN fam_c IS NOT NULL AND giv1 IS NOT NULL AND dob IS NOT NULL
                         THEN fam_c || '|' || giv1 || '|' || CAST(dob AS VARCHAR)
                         ELSE 'record:' || uid END AS dupkey
                FROM register_s
            ) AS d ON d.uid = w.record_id"""
        )
        none = risk.none_term(con, "probs", pool.num_rows)
        sql = f"""
        WITH narrow AS (SELECT person_id, record_id, weight, probability, dupkey FROM probs),
        {risk.rivals_sql("narrow", none)}
        SELECT
            r.person_id,
            r.record_id,
            CAST({_probability("r.weight + v.context_weight")} AS DOUBLE)
                AS match_probability,
            CAST(r.weight + v.context_weight AS DOUBLE) AS match_weight,
            {_explanation_sql(model)} AS explanation,
            CAST(to_json(struct_pack(
                record_id := x.record_id, family_name := x.family_name,
                given_names := x.given_names, date_of_birth := x.date_of_birth,
                postcode := x.postcode, since := x.since)) AS VARCHAR) AS record,
            CAST(x.since AS DATE) AS since,
            CAST(v.rank_for_person AS BIGINT) AS rank_for_person,
            CAST(v.second_for_person AS DOUBLE) AS second_for_person,
            CAST(v.second_for_record AS DOUBLE) AS second_for_record,
            CAST(v.rival_gap AS DOUBLE) AS rival_gap,
            CAST(r.name_others AS BIGINT) AS name_others,
            CAST({_probability("-(r.weight + v.context_weight)")} AS DOUBLE) AS wrong_person,
            CAST(r.weight AS DOUBLE) AS pair_weight,
            CAST({_probability("r.match_weight + r.name_adjustment")} AS DOUBLE)
                AS pair_probability,
            CAST({1.0 - none!r} AS DOUBLE) AS coverage,
            {pattern_sql()} AS pattern
        FROM rivals AS v
        JOIN probs AS r ON r.person_id = v.person_id AND r.record_id = v.record_id
        JOIN register_raw AS x ON x.rid = r.rid
        WHERE greatest({_probability("r.weight + v.context_weight")},
                       {_probability("r.match_weight + r.name_adjustment")})
              >= {min_probability!r}
        """
        table: pa.Table = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    # Ordered here rather than in the query: DuckDB would sort the rows with their
    # explanations, and build those explanations on one thread to keep the order.
    order = [("person_id", "ascending"), ("rank_for_person", "ascending")]
    return table.sort_by(order).cast(OUTPUT_SCHEMA)
