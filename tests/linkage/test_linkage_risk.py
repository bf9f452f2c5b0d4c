"""The chance of the wrong person (accord.linkage.risk) and its words (accord.linkage.words)."""

from __future__ import annotations

import math
import random

import duckdb
import pytest

from accord.linkage import risk, words


def test_wilson_lower_bound() -> None:
    assert risk.wilson_lower(0, 0) == 0.0
    assert risk.wilson_lower(0, 50) == 0.0
    # 50 of 100, one-sided 95%: the textbook value.
    assert risk.wilson_lower(50, 100) == pytest.approx(0.4189, abs=1e-4)
    assert risk.wilson_lower(100, 100) < 1.0
    assert risk.wilson_lower(4_990, 5_000) > 0.995


def _probs(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, float, str]]) -> None:
    con.execute(
        "CREATE TABLE probs (person_id VARCHAR, record_id VARCHAR, weight DOUBLE, "
        "probability DOUBLE, dupkey VARCHAR)"
    )
    con.executemany(
        "INSERT INTO probs VALUES (?, ?, ?, 1.0 / (1.0 + pow(2.0, -?)), ?)",
        [(p, r, w, w, d) for p, r, w, d in rows],
    )


def test_rivals_and_the_chance_of_no_record_match_the_formula() -> None:
    con = duckdb.connect()
    _probs(
        con,
        [
            ("A", "r1", 20.0, "k1"),  # A's best
            ("A", "r2", 12.0, "k2"),  # a rival record for A
            ("A", "r3", 19.0, "k1"),  # a duplicate of r1: not a rival
            ("B", "r1", 5.0, "k1"),  # another person on r1: a rival for it
            ("C", "r9", 8.0, "k9"),  # alone
        ],
    )
    none = 0.25
    got = {
        (p, r): (gap, ctx, sfp, sfr)
        for p, r, gap, ctx, sfp, sfr in con.execute(
            f"WITH {risk.rivals_sql('probs', none)} SELECT person_id, record_id, rival_gap, "
            "context_weight, second_for_person, second_for_record FROM rivals"
        ).fetchall()
    }
    gap, context, second_person, second_record = got[("A", "r1")]
    assert gap == pytest.approx(8.0)  # r2 is the strongest rival (r3 is the same person)
    expected = risk.wrong_person(20.0, [12.0], [5.0], none)
    assert 1 / (1 + 2 ** (20.0 + context)) == pytest.approx(expected, rel=1e-12)
    total = none + 2**20 + 2**12 + 2**5
    assert second_person == pytest.approx(2**12 / total)
    assert second_record == pytest.approx(2**5 / total)
    # Alone: only the chance of no record stands against it.
    gap, context, second_person, second_record = got[("C", "r9")]
    assert gap is None and second_person is None and second_record is None
    assert context == pytest.approx(-math.log2(none))


def test_the_chance_of_no_record_is_cautious_and_follows_the_register() -> None:
    con = duckdb.connect()
    # Two of four people have a strong candidate: at most half the pool is covered,
    # and the lower bound says less.
    _probs(con, [("A", "r1", 30.0, "a"), ("B", "r2", 30.0, "b"), ("C", "r3", -10.0, "c")])
    none = risk.none_term(con, "probs", 4)
    assert 0.5 < none < 1.0
    assert none == pytest.approx(1 - risk.wilson_lower(2 + 1 / (1 + 2**10), 4), rel=1e-9)
    # Nobody found: nobody can be assumed to hold a record.
    assert risk.none_term(con, "probs", 10_000) > 0.999


def test_repeated_names_and_dates_at_other_addresses_lower_identity_evidence() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE keys (fam_c INTEGER, giv1 INTEGER, dob DATE, pc VARCHAR)")
    rng = random.Random(7)

    def day() -> str:
        return f"19{rng.randrange(40, 99)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}"

    people = [(rng.randrange(300), rng.randrange(200), day(), f"P{i}") for i in range(5_000)]
    con.executemany("INSERT INTO keys VALUES (?, ?, ?, ?)", people)
    plain = risk.lookalike_factor(con, "keys")
    # The same people again at another address (moved), and the same at the same address
    # (a record held twice): only the first raise the factor.
    con.executemany("INSERT INTO keys VALUES (?, ?, ?, ?)",
                    [(f, g, d, p + "-moved") for f, g, d, p in people[:200]])  # fmt: skip
    moved = risk.lookalike_factor(con, "keys")
    con.executemany("INSERT INTO keys VALUES (?, ?, ?, ?)", people[200:400])
    twice = risk.lookalike_factor(con, "keys")
    # Nothing repeats in the plain register: its factor is what three repeats (the upper
    # bound of none seen) would make it, no more.
    assert risk.poisson_upper(0) == pytest.approx(2.996, abs=0.05)  # exact: -ln(0.05)
    assert plain >= 1.0 and moved > 2 * plain
    assert twice == pytest.approx(moved, rel=0.2)
    assert risk.identity_adjustment_sql(1.0) == "0.0"
    assert f"{-math.log2(moved)!r}" in risk.identity_adjustment_sql(moved)


def test_the_words_agree_with_the_figures() -> None:
    explanation = [
        {"comparison": "prior", "level": "starting match weight", "match_weight": -16.0},
        {"comparison": "family_name", "level": "exact match", "match_weight": 9.0},
        {"comparison": "tf_family_name", "level": "term frequency adjustment",
         "match_weight": 2.0},
        {"comparison": "given_names", "level": "exact match", "match_weight": 8.0},
        {"comparison": "date_of_birth", "level": "exact match", "match_weight": 12.0},
        {"comparison": "postcode", "level": "different", "match_weight": -3.0},
        {"comparison": "lookalikes", "level": "...", "match_weight": -4.0},
        {"comparison": "candidates", "level": "...", "match_weight": 1.0},
    ]  # fmt: skip
    evidence = {"wrong_person": 0.0123, "rival_gap": None, "name_others": 2, "coverage": 0.3}
    said = words.summary(explanation, evidence)
    assert said[0] == "Family name, given names and date of birth agree exactly."
    assert "Postcode differs." in said
    assert any("1 time in 130,000" in s for s in said)  # 2 ** (9 + 2 + 8 + 12 - 4) = 2 ** 27
    assert "2 other records in the register have the same family and given name." in said
    assert "No other record or person comes close." in said
    assert any(s.startswith("The register holds a record for at least 30%") for s in said)
    assert said[-1] == "Chance that the record is someone else's: about 1 in 81."
    assert words.one_in(0.0) == "less than 1 in a billion"
    assert words.one_in(0.5) == "about 50 in 100"
    assert words.summary([], None) == []
    # A one-letter difference is a difference, not a missing value.
    slip = [
        {"comparison": "given_names", "match_weight": 3.0,
         "level": "first given name one letter different, missing, added or two letters swapped"},
        {"comparison": "date_of_birth", "level": "date of birth unknown", "match_weight": 0},
    ]  # fmt: skip
    assert words.summary(slip, None) == [
        "Given names agree, but not exactly.",
        "Date of birth is missing on one side.",
    ]
    # A rival ahead of this pair is said the right way round, never "0.0 times as likely".
    behind = words.summary([], {"rival_gap": -9.0})
    assert "it is about 512 times as likely as this one" in " ".join(behind)
    assert "0.0 times" not in " ".join(behind)
    ahead = words.summary([], {"rival_gap": 4.0})
    assert "this one is about 16 times as likely as the strongest other" in " ".join(ahead)
