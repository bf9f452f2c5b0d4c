# ruff: noqa: F811 -- pytest fixtures are imported from s3_local
"""Registers given as ``s3://bucket/key`` to `accord run` and `accord validate`, against a
real local S3-compatible server (moto's, `tests/s3_local.py`); and each register's SHA-256
taken from the one read that checks it (issue 21).

An object is copied to a private folder under ACCORD_SCRATCH_DIR in blocks, never whole
in memory, and removed afterwards.  A URI that names nothing readable (no such object or
bucket, access denied, not an S3 object) is one line naming it, exit 2, with nothing
written: no run in the database, no output, nothing left in the scratch folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from s3_local import BUCKET, s3, s3_server  # noqa: F401
from sqlalchemy import select

from accord.cli import main
from accord.errors import InputError
from accord.formats.reader import _Digest
from accord.store import db
from accord.store.models import Run
from accord.synth import synthesise

AS_OF = dt.date(2026, 6, 30)
REGISTERS = ("dvla", "hmrc", "bank")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    synthesise(out, people=150, seed=11, as_of=AS_OF)
    return out


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ACCORD_SCRATCH_DIR, the test's own."""
    folder = tmp_path / "scratch"
    folder.mkdir(exist_ok=True)
    monkeypatch.setenv("ACCORD_SCRATCH_DIR", str(folder))
    return folder


def _copies_left(scratch: Path) -> list[str]:
    """Copies of inputs and workspaces still in the scratch folder (linkage's own spill
    folders go with its connection, and kept candidates are meant to stay)."""
    made = ("accord-in-", "accord-workspace-")
    return sorted(p.name for p in scratch.iterdir() if p.name.startswith(made))


def _run(scenario: Path, url: str, registers: dict[str, str], out: Path) -> int:
    """`accord run`, signing with the test's ledger key (ACCORD_LEDGER_KEY, conftest)."""
    args = ["run", "--cases", str(scenario / "cases.csv")]
    for name, where in registers.items():
        args += ["--register", f"{name}={where}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat()]
    return main([*args, "--database", url, "--out", str(out)])


def _runs(url: str) -> list[tuple[str, dict[str, str]]]:
    if not db.exists(url) or db.current_revision(url) is None:
        return []
    with db.connect(url) as conn:
        return [(r.status, r.inputs) for r in conn.execute(select(Run))]


def _one_line(text: str) -> str:
    assert text.count("\n") == 1, text
    return text.strip()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_reads_its_registers_from_s3_and_records_each_by_uri_with_its_hash(
    scenario: Path, db_url: str, tmp_path: Path, s3: Any, scratch: Path
) -> None:
    uris = {}
    for name in REGISTERS:
        s3.upload_file(str(scenario / f"{name}.csv"), BUCKET, f"registers/{name}.csv")
        uris[name] = f"s3://{BUCKET}/registers/{name}.csv"
    assert _run(scenario, db_url, uris, tmp_path / "out") == 0
    [(_, inputs)] = _runs(db_url)
    # The hash each register's one read gave is the SHA-256 of the object's bytes.
    assert inputs == {
        str(scenario / "cases.csv"): _sha256(scenario / "cases.csv"),
        **{uris[n]: _sha256(scenario / f"{n}.csv") for n in REGISTERS},
    }
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sum(a["disclosed"] for a in summary["agreements"].values()) > 0
    assert _copies_left(scratch) == []  # the copies and the workspace are gone


def test_a_run_from_local_registers_records_the_same_hashes(
    scenario: Path, db_url: str, tmp_path: Path
) -> None:
    registers = {n: str(scenario / f"{n}.csv") for n in REGISTERS}
    assert _run(scenario, db_url, registers, tmp_path / "out") == 0
    [(_, inputs)] = _runs(db_url)
    assert inputs == {
        str(p): _sha256(p) for p in [scenario / "cases.csv", *map(Path, registers.values())]
    }


def test_accord_validate_reads_an_s3_register_and_names_it_by_its_uri(
    scenario: Path, s3: Any, scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.upload_file(str(scenario / "bank.csv"), BUCKET, "check/bank.csv")
    rows = len((scenario / "bank.csv").read_text(encoding="utf-8").splitlines()) - 1
    capsys.readouterr()
    assert main(["validate", "register", f"s3://{BUCKET}/check/bank.csv"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"s3://{BUCKET}/check/bank.csv: {rows:,} rows, valid register file"
    )
    lines = (scenario / "bank.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("date_of_birth")] = "1990-02-30"
    s3.put_object(Bucket=BUCKET, Key="check/bad.csv", Body="\n".join([lines[0], ",".join(row)]))
    assert main(["validate", "register", f"s3://{BUCKET}/check/bad.csv"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"s3://{BUCKET}/check/bad.csv, row 1, column date_of_birth: "
        "'1990-02-30' is not a date in YYYY-MM-DD form",
        f"s3://{BUCKET}/check/bad.csv: not a valid register file: 1 problem(s)",
    ]
    assert _copies_left(scratch) == []


@contextlib.contextmanager
def _may_list_but_not_read(server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The S3 server enforcing permissions (moto's IAM, switched on through its own API),
    and the credentials of a user who may list the bucket but not read an object."""
    iam = boto3.client("iam", endpoint_url=server)
    name = "accord-no-get"
    if name not in {u["UserName"] for u in iam.list_users()["Users"]}:
        iam.create_user(UserName=name)
        policy = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}
        iam.put_user_policy(
            UserName=name,
            PolicyName="list-only",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [policy]}),
        )
    key = iam.create_access_key(UserName=name)["AccessKey"]

    def enforce(count: str) -> None:
        request = urllib.request.Request(
            f"{server}/moto-api/reset-auth",
            data=count.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    with monkeypatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        patch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        patch.setattr(boto3, "DEFAULT_SESSION", None)  # it keeps the credentials it found
        enforce("0")
        try:
            yield
        finally:
            enforce("inf")


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (f"s3://{BUCKET}/registers/absent.csv", "no such object"),
        ("s3://accord-no-such-bucket/bank.csv", "no such bucket accord-no-such-bucket"),
        (f"s3://{BUCKET}/registers/", "names no object: give s3://bucket/key"),
        (f"s3://{BUCKET}", "names no object: give s3://bucket/key"),
        ("s3:///bank.csv", "not an S3 location (s3://bucket/key)"),
        (f"s3://{BUCKET}/bank.csv?versionId=1", "an S3 location has no ? or # part"),
    ],
)
def test_a_register_uri_that_names_nothing_readable_is_one_line_and_nothing_is_written(
    scenario: Path,
    db_url: str,
    tmp_path: Path,
    s3: Any,
    scratch: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
    problem: str,
) -> None:
    registers = {n: str(scenario / f"{n}.csv") for n in REGISTERS} | {"bank": where}
    out = tmp_path / "out"
    capsys.readouterr()
    assert _run(scenario, db_url, registers, out) == 2
    assert _one_line(capsys.readouterr().err) == f"accord: --register bank {where}: {problem}"
    assert _runs(db_url) == []
    assert not out.exists() or list(out.iterdir()) == []
    assert _copies_left(scratch) == []
    # accord validate says the same of it, naming the URI alone.
    assert main(["validate", "register", where]) == 2
    assert _one_line(capsys.readouterr().err) == f"accord: {where}: {problem}"


def test_a_register_the_credentials_may_not_read_is_one_line_and_nothing_is_written(
    scenario: Path,
    db_url: str,
    tmp_path: Path,
    s3: Any,
    s3_server: str,
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3.upload_file(str(scenario / "bank.csv"), BUCKET, "private/bank.csv")
    where = f"s3://{BUCKET}/private/bank.csv"
    registers = {n: str(scenario / f"{n}.csv") for n in REGISTERS} | {"bank": where}
    out = tmp_path / "out"
    with _may_list_but_not_read(s3_server, monkeypatch):
        capsys.readouterr()
        assert _run(scenario, db_url, registers, out) == 2
        run_err = _one_line(capsys.readouterr().err)
        assert main(["validate", "register", where]) == 2
        validate_err = _one_line(capsys.readouterr().err)
    denied = "access denied (AccessDenied: Access Denied)"
    assert run_err == f"accord: --register bank {where}: {denied}"
    assert validate_err == f"accord: {where}: {denied}"
    assert _runs(db_url) == []
    assert not out.exists() or list(out.iterdir()) == []
    assert _copies_left(scratch) == []


COPY_CHILD = """
import hashlib, json, resource, sys
import boto3
from accord import uri
def vm_size():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
boto3.client("s3")  # botocore's service data loaded before the cap, as it is on any call
cap = vm_size() + int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
with uri.fetched(sys.argv[1], "--register bank") as local:
    digest = hashlib.sha256()
    with local.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    print(json.dumps({"sha256": digest.hexdigest(), "size": local.stat().st_size}))
"""
OBJECT_SIZE = 96 << 20
COPY_HEADROOM = 48 << 20  # address space the copying child may add: half the object


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_an_s3_register_is_copied_in_blocks_not_held_whole_in_memory(
    tmp_path: Path, s3: Any, scratch: Path
) -> None:
    body = tmp_path / "big.csv"
    body.write_bytes(os.urandom(OBJECT_SIZE))
    s3.upload_file(str(body), BUCKET, "big/bank.csv")
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    where = f"s3://{BUCKET}/big/bank.csv"
    done = subprocess.run(
        [sys.executable, "-c", COPY_CHILD, where, str(COPY_HEADROOM)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"sha256": _sha256(body), "size": OBJECT_SIZE}
    assert _copies_left(scratch) == []


def test_a_register_that_changes_while_it_is_hashed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text("record_id,family_name\nR1,Smith\n", encoding="utf-8")
    hashing = _Digest(path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("R2,Jones\n")
    with pytest.raises(InputError, match="changed while it was being read"):
        hashing.hexdigest()
    assert _Digest(path).hexdigest() == _sha256(path)
