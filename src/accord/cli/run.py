"""`accord run`: one whole sharing cycle without a person in the loop (SPEC.md)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from accord.cli.common import (
    AsOfOption,
    DatabaseOption,
    KeyOption,
    as_of_date,
    database_url,
    err,
    key_path,
    out,
    usable_folder,
)
from accord.errors import AccordError
from accord.vocab import PoolStatus


def _registers(values: list[str]) -> dict[str, str]:
    from accord.policy.agreement import RECIPIENT_NAME, RECIPIENT_WORDS

    found: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"{value!r} is not NAME=FILE", param_hint="--register")
        if not re.fullmatch(RECIPIENT_NAME, name):
            raise AccordError(f"--register {value!r}: a register's name is {RECIPIENT_WORDS}")
        if name in found:
            raise typer.BadParameter(f"register {name!r} given twice", param_hint="--register")
        found[name] = path
    return found


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        cases: Annotated[
            str,
            typer.Option("--cases", help="The source body's cases file (or s3://bucket/key)."),
        ],
        registers: Annotated[
            list[str],
            typer.Option(
                "--register",
                help="A recipient's register as NAME=FILE (repeat); FILE may be s3://bucket/key.",
            ),
        ],
        agreements: Annotated[
            Path, typer.Option("--agreements", help="Folder of agreement YAML files.")
        ],
        out_dir: Annotated[
            str,
            typer.Option("--out", help="Where the outputs go: a folder, or s3://bucket/prefix."),
        ],
        policy: Annotated[
            Path | None, typer.Option("--policy", help="Policy file (default: built-in).")
        ] = None,
        key: KeyOption = None,
        as_of: AsOfOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """One sharing cycle: admit, link, gate, disclose what may go automatically.

        Everything that needs a person waits in the review queue.  Writes summary.json,
        disclosures.csv, batches/, review_queue.csv and excluded.csv to --out.  On an
        absent or empty database it first creates the schema and the ledger key, as
        `accord init` would, and says so.
        """
        from accord import uri
        from accord.config import settings
        from accord.cycle import RunInputs, run_cycle

        s = settings(database)
        url = database_url(database)
        named = _registers(registers)
        if not uri.is_s3(out_dir):  # (S3: its bucket is checked below, before the run too)
            usable_folder(Path(out_dir))  # before anything is committed that it could not write
        with contextlib.ExitStack() as stack:
            # Remote inputs are copied to private local files first, outputs for S3 staged
            # locally and uploaded whole (accord.uri); messages name the URIs.
            local_cases = stack.enter_context(uri.fetched(cases, "--cases"))
            local_registers = {
                name: stack.enter_context(uri.fetched(path, f"--register {name}"))
                for name, path in named.items()
            }
            sources = {str(local_cases): cases} | {
                str(local_registers[n]): p for n, p in named.items()
            }
            folder, deliver = stack.enter_context(uri.output_folder(out_dir))
            stack.enter_context(uri.shown_as({k: v for k, v in sources.items() if k != v}))
            inputs = RunInputs(
                cases=local_cases,
                registers=local_registers,
                agreements=agreements,
                as_of=as_of_date(as_of),
                out=folder,
                key=key_path(key, url),
                policy=policy or s.policy,
                sources=sources,
                deliver=deliver,
            )
            # The spinner only where someone watches: piped, stderr holds messages alone.
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                console=err, transient=True, disable=not err.is_terminal,
            ) as bar:  # fmt: skip
                task = bar.add_task("starting", total=None)
                summary = run_cycle(
                    url,
                    inputs,
                    lambda m: bar.update(task, description=m),
                    lambda m: bar.console.print(f"accord: {m}", markup=False, highlight=False),
                )
        disclosed = sum(a["disclosed"] for a in summary["agreements"].values())
        out.print(
            f"run {summary['run_id']}: pool {summary['pool'][PoolStatus.ADMITTED]:,} admitted of "
            f"{summary['pool']['candidates']:,}; {disclosed:,} disclosed; "
            f"{summary['review_queue']:,} waiting for review; ledger size "
            f"{summary['ledger']['size']:,}; outputs in {out_dir}"
        )
