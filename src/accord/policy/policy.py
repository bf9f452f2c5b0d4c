"""The policy: the firewall, enforcement purposes, cohorts and admission rules, as data.

The policy sits above every agreement.  It names the data categories that may never
reach an enforcement purpose (the firewall), the purposes that count as enforcement,
the cohorts (named predicates over a person's derived state, see
:mod:`accord.policy.compile`) and the admission rules that decide who enters the
refusal pool, each with the reason code a person will later see.

Safe defaults are built in (:data:`DEFAULT_DOCUMENT`, documented in
``accord/data/policy.yaml``).  A policy file replaces a top-level section only when it
names it; a section it leaves out keeps the built-in default, so a policy file can
never weaken the firewall by forgetting it.  Weakening it on purpose is possible, but
:func:`accord.policy.lint.lint_policy` reports it and recording the policy logs it.

Predicates are written as data, never as SQL::

    {field: leave, op: in, value: [indefinite, citizen]}
    {field: leave_expiry, op: ">=", value: $as_of}
    {field: departure_date, op: ">=", other: latest_decision_date}
    {field: age_years, op: ">", value: 30}
    {cohort: arrived_before_1973}
    {all: [...]}  {any: [...]}  {not: {...}}

A comparison with an unknown (NULL) value is false; ``not`` of it is true.  Values that
start with ``$`` name ``$as_of`` (the date the decision is made as of) or a policy
parameter (``$long_residence_years``).
"""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

from accord.errors import InputError, Problem
from accord.policy.documents import content_sha256, problems_from, read_yaml
from accord.vocab import EventType, Reason, RuleOutcome

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Scalar = str | int | float | bool | dt.date

AS_OF = "$as_of"
MANUAL_CHECK_APPROVED = Reason.MANUAL_CHECK_APPROVED
MANUAL_CHECK_REJECTED = Reason.MANUAL_CHECK_REJECTED
RESERVED_CODES = frozenset({MANUAL_CHECK_APPROVED, MANUAL_CHECK_REJECTED})


class FieldType(StrEnum):
    TEXT = "text"
    DATE = "date"
    INT = "number"
    YEARS = "years"  # a span of years between two dates, exact to the day


PERSON_FIELDS: dict[str, FieldType] = {
    "family_name": FieldType.TEXT,
    "given_names": FieldType.TEXT,
    "date_of_birth": FieldType.DATE,
    "nationality": FieldType.TEXT,
    "postcode": FieldType.TEXT,
    "arrival_date": FieldType.DATE,
    "latest_decision": FieldType.TEXT,
    "latest_decision_date": FieldType.DATE,
    "decision_category": FieldType.TEXT,
    "refusal_reason": FieldType.TEXT,
    "appeal_status": FieldType.TEXT,
    "leave": FieldType.TEXT,
    "leave_expiry": FieldType.DATE,
    "departure_date": FieldType.DATE,
    "leave_granted_date": FieldType.DATE,
    "overturned_date": FieldType.DATE,
    "decisions": FieldType.INT,
    "adverse_decisions": FieldType.INT,
    "departures_before_decision": FieldType.INT,
    "dob_distinct": FieldType.INT,
    "nationality_distinct": FieldType.INT,
    "age_years": FieldType.YEARS,
    "years_since_arrival": FieldType.YEARS,
    "residence_years_at_decision": FieldType.YEARS,
}
"""The fields of ``person_state`` a predicate may use, with their types."""

YEARS_FIELDS: dict[str, tuple[str, str]] = {
    "age_years": ("date_of_birth", AS_OF),
    "years_since_arrival": ("arrival_date", AS_OF),
    "residence_years_at_decision": ("arrival_date", "latest_decision_date"),
}
"""Each span-of-years field as (from date column, to date column or ``$as_of``)."""

Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null"]
ORDERED_OPS = frozenset({"<", "<=", ">", ">="})
LIST_OPS = frozenset({"in", "not in"})
NULL_OPS = frozenset({"is null", "is not null"})


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _as_date(value: Scalar) -> Scalar:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Condition(_Strict):
    """Compare one field of a person's state with a value or with another field."""

    field: str
    op: Op
    value: Scalar | list[Scalar] | None = None
    other: str | None = None

    @field_validator("value", mode="after")
    @classmethod
    def _iso_dates(cls, value: Scalar | list[Scalar] | None) -> Scalar | list[Scalar] | None:
        """A quoted ISO date (as JSON stores one) is a date."""
        if isinstance(value, list):
            return [_as_date(v) for v in value]
        return None if value is None else _as_date(value)


class CohortRef(_Strict):
    cohort: str


class AllOf(_Strict):
    all_: list[Predicate] = Field(alias="all", min_length=1)


class AnyOf(_Strict):
    any_: list[Predicate] = Field(alias="any", min_length=1)


class NotOf(_Strict):
    not_: Predicate = Field(alias="not")


_KINDS: dict[str, type[BaseModel]] = {
    "<all>": AllOf,
    "<any>": AnyOf,
    "<not>": NotOf,
    "<cohort>": CohortRef,
    "<field>": Condition,
}


def _predicate_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for tag in _KINDS:
            if tag[1:-1] in value:
                return tag
        return None
    for tag, cls in _KINDS.items():
        if isinstance(value, cls):
            return tag
    return None


Predicate = Annotated[
    Annotated[AllOf, Tag("<all>")]
    | Annotated[AnyOf, Tag("<any>")]
    | Annotated[NotOf, Tag("<not>")]
    | Annotated[CohortRef, Tag("<cohort>")]
    | Annotated[Condition, Tag("<field>")],
    Discriminator(
        _predicate_kind,
        custom_error_type="predicate",
        custom_error_message="a predicate is a mapping with one of the keys field, cohort, "
        "all, any or not",
    ),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


class Cohort(_Strict):
    """A named group of people, e.g. those who arrived before 1973."""

    description: str = Field(min_length=1)
    when: Predicate


class AdmissionRule(_Strict):
    """One reason a person is kept out of the pool, quarantined or checked by hand first."""

    code: Code
    outcome: Literal[RuleOutcome.EXCLUDE, RuleOutcome.QUARANTINE, RuleOutcome.MANUAL_CHECK]
    description: str = Field(min_length=1)
    when: Predicate


class DataCategory(_Strict):
    """Where data comes from, and which fields such a source can provide."""

    description: str = Field(min_length=1)
    fields: list[str]


class Policy(_Strict):
    protected_categories: list[Code]
    enforcement_purposes: list[Annotated[str, Field(min_length=1, max_length=64)]]
    recipients: list[Code]
    data_categories: dict[Code, DataCategory]
    parameters: dict[Code, Scalar]
    cohorts: dict[Code, Cohort]
    admission_rules: list[AdmissionRule]

    def is_enforcement(self, purpose: str) -> bool:
        """Whether ``purpose`` matches an enforcement pattern (shell-style: ``*_enforcement``)."""
        return any(fnmatch.fnmatchcase(purpose, p) for p in self.enforcement_purposes)

    def is_protected(self, category: str) -> bool:
        return category in self.protected_categories

    @property
    def long_residence_years(self) -> int:
        value = self.parameters["long_residence_years"]
        assert isinstance(value, int)
        return value

    def document(self) -> dict[str, Any]:
        """The policy as a JSON-ready document (what is stored and hashed)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @property
    def sha256(self) -> str:
        return content_sha256(self.document())


# --- the built-in defaults ------------------------------------------------------------------

_IDENTITY = ["family_name", "given_names", "date_of_birth", "nationality", "postcode"]
_ADVERSE = ["refusal", "curtailment", "revocation"]

DEFAULT_DOCUMENT: dict[str, Any] = {
    "protected_categories": ["health", "education", "victim_or_witness"],
    "enforcement_purposes": ["*_enforcement"],
    "recipients": ["dvla", "hmrc", "bank"],
    "data_categories": {
        "immigration_casework": {
            "description": "The source body's own casework: decisions and what it recorded.",
            "fields": [
                *_IDENTITY,
                "decision",
                "decision_date",
                "refusal_reason",
                "appeal_status",
                "leave",
                "leave_expiry",
                "arrival_date",
                "departure_date",
            ],
        },
        "health": {
            "description": "Information received from health services.",
            "fields": list(_IDENTITY),
        },
        "education": {
            "description": "Information received from schools, colleges and universities.",
            "fields": list(_IDENTITY),
        },
        "victim_or_witness": {
            "description": "Information from people who reported a crime or were witnesses.",
            "fields": list(_IDENTITY),
        },
        "derived_score": {
            "description": "Scores computed about a person (F8): shared only with an impact "
            "assessment, a retention limit, the person's role, and human review before "
            "adverse use.",
            "fields": [
                *_IDENTITY,
                "score_kind",
                "score_value",
                "score_explanation",
                "score_role",
            ],
        },
    },
    "parameters": {"long_residence_years": 20},
    "cohorts": {
        "age_over_30": {
            "description": "Older than 30 on the as-of date (past their 30th birthday).",
            "when": {"field": "age_years", "op": ">", "value": 30},
        },
        "arrived_before_1973": {
            "description": "Earliest recorded arrival before 1 January 1973, when the "
            "Immigration Act 1971 came into force.",
            "when": {"field": "arrival_date", "op": "<", "value": dt.date(1973, 1, 1)},
        },
        "long_residence": {
            "description": "Evidence of long_residence_years or more of continuous residence "
            "before the latest decision: arrival at least that long before it and no "
            "recorded departure in between.",
            "when": {
                "all": [
                    {
                        "field": "residence_years_at_decision",
                        "op": ">=",
                        "value": "$long_residence_years",
                    },
                    {"field": "departures_before_decision", "op": "=", "value": 0},
                ]
            },
        },
    },
    "admission_rules": [
        {
            "code": "no_adverse_decision",
            "outcome": RuleOutcome.EXCLUDE,
            "description": "The latest decision is not a refusal, curtailment or revocation.",
            "when": {"not": {"field": "latest_decision", "op": "in", "value": _ADVERSE}},
        },
        {
            "code": "current_leave",
            "outcome": RuleOutcome.EXCLUDE,
            "description": "Holds leave now: indefinite leave, citizenship, or limited leave "
            "that has not expired.",
            "when": {
                "any": [
                    {"field": "leave", "op": "in", "value": ["indefinite", "citizen"]},
                    {
                        "all": [
                            {"field": "leave", "op": "=", "value": "limited"},
                            {
                                "any": [
                                    {"field": "leave_expiry", "op": "is null"},
                                    {"field": "leave_expiry", "op": ">=", "value": AS_OF},
                                ]
                            },
                        ]
                    },
                ]
            },
        },
        {
            "code": EventType.LEAVE_GRANTED,
            "outcome": RuleOutcome.EXCLUDE,
            "description": "Leave was granted after the latest decision (a leave_granted event).",
            "when": {"field": "leave_granted_date", "op": ">=", "other": "latest_decision_date"},
        },
        {
            "code": EventType.DECISION_OVERTURNED,
            "outcome": RuleOutcome.EXCLUDE,
            "description": "The latest decision was overturned (a decision_overturned event).",
            "when": {"field": "overturned_date", "op": ">=", "other": "latest_decision_date"},
        },
        {
            "code": "procedural_refusal",
            "outcome": RuleOutcome.EXCLUDE,
            "description": "Refused for a procedural reason (fee not paid, incomplete or "
            "invalid application), which says nothing about the right to be here.",
            "when": {
                "all": [
                    {"field": "latest_decision", "op": "=", "value": "refusal"},
                    {
                        "field": "refusal_reason",
                        "op": "in",
                        "value": [
                            "fee_not_paid",
                            "incomplete_application",
                            "invalid_application",
                        ],
                    },
                ]
            },
        },
        {
            "code": "appeal_pending",
            "outcome": RuleOutcome.EXCLUDE,
            "description": "An appeal is pending or may still be brought in time.",
            "when": {"field": "appeal_status", "op": "in", "value": ["pending", "in_time"]},
        },
        {
            "code": "appeal_allowed",
            "outcome": RuleOutcome.EXCLUDE,
            "description": "The appeal against the latest decision was allowed.",
            "when": {"field": "appeal_status", "op": "=", "value": "allowed"},
        },
        {
            "code": "departed",
            "outcome": RuleOutcome.EXCLUDE,
            "description": "A departure from the country is recorded after the latest decision.",
            "when": {"field": "departure_date", "op": ">=", "other": "latest_decision_date"},
        },
        {
            "code": "missing_name",
            "outcome": RuleOutcome.QUARANTINE,
            "description": "No name is recorded (neither a family name nor given names), so "
            "the person cannot be identified.",
            "when": {
                "all": [
                    {"field": "family_name", "op": "is null"},
                    {"field": "given_names", "op": "is null"},
                ]
            },
        },
        {
            "code": "contradictory_date_of_birth",
            "outcome": RuleOutcome.QUARANTINE,
            "description": "Different dates of birth are recorded for the same person.",
            "when": {"field": "dob_distinct", "op": ">", "value": 1},
        },
        {
            "code": "arrived_before_1973",
            "outcome": RuleOutcome.MANUAL_CHECK,
            "description": "Arrived before 1973: likely settled under the Immigration Act "
            "1971; two reviewers must confirm before admission.",
            "when": {"cohort": "arrived_before_1973"},
        },
        {
            "code": "long_residence",
            "outcome": RuleOutcome.MANUAL_CHECK,
            "description": "Long continuous residence before the decision: two reviewers must "
            "confirm before admission.",
            "when": {"cohort": "long_residence"},
        },
    ],
}
"""The built-in policy, equal to the documented ``accord/data/policy.yaml``."""


# --- structural checks ------------------------------------------------------------------------


def _walk(pred: BaseModel, path: str) -> Iterator[tuple[str, BaseModel]]:
    yield path, pred
    if isinstance(pred, AllOf):
        for i, p in enumerate(pred.all_):
            yield from _walk(p, f"{path}.all[{i}]")
    elif isinstance(pred, AnyOf):
        for i, p in enumerate(pred.any_):
            yield from _walk(p, f"{path}.any[{i}]")
    elif isinstance(pred, NotOf):
        yield from _walk(pred.not_, f"{path}.not")


def predicates(policy: Policy) -> Iterator[tuple[str, BaseModel]]:
    """Every predicate node in the policy with its dotted location."""
    for name, cohort in policy.cohorts.items():
        yield from _walk(cohort.when, f"cohorts.{name}.when")
    for i, rule in enumerate(policy.admission_rules):
        yield from _walk(rule.when, f"admission_rules[{i}].when")


def resolve(value: Scalar, policy: Policy) -> Scalar | None:
    """A parameter reference (``$name``) replaced by its value; ``$as_of`` is kept."""
    if isinstance(value, str) and value.startswith("$") and value != AS_OF:
        return policy.parameters.get(value[1:])
    return value


def _value_type(value: Scalar) -> FieldType | None:
    if value == AS_OF or isinstance(value, dt.date):
        return FieldType.DATE
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return FieldType.INT  # numbers compare with numbers
    return FieldType.TEXT


def _condition_problems(c: Condition, policy: Policy) -> list[tuple[str, str]]:
    """(sub-location, message) for each thing wrong with one condition."""
    out: list[tuple[str, str]] = []
    ftype = PERSON_FIELDS.get(c.field)
    if ftype is None:
        return [("field", f"unknown field {c.field!r}; known: {', '.join(PERSON_FIELDS)}")]
    if c.op in NULL_OPS:
        if c.value is not None or c.other is not None:
            out.append(("value", f"{c.op!r} takes no value"))
        return out
    if (c.value is None) == (c.other is None):
        return [("value", f"{c.op!r} needs exactly one of value or other")]
    if ftype is FieldType.YEARS and c.op not in ORDERED_OPS:
        out.append(("op", f"{c.field} is a span of years: use <, <=, > or >="))
    if ftype is FieldType.TEXT and c.op in ORDERED_OPS:
        out.append(("op", f"{c.field} is text: use =, !=, in or not in"))
    if c.other is not None:
        otype = PERSON_FIELDS.get(c.other)
        if otype is None:
            out.append(("other", f"unknown field {c.other!r}"))
        elif ftype is FieldType.YEARS or otype is FieldType.YEARS:
            out.append(("other", "a span of years compares with a number, not a field"))
        elif c.op in LIST_OPS:
            out.append(("op", f"{c.op!r} compares with a list of values, not a field"))
        elif otype is not ftype:
            out.append(("other", f"{c.field} is {ftype} but {c.other} is {otype}"))
        return out
    values = c.value if isinstance(c.value, list) else [c.value]
    if (c.op in LIST_OPS) != isinstance(c.value, list):
        out.append(("value", f"{c.op!r} needs {'a list' if c.op in LIST_OPS else 'one value'}"))
    want = FieldType.INT if ftype is FieldType.YEARS else ftype
    for v in values:
        assert v is not None
        resolved = resolve(v, policy)
        if resolved is None or (
            isinstance(resolved, str) and resolved.startswith("$") and resolved != AS_OF
        ):
            out.append(("value", f"unknown reference {v!r}; use $as_of or a parameter"))
        elif _value_type(resolved) is not want:
            out.append(("value", f"{v!r} is not a {want} value, as {c.field} needs"))
        elif ftype is FieldType.YEARS and (
            not isinstance(resolved, int) or isinstance(resolved, bool)
        ):
            out.append(("value", "a span of years compares with a whole number of years"))
    return out


def _cohort_cycles(policy: Policy) -> list[str]:
    uses: dict[str, set[str]] = {}
    for name, cohort in policy.cohorts.items():
        uses[name] = {
            n.cohort for _, n in _walk(cohort.when, "") if isinstance(n, CohortRef)
        } & set(policy.cohorts)
    cyclic: list[str] = []
    for start in policy.cohorts:
        seen: set[str] = set()
        stack = list(uses[start])
        while stack:
            cur = stack.pop()
            if cur == start:
                cyclic.append(start)
                break
            if cur not in seen:
                seen.add(cur)
                stack.extend(uses[cur])
    return cyclic


def structural_problems(policy: Policy, file: str) -> list[Problem]:
    """What makes a policy impossible to apply: unknown fields or cohorts, cycles, bad types."""
    problems: list[Problem] = []
    for path, node in predicates(policy):
        if isinstance(node, CohortRef) and node.cohort not in policy.cohorts:
            known = ", ".join(policy.cohorts) or "none"
            problems.append(
                Problem(
                    file, None, f"{path}.cohort", f"unknown cohort {node.cohort!r}; known: {known}"
                )
            )
        elif isinstance(node, Condition):
            for sub, msg in _condition_problems(node, policy):
                problems.append(Problem(file, None, f"{path}.{sub}", msg))
    for name in _cohort_cycles(policy):
        problems.append(Problem(file, None, f"cohorts.{name}", "the cohort refers to itself"))
    seen: set[str] = set()
    for i, rule in enumerate(policy.admission_rules):
        if rule.code in seen:
            problems.append(
                Problem(
                    file, None, f"admission_rules[{i}].code", f"code {rule.code!r} is used twice"
                )
            )
        if rule.code in RESERVED_CODES:
            problems.append(
                Problem(
                    file,
                    None,
                    f"admission_rules[{i}].code",
                    f"{rule.code!r} is reserved for manual-check outcomes",
                )
            )
        seen.add(rule.code)
    years = policy.parameters.get("long_residence_years")
    if not isinstance(years, int) or isinstance(years, bool) or years < 1:
        problems.append(
            Problem(
                file,
                None,
                "parameters.long_residence_years",
                "must be a whole number of years, 1 or more",
            )
        )
    return problems


# --- loading ------------------------------------------------------------------------------------


def parse_policy(document: Any, file: str = "<policy>") -> Policy:
    """A policy from a document (sections it leaves out keep the built-in defaults)."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InputError.single(file, "a policy file is a mapping of sections (see docs/policy.md)")
    merged = {**copy.deepcopy(DEFAULT_DOCUMENT), **document}
    try:
        policy = Policy.model_validate(merged)
    except ValidationError as exc:
        raise InputError(problems_from(exc, file)) from None
    problems = structural_problems(policy, file)
    if problems:
        raise InputError(problems)
    return policy


def default_policy() -> Policy:
    """The built-in safe defaults."""
    return parse_policy({}, "<built-in policy>")


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path``, or the built-in safe defaults when ``path`` is None."""
    if path is None:
        return default_policy()
    return parse_policy(read_yaml(path), str(path))
