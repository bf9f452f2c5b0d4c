"""The model's ``u`` (how often two different people reach each level) from one pass over
random pairs: Splink's own estimate, computed once for every comparison.

Splink's ``estimate_u_using_random_sampling`` samples the pool and the register, then
for *each comparison in turn* joins the two samples and scores that one comparison, in
a probe chunk and then up to ten chunks of the pairs, stopping once every level of that
comparison has been seen ``min_count_per_level`` times.  Accord's comparisons have rare
levels (names recorded the other way round, an earlier address) that random pairs almost
never reach, so four of its five comparisons always run every chunk, and the samples
are joined and the pairs built eleven times for each: on a million-record register that
building was half of the estimate's time.

Here the pairs are built once.  Each pair is scored on every comparison and counted by
its levels, its chunk and whether it is in the probe chunk; Splink's stopping rule then
runs over those counts, comparison by comparison, exactly as Splink runs it over its
chunk queries.  The sample, the chunks and the counts are Splink's own (its SQL, its
sampling and its chunk hash), so ``u`` is the same to the last bit
(tests/linkage/test_linkage_training.py trains both ways and compares); only the order of the
work changes.  Splink has no option for this, which is why it is written here.
"""

from __future__ import annotations

from collections import defaultdict
from copy import deepcopy
from typing import Any

# Splink's own defaults for estimate_u_using_random_sampling.
MIN_COUNT_PER_LEVEL = 100
NUM_CHUNKS = 10
# Splink's probe is one chunk of this many times as many.
PROBE_MULTIPLIER = 10
DESCRIPTION = "estimate u by random sampling"


def estimate_u(linker: Any, max_pairs: float, seed: int) -> None:
    """Set the u probabilities of ``linker`` (a two-dataset ``link_only`` Splink linker) as
    ``linker.training.estimate_u_using_random_sampling(max_pairs, seed)`` would, with
    Splink's default ``min_count_per_level`` and ``num_chunks``."""
    from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT
    from splink.internals.estimate_u import _proportion_sample_size_link_only
    from splink.internals.m_u_records_to_parameters import (
        append_u_probability_to_comparison_level_trained_probabilities,
    )
    from splink.internals.pipeline import CTEPipeline
    from splink.internals.vertically_concatenate import enqueue_df_concat

    settings_obj = linker._settings_obj
    if settings_obj._link_type != "link_only" or len(linker._input_tables_dict) != 2:
        raise ValueError("estimate_u takes a linker of two datasets linked to each other")
    training = deepcopy(linker)
    training_settings = training._settings_obj
    for comparison in training_settings.comparisons:
        for level in comparison.comparison_levels:
            level._tf_adjustment_column = None
    db_api = training._db_api

    sd = training_settings.column_info_settings.source_dataset_input_column
    pipeline = enqueue_df_concat(training, CTEPipeline())
    pipeline.enqueue_sql(
        f"select count({sd.name}) as count from __splink__df_concat group by {sd.name}",
        "__splink__df_concat_count",
    )
    counted = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    frame_counts = [r["count"] for r in counted.as_record_list()]
    counted.drop_table_from_database_and_remove_from_cache()
    proportion, _ = _proportion_sample_size_link_only(frame_counts, max_pairs)
    proportion = min(proportion, 1.0)

    uid_cols = training_settings.column_info_settings.unique_id_input_columns
    pipeline = enqueue_df_concat(training, CTEPipeline())
    pipeline.enqueue_sql(
        "select * from __splink__df_concat where 1=1 "
        + training._proportion_sample_sql(proportion, uid_cols, seed=seed),
        "__splink__df_concat_sample",
    )
    sample = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    try:
        counts = _level_counts(training, sample)
    finally:
        sample.drop_table_from_database_and_remove_from_cache()

    for i, comparison in enumerate(training_settings.comparisons):
        levels = [
            int(cl.comparison_vector_value) for cl in comparison._comparison_levels_excluding_null
        ]
        kept = _splinks_stopping_rule(counts[comparison._gamma_column_name], levels)
        total = sum(kept.values())
        lookup = {
            cvv: {"u_probability": kept[cvv] / total if kept[cvv] else LEVEL_NOT_OBSERVED_TEXT}
            for cvv in levels
        }
        original = settings_obj.comparisons[i]
        for cl in original._comparison_levels_excluding_null:
            append_u_probability_to_comparison_level_trained_probabilities(
                cl, {original.output_column_name: lookup}, original.output_column_name, DESCRIPTION
            )
    linker._populate_m_u_from_trained_values()


def _level_counts(
    training: Any, sample: Any
) -> dict[str, dict[tuple[bool, int], dict[int, float]]]:
    """For each comparison's gamma column: pairs counted by (in the probe chunk, chunk) and
    level, over every pair of the two samples (Splink's pairs and chunk hash)."""
    from splink.internals.blocking import _sql_gen_where_condition
    from splink.internals.misc import dedupe_preserving_order
    from splink.internals.pipeline import CTEPipeline
    from splink.internals.unique_id_concat import _composite_unique_id_from_nodes_sql
    from splink.internals.vertically_concatenate import (
        split_df_concat_with_tf_into_two_tables_sqls,
    )

    settings_obj = training._settings_obj
    info = settings_obj.column_info_settings
    db_api = training._db_api
    uid_columns = [info.source_dataset_input_column, info.unique_id_input_column]
    where = _sql_gen_where_condition(
        settings_obj._link_type, uid_columns, sql_dialect=db_api.sql_dialect
    )
    # Splink's chunk of a pair is the hash of its register-side id (chunking.py).
    hashed = db_api.sql_dialect.hash_function_expression(
        _composite_unique_id_from_nodes_sql(uid_columns, "r")
    )
    columns: list[str] = []
    for uid in uid_columns:
        columns.extend(uid.l_r_names_as_l_r)
    for comparison in settings_obj.comparisons:
        columns.extend(comparison._columns_to_select_for_blocking())
    columns = dedupe_preserving_order(columns)
    gammas = [c._gamma_column_name for c in settings_obj.comparisons]

    pipeline = CTEPipeline(input_dataframes=[sample])
    pipeline.enqueue_list_of_sqls(
        split_df_concat_with_tf_into_two_tables_sqls(
            "__splink__df_concat", info.source_dataset_column_name, sample_switch=True
        )
    )
    pipeline.enqueue_sql(
        f"""select {", ".join(columns)},
            (abs({hashed}) % {NUM_CHUNKS * PROBE_MULTIPLIER}) + 1 = 1 as __accord_probe,
            (abs({hashed}) % {NUM_CHUNKS}) + 1 as __accord_chunk
        from __splink__df_concat_sample_left as l
        inner join __splink__df_concat_sample_right as r on (1=1)
        {where}""",
        "__splink__u_pairs",
    )
    cases = ", ".join(c._case_statement for c in settings_obj.comparisons)
    pipeline.enqueue_sql(
        f"select __accord_probe, __accord_chunk, {cases} from __splink__u_pairs",
        "__splink__u_comparison_vectors",
    )
    pipeline.enqueue_sql(
        f"""select __accord_probe, __accord_chunk, {", ".join(gammas)}, count(*) as pairs
        from __splink__u_comparison_vectors
        group by __accord_probe, __accord_chunk, {", ".join(gammas)}""",
        "__splink__u_level_counts",
    )
    counted = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    try:
        rows = counted.as_record_list()
    finally:
        counted.drop_table_from_database_and_remove_from_cache()
    out: dict[str, dict[tuple[bool, int], dict[int, float]]] = {
        g: defaultdict(lambda: defaultdict(float)) for g in gammas
    }
    for row in rows:
        key = (bool(row["__accord_probe"]), int(row["__accord_chunk"]))
        for g in gammas:
            out[g][key][int(row[g])] += float(row["pairs"])
    return out


def _splinks_stopping_rule(
    counts: dict[tuple[bool, int], dict[int, float]], levels: list[int]
) -> dict[int, float]:
    """The counts Splink keeps for one comparison: the probe chunk's, if every level
    reached the minimum there; otherwise chunk after chunk until every level has, or
    until the last (splink.internals.estimate_u.estimate_u_values)."""

    def enough(kept: dict[int, float]) -> bool:
        return min((kept[cvv] for cvv in levels), default=0.0) >= MIN_COUNT_PER_LEVEL

    probe: dict[int, float] = {cvv: 0.0 for cvv in levels}
    for (in_probe, _), by_level in counts.items():
        if in_probe:
            for cvv in levels:
                probe[cvv] += by_level.get(cvv, 0.0)
    if enough(probe):
        return probe
    kept = {cvv: 0.0 for cvv in levels}
    for chunk in range(1, NUM_CHUNKS + 1):
        for (_, c), by_level in counts.items():
            if c == chunk:
                for cvv in levels:
                    kept[cvv] += by_level.get(cvv, 0.0)
        if enough(kept):
            break
    return kept
