"""`accord review list|decide`: the review queue and four-eyes decisions."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from accord.cli.common import (
    TOKEN_ENV,
    AsOfOption,
    DatabaseOption,
    KeyOption,
    TokenFileOption,
    as_of_date,
    key_path,
    out,
    ready_database,
    user_token,
)
from accord.errors import AccordError
from accord.vocab import REVIEW_KINDS, ItemStatus

app = typer.Typer(help="The review queue: what a person must decide before Accord acts.")


@app.command("list")
def list_(
    kind: Annotated[
        str | None, typer.Option("--kind", help=f"Only this kind: {', '.join(REVIEW_KINDS)}.")
    ] = None,
    status: Annotated[
        str, typer.Option("--status", help="open, approved, rejected, released or all.")
    ] = ItemStatus.OPEN,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    reasons: Annotated[bool, typer.Option("--reasons", help="Show each item's reason.")] = False,
    database: DatabaseOption = None,
) -> None:
    """List review items, oldest first."""
    if status not in (
        ItemStatus.OPEN,
        ItemStatus.APPROVED,
        ItemStatus.REJECTED,
        ItemStatus.RELEASED,
        "all",
    ):
        raise typer.BadParameter(
            "use open, approved, rejected, released or all", param_hint="--status"
        )
    from accord import review

    url = ready_database(database)
    items = review.list_items(url, kind=kind, status=status, limit=limit)
    total = review.count_items(url, kind=kind, status=status) if limit else len(items)
    what = f"{status} review item{'' if total == 1 else 's'}"
    title = (
        f"{total:,} {what}"
        if len(items) == total
        else f"showing {len(items):,} of {total:,} {what}"
    )
    columns = ["item_id", "kind", "person_id", "record_id", "agreement_id", "approvals needed"]
    table = Table(*columns, *(["reason"] if reasons else []), title=title)
    for i in items:
        cells = [i.item_id, i.kind, i.person_id, i.record_id or "", i.agreement_id or ""]
        cells.append(str(i.approvals_needed))
        table.add_row(*cells, *([i.reason] if reasons else []))
    out.print(table)


@app.command("show")
def show(
    item: Annotated[str, typer.Argument(help="The review item's id.")],
    token_file: TokenFileOption = None,
    database: DatabaseOption = None,
) -> None:
    """One item: both records, what agrees and differs, the reasons, and the score unless
    the agreement reviews blind and the reader has not decided it yet.  The reader is the
    user your token proves (--token-file or ACCORD_USER_TOKEN), never a typed name; with
    no token a blind item's score stays hidden."""
    from accord import blind, identity
    from accord.cli import review_view as view
    from accord.store import db
    from accord.web import readmodels

    url = ready_database(database)
    reviewer = ""
    if token_file is not None or os.environ.get(TOKEN_ENV, "").strip():
        token = user_token(token_file, "accord review show")
        reader_user = identity.user_of_token(url, token, ("reviewer",), "reading review items")
        reviewer = reader_user.username
    reader = reviewer or "accord review show"
    with db.connect(url) as conn:
        found = readmodels.review_item(conn, item, reader, "cli")
        seen = None if found is None else blind.for_reviewer(conn, found, reviewer)
    if seen is None:
        raise AccordError(f"no review item {item!r}")
    for line in view.item_lines(seen):
        out.print(line, highlight=False)


@app.command("decide")
def decide(
    item: Annotated[str, typer.Argument(help="The review item's id.")],
    approve: Annotated[bool, typer.Option("--approve", help="Let the outcome go ahead.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Protect the person from it.")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why, in words for the person.")] = "",
    token_file: TokenFileOption = None,
    as_of: AsOfOption = None,
    key: KeyOption = None,
    database: DatabaseOption = None,
) -> None:
    """Approve or reject one item as the reviewer your user token proves (--token-file or
    ACCORD_USER_TOKEN); adverse outcomes need two different reviewers (four eyes)."""
    from accord import identity, review

    if approve == reject:
        raise typer.BadParameter("give exactly one of --approve or --reject")
    if not reason:
        raise typer.BadParameter("say why", param_hint="--reason")
    token = user_token(token_file, "accord review decide")
    url = ready_database(database)
    reviewer = identity.user_of_token(url, token, ("reviewer",), "deciding review items")
    signer = key_path(key, url)
    outcome = review.decide(
        url, item, approve, reviewer.username, reason, as_of_date(as_of), signer
    )
    out.print(
        f"{outcome.item_id}: {outcome.status} ({outcome.approvals} of "
        f"{outcome.approvals_needed} approvals): {outcome.effect}"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="review")
