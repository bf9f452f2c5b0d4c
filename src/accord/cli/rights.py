"""`accord subject-access` and `accord exemption apply|lift|list`: a person's right of access."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from accord.cli.common import (
    AsOfOption,
    DatabaseOption,
    KeyOption,
    err,
    key_path,
    out,
    parse_date,
    ready_database,
)
from accord.errors import AccordError
from accord.vocab import EXEMPTION_ITEM_KINDS

exemption_app = typer.Typer(
    help="Withhold single items from subject access reports: explicit, justified, logged.",
    no_args_is_help=True,
)

ItemOption = Annotated[
    str,
    typer.Option(
        "--item",
        help="The item, as KIND:REF; KIND is one of " + ", ".join(EXEMPTION_ITEM_KINDS) + ".",
    ),
]


def login_name() -> str:
    """Who is at the keyboard, for the audit log when no --by is given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "accord"


def write_atomically(path: Path, data: bytes) -> None:
    """Write the whole file or nothing: a reader never sees half a letter."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@exemption_app.command("apply")
def apply(
    person_id: Annotated[str, typer.Argument(help="The person's id (the source body's).")],
    item: ItemOption,
    exemption: Annotated[str, typer.Option("--exemption", help="The exemption in law.")],
    justification: Annotated[
        str, typer.Option("--justification", help="Why it applies to this item.")
    ],
    by: Annotated[str, typer.Option("--by", help="Who applies it.")],
    database: DatabaseOption = None,
) -> None:
    """Withhold one item from the person's reports; it is listed there as withheld."""
    from accord.rights import exemptions

    url = ready_database(database)
    record = exemptions.apply(url, person_id, item, exemption, justification, by)
    out.print(
        f"exemption {record.exemption_id}: {record.item} withheld from {person_id}'s reports "
        f"({record.exemption}); logged",
        markup=False,
    )


@exemption_app.command("lift")
def lift(
    person_id: Annotated[str, typer.Argument(help="The person's id.")],
    item: ItemOption,
    by: Annotated[str, typer.Option("--by", help="Who lifts it.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it no longer applies.")],
    database: DatabaseOption = None,
) -> None:
    """End an exemption: the item appears in the person's reports again."""
    from accord.rights import exemptions

    url = ready_database(database)
    record = exemptions.lift(url, person_id, item, by, reason)
    out.print(f"exemption {record.exemption_id} on {record.item} lifted; logged", markup=False)


@exemption_app.command("list")
def list_(
    person_id: Annotated[str, typer.Argument(help="The person's id.")],
    database: DatabaseOption = None,
) -> None:
    """Every exemption applied for a person, in force or lifted."""
    from accord.rights import exemptions

    url = ready_database(database)
    records = exemptions.list_exemptions(url, person_id)
    in_force = sum(1 for r in records if r.active)
    out.print(f"{person_id}: {len(records)} exemption(s), {in_force} in force", markup=False)
    for r in records:
        state = "in force"
        if r.lifted_at is not None:
            who = r.lifted_by or "unknown"
            state = f"lifted {r.lifted_at:%Y-%m-%d} by {who}: {r.lift_reason or ''}"
        out.print(
            f"{r.exemption_id}  {r.item}  ({state})\n"
            f"    exemption: {r.exemption}\n"
            f"    why: {r.justification}\n"
            f"    applied by {r.applied_by} on {r.applied_at:%Y-%m-%d}",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    @app.command("subject-access")
    def subject_access(
        person_id: Annotated[str, typer.Argument(help="The person's id (the source body's).")],
        output_format: Annotated[
            str, typer.Option("--format", help="json (with proofs), html or pdf (the letter).")
        ] = "json",
        out_file: Annotated[
            Path | None,
            typer.Option("--out", help="Write here (else standard output; pdf needs it)."),
        ] = None,
        by: Annotated[
            str | None,
            typer.Option("--by", help="Who produces it, for the audit log (default: login name)."),
        ] = None,
        as_of: AsOfOption = None,
        key: KeyOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """Everything held and shared about one person, with proofs, in words they can read.

        With --as-of: as it stood at the end of that day. Writes one audit entry, nothing else.
        The proofs are made with the ledger key's public half (--key: the private key, or
        the public key `accord ledger key` prints).
        """
        from accord.ledger import signing
        from accord.rights.assemble import produce
        from accord.rights.render import FORMATS

        if output_format not in FORMATS:
            raise typer.BadParameter(
                f"{output_format!r} is not a format: use one of {', '.join(FORMATS)}",
                param_hint="--format",
            )
        if output_format == "pdf" and out_file is None:
            raise typer.BadParameter("a PDF must be written to a file", param_hint="--out")
        if out_file is not None and not out_file.parent.is_dir():
            raise AccordError(f"--out {out_file}: folder {out_file.parent} does not exist")
        url = ready_database(database)
        public = signing.load_public_key(key_path(key, url))
        report, data = produce(
            url,
            person_id,
            produced_by=(by or "").strip() or login_name(),
            output_format=output_format,
            as_of=parse_date(as_of),
            key=public,
        )
        if out_file is None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        write_atomically(out_file, data)
        err.print(
            f"{out_file}: subject access report for {person_id} ({output_format}): "
            f"{len(report.disclosures)} disclosure(s), {len(report.recalls)} recall(s), "
            f"{len(report.withheld)} item(s) withheld",
            markup=False,
        )

    app.add_typer(exemption_app, name="exemption")
