"""Linkage models in the database, the admitted pool, kept candidates and the matches
table, and `accord link`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, insert, select, update

from accord import formats, gate
from accord.cli import main
from accord.compute import Workspace
from accord.errors import AccordError
from accord.linkage import (
    admitted_pool,
    candidates,
    link,
    load_model,
    load_or_train,
    save_model,
    train,
)
from accord.linkage import evaluate as ev
from accord.linkage import model as m
from accord.linkage.store import EVIDENCE_FIELDS, model_from_row
from accord.store import db
from accord.store.models import CaseDecision, LinkageModel, Match, Person, PoolEntry
from accord.synth import Scenario, synthesise
from accord.workspace import workspace

AS_OF = dt.date(2026, 1, 15)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return synthesise(tmp_path_factory.mktemp("linkstore") / "s", 2_500, 4, AS_OF)


@pytest.fixture(scope="module")
def pool(scenario: Scenario) -> pa.Table:
    return ev.load_scenario_pool(scenario.out)


@pytest.fixture(scope="module")
def bank_file(scenario: Scenario) -> Path:
    return scenario.registers["bank"]


@pytest.fixture(scope="module")
def bank(bank_file: Path) -> pa.Table:
    return formats.load(bank_file, "register")


@pytest.fixture(scope="module")
def trained(pool: pa.Table, bank: pa.Table) -> m.TrainedModel:
    return train("bank", pool, bank, seed=1)


def admit(url: str, pool: pa.Table, protected: dict[str, str] | None = None) -> None:
    """Put people in the pool as the admission step would: people + pool_entries rows.

    ``protected`` maps a person_id to the field whose value came from a health record.
    """
    protected = protected or {}
    now = dt.datetime.now(dt.UTC)
    people, entries = [], []
    for i, r in enumerate(pool.to_pylist()):
        prov = {
            f: {"case_id": f"C{i}", "data_category": "immigration_casework"}
            for f in ("family_name", "given_names", "date_of_birth", "postcode")
        }
        if r["person_id"] in protected:
            prov[protected[r["person_id"]]]["data_category"] = "health"
        people.append((
            r["person_id"], r["family_name"] or "?", r["given_names"] or "?",
            r["date_of_birth"], r["postcode"], prov,
        ))  # fmt: skip
        status = "excluded" if i % 10 == 9 else "admitted"
        entries.append((r["person_id"], status, [], AS_OF, now))
    with db.connect(url) as conn:
        db.bulk_insert(
            conn, Person.__table__,  # type: ignore[arg-type]
            ("person_id", "family_name", "given_names", "date_of_birth", "postcode",
             "provenance"),
            people,
        )  # fmt: skip
        db.bulk_insert(
            conn, PoolEntry.__table__,  # type: ignore[arg-type]
            ("person_id", "status", "reasons", "as_of", "updated_at"), entries,
        )  # fmt: skip


def utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes (written in UTC); PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# --- the store ----------------------------------------------------------------------------------


def test_a_saved_model_is_the_current_one_until_retrained(
    db_url: str, trained: m.TrainedModel
) -> None:
    with db.connect(db_url) as conn:
        assert load_model(conn, "bank") is None
        first = save_model(conn, trained, "a" * 64)
    with db.connect(db_url) as conn:
        loaded = load_model(conn, "bank")
    assert loaded is not None and loaded.id == first
    assert loaded.settings == trained.settings
    assert loaded.version == trained.version == m.MODEL_VERSION
    assert loaded.register_sha256 == "a" * 64
    assert abs(utc(loaded.trained_at) - utc(trained.trained_at)) < dt.timedelta(seconds=1)
    with db.connect(db_url) as conn:
        second = save_model(conn, trained, None)
        current = conn.execute(
            select(LinkageModel.id).where(LinkageModel.current.is_(True))
        ).scalars().all()  # fmt: skip
        total = conn.execute(select(func.count()).select_from(LinkageModel)).scalar_one()
    assert second != first and current == [second] and total == 2
    with db.connect(db_url) as conn:
        assert load_model(conn, "dvla") is None


def test_a_saved_model_is_reused_not_retrained_and_gives_identical_results(
    db_url: str, pool: pa.Table, bank: pa.Table
) -> None:
    small = pool.slice(0, 1_200)
    with db.connect(db_url) as conn:
        first, trained_now = load_or_train(conn, "bank", small, bank, "b" * 64, seed=2)
    assert trained_now and first.id is not None
    with db.connect(db_url) as conn:
        again, trained_again = load_or_train(conn, "bank", small, bank, "b" * 64, seed=2)
    assert not trained_again and again.id == first.id
    assert again.settings == first.settings
    assert link(first, small, bank, 0.5).equals(link(again, small, bank, 0.5))


def test_a_model_of_an_earlier_version_is_retrained_when_next_used(
    db_url: str, trained: m.TrainedModel, pool: pa.Table, bank: pa.Table
) -> None:
    with db.connect(db_url) as conn:
        old = save_model(conn, trained, "c" * 64)
        conn.execute(
            update(LinkageModel)
            .where(LinkageModel.id == old)
            .values(settings={**trained.document(), "accord": {"version": 1, "seed": 1}})
        )
    small = pool.slice(0, 1_200)
    with db.connect(db_url) as conn:
        model, trained_now = load_or_train(conn, "bank", small, bank, "c" * 64)
        kept = conn.execute(select(LinkageModel.id, LinkageModel.current)).all()
    assert trained_now and model.id != old and model.version == m.MODEL_VERSION
    assert sorted(kept) == [(old, False), (model.id, True)]  # the old one stays, cited


def test_a_stored_model_from_another_version_is_refused() -> None:
    with pytest.raises(AccordError, match="not an Accord model"):
        model_from_row(1, "bank", {"link_type": "link_only"}, dt.datetime.now(), 1, None)
    with pytest.raises(AccordError, match="model version 99"):
        model_from_row(
            1, "bank", {"splink": {}, "accord": {"version": 99}}, dt.datetime.now(), 1, None
        )


def test_the_admitted_pool_withholds_protected_values(db_url: str, pool: pa.Table) -> None:
    some = pool.slice(0, 40)
    ids = some.column("person_id").to_pylist()
    admit(db_url, some, {ids[0]: "postcode", ids[1]: "date_of_birth"})
    with db.connect(db_url) as conn:
        got = admitted_pool(conn, ["health", "education", "victim_or_witness"])
    rows = {r["person_id"]: r for r in got.to_pylist()}
    assert len(rows) == 36  # every tenth person was excluded, not admitted
    assert ids[9] not in rows
    assert rows[ids[0]]["postcode"] is None
    assert rows[ids[1]]["date_of_birth"] is None
    original = {r["person_id"]: r for r in some.to_pylist()}
    assert rows[ids[0]]["family_name"] == original[ids[0]]["family_name"]
    assert rows[ids[2]]["postcode"] == original[ids[2]]["postcode"]
    assert got.column_names == ["person_id", "family_name", "given_names", "date_of_birth",
                                "postcode", "postcodes", "arrival_date"]  # fmt: skip
    # Every postcode the case rows hold, for matching a record at an earlier address; one
    # from a protected service is left out as the latest is.
    assert rows[ids[2]]["postcodes"] is None  # no case rows written here
    case = {"decision": "refusal", "decision_date": AS_OF,
            "data_category": "immigration_casework", "destroyed_at": None}  # fmt: skip
    with db.connect(db_url) as conn:
        conn.execute(
            insert(CaseDecision),
            [
                {**case, "case_id": "H1", "person_id": ids[2], "postcode": "AB1 2CD"},
                {**case, "case_id": "H2", "person_id": ids[2], "postcode": "EF3 4GH",
                 "data_category": "health"},
                {**case, "case_id": "H3", "person_id": ids[2], "postcode": "AB1 2CD"},
                {**case, "case_id": "H4", "person_id": ids[2], "postcode": "ZZ9 9ZZ",
                 "destroyed_at": dt.datetime.now(dt.UTC)},
            ],
        )  # fmt: skip
        again = admitted_pool(conn, ["health", "education", "victim_or_witness"])
    assert {r["person_id"]: r for r in again.to_pylist()}[ids[2]]["postcodes"] == ["AB1 2CD"]


def test_candidates_fill_the_matches_table_with_ids_in_the_files_order(
    db_url: str, trained: m.TrainedModel, pool: pa.Table, bank: pa.Table, tmp_path: Path
) -> None:
    few = pool.slice(0, 500)
    found = link(trained, few, bank, 0.5)
    key = candidates.Key(
        "bank", "b" * 64, candidates.model_digest(trained), candidates.pool_digest(few), 0.5
    )
    linked = candidates.find_or_link(key, lambda: found, tmp_path)
    assert not linked.reused and linked.rows == found.num_rows > 0
    assert pq.read_table(linked.path).cast(found.schema).equals(found)
    with db.connect(db_url) as conn, workspace() as con:
        Workspace(con).declare(*gate.INPUTS)
        assert candidates.load(conn, con, linked, "run-1", "bank", 7) == found.num_rows
        gated = con.execute(
            "SELECT match_id, person_id, record_id, register FROM candidates ORDER BY match_id"
        ).fetchall()
        # A second register's rows take the ids after the first's.
        assert candidates.load(conn, con, linked, "run-2", "bank", 7) == found.num_rows
    with db.connect(db_url) as conn:
        stored = conn.execute(select(Match.__table__).order_by(Match.id)).mappings().all()
    n = found.num_rows
    assert [r["id"] for r in stored] == list(range(1, 2 * n + 1))
    in_order = list(zip(found.column("person_id").to_pylist(),
                        found.column("record_id").to_pylist(), strict=True))  # fmt: skip
    assert [(r["person_id"], r["record_id"]) for r in stored[:n]] == in_order
    assert [(r["person_id"], r["record_id"]) for r in stored[n:]] == in_order
    assert gated == [(i + 1, p, r, "bank") for i, (p, r) in enumerate(in_order)]
    for want, got in zip(found.to_pylist(), stored[:n], strict=True):
        assert got["run_id"] == "run-1" and got["model_id"] == 7 and got["register"] == "bank"
        assert got["match_probability"] == want["match_probability"]
        assert got["match_weight"] == want["match_weight"]
        assert got["rank"] == want["rank_for_person"]
        assert got["explanation"] == json.loads(want["explanation"])
        assert got["record"] == json.loads(want["record"])
        assert got["flags"] == []
        assert got["evidence"] == {f: want[f] for f in EVIDENCE_FIELDS}


def test_candidates_are_reused_only_for_the_same_key(
    trained: m.TrainedModel, pool: pa.Table, bank: pa.Table, tmp_path: Path
) -> None:
    few = pool.slice(0, 300)
    linked: list[float] = []

    def link_now(floor: float) -> pa.Table:
        linked.append(floor)
        return link(trained, few, bank, floor)

    key = candidates.Key(
        "bank", "b" * 64, candidates.model_digest(trained), candidates.pool_digest(few), 0.5
    )
    first = candidates.find_or_link(key, lambda: link_now(0.5), tmp_path)
    stamp = first.path.stat().st_mtime_ns
    again = candidates.find_or_link(key, lambda: link_now(0.5), tmp_path)
    assert (again.reused, again.path, again.rows) == (True, first.path, first.rows)
    assert again.path.stat().st_mtime_ns == stamp and linked == [0.5]
    assert first.path.stat().st_mode & 0o777 == 0o600  # register records: the owner's alone

    other_model = dataclasses.replace(trained, seed=trained.seed + 1)
    names = few.column("family_name").to_pylist()
    renamed = few.set_column(
        few.schema.get_field_index("family_name"), "family_name", pa.array(["X", *names[1:]])
    )
    others = [
        dataclasses.replace(key, register_sha256="c" * 64),
        dataclasses.replace(key, model=candidates.model_digest(other_model)),
        dataclasses.replace(key, pool=candidates.pool_digest(pool.slice(0, 301))),
        dataclasses.replace(key, pool=candidates.pool_digest(renamed)),
        dataclasses.replace(key, floor=0.6),
    ]  # fmt: skip
    assert len({k.digest() for k in [key, *others]}) == len(others) + 1
    for n, changed in enumerate(others, start=2):
        found = candidates.find_or_link(changed, lambda: link_now(0.5), tmp_path)
        assert not found.reused and len(linked) == n
        # One file per register: the one written last.
        assert [p.name for p in tmp_path.glob("*.parquet")] == [found.path.name]
    # A file that is not whole (or holds another key) is linked again, not read.
    last = found.path
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    assert not candidates.find_or_link(changed, lambda: link_now(0.5), tmp_path).reused


# --- the command line ---------------------------------------------------------------------------


def test_link_train_then_link_on_the_admitted_pool(
    db_url: str, pool: pa.Table, bank_file: Path, tmp_path: Path, capsys: Any
) -> None:
    admit(db_url, pool)
    assert main(["link", "train", f"bank={bank_file}", "--database", db_url, "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "linkage model 1 for register bank" in printed and "Match weights" in printed
    with db.connect(db_url) as conn:
        saved = load_model(conn, "bank")
    assert saved is not None and saved.register_sha256 is not None and saved.seed == 3

    csv_out, pq_out = tmp_path / "c.csv", tmp_path / "c.parquet"
    assert main(["link", f"bank={bank_file}", "--database", db_url, "--out", str(csv_out)]) == 0
    printed = capsys.readouterr().out
    assert "candidate pair(s) at or above 0.5" in printed and "(model 1," in printed
    assert main([
        "link", "--database", db_url, f"bank={bank_file}", "--out", str(pq_out),
        "--min-probability", "0.9",
    ]) == 0  # fmt: skip
    capsys.readouterr()
    table = pacsv.read_csv(csv_out)
    high = pq.read_table(pq_out)
    assert table.column_names == high.column_names
    assert {"person_id", "record_id", "match_probability", "explanation"} <= set(table.column_names)
    assert 0 < high.num_rows <= table.num_rows
    # A pair is kept when the chance it is the person's, or its own comparison, is 0.9.
    kept = zip(high.column("match_probability").to_pylist(),
               high.column("pair_probability").to_pylist(), strict=True)  # fmt: skip
    assert min(max(p, q) for p, q in kept) >= 0.9
    admitted = {r[0] for r in _admitted_ids(db_url)}
    assert set(table.column("person_id").to_pylist()) <= admitted
    # The same model again: the same pairs, nothing retrained.
    again = tmp_path / "again.csv"
    assert main(["link", f"bank={bank_file}", "--database", db_url, "--out", str(again)]) == 0
    assert csv_out.read_bytes() == again.read_bytes()
    with db.connect(db_url) as conn:
        assert conn.execute(select(func.count()).select_from(LinkageModel)).scalar_one() == 1


def _admitted_ids(url: str) -> list[tuple[str]]:
    with db.connect(url) as conn:
        return [
            (str(r[0]),)
            for r in conn.execute(
                select(PoolEntry.person_id).where(PoolEntry.status == "admitted")
            ).all()
        ]


def test_link_errors_are_one_line_with_exit_2(
    db_url: str, trained: m.TrainedModel, pool: pa.Table, bank_file: Path, tmp_path: Path,
    capsys: Any,
) -> None:  # fmt: skip
    def fails(args: list[str], message: str) -> None:
        assert main([*args, "--database", db_url]) == 2, args
        err = capsys.readouterr().err
        assert message in err, err

    fails(["link", "train", f"bank={bank_file}"], "no one is admitted to the pool")
    fails(["link", f"bank={bank_file}"], "no linkage model for register bank")
    admit(db_url, pool.slice(0, 300))
    with db.connect(db_url) as conn:
        save_model(conn, trained, None)
    fails(["link", "bank"], "is not NAME=FILE")
    fails(["link", "train", "b@d=x.csv"], "is not a register name")
    fails(["link", f"bank={tmp_path / 'none.csv'}"], "no such file")
    fails(["link", f"bank={bank_file}", "--min-probability", "1.5"], "from 0 to 1")
    fails(["link", f"bank={bank_file}", "--out", str(tmp_path / "c.txt")], "use a .csv or")
    fails(["link", f"bank={bank_file}", "--out", str(tmp_path / "no" / "c.csv")], "does not exist")
    fails(["link", "train", f"bank={bank_file}", "--seed", "-1"], "the seed must be 0 or more")
    fails(["link", "evaluate", "--scenario", str(tmp_path / "nowhere")], "no such directory")


def test_link_evaluate_reports_precision_recall_and_traps(
    db_url: str, trained: m.TrainedModel, scenario: Scenario, capsys: Any
) -> None:
    with db.connect(db_url) as conn:
        save_model(conn, trained, None)
    code = main(["link", "evaluate", "--scenario", str(scenario.out), "--register", "bank",
                 "--database", db_url])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "bank:" in printed and "model 1" in printed
    assert "automatic" in printed and "precision" in printed
    assert "namesake traps planted" in printed
    assert "0 matched automatically" in printed
    assert "wrong automatic match" not in printed
    assert main(["link", "evaluate", "--scenario", str(scenario.out), "--register", "nobody",
                 "--database", db_url]) == 2  # fmt: skip
    assert "is not in scenario" in capsys.readouterr().err
