"""`accord report`: the oversight report as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accord.cli.common import AsOfOption, DatabaseOption, as_of_date, database_url, out
from accord.oversight import DEFAULT_OUT


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        out_file: Annotated[
            Path, typer.Option("--out", help="Where to write the HTML report.")
        ] = DEFAULT_OUT,
        database: DatabaseOption = None,
        as_of: AsOfOption = None,
    ) -> None:
        """Write the oversight report (HTML, opens offline): volumes, actions, remedies,
        firewall refusals, pauses, impact by cohort, error rates and the signed tree head."""
        from accord.oversight.report import write_report  # matplotlib: only when reporting

        result = write_report(database_url(database), out_file, as_of_date(as_of))
        h = result.figures.headline
        out.print(
            f"report written to {result.path} ({result.bytes:,} bytes, "
            f"{len(result.charts)} charts)",
            markup=False,
        )
        if result.figures.empty:
            out.print("nothing has been recorded yet: the report says so", markup=False)
            return
        out.print(
            f"disclosures {h.disclosures:,} about {h.people_disclosed_about:,} people; "
            f"adverse actions {h.adverse_actions:,}; reversals {h.reversals:,}; "
            f"recalls {h.recalls:,} ({h.outstanding_remedies:,} remedies outstanding); "
            f"open review items {h.open_review_items:,}; firewall refusals "
            f"{h.firewall_refusals:,}; pauses in force {h.open_pauses:,}",
            markup=False,
        )
