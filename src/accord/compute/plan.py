"""Tasks, and the plan that steps and tasks make.

Work that is not one SELECT over the workspace (reading the database into it, writing
what it decided back) is a :class:`Task` that names the tables it reads and writes.  A
:class:`Plan` is a sequence of steps and tasks, checked (:meth:`Plan.check`) before
anything runs: every table a step reads was there at the start or made by an earlier step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from accord.compute.step import Step
from accord.compute.tables import PlanError, Table
from accord.compute.workspace import Workspace


@dataclass(frozen=True)
class Task:
    """Work in Python over the workspace (and the database), with the tables it touches.

    ``run`` is called with the workspace; ``says`` is what the run's progress shows as
    it starts (nothing when empty).
    """

    name: str
    run: Callable[[Workspace], object]
    reads: tuple[Table, ...] = ()
    writes: tuple[Table, ...] = ()
    says: str = ""


@dataclass
class Plan:
    """Steps and tasks in the order they run."""

    steps: list[Step | Task] = field(default_factory=list)

    def add(self, *steps: Step | Task) -> Plan:
        self.steps.extend(steps)
        return self

    def check(self, present: Iterable[str]) -> None:
        """Refuse the plan if a step reads a table neither ``present`` nor made before it."""
        have = set(present)
        for step in self.steps:
            missing = [t.name for t in step.reads if t.name not in have]
            if missing:
                raise PlanError(
                    f"step {step.name} reads {', '.join(missing)}, which no earlier step "
                    "makes and the workspace does not hold"
                )
            have.update(t.name for t in step.writes)
