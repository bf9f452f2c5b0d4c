"""accord.compute: declared tables, steps that bind their values, plans checked before they run."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from accord.compute import Plan, PlanError, Step, Table, Task, Workspace, execute

PEOPLE = Table("people", "person_id VARCHAR, born DATE")
ADULTS = Table("adults")


def adults(as_of: dt.date) -> Step:
    return Step(
        "adults",
        "SELECT person_id FROM people WHERE born <= CAST($as_of AS DATE) - INTERVAL 18 YEAR",
        ADULTS,
        (PEOPLE,),
        {"as_of": as_of},
    )


def test_a_step_builds_its_table_with_its_values_bound() -> None:
    ws = Workspace(duckdb.connect())
    ws.declare(PEOPLE)
    ws.insert_rows(
        PEOPLE,
        [{"person_id": "a", "born": dt.date(2000, 1, 1)},
         {"person_id": "b", "born": dt.date(2010, 1, 1)}],
    )  # fmt: skip
    ws.run(adults(dt.date(2026, 1, 1)))
    assert ws.holds(ADULTS)
    assert ws.rows("SELECT person_id FROM adults") == [("a",)]
    ws.run(adults(dt.date(2028, 1, 2)))  # rebuilt as of another day
    assert ws.rows("SELECT person_id FROM adults ORDER BY 1") == [("a",), ("b",)]


def test_a_step_whose_input_is_not_held_is_refused_before_it_runs() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE people (person_id VARCHAR, born DATE)")  # made, not declared
    ws = Workspace(con)
    with pytest.raises(PlanError, match="reads people"):
        ws.run(adults(dt.date(2026, 1, 1)))
    assert not ws.holds(ADULTS)
    with pytest.raises(PlanError, match="insert into people"):
        ws.insert_rows(PEOPLE, [])
    ws.adopt(PEOPLE)  # made by code outside the plan: taken once it is there
    ws.run(adults(dt.date(2026, 1, 1)))
    with pytest.raises(PlanError, match="no table adults_2"):
        ws.adopt(Table("adults_2"))


def test_a_workspace_over_a_connection_holds_what_is_there() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE people (person_id VARCHAR, born DATE)")
    con.execute("CREATE VIEW everyone AS SELECT person_id FROM people")
    ws = Workspace.over(con)
    assert {"people", "everyone"} <= ws.tables


def test_a_plan_is_checked_whole_before_any_step_runs() -> None:
    ran: list[str] = []
    plan = Plan().add(
        Task("first", lambda ws: ran.append("first")),
        adults(dt.date(2026, 1, 1)),  # reads people, which nothing declares or makes
    )
    with pytest.raises(PlanError, match="step adults reads people"):
        execute(plan, Workspace(duckdb.connect()))
    assert ran == []


def test_the_engine_runs_steps_and_tasks_in_order_and_times_each() -> None:
    said: list[str] = []
    ws = Workspace(duckdb.connect())

    def load(w: Workspace) -> None:
        w.declare(PEOPLE)
        w.insert_rows(PEOPLE, [{"person_id": "a", "born": dt.date(1990, 5, 1)}])

    counted = Table("counted")
    plan = Plan().add(
        Task("load", load, writes=(PEOPLE,), says="loading"),
        adults(dt.date(2026, 1, 1)),
        Step("count", "SELECT count(*) AS n FROM adults", counted, (ADULTS,), says="counting"),
    )
    timings = execute(plan, ws, said.append)
    assert [t.step for t in timings] == ["load", "adults", "count"]
    assert all(t.seconds >= 0 for t in timings)
    assert said == ["loading", "counting"]
    assert ws.rows("SELECT n FROM counted") == [(1,)]


def test_a_task_that_does_not_make_what_it_says_it_writes_is_refused() -> None:
    plan = Plan().add(Task("nothing", lambda ws: None, writes=(PEOPLE,)))
    with pytest.raises(PlanError, match="no table people"):
        execute(plan, Workspace(duckdb.connect()))


def test_table_names_are_plain_and_only_declared_tables_can_be_created() -> None:
    with pytest.raises(ValueError, match="not a workspace table name"):
        Table("people; DROP TABLE x")
    with pytest.raises(ValueError, match="no declared columns"):
        Workspace(duckdb.connect()).declare(ADULTS)
