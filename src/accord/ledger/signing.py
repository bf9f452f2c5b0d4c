"""Ed25519 keys and signed tree heads.

A signed tree head commits the log to its first ``size`` leaves: whoever holds one can
later demand proof that any disclosure is in it and that the log only ever grew.  What is
signed is RFC 6962's ``TreeHeadSignature`` (section 3.5): version 0 (v1), signature type 1
(tree_hash), the timestamp in milliseconds and the tree size as big-endian 64-bit
integers, then the 32-byte root.  A key is named by the SHA-256 of its DER
SubjectPublicKeyInfo, as RFC 6962 names a log.

The private key is a PEM (PKCS#8) file readable by its owner only; ``accord init``
creates it, and ``accord ledger key`` exports the public half for auditors.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.errors import AccordError, LedgerKeyUnavailable
from accord.ledger import merkle

if TYPE_CHECKING:
    from sqlalchemy import Connection

KEY_FILE_MODE = 0o600

AnyKey = Ed25519PrivateKey | Ed25519PublicKey


@dataclass(frozen=True)
class SignedTreeHead:
    size: int
    timestamp_ms: int
    root: bytes
    signature: bytes
    key_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.size,
            "timestamp_ms": self.timestamp_ms,
            "root_hash": self.root.hex(),
            "signature": self.signature.hex(),
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, doc: Any) -> SignedTreeHead:
        """Parse a tree head as :meth:`to_json` writes it; ValueError naming what is wrong."""
        if not isinstance(doc, dict):
            raise ValueError("a tree head must be a JSON object")
        size = _json_int(doc, "tree_size")
        timestamp = _json_int(doc, "timestamp_ms")
        root = hex_value(doc.get("root_hash"), "root_hash")
        if len(root) != merkle.HASH_SIZE:
            raise ValueError("root_hash must be 32 bytes of hex")
        signature = hex_value(doc.get("signature"), "signature")
        key_id = doc.get("key_id")
        if not isinstance(key_id, str):
            raise ValueError("key_id must be text")
        return cls(size, timestamp, root, signature, key_id)


def _json_int(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def hex_value(value: Any, name: str) -> bytes:
    """The bytes a JSON document's hex text ``value`` (named ``name``) spells; ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be hex text")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{name} is not hex") from None


def public_of(key: AnyKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def key_id(key: AnyKey) -> str:
    der = public_of(key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def public_key_pem(key: AnyKey) -> str:
    return (
        public_of(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def parse_public_key_pem(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; a private key's PEM gives its public half."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        key: object = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, None)
        except (ValueError, TypeError):
            raise ValueError("not an Ed25519 key in PEM form") from None
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"a {type(key).__name__.removeprefix('_')} key, not an Ed25519 one")
    return key


def _read(path: Path) -> bytes:
    from accord.ledger import keys

    if keys.is_pem(path):
        data = keys.pem_bytes()
        if data is None:
            raise LedgerKeyUnavailable(f"{keys.ENV_PEM} is empty: it must hold the key (PEM)")
        return data
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LedgerKeyUnavailable(
            f"no ledger key at {path}: run `accord init` to create one, or pass --key"
        ) from None
    except OSError as exc:
        raise LedgerKeyUnavailable(f"cannot read ledger key {path}: {exc.strerror}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerKeyUnavailable(
            f"ledger key {path} is not an unencrypted Ed25519 private key in PEM form"
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key in a PEM file, which may hold the public key or the private one."""
    try:
        return parse_public_key_pem(_read(path))
    except ValueError as exc:
        raise LedgerKeyUnavailable(f"key file {path}: {exc}") from None


def load_key(path: Path) -> AnyKey:
    """The key in a PEM file: the private key if it holds one, else the public key."""
    data = _read(path)
    try:
        private = serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError):
        private = None
    if isinstance(private, Ed25519PrivateKey):
        return private
    return load_public_key(path)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The ledger's signing key, created (PEM, mode 0600) if the file does not exist yet
    (never for the key held in ``ACCORD_LEDGER_KEY_PEM``)."""
    from accord.ledger import keys

    if keys.is_pem(path) or path.exists():
        return load_private_key(path)
    if not path.parent.is_dir():
        raise AccordError(f"cannot create ledger key {path}: folder {path.parent} does not exist")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    except FileExistsError:  # created meanwhile by another process: use that one
        return load_private_key(path)
    except OSError as exc:
        raise AccordError(f"cannot create ledger key {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, KEY_FILE_MODE)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def tree_head_message(size: int, timestamp_ms: int, root: bytes) -> bytes:
    """RFC 6962 ``TreeHeadSignature``: the exact bytes a tree head's signature covers."""
    if len(root) != merkle.HASH_SIZE:
        raise ValueError("a tree root is 32 bytes")
    return struct.pack(">BBQQ", 0, 1, timestamp_ms, size) + root


def sign_tree_head(
    key: Ed25519PrivateKey, size: int, timestamp_ms: int, root: bytes
) -> SignedTreeHead:
    signature = key.sign(tree_head_message(size, timestamp_ms, root))
    return SignedTreeHead(size, timestamp_ms, root, signature, key_id(key))


def verify_tree_head(head: SignedTreeHead, key: AnyKey) -> bool:
    """Whether ``key`` made the head's signature (its key id must name ``key`` too)."""
    public = public_of(key)
    if head.key_id != key_id(public):
        return False
    try:
        public.verify(head.signature, tree_head_message(head.size, head.timestamp_ms, head.root))
    except (InvalidSignature, ValueError, OverflowError, struct.error):
        return False
    return True


def require_key(path: Path | None = None, conn: Connection | None = None) -> Ed25519PrivateKey:
    """The signing key for a step that appends to the ledger: ``path``, else the one found
    as `accord.ledger.keys` says (``conn``, a connection to the database, lets it find
    the path kept with the database).

    Never creates one (only `accord init` and a first `accord run` do), so a step run
    from the wrong folder cannot sign with a stray key that no verifier knows.
    """
    from accord.ledger import keys

    path = keys.resolve(conn, path)
    if not keys.available(path):
        raise LedgerKeyUnavailable(
            f"no ledger signing key at {path}: pass --key FILE, set {keys.ENV}, or run "
            "`accord init --key FILE` to create one and keep its path with the database"
        )
    return load_private_key(path)
