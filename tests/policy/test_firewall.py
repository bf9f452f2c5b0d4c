"""The firewall: protected data never reaches an enforcement purpose, at load or at run time."""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accord.admission import derive_person_state
from accord.cli import main
from accord.errors import AccordError
from accord.formats.schema import CASES, Kind
from accord.policy import firewall
from accord.policy.agreement import Agreement, load_agreements, parse_agreement
from accord.policy.policy import default_policy, parse_policy
from accord.store import db
from accord.store.models import AuditLog, FirewallRefusal

AS_OF = dt.date(2026, 1, 1)
FIREWALL_BREACH: dict[str, Any] = {
    "id": "firewall-breach",
    "title": "School records to immigration enforcement",
    "source": "home-office",
    "recipient": "dvla",
    "purpose": "immigration_enforcement",
    "legal_basis": "none that could permit it",
    "data_categories": ["immigration_casework", "education"],
    "fields": ["family_name", "given_names", "postcode"],
    "status": "active",
    "valid_from": dt.date(2026, 1, 1),
    "review_by": dt.date(2027, 1, 1),
    "exclude_cohorts": [],
    "match": {"disclose_at": 0.999, "review_from": 0.9, "ambiguity_margin": 0.05},
}


def agreement(**changes: Any) -> Agreement:
    return parse_agreement({**FIREWALL_BREACH, **changes})


def cases_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A cases table shaped as `accord.formats.load` returns it."""
    defaults = {
        "decision": "refusal",
        "family_name": "Doe",
        "given_names": "Jo",
        "decision_date": dt.date(2020, 1, 1),
    }
    cols: dict[str, pa.Array] = {"__row": pa.array(range(1, len(rows) + 1), pa.int64())}
    for c in CASES.columns:
        typ = pa.date32() if c.kind is Kind.DATE else pa.string()
        cols[c.name] = pa.array([r.get(c.name, defaults.get(c.name)) for r in rows], typ)
    return pa.table(cols)


def state(rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("cases", cases_table(rows))
    derive_person_state(con, "cases", AS_OF)
    return con


# --- when an agreement is loaded -------------------------------------------------------------


def test_the_firewall_breach_example_is_refused_naming_the_rule() -> None:
    with pytest.raises(AccordError) as exc:
        firewall.check_agreement(agreement(), default_policy())
    message = str(exc.value)
    assert "protected data is never used for an enforcement purpose" in message
    assert "education" in message and "immigration_enforcement" in message


def test_protected_data_for_a_purpose_that_is_not_enforcement_passes() -> None:
    firewall.check_agreement(agreement(purpose="school_admissions"), default_policy())
    firewall.check_agreement(agreement(data_categories=["immigration_casework"]), default_policy())


def test_no_setting_of_an_agreement_can_switch_the_firewall_off(tmp_path: Path) -> None:
    doc = {**FIREWALL_BREACH, "firewall": False}
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(AccordError, match="firewall"):
        load_agreements(path)
    for status in ("draft", "paused"):
        with pytest.raises(AccordError, match="refused by the firewall"):
            firewall.check_agreement(agreement(status=status), default_policy())


def test_the_firewall_breach_example_fails_check_and_load(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "firewall_breach.yaml"
    path.write_text(yaml.safe_dump(FIREWALL_BREACH))
    assert main(["agreements", "check", str(path), "--as-of", "2026-03-01"]) == 1
    printed = capsys.readouterr()
    assert (
        "refused by the firewall (protected data is never used for an enforcement " in printed.out
    )
    assert (
        main(["agreements", "load", str(path), "--as-of", "2026-03-01", "--database", db_url]) == 1
    )
    assert "nothing loaded" in capsys.readouterr().err
    with db.connect(db_url) as conn:
        assert conn.execute(select(AuditLog.id)).first() is None


# --- at run time, value by value ----------------------------------------------------------------


SCHOOL_ADDRESS = [
    {
        "case_id": "C1",
        "person_id": "P1",
        "postcode": "E8 3PN",
        "date_of_birth": dt.date(1990, 1, 1),
        "decision_date": dt.date(2019, 1, 1),
    },
    {
        "case_id": "C2",
        "person_id": "P1",
        "decision": "information",
        "postcode": "OX1 2JD",
        "decision_date": dt.date(2024, 1, 1),
        "data_category": "education",
    },
    {
        "case_id": "C3",
        "person_id": "P2",
        "decision": "information",
        "postcode": "B12 9QT",
        "family_name": "Roe",
        "date_of_birth": dt.date(2001, 2, 3),
        "decision_date": dt.date(2024, 1, 1),
        "data_category": "health",
    },
]


def identity(con: duckdb.DuckDBPyConnection, purpose: str) -> dict[str, tuple[Any, ...]]:
    name = firewall.identity_for_purpose(con, default_policy(), purpose)
    rows = con.execute(
        f"SELECT person_id, family_name, given_names, date_of_birth, postcode, nationality "
        f"FROM {name} ORDER BY person_id"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_a_school_address_is_never_used_for_enforcement_but_the_rest_of_the_record_is() -> None:
    con = state(SCHOOL_ADDRESS)
    ident = identity(con, "immigration_enforcement")
    assert ident["P1"] == ("Doe", "Jo", dt.date(1990, 1, 1), "E8 3PN", None)
    assert ident["P2"] == (None, None, None, None, None)  # only ever known from a health record
    _, refusals = firewall.relation_names("immigration_enforcement")
    refused = set(con.execute(f"SELECT person_id, field, data_category FROM {refusals}").fetchall())
    assert refused == {
        ("P1", "postcode", "education"),
        ("P1", "family_name", "education"),
        ("P1", "given_names", "education"),
        ("P2", "family_name", "health"),
        ("P2", "given_names", "health"),
        ("P2", "date_of_birth", "health"),
        ("P2", "postcode", "health"),
    }


def test_a_name_withheld_by_the_firewall_is_replaced_whole_not_part_by_part() -> None:
    """The latest casework name is one name (Budi); an older row's family name is not added."""
    con = state(
        [
            {"case_id": "C1", "person_id": "P", "family_name": "Putra", "given_names": "Budi"},
            {
                "case_id": "C2",
                "person_id": "P",
                "family_name": None,
                "given_names": "Budi",
                "decision_date": dt.date(2021, 1, 1),
            },
            {
                "case_id": "C3",
                "person_id": "P",
                "decision": "information",
                "family_name": None,
                "given_names": "Budi Santoso",
                "decision_date": dt.date(2024, 1, 1),
                "data_category": "health",
            },
        ]
    )
    assert identity(con, "immigration_enforcement")["P"][:2] == (None, "Budi")
    assert identity(con, "school_admissions")["P"][:2] == (None, "Budi Santoso")
    _, refusals = firewall.relation_names("immigration_enforcement")
    refused = set(con.execute(f"SELECT person_id, field FROM {refusals}").fetchall())
    assert refused == {("P", "given_names")}  # the health row holds no family name to refuse


def test_a_purpose_that_is_not_enforcement_sees_the_latest_values() -> None:
    con = state(SCHOOL_ADDRESS)
    assert identity(con, "school_admissions")["P1"][3] == "OX1 2JD"
    _, refusals = firewall.relation_names("school_admissions")
    assert con.execute(f"SELECT count(*) FROM {refusals}").fetchall() == [(0,)]


def test_identity_can_be_restricted_to_some_people() -> None:
    con = state(SCHOOL_ADDRESS)
    con.execute("CREATE TABLE pool AS SELECT 'P1' AS person_id")
    name = firewall.identity_for_purpose(con, default_policy(), "tax_enforcement", "pool")
    assert con.execute(f"SELECT person_id FROM {name}").fetchall() == [("P1",)]
    _, refusals = firewall.relation_names("tax_enforcement")
    assert {r[0] for r in con.execute(f"SELECT person_id FROM {refusals}").fetchall()} == {"P1"}


def test_refusals_are_counted_and_written_to_the_database_and_audit_log(db_url: str) -> None:
    con = state(SCHOOL_ADDRESS)
    firewall.identity_for_purpose(con, default_policy(), "immigration_enforcement")
    with db.connect(db_url) as conn:
        n = firewall.record_refusals(conn, con, "R1", "to-dvla", "immigration_enforcement")
    assert n == 7
    with db.connect(db_url) as conn:
        stored = conn.execute(
            select(
                FirewallRefusal.run_id,
                FirewallRefusal.person_id,
                FirewallRefusal.field,
                FirewallRefusal.data_category,
                FirewallRefusal.purpose,
                FirewallRefusal.use,
            )
        ).all()
        logged = conn.execute(
            select(AuditLog.person_id, AuditLog.detail).where(AuditLog.action == "firewall_refused")
        ).all()
    assert ("R1", "P1", "postcode", "education", "immigration_enforcement", "matching") in stored
    assert len(stored) == 7 and len(logged) == 7
    assert {d["agreement_id"] for _, d in logged} == {"to-dvla"}


def test_record_refusals_refuses_an_unknown_use(db_url: str) -> None:
    con = state(SCHOOL_ADDRESS)
    firewall.identity_for_purpose(con, default_policy(), "immigration_enforcement")
    with pytest.raises(ValueError, match="use must be"), db.connect(db_url) as conn:
        firewall.record_refusals(conn, con, None, "a", "immigration_enforcement", use="gossip")


# --- no combination routes a protected value to an enforcement purpose ---------------------------

CATEGORIES = [
    "immigration_casework",
    "health",
    "education",
    "victim_or_witness",
    "police",
    "social_care",
]
PURPOSES = [
    "immigration_enforcement",
    "tax_enforcement",
    "road_safety",
    "fraud_check",
    "statistics",
]
PATTERNS = ["*_enforcement", "immigration_*", "fraud_check", "*"]
FIELDS = ("family_name", "given_names", "date_of_birth", "postcode", "nationality")

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "person_id": st.sampled_from(["P1", "P2", "P3"]),
            "decision": st.sampled_from(["refusal", "grant", "information"]),
            "decision_date": st.dates(dt.date(2000, 1, 1), dt.date(2025, 12, 31)),
            "data_category": st.sampled_from([*CATEGORIES, None]),
            "family_name": st.sampled_from(["Doe", "Roe", "Poe"]),
            "given_names": st.sampled_from(["Jo", "Al"]),
            "date_of_birth": st.none() | st.dates(dt.date(1950, 1, 1), dt.date(2005, 1, 1)),
            "postcode": st.none() | st.sampled_from(["E8 3PN", "OX1 2JD", "B12 9QT"]),
            "nationality": st.none() | st.sampled_from(["JAM", "IRL"]),
        }
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    protected=st.sets(st.sampled_from(CATEGORIES)),
    patterns=st.sets(st.sampled_from(PATTERNS)),
    purpose=st.sampled_from(PURPOSES),
    categories=st.sets(st.sampled_from(CATEGORIES), min_size=1),
    rows=rows_strategy,
)
def test_no_policy_and_agreement_route_a_protected_value_to_enforcement(
    protected: set[str],
    patterns: set[str],
    purpose: str,
    categories: set[str],
    rows: list[dict[str, Any]],
) -> None:
    policy = parse_policy(
        {
            "protected_categories": sorted(protected),
            "enforcement_purposes": sorted(patterns),
            "data_categories": {c: {"description": c, "fields": list(FIELDS)} for c in CATEGORIES},
        }
    )
    enforcement = any(fnmatch.fnmatchcase(purpose, p) for p in patterns)
    a = agreement(purpose=purpose, data_categories=sorted(categories))
    if enforcement and categories & protected:
        with pytest.raises(AccordError, match="refused by the firewall"):
            firewall.check_agreement(a, policy)
        return
    firewall.check_agreement(a, policy)

    for i, r in enumerate(rows):
        r["case_id"] = f"C{i:02d}"
    con = state(rows)
    name = firewall.identity_for_purpose(con, policy, purpose)
    _, refusals_name = firewall.relation_names(purpose)
    out = {
        r[0]: dict(zip(FIELDS, r[1:], strict=True))
        for r in con.execute(f"SELECT person_id, {', '.join(FIELDS)} FROM {name}").fetchall()
    }
    refused = {(p, f) for p, f, _ in con.execute(f"SELECT * FROM {refusals_name}").fetchall()}

    def latest(person: str, field: str, allowed: Any) -> Any:
        held = [
            r
            for r in rows
            if r["person_id"] == person
            and r[field] is not None
            and allowed(r["data_category"] or "immigration_casework")
        ]
        if not held:
            return None
        return max(held, key=lambda r: (r["decision_date"], r["case_id"]))[field]

    def any_category(_: str) -> bool:
        return True

    def open_category(category: str) -> bool:
        return category not in protected

    for person, values in out.items():
        for field in FIELDS:
            overall = latest(person, field, any_category)
            if not enforcement:
                assert values[field] == overall
                continue
            assert values[field] == latest(person, field, open_category)
            newest = [r for r in rows if r["person_id"] == person and r[field] is not None]
            top = max(newest, key=lambda r: (r["decision_date"], r["case_id"])) if newest else None
            from_protected = (
                top is not None
                and open_category(top["data_category"] or "immigration_casework") is False
            )
            assert ((person, field) in refused) == from_protected
    if not enforcement:
        assert refused == set()
