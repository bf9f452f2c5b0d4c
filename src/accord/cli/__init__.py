"""The `accord` command line: thin; it parses, calls a service, prints.

Errors a user can cause become one line on stderr and exit status 2 (1 for a check
that failed); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

# Typer 0.29 vendors Click; its exceptions are only reachable here.
from typer._click.exceptions import ClickException, UsageError

from accord import __version__
from accord.cli import admission as admission_cmds
from accord.cli import agreements as agreements_cmds
from accord.cli import common
from accord.cli import demo as demo_cmds
from accord.cli import ledger as ledger_cmds
from accord.cli import link as link_cmds
from accord.cli import remedy as remedy_cmds
from accord.cli import report as report_cmds
from accord.cli import retention as retention_cmds
from accord.cli import review as review_cmds
from accord.cli import rights as rights_cmds
from accord.cli import run as run_cmds
from accord.cli import scores as scores_cmds
from accord.cli import serve as serve_cmds
from accord.cli import simulate as simulate_cmds
from accord.cli import store as store_cmds
from accord.cli import synth as synth_cmds
from accord.cli import validate as validate_cmds
from accord.cli.common import err
from accord.errors import AccordError

app = typer.Typer(
    name="accord",
    help="Governed sharing of records about people between public bodies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"accord {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when something fails.")
    ] = False,
) -> None:
    """Accord makes every disclosure accurate, lawful, proportionate, firewalled,
    accountable, correctable and transparent."""


# In the order a newcomer meets them in `accord --help`.
store_cmds.register(app)
validate_cmds.register(app)
synth_cmds.register(app)
run_cmds.register(app)
review_cmds.register(app)
remedy_cmds.register(app)
rights_cmds.register(app)
report_cmds.register(app)
simulate_cmds.register(app)
demo_cmds.register(app)
agreements_cmds.register(app)
admission_cmds.register(app)
link_cmds.register(app)
ledger_cmds.register(app)
retention_cmds.register(app)
scores_cmds.register(app)
serve_cmds.register(app)


# What Accord writes (the database, reports, batches, letters) is about people: readable
# by the account that runs it alone, whatever umask the caller has.
PRIVATE_UMASK = 0o077


def main(argv: list[str] | None = None) -> int:
    previous = os.umask(PRIVATE_UMASK)
    try:
        return _main(argv)
    finally:
        os.umask(previous)


def _main(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    _unpublished()  # failures an earlier command in this process left
    try:
        result = app(args=args, prog_name="accord", standalone_mode=False)
        unpublished = _unpublished()
        if unpublished:
            # The command's own work is done and committed; its heads wait to be published.
            err.print(
                f"accord: signed tree heads not published: {unpublished[0]}; they stay "
                "pending: the next command that signs publishes them (or `accord ledger "
                "publish`), and `accord verify` fails until then",
                markup=False,
            )
            return 1
    except UsageError as exc:
        exc.show()
        return 2
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.Abort:
        err.print("accord: aborted")
        return 130
    except AccordError as exc:
        if debug:
            raise
        err.print(f"accord: {common.message(exc)}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("accord: interrupted")
        return 130
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"accord: internal error: {type(exc).__name__}: {exc} "
            "(this is a bug in Accord; run again with --debug for the traceback)",
            markup=False,
        )
        return 70
    return result if isinstance(result, int) else 0


def _unpublished() -> list[str]:
    """Publication failures since the last call (`accord.ledger.publish.take_failures`);
    none when no command in this process has imported the publisher."""
    if "accord.ledger.publish" not in sys.modules:
        return []
    from accord.ledger import publish

    return publish.take_failures()


def entry() -> None:
    sys.exit(main())
