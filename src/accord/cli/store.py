"""`accord init`: create or upgrade the governance database, and its ledger key."""

from __future__ import annotations

import typer

from accord.cli.common import DatabaseOption, KeyOption, database_url, key_path, out


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(database: DatabaseOption = None, key: KeyOption = None) -> None:
        """Create the database schema, or upgrade it to this version's; a no-op when current.

        Creates the ledger's signing key if its file is not there yet, and keeps the
        key's path with the database, so that later commands on it (`accord serve`
        too) find it without --key.
        """
        from accord.first_use import initialise
        from accord.ledger import keys
        from accord.store import db

        url = database_url(database)
        done = initialise(url, key_path(key, url))
        out.print(f"{db.describe(url)}: {done.schema_words()}", markup=False)
        if keys.is_pem(done.key):
            out.print(
                f"ledger signing key: from {keys.ENV_PEM} (the key itself; no file, so no "
                "path is kept with the database)",
                markup=False,
            )
            return
        state = "created, readable by its owner only" if done.key_created else "already there"
        out.print(f"ledger signing key: {done.key} ({state}); kept with the database", markup=False)
