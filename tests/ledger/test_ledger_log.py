"""The database-backed ledger: appends, proofs, signed heads, bundles and verification.

Every test runs on SQLite and, with ``--db=both``, on PostgreSQL.  The tampering tests
change the stored state the way someone with write access to the database could, and
check that `verify` names the first thing that no longer adds up.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, func, insert, select, update

from accord.errors import AccordError
from accord.ledger import bundle, content, log, merkle, signing
from accord.store import db
from accord.store.models import Disclosure, LedgerLeaf, LedgerNode, Recall, TreeHead

AT = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)
KEY = Ed25519PrivateKey.generate()
D_COLS = (
    "disclosure_id", "run_id", "agreement_id", "agreement_version", "recipient", "record_id",
    "person_id", "match_probability", "match_id", "decided_by", "fields", "disclosed_at",
    "ledger_index", "status",
)  # fmt: skip
R_COLS = (
    "recall_id", "disclosure_id", "recipient", "person_id", "reason", "event_id", "recalled_at",
    "remedy_status", "ledger_index",
)  # fmt: skip


def disclose(conn: Connection, numbers: range) -> list[int]:
    """Disclosures D-<n> with their leaves, the way `accord run` records them."""
    rows: list[dict[str, Any]] = [
        {
            "disclosure_id": f"D-{n}", "run_id": "run-1", "agreement_id": "home-office-to-dvla",
            "agreement_version": 1 + n % 2, "recipient": "dvla" if n % 3 else "hmrc",
            "record_id": f"REC-{n}", "person_id": f"P-{n}", "match_probability": 0.999 + n * 1e-7,
            "match_id": None, "decided_by": "rule:automatic" if n % 5 else "alice, bob",
            "fields": {"family_name": f"Ó Súilleabháin {n}", "given_names": "Zoë"},
            "disclosed_at": AT + dt.timedelta(seconds=n, microseconds=n), "status": "active",
        }
        for n in numbers
    ]  # fmt: skip
    leaves = [("disclosure", r["disclosure_id"], content.disclosure_leaf(r)) for r in rows]
    indexes = log.append(conn, leaves)
    for r, i in zip(rows, indexes, strict=True):
        r["ledger_index"] = i
    db.bulk_insert(conn, Disclosure.__table__, D_COLS, [tuple(r[c] for c in D_COLS) for r in rows])  # type: ignore[arg-type]
    return indexes


def recall(conn: Connection, numbers: list[int]) -> list[int]:
    rows: list[dict[str, Any]] = [
        {
            "recall_id": f"R-{n}", "disclosure_id": f"D-{n}",
            "recipient": "dvla" if n % 3 else "hmrc", "person_id": f"P-{n}",
            "reason": "decision_overturned", "event_id": None,
            "recalled_at": AT + dt.timedelta(days=1, seconds=n), "remedy_status": "none_needed",
        }
        for n in numbers
    ]  # fmt: skip
    indexes = log.append(conn, [("recall", r["recall_id"], content.recall_leaf(r)) for r in rows])
    for r, i in zip(rows, indexes, strict=True):
        r["ledger_index"] = i
    db.bulk_insert(conn, Recall.__table__, R_COLS, [tuple(r[c] for c in R_COLS) for r in rows])  # type: ignore[arg-type]
    recalled = [f"D-{n}" for n in numbers]  # as remedy.recall_people marks them
    conn.execute(
        update(Disclosure).where(Disclosure.disclosure_id.in_(recalled)).values(status="recalled")
    )
    return indexes


SIZE = 302  # 300 disclosures, then 2 recalls: more than one cached subtree of 256 leaves


@pytest.fixture
def ledger(db_url: str) -> Iterator[str]:
    """A ledger of 300 disclosures and 2 recalls, with heads signed at 10, 260 and 302."""
    with db.connect(db_url) as conn:
        disclose(conn, range(10))
        log.sign_head(conn, KEY)
    with db.connect(db_url) as conn:
        disclose(conn, range(10, 260))
        log.sign_head(conn, KEY)
    with db.connect(db_url) as conn:
        disclose(conn, range(260, 300))
        recall(conn, [3, 20])
        log.sign_head(conn, KEY)
    yield db_url


def _contents(conn: Connection) -> list[bytes]:
    return [
        bytes(c)
        for c in conn.execute(select(LedgerLeaf.content).order_by(LedgerLeaf.leaf_index)).scalars()
    ]


def test_appends_in_batches_give_rfc6962_roots_and_proofs(db_url: str) -> None:
    rng = random.Random(7)
    batches = [1, 2, 5, 248, 1, 300, 0, 17, 700, 3]
    with db.connect(db_url) as conn:
        done = 0
        for n in batches:
            leaves = [
                ("disclosure", f"D-{done + i}", f"leaf {done + i}".encode()) for i in range(n)
            ]
            assert log.append(conn, leaves) == list(range(done, done + n))
            done += n
        tree = merkle.MerkleTree.of_entries(_contents(conn))
        assert tree.size == log.tree_size(conn) == sum(batches)
        assert log.root(conn) == tree.root()
        for _ in range(150):
            size = rng.randint(1, tree.size)
            index = rng.randint(0, size - 1)
            first = rng.randint(0, size)
            assert log.root(conn, size) == tree.root(size)
            assert log.inclusion_proof(conn, index, size) == tree.inclusion_proof(index, size)
            assert log.consistency_proof(conn, first, size) == tree.consistency_proof(first, size)
        cached = conn.execute(select(func.count()).select_from(LedgerNode)).scalar()
        assert cached == sum(len(level) for level in tree.levels[log.CACHE_LEVEL :])


def test_an_append_rolled_back_leaves_nothing(db_url: str) -> None:
    with db.connect(db_url) as conn:
        disclose(conn, range(5))
    with pytest.raises(RuntimeError), db.connect(db_url) as conn:
        disclose(conn, range(5, 600))
        raise RuntimeError("crash after the append, before the commit")
    with db.connect(db_url) as conn:
        assert log.tree_size(conn) == 5
        assert conn.execute(select(func.count()).select_from(LedgerNode)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(Disclosure)).scalar() == 5
        disclose(conn, range(5, 600))
        log.sign_head(conn, KEY)
    with db.connect(db_url) as conn:
        assert log.verify(conn, KEY).ok


def test_concurrent_appenders_never_share_an_index(db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(prefix: str) -> None:
        try:
            barrier.wait()
            with db.connect(db_url) as conn:
                log.append(
                    conn,
                    [("disclosure", f"{prefix}{i}", f"{prefix}{i}".encode()) for i in range(300)],
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("A-", "B-")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.connect(db_url) as conn:
        refs = (
            conn.execute(select(LedgerLeaf.ref_id).order_by(LedgerLeaf.leaf_index)).scalars().all()
        )
        assert log.tree_size(conn) == 600 and len(set(refs)) == 600
        assert refs[:300] in ([f"A-{i}" for i in range(300)], [f"B-{i}" for i in range(300)])
        assert log.root(conn) == merkle.MerkleTree.of_entries(_contents(conn)).root()


def test_append_refuses_what_is_not_a_ledger_entry(db_url: str) -> None:
    with db.connect(db_url) as conn:
        with pytest.raises(ValueError, match="a disclosure, a recall or a governance change"):
            log.append(conn, [("payment", "X", b"{}")])
        with pytest.raises(ValueError, match="needs the id"):
            log.append(conn, [("disclosure", "", b"{}")])
        assert log.append(conn, []) == []
        assert log.tree_size(conn) == 0


def test_proofs_outside_the_ledger_are_refused(ledger: str) -> None:
    with db.connect(ledger) as conn:
        for index, size in [(SIZE, SIZE), (0, SIZE + 1), (-1, 5), (5, 5)]:
            with pytest.raises(AccordError):
                log.inclusion_proof(conn, index, size)
        with pytest.raises(AccordError):
            log.consistency_proof(conn, 10, SIZE + 1)
        with pytest.raises(AccordError):
            log.consistency_proof(conn, 11, 10)
        with pytest.raises(AccordError):
            log.root(conn, SIZE + 1)


def test_signed_heads_commit_to_the_root_and_signing_twice_is_a_no_op(ledger: str) -> None:
    with db.connect(ledger) as conn:
        heads = log.heads(conn)
        tree = merkle.MerkleTree.of_entries(_contents(conn))
        assert [h.size for h in heads] == [10, 260, SIZE]
        for h in heads:
            assert h.root == tree.root(h.size)
            assert signing.verify_tree_head(h, KEY.public_key())
            assert h.key_id == signing.key_id(KEY)
        again = log.sign_head(conn, Ed25519PrivateKey.generate())
        assert again == heads[-1]
        assert log.latest_head(conn) == heads[-1] and log.head_at(conn, 260) == heads[1]
        assert log.head_at(conn, 11) is None
        first, last = heads[0], heads[-1]
        proof = log.consistency_proof(conn, first.size, last.size)
        assert merkle.verify_consistency(first.size, last.size, first.root, last.root, proof)


def test_an_intact_ledger_verifies(ledger: str) -> None:
    with db.connect(ledger) as conn:
        result = log.verify(conn, KEY.public_key())
        assert result.ok, result.problems
        assert (result.leaves, result.disclosures, result.recalls, result.heads) == (
            SIZE,
            300,
            2,
            3,
        )
        assert result.signatures_checked and result.root == log.root(conn)
        unsigned = log.verify(conn)
        assert unsigned.ok and not unsigned.signatures_checked


def test_verify_names_a_wrong_key(ledger: str) -> None:
    with db.connect(ledger) as conn:
        result = log.verify(conn, Ed25519PrivateKey.generate().public_key())
    assert not result.ok
    assert result.first_problem is not None
    assert "tree head at size 10 was signed by key" in result.first_problem


def _set(table: Any, where: Any, **values: Any) -> Callable[[Connection], None]:
    return lambda conn: conn.execute(update(table).where(where).values(**values)) and None


def _flip_leaf_byte(index: int, rehash: bool) -> Callable[[Connection], None]:
    def tamper(conn: Connection) -> None:
        data = bytes(
            conn.execute(
                select(LedgerLeaf.content).where(LedgerLeaf.leaf_index == index)
            ).scalar_one()
        )
        data = data.replace(b"P-%d" % index, b"P-%d" % (index + 1000))
        values: dict[str, Any] = {"content": data}
        if rehash:
            values["leaf_hash"] = merkle.leaf_hash(data)
        conn.execute(update(LedgerLeaf).where(LedgerLeaf.leaf_index == index).values(**values))

    return tamper


def _rewrite_history(conn: Connection) -> None:
    """Change a disclosure and its leaf consistently: only the signed heads can tell."""
    conn.execute(
        update(Disclosure).where(Disclosure.disclosure_id == "D-7").values(person_id="P-1007")
    )
    _flip_leaf_byte(7, rehash=True)(conn)


def _swap_rows(conn: Connection) -> None:
    d = Disclosure.__table__.c
    conn.execute(update(Disclosure).where(d.disclosure_id == "D-5").values(ledger_index=-1))
    conn.execute(update(Disclosure).where(d.disclosure_id == "D-9").values(ledger_index=5))
    conn.execute(update(Disclosure).where(d.disclosure_id == "D-5").values(ledger_index=9))


def _swap_leaves(conn: Connection) -> None:
    rows = {
        r.leaf_index: r
        for r in conn.execute(select(LedgerLeaf).where(LedgerLeaf.leaf_index.in_([5, 9])))
    }
    for a, b in ((5, 9), (9, 5)):
        conn.execute(
            update(LedgerLeaf)
            .where(LedgerLeaf.leaf_index == a)
            .values(ref_id=rows[b].ref_id, content=rows[b].content, leaf_hash=rows[b].leaf_hash)
        )


def _insert_leaf_in_the_middle(conn: Connection) -> None:
    leaf = LedgerLeaf.__table__.c
    conn.execute(
        update(LedgerLeaf).where(leaf.leaf_index >= 5).values(leaf_index=leaf.leaf_index + 100_000)
    )
    conn.execute(
        update(LedgerLeaf)
        .where(leaf.leaf_index >= 100_000)
        .values(leaf_index=leaf.leaf_index - 99_999)
    )
    data = b'{"type":"disclosure"}'
    conn.execute(
        insert(LedgerLeaf).values(
            leaf_index=5, kind="disclosure", ref_id="D-ghost", content=data,
            leaf_hash=merkle.leaf_hash(data), appended_at=AT,
        )
    )  # fmt: skip


def _append_leaf_without_row(conn: Connection) -> None:
    data = b'{"type":"disclosure"}'
    conn.execute(
        insert(LedgerLeaf).values(
            leaf_index=SIZE, kind="disclosure", ref_id="D-ghost", content=data,
            leaf_hash=merkle.leaf_hash(data), appended_at=AT,
        )
    )  # fmt: skip


def _insert_row_without_leaf(conn: Connection) -> None:
    conn.execute(
        insert(Disclosure).values(
            disclosure_id="D-ghost", run_id="run-1", agreement_id="home-office-to-dvla",
            agreement_version=1, recipient="dvla", record_id="REC-ghost", person_id="P-ghost",
            match_probability=0.9999, decided_by="rule:automatic", fields={},
            disclosed_at=AT, ledger_index=9999, status="active",
        )
    )  # fmt: skip


def _head_beyond_the_ledger(conn: Connection) -> None:
    h = signing.sign_tree_head(KEY, 500, 1, merkle.leaf_hash(b"x"))
    conn.execute(
        insert(TreeHead).values(
            tree_size=h.size, root_hash=h.root, timestamp_ms=h.timestamp_ms,
            signature=h.signature, key_id=h.key_id,
        )
    )  # fmt: skip


def _head_by_another_key(conn: Connection) -> None:
    other = Ed25519PrivateKey.generate()
    h = signing.sign_tree_head(other, 260, 1, log.root(conn, 260))
    conn.execute(
        update(TreeHead)
        .where(TreeHead.tree_size == 260)
        .values(signature=h.signature, key_id=h.key_id)
    )


D5 = Disclosure.disclosure_id == "D-5"
MISMATCH_5 = "disclosure D-5 at leaf 5 does not match its ledger leaf"
TAMPERING: dict[str, tuple[Callable[[Connection], None], str]] = {
    # a disclosure row altered, column by column
    "agreement_id": (_set(Disclosure, D5, agreement_id="home-office-to-hmrc"), MISMATCH_5),
    "agreement_version": (_set(Disclosure, D5, agreement_version=7), MISMATCH_5),
    "recipient": (_set(Disclosure, D5, recipient="bank"), MISMATCH_5),
    "record_id": (_set(Disclosure, D5, record_id="REC-6"), MISMATCH_5),
    "person_id": (_set(Disclosure, D5, person_id="P-6"), MISMATCH_5),
    "fields": (
        _set(Disclosure, D5, fields={"family_name": "Other", "given_names": "Zoë"}),
        MISMATCH_5,
    ),
    "match_probability": (_set(Disclosure, D5, match_probability=0.999 + 5e-7 + 1e-12), MISMATCH_5),
    "decided_by": (_set(Disclosure, D5, decided_by="mallory"), MISMATCH_5),
    "disclosed_at": (
        _set(Disclosure, D5, disclosed_at=AT + dt.timedelta(seconds=5, microseconds=6)),
        MISMATCH_5,
    ),
    # disclosure rows removed, reordered, inserted
    "disclosure removed": (
        lambda c: c.execute(delete(Disclosure).where(D5)) and None,
        "leaf 5 records disclosure D-5, but no disclosure row points at it",
    ),
    "disclosures swapped": (
        _swap_rows,
        "disclosure D-9 at leaf 5 does not match its ledger leaf, which records disclosure D-5",
    ),
    "disclosure inserted": (
        _insert_row_without_leaf,
        "disclosure D-ghost points at leaf 9999, which does not exist",
    ),
    # leaves altered, removed, reordered, inserted
    "leaf byte flipped": (
        _flip_leaf_byte(7, rehash=False),
        "leaf 7 (disclosure D-7) does not match its stored hash",
    ),
    "leaf rewritten with its hash": (
        _flip_leaf_byte(7, rehash=True),
        "disclosure D-7 at leaf 7 does not match its ledger leaf",
    ),
    "leaf and row rewritten together": (
        _rewrite_history,
        "the tree head signed at size 10 does not match the root recomputed from the leaves",
    ),
    "leaf removed": (
        lambda c: c.execute(delete(LedgerLeaf).where(LedgerLeaf.leaf_index == 5)) and None,
        "leaf 5 is missing",
    ),
    "last leaf removed": (
        lambda c: c.execute(delete(LedgerLeaf).where(LedgerLeaf.leaf_index == SIZE - 1)) and None,
        f"recall R-20 points at leaf {SIZE - 1}, which does not exist",
    ),
    "leaves swapped": (
        _swap_leaves,
        "disclosure D-5 at leaf 5 does not match its ledger leaf, which records disclosure D-9",
    ),
    "leaf inserted in the middle": (
        _insert_leaf_in_the_middle,
        "disclosure D-5 at leaf 5 does not match its ledger leaf, which records disclosure D-ghost",
    ),
    "leaf appended without a row": (
        _append_leaf_without_row,
        f"leaf {SIZE} records disclosure D-ghost, but no disclosure row points at it",
    ),
    "leaf kind changed": (
        _set(LedgerLeaf, LedgerLeaf.leaf_index == 5, kind="recall"),
        "disclosure D-5 points at leaf 5, which records recall D-5",
    ),
    # recalls
    "recall altered": (
        _set(Recall, Recall.recall_id == "R-3", reason="no reason"),
        "recall R-3 at leaf 300 does not match its ledger leaf",
    ),
    "recall removed": (
        lambda c: c.execute(delete(Recall).where(Recall.recall_id == "R-3")) and None,
        "leaf 300 records recall R-3, but no recall row points at it",
    ),
    # signed heads
    "head root altered": (
        _set(TreeHead, TreeHead.tree_size == 260, root_hash=merkle.leaf_hash(b"x")),
        "the tree head signed at size 260 does not match the root recomputed from the leaves",
    ),
    "head timestamp altered": (
        _set(TreeHead, TreeHead.tree_size == 260, timestamp_ms=1),
        "the tree head at size 260 has an invalid signature",
    ),
    "head signature altered": (
        _set(TreeHead, TreeHead.tree_size == 10, signature=b"\x00" * 64),
        "the tree head at size 10 has an invalid signature",
    ),
    "head signed by another key": (
        _head_by_another_key,
        "the tree head at size 260 was signed by key",
    ),
    "head beyond the ledger": (
        _head_beyond_the_ledger,
        f"a tree head was signed at size 500, but the ledger has only {SIZE} leaves",
    ),
    # the subtree cache
    "cached node altered": (
        _set(
            LedgerNode,
            (LedgerNode.level == 8) & (LedgerNode.index == 0),
            hash=merkle.leaf_hash(b"x"),
        ),
        "the cached subtree at level 8, index 0 does not match the leaves",
    ),
    "cached node removed": (
        lambda c: c.execute(delete(LedgerNode).where(LedgerNode.level == 8)) and None,
        "the subtree cache lacks level 8, index 0",
    ),
    "cached node beyond the ledger": (
        lambda c: (
            c.execute(insert(LedgerNode).values(level=8, index=5, hash=merkle.leaf_hash(b"x")))
            and None
        ),
        "the subtree cache holds level 8, index 5, beyond the ledger's leaves",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_catches_and_names_the_first_mismatch(ledger: str, case: str) -> None:
    tamper, expected = TAMPERING[case]
    with db.connect(ledger) as conn:
        tamper(conn)
    with db.connect(ledger) as conn:
        result = log.verify(conn, KEY.public_key())
    assert not result.ok
    assert result.first_problem is not None
    assert result.first_problem.startswith(expected), result.problems[:3]


def test_the_first_of_several_mismatches_is_named_first(ledger: str) -> None:
    with db.connect(ledger) as conn:
        conn.execute(
            update(Disclosure).where(Disclosure.disclosure_id == "D-280").values(person_id="x")
        )
        conn.execute(
            update(Disclosure).where(Disclosure.disclosure_id == "D-4").values(person_id="x")
        )
        conn.execute(update(TreeHead).where(TreeHead.tree_size == 10).values(timestamp_ms=2))
    with db.connect(ledger) as conn:
        result = log.verify(conn, KEY)
    assert result.problem_count == 3
    assert result.problems == (
        "disclosure D-4 at leaf 4 does not match its ledger leaf",
        "the tree head at size 10 has an invalid signature",
        "disclosure D-280 at leaf 280 does not match its ledger leaf",
    )


def test_columns_outside_the_leaf_may_change(ledger: str) -> None:
    """Acknowledgement and delivery change after a disclosure is made; they are not evidence.

    (Its status is checked against the recalls in the ledger: tests/ledger/test_ledger_coverage.py.)
    """
    with db.connect(ledger) as conn:
        conn.execute(update(Disclosure).where(D5).values(acknowledged_at=AT, run_id="run-9"))
    with db.connect(ledger) as conn:
        assert log.verify(conn, KEY).ok


# --- proof bundles -----------------------------------------------------------------------------


def test_a_bundle_proves_a_disclosure_without_the_database(ledger: str) -> None:
    with db.connect(ledger) as conn:
        doc = log.proof_bundle(conn, "disclosure", "D-5", key=KEY.public_key())
        rec = log.proof_bundle(conn, "recall", "R-20", key=KEY)
        assert (
            log.entry_kind(conn, "R-20") == "recall" and log.entry_kind(conn, "D-5") == "disclosure"
        )
    check = bundle.check_bundle(doc, KEY.public_key())
    assert check.ok and check.label == f"disclosure D-5 at leaf 5 of {SIZE}"
    assert bundle.check_bundle(doc).ok  # integrity alone, with the bundled key
    assert bundle.check_bundle(rec, KEY.public_key()).ok
    assert doc["content"].encode() == content.disclosure_leaf(
        {**{k: v for k, v in _row(ledger, "D-5").items()}}
    )
    other = Ed25519PrivateKey.generate().public_key()
    assert "not with the trusted ledger key" in str(bundle.check_bundle(doc, other).problem)


def _row(url: str, disclosure_id: str) -> dict[str, Any]:
    with db.connect(url) as conn:
        return dict(
            conn.execute(select(Disclosure).where(Disclosure.disclosure_id == disclosure_id))
            .one()
            ._mapping
        )


def _altered(doc: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(doc)
    change(out)
    return out


def test_every_altered_part_of_a_bundle_fails(ledger: str) -> None:
    with db.connect(ledger) as conn:
        doc = log.proof_bundle(conn, "disclosure", "D-5", key=KEY)
    other = Ed25519PrivateKey.generate()

    def other_key(d: dict[str, Any]) -> None:
        d["public_key"] = signing.public_key_pem(other)

    def resigned(d: dict[str, Any]) -> None:
        h = signing.sign_tree_head(
            other, d["tree_size"], 1, bytes.fromhex(d["tree_head"]["root_hash"])
        )
        d["tree_head"] = h.to_json()
        d["public_key"] = signing.public_key_pem(other)

    def new_content(d: dict[str, Any]) -> None:
        d["content"] = d["content"].replace("P-5", "P-6")
        d["leaf_hash"] = merkle.leaf_hash(d["content"].encode()).hex()

    cases: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
        "content": (new_content, "the audit path does not lead"),
        "content, hash left": (
            lambda d: d.update(content=d["content"].replace("P-5", "P-6")),
            "leaf_hash is not",
        ),
        "content not canonical": (
            lambda d: d.update(content=d["content"].replace(",", ", ")),
            "not the canonical",
        ),
        "ref_id": (
            lambda d: d.update(ref_id="D-6"),
            "not the canonical ledger entry of disclosure D-6",
        ),
        "leaf_index": (lambda d: d.update(leaf_index=6), "the audit path does not lead"),
        "tree_size": (lambda d: d.update(tree_size=SIZE - 1), "tree_size"),
        "audit path": (
            lambda d: d["audit_path"].__setitem__(0, "00" * 32),
            "the audit path does not lead",
        ),
        "path shortened": (lambda d: d["audit_path"].pop(), "the audit path does not lead"),
        "root": (lambda d: d["tree_head"].update(root_hash="11" * 32), "signature does not verify"),
        "signature": (
            lambda d: d["tree_head"].update(signature="22" * 64),
            "signature does not verify",
        ),
        "public key": (other_key, "names key"),
    }
    for name, (change, expected) in cases.items():
        result = bundle.check_bundle(_altered(doc, change))
        assert not result.ok, name
        assert expected in str(result.problem), (name, result.problem)
    resigned_doc = _altered(doc, resigned)
    assert bundle.check_bundle(resigned_doc).ok  # consistent, but by someone else's key:
    assert "not with the trusted ledger key" in str(
        bundle.check_bundle(resigned_doc, KEY.public_key()).problem
    )


def test_a_disclosure_altered_after_the_fact_gets_a_failing_proof(ledger: str) -> None:
    with db.connect(ledger) as conn:
        conn.execute(update(Disclosure).where(D5).values(record_id="REC-999"))
        doc = log.proof_bundle(conn, "disclosure", "D-5", key=KEY)
    assert '"record_id":"REC-999"' in doc["content"]
    result = bundle.check_bundle(doc, KEY.public_key())
    assert result.problem == "the audit path does not lead from this content to the signed root"


def test_a_bundle_needs_a_signed_head_over_its_entry(db_url: str) -> None:
    with db.connect(db_url) as conn:
        disclose(conn, range(3))
        with pytest.raises(AccordError, match="not yet covered by a signed tree head"):
            log.proof_bundle(conn, "disclosure", "D-2", key=KEY.public_key())
        doc = log.proof_bundle(conn, "disclosure", "D-2", key=KEY)  # the private key signs one
        assert doc["tree_size"] == 3 and log.latest_head(conn) is not None
        with pytest.raises(AccordError, match="not by the given ledger key"):
            log.proof_bundle(conn, "disclosure", "D-2", key=Ed25519PrivateKey.generate())
        with pytest.raises(AccordError, match="no disclosure D-9"):
            log.proof_bundle(conn, "disclosure", "D-9", key=KEY)
        with pytest.raises(AccordError, match="no disclosure or recall"):
            log.entry_kind(conn, "nothing")
    assert bundle.check_bundle(doc, KEY.public_key()).ok


def test_malformed_bundles_are_told_apart_from_failed_ones(ledger: str) -> None:
    with db.connect(ledger) as conn:
        doc = log.proof_bundle(conn, "disclosure", "D-5", key=KEY)
    broken: list[Callable[[dict[str, Any]], None]] = [
        lambda d: d.pop("content"),
        lambda d: d.update(format="other/1"),
        lambda d: d.update(kind="payment"),
        lambda d: d.update(leaf_index=-1),
        lambda d: d.update(leaf_index=True),
        lambda d: d.update(audit_path=["zz"]),
        lambda d: d.update(tree_head={"tree_size": 1}),
        lambda d: d.update(public_key="not a key"),
        lambda d: d.update(leaf_hash=5),
    ]
    for change in broken:
        with pytest.raises(bundle.MalformedBundle):
            bundle.check_bundle(_altered(doc, change))
    with pytest.raises(bundle.MalformedBundle):
        bundle.check_bundle([doc])


def test_bundles_are_found_in_a_subject_access_report(ledger: str) -> None:
    with db.connect(ledger) as conn:
        proofs = [log.proof_bundle(conn, "disclosure", f"D-{n}", key=KEY) for n in (1, 2)]
        rec = log.proof_bundle(conn, "recall", "R-3", key=KEY)
    report = {"person_id": "P-1", "disclosures": [{"proof": proofs[0]}, {"proof": proofs[1]}, {}],
              "recalls": [{"proof": rec}]}  # fmt: skip
    found = bundle.bundles_in(report)
    assert [w for w, _ in found] == [
        "disclosures[0].proof", "disclosures[1].proof", "disclosures[2].proof", "recalls[0].proof",
    ]  # fmt: skip
    assert found[2][1] is None
    assert bundle.bundles_in(proofs[0]) == [("bundle", proofs[0])]
    assert bundle.bundles_in({"disclosures": "none"}) == [] and bundle.bundles_in([1]) == []


PARALLEL_CASES: dict[str, Callable[[Connection], None]] = {
    "rows altered on both sides": lambda c: (
        c.execute(
            update(Disclosure)
            .where(Disclosure.disclosure_id.in_(["D-4", "D-200"]))
            .values(person_id="x")
        )
        and None
    ),
    "last leaf of the first part removed": lambda c: (
        c.execute(delete(LedgerLeaf).where(LedgerLeaf.leaf_index == 150)) and None
    ),
    "first leaf of the second part removed": lambda c: (
        c.execute(delete(LedgerLeaf).where(LedgerLeaf.leaf_index == 151)) and None
    ),
}


@pytest.mark.parametrize("case", list(PARALLEL_CASES))
def test_verify_in_two_processes_finds_exactly_what_one_does(
    ledger: str, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log, "VERIFY_CHUNK", 64)  # so that 302 leaves split in two
    assert log._split(SIZE, 2) == [(0, 150), (151, 301)]
    with db.connect(ledger) as conn:
        PARALLEL_CASES[case](conn)
    with db.connect(ledger) as conn:
        alone = log.verify(conn, KEY)
        shared = log.verify(conn, KEY, workers=2)
    assert shared == alone
    assert not alone.ok
