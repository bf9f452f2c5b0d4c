"""The set-based paths of admission: person state against a row-by-row reading, bulk writes."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from sqlalchemy import func, select

from accord.admission import ADVERSE, admit, derive_person_state
from accord.formats.schema import CASES, Kind
from accord.store import db, sqlite_bulk, transfer
from accord.store.models import CaseDecision, Person, PoolEntry, PoolHistory
from accord.store.transfer import Background, insert_arrow

D = dt.date
DEFAULT_CATEGORY = "immigration_casework"


def random_history(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Cases and events with many ties on dates, empty values and information rows."""
    rng = random.Random(seed)
    day = lambda: D(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 6))  # noqa: E731
    maybe = lambda *values: rng.choice((None, *values))  # noqa: E731
    rows = []
    for p in range(rng.randint(1, 80)):
        for k in range(rng.choice((1, 1, 2, 3, 5))):
            rows.append(
                {
                    "case_id": f"{rng.choice('abAB')}{rng.randint(0, 99)}-{p}-{k}",
                    "person_id": f"P{p}",
                    "family_name": rng.choice(("Doe", "O'Neill", "Nguyễn")),
                    "given_names": rng.choice(("Jo", "Ana María")),
                    "date_of_birth": maybe(D(1990, 1, 1), D(1991, 2, 3)),
                    "nationality": maybe("JAM", "IND"),
                    "postcode": maybe("E1 1AA", "N2 2BB"),
                    "decision": rng.choice(
                        ("grant", "refusal", "curtailment", "revocation", "information")
                    ),
                    "decision_date": day(),
                    "refusal_reason": maybe("fee_not_paid", "eligibility"),
                    "appeal_status": maybe("none", "pending"),
                    "leave": maybe("none", "limited"),
                    "leave_expiry": maybe(day()),
                    "arrival_date": maybe(day()),
                    "departure_date": maybe(day()),
                    "data_category": maybe("health", DEFAULT_CATEGORY),
                }
            )
    events = [
        {
            "person_id": f"P{rng.randint(0, 90)}",
            "event_type": rng.choice(
                ("leave_granted", "departure_recorded", "decision_overturned")
            ),
            "event_date": day(),
        }
        for _ in range(rng.randint(0, 30))
    ]
    return rows, events


def read_row_by_row(
    rows: list[dict[str, Any]], events: list[dict[str, Any]], as_of: dt.date
) -> dict[str, dict[str, Any]]:
    """person_state as docs/admission.md describes it, one person at a time."""
    people: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["decision_date"] <= as_of:
            people.setdefault(r["person_id"], []).append(r)
    out = {}
    for pid, mine in people.items():
        ordered = sorted(mine, key=lambda r: (r["decision_date"], r["case_id"]))

        def latest(cond: Any, ordered: list[dict[str, Any]] = ordered) -> dict[str, Any] | None:
            chosen = [r for r in ordered if cond(r)]
            return chosen[-1] if chosen else None

        state: dict[str, Any] = {}
        for field, cond in (
            ("family_name", lambda r: True),
            ("given_names", lambda r: True),
            ("date_of_birth", lambda r: r["date_of_birth"] is not None),
            ("nationality", lambda r: r["nationality"] is not None),
            ("postcode", lambda r: r["postcode"] is not None),
        ):
            row = latest(cond)
            state[field] = row and row[field]
            state[f"{field}_case_id"] = row and row["case_id"]
            state[f"{field}_category"] = row and (row["data_category"] or DEFAULT_CATEGORY)
        decision = latest(lambda r: r["decision"] != "information")
        state["latest_decision"] = decision and decision["decision"]
        state["latest_decision_date"] = decision and decision["decision_date"]
        state["decision_case_id"] = decision and decision["case_id"]
        state["decision_category"] = decision and (decision["data_category"] or DEFAULT_CATEGORY)
        state["refusal_reason"] = decision and decision["refusal_reason"]
        state["appeal_status"] = decision and decision["appeal_status"]
        leave = latest(lambda r: r["decision"] != "information" and r["leave"] is not None)
        state["leave"] = leave and leave["leave"]
        state["leave_expiry"] = leave and leave["leave_expiry"]
        arrivals = [r["arrival_date"] for r in mine if r["arrival_date"] is not None]
        state["arrival_date"] = min(arrivals) if arrivals else None
        mine_events = [e for e in events if e["person_id"] == pid and e["event_date"] <= as_of]
        departures = [
            r["departure_date"]
            for r in mine
            if r["departure_date"] is not None and r["departure_date"] <= as_of
        ] + [e["event_date"] for e in mine_events if e["event_type"] == "departure_recorded"]
        state["departure_date"] = max(departures) if departures else None
        for column, kind in (
            ("leave_granted_date", "leave_granted"),
            ("overturned_date", "decision_overturned"),
        ):
            dates = [e["event_date"] for e in mine_events if e["event_type"] == kind]
            state[column] = max(dates) if dates else None
        state["decisions"] = sum(r["decision"] != "information" for r in mine)
        state["adverse_decisions"] = sum(r["decision"] in ADVERSE for r in mine)
        when = state["latest_decision_date"]
        state["departures_before_decision"] = sum(when is not None and d < when for d in departures)
        state["dob_distinct"] = len({r["date_of_birth"] for r in mine} - {None})
        state["nationality_distinct"] = len({r["nationality"] for r in mine} - {None})
        out[pid] = state
    return out


@pytest.mark.parametrize("seed", range(12))
def test_person_state_is_the_row_by_row_reading_of_the_history(seed: int) -> None:
    rows, events = random_history(seed)
    types = {c.name: pa.date32() if c.kind is Kind.DATE else pa.string() for c in CASES.columns}
    con = duckdb.connect()
    con.register("cases_in", pa.Table.from_pylist(rows, schema=pa.schema(types)))
    event_types = {"person_id": pa.string(), "event_type": pa.string(), "event_date": pa.date32()}
    con.register("events_in", pa.Table.from_pylist(events, schema=pa.schema(event_types)))
    for as_of in (D(2020, 1, 3), D(2021, 1, 1)):
        expected = read_row_by_row(rows, events, as_of)
        derive_person_state(con, "cases_in", as_of, "events_in")
        got = {
            r["person_id"]: r
            for r in con.sql("SELECT * FROM person_state").to_arrow_table().to_pylist()
        }
        assert set(got) == set(expected)
        for pid, state in expected.items():
            assert {k: got[pid][k] for k in state} == state, pid


def test_rows_copied_to_a_second_table_read_back_as_the_first(db_url: str) -> None:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678901)
    entries = pa.table(
        {
            "person_id": ["b", "a", "c"],
            "status": ["admitted", "excluded", "quarantined"],
            "reasons": ["[]", '["departed"]', '["missing_date_of_birth"]'],
            "as_of": pa.array([D(2026, 1, 1)] * 3, pa.date32()),
            "run_id": ["r", None, "r"],
            "updated_at": pa.array([at] * 3, pa.timestamp("us")),
        }
    )
    history = {c: c for c in ("person_id", "status", "reasons", "as_of", "run_id")}
    with db.connect(db_url) as conn:
        insert_arrow(
            conn,
            PoolEntry.__table__,  # type: ignore[arg-type]
            entries,
            copies=[(PoolHistory.__table__, history | {"at": "updated_at"})],  # type: ignore[list-item]
        )
    with db.connect(db_url) as conn:
        pool = conn.execute(select(PoolEntry.__table__).order_by(PoolEntry.person_id)).all()
        kept = conn.execute(select(PoolHistory.__table__).order_by(PoolHistory.id)).all()
    assert [h.person_id for h in kept] == ["a", "b", "c"]  # in key order, like the entries
    assert [(p.person_id, p.status, p.reasons, p.as_of, p.run_id, p.updated_at) for p in pool] == [
        (h.person_id, h.status, h.reasons, h.as_of, h.run_id, h.at) for h in kept
    ]
    assert pool[0].reasons == ["departed"] and pool[0].as_of == D(2026, 1, 1)


def test_a_copy_must_be_stored_as_its_source(db_url: str) -> None:
    entries = pa.table({"person_id": ["a"], "as_of": pa.array([D(2026, 1, 1)], pa.date32())})
    with db.connect(db_url) as conn, pytest.raises(ValueError, match="not stored as"):
        insert_arrow(
            conn,
            PoolEntry.__table__,  # type: ignore[arg-type]
            entries,
            copies=[(PoolHistory.__table__, {"at": "as_of"})],  # type: ignore[list-item]
        )


def test_background_writes_run_in_order_and_the_first_failure_is_raised() -> None:
    done: list[int] = []

    def write(n: int) -> None:
        if n == 2:
            raise RuntimeError("disk full")
        done.append(n)

    with pytest.raises(RuntimeError, match="disk full"), Background() as background:
        for n in range(5):
            background.submit(write, n)
    assert done == [0, 1]  # the writes after the failed one are not run


def test_background_writes_are_waited_for_when_the_caller_fails() -> None:
    done: list[int] = []
    with pytest.raises(KeyError), Background() as background:
        background.submit(done.append, 1)
        raise KeyError("in DuckDB")
    assert done == [1]


def test_unthreaded_background_writes_at_once() -> None:
    done: list[int] = []
    with Background(threaded=False) as background:
        background.submit(done.append, 1)
        assert done == [1]


@pytest.mark.parametrize("failing", ["people", "pool_history"])
def test_a_write_failing_on_the_writer_thread_leaves_nothing_behind(
    db_url: str, failing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written on the writer thread are in the admission's transaction: when one of
    those writes fails, the admission fails, nothing it wrote stays, and neither do the
    files its rows were staged in (personal data)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    real_copy, real_write = transfer._copy_in, transfer._write_stored

    def copy_in(dbapi: Any, name: str, cols: str, path: Path) -> None:
        if name == failing:
            raise OSError(f"disk full writing {name}")
        real_copy(dbapi, name, cols, path)

    def write_stored(conn: Any, table: Any, stored: pa.Table, copies: Any) -> None:
        if table.name == failing or any(other.name == failing for other, _ in copies):
            raise OSError(f"disk full writing {failing}")
        real_write(conn, table, stored, copies)

    monkeypatch.setattr(transfer, "_copy_in", copy_in)
    monkeypatch.setattr(transfer, "_write_stored", write_stored)
    rows, _ = random_history(3)
    types = {c.name: pa.date32() if c.kind is Kind.DATE else pa.string() for c in CASES.columns}
    table = pa.Table.from_pylist(rows, schema=pa.schema(types))
    table = table.add_column(0, "__row", pa.array(range(1, table.num_rows + 1), pa.int64()))
    with pytest.raises(OSError, match="disk full"):
        admit(db_url, dt.date(2021, 1, 1), "R1", cases=table)
    with db.connect(db_url) as conn:
        for model in (CaseDecision, Person, PoolEntry, PoolHistory):
            assert conn.execute(select(func.count()).select_from(model)).scalar_one() == 0
    assert list((tmp_path / "tmp").iterdir()) == []
    if db_url.startswith("sqlite"):
        folder = Path(db_url.removeprefix("sqlite:///")).parent
        assert list(folder.glob(f"{sqlite_bulk.STAGE_FILE}*")) == []
