"""Cohorts and admission rules compiled to SQL, so they run set-based over millions of people.

Every predicate of the policy becomes a boolean SQL expression over the columns of
``person_state`` (see :func:`accord.admission.derive_person_state`).  The SQL is
DuckDB's dialect and uses nothing beyond what :func:`to_spark` can transpile with
sqlglot, so the same policy can run where the data lives.

No value is pasted into the SQL.  Every value - the as-of date, each rule's date, number
or text, the cohort names and rule codes that end up in the output - is read from a
DuckDB variable (``getvariable('accord_...')``), and the compiled SQL comes as a
:class:`Compiled`: the SQL and the values of the variables it reads.  :func:`bind` sets
them on a connection, each value bound as a parameter (``SET VARIABLE name = ?``).
Variables rather than prepared parameters, because the SQL ends up in views
(``cohort_membership``, admission's ``person_state_cases``), kept as views so that a
caller joining them to a few people evaluates them for those people only, and DuckDB
allows no parameter in a view; a view reads the variables when it is queried.

A variable's name is made from its value (its type and a digest of it), so a variable,
once set, always holds the same value: binding a second policy or as-of date on the same
connection adds variables and never changes one that an earlier view reads, so views of
two policies or dates coexist on one connection without clashing.  Variables belong to a
connection: bind on the connection that runs the SQL (a ``cursor()`` is another
connection).  An unbound variable reads as NULL, and a comparison with NULL is FALSE, so
SQL run without :func:`bind` quietly matches nobody: :func:`evaluate_rules`,
:func:`cohort_membership` and :func:`accord.admission.derive_person_state` bind before
they create anything.  Column names are identifiers, never values: each is checked
against the policy's typed fields (:data:`accord.policy.policy.PERSON_FIELDS`).

A span of years compares by calendar arithmetic, exact to the day: ``age_years > 30`` is
``date_of_birth < as_of - INTERVAL 30 YEAR``.

A comparison with NULL is FALSE, never NULL, so ``not`` behaves as a person reads it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import sqlglot
from pydantic import BaseModel
from sqlglot import exp

from accord.policy.policy import (
    AS_OF,
    LIST_OPS,
    PERSON_FIELDS,
    YEARS_FIELDS,
    AllOf,
    AnyOf,
    CohortRef,
    Condition,
    NotOf,
    Policy,
    Scalar,
    resolve,
)
from accord.vocab import PoolStatus, RuleOutcome, sql_word

_OUTCOME_STATUS = {
    RuleOutcome.EXCLUDE: PoolStatus.EXCLUDED,
    RuleOutcome.QUARANTINE: PoolStatus.QUARANTINED,
    RuleOutcome.MANUAL_CHECK: PoolStatus.MANUAL_CHECK,
}

_GETVARIABLE = "getvariable"
_PREFIX = "accord_"


@dataclass(frozen=True)
class Compiled:
    """DuckDB SQL that reads its values from variables, and the value of each variable."""

    sql: str
    variables: Mapping[str, Scalar] = field(default_factory=dict)


def variable_name(value: Scalar) -> str:
    """The DuckDB variable that holds ``value``: ``accord_<type>_<digest of the value>``."""
    kind = type(value).__name__
    text = value.isoformat() if isinstance(value, dt.date) else repr(value)
    digest = hashlib.sha256(f"{kind}:{text}".encode()).hexdigest()[:16]
    return f"{_PREFIX}{kind}_{digest}"


def value_sql(value: Scalar) -> Compiled:
    """One value as SQL: a read of the variable that holds it."""
    name = variable_name(value)
    return Compiled(f"{_GETVARIABLE}('{name}')", {name: value})


def bind(con: duckdb.DuckDBPyConnection, *compiled: Compiled) -> None:
    """Set on ``con`` every variable the compiled SQL reads, each value a bound parameter."""
    variables: dict[str, Scalar] = {}
    for c in compiled:
        variables.update(c.variables)
    for name, value in variables.items():
        con.execute(f"SET VARIABLE {_ident(name)} = ?", [value])


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column(name: str) -> str:
    """A column of ``person_state`` a predicate may read, as an identifier."""
    if name not in PERSON_FIELDS or name in YEARS_FIELDS:
        raise ValueError(f"not a column of person_state: {name!r}")
    return _ident(name)


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


class _Compiler:
    """Predicates to SQL over one policy and as-of date, gathering the variables read."""

    def __init__(self, policy: Policy, as_of: dt.date) -> None:
        self.policy = policy
        self.as_of = as_of
        self.variables: dict[str, Scalar] = {}

    def done(self, sql: str) -> Compiled:
        return Compiled(sql, dict(self.variables))

    def value(self, value: Scalar) -> str:
        """The SQL reading ``value`` (``$as_of`` is the as-of date)."""
        one = value_sql(self.as_of if value == AS_OF else value)
        self.variables.update(one.variables)
        return one.sql

    def resolved(self, value: Scalar) -> str:
        out = resolve(value, self.policy)
        assert out is not None
        return self.value(out)

    def years(self, c: Condition) -> str:
        """``years(from -> to) OP n`` as date arithmetic on ``from`` (exact to the day)."""
        start, end = YEARS_FIELDS[c.field]
        assert c.value is not None and not isinstance(c.value, list)
        years = resolve(c.value, self.policy)
        assert isinstance(years, int)
        anchor = self.value(AS_OF) if end == AS_OF else _column(end)
        # More years between start and anchor means an earlier start: the comparison flips.
        span = f"INTERVAL ({self.value(years)}) YEAR"
        return f"coalesce({_column(start)} {_FLIP[c.op]} {anchor} - {span}, FALSE)"

    def condition(self, c: Condition) -> str:
        if c.field in YEARS_FIELDS:
            return self.years(c)
        col = _column(c.field)
        if c.op == "is null":
            return f"({col} IS NULL)"
        if c.op == "is not null":
            return f"({col} IS NOT NULL)"
        if c.other is not None:
            rhs = _column(c.other)
        elif c.op in LIST_OPS:
            assert isinstance(c.value, list)
            rhs = "(" + ", ".join(self.resolved(v) for v in c.value) + ")"
        else:
            assert c.value is not None and not isinstance(c.value, list)
            rhs = self.resolved(c.value)
        op = "<>" if c.op == "!=" else c.op.upper()
        return f"coalesce({col} {op} {rhs}, FALSE)"

    def predicate(self, pred: BaseModel) -> str:
        """One predicate as a SQL boolean expression that is never NULL."""
        if isinstance(pred, Condition):
            return self.condition(pred)
        if isinstance(pred, CohortRef):
            return self.predicate(self.policy.cohorts[pred.cohort].when)
        if isinstance(pred, AllOf):
            return "(" + " AND ".join(self.predicate(p) for p in pred.all_) + ")"
        if isinstance(pred, AnyOf):
            return "(" + " OR ".join(self.predicate(p) for p in pred.any_) + ")"
        if isinstance(pred, NotOf):
            return f"(NOT {self.predicate(pred.not_)})"
        raise TypeError(f"not a predicate: {pred!r}")


def predicate_sql(pred: BaseModel, policy: Policy, as_of: dt.date) -> Compiled:
    """One predicate as a SQL boolean expression that is never NULL."""
    c = _Compiler(policy, as_of)
    return c.done(c.predicate(pred))


def cohort_predicates(policy: Policy, as_of: dt.date) -> dict[str, Compiled]:
    """Each cohort as a SQL boolean expression over ``person_state`` columns."""
    return {name: predicate_sql(c.when, policy, as_of) for name, c in policy.cohorts.items()}


def rules_sql(policy: Policy, as_of: dt.date, source: str = "person_state") -> Compiled:
    """A query giving, per person, the rules' outcome and the reason codes of each kind.

    Columns: ``person_id``; ``outcome`` (``excluded`` beats ``manual_check`` beats
    ``quarantined`` beats ``admitted``); ``exclude_reasons``, ``manual_reasons`` and
    ``quarantine_reasons``, each the matching rule codes in policy order, comma-separated
    (empty when none).
    """
    c = _Compiler(policy, as_of)
    flags = [f"{c.predicate(r.when)} AS {_ident('rule_' + r.code)}" for r in policy.admission_rules]

    def kind(outcome: str) -> tuple[str, str]:
        codes = [r.code for r in policy.admission_rules if r.outcome == outcome]
        if not codes:
            return "FALSE", "''"
        any_ = " OR ".join(_ident("rule_" + code) for code in codes)
        parts = ", ".join(
            f"CASE WHEN {_ident('rule_' + code)} THEN {c.value(code)} END" for code in codes
        )
        return f"({any_})", f"concat_ws(',', {parts})"

    ex_any, ex_list = kind(RuleOutcome.EXCLUDE)
    mc_any, mc_list = kind(RuleOutcome.MANUAL_CHECK)
    q_any, q_list = kind(RuleOutcome.QUARANTINE)
    flag_list = ", ".join(["person_id", *flags])
    return c.done(
        f"SELECT person_id, "
        f"CASE WHEN {ex_any} THEN {sql_word(PoolStatus.EXCLUDED)} "
        f"WHEN {mc_any} THEN {sql_word(PoolStatus.MANUAL_CHECK)} "
        f"WHEN {q_any} THEN {sql_word(PoolStatus.QUARANTINED)} "
        f"ELSE {sql_word(PoolStatus.ADMITTED)} END AS outcome, "
        f"{ex_list} AS exclude_reasons, {mc_list} AS manual_reasons, "
        f"{q_list} AS quarantine_reasons "
        f"FROM (SELECT {flag_list} FROM {source}) AS flags"
    )


def cohort_membership_sql(policy: Policy, as_of: dt.date, source: str = "person_state") -> Compiled:
    """A query of (person_id, cohort): one row per person per cohort they belong to."""
    c = _Compiler(policy, as_of)
    parts = [
        f"SELECT person_id, {c.value(name)} AS cohort FROM {source} WHERE {c.predicate(co.when)}"
        for name, co in policy.cohorts.items()
    ]
    if not parts:
        return c.done(
            "SELECT CAST(NULL AS VARCHAR) AS person_id, CAST(NULL AS VARCHAR) AS cohort LIMIT 0"
        )
    return c.done(" UNION ALL ".join(parts))


def evaluate_rules(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    as_of: dt.date,
    source: str = "person_state",
    target: str = "rule_outcomes",
) -> str:
    """Materialise :func:`rules_sql` as the DuckDB table ``target``; returns its name.

    Binds the variables the rules read on ``con`` first (:func:`bind`)."""
    rules = rules_sql(policy, as_of, source)
    bind(con, rules)
    con.execute(f"CREATE OR REPLACE TABLE {target} AS {rules.sql}")
    return target


def cohort_membership(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    as_of: dt.date,
    source: str = "person_state",
    target: str = "cohort_membership",
    materialize: bool = False,
) -> str:
    """The DuckDB relation ``target`` of (person_id, cohort) over ``source``; returns its name.

    A view by default, so that a caller joining it to a few candidates evaluates the
    cohorts for those people only; ``materialize=True`` makes it a table.  Binds the
    variables the cohorts read on ``con`` first (:func:`bind`); the view reads them
    whenever it is queried, on this connection.
    """
    kind = "TABLE" if materialize else "VIEW"
    membership = cohort_membership_sql(policy, as_of, source)
    bind(con, membership)
    con.execute(f"DROP {'VIEW' if materialize else 'TABLE'} IF EXISTS {target}")
    con.execute(f"CREATE OR REPLACE {kind} {target} AS {membership.sql}")
    return target


def to_spark(sql: str) -> str:
    """The same SQL in Spark's dialect (sqlglot), for running the policy next to the data.

    Each variable read becomes a named parameter of the same name, so the values go in
    bound: ``spark.sql(to_spark(c.sql), args=dict(c.variables))`` for a :class:`Compiled` c.
    """

    def parameter(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() == _GETVARIABLE:
            (name,) = node.expressions
            return exp.Placeholder(this=name.name)
        return node

    trees = sqlglot.parse(sql, read="duckdb")
    return ";\n".join(
        tree.transform(parameter).sql("spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
        for tree in trees
        if tree is not None
    )
