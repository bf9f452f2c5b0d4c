"""The linkage safety rules as one pure function, with their reason codes.

The gate (``accord.gate``) applies the same rules to the columns :func:`link` returns;
this module states them once, for the evaluation and for anyone checking a match by
hand.  For each candidate pair, with an agreement's thresholds:

``below_review``      both the chance that the record is the person's
                      (``match_probability``) and the two records' own comparison
                      (``pair_probability``) are below ``review_from``: not a match.
``uncertain_match``   the chance is below ``disclose_at``, or the chance of the wrong
                      person (``wrong_person``) is above ``max_wrong_person``: a person
                      reviews it.
``ambiguous_match``   a rival (another register record for the same person, or another
                      pool member for the same record) within ``ambiguity_bits`` of this
                      pair's weight (``rival_gap``), or, when ``ambiguity_margin`` is
                      given, a rival whose chance is within that margin of this pair's.
                      Review, never automatic, however high the probability.
``long_residence``    the register relationship began (``since``) at least
                      ``long_residence_years`` before the person's latest decision:
                      evidence to weigh before acting.

A pair is ``automatic`` only when none of these applies.

Duplicates: rivals leave out register records that duplicate the candidate (same
normalised family name, first given name, date of birth and postcode, all present),
because a register holding one person twice is not two people who look alike.  A
duplicate that differs in any of those, or lacks one, still counts as a rival: it cannot
be told from a namesake, so a person decides.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from accord.vocab import Reason

BELOW_REVIEW = "below_review"
UNCERTAIN = Reason.UNCERTAIN_MATCH
AMBIGUOUS = Reason.AMBIGUOUS_MATCH
LONG_RESIDENCE = Reason.LONG_RESIDENCE
AUTOMATIC = "automatic"

FLAGS_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("record_id", pa.string()),
        ("match_probability", pa.float64()),
        ("ambiguous", pa.bool_()),
        (Reason.LONG_RESIDENCE, pa.bool_()),
        ("decision", pa.string()),  # automatic | review | no_match
        ("reasons", pa.list_(pa.string())),
    ]
)


def ambiguity_flags(
    candidates: pa.Table,
    *,
    disclose_at: float,
    review_from: float,
    ambiguity_bits: float = 10.0,
    ambiguity_margin: float | None = None,
    max_wrong_person: float | None = None,
    decision_dates: pa.Table | None = None,
    long_residence_years: int = 20,
) -> pa.Table:
    """Flag every candidate pair and decide it: ``automatic``, ``review`` or ``no_match``.

    ``candidates`` is what :func:`accord.linkage.predict.link` returns; ``decision_dates``
    (person_id, latest_decision_date) enables the long-residence rule.  Set-based: one
    DuckDB query over the whole table.
    """
    con = duckdb.connect(":memory:")
    try:
        con.register("candidates", candidates)
        if decision_dates is None:
            decision_dates = pa.table(
                {
                    "person_id": pa.array([], pa.string()),
                    "latest_decision_date": pa.array([], pa.date32()),
                }
            )
        con.register("decisions", decision_dates)
        years = int(long_residence_years)
        tolerance = 1.0 - float(disclose_at)
        if max_wrong_person is not None:
            tolerance = min(tolerance, float(max_wrong_person))
        margin = (
            f"""OR coalesce(c.match_probability - c.second_for_person
                            <= {float(ambiguity_margin)!r}, false)
                OR coalesce(c.match_probability - c.second_for_record
                            <= {float(ambiguity_margin)!r}, false)"""
            if ambiguity_margin is not None
            else ""
        )
        sql = f"""
        WITH f AS (
            SELECT c.person_id, c.record_id, c.match_probability,
                coalesce(c.rival_gap < {float(ambiguity_bits)!r}, false) {margin}
                    AS ambiguous,
                coalesce(c.since <= d.latest_decision_date - INTERVAL {years} YEAR, false)
                    AS long_residence,
                c.match_probability < {float(disclose_at)!r}
                    OR c.wrong_person > {tolerance!r} AS uncertain,
                greatest(c.match_probability, c.pair_probability) < {float(review_from)!r}
                    AS below
            FROM candidates AS c
            LEFT JOIN decisions AS d ON d.person_id = c.person_id
        )
        SELECT person_id, record_id, match_probability, ambiguous, long_residence,
            CASE WHEN below THEN 'no_match'
                 WHEN ambiguous OR long_residence OR uncertain THEN 'review'
                 ELSE 'automatic' END AS decision,
            CASE WHEN below THEN ['{BELOW_REVIEW}']
                 ELSE list_filter([
                    CASE WHEN ambiguous THEN '{AMBIGUOUS}' END,
                    CASE WHEN long_residence THEN '{LONG_RESIDENCE}' END,
                    CASE WHEN uncertain THEN '{UNCERTAIN}' END,
                    CASE WHEN NOT (ambiguous OR long_residence OR uncertain)
                         THEN '{AUTOMATIC}' END
                 ], lambda x: x IS NOT NULL) END AS reasons
        FROM f
        ORDER BY person_id, match_probability DESC, record_id
        """
        table: pa.Table = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return table.cast(FLAGS_SCHEMA)


def is_long_residence(since: dt.date | None, decided: dt.date | None, years: int = 20) -> bool:
    """The long-residence rule for one pair, as the gate applies it."""
    if since is None or decided is None:
        return False
    try:
        cutoff = decided.replace(year=decided.year - years)
    except ValueError:  # 29 February
        cutoff = decided.replace(year=decided.year - years, day=28)
    return since <= cutoff
