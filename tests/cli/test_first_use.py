"""A newcomer's first commands: a run on a new database, where the key is found, what a
read-only command leaves behind, and the words they read (issue 18, keys and first use)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from accord.cli import app, main
from accord.cli.serve import check_signing_key
from accord.errors import LedgerKeyUnavailable
from accord.ledger import log, signing
from accord.store import db
from accord.store.models import ReviewItem
from accord.synth import synthesise

AS_OF = dt.date(2026, 6, 30)


def _one_line(text: str) -> str:
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text.strip()


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, and no ACCORD_* settings in the environment."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("ACCORD_LEDGER_KEY", "ACCORD_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return folder


def test_a_run_on_a_new_database_needs_nothing_but_the_spec_command_line(
    tmp_path: Path,
    nowhere: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = tmp_path / "scenario"
    synthesise(scenario, people=400, seed=11, as_of=AS_OF)
    url = f"sqlite:///{tmp_path / 'new' / 'accord.db'}"
    (tmp_path / "new").mkdir()
    args = ["run", "--cases", str(scenario / "cases.csv")]
    for name in ("dvla", "hmrc", "bank"):
        args += ["--register", f"{name}={scenario / (name + '.csv')}"]
    args += ["--agreements", str(scenario / "agreements"), "--as-of", AS_OF.isoformat()]
    assert main([*args, "--database", url, "--out", str(tmp_path / "out")]) == 0
    said = _one_line(capsys.readouterr().err)
    assert "held no Accord database: schema created" in said
    assert "as `accord init` would" in said and str(nowhere / "accord-ledger.key") in said
    assert (nowhere / "accord-ledger.key").is_file()
    # From any other folder, the database finds its key: it was kept with it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["verify", "--database", url]) == 0
    assert main(["ledger", "key", "--database", url]) == 0
    printed = capsys.readouterr().out
    key = signing.load_private_key(nowhere / "accord-ledger.key")
    assert signing.public_key_pem(key) in printed


def test_init_keeps_the_key_path_with_the_database(
    empty_db_url: str,
    tmp_path: Path,
    nowhere: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = tmp_path / "keys" / "ledger.key"
    key.parent.mkdir()
    assert main(["init", "--database", empty_db_url, "--key", str(key)]) == 0
    assert "kept with the database" in capsys.readouterr().out
    assert main(["ledger", "key", "--database", empty_db_url]) == 0
    printed = capsys.readouterr().out
    assert printed == signing.public_key_pem(signing.load_private_key(key))
    # The environment still wins over what the database keeps, and --key over both.
    other = tmp_path / "other.key"
    signing.load_or_create_key(other)
    theirs = signing.public_key_pem(signing.load_private_key(other))
    assert main(["ledger", "key", "--database", empty_db_url, "--key", str(other)]) == 0
    assert capsys.readouterr().out == theirs
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(other))
    assert main(["ledger", "key", "--database", empty_db_url]) == 0
    assert capsys.readouterr().out == theirs


def test_a_read_only_command_never_creates_a_database(
    nowhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        ["review", "list"],
        ["remedies"],
        ["exemption", "list", "P-1"],
        ["ledger", "head"],
        ["subject-access", "P-1"],
        ["review", "list", "--database", f"sqlite:///{tmp_path / 'absent.db'}"],
    ):
        assert main(args) == 2, args
        said = _one_line(capsys.readouterr().err)
        assert "no Accord database at" in said and "run `accord init` or `accord run`" in said
    assert list(nowhere.iterdir()) == [] and not (tmp_path / "absent.db").exists()


def test_review_list_says_how_many_it_shows_of_how_many(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.connect(db_url) as conn:
        for i in range(24):
            conn.execute(
                insert(ReviewItem).values(
                    item_id=f"RV-{i:02d}", kind="manual_check", person_id=f"P-{i}",
                    reason="protected cohort", detail={}, status="open", approvals_needed=2,
                )
            )  # fmt: skip
    assert main(["review", "list", "--limit", "5", "--database", db_url]) == 0
    assert "showing 5 of 24 open review items" in capsys.readouterr().out
    assert main(["review", "list", "--database", db_url]) == 0
    printed = capsys.readouterr().out
    assert "24 open review items" in printed and "showing" not in printed


def test_every_command_that_signs_takes_key_and_demo_help_says_where_its_database_is() -> None:
    runner = CliRunner()
    for command in (
        ["serve"], ["subject-access"], ["review", "decide"], ["events"], ["cleanse"],
        ["admit"], ["scores", "recall-expired"], ["run"], ["init"], ["ledger", "head"],
        ["ledger", "proof"], ["ledger", "key"], ["verify"],
    ):  # fmt: skip
        shown = runner.invoke(app, [*command, "--help"], terminal_width=200)
        assert shown.exit_code == 0 and "--key" in shown.output, command
    demo = runner.invoke(app, ["demo", "--help"], terminal_width=200).output
    assert "accord.db inside --out" in " ".join(demo.split())


def test_serve_refuses_to_start_unless_it_can_sign(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.key"
    assert main(["serve", "--database", db_url, "--key", str(missing)]) == 2
    assert f"no ledger key at {missing}" in _one_line(capsys.readouterr().err)
    public = tmp_path / "public.pem"
    good = tmp_path / "good.key"
    public.write_text(signing.public_key_pem(signing.load_or_create_key(good)), encoding="utf-8")
    assert main(["serve", "--database", db_url, "--key", str(public)]) == 2
    assert "not an unencrypted Ed25519 private key" in _one_line(capsys.readouterr().err)
    # A key that did not sign this ledger's heads would make heads no one can check.
    with db.connect(db_url) as conn:
        log.sign_head(conn, signing.load_private_key(good))
    other = tmp_path / "other.key"
    signing.load_or_create_key(other)
    assert main(["serve", "--database", db_url, "--key", str(other)]) == 2
    assert "is not the key this database's ledger is signed with" in _one_line(
        capsys.readouterr().err
    )
    assert check_signing_key(db_url, good) == good.resolve()
    with pytest.raises(LedgerKeyUnavailable):
        check_signing_key(db_url, other)
