"""A step: SQL that a builder returns, and the table it becomes.

A builder returns a :class:`Step`: the SQL of one SELECT, the table it becomes, the
tables it reads and its values as DuckDB parameters (never pasted into the text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accord.compute.tables import Table

Params = Sequence[Any] | Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    """SQL that becomes a table: ``CREATE OR REPLACE TABLE output AS sql``."""

    name: str
    sql: str
    output: Table
    inputs: tuple[Table, ...]
    params: Params = ()
    says: str = ""  # what the run's progress shows as it starts (nothing when empty)

    @property
    def reads(self) -> tuple[Table, ...]:
        return self.inputs

    @property
    def writes(self) -> tuple[Table, ...]:
        return (self.output,)
