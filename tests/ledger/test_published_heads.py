# ruff: noqa: F811 -- pytest fixtures are imported from s3_local
"""Signed tree heads published outside the database (ACCORD_PUBLISH_HEADS), checked by
`accord verify --published` and co-signed by a witness (`accord ledger witness`).

S3 is a real S3-compatible server (moto's, on 127.0.0.1) that the tests start; HTTP is
the standard library's file server over a published folder.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from s3_local import BUCKET, keys_under, s3, s3_server  # noqa: F401
from sqlalchemy import delete
from test_ledger_cli import _disclose

from accord.cli import main
from accord.ledger import PUBLISH_HEADS_ENV, content, keys, log, publish, signing, unit
from accord.store import db
from accord.store.models import Disclosure, LedgerLeaf, LedgerNode, TreeHead


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "ledger.key"
    path.parent.mkdir()
    signing.load_or_create_key(path)
    return path


@pytest.fixture
def pub_key(key_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "ledger.pub"
    path.write_text(signing.public_key_pem(signing.load_private_key(key_file)))
    return path


def _one_line(text: str) -> str:
    assert text.count("\n") == 1, text
    return text.strip()


def _sign(url: str, key_file: Path) -> int:
    return main(["ledger", "head", "--sign", "--database", url, "--key", str(key_file)])


def _grow(url: str, key_file: Path, numbers: range) -> int:
    _disclose(url, numbers)
    return _sign(url, key_file)


def _verify(url: str, key_file: Path, *more: str) -> int:
    return main(["verify", "--database", url, "--key", str(key_file), "--workers", "1", *more])


def _remove_newest(url: str, keep: int) -> None:
    """What someone with the database does to hide the newest entries: leaves, rows and
    every head over them, consistently."""
    with db.connect(url) as conn:
        conn.execute(delete(Disclosure).where(Disclosure.ledger_index >= keep))
        conn.execute(delete(LedgerLeaf).where(LedgerLeaf.leaf_index >= keep))
        conn.execute(delete(TreeHead).where(TreeHead.tree_size > keep))


def _rewrite(url: str, key_file: Path, numbers: range) -> None:
    """Another history, re-signed by the key holder."""
    with db.connect(url) as conn:
        for table in (Disclosure, LedgerLeaf, LedgerNode, TreeHead):
            conn.execute(delete(table))
    _disclose(url, numbers)
    with keys.command(), db.connect(url) as conn:
        keys.use(key_file)
        log.sign_head(conn, signing.load_private_key(key_file))


# --- a folder -------------------------------------------------------------------------------


def test_every_signed_head_goes_to_the_folder_and_verify_checks_them(
    db_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = tmp_path / "published"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    assert _grow(db_url, key_file, range(12)) == 0
    # A step that records leaves has its transaction sign a head as it commits (the ledger's
    # unit of work, accord.ledger.unit): that head is published too.
    rows = [{"recall_id": f"R-{n}", "disclosure_id": f"D-{n}", "recipient": "dvla",
             "person_id": f"P-{n}", "reason": "withdrawn", "recalled_at": "2026-05-02"}
            for n in range(3)]  # fmt: skip
    with keys.command(), db.connect(db_url) as conn:
        keys.use(key_file)
        unit.record(conn, [("recall", r["recall_id"], json.dumps(r).encode()) for r in rows])
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "12.json", "15.json", "latest",
    ]  # fmt: skip
    assert (folder / "latest").read_bytes() == (folder / "15.json").read_bytes()
    records = publish.destination(str(folder)).records()
    assert [r.head.size for r in records] == [12, 15]
    assert records[0].previous_size is None
    assert records[1].previous_size == 12 and records[1].extends(records[0])
    with db.connect(db_url) as conn:
        assert [r.head for r in records] == log.heads(conn)


def test_removing_the_newest_leaves_and_their_heads_is_caught_against_the_folder(
    db_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = tmp_path / "published"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    assert _grow(db_url, key_file, range(12)) == 0
    assert _grow(db_url, key_file, range(12, 18)) == 0
    capsys.readouterr()
    assert _verify(db_url, key_file, "--published", str(folder)) == 0
    assert "extends all 2 published heads" in capsys.readouterr().out
    monkeypatch.delenv(PUBLISH_HEADS_ENV)
    _remove_newest(db_url, 12)
    assert _verify(db_url, key_file) == 0  # the database alone cannot tell
    capsys.readouterr()
    assert _verify(db_url, key_file, "--published", str(folder)) == 1
    stamp = json.loads((folder / "18.json").read_text())["signed_head"]["timestamp_ms"]
    assert _one_line(capsys.readouterr().err) == (
        f"accord: ledger check failed: published head at 18 leaves (timestamp {stamp}): the "
        "ledger now holds only 12 leaves, so 6 disclosed or recalled entries were removed"
    )


def test_a_published_head_is_never_overwritten_and_a_rewritten_ledger_publishes_nothing(
    db_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = tmp_path / "published"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    assert _grow(db_url, key_file, range(12)) == 0
    before = (folder / "12.json").read_bytes()
    monkeypatch.delenv(PUBLISH_HEADS_ENV)
    _rewrite(db_url, key_file, range(100, 112))  # same size, another root, re-signed
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    capsys.readouterr()
    assert _grow(db_url, key_file, range(112, 114)) == 1  # committed; publication refused
    err = _one_line(capsys.readouterr().err)
    assert err.startswith(f"accord: signed tree heads not published: {folder}: the newest ")
    assert "has another root than this database's ledger at that size" in err
    assert (folder / "12.json").read_bytes() == before
    assert not (folder / "14.json").exists()
    # A head at a size already published, with other content, is refused by the folder too.
    target = publish.destination(str(folder))
    with db.connect(db_url) as conn:
        other = log.head_at(conn, 12)
    assert other is not None
    with pytest.raises(publish.PublishRefused, match="a different head is already published"):
        target.append([publish.Record(other)])
    assert (folder / "12.json").read_bytes() == before
    assert _verify(db_url, key_file) == 1  # the configured destination is checked by default
    assert "the first 12 leaves no longer hash to its root" in capsys.readouterr().err


def test_a_publication_that_fails_leaves_heads_pending_until_published(
    db_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder's parent should be")
    folder = blocker / "published"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    capsys.readouterr()
    assert _grow(db_url, key_file, range(12)) == 1
    err = _one_line(capsys.readouterr().err)
    assert "signed tree heads not published" in err and "cannot create folder" in err
    with db.connect(db_url) as conn:
        assert log.latest_head(conn) is not None  # the head is in the database: pending
    blocker.unlink()
    assert _verify(db_url, key_file) == 1
    assert _one_line(capsys.readouterr().err) == (
        f"accord: ledger check failed: 1 signed tree head is not yet published to {folder} "
        "(at 12 leaves): `accord ledger publish` publishes them"
    )
    assert main(["ledger", "publish", "--database", db_url]) == 0
    assert f"published 1 signed tree head to {folder}" in capsys.readouterr().out
    assert _verify(db_url, key_file) == 0
    assert "extends all 1 published heads" in capsys.readouterr().out
    # Pending again, then published by the next command that signs, with its own head.
    aside = tmp_path / "aside"
    folder.rename(aside)
    folder.write_text("a file where the folder should be")
    assert _grow(db_url, key_file, range(12, 14)) == 1
    assert f"signed tree heads not published: {folder}" in _one_line(capsys.readouterr().err)
    folder.unlink()
    aside.rename(folder)
    assert _grow(db_url, key_file, range(14, 16)) == 0
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".json") == [
        "12.json", "14.json", "16.json",
    ]  # fmt: skip
    assert [r.previous_size for r in publish.destination(str(folder)).records()] == [None, 12, 14]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://example/heads", "heads are published to a local file or folder or s3://"),
        ("s3://", "not an S3 location"),
        ("http://127.0.0.1:9/heads/", "an HTTP URL is read only"),
    ],
)
def test_an_unusable_destination_setting_is_exit_2_and_signs_nothing(
    db_url: str, key_file: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _disclose(db_url, range(3))
    monkeypatch.setenv(PUBLISH_HEADS_ENV, value)
    capsys.readouterr()
    assert _sign(db_url, key_file) == 2
    err = _one_line(capsys.readouterr().err)
    assert message in err and (PUBLISH_HEADS_ENV in err or value in err)
    with db.connect(db_url) as conn:
        assert log.latest_head(conn) is None  # rolled back whole


# --- a JSON Lines file ----------------------------------------------------------------------


def test_heads_go_to_a_json_lines_file_and_each_line_is_appended(
    db_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    file = tmp_path / "heads.jsonl"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(file))
    assert _grow(db_url, key_file, range(5)) == 0
    first = file.read_bytes()
    assert _grow(db_url, key_file, range(5, 9)) == 0
    assert file.read_bytes().startswith(first)
    lines = file.read_text().splitlines()
    assert [json.loads(x)["signed_head"]["tree_size"] for x in lines] == [5, 9]
    assert _sign(db_url, key_file) == 0  # nothing new: nothing written
    assert len(file.read_text().splitlines()) == 2
    capsys.readouterr()
    assert _verify(db_url, key_file, "--published", str(file)) == 0
    assert "extends all 2 published heads" in capsys.readouterr().out


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain web server over tmp_path/www: what a department puts in front of the folder."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_verify_fetches_the_heads_a_web_server_serves(
    db_url: str, key_file: Path, served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    root, base = served
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(root / "heads"))
    assert _grow(db_url, key_file, range(7)) == 0
    assert _grow(db_url, key_file, range(7, 10)) == 0
    monkeypatch.delenv(PUBLISH_HEADS_ENV)
    capsys.readouterr()
    assert _verify(db_url, key_file, "--published", f"{base}/heads/") == 0
    assert "extends all 2 published heads" in capsys.readouterr().out
    _remove_newest(db_url, 7)
    assert _verify(db_url, key_file, "--published", f"{base}/heads/") == 1
    assert "published head at 10 leaves" in _one_line(capsys.readouterr().err)
    assert _verify(db_url, key_file, "--published", f"{base}/nothing/") == 2
    assert _one_line(capsys.readouterr().err) == (
        f"accord: {base}/nothing/: holds no signed tree head"
    )
    assert _verify(db_url, key_file, "--published", "http://127.0.0.1:9/heads/") == 2
    assert "http://127.0.0.1:9/heads/latest: cannot read" in _one_line(capsys.readouterr().err)


# --- S3 -------------------------------------------------------------------------------------


def test_heads_published_to_s3_catch_the_removal_of_the_newest_leaves(
    db_url: str, key_file: Path, s3: Any, monkeypatch: pytest.MonkeyPatch, request: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    prefix = f"ledger/{request.node.callspec.id}"
    where = f"s3://{BUCKET}/{prefix}"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, where)
    assert _grow(db_url, key_file, range(12)) == 0
    assert _grow(db_url, key_file, range(12, 18)) == 0
    assert keys_under(s3, prefix) == [
        "12.json", "18.json", "latest",
    ]  # fmt: skip
    capsys.readouterr()
    assert _verify(db_url, key_file) == 0  # the configured destination, by default
    assert "extends all 2 published heads" in capsys.readouterr().out
    monkeypatch.delenv(PUBLISH_HEADS_ENV)
    _remove_newest(db_url, 12)
    assert _verify(db_url, key_file, "--published", where) == 1
    assert "published head at 18 leaves" in _one_line(capsys.readouterr().err)
    # A conditional write keeps what is there: a second publisher cannot overwrite a head.
    with db.connect(db_url) as conn:
        twelve = log.head_at(conn, 12)
    assert twelve is not None
    assert not publish.destination(where).put_new("18.json", b"{}")  # type: ignore[attr-defined]


def test_an_s3_bucket_that_is_not_there_leaves_heads_pending(
    db_url: str, key_file: Path, s3: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv(PUBLISH_HEADS_ENV, "s3://no-such-bucket-here/heads")
    capsys.readouterr()
    assert _grow(db_url, key_file, range(3)) == 1
    err = _one_line(capsys.readouterr().err)
    assert "s3://no-such-bucket-here/heads/latest: cannot read: NoSuchBucket" in err


# --- the witness ----------------------------------------------------------------------------


def _witness(heads: str, tmp_path: Path, pub_key: Path, *more: str) -> int:
    return main([
        "ledger", "witness", heads, "--key", str(tmp_path / "witness.key"),
        "--log-key", str(pub_key), "--state", str(tmp_path / "witness-state.json"),
        "--name", "auditor.example/w1", *more,
    ])  # fmt: skip


def test_a_witness_co_signs_consistent_growth_and_verify_checks_its_signature(
    db_url: str, key_file: Path, pub_key: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = tmp_path / "published"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    assert _grow(db_url, key_file, range(12)) == 0
    capsys.readouterr()
    assert _witness(str(folder), tmp_path, pub_key) == 0
    said = capsys.readouterr().out
    assert "co-signed the head at 12 leaves" in said and "its first" in said
    assert _grow(db_url, key_file, range(12, 18)) == 0
    assert _grow(db_url, key_file, range(18, 20)) == 0
    assert _witness(str(folder), tmp_path, pub_key) == 0
    assert "co-signed the head at 20 leaves" in capsys.readouterr().out
    assert "consistent with the 12 leaves it co-signed before"
    assert _witness(str(folder), tmp_path, pub_key) == 0
    assert "nothing new since the head at 20 leaves" in capsys.readouterr().out
    state = json.loads((tmp_path / "witness-state.json").read_text())
    assert state["tree_size"] == 20
    witness_pub = tmp_path / "witness.pub"
    witness_pub.write_text(signing.public_key_pem(signing.load_key(tmp_path / "witness.key")))
    assert _verify(db_url, key_file, "--witness-key", str(witness_pub)) == 0
    assert "co-signed at 20 leaves by auditor.example/w1 (checked)" in capsys.readouterr().out
    # Another witness's key finds no co-signature of its own: that fails.
    assert _verify(db_url, key_file, "--witness-key", str(pub_key)) == 1
    assert "no co-signature by witness key" in _one_line(capsys.readouterr().err)
    # A co-signature altered after the fact does not verify.
    witness_id = signing.key_id(signing.load_key(witness_pub))
    latest = folder / "cosignatures" / witness_id / "latest"
    doc = json.loads(latest.read_text())
    doc["timestamp"] += 1
    latest.write_text(json.dumps(doc))
    assert _verify(db_url, key_file, "--witness-key", str(witness_pub)) == 1
    assert "does not verify under its key" in _one_line(capsys.readouterr().err)


def test_a_witness_refuses_a_rewritten_history_and_keeps_its_state(
    db_url: str, key_file: Path, pub_key: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = tmp_path / "published"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    assert _grow(db_url, key_file, range(12)) == 0
    assert _witness(str(folder), tmp_path, pub_key) == 0
    state = (tmp_path / "witness-state.json").read_bytes()
    # The key holder rewrites the ledger and re-signs it, and replaces what is served with
    # heads published from the rewritten one: each verifies, and the chain is consistent.
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(tmp_path / "forged"))
    _rewrite(db_url, key_file, range(100, 112))
    assert _grow(db_url, key_file, range(112, 118)) == 0
    shutil.rmtree(folder)
    shutil.copytree(tmp_path / "forged", folder)
    capsys.readouterr()
    assert _witness(str(folder), tmp_path, pub_key) == 1
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("accord: witness auditor.example/w1 refused: published head at 12 ")
    assert "but this witness co-signed 12 leaves" in err and "history was rewritten" in err
    assert (tmp_path / "witness-state.json").read_bytes() == state
    # A link whose consistency proof does not hold is a fork too.
    record = json.loads((folder / "18.json").read_text())
    record["consistency"] = ["00" * 32]
    (folder / "18.json").write_text(json.dumps(record))
    (folder / "latest").write_text(json.dumps(record))
    (tmp_path / "witness-state.json").unlink()
    assert _witness(str(folder), tmp_path, pub_key) == 1
    assert "no valid consistency proof from the head at 12 leaves" in capsys.readouterr().err


def test_a_witness_refuses_heads_written_by_hand_without_proofs(
    db_url: str, key_file: Path, pub_key: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    heads = tmp_path / "by-hand.jsonl"
    for numbers in (range(3), range(3, 5)):
        assert _grow(db_url, key_file, numbers) == 0
        capsys.readouterr()
        assert main(["ledger", "head", "--database", db_url]) == 0
        with heads.open("a") as fh:
            fh.write(json.dumps(json.loads(capsys.readouterr().out)) + "\n")
    assert _witness(str(heads), tmp_path, pub_key) == 1
    assert "at 5 leaves carries no consistency proof from the head at 3 leaves" in _one_line(
        capsys.readouterr().err
    )


def test_a_witness_refuses_heads_not_signed_by_the_ledger_key(
    db_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = tmp_path / "published"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    assert _grow(db_url, key_file, range(4)) == 0
    stranger = tmp_path / "stranger.key"
    signing.load_or_create_key(stranger)
    capsys.readouterr()
    assert _witness(str(folder), tmp_path, stranger) == 1
    assert "not signed by the ledger key" in _one_line(capsys.readouterr().err)


# --- the key from the environment -----------------------------------------------------------


def test_the_ledger_key_can_come_from_an_environment_variable_holding_the_pem(
    db_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    pem = key_file.read_text()
    monkeypatch.delenv(keys.ENV)  # the suite's default key file
    monkeypatch.setenv(keys.ENV_PEM, pem)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no accord-ledger.key here
    capsys.readouterr()
    assert main(["init", "--database", db_url]) == 0
    assert "ledger signing key: from ACCORD_LEDGER_KEY_PEM" in capsys.readouterr().out
    assert list(work.iterdir()) == []  # no key file made
    _disclose(db_url, range(3))
    assert main(["ledger", "head", "--sign", "--database", db_url]) == 0
    with db.connect(db_url) as conn:
        head = log.latest_head(conn)
        assert keys.kept(conn) is None  # nothing names a file
    assert head is not None and head.key_id == signing.key_id(signing.load_key(key_file))
    assert main(["verify", "--database", db_url]) == 0
    # Escaped newlines, as some secret stores inject a value, are read too.
    monkeypatch.setenv(keys.ENV_PEM, pem.replace("\n", "\\n"))
    assert main(["verify", "--database", db_url]) == 0
    monkeypatch.setenv(keys.ENV, str(key_file))
    capsys.readouterr()
    assert main(["verify", "--database", db_url]) == 2
    assert _one_line(capsys.readouterr().err) == (
        "accord: ACCORD_LEDGER_KEY and ACCORD_LEDGER_KEY_PEM are both set: set "
        "ACCORD_LEDGER_KEY (a key file) or ACCORD_LEDGER_KEY_PEM (the key itself, PEM), not both"
    )
    monkeypatch.delenv(keys.ENV)
    public = signing.load_public_key(key_file).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    monkeypatch.setenv(keys.ENV_PEM, public.decode())  # a public key cannot sign
    _disclose(db_url, range(3, 5))
    assert main(["ledger", "head", "--sign", "--database", db_url]) == 2
    assert _one_line(capsys.readouterr().err) == (
        "accord: ledger key $ACCORD_LEDGER_KEY_PEM is not an unencrypted Ed25519 private key "
        "in PEM form"
    )


def test_leaves_recorded_without_a_signed_head_are_never_published(
    db_url: str, key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that rolls back publishes nothing (the head is signed before commit,
    published after it)."""
    folder = tmp_path / "published"
    monkeypatch.setenv(PUBLISH_HEADS_ENV, str(folder))
    with keys.command(), pytest.raises(RuntimeError), db.connect(db_url) as conn:
        keys.use(key_file)
        with unit.work(conn):
            unit.record(conn, [("disclosure", "D-1", content.canonical({"a": 1}))])
        assert log.head_at(conn, 1) is not None  # signed as the unit of work ended
        raise RuntimeError("the step failed after signing")
    assert not folder.exists() or not any(folder.glob("*.json"))
