"""The candidate pairs and the features both engines score, built the same way on either.

From the pool (``pool_in``) and the register (``register_in``) already in a workspace
(DuckDB, or Spark through :class:`accord.linkage.features.Sql`): the names normalised
once, the blocking keys of each side, the candidate pairs the prediction rules find
(``blocked``, ``blocked_records``), the features of the pool and of only the register
records some rule found, the term frequencies and the register's name counts
(:data:`accord.linkage.risk.NAME_COUNTS`).
"""

from __future__ import annotations

from typing import Any

import duckdb

from accord.linkage import features, risk


def prepare(con: duckdb.DuckDBPyConnection | features.Sql, settings: dict[str, Any]) -> None:
    """Build every table the scoring reads, from ``pool_in`` and ``register_in``."""
    db = features.as_sql(con)
    features.build_names(db, ["pool_in", "register_in"])
    features.add_keys(db, "pool_in", "pool_k")
    features.add_keys(db, "register_in", "register_k")
    features.add_candidate_pairs(db, settings)
    features.add_features(db, "pool_in", "person_id", "pool_f", blocking_keys=False)
    features.add_features(
        db, "register_in", "record_id", "register_f", only="blocked_records", blocking_keys=False
    )
    features.add_term_frequencies(db, "pool_in", "register_k", "pool_k", names_as_ids=True)
    db.create(risk.NAME_COUNTS, risk.name_counts_sql("register_k", "register_f"))
    features.drop_names(db)
