"""Cohorts and admission rules compiled to SQL, so they run set-based over millions of people.

Every predicate of the policy becomes a boolean SQL expression over the columns of
``person_state`` (see :func:`accord.admission.derive_person_state`).  The SQL is
DuckDB's dialect and uses nothing beyond what :func:`to_spark` can transpile with
sqlglot, so the same policy can run where the data lives.

The as-of date: with ``as_of`` given, it is the literal ``DATE 'YYYY-MM-DD'``; without it,
the SQL uses the named parameter ``$as_of`` (DuckDB: ``con.execute(sql, {"as_of": day})``;
Spark: ``:as_of``).  A span of years compares by calendar arithmetic, exact to the day:
``age_years > 30`` is ``date_of_birth < as_of - INTERVAL 30 YEAR``.

A comparison with NULL is FALSE, never NULL, so ``not`` behaves as a person reads it.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import sqlglot
from pydantic import BaseModel

from accord.policy.policy import (
    AS_OF,
    LIST_OPS,
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


def as_of_sql(as_of: dt.date | None) -> str:
    """The as-of date in SQL: a literal, or the named parameter ``$as_of``."""
    if as_of is None:
        return "CAST($as_of AS DATE)"
    return f"DATE '{as_of.isoformat()}'"


def literal(value: Scalar, as_of: dt.date | None) -> str:
    if value == AS_OF:
        return as_of_sql(as_of)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _years(c: Condition, policy: Policy, as_of: dt.date | None) -> str:
    """``years(from -> to) OP n`` as date arithmetic on ``from`` (exact to the day)."""
    start, end = YEARS_FIELDS[c.field]
    assert c.value is not None and not isinstance(c.value, list)
    years = resolve(c.value, policy)
    assert isinstance(years, int)
    anchor = as_of_sql(as_of) if end == AS_OF else _ident(end)
    # More years between start and anchor means an earlier start: the comparison flips.
    return f"coalesce({_ident(start)} {_FLIP[c.op]} {anchor} - INTERVAL {years} YEAR, FALSE)"


def _condition(c: Condition, policy: Policy, as_of: dt.date | None) -> str:
    if c.field in YEARS_FIELDS:
        return _years(c, policy, as_of)
    col = _ident(c.field)
    if c.op == "is null":
        return f"({col} IS NULL)"
    if c.op == "is not null":
        return f"({col} IS NOT NULL)"
    if c.other is not None:
        rhs = _ident(c.other)
    elif c.op in LIST_OPS:
        assert isinstance(c.value, list)
        rhs = "(" + ", ".join(literal(_resolved(v, policy), as_of) for v in c.value) + ")"
    else:
        assert c.value is not None and not isinstance(c.value, list)
        rhs = literal(_resolved(c.value, policy), as_of)
    op = "<>" if c.op == "!=" else c.op.upper()
    return f"coalesce({col} {op} {rhs}, FALSE)"


def _resolved(value: Scalar, policy: Policy) -> Scalar:
    out = resolve(value, policy)
    assert out is not None
    return out


def predicate_sql(pred: BaseModel, policy: Policy, as_of: dt.date | None = None) -> str:
    """One predicate as a SQL boolean expression that is never NULL."""
    if isinstance(pred, Condition):
        return _condition(pred, policy, as_of)
    if isinstance(pred, CohortRef):
        return predicate_sql(policy.cohorts[pred.cohort].when, policy, as_of)
    if isinstance(pred, AllOf):
        return "(" + " AND ".join(predicate_sql(p, policy, as_of) for p in pred.all_) + ")"
    if isinstance(pred, AnyOf):
        return "(" + " OR ".join(predicate_sql(p, policy, as_of) for p in pred.any_) + ")"
    if isinstance(pred, NotOf):
        return f"(NOT {predicate_sql(pred.not_, policy, as_of)})"
    raise TypeError(f"not a predicate: {pred!r}")


def cohort_predicates(policy: Policy, as_of: dt.date | None = None) -> dict[str, str]:
    """Each cohort as a SQL boolean expression over ``person_state`` columns."""
    return {name: predicate_sql(c.when, policy, as_of) for name, c in policy.cohorts.items()}


def rules_sql(policy: Policy, as_of: dt.date | None = None, source: str = "person_state") -> str:
    """A query giving, per person, the rules' outcome and the reason codes of each kind.

    Columns: ``person_id``; ``outcome`` (``excluded`` beats ``manual_check`` beats
    ``quarantined`` beats ``admitted``); ``exclude_reasons``, ``manual_reasons`` and
    ``quarantine_reasons``, each the matching rule codes in policy order, comma-separated
    (empty when none).
    """
    flags = [
        f"{predicate_sql(r.when, policy, as_of)} AS {_ident('rule_' + r.code)}"
        for r in policy.admission_rules
    ]

    def kind(outcome: str) -> tuple[str, str]:
        codes = [r.code for r in policy.admission_rules if r.outcome == outcome]
        if not codes:
            return "FALSE", "''"
        any_ = " OR ".join(_ident("rule_" + c) for c in codes)
        parts = ", ".join(f"CASE WHEN {_ident('rule_' + c)} THEN '{c}' END" for c in codes)
        return f"({any_})", f"concat_ws(',', {parts})"

    ex_any, ex_list = kind(RuleOutcome.EXCLUDE)
    mc_any, mc_list = kind(RuleOutcome.MANUAL_CHECK)
    q_any, q_list = kind(RuleOutcome.QUARANTINE)
    flag_list = ", ".join(["person_id", *flags])
    return (
        f"SELECT person_id, "
        f"CASE WHEN {ex_any} THEN {sql_word(PoolStatus.EXCLUDED)} "
        f"WHEN {mc_any} THEN {sql_word(PoolStatus.MANUAL_CHECK)} "
        f"WHEN {q_any} THEN {sql_word(PoolStatus.QUARANTINED)} "
        f"ELSE {sql_word(PoolStatus.ADMITTED)} END AS outcome, "
        f"{ex_list} AS exclude_reasons, {mc_list} AS manual_reasons, "
        f"{q_list} AS quarantine_reasons "
        f"FROM (SELECT {flag_list} FROM {source}) AS flags"
    )


def cohort_membership_sql(
    policy: Policy, as_of: dt.date | None = None, source: str = "person_state"
) -> str:
    """A query of (person_id, cohort): one row per person per cohort they belong to."""
    parts = [
        f"SELECT person_id, '{name}' AS cohort FROM {source} WHERE {pred}"
        for name, pred in cohort_predicates(policy, as_of).items()
    ]
    if not parts:
        return "SELECT CAST(NULL AS VARCHAR) AS person_id, CAST(NULL AS VARCHAR) AS cohort LIMIT 0"
    return " UNION ALL ".join(parts)


def evaluate_rules(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    as_of: dt.date,
    source: str = "person_state",
    target: str = "rule_outcomes",
) -> str:
    """Materialise :func:`rules_sql` as the DuckDB table ``target``; returns its name."""
    con.execute(f"CREATE OR REPLACE TABLE {target} AS {rules_sql(policy, as_of, source)}")
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
    cohorts for those people only; ``materialize=True`` makes it a table.
    """
    kind = "TABLE" if materialize else "VIEW"
    con.execute(f"DROP {'VIEW' if materialize else 'TABLE'} IF EXISTS {target}")
    con.execute(
        f"CREATE OR REPLACE {kind} {target} AS {cohort_membership_sql(policy, as_of, source)}"
    )
    return target


def to_spark(sql: str) -> str:
    """The same SQL in Spark's dialect (sqlglot), for running the policy next to the data."""
    out = sqlglot.transpile(
        sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
    )
    return ";\n".join(out)
