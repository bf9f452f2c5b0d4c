"""`accord init` (the key), `accord ledger ...` and `accord verify` as a user runs them."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, update

from accord.cli import main
from accord.ledger import content, log, merkle, signing
from accord.store import db
from accord.store.models import Disclosure, LedgerLeaf, LedgerNode, TreeHead

AT = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)
D_COLS = (
    "disclosure_id", "run_id", "agreement_id", "agreement_version", "recipient", "record_id",
    "person_id", "match_probability", "decided_by", "fields", "disclosed_at", "ledger_index",
    "status",
)  # fmt: skip


def _disclose(url: str, numbers: range) -> None:
    rows: list[dict[str, Any]] = [
        {
            "disclosure_id": f"D-{n}", "run_id": "run-1", "agreement_id": "home-office-to-dvla",
            "agreement_version": 1, "recipient": "dvla", "record_id": f"REC-{n}",
            "person_id": f"P-{n}", "match_probability": 0.9995, "decided_by": "rule:automatic",
            "fields": {"family_name": f"Nguyễn {n}"}, "disclosed_at": AT, "status": "active",
        }
        for n in numbers
    ]  # fmt: skip
    with db.connect(url) as conn:
        indexes = log.append(
            conn, [("disclosure", r["disclosure_id"], content.disclosure_leaf(r)) for r in rows]
        )
        for r, i in zip(rows, indexes, strict=True):
            r["ledger_index"] = i
        table = Disclosure.__table__
        db.bulk_insert(conn, table, D_COLS, [tuple(r[c] for c in D_COLS) for r in rows])  # type: ignore[arg-type]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "ledger.key"
    path.parent.mkdir()
    signing.load_or_create_key(path)
    return path


@pytest.fixture
def signed(db_url: str, key_file: Path) -> str:
    """12 disclosures under a signed head at 12."""
    _disclose(db_url, range(12))
    assert main(["ledger", "head", "--sign", "--database", db_url, "--key", str(key_file)]) == 0
    return db_url


def _one_line(text: str) -> str:
    assert text.count("\n") == 1, text
    return text.strip()


def test_init_creates_a_private_key_once(
    empty_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "ledger.key"
    assert main(["init", "--database", empty_db_url, "--key", str(key)]) == 0
    printed = capsys.readouterr().out
    assert f"ledger signing key: {key.resolve()} (created" in printed
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    first = signing.public_key_pem(signing.load_private_key(key))
    assert main(["init", "--database", empty_db_url, "--key", str(key)]) == 0
    assert "already there" in capsys.readouterr().out
    assert signing.public_key_pem(signing.load_private_key(key)) == first


def test_init_uses_the_configured_key_path(
    empty_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(tmp_path / "from-env.key"))
    assert main(["init", "--database", empty_db_url]) == 0
    assert (tmp_path / "from-env.key").exists()
    assert "from-env.key" in capsys.readouterr().out


def test_init_with_a_key_in_a_missing_folder_is_one_line(
    empty_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--database", empty_db_url, "--key", str(tmp_path / "no" / "k.key")]) == 2
    assert "does not exist" in _one_line(capsys.readouterr().err)


def test_a_key_file_that_is_not_a_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("hello")
    assert main(["ledger", "key", "--key", str(bad)]) == 2
    assert "not an Ed25519 key" in _one_line(capsys.readouterr().err)
    assert main(["ledger", "key", "--key", str(tmp_path / "missing.key")]) == 2
    assert "no ledger key at" in _one_line(capsys.readouterr().err)
    rsa = tmp_path / "ecdsa.pub"
    rsa.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert main(["ledger", "key", "--key", str(rsa)]) == 2
    assert "not an Ed25519 one" in _one_line(capsys.readouterr().err)
    with pytest.raises(Exception, match="not an unencrypted Ed25519 private key"):
        signing.load_or_create_key(bad)


def test_ledger_key_exports_the_public_key(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "key", "--key", str(key_file)]) == 0
    pem = capsys.readouterr().out
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert signing.parse_public_key_pem(pem) == signing.load_private_key(key_file).public_key()


def test_head_prints_the_signed_head_and_what_it_leaves_out(
    signed: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    _disclose(signed, range(12, 15))
    assert main(["ledger", "head", "--database", signed]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ledger_size"] == 15 and doc["unsigned_leaves"] == 3
    assert doc["signed_head"]["tree_size"] == 12
    head = signing.SignedTreeHead.from_json(doc["signed_head"])
    assert signing.verify_tree_head(head, signing.load_public_key(key_file))


def test_verify_exits_0_when_intact_and_1_naming_the_first_mismatch(
    signed: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["verify", "--database", signed, "--key", str(key_file)]) == 0
    assert (
        "ledger intact: 12 leaves (12 disclosures, 0 recalls), 1 signed tree heads"
        in capsys.readouterr().out
    )
    with db.connect(signed) as conn:
        conn.execute(
            update(Disclosure).where(Disclosure.disclosure_id == "D-7").values(person_id="P-8")
        )
    assert main(["verify", "--database", signed, "--key", str(key_file)]) == 1
    err = _one_line(capsys.readouterr().err)
    assert (
        err
        == "accord: ledger check failed: disclosure D-7 at leaf 7 does not match its ledger leaf"
    )


def test_verify_needs_the_key_once_heads_are_signed(
    signed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no accord-ledger.key here
    monkeypatch.delenv("ACCORD_LEDGER_KEY", raising=False)
    assert main(["verify", "--database", signed]) == 2
    assert "no ledger key at accord-ledger.key" in _one_line(capsys.readouterr().err)
    other = tmp_path / "other.key"
    signing.load_or_create_key(other)
    assert main(["verify", "--database", signed, "--key", str(other)]) == 1
    assert "was signed by key" in _one_line(capsys.readouterr().err)


def test_verify_on_a_database_without_schema_is_exit_2(
    empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--database", empty_db_url]) == 2
    assert "accord init" in _one_line(capsys.readouterr().err)


def test_proof_then_check_proof_without_the_database(
    signed: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = tmp_path / "proof.json"
    args = [
        "ledger",
        "proof",
        "D-4",
        "--database",
        signed,
        "--key",
        str(key_file),
        "--out",
        str(proof),
    ]
    assert main(args) == 0
    doc = json.loads(proof.read_text())
    assert doc["leaf_index"] == 4 and doc["tree_size"] == 12 and doc["kind"] == "disclosure"
    pub = tmp_path / "ledger.pub"
    pub.write_text(signing.public_key_pem(signing.load_private_key(key_file)))
    capsys.readouterr()
    db.engine_for(signed).dispose()
    assert main(["ledger", "check-proof", str(proof), "--key", str(pub)]) == 0
    assert "verified  disclosure D-4 at leaf 4 of 12" in capsys.readouterr().out
    assert main(["ledger", "check-proof", str(proof)]) == 0
    other = tmp_path / "other.key"
    signing.load_or_create_key(other)
    capsys.readouterr()
    assert main(["ledger", "check-proof", str(proof), "--key", str(other)]) == 1
    assert "not with the trusted ledger key" in _one_line(capsys.readouterr().err)
    doc["content"] = doc["content"].replace("P-4", "P-5")
    doc["leaf_hash"] = merkle.leaf_hash(doc["content"].encode()).hex()
    proof.write_text(json.dumps(doc))
    assert main(["ledger", "check-proof", str(proof), "--key", str(pub)]) == 1
    err = _one_line(capsys.readouterr().err)
    assert err.endswith(
        "bundle: disclosure D-4 at leaf 4 of 12: "
        "the audit path does not lead from this content to the signed root"
    )


def test_proof_signs_a_head_when_none_covers_the_disclosure(
    db_url: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _disclose(db_url, range(3))
    assert main(["ledger", "proof", "D-2", "--database", db_url, "--key", str(key_file)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tree_size"] == 3
    pub = signing.load_public_key(key_file)
    from accord.ledger import bundle

    assert bundle.check_bundle(doc, pub).ok


def test_proof_of_an_unknown_id_is_exit_2(
    signed: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["ledger", "proof", "D-99", "--database", signed, "--key", str(key_file)]) == 2
    assert "no disclosure or recall has the id 'D-99'" in _one_line(capsys.readouterr().err)


def test_check_proof_checks_every_proof_in_a_subject_access_report(
    signed: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.connect(signed) as conn:
        proofs = [
            log.proof_bundle(conn, "disclosure", f"D-{n}", key=signing.load_private_key(key_file))
            for n in (1, 2, 3)
        ]
    report: dict[str, Any] = {
        "person_id": "P-1",
        "disclosures": [{"proof": json.loads(json.dumps(p))} for p in proofs],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    capsys.readouterr()
    assert main(["ledger", "check-proof", str(path)]) == 0
    assert capsys.readouterr().out.count("verified") == 3
    report["disclosures"][1]["proof"]["audit_path"][0] = "00" * 32
    path.write_text(json.dumps(report))
    assert main(["ledger", "check-proof", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("verified") == 2 and "FAILED    disclosure D-2" in captured.out
    assert _one_line(captured.err).endswith(
        "disclosures[1].proof: disclosure D-2 at leaf 2 of 12: the audit path does not lead "
        "from this content to the signed root (1 of 3 proofs failed)"
    )
    report["disclosures"].append({"agreement_id": "x"})
    report["disclosures"][1]["proof"] = proofs[1]
    path.write_text(json.dumps(report))
    assert main(["ledger", "check-proof", str(path)]) == 1
    assert "disclosures[3].proof: there is no proof to check" in _one_line(capsys.readouterr().err)


def test_check_proof_ties_what_a_report_shows_to_its_signed_entries(
    signed: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A proof that verifies says nothing about an entry edited beside it (issue 23,
    item 15): every value the report shows must be the one its signed leaf holds."""
    with db.connect(signed) as conn:
        proof = log.proof_bundle(conn, "disclosure", "D-1", key=signing.load_private_key(key_file))
    leaf = json.loads(proof["content"])
    entry = {
        "disclosure_id": leaf["disclosure_id"], "recipient": leaf["recipient"],
        "record_id": leaf["record_id"], "fields": leaf["fields"],
        "agreement": {"agreement_id": leaf["agreement_id"], "version": leaf["agreement_version"]},
        "proof": proof,
    }  # fmt: skip
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"person_id": leaf["person_id"], "disclosures": [entry]}))
    capsys.readouterr()
    assert main(["ledger", "check-proof", str(path)]) == 0
    for edit in (("recipient", "someone-else"), ("fields", {"family_name": "Other"})):
        changed = {**entry, edit[0]: edit[1]}
        path.write_text(json.dumps({"person_id": leaf["person_id"], "disclosures": [changed]}))
        assert main(["ledger", "check-proof", str(path)]) == 1
        err = _one_line(capsys.readouterr().err)
        assert f"the report shows {edit[0]}" in err and "the signed entry" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("{not json", "not JSON"),
        ('{"person_id": "P-1"}', "holds no proof bundle"),
        ('{"format": "accord-ledger-proof/1"}', "not a proof bundle: kind is missing"),
        (
            '{"disclosures": [{"proof": {"format": "x"}}]}',
            "column disclosures[0].proof: not a proof bundle",
        ),
    ],
)
def test_check_proof_on_something_that_is_not_a_proof_is_exit_2(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    assert main(["ledger", "check-proof", str(path)]) == 2
    assert message in _one_line(capsys.readouterr().err)


def test_check_proof_of_a_missing_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "check-proof", str(tmp_path / "none.json")]) == 2
    assert "no such file" in _one_line(capsys.readouterr().err)


def test_consistency_prints_a_proof_between_two_sizes(
    signed: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _disclose(signed, range(12, 20))
    capsys.readouterr()
    assert main(["ledger", "consistency", "12", "--database", signed]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["first"], doc["second"]) == (12, 20)
    assert doc["first_head"]["root_hash"] == doc["first_root"] and doc["second_head"] is None
    proof = [bytes.fromhex(p) for p in doc["proof"]]
    assert merkle.verify_consistency(
        12, 20, bytes.fromhex(doc["first_root"]), bytes.fromhex(doc["second_root"]), proof
    )
    assert main(["ledger", "consistency", "12", "30", "--database", signed]) == 2
    assert "the ledger has 20 leaves" in _one_line(capsys.readouterr().err)


def test_a_key_from_elsewhere_cannot_sign_this_ledger_silently(signed: str, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    signing.load_or_create_key(other)
    _disclose(signed, range(12, 13))
    assert main(["ledger", "head", "--sign", "--database", signed, "--key", str(other)]) == 0
    assert (
        main(["verify", "--database", signed, "--key", str(other)]) == 1
    )  # the first head is not its
    assert isinstance(signing.load_key(other), Ed25519PrivateKey)


def test_an_encrypted_key_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked.key"
    locked.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    assert main(["ledger", "key", "--key", str(locked)]) == 2
    assert "not an Ed25519 key in PEM form" in _one_line(capsys.readouterr().err)
    with pytest.raises(Exception, match="not an unencrypted Ed25519 private key"):
        signing.load_private_key(locked)


def test_signing_without_a_key_file_is_exit_2(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.key"
    assert main(["ledger", "head", "--sign", "--database", db_url, "--key", str(missing)]) == 2
    assert f"no ledger key at {missing}" in _one_line(capsys.readouterr().err)


def test_check_proof_of_a_file_that_is_not_utf8_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'{"format": "\xff"}')
    assert main(["ledger", "check-proof", str(path)]) == 2
    assert "not UTF-8 text" in _one_line(capsys.readouterr().err)


def test_verify_with_no_workers_is_a_usage_error(
    signed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--database", signed, "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


# --- heads published outside the database ----------------------------------------------------


def _publish(url: str, key_file: Path, heads: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Sign the ledger as it stands and append the head to a JSON Lines file kept elsewhere."""
    capsys.readouterr()
    assert main(["ledger", "head", "--sign", "--database", url, "--key", str(key_file)]) == 0
    printed = json.loads(capsys.readouterr().out)
    with heads.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(printed) + "\n")


def _verify(url: str, key_file: Path, heads: Path) -> int:
    return main(["verify", "--database", url, "--key", str(key_file), "--published", str(heads)])


def test_verify_checks_the_ledger_still_extends_every_published_head(
    signed: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heads = tmp_path / "published.jsonl"
    _publish(signed, key_file, heads, capsys)
    _disclose(signed, range(12, 18))
    _publish(signed, key_file, heads, capsys)
    _disclose(signed, range(18, 20))  # signed below, but not published
    assert main(["ledger", "head", "--sign", "--database", signed, "--key", str(key_file)]) == 0
    assert _verify(signed, key_file, heads) == 0
    assert "extends all 2 published heads" in capsys.readouterr().out


def test_removing_the_newest_entries_with_their_heads_is_caught_by_a_published_head(
    signed: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heads = tmp_path / "published.jsonl"
    _disclose(signed, range(12, 18))
    _publish(signed, key_file, heads, capsys)
    with db.connect(signed) as conn:  # someone removes the last six and the head over them
        conn.execute(delete(Disclosure).where(Disclosure.ledger_index >= 12))
        conn.execute(delete(LedgerLeaf).where(LedgerLeaf.leaf_index >= 12))
        conn.execute(delete(TreeHead).where(TreeHead.tree_size > 12))
    assert main(["verify", "--database", signed, "--key", str(key_file)]) == 0  # alone: unseen
    capsys.readouterr()
    assert _verify(signed, key_file, heads) == 1
    assert _one_line(capsys.readouterr().err) == (
        "accord: ledger check failed: published head at 18 leaves (timestamp "
        f"{json.loads(heads.read_text())['signed_head']['timestamp_ms']}): the ledger now "
        "holds only 12 leaves, so 6 disclosed or recalled entries were removed"
    )


def test_a_rewrite_re_signed_by_the_key_holder_is_caught_by_a_published_head(
    signed: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heads = tmp_path / "published.jsonl"
    _publish(signed, key_file, heads, capsys)
    with db.connect(signed) as conn:  # a different history of the same length, re-signed
        for table in (Disclosure, LedgerLeaf, LedgerNode, TreeHead):
            conn.execute(delete(table))
    _disclose(signed, range(100, 112))
    assert main(["ledger", "head", "--sign", "--database", signed, "--key", str(key_file)]) == 0
    assert main(["verify", "--database", signed, "--key", str(key_file)]) == 0  # alone: unseen
    capsys.readouterr()
    assert _verify(signed, key_file, heads) == 1
    assert _one_line(capsys.readouterr().err).endswith(
        "the first 12 leaves no longer hash to its root, so the ledger was rewritten after "
        "it was published"
    )


def test_a_published_head_this_key_did_not_sign_is_refused(
    signed: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heads = tmp_path / "published.json"
    _publish(signed, key_file, heads, capsys)
    doc = json.loads(heads.read_text())
    doc["signed_head"]["signature"] = "00" * 64
    heads.write_text(json.dumps([doc]))
    assert _verify(signed, key_file, heads) == 1
    assert "its signature is not this ledger key's" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"signed_head": null}\n', "holds no signed head"),
        ('{"ledger_size": 1}\nnot json\n', "line 2 is not JSON"),
        ('{"tree_size": -1}', "is not a signed tree head: tree_size must be"),
        ("[]", "holds no signed tree head"),
    ],
)
def test_a_published_heads_file_that_is_not_heads_is_exit_2(
    signed: str,
    key_file: Path,
    tmp_path: Path,
    text: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    heads = tmp_path / "heads.json"
    heads.write_text(text)
    capsys.readouterr()
    assert _verify(signed, key_file, heads) == 2
    err = _one_line(capsys.readouterr().err)
    assert str(heads) in err and message in err
    assert _verify(signed, key_file, tmp_path / "missing.jsonl") == 2
    assert "no such file" in _one_line(capsys.readouterr().err)
