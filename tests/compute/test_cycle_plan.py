"""The run as a plan: every table a step reads is made by an earlier step, in order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from accord import gate
from accord.compute import PlanError, Step, Task
from accord.policy.policy import load_policy
from accord.run_plan import RunState, run_plan


def _state(registers: dict[str, tuple[Path, str]]) -> RunState:
    conn: Any = None  # the plan is laid out, not run
    return RunState(
        conn, "run-x", dt.date(2026, 6, 1), "test", load_policy(None), [], {},
        pa.table({}), "cases.csv", registers, {}, print, print,
    )  # fmt: skip


def test_the_run_plan_reads_only_what_earlier_steps_make() -> None:
    registers = {"bank": (Path("bank.csv"), "bank.csv"), "dvla": (Path("dvla.csv"), "dvla.csv")}
    plan = run_plan(_state(registers))
    plan.check(())  # nothing is there before the run: the plan makes every table it reads
    names = [s.name for s in plan.steps]
    assert names == [
        "admission", "pool status", "admitted people", "lapsed scores", "gate inputs",
        "register bank", "register dvla", "record inputs", "gate", "score gate", "act",
        "agreement counts",
    ]  # fmt: skip
    sql = [s for s in plan.steps if isinstance(s, Step)]
    assert [s.output for s in sql][-3:] == [gate.GATE, gate.SCORE_GATE, gate.COUNTS]
    assert all("'2026" not in s.sql for s in sql)  # the day is bound, not pasted
    assert isinstance(plan.steps[0], Task) and plan.steps[0].says


def test_a_plan_with_a_step_moved_before_what_it_reads_is_refused() -> None:
    plan = run_plan(_state({}))
    gate_at = next(i for i, s in enumerate(plan.steps) if s.name == "gate")
    plan.steps.insert(0, plan.steps.pop(gate_at))
    with pytest.raises(PlanError, match="step gate reads candidates"):
        plan.check(())
