"""Audit sampling: stratified samples, verdicts and Wilson intervals, as an inspector works."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from accord import audit
from accord.cli import main
from accord.errors import AccordError
from accord.store import db
from accord.store.models import AuditLog, AuditSample, PoolEntry


@pytest.mark.parametrize(
    ("wrong", "n", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:857-872, table II, method 3 (Wilson).
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_the_published_values(
    wrong: int, n: int, low: float, high: float
) -> None:
    got = audit.wilson(wrong, n)
    assert (round(got[0], 4), round(got[1], 4)) == (low, high)


def test_wilson_needs_an_observation() -> None:
    with pytest.raises(ValueError):
        audit.wilson(0, 0)


def test_allocation_is_proportional_with_one_per_stratum() -> None:
    sizes = {"admitted": 900, "excluded": 90, "quarantined": 10}
    alloc = audit.allocate(sizes, 100)
    assert sum(alloc.values()) == 100 and alloc["quarantined"] >= 1
    assert alloc["admitted"] > alloc["excluded"] > alloc["quarantined"]
    assert audit.allocate(sizes, 2) == {"admitted": 1, "excluded": 1}
    assert audit.allocate({"a": 3, "b": 1}, 50) == {"a": 3, "b": 1}  # cannot exceed a stratum
    assert audit.allocate({"a": 5, "b": 5}, 0) == {}


def make_pool(url: str, statuses: dict[str, int]) -> None:
    rows = []
    for status, n in statuses.items():
        rows += [
            (
                f"{status[:2].upper()}{i:04d}",
                status,
                [],
                dt.date(2026, 1, 1),
                None,
                dt.datetime.now(dt.UTC),
            )
            for i in range(n)
        ]
    with db.connect(url) as conn:
        db.bulk_insert(
            conn,
            PoolEntry.__table__,  # type: ignore[arg-type]
            ("person_id", "status", "reasons", "as_of", "run_id", "updated_at"),
            rows,
        )


def test_a_sample_is_stratified_reproducible_and_stored(db_url: str) -> None:
    make_pool(db_url, {"admitted": 300, "excluded": 60, "quarantined": 5})
    sample_id, strata = audit.sample(db_url, 40, seed=7, actor="inspector")
    assert sample_id == "pool-7-40"
    assert {s.stratum: (s.population, s.drawn) for s in strata} == {
        "admitted": (300, 33),
        "excluded": (60, 6),
        "quarantined": (5, 1),
    }
    first = [(i.item_ref, i.stratum) for i in audit.items(db_url, sample_id)]
    again_id, _ = audit.sample(db_url, 40, seed=7, sample_id="again")
    assert [(i.item_ref, i.stratum) for i in audit.items(db_url, again_id)] == first
    other_id, _ = audit.sample(db_url, 40, seed=8)
    assert [(i.item_ref, i.stratum) for i in audit.items(db_url, other_id)] != first
    assert all(ref.startswith(stratum[:2].upper()) for ref, stratum in first)
    with db.connect(db_url) as conn:
        logged = (
            conn.execute(
                select(AuditLog.actor)
                .where(AuditLog.action == "audit_sample_drawn")
                .order_by(AuditLog.id)
            )
            .scalars()
            .all()
        )
    assert logged[0] == "inspector" and len(logged) == 3


def test_a_sample_can_be_limited_to_some_statuses(db_url: str) -> None:
    make_pool(db_url, {"admitted": 50, "excluded": 50})
    _, strata = audit.sample(db_url, 10, seed=1, statuses=["admitted"])
    assert [(s.stratum, s.drawn) for s in strata] == [("admitted", 10)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "--size of 1 or more"),
        ({"kind": "people"}, "unknown sample kind"),
        ({"kind": "disclosure"}, "there are no active disclosures to sample"),
        ({"statuses": ["withdrawn"]}, "there are no pool entries to sample"),
    ],
)
def test_sampling_the_impossible_is_refused(
    db_url: str, kwargs: dict[str, object], message: str
) -> None:
    make_pool(db_url, {"admitted": 5})
    args: dict[str, object] = {"size": 3, "seed": 1} | kwargs
    with pytest.raises(AccordError, match=message):
        audit.sample(db_url, **args)  # type: ignore[arg-type]


def test_a_sample_id_is_used_once(db_url: str) -> None:
    make_pool(db_url, {"admitted": 5})
    audit.sample(db_url, 3, seed=1)
    with pytest.raises(AccordError, match="sample pool-1-3 already exists"):
        audit.sample(db_url, 3, seed=1)


def test_verdicts_give_a_stratified_estimate_with_wilson_intervals(db_url: str) -> None:
    make_pool(db_url, {"admitted": 900, "excluded": 100})
    sample_id, _ = audit.sample(db_url, 100, seed=3)
    items = audit.items(db_url, sample_id)
    admitted = [i.item_ref for i in items if i.stratum == "admitted"]
    excluded = [i.item_ref for i in items if i.stratum == "excluded"]
    assert (len(admitted), len(excluded)) == (90, 10)
    verdicts = [(r, "wrong" if k < 9 else "correct", None) for k, r in enumerate(admitted)]
    verdicts += [(r, "correct", None) for r in excluded]
    assert audit.record(db_url, sample_id, verdicts, "inspector") == 100
    e = audit.estimate(db_url, sample_id)
    strata = {s.stratum: s for s in e.strata}
    assert (strata["admitted"].wrong, strata["admitted"].verified) == (9, 90)
    assert strata["admitted"].rate == pytest.approx(0.1)
    assert (strata["admitted"].low, strata["admitted"].high) == pytest.approx(audit.wilson(9, 90))
    assert strata["excluded"].rate == 0.0 and strata["excluded"].high == pytest.approx(
        audit.wilson(0, 10)[1]
    )
    # Proportional allocation: the stratified estimate is the plain one, with n = 100.
    assert e.overall.rate == pytest.approx(0.09)
    assert e.effective_n == pytest.approx(100)
    assert (e.overall.low, e.overall.high) == pytest.approx(audit.wilson(9, 100))
    assert e.complete


def test_the_overall_estimate_weights_strata_by_their_size(db_url: str) -> None:
    make_pool(db_url, {"admitted": 900, "excluded": 100})
    sample_id, _ = audit.sample(db_url, 40, seed=3, statuses=None)
    items = audit.items(db_url, sample_id)
    # Check only the excluded stratum so far: the estimate is partial and says so.
    some = [(i.item_ref, "wrong", "no refusal on file") for i in items if i.stratum == "excluded"]
    audit.record(db_url, sample_id, some, "inspector")
    partial = audit.estimate(db_url, sample_id)
    assert not partial.complete and partial.overall.rate == 1.0
    rest = [(i.item_ref, "correct", None) for i in items if i.stratum == "admitted"]
    audit.record(db_url, sample_id, rest, "inspector")
    e = audit.estimate(db_url, sample_id)
    assert e.complete and e.overall.rate == pytest.approx(0.1)  # 100 / 1000 are wrong


def test_a_verdict_for_an_item_outside_the_sample_is_refused(db_url: str) -> None:
    make_pool(db_url, {"admitted": 5})
    sample_id, _ = audit.sample(db_url, 2, seed=1)
    with pytest.raises(AccordError, match="item NOPE is not in sample pool-1-2"):
        audit.record(db_url, sample_id, [("NOPE", "wrong", None)], "inspector")
    with pytest.raises(AccordError, match="verdict 'maybe' is not correct or wrong"):
        audit.record(db_url, sample_id, [("AD0000", "maybe", None)], "inspector")
    with pytest.raises(AccordError, match="no sample other"):
        audit.record(db_url, "other", [("AD0000", "wrong", None)], "inspector")
    with pytest.raises(AccordError, match="no sample other"):
        audit.estimate(db_url, "other")
    with pytest.raises(AccordError, match="name of who checked"):
        audit.record(db_url, sample_id, [("AD0000", "wrong", None)], " ")


def test_changing_a_verdict_is_logged_with_the_one_it_replaced(db_url: str) -> None:
    make_pool(db_url, {"admitted": 5})
    sample_id, _ = audit.sample(db_url, 1, seed=1)
    [item] = audit.items(db_url, sample_id)
    audit.record(db_url, sample_id, [(item.item_ref, "wrong", None)], "ann")
    assert audit.record(db_url, sample_id, [(item.item_ref, "wrong", None)], "ann") == 0
    audit.record(db_url, sample_id, [(item.item_ref, "correct", "misread")], "bob")
    with db.connect(db_url) as conn:
        stored = conn.execute(select(AuditSample.verdict, AuditSample.verdict_by)).one()
        log = (
            conn.execute(
                select(AuditLog.detail)
                .where(AuditLog.action == "audit_verdict_recorded")
                .order_by(AuditLog.id)
            )
            .scalars()
            .all()
        )
    assert tuple(stored) == ("correct", "bob")
    assert [(d["verdict"], d["previous"]) for d in log] == [("wrong", None), ("correct", "wrong")]


def test_audit_cli_sample_record_estimate(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pool(db_url, {"admitted": 169, "excluded": 31})
    items_csv = tmp_path / "items.csv"
    assert (
        main(
            [
                "audit",
                "sample",
                "--size",
                "20",
                "--seed",
                "4",
                "--out",
                str(items_csv),
                "--by",
                "inspector",
                "--database",
                db_url,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "sample pool-4-20: 20 item(s)" in printed and "admitted: 17 of 169" in printed
    refs = [line.split(",")[2] for line in items_csv.read_text().splitlines()[1:]]
    verdicts = tmp_path / "verdicts.csv"
    verdicts.write_text(
        "item_ref,verdict,note\n"
        + "".join(f"{r},{'wrong' if i < 2 else 'correct'},\n" for i, r in enumerate(refs))
    )
    assert (
        main(
            [
                "audit",
                "record",
                "pool-4-20",
                "--file",
                str(verdicts),
                "--by",
                "inspector",
                "--database",
                db_url,
            ]
        )
        == 0
    )
    assert "20 verdict(s) recorded" in capsys.readouterr().out
    assert main(["audit", "estimate", "pool-4-20", "--database", db_url]) == 0
    printed = capsys.readouterr().out
    assert "overall" in printed and "2 wrong of 20 checked" in printed
    # Every line carries its 95% interval, written from the estimate's own figures; a
    # stratum with no error found still shows how high its rate could be.
    e = audit.estimate(db_url, "pool-4-20")
    for s in [*e.strata, e.overall]:
        assert s.rate is not None and s.low is not None and s.high is not None
        line = next(x for x in printed.splitlines() if x.startswith(s.stratum))
        pct = [f"{100 * v:.1f}%" for v in (s.rate, s.low, s.high)]
        assert f"wrong: {pct[0]} (95% interval {pct[1]} to {pct[2]})" in line, line
        assert s.high > 0
    assert (
        main(
            [
                "audit",
                "record",
                "pool-4-20",
                refs[0],
                "--verdict",
                "correct",
                "--by",
                "x",
                "--database",
                db_url,
            ]
        )
        == 0
    )
    capsys.readouterr()


def test_audit_cli_refuses_bad_verdict_files(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pool(db_url, {"admitted": 5})
    audit.sample(db_url, 2, seed=1)
    bad = tmp_path / "v.csv"
    bad.write_text("item_ref,verdict\nAD0000,perhaps\n")
    assert main(["audit", "record", "pool-1-2", "--file", str(bad), "--database", db_url]) == 2
    assert capsys.readouterr().err == (
        f"accord: {bad}, row 1, column verdict: 'perhaps' is not correct or wrong\n"
    )
    bad.write_text("ref,verdict\nAD0000,wrong\n")
    assert main(["audit", "record", "pool-1-2", "--file", str(bad), "--database", db_url]) == 2
    assert "column item_ref: required column is missing" in capsys.readouterr().err
    assert main(["audit", "record", "pool-1-2", "AD0000", "--database", db_url]) == 2
    assert "--verdict" in capsys.readouterr().err


def test_audit_cli_refuses_an_unknown_population(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "audit",
                "sample",
                "--size",
                "2",
                "--seed",
                "1",
                "--of",
                "people",
                "--database",
                db_url,
            ]
        )
        == 2
    )
    assert "use pool or disclosures" in capsys.readouterr().err
