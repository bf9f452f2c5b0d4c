"""Options and output shared by every command."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import typer
from rich.console import Console

from accord.config import settings

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
    return settings(database).database_url
