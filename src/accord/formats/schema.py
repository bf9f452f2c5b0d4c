"""The interchange formats of SPEC.md as data: one place that says what each file holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pycountry

from accord.vocab import EventType


class Kind(StrEnum):
    ID = "id"  # non-empty identifier
    NAME = "name"  # a person's name: any script, no control characters
    TEXT = "text"  # free text
    DATE = "date"  # ISO YYYY-MM-DD
    ENUM = "enum"
    COUNTRY = "country"  # ISO 3166-1 alpha-3
    POSTCODE = "postcode"
    NUMBER = "number"  # a finite decimal number
    JSON = "json"  # a JSON object holding at least the column's ``keys``


@dataclass(frozen=True)
class Column:
    """One column.  ``required``: the column must be there, and (unless ``may_be_empty``)
    every row must give it a value (a person's name parts may each be empty: see
    :data:`NAMES`)."""

    name: str
    kind: Kind
    required: bool = False
    values: tuple[str, ...] = ()
    max_bytes: int = 256
    keys: tuple[str, ...] = ()  # for Kind.JSON: the keys the object must have, non-empty
    may_be_empty: bool = False


@dataclass(frozen=True)
class FileFormat:
    name: str
    columns: tuple[Column, ...]
    unique: str | None = None  # column whose values must be unique in the file
    date_columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        dates = tuple(c.name for c in self.columns if c.kind is Kind.DATE)
        object.__setattr__(self, "date_columns", dates)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


DECISIONS = ("grant", "refusal", "curtailment", "revocation", "information")
PROCEDURAL_REFUSALS = ("fee_not_paid", "incomplete_application", "invalid_application")
REFUSAL_REASONS = (*PROCEDURAL_REFUSALS, "eligibility", "suitability", "deception", "criminality")
APPEAL_STATUSES = ("none", "in_time", "pending", "allowed", "dismissed", "exhausted")
LEAVE = ("none", "limited", "indefinite", "citizen")
EVENT_TYPES = tuple(EventType)
ACTIONS = ("revoked", "stopped", "closed", "refused", "none", "reinstated", "restored", "reopened")
ADVERSE_ACTIONS = ("revoked", "stopped", "closed", "refused")
REVERSAL_ACTIONS = ("reinstated", "restored", "reopened")
DEFAULT_DATA_CATEGORY = "immigration_casework"

# ISO 3166-1 alpha-3 from pycountry, plus the codes ICAO Doc 9303 uses on travel documents
# for people a state code does not fit (stateless, refugee, unspecified, British variants,
# UN and Kosovo documents).  A caseworking system records these as nationalities.
TRAVEL_DOCUMENT_CODES = (
    "XXA", "XXB", "XXC", "XXX", "GBD", "GBN", "GBO", "GBP", "GBS",
    "UNO", "UNA", "UNK", "XOM", "XPO", "XBA", "XIM", "XCC", "XES", "EUE", "RKS",
)  # fmt: skip
COUNTRY_CODES = tuple(sorted({c.alpha_3 for c in pycountry.countries} | set(TRAVEL_DOCUMENT_CODES)))

NAME_MAX_BYTES = 1024
# Either may be empty (a person with one name).  SPEC.md says "not both"; Accord takes a
# row with neither too, so that a file is never refused whole for one nameless row: a
# person no row names is quarantined at admission (missing_name), and a nameless register
# record can only ever be compared on its date of birth and postcode.
NAMES = ("family_name", "given_names")
# The name columns of a case and of a register record alike.
NAME_COLUMNS = tuple(
    Column(name, Kind.NAME, required=True, max_bytes=NAME_MAX_BYTES, may_be_empty=True)
    for name in NAMES
)
TEXT_MAX_BYTES = 64 * 1024

CASES = FileFormat(
    "cases",
    (
        Column("case_id", Kind.ID, required=True, max_bytes=64),
        Column("person_id", Kind.ID, required=True, max_bytes=64),
        *NAME_COLUMNS,
        Column("date_of_birth", Kind.DATE),
        Column("nationality", Kind.COUNTRY, values=COUNTRY_CODES),
        Column("postcode", Kind.POSTCODE, max_bytes=16),
        Column("decision", Kind.ENUM, required=True, values=DECISIONS),
        Column("decision_date", Kind.DATE, required=True),
        Column("refusal_reason", Kind.ENUM, values=REFUSAL_REASONS),
        Column("appeal_status", Kind.ENUM, values=APPEAL_STATUSES),
        Column("leave", Kind.ENUM, values=LEAVE),
        Column("leave_expiry", Kind.DATE),
        Column("arrival_date", Kind.DATE),
        Column("departure_date", Kind.DATE),
        Column("data_category", Kind.ID, max_bytes=64),
    ),
    unique="case_id",
)

REGISTER = FileFormat(
    "register",
    (
        Column("record_id", Kind.ID, required=True, max_bytes=64),
        *NAME_COLUMNS,
        Column("date_of_birth", Kind.DATE),
        Column("postcode", Kind.POSTCODE, max_bytes=16),
        Column("since", Kind.DATE),
    ),
    unique="record_id",
)

EVENTS = FileFormat(
    "events",
    (
        Column("event_id", Kind.ID, required=True, max_bytes=64),
        Column("person_id", Kind.ID, required=True, max_bytes=64),
        Column("event_type", Kind.ENUM, required=True, values=EVENT_TYPES),
        Column("event_date", Kind.DATE, required=True),
        Column("detail", Kind.TEXT, max_bytes=TEXT_MAX_BYTES),
    ),
    unique="event_id",
)

ACTIONS_FORMAT = FileFormat(
    "actions",
    (
        Column("disclosure_id", Kind.ID, required=True, max_bytes=64),
        Column("action", Kind.ENUM, required=True, values=ACTIONS),
        Column("action_date", Kind.DATE, required=True),
    ),
)

SCORE_ROLES = ("subject", "victim", "witness")
EXPLANATION_KEYS = ("inputs", "method")

# Derived scores (F8): not one of SPEC.md's formats, the same conventions (docs/scores.md).
SCORES = FileFormat(
    "scores",
    (
        Column("score_id", Kind.ID, required=True, max_bytes=64),
        Column("person_id", Kind.ID, required=True, max_bytes=64),
        Column("kind", Kind.ID, required=True, max_bytes=64),
        Column("value", Kind.NUMBER, required=True, max_bytes=64),
        Column("role", Kind.ENUM, required=True, values=SCORE_ROLES),
        Column("computed_at", Kind.DATE, required=True),
        Column(
            "explanation",
            Kind.JSON,
            required=True,
            max_bytes=TEXT_MAX_BYTES,
            keys=EXPLANATION_KEYS,
        ),
    ),
    unique="score_id",
)

FORMATS: dict[str, FileFormat] = {
    f.name: f for f in (CASES, REGISTER, EVENTS, ACTIONS_FORMAT, SCORES)
}
