"""Ids of what Accord shares and decides: the same every time in one database, unguessable
outside it.

A disclosure is named from its agreement, record and person, so that a run killed and
run again names (and so skips) the same disclosure; recalls and review items likewise.
Named with a plain hash, anyone who knows those (a recipient knows the agreement and its
own record ids, and person ids travel with cases) could recompute an id, learn which
person a disclosure is about, and name another recipient's disclosures.  So every id is
an HMAC-SHA256 under ``id_key``, 32 random bytes made with the schema (migration 0008)
and kept in the database's ``secrets`` table: deterministic per database, and without the
key an id can be neither recomputed nor guessed.  The kind of id is part of what is
keyed, so ids of different kinds never coincide.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Connection, select

from accord.store.dialect import dialect_of
from accord.store.models import Secret, utcnow

ID_KEY = "id_key"
KEY_REVISION = "0008"  # the migration that makes the key


def id_key(conn: Connection) -> bytes:
    """The database's id key, made now (once, whoever asks at the same moment) if absent.

    Every database gets one from its migration; one is made here only for a database
    whose key was removed (a data-only restore, say), after which ids are keyed anew.
    """
    stored = conn.scalar(select(Secret.value).where(Secret.name == ID_KEY))
    if stored is None:
        table = Secret.__table__
        conn.execute(
            dialect_of(conn)
            .insert(table)
            .values(name=ID_KEY, value=secrets.token_bytes(32).hex(), created_at=utcnow())
            .on_conflict_do_nothing(index_elements=[table.c.name])
        )
        stored = conn.scalar(select(Secret.value).where(Secret.name == ID_KEY))
    assert stored is not None
    return bytes.fromhex(stored)


class Namer:
    """Names ids of one kind under one key (the HMAC's key schedule is done once)."""

    def __init__(self, key: bytes, kind: str, prefix: str, length: int) -> None:
        self._base = hmac.new(key, kind.encode() + b"\x1e", hashlib.sha256)
        self._prefix = prefix
        self._length = length

    def __call__(self, *parts: str) -> str:
        mac = self._base.copy()
        mac.update("\x1f".join(parts).encode())
        return f"{self._prefix}-{mac.hexdigest()[: self._length]}"
