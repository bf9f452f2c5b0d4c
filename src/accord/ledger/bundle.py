"""Self-contained inclusion proofs that anyone can check without the database.

A bundle carries a leaf's content, its index, the audit path to a signed tree head, the
head itself and the public key that signed it.  Checking it needs only this module: the
content must be a canonical ledger leaf naming the bundle's kind and id, its hash must
climb the audit path to the head's root, the head's signature must verify under the
bundled key, and, when the checker holds the ledger's key from elsewhere (as it should:
a bundle that brings its own key proves integrity, not origin), the two keys must agree.
A subject access report embeds one bundle per disclosure under ``disclosures[*].proof``
(and per recall under ``recalls[*].proof``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.ledger import content, merkle, signing

FORMAT = "accord-ledger-proof/1"
REPORT_SECTIONS = ("disclosures", "recalls")


class MalformedBundle(ValueError):
    """The document is not a proof bundle at all (bad input, not a failed check)."""


@dataclass(frozen=True)
class BundleCheck:
    label: str  # e.g. "disclosure D-1 at leaf 17 of 120"
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def make_bundle(
    kind: str,
    ref_id: str,
    leaf_index: int,
    leaf_content: bytes,
    audit_path: list[bytes],
    head: signing.SignedTreeHead,
    public_key_pem: str,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "kind": kind,
        "ref_id": ref_id,
        "leaf_index": leaf_index,
        "tree_size": head.size,
        "content": leaf_content.decode("utf-8"),
        "leaf_hash": merkle.leaf_hash(leaf_content).hex(),
        "audit_path": [p.hex() for p in audit_path],
        "tree_head": head.to_json(),
        "public_key": public_key_pem,
    }


@dataclass(frozen=True)
class _Parsed:
    kind: str
    ref_id: str
    leaf_index: int
    tree_size: int
    content: bytes
    leaf_hash: bytes
    path: list[bytes]
    head: signing.SignedTreeHead
    key: Ed25519PublicKey


_KIND_NAMES: dict[type, str] = {str: "text", int: "a non-negative integer", list: "a list"}


def _field(doc: dict[str, Any], name: str, kind: type) -> Any:
    value = doc.get(name)
    bad_int = kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0)
    if value is None or not isinstance(value, kind) or bad_int:
        raise MalformedBundle(f"{name} is missing or not {_KIND_NAMES[kind]}")
    return value


def _hex(value: Any, name: str) -> bytes:
    try:
        return signing.hex_value(value, name)
    except ValueError as exc:
        raise MalformedBundle(str(exc)) from None


def _parse(doc: Any) -> _Parsed:
    if not isinstance(doc, dict):
        raise MalformedBundle("a proof bundle must be a JSON object")
    if doc.get("format") != FORMAT:
        raise MalformedBundle(f"format is not {FORMAT!r}")
    kind = _field(doc, "kind", str)
    if kind not in content.KINDS:
        raise MalformedBundle(f"kind {kind!r} is not a ledger kind ({', '.join(content.KINDS)})")
    path = [_hex(p, f"audit_path[{i}]") for i, p in enumerate(_field(doc, "audit_path", list))]
    try:
        head = signing.SignedTreeHead.from_json(doc.get("tree_head"))
    except ValueError as exc:
        raise MalformedBundle(f"tree_head: {exc}") from None
    try:
        key = signing.parse_public_key_pem(_field(doc, "public_key", str))
    except ValueError as exc:
        raise MalformedBundle(f"public_key: {exc}") from None
    try:
        leaf_content = _field(doc, "content", str).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedBundle("content is not valid text") from None
    return _Parsed(
        kind=kind,
        ref_id=_field(doc, "ref_id", str),
        leaf_index=_field(doc, "leaf_index", int),
        tree_size=_field(doc, "tree_size", int),
        content=leaf_content,
        leaf_hash=_hex(doc.get("leaf_hash"), "leaf_hash"),
        path=path,
        head=head,
        key=key,
    )


def check_bundle(doc: Any, trusted: Ed25519PublicKey | None = None) -> BundleCheck:
    """Check one bundle; MalformedBundle if it is not one, else the first failed step."""
    b = _parse(doc)
    label = f"{b.kind} {b.ref_id} at leaf {b.leaf_index} of {b.tree_size}"

    def failed(problem: str) -> BundleCheck:
        return BundleCheck(label, problem)

    bundled_id = signing.key_id(b.key)
    if trusted is not None and signing.key_id(trusted) != bundled_id:
        return failed(
            f"signed with key {bundled_id[:16]}…, not with the trusted ledger key "
            f"{signing.key_id(trusted)[:16]}…"
        )
    if b.head.key_id != bundled_id:
        return failed(f"the tree head names key {b.head.key_id[:16]}…, not the bundled key")
    if not signing.verify_tree_head(b.head, b.key):
        return failed("the tree head's signature does not verify")
    if b.tree_size != b.head.size:
        return failed(f"tree_size {b.tree_size} is not the signed head's size {b.head.size}")
    if content.describe(b.content) != (b.kind, b.ref_id):
        return failed(f"the content is not the canonical ledger entry of {b.kind} {b.ref_id}")
    leaf = merkle.leaf_hash(b.content)
    if leaf != b.leaf_hash:
        return failed("leaf_hash is not the hash of the content")
    if not merkle.verify_inclusion(leaf, b.leaf_index, b.tree_size, b.path, b.head.root):
        return failed("the audit path does not lead from this content to the signed root")
    return BundleCheck(label, None)


# What a subject access report shows of each entry, and where the signed leaf holds it:
# (path in the report's entry, key in the leaf's content).
SHOWN: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "disclosures": (
        (("disclosure_id",), "disclosure_id"),
        (("recipient",), "recipient"),
        (("record_id",), "record_id"),
        (("disclosed_at",), "disclosed_at"),
        (("fields",), "fields"),
        (("agreement", "agreement_id"), "agreement_id"),
        (("agreement", "version"), "agreement_version"),
        (("match", "probability"), "match_probability"),
    ),
    "recalls": (
        (("recall_id",), "recall_id"),
        (("disclosure_id",), "disclosure_id"),
        (("recipient",), "recipient"),
        (("reason",), "reason"),
        (("recalled_at",), "recalled_at"),
    ),
}
_MISSING = object()


def _at(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return _MISSING
        doc = doc[key]
    return doc


def _same(shown: Any, signed: Any) -> bool:
    """Equal values; two timestamps are equal when they name the same instant (the report
    writes ``...:58Z`` where the signed entry holds ``...:58.000000Z``)."""
    if shown == signed:
        return True
    if isinstance(shown, str) and isinstance(signed, str):
        try:
            return dt.datetime.fromisoformat(shown) == dt.datetime.fromisoformat(signed)
        except ValueError:
            return False
    return False


def shown_matches_proof(section: str, entry: Any, proof: Any) -> str | None:
    """None if every value a report's entry shows (:data:`SHOWN`) is the one its proof's
    signed leaf holds; else what differs.  A proof that verifies says nothing about an
    entry edited beside it: this ties the two."""
    if not isinstance(entry, dict) or not isinstance(proof, dict):
        return None
    try:
        leaf = json.loads(str(proof.get("content", "")))
    except ValueError:
        return None  # check_bundle names a content that is not a ledger entry
    if not isinstance(leaf, dict):
        return None
    for path, key in SHOWN.get(section, ()):
        shown = _at(entry, path)
        if shown is _MISSING:
            continue
        if key not in leaf or not _same(shown, leaf[key]):
            return (
                f"the report shows {'.'.join(path)} {shown!r}, the signed entry {leaf.get(key)!r}"
            )
    return None


def bundles_in(doc: Any) -> list[tuple[str, Any]]:
    """``(where, bundle)`` for a single bundle or each proof in a subject access report."""
    if isinstance(doc, dict) and "format" in doc:
        return [("bundle", doc)]
    found: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for section in REPORT_SECTIONS:
            items = doc.get(section)
            if not isinstance(items, list):
                continue
            for i, item in enumerate(items):
                where = f"{section}[{i}].proof"
                proof = item.get("proof") if isinstance(item, dict) else None
                found.append((where, proof))
    return found
