"""The disclosure ledger in the database: append, sign, prove and verify.

Leaves are appended inside the caller's transaction, so a disclosure row and its leaf
commit together or not at all; the Merkle tree they form, its subtree cache, roots and
proofs are read back by :mod:`accord.ledger.tree` (``root``, ``tree_size`` and the proofs
are named here too, as the ledger's own).  A head signed here is published once its
transaction commits (:func:`accord.ledger.publish.schedule`).

Nothing here trusts the cache or the stored hashes for *checking*: :func:`verify`
recomputes everything from the leaf contents and the disclosure and recall rows, and a
proof is only as good as the signed head it is checked against.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import json
import multiprocessing as mp
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, DateTime, Table, create_engine, func, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.pool import NullPool

from accord.errors import AccordError
from accord.ledger import bundle, content, keys, merkle, publish, signing, tree
from accord.ledger.signing import SignedTreeHead
from accord.ledger.tree import CACHE_LEVEL as CACHE_LEVEL
from accord.ledger.tree import consistency_proof as consistency_proof
from accord.ledger.tree import inclusion_proof as inclusion_proof
from accord.ledger.tree import root as root
from accord.ledger.tree import tree_size as tree_size
from accord.store import db, sqlite_bulk, transfer
from accord.store.dialect import dialect_of
from accord.store.models import (
    Disclosure,
    LedgerLeaf,
    LedgerNode,
    Proposal,
    Recall,
    TreeHead,
    utcnow,
)
from accord.vocab import DisclosureStatus, ItemStatus, sql_word

VERIFY_CHUNK = 1 << 16
MAX_PROBLEMS = 1000
_ADVISORY_LOCK = 0x4C454447  # "LEDG": serialises appenders on PostgreSQL

_LEAVES: Table = LedgerLeaf.__table__  # type: ignore[assignment]
_NODES: Table = LedgerNode.__table__  # type: ignore[assignment]
_LEAF_COLUMNS = ("leaf_index", "kind", "ref_id", "content", "leaf_hash", "appended_at")
_SQLITE = sqlite_dialect.dialect()  # parses SQLite's timestamp text as SQLAlchemy reads it
_SQLITE_DATETIME = DateTime(timezone=True).dialect_impl(_SQLITE).result_processor(_SQLITE, None)


def _lock(conn: Connection) -> None:
    """Serialise appenders before the tree size is read, so two never take the same index.

    PostgreSQL: a transaction-scoped advisory lock.  SQLite: a write statement that
    changes nothing, which takes the database's write lock (waiting up to busy_timeout)
    and so also gives this transaction the latest committed state to read.
    """
    dialect_of(conn).lock_writers(conn, _ADVISORY_LOCK)


def append(conn: Connection, leaves: Sequence[tuple[str, str, bytes]]) -> list[int]:
    """Append ``(kind, ref_id, content)`` leaves in the caller's transaction; their indexes.

    Set-based: the new leaves are hashed in one pass, every subtree they complete is
    hashed level by level, and leaves and cache rows go in with ``db.bulk_insert``.
    """
    if not leaves:
        return []
    for kind, ref_id, data in leaves:
        if kind not in content.KINDS:
            raise ValueError(
                f"a ledger leaf is a disclosure, a recall or a governance change, not {kind!r}"
            )
        if not isinstance(ref_id, str) or not ref_id:
            raise ValueError("a ledger leaf needs the id of what it records")
        if not isinstance(data, bytes):
            raise TypeError("a ledger leaf's content is bytes")
    _lock(conn)
    start = tree_size(conn)
    frontier = tree.frontier(conn, start)
    with _collector_paused():
        return _append_at(conn, start, frontier, leaves)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector for a batch that creates no reference cycles.

    A batch allocates a few container objects per leaf; with a large heap (a run holds
    its rows) those bursts set off full collections that walk every live object: with
    the collector on, unpacking 50,000 leaves took 0.10 s instead of 0.007 s and hashing
    them 0.08 s instead of 0.045 s (docs/ledger.md).  Reference counting still frees
    everything at once; the collector resumes after.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _append_at(
    conn: Connection,
    start: int,
    frontier: merkle.CompactRange,
    leaves: Sequence[tuple[str, str, bytes]],
) -> list[int]:
    hashes = merkle.leaf_hashes(d for _, _, d in leaves)
    nodes = frontier.extend(hashes, emit_from=CACHE_LEVEL)
    dialect = dialect_of(conn)
    stamp = dialect.stored_datetime(utcnow())
    if not dialect.copy_in and _stage_leaves(conn, start, leaves, hashes, str(stamp)):
        db.bulk_insert(conn, _NODES, ("level", "index", "hash"), nodes)
        return list(range(start, start + len(leaves)))
    rows = [
        (start + i, kind, ref_id, data, h, stamp)
        for i, ((kind, ref_id, data), h) in enumerate(zip(leaves, hashes, strict=True))
    ]
    if not dialect.copy_in:
        # db.bulk_insert would run SQLAlchemy's generic bind processors on every value
        # (wrapping each blob, handing each datetime to sqlite3's adapter), which halves
        # the rate; these values need none, the timestamp being written once, in exactly
        # the form SQLAlchemy's SQLite DATETIME writes.
        transfer.execute_many(conn, _LEAVES, _LEAF_COLUMNS, rows)
    else:  # binary COPY: the leaves' bytes go as bytes, not as hex
        transfer.copy_binary(conn, _LEAVES, _LEAF_COLUMNS, _LEAF_PG_TYPES, rows)
    db.bulk_insert(conn, _NODES, ("level", "index", "hash"), nodes)
    return list(range(start, start + len(leaves)))


_LEAF_PG_TYPES = ("int8", "text", "text", "bytea", "bytea", "timestamptz")


def _stage_leaves(
    conn: Connection,
    start: int,
    leaves: Sequence[tuple[str, str, bytes]],
    hashes: Sequence[bytes],
    stamp: str,
) -> bool:
    """Insert the leaves through :func:`accord.store.sqlite_bulk.stage`; False if it cannot."""
    n = len(leaves)
    kinds, refs, datas = zip(*leaves, strict=True)
    table = pa.table(
        {
            "leaf_index": pa.array(range(start, start + n), pa.int64()),
            "kind": pa.array(kinds, pa.string()),
            "ref_id": pa.array(refs, pa.string()),
            "content": pa.array(datas, pa.binary()),
            "leaf_hash": pa.array(hashes, pa.binary()),
        }
    )
    staged = sqlite_bulk.stage(conn, table)
    if staged is None:
        return False
    names = ", ".join(f'"{c}"' for c in _LEAF_COLUMNS)
    conn.exec_driver_sql(
        f'INSERT INTO "{_LEAVES.name}" ({names}) '
        f"SELECT leaf_index, kind, ref_id, content, leaf_hash, ? FROM {staged}",
        (stamp,),
    )
    return True


def _head(row: Any) -> SignedTreeHead:
    return SignedTreeHead(
        int(row.tree_size), int(row.timestamp_ms), bytes(row.root_hash), bytes(row.signature),
        row.key_id,
    )  # fmt: skip


def heads(conn: Connection) -> list[SignedTreeHead]:
    return [_head(r) for r in conn.execute(select(TreeHead).order_by(TreeHead.tree_size))]


def head_at(conn: Connection, size: int) -> SignedTreeHead | None:
    row = conn.execute(select(TreeHead).where(TreeHead.tree_size == size)).first()
    return None if row is None else _head(row)


def check_published(
    conn: Connection, heads: Sequence[SignedTreeHead], key: signing.AnyKey | None
) -> str | None:
    """The first way the ledger contradicts a head published earlier, or None.

    A head kept outside the database (by an auditor, a regulator, a public register)
    catches what the database alone cannot: the newest leaves removed together with
    every head that covers them (the ledger is now shorter than a published size), and
    a rewrite re-signed by whoever holds the key (the first ``size`` leaves no longer
    hash to the published root).  With ``key``, each published head must also carry
    this ledger's signature, so a forged head proves nothing either way.
    """
    size = tree_size(conn)
    for head in sorted(heads, key=lambda h: (h.size, h.timestamp_ms)):
        label = f"published head at {head.size:,} leaves (timestamp {head.timestamp_ms})"
        if key is not None and not signing.verify_tree_head(head, key):
            return f"{label}: its signature is not this ledger key's"
        if head.size > size:
            return (
                f"{label}: the ledger now holds only {size:,} leaves, so "
                f"{head.size - size:,} disclosed or recalled entries were removed"
            )
        if root(conn, head.size) != head.root:
            return (
                f"{label}: the first {head.size:,} leaves no longer hash to its root, "
                "so the ledger was rewritten after it was published"
            )
    return None


def latest_head(conn: Connection) -> SignedTreeHead | None:
    row = conn.execute(select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1)).first()
    return None if row is None else _head(row)


def sign_head(conn: Connection, key: Ed25519PrivateKey) -> SignedTreeHead:
    """Sign the tree as it stands; a no-op returning the stored head if that size is signed.

    With ``ACCORD_PUBLISH_HEADS`` set, every head the database holds and the destination
    does not is published once the transaction commits (`accord.ledger.publish`).
    """
    _lock(conn)
    publish.schedule(conn)
    size = tree_size(conn)
    existing = head_at(conn, size)
    if existing is not None:
        return existing
    stamp = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    signed = signing.sign_tree_head(key, size, stamp, root(conn, size))
    conn.execute(
        TreeHead.__table__.insert().values(  # type: ignore[attr-defined]
            tree_size=signed.size,
            root_hash=signed.root,
            timestamp_ms=signed.timestamp_ms,
            signature=signed.signature,
            key_id=signed.key_id,
        )
    )
    return signed


def entry_kind(conn: Connection, ref_id: str) -> str:
    """Whether an id names a disclosure, a recall or an approved proposal."""
    if conn.execute(
        select(Disclosure.disclosure_id).where(Disclosure.disclosure_id == ref_id)
    ).first():
        return "disclosure"
    if conn.execute(select(Recall.recall_id).where(Recall.recall_id == ref_id)).first():
        return "recall"
    if conn.execute(
        select(Proposal.proposal_id).where(
            Proposal.proposal_id == ref_id, Proposal.ledger_index.is_not(None)
        )
    ).first():
        return "governance"
    raise AccordError(f"no disclosure or recall has the id {ref_id!r}, nor an approved proposal")


def entry_content(conn: Connection, kind: str, ref_id: str) -> tuple[int, bytes]:
    """``(leaf index, canonical content)`` rebuilt from the disclosure or recall row."""
    if kind == "disclosure":
        row = conn.execute(select(Disclosure).where(Disclosure.disclosure_id == ref_id)).first()
        if row is None:
            raise AccordError(f"no disclosure {ref_id}")
        return int(row.ledger_index), content.disclosure_leaf(row)
    if kind == "recall":
        recall = conn.execute(select(Recall).where(Recall.recall_id == ref_id)).first()
        if recall is None:
            raise AccordError(f"no recall {ref_id}")
        return int(recall.ledger_index), content.recall_leaf(recall)
    if kind == "governance":
        change = conn.execute(select(*GOVERNANCE_ROW).where(Proposal.proposal_id == ref_id)).first()
        if change is None or change.ledger_index is None:
            raise AccordError(f"no approved proposal {ref_id}")
        return int(change.ledger_index), content.governance_leaf(change)
    raise AccordError(
        f"a ledger entry is a disclosure, a recall or a governance change, not {kind!r}"
    )


def proof_bundle(
    conn: Connection,
    kind: str,
    ref_id: str,
    *,
    key: Ed25519PrivateKey | Ed25519PublicKey | None = None,
) -> dict[str, Any]:
    """A self-contained proof that a disclosure (or recall) is in the signed ledger.

    The content is rebuilt from the disclosure's *current* row, so a row altered after
    the fact yields a bundle whose proof fails.  The proof is against the latest signed
    head; if that does not cover the entry yet and ``key`` is the private key, a head is
    signed first.  ``key`` defaults to the configured ledger key file.
    """
    if key is None:
        key = signing.load_key(keys.resolve(conn))
    leaf_index, leaf_content = entry_content(conn, kind, ref_id)
    signed = latest_head(conn)
    if signed is None or signed.size <= leaf_index:
        if not isinstance(key, Ed25519PrivateKey):
            raise AccordError(
                f"{kind} {ref_id} at leaf {leaf_index} is not yet covered by a signed tree "
                "head: sign one with `accord ledger head --sign`"
            )
        signed = sign_head(conn, key)
        if signed.size <= leaf_index:
            raise tree.damaged(f"{kind} {ref_id} points at leaf {leaf_index}, beyond the ledger")
    if signed.key_id != signing.key_id(key):
        raise AccordError(
            f"the latest tree head was signed by key {signed.key_id[:16]}…, "
            f"not by the given ledger key {signing.key_id(key)[:16]}…"
        )
    path = inclusion_proof(conn, leaf_index, signed.size)
    return bundle.make_bundle(
        kind, ref_id, leaf_index, leaf_content, path, signed, signing.public_key_pem(key)
    )


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    leaves: int
    disclosures: int
    recalls: int
    heads: int
    root: bytes  # recomputed from the leaf contents
    signatures_checked: bool
    problems: tuple[str, ...]  # in ledger order, the first MAX_PROBLEMS
    problem_count: int

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_problem(self) -> str | None:
        return self.problems[0] if self.problems else None


class _Problems:
    """Problems keyed by where in the ledger they are, so the first can be named."""

    def __init__(self) -> None:
        self.items: list[tuple[float, int, str]] = []
        self.count = 0

    def add(self, position: float, message: str) -> None:
        self.items.append((position, self.count, message))
        self.count += 1

    def merge(self, items: list[tuple[float, int, str]], count: int) -> None:
        self.items.extend((position, self.count + seq, m) for position, seq, m in items)
        self.count += count

    def trim(self) -> None:
        if len(self.items) > MAX_PROBLEMS:
            self.items = sorted(self.items)[:MAX_PROBLEMS]

    def messages(self) -> tuple[str, ...]:
        return tuple(m for _, _, m in sorted(self.items)[:MAX_PROBLEMS])


# One row per leaf with the disclosure and the recall that point at it (ledger_index is
# unique in both tables), so that each chunk of the ledger is a single indexed read.
_LEAF_ROWS_SQL = (
    "SELECT l.leaf_index, l.kind, l.ref_id, l.content, l.leaf_hash, "
    "d.disclosure_id, d.agreement_id, d.agreement_version, d.recipient, d.record_id, "
    "d.person_id, d.fields, d.match_probability, d.decided_by, d.disclosed_at, "
    "r.recall_id, r.disclosure_id, r.recipient, r.person_id, r.reason, r.recalled_at "
    "FROM ledger_leaves l "
    "LEFT JOIN disclosures d ON d.ledger_index = l.leaf_index "
    "LEFT JOIN recalls r ON r.ledger_index = l.leaf_index "
    "WHERE l.leaf_index > ? AND l.leaf_index <= ? ORDER BY l.leaf_index LIMIT ?"
)
# Approved proposals (governance leaves) are few: read once per verify, by leaf index, in
# content.GOVERNANCE_FIELDS order, rather than joined to every chunk of leaves.
_CHANGES_SQL = (
    "SELECT ledger_index, proposal_id, kind, register, agreement_id, result_version, "
    "pattern, model_id, labels, wrong, wrong_upper_per_10000, approved_by, decided_at "
    "FROM proposals WHERE ledger_index IS NOT NULL"
)
# An approved proposal whose leaf is missing, or is not its own governance leaf.
_MISPLACED_CHANGES_SQL = (
    "SELECT g.ledger_index, g.proposal_id, l.kind, l.ref_id FROM proposals g "
    "LEFT JOIN ledger_leaves l ON l.leaf_index = g.ledger_index "
    "WHERE g.ledger_index IS NOT NULL AND (l.leaf_index IS NULL "
    "OR l.kind <> 'governance' OR l.ref_id <> g.proposal_id) "
    "ORDER BY g.ledger_index LIMIT ?"
)
Changes = Mapping[int, Sequence[Any]]
# An approved proposal's leaf fields, by the names content.GOVERNANCE_FIELDS gives them.
GOVERNANCE_ROW = (
    Proposal.proposal_id,
    Proposal.kind,
    Proposal.register,
    Proposal.agreement_id,
    Proposal.result_version.label("agreement_version"),
    Proposal.pattern,
    Proposal.model_id,
    Proposal.labels,
    Proposal.wrong,
    Proposal.wrong_upper_per_10000,
    Proposal.approved_by,
    Proposal.decided_at.label("approved_at"),
    Proposal.ledger_index,
)
# A disclosure's status must agree with the recalls in the ledger: one set back to active
# after its recall would be served to its recipient again; one marked recalled with no
# recall never told its recipient.  Both read set-wise (recalls.disclosure_id is unique).
_UNRECALLED_SQL = (
    "SELECT r.ledger_index, d.disclosure_id, r.recall_id, d.status FROM recalls r "
    "JOIN disclosures d ON d.disclosure_id = r.disclosure_id "
    f"WHERE d.status <> {sql_word(DisclosureStatus.RECALLED)} ORDER BY r.ledger_index LIMIT ?"
)
_RECALLED_WITHOUT_RECALL_SQL = (
    "SELECT d.ledger_index, d.disclosure_id FROM disclosures d "
    f"WHERE d.status = {sql_word(DisclosureStatus.RECALLED)} "
    "AND NOT EXISTS (SELECT 1 FROM recalls r WHERE r.disclosure_id = d.disclosure_id) "
    "ORDER BY d.ledger_index LIMIT ?"
)
# A proposal takes effect only with its governance leaf: one approved without it made a
# change that no signed head records.
_APPROVED_UNRECORDED_SQL = (
    "SELECT proposal_id FROM proposals "
    f"WHERE status = {sql_word(ItemStatus.APPROVED)} AND ledger_index IS NULL "
    "ORDER BY proposal_id LIMIT ?"
)
_ORPHANS_SQL = (
    "SELECT t.ledger_index, t.{ident} FROM {table} t WHERE NOT EXISTS "
    "(SELECT 1 FROM ledger_leaves l WHERE l.leaf_index = t.ledger_index) "
    "ORDER BY t.ledger_index LIMIT ?"
)


def _stored_utc(value: Any) -> str:
    """A stored timestamp as :func:`content.utc_iso` spells it, read without SQLAlchemy.

    PostgreSQL hands back datetimes.  SQLite hands back text: the UTC spellings that
    SQLAlchemy and sqlite3 write (``YYYY-MM-DD HH:MM:SS[.ffffff][+00:00]``) map onto the
    ISO spelling directly; anything else is parsed exactly as SQLAlchemy would read it.
    """
    if isinstance(value, str):
        n = len(value)
        if n >= 19 and value[10] == " ":
            if n == 26 and value[19] == ".":
                return value[:10] + "T" + value[11:] + "Z"
            if n == 32 and value[19] == "." and value.endswith("+00:00"):
                return value[:10] + "T" + value[11:26] + "Z"
            if n == 25 and value.endswith("+00:00"):
                return value[:10] + "T" + value[11:19] + ".000000Z"
        assert _SQLITE_DATETIME is not None
        value = _SQLITE_DATETIME(value)
    return content.utc_iso(value)


def _stored_json(value: Any) -> Any:
    """A JSON column as read raw: text on SQLite, already parsed by psycopg."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("fields is not JSON") from None
    return value


def _rebuilt(kind: str, row: Sequence[Any]) -> bytes | str:
    """Leaf bytes rebuilt from the row of `_LEAF_ROWS_SQL`, or why they cannot be."""
    try:
        if kind == "disclosure":
            return content.disclosure_bytes(
                row[5], row[6], row[7], row[8], row[9], row[10], _stored_json(row[11]),
                row[12], row[13], _stored_utc(row[14]),
            )  # fmt: skip
        return content.recall_bytes(
            row[15], row[16], row[17], row[18], row[19], _stored_utc(row[20])
        )
    except (TypeError, ValueError) as exc:
        return str(exc)


def _changes(conn: Connection) -> dict[int, tuple[Any, ...]]:
    """Approved proposals by the index of their governance leaf (`_CHANGES_SQL`)."""
    return {int(r[0]): tuple(r[1:]) for r in transfer.rows(conn, _CHANGES_SQL)}


def _rebuilt_change(change: Sequence[Any]) -> bytes | str:
    """A governance leaf rebuilt from its proposal's row of `_CHANGES_SQL`, or why not."""
    try:
        return content.governance_bytes(
            change[0], change[1], change[2], change[3], change[4], change[5], change[6],
            change[7], change[8], change[9], change[10], _stored_utc(change[11]),
        )  # fmt: skip
    except (TypeError, ValueError) as exc:
        return str(exc)


def _check_rows(
    rows: list[Any],
    expected: int,
    problems: _Problems,
    pointed: dict[str, int],
    changes: Changes,
) -> tuple[list[bytes], int]:
    """Check one chunk of `_LEAF_ROWS_SQL` rows; their recomputed leaf hashes, next index.

    Set-based first: every row is hashed and, if it is a disclosure or recall leaf met
    by exactly its own row, re-encoded and compared, in comprehensions.  Only rows that
    fail that are looked at one by one to say what is wrong with them.
    """
    sha256 = hashlib.sha256
    try:
        hashes = [sha256(b"\x00" + bytes(r[3])).digest() for r in rows]
    except TypeError:  # text where bytes belong (SQLite lets it in): `_explain` names it
        hashes = [
            sha256(b"\x00" + c).digest() if (c := _blob(r[3])) is not None else b"" for r in rows
        ]
    pointed["disclosure"] += sum(1 for r in rows if r[5] is not None)
    pointed["recall"] += sum(1 for r in rows if r[15] is not None)
    suspects = [  # a governance leaf is always one: `_explain` checks it against `changes`
        i
        for i, (r, h) in enumerate(zip(rows, hashes, strict=True))
        if h != r[4]
        or not (
            (r[1] == "disclosure" and r[15] is None and r[5] == r[2])
            or (r[1] == "recall" and r[5] is None and r[15] == r[2])
        )
        or _rebuilt(r[1], r) != r[3]
    ]
    first, end = int(rows[0][0]), int(rows[-1][0]) + 1
    if first != expected or end - first != len(rows):  # a gap: find each one
        for r in rows:
            idx = int(r[0])
            if idx != expected:
                gap = f"leaf {expected} is missing"
                if idx > expected + 1:
                    gap = f"leaves {expected} to {idx - 1} are missing"
                problems.add(expected - 0.1, gap + " (removed, or the ledger renumbered)")
            expected = idx + 1
    for i in suspects:
        _explain(rows[i], hashes[i], problems, changes)
    return hashes, end


def _blob(value: Any) -> bytes | None:
    """A stored binary value as bytes, or None if something else is stored there.

    A SQLite column's affinity lets text (or a number) into a BLOB column, so a tampered
    file may hold one where a leaf's content or hash belongs: verify names it.
    """
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else None


def _what(value: Any) -> str:
    return "text" if isinstance(value, str) else type(value).__name__


def _explain(row: Sequence[Any], recomputed: bytes, problems: _Problems, changes: Changes) -> None:
    """Say what is wrong with one row of `_LEAF_ROWS_SQL` that failed the quick checks
    (and check a governance leaf, which always comes here, against its proposal)."""
    idx, kind, ref = int(row[0]), row[1], row[2]
    data, stored = _blob(row[3]), _blob(row[4])
    if data is None:
        problems.add(
            idx, f"leaf {idx} ({kind} {ref}) holds {_what(row[3])}, not bytes, as its content"
        )
        return
    if stored is None:
        problems.add(
            idx, f"leaf {idx} ({kind} {ref}) holds {_what(row[4])}, not bytes, as its hash"
        )
    elif recomputed != stored:
        problems.add(idx, f"leaf {idx} ({kind} {ref}) does not match its stored hash")
    d_id, r_id = row[5], row[15]
    if kind == "governance":
        _explain_change(idx, ref, data, d_id, r_id, changes.get(idx), problems)
        return
    if kind == "disclosure":
        mine, other, other_kind = d_id, r_id, "recall"
    elif kind == "recall":
        mine, other, other_kind = r_id, d_id, "disclosure"
    else:
        problems.add(idx, f"leaf {idx} records a {kind!r}, which is not a ledger kind")
        return
    if other is not None:
        problems.add(idx, f"{other_kind} {other} points at leaf {idx}, which records {kind} {ref}")
    if mine is None:
        if other is None:
            problems.add(
                idx,
                f"leaf {idx} records {kind} {ref}, but no {kind} row points at it "
                "(removed or moved)",
            )
        return
    if mine != ref:
        problems.add(
            idx,
            f"{kind} {mine} at leaf {idx} does not match its ledger leaf, "
            f"which records {kind} {ref}",
        )
        return
    rebuilt = _rebuilt(kind, row)
    if isinstance(rebuilt, str):
        problems.add(idx, f"{kind} {ref} at leaf {idx} cannot be encoded: {rebuilt}")
    elif rebuilt != data:
        problems.add(idx, f"{kind} {ref} at leaf {idx} does not match its ledger leaf")


def _explain_change(
    idx: int,
    ref: str,
    data: bytes,
    d_id: str | None,
    r_id: str | None,
    change: Sequence[Any] | None,
    problems: _Problems,
) -> None:
    """Check a governance leaf against the approved proposal that points at it."""
    for other_kind, other in (("disclosure", d_id), ("recall", r_id)):
        if other is not None:
            problems.add(idx, f"{other_kind} {other} points at leaf {idx}, which records "
                              f"governance {ref}")  # fmt: skip
    if change is None:
        if d_id is None and r_id is None:
            problems.add(
                idx,
                f"leaf {idx} records governance {ref}, but no approved proposal points at it "
                "(removed or moved)",
            )
        return
    if change[0] != ref:
        return  # named by `_MISPLACED_CHANGES_SQL`: the proposal points at another's leaf
    rebuilt = _rebuilt_change(change)
    if isinstance(rebuilt, str):
        problems.add(idx, f"governance {ref} at leaf {idx} cannot be encoded: {rebuilt}")
    elif rebuilt != data:
        problems.add(idx, f"governance {ref} at leaf {idx} does not match its ledger leaf")


@dataclass(frozen=True)
class _RangeResult:
    hashes: bytes  # recomputed leaf hashes, concatenated, in ledger order
    problems: list[tuple[float, int, str]]
    problem_count: int
    disclosures: int  # rows met at a leaf
    recalls: int
    expected: int  # one past the last index met


def _check_range(
    conn: Connection,
    lo: int,
    hi: int,
    problems: _Problems,
    pointed: dict[str, int],
    grow: Callable[[list[bytes]], None],
    changes: Changes,
) -> int:
    """Check the leaves with indexes in ``[lo, hi]`` chunk by chunk; one past the last met."""
    expected, last = lo, lo - 1
    with dialect_of(conn).sequential_read(conn):  # SQLite: memory-mapped
        while True:
            rows = transfer.rows(conn, _LEAF_ROWS_SQL, (last, hi, VERIFY_CHUNK))
            if not rows:
                return expected
            last = int(rows[-1][0])
            hashes, expected = _check_rows(rows, expected, problems, pointed, changes)
            grow(hashes)


def _close_range(expected: int, hi: int, problems: _Problems) -> None:
    if expected <= hi:  # the range ended before its last index: leaves removed there
        problems.add(
            expected - 0.1,
            f"leaves {expected} to {hi} are missing (removed, or the ledger renumbered)"
            if hi > expected
            else f"leaf {expected} is missing (removed, or the ledger renumbered)",
        )


def _verify_range(url: str, lo: int, hi: int) -> _RangeResult:
    """A worker process's share of `verify`: the row checks of ``[lo, hi]``."""
    engine = create_engine(url, poolclass=NullPool)
    problems = _Problems()
    pointed = {"disclosure": 0, "recall": 0}
    chunks: list[bytes] = []
    try:
        with engine.connect() as conn:
            expected = _check_range(
                conn, lo, hi, problems, pointed, lambda hs: chunks.append(b"".join(hs)),
                _changes(conn),
            )  # fmt: skip
    finally:
        engine.dispose()
    problems.trim()
    return _RangeResult(
        b"".join(chunks), sorted(problems.items)[:MAX_PROBLEMS], problems.count,
        pointed["disclosure"], pointed["recall"], expected,
    )  # fmt: skip


def _check_covered(size: int, all_heads: Sequence[SignedTreeHead], problems: _Problems) -> None:
    """Every leaf must be under a signed tree head: the leaves after the last one are named.

    Without this, deleting every head and then rewriting history consistently (leaf, row
    and subtree cache together), or appending entries after the last head, left nothing
    for the other checks to find.  Named after the leaf-by-leaf problems in that range.
    """
    covered = max((h.size for h in all_heads), default=0)
    if covered >= size:
        return
    span = f"leaf {covered} is" if size - covered == 1 else f"leaves {covered} to {size - 1} are"
    if not all_heads:
        problems.add(
            size,
            f"no signed tree head covers the ledger: {span} unsigned "
            "(every head removed, or none ever signed)",
        )
        return
    problems.add(
        size,
        f"{span} not covered by a signed tree head (the latest is at size {covered}): "
        "appended after it, or the heads over them removed",
    )


def _worker_url(conn: Connection) -> str | None:
    """The URL other processes can open the same database with, if there is one."""
    url = conn.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


def _split(count: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` index ranges ``(lo, hi)`` covering ``[0, count)``; fewer for small ledgers."""
    parts = max(1, min(parts, count // VERIFY_CHUNK))
    bounds = [count * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(parts)]


def verify(
    conn: Connection,
    key: Ed25519PublicKey | Ed25519PrivateKey | None = None,
    *,
    workers: int = 1,
) -> VerifyResult:
    """Recompute the whole ledger from the stored leaves and rows; report what differs.

    Checks, in ledger order: indexes contiguous from 0; every leaf hash recomputed from
    its content; every disclosure and recall row re-encoded and compared byte for byte
    with the leaf at its ``ledger_index`` (which must be of its kind and name it); every
    signed head's root against the root recomputed at its size, and its signature under
    ``key`` (the ledger's public key; without it signatures are not checked); every
    cached subtree against the leaves.  Rows or leaves altered, removed, reordered or
    inserted all surface as one of these.

    ``workers > 1`` checks the rows of later parts of the ledger in that many processes
    in all (this one included), each on its own connection: they read committed state,
    so use it on a connection with no uncommitted writes (as `accord verify` does).
    """
    problems = _Problems()
    public = signing.public_of(key) if key is not None else None
    trusted_id = signing.key_id(public) if public is not None else None
    all_heads = heads(conn)
    cache = {
        (int(level), int(index)): _what(h) if _blob(h) is None else bytes(h)
        for level, index, h in conn.execute(
            select(LedgerNode.level, LedgerNode.index, LedgerNode.hash)
        )
    }
    n_disclosures = int(conn.execute(select(func.count()).select_from(Disclosure)).scalar() or 0)
    n_recalls = int(conn.execute(select(func.count()).select_from(Recall)).scalar() or 0)
    changes = _changes(conn)

    def check_head(h: SignedTreeHead, recomputed: bytes) -> None:
        where = h.size - 0.5
        if h.root != recomputed:
            problems.add(
                where,
                f"the tree head signed at size {h.size} does not match the root recomputed "
                "from the leaves",
            )
        if public is not None:
            if h.key_id != trusted_id:
                problems.add(
                    where,
                    f"the tree head at size {h.size} was signed by key {h.key_id[:16]}…, "
                    f"not by the ledger key {str(trusted_id)[:16]}…",
                )
            elif not signing.verify_tree_head(h, public):
                problems.add(where, f"the tree head at size {h.size} has an invalid signature")

    def check_nodes(nodes: list[tuple[int, int, bytes]]) -> None:
        for level, index, h in nodes:
            stored = cache.pop((level, index), None)
            where = ((index + 1) << level) - 0.75
            if stored is None:
                problems.add(where, f"the subtree cache lacks level {level}, index {index}")
            elif isinstance(stored, str):
                problems.add(
                    where,
                    f"the cached subtree at level {level}, index {index} holds {stored}, not bytes",
                )
            elif stored != h:
                problems.add(
                    where,
                    f"the cached subtree at level {level}, index {index} does not match the leaves",
                )

    head_i = 0
    while head_i < len(all_heads) and all_heads[head_i].size == 0:
        check_head(all_heads[head_i], merkle.EMPTY_ROOT)
        head_i += 1

    frontier = merkle.CompactRange()

    def grow(hashes: list[bytes]) -> None:
        """Extend the recomputed tree, checking each head and cached subtree it reaches."""
        nonlocal head_i
        done = 0
        while done < len(hashes):
            stop = len(hashes)
            if head_i < len(all_heads):
                stop = min(stop, done + all_heads[head_i].size - frontier.size)
            check_nodes(frontier.extend(hashes[done:stop], emit_from=CACHE_LEVEL))
            done = stop
            while head_i < len(all_heads) and all_heads[head_i].size == frontier.size:
                check_head(all_heads[head_i], frontier.root())
                head_i += 1
        problems.trim()

    pointed = {"disclosure": 0, "recall": 0}  # rows found at an existing leaf
    top = tree_size(conn) - 1  # the highest stored index
    url = _worker_url(conn) if workers > 1 else None
    ranges = _split(top + 1, workers if url is not None else 1)
    with contextlib.ExitStack() as stack:
        futures: list[Future[_RangeResult]] = []
        if len(ranges) > 1:
            assert url is not None
            pool = stack.enter_context(
                ProcessPoolExecutor(len(ranges) - 1, mp_context=mp.get_context("spawn"))
            )
            futures = [pool.submit(_verify_range, url, lo, hi) for lo, hi in ranges[1:]]
        lo, hi = ranges[0]
        expected = _check_range(conn, lo, hi, problems, pointed, grow, changes)
        _close_range(expected, hi, problems)
        for future, (lo, hi) in zip(futures, ranges[1:], strict=True):
            try:
                result = future.result()
            except BrokenProcessPool:  # no worker could start (e.g. an unguarded __main__)
                expected = _check_range(conn, lo, hi, problems, pointed, grow, changes)
                _close_range(expected, hi, problems)
                continue
            problems.merge(result.problems, result.problem_count)
            pointed["disclosure"] += result.disclosures
            pointed["recall"] += result.recalls
            blob, width = result.hashes, merkle.HASH_SIZE
            grow([blob[i : i + width] for i in range(0, len(blob), width)])
            _close_range(result.expected, hi, problems)

    size = frontier.size
    for beyond in all_heads[head_i:]:
        problems.add(
            beyond.size - 0.5,
            f"a tree head was signed at size {beyond.size}, but the ledger has only {size} leaves",
        )
    _check_covered(size, all_heads, problems)
    totals = {"disclosure": n_disclosures, "recall": n_recalls}
    for kind, table, ident in (
        ("disclosure", "disclosures", "disclosure_id"),
        ("recall", "recalls", "recall_id"),
    ):
        if pointed[kind] == totals[kind]:
            continue  # every row was met at its leaf
        orphans = transfer.rows(
            conn, _ORPHANS_SQL.format(ident=ident, table=table), (MAX_PROBLEMS,)
        )
        for idx, ref in orphans:
            problems.add(int(idx), f"{kind} {ref} points at leaf {idx}, which does not exist")
    for idx, disclosure_id, recall_id, status in transfer.rows(
        conn, _UNRECALLED_SQL, (MAX_PROBLEMS,)
    ):
        problems.add(
            int(idx),
            f"disclosure {disclosure_id} was recalled (recall {recall_id} at leaf {idx}) but is "
            f"marked {status}: it would be served to its recipient again",
        )
    for idx, proposal_id, kind, ref in transfer.rows(conn, _MISPLACED_CHANGES_SQL, (MAX_PROBLEMS,)):
        problems.add(
            int(idx),
            f"governance {proposal_id} points at leaf {idx}, which "
            + ("does not exist" if kind is None else f"records {kind} {ref}"),
        )
    for (proposal_id,) in transfer.rows(conn, _APPROVED_UNRECORDED_SQL, (MAX_PROBLEMS,)):
        problems.add(
            size,
            f"proposal {proposal_id} is marked approved, but its change is not in the ledger",
        )
    for idx, disclosure_id in transfer.rows(conn, _RECALLED_WITHOUT_RECALL_SQL, (MAX_PROBLEMS,)):
        problems.add(  # after the leaves: a recall row removed is named at its leaf first
            size,
            f"disclosure {disclosure_id} at leaf {idx} is marked recalled, but no recall of it "
            "is in the ledger",
        )
    for level, index in sorted(cache):
        problems.add(
            ((index + 1) << level) - 0.75,
            f"the subtree cache holds level {level}, index {index}, beyond the ledger's leaves",
        )
    return VerifyResult(
        leaves=size,
        disclosures=n_disclosures,
        recalls=n_recalls,
        heads=len(all_heads),
        root=frontier.root(),
        signatures_checked=public is not None,
        problems=problems.messages(),
        problem_count=problems.count,
    )
