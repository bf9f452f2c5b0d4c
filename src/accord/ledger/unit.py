"""The ledger's unit of work: a transaction that appends leaves commits a signed head over them.

A disclosure, recall or governance change that no signed tree head covers cannot be shown
with a proof, so a subject access report about the person fails ("not yet covered by a
signed tree head").  No step therefore signs by hand, and none can forget to: every
leaf is appended through :func:`record`, which enters it in the transaction's
:class:`LedgerWork`, and the unit signs one head over the whole ledger when it ends
well: at the end of the ``with`` :func:`work` that opened it, else just before
`accord.store.db.connect` commits the transaction (``db.before_commit``).  A step that
fails rolls the transaction back and nothing is signed; a key that cannot be found, or
that is not the one the ledger's heads are signed with, rolls the whole transaction back.

A step opens the unit itself with :func:`work` when it brings its own key (``--key``, a
server's key) or reports the head (`accord run`'s summary, :meth:`LedgerWork.signed_head`);
a step deeper down that records leaves joins the unit already open.  ``log.append``
alone (tests, benchmarks) records nothing here and so signs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection

from accord.ledger import keys, log, signing
from accord.ledger.signing import SignedTreeHead
from accord.store import db

# The transaction's unit is kept as its before-commit action, so `db.connect` forgets it
# on commit and on rollback alike (a pooled connection never carries one into its next use).
_NAME = "ledger: sign a tree head"


class LedgerWork:
    """One transaction's appends to the ledger, and the head signed over them."""

    def __init__(self, conn: Connection, key: Path | None = None) -> None:
        self.conn = conn
        self.key = key  # None: the key `accord.ledger.keys` finds for the command
        self.unsigned = 0  # leaves this unit appended that no head it signed covers yet
        self.appended = 0  # leaves this unit appended in all

    def record(self, leaves: Sequence[tuple[str, str, bytes]]) -> list[int]:
        """Append ``(kind, ref_id, content)`` leaves (as ``log.append``); their indexes."""
        indexes = log.append(self.conn, leaves)
        self.unsigned += len(indexes)
        self.appended += len(indexes)
        return indexes

    def signed_head(self) -> SignedTreeHead:
        """The signed head over the whole ledger as it stands: signed now unless one is."""
        head = log.sign_head(self.conn, self._signing_key())
        self.unsigned = 0
        return head

    def finish(self) -> SignedTreeHead | None:
        """Sign a head if this unit appended leaves no head covers yet; else nothing."""
        if not self.unsigned:
            return None
        if log.head_at(self.conn, log.tree_size(self.conn)) is not None:
            self.unsigned = 0
            return None
        return self.signed_head()

    def __call__(self, conn: Connection) -> None:
        """What `db.connect` runs just before it commits the transaction."""
        self.finish()

    def _signing_key(self) -> Ed25519PrivateKey:
        path = keys.resolve(self.conn, self.key)
        key = signing.require_key(path, self.conn)
        keys.refuse_foreign(self.conn, signing.key_id(key), path)
        return key


def current(conn: Connection) -> LedgerWork | None:
    """The unit open in ``conn``'s transaction, if one is."""
    action = db.before_commit_action(conn, _NAME)
    return action if isinstance(action, LedgerWork) else None


def _open(conn: Connection, key: Path | None) -> tuple[LedgerWork, bool]:
    unit = current(conn)
    if unit is not None:
        if unit.key is None:
            unit.key = key
        return unit, False
    unit = LedgerWork(conn, key)
    db.before_commit(conn, _NAME, unit)
    return unit, True


@contextlib.contextmanager
def work(conn: Connection, key: Path | None = None) -> Iterator[LedgerWork]:
    """The transaction's ledger unit, signing on a successful exit what was appended in it.

    Joins the unit already open in the transaction, if one is (then the one that opened
    it signs).  ``key`` is the ledger key to sign with; None finds it as
    `accord.ledger.keys` says.  On an error nothing is signed.
    """
    unit, opened = _open(conn, key)
    yield unit
    if opened:
        unit.finish()


def record(conn: Connection, leaves: Sequence[tuple[str, str, bytes]]) -> list[int]:
    """Append leaves in the transaction's unit; opened here if none is, it then signs just
    before the transaction commits."""
    unit, _ = _open(conn, None)
    return unit.record(leaves)
