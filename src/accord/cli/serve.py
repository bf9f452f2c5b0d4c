"""`accord serve` (the web application and API) and `accord users` (who may use it)."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from accord.cli.common import DatabaseOption, KeyOption, err, key_path, out, ready_database
from accord.errors import AccordError
from accord.vocab import ROLES

if TYPE_CHECKING:
    from accord import identity

users_app = typer.Typer(help="Users of the web application and API, and their API tokens.")


def _read_password() -> str:
    """The first line of standard input (so that a password never appears in `ps`)."""
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise AccordError("--password-stdin: no password on standard input")
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The username.")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    recipient: Annotated[
        str | None,
        typer.Option("--recipient", help="For role recipient: the recipient body it acts for."),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option("--person", help="For role subject: the person id the user is."),
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="The name shown on screens.")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read a password for the screens from stdin."),
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Add a user; a recipient is bound to one body, a subject to one person."""
    from accord import identity

    url = ready_database(database)
    password = _read_password() if password_stdin else None
    user = identity.add_user(
        url,
        name,
        role,
        display_name=display_name,
        recipient=recipient,
        person_id=person,
        password=password,
        actor="cli",
    )
    bound = (
        f" for {user.recipient}"
        if user.recipient
        else (" (a data subject)" if user.person_id else "")
    )
    out.print(
        f"user {user.username} added: {user.role}{bound}"
        + ("" if user.has_password else "; no password, so API tokens only"),
        markup=False,
    )


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="The username.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "api",
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, help="Expire after this many days.")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Issue an API token and print it once: only its SHA-256 is kept."""
    from accord import identity

    url = ready_database(database)
    token = identity.issue_token(url, name, label, expires_days=expires_days, actor="cli")
    out.print(token, markup=False, highlight=False)
    err.print("store this token now: Accord keeps only its hash and cannot show it again")


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="The username.")],
    database: DatabaseOption = None,
) -> None:
    """Disable a user: their sessions and API tokens stop working at once."""
    from accord import identity

    url = ready_database(database)
    identity.disable_user(url, name, actor="cli")
    out.print(f"user {name} disabled", markup=False)


@users_app.command("revoke")
def users_revoke(
    name: Annotated[str, typer.Argument(help="The username.")],
    label: Annotated[
        str | None, typer.Option("--label", help="Only the tokens with this label.")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Revoke a user's API tokens (all, or those with --label)."""
    from accord import identity

    url = ready_database(database)
    n = identity.revoke_tokens(url, name, label, actor="cli")
    out.print(f"{n} token(s) of {name} revoked", markup=False)


@users_app.command("unlock")
def users_unlock(
    name: Annotated[str, typer.Argument(help="The username.")],
    by: Annotated[str, typer.Option("--by", help="Who is doing this, for the audit log.")] = "cli",
    database: DatabaseOption = None,
) -> None:
    """Clear a username's failed sign-ins and the lock they earned, before it runs out."""
    from accord import identity

    url = ready_database(database)
    if identity.unlock(url, name, actor=by):
        out.print(f"{name}: failed sign-ins cleared, sign-in open again", markup=False)
    else:
        out.print(f"{name}: no failed sign-ins on record", markup=False)


@users_app.command("list")
def users_list(database: DatabaseOption = None) -> None:
    """List the users, their roles and what they are bound to."""
    from accord import identity

    url = ready_database(database)
    users = identity.list_users(url)
    table = Table("user", "name", "role", "bound to", "tokens", "password", "disabled", "sign-in")
    for u in users:
        table.add_row(
            u.username,
            u.display_name,
            u.role,
            u.recipient or u.person_id or "",
            str(u.tokens),
            "set" if u.has_password else "",
            "yes" if u.disabled else "",
            _sign_in(u),
        )
    out.print(table)


def _sign_in(user: identity.UserInfo) -> str:
    """A user's sign-in state in a few words: locked (until when), or failures so far."""
    if user.locked_until is not None:
        return f"locked until {user.locked_until:%Y-%m-%d %H:%M:%S} UTC"
    if user.failed_sign_ins:
        return f"{user.failed_sign_ins} failed"
    return ""


def check_signing_key(url: str, path: Path) -> Path:
    """The absolute path of a key that can sign this database's ledger, else
    LedgerKeyUnavailable: it must be a private key, and the one its heads are signed with."""
    from accord.ledger import keys, signing
    from accord.store import db

    private = signing.load_private_key(path)
    with db.connect(url) as conn:
        keys.refuse_foreign(conn, signing.key_id(private), path)
    return path if keys.is_pem(path) else path.expanduser().resolve()


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
        workers: Annotated[
            int, typer.Option("--workers", min=1, help="Server processes (one per core).")
        ] = 1,
        access_log: Annotated[
            bool, typer.Option("--access-log/--no-access-log", help="Log each request.")
        ] = True,
        key: KeyOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Serve the web application and the API (OpenAPI at /api/docs).

        Refuses to start unless it can sign with the ledger's key: reviewers' approvals,
        events and disputes append to the ledger, and each is signed as it commits.
        """
        import uvicorn

        from accord.ledger import keys
        from accord.store import db
        from accord.web import operations

        # Settings first: a wrong one is named in one line (exit 2) before anything starts.
        config = operations.load_settings()
        operations.check_settings(config)
        check_web_secret()
        url = ready_database(database)
        signer = check_signing_key(url, key_path(key, url))
        # Every worker must sign and check sessions with the same secret, and sign the
        # ledger with the same key.
        os.environ.setdefault("ACCORD_WEB_SECRET", secrets.token_urlsafe(32))
        os.environ["ACCORD_DATABASE_URL"] = url
        if not keys.is_pem(signer):  # else the workers read ACCORD_LEDGER_KEY_PEM as it is
            os.environ[keys.ENV] = str(signer)
        logs = operations.log_config(config.log_format)
        serving = f"serving {db.describe(url)} on http://{host}:{port}/"
        if logs is None:
            err.print(f"accord: {serving}", markup=False)
        else:
            operations.log_line("accord.serve", serving)
        with contextlib.ExitStack() as stack:
            if workers > 1 and not os.environ.get(operations.MULTIPROC_ENV):
                # Each worker writes its request counts here; /metrics adds them up.
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="accord-metrics-"))
                os.environ[operations.MULTIPROC_ENV] = folder
            uvicorn.run(
                "accord.web.app:app_from_environment",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                access_log=access_log and logs is None,
                log_level="info",
                log_config=logs if logs is not None else uvicorn.config.LOGGING_CONFIG,
                # A worker importing the app on a busy machine can take more than uvicorn's
                # default 5 s to answer its supervisor, which then kills and restarts it
                # over and over: give it 30.
                timeout_worker_healthcheck=30,
            )


def check_web_secret() -> None:
    """A set ``ACCORD_WEB_SECRET`` must be long enough to sign sessions (32 characters)."""
    given = os.environ.get("ACCORD_WEB_SECRET")
    if given is not None and len(given) < 32:
        raise AccordError(
            "ACCORD_WEB_SECRET must be at least 32 characters (every replica sets the same)"
        )
