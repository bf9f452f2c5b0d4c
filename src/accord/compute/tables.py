"""Workspace tables by name, with their columns where they are declared up front."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class PlanError(Exception):
    """A step reads a table that no earlier step made and that was not declared: a bug."""


@dataclass(frozen=True)
class Table:
    """A table of the workspace.

    ``columns`` is its DDL column list (``person_id VARCHAR, cohort VARCHAR``) when a
    caller fills it and it is declared (created empty) first; None when a step's SELECT
    gives it its columns.
    """

    name: str
    columns: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"{self.name!r} is not a workspace table name")

    def __str__(self) -> str:
        return self.name

    def ddl(self) -> str:
        """``CREATE OR REPLACE TABLE`` of this table, empty, with its declared columns."""
        if self.columns is None:
            raise ValueError(f"table {self.name} has no declared columns to create it with")
        return f"CREATE OR REPLACE TABLE {self.name} ({self.columns})"
