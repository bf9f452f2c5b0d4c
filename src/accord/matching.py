"""The run's linkage of the admitted pool to one register, and the candidates it gives.

Linkage itself is :mod:`accord.linkage`; this is the run's use of it: the identity the
firewall allows for the strictest purpose of the register's agreements (each refusal
logged), with each person's matching history, linked once per register and loaded into
the gate's ``candidates`` (and the database's ``matches``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb
import pyarrow as pa
from sqlalchemy import Connection

from accord.linkage import candidates
from accord.linkage import store as linkage_store
from accord.linkage.engine import engine_for
from accord.linkage.predict import link
from accord.policy import firewall
from accord.policy.agreement import Agreement
from accord.policy.policy import Policy

Progress = Callable[[str], None]
# What linkage reads of a register (SPEC.md's register columns): extra columns stay on disk.
LINKED_FIELDS = ("record_id", "family_name", "given_names", "date_of_birth", "postcode", "since")
# The run's DuckDB relation (person_id) of the people admitted to the pool.
ADMITTED_PEOPLE = "admitted_people"


def _silent(_: str) -> None:
    return None


def link_register(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    name: str,
    register: Callable[[], pa.Table],
    register_sha256: str,
    agreements: Sequence[Agreement],
    run_id: str,
    progress: Progress,
    announce: Progress = _silent,
) -> int:
    """Match the admitted pool to one register; fill ``candidates``; store the matches.

    One linkage per register feeds every agreement with that recipient, so it matches on
    the identity the strictest purpose may use (the firewall's, if any is enforcement).
    Linkage is a step of its own (:mod:`accord.linkage.candidates`): its candidates are
    kept on disk by register, model and pool, so a run whose key an earlier run already
    linked (one that failed later, say) takes them from there and does no linking, and
    ``register`` (which reads the register's records) is then not even called.
    """
    enforcing = [a for a in agreements if policy.is_enforcement(a.purpose)]
    purpose = (enforcing or list(agreements))[0].purpose
    identity = firewall.identity_for_purpose(con, policy, purpose, people=ADMITTED_PEOPLE)
    for a in enforcing:
        if a.purpose != purpose:  # another enforcement purpose: its refusals are its own
            firewall.identity_for_purpose(con, policy, a.purpose, people=ADMITTED_PEOPLE)
        firewall.record_refusals(conn, con, run_id, a.id, a.purpose, use="matching")
    history = firewall.matching_history(con, policy, purpose, ADMITTED_PEOPLE)
    pool = con.sql(
        "SELECT i.person_id, i.family_name, i.given_names, i.date_of_birth, i.postcode, "
        f"h.postcodes, h.arrival_date FROM {identity} AS i LEFT JOIN {history} AS h "
        "USING (person_id) ORDER BY i.person_id"
    ).to_arrow_table()
    if pool.num_rows == 0:
        return 0
    read: list[pa.Table] = []

    def records() -> pa.Table:  # read once, and only if training or linking needs it
        if not read:
            read.append(register())
        return read[0]

    model, trained = linkage_store.load_or_train(conn, name, pool, records, register_sha256)
    floor = min(a.match.review_from for a in agreements)
    engine = engine_for(name)  # the settings' engine for this register (DuckDB, Spark)
    key = candidates.Key(
        name, register_sha256, candidates.model_digest(model), candidates.pool_digest(pool),
        floor, engine,
    )  # fmt: skip

    def linked() -> pa.Table:
        progress(f"{name}: {'trained a linkage model, ' if trained else ''}matching")
        return link(model, pool, records(), min_probability=floor, engine=engine)

    found = candidates.find_or_link(key, linked, candidates.folder(conn))
    if found.reused:
        announce(
            f"{name}: {found.rows:,} candidate pairs from an earlier run with the same "
            f"register, model and pool ({found.path}): not linked again"
        )
    return candidates.load(conn, con, found, run_id, name, model.id)
