"""The registry's SQLite connection: short write transactions, retried when busy.

Several processes may share one registry file (the tray app beside a service,
``openmsi watch`` beside ``openmsi download``). So that none of them ever
fails on its lock:

* every write is its own ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction, held
  for the few statements it runs and never across other work. ``IMMEDIATE``
  takes the write lock before reading, so SQLite's busy timeout applies (a
  deferred read that later upgrades to a write can fail at once in WAL mode);
* a statement that still meets ``SQLITE_BUSY`` (lock timeout, WAL recovery)
  is run again after a bounded back-off, and only then raised.

These commits are not fsynced (``synchronous=NORMAL``): they survive a crash
of the process but not of the machine. :meth:`Database.sync` makes every
commit so far durable; the engine calls it at its checkpoints (through
:meth:`Registry.commit`), after it has fsynced the data those rows describe.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT = 10.0
"""Seconds SQLite itself waits for a lock before a statement fails as busy."""
RETRY_DELAYS = (0.05, 0.2, 1.0, 2.0, 5.0)
"""Pauses between further attempts after a busy failure (then it is raised)."""

# The one-row table each sync rewrites: a commit in synchronous=FULL mode fsyncs
# the write-ahead log, and with it every commit before it (any process's).
SYNC_TABLE = ("CREATE TABLE IF NOT EXISTS syncs ("
              "id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL)")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` is a lock conflict that may succeed when tried again."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """One connection to a registry file, shared by the threads of a process.

    Args:
        path: the database file.
        busy_timeout: seconds SQLite waits for a lock before a try fails
            (default :data:`BUSY_TIMEOUT`).
        retry_delays: pauses before each further try, then it raises (default
            :data:`RETRY_DELAYS`).
    """

    def __init__(self, path: Path, busy_timeout: float | None = None,
                 retry_delays: tuple[float, ...] | None = None) -> None:
        self.path = path
        self._retry_delays = RETRY_DELAYS if retry_delays is None else retry_delays
        self._lock = threading.RLock()
        # isolation_level=None: no implicit transactions; write() opens its own.
        self.connection = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None,
            timeout=BUSY_TIMEOUT if busy_timeout is None else busy_timeout)
        try:
            self._retry(lambda: self.connection.execute("PRAGMA journal_mode=WAL"))
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self.write(lambda cur: cur.execute(SYNC_TABLE))
        except Exception:
            self.connection.close()
            raise

    def read(self, work: Callable[[sqlite3.Cursor], T]) -> T:
        """Run ``work`` on a cursor outside any transaction (retried while busy)."""
        with self._lock:
            return self._retry(lambda: work(self.connection.cursor()))

    def write(self, work: Callable[[sqlite3.Cursor], T]) -> T:
        """Run ``work`` in one short ``BEGIN IMMEDIATE`` transaction (retried while busy).

        ``work`` may run more than once: it must only use the database.
        """
        def attempt() -> T:
            cur = self.connection.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                result = work(cur)
                cur.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:
                    self.connection.rollback()
                raise
            return result

        with self._lock:
            return self._retry(attempt)

    def sync(self) -> None:
        """Make every commit so far durable (fsync the write-ahead log)."""
        with self._lock:
            self.connection.execute("PRAGMA synchronous=FULL")
            try:
                self.write(lambda cur: cur.execute(
                    "INSERT OR REPLACE INTO syncs (id, at) VALUES (1, ?)", (time.time(),)))
            finally:
                self.connection.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Sync and close."""
        with self._lock:
            try:
                self.sync()
            finally:
                self.connection.close()

    def _retry(self, attempt: Callable[[], T]) -> T:
        for delay in (*self._retry_delays, None):
            try:
                return attempt()
            except sqlite3.OperationalError as exc:
                if delay is None or not is_busy(exc):
                    raise
                log.warning("%s is busy (%s); trying again in %.2f s", self.path.name, exc,
                            delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # the last attempt returns or raises
