"""`accord demo` runs once per test session; each module that changes its database gets a copy.

``test_demo`` checks the demo's outputs piece by piece and ``test_web_browser`` drives its
pages in Chromium.  Each ran the whole demo for itself (about 35 s each); now the first
to ask builds it under the session's pytest temporary directory, shared by the xdist
workers (a lock, so the other worker waits rather than building it again), and both read
the same folder.  The folder is never changed after it is built: a module that decides
review items or signs the ledger works on its own copy of the database
(:meth:`DemoBuild.own_database`).  The copy keeps the demo's ledger key where the demo
kept it (the database records the key's path), and a key is only read.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from model_cache import locked

from accord.cli import main


@dataclass(frozen=True)
class DemoBuild:
    """The session's one `accord demo`: its folder, exit status and what it printed."""

    out: Path
    code: int
    printed: str
    errors: str

    @property
    def as_it_ended(self) -> Path:
        """The demo's database exactly as the demo left it (never opened for writing)."""
        return self.out.parent / "as-it-ended.db"

    def own_database(self, folder: Path) -> Path:
        """A copy of the demo's database in ``folder``, for a module that changes it."""
        copy = folder / "accord.db"
        with (
            contextlib.closing(sqlite3.connect(self.as_it_ended)) as source,
            contextlib.closing(sqlite3.connect(copy)) as target,
        ):
            source.backup(target)
        return copy


def build(directory: Path) -> DemoBuild:
    """Run the demo into ``directory/out`` unless an earlier call in this session did."""
    out = directory / "out"
    record = directory / "demo-run.json"
    with locked(directory / "demo.lock"):
        if not record.is_file():
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(["demo", "--out", str(out)])
            if (out / "accord.db").is_file():
                with (
                    contextlib.closing(sqlite3.connect(out / "accord.db")) as source,
                    contextlib.closing(sqlite3.connect(directory / "as-it-ended.db")) as copy,
                ):
                    source.backup(copy)
            ran = {"code": code, "printed": stdout.getvalue(), "errors": stderr.getvalue()}
            record.write_text(json.dumps(ran), encoding="utf-8")
        ran = json.loads(record.read_text(encoding="utf-8"))
    return DemoBuild(out, int(ran["code"]), str(ran["printed"]), str(ran["errors"]))


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is pytest-N/popen-gwK/; the session's is pytest-N/.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = shared / "demo"
    directory.mkdir(exist_ok=True)
    return build(directory)
