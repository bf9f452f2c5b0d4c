"""`accord scores load|list|recall-expired`: derived scores, taken in and shared only under F8."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accord.cli.common import (
    AsOfOption,
    ByOption,
    DatabaseOption,
    KeyOption,
    actor,
    as_of_date,
    database_url,
    key_path,
    out,
    ready_database,
)
from accord.cli.remedy import write_csv_atomically

group = typer.Typer(
    help="Derived scores (F8): take them in, see them, recall those past their limit.",
    no_args_is_help=True,
)


@group.command("load")
def load_cmd(
    file: Annotated[Path, typer.Argument(help="Scores file (.csv or .parquet).")],
    agreements: Annotated[
        Path | None,
        typer.Option(
            "--agreements",
            help="Agreement files or folder whose score_retention_days set each score's "
            "retain_until (default: the agreements loaded in the database).",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOption = None,
    by: ByOption = None,
    database: DatabaseOption = None,
) -> None:
    """Take in a scores file whole or not at all; a score already held unchanged is skipped."""
    from accord import formats, scores
    from accord.policy.agreement import load_agreements
    from accord.store import db

    url = database_url(database)
    table = formats.load(file, "scores")
    given = load_agreements(agreements) if agreements is not None else None
    db.require_schema(url)
    result = scores.load_scores(url, table, str(file), as_of_date(as_of), actor(by), given)
    out.print(
        f"{file}: {result.loaded} score(s) loaded, {result.unchanged} already held; each kept "
        f"{result.retention_days} days after it was computed",
        markup=False,
    )


@group.command("list")
def list_cmd(
    person_id: Annotated[str, typer.Argument(help="The person's id.")],
    as_of: AsOfOption = None,
    by: ByOption = None,
    database: DatabaseOption = None,
) -> None:
    """Every score held about one person, its explanation, and where it was shared."""
    from accord import scores

    url = ready_database(database)
    day = as_of_date(as_of)
    found = scores.scores_of(url, person_id, actor(by))
    table = Table(
        "score_id", "kind", "value", "role", "computed", "kept until", "status", "shared",
        title=f"{len(found)} score(s) about {person_id}",
    )  # fmt: skip
    for s in found:
        shared = "; ".join(
            f"{d.disclosure_id} to {d.recipient} ({d.status}, {d.decided_by})"
            for d in s.disclosures
        )
        table.add_row(
            s.score_id, s.kind, f"{s.value:g}", s.role, s.computed_at.isoformat(),
            s.retain_until.isoformat(), s.status(day), shared or "never",
        )  # fmt: skip
    out.print(table)
    for s in found:
        explanation = json.dumps(s.explanation, ensure_ascii=False, sort_keys=True)
        out.print(f"{s.score_id} explanation: {explanation}", markup=False)


@group.command("recall-expired")
def recall_expired_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Where recalls.csv goes.")] = Path("."),
    as_of: AsOfOption = None,
    by: ByOption = None,
    key: KeyOption = None,
    database: DatabaseOption = None,
) -> None:
    """Recall every shared score now destroyed or past its limit; writes DIR/recalls.csv.

    `accord run` does this too at the start of every cycle.
    """
    from accord import scores
    from accord.ledger import signing
    from accord.ledger import unit as ledger_unit
    from accord.remedy import RECALL_COLUMNS, recall_csv_rows
    from accord.store import db

    url = ready_database(database)
    path = key_path(key, url)
    signing.require_key(path)  # refused now, before any work, if it cannot sign
    with db.connect(url) as conn, ledger_unit.work(conn, path):
        recalls = scores.recall_lapsed(conn, as_of_date(as_of), actor(by))
    write_csv_atomically(out_dir / "recalls.csv", list(RECALL_COLUMNS), recall_csv_rows(recalls))
    out.print(
        f"{len(recalls)} score disclosure(s) recalled; {out_dir / 'recalls.csv'}", markup=False
    )


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="scores")
