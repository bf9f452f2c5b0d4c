# ruff: noqa: F811 -- pytest fixtures are imported from s3_local
"""`accord run` and `accord events` with inputs and outputs on S3 (a real local S3 server).

Inputs are read from private local copies; outputs are written whole to a local staging
folder and then uploaded, `summary.json` last; an upload that fails leaves the run
undelivered, so its disclosures go out with the next run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from s3_local import BUCKET, keys_under, s3, s3_server  # noqa: F401
from sqlalchemy import func, select

from accord import uri
from accord.cli import main
from accord.cycle import RunInputs, run_cycle
from accord.errors import AccordError
from accord.ledger import PUBLISH_HEADS_ENV
from accord.store import db
from accord.store.models import Disclosure, Run
from accord.synth import synthesise

AS_OF = dt.date(2026, 6, 30)
REGISTERS = ("dvla", "hmrc", "bank")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    synthesise(out, people=150, seed=11, as_of=AS_OF)
    return out


def _upload(client: Any, scenario: Path, prefix: str) -> None:
    for name in ("cases", *REGISTERS, "events"):
        client.upload_file(str(scenario / f"{name}.csv"), BUCKET, f"{prefix}/{name}.csv")


def _run(
    scenario: Path, url: str, key: Path, cases: str, registers: dict[str, str], out: str
) -> int:
    args = ["run", "--cases", cases]
    for name, where in registers.items():
        args += ["--register", f"{name}={where}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat()]
    return main([*args, "--database", url, "--key", str(key), "--out", out])


def _get(client: Any, key: str) -> bytes:
    return bytes(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _one_line(text: str) -> str:
    assert text.count("\n") == 1, text
    return text.strip()


def _runs(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    with db.connect(url) as conn:
        return [(r.run_id, r.status, r.inputs) for r in conn.execute(select(Run))]


# The two that run whole cycles run on SQLite alone: what they test (reading from and
# writing to S3) does not depend on the database, and each cycle takes seconds.
@pytest.mark.sqlite_only
def test_a_run_reads_from_and_writes_to_s3_and_publishes_its_heads_there(
    scenario: Path, db_url: str, tmp_path: Path, s3: Any, request: Any,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    prefix = f"run/{request.node.callspec.id}"
    _upload(s3, scenario, f"{prefix}/in")
    base = f"s3://{BUCKET}/{prefix}"
    heads = f"{base}/heads"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, heads)
    key = tmp_path / "ledger.key"
    assert main(["init", "--database", db_url, "--key", str(key)]) == 0
    registers = {n: f"{base}/in/{n}.csv" for n in REGISTERS}
    assert _run(scenario, db_url, key, f"{base}/in/cases.csv", registers, f"{base}/out") == 0
    assert f"outputs in {base}/out" in capsys.readouterr().out
    written = keys_under(s3, f"{prefix}/out")
    assert {"summary.json", "disclosures.csv", "review_queue.csv", "excluded.csv"} <= set(written)
    assert {f"batches/{n}.csv" for n in REGISTERS} <= set(written)
    summary = json.loads(_get(s3, f"{prefix}/out/summary.json"))
    disclosed = list(
        csv.DictReader(io.StringIO(_get(s3, f"{prefix}/out/disclosures.csv").decode()))
    )
    assert len(disclosed) == sum(a["disclosed"] for a in summary["agreements"].values()) > 0
    ((_, status, inputs),) = _runs(db_url)
    assert status == "completed"  # delivered: uploaded whole
    assert set(inputs) == {f"{base}/in/cases.csv", *registers.values()}  # the URIs, not copies
    # Every head the run signed is on S3 too, and verify checks the ledger against them.
    assert keys_under(s3, f"{prefix}/heads")[-1] == "latest"
    assert main(["verify", "--database", db_url, "--key", str(key), "--workers", "1"]) == 0
    assert "published heads" in capsys.readouterr().out
    # Events from S3, recalls.csv to S3.
    assert main([
        "events", f"{base}/in/events.csv", "--out", f"{base}/recalls", "--database", db_url,
        "--key", str(key), "--as-of", AS_OF.isoformat(),
    ]) == 0  # fmt: skip
    assert f"{base}/recalls/recalls.csv" in capsys.readouterr().out
    recalls = list(csv.DictReader(io.StringIO(_get(s3, f"{prefix}/recalls/recalls.csv").decode())))
    with db.connect(db_url) as conn:
        recalled = conn.scalar(
            select(func.count()).select_from(Disclosure).where(Disclosure.status == "recalled")
        )
    assert len(recalls) == recalled


def test_an_input_missing_on_s3_is_one_line_and_nothing_is_run(
    scenario: Path, db_url: str, tmp_path: Path, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    base = f"s3://{BUCKET}/nothing-here"
    registers = {n: str(scenario / f"{n}.csv") for n in REGISTERS}
    capsys.readouterr()
    assert (
        _run(scenario, db_url, tmp_path / "k", f"{base}/cases.csv", registers, str(tmp_path / "o"))
        == 2
    )
    assert _one_line(capsys.readouterr().err) == (
        f"accord: --cases {base}/cases.csv: no such object"
    )
    assert _runs(db_url) == []


def test_a_bad_row_in_an_s3_input_is_named_by_its_uri(
    scenario: Path, db_url: str, tmp_path: Path, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (scenario / "cases.csv").read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    row = text[1].split(",")
    row[header.index("date_of_birth")] = "1990-02-30"
    s3.put_object(Bucket=BUCKET, Key="bad/cases.csv", Body="\n".join([text[0], ",".join(row)]))
    registers = {n: str(scenario / f"{n}.csv") for n in REGISTERS}
    capsys.readouterr()
    where = f"s3://{BUCKET}/bad/cases.csv"
    assert _run(scenario, db_url, tmp_path / "k", where, registers, str(tmp_path / "o")) == 2
    err = _one_line(capsys.readouterr().err)
    assert where in err and "date_of_birth" in err and "accord-in-" not in err
    assert _runs(db_url) == []


def test_an_output_bucket_that_is_not_there_is_refused_before_anything_is_committed(
    scenario: Path, db_url: str, tmp_path: Path, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    registers = {n: str(scenario / f"{n}.csv") for n in REGISTERS}
    capsys.readouterr()
    out = "s3://no-such-bucket-here/out"
    assert _run(scenario, db_url, tmp_path / "k", str(scenario / "cases.csv"), registers, out) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"accord: --out {out}: cannot use bucket no-such-bucket-here: no such bucket"
    )
    assert _runs(db_url) == []


@pytest.mark.sqlite_only
def test_an_upload_that_fails_leaves_the_run_undelivered_for_the_next_run(
    scenario: Path, db_url: str, tmp_path: Path, s3: Any, request: Any
) -> None:
    """The upload fails for real (the bucket is gone by then): the run is recorded, its
    outputs are not marked delivered, and the next run uploads them."""
    staging = tmp_path / "staging"
    key = tmp_path / "ledger.key"
    assert main(["init", "--database", db_url, "--key", str(key)]) == 0
    registers = {n: scenario / f"{n}.csv" for n in REGISTERS}

    def inputs(out: Path, deliver: Any) -> RunInputs:
        return RunInputs(
            cases=scenario / "cases.csv", registers=registers,
            agreements=scenario / "agreements", as_of=AS_OF, out=out, key=key, deliver=deliver,
        )  # fmt: skip

    gone = "s3://bucket-removed-meanwhile/out"
    with pytest.raises(AccordError) as failed:
        run_cycle(db_url, inputs(staging, lambda names: uri.upload_folder(staging, gone, names)))
    message = str(failed.value)
    assert message.startswith(f"--out {gone}/batches/") and "NoSuchBucket" in message
    assert "(0 of 7 files uploaded, 7 not)" in message
    assert message.endswith("the run is recorded, and what it disclosed goes out with the next run")
    ((first, status, _),) = _runs(db_url)
    assert status == "disclosed"  # not delivered
    prefix = f"retry/{request.node.callspec.id}"
    target = f"s3://{BUCKET}/{prefix}"
    again = tmp_path / "again"
    run_cycle(db_url, inputs(again, lambda names: uri.upload_folder(again, target, names)))
    assert {status for _, status, _ in _runs(db_url)} == {"completed"}
    summary = json.loads(_get(s3, f"{prefix}/summary.json"))
    with db.connect(db_url) as conn:
        total = conn.scalar(select(func.count()).select_from(Disclosure))
    delivered = csv.DictReader(io.StringIO(_get(s3, f"{prefix}/disclosures.csv").decode()))
    assert len(list(delivered)) == total > 0  # the first run's disclosures went out too
    assert summary["run_id"] != first
