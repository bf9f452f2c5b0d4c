"""A typed workspace: a DuckDB connection that knows which of its tables exist.

Every table enters the workspace one of three ways: declared (created empty with its
columns, for a caller to fill), built by a :class:`~accord.compute.step.Step`, or
adopted (made by code that is not yet a step, such as admission, and checked to be
there).  A step whose inputs are not among them is refused before its SQL runs, so no
function depends on a table another happened to leave behind.  The connection is the
one :func:`accord.workspace.workspace` opens (file-backed, spilling to disk) or, for a
handful of people, an in-memory one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from accord.compute.step import Step
from accord.compute.tables import PlanError, Table


class Workspace:
    """A DuckDB connection and the names of the tables it holds for the plan."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._tables: set[str] = set()

    @classmethod
    def over(cls, con: duckdb.DuckDBPyConnection) -> Workspace:
        """A workspace over a connection some tables were made in already: it holds those."""
        ws = cls(con)
        ws._tables.update(
            name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        )
        ws._tables.update(
            name
            for (name,) in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        )
        return ws

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(self._tables)

    def holds(self, table: Table | str) -> bool:
        return str(table) in self._tables

    def declare(self, *tables: Table) -> None:
        """Create each table empty with its declared columns."""
        for t in tables:
            self.con.execute(t.ddl())
            self._tables.add(t.name)

    def adopt(self, *tables: Table) -> None:
        """Take tables that code outside the plan made; refuse one that is not there."""
        there = {
            name for (name,) in self.con.execute(
                "SELECT table_name FROM duckdb_tables() UNION ALL "
                "SELECT view_name FROM duckdb_views()"
            ).fetchall()
        }  # fmt: skip
        missing = [t.name for t in tables if t.name not in there]
        if missing:
            raise PlanError(f"the workspace holds no table {', '.join(missing)} to adopt")
        self._tables.update(t.name for t in tables)

    def require(self, tables: Iterable[Table], by: str) -> None:
        missing = [t.name for t in tables if t.name not in self._tables]
        if missing:
            raise PlanError(
                f"step {by} reads {', '.join(missing)}, which the workspace does not hold"
            )

    def run(self, step: Step) -> None:
        """Build ``step.output`` from its SQL, its inputs all held, its values bound."""
        self.require(step.inputs, step.name)
        self.con.execute(f"CREATE OR REPLACE TABLE {step.output} AS {step.sql}", step.params)
        self._tables.add(step.output.name)

    def rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        return self.con.execute(sql, params).fetchall()

    def insert_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (dicts keyed by column) to a held table, by column name."""
        self.require((table,), f"insert into {table}")
        if rows:
            self.insert_arrow(table, pa.Table.from_pylist(rows))

    def insert_arrow(self, table: Table, data: pa.Table) -> None:
        """Append an Arrow table to a held table, by column name."""
        self.require((table,), f"insert into {table}")
        self.con.register("_arrow_rows", data)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _arrow_rows")
        finally:
            self.con.unregister("_arrow_rows")
