"""The engine: runs a plan over a workspace, step by step, timing each.

The plan is checked against the workspace first (:meth:`accord.compute.plan.Plan.check`),
so a plan that reads a table nothing makes fails before any step runs, not half-way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from accord.compute.plan import Plan
from accord.compute.step import Step
from accord.compute.workspace import Workspace


@dataclass(frozen=True)
class Timing:
    step: str
    seconds: float


def _silent(_: str) -> None:
    return None


def execute(plan: Plan, ws: Workspace, progress: Callable[[str], None] = _silent) -> list[Timing]:
    """Run every step of ``plan`` in order; returns how long each took."""
    plan.check(ws.tables)
    timings = []
    for step in plan.steps:
        started = time.perf_counter()
        if step.says:
            progress(step.says)
        if isinstance(step, Step):
            ws.run(step)
        else:
            ws.require(step.reads, step.name)
            step.run(ws)
            for table in step.writes:
                if not ws.holds(table):
                    ws.adopt(table)
        timings.append(Timing(step.name, time.perf_counter() - started))
    return timings
