"""`accord validate`: check an interchange file and report every problem."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from accord.cli.common import err, out
from accord.errors import InputError, Problem


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        kind: Annotated[
            str,
            typer.Argument(help="Which file it is: cases, register, events, actions or scores."),
        ],
        file: Annotated[
            str, typer.Argument(help="The file, .csv or .parquet, or s3://bucket/key.")
        ],
    ) -> None:
        """Check a file against SPEC.md; list its problems (first 20, then a count)."""
        from accord import formats, uri

        if kind not in formats.FORMATS:
            raise typer.BadParameter(
                f"{kind!r} is not a file kind: use one of {', '.join(formats.FORMATS)}",
                param_hint="KIND",
            )
        # An s3:// file is copied to a private local file first (accord.uri); every
        # problem still names it by its URI.
        with uri.fetched(file) as local:

            def named(problems: list[Problem]) -> list[Problem]:
                return [
                    dataclasses.replace(p, file=file) if p.file == str(local) else p
                    for p in problems
                ]

            try:
                report = formats.validate(local, kind)
            except InputError as exc:
                for p in named(exc.problems):
                    err.print(str(p), markup=False)
                raise typer.Exit(2) from None
            report = dataclasses.replace(report, file=file, problems=named(report.problems))
        if report.ok:
            out.print(f"{file}: {report.rows:,} rows, valid {kind} file")
            return
        for p in report.problems:
            err.print(str(p), markup=False)
        shown = len(report.problems)
        if report.total > shown:
            err.print(f"... and {report.total - shown:,} more problems ({report.total:,} in all)")
        err.print(f"{file}: not a valid {kind} file: {report.total:,} problem(s)")
        raise typer.Exit(2)
