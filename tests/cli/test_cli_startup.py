"""The command line starts without the libraries only some of its commands use.

`accord --help`, and every `accord ...` before its command runs, imports the command line
(`accord.cli`) and builds its commands. A `cli/` module imports a use case inside the
command that calls it, so that what one command needs (the report's charts, the web
application, the linkage engines) is not imported for all of them. Each check runs in a
fresh interpreter: in this one, earlier tests have imported everything already.
"""

from __future__ import annotations

import subprocess
import sys

# Imported by the command that needs it, never to start the command line or show its help.
# The help and defaults that name the library's own words and numbers take them from
# modules that import none of these (`accord.vocab`, `accord.linkage.limits`, the
# `accord.ledger` package, `accord.synth.mix`).
HEAVY = frozenset({
    "matplotlib", "fastapi", "starlette", "uvicorn", "splink", "pyspark", "sqlalchemy",
    "alembic", "duckdb", "polars", "pyarrow", "pydantic", "cryptography",
})  # fmt: skip

_REPORT = "print('imported:', *sorted(sys.modules))"


def _imported(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported once it has run ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\n{_REPORT}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("imported: ")]
    return {name.split(".")[0] for name in line.split()[1:]}


def test_importing_the_command_line_imports_no_heavy_library() -> None:
    loaded = _imported("import accord.cli")
    assert {"accord", "typer"} <= loaded
    assert sorted(loaded & HEAVY) == []


def test_accord_help_imports_no_heavy_library() -> None:
    loaded = _imported("from accord.cli import main\nassert main(['--help']) == 0")
    assert {"accord", "typer", "rich"} <= loaded
    assert sorted(loaded & HEAVY) == []
