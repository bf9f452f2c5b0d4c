"""The ledger's Merkle tree as stored, read back: its size, roots and proofs.

Leaves live in ``ledger_leaves`` (index, kind, id, canonical content, leaf hash);
``ledger_nodes`` caches the hash of every complete subtree of ``2**CACHE_LEVEL`` leaves
or more, and a node never changes once its subtree is complete.  Below that level hashes
are recomputed from at most one block of ``2**CACHE_LEVEL`` stored leaf hashes, which
keeps the cache about 1/32 of the leaf count while a proof at ten million leaves still
needs only three indexed reads, issued on the DBAPI cursor (:func:`accord.store.transfer.rows`):
going around SQLAlchemy's statement construction keeps a proof at ten million leaves well
under 5 ms.

Reading only: :mod:`accord.ledger.log` appends, signs and verifies (and so imports
this), :mod:`accord.ledger.publish` reads the roots and proofs it publishes from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from accord.errors import AccordError, CheckFailed
from accord.ledger import merkle
from accord.store import transfer

CACHE_LEVEL = 6
BLOCK = 1 << CACHE_LEVEL
_NODE_QUERY_CHUNK = 300


def damaged(what: str) -> CheckFailed:
    """The error of a ledger whose stored rows contradict each other."""
    return CheckFailed(f"the ledger is damaged: {what}; run `accord verify` for details")


def _size(conn: Connection) -> int:
    last = transfer.rows(conn, "SELECT max(leaf_index) FROM ledger_leaves")[0][0]
    return 0 if last is None else int(last) + 1


def tree_size(conn: Connection) -> int:
    """How many leaves the ledger holds (indexes run from 0; `verify` checks they do)."""
    return _size(conn)


def leaf_hashes(conn: Connection, start: int, end: int) -> list[bytes]:
    """Stored leaf hashes of ``[start, end)``, which must all be there."""
    if start >= end:
        return []
    rows = transfer.rows(
        conn,
        "SELECT leaf_index, leaf_hash FROM ledger_leaves "
        "WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index",
        (start, end),
    )
    if len(rows) != end - start or (rows and rows[-1][0] != end - 1):
        raise damaged(f"leaves {start} to {end - 1} are not all stored")
    return [bytes(r[1]) for r in rows]


def _cached(conn: Connection, wanted: Iterable[merkle.Subtree]) -> dict[merkle.Subtree, bytes]:
    keys = sorted(set(wanted))
    found: dict[merkle.Subtree, bytes] = {}
    for i in range(0, len(keys), _NODE_QUERY_CHUNK):
        chunk = keys[i : i + _NODE_QUERY_CHUNK]
        # (level = ? AND index = ?) OR ...: each term is a primary-key lookup on both
        # backends (SQLite scans the table for a row-value IN list instead).
        terms = " OR ".join(['(level = ? AND "index" = ?)'] * len(chunk))
        params = [v for key in chunk for v in key]
        sql = f'SELECT level, "index", hash FROM ledger_nodes WHERE {terms}'
        for level, index, h in transfer.rows(conn, sql, params):
            found[(int(level), int(index))] = bytes(h)
    missing = [k for k in keys if k not in found]
    if missing:
        level, index = missing[0]
        raise damaged(f"the subtree cache lacks level {level}, index {index}")
    return found


def _subtree_hashes(
    conn: Connection, wanted: Iterable[merkle.Subtree]
) -> dict[merkle.Subtree, bytes]:
    """Hashes of complete subtrees: from the cache, or from one block of leaves below it."""
    wanted = set(wanted)
    high = [s for s in wanted if s[0] >= CACHE_LEVEL]
    out = _cached(conn, high) if high else {}
    low = [s for s in wanted if s[0] < CACHE_LEVEL]
    blocks: dict[int, int] = {}  # block -> one past the last leaf needed in it
    for level, index in low:
        end = (index + 1) << level
        block = (index << level) >> CACHE_LEVEL
        blocks[block] = max(blocks.get(block, 0), end)
    for block, end in blocks.items():
        start = block << CACHE_LEVEL
        hashes = leaf_hashes(conn, start, end)
        levels = merkle.complete_levels(hashes)
        for level, index in low:
            first = index << level
            if start <= first < end:
                out[(level, index)] = levels[level][(first - start) >> level]
    return out


def range_hashes(conn: Connection, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    parts = [merkle.decompose(a, b) for a, b in ranges]
    known = _subtree_hashes(conn, (s for p in parts for s in p))
    return [merkle.fold([known[s] for s in p]) for p in parts]


def frontier(conn: Connection, size: int) -> merkle.CompactRange:
    """The compact range of the first ``size`` leaves, to append after them."""
    base = size & ~(BLOCK - 1)
    high = {(j, (size >> j) - 1) for j in range(CACHE_LEVEL, size.bit_length()) if size >> j & 1}
    known = _cached(conn, high) if high else {}
    compact = merkle.CompactRange(base, {level: h for (level, _), h in known.items()})
    compact.extend(leaf_hashes(conn, base, size))
    return compact


def root(conn: Connection, size: int | None = None) -> bytes:
    """Root of the first ``size`` leaves (default: all of them)."""
    current = tree_size(conn)
    size = current if size is None else size
    if not 0 <= size <= current:
        raise AccordError(f"the ledger has {current} leaves, so it has no tree of {size}")
    return range_hashes(conn, [(0, size)])[0] if size else merkle.EMPTY_ROOT


def inclusion_proof(conn: Connection, leaf_index: int, tree_size: int) -> list[bytes]:
    """RFC 6962 audit path of a leaf in the tree of ``tree_size`` leaves, bottom up."""
    current = _size(conn)
    if not 0 <= leaf_index < tree_size <= current:
        raise AccordError(
            f"no inclusion proof of leaf {leaf_index} in a tree of {tree_size}: "
            f"the ledger has {current} leaves"
        )
    return range_hashes(conn, merkle.inclusion_ranges(leaf_index, tree_size))


def consistency_proof(conn: Connection, first: int, second: int) -> list[bytes]:
    """RFC 6962 proof that the tree of ``second`` leaves extends the tree of ``first``."""
    current = tree_size(conn)
    if not 0 <= first <= second <= current:
        raise AccordError(
            f"no consistency proof from {first} to {second} leaves: the ledger has {current} leaves"
        )
    return range_hashes(conn, merkle.consistency_ranges(first, second))
