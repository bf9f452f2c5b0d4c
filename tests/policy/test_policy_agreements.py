"""Agreements: the model and schema, every linter finding, versions, pauses and their CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from sqlalchemy import select

from accord.cli import main
from accord.errors import AccordError, InputError, NotFound
from accord.policy import compile as policy_compile
from accord.policy import pauses
from accord.policy.agreement import Agreement, json_schema, load_agreements, parse_agreement
from accord.policy.lint import lint
from accord.policy.policy import default_policy
from accord.policy.registry import agreement_version, store_agreements, stored_agreements
from accord.store import db
from accord.store.models import AgreementVersion, AuditLog, Pause

TODAY = dt.date(2026, 3, 1)

BASE: dict[str, Any] = {
    "id": "home-office-to-dvla",
    "title": "Driving licences of people with no leave to remain",
    "source": "home-office",
    "recipient": "dvla",
    "purpose": "immigration_enforcement",
    "legal_basis": "Immigration Act 2014, s.46",
    "data_categories": ["immigration_casework"],
    "fields": ["family_name", "given_names", "date_of_birth"],
    "status": "active",
    "valid_from": dt.date(2026, 1, 1),
    "review_by": dt.date(2027, 1, 1),
    "exclude_cohorts": [],
    "match": {"disclose_at": 0.999, "review_from": 0.90, "ambiguity_margin": 0.05},
    "review": {"four_eyes": True},
}


def agreement_file(directory: Path, name: str | None = None, **changes: Any) -> Path:
    doc = {**BASE, **changes}
    if "match" in changes:
        doc["match"] = {**BASE["match"], **changes["match"]}
    doc = {k: v for k, v in doc.items() if v is not None}
    path = directory / f"{name or doc['id']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def one(directory: Path, **changes: Any) -> Agreement:
    return load_agreements(agreement_file(directory, **changes))[0]


# --- the model ------------------------------------------------------------------------------


def test_the_spec_example_loads(tmp_path: Path) -> None:
    a = one(tmp_path)
    assert a.match.disclose_at == 0.999 and a.review.four_eyes
    assert a.file == str(tmp_path / "home-office-to-dvla.yaml")
    assert lint([a], default_policy(), TODAY) == []


def test_the_json_schema_describes_the_agreement_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"id", "purpose", "data_categories", "fields", "match"}
    assert "legal_basis" in schema["properties"] and "legal_basis" not in schema["required"]
    assert main(["agreements", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema
    out = tmp_path / "schema.json"
    assert main(["agreements", "schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == schema


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"match": {"disclose_at": 1.5}}, "match.disclose_at", "less than or equal to 1"),
        ({"purpose": None}, "purpose", "is required"),
        ({"exclude_cohort": ["age_over_30"]}, "exclude_cohort", "is not a known field"),
        ({"status": "live"}, "status", "Input should be"),
        ({"valid_from": "soon"}, "valid_from", "date"),
        ({"fields": []}, "fields", "at least 1 item"),
    ],
)
def test_a_malformed_agreement_names_the_file_and_field(
    tmp_path: Path, changes: dict[str, Any], column: str, message: str
) -> None:
    path = agreement_file(tmp_path, **changes)
    with pytest.raises(InputError) as exc:
        load_agreements(path)
    problems = [(p.file, p.row, p.column, p.message) for p in exc.value.problems]
    assert any(
        f == str(path) and r is None and c == column and message in m for f, r, c, m in problems
    ), problems


def test_two_files_with_one_id_are_refused(tmp_path: Path) -> None:
    agreement_file(tmp_path, name="a")
    agreement_file(tmp_path, name="b")
    with pytest.raises(InputError, match="agreement home-office-to-dvla is already defined in"):
        load_agreements(tmp_path)


def test_a_folder_without_agreements_or_a_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no agreement"):
        load_agreements(tmp_path)
    with pytest.raises(InputError, match="no such file or folder"):
        load_agreements(tmp_path / "nope")


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    agreement_file(tmp_path, name="a", match={"disclose_at": 2})
    agreement_file(tmp_path, name="b", id="other", status="live")
    with pytest.raises(InputError) as exc:
        load_agreements(tmp_path)
    assert {Path(p.file).name for p in exc.value.problems} == {"a.yaml", "b.yaml"}


# --- the linter: one test per finding, with its exact message -------------------------------------


def findings(tmp_path: Path, **changes: Any) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in lint([one(tmp_path, **changes)], default_policy(), TODAY)]


def test_lint_missing_legal_basis(tmp_path: Path) -> None:
    expected = [
        (
            "missing_legal_basis",
            "agreement home-office-to-dvla: no legal basis: name "
            "the statute and section that permit this sharing",
        )
    ]
    assert findings(tmp_path, legal_basis=None) == expected
    assert findings(tmp_path, legal_basis="  ") == expected


def test_lint_review_date_passed(tmp_path: Path) -> None:
    assert findings(tmp_path, review_by=dt.date(2026, 2, 28)) == [
        (
            "review_overdue",
            "agreement home-office-to-dvla: review date 2026-02-28 has passed "
            "(today is 2026-03-01)",
        )
    ]
    assert findings(tmp_path, review_by=TODAY) == []


def test_lint_review_before_start(tmp_path: Path) -> None:
    assert findings(tmp_path, valid_from=dt.date(2027, 6, 1)) == [
        (
            "review_before_start",
            "agreement home-office-to-dvla: review date 2027-01-01 is before valid_from 2027-06-01",
        )
    ]


def test_lint_fields_not_covered_by_the_data_categories(tmp_path: Path) -> None:
    assert findings(tmp_path, fields=["family_name", "bank_balance"]) == [
        (
            "field_not_covered",
            "agreement home-office-to-dvla: field bank_balance is not "
            "provided by its data categories (immigration_casework)",
        )
    ]


def test_lint_unknown_data_category(tmp_path: Path) -> None:
    assert findings(tmp_path, data_categories=["immigration_casework", "tax_records"]) == [
        (
            "unknown_data_category",
            "agreement home-office-to-dvla: data category tax_records "
            "is not defined in the policy (defined: immigration_casework, health, education, "
            "victim_or_witness, derived_score)",
        )
    ]


def test_lint_thresholds_out_of_order(tmp_path: Path) -> None:
    assert findings(tmp_path, match={"disclose_at": 0.9, "review_from": 0.95}) == [
        (
            "thresholds_out_of_order",
            "agreement home-office-to-dvla: match.review_from 0.95 is above match.disclose_at 0.9",
        )
    ]


def test_lint_unknown_cohort(tmp_path: Path) -> None:
    assert findings(tmp_path, exclude_cohorts=["age_over_30", "left_handed"]) == [
        (
            "unknown_cohort",
            "agreement home-office-to-dvla: exclude_cohorts names unknown "
            "cohort left_handed (known: age_over_30, arrived_before_1973, long_residence)",
        )
    ]


def test_lint_unknown_recipient(tmp_path: Path) -> None:
    assert findings(tmp_path, recipient="council") == [
        (
            "unknown_recipient",
            "agreement home-office-to-dvla: recipient council is not a "
            "known recipient (known: dvla, hmrc, bank)",
        )
    ]


def test_lint_firewall_breach(tmp_path: Path) -> None:
    assert findings(tmp_path, data_categories=["immigration_casework", "education"]) == [
        (
            "firewall_breach",
            "agreement home-office-to-dvla: refused by the firewall (protected "
            "data is never used for an enforcement purpose): data category education is "
            "protected and purpose immigration_enforcement is an enforcement purpose",
        )
    ]


def test_lint_overlapping_active_agreements(tmp_path: Path) -> None:
    agreement_file(tmp_path, name="a")
    agreement_file(tmp_path, name="b", id="dvla-2", valid_from=dt.date(2026, 2, 1))
    agreement_file(tmp_path, name="c", id="dvla-draft", status="draft")
    agreement_file(tmp_path, name="d", id="dvla-other-purpose", purpose="road_safety")
    got = lint(load_agreements(tmp_path), default_policy(), TODAY)
    assert [(f.code, f.agreement_id, f.message) for f in got] == [
        (
            "overlapping_agreements",
            "dvla-2",
            "agreements home-office-to-dvla and dvla-2 are "
            "both in force for recipient dvla and purpose immigration_enforcement from 2026-02-01",
        )
    ]
    assert got[0].file == str(tmp_path / "b.yaml")


def test_lint_reports_every_finding_together(tmp_path: Path) -> None:
    got = findings(tmp_path, legal_basis=None, recipient="council", exclude_cohorts=["x"])
    assert [c for c, _ in got] == ["missing_legal_basis", "unknown_cohort", "unknown_recipient"]


def test_check_cli_prints_every_finding_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agreement_file(tmp_path, legal_basis=None, recipient="council")
    assert main(["agreements", "check", str(tmp_path), "--as-of", "2026-03-01"]) == 1
    printed = capsys.readouterr()
    assert printed.out.count("\n") == 2
    assert "no legal basis" in printed.out and "recipient council" in printed.out
    assert "1 agreement(s) checked: 2 finding(s)" in printed.err


def test_check_cli_is_one_line_and_exit_0_when_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agreement_file(tmp_path)
    assert main(["agreements", "check", str(tmp_path), "--as-of", "2026-03-01"]) == 0
    assert capsys.readouterr().out == "1 agreement(s) checked: no findings\n"


def test_check_cli_lists_every_input_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agreement_file(tmp_path, match={"disclose_at": 7})
    assert main(["agreements", "check", str(tmp_path)]) == 2
    assert "match.disclose_at" in capsys.readouterr().err


def test_check_cli_uses_the_policy_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agreement_file(tmp_path, recipient="council")
    policy = tmp_path / "policy.yml"
    policy.write_text("recipients: [dvla, council]\n")
    args = [
        "agreements",
        "check",
        str(tmp_path / "home-office-to-dvla.yaml"),
        "--as-of",
        "2026-03-01",
    ]
    assert main([*args, "--policy", str(policy)]) == 0
    assert main(args) == 1
    capsys.readouterr()


# --- versions ----------------------------------------------------------------------------------


def test_store_agreements_versions_only_changed_content(db_url: str, tmp_path: Path) -> None:
    first = one(tmp_path)
    with db.connect(db_url) as conn:
        assert store_agreements(conn, [first], "dpo") == {first.id: 1}
        assert store_agreements(conn, [first], "dpo") == {first.id: 1}
    changed = one(tmp_path, match={"disclose_at": 0.9999})
    with db.connect(db_url) as conn:
        assert store_agreements(conn, [changed], "dpo") == {first.id: 2}
        assert [(a.match.disclose_at, v) for a, v in stored_agreements(conn)] == [(0.9999, 2)]
        old = agreement_version(conn, first.id, 1)
        assert old is not None and old.match.disclose_at == 0.999
        assert agreement_version(conn, first.id, 3) is None
        assert store_agreements(conn, [first], "dpo") == {first.id: 3}  # reverting is a change too
        versions = conn.execute(select(AgreementVersion.version)).scalars().all()
        log = conn.execute(
            select(AuditLog.actor, AuditLog.detail)
            .where(AuditLog.action == "agreement_loaded")
            .order_by(AuditLog.id)
        ).all()
    assert sorted(versions) == [1, 2, 3]
    assert [d["version"] for _, d in log] == [1, 2, 3] and {a for a, _ in log} == {"dpo"}


def test_a_reformatted_file_is_not_a_new_version(db_url: str, tmp_path: Path) -> None:
    path = agreement_file(tmp_path)
    with db.connect(db_url) as conn:
        store_agreements(conn, load_agreements(path), "dpo")
    path.write_text("# a comment\n" + path.read_text())
    with db.connect(db_url) as conn:
        assert store_agreements(conn, load_agreements(path), "dpo") == {"home-office-to-dvla": 1}


def test_store_agreements_refuses_a_firewall_breach_and_stores_nothing(
    db_url: str, tmp_path: Path
) -> None:
    good = one(tmp_path, id="good", purpose="road_safety")
    breach = one(tmp_path, data_categories=["immigration_casework", "health"])
    with pytest.raises(AccordError, match="refused by the firewall"), db.connect(db_url) as conn:
        store_agreements(conn, [good, breach], "dpo")
    with db.connect(db_url) as conn:
        assert stored_agreements(conn) == []


def test_load_cli_stores_versions_and_refuses_findings(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agreement_file(tmp_path)
    args = [
        "agreements",
        "load",
        str(tmp_path),
        "--as-of",
        "2026-03-01",
        "--by",
        "dpo",
        "--database",
        db_url,
    ]
    assert main(args) == 0
    assert "home-office-to-dvla: version 1 (new version)" in capsys.readouterr().out
    assert main(args) == 0
    assert "home-office-to-dvla: version 1 (unchanged)" in capsys.readouterr().out
    agreement_file(tmp_path, legal_basis=None)
    assert main(args) == 1
    assert "nothing loaded: 1 finding(s)" in capsys.readouterr().err
    assert main(["agreements", "list", "--database", db_url]) == 0
    assert (
        "home-office-to-dvla  v1  active  dvla  immigration_enforcement" in capsys.readouterr().out
    )


# --- pauses --------------------------------------------------------------------------------------


def loaded(db_url: str, tmp_path: Path, *ids: str) -> None:
    with db.connect(db_url) as conn:
        store_agreements(
            conn,
            [one(tmp_path, id=i, purpose=f"purpose_{n}") for n, i in enumerate(ids)],
            "dpo",
        )


def test_pause_and_resume_are_logged_with_who_and_why(db_url: str, tmp_path: Path) -> None:
    loaded(db_url, tmp_path, "to-dvla")
    pause_id = pauses.pause(db_url, "to-dvla", "age_over_30", "ministerial instruction", "ann")
    with db.connect(db_url) as conn:
        assert pauses.active(conn) == [("to-dvla", "age_over_30")]
    assert pauses.resume(db_url, "to-dvla", "age_over_30", "instruction lifted", "bob") == pause_id
    with db.connect(db_url) as conn:
        assert pauses.active(conn) == []
        row = conn.execute(
            select(Pause.paused_by, Pause.reason, Pause.resumed_by, Pause.resume_reason)
        ).one()
        log = conn.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.detail)
            .where(AuditLog.action.in_(["agreement_paused", "agreement_resumed"]))
            .order_by(AuditLog.id)
        ).all()
    assert tuple(row) == ("ann", "ministerial instruction", "bob", "instruction lifted")
    assert [(a, act, d["reason"], d["cohort"]) for a, act, d in log] == [
        ("ann", "agreement_paused", "ministerial instruction", "age_over_30"),
        ("bob", "agreement_resumed", "instruction lifted", "age_over_30"),
    ]


@pytest.mark.parametrize(
    ("agreement", "cohort", "reason", "message"),
    [
        ("to-dvla", "left_handed", "why", "unknown cohort left_handed"),
        ("to-dvla", None, "  ", "a pause needs a reason"),
    ],
)
def test_pausing_the_unknown_is_refused(
    db_url: str, tmp_path: Path, agreement: str, cohort: str | None, reason: str, message: str
) -> None:
    loaded(db_url, tmp_path, "to-dvla")
    with pytest.raises(AccordError, match=message):
        pauses.pause(db_url, agreement, cohort, reason, "ann")


@pytest.mark.parametrize("reason", ["why", "  "])
def test_an_agreement_not_in_the_database_is_not_found_whatever_else_is_wrong(
    db_url: str, tmp_path: Path, reason: str
) -> None:
    loaded(db_url, tmp_path, "to-dvla")
    with pytest.raises(NotFound, match=r"^no agreement 'nobody'$"):
        pauses.pause(db_url, "nobody", "left_handed", reason, "ann")
    with pytest.raises(NotFound, match=r"^no agreement 'nobody'$"):
        pauses.resume(db_url, "nobody", None, reason, "ann")


def test_a_pause_cannot_be_doubled_nor_an_unpaused_one_resumed(db_url: str, tmp_path: Path) -> None:
    loaded(db_url, tmp_path, "to-dvla")
    pauses.pause(db_url, "to-dvla", None, "incident", "ann")
    with pytest.raises(AccordError, match="agreement to-dvla is already paused"):
        pauses.pause(db_url, "to-dvla", None, "incident", "ann")
    with pytest.raises(AccordError, match="agreement to-dvla for cohort age_over_30 is not paused"):
        pauses.resume(db_url, "to-dvla", "age_over_30", "done", "ann")
    with pytest.raises(AccordError, match="a resume needs a reason"):
        pauses.resume(db_url, "to-dvla", None, "", "ann")


def test_pausing_age_over_30_holds_exactly_those_people_and_resuming_releases_them(
    db_url: str, tmp_path: Path
) -> None:
    loaded(db_url, tmp_path, "to-dvla", "to-hmrc")
    con = duckdb.connect()
    con.execute(
        """
        CREATE TABLE person_state AS
        SELECT 'P' || i AS person_id, DATE '1990-01-01' + CAST(i * 97 AS INTEGER) AS date_of_birth,
               CAST(NULL AS DATE) AS arrival_date, DATE '2020-01-01' AS latest_decision_date,
               0 AS departures_before_decision
        FROM range(200) t(i)
        """
    )
    as_of = dt.date(2026, 1, 1)
    policy_compile.cohort_membership(con, default_policy(), as_of)
    over_30 = {
        r[0]
        for r in con.execute(
            "SELECT person_id FROM person_state WHERE date_of_birth < DATE '1996-01-01'"
        ).fetchall()
    }
    assert 0 < len(over_30) < 200

    def held() -> set[tuple[str, str]]:
        with db.connect(db_url) as conn:
            active = pauses.active(conn)
        name = pauses.held(con, active)
        return {(a, p) for a, p, _ in con.execute(f"SELECT * FROM {name}").fetchall()}

    assert held() == set()
    pauses.pause(db_url, "to-dvla", "age_over_30", "review of older people's cases", "ann")
    assert held() == {("to-dvla", p) for p in over_30}
    pauses.resume(db_url, "to-dvla", "age_over_30", "review done", "ann")
    assert held() == set()
    pauses.pause(db_url, "to-hmrc", None, "incident", "ann")
    assert held() == {("to-hmrc", f"P{i}") for i in range(200)}


def test_pause_and_resume_cli(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded(db_url, tmp_path, "to-dvla")
    base = ["--database", db_url, "--by", "ann"]
    assert (
        main(
            [
                "agreements",
                "pause",
                "to-dvla",
                "--cohort",
                "age_over_30",
                "--reason",
                "instruction",
                *base,
            ]
        )
        == 0
    )
    assert "paused cohort age_over_30 of to-dvla" in capsys.readouterr().out
    assert main(["agreements", "list", "--database", db_url]) == 0
    assert "paused: age_over_30" in capsys.readouterr().out
    assert (
        main(
            [
                "agreements",
                "resume",
                "to-dvla",
                "--cohort",
                "age_over_30",
                "--reason",
                "lifted",
                *base,
            ]
        )
        == 0
    )
    assert "resumed cohort age_over_30 of to-dvla" in capsys.readouterr().out
    assert main(["agreements", "resume", "to-dvla", "--reason", "x", *base]) == 2
    assert capsys.readouterr().err == "accord: agreement to-dvla is not paused\n"


def test_parse_agreement_refuses_a_non_mapping() -> None:
    with pytest.raises(InputError, match="an agreement file is a mapping"):
        parse_agreement(["id"], "x.yaml")
