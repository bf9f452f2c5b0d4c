"""Evidence retention (SPEC.md F9): destroy what is due, never a person's proof of status.

Landing records that were many people's only proof of their right to stay were
destroyed.  Here a record becomes *due* under the retention policy
(``accord/data/retention.yaml``: years after the record's date, per record kind and
data category; a derived score at its own ``retain_until``), and :func:`plan` then
decides, set-based in DuckDB over the governance tables, whether it may go:

* **refused, evidence of status or rights**: an arrival record (for each arrival date
  a person has on file, the first row that recorded it; later rows only repeat it), a
  grant of leave, a record of indefinite leave or citizenship, and a
  record of long residence (a row dated ``long_residence_years`` or more after the
  person's earliest recorded arrival, which shows them still here);
* **refused, the person is not settled**: an open freeze, open review item, open dispute
  (latest dispute event is ``dispute_opened``), outstanding remedy, open exemption (a
  subject access report depends on it) or active disclosure (a disclosure depends on it:
  for a case record, any active disclosure about the person; for a score, an active
  disclosure of that score, since a record shared about the person does not rest on it);
* otherwise **destroy**.

:func:`apply` destroys only what the plan allows.  A destroyed case row keeps its key,
person id, decision, date and category, has every other personal field blanked and
``destroyed_at`` set; a destroyed score is blanked likewise.  Each destruction and each
refusal is written to ``destruction_log`` with its justification and the SHA-256 of the
canonical JSON of what the record held (:func:`content_digest`), so that its absence
can be explained later and the digest checked against any surviving copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import duckdb
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, update

from accord import auditlog
from accord.clock import business_time
from accord.errors import AccordError
from accord.policy.policy import Policy, default_policy
from accord.store.db import bulk_insert, connect, require_schema
from accord.store.models import CaseDecision, DerivedScore, DestructionLog
from accord.store.transfer import read_arrow
from accord.vocab import (
    DestructionOutcome,
    DisclosureStatus,
    EventType,
    ItemStatus,
    RemedyStatus,
    sql_word,
)

CASE = "case_decision"
SCORE = "derived_score"
AUDIT_ACTION = "retention_applied"
CHUNK = 5000

# What a case row held, in the order it is digested; the first five survive destruction.
CASE_KEPT = ("case_id", "person_id", "decision", "decision_date", "data_category")
CASE_BLANKED = (
    "family_name",
    "given_names",
    "date_of_birth",
    "nationality",
    "postcode",
    "refusal_reason",
    "appeal_status",
    "leave",
    "leave_expiry",
    "arrival_date",
    "departure_date",
    "extra",
)
SCORE_COLUMNS = (
    "score_id",
    "person_id",
    "kind",
    "value",
    "role",
    "explanation",
    "computed_at",
    "retain_until",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetentionRule(_Strict):
    record_kind: Literal["case_decision"]
    data_category: str = Field(min_length=1)
    years: int = Field(ge=1, le=200)
    why: str = Field(min_length=1)


class RetentionPolicy(_Strict):
    """How long each kind of record is kept (documented in ``accord/data/retention.yaml``)."""

    default_years: int = Field(ge=1, le=200)
    rules: list[RetentionRule]

    def years_for(self, record_kind: str, data_category: str) -> int:
        for r in self.rules:
            if (r.record_kind, r.data_category) == (record_kind, data_category):
                return r.years
        return self.default_years


def default_retention() -> RetentionPolicy:
    """The built-in retention policy, from the documented file shipped with Accord."""
    raw = resources.files("accord.data").joinpath("retention.yaml").read_text("utf-8")
    try:
        return RetentionPolicy.model_validate(yaml.safe_load(raw))
    except ValidationError as exc:  # the shipped file is wrong: a bug, not user input
        raise AccordError(f"accord/data/retention.yaml: {exc.errors()[0]['msg']}") from None


@dataclass(frozen=True)
class PlanItem:
    record_kind: str  # case_decision | derived_score
    record_ref: str
    person_id: str
    due: dt.date
    action: str  # destroy | refuse
    justification: str


@dataclass(frozen=True)
class ApplyResult:
    destroyed: int
    refused: int


def content_digest(record: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON: sorted keys, compact, values as text or null.

    Every value is its text form (dates ISO, numbers as printed by the database, JSON
    as stored) so that the digest is the same on SQLite and PostgreSQL and can be
    recomputed from any surviving copy of the record.
    """
    canon = {k: (None if v is None else str(v)) for k, v in record.items()}
    body = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _digest_sql(columns: tuple[str, ...]) -> str:
    """The same digest as :func:`content_digest`, computed by DuckDB for a whole table."""
    parts = ", ".join(f"'{c}', CAST({c} AS VARCHAR)" for c in sorted(columns))
    return f"sha256(CAST(json_object({parts}) AS VARCHAR))"


_TEXT = pa.string()

DISCLOSED = "an active disclosure that depends on it"
# What keeps a person's records: (person_id, reason, score_id).  A disclosure's score_id
# is the score it shared ('' for a record): a case record is kept while anything about
# the person is disclosed, a score only while that score is.
_HOLDS_SQL = f"""
SELECT person_id, 'an open freeze', '' FROM freezes WHERE lifted_at IS NULL
UNION SELECT person_id, 'an open review item', '' FROM review_items
      WHERE status = {sql_word(ItemStatus.OPEN)}
UNION SELECT person_id, 'an outstanding remedy', '' FROM recalls
      WHERE remedy_status = {sql_word(RemedyStatus.OUTSTANDING)}
UNION SELECT person_id, '{DISCLOSED}', score_id FROM disclosures
      WHERE status = {sql_word(DisclosureStatus.ACTIVE)}
UNION SELECT person_id, 'an open exemption in a subject access report', ''
      FROM exemptions WHERE lifted_at IS NULL
UNION SELECT e.person_id, 'an open dispute', '' FROM events e
      WHERE e.event_type = {sql_word(EventType.DISPUTE_OPENED)} AND NOT EXISTS (
        SELECT 1 FROM events r WHERE r.person_id = e.person_id
          AND r.event_type = {sql_word(EventType.DISPUTE_RESOLVED)}
          AND (r.event_date > e.event_date
               OR (r.event_date = e.event_date AND r.event_id > e.event_id)))
"""


def _load(
    conn: Connection, con: duckdb.DuckDBPyConnection, as_of: dt.date, cutoff: dt.date
) -> None:
    """Copy what the plan needs from the governance database into DuckDB."""
    case_cols = CASE_KEPT + CASE_BLANKED
    dates = {"decision_date", "date_of_birth", "leave_expiry", "arrival_date", "departure_date"}
    cases = read_arrow(
        conn,
        "SELECT "
        + ", ".join(f"CAST({c} AS TEXT)" if c in dates or c == "extra" else c for c in case_cols)
        + " FROM case_decisions WHERE destroyed_at IS NULL AND decision_date <= :cutoff",
        dict.fromkeys(case_cols, _TEXT),
        {"cutoff": cutoff},
    )
    arrivals = read_arrow(
        conn,
        "SELECT case_id, person_id, CAST(decision_date AS TEXT), CAST(arrival_date AS TEXT) "
        "FROM case_decisions WHERE arrival_date IS NOT NULL",
        {"case_id": _TEXT, "person_id": _TEXT, "decision_date": _TEXT, "arrival_date": _TEXT},
    )
    scores = read_arrow(
        conn,
        "SELECT score_id, person_id, kind, CAST(value AS TEXT), role, "
        "CAST(explanation AS TEXT), CAST(computed_at AS TEXT), CAST(retain_until AS TEXT) "
        "FROM derived_scores WHERE destroyed_at IS NULL AND retain_until < :as_of",
        dict.fromkeys(SCORE_COLUMNS, _TEXT),
        {"as_of": as_of},
    )
    holds = read_arrow(conn, _HOLDS_SQL, {"person_id": _TEXT, "reason": _TEXT, "score_id": _TEXT})
    con.register("_cases", cases)
    con.register("_arrivals", arrivals)
    con.register("_scores", scores)
    con.register("_holds", holds)


def _plan_sql(
    retention: RetentionPolicy, policy: Policy, as_of: dt.date
) -> tuple[str, dict[str, Any]]:
    """The retention plan's query and its DuckDB parameters: the day, the long-residence
    span, and each rule's data category and years (``$category_N``, ``$years_N``)."""
    rules = [r for r in retention.rules if r.record_kind == CASE]
    params: dict[str, Any] = {
        "as_of": as_of,
        "long_residence_years": int(policy.long_residence_years),
        "default_years": int(retention.default_years),
    }
    for n, r in enumerate(rules):
        params[f"category_{n}"] = r.data_category
        params[f"years_{n}"] = int(r.years)
    years_case = " ".join(
        f"WHEN CAST($category_{n} AS VARCHAR) THEN CAST($years_{n} AS INTEGER)"
        for n in range(len(rules))
    )
    years = f"CASE data_category {years_case} ELSE CAST($default_years AS INTEGER) END"
    lr = "CAST($long_residence_years AS INTEGER)"
    day = "CAST($as_of AS DATE)"
    return (
        f"""
    WITH held AS (
        SELECT person_id, string_agg(reason, ', ' ORDER BY reason) AS reasons
        FROM (SELECT DISTINCT person_id, reason FROM _holds) GROUP BY person_id
    ),
    score_held AS (
        SELECT score_id, string_agg(reason, ', ' ORDER BY reason) AS reasons
        FROM (SELECT DISTINCT s.score_id, h.reason FROM _scores s JOIN _holds h USING (person_id)
              WHERE h.reason <> '{DISCLOSED}' OR h.score_id = s.score_id)
        GROUP BY score_id
    ),
    first_records AS (
        SELECT person_id, arrival_date,
               arg_min(case_id, (CAST(decision_date AS DATE), case_id)) AS case_id
        FROM _arrivals GROUP BY person_id, arrival_date
    ),
    first_arrival AS (
        SELECT person_id, MIN(CAST(arrival_date AS DATE)) AS first_arrival
        FROM _arrivals GROUP BY person_id
    ),
    cases AS (
        SELECT c.*, CAST(c.decision_date AS DATE) AS d,
               CAST(CAST(c.decision_date AS DATE) + to_years({years}) AS DATE) AS due,
               a.first_arrival, f.case_id IS NOT NULL AS arrival_record
        FROM _cases c LEFT JOIN first_arrival a USING (person_id)
        LEFT JOIN first_records f ON f.case_id = c.case_id
    ),
    case_items AS (
        SELECT '{CASE}' AS record_kind, case_id AS record_ref, c.person_id, due,
               {_digest_sql(CASE_KEPT + CASE_BLANKED)} AS digest,
               nullif(concat_ws('; ',
                 CASE
                   WHEN arrival_record THEN
                     'evidence of status: an arrival record (arrived ' || arrival_date || ')'
                   WHEN decision = 'grant' THEN 'evidence of status: a grant of leave'
                   WHEN leave IN ('indefinite', 'citizen') THEN
                     'evidence of status: a record of ' ||
                     CASE WHEN leave = 'citizen' THEN 'citizenship' ELSE 'indefinite leave' END
                   WHEN first_arrival IS NOT NULL
                        AND d >= CAST(first_arrival + to_years({lr}) AS DATE) THEN
                     'evidence of rights: a record of long residence (arrived ' ||
                     CAST(first_arrival AS VARCHAR) || ', ' || CAST({lr} AS VARCHAR)
                     || ' years or more before it)'
                 END,
                 'the person has ' || h.reasons), '') AS refusal
        FROM cases c LEFT JOIN held h USING (person_id)
        WHERE due <= {day}
    ),
    score_items AS (
        SELECT '{SCORE}' AS record_kind, score_id AS record_ref, s.person_id,
               CAST(retain_until AS DATE) AS due,
               {_digest_sql(SCORE_COLUMNS)} AS digest,
               CASE WHEN h.reasons IS NOT NULL THEN 'the person has ' || h.reasons END
                 AS refusal
        FROM _scores s LEFT JOIN score_held h USING (score_id)
    )
    SELECT record_kind, record_ref, person_id, due,
           CASE WHEN refusal IS NULL THEN 'destroy' ELSE 'refuse' END AS action,
           coalesce(
             refusal,
             CASE record_kind
               WHEN '{SCORE}' THEN 'past its retention limit (retain_until ' ||
                    CAST(due AS VARCHAR) || ')'
               ELSE 'past its retention period (due ' || CAST(due AS VARCHAR) || ')'
             END) AS justification,
           digest
    FROM (SELECT * FROM case_items UNION ALL SELECT * FROM score_items)
    ORDER BY record_kind, record_ref
    """,
        params,
    )


def _planned(
    conn: Connection,
    as_of: dt.date,
    retention: RetentionPolicy | None,
    policy: Policy | None,
) -> pa.Table:
    retention = retention or default_retention()
    policy = policy or default_policy()
    shortest = min([retention.default_years, *(r.years for r in retention.rules)])
    cutoff = dt.date(as_of.year - shortest, 12, 31)  # a superset; the plan filters exactly
    con = duckdb.connect()
    try:
        _load(conn, con, as_of, cutoff)
        sql, params = _plan_sql(retention, policy, as_of)
        return con.sql(sql, params=params).to_arrow_table()
    finally:
        con.close()


def plan(
    url: str,
    as_of: dt.date,
    retention: RetentionPolicy | None = None,
    policy: Policy | None = None,
) -> list[PlanItem]:
    """Every record due for destruction on ``as_of``, and whether it may be destroyed, and why."""
    require_schema(url)
    with connect(url) as conn:
        table = _planned(conn, as_of, retention, policy)
    return [
        PlanItem(
            r["record_kind"],
            r["record_ref"],
            r["person_id"],
            r["due"],
            r["action"],
            r["justification"],
        )
        for r in table.drop_columns(["digest"]).to_pylist()
    ]


def apply(
    url: str,
    as_of: dt.date,
    actor: str,
    retention: RetentionPolicy | None = None,
    policy: Policy | None = None,
) -> ApplyResult:
    """Destroy what :func:`plan` allows; log every destruction and refusal with its digest."""
    if not actor.strip():
        raise AccordError("retention apply needs --by NAME: who authorises the destruction")
    require_schema(url)
    at = business_time(as_of)  # dated as of the plan's day (accord.clock)
    with connect(url) as conn:
        table = _planned(conn, as_of, retention, policy)
        cols = table.select(
            ["record_kind", "record_ref", "person_id", "action", "justification", "digest"]
        ).to_pydict()
        kinds, refs, actions = cols["record_kind"], cols["record_ref"], cols["action"]
        cases = [r for k, r, a in zip(kinds, refs, actions, strict=True)
                 if k == CASE and a == "destroy"]  # fmt: skip
        scores = [r for k, r, a in zip(kinds, refs, actions, strict=True)
                  if k == SCORE and a == "destroy"]  # fmt: skip
        blank: dict[str, Any] = {c: ("" if c in ("family_name", "given_names") else None)
                                 for c in CASE_BLANKED}  # fmt: skip
        for start in range(0, len(cases), CHUNK):
            conn.execute(
                update(CaseDecision)
                .where(CaseDecision.case_id.in_(cases[start : start + CHUNK]))
                .values(**blank, destroyed_at=at)
            )
        for start in range(0, len(scores), CHUNK):
            conn.execute(
                update(DerivedScore)
                .where(DerivedScore.score_id.in_(scores[start : start + CHUNK]))
                .values(value=0.0, explanation={}, destroyed_at=at)
            )
        outcome = [
            DestructionOutcome.DESTROYED if a == "destroy" else DestructionOutcome.REFUSED
            for a in actions
        ]
        bulk_insert(
            conn,
            DestructionLog.__table__,  # type: ignore[arg-type]
            (
                "record_kind",
                "record_ref",
                "person_id",
                "outcome",
                "justification",
                "content_sha256",
                "at",
                "actor",
            ),
            list(
                zip(
                    kinds,
                    refs,
                    cols["person_id"],
                    outcome,
                    cols["justification"],
                    cols["digest"],
                    [at] * len(refs),
                    [actor] * len(refs),
                    strict=True,
                )
            ),
        )
        result = ApplyResult(
            destroyed=len(cases) + len(scores), refused=outcome.count(DestructionOutcome.REFUSED)
        )
        auditlog.log(
            conn,
            actor,
            AUDIT_ACTION,
            None,
            as_of=as_of.isoformat(),
            destroyed=result.destroyed,
            refused=result.refused,
        )
    return result
