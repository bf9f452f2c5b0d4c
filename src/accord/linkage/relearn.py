"""Re-estimating a register's model from reviewers' labels, as a proposal.

Splink's ``estimate_m_from_pairwise_labels`` takes pairs known to be the same person and
counts the level each comparison reaches among them: those proportions are the new
``m``.  The pairs are the labels that say "same person" (approved items,
:mod:`accord.linkage.labels`) whose person is in the pool and whose record is in the
register file given.  ``u``, the prior and the term frequencies are the current model's;
a level no labelled pair reaches keeps its ``m``, and each comparison is renormalised
and floored as training does (:func:`accord.linkage.model.smoothed`).

Labels come from items sent to review, not from a random sample of matches, so their
proportions lean towards what made pairs uncertain (a postcode that differs, say): the
new model is kept, not made current (``linkage_models.current`` false), and a
proposal (:mod:`accord.linkage.proposals`, kind ``model``) shows how each level's weight
would change.  Only two different people approving it makes it the register's model.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection

from accord.errors import AccordError
from accord.linkage import labels as lab
from accord.linkage import model as m
from accord.linkage import proposals
from accord.linkage.limits import MIN_SAME
from accord.linkage.store import admitted_pool, load_model, save_model

LABELS_TABLE = "accord_pairwise_labels"
WEIGHT_CHANGE = 0.01  # bits: a level whose weight moves less is not listed


@dataclass(frozen=True)
class Reestimated:
    model_id: int
    based_on_model_id: int
    proposal_id: str
    pairs: int  # labelled pairs the new m came from
    changes: list[dict[str, Any]]  # levels whose weight moved, old and new


def _pairs(labels: pa.Table, pool: pa.Table, register: pa.Table) -> pa.Table:
    """Splink's labels table: the "same person" labels whose both sides are present."""
    con = duckdb.connect(":memory:")
    try:
        con.register("labels", labels)
        con.register("pool", pool.select(["person_id"]))
        con.register("reg", register.select(["record_id"]))
        table: pa.Table = con.sql(
            """
            SELECT 'pool' AS source_dataset_l, l.person_id AS uid_l,
                   'register' AS source_dataset_r, l.record_id AS uid_r
            FROM labels l
            WHERE l.same AND l.person_id IN (SELECT person_id FROM pool)
              AND l.record_id IN (SELECT CAST(record_id AS VARCHAR) FROM reg)
            ORDER BY uid_l, uid_r
            """
        ).to_arrow_table()
    finally:
        con.close()
    return table


def _weights(settings: dict[str, Any]) -> dict[tuple[str, str], tuple[float, float]]:
    found = {}
    for comp in settings["comparisons"]:
        for lv in comp["comparison_levels"]:
            if lv.get("is_null_level"):
                continue
            mp, up = float(lv["m_probability"]), float(lv["u_probability"])
            found[(comp["output_column_name"], lv["label_for_charts"])] = (mp, math.log2(mp / up))
    return found


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Each level whose match weight moved by at least :data:`WEIGHT_CHANGE` bits."""
    old, new = _weights(before), _weights(after)
    return [
        {"comparison": c, "level": lv, "m_before": old[(c, lv)][0], "m_after": new[(c, lv)][0],
         "weight_before": old[(c, lv)][1], "weight_after": new[(c, lv)][1]}
        for (c, lv) in new
        if (c, lv) in old and abs(new[(c, lv)][1] - old[(c, lv)][1]) >= WEIGHT_CHANGE
    ]  # fmt: skip


def estimate_m(
    current: m.TrainedModel, pool: pa.Table, register: pa.Table, pairs: pa.Table
) -> dict[str, Any]:
    """The current model's settings with ``m`` re-estimated from ``pairs`` (Splink)."""
    con = m.new_duckdb()
    try:
        m.prepare(con, pool, register)
        linker = m.linker_for(con, copy.deepcopy(current.settings))
        con.register(LABELS_TABLE, pairs)
        linker.training.estimate_m_from_pairwise_labels(LABELS_TABLE)
        settings: dict[str, Any] = m.smoothed(linker.misc.save_model_to_json())
    finally:
        con.close()
    return settings


def reestimate(
    conn: Connection,
    register_name: str,
    register: pa.Table,
    register_sha256: str | None,
    protected_categories: Iterable[str],
    by: str = "accord link reestimate",
    min_same: int = MIN_SAME,
) -> Reestimated:
    """Re-estimate the register's current model from the labels; keep it, not current,
    and record a proposal to make it current.  In the caller's transaction."""
    current = load_model(conn, register_name)
    if current is None or current.id is None:
        raise AccordError(
            f"no linkage model for register {register_name}: run `accord link train "
            f"{register_name}=FILE` (or `accord run`) first"
        )
    labels = lab.read_labels(conn, register_name)
    pool = admitted_pool(conn, protected_categories)
    pairs = _pairs(labels, pool, register)
    if pairs.num_rows < min_same:
        raise AccordError(
            f"register {register_name}: {pairs.num_rows:,} labelled pair(s) confirmed as the "
            f"same person are in the pool and the register file, fewer than {min_same:,}: "
            "nothing to re-estimate from yet"
        )
    settings = estimate_m(current, pool, register, pairs)
    new = m.TrainedModel(
        register=register_name, settings=settings, trained_at=dt.datetime.now(dt.UTC),
        training_rows=pairs.num_rows, seed=current.seed,
    )  # fmt: skip
    model_id = save_model(conn, new, register_sha256, current=False)
    moved = changes(current.settings, settings)
    wrong = int(labels.num_rows - sum(1 for s in labels.column("same").to_pylist() if s))
    proposal_id = proposals.record_model_proposal(
        conn, register_name, model_id, current.id, pairs.num_rows, wrong,
        {"levels_changed": moved, "source": "estimate_m_from_pairwise_labels"}, by,
    )  # fmt: skip
    return Reestimated(model_id, current.id, proposal_id, pairs.num_rows, moved)
