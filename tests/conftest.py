"""Shared fixtures.

Storage-touching tests take the ``db_url`` fixture (an empty database already at the
current schema) and run once per backend chosen with ``--db``: ``sqlite`` (default),
``postgresql`` or ``both``.  PostgreSQL comes from ``ACCORD_TEST_PG`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); each test session creates
its own database there and drops it at the end.  If PostgreSQL was asked for and cannot
be reached the run fails: it never silently skips.

Web tests take ``web`` (a small governance state built through the real services, from
web_support), ``client`` (a test client of the application over it) or ``server``
(the application served by uvicorn, for a browser or requests made in parallel).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from demo_cache import demo_build
from model_cache import model_cache, shared_training
from one_line import one_line_error
from sqlalchemy import text
from web_support import client, server, web

from accord.ledger import signing
from accord.store import db
from accord.store.models import Base

# Fixtures for every test: each linkage model trained once (model_cache), `accord demo`
# run once (demo_cache), the one-line error check (one_line), and the web tests'
# governance state, its test client and its application served for real.
__all__ = [
    "client",
    "demo_build",
    "model_cache",
    "one_line_error",
    "server",
    "shared_training",
    "web",
]

PG_ADMIN = os.environ.get("ACCORD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default="sqlite",
        choices=("sqlite", "postgresql", "both"),
        help="which databases the storage tests run against",
    )


def _backends(config: pytest.Config) -> list[str]:
    choice = config.getoption("--db")
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for name in ("db_url", "empty_db_url"):
        if name in metafunc.fixturenames:
            backends = _backends(metafunc.config)
            if metafunc.definition.get_closest_marker("sqlite_only") and "sqlite" in backends:
                backends = ["sqlite"]
            metafunc.parametrize("backend", backends, indirect=True)
            break


# The files that take longest, longest first (seconds per file from `pytest --db=both -n 2
# --dist loadfile --durations=0`, summed).  They are collected first so that the two
# workers start on them and the many quick files fill in around them; with
# `--no-loadscope-reorder` (./dev test) xdist hands out files in this order, not by count.
# test_demo comes first, though shorter than some, because it builds the session's demo
# (demo_cache) that test_web_browser reads: by the time a worker is free for the browser
# tests the demo is there, and no worker waits for the other to build it.
SLOWEST_FIRST = (
    "test_demo.py",
    "test_run_crash.py",
    "test_linkage_spark.py",
    "test_web_browser.py",
    "test_run.py",
    "test_labels_loop.py",
    "test_browser.py",
    "test_linkage_store.py",
    "test_web_schema.py",
    "test_simulate.py",
    "test_hostile_files_property.py",
    "test_linkage.py",
    "test_web_workbench.py",
    "test_run_resume.py",
    "test_rights.py",
    "test_ledger_heads.py",
    "test_report.py",
    "test_web_matrix.py",
    "test_web_pages.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files keep order


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class PostgresDatabases:
    """Creates databases on the test server for this session and drops them all at the end."""

    def __init__(self) -> None:
        self.prefix = f"accord_test_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []
        try:
            self.admin = psycopg.connect(_pg_dsn(PG_ADMIN), autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            pytest.exit(
                f"PostgreSQL was asked for (--db) but cannot be reached at {PG_ADMIN}: {exc}",
                returncode=1,
            )
        self.template: str | None = None

    def url(self, name: str) -> str:
        base = PG_ADMIN.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        tpl = f" TEMPLATE {template}" if template else ""
        self.admin.execute(f"CREATE DATABASE {name}{tpl}")  # type: ignore[arg-type]
        self.created.append(name)
        return name

    def migrated(self) -> str:
        if self.template is None:
            self.template = self.create()
            db.upgrade(self.url(self.template))
            db.engine_for(self.url(self.template)).dispose()
        return self.template

    def close(self) -> None:
        for name in self.created:
            # WITH (FORCE) ends the connections tests' pooled engines still hold.
            self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        self.admin.close()


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[PostgresDatabases]:
    pg = PostgresDatabases()
    yield pg
    pg.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "accord.db"
    db.upgrade(f"sqlite:///{path}")
    db.engine_for(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def db_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """An empty database at the current schema, private to this test."""
    if backend == "sqlite":
        path = tmp_path / "accord.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
        yield url
        db.engine_for(url).dispose()
        return
    pg: PostgresDatabases = request.getfixturevalue("postgres")
    url = pg.url(pg.migrated())
    yield url
    # Emptied for the next test with DELETE, child tables first, and every sequence back
    # at 1 (as TRUNCATE ... RESTART IDENTITY would): on tables holding a few rows DELETE
    # is several times faster than TRUNCATE, which makes and syncs new files per table.
    with db.connect(url) as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
                "FROM pg_sequences"
            )
        )


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, private to this test."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        yield url
        db.engine_for(url).dispose()
        return
    pg: PostgresDatabases = request.getfixturevalue("postgres")
    url = pg.url(pg.create())
    yield url
    db.engine_for(url).dispose()


@pytest.fixture(autouse=True)
def _scratch_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's scratch folder (workspaces, kept linkage candidates) is its own, in tmp:
    no test takes candidates another linked, and none are left in the system's tmp."""
    scratch = tmp_path / "accord-scratch"
    scratch.mkdir(exist_ok=True)
    monkeypatch.setenv("ACCORD_SCRATCH_DIR", str(scratch))


@pytest.fixture(autouse=True)
def _ledger_key_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes a signing key into the working tree: the default key lives in tmp.

    It exists, as after `accord init`: every transaction that records a disclosure or a
    recall signs a tree head over it before it commits, with this key unless the test
    names another.
    """
    path = tmp_path / "accord-ledger.key"
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(path))
    signing.load_or_create_key(path)
