"""The programs a lab overview has heard from, remembered between runs (no Qt).

The overview reads back only the last hour of heartbeats, so a program that
stopped earlier would vanish from it. The store keeps each program's newest
beat (as :class:`KnownProgram`) in a small JSON file in the user data folder,
one per broker and heartbeat topic, so such a program still shows as silent
until someone forgets it. The file is written atomically (a temporary file,
then a rename); a damaged file is set aside, never fatal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from openmsi_gui.engine.lab_wire import ReportedState, ReportKind
from openmsi_gui.engine.registry import default_data_dir
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

FORMAT = 1
MAX_PROGRAMS = 5000
"""Programs kept at most (the most recently seen)."""


@dataclass(frozen=True)
class KnownProgram:
    """What is remembered of a program: its newest heartbeat, in short.

    Attributes:
        program_id: the program's id (escaped).
        last_seen: when its newest beat was seen (aware, UTC).
        interval: seconds between its beats.
        interval_inferred: ``interval`` was inferred (OpenMSIStream's programs).
        host: its host name ("" unknown).
        version: our app's version, or "OpenMSIStream".
        kind: its kind of job (ours only).
        job: its job's name (ours only).
        log_program_id: the id its log messages carry ("" for ``program_id``).
        is_ours: an OpenMSI GUI program.
        state: what its newest beat said (None: told by its counters).
        problem: the sentence it showed, when it needed attention.
        counts_files: it reports files (ours).
        files_waiting: files queued there.
        files_failed: files failed there.
        free_bytes: free space where it reads or writes files.
    """

    program_id: str
    last_seen: dt.datetime
    interval: float
    interval_inferred: bool
    host: str = ""
    version: str = ""
    kind: ReportKind | None = None
    job: str = ""
    log_program_id: str = ""
    is_ours: bool = False
    state: ReportedState | None = None
    problem: str = ""
    counts_files: bool = False
    files_waiting: int | None = None
    files_failed: int | None = None
    free_bytes: int | None = None


def store_path(servers: str, topic: str, data_dir: Path | None = None) -> Path:
    """The file that remembers the programs of one heartbeat topic on one broker."""
    digest = hashlib.sha256(f"{servers}\n{topic}".encode()).hexdigest()[:16]
    return (data_dir or default_data_dir()) / "lab" / f"programs-{digest}.json"


class LabStore:
    """Load and save :class:`KnownProgram` records in one JSON file (blocking I/O).

    Args:
        path: the file (see :func:`store_path`).
        servers: the broker's ``bootstrap.servers`` (written in the file for people).
        topic: the heartbeat topic (likewise).
    """

    def __init__(self, path: Path, servers: str = "", topic: str = "") -> None:
        self.path = path
        self.servers = servers
        self.topic = topic

    @classmethod
    def for_topic(cls, servers: str, topic: str, data_dir: Path | None = None) -> LabStore:
        """The store of ``topic`` on ``servers`` in ``data_dir`` (default: the user's)."""
        return cls(store_path(servers, topic, data_dir), servers, topic)

    def load(self) -> list[KnownProgram]:
        """The programs remembered; none when the file is missing or damaged (logged)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("cannot read the lab overview's programs in %s (%s): starting "
                        "without them", self.path, exc)
            return []
        items = data.get("programs") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return []
        found = (_known(item) for item in items[:MAX_PROGRAMS] if isinstance(item, dict))
        return [known for known in found if known is not None]

    def save(self, programs: Iterable[KnownProgram]) -> None:
        """Replace the file with ``programs`` (atomically); a failure is logged, not raised."""
        kept = sorted(programs, key=lambda k: k.last_seen, reverse=True)[:MAX_PROGRAMS]
        data = {"format": FORMAT, "servers": self.servers, "topic": self.topic,
                "programs": [_record(known) for known in kept]}
        temp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            os.replace(temp, self.path)
        except OSError as exc:
            log.warning("cannot save the lab overview's programs in %s: %s", self.path,
                        exc.strerror or exc)


def _record(known: KnownProgram) -> dict[str, Any]:
    return {
        "program_id": known.program_id, "last_seen": known.last_seen.isoformat(),
        "interval": known.interval, "interval_inferred": known.interval_inferred,
        "host": known.host, "version": known.version,
        "kind": known.kind.value if known.kind else None, "job": known.job,
        "log_program_id": known.log_program_id, "is_ours": known.is_ours,
        "state": known.state.value if known.state else None, "problem": known.problem,
        "counts_files": known.counts_files, "files_waiting": known.files_waiting,
        "files_failed": known.files_failed, "free_bytes": known.free_bytes,
    }


def _known(item: dict[str, Any]) -> KnownProgram | None:
    """A record read back (the file may have been edited: checked and escaped again)."""
    program_id = item.get("program_id")
    interval = item.get("interval")
    try:
        last_seen = dt.datetime.fromisoformat(str(item.get("last_seen")))
    except ValueError:
        return None
    if (not isinstance(program_id, str) or not program_id or last_seen.tzinfo is None
            or not isinstance(interval, int | float) or not math.isfinite(interval)
            or interval <= 0):
        return None
    return KnownProgram(
        program_id=escaped(program_id, 200), last_seen=last_seen.astimezone(dt.UTC),
        interval=float(interval), interval_inferred=item.get("interval_inferred") is True,
        host=_text(item.get("host")), version=_text(item.get("version")),
        kind=_member(ReportKind, item.get("kind")), job=_text(item.get("job")),
        log_program_id=_text(item.get("log_program_id")), is_ours=item.get("is_ours") is True,
        state=_member(ReportedState, item.get("state")), problem=_text(item.get("problem")),
        counts_files=item.get("counts_files") is True,
        files_waiting=_count(item.get("files_waiting")),
        files_failed=_count(item.get("files_failed")), free_bytes=_count(item.get("free_bytes")))


_E = TypeVar("_E", ReportKind, ReportedState)


def _text(value: object) -> str:
    return escaped(value) if isinstance(value, str) else ""


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _member(kind: type[_E], value: object) -> _E | None:
    try:
        return kind(value) if isinstance(value, str) else None
    except ValueError:
        return None
