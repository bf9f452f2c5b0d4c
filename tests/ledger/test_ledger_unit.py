"""The ledger's unit of work (accord.ledger.unit): what a transaction appends, it signs.

The steps that record disclosures, recalls and governance changes no longer sign heads
by hand; these tests hold the unit to its promise on both databases: a head over the
whole ledger once the unit ends well, none when nothing was appended, none (and no
leaves) when the step fails, one for a unit joined from deeper down, the step's own key
when it names one, and a key that is not the ledger's refused with everything rolled back.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accord.errors import LedgerKeyUnavailable
from accord.ledger import content, log, signing, unit
from accord.store import db
from accord.store.models import TreeHead


def _leaf(n: int) -> tuple[str, str, bytes]:
    return ("disclosure", f"D-{n}", content.canonical({"n": n}))


def _heads(url: str) -> list[tuple[int, str]]:
    with db.connect(url) as conn:
        return [
            (int(size), str(key_id))
            for size, key_id in conn.execute(
                select(TreeHead.tree_size, TreeHead.key_id).order_by(TreeHead.tree_size)
            )
        ]


def _size(url: str) -> int:
    with db.connect(url) as conn:
        return log.tree_size(conn)


def _default_key_id() -> str:
    return signing.key_id(signing.load_private_key(Path(os.environ["ACCORD_LEDGER_KEY"])))


def test_a_unit_that_appended_signs_one_head_as_it_ends(db_url: str) -> None:
    with db.connect(db_url) as conn:
        with unit.work(conn) as work:
            work.record([_leaf(1)])
            assert log.head_at(conn, 1) is None  # not yet: the unit has not ended
            work.record([_leaf(2), _leaf(3)])
        assert work.appended == 3
        assert log.head_at(conn, 3) is not None  # signed as it ended, before the commit
    assert _heads(db_url) == [(3, _default_key_id())]


def test_a_unit_that_appended_nothing_signs_nothing(db_url: str) -> None:
    with db.connect(db_url) as conn, unit.work(conn) as work:
        work.record([])
    assert _heads(db_url) == []


def test_a_failed_step_signs_nothing_and_keeps_no_leaf(db_url: str) -> None:
    with pytest.raises(RuntimeError), db.connect(db_url) as conn, unit.work(conn):
        unit.record(conn, [_leaf(1)])
        raise RuntimeError("the step failed")
    assert _size(db_url) == 0 and _heads(db_url) == []
    # The pooled connection carries no unit into its next transaction.
    with db.connect(db_url) as conn:
        assert unit.current(conn) is None


def test_steps_deeper_down_join_the_open_unit_and_one_head_covers_them(db_url: str) -> None:
    with db.connect(db_url) as conn, unit.work(conn) as outer:
        unit.record(conn, [_leaf(1)])  # as disclosure.disclose and remedy.recall do
        with unit.work(conn) as inner:  # as a use case called from another one would
            assert inner is outer
            unit.record(conn, [_leaf(2)])
        assert log.head_at(conn, 2) is None  # the unit that opened it signs, not a joiner
        assert outer.appended == 2
    assert _heads(db_url) == [(2, _default_key_id())]


def test_leaves_recorded_with_no_unit_open_are_signed_as_the_transaction_commits(
    db_url: str,
) -> None:
    with db.connect(db_url) as conn:
        unit.record(conn, [_leaf(1)])
        opened = unit.current(conn)
        assert opened is not None and opened.appended == 1
        assert log.head_at(conn, 1) is None
    assert _heads(db_url) == [(1, _default_key_id())]
    # log.append alone is not recorded in a unit: nothing signs it (tests build unsigned
    # ledgers this way).
    with db.connect(db_url) as conn:
        log.append(conn, [_leaf(2)])
    assert _heads(db_url) == [(1, _default_key_id())] and _size(db_url) == 2


def test_the_run_reads_its_head_from_the_unit(db_url: str) -> None:
    """`accord run` reports the head in its summary: one head, even over nothing new."""
    with db.connect(db_url) as conn, unit.work(conn) as work:
        empty = work.signed_head()
        assert empty.size == 0
        work.record([_leaf(1)])
        head = work.signed_head()
    assert head.size == 1
    assert [size for size, _ in _heads(db_url)] == [0, 1]


def test_a_step_signs_with_its_own_key(db_url: str, tmp_path: Path) -> None:
    own = tmp_path / "own.key"
    key_id = signing.key_id(signing.load_or_create_key(own))
    with db.connect(db_url) as conn, unit.work(conn, own):
        unit.record(conn, [_leaf(1)])
    assert _heads(db_url) == [(1, key_id)]


def test_a_key_that_is_not_the_ledgers_rolls_the_step_back(db_url: str, tmp_path: Path) -> None:
    with db.connect(db_url) as conn, unit.work(conn):
        unit.record(conn, [_leaf(1)])
    other = tmp_path / "other.key"
    signing.load_or_create_key(other)
    with (
        pytest.raises(LedgerKeyUnavailable, match="is not the key this database's ledger"),
        db.connect(db_url) as conn,
        unit.work(conn, other),
    ):
        unit.record(conn, [_leaf(2)])
    assert _size(db_url) == 1
    with db.connect(db_url) as conn:
        assert conn.scalar(select(func.count()).select_from(TreeHead)) == 1
