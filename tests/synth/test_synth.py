"""The synthetic scenario (`accord synth`): its files, its people, its noise and its truth."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pytest
import yaml

from accord.cli import main
from accord.errors import AccordError
from accord.formats.schema import COUNTRY_CODES, PROCEDURAL_REFUSALS
from accord.synth import KINDS, REGISTERS, Mix, Scenario, synthesise
from accord.synth.agreements import write_agreements
from accord.synth.mix import DEFAULT_KINDS
from accord.synth.names import ORIGINS, compile_pools
from accord.synth.truth import Tally, naive_disclosures, people_truth, records_truth, score

AS_OF = dt.date(2026, 1, 15)
PEOPLE = 20_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's own scenario: 20,000 people, seed 1, made through the command line."""
    out = tmp_path_factory.mktemp("synth") / "s"
    code = main(
        [
            "synth",
            "--people",
            str(PEOPLE),
            "--seed",
            "1",
            "--out",
            str(out),
            "--as-of",
            AS_OF.isoformat(),
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return synthesise(tmp_path_factory.mktemp("small") / "s", 2_000, 7, AS_OF)


def csv(path: Path) -> str:
    return f"read_csv('{path}', header = true, all_varchar = true)"


def load(con: duckdb.DuckDBPyConnection, d: Path) -> None:
    """cases, events, people (truth), records (truth) and each register as tables."""
    con.execute(f"""CREATE TABLE cases AS SELECT * REPLACE (
        date_of_birth::DATE AS date_of_birth, decision_date::DATE AS decision_date,
        leave_expiry::DATE AS leave_expiry, arrival_date::DATE AS arrival_date,
        departure_date::DATE AS departure_date) FROM {csv(d / "cases.csv")}""")
    con.execute(f"CREATE TABLE events AS SELECT * FROM {csv(d / 'events.csv')}")
    con.execute(f"CREATE TABLE people AS SELECT * FROM {csv(d / 'truth' / 'people.csv')}")
    con.execute(f"CREATE TABLE records AS SELECT * FROM {csv(d / 'truth' / 'records.csv')}")
    for r in REGISTERS:
        con.execute(f"CREATE TABLE {r} AS SELECT * FROM {csv(d / f'{r}.csv')}")
    con.execute(
        """CREATE TABLE latest AS SELECT c.*, p.kind FROM cases c
        JOIN people p USING (person_id) WHERE decision <> 'information'
        QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY decision_date DESC) = 1"""
    )


SCHEMAS: dict[Path, str] = {}


@pytest.fixture(scope="module")
def loaded(big: Path, small: Scenario) -> Iterator[duckdb.DuckDBPyConnection]:
    """Both scenarios read once, each into its own schema."""
    c = duckdb.connect()
    for name, d in (("big", big), ("small", small.out)):
        c.execute(f"CREATE SCHEMA {name}")
        c.execute(f"USE memory.{name}")
        load(c, d)
        SCHEMAS[d] = name
    yield c
    c.close()


@pytest.fixture
def con(loaded: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    c = loaded.cursor()
    yield c
    c.close()


def views(con: duckdb.DuckDBPyConnection, d: Path) -> None:
    """Point ``con`` at the scenario in ``d``."""
    con.execute(f"USE memory.{SCHEMAS[d]}")


# A person's name as one text, case aside; a one name is the same in either field.
NAME = """CASE WHEN {0}.family_name IS NULL OR {0}.given_names IS NULL
    THEN upper(coalesce({0}.family_name, {0}.given_names))
    ELSE upper({0}.family_name) || '|' || upper({0}.given_names) END"""


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return con.execute(sql).fetchall()[0][0]


# --- the command and its files -----------------------------------------------------------


def test_the_issue_command_writes_every_file_and_each_passes_validate(
    big: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind, name in [
        ("cases", "cases.csv"),
        ("register", "dvla.csv"),
        ("register", "hmrc.csv"),
        ("register", "bank.csv"),
        ("events", "events.csv"),
    ]:
        assert main(["validate", kind, str(big / name)]) == 0, name
        assert f"valid {kind} file" in capsys.readouterr().out
    assert sorted(p.name for p in (big / "agreements").iterdir()) == [
        "home-office-to-bank.yaml",
        "home-office-to-dvla.yaml",
        "home-office-to-hmrc.yaml",
    ]
    assert sorted(p.name for p in (big / "truth").iterdir()) == ["people.csv", "records.csv"]
    assert not list(big.rglob("*.part"))


def test_scenario_json_describes_the_files_exactly(big: Path) -> None:
    doc = json.loads((big / "scenario.json").read_text())
    assert doc["people"] == PEOPLE and doc["seed"] == 1 and doc["as_of"] == AS_OF.isoformat()
    assert doc["mix"]["kinds"] == dict(DEFAULT_KINDS)
    for name, rel in doc["files"].items():
        path = big / rel
        assert path.is_file(), name
        if name in doc["rows"]:
            with path.open("rb") as fh:
                assert sum(1 for _ in fh) - 1 == doc["rows"][name], name
    scenario = Scenario.load(big)
    assert scenario.rows["dvla"] == 3 * PEOPLE and scenario.people == PEOPLE
    assert scenario.registers["bank"] == big / "bank.csv"
    assert scenario.mix == Mix()


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    def digests(d: Path) -> dict[str, str]:
        return {
            str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*"))
            if p.is_file()
        }

    a = synthesise(tmp_path / "a", 1_500, 42, AS_OF)
    b = synthesise(tmp_path / "b", 1_500, 42, AS_OF)
    c = synthesise(tmp_path / "c", 1_500, 43, AS_OF)
    assert digests(a.out) == digests(b.out)
    assert len(digests(a.out)) == 11  # 5 CSV, 3 agreements, 2 truth, scenario.json
    da, dc = digests(a.out), digests(c.out)
    assert all(da[k] != dc[k] for k in ("cases.csv", "bank.csv", "truth/people.csv"))


def test_as_of_defaults_to_today(tmp_path: Path) -> None:
    assert main(["synth", "--people", "50", "--out", str(tmp_path / "s")]) == 0
    doc = json.loads((tmp_path / "s" / "scenario.json").read_text())
    assert doc["as_of"] == dt.date.today().isoformat() and doc["seed"] == 1


def test_agreements_have_exactly_the_spec_shape(big: Path) -> None:
    for r in REGISTERS:
        doc = yaml.safe_load((big / "agreements" / f"home-office-to-{r}.yaml").read_text())
        assert set(doc) == {
            "id",
            "title",
            "source",
            "recipient",
            "purpose",
            "legal_basis",
            "data_categories",
            "fields",
            "status",
            "valid_from",
            "review_by",
            "exclude_cohorts",
            "match",
            "review",
        }
        assert doc["id"] == f"home-office-to-{r}" and doc["recipient"] == r
        assert doc["purpose"] == "immigration_enforcement" and doc["status"] == "active"
        assert doc["data_categories"] == ["immigration_casework"]
        assert doc["fields"] == ["family_name", "given_names", "date_of_birth"]
        assert doc["match"] == {"disclose_at": 0.999, "review_from": 0.90, "ambiguity_margin": 0.05}
        assert doc["review"] == {"four_eyes": True} and doc["exclude_cohorts"] == []
        assert doc["valid_from"] < AS_OF < doc["review_by"]
        assert doc["legal_basis"].strip()


def test_agreements_pass_the_agreement_checker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As written for a run today (the checker judges validity dates against today)."""
    pytest.importorskip("accord.policy.agreement")
    write_agreements(tmp_path, dt.date.today())
    assert main(["agreements", "check", str(tmp_path)]) == 0
    assert "3 agreement(s) checked: no findings" in capsys.readouterr().out


# --- the people and their histories ------------------------------------------------------


def test_kinds_come_in_the_proportions_asked_for(
    big: Path, small: Scenario, tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    counts = dict(con.execute("SELECT kind, count(*) FROM people GROUP BY 1").fetchall())
    for k in KINDS:
        assert abs(counts.get(k, 0) - DEFAULT_KINDS[k] * PEOPLE) <= 1, k
    s = synthesise(tmp_path / "m", 1_000, 3, AS_OF, Mix().with_kinds({"windrush": 0.2}))
    kinds = people_truth(s.out).column("kind").to_pylist()
    assert kinds.count("windrush") == 200
    others = sum(DEFAULT_KINDS[k] for k in KINDS if k != "windrush")
    assert kinds.count("overstayer") == pytest.approx(1000 * 0.8 * 0.5 / others, abs=1)


def test_a_person_has_one_and_a_half_decisions_on_average(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    per_person = one(con, "SELECT count(*) / count(DISTINCT person_id) FROM cases")
    assert 1.4 <= float(per_person) <= 1.7
    assert one(con, "SELECT count(DISTINCT person_id) FROM cases") == PEOPLE


def test_each_kinds_latest_state_is_what_the_kind_says(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    a = f"DATE '{AS_OF.isoformat()}'"
    procedural = ", ".join(f"'{r}'" for r in PROCEDURAL_REFUSALS)
    rules = {
        "overstayer": f"""decision = 'refusal' AND refusal_reason NOT IN ({procedural})
            AND appeal_status IN ('none', 'dismissed', 'exhausted') AND leave = 'none'""",
        "overturned": f"""decision = 'refusal' AND refusal_reason NOT IN ({procedural})
            AND appeal_status IN ('none', 'dismissed', 'exhausted') AND leave = 'none'""",
        "procedural_refusal": f"decision = 'refusal' AND refusal_reason IN ({procedural})",
        "appeal_pending": f"""decision = 'refusal' AND leave = 'none' AND (appeal_status = 'pending'
            OR (appeal_status = 'in_time' AND decision_date > {a} - INTERVAL 14 DAY))""",
        "windrush": "decision = 'refusal' AND leave = 'none'",
        "departed": f"departure_date IS NOT NULL AND departure_date <= {a}",
        "has_leave": f"""decision = 'grant' AND (leave IN ('indefinite', 'citizen')
            OR (leave = 'limited' AND leave_expiry > {a}))""",
    }
    for kind, rule in rules.items():
        bad = one(con, f"SELECT count(*) FROM latest WHERE kind = '{kind}' AND NOT ({rule})")
        assert bad == 0, kind
        assert one(con, f"SELECT count(*) FROM latest WHERE kind = '{kind}'") > 0, kind
    # Procedural refusals: an earlier grant of limited leave still running.
    assert (
        one(
            con,
            f"""SELECT count(*) FROM people p WHERE kind = 'procedural_refusal' AND NOT EXISTS
        (SELECT 1 FROM cases c WHERE c.person_id = p.person_id AND decision = 'grant'
         AND leave = 'limited' AND leave_expiry > {a})""",
        )
        == 0
    )
    # Rightful targets: no unexpired leave and no departure anywhere in their history.
    assert (
        one(
            con,
            f"""SELECT count(*) FROM cases c JOIN people p USING (person_id)
        WHERE p.kind IN ('overstayer', 'overturned')
        AND (departure_date IS NOT NULL OR leave_expiry > {a}
             OR leave IN ('indefinite', 'citizen'))""",
        )
        == 0
    )
    assert (
        one(
            con,
            "SELECT count(*) FROM people WHERE (rightful_target = 'true') <> (kind = 'overstayer')",
        )
        == 0
    )
    # Nothing is dated after the run; every event is.
    assert one(con, "SELECT max(decision_date) FROM cases") <= AS_OF
    assert one(con, "SELECT min(event_date::DATE) FROM events") > AS_OF


def test_windrush_people_arrived_before_1973_and_nobody_else_did(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    rows = con.execute("""SELECT kind = 'windrush', arrived_before_1973 = 'true',
        max(arrival_date::DATE), min(arrival_date::DATE), count(arrival_date), count(*)
        FROM people GROUP BY ALL""").fetchall()
    by = {(w, b): rest for w, b, *rest in rows}
    assert set(by) == {(True, True), (False, False)}
    latest, earliest, with_date, total = by[(True, True)]
    assert latest < dt.date(1973, 1, 1) and earliest >= dt.date(1948, 1, 1)
    assert with_date == total
    assert by[(False, False)][1] >= dt.date(1973, 1, 1)
    # The arrival is on every one of their case rows too.
    assert (
        one(
            con,
            """SELECT count(*) FROM cases JOIN people p USING (person_id)
        WHERE p.kind = 'windrush' AND (cases.arrival_date IS NULL
              OR cases.arrival_date >= DATE '1973-01-01')""",
        )
        == 0
    )


def test_overturned_refusals_and_only_they_get_an_overturn_or_a_grant_after_the_run(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    assert (
        one(
            con,
            """SELECT count(*) FROM people p WHERE kind = 'overturned' AND NOT EXISTS
        (SELECT 1 FROM events e WHERE e.person_id = p.person_id
         AND event_type IN ('decision_overturned', 'leave_granted'))""",
        )
        == 0
    )
    assert (
        one(
            con,
            """SELECT count(*) FROM events JOIN people p USING (person_id)
        WHERE event_type IN ('decision_overturned', 'leave_granted')
        AND p.kind <> 'overturned'""",
        )
        == 0
    )
    kinds = {k for (k,) in con.execute("SELECT DISTINCT event_type FROM events").fetchall()}
    assert {
        "decision_overturned",
        "leave_granted",
        "evidence_received",
        "departure_recorded",
        "dispute_opened",
        "dispute_resolved",
        "record_corrected",
    } == kinds


def test_protected_address_means_the_newest_postcode_came_from_school_or_health(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    con.execute("""CREATE TEMP TABLE newest AS SELECT c.person_id, c.postcode, c.decision,
        c.data_category FROM cases c WHERE postcode IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY decision_date DESC) = 1""")
    rows = con.execute("""SELECT p.protected_address = 'true',
        n.decision = 'information' AND n.data_category IN ('education', 'health'), count(*)
        FROM people p JOIN newest n USING (person_id) GROUP BY ALL""").fetchall()
    counts = {(a, b): c for a, b, c in rows}
    assert counts.get((True, False), 0) == 0
    assert counts.get((False, True), 0) == 0
    assert 0.02 * PEOPLE <= counts[(True, True)] <= 0.04 * PEOPLE
    # Their casework rows carry another, older postcode: the firewall leaves that one.
    assert (
        one(
            con,
            """SELECT count(*) FROM cases c JOIN people p USING (person_id)
        WHERE p.protected_address = 'true' AND c.data_category IN ('immigration_casework')
        AND c.postcode = p.postcode""",
        )
        == 0
    )
    # Some protected rows are older than a casework address: not the newest, so no flag.
    assert (
        one(
            con,
            """SELECT count(DISTINCT person_id) FROM cases c JOIN people p
        USING (person_id) WHERE p.protected_address = 'false'
        AND c.data_category IN ('education', 'health')""",
        )
        > 0
    )


def test_quality_faults_are_a_missing_or_a_second_date_of_birth(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    rows = con.execute("""SELECT coalesce(p.quality_fault, 'none'), count(c.date_of_birth),
        count(DISTINCT c.date_of_birth), count(*) FROM cases c JOIN people p USING (person_id)
        GROUP BY c.person_id, p.quality_fault""").fetchall()
    seen = set()
    for fault, with_dob, distinct, total in rows:
        seen.add(fault)
        if fault == "no_dob":
            assert with_dob == 0
        elif fault == "conflicting_dob":
            assert distinct == 2 and total >= 2
        else:
            assert distinct == 1 and with_dob == total
    assert seen == {"none", "no_dob", "conflicting_dob"}


def test_names_come_from_many_origins_with_their_own_scripts_and_nationalities(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    origins = {o for (o,) in con.execute("SELECT DISTINCT origin FROM people").fetchall()}
    assert len(origins) >= 12
    assert (
        one(con, "SELECT count(*) FROM people WHERE family_name <> strip_accents(family_name)") > 0
    )
    nats = {n for (n,) in con.execute("SELECT DISTINCT nationality FROM cases").fetchall() if n}
    assert nats <= set(COUNTRY_CODES) and len(nats) >= 40
    for o in ORIGINS:
        assert {c for c, _ in o.nationalities} <= set(COUNTRY_CODES)


def test_name_pools_have_variants_and_no_stray_characters() -> None:
    pools = compile_pools()
    assert len(pools.spellings) > 3000
    assert sum(1 for c in pools.spell_count if c > 1) > 500
    assert all("," not in s and s == s.strip() and s for s in pools.spellings)


# --- registers -----------------------------------------------------------------------------


def test_registers_hold_mostly_the_public_and_three_rows_per_person(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    for r in REGISTERS:
        assert one(con, f"SELECT count(*) FROM {r}") == 3 * PEOPLE
        public = one(
            con, f"SELECT count(*) FROM records WHERE register = '{r}' AND person_id IS NULL"
        )
        assert public > 0.8 * 3 * PEOPLE
    # Truth covers each register row once, in the same order.
    for r in REGISTERS:
        assert (
            one(
                con,
                f"""SELECT count(*) FROM {r} FULL JOIN
            (SELECT * FROM records WHERE register = '{r}') t USING (record_id)
            WHERE {r}.record_id IS NULL OR t.record_id IS NULL""",
            )
            == 0
        )


def test_windrush_records_go_back_decades(big: Path, con: duckdb.DuckDBPyConnection) -> None:
    views(con, big)
    rows = con.execute("""SELECT max(since::DATE), count(*) FROM (
        SELECT since FROM dvla JOIN records USING (record_id) JOIN people p USING (person_id)
        WHERE p.kind = 'windrush' UNION ALL
        SELECT since FROM bank JOIN records USING (record_id) JOIN people p USING (person_id)
        WHERE p.kind = 'windrush')""").fetchall()
    latest, count = rows[0]
    assert count > 20 and latest <= dt.date(2000, 12, 31)


def test_a_register_record_without_noise_is_its_person_exactly(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """Bank records: where no noise (nor upper case) was applied, the record
    shows the person's true name and date of birth; where some was, it shows (mostly) not."""
    views(con, big)
    clean = one(
        con,
        """SELECT count(*) FROM bank h JOIN records t USING (record_id)
        JOIN people p ON p.person_id = t.person_id WHERE t.noise IS NULL""",
    )
    assert clean > 0
    assert (
        one(
            con,
            """SELECT count(*) FROM bank h JOIN records t USING (record_id)
        JOIN people p ON p.person_id = t.person_id WHERE t.noise IS NULL
        AND (h.family_name IS DISTINCT FROM p.family_name
             OR h.given_names IS DISTINCT FROM p.given_names
             OR h.date_of_birth <> p.date_of_birth)""",
        )
        == 0
    )
    names_differ = (
        "h.family_name IS DISTINCT FROM p.family_name "
        "OR h.given_names IS DISTINCT FROM p.given_names"
    )
    for noise, differs in [
        ("transliteration", names_differ),
        ("names_swapped", "h.family_name IS NOT DISTINCT FROM p.given_names"),
        ("dob_missing", "h.date_of_birth IS NULL"),
        ("dob_day_month_swapped", "h.date_of_birth <> p.date_of_birth"),
        ("typo", names_differ),
    ]:
        total, ok = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE {differs})
            FROM bank h JOIN records t USING (record_id) JOIN people p
            ON p.person_id = t.person_id WHERE t.noise = '{noise}'""").fetchall()[0]
        assert total > 0 and ok == total, noise


def test_every_kind_of_noise_occurs(big: Path, con: duckdb.DuckDBPyConnection) -> None:
    views(con, big)
    labels = {
        lab
        for (n,) in con.execute(
            "SELECT DISTINCT noise FROM records WHERE noise IS NOT NULL"
        ).fetchall()
        for lab in n.split(";")
    }
    assert labels == {
        "transliteration",
        "middle_dropped",
        "middle_initial",
        "names_swapped",
        "typo",
        "upper_case",
        "ascii_folded",
        "dob_missing",
        "dob_day_month_swapped",
        "postcode_moved",
        "postcode_missing",
        "since_missing",
        "postcode_previous_known",
        "postcode_previous_unknown",
        "one_name_swapped",
        "one_name_doubled",
    }
    # The DVLA's house style: every name in upper case, without accents or apostrophes.
    assert (
        one(
            con,
            """SELECT count(*) FROM dvla WHERE family_name <> upper(family_name)
        OR family_name <> strip_accents(family_name) OR contains(family_name, '''')""",
        )
        == 0
    )


def test_namesakes_are_other_people_with_the_same_name_and_date_of_birth(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    for trap, offset in (("namesake", "0"), ("near_namesake", "1")):
        total, confirmed = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM people p WHERE {NAME.format("p")} = {NAME.format("h")}
            AND abs(p.date_of_birth::DATE - h.date_of_birth::DATE) = {offset}
            AND p.person_id IS DISTINCT FROM t.person_id))
            FROM bank h JOIN records t USING (record_id)
            WHERE t.trap = '{trap}' AND t.noise IS NULL""").fetchall()[0]
        assert total > 0 and confirmed == total, trap
    for r in REGISTERS:
        assert (
            one(con, f"SELECT count(*) FROM records WHERE register = '{r}' AND trap = 'namesake'")
            > 0
        )


def test_duplicates_mark_every_record_of_a_person_held_twice(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    rows = con.execute("""SELECT register, person_id, count(*), bool_and(duplicate = 'true'),
        bool_or(duplicate = 'true') FROM records WHERE person_id IS NOT NULL
        GROUP BY ALL""").fetchall()
    assert any(n >= 2 for _, _, n, _, _ in rows)
    for _, _, n, all_dup, any_dup in rows:
        assert all_dup if n >= 2 else not any_dup
    assert (
        one(con, "SELECT count(*) FROM records WHERE person_id IS NULL AND duplicate = 'true'") > 0
    )


# --- what real registers have: movers, namesakes of non-holders, common names, one name ---

REGISTER_ROWS = " UNION ALL ".join(f"SELECT '{r}' AS register, * FROM {r}" for r in REGISTERS)


def test_movers_records_hold_an_earlier_address_the_casework_knows_or_does_not(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    rows = con.execute(f"""
        SELECT t.register, t.noise LIKE '%postcode_previous_known%' AS known,
          h.postcode = p.postcode AS current,
          EXISTS (SELECT 1 FROM cases c WHERE c.person_id = t.person_id
                  AND c.postcode = h.postcode AND c.decision_date <= (
                      SELECT max(n.decision_date) FROM cases n
                      WHERE n.person_id = t.person_id AND n.postcode = p.postcode)) AS earlier,
          p.previous_postcode_on_file = 'true' AS older_on_file
        FROM ({REGISTER_ROWS}) h JOIN records t USING (register, record_id)
        JOIN people p ON p.person_id = t.person_id
        WHERE t.noise LIKE '%postcode_previous_%' AND h.postcode IS NOT NULL""").fetchall()
    for register, known, current, earlier, older_on_file in rows:
        assert not current, register
        # Known: an earlier case row carries the register's postcode; unknown: no row does.
        assert earlier == known, register
        assert older_on_file or not known, register
    for r in ("dvla", "bank"):
        mine = [known for reg, known, *_ in rows if reg == r]
        assert 0.05 <= sum(mine) / len(mine) <= 0.5, r  # about 0.8 of the ~20% with one on file
    # The public's records moved to any other postcode; no one else's is called previous.
    assert (
        one(
            con,
            """SELECT count(*) FROM records WHERE (person_id IS NULL
            AND noise LIKE '%postcode_previous_%') OR (person_id IS NOT NULL
            AND noise LIKE '%postcode_moved%')""",
        )
        == 0
    )


def test_namesakes_are_planted_for_people_with_and_without_a_record_where_names_coincide(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    for r in REGISTERS:
        planted = one(
            con, f"SELECT count(*) FROM records WHERE register = '{r}' AND planted = 'namesake'"
        )
        expected = Mix().namesakes[r] * PEOPLE  # a Poisson total with this mean
        assert abs(planted - expected) <= 4 * expected**0.5 + 2, r
    # Records shown as the person's casework shows them (upper case aside): each trap is
    # exactly the name and date of birth of people who do, or do not, hold a record here.
    rows = con.execute(f"""
        SELECT t.register, t.planted, t.namesake_of, count(p.person_id),
          count(p.person_id) FILTER (WHERE EXISTS (SELECT 1 FROM records o
              WHERE o.register = t.register AND o.person_id = p.person_id)),
          count(p.person_id) FILTER (WHERE contains(coalesce(p.registers, ''), t.register))
        FROM ({REGISTER_ROWS}) h JOIN records t USING (register, record_id)
        LEFT JOIN people p ON {NAME.format("p")} = {NAME.format("h")}
          AND p.date_of_birth = h.date_of_birth AND p.person_id IS DISTINCT FROM t.person_id
        WHERE t.trap = 'namesake' AND coalesce(t.noise, 'upper_case') = 'upper_case'
        GROUP BY ALL""").fetchall()
    kinds: dict[str, int] = {}
    for register, planted, namesake_of, people, holding, listed in rows:
        assert people > 0 and holding == listed, register
        expected = {"holder": holding == people, "non_holder": holding == 0}
        assert expected.get(namesake_of, 0 < holding < people), (register, namesake_of)
        if planted == "namesake":
            kinds[namesake_of] = kinds.get(namesake_of, 0) + 1
    assert kinds.get("holder", 0) > 0 and kinds.get("non_holder", 0) > 0
    # Where coincidences happen: common names and 1 January birthdays, far above their
    # share of the people.
    jan1_people = one(con, "SELECT avg((date_of_birth LIKE '%-01-01')::INT) FROM people")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE commonness AS SELECT person_id, date_of_birth,
        {NAME.format("people")} AS name, count(*) OVER (PARTITION BY
          coalesce(upper(family_name), ''), upper(split_part(coalesce(given_names, ''), ' ', 1))
        ) AS sharing FROM people"""
    )
    jan1_planted, sharing_planted = con.execute(f"""
        SELECT avg((h.date_of_birth LIKE '%-01-01')::INT), avg(c.sharing)
        FROM ({REGISTER_ROWS}) h JOIN records t USING (register, record_id)
        JOIN commonness c ON c.name = {NAME.format("h")} AND c.date_of_birth = h.date_of_birth
        WHERE t.planted = 'namesake' AND coalesce(t.noise, 'upper_case') = 'upper_case'
        """).fetchall()[0]
    assert jan1_planted > 3 * jan1_people
    assert sharing_planted > one(con, "SELECT avg(sharing) FROM commonness")


def test_common_names_are_common_and_1_january_birthdays_are_heaped(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)

    def share(origin: str, where: str) -> float:
        return float(
            one(
                con,
                f"""SELECT avg(({where})::INT) FROM people
                WHERE origin = '{origin}' AND mononym = 'false'""",
            )
        )

    mohammed = "split_part(given_names, ' ', 1) IN ('Mohammed', 'Muhammad', 'Mohamed', "
    mohammed += "'Mohammad', 'Mohd')"
    assert share("south_asian", mohammed) >= 0.07  # a fifth of the men
    assert share("arabic", mohammed) >= 0.07
    assert share("south_asian", "family_name = 'Khan'") >= 0.06
    assert share("vietnamese", "family_name IN ('Nguyễn', 'Nguyen', 'Nguyên')") >= 0.3
    assert share("anglophone", "family_name = 'Smith'") >= 0.03
    jan1 = "CAST(date_of_birth AS VARCHAR) LIKE '%-01-01'"
    for origin in ("persian", "horn"):
        assert 0.12 <= share(origin, jan1) <= 0.3, origin
    assert 0.04 <= share("arabic", jan1) <= 0.13
    for origin in ("caribbean", "chinese", "east_european", "slavic"):
        assert share(origin, jan1) <= 0.01, origin
    overall = one(con, f"SELECT avg(({jan1})::INT) FROM people")
    assert 0.03 <= overall <= 0.07  # one in 25 on the UK immigration system in 2007
    in_cases = one(con, f"SELECT avg(({jan1})::INT) FROM cases WHERE date_of_birth IS NOT NULL")
    assert 0.03 <= in_cases <= 0.07
    # The public of those origins too: well above the 1 in 365 of a date at random.
    public = one(
        con,
        """SELECT avg((h.date_of_birth LIKE '%-01-01')::INT) FROM bank h
        JOIN records t USING (record_id)
        WHERE t.person_id IS NULL AND t.planted IS NULL AND h.date_of_birth IS NOT NULL""",
    )
    assert 2 / 365 <= public <= 0.03


def test_one_name_people_have_one_empty_name_part_in_the_casework_and_vary_in_registers(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, big)
    shares = dict(
        con.execute("SELECT origin, avg((mononym = 'true')::INT) FROM people GROUP BY 1").fetchall()
    )
    for origin, (low, high) in {
        "indonesian": (0.25, 0.55),
        "persian": (0.06, 0.14),
        "horn": (0.01, 0.06),
        "south_asian": (0.01, 0.035),
    }.items():
        assert low <= shares[origin] <= high, origin
    assert all(shares[o] == 0 for o in shares if o not in Mix().mononyms)
    # In the casework: exactly one part empty for them, none for anyone else.
    rows = con.execute("""SELECT p.mononym = 'true', (c.family_name IS NULL)::INT
        + (c.given_names IS NULL)::INT, coalesce(c.family_name, c.given_names)
        = coalesce(p.family_name, p.given_names), count(*)
        FROM cases c JOIN people p USING (person_id) GROUP BY ALL""").fetchall()
    assert {(m, empty) for m, empty, _, _ in rows} == {(True, 1), (False, 0)}
    assert all(same for m, _, same, _ in rows if m)
    as_family = one(
        con, "SELECT avg((family_name IS NOT NULL)::INT) FROM people WHERE mononym = 'true'"
    )
    assert 0.55 <= as_family <= 0.85
    # In registers: as the casework has it, in the other field, or in both.
    rows = con.execute(f"""SELECT CASE WHEN t.noise LIKE '%one_name_doubled%' THEN 'doubled'
          WHEN t.noise LIKE '%one_name_swapped%' THEN 'swapped' ELSE 'same' END,
        p.family_name IS NOT NULL, h.family_name IS NOT NULL, h.given_names IS NOT NULL
        FROM ({REGISTER_ROWS}) h JOIN records t USING (register, record_id)
        JOIN people p ON p.person_id = t.person_id
        WHERE p.mononym = 'true' AND coalesce(t.noise, '') NOT LIKE '%names_swapped%'
        """).fetchall()
    seen = set()
    for how, in_family, family, given in rows:
        seen.add(how)
        expected = {
            "doubled": (True, True),
            "swapped": (not in_family, in_family),
            "same": (in_family, not in_family),
        }[how]
        assert (family, given) == expected, how
    assert seen == {"doubled", "swapped", "same"}


def test_the_new_proportions_are_options_and_do_what_they_say(tmp_path: Path) -> None:
    out = tmp_path / "s"
    argv = ["synth", "--people", "3000", "--seed", "5", "--out", str(out)]
    argv += ["--as-of", AS_OF.isoformat(), "--previous-known", "0"]
    argv += ["--mononyms", "indonesian=1,persian=0,horn=0,south_asian=0"]
    argv += ["--mononym-as-family", "0", "--mononym-swapped", "0", "--mononym-doubled", "1"]
    assert main(argv) == 0
    mix = Scenario.load(out).mix
    assert (mix.previous_known, mix.mononym_as_family, mix.mononym_doubled) == (0.0, 0.0, 1.0)
    assert mix.mononyms["indonesian"] == 1.0 and mix.mononyms["persian"] == 0.0
    c = duckdb.connect()
    load(c, out)
    origins = dict(
        c.execute(
            "SELECT origin, bool_and(mononym = 'true') FROM people "
            "WHERE origin = 'indonesian' OR mononym = 'true' GROUP BY 1"
        ).fetchall()
    )
    assert origins == {"indonesian": True}
    given_only = """SELECT count(*) FROM cases c JOIN people p USING (person_id)
        WHERE p.mononym = 'true' AND c.family_name IS NOT NULL"""
    assert c.execute(given_only).fetchall() == [(0,)]
    movers = """SELECT count(*) FILTER (WHERE noise LIKE '%postcode_previous_known%'),
        count(*) FILTER (WHERE noise LIKE '%postcode_previous_unknown%') FROM records"""
    known, unknown = c.execute(movers).fetchall()[0]
    assert known == 0 and unknown > 0
    doubled = """SELECT count(*), bool_and(coalesce(t.noise, '') LIKE '%one_name_doubled%')
        FROM records t JOIN people p USING (person_id) WHERE p.mononym = 'true'"""
    held, all_doubled = c.execute(doubled).fetchall()[0]
    assert held > 0 and all_doubled


# --- scoring against the truth -------------------------------------------------------------


def _record(con: duckdb.DuckDBPyConnection, where: str) -> tuple[str, str, str]:
    row = con.execute(f"""SELECT t.register, t.record_id, t.person_id FROM records t
        LEFT JOIN people p ON p.person_id = t.person_id WHERE {where}
        ORDER BY t.register, t.record_id LIMIT 1""").fetchall()
    assert row, where
    reg, rec, person = row[0]
    return str(reg), str(rec), str(person)


def test_score_counts_rightful_and_wrongful_by_kind_register_and_trap(
    small: Scenario, con: duckdb.DuckDBPyConnection
) -> None:
    views(con, small.out)
    reg1, rec1, p1 = _record(con, "p.kind = 'overstayer'")
    reg2, rec2, p2 = _record(con, "p.kind = 'has_leave'")
    reg3, rec3, _ = _record(con, "t.trap = 'namesake' AND t.person_id IS NULL")
    other = one(
        con,
        f"""SELECT person_id FROM people WHERE kind = 'overstayer'
        AND person_id <> '{p1}' ORDER BY person_id LIMIT 1""",
    )
    disclosures = pa.table(
        {
            "recipient": [reg1, reg1, reg2, reg3, reg1],
            "record_id": [rec1, rec1, rec2, rec3, rec1],
            "person_id": [p1, p1, p2, other, other],
        }
    )
    s = score(disclosures, small.out)
    assert (s.rightful, s.wrongful, s.wrong_person, s.not_target) == (1, 3, 2, 1)
    assert s.by_kind["overstayer"] == Tally(1, 2) and s.by_kind["has_leave"] == Tally(0, 1)
    assert s.by_kind["windrush"] == Tally(0, 0)
    assert s.by_trap["namesake"] == 1 and s.by_trap["none"] == 1
    assert s.wrongful_share == pytest.approx(0.75)
    assert sum(t.total for t in s.by_register.values()) == 4
    possible = one(
        con,
        """SELECT count(*) FROM records t JOIN people p USING (person_id)
        WHERE p.kind = 'overstayer'""",
    )
    assert sum(s.possible.values()) == possible
    assert s.recall() == pytest.approx(1 / possible)
    # The same from a Polars frame with a register column.
    frame = pl.from_arrow(disclosures)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.rename({"recipient": "register"})
    assert score(frame, small.out) == s


def test_score_refuses_disclosures_from_another_scenario(small: Scenario, tmp_path: Path) -> None:
    with pytest.raises(AccordError, match="holds no such record"):
        score(
            pa.table({"register": ["bank"], "record_id": ["XX1"], "person_id": ["P0000001"]}),
            small.out,
        )
    rec = records_truth(small.out).slice(0, 1).to_pylist()[0]
    with pytest.raises(AccordError, match="holds no such person"):
        score(
            pa.table(
                {
                    "register": [rec["register"]],
                    "record_id": [rec["record_id"]],
                    "person_id": ["nobody"],
                }
            ),
            small.out,
        )
    with pytest.raises(AccordError, match="lack the column"):
        score(pa.table({"record_id": ["x"], "person_id": ["y"]}), small.out)
    with pytest.raises(AccordError, match="no such file"):
        score(pa.table({"register": ["bank"], "record_id": ["x"], "person_id": ["y"]}), tmp_path)
    with pytest.raises(AccordError, match="Arrow table or a Polars frame"):
        score([("bank", "x", "y")], small.out)


def test_the_naive_process_is_wrong_about_one_time_in_ten(
    big: Path, con: duckdb.DuckDBPyConnection
) -> None:
    """The calibration: every refusal in the pool, exact name and date of birth, all shared.
    The inspection found 17 of 169 bank refusals wrong (10%)."""
    naive = naive_disclosures(big)
    s = score(naive, big)
    assert s.total > 2000
    assert 0.07 <= s.wrongful_share <= 0.13
    assert 0.07 <= s.by_register["bank"].wrongful_share <= 0.13
    assert s.by_trap["namesake"] > 0 and s.not_target > s.wrong_person
    for kind in KINDS:
        if kind != "overstayer":
            assert s.by_kind[kind].wrongful > 0, kind
    # Shares of sharing that led to action: DVLA 4,300 of 107,000 (4.0%), HMRC 600 of
    # 122,000 (0.5%), here disclosures per person in the naive pool.
    views(con, big)
    pool = one(con, "SELECT count(DISTINCT person_id) FROM cases WHERE decision = 'refusal'")
    per = {r: s.by_register[r].total / pool for r in REGISTERS}
    assert 0.03 <= per["dvla"] <= 0.05 and 0.003 <= per["hmrc"] <= 0.008
    refused = {
        p
        for (p,) in con.execute("SELECT person_id FROM cases WHERE decision = 'refusal'").fetchall()
    }
    assert set(naive.column("person_id").to_pylist()) <= refused


def test_truth_tables_load_as_arrow(small: Scenario) -> None:
    people = people_truth(small.out)
    assert people.num_rows == 2_000 and "rightful_target" in people.column_names
    assert records_truth(small.out).num_rows == 3 * 3 * 2_000


# --- what a user can get wrong ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--people", "0"], "at least 1 person"),
        (["--people", "10", "--seed", "-1"], "the seed must be 0 or more"),
        (["--people", "10", "--mix", "ghost=0.1"], "unknown kind 'ghost'"),
        (["--people", "10", "--mix", "windrush=lots"], "'lots' in 'windrush=lots' is not a number"),
        (["--people", "10", "--mix", "windrush"], "'windrush' is not NAME=SHARE"),
        (["--people", "10", "--mix", "windrush=0.7,overstayer=0.6"], "add up to 1.3, more than 1"),
        (["--people", "10", "--mix", "windrush=0.1,windrush=0.2"], "'windrush' is given twice"),
        (["--people", "10", "--mix", ",".join(f"{k}=0.1" for k in KINDS)], "not 1"),
        (["--people", "10", "--coverage", "tesco=0.1"], "unknown register 'tesco'"),
        (["--people", "10", "--namesakes", "bank=2"], "namesakes bank: share 2 is outside 0 to 1"),
        (["--people", "10", "--protected-address", "1.5"], "share 1.5 is outside 0 to 1"),
        (["--people", "10", "--noise", "9"], "noise 9 is outside 0 to 5"),
        (["--people", "100", "--register-rows", "5", "--coverage", "bank=1"], "too few"),
        (["--people", "10", "--as-of", "1990-01-01"], "is outside 2000-01-01"),
        (["--people", "10", "--as-of", "2300-01-01"], "is outside 2000-01-01"),
        (["--people", "20000001"], "more than the 20,000,000 supported"),
        (["--people", "10", "--register-rows", "100000001"], "more than the 100,000,000"),
        (["--people", "10", "--register-rows", "-5"], "register rows -5 is negative"),
        (["--people", "10", "--mix", ","], "--mix: no NAME=SHARE given"),
        (["--people", "10", "--mononyms", "mars=0.1"], "unknown origin 'mars'"),
        (["--people", "10", "--mononyms", "horn=1.5"], "mononyms horn: share 1.5 is outside"),
        (
            ["--people", "10", "--mononym-swapped", "0.7", "--mononym-doubled", "0.5"],
            "add up to more than 1",
        ),
        (["--people", "10", "--previous-known", "2"], "previous-known: share 2 is outside"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["synth", *args, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_unusable_out_and_dates_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    assert main(["synth", "--people", "10", "--out", str(file)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert (
        main(["synth", "--people", "10", "--out", str(tmp_path / "s"), "--as-of", "2026-13-01"])
        == 2
    )
    assert "not a date" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "s")]) == 2
    assert "--people" in capsys.readouterr().err
    with pytest.raises(AccordError, match="made by accord synth"):
        Scenario.load(tmp_path)
    (tmp_path / "scenario.json").write_text("{not json")
    with pytest.raises(AccordError, match="not a scenario description"):
        Scenario.load(tmp_path)
    with pytest.raises(AccordError, match="no register files"):
        naive_disclosures(tmp_path)


def test_an_unwritable_out_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    assert main(["synth", "--people", "10", "--out", str(file / "s")]) == 2
    err = capsys.readouterr().err
    assert "cannot write the scenario" in err and "Traceback" not in err
