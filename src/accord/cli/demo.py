"""`accord demo`: the whole story on the embedded scenario.

Until the sharing cycle lands, the demo sets up a database and validates the sample
files shipped with the package, so that a newcomer sees Accord work end to end.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from accord import formats
from accord.cli.common import DatabaseOption, out
from accord.store import db

SAMPLE = {"cases": "cases.csv", "register": "dvla.csv", "events": "events.csv",
          "actions": "actions.csv"}  # fmt: skip


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out_dir: Annotated[Path, typer.Option("--out", help="Where to write outputs.")] = Path(
            "demo-out"
        ),
        database: DatabaseOption = None,
    ) -> None:
        """Run Accord end to end on the scenario embedded in the package."""
        out_dir.mkdir(parents=True, exist_ok=True)
        url = database or f"sqlite:///{(out_dir / 'accord.db').resolve()}"
        _, after = db.upgrade(url)
        out.print(f"database {db.describe(url)} at schema {after}")
        sample = resources.files("accord") / "data" / "sample"
        for kind, name in SAMPLE.items():
            with resources.as_file(sample / name) as path:
                report = formats.validate(path, kind)
            status = "valid" if report.ok else f"{report.total} problem(s)"
            out.print(f"{kind:<9} {name:<12} {report.rows:>3} rows  {status}")
            if not report.ok:
                raise typer.Exit(2)
