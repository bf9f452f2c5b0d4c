"""`accord demo`: the whole story on the embedded scenario, with progress shown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from accord.cli.common import err, out
from accord.vocab import ItemStatus

if TYPE_CHECKING:
    from accord.demo import DemoResult


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out_dir: Annotated[Path, typer.Option("--out", help="Where to write outputs.")] = Path(
            "demo-out"
        ),
        database: Annotated[
            str | None,
            typer.Option(
                "--database",
                help="Database URL of an empty database (default: a new SQLite database, "
                "accord.db inside --out; ACCORD_DATABASE_URL is not used).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Run Accord end to end on the scenario embedded in the package: synthesise, run,
        review (by a simulated reviewer), act, recall, remedy, subject access, simulate,
        report and verify.

        Everything goes into --out: the database (accord.db), its ledger key (ledger.key),
        the scenario, the run's outputs, the letters and the report.  It ends by printing
        the command that serves the result, and a user with a password for each role.
        """
        from accord.cli.simulate import print_simulation
        from accord.demo import AS_OF, PEOPLE, REVIEWER_ERROR, REVIEWERS, SEED, run_demo

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
            f"each): {review[ItemStatus.APPROVED]:,} approved, "
            f"{review[ItemStatus.REJECTED]:,} rejected, "
            f"{review['outcomes_against_truth']:,} against the truth.\n"
            f"Recipients: {remedies['actions_recorded']:,} actions; events: "
            f"{remedies['events_applied']:,} applied, {remedies['recalls']:,} disclosures "
            f"recalled, {remedies['reversals']:,} reversed, {remedies['outstanding']:,} "
            f"remedies outstanding.\n"
            f"Ledger intact: {ledger['leaves']:,} leaves, root {ledger['root']}.",
            markup=False,
        )
        audited = figures["simulated_audit"]
        out.print(
            f"Simulated audit: {audited['checked']:,} of {audited['population']:,} disclosures "
            f"in force checked by {audited['auditor']} (SIMULATED: answers from the scenario's "
            f"truth), {audited['wrong']:,} wrong; error rate {audited['error_rate']}; "
            f"`accord audit estimate {audited['sample_id']}` shows it per recipient.",
            markup=False,
        )
        out.print("\nOutputs:", markup=False)
        for name, path in result.outputs.items():
            out.print(f"  {name:<34} {path}", markup=False)
        if result.simulation is not None:
            out.print("\n" + result.simulation.headline_words(), markup=False)
        out.print(f"Demo finished in {seconds:.1f} s.", markup=False)
        _print_serving(result)


def _print_serving(result: DemoResult) -> None:
    """How to look at what the demo built in the web application, and as whom."""
    out.print(
        "\nTo click through it, serve it and open http://127.0.0.1:8000/ :\n"
        f"  {result.serve_command()}\n"
        "and sign in as one of these demo users (passwords made for this demo, shown only "
        "now):",
        markup=False,
    )
    for u in result.users:
        bound = f" ({u.bound_to})" if u.bound_to else ""
        out.print(f"  {u.username:<20} {u.password:<18} {u.role}{bound}", markup=False)
