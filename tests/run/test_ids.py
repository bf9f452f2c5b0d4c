"""Ids of disclosures, recalls and review items: the same every time in one database,
unguessable outside it (issue 23, high 2).

A recipient knows the agreement, its own record ids, and often the source's person ids
(case numbers travel): an id that is a plain hash of them could be recomputed, telling
the recipient which person a disclosure is about and letting it name another recipient's
disclosures.  Each id is a keyed hash under a secret made with the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import delete, select

from accord import ids, review_queue, scores
from accord.disclosure import AUTOMATIC, Draft, disclose, disclosure_id
from accord.remedy import recall_id, recall_people
from accord.store import db
from accord.store.models import Secret

AT = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)
DRAFT = Draft("ho-to-dvla", 1, "dvla", "DVLA-1", "P-1", 0.9999, AUTOMATIC, {"family_name": "A"})


def _plain_digests(*parts: str) -> set[str]:
    """Every unsalted SHA-256 of the parts, in any order, that an outsider could compute."""
    return {
        hashlib.sha256("\x1f".join(order).encode()).hexdigest()
        for n in range(1, len(parts) + 1)
        for order in itertools.permutations(parts, n)
    }


def _recomputable(identifier: str, *parts: str) -> bool:
    digest = identifier.split("-", 1)[1]
    return any(d.startswith(digest) for d in _plain_digests(*parts))


def _share_and_recall(url: str) -> tuple[str, str]:
    with db.connect(url) as conn:
        (disclosed,) = disclose(conn, [DRAFT], AT, "RUN-1")
        (recall,) = recall_people(conn, ["P-1"], "decision_overturned", "test")
    return disclosed, recall.recall_id


def test_disclosure_and_recall_ids_are_keyed_by_a_secret_of_the_database(
    db_url: str, tmp_path: Path
) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    db.upgrade(other)
    mine, my_recall = _share_and_recall(db_url)
    theirs, their_recall = _share_and_recall(other)
    # The same agreement, record and person name different disclosures in two databases:
    # the id depends on something outside them, which no recipient holds.
    assert mine != theirs and my_recall != their_recall
    assert not _recomputable(mine, "ho-to-dvla", "DVLA-1", "P-1")
    assert not _recomputable(my_recall, mine)
    # Deterministic in one database, so a rerun names (and skips) the same disclosure.
    with db.connect(db_url) as conn:
        key = ids.id_key(conn)
    assert disclosure_id(key, "ho-to-dvla", "DVLA-1", "P-1") == mine
    assert recall_id(key, mine) == my_recall
    assert disclosure_id(key, "ho-to-dvla", "DVLA-1", "P-1", "S-1") != mine
    db.engine_for(other).dispose()


def test_review_item_ids_are_keyed_too(db_url: str) -> None:
    with db.connect(db_url) as conn:
        key = ids.id_key(conn)
    match = review_queue.review_item_id(key, "ho-to-dvla", "P-1", "DVLA-1")
    score = scores.review_item_id(key, "ho-to-dvla", "P-1", "DVLA-1", "S-1")
    assert match.startswith("RV-") and score.startswith("RV-") and match != score
    assert not _recomputable(match, "ho-to-dvla", "P-1", "DVLA-1")
    assert not _recomputable(score, "ho-to-dvla", "P-1", "DVLA-1", "S-1")
    assert review_queue.review_item_id(key, "ho-to-dvla", "P-1", "DVLA-1") == match
    assert review_queue.review_item_id(bytes(32), "ho-to-dvla", "P-1", "DVLA-1") != match


def test_the_key_is_made_with_the_schema_and_kept(empty_db_url: str, tmp_path: Path) -> None:
    revisions = [
        r.revision for r in ScriptDirectory.from_config(db.alembic_config()).walk_revisions()
    ]
    before_keys = revisions[revisions.index(ids.KEY_REVISION) + 1]
    db.upgrade(empty_db_url, before_keys)  # a database made before ids were keyed
    db.upgrade(empty_db_url)
    with db.connect(empty_db_url) as conn:
        stored = conn.execute(select(Secret.name, Secret.value)).all()
        key = ids.id_key(conn)
    assert [name for name, _ in stored] == [ids.ID_KEY]
    assert len(key) == 32 and key.hex() == stored[0][1]
    db.upgrade(empty_db_url)  # a no-op upgrade keeps the key
    with db.connect(empty_db_url) as conn:
        assert ids.id_key(conn) == key
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    db.upgrade(fresh)
    with db.connect(fresh) as conn:
        assert ids.id_key(conn) != key  # each database makes its own
    db.engine_for(fresh).dispose()


def test_a_lost_key_is_made_again_once_and_then_kept(db_url: str) -> None:
    with db.connect(db_url) as conn:
        conn.execute(delete(Secret))
    with db.connect(db_url) as conn:
        made = ids.id_key(conn)
    with db.connect(db_url) as conn:
        assert ids.id_key(conn) == made
        assert conn.scalar(select(Secret.value).where(Secret.name == ids.ID_KEY)) == made.hex()
