"""`accord events`, `accord actions`, `accord remedies`: corrections and their remedies."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accord.cli.common import (
    AsOfOption,
    DatabaseOption,
    KeyOption,
    as_of_date,
    database_url,
    key_path,
    out,
    ready_database,
    usable_folder,
)
from accord.errors import AccordError
from accord.vocab import DisclosureStatus


def write_csv_atomically(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """Write a CSV whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    @app.command("events")
    def events(
        file: Annotated[
            str, typer.Argument(help="Events file (.csv or .parquet), or s3://bucket/key.")
        ],
        out_dir: Annotated[
            str,
            typer.Option("--out", help="Where recalls.csv goes: a folder, or s3://bucket/prefix."),
        ] = ".",
        actor: Annotated[str, typer.Option("--actor", help="Who applies them.")] = "accord events",
        as_of: AsOfOption = None,
        key: KeyOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Apply events: withdraw and recall, or freeze and re-review; writes DIR/recalls.csv.

        recalls.csv also carries any recalls an earlier call made but could not write.
        """
        from accord import formats, uri
        from accord.events import apply_events, mark_delivered, undelivered
        from accord.remedy import RECALL_COLUMNS, recall_csv_rows
        from accord.store import db

        url = database_url(database)
        if not uri.is_s3(out_dir):
            usable_folder(Path(out_dir))  # before anything is committed that it would have to hold
        with contextlib.ExitStack() as stack:
            local = stack.enter_context(uri.fetched(file, "events file"))
            folder, deliver = stack.enter_context(uri.output_folder(out_dir))
            if str(local) != file:
                stack.enter_context(uri.shown_as({str(local): file}))
            table = formats.load(local, "events")
            db.require_schema(url)
            result = apply_events(
                url, table, file, as_of_date(as_of), actor, key_path(key, url), True
            )
            waiting = undelivered(url)
            try:
                write_csv_atomically(
                    folder / "recalls.csv", list(RECALL_COLUMNS), recall_csv_rows(waiting.recalls)
                )
                if deliver is not None:
                    deliver(["recalls.csv"])
            except (OSError, AccordError) as exc:
                problem = exc.strerror or exc if isinstance(exc, OSError) else exc
                raise AccordError(
                    f"--out {out_dir}: cannot write recalls.csv ({problem}); the "
                    f"{len(waiting.recalls)} recall(s) are recorded, and the next `accord events` "
                    "writes them"
                ) from None
        mark_delivered(url, waiting.applications)
        made = {r.recall_id for r in result.recalls}
        earlier = sum(r.recall_id not in made for r in waiting.recalls)
        where = (
            f"{out_dir.rstrip('/')}/recalls.csv"
            if uri.is_s3(out_dir)
            else Path(out_dir) / "recalls.csv"
        )
        out.print(
            f"{result.applied} event(s) applied ({result.already_applied} already applied): "
            f"{len(result.withdrawn)} withdrawn, {len(result.recalls)} disclosure(s) recalled, "
            f"{len(result.frozen)} frozen, {len(result.review_items)} review item(s) opened; "
            + (
                f"{earlier} recall(s) an earlier call could not write, written now; "
                if earlier
                else ""
            )
            + f"{where}",
            markup=False,
        )

    @app.command("actions")
    def actions(
        recipient: Annotated[str, typer.Argument(help="The recipient that reports them.")],
        file: Annotated[Path, typer.Argument(help="Actions file (.csv or .parquet).")],
        actor: Annotated[str, typer.Option("--actor")] = "accord actions",
        database: DatabaseOption = None,
    ) -> None:
        """Record what a recipient did with each disclosure; tracks remedies of recalls."""
        from accord import formats
        from accord.remedy import record_actions
        from accord.store import db

        url = database_url(database)
        table = formats.load(file, "actions")
        db.require_schema(url)
        r = record_actions(url, recipient, table, str(file), actor)
        out.print(
            f"{r.recorded} action(s) recorded ({r.already_known} already known); "
            f"{r.outstanding} remedy(ies) now outstanding, {r.remedied} remedied"
        )

    @app.command("remedies")
    def remedies(
        recipient: Annotated[str | None, typer.Option("--recipient")] = None,
        as_of: AsOfOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """List recalls whose adverse action the recipient has not yet reversed, with age,
        and count the recalls each recipient has not yet acknowledged."""
        from accord.remedy import outstanding, unacknowledged

        url = ready_database(database)
        rows = outstanding(url, as_of_date(as_of), recipient)
        table = Table(
            "recall_id",
            "disclosure_id",
            "recipient",
            "person_id",
            "reason",
            DisclosureStatus.RECALLED,
            "age (days)",
            title=f"{len(rows)} outstanding remedy(ies)",
        )
        for o in rows:
            table.add_row(
                o.recall_id,
                o.disclosure_id,
                o.recipient,
                o.person_id,
                o.reason,
                o.recalled_at.date().isoformat(),
                str(o.age_days),
            )
        out.print(table)
        waiting = unacknowledged(url, as_of_date(as_of), recipient)
        if waiting:
            each = ", ".join(
                f"{w.recipient} {w.recalls:,} (oldest {w.oldest_days} days)" for w in waiting
            )
            total = sum(w.recalls for w in waiting)
            out.print(
                f"{total:,} recall(s) not yet acknowledged by their recipient: {each}",
                markup=False,
            )
        else:
            out.print("every recall has been acknowledged by its recipient", markup=False)
