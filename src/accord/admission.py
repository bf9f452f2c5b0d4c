"""Admission to the refusal pool: only when the data says a person qualifies (F1, F2, F3).

The old refusal pool took every negative decision automatically, wrong ones included.
Here a person enters the pool only when the policy's admission rules say so, and
everyone kept out is kept out with reason codes:

1. **Person state** is derived set-based from the case history (:func:`derive_person_state`):
   the latest decision, the leave held and its expiry, the appeal status, departures,
   arrival, identity fields - each identity value with the case row and data category
   it came from, so that the firewall can refuse a value by its source.
2. **Rules** (compiled from the policy, :mod:`accord.policy.compile`) give each person an
   outcome and reasons: excluded, quarantined (missing or contradictory identity data),
   manual_check (a protected cohort: two reviewers must approve first) or admitted.
3. **The pool** is written to ``pool_entries``, with ``pool_history`` whenever a person's
   status or reasons change, and a ``manual_check`` review item (``MC-<person_id>``,
   two approvals needed) for each person the rules route to a manual check.  An approved
   item admits the person on the next run; a rejected one excludes them.

A **candidate** is a person with at least one adverse decision (refusal, curtailment or
revocation) on or before the as-of date: everyone the old pool would have taken.

A person who was admitted and no longer qualifies is **withdrawn** (not merely
excluded), so that what was disclosed about them can be recalled; :func:`cleanse`
re-validates the admitted pool against the current data and events and does only that.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, bindparam, delete, or_, text, update

from accord import auditlog, pool
from accord.cases import (
    Background,
    IngestResult,
    ingest,
    insert_arrow,
    insert_query,
    load_cases,
    read_arrow,
    to_arrow,
)
from accord.clock import business_time
from accord.config import settings
from accord.formats.schema import CASES, DEFAULT_DATA_CATEGORY
from accord.policy.compile import bind, evaluate_rules, value_sql
from accord.policy.firewall import IDENTITY_FIELDS, PERSON_STATE, STATE_CASES
from accord.policy.policy import Policy, load_policy
from accord.store.db import connect
from accord.store.dialect import dialect_of
from accord.store.models import Person, ReviewItem
from accord.vocab import (
    CHALLENGE_KINDS,
    EventType,
    ItemStatus,
    PoolStatus,
    Reason,
    ReviewKind,
    sql_in,
    sql_word,
)

log = logging.getLogger(__name__)

WithdrawHook = Callable[[Connection, list[tuple[str, str]]], int]
"""Called in the same transaction with (person_id, reasons) withdrawn; e.g. recalls."""

MANUAL_CHECK_APPROVALS = 2
ADVERSE = ("refusal", "curtailment", "revocation")
STATUSES = tuple(PoolStatus)
# Vocabulary words as SQL string constants, for the SQL text below (accord.vocab.sql_word).
_ADMITTED = sql_word(PoolStatus.ADMITTED)
_EXCLUDED = sql_word(PoolStatus.EXCLUDED)
_QUARANTINED = sql_word(PoolStatus.QUARANTINED)
_MANUAL_CHECK = sql_word(PoolStatus.MANUAL_CHECK)
_WITHDRAWN = sql_word(PoolStatus.WITHDRAWN)
_REJECTED = sql_word(ItemStatus.REJECTED)
_APPROVED = sql_word(ItemStatus.APPROVED)
_OPEN = sql_word(ItemStatus.OPEN)
_MANUAL_CHECK_ITEM = sql_word(ReviewKind.MANUAL_CHECK)


@dataclass
class AdmissionResult:
    """What one admission (or cleansing) run decided.

    ``candidates`` counts people with at least one adverse decision on or before the
    as-of date (everyone the old pool would have taken).  ``excluded`` counts excluded
    people by reason code (a person excluded for two reasons counts under both);
    ``withdrawn`` lists (person_id, reason codes) of people admitted before who no
    longer qualify, so that their disclosures can be recalled.
    """

    run_id: str | None
    as_of: dt.date
    candidates: int = 0
    admitted: int = 0
    quarantined: int = 0
    manual_check: int = 0
    excluded_people: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    withdrawn: list[tuple[str, str]] = field(default_factory=list)
    manual_checks_queued: int = 0
    changed: int = 0
    cases: IngestResult | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase

    def summary(self) -> dict[str, Any]:
        """The ``pool`` section of ``summary.json`` (SPEC.md) and a little more."""
        return {
            "candidates": self.candidates,
            PoolStatus.ADMITTED: self.admitted,
            PoolStatus.QUARANTINED: self.quarantined,
            PoolStatus.MANUAL_CHECK: self.manual_check,
            PoolStatus.EXCLUDED: dict(sorted(self.excluded.items())),
            "excluded_people": self.excluded_people,
            PoolStatus.WITHDRAWN: len(self.withdrawn),
            "manual_checks_queued": self.manual_checks_queued,
        }


class _Clock:
    """Seconds per phase, kept in the result and logged at DEBUG level."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = now - self.last
        self.last = now
        log.debug("%s: %.2f s", phase, self.timings[phase])


# --- person state ----------------------------------------------------------------------------


def derive_person_state(
    con: duckdb.DuckDBPyConnection, cases: str, as_of: dt.date, events: str | None = None
) -> None:
    """Create the DuckDB table ``person_state``: one row per person, as of ``as_of``.

    ``cases`` names a relation with the cases columns of SPEC.md (as
    :func:`accord.formats.load` gives them), in which a case_id names one row (as in
    ``case_decisions``); ``events`` optionally one of applied events (person_id,
    event_type, event_date).  Rows and events dated after ``as_of`` are ignored, so a run
    can be replayed.  Also creates the view ``person_state_cases`` of the rows used (the
    firewall reads it); the view reads the as-of date from a DuckDB variable bound on
    ``con`` (:func:`accord.policy.compile.bind`), so query it on ``con``.

    Columns: person_id; the identity fields family_name, given_names, date_of_birth,
    nationality, postcode - each the latest non-empty value across all rows, with
    ``<field>_case_id`` and ``<field>_category`` saying where it came from, except that
    the two name parts are one value: both come from the latest row that records a name,
    so an empty part there (a person with one name) stays empty rather than being filled
    from an older row, which could give a one-name person their name twice; arrival_date
    (earliest recorded; ``arrival_case_id``, ``arrival_category``: the latest row that
    records it); latest_decision, latest_decision_date, decision_case_id,
    decision_category, refusal_reason, appeal_status (of the latest decision, ignoring
    ``information`` rows); leave and leave_expiry (the latest decision that records
    leave; ``leave_case_id``, ``leave_category``); departure_date (latest recorded, from
    rows or events; ``departure_case_id``, ``departure_category`` when a row recorded it,
    a row preferred to an event of the same day); leave_granted_date,
    overturned_date (latest such events); counts decisions, adverse_decisions,
    departures_before_decision, dob_distinct, nationality_distinct.

    "Latest" orders rows by decision_date, then case_id.  DuckDB aggregates over many
    text columns and sorts of whole rows are what cost here, so neither is done: one
    aggregation over narrow columns finds each role's winning case_id (``arg_max`` over
    the row's place in that order, a number), and one join reads the values off the
    winning row - off the latest row for most people, whose roles all fall on it, and
    off the few other winning rows only where a role falls elsewhere.  Distinct counts
    are counted only for people whose values differ at all (min <> max).
    """
    as_of_value = value_sql(as_of)  # a DuckDB variable: the view reads it when queried
    bind(con, as_of_value)
    day = as_of_value.sql
    cols = ", ".join(c for c in CASES.column_names if c != "data_category")
    con.execute(
        f"""
        CREATE OR REPLACE VIEW {STATE_CASES} AS
        SELECT {cols}, coalesce(data_category, 'immigration_casework') AS data_category
        FROM {cases} WHERE decision_date <= {day}
        """
    )
    decision = "decision <> 'information'"
    roles = {
        "top": "TRUE",
        "name": "has_name",  # the name as a pair: one part may be empty (one name)
        "latest": decision,
        "lv": f"{decision} AND leave IS NOT NULL",
        "dob": "date_of_birth IS NOT NULL",
        "nat": "nationality IS NOT NULL",
        "pc": "has_postcode",
    }
    adverse = ", ".join(f"'{d}'" for d in ADVERSE)
    winners = ", ".join(
        f"arg_max(case_id, k) FILTER (WHERE {cond}) AS c_{role}" for role, cond in roles.items()
    )
    # The earliest arrival, from the latest row that records it (most often the top row).
    winners += (
        ", arg_min(case_id, (arrival_date, -k)) FILTER (WHERE arrival_date IS NOT NULL) AS c_arr"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ps_keys AS
        SELECT person_id, {winners},
          min(arrival_date) AS arrival_date,
          max(decision_date) FILTER (WHERE {decision}) AS latest_decision_date,
          count(*) FILTER (WHERE {decision}) AS decisions,
          count(*) FILTER (WHERE decision IN ({adverse})) AS adverse_decisions,
          min(date_of_birth) AS dob_min, max(date_of_birth) AS dob_max,
          min(nationality) AS nat_min, max(nationality) AS nat_max
        FROM (SELECT person_id, case_id, decision, leave, date_of_birth, nationality,
                     postcode IS NOT NULL AS has_postcode,
                     family_name IS NOT NULL OR given_names IS NOT NULL AS has_name,
                     arrival_date, decision_date,
                     row_number() OVER (ORDER BY decision_date, case_id) AS k
              FROM {STATE_CASES})
        GROUP BY person_id
        """
    )
    sources = {  # column of person_state: (role, column of the role's winning row)
        alias: (role, column)
        for f, role in (
            ("family_name", "name"),
            ("given_names", "name"),
            ("date_of_birth", "dob"),
            ("nationality", "nat"),
            ("postcode", "pc"),
        )
        for alias, column in (
            (f, f),
            (f"{f}_case_id", "case_id"),
            (f"{f}_category", "data_category"),
        )
    } | {
        "latest_decision": ("latest", "decision"),
        "latest_decision_date": ("latest", "decision_date"),
        "decision_case_id": ("latest", "case_id"),
        "decision_category": ("latest", "data_category"),
        "refusal_reason": ("latest", "refusal_reason"),
        "appeal_status": ("latest", "appeal_status"),
        "leave": ("lv", "leave"),
        "leave_expiry": ("lv", "leave_expiry"),
        "leave_case_id": ("lv", "case_id"),
        "leave_category": ("lv", "data_category"),
        "arrival_case_id": ("arr", "case_id"),
        "arrival_category": ("arr", "data_category"),
    }

    def value(alias: str) -> str:
        role, column = sources[alias]
        if role == "top":
            return f"t.{column} AS {alias}"
        return (
            f"CASE WHEN a.c_{role} = a.c_top THEN t.{column} "
            f"WHEN a.c_{role} IS NOT NULL THEN o_{role}.{column} END AS {alias}"
        )

    others = [role for role in (*roles, "arr") if role != "top"]
    elsewhere = " UNION ALL ".join(
        f"SELECT c_{role} FROM _ps_keys WHERE c_{role} <> c_top" for role in others
    )
    joins = " ".join(f"LEFT JOIN _other o_{r} ON o_{r}.case_id = a.c_{r}" for r in others)
    if events:
        granted = sql_word(EventType.LEAVE_GRANTED)
        overturned = sql_word(EventType.DECISION_OVERTURNED)
        event_sql = f"""
            SELECT person_id,
              max(event_date) FILTER (WHERE event_type = {granted}) AS leave_granted_date,
              max(event_date) FILTER (WHERE event_type = {overturned}) AS overturned_date
            FROM {events} WHERE event_date <= {day} GROUP BY person_id"""
        event_departures = f"""
            UNION ALL SELECT person_id, event_date, NULL, NULL FROM {events}
            WHERE event_type = {sql_word(EventType.DEPARTURE_RECORDED)} AND event_date <= {day}"""
    else:
        event_sql = """SELECT CAST(NULL AS VARCHAR) AS person_id,
            CAST(NULL AS DATE) AS leave_granted_date, CAST(NULL AS DATE) AS overturned_date
            LIMIT 0"""
        event_departures = ""
    identity = ", ".join(
        value(alias) for f in IDENTITY_FIELDS for alias in (f, f"{f}_case_id", f"{f}_category")
    )
    latest = ", ".join(
        value(alias)
        for alias in (
            "latest_decision",
            "latest_decision_date",
            "decision_case_id",
            "decision_category",
            "refusal_reason",
            "appeal_status",
            "leave",
            "leave_expiry",
            "leave_case_id",
            "leave_category",
            "arrival_case_id",
            "arrival_category",
        )
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {PERSON_STATE} AS
        WITH _other AS (
            SELECT * FROM {STATE_CASES} WHERE case_id IN ({elsewhere})
        ),
        _departures AS (
            SELECT person_id, departure_date AS d, case_id, data_category FROM {STATE_CASES}
            WHERE departure_date IS NOT NULL AND departure_date <= {day}
            {event_departures}
        ),
        _dep AS (
            SELECT d.person_id, max(d.d) AS departure_date,
              arg_max_null(d.case_id, (d.d, coalesce(d.case_id, ''))) AS departure_case_id,
              arg_max_null(d.data_category, (d.d, coalesce(d.case_id, '')))
                AS departure_category,
              count(*) FILTER (WHERE d.d < a.latest_decision_date) AS departures_before_decision
            FROM _departures d JOIN _ps_keys a USING (person_id)
            GROUP BY d.person_id
        ),
        _distinct AS (
            SELECT person_id, count(DISTINCT date_of_birth) AS dob_distinct,
                   count(DISTINCT nationality) AS nationality_distinct
            FROM {STATE_CASES}
            WHERE person_id IN (SELECT person_id FROM _ps_keys
                                WHERE dob_min <> dob_max OR nat_min <> nat_max)
            GROUP BY person_id
        ),
        _ev AS ({event_sql})
        SELECT a.person_id, {identity},
          a.arrival_date, {latest},
          dep.departure_date, dep.departure_case_id, dep.departure_category,
          ev.leave_granted_date,
          ev.overturned_date,
          a.decisions,
          a.adverse_decisions,
          coalesce(dep.departures_before_decision, 0) AS departures_before_decision,
          CASE WHEN a.dob_min IS NULL THEN 0 WHEN a.dob_min = a.dob_max THEN 1
               ELSE x.dob_distinct END AS dob_distinct,
          CASE WHEN a.nat_min IS NULL THEN 0 WHEN a.nat_min = a.nat_max THEN 1
               ELSE x.nationality_distinct END AS nationality_distinct
        FROM _ps_keys a
        JOIN {STATE_CASES} t ON t.case_id = a.c_top
        {joins}
        LEFT JOIN _ev ev ON ev.person_id = a.person_id
        LEFT JOIN _dep dep ON dep.person_id = a.person_id
        LEFT JOIN _distinct x ON x.person_id = a.person_id
        """
    )
    con.execute("DROP TABLE _ps_keys")


# --- reading state from the governance database ------------------------------------------


def _load_inputs(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    cases: pa.Table | None,
    run_id: str | None,
    source: str,
    background: Background | None = None,
) -> IngestResult | None:
    """Fill DuckDB with the case history (ingesting ``cases`` first), events, prior state.

    The small tables are read before the case history: on SQLite each read that finds
    rows serialises a scratch database that keeps the size of the largest read before it.  With
    ``background``, the new case rows are written there.
    """
    _load_state(conn, con)
    load_cases(conn, con, "held_cases")
    result = None
    spec = ", ".join(CASES.column_names)
    every = f"SELECT {spec} FROM held_cases WHERE destroyed = 0"
    if cases is not None:
        result, inserted = ingest(conn, con, cases, "held_cases", run_id, source, background)
        every += f" UNION ALL SELECT {spec} FROM {inserted}"
    # A view: derive_person_state reads it a few times, which costs less than a copy.
    con.execute(f"CREATE OR REPLACE VIEW all_cases AS {every}")
    return result


def _load_state(conn: Connection, con: duckdb.DuckDBPyConnection) -> None:
    """Events applied, the pool as it stands and the review items admission depends on."""
    events = read_arrow(
        conn,
        "SELECT person_id, event_type, CAST(event_date AS TEXT) FROM events",
        {"person_id": pa.string(), "event_type": pa.string(), "event_date": pa.string()},
    )
    con.register("_events", events)
    con.execute(
        "CREATE OR REPLACE TABLE events_applied AS SELECT person_id, event_type, "
        "CAST(event_date AS DATE) AS event_date FROM _events"
    )
    con.unregister("_events")
    pool = read_arrow(
        conn,
        "SELECT person_id, status, CAST(reasons AS TEXT) FROM pool_entries",
        {"person_id": pa.string(), "status": pa.string(), "reasons": pa.string()},
    )
    con.register("_pool", pool)
    con.execute(
        "CREATE OR REPLACE TABLE previous_pool AS SELECT person_id, status, "
        "CAST(CAST(reasons AS JSON) AS VARCHAR[]) AS reasons FROM _pool"
    )
    con.unregister("_pool")
    items = read_arrow(
        conn,
        "SELECT item_id, kind, person_id, status FROM review_items WHERE kind IN "
        f"{sql_in((ReviewKind.MANUAL_CHECK, *CHALLENGE_KINDS))}",
        {
            "item_id": pa.string(),
            "kind": pa.string(),
            "person_id": pa.string(),
            "status": pa.string(),
        },
    )
    con.register("_items", items)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE manual_items AS
        SELECT person_id, arg_max(item_id, item_id) AS item_id,
               arg_max(status, item_id) AS item_status
        FROM _items WHERE kind = {_MANUAL_CHECK_ITEM} GROUP BY person_id;
        CREATE OR REPLACE TABLE upheld_challenges AS
        SELECT person_id, string_agg(DISTINCT kind || '_upheld', ',' ORDER BY kind || '_upheld')
               AS upheld
        FROM _items WHERE kind <> {_MANUAL_CHECK_ITEM} AND status = {_REJECTED}
        GROUP BY person_id;
        """
    )
    con.unregister("_items")


def _derive(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    """``person_state`` from the cases and events :func:`_load_inputs` read."""
    derive_person_state(con, "all_cases", as_of, "events_applied")


def _decide(con: duckdb.DuckDBPyConnection, policy: Policy, as_of: dt.date) -> None:
    """Create ``pool_new``: every candidate's new status and reasons, and what changed.

    Needs ``person_state`` (:func:`_derive`).
    """
    evaluate_rules(con, policy, as_of)
    approved = sql_word(Reason.MANUAL_CHECK_APPROVED)
    rejected = sql_word(Reason.MANUAL_CHECK_REJECTED)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE pool_new AS
        WITH cand AS (
            SELECT person_id FROM {PERSON_STATE} WHERE adverse_decisions > 0
            UNION SELECT person_id FROM previous_pool
        ),
        r AS (
            SELECT c.person_id, coalesce(r.outcome, 'none') AS outcome,
                   r.exclude_reasons, r.manual_reasons, r.quarantine_reasons,
                   m.item_id, m.item_status, u.upheld
            FROM cand c LEFT JOIN rule_outcomes r USING (person_id)
            LEFT JOIN manual_items m USING (person_id)
            LEFT JOIN upheld_challenges u USING (person_id)
        ),
        decided AS (
            SELECT person_id, item_id,
              CASE
                WHEN outcome = 'none' OR outcome = {_EXCLUDED} OR upheld IS NOT NULL
                  THEN {_EXCLUDED}
                WHEN outcome = {_MANUAL_CHECK} AND item_status = {_REJECTED}
                  THEN {_EXCLUDED}
                WHEN outcome = {_MANUAL_CHECK} AND item_status = {_APPROVED}
                  THEN CASE WHEN quarantine_reasons = '' THEN {_ADMITTED}
                            ELSE {_QUARANTINED} END
                ELSE outcome
              END AS decided,
              CASE
                WHEN outcome = 'none' THEN concat_ws(',', {sql_word(Reason.NO_CASE_DATA)}, upheld)
                WHEN outcome = {_EXCLUDED} OR upheld IS NOT NULL
                  THEN concat_ws(',', nullif(exclude_reasons, ''), upheld)
                WHEN outcome = {_MANUAL_CHECK} AND item_status = {_REJECTED}
                  THEN {rejected}
                WHEN outcome = {_MANUAL_CHECK} AND item_status = {_APPROVED}
                  THEN concat_ws(',', nullif(quarantine_reasons, ''), {approved})
                WHEN outcome = {_MANUAL_CHECK}
                  THEN concat_ws(',', manual_reasons, nullif(quarantine_reasons, ''))
                WHEN outcome = {_QUARANTINED} THEN quarantine_reasons
                ELSE ''
              END AS reasons_text,
              outcome = {_MANUAL_CHECK} AND item_id IS NULL AND upheld IS NULL
                AS needs_item,
              manual_reasons
            FROM r
        ),
        n AS (
            SELECT d.person_id, d.decided, d.needs_item, d.manual_reasons,
              CASE WHEN d.decided <> {_ADMITTED}
                    AND p.status IN ({_ADMITTED}, {_WITHDRAWN})
                   THEN {_WITHDRAWN} ELSE d.decided END AS status,
              CASE WHEN d.reasons_text = '' THEN CAST([] AS VARCHAR[])
                   ELSE string_split(d.reasons_text, ',') END AS reasons,
              p.status AS previous_status, p.reasons AS previous_reasons
            FROM decided d LEFT JOIN previous_pool p USING (person_id)
        )
        SELECT *, previous_status IS NULL OR previous_status <> status
                  OR previous_reasons IS DISTINCT FROM reasons AS changed
        FROM n
        """
    )


# --- writing ---------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _delete(conn: Connection, table: Any, ids: list[str]) -> None:
    if ids:
        conn.execute(
            delete(table).where(table.c.person_id == bindparam("pid")), [{"pid": i} for i in ids]
        )


_PEOPLE_COLUMNS = (
    "person_id",
    "family_name",
    "given_names",
    "date_of_birth",
    "nationality",
    "postcode",
    "arrival_date",
    "latest_decision",
    "latest_decision_date",
    "refusal_reason",
    "appeal_status",
    "leave",
    "leave_expiry",
    "departure_date",
    "provenance",
)
_PEOPLE_DATES = frozenset(
    {"date_of_birth", "arrival_date", "latest_decision_date", "leave_expiry", "departure_date"}
)


# Where each value of ``people`` came from: (key in ``provenance``, the value it is for,
# the person_state columns naming its case row and data category).  The fields of one
# row share a key: ``latest_decision`` is the row that also gives latest_decision_date,
# refusal_reason and appeal_status; ``leave`` the row that also gives leave_expiry
# (:data:`PROVENANCE_KEY`).  A departure known only from an event names the event.
_PROVENANCE = (
    *((f, f, f"{f}_case_id", f"{f}_category") for f in IDENTITY_FIELDS),
    ("latest_decision", "latest_decision", "decision_case_id", "decision_category"),
    ("leave", "leave", "leave_case_id", "leave_category"),
    ("arrival_date", "arrival_date", "arrival_case_id", "arrival_category"),
    ("departure_date", "departure_date", "departure_case_id", "departure_category"),
)
PROVENANCE_KEY = {
    "latest_decision_date": "latest_decision",
    "refusal_reason": "latest_decision",
    "appeal_status": "latest_decision",
    "leave_expiry": "leave",
}
"""The ``people.provenance`` key of a field that shares its source row with another."""


def _people_new(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``people_new``: every person's row of ``people`` as derived now."""
    # A value from an ordinary casework record is named by its case id alone; any other
    # category is spelled out.  Most people's provenance is then a third of the bytes.
    # A row is named even for a value it leaves empty (the one-name person's family name).
    prov = ", ".join(
        f"{key} := CASE "
        + (
            f"WHEN {case_id} IS NULL AND {value} IS NOT NULL THEN to_json("
            f"{{'event_type': {sql_word(EventType.DEPARTURE_RECORDED)}, 'event_date': {value}}}) "
            if key == "departure_date"
            else ""
        )
        + f"WHEN {case_id} IS NULL THEN CAST(NULL AS JSON) "
        f"WHEN {category} = '{DEFAULT_DATA_CATEGORY}' THEN to_json({case_id}) "
        f"ELSE to_json({{'case_id': {case_id}, 'data_category': {category}}}) END"
        for key, value, case_id, category in _PROVENANCE
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE people_new AS
        SELECT {", ".join(_PEOPLE_COLUMNS[:-1])},
               to_json(struct_pack({prov}))::VARCHAR AS provenance
        FROM {PERSON_STATE}
        """
    )


def _write_people(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    background: Background | None = None,
) -> None:
    """Bring ``people`` up to date from ``people_new``, rewriting only the people changed.

    With ``background``, the writes are left to it (the reads are done here).
    """
    later = background or Background(threaded=False)
    held_columns = (*_PEOPLE_COLUMNS, "derived_as_of")
    as_text = ("provenance", "derived_as_of")
    held = read_arrow(
        conn,
        "SELECT "
        + ", ".join(
            f"CAST({c} AS TEXT)" if c in _PEOPLE_DATES or c in as_text else c for c in held_columns
        )
        + " FROM people",
        dict.fromkeys(held_columns, pa.string()),
    )
    stale: list[str] = []
    outdated = 0
    if held.num_rows == 0:  # everyone is new: nothing to compare, nor to copy
        con.execute(
            "CREATE OR REPLACE VIEW people_changed AS SELECT *, false AS existed FROM people_new"
        )
    else:
        outdated, stale = _compare_people(con, held, as_of)
    later.submit(_delete, conn, Person.__table__, stale)
    insert_query(
        conn,
        Person.__table__,  # type: ignore[arg-type]
        con,
        "SELECT * EXCLUDE (existed), CAST($as_of AS DATE) AS derived_as_of FROM people_changed",
        background=later,
        params={"as_of": as_of},
    )
    if outdated:  # the UPDATE reads every row (a second for a million): only if needed
        later.submit(
            conn.execute,
            update(Person)
            .where(or_(Person.derived_as_of.is_(None), Person.derived_as_of != as_of))
            .values(derived_as_of=as_of),
        )


def _compare_people(
    con: duckdb.DuckDBPyConnection, held: pa.Table, as_of: dt.date
) -> tuple[int, list[str]]:
    """Create ``people_changed``: the rows of ``people_new`` not held as they are now.

    Returns how many rows kept as they are were derived as of another date, and the
    person_ids of the held rows to delete (changed, or no longer derived).
    """
    con.register("_people_held", held)
    typed = ", ".join(
        f"CAST({c} AS DATE) AS {c}" if c in _PEOPLE_DATES else c for c in _PEOPLE_COLUMNS
    )
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in _PEOPLE_COLUMNS[1:])
    con.execute(
        f"""
        CREATE OR REPLACE TABLE people_changed AS
        SELECT n.*, o.person_id IS NOT NULL AS existed
        FROM people_new n LEFT JOIN (SELECT {typed} FROM _people_held) o USING (person_id)
        WHERE o.person_id IS NULL OR {differs};
        CREATE OR REPLACE TABLE people_gone AS
        SELECT person_id FROM _people_held
        WHERE person_id NOT IN (SELECT person_id FROM people_new);
        """
    )
    # Kept rows derived as of another date (compared as stored, as the UPDATE does).
    outdated = con.execute(
        """
        SELECT count(*) FROM _people_held o
        WHERE (o.derived_as_of IS NULL OR o.derived_as_of <> $as_of)
          AND o.person_id IN (SELECT person_id FROM people_new)
          AND o.person_id NOT IN (SELECT person_id FROM people_changed)
        """,
        {"as_of": as_of.isoformat()},
    ).fetchall()[0][0]
    con.unregister("_people_held")
    stale = [
        str(r[0])
        for r in con.execute(
            "SELECT person_id FROM people_changed WHERE existed "
            "UNION ALL SELECT person_id FROM people_gone"
        ).fetchall()
    ]
    return int(outdated), stale


def _queue_manual_checks(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    as_of: dt.date,
    run_id: str | None,
    cleansing: bool,
) -> int:
    """One review item per person newly routed to a manual check (never a second one):
    of everyone, or in a cleansing of those admitted before (``pool.decided_scope``)."""
    only = pool.decided_scope(cleansing)
    combos = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT manual_reasons FROM pool_new WHERE needs_item AND ({only})"
        ).fetchall()
    ]
    if not combos:
        return 0
    described = {r.code: r.description for r in policy.admission_rules}
    texts = {
        combo: "Protected cohort, checked by two reviewers before admission: "
        + " ".join(described.get(code, code) for code in combo.split(","))
        for combo in combos
    }
    con.register(
        "_reason_text",
        pa.table({"manual_reasons": list(texts), "reason": list(texts.values())}),
    )
    # Queued as of the admission's day (accord.clock), as a run's match items are.
    now = business_time(as_of).replace(tzinfo=None).isoformat(sep=" ")
    items = to_arrow(
        con,
        f"""
        SELECT CASE WHEN length(n.person_id) <= 61 THEN 'MC-' || n.person_id
                    ELSE 'MC-' || substr(sha256(n.person_id), 1, 40) END AS item_id,
               {_MANUAL_CHECK_ITEM} AS kind, n.person_id, t.reason,
               to_json({{'reasons': string_split(n.manual_reasons, ','),
                         'as_of': CAST($as_of AS DATE)}})::VARCHAR AS detail,
               {_OPEN} AS status, {MANUAL_CHECK_APPROVALS} AS approvals_needed,
               CAST($run_id AS VARCHAR) AS run_id,
               CAST($now AS TIMESTAMP) AS created_at
        FROM pool_new n JOIN _reason_text t USING (manual_reasons)
        WHERE n.needs_item AND ({only}) ORDER BY n.person_id
        """,
        {"run_id": run_id, "now": now, "as_of": as_of},
    )
    con.unregister("_reason_text")
    insert_arrow(conn, ReviewItem.__table__, items)  # type: ignore[arg-type]
    return int(items.num_rows)


def _withdrawals(con: duckdb.DuckDBPyConnection, cleansing: bool) -> list[tuple[str, str]]:
    only = pool.decided_scope(cleansing)
    rows = con.execute(
        f"""
        SELECT person_id, array_to_string(reasons, ',') FROM pool_new
        WHERE status = {_WITHDRAWN} AND previous_status = {_ADMITTED}
          AND ({only}) ORDER BY person_id
        """
    ).fetchall()
    return [(p, r) for p, r in rows]


def _count(con: duckdb.DuckDBPyConnection, result: AdmissionResult) -> None:
    row = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE adverse_decisions > 0),
          (SELECT count(*) FILTER (WHERE status = {_ADMITTED}) FROM pool_new),
          (SELECT count(*) FILTER (WHERE decided = {_QUARANTINED}) FROM pool_new),
          (SELECT count(*) FILTER (WHERE decided = {_MANUAL_CHECK}) FROM pool_new),
          (SELECT count(*) FILTER (WHERE decided = {_EXCLUDED}) FROM pool_new),
          (SELECT count(*) FILTER (WHERE changed) FROM pool_new)
        FROM {PERSON_STATE}
        """
    ).fetchall()[0]
    (
        result.candidates,
        result.admitted,
        result.quarantined,
        result.manual_check,
        result.excluded_people,
        result.changed,
    ) = (int(v) for v in row)
    result.excluded = {
        reason: int(n)
        for reason, n in con.execute(
            f"""
            SELECT reason, count(*) FROM (
                SELECT unnest(reasons) AS reason FROM pool_new
                WHERE decided = {_EXCLUDED})
            GROUP BY reason ORDER BY reason
            """
        ).fetchall()
    }


def _audit_withdrawals(
    conn: Connection, actor: str, withdrawn: list[tuple[str, str]], run_id: str | None, why: str
) -> None:
    auditlog.log_many(
        conn,
        (
            (actor, "pool_withdrawn", p, {"reasons": r.split(","), "run_id": run_id, "by": why})
            for p, r in withdrawn
        ),
    )


def admit(
    url: str,
    as_of: dt.date,
    run_id: str | None = None,
    cases: pa.Table | None = None,
    policy: Policy | None = None,
    actor: str = "accord",
    source: str = "cases",
    on_withdrawn: WithdrawHook | None = None,
) -> AdmissionResult:
    """Decide the pool as of ``as_of`` and write it, in one transaction.

    With ``cases`` (a table as :func:`accord.formats.load` returns it), its new rows are
    first added to ``case_decisions`` (see :mod:`accord.cases`); otherwise the case
    decisions already held are used.  Writes ``people``, ``pool_entries``,
    ``pool_history`` (changes only) and ``manual_check`` review items.
    """
    policy = policy or load_policy(settings().policy)
    with connect(url) as conn:
        con = duckdb.connect()
        try:
            return admit_in(conn, con, as_of, run_id, cases, policy, actor, source, on_withdrawn)
        finally:
            con.close()


def admit_in(
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    run_id: str | None,
    cases: pa.Table | None,
    policy: Policy,
    actor: str = "accord",
    source: str = "cases",
    on_withdrawn: WithdrawHook | None = None,
) -> AdmissionResult:
    """:func:`admit` inside the caller's transaction and DuckDB connection.

    `accord run` uses this so that admission, linkage and disclosure commit together;
    ``person_state`` (and the rules' tables) stay in ``con`` for the steps after.
    """
    result = AdmissionResult(run_id, as_of)
    clock = _Clock(result.timings)
    # The rows are written by a thread of their own (C work on one core: SQLite's, or
    # the PostgreSQL server's) while DuckDB goes on to what does not need them (see
    # accord.cases.Background).  An in-memory SQLite database stays on this thread.
    with Background(dialect_of(conn).writes_from_thread(conn)) as background:
        result.cases = _load_inputs(conn, con, cases, run_id, source, background)
        clock.lap("read and check cases")
        _derive(con, as_of)
        _people_new(con)
        clock.lap("derive person state")
        background.wait()
        clock.lap("finish writing new cases")
        _write_people(conn, con, as_of, background)
        clock.lap("compare people")
        _decide(con, policy, as_of)
        _count(con, result)
        clock.lap("apply rules")
        pool.write_decided(conn, con, as_of, run_id, False, _now(), background)
        clock.lap("compare pool")
    clock.lap("finish writing people and pool")
    result.manual_checks_queued = _queue_manual_checks(conn, con, policy, as_of, run_id, False)
    clock.lap("queue manual checks")
    result.withdrawn = _withdrawals(con, False)
    _audit_withdrawals(conn, actor, result.withdrawn, run_id, "admission")
    if on_withdrawn is not None and result.withdrawn:
        on_withdrawn(conn, result.withdrawn)
    auditlog.log(
        conn,
        actor,
        "admission_run",
        run_id=run_id,
        as_of=as_of,
        policy_sha256=policy.sha256,
        **result.summary(),
    )
    return result


def cleanse(
    url: str,
    as_of: dt.date,
    actor: str,
    policy: Policy | None = None,
    on_withdrawn: WithdrawHook | None = None,
) -> list[tuple[str, str]]:
    """Re-apply the rules to everyone admitted; withdraw those who no longer qualify (F3).

    Uses the case decisions held and the events already applied.  Returns (person_id,
    reason codes comma-separated) for each person withdrawn; the caller recalls what was
    disclosed about them.  People not admitted are left as they are.
    """
    policy = policy or load_policy(settings().policy)
    only = pool.decided_scope(cleansing=True)
    with connect(url) as conn:
        con = duckdb.connect()
        try:
            _load_inputs(conn, con, None, None, "cases")
            _derive(con, as_of)
            _decide(con, policy, as_of)
            pool.write_decided(conn, con, as_of, None, True, _now())
            _queue_manual_checks(conn, con, policy, as_of, None, True)
            withdrawn = _withdrawals(con, True)
            _audit_withdrawals(conn, actor, withdrawn, None, "cleansing")
            if on_withdrawn is not None and withdrawn:
                on_withdrawn(conn, withdrawn)
            checked = con.execute(f"SELECT count(*) FROM pool_new WHERE {only}").fetchall()[0]
            auditlog.log(
                conn,
                actor,
                "cleansing_run",
                as_of=as_of,
                checked=int(checked[0]),
                withdrawn=len(withdrawn),
                policy_sha256=policy.sha256,
            )
        finally:
            con.close()
    return withdrawn


# --- reading the pool back -------------------------------------------------------------------


def kept_out(url: str) -> list[tuple[str, str, str]]:
    """(person_id, status, reason) for everyone not admitted, one row per reason."""
    with connect(url) as conn:
        rows = conn.execute(
            text(
                "SELECT person_id, status, reasons FROM pool_entries "
                "WHERE status <> :admitted ORDER BY person_id"
            ),
            {PoolStatus.ADMITTED: PoolStatus.ADMITTED},
        ).all()
    out: list[tuple[str, str, str]] = []
    for person_id, status, reasons in rows:
        codes = json.loads(reasons) if isinstance(reasons, str) else reasons
        for code in codes or [status]:
            out.append((person_id, status, code))
    return out


def write_excluded_csv(url: str, path: Path) -> int:
    """``excluded.csv`` of SPEC.md: person_id, reason - for everyone kept out of the pool."""
    rows = kept_out(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["person_id", "reason"])
        writer.writerows((p, r) for p, _, r in rows)
    return len(rows)


__all__ = [
    "STATUSES",
    "AdmissionResult",
    "admit",
    "cleanse",
    "derive_person_state",
    "kept_out",
    "write_excluded_csv",
]
