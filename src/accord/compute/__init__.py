"""Compute: a run's DuckDB work as an explicit plan of declared steps.

``tables``      a :class:`Table` is a workspace table by name, with its columns when they
                are declared up front (an input a caller fills) or left to the step that
                selects it (an output)
``step``        a :class:`Step` is SQL that a builder returns: a SELECT over its input
                tables, with its values as bound parameters, that becomes its output
                table
``plan``        a :class:`Task` is work in Python that moves data between the database
                and the workspace, with the tables it reads and writes; a :class:`Plan`
                is a sequence of steps and tasks, checked before anything runs
``workspace``   :class:`Workspace` wraps a DuckDB connection and knows which tables have
                been declared or built; it refuses a step whose inputs are not there
``engine``      :func:`execute` runs a plan over a workspace, step by step, and times each

Builders live with the domain that owns their SQL (:func:`accord.gate.decide_step`, for
one); this package knows nothing of the domain.  Splink's ``CTEPipeline`` (SQL with its
output table's name, queued and run by a database API) is the model; a second engine
would execute the same steps over its own workspace.
"""

from accord.compute.engine import Timing, execute
from accord.compute.plan import Plan, Task
from accord.compute.step import Step
from accord.compute.tables import PlanError, Table
from accord.compute.workspace import Workspace

__all__ = ["Plan", "PlanError", "Step", "Table", "Task", "Timing", "Workspace", "execute"]
