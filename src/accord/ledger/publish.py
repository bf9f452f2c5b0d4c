"""Signed tree heads published outside the database, append-only, and read back.

A head kept only in the database proves nothing against whoever controls the database:
the newest leaves can be removed together with every head that covers them, and the key
holder can rewrite history and re-sign it.  So every head Accord signs is also written
to a destination set with ``ACCORD_PUBLISH_HEADS`` (:func:`configured`):

- a local file ending ``.jsonl`` (or any existing file): one record per line, appended;
- a local folder (any other path): one file per head named by its size, ``<size>.json``,
  and ``latest``, a copy of the newest, which is what a web server serves over HTTP;
- an S3 prefix ``s3://bucket/prefix``: the folder layout, as objects.

A record is ``{"signed_head": {...}, "previous_size": N, "consistency": [hex, ...]}``:
the head, the size of the head published before it (null for the first) and the RFC 6962
consistency proof from that head to this one, so that a witness holding nothing but the
published records can check that each extends the last (`accord.ledger.witness`).

Append-only: a head already published is never overwritten (a folder's ``<size>.json`` is
created only if absent, on S3 by a conditional write), a head that differs from the one
published at its size is refused, and nothing is published from a database whose ledger
does not extend the newest published head.  ``latest`` is the one file that changes, and
only ever to a larger head.

Heads are published just after the transaction that signed them commits
(:func:`schedule`).  A failure there leaves the database's new heads *pending
publication*: the command says so in one line and exits 1 once its own work is done, the
next command that signs (or `accord ledger publish`) publishes every pending head in order,
and `accord verify` fails naming them until then.  Publishing before the commit instead
would publish a head the database then might not hold, if the commit failed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import Connection, select

from accord import uri
from accord.errors import AccordError
from accord.ledger import PUBLISH_HEADS_ENV, merkle, signing, tree
from accord.ledger.signing import SignedTreeHead
from accord.store import db
from accord.store.models import TreeHead

LATEST = "latest"
COSIGNATURES = "cosignatures"

log = logging.getLogger("accord.ledger.publish")


class PublishRefused(AccordError):
    """The destination holds heads the database's ledger does not extend (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class Record:
    """One published head, with the consistency proof from the head published before it."""

    head: SignedTreeHead
    previous_size: int | None = None
    consistency: tuple[bytes, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "signed_head": self.head.to_json(),
            "previous_size": self.previous_size,
            "consistency": [p.hex() for p in self.consistency],
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_json(cls, doc: Any) -> Record:
        """A record, a bare signed head, or what `accord ledger head` prints; ValueError."""
        if isinstance(doc, dict) and "signed_head" in doc:
            if doc["signed_head"] is None:
                raise ValueError("it holds no signed head")
            head = SignedTreeHead.from_json(doc["signed_head"])
            previous = doc.get("previous_size")
            if previous is not None and (
                isinstance(previous, bool) or not isinstance(previous, int) or previous < 0
            ):
                raise ValueError("previous_size must be a non-negative integer or null")
            proof = doc.get("consistency", [])
            if not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
                raise ValueError("consistency must be a list of hex hashes")
            try:
                hashes = tuple(bytes.fromhex(p) for p in proof)
            except ValueError:
                raise ValueError("consistency holds a hash that is not hex") from None
            return cls(head, previous, hashes)
        return cls(SignedTreeHead.from_json(doc))

    def extends(self, earlier: Record) -> bool:
        """Whether this record's proof shows its head extends ``earlier``'s."""
        return merkle.verify_consistency(
            earlier.head.size, self.head.size, earlier.head.root, self.head.root,
            self.consistency,
        )  # fmt: skip


@dataclass(frozen=True)
class Cosignature:
    """A witness's statement that a head is consistent with every head it saw before.

    The signed message is C2SP tlog-cosignature's ``cosignature/v1``: the line
    ``cosignature/v1``, the line ``time <seconds>``, then the head as a checkpoint body
    (origin ``accord-ledger/<ledger key id>``, the size, the base64 root).
    """

    witness: str  # a name for people
    witness_key_id: str  # SHA-256 of the witness's DER public key, as ledger keys are named
    log_key_id: str
    tree_size: int
    root: bytes
    timestamp: int  # seconds
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "witness": self.witness,
            "witness_key_id": self.witness_key_id,
            "log_key_id": self.log_key_id,
            "tree_size": self.tree_size,
            "root_hash": self.root.hex(),
            "timestamp": self.timestamp,
            "signature": self.signature.hex(),
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_json(cls, doc: Any) -> Cosignature:
        if not isinstance(doc, dict):
            raise ValueError("a co-signature is a JSON object")
        texts = {}
        for name in ("witness", "witness_key_id", "log_key_id", "root_hash", "signature"):
            value = doc.get(name)
            if not isinstance(value, str):
                raise ValueError(f"{name} must be text")
            texts[name] = value
        numbers = {}
        for name in ("tree_size", "timestamp"):
            value = doc.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
            numbers[name] = value
        try:
            root, signature = bytes.fromhex(texts["root_hash"]), bytes.fromhex(texts["signature"])
        except ValueError:
            raise ValueError("root_hash and signature must be hex") from None
        return cls(
            texts["witness"], texts["witness_key_id"], texts["log_key_id"],
            numbers["tree_size"], root, numbers["timestamp"], signature,
        )  # fmt: skip

    def message(self) -> bytes:
        return cosignature_message(self.log_key_id, self.tree_size, self.root, self.timestamp)

    def verify(self, key: signing.AnyKey) -> bool:
        public = signing.public_of(key)
        if self.witness_key_id != signing.key_id(public):
            return False
        try:
            public.verify(self.signature, self.message())
        except (InvalidSignature, ValueError):
            return False
        return True


def cosignature_message(log_key_id: str, size: int, root: bytes, timestamp: int) -> bytes:
    import base64

    body = f"accord-ledger/{log_key_id}\n{size}\n{base64.b64encode(root).decode()}\n"
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


# --- reading records ---------------------------------------------------------------------


def parse_records(data: bytes, label: str) -> list[Record]:
    """Records from JSON (one, or a list) or JSON Lines; one line naming what is wrong."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AccordError(f"{label}: not UTF-8 text") from None
    docs: list[tuple[str, Any]]
    try:
        whole = json.loads(text)
        items = whole if isinstance(whole, list) else [whole]
        docs = [(f"head {n}", d) for n, d in enumerate(items, start=1)]
    except json.JSONDecodeError:
        docs = []
        for number, written in enumerate(text.splitlines(), start=1):
            if not written.strip():
                continue
            try:
                docs.append((f"line {number}", json.loads(written)))
            except json.JSONDecodeError as exc:
                raise AccordError(f"{label}: line {number} is not JSON: {exc.msg}") from None
    except RecursionError:
        raise AccordError(f"{label}: JSON nested too deeply to be a signed head") from None
    records = []
    for where, doc in docs:
        try:
            records.append(Record.from_json(doc))
        except ValueError as exc:
            raise AccordError(f"{label}: {where} is not a signed tree head: {exc}") from None
    return records


def _parse_one(data: bytes, label: str) -> Record:
    found = parse_records(data, label)
    if len(found) != 1:
        raise AccordError(f"{label}: holds {len(found)} heads, not one")
    return found[0]


# --- destinations ------------------------------------------------------------------------


class Destination:
    """Where heads are published; read by `accord verify --published` and witnesses."""

    def __init__(self, location: str) -> None:
        self.location = location

    def __str__(self) -> str:
        return self.location

    writable = True

    def records(self) -> list[Record]:
        """Every published record, oldest first."""
        raise NotImplementedError

    def latest(self) -> Record | None:
        raise NotImplementedError

    def append(self, records: Sequence[Record]) -> None:
        raise NotImplementedError

    def cosignatures(self) -> list[Cosignature]:
        """Every co-signature written next to the heads (the latest of each witness)."""
        raise NotImplementedError

    def cosignatures_by(self, witness_key_id: str) -> Cosignature | None:
        """The latest co-signature of one witness, if it wrote one."""
        mine = [c for c in self.cosignatures() if c.witness_key_id == witness_key_id]
        return max(mine, key=lambda c: (c.tree_size, c.timestamp)) if mine else None

    def add_cosignature(self, cosignature: Cosignature) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        yield


def _refuse_different(label: str, size: int) -> PublishRefused:
    return PublishRefused(
        f"{label}: a different head is already published at {size:,} leaves; a published "
        "head is never overwritten"
    )


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise AccordError(f"{path}: cannot open to lock: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def replace_whole(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` whole: a file beside it, synced, then renamed over
    it, so a reader sees the old content or the new, never part (OSError)."""
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(staged, path)


def _append_local(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise AccordError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        os.write(fd, data)
        os.fsync(fd)
    except OSError as exc:
        raise AccordError(f"{path}: cannot write: {exc.strerror}") from None
    finally:
        os.close(fd)


class LinesFile(Destination):
    """A local JSON Lines file: one record per line, appended.  Co-signatures go to the
    file beside it, ``<name>.cosignatures.jsonl``."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.path = Path(location)

    @property
    def cosignature_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".cosignatures.jsonl")

    def records(self) -> list[Record]:
        data = uri.read_bytes(str(self.path))
        if data is None:
            return []
        return sorted(parse_records(data, str(self.path)), key=lambda r: r.head.size)

    def latest(self) -> Record | None:
        found = self.records()
        return found[-1] if found else None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        if not self.path.parent.is_dir():
            raise AccordError(
                f"{PUBLISH_HEADS_ENV} {self.path}: folder {self.path.parent} does not exist"
            )
        with _flock(self.path.with_name(self.path.name + ".lock")):
            yield

    def append(self, records: Sequence[Record]) -> None:
        known = {r.head.size: r.head for r in self.records()}
        new = []
        for record in records:
            there = known.get(record.head.size)
            if there is not None and there != record.head:
                raise _refuse_different(str(self.path), record.head.size)
            if there is None:
                new.append(record)
        if new:
            _append_local(self.path, b"".join(r.encode() for r in new))

    def cosignatures(self) -> list[Cosignature]:
        data = uri.read_bytes(str(self.cosignature_path))
        if data is None:
            return []
        found = []
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            if line.strip():
                try:
                    found.append(Cosignature.from_json(json.loads(line)))
                except (ValueError, json.JSONDecodeError) as exc:
                    raise AccordError(
                        f"{self.cosignature_path}: line {number} is not a co-signature: {exc}"
                    ) from None
        return found

    def add_cosignature(self, cosignature: Cosignature) -> None:
        with _flock(self.path.with_name(self.path.name + ".lock")):
            _append_local(self.cosignature_path, cosignature.encode())


class Folder(Destination):
    """One object per head, ``<size>.json``, and ``latest``; co-signatures under
    ``cosignatures/<witness key id>/`` the same way.  Read by walking back from ``latest``
    through each record's ``previous_size``, so that a plain web server can serve it."""

    def get(self, name: str) -> bytes | None:
        raise NotImplementedError

    def put_new(self, name: str, data: bytes) -> bool:
        """Create ``name`` if absent; False if it already exists."""
        raise NotImplementedError

    def put(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def names(self, folder: str) -> list[str] | None:
        """The names directly in a sub-folder, or None if it cannot be listed (HTTP)."""
        raise NotImplementedError

    def where(self, name: str) -> str:
        return f"{self.location.rstrip('/')}/{name}"

    def _record(self, name: str) -> Record | None:
        data = self.get(name)
        return None if data is None else _parse_one(data, self.where(name))

    def latest(self) -> Record | None:
        return self._record(LATEST)

    def records(self) -> list[Record]:
        newest = self.latest()
        if newest is None:
            return []
        chain = [newest]
        while chain[-1].previous_size is not None:
            size = chain[-1].previous_size
            assert size is not None
            if size >= chain[-1].head.size:
                raise AccordError(
                    f"{self.where(f'{chain[-1].head.size}.json')}: previous_size {size} is not "
                    "smaller than its own size"
                )
            record = self._record(f"{size}.json")
            if record is None:
                raise AccordError(f"{self.where(f'{size}.json')}: missing (a published head)")
            if record.head.size != size:
                raise AccordError(
                    f"{self.where(f'{size}.json')}: holds the head at {record.head.size} leaves"
                )
            chain.append(record)
        return chain[::-1]

    def append(self, records: Sequence[Record]) -> None:
        for record in records:
            name = f"{record.head.size}.json"
            data = record.encode()
            if not self.put_new(name, data):
                there = self._record(name)
                if there is None or there.head != record.head:
                    raise _refuse_different(self.where(name), record.head.size)
        if records:
            newest = records[-1]
            current = self.latest()
            if current is None or current.head.size < newest.head.size:
                self.put(LATEST, newest.encode())

    def cosignatures(self) -> list[Cosignature]:
        witnesses = self.names(COSIGNATURES)
        if witnesses is None:
            return []
        return [c for w in sorted(witnesses) if (c := self.cosignatures_by(w)) is not None]

    def cosignatures_by(self, witness_key_id: str) -> Cosignature | None:
        name = f"{COSIGNATURES}/{witness_key_id}/{LATEST}"
        data = self.get(name)
        if data is None:
            return None
        try:
            return Cosignature.from_json(json.loads(data))
        except (ValueError, json.JSONDecodeError) as exc:
            raise AccordError(f"{self.where(name)}: not a co-signature: {exc}") from None

    def add_cosignature(self, cosignature: Cosignature) -> None:
        folder = f"{COSIGNATURES}/{cosignature.witness_key_id}"
        name = f"{folder}/{cosignature.tree_size}.json"
        if not self.put_new(name, cosignature.encode()):
            return  # this witness co-signed this size before: keep the first
        self.put(f"{folder}/{LATEST}", cosignature.encode())


class LocalFolder(Folder):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.path = Path(location)

    def get(self, name: str) -> bytes | None:
        return uri.read_bytes(str(self.path / name))

    def _ready(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AccordError(f"{path.parent}: cannot create folder: {exc.strerror}") from None

    def put_new(self, name: str, data: bytes) -> bool:
        path = self.path / name
        self._ready(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise AccordError(f"{path}: cannot write: {exc.strerror}") from None
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def put(self, name: str, data: bytes) -> None:
        path = self.path / name
        self._ready(path)
        try:
            replace_whole(path, data, 0o644)
        except OSError as exc:
            raise AccordError(f"{path}: cannot write: {exc.strerror}") from None

    def names(self, folder: str) -> list[str] | None:
        path = self.path / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self._ready(self.path / LATEST)
        with _flock(self.path / ".lock"):
            yield


class S3Folder(Folder):
    """The folder layout as S3 objects; ``<size>.json`` is created with a conditional
    write (``If-None-Match: *``), so two publishers can never overwrite one another."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.base = uri.s3_location(location, PUBLISH_HEADS_ENV)

    def get(self, name: str) -> bytes | None:
        return uri.read_bytes(str(self.base.child(name)))

    def put_new(self, name: str, data: bytes) -> bool:
        return uri.s3_put(self.base.child(name), data, create_only=True)

    def put(self, name: str, data: bytes) -> None:
        uri.s3_put(self.base.child(name), data, create_only=False)

    def names(self, folder: str) -> list[str] | None:
        prefix = self.base.child(folder)
        start = len(prefix.key.rstrip("/")) + 1
        return sorted({k[start:].split("/", 1)[0] for k in uri.s3_keys(prefix)})


class HttpFolder(Folder):
    """A published folder served over HTTP(S): read only."""

    writable = False

    def get(self, name: str) -> bytes | None:
        return uri.read_bytes(self.where(name))

    def names(self, folder: str) -> list[str] | None:
        return None

    def put_new(self, name: str, data: bytes) -> bool:
        raise AccordError(
            f"{self.location}: an HTTP URL is read only; publish to the folder it serves"
        )

    def put(self, name: str, data: bytes) -> None:
        self.put_new(name, data)


class HttpLines(LinesFile):
    """A published JSON Lines file served over HTTP(S): read only."""

    writable = False

    def records(self) -> list[Record]:
        data = uri.read_bytes(self.location)
        if data is None:
            raise AccordError(f"{self.location}: not found (HTTP 404)")
        return sorted(parse_records(data, self.location), key=lambda r: r.head.size)

    def cosignatures(self) -> list[Cosignature]:
        return []


_FILE_SUFFIXES = (".jsonl", ".json")


def destination(location: str | Path, what: str = PUBLISH_HEADS_ENV) -> Destination:
    """The destination a location names: ``s3://`` an S3 prefix, ``http(s)://`` a served
    folder (or a ``.jsonl`` file), a local existing file or a path ending ``.jsonl`` or
    ``.json`` a JSON Lines file, any other local path a folder."""
    text = str(location)
    if not text.strip():
        raise AccordError(f"{what}: empty; give a file, a folder or s3://bucket/prefix")
    if uri.is_s3(text):
        uri.s3_location(text, what)
        return S3Folder(text)
    if uri.is_http(text):
        if text.endswith(_FILE_SUFFIXES):
            return HttpLines(text)
        return HttpFolder(text)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text) and not text.startswith("file://"):
        raise AccordError(
            f"{what} {text}: heads are published to a local file or folder or s3://bucket/prefix"
        )
    path = Path(text.removeprefix("file://")).expanduser()
    if path.is_file() or path.suffix in _FILE_SUFFIXES:
        return LinesFile(str(path))
    if path.exists() and not path.is_dir():
        raise AccordError(f"{what} {path}: neither a file nor a folder")
    return LocalFolder(str(path))


def configured() -> Destination | None:
    """The destination set with ``ACCORD_PUBLISH_HEADS``, if one is (else None: heads
    live in the database alone, as before)."""
    from accord.config import Settings

    value = Settings().publish_heads
    if value is None or not value.strip():
        return None
    return destination(value)


# --- publishing -------------------------------------------------------------------------

_failures: list[str] = []


def take_failures() -> list[str]:
    """Publication failures since the last call (the command line reports them at the end)."""
    found = list(_failures)
    _failures.clear()
    return found


def schedule(conn: Connection) -> None:
    """Have the heads this transaction signs published once it commits, if a destination
    is configured.  A destination that is not usable as a setting is refused now, before
    the commit (exit 2, nothing written)."""
    target = configured()
    if target is None:
        return
    if not target.writable:
        raise AccordError(
            f"{PUBLISH_HEADS_ENV} {target}: an HTTP URL is read only; publish to a folder or S3"
        )
    url = conn.engine.url.render_as_string(hide_password=False)
    db.after_commit(conn, "ledger: publish heads", lambda: _publish_quietly(url, target))


def _publish_quietly(url: str, target: Destination) -> None:
    try:
        publish(url, target)
    except AccordError as exc:
        _failures.append(f"{exc}")
        del _failures[:-100]  # a server that never asks keeps the last few, for its log
        log.error("signed tree heads not published: %s", exc)


def pending(conn: Connection, newest: Record | None) -> list[SignedTreeHead]:
    """The database's heads newer than ``newest``, the newest published (None: all)."""
    after = -1 if newest is None else newest.head.size
    rows = conn.execute(
        select(TreeHead).where(TreeHead.tree_size > after).order_by(TreeHead.tree_size)
    )
    return [SignedTreeHead(
        int(r.tree_size), int(r.timestamp_ms), bytes(r.root_hash), bytes(r.signature), r.key_id
    ) for r in rows]  # fmt: skip


def publish(url: str, target: Destination) -> list[SignedTreeHead]:
    """Publish every head the database holds beyond the newest at ``target``, in order,
    each with its consistency proof from the one before; the heads published.

    Refused (:class:`PublishRefused`, exit 1) when the database's ledger does not extend
    the newest published head: fewer leaves than it covers, or another root at its size.
    """
    with target.lock():
        newest = target.latest()
        with db.connect(url) as conn:
            size = tree.tree_size(conn)
            if newest is not None:
                head = newest.head
                label = f"{target}: the newest published head, at {head.size:,} leaves"
                if head.size > size:
                    raise PublishRefused(
                        f"{label}, is beyond this database's ledger ({size:,} leaves): "
                        "nothing is published from a ledger that lost entries"
                    )
                if tree.root(conn, head.size) != head.root:
                    raise PublishRefused(
                        f"{label}, has another root than this database's ledger at that size: "
                        "nothing is published from a rewritten ledger"
                    )
            heads = pending(conn, newest)
            records = []
            previous = newest.head if newest is not None else None
            for h in heads:
                proof = (
                    tree.consistency_proof(conn, previous.size, h.size)
                    if previous is not None
                    else []
                )
                records.append(
                    Record(h, previous.size if previous is not None else None, tuple(proof))
                )
                previous = h
        target.append(records)
    return heads
