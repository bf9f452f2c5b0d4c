"""The gate: a match + an agreement + the policy -> disclose, review, hold or block, with reasons.

One SQL statement decides every candidate at once (DuckDB), so the gate is the same for
ten people or ten million.  Its inputs are DuckDB tables the caller prepares:

``candidates``   person_id, record_id, register, match_probability (the chance that the
                 record is the person's, :mod:`accord.linkage.risk`), since,
                 second_for_person, second_for_record, match_id (nullable), wrong_person,
                 rival_gap (bits ahead of the strongest rival; NULL: none),
                 pair_probability (the two records' comparison alone), pattern (the
                 level reached in each comparison; NULL: unknown)
``agreements``   agreement_id, version, recipient, purpose, status, valid_from, review_by,
                 disclose_at, review_from, ambiguity_margin (NULL: not set),
                 ambiguity_bits, wrong_person_tolerance, four_eyes, exclude_cohorts
                 (VARCHAR[]), enforcement (BOOLEAN), trusted_patterns (VARCHAR[]: patterns
                 two approvers trusted, docs/policy.md)
``pool``         person_id, latest_decision_date, decision_category (the data category of
                 the row the adverse decision came from), admitted (BOOLEAN)
``cohorts``      person_id, cohort
``pauses``       agreement_id, cohort (NULL pauses the whole agreement)
``frozen``       person_id
``settled``      agreement_id, person_id, record_id, state: 'disclosed' or a review item's
                 status ('open', 'approved', 'rejected'), so a rerun decides nothing twice
``approvals``    agreement_id, person_id, record_id, decided_by: review approvals that
                 waive the reasons a person was asked to weigh (uncertain, ambiguous, long
                 residence), and who approved (``gate.approved_by``, a disclosure's decided_by)
``score_agreements``  agreement_id, shares_records: the agreements that share derived
                 scores (F8), and whether they also share the matched record itself
                 (an agreement sharing only ``derived_score`` discloses scores alone)

Derived scores are decided after the records, by :func:`decide_scores_step`, from the
``gate`` rows of the agreements that share them and these inputs:

``score_candidates``  agreement_id, score_id, person_id, kind, value, role, explanation
                 (JSON text), computed_at, retain_until: what ``accord.scores.shareable``
                 selected for each agreement (roles, retention and the role firewall
                 already applied)
``score_settled``  agreement_id, person_id, record_id, score_id, state: as ``settled``
``score_approved`` agreement_id, person_id, record_id, score_id, decided_by: approved
                 ``score_review`` items and who approved them

Precedence: a block (the agreement does not allow it, the firewall) beats a hold (a pause,
a freeze), which beats a review, which beats disclosure.  A pair whose pattern the
agreement trusts, and whose only reason for review is ``uncertain_match``, is disclosed
(``trusted_pattern``, decided by ``rule:trusted_pattern``), even when an earlier run left
an item open for it: the run then closes that item as ``released``.  Nothing else is
waived: ambiguity, long residence, blocks and holds stand.  Every reason that applied is
kept, not only the winning one, so a reviewer and the person concerned see all of them.
A score shares its match's blocks and holds; a score for an enforcement purpose always
goes to review (``score_adverse_use``, kind ``score_review``: both codes are
in :mod:`accord.vocab`), and so does one whose match would.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accord.compute import Step, Table
from accord.vocab import (
    AGREEMENT_IN_FORCE,
    AgreementStatus,
    GateOutcome,
    ItemStatus,
    Reason,
    ReviewKind,
    Settled,
    sql_in,
    sql_word,
)

# Reason codes (documented in docs/gate.md).
NOT_ADMITTED = Reason.NOT_ADMITTED
AGREEMENT_NOT_ACTIVE = Reason.AGREEMENT_NOT_ACTIVE
AGREEMENT_NOT_YET_VALID = Reason.AGREEMENT_NOT_YET_VALID
AGREEMENT_REVIEW_OVERDUE = Reason.AGREEMENT_REVIEW_OVERDUE
COHORT_EXCLUDED = Reason.COHORT_EXCLUDED
FIREWALL = Reason.FIREWALL_PROTECTED_SOURCE
AGREEMENT_PAUSED = Reason.AGREEMENT_PAUSED
COHORT_PAUSED = Reason.COHORT_PAUSED
FROZEN = Reason.PERSON_FROZEN
BELOW_REVIEW = Reason.BELOW_REVIEW_THRESHOLD
UNCERTAIN = Reason.UNCERTAIN_MATCH
# No longer decided (linkage model version 1 capped every pair whose full postcode did not
# agree); kept because review items and disclosures made then carry it.
UNCORROBORATED = Reason.UNCORROBORATED_MATCH
AMBIGUOUS = Reason.AMBIGUOUS_MATCH
LONG_RESIDENCE = Reason.LONG_RESIDENCE
AUTOMATIC = Reason.AUTOMATIC_MATCH
REVIEW_APPROVED = Reason.REVIEW_APPROVED
TRUSTED_PATTERN = Reason.TRUSTED_PATTERN
TRUSTED_RULE = "rule:trusted_pattern"  # a disclosure's decided_by under a trusted pattern

MATCH_REVIEW_REASONS = (AMBIGUOUS, LONG_RESIDENCE, UNCERTAIN, UNCORROBORATED)

REVIEW_REASONS = (AMBIGUOUS, LONG_RESIDENCE, UNCERTAIN)  # in order of precedence as item kind

OUTCOMES = tuple(GateOutcome)


@dataclass(frozen=True)
class GateSettings:
    as_of: dt.date
    long_residence_years: int = 20


# The gate's inputs (see the module's docstring), declared: a caller fills what it has.
CANDIDATES = Table(
    "candidates",
    "person_id VARCHAR, record_id VARCHAR, register VARCHAR, match_probability DOUBLE, "
    "since DATE, second_for_person DOUBLE, second_for_record DOUBLE, match_id BIGINT, "
    "wrong_person DOUBLE, rival_gap DOUBLE, pair_probability DOUBLE, pattern VARCHAR",
)
AGREEMENTS = Table(
    "agreements",
    "agreement_id VARCHAR, version INTEGER, recipient VARCHAR, purpose VARCHAR, "
    "status VARCHAR, valid_from DATE, review_by DATE, disclose_at DOUBLE, review_from DOUBLE, "
    "ambiguity_margin DOUBLE, ambiguity_bits DOUBLE, wrong_person_tolerance DOUBLE, "
    "four_eyes BOOLEAN, exclude_cohorts VARCHAR[], enforcement BOOLEAN, fields VARCHAR[], "
    "trusted_patterns VARCHAR[]",
)
POOL = Table(
    "pool",
    "person_id VARCHAR, latest_decision_date DATE, decision_category VARCHAR, admitted BOOLEAN",
)
COHORTS = Table("cohorts", "person_id VARCHAR, cohort VARCHAR")
PAUSES = Table("pauses", "agreement_id VARCHAR, cohort VARCHAR")
FROZEN_PEOPLE = Table("frozen", "person_id VARCHAR")
PROTECTED = Table("protected", "category VARCHAR")
SETTLED = Table(
    "settled", "agreement_id VARCHAR, person_id VARCHAR, record_id VARCHAR, state VARCHAR"
)
APPROVALS = Table(
    "approvals",
    "agreement_id VARCHAR, person_id VARCHAR, record_id VARCHAR, decided_by VARCHAR",
)
SCORE_AGREEMENTS = Table("score_agreements", "agreement_id VARCHAR, shares_records BOOLEAN")
SCORE_CANDIDATES = Table(
    "score_candidates",
    "agreement_id VARCHAR, score_id VARCHAR, person_id VARCHAR, kind VARCHAR, value DOUBLE, "
    "role VARCHAR, explanation VARCHAR, computed_at DATE, retain_until DATE",
)
SCORE_SETTLED = Table(
    "score_settled",
    "agreement_id VARCHAR, person_id VARCHAR, record_id VARCHAR, score_id VARCHAR, state VARCHAR",
)
SCORE_APPROVED = Table(
    "score_approved",
    "agreement_id VARCHAR, person_id VARCHAR, record_id VARCHAR, score_id VARCHAR, "
    "decided_by VARCHAR",
)
INPUTS = (
    CANDIDATES, AGREEMENTS, POOL, COHORTS, PAUSES, FROZEN_PEOPLE, PROTECTED, SETTLED, APPROVALS,
    SCORE_AGREEMENTS, SCORE_CANDIDATES, SCORE_SETTLED, SCORE_APPROVED,
)  # fmt: skip
# What it decides: one row per (candidate, agreement), and per (gate row, score).
GATE = Table("gate")
SCORE_GATE = Table("score_gate")
COUNTS = Table("agreement_counts")  # per agreement, what happened to its candidates


_DISCLOSED = sql_word(Settled.DISCLOSED)
_REJECTED = sql_word(ItemStatus.REJECTED)
_OPEN = sql_word(ItemStatus.OPEN)
_DISCLOSE = sql_word(GateOutcome.DISCLOSE)
_REVIEW = sql_word(GateOutcome.REVIEW)
_HELD = sql_word(GateOutcome.HELD)
_BLOCKED = sql_word(GateOutcome.BLOCKED)
_SETTLED = sql_word(GateOutcome.SETTLED)


def _settled(table: str, *keys: str) -> str:
    """One state per candidate from ``table``, which may hold several (a disclosure and
    the approved item it came from): disclosed, else rejected, else open, else approved."""
    cols = ", ".join(("agreement_id", "person_id", "record_id", *keys))
    return (
        f"SELECT {cols}, CASE WHEN bool_or(state = {_DISCLOSED}) THEN {_DISCLOSED} "
        f"WHEN bool_or(state = {_REJECTED}) THEN {_REJECTED} WHEN bool_or(state = {_OPEN}) "
        f"THEN {_OPEN} ELSE min(state) END AS state FROM {table} GROUP BY {cols}"
    )


def decide_step(settings: GateSettings) -> Step:
    """The step that builds ``gate``: one decided row per (candidate, agreement)."""
    as_of = "CAST($as_of AS DATE)"
    return Step(
        "gate",
        f"""
        WITH paired AS (
            SELECT c.*, a.agreement_id, a.version AS agreement_version, a.recipient, a.purpose,
                   a.status AS agreement_status, a.valid_from, a.review_by, a.disclose_at,
                   a.review_from, a.ambiguity_margin, a.ambiguity_bits,
                   a.wrong_person_tolerance, a.four_eyes, a.exclude_cohorts, a.enforcement,
                   a.trusted_patterns,
                   coalesce(p.admitted, false) AS admitted, p.latest_decision_date,
                   p.decision_category,
                   coalesce(sa.shares_records, true) AS shares_records,
                   sa.agreement_id IS NOT NULL AS shares_scores
            FROM candidates c
            JOIN agreements a ON a.recipient = c.register
            LEFT JOIN pool p USING (person_id)
            LEFT JOIN score_agreements sa ON sa.agreement_id = a.agreement_id
        ),
        flagged AS (
            SELECT pr.*,
              list_filter([
                CASE WHEN NOT admitted THEN {sql_word(NOT_ADMITTED)} END,
                CASE WHEN agreement_status NOT IN {sql_in(AGREEMENT_IN_FORCE)}
                     THEN {sql_word(AGREEMENT_NOT_ACTIVE)} END,
                CASE WHEN valid_from IS NOT NULL AND {as_of} < valid_from
                     THEN {sql_word(AGREEMENT_NOT_YET_VALID)} END,
                CASE WHEN review_by IS NOT NULL AND {as_of} > review_by
                     THEN {sql_word(AGREEMENT_REVIEW_OVERDUE)} END,
                CASE WHEN EXISTS (SELECT 1 FROM cohorts k WHERE k.person_id = pr.person_id
                                  AND list_contains(pr.exclude_cohorts, k.cohort))
                     THEN {sql_word(COHORT_EXCLUDED)} END,
                CASE WHEN enforcement AND decision_category IN (SELECT category FROM protected)
                     THEN {sql_word(FIREWALL)} END
              ], lambda x: x IS NOT NULL) AS block_reasons,
              list_filter([
                CASE WHEN agreement_status = {sql_word(AgreementStatus.PAUSED)}
                       OR EXISTS (SELECT 1 FROM pauses z WHERE z.agreement_id = pr.agreement_id
                                  AND z.cohort IS NULL)
                     THEN {sql_word(AGREEMENT_PAUSED)} END,
                CASE WHEN EXISTS (SELECT 1 FROM pauses z JOIN cohorts k ON k.cohort = z.cohort
                                  WHERE z.agreement_id = pr.agreement_id
                                  AND k.person_id = pr.person_id)
                     THEN {sql_word(COHORT_PAUSED)} END,
                CASE WHEN pr.person_id IN (SELECT person_id FROM frozen)
                     THEN {sql_word(FROZEN)} END
              ], lambda x: x IS NOT NULL) AS hold_reasons,
              list_filter([
                CASE WHEN (rival_gap IS NOT NULL AND rival_gap < ambiguity_bits)
                       OR (ambiguity_margin IS NOT NULL AND second_for_person IS NOT NULL
                           AND match_probability - second_for_person <= ambiguity_margin)
                       OR (ambiguity_margin IS NOT NULL AND second_for_record IS NOT NULL
                           AND match_probability - second_for_record <= ambiguity_margin)
                     THEN {sql_word(AMBIGUOUS)} END,
                CASE WHEN since IS NOT NULL AND latest_decision_date IS NOT NULL
                      AND since <= latest_decision_date - INTERVAL ($years) YEAR
                     THEN {sql_word(LONG_RESIDENCE)} END,
                CASE WHEN match_probability < disclose_at
                       OR coalesce(wrong_person, 1.0 - match_probability)
                          > wrong_person_tolerance
                     THEN {sql_word(UNCERTAIN)} END
              ], lambda x: x IS NOT NULL) AS review_reasons,
              s.state AS settled_state,
              (ap.person_id IS NOT NULL) AS review_approved, ap.decided_by AS approved_by
            FROM paired pr
            LEFT JOIN ({_settled("settled")}) s ON s.agreement_id = pr.agreement_id
                 AND s.person_id = pr.person_id AND s.record_id = pr.record_id
            LEFT JOIN approvals ap ON ap.agreement_id = pr.agreement_id
                 AND ap.person_id = pr.person_id AND ap.record_id = pr.record_id
            WHERE greatest(pr.match_probability, coalesce(pr.pair_probability, 0.0))
                  >= pr.review_from
        ),
        trusting AS (
            SELECT *, coalesce(review_reasons = [{sql_word(UNCERTAIN)}] AND pattern IS NOT NULL
                               AND list_contains(trusted_patterns, pattern), false)
                      AS trusted_only
            FROM flagged
        )
        SELECT person_id, record_id, register, agreement_id, agreement_version, recipient,
               purpose, match_probability, match_id, four_eyes,
               CASE
                 WHEN len(block_reasons) > 0 THEN {_BLOCKED}
                 WHEN len(hold_reasons) > 0 THEN {_HELD}
                 WHEN settled_state IN ({_DISCLOSED}, {_REJECTED}) THEN {_SETTLED}
                 WHEN settled_state = {_OPEN} AND NOT trusted_only THEN {_SETTLED}
                 WHEN len(review_reasons) > 0 AND NOT review_approved AND NOT trusted_only
                   THEN {_REVIEW}
                 ELSE {_DISCLOSE}
               END AS outcome,
               CASE
                 WHEN len(block_reasons) > 0 THEN block_reasons || hold_reasons || review_reasons
                 WHEN len(hold_reasons) > 0 THEN hold_reasons || review_reasons
                 WHEN review_approved THEN review_reasons || [{sql_word(REVIEW_APPROVED)}]
                 WHEN trusted_only THEN review_reasons || [{sql_word(TRUSTED_PATTERN)}]
                 WHEN len(review_reasons) > 0 THEN review_reasons
                 ELSE [{sql_word(AUTOMATIC)}]
               END AS reasons,
               CASE
                 WHEN list_contains(review_reasons, {sql_word(AMBIGUOUS)})
                   THEN {sql_word(AMBIGUOUS)}
                 WHEN list_contains(review_reasons, {sql_word(LONG_RESIDENCE)})
                   THEN {sql_word(LONG_RESIDENCE)}
                 WHEN len(review_reasons) > 0 THEN {sql_word(UNCERTAIN)}
               END AS review_kind,
               settled_state, shares_records, shares_scores,
               CASE WHEN review_approved THEN approved_by
                    WHEN trusted_only THEN '{TRUSTED_RULE}' END AS approved_by
        FROM trusting
        """,
        GATE,
        (CANDIDATES, AGREEMENTS, POOL, SCORE_AGREEMENTS, COHORTS, PROTECTED, PAUSES, FROZEN_PEOPLE,
         SETTLED, APPROVALS),
        {"as_of": settings.as_of, "years": int(settings.long_residence_years)},
    )  # fmt: skip


def decide_scores_step() -> Step:
    """The step that builds ``score_gate``: one decided row per (gate row, score the
    agreement may share).

    Runs after :func:`decide_step`.  A score goes nowhere its match may not go: it takes the
    match's block or hold with its reasons.  Otherwise a score already disclosed, or
    with a ``score_review`` item open or rejected, is ``settled``; an approved item lets
    it go; a score for an enforcement purpose is never automatic (``score_adverse_use``);
    and one whose match needs a person goes to review unless a person approved that
    match.  Every review is of kind ``score_review``, showing the score and its
    explanation.
    """
    match_reasons = sql_in(MATCH_REVIEW_REASONS)
    return Step(
        "score gate",
        f"""
        WITH paired AS (
            SELECT g.person_id, g.record_id, g.register, g.agreement_id, g.agreement_version,
                   g.recipient, g.purpose, g.match_probability, g.match_id, g.four_eyes,
                   a.enforcement, g.outcome AS match_outcome, g.reasons AS match_reasons,
                   s.score_id, s.kind, s.value, s.role, s.explanation, s.computed_at,
                   s.retain_until,
                   list_filter(g.reasons, lambda x: x IN {match_reasons}) AS review_reasons,
                   list_contains(g.reasons, {sql_word(REVIEW_APPROVED)}) AS match_approved,
                   ss.state AS settled_state,
                   (sa.score_id IS NOT NULL) AS score_approved,
                   coalesce(sa.decided_by, g.approved_by) AS approved_by
            FROM gate g
            JOIN agreements a USING (agreement_id)
            JOIN score_candidates s ON s.agreement_id = g.agreement_id
                 AND s.person_id = g.person_id
            LEFT JOIN ({_settled("score_settled", "score_id")}) ss
                 ON ss.agreement_id = g.agreement_id
                 AND ss.person_id = g.person_id AND ss.record_id = g.record_id
                 AND ss.score_id = s.score_id
            LEFT JOIN score_approved sa ON sa.agreement_id = g.agreement_id
                 AND sa.person_id = g.person_id AND sa.record_id = g.record_id
                 AND sa.score_id = s.score_id
            WHERE g.shares_scores
        ),
        decided AS (
            SELECT *,
              CASE
                WHEN match_outcome IN ({_BLOCKED}, {_HELD}) THEN match_outcome
                WHEN settled_state IN ({_DISCLOSED}, {_REJECTED}, {_OPEN}) THEN {_SETTLED}
                WHEN score_approved THEN {_DISCLOSE}
                WHEN enforcement THEN {_REVIEW}
                WHEN len(review_reasons) > 0 AND NOT match_approved THEN {_REVIEW}
                ELSE {_DISCLOSE}
              END AS outcome,
              review_reasons
                || CASE WHEN enforcement THEN [{sql_word(Reason.SCORE_ADVERSE_USE)}] ELSE [] END
                AS score_reasons
            FROM paired
        )
        SELECT person_id, record_id, register, agreement_id, agreement_version, recipient,
               purpose, match_probability, match_id, four_eyes, enforcement, score_id, kind,
               value, role, explanation, computed_at, retain_until, outcome,
               CASE
                 WHEN match_outcome IN ({_BLOCKED}, {_HELD}) THEN match_reasons
                 WHEN score_approved OR (len(score_reasons) > 0 AND match_approved
                                         AND NOT enforcement)
                   THEN score_reasons || [{sql_word(REVIEW_APPROVED)}]
                 WHEN len(score_reasons) > 0 THEN score_reasons
                 ELSE [{sql_word(AUTOMATIC)}]
               END AS reasons,
               review_reasons AS match_review_reasons,
               {sql_word(ReviewKind.SCORE_REVIEW)} AS review_kind, settled_state, approved_by
        FROM decided
        """,
        SCORE_GATE,
        (GATE, AGREEMENTS, SCORE_CANDIDATES, SCORE_SETTLED, SCORE_APPROVED),
    )


def counts_step() -> Step:
    """The step that counts, per agreement, what happened to its records and scores
    together (and to its scores alone): a run's summary per agreement."""
    open_item = sql_word(ItemStatus.OPEN)
    return Step(
        "agreement counts",
        f"""
        WITH decided AS (
            SELECT agreement_id, outcome, reasons, settled_state, false AS score FROM gate
            WHERE shares_records
            UNION ALL
            SELECT agreement_id, outcome, reasons, settled_state, true FROM score_gate
        )
        SELECT a.agreement_id,
          count(*) FILTER (WHERE outcome = {_DISCLOSE}) AS disclosed,
          count(*) FILTER (WHERE outcome = {_REVIEW}
                           OR (outcome = {_SETTLED} AND settled_state = {open_item}))
            AS held_for_review,
          count(*) FILTER (WHERE outcome = {_BLOCKED}
                           AND list_contains(reasons, {sql_word(FIREWALL)}))
            AS blocked_by_firewall,
          count(*) FILTER (WHERE outcome = {_HELD}
                           AND (list_contains(reasons, {sql_word(AGREEMENT_PAUSED)})
                                OR list_contains(reasons, {sql_word(COHORT_PAUSED)})))
            AS paused,
          count(*) FILTER (WHERE outcome = {_HELD} AND list_contains(reasons, {sql_word(FROZEN)}))
            AS frozen,
          count(*) FILTER (WHERE outcome = {_BLOCKED}) AS blocked,
          count(*) FILTER (WHERE outcome = {_SETTLED} AND settled_state = {_DISCLOSED})
            AS already_disclosed,
          count(*) FILTER (WHERE score AND outcome = {_DISCLOSE}) AS scores_disclosed,
          count(*) FILTER (WHERE score AND (outcome = {_REVIEW}
                           OR (outcome = {_SETTLED} AND settled_state = {open_item})))
            AS scores_held_for_review
        FROM agreements a LEFT JOIN decided g USING (agreement_id)
        GROUP BY a.agreement_id ORDER BY a.agreement_id
        """,
        COUNTS,
        (AGREEMENTS, GATE, SCORE_GATE),
    )
