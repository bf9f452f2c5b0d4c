"""RFC 6962 hashing and proofs against Certificate Transparency's published test vectors.

The vectors are those of the reference implementations (certificate-transparency's
merkle_tree_test.cc, carried into transparency-dev/merkle's proof/verify_test.go): eight
leaves, the root of every prefix, and known inclusion and consistency proofs.  Their
leaf numbers are 1-based; ours are 0-based.  The corruptions are the ones those tests
apply to every proof, each of which must make it fail.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.ledger import merkle

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

# (1-based leaf, tree size, audit path)
INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (first size, second size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip

TREE = merkle.MerkleTree.of_entries(LEAVES)


def _hexes(path: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in path]


def test_hashes_are_domain_separated_sha256() -> None:
    assert merkle.EMPTY_ROOT.hex() == EMPTY
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.leaf_hash(b"") == ROOTS[0]  # a one-leaf tree's root is its leaf hash
    assert (
        merkle.node_hash(b"a" * 32, b"b" * 32)
        == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_every_prefix_match_the_reference(size: int) -> None:
    assert TREE.root(size) == ROOTS[size - 1]
    streamed = merkle.CompactRange()
    streamed.extend(merkle.leaf_hashes(LEAVES[:size]))
    assert streamed.root() == ROOTS[size - 1]


def test_the_empty_tree() -> None:
    assert merkle.MerkleTree().root() == merkle.EMPTY_ROOT
    assert merkle.CompactRange().root() == merkle.EMPTY_ROOT


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(leaf: int, size: int, path: list[str]) -> None:
    proof = TREE.inclusion_proof(leaf - 1, size)
    assert proof == _hexes(path)
    assert merkle.verify_inclusion(
        merkle.leaf_hash(LEAVES[leaf - 1]), leaf - 1, size, proof, ROOTS[size - 1]
    )


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(first: int, second: int, path: list[str]) -> None:
    proof = TREE.consistency_proof(first, second)
    assert proof == _hexes(path)
    assert merkle.verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], proof)


def _inclusion_corruptions(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    probes = [
        ("index - 1", (leaf, index - 1, size, proof, root)),
        ("index + 1", (leaf, index + 1, size, proof, root)),
        ("index ^ 2", (leaf, index ^ 2, size, proof, root)),
        ("size * 2", (leaf, index, size * 2, proof, root)),
        ("size // 2", (leaf, index, size // 2, proof, root)),
        ("wrong leaf", (b"WrongLeaf", index, size, proof, root)),
        ("empty root", (leaf, index, size, proof, bytes.fromhex(EMPTY))),
        ("random root", (leaf, index, size, proof, SOME_HASH)),
        ("trailing garbage", (leaf, index, size, [*proof, b""], root)),
        ("trailing root", (leaf, index, size, [*proof, root], root)),
        ("preceding garbage", (leaf, index, size, [b"", *proof], root)),
        ("preceding root", (leaf, index, size, [root, *proof], root)),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((f"proof[{i}] bit 3 flipped", (leaf, index, size, wrong, root)))
    if proof:
        probes.append(("removed component", (leaf, index, size, proof[:-1], root)))
    if len(proof) > 1:
        probes.append(
            ("inserted component", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root))
        )
    return probes


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_every_corrupted_inclusion_proof_fails(leaf: int, size: int, path: list[str]) -> None:
    h = merkle.leaf_hash(LEAVES[leaf - 1])
    for name, args in _inclusion_corruptions(leaf - 1, size, _hexes(path), ROOTS[size - 1], h):
        assert not merkle.verify_inclusion(*args), name


def test_inclusion_in_impossible_trees_fails() -> None:
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not merkle.verify_inclusion(SOME_HASH, index, size, [], b"")
        assert not merkle.verify_inclusion(b"", index, size, [], bytes.fromhex(EMPTY))
        assert not merkle.verify_inclusion(SOME_HASH, index, size, [], bytes.fromhex(EMPTY))
    data = merkle.leaf_hash(b"data")
    assert merkle.verify_inclusion(data, 0, 1, [], data)
    assert not merkle.verify_inclusion(b"", 0, 1, [], data)
    assert not merkle.verify_inclusion(data, 0, 1, [], b"")


def _consistency_corruptions(
    first: int, second: int, r1: bytes, r2: bytes, proof: list[bytes]
) -> list[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]]:
    probes = [
        ("first - 1", (first - 1, second, r1, r2, proof)),
        ("first + 1", (first + 1, second, r1, r2, proof)),
        ("first ^ 2", (first ^ 2, second, r1, r2, proof)),
        ("second * 2", (first, second * 2, r1, r2, proof)),
        ("second // 2", (first, second // 2, r1, r2, proof)),
        ("wrong first root", (first, second, b"WrongRoot", r2, proof)),
        ("wrong second root", (first, second, r1, b"WrongRoot", proof)),
        ("swapped roots", (first, second, r2, r1, proof)),
        ("empty proof", (first, second, r1, r2, [])),
        ("trailing garbage", (first, second, r1, r2, [*proof, b""])),
        ("trailing first root", (first, second, r1, r2, [*proof, r1])),
        ("trailing second root", (first, second, r1, r2, [*proof, r2])),
        ("preceding garbage", (first, second, r1, r2, [b"", *proof])),
        ("preceding first root", (first, second, r1, r2, [r1, *proof])),
        ("preceding second root", (first, second, r1, r2, [r2, *proof])),
        ("preceding proof[0]", (first, second, r1, r2, [proof[0], *proof])),
        ("truncated", (first, second, r1, r2, proof[:-1])),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((f"proof[{i}] bit 4 flipped", (first, second, r1, r2, wrong)))
    return probes


@pytest.mark.parametrize(("first", "second", "path"), [c for c in CONSISTENCY if c[2]])
def test_every_corrupted_consistency_proof_fails(first: int, second: int, path: list[str]) -> None:
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    for name, args in _consistency_corruptions(first, second, r1, r2, _hexes(path)):
        assert not merkle.verify_consistency(*args), name


def test_trivial_consistency_cases() -> None:
    a, b = SOME_HASH, merkle.leaf_hash(b"other")
    empty = bytes.fromhex(EMPTY)
    assert merkle.verify_consistency(0, 0, a, a, [])
    assert merkle.verify_consistency(0, 1, a, b, [])
    assert merkle.verify_consistency(1, 1, b, b, [])
    assert not merkle.verify_consistency(0, 0, a, b, [])  # equal sizes, different roots
    assert not merkle.verify_consistency(1, 1, a, b, [])
    assert not merkle.verify_consistency(1, 0, a, b, [])  # time travel
    assert not merkle.verify_consistency(2, 1, a, b, [])
    assert not merkle.verify_consistency(1, 2, a, b, [])  # a real step needs a proof
    for first, second in [(0, 0), (0, 1), (1, 1)]:
        assert not merkle.verify_consistency(first, second, empty, empty, [empty])


def test_ranges_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(4, 3)
    with pytest.raises(ValueError):
        merkle.decompose(1, 3)  # [1, 3) is not a range RFC 6962 ever builds
    with pytest.raises(ValueError):
        merkle.CompactRange(3, {0: SOME_HASH})  # 3 leaves need levels 0 and 1


def _flip(path: list[bytes], i: int, bit: int) -> list[bytes]:
    out = list(path)
    out[i] = (
        out[i][: bit // 8] + bytes([out[i][bit // 8] ^ (1 << bit % 8)]) + out[i][bit // 8 + 1 :]
    )
    return out


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size=st.integers(1, 700))
def test_every_inclusion_proof_verifies_and_a_tampered_one_fails(
    data: st.DataObject, size: int
) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tree = merkle.MerkleTree(hashes)
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index)
    root = tree.root()
    assert merkle.root_from_inclusion_proof(hashes[index], index, size, proof) == root
    assert merkle.verify_inclusion(hashes[index], index, size, proof, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        assert not merkle.verify_inclusion(hashes[index], index, size, _flip(proof, i, bit), root)
        assert not merkle.verify_inclusion(hashes[index], index, size, proof[:-1], root)
    other = data.draw(st.integers(0, size - 1))
    if hashes[other] != hashes[index]:
        assert not merkle.verify_inclusion(hashes[other], index, size, proof, root)
    assert not merkle.verify_inclusion(hashes[index], index, size, [*proof, root], root)
    assert not merkle.verify_inclusion(hashes[index], index, size, proof, merkle.EMPTY_ROOT)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), second=st.integers(1, 700))
def test_every_consistency_proof_verifies_and_a_tampered_one_fails(
    data: st.DataObject, second: int
) -> None:
    tree = merkle.MerkleTree([merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(second)])
    first = data.draw(st.integers(1, second))
    proof = tree.consistency_proof(first, second)
    r1, r2 = tree.root(first), tree.root(second)
    assert merkle.verify_consistency(first, second, r1, r2, proof)
    if first < second:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        assert not merkle.verify_consistency(first, second, r1, r2, _flip(proof, i, bit))
        assert not merkle.verify_consistency(first, second, r2, r1, proof)
        assert not merkle.verify_consistency(first, second, r1, r2, proof[:-1])
        assert not merkle.verify_consistency(first, second, r1, r2, [*proof, r2])


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, 300), max_size=6), level=st.integers(0, 4))
def test_appending_in_any_batches_gives_the_same_tree_and_every_finished_subtree(
    cuts: list[int], level: int
) -> None:
    total = sum(cuts)
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(total)]
    reference = merkle.MerkleTree(hashes)
    streamed = merkle.CompactRange()
    emitted: dict[tuple[int, int], bytes] = {}
    done = 0
    for n in cuts:
        for lvl, index, h in streamed.extend(hashes[done : done + n], emit_from=level):
            assert (lvl, index) not in emitted
            emitted[(lvl, index)] = h
        done += n
        assert streamed.root() == reference.root(done)
    expected = {
        (lvl, i): h
        for lvl, row in enumerate(reference.levels)
        if lvl >= level
        for i, h in enumerate(row)
    }
    assert emitted == expected


@settings(max_examples=40, deadline=None)
@given(entries=st.lists(st.binary(max_size=40), min_size=1, max_size=300))
def test_roots_agree_with_pymerkle_an_independent_rfc6962_implementation(
    entries: list[bytes],
) -> None:
    from pymerkle import InmemoryTree  # type: ignore[import-untyped]

    theirs = InmemoryTree()
    theirs.append_entries(entries)
    ours = merkle.MerkleTree.of_entries(entries)
    for size in {1, len(entries) // 2 or 1, len(entries)}:
        assert ours.root(size) == theirs.get_root(size)
