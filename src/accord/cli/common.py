"""Options and output shared by every command."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

# Typer 0.29 vendors Click; the current command's context is only reachable here.
from typer._click.globals import get_current_context

from accord.errors import AccordError, InvalidInput

if TYPE_CHECKING:
    from accord.policy.policy import Policy

# Piped output (a file, another program, a test) gets wide tables, never truncated ids.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (else ACCORD_DATABASE_URL, else sqlite:///accord.db).",
        show_default=False,
    ),
]


# A use case names an invalid value by its field in the domain's words; the command line
# shows the option that carries it: ``--{field}`` with ``-`` for ``_``, but for these.
OPTIONS: dict[str, str] = {
    "applied_by": "--by",  # accord rights exempt --by
    "lifted_by": "--by",  # accord rights lift --by
}


def option(field: str) -> str:
    """The command-line option that carries a use case's ``field``."""
    return OPTIONS.get(field, "--" + field.replace("_", "-"))


def message(exc: AccordError) -> str:
    """An error as the command line says it: an invalid value named by its option."""
    if isinstance(exc, InvalidInput):
        return exc.naming(option(exc.field))
    return str(exc)


def parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Decide as on this date (YYYY-MM-DD; default today), so a run can be replayed.",
        show_default=False,
    ),
]


def as_of_date(value: str | None) -> dt.date:
    return parse_date(value) or dt.date.today()


def database_url(database: str | None) -> str:
    from accord.config import settings

    return settings(database).database_url


def ready_database(database: str | None) -> str:
    """The URL of ``--database`` (as :func:`database_url`), refused unless the database is
    at the current schema: the error says how to create or upgrade it."""
    from accord.store import db

    url = database_url(database)
    db.require_schema(url)
    return url


def usable_folder(path: Path, option: str = "--out") -> None:
    """Refuse (exit 2) an output folder that could not be made or written, before a command
    commits anything it would then fail to write out: the folder, or the nearest part of
    it that exists, must be a folder this process may write in."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise AccordError(f"{option} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise AccordError(f"{option} {path}: folder {existing} is not writable")


KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The ledger's Ed25519 key file, PEM (else ACCORD_LEDGER_KEY, else the path "
        "`accord init` kept with the database, else accord-ledger.key).",
        show_default=False,
    ),
]


def key_path(key: Path | None, url: str | None = None) -> Path:
    """The command's ledger key (`accord.ledger.keys`), put in use for the whole command.

    With ``url``, a key path kept with that database counts too.  The key is forgotten
    when the command ends (its context closes), so that commands run one after another
    in one process (tests) never share one.
    """
    from accord.ledger import keys

    path = keys.resolve_for(url, key) if url is not None else keys.resolve(None, key)
    get_current_context().with_resource(keys.command())
    keys.use(path)
    return path


PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="Policy file (else ACCORD_POLICY, else the built-in policy).",
        show_default=False,
    ),
]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who is doing this, for the audit log (default: your login name).",
        show_default=False,
    ),
]


def policy(path: Path | None) -> Policy:
    """The policy from ``--policy``, else ``ACCORD_POLICY``, else the built-in one."""
    from accord.config import settings
    from accord.policy.policy import load_policy

    return load_policy(path if path is not None else settings().policy)


def actor(by: str | None) -> str:
    """Who is acting, for the audit log: ``--by``, else the login name."""
    if by is not None and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


TOKEN_ENV = "ACCORD_USER_TOKEN"
TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help=f"A file holding your user token (`accord users token NAME`); else {TOKEN_ENV}.",
        show_default=False,
    ),
]


def user_token(token_file: Path | None, command: str) -> str:
    """The user token of ``--token-file`` (its first line), else ``ACCORD_USER_TOKEN``;
    one line and exit 2 when there is none, so that no decision is made by a typed name."""
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise AccordError(f"--token-file {token_file}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not readable text"
            raise AccordError(f"--token-file {token_file}: {reason}") from None
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not token:
            raise AccordError(f"--token-file {token_file}: the file holds no token")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise AccordError(
            f"{command} needs your user token: --token-file FILE or {TOKEN_ENV} "
            "(an administrator issues one with `accord users token NAME`)"
        )
    return token
