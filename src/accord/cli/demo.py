"""`accord demo`: the whole story on the embedded scenario, with progress shown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from accord.cli.common import DatabaseOption, err, out
from accord.cli.simulate import print_simulation
from accord.demo import AS_OF, PEOPLE, REVIEWER_ERROR, REVIEWERS, SEED, run_demo


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out_dir: Annotated[Path, typer.Option("--out", help="Where to write outputs.")] = Path(
            "demo-out"
        ),
        database: DatabaseOption = None,
    ) -> None:
        """Run Accord end to end on the scenario embedded in the package: synthesise, run,
        review (by a simulated reviewer), act, recall, remedy, subject access, simulate,
        report and verify."""
        out.print(
            f"Accord demo: a synthetic scenario of {PEOPLE:,} people (seed {SEED}, as of "
            f"{AS_OF.isoformat()}); no real person is involved. Review decisions are made by "
            f"a SIMULATED reviewer ({' and '.join(REVIEWERS)}) that follows the scenario's "
            f"ground truth and is wrong {REVIEWER_ERROR:.0%} of the time on purpose.",
            markup=False,
        )
        started = time.perf_counter()
        stage_now = [""]
        since = [started]
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
            console=err, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("starting", total=None)

            def progress(stage: str, detail: str) -> None:
                now = time.perf_counter()
                if stage != stage_now[0]:
                    if stage_now[0]:
                        bar.console.print(
                            f"  done: {stage_now[0]} ({now - since[0]:.1f} s)", markup=False
                        )
                    stage_now[0], since[0] = stage, now
                bar.update(task, description=f"{stage}: {detail}")

            result = run_demo(out_dir, database, progress)
            progress("", "")
        seconds = time.perf_counter() - started
        if result.simulation is not None:
            print_simulation(result.simulation, out)
        figures = result.figures
        review = figures["simulated_review"]
        remedies = figures["remedies"]
        ledger = figures["ledger"]
        out.print(
            f"\nSimulated review: {review['items']:,} items decided by "
            f"{' and '.join(review['reviewers'])} (SIMULATED, {REVIEWER_ERROR:.0%} error rate "
            f"each): {review['approved']:,} approved, {review['rejected']:,} rejected, "
            f"{review['outcomes_against_truth']:,} against the truth.\n"
            f"Recipients: {remedies['actions_recorded']:,} actions; events: "
            f"{remedies['events_applied']:,} applied, {remedies['recalls']:,} disclosures "
            f"recalled, {remedies['reversals']:,} reversed, {remedies['outstanding']:,} "
            f"remedies outstanding.\n"
            f"Ledger intact: {ledger['leaves']:,} leaves, root {ledger['root']}.",
            markup=False,
        )
        out.print("\nOutputs:", markup=False)
        for name, path in result.outputs.items():
            out.print(f"  {name:<34} {path}", markup=False)
        if result.simulation is not None:
            head = result.simulation.headline()
            out.print(
                "\nWrongful disclosures per 10,000 disclosures made: "
                f"naive process {head['naive_known_at_run']:,.1f}, Accord "
                f"{head['accord_known_at_run']:,.1f} (known at the run); counting decisions "
                f"overturned after it: naive {head['naive']:,.1f}, Accord {head['accord']:,.1f}.",
                markup=False,
            )
        out.print(f"Demo finished in {seconds:.1f} s.", markup=False)
