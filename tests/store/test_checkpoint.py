"""SQLite's WAL checkpoint runs on a thread of its own (accord.store.checkpoint)."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accord import auditlog
from accord.store import checkpoint, db

pytestmark = pytest.mark.sqlite_only


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _write(url: str, rows: int = 2000) -> None:
    with db.connect(url) as conn:
        auditlog.log_many(conn, (("test", "checkpoint_test", f"P{i}", {}) for i in range(rows)))


def _wal_frames(path: Path) -> tuple[int, int]:
    """(frames in the log, frames already copied into the database), without copying any."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_autocheckpoint=0")
        # PASSIVE copies nothing when everything is in already, and says how much is.
        _busy, log, done = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(log), int(done)
    finally:
        con.close()


def test_connections_leave_checkpoints_to_the_checkpointer(db_url: str) -> None:
    with db.connect(db_url) as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert raw.execute("PRAGMA journal_size_limit").fetchone()[0] == (
            checkpoint.JOURNAL_SIZE_LIMIT
        )


def test_a_commit_is_checkpointed_by_the_thread(db_url: str) -> None:
    checkpointer = checkpoint.for_path(_path(db_url))
    before = checkpointer.checkpoints
    _write(db_url)
    assert checkpointer.drain(timeout=30)
    assert checkpointer.checkpoints > before
    log, done = _wal_frames(_path(db_url))
    assert log == done  # everything committed is in the database file


def test_many_small_commits_share_a_checkpoint(db_url: str) -> None:
    checkpointer = checkpoint.for_path(_path(db_url))
    assert checkpointer.drain(timeout=30)
    before = checkpointer.checkpoints
    started = time.monotonic()
    for _ in range(40):
        _write(db_url, rows=1)
    assert checkpointer.drain(timeout=30)
    elapsed = time.monotonic() - started
    # At most one checkpoint per MIN_INTERVAL (plus the one already due at the start).
    assert checkpointer.checkpoints - before <= 2 + elapsed / checkpoint.MIN_INTERVAL
    assert checkpointer.checkpoints - before < 40


def test_the_thread_stops_when_idle_and_starts_again(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "IDLE_SECONDS", 0.05)
    checkpointer = checkpoint.for_path(_path(db_url))
    _write(db_url)
    assert checkpointer.drain(timeout=30)
    deadline = time.monotonic() + 10
    while checkpointer._running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not checkpointer._running
    before = checkpointer.checkpoints
    _write(db_url)
    assert checkpointer.drain(timeout=30)
    assert checkpointer.checkpoints > before


def test_a_failed_checkpoint_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "gone" / "accord.db"  # its folder does not exist: cannot open
    checkpointer = checkpoint.Checkpointer(missing)
    with caplog.at_level(logging.WARNING, logger="accord.store.checkpoint"):
        checkpointer.notify()
        assert checkpointer.drain(timeout=30)
    assert "checkpoint of" in caplog.text
    assert checkpointer.checkpoints == 0
    good = tmp_path / "ok.db"
    sqlite3.connect(good).execute("PRAGMA journal_mode=WAL").fetchall()
    checkpointer.path = good
    checkpointer.notify()
    assert checkpointer.drain(timeout=30)
    assert checkpointer.checkpoints == 1


def _audit_rows(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(
            con.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'checkpoint_test'"
            ).fetchone()[0]
        )
    finally:
        con.close()


def test_after_dispose_the_database_file_alone_is_whole(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disposing the engine finishes the checkpoint, so a plain file copy has every row."""
    monkeypatch.setattr(checkpoint, "MIN_INTERVAL", 60.0)  # the second round would wait
    _write(db_url, rows=200)
    _write(db_url, rows=300)
    db.engine_for(db_url).dispose()
    copy = tmp_path / "copy.db"
    shutil.copyfile(_path(db_url), copy)  # the file only, without its -wal
    assert _audit_rows(copy) == 500


def test_a_process_that_exits_leaves_the_database_file_whole(db_url: str, tmp_path: Path) -> None:
    script = (
        "import sys; from accord import auditlog; from accord.store import checkpoint, db\n"
        "checkpoint.MIN_INTERVAL = 60.0\n"
        "for n in (100, 200):\n"
        "    with db.connect(sys.argv[1]) as conn:\n"
        "        auditlog.log_many(conn, (('t', 'checkpoint_test', 'P', {}) for _ in range(n)))\n"
    )
    subprocess.run([sys.executable, "-c", script, db_url], check=True, timeout=120)
    copy = tmp_path / "copy.db"
    shutil.copyfile(_path(db_url), copy)
    assert _audit_rows(copy) == 300
