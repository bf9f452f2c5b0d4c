"""Which key a database's ledger is signed with, found the same way by every command.

In order: the ``--key`` given to the command; else ``ACCORD_LEDGER_KEY_PEM``, the key
itself (PEM) in the environment, as a secret store injects it (:data:`FROM_PEM`); else
``ACCORD_LEDGER_KEY``, a path (a mounted secret, say); else the path
kept with the database itself (``database_settings``, written by `accord init` and by a
first `accord run`); else ``accord-ledger.key`` in the working folder.  Keeping the path
with the database means that the same database finds the same key whichever folder a
command runs in, and that a server started on it can sign.

A command resolves its key once (:func:`resolve`) and puts it in use for the rest of
the command (:func:`use`), so that everything it calls, down to the ledger unit of work
that signs a tree head over the leaves it appended (`accord.ledger.unit`), signs with it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, insert, inspect, select, update

from accord.errors import AccordError, LedgerKeyUnavailable
from accord.store import db
from accord.store.models import DatabaseSetting, TreeHead, utcnow

SETTING = "ledger_key"
ENV = "ACCORD_LEDGER_KEY"
ENV_PEM = "ACCORD_LEDGER_KEY_PEM"
DEFAULT = Path("accord-ledger.key")
# Stands for the key held in ACCORD_LEDGER_KEY_PEM wherever a key path goes; it names no
# file, is never created, and is never kept with the database.
FROM_PEM = Path(f"${ENV_PEM}")

_in_use: Path | None = None  # the key the running command resolved, if it did


def in_use() -> Path | None:
    """The key the running command resolved (see :func:`use`), if any."""
    return _in_use


def use(path: Path) -> None:
    """Put ``path`` in use for the rest of the command (until :func:`command` ends)."""
    global _in_use
    _in_use = path


@contextlib.contextmanager
def command() -> Iterator[None]:
    """One command's span: a key put in use inside it is forgotten when it ends, so that
    commands run one after another in one process (tests) never share one."""
    global _in_use
    before = _in_use
    try:
        yield
    finally:
        _in_use = before


def from_environment() -> Path | None:
    """:data:`FROM_PEM` if ``ACCORD_LEDGER_KEY_PEM`` holds a key, else the path in
    ``ACCORD_LEDGER_KEY``; both set is refused (exit 2): which one signs would be a guess."""
    pem = os.environ.get(ENV_PEM, "").strip()
    value = os.environ.get(ENV)
    if pem and value:
        raise AccordError(
            f"{ENV} and {ENV_PEM} are both set: set {ENV} (a key file) or {ENV_PEM} "
            "(the key itself, PEM), not both"
        )
    if pem:
        return FROM_PEM
    return Path(value) if value else None


def is_pem(path: Path) -> bool:
    """Whether ``path`` stands for the key in ``ACCORD_LEDGER_KEY_PEM``."""
    return path == FROM_PEM


def pem_bytes() -> bytes | None:
    value = os.environ.get(ENV_PEM, "")
    # A secret injected into an environment variable may have its newlines escaped.
    return value.strip().replace("\\n", "\n").encode("ascii", "replace") if value.strip() else None


def available(path: Path) -> bool:
    """Whether there is a key at ``path`` (for :data:`FROM_PEM`: whether the variable is set)."""
    return pem_bytes() is not None if is_pem(path) else path.exists()


def kept(conn: Connection) -> Path | None:
    """The key path kept with the database, if one was."""
    value = conn.scalar(select(DatabaseSetting.value).where(DatabaseSetting.name == SETTING))
    return Path(value) if value else None


def keep(conn: Connection, path: Path) -> None:
    """Keep ``path`` (made absolute) with the database as where its ledger key is; a key
    from ``ACCORD_LEDGER_KEY_PEM`` names no file, so nothing is kept for it."""
    if is_pem(path):
        return
    value = str(path.expanduser().resolve())
    found = conn.scalar(select(DatabaseSetting.value).where(DatabaseSetting.name == SETTING))
    if found == value:
        return
    if found is None:
        conn.execute(insert(DatabaseSetting).values(name=SETTING, value=value, updated_at=utcnow()))
    else:
        conn.execute(
            update(DatabaseSetting)
            .where(DatabaseSetting.name == SETTING)
            .values(value=value, updated_at=utcnow())
        )


def resolve(conn: Connection | None, given: Path | None = None) -> Path:
    """The key path in order: ``given``, the command's, the environment's, the database's,
    the default.  ``conn`` (a connection to the database) may be None."""
    found = given or in_use() or from_environment()
    if found is None and conn is not None and _has_settings(conn):
        found = kept(conn)
    return found or DEFAULT


def resolve_for(url: str, given: Path | None = None) -> Path:
    """:func:`resolve` for the database at ``url``, without creating it if it is absent."""
    found = given or in_use() or from_environment()
    if found is not None:
        return found
    if not db.exists(url):
        return DEFAULT
    with db.connect(url) as conn:
        return resolve(conn)


def _has_settings(conn: Connection) -> bool:
    return bool(inspect(conn).has_table(DatabaseSetting.__tablename__))


def signer_of(conn: Connection) -> str | None:
    """The key id that signed the ledger's latest tree head, if one is signed."""
    return conn.scalar(select(TreeHead.key_id).order_by(TreeHead.tree_size.desc()).limit(1))


def refuse_foreign(conn: Connection, key_id: str, path: Path) -> None:
    """Refuse a key that is not the one this ledger's heads are signed with: heads signed
    by two keys cannot be checked against one, so `accord verify` would fail."""
    signer = signer_of(conn)
    if signer is not None and signer != key_id:
        raise LedgerKeyUnavailable(
            f"ledger key {path} (key id {key_id[:16]}…) is not the key this database's "
            f"ledger is signed with (key id {signer[:16]}…): pass that key with --key"
        )
