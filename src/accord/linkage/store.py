"""Linkage models in the governance database, and what linkage reads from it.

A model is trained once per register and reused until someone retrains it: each
``accord link train`` adds a row to ``linkage_models`` and makes it the register's
``current`` one, keeping the old rows, so every match can cite the exact model (and its
parameters) that scored it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Select, Text, cast, func, insert, select, update

from accord.errors import AccordError
from accord.formats.schema import DEFAULT_DATA_CATEGORY
from accord.linkage import model as m
from accord.store.models import CaseDecision, LinkageModel, Person, PoolEntry
from accord.vocab import PoolStatus

IDENTITY_FIELDS = ("family_name", "given_names", "date_of_birth", "postcode")

# What a match keeps of linkage's figures beside its probability (``matches.evidence``).
EVIDENCE_FIELDS = (
    "pair_probability",  # the two records' comparison alone
    "pair_weight",  # its weight, after the name-frequency and lookalike corrections
    "wrong_person",  # the estimated chance that the record is not the person's
    "rival_gap",  # bits ahead of the strongest rival (null: no rival)
    "second_for_person",  # the best other record's chance of being the person's
    "second_for_record",  # the best other person's chance of being the record's
    "name_others",  # other records in the register with the same names
    "coverage",  # lower bound of the share of the pool whose record was among the candidates
    "pattern",  # the level reached in each comparison (accord.linkage.predict.pattern_sql)
)


def save_model(
    conn: Connection, model: m.TrainedModel, register_sha256: str | None, current: bool = True
) -> int:
    """Store ``model`` as its register's current model; returns its id.

    The register's earlier models stay (matches cite them) but are no longer current.
    With ``current=False`` the model is only kept, the current one untouched: a model
    re-estimated from reviewers' labels waits so until a proposal two people approved
    makes it current (:func:`make_current`).
    """
    if current:
        conn.execute(
            update(LinkageModel)
            .where(LinkageModel.register == model.register, LinkageModel.current.is_(True))
            .values(current=False)
        )
    row = conn.execute(
        insert(LinkageModel)
        .values(
            register=model.register,
            settings=model.document(),
            trained_at=model.trained_at,
            training_rows=model.training_rows,
            register_sha256=register_sha256,
            current=current,
        )
        .returning(LinkageModel.id)
    ).one()
    model.id = int(row[0])
    model.register_sha256 = register_sha256
    return model.id


def _current(register_name: str, *columns: Any) -> Select[Any]:
    """``columns`` of the register's current model (the newest, were two marked current)."""
    return (
        select(*columns)
        .where(LinkageModel.register == register_name, LinkageModel.current.is_(True))
        .order_by(LinkageModel.id.desc())
        .limit(1)
    )


def current_model_id(conn: Connection, register_name: str) -> int | None:
    """The id of the register's current model (None: none)."""
    found = conn.execute(_current(register_name, LinkageModel.id)).scalar_one_or_none()
    return None if found is None else int(found)


def make_current(conn: Connection, register_name: str, model_id: int) -> None:
    """Make a stored model of the register its current one (the others stay, not current)."""
    conn.execute(
        update(LinkageModel)
        .where(LinkageModel.register == register_name, LinkageModel.id != model_id)
        .values(current=False)
    )
    made = conn.execute(
        update(LinkageModel)
        .where(LinkageModel.register == register_name, LinkageModel.id == model_id)
        .values(current=True)
    )
    if made.rowcount != 1:
        raise AccordError(f"no linkage model {model_id} for register {register_name}")


def model_from_row(
    model_id: int,
    register: str,
    document: dict[str, Any],
    trained_at: dt.datetime,
    training_rows: int,
    register_sha256: str | None,
) -> m.TrainedModel:
    """A stored model as a :class:`TrainedModel`, or an AccordError if it cannot be used."""
    accord = document.get("accord") if isinstance(document, dict) else None
    splink = document.get("splink") if isinstance(document, dict) else None
    if not isinstance(accord, dict) or not isinstance(splink, dict):
        raise AccordError(
            f"linkage model {model_id} for register {register} is not an Accord model: "
            f"retrain it with `accord link train {register}=FILE`"
        )
    version = accord.get("version")
    if version != m.MODEL_VERSION:
        raise AccordError(
            f"linkage model {model_id} for register {register} was made by model version "
            f"{version}, this Accord uses {m.MODEL_VERSION}: retrain it with "
            f"`accord link train {register}=FILE`"
        )
    return m.TrainedModel(
        register=register,
        settings=splink,
        trained_at=trained_at,
        training_rows=int(training_rows),
        seed=int(accord["seed"]),
        version=int(version),
        id=model_id,
        register_sha256=register_sha256,
    )


def current_version(conn: Connection, register_name: str) -> int | None:
    """The model version of the register's current model (None: no model)."""
    row = conn.execute(_current(register_name, LinkageModel.settings)).first()
    if row is None:
        return None
    document = row[0]
    accord = document.get("accord") if isinstance(document, dict) else None
    version = accord.get("version") if isinstance(accord, dict) else None
    return int(version) if isinstance(version, int) else None


def load_model(conn: Connection, register_name: str) -> m.TrainedModel | None:
    """The register's current model, or None when none has been trained."""
    row = conn.execute(
        _current(
            register_name,
            LinkageModel.id,
            LinkageModel.register,
            LinkageModel.settings,
            LinkageModel.trained_at,
            LinkageModel.training_rows,
            LinkageModel.register_sha256,
        )
    ).first()
    if row is None:
        return None
    return model_from_row(int(row[0]), str(row[1]), row[2], row[3], int(row[4]), row[5])


def load_or_train(
    conn: Connection,
    register_name: str,
    pool: pa.Table,
    register: pa.Table | Callable[[], pa.Table],
    register_sha256: str | None = None,
    seed: int = 1,
) -> tuple[m.TrainedModel, bool]:
    """The register's current model, training and saving one first if there is none, or
    if the current one was made by an earlier model version (its comparisons differ, so
    its parameters cannot be used; the old row stays, cited by its matches).

    ``register`` may be a function that reads it: it is called only to train.
    Returns the model and whether it was trained now.
    """
    if current_version(conn, register_name) == m.MODEL_VERSION:
        found = load_model(conn, register_name)
        if found is not None:
            return found, False
    records = register if isinstance(register, pa.Table) else register()
    trained = m.train(register_name, pool, records, seed=seed)
    save_model(conn, trained, register_sha256)
    return trained, True


def admitted_pool(conn: Connection, protected_categories: Iterable[str]) -> pa.Table:
    """The people admitted to the pool, with what matching may use of their identity.

    A value whose provenance is a protected data category is withheld (NULL): matching
    never uses it, whatever the purpose (the firewall's rule for enforcement, applied
    to every linkage run here because a match feeds every agreement for the register).
    ``postcodes`` lists every postcode the person's case rows hold, and ``arrival_date``
    is the earliest arrival they record, protected rows left out the same way: a record
    at an earlier address can be found, and one begun before the person came weighed.
    """
    rows = conn.execute(
        select(
            Person.person_id,
            Person.family_name,
            Person.given_names,
            Person.date_of_birth,
            Person.postcode,
            cast(Person.provenance, Text),
        )
        .join(PoolEntry, PoolEntry.person_id == Person.person_id)
        .where(PoolEntry.status == PoolStatus.ADMITTED)
        .order_by(Person.person_id)
    ).all()
    raw = pa.table(
        {
            "person_id": pa.array([r[0] for r in rows], pa.string()),
            "family_name": pa.array([r[1] for r in rows], pa.string()),
            "given_names": pa.array([r[2] for r in rows], pa.string()),
            "date_of_birth": pa.array([r[3] for r in rows], pa.date32()),
            "postcode": pa.array([r[4] for r in rows], pa.string()),
            "provenance": pa.array([r[5] for r in rows], pa.string()),
        }
    )
    protected = sorted(set(protected_categories))
    history = conn.execute(
        select(CaseDecision.person_id, CaseDecision.postcode, CaseDecision.arrival_date)
        .join(PoolEntry, PoolEntry.person_id == CaseDecision.person_id)
        .where(
            PoolEntry.status == PoolStatus.ADMITTED,
            CaseDecision.destroyed_at.is_(None),
            func.coalesce(CaseDecision.data_category, DEFAULT_DATA_CATEGORY).not_in(protected),
        )
    ).all()
    postcodes = pa.table(
        {
            "person_id": pa.array([r[0] for r in history], pa.string()),
            "postcode": pa.array([r[1] for r in history], pa.string()),
            "arrival_date": pa.array([r[2] for r in history], pa.date32()),
        }
    )
    listed = ", ".join("'" + c.replace("'", "''") + "'" for c in protected) or "NULL"
    picks = ", ".join(
        f"CASE WHEN coalesce(json_extract_string(provenance, '$.{f}.data_category'), "
        f"'{DEFAULT_DATA_CATEGORY}') IN ({listed}) "
        f"THEN NULL ELSE {f} END AS {f}"
        for f in IDENTITY_FIELDS
    )
    con = duckdb.connect(":memory:")
    try:
        con.register("raw", raw)
        con.register("history", postcodes)
        table: pa.Table = con.sql(
            f"SELECT person_id, {picks}, h.postcodes, h.arrival_date FROM raw LEFT JOIN ("
            "SELECT person_id, list(DISTINCT postcode ORDER BY postcode) FILTER "
            "(WHERE postcode IS NOT NULL) AS postcodes, min(arrival_date) AS arrival_date "
            "FROM history GROUP BY person_id) AS h USING (person_id) ORDER BY person_id"
        ).to_arrow_table()
    finally:
        con.close()
    return table
