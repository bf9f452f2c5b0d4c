"""Making a database ready: what `accord init` does, and a first `accord run` on an empty one.

The schema is created or upgraded; the ledger's signing key is created if its file is
not there yet; and the key's path is kept with the database (`accord.ledger.keys`), so
that every later command on the same database, `accord serve` included, finds it.
A key that is not the one the ledger's heads are signed with is refused before any
file is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accord.errors import LedgerKeyUnavailable
from accord.ledger import keys, signing
from accord.store import db


@dataclass(frozen=True)
class Initialised:
    url: str
    schema_before: str | None
    schema_after: str
    key: Path  # absolute
    key_created: bool

    def schema_words(self) -> str:
        if self.schema_before == self.schema_after:
            return f"schema already current ({self.schema_after})"
        if self.schema_before is None:
            return f"schema created ({self.schema_after})"
        return f"schema upgraded from {self.schema_before} to {self.schema_after}"


def initialise(url: str, key: Path) -> Initialised:
    """Create or upgrade the schema at ``url``, and create ``key`` if it does not exist."""
    before, after = db.upgrade(url)
    path = key if keys.is_pem(key) else key.expanduser().resolve()
    with db.connect(url) as conn:
        if not keys.available(path) and keys.signer_of(conn) is not None:
            raise LedgerKeyUnavailable(
                f"no ledger key at {path}, and this database's ledger is already signed: "
                "pass the key it was signed with (--key); a new key could not sign it"
            )
    created = not keys.available(path)
    private = signing.load_or_create_key(path)
    with db.connect(url) as conn:
        keys.refuse_foreign(conn, signing.key_id(private), path)
        keys.keep(conn, path)
    return Initialised(url, before, after, path, created)
