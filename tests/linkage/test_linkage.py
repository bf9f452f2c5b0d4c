"""Linkage (issue 6): the Splink 5 model, its safety rules and its accuracy on `accord synth`."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from accord import formats
from accord.errors import AccordError
from accord.linkage import ambiguity_flags, features, link, train
from accord.linkage import evaluate as ev
from accord.linkage import model as m
from accord.linkage.predict import OUTPUT_SCHEMA
from accord.synth import REGISTERS, Scenario, synthesise

AS_OF = dt.date(2026, 1, 15)
PEOPLE = 8_000


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return synthesise(tmp_path_factory.mktemp("linkage") / "s", PEOPLE, 11, AS_OF)


@pytest.fixture(scope="module")
def pool(scenario: Scenario) -> pa.Table:
    return ev.load_scenario_pool(scenario.out)


@pytest.fixture(scope="module")
def registers(scenario: Scenario) -> dict[str, pa.Table]:
    return {name: formats.load(path, "register") for name, path in scenario.registers.items()}


@pytest.fixture(scope="module")
def models(pool: pa.Table, registers: dict[str, pa.Table]) -> dict[str, m.TrainedModel]:
    return {name: train(name, pool, registers[name], seed=1) for name in REGISTERS}


@pytest.fixture(scope="module")
def bank(models: dict[str, m.TrainedModel]) -> m.TrainedModel:
    return models["bank"]


# --- probes: hand-made people placed among a realistic register ---------------------------------

PROBE_POSTCODE = "ZE9 9ZZ"


def person(
    pid: str, family: str, given: str, dob: str | None, postcode: str | None
) -> dict[str, Any]:
    return {
        "person_id": pid,
        "family_name": family,
        "given_names": given,
        "date_of_birth": dt.date.fromisoformat(dob) if dob else None,
        "postcode": postcode,
    }


def record(
    rid: str, family: str, given: str, dob: str | None, postcode: str | None,
    since: str | None = "2010-05-01",
) -> dict[str, Any]:  # fmt: skip
    return {
        "record_id": rid,
        "family_name": family,
        "given_names": given,
        "date_of_birth": dt.date.fromisoformat(dob) if dob else None,
        "postcode": postcode,
        "since": dt.date.fromisoformat(since) if since else None,
    }


POOL_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("family_name", pa.string()),
        ("given_names", pa.string()),
        ("date_of_birth", pa.date32()),
        ("postcode", pa.string()),
    ]
)


def probe_tables(
    base: pa.Table, people: list[dict[str, Any]], records: list[dict[str, Any]]
) -> tuple[pa.Table, pa.Table]:
    """The probe people as the pool, their records appended to a real register (so that
    term frequencies are those of a register, not of a handful of rows)."""
    pool = pa.Table.from_pylist(people, schema=POOL_SCHEMA)
    extra = pa.Table.from_pylist(
        [{**r, "__row": base.num_rows + i + 1} for i, r in enumerate(records)],
        schema=base.select(["__row", *m.REGISTER_FIELDS]).schema,
    )
    register = pa.concat_tables([base.select(["__row", *m.REGISTER_FIELDS]), extra])
    return pool, register


def rows_by_pair(out: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["person_id"], r["record_id"]): r for r in out.to_pylist()}


# --- features -----------------------------------------------------------------------------------


def test_names_reach_one_form_across_scripts_spellings_and_punctuation() -> None:
    con = duckdb.connect()
    con.register(
        "src",
        pa.table(
            {
                "rid": list(range(1, 10)),
                "id": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
                "family_name": ["O'Brien", "OBRIEN", "Campbell-Lewis", "Nguyễn", "Мельник",
                                "محمد", "Mohammed", "MUHAMMAD", " "],
                "given_names": ["Siobhán Mary", "SIOBHAN M", "Hubert", "Thị Lan", "Олександр",
                                "عبد الله", "Abdullah", "Abdulla", "X"],
                "date_of_birth": pa.array([dt.date(1990, 5, 11)] * 8 + [None], pa.date32()),
                "postcode": ["sw1a 1aa", "SW1A1AA", "E8 3PN", None, "m14-5rt", "", "LS6 2AB",
                             "ls62ab", "B1 1AA"],
            }
        ),
    )  # fmt: skip
    features.build_names(con, ["src"])
    features.add_features(con, "src", "id", "f")
    features.add_keys(con, "src", "k")
    keys = {r[0]: r[1:] for r in con.execute("SELECT rid, fam_c, fam_sk, giv1 FROM k").fetchall()}
    got = {r[0]: r[1:] for r in con.execute(
        "SELECT uid, fam, fam_c, fam_sk, giv, giv1, pc, dob_sw FROM f"
    ).fetchall()}  # fmt: skip
    assert got["a"][1] == got["b"][1] == "obrien"
    assert got["a"][4] == got["b"][4] == "siobhan"
    assert got["c"][0] == "campbell lewis"
    assert got["d"][0] == "nguyen" and got["d"][3] == "thi lan"
    assert got["e"][0] == "melnyk" and got["e"][3] == "oleksandr"
    # Arabic script, and two Latin spellings of the same name, share a skeleton.
    assert got["f"][2] == got["g"][2] == got["h"][2] == "mhmd"
    assert got["a"][5] == got["b"][5] == "SW1A1AA"
    assert got["e"][5] == "M145RT" and got["f"][5] is None
    assert got["g"][5] == got["h"][5]
    assert got["i"][0] is None  # nothing left of a blank name
    assert got["a"][6] == dt.date(1990, 11, 5)  # day and month swapped
    assert got["i"][6] is None
    # The blocking keys are the same names as integer ids: equal exactly when the names are.
    assert keys[1][0] == keys[2][0] and keys[1][2] == keys[2][2]
    assert keys[6][1] == keys[7][1] == keys[8][1]
    assert keys[3][0] != keys[1][0] and keys[9][0] is None


# --- the model ------------------------------------------------------------------------------------


def test_every_level_has_parameters_and_unseen_levels_never_count_for_a_match(
    bank: m.TrainedModel,
) -> None:
    settings = bank.settings
    assert 0 < settings["probability_two_random_records_match"] < 1
    for comp in settings["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        assert math.isclose(sum(lv["m_probability"] for lv in levels), 1.0, rel_tol=1e-6)
        for lv in levels:
            assert lv["m_probability"] > 0 and lv["u_probability"] > 0
            if lv["m_probability"] < 2 * m.M_FLOOR:
                assert lv["m_probability"] <= lv["u_probability"], lv["label_for_charts"]
    by_label = {
        (c["output_column_name"], lv["label_for_charts"]): math.log2(
            lv["m_probability"] / lv["u_probability"]
        )
        for c in settings["comparisons"]
        for lv in c["comparison_levels"]
        if not lv.get("is_null_level")
    }
    # What EM learnt from the data, unsupervised: agreement is evidence for, disagreement
    # against, and a swap of day and month is weaker evidence than the exact date.
    assert (
        by_label[("date_of_birth", "exact match")]
        > by_label[("date_of_birth", "day and month swapped")]
        > 0
    )
    assert by_label[("date_of_birth", "different")] < -5
    assert by_label[("family_name", "exact match")] > 0 > by_label[("family_name", "different")]
    assert by_label[("postcode", "exact match")] > 10


def test_training_is_reproducible_for_a_seed(
    pool: pa.Table, registers: dict[str, pa.Table]
) -> None:
    small_pool, small_register = pool.slice(0, 3_000), registers["bank"].slice(0, 9_000)
    again = [train("bank", small_pool, small_register, seed=3) for _ in range(2)]
    assert json.dumps(again[0].settings, sort_keys=True) == json.dumps(
        again[1].settings, sort_keys=True
    )
    assert again[0].settings["comparisons"][0]["comparison_levels"][1]["tf_adjustment_column"]


def test_training_refuses_inputs_it_cannot_learn_from(registers: dict[str, pa.Table]) -> None:
    empty = pa.Table.from_pylist([], schema=POOL_SCHEMA)
    with pytest.raises(AccordError, match="the pool is empty"):
        train("bank", empty, registers["bank"])
    strangers = pa.Table.from_pylist(
        [person("P1", "Zzyzx", "Quux", "1901-02-03", "ZE1 1ZZ")], schema=POOL_SCHEMA
    )
    with pytest.raises(AccordError, match="nothing to learn"):
        train("bank", strangers, registers["bank"].slice(0, 50))


def test_inputs_are_checked(bank: m.TrainedModel, registers: dict[str, pa.Table]) -> None:
    reg = registers["bank"]
    twice = pa.concat_tables([reg.slice(0, 3), reg.slice(0, 1)])
    pool = pa.Table.from_pylist([person("P1", "A", "B", None, None)], schema=POOL_SCHEMA)
    with pytest.raises(AccordError, match=r"holds record_id .* more than once"):
        link(bank, pool, twice, 0.5)
    with pytest.raises(AccordError, match="lacks column"):
        link(bank, pool.drop_columns(["postcode"]), reg, 0.5)
    nobody = pa.Table.from_pylist([person(None, "A", "B", None, None)], schema=POOL_SCHEMA)  # type: ignore[arg-type]
    with pytest.raises(AccordError, match="without a person_id"):
        link(bank, nobody, reg, 0.5)
    with pytest.raises(AccordError, match="not between 0 and 1"):
        link(bank, pool, reg, 1.5)


# --- link: variants, namesakes, duplicates, rivals ------------------------------------------------

VARIANTS = [
    # (what the register did, pool identity, register identity)
    ("exact", ("Okafor", "Chinedu", "1988-04-02"), ("OKAFOR", "CHINEDU", "1988-04-02")),
    ("names swapped", ("Zhang", "Wei Ming", "1979-08-15"), ("Wei Ming", "Zhang", "1979-08-15")),
    (
        "middle dropped",
        ("Campbell-Lewis", "Hubert Winston", "1958-07-30"),
        ("CAMPBELL LEWIS", "HUBERT", "1958-07-30"),
    ),
    (
        "middle initial",
        ("O'Brien", "Siobhán Mary", "1984-03-12"),
        ("OBRIEN", "SIOBHAN M", "1984-03-12"),
    ),
    (
        "day and month swapped",
        ("Nguyễn", "Thị Lan", "1990-11-05"),
        ("Nguyen", "Thi Lan", "1990-05-11"),
    ),
    (
        "transliteration",
        ("Мельник", "Олександр", "1979-01-23"),
        ("Melnyk", "Oleksandr", "1979-01-23"),
    ),
    (
        "another spelling",
        ("Hussain", "Mohammed Asif", "1991-06-07"),
        ("Hussein", "Muhammad Asif", "1991-06-07"),
    ),
]


def test_recording_variants_still_match_automatically_when_everything_else_agrees(
    bank: m.TrainedModel, registers: dict[str, pa.Table]
) -> None:
    people, records = [], []
    for i, (_, (pf, pg, pd), (rf, rg, rd)) in enumerate(VARIANTS):
        pc = f"ZE{i + 1} 9ZZ"
        people.append(person(f"V{i}", pf, pg, pd, pc))
        records.append(record(f"RV{i}", rf, rg, rd, pc))
    pool, register = probe_tables(registers["bank"], people, records)
    out = link(bank, pool, register, 0.5)
    assert out.schema.equals(OUTPUT_SCHEMA)
    got = rows_by_pair(out)
    for i, (what, _, _) in enumerate(VARIANTS):
        row = got.get((f"V{i}", f"RV{i}"))
        assert row is not None, what
        assert row["rank_for_person"] == 1, what
        if what in ("another spelling", "day and month swapped"):
            # A common name spelt otherwise twice over, or born on the swapped date: a
            # lookalike so recorded is about as likely as the person's record being
            # recorded so, so a person checks it (well inside the review band).
            assert 0.99 <= row["match_probability"] < 0.9999, what
            continue
        assert row["match_probability"] >= 0.999, what
        assert row["wrong_person"] <= 0.001, what


def _commonest_name(register: pa.Table) -> tuple[str, str]:
    con = duckdb.connect()
    con.register("r", register)
    found = con.execute(
        "SELECT family_name, given_names FROM r WHERE family_name IS NOT NULL "
        "AND given_names IS NOT NULL GROUP BY ALL ORDER BY count(*) DESC, 1, 2 LIMIT 1"
    ).fetchall()
    con.close()
    return str(found[0][0]), str(found[0][1])


def test_a_lookalike_with_a_common_name_is_never_automatic_but_the_true_record_is(
    bank: m.TrainedModel, registers: dict[str, pa.Table]
) -> None:
    family, given = _commonest_name(registers["bank"])
    people = [
        person("N1", "Adeyemi", "Folake", "1985-03-09", "B12 9QT"),
        person("N2", family, given, "1972-10-30", "LS6 2AB"),
        person("N3", "Zwölfterkamp", "Quillon", "1972-10-30", "LS6 2AB"),
    ]
    records = [
        record("TRUE1", "ADEYEMI", "FOLAKE", "1985-03-09", "B12 9QT"),
        record("SAKE1", "Adeyemi", "Folake", "1985-03-09", "NE3 4RT"),  # another person
        record("SAKE2", family, given, "1972-10-30", "CF10 1AA"),  # only a lookalike
        record("RARE3", "Zwolfterkamp", "Quillon", "1972-10-30", "CF10 1AA"),  # moved?
    ]
    pool, register = probe_tables(registers["bank"], people, records)
    out = link(bank, pool, register, 0.5)
    got = rows_by_pair(out)
    true1, sake1, sake2 = got[("N1", "TRUE1")], got[("N1", "SAKE1")], got[("N2", "SAKE2")]
    # The record that agrees on everything is the person's.  The other one with the same
    # names and date of birth at another address is no rival to it: it is the person's
    # second record (they moved) or a lookalike, and is weighed on its own as such.
    assert true1["match_probability"] >= 0.999 and true1["rival_gap"] is None
    assert sake1["rival_gap"] is None
    assert sake1["pair_weight"] < true1["pair_weight"] - 10
    # A common name with a different postcode could well be someone else.
    assert sake2["wrong_person"] > 0.001

    # Lookalikes of a rare name are rarer: the same evidence counts for more.
    rare = got[("N3", "RARE3")]
    assert sake2["match_probability"] < rare["match_probability"]
    for row in (sake2, rare):
        entries = json.loads(row["explanation"])
        assert any(e["comparison"] == "lookalikes" and e["match_weight"] < 0 for e in entries)
    flags = {
        (r["person_id"], r["record_id"]): r
        for r in ambiguity_flags(out, disclose_at=0.999, review_from=0.9).to_pylist()
    }
    assert flags[("N1", "TRUE1")]["decision"] == "automatic"
    assert flags[("N2", "SAKE2")]["decision"] == "review"
    assert "uncertain_match" in flags[("N2", "SAKE2")]["reasons"]


def test_a_duplicate_record_is_not_a_rival_but_a_record_that_differs_is(
    bank: m.TrainedModel, registers: dict[str, pa.Table]
) -> None:
    people = [
        person("D1", "Kowalski", "Piotr Jan", "1980-02-14", "SW9 8LF"),
        person("D2", "Ogunleye", "Ngozi", "1986-09-30", "L28 4TE"),
    ]
    records = [
        record("DUP-A", "Kowalski", "Piotr Jan", "1980-02-14", "SW9 8LF"),
        record("DUP-B", "KOWALSKI", "PIOTR", "1980-02-14", "SW9 8LF"),  # same person again
        record("DUP-C", "Kowalski", "Piotr", "1980-02-14", "E1 6AN"),  # ... who moved
        record("OGU-A", "Ogunleye", "Ngozi", "1986-09-30", "L28 4TE"),
        record("OGU-B", "Ogunleye", "Ngozi", "1986-09-03", "L28 4TE"),  # a twin? a typo?
    ]
    pool, register = probe_tables(registers["bank"], people, records)
    got = rows_by_pair(link(bank, pool, register, 0.5))
    a, b, c = got[("D1", "DUP-A")], got[("D1", "DUP-B")], got[("D1", "DUP-C")]
    for row in (a, b, c):  # the same names and date of birth: none is another's rival
        assert row["second_for_person"] is None and row["rival_gap"] is None, row
    assert a["match_probability"] >= 0.999 and b["match_probability"] >= 0.999
    # A record with another date of birth is a rival: its share of the chance is
    # what this pair's leaves over, and the gap between them is their weights'.
    ogu_a, ogu_b = got[("D2", "OGU-A")], got[("D2", "OGU-B")]
    assert ogu_a["second_for_person"] == pytest.approx(ogu_b["match_probability"])
    assert ogu_a["rival_gap"] == pytest.approx(ogu_a["pair_weight"] - ogu_b["pair_weight"])
    assert ogu_a["match_probability"] + ogu_b["match_probability"] <= 1.0 + 1e-12


def test_two_pool_members_on_one_record_are_rivals_for_it(
    bank: m.TrainedModel, registers: dict[str, pa.Table]
) -> None:
    people = [
        person("T1", "Haddad", "Rami", "1990-01-01", "N7 6PQ"),
        person("T2", "Haddad", "Rami", "1990-01-01", "N7 6PQ"),  # the source holds two ids
    ]
    records = [record("HAD", "Haddad", "Rami", "1990-01-01", "N7 6PQ")]
    pool, register = probe_tables(registers["bank"], people, records)
    got = rows_by_pair(link(bank, pool, register, 0.5))
    a, b = got[("T1", "HAD")], got[("T2", "HAD")]
    assert a["second_for_record"] == pytest.approx(b["match_probability"])
    assert b["second_for_record"] == pytest.approx(a["match_probability"])


def test_values_the_firewall_withheld_are_not_matched_on_and_cannot_make_a_match_automatic(
    bank: m.TrainedModel, registers: dict[str, pa.Table]
) -> None:
    people = [person("F1", "Mensah", "Kwame", "1977-12-01", None)]
    records = [record("MEN", "Mensah", "Kwame", "1977-12-01", "SE15 4QL")]
    pool, register = probe_tables(registers["bank"], people, records)
    row = rows_by_pair(link(bank, pool, register, 0.5))[("F1", "MEN")]
    postcode = next(e for e in json.loads(row["explanation"]) if e["comparison"] == "postcode")
    # No evidence either way: the rest of the identity decides (and its lookalikes).
    assert postcode["value_pool"] is None and postcode["match_weight"] == 0
    assert postcode["level"] == "postcode unknown"


def test_the_explanation_is_splinks_waterfall_and_adds_up(
    bank: m.TrainedModel, registers: dict[str, pa.Table]
) -> None:
    people = [person("E1", "Okafor", "Chinedu", "1988-04-02", "E8 3PN")]
    records = [
        record("E-REC", "OKAFOR", "CHINEDU", "1988-04-02", "E8 3PN", since="1999-02-03"),
        record("E-OTHER", "Okafor", "Chidi", "1988-04-02", "E8 3PN"),
    ]
    pool, register = probe_tables(registers["bank"], people, records)
    out = link(bank, pool, register, 0.0)
    for row in out.to_pylist():
        entries = json.loads(row["explanation"])
        assert [e["comparison"] for e in entries[:2]] == ["prior", "family_name"]
        assert {e["comparison"] for e in entries} >= {
            "prior", "family_name", "tf_family_name", "given_names", "date_of_birth",
            "postcode",
        }  # fmt: skip
        assert math.fsum(e["match_weight"] for e in entries) == pytest.approx(
            row["match_weight"], abs=1e-9
        )
        p = 1 / (1 + 2 ** -row["match_weight"])
        assert row["match_probability"] == pytest.approx(p, rel=1e-9)
        for e in entries:
            assert set(e) == {
                "comparison", "level", "match_weight", "value_pool", "value_register",
            }  # fmt: skip
    best = rows_by_pair(out)[("E1", "E-REC")]
    levels = {e["comparison"]: e for e in json.loads(best["explanation"])}
    assert levels["family_name"]["level"] == "exact match"
    assert levels["family_name"]["value_pool"] == "okafor"
    assert json.loads(best["record"]) == {
        "record_id": "E-REC", "family_name": "OKAFOR", "given_names": "CHINEDU",
        "date_of_birth": "1988-04-02", "postcode": "E8 3PN", "since": "1999-02-03",
    }  # fmt: skip
    assert best["since"] == dt.date(1999, 2, 3)
    assert best["rank_for_person"] == 1
    assert rows_by_pair(out)[("E1", "E-OTHER")]["rank_for_person"] == 2


def test_scores_are_splinks_own_predictions(
    bank: m.TrainedModel, pool: pa.Table, registers: dict[str, pa.Table]
) -> None:
    """Accord's pairs, scored by Splink's own `linker.inference.predict()`: same weights."""
    small = pool.slice(0, 1_500)
    ours = link(bank, small, registers["bank"], 0.0)
    con = m.new_duckdb()
    m.prepare(con, small, registers["bank"])
    linker = m.linker_for(con, bank.settings)
    predictions = linker.inference.predict(warning_mode="never")
    theirs = {
        (r[0], r[1]): r[2]
        for r in con.execute(
            f"SELECT uid_l, uid_r, match_weight FROM {predictions.physical_name}"
        ).fetchall()
    }
    con.close()
    assert ours.num_rows > 500
    # The same candidate pairs, and a few more: Accord also blocks on every postcode the
    # casework holds (Splink's linker sees only the latest).
    pairs = {(r["person_id"], r["record_id"]) for r in ours.to_pylist()}
    assert set(theirs) <= pairs and len(pairs - set(theirs)) <= ours.num_rows // 100
    accord_own = ("name_frequency", "other_way_round", "heaped_date", "lookalikes", "candidates")
    for row in ours.to_pylist():
        if (row["person_id"], row["record_id"]) not in theirs:
            continue
        entries = json.loads(row["explanation"])
        splinks = math.fsum(e["match_weight"] for e in entries if e["comparison"] not in accord_own)
        assert splinks == pytest.approx(theirs[(row["person_id"], row["record_id"])], abs=1e-9)


def test_min_probability_filters_pairs_but_not_the_rivals_behind_them(
    bank: m.TrainedModel, registers: dict[str, pa.Table]
) -> None:
    people = [person("M1", "Adeyemi", "Folake", "1985-03-09", "B12 9QT")]
    records = [
        record("M-TRUE", "Adeyemi", "Folake", "1985-03-09", "B12 9QT"),
        record("M-SAKE", "Adeyemi", "Folake", "1985-03-19", "NE3 4RT"),  # one digit off
    ]
    pool, register = probe_tables(registers["bank"], people, records)
    everything = rows_by_pair(link(bank, pool, register, 0.0))
    sake, true = everything[("M1", "M-SAKE")], everything[("M1", "M-TRUE")]
    cut = max(sake["match_probability"], sake["pair_probability"])
    assert cut < true["match_probability"]
    top = link(bank, pool, register, (cut + true["match_probability"]) / 2)
    assert top.num_rows == 1
    assert top.column("second_for_person")[0].as_py() == pytest.approx(sake["match_probability"])
    assert link(bank, pool, register, 0.0).equals(link(bank, pool, register, 0.0))


# --- the safety rules as a function ---------------------------------------------------------------


def test_ambiguity_flags_apply_each_rule_with_its_reason() -> None:
    rows = [
        # person, record, p, second person, second record, since, rival gap, wrong, pair
        ("A", "r1", 0.9995, None, None, "2020-01-01", None, 0.0005, 0.9995),  # automatic
        ("B", "r2", 0.95, None, None, None, None, 0.05, 0.95),  # uncertain
        ("C", "r3", 0.9999, 0.00009, None, None, 4.0, 0.0001, 0.9999),  # rival within 10 bits
        ("D", "r4", 0.9999, 1e-7, None, None, 20.0, 0.0001, 0.9999),  # clear rival: automatic
        ("E", "r5", 0.49, None, 0.48, None, 0.1, 0.51, 0.999),  # two people on one record
        ("F", "r6", 0.9999, None, None, "1990-06-30", None, 0.0001, 0.9999),  # 20+ years
        ("G", "r7", 0.5, None, None, None, None, 0.5, 0.5),  # below review
        ("H", "r8", 0.5, None, None, None, None, 0.5, 0.95),  # the pair alone is strong
    ]
    candidates = pa.table(
        {
            "person_id": [r[0] for r in rows],
            "record_id": [r[1] for r in rows],
            "match_probability": [r[2] for r in rows],
            "second_for_person": pa.array([r[3] for r in rows], pa.float64()),
            "second_for_record": pa.array([r[4] for r in rows], pa.float64()),
            "since": pa.array(
                [dt.date.fromisoformat(r[5]) if r[5] else None for r in rows], pa.date32()
            ),
            "rival_gap": pa.array([r[6] for r in rows], pa.float64()),
            "wrong_person": pa.array([r[7] for r in rows], pa.float64()),
            "pair_probability": pa.array([r[8] for r in rows], pa.float64()),
        }
    )
    decisions = pa.table(
        {
            "person_id": [r[0] for r in rows],
            "latest_decision_date": pa.array([dt.date(2015, 1, 1)] * len(rows), pa.date32()),
        }
    )
    got = {
        r["person_id"]: r
        for r in ambiguity_flags(
            candidates, disclose_at=0.999, review_from=0.9, decision_dates=decisions,
            long_residence_years=20,
        ).to_pylist()
    }  # fmt: skip
    assert got["A"]["decision"] == "automatic" and got["A"]["reasons"] == ["automatic"]
    assert got["B"]["decision"] == "review" and got["B"]["reasons"] == ["uncertain_match"]
    assert got["C"]["decision"] == "review" and got["C"]["reasons"] == ["ambiguous_match"]
    assert got["D"]["decision"] == "automatic"
    assert got["E"]["decision"] == "review" and got["E"]["ambiguous"]
    assert got["F"]["decision"] == "review" and got["F"]["reasons"] == ["long_residence"]
    assert got["G"]["decision"] == "no_match" and got["G"]["reasons"] == ["below_review"]
    assert got["H"]["decision"] == "review" and got["H"]["reasons"] == ["uncertain_match"]
    # Without decision dates the long-residence rule cannot apply.
    plain = ambiguity_flags(candidates, disclose_at=0.999, review_from=0.9)
    assert {r["person_id"]: r["decision"] for r in plain.to_pylist()}["F"] == "automatic"
    # A stricter tolerance than 1 - disclose_at, and a margin on the shared-out chances.
    strict = ambiguity_flags(candidates, disclose_at=0.999, review_from=0.9,
                             max_wrong_person=0.0002, ambiguity_bits=2.0)  # fmt: skip
    decided = {r["person_id"]: r["decision"] for r in strict.to_pylist()}
    assert decided["A"] == "review" and decided["C"] == "automatic"


# --- accuracy on `accord synth` -------------------------------------------------------------------


def poisson_quantile(mean: float, level: float) -> int:
    """The smallest count a Poisson variable of this mean stays at or under with ``level``."""
    k, term = 0, math.exp(-mean)
    total = term
    while total < level:
        k += 1
        term *= mean / k
        total += term
    return k


@pytest.mark.parametrize("name", REGISTERS)
def test_automatic_matches_are_wrong_no_more_often_than_the_model_says(
    name: str,
    scenario: Scenario,
    pool: pa.Table,
    registers: dict[str, pa.Table],
    models: dict[str, m.TrainedModel],
) -> None:
    candidates = link(models[name], pool, registers[name], 0.5)
    truth = ev.read_truth(scenario.truth_records, name)
    result = ev.evaluate(name, candidates, truth, pool)
    auto = result.automatic
    assert auto is not None and result.traps is not None
    assert auto.predicted > 0
    # The agreement accepts a chance of one in 1,000 of the wrong person per automatic
    # match, and the model estimates that chance per pair: the wrong people it matches
    # automatically (planted lookalikes are the hardest) are held to its own estimate,
    # no more than the Poisson count it makes likely (99%); more would mean it is too sure.
    wrong = auto.predicted - auto.correct
    assert wrong <= poisson_quantile(result.expected_wrong, 0.99), (
        result.wrong_automatic, result.expected_wrong,
    )  # fmt: skip
    assert result.expected_wrong <= 0.001 * auto.predicted
    assert result.traps.automatic <= wrong
    assert result.traps.planted > 0
    # And the review band finds nearly everyone: recall counting review.
    assert result.matched is not None and result.matched.recall >= 0.95, (name, result.matched)
    # The candidates per threshold narrow as the threshold rises.
    counts = [q.predicted for q in result.by_threshold]
    assert counts == sorted(counts, reverse=True)


def test_scenario_pool_withholds_values_from_protected_rows(scenario: Scenario) -> None:
    cases = formats.load(scenario.cases, "cases")
    pool = ev.scenario_pool(cases)
    con = duckdb.connect()
    con.register("cases", cases)
    con.register("pool", pool)
    leaked = con.execute(
        """SELECT count(*) FROM pool p WHERE p.postcode IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM cases c WHERE c.person_id = p.person_id AND c.postcode = p.postcode
              AND coalesce(c.data_category, 'immigration_casework')
                  NOT IN ('health', 'education', 'victim_or_witness'))"""
    ).fetchall()[0][0]
    assert leaked == 0
    assert pool.num_rows == len(set(cases.column("person_id").to_pylist()))


def test_reading_the_truth_reports_bad_input(tmp_path: Path, scenario: Scenario) -> None:
    with pytest.raises(AccordError, match="no such file"):
        ev.read_truth(tmp_path / "records.csv", "bank")
    with pytest.raises(AccordError, match="holds no records of register"):
        ev.read_truth(scenario.truth_records, "nobody")
    with pytest.raises(AccordError, match="no such directory"):
        ev.scenario_registers(tmp_path / "missing")
    with pytest.raises(AccordError, match="is not in scenario"):
        ev.scenario_registers(scenario.out, ["nobody"])


def test_a_level_em_leaves_at_zero_is_floored_not_an_error(
    pool: pa.Table, registers: dict[str, pa.Table]
) -> None:
    """Splink 5 raises on an m of exactly 0.0, which EM gives a level no pair reaches."""
    from splink.internals import expectation_maximisation as em
    from splink.internals.comparison_level import M_U_CLAMP_MIN

    con = m.new_duckdb()
    try:
        m.prepare(con, pool.slice(0, 200), registers["bank"].slice(0, 600))
        linker = m.linker_for(con, m.settings_dict())
        core = linker._settings_obj.core_model_settings
        level = core.comparisons[0]._comparison_levels_excluding_null[0]
        records = [
            {
                "output_column_name": m.LAMBDA_RECORD,
                "comparison_vector_value": 0,
                "m_probability": 0.001,
                "u_probability": 0.999,
            },
            {
                "output_column_name": core.comparisons[0].output_column_name,
                "comparison_vector_value": level.comparison_vector_value,
                "m_probability": 0.0,
                "u_probability": 0.25,
            },
        ]
        with pytest.raises(ValueError, match="below the minimum allowed"):
            em.maximisation_step(set(), core, [dict(r) for r in records])
        original = em.maximisation_step
        with m._em_tolerates_unreached_levels():
            stepped = em.maximisation_step(set(), core, [dict(r) for r in records])
        assert em.maximisation_step is original  # Splink is left as it was
    finally:
        con.close()
    trained = stepped.comparisons[0]._comparison_levels_excluding_null[0]
    assert trained.m_probability == M_U_CLAMP_MIN and trained.u_probability == 0.25
