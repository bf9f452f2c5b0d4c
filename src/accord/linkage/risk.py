"""How likely a candidate pair is to be the wrong person, from the register itself.

A pair's match weight (Splink's) is the evidence of that one comparison.  Whether a
recipient may act on it without a person checking depends on more than that, and each of
these is a step of the pair's explanation (docs/linkage.md), so the weights still add up:

* **Names** (:func:`name_adjustment_sql`, :func:`swapped_adjustment_sql`).  Names are
  not independent (``Mohammed Khan`` is far commoner than ``Mohammed`` times ``Khan``);
  a register too small to show how rare a name is cannot prove it rarer than one
  sighting allows; and names recorded the other way round count for no more than the
  same names in their places.  Each only ever lowers the weight.
* **1 January** (:func:`heaped_date_adjustment_sql`).  The date several countries record
  for an unknown birthday is commoner among people with some names than overall.
* **Lookalikes** (:func:`lookalike_factor`, :func:`identity_adjustment_sql`).  How much
  commoner repeats of names and date of birth at other addresses are in this register
  than the names and dates alone predict.
* **Rivals.**  Another record that could be the person's, or another person the record
  could belong to.  Records with the same normalised family name, first given name and
  date of birth are one candidate, not rivals: the same record twice, or the person's
  other record, or a lookalike the step above has weighed.
* **No record at all.**  The person may hold no record in this register, and the best
  candidate is then someone else who looks like them.

Writing ``a = 2 ** weight`` for each pair (the posterior odds Splink gives the pair on its
own, its prior being the register's chance that two random records match), the chance
that the pair's record is the person's, against every alternative, is::

    a / (none + a + rivals_for_person + rivals_for_record)

where each ``rivals`` term is the sum of ``a`` over the rivals, and ``none`` stands for
"the person's record is not among the candidates": they hold no record in this register,
or hold one that no blocking rule found.  ``none`` is one minus the share of the pool
whose record is among the candidates, which is estimated from the candidates themselves:
each person's chance that one of their candidates is theirs, taken as if ``none`` were 1
(an underestimate), averaged over the whole pool, and then its lower 95% Wilson bound.
So ``none`` errs high: a register that holds few of the pool's people (a tax authority
holding one person in two hundred) gives ``none`` near 1, and the best candidate needs
strong evidence; one that holds nearly everyone gives a small ``none``.
``wrong_person`` is one minus that chance.  An agreement's ``max_wrong_person`` is the
largest chance it accepts for an automatic disclosure.
"""

from __future__ import annotations

import math

import duckdb

from accord.linkage import model as m

# One-sided 95% bounds.
Z = 1.6448536269514722

# A pair's weight is capped here before 2**weight is taken (2**1000 is still a double).
MAX_WEIGHT = 1000.0

NAME_FREQUENCY_LABEL = (
    "other records in the register share this family and given name: the pair of names "
    "is commoner than its parts suggest"
)

NAME_COUNTS = "register_name_counts"

LOOKALIKE_LABEL = (
    "records with the same names and date of birth at different addresses are commoner in "
    "this register than the names and dates alone suggest (people who moved, lookalikes)"
)

CONTEXT_LABEL = (
    "the other candidates, and the chance that the person holds no record in this register"
)


def name_counts_sql(keys: str, features: str) -> str:
    """The query of :data:`NAME_COUNTS` (the same SQL on DuckDB and Spark): for the
    register records in ``features``, counted over the whole register (``keys``, one row
    per record), the record itself left out:

    ``name_others``   other records with the same normalised family and first given name;
    ``family_n``, ``family_jan1``, ``given_n``, ``given_jan1``  other records with the same
                      family name (first given name) with a date of birth, and how many of
                      those are on 1 January;
    ``jan1_share``    the share of all records with a date of birth that are on 1 January;
    ``register_size`` its records.
    """
    # Grouped once over the whole register, then joined to the few records some rule
    # found (window functions over a million rows cost ten times as much).
    return f"""WITH dated AS (
            SELECT rid, fam_c, giv1, dob IS NOT NULL AS has_dob,
                   coalesce(month(dob) = 1 AND day(dob) = 1, false) AS jan1
            FROM {keys}
        ), pairs AS (
            SELECT fam_c, giv1, count(*) AS n FROM dated
            WHERE fam_c IS NOT NULL AND giv1 IS NOT NULL GROUP BY fam_c, giv1
        ), families AS (
            SELECT fam_c, count(*) FILTER (WHERE has_dob) AS n,
                   count(*) FILTER (WHERE jan1) AS j
            FROM dated WHERE fam_c IS NOT NULL GROUP BY fam_c
        ), givens AS (
            SELECT giv1, count(*) FILTER (WHERE has_dob) AS n,
                   count(*) FILTER (WHERE jan1) AS j
            FROM dated WHERE giv1 IS NOT NULL GROUP BY giv1
        ), whole AS (
            SELECT count(*) AS register_size,
                   CAST(count(*) FILTER (WHERE jan1) AS DOUBLE)
                       / greatest(count(*) FILTER (WHERE has_dob), 1) AS jan1_share
            FROM dated
        ), found AS (
            SELECT f.uid, d.* FROM {features} AS f JOIN dated AS d USING (rid)
        )
        SELECT x.uid, p.n - 1 AS name_others,
               fa.n - CAST(x.has_dob AS INTEGER) AS family_n,
               fa.j - CAST(x.jan1 AS INTEGER) AS family_jan1,
               gi.n - CAST(x.has_dob AS INTEGER) AS given_n,
               gi.j - CAST(x.jan1 AS INTEGER) AS given_jan1,
               w.jan1_share, w.register_size
        FROM found AS x
        LEFT JOIN pairs AS p ON p.fam_c = x.fam_c AND p.giv1 = x.giv1
        LEFT JOIN families AS fa ON fa.fam_c = x.fam_c
        LEFT JOIN givens AS gi ON gi.giv1 = x.giv1
        CROSS JOIN whole AS w"""


# Pseudo-records that pull a name's share of 1 January dates towards the register's own:
# a name held by two records, both on 1 January, is weak evidence on its own.
JAN1_PRIOR_RECORDS = 5.0

HEAPED_DATE_LABEL = (
    "1 January, the date often recorded when the real one is not known, is commoner among "
    "records with these names than in the register as a whole"
)


def heaped_date_adjustment_sql() -> str:
    """SQL: the weight, at most zero, that a pair agreeing exactly on a 1 January date of
    birth loses because that date is commoner among people with its names.

    Splink weighs the date by how common it is in the whole register.  Several countries
    record an unknown date of birth as 1 January, and their names cluster, so among
    people with these names the date can be many times commoner: the chance that someone
    else with the names shares the date is that many times larger.  The ratio is the
    larger of the family name's and the first given name's share of 1 January dates
    (among the register's other records with that name, pulled towards the register's
    share by :data:`JAN1_PRIOR_RECORDS`) over the register's share.
    """
    dob_exact = m.DATE_OF_BIRTH.gamma_of("exact")
    a = JAN1_PRIOR_RECORDS

    def share(n: str, k: str) -> str:
        return f"(coalesce({k}, 0) + {a!r} * jan1_share) / (coalesce({n}, 0) + {a!r})"

    ratio = (
        f"greatest({share('family_n', 'family_jan1')}, {share('given_n', 'given_jan1')}) "
        "/ jan1_share"
    )
    return (
        f"CASE WHEN gamma_date_of_birth = {dob_exact} AND month(dob_l) = 1 AND day(dob_l) = 1 "
        f"AND jan1_share > 0 THEN -log2(greatest(1.0, {ratio})) ELSE 0.0 END"
    )


def _tf(column: str, floor: float = m.TF_MINIMUM_U) -> str:
    """Splink's term-frequency ``u`` for a column: the larger side's, at the floor."""
    return (
        f"greatest(coalesce(tf_{column}_l, tf_{column}_r), coalesce(tf_{column}_r, "
        f"tf_{column}_l), {floor!r})"
    )


def _names_agree() -> str:
    return (
        f"gamma_family_name = {m.FAMILY.gamma_of('exact')} AND gamma_given_names IN "
        f"({m.GIVEN.gamma_of('exact')}, {m.GIVEN.gamma_of('first')})"
    )


def _names_u() -> str:
    """Splink's ``u`` for both names agreeing: the product of their frequencies."""
    return (
        f"{_tf('fam_c')} * CASE WHEN gamma_given_names = {m.GIVEN.gamma_of('exact')} "
        f"THEN {_tf('giv_c')} ELSE {_tf('giv1')} END"
    )


def name_adjustment_sql() -> str:
    """SQL (over Splink's predictions joined to :data:`NAME_COUNTS`): the weight, at most
    zero, that corrects a pair whose names agree (by their term frequencies):

    * for names that go together more often than chance: where both agree exactly and
      other records hold the same pair, by how much commoner the pair is than its parts;
    * for a register too small to show how rare a name is: a name that agrees exactly
      counts as if at least :func:`poisson_upper` (0), about three, of the register's
      records could hold it, as many as one sighting (its own) allows at 95%.  A
      register of 3,000 records cannot show a name rarer than one in a thousand; one of
      a million shows it down to Accord's floor of one in ten thousand.
    """
    joint = (
        f"CASE WHEN {_names_agree()} AND name_others > 0 "
        f"THEN least(0.0, log2({_names_u()}) - log2(CAST(name_others AS DOUBLE) "
        "/ register_size)) ELSE 0.0 END"
    )
    floor = f"({poisson_upper(0.0)!r} / register_size)"
    family = ", ".join(str(m.FAMILY.gamma_of(k)) for k in ("exact", "swapped"))
    given = ", ".join(str(m.GIVEN.gamma_of(k)) for k in ("exact", "first", "swapped"))
    given_u = (
        f"CASE WHEN gamma_given_names = {m.GIVEN.gamma_of('exact')} THEN {_tf('giv_c')} "
        f"ELSE {_tf('giv1')} END"
    )
    small = (
        f"CASE WHEN gamma_family_name IN ({family}) "
        f"THEN least(0.0, log2({_tf('fam_c')}) - log2(greatest({_tf('fam_c')}, {floor}))) "
        "ELSE 0.0 END"
        f" + CASE WHEN gamma_given_names IN ({given}) "
        f"THEN least(0.0, log2({given_u}) - log2(greatest({given_u}, {floor}))) ELSE 0.0 END"
    )
    return f"({joint}) + ({small})"


def lookalike_factor(con: duckdb.DuckDBPyConnection, keys: str) -> float:
    """How many times more often two records of the register (``keys``, one row per
    record) share normalised family name, first given name and date of birth, without
    being the same record twice over (same postcode), than the frequencies of names and
    dates predict if they were independent; at least 1.

    Such repeats are people with two records at different addresses (they moved) and
    lookalikes; the register cannot tell them apart, so both count.  The expected number
    is ``n (n - 1) / 2`` times the sums of squared frequencies of each part; the observed
    number is taken at its upper 95% bound (:func:`poisson_upper`), so a small register
    is treated with the caution its few repeats call for.
    """

    def square(column: str) -> str:
        return (
            f"(SELECT sum(f * f ORDER BY f) FROM (SELECT count(*) / (SELECT count(*) "
            f"FROM named) AS f FROM named GROUP BY {column}))"
        )

    found = con.execute(
        f"""WITH named AS (
            SELECT fam_c, giv1, dob, pc FROM {keys}
            WHERE fam_c IS NOT NULL AND giv1 IS NOT NULL AND dob IS NOT NULL
        ), repeated AS (
            SELECT fam_c, giv1, dob, count(*) AS n FROM named
            GROUP BY fam_c, giv1, dob HAVING n > 1
        ), repeats AS (
            SELECT coalesce(sum(n * (n - 1) / 2), 0) AS pairs FROM repeated
        ), same_address AS (
            -- Only records whose names and date repeat can share an address as well.
            SELECT coalesce(sum(n * (n - 1) / 2), 0) AS pairs FROM (
                SELECT count(*) AS n FROM named SEMI JOIN repeated USING (fam_c, giv1, dob)
                WHERE pc IS NOT NULL GROUP BY fam_c, giv1, dob, pc HAVING n > 1)
        ), squares AS (
            SELECT {square("fam_c")} AS s_family, {square("giv1")} AS s_given,
                   {square("dob")} AS s_dob, (SELECT count(*) FROM named) AS n
        )
        SELECT r.pairs - a.pairs,
               q.n * (q.n - 1) / 2.0 * q.s_family * q.s_given * q.s_dob
        FROM repeats AS r, same_address AS a, squares AS q"""
    ).fetchall()
    observed, expected = found[0]
    if not expected:
        return 1.0
    # The upper 95% bound of the repeats, not the count seen: a small register that shows
    # few says little about how rare they are (Byar's approximation to the Poisson bound).
    upper = poisson_upper(float(observed or 0))
    return max(1.0, upper / float(expected))


def poisson_upper(observed: float, z: float = Z) -> float:
    """The one-sided upper bound of a Poisson mean, having seen ``observed`` events."""
    n = observed + 1.0
    return n * (1.0 - 1.0 / (9.0 * n) + z / (3.0 * math.sqrt(n))) ** 3


SWAPPED_LABEL = (
    "names recorded the other way round count for no more than the same names recorded "
    "in their places"
)


def _m(settings: dict[str, object], comparison: str, label: str) -> float:
    for comp in settings["comparisons"]:  # type: ignore[attr-defined]
        if comp["output_column_name"] == comparison:
            for lv in comp["comparison_levels"]:
                if lv.get("label_for_charts") == label:
                    return float(lv["m_probability"])
    raise KeyError((comparison, label))


def swapped_adjustment_sql(model: m.TrainedModel) -> str:
    """SQL: the weight, at most zero, that keeps names recorded the other way round from
    counting for more than the same names recorded in their places would.

    Splink scores the swap in both name comparisons, each against how rarely two
    strangers' names cross over (very rarely), so a swapped pair can outscore an exact
    one; but a swap is a way of recording a name, and someone else with the name can be
    recorded so too.  The cap is what exact agreement on the person's own names would
    weigh: the model's ``m`` of the exact levels over the register's frequencies of the
    person's family name and given names.
    """
    exact = m.FAMILY.levels[1].label
    m_family = _m(model.settings, m.FAMILY.name, exact)
    m_given = _m(model.settings, m.GIVEN.name, m.GIVEN.levels[1].label)
    floor = f"{m.TF_MINIMUM_U!r}"
    exact_weight = (
        f"log2({m_family!r}) - log2(greatest(coalesce(tf_fam_c_l, 0), {floor})) "
        f"+ log2({m_given!r}) - log2(greatest(coalesce(tf_giv_c_l, 0), {floor}))"
    )
    names_weight = " + ".join(
        f"coalesce(mw_{c.name}, 0) + coalesce(mw_tf_adj_{c.name}, 0)" for c in (m.FAMILY, m.GIVEN)
    )
    swapped = [m.FAMILY.gamma_of(k) for k in ("swapped", "swapped_close")]
    swapped_given = [m.GIVEN.gamma_of(k) for k in ("swapped", "swapped_close")]
    return (
        f"CASE WHEN gamma_{m.FAMILY.name} IN ({swapped[0]}, {swapped[1]}) "
        f"OR gamma_{m.GIVEN.name} IN ({swapped_given[0]}, {swapped_given[1]}) "
        f"THEN least(0.0, ({exact_weight}) - ({names_weight})) ELSE 0.0 END"
    )


def identity_adjustment_sql(factor: float) -> str:
    """SQL: the weight, at most zero, that a pair whose date of birth agrees exactly or
    nearly (one digit, or day and month swapped) and whose names agree in some way
    (exactly, the other way round, spelt alike; or the one name of a one-name person)
    loses to the register's :func:`lookalike_factor`.

    Splink weighs the names and the date as ``log2(m / u)`` with ``u`` the chance that a
    record of someone else agrees as this one does, taking names and dates as
    independent.  In a register where such repeats are ``factor`` times commoner than
    that, ``u`` is ``factor`` times larger, so the pair counts ``log2(factor)`` bits less.
    """
    if factor <= 1.0:
        return "0.0"
    f, g = f"gamma_{m.FAMILY.name}", f"gamma_{m.GIVEN.name}"
    agree = f"({f} > 0 OR {g} > 0) AND {f} <> 0 AND {g} <> 0"
    # A date one slip away (a digit, or day and month swapped) is as good a lookalike: two
    # people with one name born a day apart are no rarer than two born on the same day.
    near = ", ".join(str(m.DATE_OF_BIRTH.gamma_of(k)) for k in ("exact", "swapped", "one_slip"))
    return (
        f"CASE WHEN {agree} AND gamma_date_of_birth IN ({near}) "
        f"THEN {-math.log2(factor)!r} ELSE 0.0 END"
    )


def wilson_lower(successes: float, n: int, z: float = Z) -> float:
    """The lower Wilson score bound of a proportion (0 for no observations)."""
    if n <= 0:
        return 0.0
    p = min(max(successes / n, 0.0), 1.0)
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def none_term(con: duckdb.DuckDBPyConnection, source: str, pool_size: int) -> float:
    """``none`` for the pairs in ``source`` (person_id, dupkey, weight) and a pool of
    ``pool_size`` people: one minus the lower bound of the share of the pool whose record
    is among their candidates."""
    # Sums in a fixed order: DuckDB adds in parallel, and the same run must give the
    # same figures to the last digit.
    row = con.execute(
        f"""SELECT coalesce(sum(total / (1.0 + total) ORDER BY person_id), 0) FROM (
            SELECT person_id, sum(pow(2.0, gw) ORDER BY dupkey) AS total FROM (
                SELECT person_id, dupkey, max(weight) AS gw FROM {source}
                GROUP BY person_id, dupkey)
            GROUP BY person_id)"""
    ).fetchall()
    found = float(row[0][0]) if row else 0.0
    return 1.0 - wilson_lower(found, pool_size)


def rivals_sql(source: str, none: float) -> str:
    """CTEs ending in ``rivals``: every row of ``source`` (person_id, record_id, weight,
    probability, dupkey) with ``rank_for_person``, ``second_for_person``,
    ``second_for_record`` (the best rival's chance of being the right one, of each kind,
    shared out with this pair's over the same alternatives), ``rival_gap``
    (bits ahead of the strongest rival), ``rivals_for_person``, ``rivals_for_record`` (the
    sums of their odds) and ``context_weight``: what the rivals and :func:`none_term` add
    to the pair's weight, ``-log2(none + rivals)``.  The pair's weight plus its context
    weight is the log-odds that the record is the person's."""
    odds = "pow(2.0, weight)"
    none_sql = f"CAST({float(none)!r} AS DOUBLE)"
    return f"""person_groups AS (
            SELECT person_id, dupkey, max(weight) AS gw, max(probability) AS gp
            FROM {source} GROUP BY person_id, dupkey
        ), person_sums AS (
            SELECT person_id, sum(pow(2.0, gw) ORDER BY dupkey) AS total
            FROM person_groups GROUP BY person_id
        ), person_totals AS (
            SELECT g.person_id, g.dupkey, g.gw, g.gp, t.total,
                row_number() OVER (PARTITION BY g.person_id ORDER BY g.gw DESC, g.dupkey) AS g
            FROM person_groups AS g JOIN person_sums AS t USING (person_id)
        ), record_sums AS (
            SELECT record_id, sum({odds} ORDER BY person_id) AS total
            FROM {source} GROUP BY record_id
        ), person_best AS (
            SELECT person_id,
                max(CASE WHEN g = 1 THEN dupkey END) AS best_key,
                max(CASE WHEN g = 1 THEN gw END) AS best_w,
                max(CASE WHEN g = 1 THEN gp END) AS best_p,
                max(CASE WHEN g = 2 THEN gw END) AS second_w,
                max(CASE WHEN g = 2 THEN gp END) AS second_p
            FROM person_totals GROUP BY person_id
        ), ranked AS (
            SELECT s.*, t.total - pow(2.0, t.gw) AS person_others,
                CASE WHEN s.dupkey = b.best_key THEN b.second_w ELSE b.best_w END
                    AS person_rival_w,
                row_number() OVER (PARTITION BY s.person_id
                                   ORDER BY s.weight DESC, s.record_id) AS rank_for_person,
                row_number() OVER (PARTITION BY s.record_id
                                   ORDER BY s.weight DESC, s.person_id) AS rank_for_record,
                rs.total - {odds.replace("weight", "s.weight")} AS record_others,
                count(*) OVER (PARTITION BY s.record_id) AS record_n
            FROM {source} AS s
            JOIN person_totals AS t ON t.person_id = s.person_id AND t.dupkey = s.dupkey
            JOIN person_best AS b ON b.person_id = s.person_id
            JOIN record_sums AS rs ON rs.record_id = s.record_id
        ), record_top AS (
            SELECT record_id,
                max(CASE WHEN rank_for_record = 1 THEN weight END) AS best_w,
                max(CASE WHEN rank_for_record = 2 THEN weight END) AS second_w
            FROM ranked WHERE rank_for_record <= 2 GROUP BY record_id
        ), rival_weights AS (
            SELECT r.*,
                CASE WHEN r.record_n = 1 THEN NULL
                     WHEN r.rank_for_record = 1 THEN t.second_w ELSE t.best_w END
                    AS record_rival_w,
                {none_sql} + {odds.replace("weight", "r.weight")}
                    + greatest(r.person_others, 0.0) + greatest(r.record_others, 0.0)
                    AS hypotheses
            FROM ranked AS r JOIN record_top AS t USING (record_id)
        ), rivals AS (
            SELECT r.*,
                pow(2.0, r.person_rival_w) / r.hypotheses AS second_for_person,
                pow(2.0, r.record_rival_w) / r.hypotheses AS second_for_record,
                r.weight - greatest(r.person_rival_w, r.record_rival_w) AS rival_gap,
                greatest(r.person_others, 0.0) AS rivals_for_person,
                greatest(r.record_others, 0.0) AS rivals_for_record,
                -log2({none_sql} + greatest(r.person_others, 0.0)
                      + greatest(r.record_others, 0.0)) AS context_weight
            FROM rival_weights AS r
        )"""


def wrong_person(
    weight: float, person_rivals: list[float], record_rivals: list[float], none: float = 1.0
) -> float:
    """The chance of the wrong person for one pair, from the weights of its rivals: the
    formula of this module's docstring, for tests and for anyone checking by hand."""
    others = sum(2.0**w for w in person_rivals) + sum(2.0**w for w in record_rivals)
    odds: float = 2.0 ** min(weight, MAX_WEIGHT)
    chance: float = (none + others) / (none + odds + others)
    return chance
