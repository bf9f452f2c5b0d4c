"""`accord init`: create or upgrade the governance database."""

from __future__ import annotations

import typer

from accord.cli.common import DatabaseOption, database_url, out
from accord.cli.ledger import KeyOption, key_path
from accord.ledger import signing
from accord.store import db


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(database: DatabaseOption = None, key: KeyOption = None) -> None:
        """Create the database schema, or upgrade it to this version's; a no-op when current."""
        url = database_url(database)
        before, after = db.upgrade(url)
        shown = db.describe(url)
        if before == after:
            out.print(f"{shown}: schema already current ({after})")
        elif before is None:
            out.print(f"{shown}: schema created ({after})")
        else:
            out.print(f"{shown}: schema upgraded from {before} to {after}")
        path = key_path(key)
        existed = path.exists()
        signing.load_or_create_key(path)
        state = "already there" if existed else "created, readable by its owner only"
        out.print(f"ledger signing key: {path.resolve()} ({state})", markup=False)
