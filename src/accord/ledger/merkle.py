"""RFC 6962 Merkle tree hashing, roots, proofs and their verification: pure, no I/O.

The tree is Certificate Transparency's (RFC 6962 section 2.1, restated in RFC 9162
section 2.1): SHA-256, a leaf hashed as ``SHA-256(0x00 || data)`` and an interior node as
``SHA-256(0x01 || left || right)``, so that a leaf can never pass for a node.  A tree of
``n`` leaves splits at the largest power of two below ``n``; every subtree that such a
split produces is either *complete* (``2**level`` leaves starting at a multiple of
``2**level``, named ``(level, index)``) or a right edge made of complete subtrees of
decreasing size.  Proofs are therefore computed here from an oracle that returns the
hash of a complete subtree, so that the database-backed log can answer from its cache
of complete subtrees while tests and small logs answer from memory.

Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 exactly, and also refuses
hashes that are not 32 bytes long, as Certificate Transparency's verifiers do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = tuple[int, int]  # (level, index): leaves [index * 2**level, (index + 1) * 2**level)
SubtreeOracle = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def leaf_hashes(contents: Iterable[bytes]) -> list[bytes]:
    """Leaf hashes of many entries in one pass (the hashing itself runs in C)."""
    sha256 = hashlib.sha256
    return [sha256(LEAF_PREFIX + c).digest() for c in contents]


def parent_hashes(level: Sequence[bytes]) -> list[bytes]:
    """Hashes of the complete pairs of one level; an unpaired last node is left out."""
    sha256 = hashlib.sha256
    it = iter(level)
    return [sha256(NODE_PREFIX + a + b).digest() for a, b in zip(it, it, strict=False)]


def split_point(n: int) -> int:
    """The largest power of two strictly below ``n`` (RFC 6962's ``k``), for ``n > 1``."""
    if n < 2:
        raise ValueError(f"a tree of {n} leaves does not split")
    return 1 << ((n - 1).bit_length() - 1)


def decompose(start: int, end: int) -> list[Subtree]:
    """The complete subtrees, left to right, whose right fold is ``MTH(D[start:end])``.

    Valid for the ranges RFC 6962's recursion produces, where ``start`` is a multiple of
    the largest power of two not above ``end - start``.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative range [{start}, {end})")
    out: list[Subtree] = []
    while start < end:
        size = end - start
        width = size if size & (size - 1) == 0 else split_point(size)
        level = width.bit_length() - 1
        if start % width:
            raise ValueError(f"range [{start}, {end}) is not one RFC 6962 builds")
        out.append((level, start >> level))
        start += width
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold of subtree hashes, left to right: ``H(h0, H(h1, ... hn))``."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make the audit path ``PATH(index, D[size])``, bottom up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    top_down: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            top_down.append((lo + k, hi))
            hi = lo + k
        else:
            top_down.append((lo, lo + k))
            lo += k
    top_down.reverse()
    return top_down


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make ``PROOF(first, D[second])`` (RFC 6962 2.1.2)."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} leaves to {second}")
    if first in (0, second):
        return []
    top_down: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, second, first, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                top_down.append((lo, hi))
            break
        k = split_point(n)
        if m <= k:
            top_down.append((lo + k, hi))
            hi = lo + k
        else:
            top_down.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    top_down.reverse()
    return top_down


def range_hash(start: int, end: int, subtree: SubtreeOracle) -> bytes:
    return fold([subtree(level, index) for level, index in decompose(start, end)])


def inclusion_proof(index: int, size: int, subtree: SubtreeOracle) -> list[bytes]:
    return [range_hash(a, b, subtree) for a, b in inclusion_ranges(index, size)]


def consistency_proof(first: int, second: int, subtree: SubtreeOracle) -> list[bytes]:
    return [range_hash(a, b, subtree) for a, b in consistency_ranges(first, second)]


def complete_levels(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every complete subtree of a list of leaf hashes, level by level (level 0 = the leaves)."""
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        levels.append(parent_hashes(levels[-1]))
    return levels


def complete_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a complete subtree given its leaf hashes (a power-of-two count)."""
    n = len(hashes)
    if n == 0 or n & (n - 1):
        raise ValueError(f"{n} leaves do not make a complete subtree")
    level = list(hashes)
    while len(level) > 1:
        level = parent_hashes(level)
    return level[0]


class MerkleTree:
    """An in-memory RFC 6962 tree over leaf hashes: the reference for small logs and tests."""

    def __init__(self, hashes: Sequence[bytes] = ()) -> None:
        self.levels = complete_levels(hashes)

    @classmethod
    def of_entries(cls, entries: Iterable[bytes]) -> MerkleTree:
        return cls(leaf_hashes(entries))

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def subtree(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"no tree of {size} leaves in a log of {self.size}")
        return range_hash(0, size, self.subtree) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else size, self.subtree)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, self.size if second is None else second, self.subtree)


class CompactRange:
    """The complete subtrees that make up a tree of ``size`` leaves, one per set bit of size.

    This is all the state needed to append leaves and know the new root, so the log keeps
    appends and verification streaming: ``extend`` hashes a batch level by level (one
    comprehension per level, not a loop per leaf) and reports every complete subtree it
    finishes from ``emit_from`` upwards, which is how the subtree cache is filled.
    """

    def __init__(self, size: int = 0, nodes: dict[int, bytes] | None = None) -> None:
        self.size = size
        self.nodes: dict[int, bytes] = dict(nodes or {})
        want = {j for j in range(size.bit_length()) if size >> j & 1}
        if set(self.nodes) != want:
            raise ValueError(f"a compact range of {size} leaves needs levels {sorted(want)}")

    def extend(
        self, hashes: Sequence[bytes], emit_from: int | None = None
    ) -> list[tuple[int, int, bytes]]:
        """Append leaf hashes; return ``(level, index, hash)`` of finished subtrees >= emit_from."""
        emitted: list[tuple[int, int, bytes]] = []
        if not hashes:
            return emitted
        start = self.size
        new_size = start + len(hashes)
        leftover: dict[int, bytes] = {}
        current: list[bytes] = list(hashes)
        level = 0
        while current:
            first = start >> level
            if emit_from is not None and level >= emit_from:
                emitted.extend((level, first + i, h) for i, h in enumerate(current))
            if first & 1:
                current.insert(0, self.nodes[level])
            if len(current) & 1:
                leftover[level] = current[-1]
            current = parent_hashes(current)
            level += 1
        self.nodes = {
            j: leftover[j] if j in leftover else self.nodes[j]
            for j in range(new_size.bit_length())
            if new_size >> j & 1
        }
        self.size = new_size
        return emitted

    def root(self) -> bytes:
        return fold([self.nodes[j] for j in sorted(self.nodes, reverse=True)])


def _valid_hash(h: object) -> bool:
    return isinstance(h, bytes) and len(h) == HASH_SIZE


def root_from_inclusion_proof(
    leaf: bytes, index: int, size: int, path: Sequence[bytes]
) -> bytes | None:
    """The root an audit path leads to (RFC 9162 2.1.3.2), or None if it cannot be one."""
    if not 0 <= index < size or not _valid_hash(leaf) or not all(map(_valid_hash, path)):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves that ``leaf`` (a leaf hash) is entry ``index`` of the tree."""
    return _valid_hash(root) and root_from_inclusion_proof(leaf, index, size, path) == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """Whether ``path`` proves the tree of ``second`` leaves extends that of ``first``.

    RFC 9162 2.1.4.2, with the trivial cases as Certificate Transparency treats them:
    equal sizes need equal roots and an empty proof; an empty first tree is consistent
    with every tree and needs an empty proof.
    """
    if not (_valid_hash(first_root) and _valid_hash(second_root)):
        return False
    if not 0 <= first <= second or not all(map(_valid_hash, path)):
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
