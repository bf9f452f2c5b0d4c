"""Recipient and register names are plain names (issue 23, medium 4).

A recipient's name becomes a file name (`batches/<recipient>.csv`) and a register's names
the recipient it is matched for.  An agreement with ``recipient: ../../escape/pwned``
wrote outside ``--out``, and a separator in it broke every later run after its commit;
both are now refused where they come in, in one line with exit 2, before anything is
stored or written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from test_policy_agreements import BASE

from accord.cli import main
from accord.policy.agreement import parse_agreement
from accord.store import db
from accord.store.models import AgreementVersion

BAD = ["../../escape/pwned", "a/b", "..", "DVLA", "dvla bank", "-dvla", "dvla\r\n", "x" * 64, ""]
GOOD = ["dvla", "hmrc", "bank-2", "b_1", "9", "x" * 63]


def _agreement(folder: Path, recipient: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agreement.yaml"
    path.write_text(yaml.safe_dump({**BASE, "recipient": recipient}), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", BAD)
def test_an_agreement_naming_a_recipient_that_is_not_a_plain_name_is_refused(
    name: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _agreement(tmp_path / "agreements", name)
    for args in (
        ["agreements", "check", str(folder)],
        ["agreements", "load", str(folder), "--database", db_url],
    ):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "column recipient" in err, err
    with db.connect(db_url) as conn:
        assert conn.scalar(select(func.count()).select_from(AgreementVersion)) == 0


@pytest.mark.parametrize("name", GOOD)
def test_plain_recipient_names_are_taken(name: str) -> None:
    assert parse_agreement({**BASE, "recipient": name}, "agreement.yaml").recipient == name


@pytest.mark.parametrize("name", [n for n in BAD if n])
def test_a_register_name_that_is_not_a_plain_name_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    args = ["run", "--cases", str(tmp_path / "cases.csv"), "--register",
            f"{name}={tmp_path / 'register.csv'}", "--agreements", str(tmp_path),
            "--out", str(out), "--database", url]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "--register" in err and "\n" not in err.replace("\r\n", ""), err
    assert not out.exists() and not (tmp_path / "accord.db").exists()
