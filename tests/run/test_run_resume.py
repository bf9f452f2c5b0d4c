"""Linkage as its own resumable step of `accord run` (accord.linkage.candidates).

A run keeps each register's candidates on disk, keyed by the register's hash, the
model and the pool: a run that failed after linkage is resumed from them, a second run
with the same keys does no linking, and a changed register or model is linked again.
Whatever was reused, the run decides and stores exactly what a run that linked would.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accord.cli import main
from accord.cycle import RunInputs, run_cycle
from accord.errors import AccordError
from accord.store import db
from accord.store.models import Disclosure, Match, ReviewItem, Run
from accord.synth import synthesise

AS_OF = dt.date(2026, 6, 30)
REGISTERS = ("bank", "dvla", "hmrc")  # the order a run links them in
REUSED = "not linked again"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("resume")
    synthesise(out, people=300, seed=11, as_of=AS_OF)
    return out


def run(
    url: str, scenario: Path, key: Path, out: Path, **registers: Path
) -> tuple[dict[str, Any], list[str]]:
    """One `accord run`; returns its summary and everything it said."""
    said: list[str] = []
    given = {n: registers.get(n, scenario / f"{n}.csv") for n in REGISTERS}
    inputs = RunInputs(
        cases=scenario / "cases.csv", registers=given, agreements=scenario / "agreements",
        as_of=AS_OF, out=out, key=key,
    )  # fmt: skip
    return run_cycle(url, inputs, said.append, said.append), said


def reused(said: list[str]) -> list[str]:
    return sorted(m.split(":")[0] for m in said if REUSED in m)


def kept(scratch: Path) -> dict[Path, int]:
    """Each kept candidates file with its modification time (ns)."""
    return {p: p.stat().st_mtime_ns for p in scratch.glob("accord-candidates/*/*.parquet")}


def changed_register(source: Path, target: Path, bad_date: bool = False) -> Path:
    """The register with one more record (a copy of its last, under a new id), or with
    its fifth record's date of birth one that is no date."""
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if bad_date:
        rows[4]["date_of_birth"] = "1984-02-30"
    else:
        rows.append({**rows[-1], "record_id": rows[-1]["record_id"] + "X"})
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def stored(url: str, run_id: str | None = None) -> dict[str, Any]:
    """What a run decided and stored, without run ids, timestamps, and ids keyed by the
    database's own id key (accord.ids)."""
    with db.connect(url) as conn:
        matches = conn.execute(
            select(
                Match.register, Match.person_id, Match.record_id, Match.match_probability,
                Match.match_weight, Match.rank, Match.flags, Match.record, Match.explanation,
                Match.evidence,
            ).where(*([Match.run_id == run_id] if run_id else []))
        ).all()  # fmt: skip
        disclosures = conn.execute(
            select(
                Disclosure.agreement_id, Disclosure.person_id,
                Disclosure.record_id, Disclosure.match_probability, Disclosure.decided_by,
                Disclosure.fields, Disclosure.status,
            )
        ).all()  # fmt: skip
        items = conn.execute(
            select(
                ReviewItem.kind,
                ReviewItem.person_id,
                ReviewItem.record_id,
                ReviewItem.reason,
                ReviewItem.status,
            )
        ).all()
    return {
        "matches": sorted(tuple(map(repr, r)) for r in matches),
        "disclosures": sorted(tuple(map(repr, r)) for r in disclosures),
        "review_items": sorted(tuple(map(repr, r)) for r in items),
    }


def test_a_run_that_failed_after_linkage_resumes_from_its_candidates(
    scenario: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "ledger.pem"
    assert main(["init", "--database", db_url, "--key", str(key)]) == 0
    scratch = tmp_path / "accord-scratch"  # the test's ACCORD_SCRATCH_DIR (conftest)
    # hmrc, linked last, holds a date that is no date: the run stops there, after bank
    # and dvla were linked, and its transaction is rolled back.
    broken = changed_register(scenario / "hmrc.csv", tmp_path / "hmrc.csv", bad_date=True)
    with pytest.raises(AccordError, match="1984-02-30"):
        run(db_url, scenario, key, tmp_path / "out", hmrc=broken)
    with db.connect(db_url) as conn:
        assert conn.execute(select(Run.run_id)).all() == []
        assert conn.execute(select(Match.id)).all() == []
    left = kept(scratch)
    assert len(left) == 2  # bank's and dvla's candidates outlive the transaction

    summary, said = run(db_url, scenario, key, tmp_path / "out")
    assert reused(said) == ["bank", "dvla"]
    assert {p: kept(scratch)[p] for p in left} == left  # read, not written again
    assert len(kept(scratch)) == 3

    # The same decisions and rows as a run that linked everything, in a database of its own.
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    other_key = tmp_path / "reference.pem"
    assert main(["init", "--database", reference, "--key", str(other_key)]) == 0
    fresh = tmp_path / "fresh-scratch"
    fresh.mkdir()
    monkeypatch.setenv("ACCORD_SCRATCH_DIR", str(fresh))
    expected, linked = run(reference, scenario, other_key, tmp_path / "reference-out")
    assert reused(linked) == []
    assert summary["agreements"] == expected["agreements"]
    assert summary["pool"] == expected["pool"]
    want, got = stored(reference), stored(db_url)
    assert got == want and len(got["matches"]) > 0 and len(got["disclosures"]) > 0


def test_a_second_run_with_the_same_keys_does_no_linking_and_a_changed_key_links_again(
    scenario: Path, db_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "ledger.pem"
    assert main(["init", "--database", db_url, "--key", str(key)]) == 0
    scratch = tmp_path / "accord-scratch"
    first, said = run(db_url, scenario, key, tmp_path / "out1")
    assert reused(said) == []
    files = kept(scratch)
    assert len(files) == 3

    second, said = run(db_url, scenario, key, tmp_path / "out2")
    assert reused(said) == list(REGISTERS)
    assert kept(scratch) == files
    assert stored(db_url, second["run_id"])["matches"] == stored(db_url, first["run_id"])["matches"]
    with db.connect(db_url) as conn:
        ids = {
            run_id: sorted(conn.scalars(select(Match.id).where(Match.run_id == run_id)))
            for run_id in (first["run_id"], second["run_id"])
        }
    # Ids in order, the second run's straight after the first's.
    assert ids[first["run_id"]] == list(range(ids[first["run_id"]][0], ids[second["run_id"]][0]))
    assert ids[second["run_id"]] == list(
        range(ids[second["run_id"]][0], ids[second["run_id"]][0] + len(ids[first["run_id"]]))
    )

    # A register with one more record, and another model made current for dvla: those
    # two are linked again; hmrc's keys are the same, and its candidates are reused.
    bank = changed_register(scenario / "bank.csv", tmp_path / "bank.csv")
    assert main(["link", "train", f"dvla={scenario / 'dvla.csv'}", "--database", db_url,
                 "--seed", "5"]) == 0  # fmt: skip
    _, said = run(db_url, scenario, key, tmp_path / "out3", bank=bank)
    assert reused(said) == ["hmrc"]
    now = kept(scratch)
    assert len(now) == 3  # one file per register: the older ones are removed
    assert sum(1 for p in now if files.get(p) == now[p]) == 1  # hmrc's, untouched
