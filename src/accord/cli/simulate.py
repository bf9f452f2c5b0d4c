"""`accord simulate`: the naive process and Accord's side by side on a scenario with truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from accord.cli.common import AsOfOption, DatabaseOption, err, out, parse_date
from accord.errors import AccordError

if TYPE_CHECKING:
    from accord.simulate import Simulation


def _writable(path: Path, option: str) -> None:
    if path.is_dir():
        raise AccordError(f"{option} {path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise AccordError(f"{option} {path}: folder {path.parent} does not exist")


def print_simulation(sim: Simulation, console: Console) -> None:
    """The terminal view: per recipient and process, then wrongful disclosures by kind."""
    from accord.rights import explain
    from accord.simulate import CATEGORIES, CATEGORY_WORDS, PROCESSES
    from accord.synth import REGISTERS

    table = Table(
        "recipient",
        "process",
        "disclosed",
        "rightful",
        "wrongful\n(known at run)",
        "later\noverturned",
        "per 10,000\nat run\n(95% interval)",
        "per 10,000\nall\n(95% interval)",
        "rightful cases found\n(disclosed + in review)\n(95% interval)",
        "waiting\nin review",
        "wrongful\navoided",
        title=(
            f"Impact simulation: {sim.people:,} people, seed {sim.seed}, as of "
            f"{sim.as_of.isoformat()} (rates per 10,000 disclosures made)"
        ),
    )
    for r in (*REGISTERS, "all"):
        for p in PROCESSES:
            c = sim.processes[p][r]
            found = (
                f"{c.found:,} of {c.possible:,}: {c.found_rate.text(counts=False, compact=True)}"
            )
            if p == "accord":
                found += f"\n{c.found_disclosed:,} + {c.found_in_review:,}"
            table.add_row(
                r, p, f"{c.disclosed:,}", f"{c.rightful:,}", f"{c.wrongful_known_at_run:,}",
                f"{c.later_overturned:,}", c.rate_at_run.text(counts=False, compact=True),
                c.rate.text(counts=False, compact=True),
                found, f"{c.in_review:,}" if p == "accord" else "-",
                f"{c.wrongful_avoided:,}" if p == "accord" else "-",
                end_section=p == PROCESSES[-1],
            )  # fmt: skip
    console.print(table)
    kinds = Table("wrongful disclosures, by kind of person", *PROCESSES)
    for k in CATEGORIES:
        kinds.add_row(
            CATEGORY_WORDS[k],
            *(f"{sim.processes[p]['all'].wrongful_by.get(k, 0):,}" for p in PROCESSES),
        )
    console.print(kinds)
    work = explain.workload_words(sim.review_workload)
    console.print(f"Accord's review workload (open items): {work}", markup=False)
    console.print(sim.headline_words(), markup=False)


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        scenario: Annotated[
            Path, typer.Option("--scenario", help="A scenario with ground truth (accord synth).")
        ],
        out_file: Annotated[
            Path, typer.Option("--out", help="Where the figures go (JSON).")
        ] = Path("simulation.json"),
        html_file: Annotated[
            Path | None,
            typer.Option("--html", help="Also write the figures as a small HTML page here."),
        ] = None,
        as_of: AsOfOption = None,
        database: DatabaseOption = None,
    ) -> None:
        """The naive process and Accord's side by side, judged against the truth: rightful
        and wrongful disclosures per recipient and kind of person, rightful cases found,
        review workload and wrongful actions avoided.  Accord's run uses a throwaway
        database unless --database names an empty one.  --as-of defaults to the scenario's."""
        from accord.cli.rights import write_atomically
        from accord.simulate import simulate, simulation_page

        _writable(out_file, "--out")
        if html_file is not None:
            _writable(html_file, "--html")
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
            console=err, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("starting", total=None)
            sim = simulate(
                scenario,
                as_of=parse_date(as_of),
                database=database,
                progress=lambda m: bar.update(task, description=m),
            )
        write_atomically(
            out_file, (json.dumps(sim.to_json(), indent=2, ensure_ascii=False) + "\n").encode()
        )
        if html_file is not None:
            page = simulation_page(sim)
            write_atomically(html_file, page.encode())
        print_simulation(sim, out)
        out.print(f"figures: {out_file}" + (f", {html_file}" if html_file else ""), markup=False)
