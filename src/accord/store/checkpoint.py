"""SQLite's WAL checkpoint on a thread of its own, so that a commit does not wait for it.

In WAL mode a commit appends the changed pages to the write-ahead log; a *checkpoint*
later copies them into the database file and syncs it.  By default SQLite runs that
checkpoint inside whichever commit takes the log past 1,000 pages, so the commit pays
for copying and syncing everything written since the last one: on this project's
benchmarks about 0.17 s of each 50,000-leaf ledger append and 5-6 s of an admission of
a million people, most of it waiting for the disk.

SQLite's documentation names the alternative for applications that write a lot: turn
the automatic checkpoint off and run checkpoints from a separate thread
(https://sqlite.org/wal.html, "Application-Initiated Checkpoints").  Accord does that
for every file database it opens:

* each connection sets ``PRAGMA wal_autocheckpoint=0`` (a setting of the connection, so
  other programs opening the file keep SQLite's default) and ``journal_size_limit`` so
  that a log grown by a bulk load is cut back once it has been reset;
* whenever a connection goes back to the pool (its transaction committed or rolled
  back), the database's :class:`Checkpointer` is woken; its thread runs a ``PASSIVE``
  checkpoint, which never blocks readers or writers and copies only frames already
  committed, at most once every :data:`MIN_INTERVAL` seconds so that a stream of small
  commits costs one sync a second, not one each;
* the thread stops after :data:`IDLE_SECONDS` without work and is started again by the
  next commit.  A process that exits while a checkpoint is under way leaves the log as it
  was, which SQLite is built for: the next checkpoint (or the next open) finishes it.

Durability is unchanged: with ``synchronous=NORMAL`` a WAL commit was never synced by
itself; the checkpoint syncs the log, then the database, as before.  No library does
this for SQLAlchemy; it is a thread, an event and one pragma.
"""

from __future__ import annotations

import atexit
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.5  # seconds between two checkpoints of one database
IDLE_SECONDS = 5.0  # the thread stops after this long without a commit to follow
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes of WAL file kept after a reset
BUSY_TIMEOUT_MS = 5_000


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on one database file, off the writers' threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checkpoints = 0  # checkpoints run, for tests and benchmarks
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._pending = False  # a commit since the last checkpoint began
        self._busy = False  # a checkpoint is waiting for its turn or running
        self._running = False  # the thread is alive (or about to be)
        self._stop = False
        self._thread: threading.Thread | None = None
        self._last = 0.0

    def notify(self) -> None:
        """Something was committed: checkpoint soon (starting the thread if it stopped)."""
        with self._lock:
            self._pending = True
            if self._running:
                self._work.notify()
                return
            self._running = True
            self._thread = threading.Thread(
                target=self._run, name=f"accord-checkpoint:{self.path.name}", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Checkpoint what is pending, then stop the thread and close its connection.

        Called when an engine on the database is disposed and when the process exits, so
        that the last connection to close finds the log copied, as without this module
        (SQLite then removes the ``-wal`` file, and a copy of the database file alone is
        whole).  A later commit starts the thread again.
        """
        with self._lock:
            thread = self._thread if self._running else None
            self._stop = True
            self._work.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._stop = False

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every commit notified so far has been checkpointed; True if it was.

        For benchmarks that count the checkpoint's cost, and tests that look at its effect.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._running or not (self._pending or self._busy):
                    return True
            time.sleep(0.005)
        return False

    def _run(self) -> None:
        con: sqlite3.Connection | None = None
        try:
            while True:
                with self._lock:
                    woke = self._work.wait_for(
                        lambda: self._pending or self._stop, timeout=IDLE_SECONDS
                    )
                    if not self._pending or not woke:
                        self._running = False
                        return
                    self._busy = True
                    wait = self._last + MIN_INTERVAL - time.monotonic()
                    if wait > 0:  # commits arriving meanwhile are covered by this round
                        self._work.wait_for(lambda: self._stop, timeout=wait)
                    self._pending = False  # a commit from here on asks for another round
                try:
                    if con is None:
                        con = sqlite3.connect(
                            self.path, isolation_level=None, check_same_thread=False
                        )
                        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # the next commit tries again
                    log.warning("checkpoint of %s failed: %s", self.path, exc)
                    if con is not None:
                        con.close()
                        con = None
                finally:
                    self._last = time.monotonic()
                    with self._lock:
                        self._busy = False
        except BaseException:  # pragma: no cover - let the next commit start a new thread
            with self._lock:
                self._running = False
                self._busy = False
            raise
        finally:
            if con is not None:
                con.close()


_registry: dict[Path, Checkpointer] = {}
_registry_lock = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads: it starts with no checkpointers."""
    global _registry_lock
    _registry.clear()
    _registry_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def close_all() -> None:
    """Finish every database's pending checkpoint (at exit: the log is copied, as before)."""
    with _registry_lock:
        found = list(_registry.values())
    for checkpointer in found:
        checkpointer.close()


def for_path(path: Path) -> Checkpointer:
    """The one checkpointer of the database file at ``path`` in this process."""
    key = path.expanduser().resolve()
    with _registry_lock:
        found = _registry.get(key)
        if found is None:
            found = _registry[key] = Checkpointer(key)
        return found


def pragmas(cursor: Any) -> None:
    """The connection-level settings that hand checkpoints to the checkpointer."""
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")


def install(engine: Engine, path: Path) -> Checkpointer:
    """Wake ``path``'s checkpointer whenever one of ``engine``'s connections is checked in."""
    checkpointer = for_path(path)

    def _checked_in(_dbapi_conn: Any, _record: Any) -> None:
        checkpointer.notify()

    def _disposed(_engine: Engine) -> None:
        checkpointer.close()

    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "engine_disposed", _disposed)
    return checkpointer


__all__ = ["Checkpointer", "close_all", "for_path", "install", "pragmas"]
