"""Processing state per received file, in the registry's ``processing`` table.

One row per file generation (topic, destination, relative path, SHA-512): it
is recorded PENDING (durable at the downloader's next checkpoint, before the
file's offsets are committed), RUNNING while its processor runs, then OK or
FAILED with the reason, the processor's bounded output and its JSON result. A
restart runs again what is PENDING or RUNNING: processing is at least once. A
row also says whether its result reached the results topic, so that a result
produced but never acknowledged is produced again after a restart.

The table is created here when missing (a new table needs no migration, see
:data:`~openmsi_gui.engine.registry.MIGRATIONS`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openmsi_gui.engine.processing.api import JsonObject, ProcessingResult, ProcessingState
from openmsi_gui.engine.registry import Registry

MAX_OUTPUT_CHARS = 64 * 1024
"""What is kept of a processor's output (its end: where errors are)."""

_TABLE = """
CREATE TABLE IF NOT EXISTS processing (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    dest TEXT NOT NULL,                -- the destination's label (as downloads.dest)
    relpath TEXT NOT NULL,
    file_hash BLOB NOT NULL,
    path TEXT NOT NULL,                -- the verified copy the processor reads
    size INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    processor TEXT NOT NULL,
    processor_version TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,               -- pending | running | ok | failed
    reason TEXT NOT NULL DEFAULT '',
    output TEXT NOT NULL DEFAULT '',
    result TEXT,                       -- JSON object, or NULL
    attempts INTEGER NOT NULL DEFAULT 0,
    queued REAL NOT NULL,
    finished REAL,
    published INTEGER NOT NULL DEFAULT 0,  -- its result reached the results topic
    UNIQUE (topic, dest, relpath, file_hash)
);
CREATE INDEX IF NOT EXISTS processing_by_state ON processing (dest, topic, state)
"""

_COLUMNS = ("id, topic, dest, relpath, file_hash, path, size, metadata, processor, "
            "processor_version, state, reason, output, result, attempts, queued, finished, "
            "published")


@dataclass(frozen=True, slots=True)
class ProcessingRecord:
    """A row of the ``processing`` table."""

    id: int
    topic: str
    dest: str
    relpath: str
    file_hash: bytes
    path: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    processor: str = ""
    processor_version: str = ""
    state: ProcessingState = ProcessingState.PENDING
    reason: str = ""
    output: str = ""
    result: JsonObject | None = None
    attempts: int = 0
    queued: float = 0.0
    finished: float | None = None
    published: bool = False


def _record(row: tuple[Any, ...]) -> ProcessingRecord:
    metadata = _json_object(row[7]) or {}
    return ProcessingRecord(
        id=row[0], topic=row[1], dest=row[2], relpath=row[3], file_hash=bytes(row[4]),
        path=row[5], size=row[6], metadata={str(k): str(v) for k, v in metadata.items()},
        processor=row[8], processor_version=row[9], state=ProcessingState(row[10]),
        reason=row[11], output=row[12], result=_json_object(row[13]), attempts=row[14],
        queued=row[15], finished=row[16], published=bool(row[17]))


def _json_object(text: str | None) -> JsonObject | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class ProcessingBook:
    """Records and reads processing state in a registry (any thread).

    Args:
        registry: the registry of the received files.
    """

    def __init__(self, registry: Registry) -> None:
        self._db = registry.database

        def create(cur: sqlite3.Cursor) -> None:
            for statement in _TABLE.split(";"):
                cur.execute(statement)

        self._db.write(create)

    def queue(self, topic: str, dest: str, relpath: str, file_hash: bytes, path: str,
              size: int, metadata: Mapping[str, str], processor: str) -> ProcessingRecord:
        """Record a verified file as PENDING (again, if it was processed before)."""
        def upsert(cur: sqlite3.Cursor) -> ProcessingRecord:
            cur.execute(
                "INSERT INTO processing (topic, dest, relpath, file_hash, path, size, metadata, "
                "processor, state, queued) VALUES (?,?,?,?,?,?,?,?,'pending',?) "
                "ON CONFLICT (topic, dest, relpath, file_hash) DO UPDATE SET "
                "path=excluded.path, size=excluded.size, metadata=excluded.metadata, "
                "processor=excluded.processor, state='pending', reason='', output='', "
                "result=NULL, queued=excluded.queued, finished=NULL, published=0",
                (topic, dest, relpath, file_hash, path, size, json.dumps(dict(metadata)),
                 processor, time.time()))
            row = cur.execute(f"SELECT {_COLUMNS} FROM processing WHERE topic=? AND dest=? "
                              "AND relpath=? AND file_hash=?",
                              (topic, dest, relpath, file_hash)).fetchone()
            return _record(row)

        return self._db.write(upsert)

    def running(self, record_id: int) -> None:
        """Its processor starts (one attempt more)."""
        self._db.write(lambda cur: cur.execute(
            "UPDATE processing SET state='running', attempts=attempts+1 WHERE id=?",
            (record_id,)))

    def finish(self, record_id: int, outcome: ProcessingResult) -> None:
        """Record the outcome: OK, or FAILED with its reason; the output's end is kept.

        The processor's name and version are the outcome's, when the runner said them.
        """
        state = ProcessingState.OK if outcome.ok else ProcessingState.FAILED
        result = json.dumps(outcome.result) if outcome.result is not None else None
        self._db.write(lambda cur: cur.execute(
            "UPDATE processing SET state=?, reason=?, output=?, result=?, "
            "processor=CASE WHEN ?='' THEN processor ELSE ? END, processor_version=?, "
            "finished=?, published=0 WHERE id=?",
            (state.value, outcome.reason, outcome.output[-MAX_OUTPUT_CHARS:], result,
             outcome.processor, outcome.processor, outcome.processor_version, time.time(),
             record_id)))

    def published(self, record_id: int) -> None:
        """Its result was acknowledged by the results topic."""
        self._db.write(lambda cur: cur.execute(
            "UPDATE processing SET published=1 WHERE id=?", (record_id,)))

    def get(self, record_id: int) -> ProcessingRecord | None:
        """One row by id."""
        row = self._db.read(lambda cur: cur.execute(
            f"SELECT {_COLUMNS} FROM processing WHERE id=?", (record_id,)).fetchone())
        return _record(row) if row else None

    def find(self, topic: str, dest: str, relpath: str,
             file_hash: bytes) -> ProcessingRecord | None:
        """The row of one file generation at one destination."""
        row = self._db.read(lambda cur: cur.execute(
            f"SELECT {_COLUMNS} FROM processing WHERE topic=? AND dest=? AND relpath=? "
            "AND file_hash=?", (topic, dest, relpath, file_hash)).fetchone())
        return _record(row) if row else None

    def latest(self, topic: str, dest: str, relpath: str) -> ProcessingRecord | None:
        """The row of the version of ``relpath`` queued last at one destination."""
        row = self._db.read(lambda cur: cur.execute(
            f"SELECT {_COLUMNS} FROM processing WHERE topic=? AND dest=? AND relpath=? "
            "ORDER BY queued DESC, id DESC LIMIT 1", (topic, dest, relpath)).fetchone())
        return _record(row) if row else None

    def in_states(self, topic: str, dest: str,
                  states: Iterable[ProcessingState]) -> list[ProcessingRecord]:
        """The rows of one topic and destination in ``states``, oldest first."""
        wanted = [s.value for s in states]
        marks = ",".join("?" * len(wanted))
        rows = self._db.read(lambda cur: cur.execute(
            f"SELECT {_COLUMNS} FROM processing WHERE dest=? AND topic=? AND state IN "
            f"({marks}) ORDER BY id", (dest, topic, *wanted)).fetchall())
        return [_record(r) for r in rows]

    def unpublished(self, topic: str, dest: str) -> list[ProcessingRecord]:
        """Finished rows whose result has not reached the results topic yet."""
        rows = self._db.read(lambda cur: cur.execute(
            f"SELECT {_COLUMNS} FROM processing WHERE dest=? AND topic=? AND "
            "state IN ('ok', 'failed') AND published=0 ORDER BY id", (dest, topic)).fetchall())
        return [_record(r) for r in rows]

    def for_files(self, files: Iterable[tuple[str, str, bytes]]
                  ) -> dict[tuple[str, str, bytes], list[ProcessingRecord]]:
        """Processing rows of each of ``files`` (topic, relative path, SHA-512), any destination.

        One read for all of them (for the history's rows).
        """
        wanted = list(dict.fromkeys(files))

        def read(cur: sqlite3.Cursor) -> dict[tuple[str, str, bytes], list[ProcessingRecord]]:
            found: dict[tuple[str, str, bytes], list[ProcessingRecord]] = {}
            for key in wanted:
                rows = cur.execute(
                    f"SELECT {_COLUMNS} FROM processing WHERE topic=? AND relpath=? AND "
                    "file_hash=? ORDER BY dest", key).fetchall()
                if rows:
                    found[key] = [_record(r) for r in rows]
            return found

        return self._db.read(read)
