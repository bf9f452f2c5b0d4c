"""The gate: a match + an agreement + the policy -> disclose, review, hold or block, with reasons.

One SQL statement decides every candidate at once (DuckDB), so the gate is the same for
ten people or ten million.  Its inputs are DuckDB tables the caller prepares:

``candidates``   person_id, record_id, register, match_probability, since,
                 second_for_person, second_for_record, match_id (nullable), corroborated
                 (false when linkage found only names and date of birth agreeing: never
                 automatic, whatever an agreement's threshold)
``agreements``   agreement_id, version, recipient, purpose, status, valid_from, review_by,
                 disclose_at, review_from, ambiguity_margin, four_eyes, exclude_cohorts
                 (VARCHAR[]), enforcement (BOOLEAN)
``pool``         person_id, latest_decision_date, decision_category (the data category of
                 the row the adverse decision came from), admitted (BOOLEAN)
``cohorts``      person_id, cohort
``pauses``       agreement_id, cohort (NULL pauses the whole agreement)
``frozen``       person_id
``settled``      agreement_id, person_id, record_id, state: 'disclosed' or a review item's
                 status ('open', 'approved', 'rejected'), so a rerun decides nothing twice
``approved``     agreement_id, person_id, record_id: review approvals that waive the
                 reasons a person was asked to weigh (uncertain, ambiguous, long residence)

Precedence: a block (the agreement does not allow it, the firewall) beats a hold (a pause,
a freeze), which beats a review, which beats disclosure.  Every reason that applied is
kept, not only the winning one, so a reviewer and the person concerned see all of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

# Reason codes (documented in docs/gate.md).
NOT_ADMITTED = "not_admitted"
AGREEMENT_NOT_ACTIVE = "agreement_not_active"
AGREEMENT_NOT_YET_VALID = "agreement_not_yet_valid"
AGREEMENT_REVIEW_OVERDUE = "agreement_review_overdue"
COHORT_EXCLUDED = "cohort_excluded"
FIREWALL = "firewall_protected_source"
AGREEMENT_PAUSED = "agreement_paused"
COHORT_PAUSED = "cohort_paused"
FROZEN = "person_frozen"
BELOW_REVIEW = "below_review_threshold"
UNCERTAIN = "uncertain_match"
UNCORROBORATED = "uncorroborated_match"
AMBIGUOUS = "ambiguous_match"
LONG_RESIDENCE = "long_residence"
AUTOMATIC = "automatic_match"
REVIEW_APPROVED = "review_approved"

REVIEW_REASONS = (AMBIGUOUS, LONG_RESIDENCE, UNCERTAIN)  # in order of precedence as item kind

OUTCOMES = ("disclose", "review", "held", "blocked", "settled", "no_match")


@dataclass(frozen=True)
class GateSettings:
    as_of: dt.date
    long_residence_years: int = 20


def _lit(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def decide(con: duckdb.DuckDBPyConnection, settings: GateSettings) -> None:
    """Create the DuckDB table ``gate`` with one decided row per (candidate, agreement)."""
    as_of = _lit(settings.as_of)
    years = int(settings.long_residence_years)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE gate AS
        WITH paired AS (
            SELECT c.*, a.agreement_id, a.version AS agreement_version, a.recipient, a.purpose,
                   a.status AS agreement_status, a.valid_from, a.review_by, a.disclose_at,
                   a.review_from, a.ambiguity_margin, a.four_eyes, a.exclude_cohorts,
                   a.enforcement,
                   coalesce(p.admitted, false) AS admitted, p.latest_decision_date,
                   p.decision_category
            FROM candidates c
            JOIN agreements a ON a.recipient = c.register
            LEFT JOIN pool p USING (person_id)
        ),
        flagged AS (
            SELECT pr.*,
              list_filter([
                CASE WHEN NOT admitted THEN '{NOT_ADMITTED}' END,
                CASE WHEN agreement_status NOT IN ('active', 'paused')
                     THEN '{AGREEMENT_NOT_ACTIVE}' END,
                CASE WHEN valid_from IS NOT NULL AND {as_of} < valid_from
                     THEN '{AGREEMENT_NOT_YET_VALID}' END,
                CASE WHEN review_by IS NOT NULL AND {as_of} > review_by
                     THEN '{AGREEMENT_REVIEW_OVERDUE}' END,
                CASE WHEN EXISTS (SELECT 1 FROM cohorts k WHERE k.person_id = pr.person_id
                                  AND list_contains(pr.exclude_cohorts, k.cohort))
                     THEN '{COHORT_EXCLUDED}' END,
                CASE WHEN enforcement AND decision_category IN (SELECT category FROM protected)
                     THEN '{FIREWALL}' END
              ], lambda x: x IS NOT NULL) AS block_reasons,
              list_filter([
                CASE WHEN agreement_status = 'paused'
                       OR EXISTS (SELECT 1 FROM pauses z WHERE z.agreement_id = pr.agreement_id
                                  AND z.cohort IS NULL)
                     THEN '{AGREEMENT_PAUSED}' END,
                CASE WHEN EXISTS (SELECT 1 FROM pauses z JOIN cohorts k ON k.cohort = z.cohort
                                  WHERE z.agreement_id = pr.agreement_id
                                  AND k.person_id = pr.person_id)
                     THEN '{COHORT_PAUSED}' END,
                CASE WHEN pr.person_id IN (SELECT person_id FROM frozen)
                     THEN '{FROZEN}' END
              ], lambda x: x IS NOT NULL) AS hold_reasons,
              list_filter([
                CASE WHEN (second_for_person IS NOT NULL
                           AND match_probability - second_for_person <= ambiguity_margin)
                       OR (second_for_record IS NOT NULL
                           AND match_probability - second_for_record <= ambiguity_margin)
                     THEN '{AMBIGUOUS}' END,
                CASE WHEN since IS NOT NULL AND latest_decision_date IS NOT NULL
                      AND since <= latest_decision_date - INTERVAL {years} YEAR
                     THEN '{LONG_RESIDENCE}' END,
                CASE WHEN match_probability < disclose_at THEN '{UNCERTAIN}' END,
                CASE WHEN NOT coalesce(corroborated, true) THEN '{UNCORROBORATED}' END
              ], lambda x: x IS NOT NULL) AS review_reasons,
              s.state AS settled_state,
              (ap.person_id IS NOT NULL) AS review_approved
            FROM paired pr
            LEFT JOIN settled s ON s.agreement_id = pr.agreement_id
                 AND s.person_id = pr.person_id AND s.record_id = pr.record_id
            LEFT JOIN approved ap ON ap.agreement_id = pr.agreement_id
                 AND ap.person_id = pr.person_id AND ap.record_id = pr.record_id
            WHERE pr.match_probability >= pr.review_from
        )
        SELECT person_id, record_id, register, agreement_id, agreement_version, recipient,
               purpose, match_probability, match_id, four_eyes,
               CASE
                 WHEN len(block_reasons) > 0 THEN 'blocked'
                 WHEN len(hold_reasons) > 0 THEN 'held'
                 WHEN settled_state IN ('disclosed', 'rejected', 'open') THEN 'settled'
                 WHEN len(review_reasons) > 0 AND NOT review_approved THEN 'review'
                 ELSE 'disclose'
               END AS outcome,
               CASE
                 WHEN len(block_reasons) > 0 THEN block_reasons || hold_reasons || review_reasons
                 WHEN len(hold_reasons) > 0 THEN hold_reasons || review_reasons
                 WHEN review_approved THEN review_reasons || ['{REVIEW_APPROVED}']
                 WHEN len(review_reasons) > 0 THEN review_reasons
                 ELSE ['{AUTOMATIC}']
               END AS reasons,
               CASE
                 WHEN list_contains(review_reasons, '{AMBIGUOUS}') THEN '{AMBIGUOUS}'
                 WHEN list_contains(review_reasons, '{LONG_RESIDENCE}') THEN '{LONG_RESIDENCE}'
                 WHEN len(review_reasons) > 0 THEN '{UNCERTAIN}'
               END AS review_kind,
               settled_state
        FROM flagged
        """
    )


def create_empty_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """Create every gate input table empty, so a caller fills only what it has."""
    con.execute(
        """
        CREATE OR REPLACE TABLE candidates (person_id VARCHAR, record_id VARCHAR,
            register VARCHAR, match_probability DOUBLE, since DATE,
            second_for_person DOUBLE, second_for_record DOUBLE, match_id BIGINT,
            corroborated BOOLEAN);
        CREATE OR REPLACE TABLE agreements (agreement_id VARCHAR, version INTEGER,
            recipient VARCHAR, purpose VARCHAR, status VARCHAR, valid_from DATE, review_by DATE,
            disclose_at DOUBLE, review_from DOUBLE, ambiguity_margin DOUBLE, four_eyes BOOLEAN,
            exclude_cohorts VARCHAR[], enforcement BOOLEAN, fields VARCHAR[]);
        CREATE OR REPLACE TABLE pool (person_id VARCHAR, latest_decision_date DATE,
            decision_category VARCHAR, admitted BOOLEAN);
        CREATE OR REPLACE TABLE cohorts (person_id VARCHAR, cohort VARCHAR);
        CREATE OR REPLACE TABLE pauses (agreement_id VARCHAR, cohort VARCHAR);
        CREATE OR REPLACE TABLE frozen (person_id VARCHAR);
        CREATE OR REPLACE TABLE protected (category VARCHAR);
        CREATE OR REPLACE TABLE settled (agreement_id VARCHAR, person_id VARCHAR,
            record_id VARCHAR, state VARCHAR);
        CREATE OR REPLACE TABLE approved (agreement_id VARCHAR, person_id VARCHAR,
            record_id VARCHAR);
        """
    )
