"""The canonical leaf encoding: one spelling per value, identical after a database round trip."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from accord.ledger import content
from accord.store import db
from accord.store.models import Disclosure, Recall

AT = dt.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)


def disclosure(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "disclosure_id": "D-1",
        "agreement_id": "home-office-to-dvla",
        "agreement_version": 3,
        "recipient": "dvla",
        "record_id": "DVLA-77",
        "person_id": "P-9",
        "fields": {
            "family_name": "O'Brien-Ñúñez",
            "given_names": "Zoë 李",
            "date_of_birth": "1980-01-02",
        },
        "match_probability": 0.9993,
        "decided_by": "rule:automatic",
        "disclosed_at": AT,
    }
    row.update(changes)
    return row


def recall(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "recall_id": "R-1",
        "disclosure_id": "D-1",
        "recipient": "dvla",
        "person_id": "P-9",
        "reason": 'decision_overturned: "appeal allowed"',
        "recalled_at": AT,
    }
    row.update(changes)
    return row


def test_a_disclosure_leaf_is_sorted_compact_utf8_json_of_exactly_its_fields() -> None:
    leaf = content.disclosure_leaf(disclosure())
    doc = json.loads(leaf)
    assert set(doc) == {"type", *content.DISCLOSURE_FIELDS}
    assert doc["type"] == "disclosure"
    assert list(doc) == sorted(doc)
    assert list(doc["fields"]) == sorted(doc["fields"])
    assert (
        leaf == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert "Zoë 李".encode() in leaf  # raw UTF-8, not \\u escapes
    assert doc["disclosed_at"] == "2026-03-04T05:06:07.890123Z"
    assert doc["match_probability"] == 0.9993 and doc["agreement_version"] == 3


def test_a_recall_leaf_is_sorted_compact_json_of_exactly_its_fields() -> None:
    leaf = content.recall_leaf(recall())
    doc = json.loads(leaf)
    assert set(doc) == {"type", *content.RECALL_FIELDS} and doc["type"] == "recall"
    assert (
        leaf == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert doc["reason"] == 'decision_overturned: "appeal allowed"'


def test_every_changed_field_changes_the_leaf() -> None:
    base = content.disclosure_leaf(disclosure())
    changes = {
        "disclosure_id": "D-2", "agreement_id": "x", "agreement_version": 4, "recipient": "hmrc",
        "record_id": "DVLA-78", "person_id": "P-8", "fields": {"family_name": "Smith"},
        "match_probability": 0.9994, "decided_by": "alice, bob",
        "disclosed_at": AT + dt.timedelta(microseconds=1),
    }  # fmt: skip
    for name, value in changes.items():
        assert content.disclosure_leaf(disclosure(**{name: value})) != base, name


def test_datetimes_are_one_utc_spelling() -> None:
    naive = AT.replace(tzinfo=None)
    plus_one = AT.astimezone(dt.timezone(dt.timedelta(hours=1)))
    minus_five = AT.astimezone(dt.timezone(dt.timedelta(hours=-5, minutes=-30)))
    leaves = {
        content.disclosure_leaf(disclosure(disclosed_at=t))
        for t in (AT, naive, plus_one, minus_five)
    }
    assert len(leaves) == 1
    whole_second = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert content.utc_iso(whole_second) == "2026-01-01T00:00:00.000000Z"
    assert content.utc_iso(dt.datetime(999, 12, 31, 23, 59, 59)) == "0999-12-31T23:59:59.000000Z"


def test_floats_are_repr_exact_and_integers_become_floats() -> None:
    assert (
        json.loads(content.disclosure_leaf(disclosure(match_probability=0.1 + 0.2)))[
            "match_probability"
        ]
        == 0.1 + 0.2
    )
    assert b'"match_probability":0.30000000000000004' in content.disclosure_leaf(
        disclosure(match_probability=0.1 + 0.2)
    )
    assert content.disclosure_leaf(disclosure(match_probability=1)) == content.disclosure_leaf(
        disclosure(match_probability=1.0)
    )
    assert b'"match_probability":1e-07' in content.disclosure_leaf(
        disclosure(match_probability=1e-7)
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"match_probability": float("nan")}, ValueError),
        ({"match_probability": float("inf")}, ValueError),
        ({"match_probability": True}, TypeError),
        ({"match_probability": "0.9"}, TypeError),
        ({"agreement_version": True}, TypeError),
        ({"agreement_version": 1.0}, TypeError),
        ({"fields": {1: "x"}}, TypeError),
        ({"fields": {"dob": dt.date(1980, 1, 2)}}, TypeError),
        ({"fields": {"score": float("nan")}}, ValueError),
        ({"fields": {"nested": [{"a": float("inf")}]}}, ValueError),
        ({"fields": [("a", 1)]}, TypeError),
        ({"disclosed_at": "2026-01-01T00:00:00Z"}, TypeError),
        ({"disclosed_at": dt.date(2026, 1, 1)}, TypeError),
        ({"person_id": None}, TypeError),
        ({"person_id": 7}, TypeError),
    ],
)
def test_values_json_cannot_carry_exactly_are_refused(changes: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        content.disclosure_leaf(disclosure(**changes))


def test_nested_fields_take_the_canonical_form() -> None:
    fields = {"z": None, "a": [1, {"y": 2, "b": "\n"}], "m": True, "k": 10**20, "f": 0.5}
    doc = json.loads(content.disclosure_leaf(disclosure(fields=fields)))
    assert doc["fields"] == fields
    assert content.canonical(doc) == content.disclosure_leaf(disclosure(fields=fields))


def test_a_mapping_an_object_and_a_row_encode_the_same() -> None:
    row = disclosure()
    obj = Disclosure(**row, ledger_index=0, run_id="R", status="active")
    assert content.disclosure_leaf(obj) == content.disclosure_leaf(row)
    rec = recall()
    assert content.recall_leaf(Recall(**rec, ledger_index=1)) == content.recall_leaf(rec)


def test_describe_names_only_canonical_leaves() -> None:
    leaf = content.disclosure_leaf(disclosure())
    assert content.describe(leaf) == ("disclosure", "D-1")
    assert content.describe(content.recall_leaf(recall())) == ("recall", "R-1")
    spaced = json.dumps(json.loads(leaf), sort_keys=True, ensure_ascii=False).encode()
    assert content.describe(spaced) is None
    assert content.describe(leaf.replace(b'"type":"disclosure"', b'"type":"other"')) is None
    assert content.describe(b"\xff\xfe") is None
    assert content.describe(b"[1,2]") is None
    assert content.describe(leaf.replace(b"0.9993", b"NaN")) is None


TRICKY = [
    disclosure(),
    disclosure(
        disclosure_id="D-2", record_id="R-2", match_probability=0.1 + 0.2,
        fields={"q": 'say "hi"\\', "ctl": "\t\n\u2028", "n": -(2**53) - 1, "x": 1e-300, "t": False},
        decided_by="Ｗｉｄｅ reviewer; ' \" \\",
        disclosed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    ),
    disclosure(
        disclosure_id="D-3", record_id="R-3", match_probability=0.9999999999999999,
        fields={}, agreement_version=2_000_000_000,
        disclosed_at=dt.datetime(2026, 7, 1, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ),
]  # fmt: skip
COLUMNS = (*content.DISCLOSURE_FIELDS, "run_id", "ledger_index", "status")


def test_leaves_encode_identically_after_a_database_round_trip(db_url: str) -> None:
    before = [content.disclosure_leaf(r) for r in TRICKY]
    rows = [
        (*(r[c] for c in content.DISCLOSURE_FIELDS), "run-1", i, "active")
        for i, r in enumerate(TRICKY[:2])
    ]
    with db.connect(db_url) as conn:
        db.bulk_insert(conn, Disclosure.__table__, COLUMNS, rows)  # type: ignore[arg-type]
    with db.session(db_url) as s:
        s.add(Disclosure(**TRICKY[2], run_id="run-1", ledger_index=2, status="active"))
        s.add(Recall(**recall(), ledger_index=3))
    with db.connect(db_url) as conn:
        found = conn.execute(select(Disclosure).order_by(Disclosure.ledger_index)).all()
        assert [content.disclosure_leaf(r) for r in found] == before
        assert [content.disclosure_leaf(r._mapping) for r in found] == before
        assert content.recall_leaf(conn.execute(select(Recall)).one()) == content.recall_leaf(
            recall()
        )
    with db.session(db_url) as s:
        objects = s.scalars(select(Disclosure).order_by(Disclosure.ledger_index)).all()
        assert [content.disclosure_leaf(o) for o in objects] == before
