"""The policy: its model and defaults, the predicate language, compilation to SQL, versions."""

from __future__ import annotations

import datetime as dt
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlalchemy import select

from accord.cli import main
from accord.errors import InputError
from accord.policy import compile as policy_compile
from accord.policy.lint import lint_policy
from accord.policy.policy import (
    DEFAULT_DOCUMENT,
    PERSON_FIELDS,
    Condition,
    default_policy,
    load_policy,
    parse_policy,
)
from accord.policy.registry import policy_in_force, record_policy
from accord.store import db
from accord.store.models import AuditLog, PolicyVersion

AS_OF = dt.date(2026, 1, 1)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- the model and its defaults ---------------------------------------------------------------


def test_the_documented_policy_file_equals_the_built_in_defaults() -> None:
    with resources.as_file(resources.files("accord") / "data" / "policy.yaml") as path:
        documented = load_policy(path)
    assert documented == load_policy(None)
    assert documented.document() == parse_policy(DEFAULT_DOCUMENT).document()


def test_built_in_defaults_are_the_safe_ones() -> None:
    p = default_policy()
    assert set(p.protected_categories) == {"health", "education", "victim_or_witness"}
    assert p.is_enforcement("immigration_enforcement") and p.is_enforcement("tax_enforcement")
    assert not p.is_enforcement("tax_administration")
    assert {"age_over_30", "arrived_before_1973", "long_residence"} <= set(p.cohorts)
    assert p.long_residence_years == 20
    assert p.recipients == ["dvla", "hmrc", "bank"]
    assert lint_policy(p) == []


def test_a_policy_file_replaces_only_the_sections_it_names(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "recipients: [dvla, hmrc, bank, council]\n")
    p = load_policy(path)
    assert p.recipients[-1] == "council"
    assert p.protected_categories == default_policy().protected_categories
    assert p.admission_rules == default_policy().admission_rules


def test_an_empty_policy_file_is_the_built_in_policy(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path / "p.yaml", "")) == default_policy()


def test_the_policy_document_round_trips_through_json() -> None:
    p = default_policy()
    assert parse_policy(json.loads(json.dumps(p.document()))) == p


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        (
            "cohorts: {x: {description: d, when: {field: shoe_size, op: '=', value: 1}}}\n",
            "cohorts.x.when.field",
            "unknown field 'shoe_size'",
        ),
        (
            "cohorts: {x: {description: d, when: {cohort: nobody}}}\n",
            "cohorts.x.when.cohort",
            "unknown cohort 'nobody'",
        ),
        (
            "cohorts: {x: {description: d, when: {cohort: x}}}\n",
            "cohorts.x",
            "the cohort refers to itself",
        ),
        (
            "cohorts: {x: {description: d, when: {field: arrival_date, op: '<', value: soon}}}\n",
            "cohorts.x.when.value",
            "'soon' is not a date value",
        ),
        (
            "cohorts: {x: {description: d, when: {field: leave, op: '>', value: none}}}\n",
            "cohorts.x.when.op",
            "leave is text",
        ),
        (
            "cohorts: {x: {description: d, when: {field: leave, op: in, value: limited}}}\n",
            "cohorts.x.when.value",
            "'in' needs a list",
        ),
        (
            "cohorts: {x: {description: d, when: {field: age_years, op: '>', value: $nope}}}\n",
            "cohorts.x.when.value",
            "unknown reference '$nope'",
        ),
        (
            "cohorts: {x: {description: d, when: {field: age_years, op: '=', value: 3}}}\n",
            "cohorts.x.when.op",
            "span of years",
        ),
        (
            "cohorts: {x: {description: d, when: {field: leave, op: is null, value: x}}}\n",
            "cohorts.x.when.value",
            "takes no value",
        ),
        (
            "cohorts: {x: {description: d, when: {colour: red}}}\n",
            "cohorts.x.when",
            "a predicate is a mapping",
        ),
        (
            "cohorts: {x: {description: d, when: {all: [{field: leave, op: '~', value: x}]}}}\n",
            "cohorts.x.when.all[0].op",
            "Input should be",
        ),
        ("cohort: {}\n", "cohort", "is not a known field"),
        ("parameters: {long_residence_years: 0}\n", "parameters.long_residence_years", "1 or more"),
        (
            "admission_rules:\n"
            "  - {code: a, outcome: exclude, description: d, when: {field: leave, op: is null}}\n"
            "  - {code: a, outcome: exclude, description: d, when: {field: leave, op: is null}}\n",
            "admission_rules[1].code",
            "used twice",
        ),
        (
            "admission_rules:\n"
            "  - {code: manual_check_approved, outcome: exclude, description: d,\n"
            "     when: {field: leave, op: is null}}\n",
            "admission_rules[0].code",
            "reserved",
        ),
    ],
)
def test_a_policy_that_cannot_be_applied_is_refused_naming_the_field(
    tmp_path: Path, text: str, column: str, message: str
) -> None:
    path = write(tmp_path / "p.yaml", text)
    with pytest.raises(InputError) as exc:
        load_policy(path)
    problems = [(p.column, p.message) for p in exc.value.problems]
    assert any(c == column and message in m for c, m in problems), problems
    assert all(p.file == str(path) for p in exc.value.problems)


def test_a_key_given_twice_is_refused_with_its_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "recipients: [dvla]\nrecipients: [bank]\n")
    with pytest.raises(InputError, match=r"key 'recipients' appears twice \(lines 1 and 2\)"):
        load_policy(path)


def test_a_policy_that_is_not_yaml_or_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not valid YAML: line 2: expected"):
        load_policy(write(tmp_path / "a.yaml", "recipients: [dvla\n"))
    with pytest.raises(InputError, match="a policy file is a mapping"):
        load_policy(write(tmp_path / "b.yaml", "- 1\n"))
    with pytest.raises(InputError, match="no such file"):
        load_policy(tmp_path / "missing.yaml")


# --- the policy linter -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            "protected_categories: [health, education]\n",
            "firewall_weakened",
            "policy: protected category victim_or_witness of the built-in firewall is not "
            "protected",
        ),
        (
            "enforcement_purposes: [immigration_enforcement]\n",
            "firewall_weakened",
            "policy: enforcement purpose pattern *_enforcement of the built-in firewall is missing",
        ),
        (
            "admission_rules: []\n",
            "admission_rule_missing",
            "policy: built-in admission rule procedural_refusal is missing (Refused for a "
            "procedural reason (fee not paid, incomplete or invalid application), which says "
            "nothing about the right to be here.)",
        ),
    ],
)
def test_policy_lint_reports_every_weakening(
    tmp_path: Path, text: str, code: str, message: str
) -> None:
    path = write(tmp_path / "p.yaml", text)
    findings = lint_policy(load_policy(path), str(path))
    assert any(f.code == code and f.message == message for f in findings), findings
    assert all(f.file == str(path) for f in findings)


def test_policy_lint_reports_a_rule_whose_outcome_is_weakened(tmp_path: Path) -> None:
    rules = [dict(r) for r in DEFAULT_DOCUMENT["admission_rules"]]
    for r in rules:
        if r["code"] == "appeal_pending":
            r["outcome"] = "quarantine"
    policy = parse_policy({"admission_rules": rules})
    assert [(f.code, f.message) for f in lint_policy(policy)] == [
        (
            "admission_rule_weakened",
            "policy: admission rule appeal_pending has outcome quarantine; the built-in "
            "outcome is exclude",
        )
    ]


def test_policy_check_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check"]) == 0
    assert "no findings" in capsys.readouterr().out
    weak = write(tmp_path / "weak.yaml", "protected_categories: []\n")
    assert main(["policy", "check", str(weak)]) == 1
    printed = capsys.readouterr()
    assert printed.out.count("is not protected") == 3
    assert "3 finding(s)" in printed.err
    broken = write(tmp_path / "broken.yaml", "cohorts: {x: {description: d, when: {cohort: y}}}\n")
    assert main(["policy", "check", str(broken)]) == 2
    assert "unknown cohort 'y'" in capsys.readouterr().err


def test_policy_show_prints_a_policy_that_loads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "show"]) == 0
    shown = write(tmp_path / "shown.yaml", capsys.readouterr().out)
    assert load_policy(shown) == default_policy()


# --- compiled predicates -------------------------------------------------------------------------

STATE_COLUMNS: dict[str, pa.DataType] = {
    name: {"text": pa.string(), "date": pa.date32(), "number": pa.int64()}[str(t)]
    for name, t in PERSON_FIELDS.items()
    if str(t) != "years"
}


def person_state(con: duckdb.DuckDBPyConnection, people: list[dict[str, Any]]) -> None:
    """A hand-made ``person_state`` with every column the predicates may read."""
    columns = {"person_id": pa.array([p["person_id"] for p in people], pa.string())}
    defaults: dict[str, Any] = {
        "decisions": 1,
        "adverse_decisions": 1,
        "dob_distinct": 1,
        "departures_before_decision": 0,
        "nationality_distinct": 1,
    }
    for name, typ in STATE_COLUMNS.items():
        columns[name] = pa.array([p.get(name, defaults.get(name)) for p in people], typ)
    con.register("person_state_in", pa.table(columns))
    con.execute("CREATE OR REPLACE TABLE person_state AS SELECT * FROM person_state_in")


def members(con: duckdb.DuckDBPyConnection, predicate: policy_compile.Compiled) -> set[str]:
    policy_compile.bind(con, predicate)
    rows = con.execute(f"SELECT person_id FROM person_state WHERE {predicate.sql}").fetchall()
    return {r[0] for r in rows}


def test_age_over_30_is_exact_to_the_day() -> None:
    con = duckdb.connect()
    person_state(
        con,
        [
            {"person_id": "thirty_today", "date_of_birth": dt.date(1996, 1, 1)},
            {"person_id": "thirty_yesterday", "date_of_birth": dt.date(1995, 12, 31)},
            {"person_id": "twenty_nine", "date_of_birth": dt.date(1996, 6, 1)},
            {"person_id": "no_dob", "date_of_birth": None},
        ],
    )
    over_30 = policy_compile.cohort_predicates(default_policy(), AS_OF)["age_over_30"]
    assert members(con, over_30) == {"thirty_yesterday"}


def test_arrival_and_long_residence_cohorts() -> None:
    con = duckdb.connect()
    decision = dt.date(2020, 6, 1)
    person_state(
        con,
        [
            {
                "person_id": "1972",
                "arrival_date": dt.date(1972, 12, 31),
                "latest_decision_date": decision,
            },
            {
                "person_id": "1973",
                "arrival_date": dt.date(1973, 1, 1),
                "latest_decision_date": decision,
            },
            {
                "person_id": "exactly_20",
                "arrival_date": dt.date(2000, 6, 1),
                "latest_decision_date": decision,
            },
            {
                "person_id": "a_day_short",
                "arrival_date": dt.date(2000, 6, 2),
                "latest_decision_date": decision,
            },
            {
                "person_id": "left_in_between",
                "arrival_date": dt.date(1990, 1, 1),
                "latest_decision_date": decision,
                "departures_before_decision": 1,
            },
            {"person_id": "unknown_arrival", "latest_decision_date": decision},
        ],
    )
    preds = policy_compile.cohort_predicates(default_policy(), AS_OF)
    assert members(con, preds["arrived_before_1973"]) == {"1972"}
    assert members(con, preds["long_residence"]) == {"1972", "1973", "exactly_20"}


def test_a_parameter_change_moves_the_long_residence_threshold() -> None:
    con = duckdb.connect()
    person_state(
        con,
        [
            {
                "person_id": "p",
                "arrival_date": dt.date(2005, 1, 1),
                "latest_decision_date": dt.date(2020, 1, 1),
            }
        ],
    )
    assert (
        members(con, policy_compile.cohort_predicates(default_policy(), AS_OF)["long_residence"])
        == set()
    )
    fifteen = parse_policy({"parameters": {"long_residence_years": 15}})
    assert fifteen.long_residence_years == 15
    assert members(con, policy_compile.cohort_predicates(fifteen, AS_OF)["long_residence"]) == {"p"}


def test_comparisons_with_unknown_values_are_false_and_not_makes_them_true() -> None:
    con = duckdb.connect()
    person_state(con, [{"person_id": "blank"}, {"person_id": "limited", "leave": "limited"}])
    policy = parse_policy(
        {
            "cohorts": {
                "not_limited": {
                    "description": "d",
                    "when": {"not": {"field": "leave", "op": "=", "value": "limited"}},
                },
                "other_leave": {
                    "description": "d",
                    "when": {"field": "leave", "op": "!=", "value": "limited"},
                },
                "outside": {
                    "description": "d",
                    "when": {"field": "leave", "op": "not in", "value": ["indefinite"]},
                },
            },
            "admission_rules": [],
        }
    )
    preds = policy_compile.cohort_predicates(policy, AS_OF)
    assert members(con, preds["not_limited"]) == {"blank"}
    assert members(con, preds["other_leave"]) == set()
    assert members(con, preds["outside"]) == {"limited"}


RULE_CASES: list[tuple[dict[str, Any], str, set[str]]] = [
    ({}, "admitted", set()),
    ({"latest_decision": "grant"}, "excluded", {"no_adverse_decision"}),
    ({"latest_decision": None}, "excluded", {"no_adverse_decision"}),
    ({"leave": "indefinite"}, "excluded", {"current_leave"}),
    ({"leave": "citizen"}, "excluded", {"current_leave"}),
    ({"leave": "limited", "leave_expiry": dt.date(2026, 1, 1)}, "excluded", {"current_leave"}),
    ({"leave": "limited", "leave_expiry": None}, "excluded", {"current_leave"}),
    ({"leave": "limited", "leave_expiry": dt.date(2025, 12, 31)}, "admitted", set()),
    ({"leave": "none"}, "admitted", set()),
    ({"leave_granted_date": dt.date(2024, 1, 1)}, "excluded", {"leave_granted"}),
    ({"leave_granted_date": dt.date(2019, 1, 1)}, "admitted", set()),
    ({"overturned_date": dt.date(2024, 1, 1)}, "excluded", {"decision_overturned"}),
    ({"refusal_reason": "fee_not_paid"}, "excluded", {"procedural_refusal"}),
    ({"refusal_reason": "incomplete_application"}, "excluded", {"procedural_refusal"}),
    ({"refusal_reason": "invalid_application"}, "excluded", {"procedural_refusal"}),
    ({"appeal_status": "pending"}, "excluded", {"appeal_pending"}),
    ({"appeal_status": "in_time"}, "excluded", {"appeal_pending"}),
    ({"appeal_status": "allowed"}, "excluded", {"appeal_allowed"}),
    ({"appeal_status": "dismissed"}, "admitted", set()),
    ({"departure_date": dt.date(2023, 5, 1)}, "excluded", {"departed"}),
    ({"departure_date": dt.date(2019, 5, 1)}, "admitted", set()),
    ({"date_of_birth": None}, "admitted", set()),  # no evidence either way, for matching
    ({"postcode": None}, "admitted", set()),
    ({"family_name": None}, "admitted", set()),  # one name
    ({"given_names": None}, "admitted", set()),
    ({"family_name": None, "given_names": None}, "quarantined", {"missing_name"}),
    (
        {"family_name": None, "given_names": None, "dob_distinct": 2},
        "quarantined",
        {"missing_name", "contradictory_date_of_birth"},
    ),
    ({"dob_distinct": 2}, "quarantined", {"contradictory_date_of_birth"}),
    (
        {"arrival_date": dt.date(1965, 1, 1)},
        "manual_check",
        {"arrived_before_1973", "long_residence"},
    ),
    ({"arrival_date": dt.date(1995, 1, 1)}, "manual_check", {"long_residence"}),
    (
        {"arrival_date": dt.date(1965, 1, 1), "appeal_status": "pending"},
        "excluded",
        {"appeal_pending"},
    ),
    (
        {"arrival_date": dt.date(1965, 1, 1), "date_of_birth": None},
        "manual_check",
        {"arrived_before_1973", "long_residence"},
    ),
    (
        {"refusal_reason": "fee_not_paid", "leave": "citizen"},
        "excluded",
        {"current_leave", "procedural_refusal"},
    ),
]


def test_each_admission_rule_compiles_to_its_outcome_and_reason() -> None:
    base = {
        "family_name": "Okafor",
        "given_names": "Chidi",
        "postcode": "E8 3PN",
        "latest_decision": "refusal",
        "latest_decision_date": dt.date(2023, 1, 1),
        "refusal_reason": "eligibility",
        "date_of_birth": dt.date(1990, 1, 1),
        "arrival_date": dt.date(2015, 1, 1),
    }
    con = duckdb.connect()
    people = [
        {"person_id": f"p{i}", **base, **change} for i, (change, _, _) in enumerate(RULE_CASES)
    ]
    person_state(con, people)
    policy_compile.evaluate_rules(con, default_policy(), AS_OF)
    got = {
        pid: (outcome, ex, mc, q)
        for pid, outcome, ex, mc, q in con.execute(
            "SELECT person_id, outcome, exclude_reasons, manual_reasons, quarantine_reasons "
            "FROM rule_outcomes"
        ).fetchall()
    }
    for i, (change, outcome, reasons) in enumerate(RULE_CASES):
        got_outcome, ex, mc, q = got[f"p{i}"]
        kind = {"excluded": ex, "manual_check": mc, "quarantined": q, "admitted": ""}[outcome]
        assert (got_outcome, set(filter(None, kind.split(",")))) == (outcome, reasons), change


def test_cohort_membership_lists_each_person_once_per_cohort() -> None:
    con = duckdb.connect()
    person_state(
        con,
        [
            {
                "person_id": "old_windrush",
                "date_of_birth": dt.date(1950, 1, 1),
                "arrival_date": dt.date(1960, 1, 1),
                "latest_decision_date": dt.date(2017, 1, 1),
            },
            {
                "person_id": "young",
                "date_of_birth": dt.date(2005, 1, 1),
                "arrival_date": dt.date(2015, 1, 1),
                "latest_decision_date": dt.date(2017, 1, 1),
            },
        ],
    )
    name = policy_compile.cohort_membership(con, default_policy(), AS_OF)
    rows = set(con.execute(f"SELECT person_id, cohort FROM {name}").fetchall())
    table = policy_compile.cohort_membership(
        con, default_policy(), AS_OF, target="cohorts", materialize=True
    )
    assert set(con.execute(f"SELECT person_id, cohort FROM {table}").fetchall()) == rows
    kinds = dict(
        con.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_name IN ('cohorts', 'cohort_membership')"
        ).fetchall()
    )
    assert kinds == {"cohorts": "BASE TABLE", "cohort_membership": "VIEW"}
    assert rows == {
        ("old_windrush", "age_over_30"),
        ("old_windrush", "arrived_before_1973"),
        ("old_windrush", "long_residence"),
    }


def test_every_compiled_predicate_and_the_rules_transpile_to_spark() -> None:
    policy = default_policy()
    compiled = [
        *policy_compile.cohort_predicates(policy, AS_OF).values(),
        policy_compile.rules_sql(policy, AS_OF),
        policy_compile.cohort_membership_sql(policy, AS_OF),
    ]
    for c in compiled:
        spark = policy_compile.to_spark(c.sql)
        assert "getvariable" not in spark.lower()
        sqlglot.parse_one(spark, read="spark")  # Spark's own dialect reads it back
        # Each value is a named parameter of Spark's, bound from the compiled variables.
        assert {f":{name}" for name in c.variables} <= set(re.findall(r":\w+", spark))
    over_30 = policy_compile.cohort_predicates(policy, AS_OF)["age_over_30"]
    assert set(over_30.variables.values()) == {AS_OF, 30}
    assert not re.search(r"\d", _without_variables(over_30.sql))


def _without_variables(sql: str) -> str:
    return re.sub(r"getvariable\('accord_\w+'\)", "", sql)


def test_the_compiled_sql_holds_no_value_and_binds_every_one() -> None:
    policy = parse_policy(
        {
            "cohorts": {
                "odd": {
                    "description": "d",
                    "when": {
                        "any": [
                            {"field": "nationality", "op": "in", "value": ["ZZ9", "QQ8"]},
                            {"field": "arrival_date", "op": "<", "value": "1961-02-03"},
                            {"field": "decisions", "op": ">=", "value": 7},
                        ]
                    },
                }
            },
            "admission_rules": [],
        }
    )
    sql = policy_compile.cohort_membership_sql(policy, AS_OF)
    for text in ("ZZ9", "QQ8", "1961", "7", "odd"):
        assert text not in _without_variables(sql.sql)
    assert set(sql.variables.values()) == {"ZZ9", "QQ8", dt.date(1961, 2, 3), 7, "odd"}


def test_views_of_two_dates_on_one_connection_keep_their_own_date() -> None:
    con = duckdb.connect()
    person_state(con, [{"person_id": "p", "date_of_birth": dt.date(1990, 6, 1)}])
    policy = default_policy()
    policy_compile.cohort_membership(con, policy, dt.date(2020, 1, 1), target="in_2020")
    policy_compile.cohort_membership(con, policy, dt.date(2021, 1, 1), target="in_2021")
    # p turned 30 on 2020-06-01: over 30 in the later view only, whichever was bound last.
    assert con.execute("SELECT * FROM in_2020").fetchall() == []
    assert con.execute("SELECT * FROM in_2021").fetchall() == [("p", "age_over_30")]


def test_a_column_outside_the_typed_fields_is_refused() -> None:
    bad = Condition(field='x" OR TRUE --', op="is null")
    with pytest.raises(ValueError, match="not a column"):
        policy_compile.predicate_sql(bad, default_policy(), AS_OF)


def test_a_text_value_is_quoted_safely_in_sql() -> None:
    con = duckdb.connect()
    person_state(con, [{"person_id": "a", "nationality": "X'Y"}, {"person_id": "b"}])
    policy = parse_policy(
        {
            "cohorts": {
                "odd": {
                    "description": "d",
                    "when": {"field": "nationality", "op": "=", "value": "X'Y"},
                }
            },
            "admission_rules": [],
        }
    )
    assert members(con, policy_compile.cohort_predicates(policy, AS_OF)["odd"]) == {"a"}


# --- versions in the database ----------------------------------------------------------------


def test_record_policy_versions_and_logs_each_change(db_url: str) -> None:
    builtin = default_policy()
    wider = parse_policy({"recipients": ["dvla", "hmrc", "bank", "council"]})
    with db.connect(db_url) as conn:
        assert policy_in_force(conn) is None
        v1 = record_policy(conn, builtin, "dpo")
        assert record_policy(conn, builtin, "dpo") == v1  # unchanged: no new version, no log
        v2 = record_policy(conn, wider, "dpo")
        assert v2 == v1 + 1
        assert record_policy(conn, builtin, "dpo") == v1  # back to v1: logged, not re-stored
        assert policy_in_force(conn) == v1
    with db.connect(db_url) as conn:
        versions = conn.execute(select(PolicyVersion.version)).scalars().all()
        logged = conn.execute(
            select(AuditLog.actor, AuditLog.detail)
            .where(AuditLog.action == "policy_loaded")
            .order_by(AuditLog.id)
        ).all()
    assert sorted(versions) == [v1, v2]
    assert [d["version"] for _, d in logged] == [v1, v2, v1]
    assert all(actor == "dpo" for actor, _ in logged)
    assert logged[1][1]["changed_sections"] == ["recipients"]
    assert logged[1][1]["previous_version"] == v1


def test_recording_a_weakened_policy_logs_the_findings(db_url: str) -> None:
    weak = parse_policy({"protected_categories": ["health"]})
    with db.connect(db_url) as conn:
        record_policy(conn, weak, "someone")
        detail = conn.execute(
            select(AuditLog.detail).where(AuditLog.action == "policy_loaded")
        ).scalar_one()
    assert any("education" in f for f in detail["findings"])


def test_policy_load_cli_records_or_refuses(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "good.yaml", "recipients: [dvla, hmrc, bank, council]\n")
    assert main(["policy", "load", str(good), "--by", "dpo", "--database", db_url]) == 0
    assert "now in force" in capsys.readouterr().out
    assert main(["policy", "load", str(good), "--by", "dpo", "--database", db_url]) == 0
    assert "unchanged" in capsys.readouterr().out
    weak = write(tmp_path / "weak.yaml", "protected_categories: []\n")
    assert main(["policy", "load", str(weak), "--database", db_url]) == 1
    assert "not loaded: 3 finding(s)" in capsys.readouterr().err
