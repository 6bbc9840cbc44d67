"""Crash-safe records of what was sent and received, in SQLite (WAL).

One database file in the user data dir holds both sides:

* **uploads**: one row per file generation sent to a topic, with its size,
  mtime and SHA-512, plus the chunks the broker acknowledged. A restart skips
  files whose path, size and mtime (or, failing that, hash) match a finished
  row, and resends only the missing chunks of an unfinished one.
* **downloads**: one row per file generation received from a topic by a
  consumer group into a destination, with its temporary file and the chunks
  already stored there, so a restart finishes every file it had started.
* **parked messages**: encrypted messages whose decryption keys have not
  arrived yet, kept (and their offsets committed) until they can be opened.
* **deliveries**: what each destination's verified receipt said about a file
  sent from here (see :mod:`.deliveries`).
* an upload's ``after_delivery`` columns: the file was moved to an archive
  folder or deleted once every expected destination confirmed it (see
  :mod:`.after_delivery`); such a row no longer counts as "already sent", so a
  file later re-created under the same name is a new file.

Several processes may share the file. Every write is its own short
transaction, retried while another process holds the lock (see
:mod:`.registry_db`); writes become durable (fsynced) when the engine calls
:meth:`Registry.commit` at its checkpoints, after it has flushed the data
they describe. A job only records what may become durable at any moment
(e.g. the downloader records a chunk only once its bytes are fsynced).

The file's ``PRAGMA user_version`` is its schema version: every change of
shape bumps :data:`SCHEMA_VERSION` and adds a function to :data:`MIGRATIONS`,
as the settings file does (see :mod:`openmsi_gui.app.settings`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from openmsi_gui.engine.registry_db import Database

APP_NAME = "openmsi-gui"
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    root TEXT NOT NULL,
    relpath TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    file_hash BLOB NOT NULL,
    chunk_size INTEGER NOT NULL,
    n_chunks INTEGER NOT NULL,
    status TEXT NOT NULL,              -- sending | done | failed
    error TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    completed REAL,
    after_delivery TEXT NOT NULL DEFAULT '',   -- '' | moved | deleted | gone
    after_delivery_at REAL,
    after_delivery_to TEXT NOT NULL DEFAULT '',  -- where it was moved
    metadata TEXT NOT NULL DEFAULT ''  -- the fields sent with it (JSON), '' for none
);
CREATE INDEX IF NOT EXISTS uploads_by_path ON uploads (topic, root, relpath);
CREATE TABLE IF NOT EXISTS upload_chunks (
    upload_id INTEGER NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    chunk_i INTEGER NOT NULL,
    PRIMARY KEY (upload_id, chunk_i)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS downloads (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    grp TEXT NOT NULL,
    dest TEXT NOT NULL,
    relpath TEXT NOT NULL,
    file_hash BLOB NOT NULL,
    n_chunks INTEGER NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    file_mtime REAL NOT NULL DEFAULT 0,
    temp_path TEXT NOT NULL,
    status TEXT NOT NULL,              -- receiving | done | failed | superseded
    error TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    completed REAL,
    metadata TEXT NOT NULL DEFAULT '',  -- the fields it came with (JSON, escaped), '' for none
    UNIQUE (topic, grp, dest, relpath, file_hash)
);
CREATE INDEX IF NOT EXISTS downloads_by_path ON downloads (dest, relpath, status);
CREATE TABLE IF NOT EXISTS download_chunks (
    download_id INTEGER NOT NULL REFERENCES downloads (id) ON DELETE CASCADE,
    chunk_i INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (download_id, chunk_i)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parked_messages (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    grp TEXT NOT NULL,
    dest TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    reason TEXT NOT NULL,
    parked REAL NOT NULL,
    UNIQUE (topic, grp, dest, partition, offset)
);
CREATE INDEX IF NOT EXISTS uploads_by_content ON uploads (topic, relpath, file_hash);
CREATE TABLE IF NOT EXISTS deliveries (
    topic TEXT NOT NULL,
    relpath TEXT NOT NULL,
    file_hash BLOB NOT NULL,
    destination TEXT NOT NULL,
    status TEXT NOT NULL,              -- stored | failed
    size INTEGER NOT NULL,
    stored_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    receipt_time REAL NOT NULL,        -- when the destination made the receipt
    recorded REAL NOT NULL,            -- when it was recorded here
    PRIMARY KEY (topic, relpath, file_hash, destination)
);
"""


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}
"""``MIGRATIONS[n]`` upgrades an open registry from version n to n + 1.

Rule: a new table or index needs no migration (:data:`_SCHEMA` creates what is
missing at every start); a new, renamed or removed column, or a change of
meaning, bumps :data:`SCHEMA_VERSION` and adds a function here.
"""


def _v1_to_v2(db: sqlite3.Connection) -> None:
    """Version 2: what was done with an upload's file after its delivery."""
    db.execute("ALTER TABLE uploads ADD COLUMN after_delivery TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE uploads ADD COLUMN after_delivery_at REAL")
    db.execute("ALTER TABLE uploads ADD COLUMN after_delivery_to TEXT NOT NULL DEFAULT ''")


MIGRATIONS[1] = _v1_to_v2


def _v2_to_v3(db: sqlite3.Connection) -> None:
    """Version 3: the information (metadata) sent or received with each file."""
    db.execute("ALTER TABLE uploads ADD COLUMN metadata TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE downloads ADD COLUMN metadata TEXT NOT NULL DEFAULT ''")


MIGRATIONS[2] = _v2_to_v3


class RegistryError(RuntimeError):
    """A registry file that cannot be used; the message says what to do."""


def default_data_dir() -> Path:
    """The per-user folder for the registry (``$OPENMSI_GUI_DATA_DIR`` overrides it)."""
    override = os.environ.get("OPENMSI_GUI_DATA_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """A row of the uploads table."""

    id: int
    relpath: str
    size: int
    mtime_ns: int
    file_hash: bytes
    chunk_size: int
    n_chunks: int
    status: str
    after_delivery: str = ""  # moved, deleted or gone after its delivery ("" if still there)


@dataclass(frozen=True, slots=True)
class DownloadRecord:
    """A row of the downloads table."""

    id: int
    relpath: str
    file_hash: bytes
    n_chunks: int
    size: int
    file_mtime: float
    temp_path: str
    status: str
    error: str
    completed: float | None
    metadata: str = ""  # the fields it came with (JSON, escaped; "" for none)


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    """A message kept until it can be decrypted."""

    id: int
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One finished or failed transfer, for history views and CSV export."""

    direction: str
    topic: str
    relpath: str
    size: int
    status: str
    error: str
    started: float
    completed: float | None
    sha512_hex: str
    done_bytes: int = 0  # sent or stored so far (the size once done)
    done_chunks: int = 0
    n_chunks: int = 0
    root: str = ""  # an upload's folder, which its path is relative to ("" for downloads)
    after_delivery: str = ""  # an upload's file moved, deleted or gone after its delivery
    after_delivery_to: str = ""  # where it was moved
    after_delivery_at: float | None = None  # when it was moved or deleted
    metadata: str = ""  # the fields sent or received with it (JSON; "" for none)


class Registry:
    """Thread- and process-safe access to the registry database.

    Args:
        path: the database file; defaults to ``registry.sqlite3`` in
            :func:`default_data_dir`.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_data_dir() / "registry.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = Database(self.path)
        try:
            self._db.write(lambda cur: _upgrade(cur.connection, self.path))
            self._db.sync()
        except Exception:
            self._db.connection.close()
            raise

    @property
    def database(self) -> Database:
        """The connection, for the records kept by modules of their own (deliveries)."""
        return self._db

    @property
    def version(self) -> int:
        """The schema version of the open file."""
        return int(self._db.read(lambda cur: cur.execute("PRAGMA user_version").fetchone()[0]))

    def close(self) -> None:
        """Make every write durable and close the database."""
        self._db.close()

    def commit(self) -> None:
        """Make every write so far durable (each write is already visible to others)."""
        self._db.sync()

    def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row ``sql`` selects, if any."""
        row: tuple[Any, ...] | None = self._db.read(
            lambda cur: cur.execute(sql, params).fetchone())
        return row

    # -- uploads ---------------------------------------------------------

    def upload_done(self, topic: str, root: str, relpath: str, size: int, mtime_ns: int) -> bool:
        """Whether this exact path, size and mtime was already sent completely."""
        row = self._one(
            "SELECT 1 FROM uploads WHERE topic=? AND root=? AND relpath=? AND size=? "
            "AND mtime_ns=? AND status='done' AND after_delivery='' LIMIT 1",
            (topic, root, relpath, size, mtime_ns),
        )
        return row is not None

    def last_upload(self, topic: str, root: str, relpath: str) -> UploadRecord | None:
        """The most recent generation of ``relpath`` sent to ``topic``, if any."""
        row = self._one(
            "SELECT id, relpath, size, mtime_ns, file_hash, chunk_size, n_chunks, status, "
            "after_delivery FROM uploads WHERE topic=? AND root=? AND relpath=? "
            "ORDER BY id DESC LIMIT 1",
            (topic, root, relpath),
        )
        return UploadRecord(*row) if row else None

    def start_upload(self, topic: str, root: str, relpath: str, size: int, mtime_ns: int,
                     file_hash: bytes, chunk_size: int, n_chunks: int,
                     fresh: bool = False, metadata: str = "") -> tuple[int, set[int]]:
        """Record a generation about to be sent; return its id and chunks already acknowledged.

        An unfinished row for the same content and chunking is reused, so a
        restart resends only the chunks that were never acknowledged; ``fresh``
        (Send again) starts a new row, so that every chunk is sent. ``metadata``:
        the fields sent with it (JSON).
        """
        def start(cur: sqlite3.Cursor) -> tuple[int, set[int]]:
            row = None if fresh else cur.execute(
                "SELECT id FROM uploads WHERE topic=? AND root=? AND relpath=? AND file_hash=? "
                "AND chunk_size=? AND status!='done' ORDER BY id DESC LIMIT 1",
                (topic, root, relpath, file_hash, chunk_size),
            ).fetchone()
            if row:
                upload_id = int(row[0])
                cur.execute(
                    "UPDATE uploads SET status='sending', error='', size=?, mtime_ns=?, "
                    "metadata=? WHERE id=?", (size, mtime_ns, metadata, upload_id),
                )
                acked = {r[0] for r in cur.execute(
                    "SELECT chunk_i FROM upload_chunks WHERE upload_id=?", (upload_id,))}
                return upload_id, acked
            cur.execute(
                "INSERT INTO uploads (topic, root, relpath, size, mtime_ns, file_hash, chunk_size, "
                "n_chunks, status, started, metadata) VALUES (?,?,?,?,?,?,?,?,'sending',?,?)",
                (topic, root, relpath, size, mtime_ns, file_hash, chunk_size, n_chunks,
                 time.time(), metadata),
            )
            return int(cur.lastrowid or 0), set()

        return self._db.write(start)

    def ack_chunks(self, upload_id: int, chunk_indices: Iterable[int]) -> None:
        """Record chunks the broker acknowledged."""
        rows = [(upload_id, i) for i in chunk_indices]
        if rows:
            self._db.write(lambda cur: cur.executemany(
                "INSERT OR IGNORE INTO upload_chunks (upload_id, chunk_i) VALUES (?, ?)", rows))

    def finish_upload(self, upload_id: int, error: str = "") -> None:
        """Mark a generation done (no ``error``) or failed; done rows drop their chunk list."""
        def finish(cur: sqlite3.Cursor) -> None:
            if error:
                cur.execute("UPDATE uploads SET status='failed', error=? WHERE id=?",
                            (error, upload_id))
            else:
                cur.execute("UPDATE uploads SET status='done', completed=? WHERE id=?",
                            (time.time(), upload_id))
                cur.execute("DELETE FROM upload_chunks WHERE upload_id=?", (upload_id,))

        self._db.write(finish)

    # -- downloads -------------------------------------------------------

    _DL_COLUMNS = ("id, relpath, file_hash, n_chunks, size, file_mtime, temp_path, status, "
                   "error, completed, metadata")

    def find_download(self, topic: str, group: str, dest: str, relpath: str,
                      file_hash: bytes) -> DownloadRecord | None:
        """The record of one generation of a file for this topic, group and destination."""
        row = self._one(
            f"SELECT {self._DL_COLUMNS} FROM downloads WHERE topic=? AND grp=? AND dest=? "
            "AND relpath=? AND file_hash=?",
            (topic, group, dest, relpath, file_hash),
        )
        return DownloadRecord(*row) if row else None

    def latest_done_download(self, dest: str, relpath: str) -> DownloadRecord | None:
        """The newest completed generation written to ``dest/relpath`` (any topic or group)."""
        row = self._one(
            f"SELECT {self._DL_COLUMNS} FROM downloads WHERE dest=? AND relpath=? "
            "AND status='done' ORDER BY completed DESC LIMIT 1",
            (dest, relpath),
        )
        return DownloadRecord(*row) if row else None

    def start_download(self, topic: str, group: str, dest: str, relpath: str, file_hash: bytes,
                       n_chunks: int, file_mtime: float, temp_path: str) -> int:
        """Create (or restart) the record of a generation being received; return its id."""
        def start(cur: sqlite3.Cursor) -> int:
            cur.execute(
                "INSERT INTO downloads (topic, grp, dest, relpath, file_hash, n_chunks, "
                "file_mtime, temp_path, status, started) VALUES (?,?,?,?,?,?,?,?,'receiving',?) "
                "ON CONFLICT (topic, grp, dest, relpath, file_hash) DO UPDATE SET "
                "status='receiving', error='', n_chunks=excluded.n_chunks, "
                "file_mtime=excluded.file_mtime, temp_path=excluded.temp_path, completed=NULL",
                (topic, group, dest, relpath, file_hash, n_chunks, file_mtime, temp_path,
                 time.time()),
            )
            row = cur.execute(
                "SELECT id FROM downloads WHERE topic=? AND grp=? AND dest=? AND relpath=? "
                "AND file_hash=?", (topic, group, dest, relpath, file_hash)).fetchone()
            download_id = int(row[0])
            cur.execute("DELETE FROM download_chunks WHERE download_id=?", (download_id,))
            return download_id

        return self._db.write(start)

    def set_download_metadata(self, download_id: int, metadata: str) -> None:
        """Record the fields a generation came with (JSON, escaped)."""
        self._db.write(lambda cur: cur.execute(
            "UPDATE downloads SET metadata=? WHERE id=?", (metadata, download_id)))

    def stored_chunks(self, download_id: int) -> dict[int, tuple[int, int]]:
        """Chunks already in the temporary file: ``chunk_i -> (offset, length)``."""
        return self._db.read(lambda cur: {i: (o, n) for i, o, n in cur.execute(
            "SELECT chunk_i, offset, length FROM download_chunks WHERE download_id=?",
            (download_id,))})

    def store_chunk(self, download_id: int, chunk_i: int, offset: int, length: int) -> None:
        """Record a chunk written to the temporary file (durable at the next commit)."""
        self.store_chunks([(download_id, chunk_i, offset, length)])

    def store_chunks(self, chunks: Iterable[tuple[int, int, int, int]]) -> None:
        """Record ``(download_id, chunk_i, offset, length)`` chunks in one transaction."""
        rows = list(chunks)
        if rows:
            self._db.write(lambda cur: cur.executemany(
                "INSERT OR REPLACE INTO download_chunks (download_id, chunk_i, offset, length) "
                "VALUES (?,?,?,?)", rows))

    def finish_download(self, download_id: int, status: str, size: int = 0,
                        error: str = "") -> None:
        """Close a generation as ``done``, ``failed`` or ``superseded``."""
        def finish(cur: sqlite3.Cursor) -> None:
            cur.execute(
                "UPDATE downloads SET status=?, size=?, error=?, completed=? WHERE id=?",
                (status, size, error, time.time(), download_id))
            if status != "failed":
                cur.execute("DELETE FROM download_chunks WHERE download_id=?", (download_id,))

        self._db.write(finish)

    # -- parked messages -------------------------------------------------

    def park_message(self, topic: str, group: str, dest: str, partition: int, offset: int,
                     key: bytes, value: bytes, reason: str) -> None:
        """Keep a message that cannot be decrypted yet (durable at the next commit)."""
        self._db.write(lambda cur: cur.execute(
            "INSERT OR IGNORE INTO parked_messages (topic, grp, dest, partition, offset, "
            "key, value, reason, parked) VALUES (?,?,?,?,?,?,?,?,?)",
            (topic, group, dest, partition, offset, key, value, reason, time.time())))

    def parked_messages(self, topic: str, group: str, dest: str, limit: int = 1000,
                        after_id: int = 0) -> list[ParkedMessage]:
        """Parked messages of one topic, group and destination, by id from ``after_id``."""
        rows = self._db.read(lambda cur: cur.execute(
            "SELECT id, partition, offset, key, value FROM parked_messages WHERE topic=? "
            "AND grp=? AND dest=? AND id>? ORDER BY id LIMIT ?",
            (topic, group, dest, after_id, limit)).fetchall())
        return [ParkedMessage(r[0], r[1], r[2], bytes(r[3]), bytes(r[4])) for r in rows]

    def count_parked(self, topic: str, group: str, dest: str) -> int:
        """How many messages of one topic, group and destination are parked."""
        row = self._one("SELECT COUNT(*) FROM parked_messages WHERE topic=? AND grp=? AND dest=?",
                        (topic, group, dest))
        return int(row[0]) if row else 0

    def unpark_message(self, message_id: int) -> None:
        """Forget a parked message once it is handled (durable at the next commit)."""
        self._db.write(lambda cur: cur.execute("DELETE FROM parked_messages WHERE id=?",
                                               (message_id,)))

    # -- history ----------------------------------------------------------

    def history(self, limit: int = 10_000) -> list[HistoryRow]:
        """Newest-first list of every upload and download, for views and exports."""
        # How far an unfinished transfer got: chunks acknowledged or stored (a download's
        # size is known only once it is done).
        rows = self._db.read(lambda cur: cur.execute(
                "SELECT * FROM ("
                " SELECT 'upload', topic, relpath, size, status, error, started, completed, "
                "  file_hash, n_chunks, CASE WHEN status='done' THEN n_chunks ELSE"
                "  (SELECT COUNT(*) FROM upload_chunks WHERE upload_id=uploads.id) END,"
                "  chunk_size, root, after_delivery, after_delivery_to, after_delivery_at,"
                "  metadata FROM uploads"
                " UNION ALL"
                " SELECT 'download', topic, relpath, size, status, error, started, completed, "
                "  file_hash, n_chunks, CASE WHEN status='done' THEN n_chunks ELSE"
                "  (SELECT COUNT(*) FROM download_chunks WHERE download_id=downloads.id) END,"
                "  CASE WHEN status='done' THEN -1 ELSE"
                "  (SELECT COALESCE(SUM(length), 0) FROM download_chunks"
                "   WHERE download_id=downloads.id) END, '', '', '', NULL, metadata"
                "  FROM downloads"
                ") ORDER BY started DESC LIMIT ?", (limit,)).fetchall())
        return [_history_row(r) for r in rows]


def _history_row(r: tuple[Any, ...]) -> HistoryRow:
    """A :class:`HistoryRow` from a row of :meth:`Registry.history`'s query.

    The query's last column is an upload's chunk size, or the bytes a download
    stored (-1 once done).
    """
    direction, size, status, n_chunks, done_chunks, last = r[0], r[3], r[4], r[9], r[10], r[11]
    if status == "done":
        done_bytes = size
    elif direction == "upload":
        done_bytes = min(size, done_chunks * last)
    else:
        done_bytes = last
    return HistoryRow(direction=direction, topic=r[1], relpath=r[2], size=size, status=status,
                      error=r[5], started=r[6], completed=r[7], sha512_hex=bytes(r[8]).hex(),
                      done_bytes=done_bytes, done_chunks=done_chunks, n_chunks=n_chunks,
                      root=r[12], after_delivery=r[13], after_delivery_to=r[14],
                      after_delivery_at=r[15], metadata=r[16])


def _upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Bring ``db`` to :data:`SCHEMA_VERSION` (a new file starts at 0: nothing to migrate).

    Raises:
        RegistryError: the file was written by a newer version.
    """
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise RegistryError(f"{path} was written by a newer version (schema {version}): "
                            "update OpenMSI GUI")
    while 0 < version < SCHEMA_VERSION:
        MIGRATIONS[version](db)
        version += 1
        db.execute(f"PRAGMA user_version={version}")  # a step is never run twice
    for statement in _SCHEMA.split(";"):  # not executescript(): it would commit first
        db.execute(statement)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
