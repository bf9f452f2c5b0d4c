"""The oversight report: its figures equal counts made independently from the database.

State is built through the real paths where they exist (disclosures and recalls with their
ledger leaves, recipient actions through `accord.remedy`, a signed tree head), and with
plain inserts for the rest.  Every expected number below is computed in the test from the
rows themselves (plain SQL or Python over fetched rows), never taken from the code under
test.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from one_line import OneLineError
from sqlalchemy import Connection, text, update

from accord import audit
from accord.cli import main
from accord.disclosure import AUTOMATIC, Draft, disclose
from accord.ledger import log
from accord.oversight import charts, metrics, report
from accord.remedy import recall_people
from accord.store import db
from accord.store.models import (
    AuditSample,
    FirewallRefusal,
    Pause,
    Person,
    PoolEntry,
    Recall,
    RecipientAction,
    ReviewItem,
)

AS_OF = dt.date(2026, 6, 30)
UTC = dt.UTC
ADVERSE = ("revoked", "stopped", "closed", "refused")
REVERSAL = ("reinstated", "restored", "reopened")


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), UTC)


def _nationality(i: int) -> str | None:
    if i < 20:
        return "JAM"
    if i < 32:
        return "NGA"
    if i < 35:
        return "IND"
    return None


def _arrival(i: int) -> dt.date | None:
    return [
        dt.date(1968, 5, 1),
        dt.date(1985, 1, 1),
        dt.date(2005, 1, 1),
        dt.date(2019, 1, 1),
        None,
    ][i % 5]


def _dob(i: int) -> dt.date | None:
    if i == 36:
        return dt.date(1996, 6, 30)  # 30 on the as-of day
    if i == 37:
        return dt.date(1996, 7, 1)  # 29 for one more day
    if i == 38:
        return None
    return dt.date(1940 + (i * 7) % 66, 1 + i % 12, 1 + i % 28)


def _actions(url: str, recipient: str, rows: list[tuple[str, str, str]]) -> None:
    """Recipient actions as `accord actions` stores them, with the remedies they settle."""
    now = dt.datetime.now(UTC)
    with db.connect(url) as conn:
        db.bulk_insert(
            conn,
            RecipientAction.__table__,  # type: ignore[arg-type]
            ("disclosure_id", "recipient", "action", "action_date", "recorded_at"),
            [(d, recipient, a, dt.date.fromisoformat(day), now) for d, a, day in rows],
        )
        for d, a, day in rows:
            if a in REVERSAL:
                conn.execute(
                    update(Recall)
                    .where(Recall.disclosure_id == d, Recall.remedy_status == "outstanding")
                    .values(remedy_status="remedied", remedied_at=at(day, 0))
                )


def pool_rows(conn: Connection, entries: list[tuple[str, str, list[str], dt.date]]) -> None:
    now = dt.datetime.now(UTC)
    db.bulk_insert(
        conn,
        PoolEntry.__table__,  # type: ignore[arg-type]
        ("person_id", "status", "reasons", "as_of", "updated_at"),
        [(*e, now) for e in entries],
    )


def build_state(url: str) -> dict[str, Any]:
    """A small but complete governance state: every section of the report has data."""
    people = [
        (f"P{i:02d}", f"Family{i}", f"Given{i}", _dob(i), _nationality(i), _arrival(i), {})
        for i in range(40)
    ]
    with db.connect(url) as conn:
        db.bulk_insert(
            conn,
            Person.__table__,  # type: ignore[arg-type]
            (
                "person_id",
                "family_name",
                "given_names",
                "date_of_birth",
                "nationality",
                "arrival_date",
                "provenance",
            ),
            people,
        )
        pool = [(f"P{i:02d}", "admitted", ["eligible_refusal"], AS_OF) for i in range(39)]
        pool += [(f"X{i:02d}", "excluded", ["procedural_refusal"], AS_OF) for i in range(7)]
        pool += [
            (f"Y{i:02d}", "excluded", ["appeal_pending", "current_leave"], AS_OF) for i in range(3)
        ]
        pool += [(f"Q{i:02d}", "quarantined", ["missing_key_data"], AS_OF) for i in range(2)]
        pool += [
            ("M00", "manual_check", ["protected_cohort"], AS_OF),
            ("W00", "withdrawn", [], AS_OF),
        ]
        pool_rows(conn, pool)
        for month, day in ((0, "2026-03-15"), (1, "2026-04-15"), (2, "2026-05-02")):
            drafts = [
                Draft(
                    "ho-dvla",
                    1,
                    "dvla",
                    f"L{i:03d}",
                    f"P{i:02d}",
                    0.9995,
                    "reviewer:alice+bob" if i % 4 == 0 else AUTOMATIC,
                    {"family_name": "x"},
                )
                for i in range(36)
                if i % 3 == month
            ] + [
                Draft("ho-hmrc", 2, "hmrc", f"T{i:03d}", f"P{i:02d}", 0.9991, AUTOMATIC, {})
                for i in range(12)
                if i % 3 == month
            ]
            disclose(conn, drafts, at(day), run_id=f"run-{month}")
        ids = dict(
            conn.execute(
                text("SELECT agreement_id || ':' || person_id, disclosure_id FROM disclosures")
            ).all()  # type: ignore[arg-type]
        )
    dvla = [
        (ids[f"ho-dvla:P{i:02d}"], "revoked" if i % 2 == 0 else "none", "2026-05-10")
        for i in range(36)
    ]
    _actions(url, "dvla", dvla)
    _actions(
        url, "hmrc", [(ids[f"ho-hmrc:P{i:02d}"], "stopped", "2026-05-11") for i in (0, 3, 6, 9)]
    )
    with db.connect(url) as conn:
        recall_people(
            conn, ["P00", "P02", "P04", "P06"], "decision_overturned", "t", at=at("2026-05-20")
        )
        recall_people(conn, ["P08"], "departure_recorded", "t", at=at("2026-06-02"))
    _actions(
        url,
        "dvla",
        [
            (ids["ho-dvla:P00"], "reinstated", "2026-05-25"),
            (ids["ho-dvla:P02"], "reinstated", "2026-06-15"),
        ],
    )
    _actions(url, "hmrc", [(ids["ho-hmrc:P00"], "restored", "2026-05-21")])
    with db.session(url) as s:
        s.add_all(
            [
                ReviewItem(
                    item_id="R1",
                    kind="uncertain_match",
                    person_id="P20",
                    reason="p=0.95",
                    created_at=at("2026-06-28"),
                ),
                ReviewItem(
                    item_id="R2",
                    kind="uncertain_match",
                    person_id="P21",
                    reason="p=0.93",
                    created_at=at("2026-06-01"),
                ),
                ReviewItem(
                    item_id="R3",
                    kind="uncertain_match",
                    person_id="P22",
                    reason="p=0.91",
                    created_at=at("2026-03-01"),
                ),
                ReviewItem(
                    item_id="R4",
                    kind="ambiguous_match",
                    person_id="P23",
                    reason="twin",
                    approvals_needed=2,
                    created_at=at("2026-06-29"),
                ),
                ReviewItem(
                    item_id="R5",
                    kind="manual_check",
                    person_id="M00",
                    reason="cohort",
                    approvals_needed=2,
                    created_at=at("2026-01-15"),
                ),
                ReviewItem(
                    item_id="R6",
                    kind="uncertain_match",
                    person_id="P24",
                    reason="p=0.9",
                    status="approved",
                    created_at=at("2026-02-01"),
                ),
                ReviewItem(
                    item_id="R7",
                    kind="manual_check",
                    person_id="P25",
                    reason="cohort",
                    status="rejected",
                    created_at=at("2026-02-01"),
                ),
                FirewallRefusal(
                    agreement_id="ho-dvla",
                    person_id="P01",
                    field="postcode",
                    data_category="health",
                    purpose="immigration_enforcement",
                    use="matching",
                ),
                FirewallRefusal(
                    agreement_id="ho-dvla",
                    person_id="P01",
                    field="postcode",
                    data_category="health",
                    purpose="immigration_enforcement",
                    use="matching",
                ),
                FirewallRefusal(
                    agreement_id="ho-dvla",
                    person_id="P03",
                    field="postcode",
                    data_category="health",
                    purpose="immigration_enforcement",
                    use="matching",
                ),
                FirewallRefusal(
                    agreement_id="ho-hmrc",
                    person_id="P05",
                    field=None,
                    data_category="education",
                    purpose="immigration_enforcement",
                    use="disclosure",
                ),
                Pause(
                    agreement_id="ho-dvla",
                    cohort="age_over_30",
                    paused_by="dpo@home-office",
                    reason="Inspectorate found wrongful revocations",
                    paused_at=at("2026-06-01"),
                ),
                Pause(
                    agreement_id="ho-hmrc",
                    cohort=None,
                    paused_by="dpo@home-office",
                    reason="Agreement under review",
                    paused_at=at("2026-04-01"),
                    resumed_by="sro@home-office",
                    resumed_at=at("2026-04-10"),
                    resume_reason="Review complete",
                ),
            ]
        )
        samples = [
            (
                "S-disc",
                "disclosure",
                "dvla-auto",
                1000,
                i,
                ("wrong" if i < 2 else "correct") if i < 18 else None,
            )
            for i in range(20)
        ]
        samples += [("S-disc", "disclosure", "dvla-reviewed", 200, i, "correct") for i in range(10)]
        samples += [
            ("S-bank", "pool_entry", "all", 5000, i, "wrong" if i < 17 else "correct")
            for i in range(169)
        ]
        s.add_all(
            [
                AuditSample(
                    sample_id=sid,
                    item_kind=kind,
                    item_ref=f"{stratum}-{i}",
                    stratum=stratum,
                    stratum_size=size,
                    verdict=verdict,
                )
                for sid, kind, stratum, size, i, verdict in samples
            ]
        )
    key = Ed25519PrivateKey.generate()
    with db.connect(url) as conn:
        head = log.sign_head(conn, key)
    return {"ids": ids, "head": head}


@pytest.fixture
def state_url(db_url: str) -> str:
    build_state(db_url)
    return db_url


def rows(url: str, sql: str) -> list[Any]:
    with db.connect(url) as conn:
        return list(conn.execute(text(sql)).all())


def scalar(url: str, sql: str) -> Any:
    return rows(url, sql)[0][0]


def _age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _band(dob: Any) -> str:
    if dob is None:
        return "unknown"
    if isinstance(dob, str):
        dob = dt.date.fromisoformat(dob)
    age = _age(dob, AS_OF)
    for name, lo, hi in (
        ("under 18", 0, 17),
        ("18 to 29", 18, 29),
        ("30 to 44", 30, 44),
        ("45 to 59", 45, 59),
        ("60 to 74", 60, 74),
    ):
        if lo <= age <= hi:
            return name
    return "75 and over"


# --- the figures equal independent counts ----------------------------------------------------


def test_activity_and_headline_match_plain_sql(state_url: str) -> None:
    f = metrics.collect(state_url, AS_OF)
    url = state_url
    assert not f.empty
    assert f.headline.disclosures == scalar(url, "SELECT count(*) FROM disclosures") == 48
    assert f.headline.people_disclosed_about == scalar(
        url, "SELECT count(DISTINCT person_id) FROM disclosures"
    )
    adverse = scalar(
        url,
        "SELECT count(*) FROM recipient_actions WHERE action IN "
        "('revoked','stopped','closed','refused')",
    )
    assert f.headline.adverse_actions == adverse == 22
    assert (
        f.headline.reversals
        == scalar(
            url,
            "SELECT count(*) FROM recipient_actions WHERE action IN "
            "('reinstated','restored','reopened')",
        )
        == 3
    )
    expected = {
        (a, r): (n, act, rec, auto)
        for a, r, n, act, rec, auto in rows(
            url,
            "SELECT agreement_id, recipient, count(*), "
            "sum(CASE WHEN status='active' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status='recalled' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN decided_by LIKE 'rule:%' THEN 1 ELSE 0 END) "
            "FROM disclosures GROUP BY agreement_id, recipient",
        )
    }
    got = {
        (a.agreement_id, a.recipient): (a.disclosures, a.active, a.recalled, a.automatic)
        for a in f.activity.by_agreement
    }
    assert got == expected
    assert all(a.reviewed == a.disclosures - a.automatic for a in f.activity.by_agreement)
    assert f.activity.scores == scalar(url, "SELECT count(*) FROM disclosures WHERE score_id <> ''")
    # months in UTC, from the rows themselves
    months = Counter(
        (str(d)[:7], a) for a, d in rows(url, "SELECT agreement_id, disclosed_at FROM disclosures")
    )
    assert {
        (m.month, m.agreement_id): m.disclosures for m in f.activity.disclosures_by_month
    } == dict(months)
    action_months = Counter(
        (str(day)[:7], act)
        for act, day in rows(url, "SELECT action, action_date FROM recipient_actions")
    )
    got_actions: Counter[tuple[str, str]] = Counter()
    for m in f.activity.actions_by_month:
        got_actions[(m.month, m.action)] += m.actions
    assert got_actions == action_months
    assert f.reversals.disclosures_reversed == 3


def test_pool_review_recalls_firewall_pauses_match_the_rows(state_url: str) -> None:
    url = state_url
    f = metrics.collect(url, AS_OF)
    statuses = dict(rows(url, "SELECT status, count(*) FROM pool_entries GROUP BY status"))
    assert {s.status: s.people for s in f.pool.statuses} == statuses
    reasons: Counter[tuple[str, str]] = Counter()
    for status, raw in rows(url, "SELECT status, reasons FROM pool_entries"):
        codes = json.loads(raw) if isinstance(raw, str) else raw
        for code in codes or ["(none recorded)"]:
            reasons[(status, code)] += 1
    assert {(r.status, r.reason): r.people for r in f.pool.reasons} == dict(reasons)

    open_items = rows(
        url, "SELECT kind, created_at, approvals_needed FROM review_items WHERE status = 'open'"
    )
    assert f.review.open == len(open_items) == 5
    by_kind = {k.kind: k for k in f.review.by_kind}
    for kind in {k for k, _, _ in open_items}:
        ages = [
            (AS_OF - dt.date.fromisoformat(str(c)[:10])).days for k, c, _ in open_items if k == kind
        ]
        assert by_kind[kind].open == len(ages)
        assert by_kind[kind].oldest_days == max(ages)
        assert by_kind[kind].median_days == statistics.median(ages)
        assert by_kind[kind].four_eyes == sum(1 for k, _, n in open_items if k == kind and n >= 2)
    assert by_kind["uncertain_match"].approved == 1 and by_kind["manual_check"].rejected == 1
    assert sum(a.items for a in f.review.age) == f.review.open

    recalls = rows(url, "SELECT recipient, remedy_status, recalled_at, remedied_at FROM recalls")
    assert f.remedies.recalls == len(recalls)
    assert f.remedies.outstanding == sum(1 for r in recalls if r[1] == "outstanding") == 3
    assert f.remedies.remedied == sum(1 for r in recalls if r[1] == "remedied") == 3
    assert f.remedies.none_needed == sum(1 for r in recalls if r[1] == "none_needed")
    took = [
        (dt.date.fromisoformat(str(r[3])[:10]) - dt.date.fromisoformat(str(r[2])[:10])).days
        for r in recalls
        if r[1] == "remedied"
    ]
    assert sorted(took) == [1, 5, 26]
    assert f.remedies.median_days_to_remedy == statistics.median(took)
    assert f.remedies.p90_days_to_remedy == pytest.approx(float(np.percentile(took, 90)))
    dvla = next(r for r in f.remedies.by_recipient if r.recipient == "dvla")
    assert dvla.oldest_outstanding_days == (AS_OF - dt.date(2026, 5, 20)).days
    assert sum(b.count for b in f.remedies.days_to_remedy) == 3
    # Recalls a recipient has not acknowledged are counted, per recipient and in all.
    assert f.remedies.unacknowledged == len(recalls)
    with db.connect(url) as conn:
        conn.execute(
            text("UPDATE recalls SET acknowledged_at = recalled_at WHERE recipient = 'dvla'")
        )
    again = metrics.collect(url, AS_OF).remedies
    expected = Counter(r[0] for r in recalls if r[0] != "dvla")
    assert {r.recipient: r.unacknowledged for r in again.by_recipient} == {
        r.recipient: expected.get(r.recipient, 0) for r in again.by_recipient
    }
    assert again.unacknowledged == sum(expected.values()) < len(recalls)

    assert f.firewall.refusals == scalar(url, "SELECT count(*) FROM firewall_refusals") == 4
    assert f.firewall.people == scalar(
        url, "SELECT count(DISTINCT person_id) FROM firewall_refusals"
    )
    whole = [r for r in f.firewall.by_agreement if r.field == "(whole disclosure)"]
    assert [(r.agreement_id, r.refusals) for r in whole] == [("ho-hmrc", 1)]

    assert [p.cohort for p in f.pauses.open] == ["age_over_30"]
    assert f.pauses.open[0].days == (AS_OF - dt.date(2026, 6, 1)).days
    assert [(p.resumed_by, p.days) for p in f.pauses.past] == [("sro@home-office", 9)]


def test_cohorts_match_an_independent_count_with_suppression(state_url: str) -> None:
    url = state_url
    f = metrics.collect(url, AS_OF)
    joined = rows(
        url,
        "SELECT d.disclosure_id, d.person_id, p.date_of_birth, p.nationality, p.arrival_date "
        "FROM disclosures d LEFT JOIN people p ON p.person_id = d.person_id",
    )
    adverse = Counter(
        d
        for (d,) in rows(
            url,
            "SELECT disclosure_id FROM recipient_actions WHERE action IN "
            "('revoked','stopped','closed','refused')",
        )
    )

    def era(day: Any) -> str:
        if day is None:
            return "unknown"
        year = int(str(day)[:4])
        return (
            "before 1973"
            if year < 1973
            else "1973 to 1999"
            if year < 2000
            else "2000 to 2015"
            if year < 2016
            else "after 2015"
        )

    for table, group_of in (
        (f.cohorts.age_band, lambda r: _band(r[2])),
        (f.cohorts.nationality, lambda r: r[3] or "unknown"),
        (f.cohorts.arrival_era, lambda r: era(r[4])),
    ):
        disclosures = Counter(group_of(r) for r in joined)
        harmed = Counter(group_of(r) for r in joined for _ in range(adverse[r[0]]))
        for row in table.rows:
            for cell, truth in (
                (row.disclosures, disclosures[row.group]),
                (row.adverse_actions, harmed[row.group]),
            ):
                if cell.suppressed:
                    assert cell.value is None
                else:
                    assert cell.value == truth, (table.dimension, row.group)
                    assert not 0 < truth < metrics.SUPPRESS_BELOW
            # every small non-zero count is hidden
            if 0 < disclosures[row.group] < metrics.SUPPRESS_BELOW:
                assert row.disclosures.suppressed
    # IND has 3 disclosures: hidden, and the JSON the dashboard reads never carries any
    # small count, not even as a hidden value
    ind = next(r for r in f.cohorts.nationality.rows if r.group == "IND")
    assert ind.disclosures.suppressed
    published = json.loads(f.cohorts.model_dump_json())
    for dimension in ("age_band", "nationality", "arrival_era"):
        for row in published[dimension]["rows"]:
            for measure in metrics.COHORT_MEASURES:
                value = row[measure]["value"]
                assert value is None or value == 0 or value >= metrics.SUPPRESS_BELOW


def test_error_rates_and_ledger_match_the_rows(state_url: str) -> None:
    url = state_url
    f = metrics.collect(url, AS_OF)
    bank = next(s for s in f.error_rates.strata if s.sample_id == "S-bank")
    assert (bank.checked, bank.wrong, bank.stratum_size) == (169, 17, 5000)
    assert bank.rate == pytest.approx(17 / 169)
    assert bank.low is not None and bank.high is not None
    assert bank.low < 17 / 169 < bank.high
    auto = next(s for s in f.error_rates.strata if s.stratum == "dvla-auto")
    assert (auto.drawn, auto.checked, auto.wrong) == (20, 18, 2)
    whole = next(s for s in f.error_rates.samples if s.sample_id == "S-disc")
    # stratified: weighted by population, so closer to the big stratum's rate; its interval
    # is Wilson's on the effective sample size 1 / sum(W^2 / n)
    w_auto, w_reviewed = 1000 / 1200, 200 / 1200
    assert whole.rate == pytest.approx(w_auto * 2 / 18)
    assert whole.effective_n == pytest.approx(1 / (w_auto**2 / 18 + w_reviewed**2 / 10))
    assert (whole.low, whole.high) == pytest.approx(
        audit.wilson(whole.rate * whole.effective_n, whole.effective_n)
    )
    assert whole.complete and whole.checked == 28 and whole.population == 1200

    size, root, stamp, key_id, sig = rows(
        url,
        "SELECT tree_size, root_hash, timestamp_ms, key_id, signature FROM tree_heads "
        "ORDER BY tree_size DESC LIMIT 1",
    )[0]
    assert f.ledger.head is not None
    assert f.ledger.head.tree_size == size == scalar(url, "SELECT count(*) FROM ledger_leaves")
    assert f.ledger.head.root_hex == bytes(root).hex()
    assert f.ledger.head.signature_hex == bytes(sig).hex()
    assert f.ledger.head.key_id == key_id
    assert f.ledger.head.timestamp == dt.datetime.fromtimestamp(stamp / 1000, UTC)
    assert f.ledger.disclosures_under_head == 48
    assert f.ledger.recall_leaves == f.ledger.recalls_under_head == f.remedies.recalls
    # a disclosure no signed head covers is counted but not covered (its transaction
    # signs one as it commits: that head is removed, as in a ledger from before then)
    with db.connect(url) as conn:
        disclose(
            conn,
            [Draft("ho-dvla", 1, "dvla", "L999", "P39", 0.9999, AUTOMATIC)],
            at("2026-06-29"),
            None,
        )
    with db.connect(url) as conn:
        conn.execute(text("DELETE FROM tree_heads WHERE tree_size > :size"), {"size": size})
    later = metrics.collect(url, AS_OF)
    assert later.ledger.disclosure_leaves == 49
    assert later.ledger.disclosures_under_head == 48


def test_figures_are_json_serialisable(state_url: str) -> None:
    f = metrics.collect(state_url, AS_OF)
    again = metrics.OversightFigures.model_validate_json(f.model_dump_json())
    assert again == f


# --- the HTML ---------------------------------------------------------------------------------


def _text_of(doc: str, element_id: str) -> str:
    m = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', doc)
    assert m, element_id
    return html.unescape(m.group(1))


def _table(doc: str, table_id: str) -> list[list[str]]:
    m = re.search(rf'<table id="{re.escape(table_id)}">(.*?)</table>', doc, re.DOTALL)
    assert m, table_id
    body = re.search(r"<tbody>(.*?)</tbody>", m.group(1), re.DOTALL)
    assert body
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.DOTALL)
        ]
        for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.DOTALL)
    ]


def test_the_report_shows_the_database_numbers(state_url: str, tmp_path: Path) -> None:
    url = state_url
    out = tmp_path / "report.html"
    result = report.write_report(url, out, AS_OF)
    doc = out.read_text(encoding="utf-8")
    assert result.path == out and result.bytes == len(doc.encode())
    assert _text_of(doc, "h-disclosures") == f"{scalar(url, 'SELECT count(*) FROM disclosures'):,}"
    assert _text_of(doc, "h-outstanding") == str(
        scalar(url, "SELECT count(*) FROM recalls WHERE remedy_status = 'outstanding'")
    )
    assert _text_of(doc, "h-review") == str(
        scalar(url, "SELECT count(*) FROM review_items WHERE status = 'open'")
    )
    assert _text_of(doc, "h-firewall") == str(scalar(url, "SELECT count(*) FROM firewall_refusals"))
    per_agreement = {(r[0], r[1]): r[2] for r in _table(doc, "t-by-agreement")}
    for a, rc, n in rows(
        url,
        "SELECT agreement_id, recipient, count(*) FROM disclosures "
        "GROUP BY agreement_id, recipient",
    ):
        assert per_agreement[(a, rc)] == f"{n:,}"
    size, root, sig = rows(
        url,
        "SELECT tree_size, root_hash, signature FROM tree_heads ORDER BY tree_size DESC LIMIT 1",
    )[0]
    assert _text_of(doc, "th-size") == f"{size:,}"
    assert _text_of(doc, "th-root") == bytes(root).hex()
    assert _text_of(doc, "th-signature") == bytes(sig).hex()
    stratum = next(r for r in _table(doc, "t-error-strata") if r[0] == "S-bank")
    assert stratum[5:8] == ["169", "17", "10.1%"]
    # suppressed cells read "<5"; the rule is stated
    ind = next(r for r in _table(doc, "t-cohort_nationality") if r[0] == "IND")
    assert ind[1] == "<5"
    assert "shown as '&lt;5'" in doc or "shown as &#39;&lt;5&#39;" in doc
    # one inline SVG per chart, each labelled; nothing loads from anywhere
    for name in charts.CHARTS:
        assert f'data-chart="{name}"' in doc, name
    assert "<script" not in doc
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", doc)
    assert "http://" not in doc.replace("http://www.w3.org/", "")
    assert "https://" not in doc
    # no person's identifiers or names anywhere
    for person, name in rows(url, "SELECT person_id, family_name FROM people"):
        assert f">{person}<" not in doc and name not in doc


def test_chart_svg_is_accessible_text_and_has_marks(state_url: str) -> None:
    f = metrics.collect(state_url, AS_OF)
    drawn = charts.render_all(f)
    assert set(drawn) == set(charts.CHARTS)
    for name, svg in drawn.items():
        assert svg.startswith('<svg role="img" aria-label="'), name
        assert re.search(r"<title>[^<]+</title>", svg), name
        assert "<text" in svg, name  # text stays text (svg.fonttype none)
        assert re.search(rf'id="{name}-mark-\d+"', svg), name
        assert f'id="chart-{name}"' in svg
        assert "<?xml" not in svg and "<metadata" not in svg


def test_an_empty_database_gives_a_report_that_says_so(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = report.write_report(db_url, out, AS_OF)
    doc = out.read_text(encoding="utf-8")
    assert result.figures.empty and result.charts == ()
    assert 'id="nothing-yet"' in doc and "Nothing has been recorded yet" in doc
    assert _text_of(doc, "h-disclosures") == "0"
    assert "No tree head has been signed yet" in doc
    assert "No disclosures have been made yet" in doc


def test_a_report_with_only_a_pool_is_not_empty(db_url: str, tmp_path: Path) -> None:
    with db.connect(db_url) as conn:
        pool_rows(conn, [("A", "excluded", ["procedural_refusal"], AS_OF)])
    result = report.write_report(db_url, tmp_path / "r.html", AS_OF)
    assert not result.figures.empty
    assert set(result.charts) == {"pool_status", "pool_reasons"}
    assert "Nothing has been recorded yet" not in (tmp_path / "r.html").read_text()


def test_odd_labels_are_text_not_markup_or_maths(db_url: str, tmp_path: Path) -> None:
    odd = 'fee_$5$_<b>"x"</b>&'
    with db.connect(db_url) as conn:
        pool_rows(conn, [(f"A{i}", "excluded", [odd], AS_OF) for i in range(3)])
    result = report.write_report(db_url, tmp_path / "r.html", AS_OF)
    doc = (tmp_path / "r.html").read_text()
    assert "<b>" not in doc
    assert html.escape(odd, quote=False) in doc  # in the data table, escaped
    svg = charts.render_all(result.figures)["pool_reasons"]
    drawn = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert any(t.startswith("fee_$5$_&lt;b&gt;") for t in drawn)  # literal text, dollars and all


# --- pure helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "n", "low", "high"),
    # Newcombe (1998), Stat Med 17:857-872, table I, method 3 (score interval, no correction)
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_published_values(
    wrong: int, n: int, low: float, high: float
) -> None:
    got = audit.wilson(wrong, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_an_error_rate_with_no_error_found_shows_how_high_it_could_be(state_url: str) -> None:
    """Issue 18: 0 wrong of 10 checked is 0.0% with a 95% upper bound of 27.8% (Wilson:
    z^2 / (n + z^2)), written by the one rounding every rate goes through; and 17 of 169."""
    doc = report.render(metrics.collect(state_url, AS_OF), {})
    strata = {r[2]: r for r in _table(doc, "t-error-strata")}
    none_found = strata["dvla-reviewed"]  # sample, kind, stratum, size, drawn, checked, wrong
    assert none_found[5:9] == ["10", "0", "0.0%", "0.0% to 27.8%"]
    z2 = audit.Z95**2
    assert f"{100 * z2 / (10 + z2):.1f}%" == "27.8%"
    bank = next(r for r in _table(doc, "t-error-strata") if r[0] == "S-bank")
    low, high = audit.wilson(17, 169)
    assert bank[7:9] == ["10.1%", f"{100 * low:.1f}% to {100 * high:.1f}%"]
    assert bank[8] == "6.4% to 15.5%"


def test_quantiles_from_counts_equal_numpy_on_the_expanded_values() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        values = rng.integers(0, 40, size=rng.integers(1, 30))
        counts = Counter(int(v) for v in values)
        for q in (0.0, 0.1, 0.5, 0.9, 1.0):
            got = metrics.quantile_of_counts(counts.items(), q)
            assert got == pytest.approx(float(np.percentile(values, q * 100)))
    assert metrics.quantile_of_counts([], 0.5) is None


def test_suppression_hides_small_counts_and_one_more_when_alone() -> None:
    cells = metrics.suppress([120, 3, 0, 40, 9])
    assert [c.suppressed for c in cells] == [False, True, False, False, True]
    assert [str(c) for c in cells] == ["120", "<5", "0", "40", "<5"]
    two = metrics.suppress([120, 3, 4, 40])
    assert [c.suppressed for c in two] == [False, True, True, False]
    assert not any(c.suppressed for c in metrics.suppress([5, 0, 7]))


def test_age_bands_turn_on_the_birthday(db_url: str) -> None:
    born = {"A": dt.date(1996, 6, 30), "B": dt.date(1996, 7, 1), "C": dt.date(2008, 2, 29)}
    with db.connect(db_url) as conn:
        db.bulk_insert(
            conn,
            Person.__table__,
            (
                "person_id",
                "family_name",
                "given_names",  # type: ignore[arg-type]
                "date_of_birth",
                "provenance",
            ),
            [(p, "F", "G", d, {}) for p, d in born.items()],
        )
        disclose(
            conn,
            [Draft("a", 1, "dvla", f"R{p}", p, 1.0, AUTOMATIC) for p in born],
            at("2026-01-01"),
            None,
        )
    # 2026-02-28: C (born 29 Feb 2008) is still 17; 2026-06-30: A is 30, B is 29
    for as_of, expected in (
        (dt.date(2026, 6, 30), {"30 to 44": 1, "18 to 29": 2}),
        (dt.date(2026, 2, 28), {"18 to 29": 2, "under 18": 1}),
        (dt.date(2026, 3, 1), {"18 to 29": 3}),
    ):
        f = metrics.collect(db_url, as_of)
        # counts under 5 are suppressed in the table, so check the SQL bands directly
        with db.connect(db_url) as conn:
            band = metrics._age_band(Person.__table__.c.date_of_birth, as_of)
            got = Counter(
                r[0] for r in conn.execute(Person.__table__.select().with_only_columns(band))
            )
        assert dict(got) == expected, as_of
        assert all(
            r.disclosures.suppressed or r.disclosures.value == 0 for r in f.cohorts.age_band.rows
        )


# --- the command line -------------------------------------------------------------------------


def test_cli_writes_the_report_and_prints_headlines(
    state_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "oversight.html"
    code = main(["report", "--database", state_url, "--out", str(out), "--as-of", "2026-06-30"])
    printed = capsys.readouterr().out
    assert code == 0
    assert out.is_file() and "Accord oversight report" in out.read_text()
    assert f"report written to {out}" in printed
    assert "disclosures 48 about" in printed
    assert "As of 2026-06-30" in out.read_text()


def test_cli_default_out_is_accord_report_html(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--database", db_url]) == 0
    assert (tmp_path / "accord-report.html").is_file()
    assert "nothing has been recorded yet" in capsys.readouterr().out


def test_cli_refuses_a_missing_folder(
    db_url: str, tmp_path: Path, one_line_error: OneLineError
) -> None:
    out = tmp_path / "nowhere" / "r.html"
    one_line_error(["report", "--database", db_url, "--out", str(out)], 2, "does not exist")
    assert not out.parent.exists()


def test_cli_refuses_a_folder_as_the_report(
    db_url: str, tmp_path: Path, one_line_error: OneLineError
) -> None:
    one_line_error(["report", "--database", db_url, "--out", str(tmp_path)], 2, "is a folder")


def test_cli_refuses_a_file_as_the_folder(
    db_url: str, tmp_path: Path, one_line_error: OneLineError
) -> None:
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "r.html"
    one_line_error(["report", "--database", db_url, "--out", str(out)], 2, "is not a folder")


def test_cli_reports_a_write_failure_in_one_line(
    db_url: str, tmp_path: Path, one_line_error: OneLineError
) -> None:
    out = tmp_path / ("x" * 300 + ".html")  # longer than a file name may be
    one_line_error(["report", "--database", db_url, "--out", str(out)], 2, "cannot write")
    assert list(tmp_path.iterdir()) == [tmp_path / "accord.db"] or not any(
        p.name.startswith(".accord-report-") for p in tmp_path.iterdir()
    )


def test_cli_refuses_an_uninitialised_database(
    empty_db_url: str, tmp_path: Path, one_line_error: OneLineError
) -> None:
    one_line_error(
        ["report", "--database", empty_db_url, "--out", str(tmp_path / "r.html")],
        2,
        "accord init",
    )
    assert not (tmp_path / "r.html").exists()


def test_cli_refuses_a_bad_as_of(db_url: str, tmp_path: Path, one_line_error: OneLineError) -> None:
    one_line_error(
        [
            "report",
            "--database",
            db_url,
            "--out",
            str(tmp_path / "r.html"),
            "--as-of",
            "30/06/2026",
        ],
        2,
        "YYYY-MM-DD",
        usage=True,
    )


def test_cli_refuses_a_bad_database_url(tmp_path: Path, one_line_error: OneLineError) -> None:
    one_line_error(
        ["report", "--database", "mysql://x/y", "--out", str(tmp_path / "r.html")],
        2,
        "Accord supports",
    )


# --- in a real browser ------------------------------------------------------------------------

# For each chart: its SVG's size on the page and the size of every mark drawn in it.
MEASURE_CHARTS = """
() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = Array.from(svg.querySelectorAll('[id*="-mark-"]')).map(m => {
    const b = m.getBoundingClientRect();
    return [b.width, b.height];
  });
  return {name: svg.dataset.chart, width: box.width, height: box.height, marks: marks,
          texts: svg.querySelectorAll('text').length};
})
"""


@pytest.mark.browser
def test_the_report_renders_offline_in_chromium(sqlite_template: Path, tmp_path: Path) -> None:
    """One backend is enough here: what is under test is the HTML, not the queries."""
    from playwright.sync_api import Route, sync_playwright

    assert CHROMIUM.is_file(), f"browser tests need Debian's Chromium at {CHROMIUM}"
    shutil.copy(sqlite_template, tmp_path / "accord.db")
    db_url = f"sqlite:///{tmp_path / 'accord.db'}"
    build_state(db_url)
    out = tmp_path / "report.html"
    result = report.write_report(db_url, out, AS_OF)
    blocked: list[str] = []

    def block(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route("**/*", block)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(out.as_uri(), wait_until="load")
            measured = page.evaluate(MEASURE_CHARTS)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            page.set_viewport_size({"width": 420, "height": 900})  # a phone
            narrow = page.evaluate(
                "() => document.documentElement.scrollWidth <= window.innerWidth + 1"
            )
        finally:
            browser.close()
    assert blocked == [], "the report tried to load something from the network"
    assert errors == [], errors  # e.g. a Content-Security-Policy violation
    assert [m["name"] for m in measured] == list(result.charts) == list(charts.CHARTS)
    for m in measured:
        assert m["width"] > 100 and m["height"] > 50, m["name"]
        drawn = [w * h for w, h in m["marks"] if w > 0 and h > 0]
        assert drawn, f"chart {m['name']} has no drawn marks"
        assert m["texts"] > 3, m["name"]  # axis labels and ticks are real text
    assert (tmp_path / "report.png").stat().st_size > 50_000
    assert narrow, "the report scrolls sideways on a narrow screen"


def test_score_disclosures_are_counted_apart(db_url: str, tmp_path: Path) -> None:
    """A derived score is a data category of its own (F8): the report says how many of the
    disclosures under each agreement were scores."""
    from accord.store.models import Disclosure

    with db.session(db_url) as s:
        for n, score_id in enumerate(("", "S1", "S2")):
            s.add(
                Disclosure(
                    disclosure_id=f"D{n}", agreement_id="A", agreement_version=1,
                    recipient="bank", record_id=f"R{n}", person_id="P1", match_probability=1.0,
                    decided_by="reviewer:a, reviewer:b", fields={}, score_id=score_id,
                    disclosed_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), ledger_index=n,
                )
            )  # fmt: skip
        s.commit()
    f = metrics.collect(db_url, AS_OF)
    assert (f.activity.disclosures, f.activity.scores) == (3, 2)
    assert [(a.agreement_id, a.disclosures, a.scores) for a in f.activity.by_agreement] == [
        ("A", 3, 2)
    ]
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out), "--database", db_url,
                 "--as-of", AS_OF.isoformat()]) == 0  # fmt: skip
    table = out.read_text(encoding="utf-8").split('id="t-by-agreement"')[1].split("</table>")[0]
    assert '<th class="n">scores</th>' in table
