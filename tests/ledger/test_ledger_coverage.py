# ruff: noqa: F811 -- the ledger fixture is imported from test_ledger_log
"""`verify` requires a signed tree head over the whole ledger (issue 23, medium 7).

Without it, someone with write access to the database (and no signing key) could delete
every head and then rewrite history consistently, or append fabricated entries after
the last head, and verify still passed.  Each case the probe found, and what verify now
says: leaves no signed head covers are named, and verify fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, select, update
from test_ledger_log import (  # noqa: F401
    KEY,
    SIZE,
    _contents,
    _rewrite_history,
    disclose,
    ledger,
)

from accord.cli import main
from accord.ledger import log, merkle, signing
from accord.store import db
from accord.store.models import Disclosure, LedgerNode, TreeHead

UNSIGNED_ALL = f"no signed tree head covers the ledger: leaves 0 to {SIZE - 1} are unsigned"


def _verify(url: str) -> log.VerifyResult:
    with db.connect(url) as conn:
        return log.verify(conn, KEY.public_key())


def test_every_head_deleted_fails(ledger: str) -> None:
    with db.connect(ledger) as conn:
        conn.execute(delete(TreeHead))
    result = _verify(ledger)
    assert not result.ok and result.first_problem is not None
    assert result.first_problem.startswith(UNSIGNED_ALL), result.problems


def test_unsigned_leaves_after_the_last_head_fail(ledger: str) -> None:
    with db.connect(ledger) as conn:
        disclose(conn, range(300, 304))  # appended, never signed
    result = _verify(ledger)
    assert result.problems == (
        f"leaves {SIZE} to {SIZE + 3} are not covered by a signed tree head "
        f"(the latest is at size {SIZE}): appended after it, or the heads over them removed",
    )
    with db.connect(ledger) as conn:
        log.sign_head(conn, KEY)
    assert _verify(ledger).ok


def test_an_old_leaf_rewritten_after_deleting_the_heads_fails(ledger: str) -> None:
    with db.connect(ledger) as conn:
        _rewrite_history(conn)  # row and leaf changed together: only heads could tell
        conn.execute(delete(TreeHead))
        # ... and the subtree cache recomputed to match, as a careful forger would.
        tree = merkle.MerkleTree.of_entries(_contents(conn))
        for level, index in conn.execute(select(LedgerNode.level, LedgerNode.index)).all():
            conn.execute(
                update(LedgerNode)
                .where(LedgerNode.level == level, LedgerNode.index == index)
                .values(hash=tree.subtree(level, index))
            )
    result = _verify(ledger)
    assert not result.ok and result.first_problem is not None
    assert result.first_problem.startswith(UNSIGNED_ALL)


def test_a_fabricated_disclosure_appended_fails(ledger: str) -> None:
    with db.connect(ledger) as conn:
        disclose(conn, range(900, 901))  # a well-formed disclosure row and leaf, unsigned
    result = _verify(ledger)
    assert result.problems == (
        f"leaf {SIZE} is not covered by a signed tree head (the latest is at size {SIZE}): "
        "appended after it, or the heads over them removed",
    )


def test_an_empty_ledger_needs_no_head(db_url: str) -> None:
    with db.connect(db_url) as conn:
        assert log.verify(conn).ok


def test_accord_verify_fails_in_one_line_on_an_unsigned_ledger(
    ledger: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "ledger.pem"
    key_file.write_bytes(signing.public_key_pem(KEY).encode())  # verifying needs the public key
    with db.connect(ledger) as conn:
        conn.execute(delete(TreeHead))
    assert main(["verify", "--database", ledger, "--key", str(key_file), "--workers", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"accord: ledger check failed: {UNSIGNED_ALL}") and "\n" not in err


# --- what verify meets in a tampered SQLite file (issue 23, low 16) ------------------------


def _as_text(table: str, column: str, where: str) -> Callable[[Connection], None]:
    """Store a value as TEXT where bytes belong: SQLite's column affinity lets it in."""

    def tamper(conn: Connection) -> None:
        conn.exec_driver_sql(f"UPDATE {table} SET {column} = 'not bytes' WHERE {where}")

    return tamper


TEXT_IN_PLACE_OF_BYTES = {
    "leaf content": (
        _as_text("ledger_leaves", "content", "leaf_index = 7"),
        "leaf 7 (disclosure D-7) holds text, not bytes, as its content",
    ),
    "leaf hash": (
        _as_text("ledger_leaves", "leaf_hash", "leaf_index = 7"),
        "leaf 7 (disclosure D-7) holds text, not bytes, as its hash",
    ),
    "cached subtree": (
        _as_text("ledger_nodes", "hash", 'level = 8 AND "index" = 0'),
        "the cached subtree at level 8, index 0 holds text, not bytes",
    ),
}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("case", list(TEXT_IN_PLACE_OF_BYTES))
def test_text_where_bytes_belong_is_named_not_a_crash(ledger: str, case: str) -> None:
    if not ledger.startswith("sqlite"):
        pytest.skip("PostgreSQL's bytea holds only bytes")
    tamper, expected = TEXT_IN_PLACE_OF_BYTES[case]
    with db.connect(ledger) as conn:
        tamper(conn)
    result = _verify(ledger)
    assert not result.ok and result.first_problem is not None
    assert result.first_problem.startswith(expected), result.problems


# --- a recall and its disclosure's status agree (issue 23, low 18) -------------------------


def test_a_recalled_disclosure_set_back_to_active_fails(ledger: str) -> None:
    """Set back to active, a recalled disclosure would be served to its recipient again."""
    with db.connect(ledger) as conn:
        assert conn.scalar(select(Disclosure.status).where(Disclosure.disclosure_id == "D-20"))
        conn.execute(
            update(Disclosure).where(Disclosure.disclosure_id == "D-20").values(status="active")
        )
    result = _verify(ledger)
    assert result.problems == (
        "disclosure D-20 was recalled (recall R-20 at leaf 301) but is marked active: "
        "it would be served to its recipient again",
    )


def test_a_disclosure_marked_recalled_with_no_recall_fails(ledger: str) -> None:
    with db.connect(ledger) as conn:
        conn.execute(
            update(Disclosure).where(Disclosure.disclosure_id == "D-5").values(status="recalled")
        )
    result = _verify(ledger)
    assert result.problems == (
        "disclosure D-5 at leaf 5 is marked recalled, but no recall of it is in the ledger",
    )


def test_the_fixture_recalls_as_accord_does(ledger: str) -> None:
    with db.connect(ledger) as conn:
        recalled = conn.scalars(
            select(Disclosure.disclosure_id).where(Disclosure.status == "recalled")
        ).all()
    assert sorted(recalled) == ["D-20", "D-3"]
    assert _verify(ledger).ok
