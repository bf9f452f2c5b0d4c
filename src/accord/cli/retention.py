"""`accord retention plan|apply`: destroy what is due, never a person's evidence (F9)."""

from __future__ import annotations

from typing import Annotated

import typer

from accord.cli.common import AsOfOption, DatabaseOption, as_of_date, database_url, out

group = typer.Typer(help="Evidence retention: what is due for destruction, and destroying it.")


@group.command("plan")
def plan_cmd(as_of: AsOfOption = None, database: DatabaseOption = None) -> None:
    """List every record due for destruction, whether it may go, and why."""
    from accord import retention

    items = retention.plan(database_url(database), as_of_date(as_of))
    lines = ["record_kind\trecord_ref\tperson_id\tdue\taction\tjustification"]
    lines += [
        f"{i.record_kind}\t{i.record_ref}\t{i.person_id}\t{i.due}\t{i.action}\t{i.justification}"
        for i in items
    ]
    typer.echo("\n".join(lines))
    destroy = sum(i.action == "destroy" for i in items)
    out.print(
        f"{len(items)} due: {destroy} to destroy, {len(items) - destroy} refused", markup=False
    )


@group.command("apply")
def apply_cmd(
    by: Annotated[str, typer.Option("--by", help="Who authorises the destruction.")],
    as_of: AsOfOption = None,
    database: DatabaseOption = None,
) -> None:
    """Destroy what the plan allows; log each destruction and refusal with its digest."""
    from accord import retention

    result = retention.apply(database_url(database), as_of_date(as_of), by)
    out.print(f"{result.destroyed} destroyed, {result.refused} refused", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="retention")
