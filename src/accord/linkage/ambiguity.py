"""The linkage safety rules as one pure function, with their reason codes.

The gate (``accord.gate``) applies the same rules to the columns :func:`link` returns;
this module states them once, for the evaluation and for anyone checking a match by
hand.  For each candidate pair, with an agreement's thresholds:

``below_review``      probability below ``review_from``: not a match at all.
``uncertain_match``   probability below ``disclose_at``: a person reviews it.
``ambiguous_match``   a rival within ``ambiguity_margin`` of this pair's probability:
                      another register record for the same person (``second_for_person``)
                      or another pool member for the same record (``second_for_record``).
                      Review, never automatic, however high the probability.
``long_residence``    the register relationship began (``since``) at least
                      ``long_residence_years`` before the person's latest decision:
                      evidence to weigh before acting.

A pair is ``automatic`` only when none of these applies.

Duplicates: ``second_for_person`` already leaves out register records that duplicate the
candidate (same normalised family name, first given name, date of birth and postcode,
all present), because a register holding one person twice is not two people who look
alike.  A duplicate that differs in any of those, or lacks one, still counts as a rival:
it cannot be told from a namesake, so a person decides.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

BELOW_REVIEW = "below_review"
UNCERTAIN = "uncertain_match"
AMBIGUOUS = "ambiguous_match"
LONG_RESIDENCE = "long_residence"
AUTOMATIC = "automatic"

FLAGS_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("record_id", pa.string()),
        ("match_probability", pa.float64()),
        ("ambiguous", pa.bool_()),
        ("long_residence", pa.bool_()),
        ("decision", pa.string()),  # automatic | review | no_match
        ("reasons", pa.list_(pa.string())),
    ]
)


def ambiguity_flags(
    candidates: pa.Table,
    *,
    disclose_at: float,
    review_from: float,
    ambiguity_margin: float,
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
        margin = float(ambiguity_margin)
        years = int(long_residence_years)
        sql = f"""
        WITH f AS (
            SELECT c.person_id, c.record_id, c.match_probability,
                coalesce(c.match_probability - c.second_for_person <= {margin!r}, false)
                OR coalesce(c.match_probability - c.second_for_record <= {margin!r}, false)
                    AS ambiguous,
                coalesce(c.since <= d.latest_decision_date - INTERVAL {years} YEAR, false)
                    AS long_residence
            FROM candidates AS c
            LEFT JOIN decisions AS d ON d.person_id = c.person_id
        )
        SELECT person_id, record_id, match_probability, ambiguous, long_residence,
            CASE WHEN match_probability < {float(review_from)!r} THEN 'no_match'
                 WHEN ambiguous OR long_residence
                      OR match_probability < {float(disclose_at)!r} THEN 'review'
                 ELSE 'automatic' END AS decision,
            CASE WHEN match_probability < {float(review_from)!r} THEN ['{BELOW_REVIEW}']
                 ELSE list_filter([
                    CASE WHEN ambiguous THEN '{AMBIGUOUS}' END,
                    CASE WHEN long_residence THEN '{LONG_RESIDENCE}' END,
                    CASE WHEN match_probability < {float(disclose_at)!r}
                         THEN '{UNCERTAIN}' END,
                    CASE WHEN NOT ambiguous AND NOT long_residence
                              AND match_probability >= {float(disclose_at)!r}
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
