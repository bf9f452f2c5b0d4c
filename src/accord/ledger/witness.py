"""A witness: an outside party that co-signs published heads it has checked.

The model is the transparency-dev witness (C2SP tlog-witness and tlog-cosignature): the
witness keeps, in a state file of its own, the size and root of the last head it
co-signed; it co-signs a newer head only when the head is signed by the ledger's key and
a consistency proof shows it extends the one it co-signed before.  Accord publishes, with
every head, the RFC 6962 consistency proof from the head published before it
(`accord.ledger.publish`), so the witness needs the published records alone, never the
database.  A head that does not extend what it saw (a fork, or history rewritten and
re-signed) is refused, and the state is left as it was.

The co-signature is written next to the heads (``cosignatures/<witness key id>/`` in a
folder or an S3 prefix, ``<name>.cosignatures.jsonl`` beside a file), where `accord
verify --published ... --witness-key PEM` checks it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.errors import AccordError, CheckFailed
from accord.ledger import signing
from accord.ledger.publish import (
    Cosignature,
    Destination,
    Record,
    cosignature_message,
    replace_whole,
)


class Refused(CheckFailed):
    """The published heads are not consistent with what the witness saw (exit 1)."""


@dataclass(frozen=True)
class State:
    log_key_id: str
    tree_size: int
    root: bytes

    def to_json(self) -> dict[str, Any]:
        return {"log_key_id": self.log_key_id, "tree_size": self.tree_size,
                "root_hash": self.root.hex()}  # fmt: skip


def read_state(path: Path) -> State | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AccordError(f"witness state {path}: cannot read: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
        size = doc["tree_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("tree_size")
        return State(str(doc["log_key_id"]), size, bytes.fromhex(doc["root_hash"]))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise AccordError(
            f"witness state {path}: not a witness state file (log_key_id, tree_size, root_hash)"
        ) from None


def write_state(path: Path, state: State) -> None:
    """Replace the state file whole (a new file renamed over the old)."""
    try:
        replace_whole(path, (json.dumps(state.to_json(), indent=2) + "\n").encode(), 0o600)
    except OSError as exc:
        raise AccordError(f"witness state {path}: cannot write: {exc.strerror}") from None


def _check_chain(records: list[Record], log_key: Ed25519PublicKey) -> None:
    """Each record signed by the ledger key, and each extending the one before it."""
    for i, record in enumerate(records):
        head = record.head
        label = f"published head at {head.size:,} leaves"
        if not signing.verify_tree_head(head, log_key):
            raise Refused(f"{label}: not signed by the ledger key")
        if i == 0:
            continue
        earlier = records[i - 1]
        if record.previous_size is None:
            raise Refused(
                f"{label} carries no consistency proof from the head at {earlier.head.size:,} "
                "leaves before it (heads written by hand cannot be witnessed: publish them "
                "with ACCORD_PUBLISH_HEADS)"
            )
        if record.previous_size != earlier.head.size or not record.extends(earlier):
            raise Refused(
                f"{label}: no valid consistency proof from the head at "
                f"{earlier.head.size:,} leaves published before it: the log forked"
            )


def cosign(
    source: Destination,
    witness_key: Ed25519PrivateKey,
    log_key: Ed25519PublicKey,
    state_path: Path,
    name: str,
    write_to: Destination,
    now: int | None = None,
) -> tuple[Cosignature | None, State | None]:
    """Check the heads published at ``source`` against the state and co-sign the newest.

    Returns the co-signature written (None if nothing newer was published since the last)
    and the state before.  :class:`Refused` if a published head is not signed by the
    ledger key or does not extend what the witness co-signed before.
    """
    before = read_state(state_path)
    log_id = signing.key_id(log_key)
    if before is not None and before.log_key_id != log_id:
        raise AccordError(
            f"witness state {state_path} is for ledger key {before.log_key_id[:16]}…, "
            f"not {log_id[:16]}…: use one state file per ledger"
        )
    records = source.records()
    if not records:
        raise AccordError(f"{source}: no published heads to witness")
    _check_chain(records, log_key)
    newest = records[-1]
    if before is not None:
        seen = (
            f"this witness co-signed {before.tree_size:,} leaves (root {before.root.hex()[:16]}…)"
        )
        if newest.head.size < before.tree_size:
            raise Refused(
                f"the newest published head, at {newest.head.size:,} leaves, is behind what "
                f"{seen}: published heads were removed"
            )
        at = {r.head.size: r for r in records}
        mine = at.get(before.tree_size)
        if mine is None:
            raise Refused(
                f"no published head at {before.tree_size:,} leaves, where {seen}: the "
                "published history was rewritten"
            )
        if mine.head.root != before.root:
            raise Refused(
                f"published head at {before.tree_size:,} leaves has root "
                f"{mine.head.root.hex()[:16]}…, but {seen}: the ledger's history was rewritten"
            )
        if newest.head.size == before.tree_size:
            return None, before
    timestamp = int(time.time()) if now is None else now
    message = cosignature_message(log_id, newest.head.size, newest.head.root, timestamp)
    cosignature = Cosignature(
        name, signing.key_id(witness_key), log_id, newest.head.size, newest.head.root,
        timestamp, witness_key.sign(message),
    )  # fmt: skip
    write_to.add_cosignature(cosignature)
    write_state(state_path, State(log_id, newest.head.size, newest.head.root))
    return cosignature, before
