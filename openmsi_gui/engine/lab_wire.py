"""Heartbeat and log messages on Kafka, in OpenMSIStream's format plus our own fields.

OpenMSIStream programs (and ours) can report to a *heartbeat topic* and a *log
topic*. Both are keyed by a program id and carry JSON:

* heartbeat: key ``<program_id>_heartbeat``; value ``{"timestamp": "<UTC ISO 8601
  with offset>", ...counters}``. The counters count since the previous
  heartbeat: ``n_messages_produced``/``n_bytes_produced`` for senders,
  ``n_messages_read``/``n_bytes_read``/``n_messages_processed``/
  ``n_bytes_processed`` for receivers.
* log: key ``<program_id>_log``; value ``{"timestamp": <epoch seconds>,
  "messages": ["...", ...]}``.

Our heartbeats add fields OpenMSIStream's readers ignore (see
:class:`Heartbeat`); our log messages add ``hostname``. Everything read from
a topic is untrusted: :func:`decode_heartbeat` and :func:`decode_log` bound
sizes, check types, and escape every text they keep.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from dataclasses import dataclass
from typing import Any, TypeVar

from openmsi_gui.engine.untrusted import escaped

HEARTBEAT_SUFFIX = "_heartbeat"
LOG_SUFFIX = "_log"
MAX_VALUE_BYTES = 256 * 1024
"""A heartbeat or log value longer than this is not read (a log batch holds at most a few
hundred lines)."""
MAX_LOG_MESSAGES = 1000
"""Log lines kept from one log message at most."""
APP_NAME = "openmsi-gui"
"""The ``app`` field of our heartbeats: tells ours from OpenMSIStream's."""


class ReportKind(enum.StrEnum):
    """What kind of long-running job reports."""

    WATCH = "watch"
    DOWNLOAD = "download"
    DOWNLOAD_S3 = "download-s3"

    @property
    def sends(self) -> bool:
        """Whether the job produces files (OpenMSIStream's upload counters apply)."""
        return self is ReportKind.WATCH


class ReportedState(enum.StrEnum):
    """What a job says about itself in its heartbeat."""

    WORKING = "working"
    IDLE = "idle"
    NEEDS_ATTENTION = "needs attention"


@dataclass(frozen=True)
class Counters:
    """Messages, bytes and files counted over some span (one interval, or since start)."""

    messages_produced: int = 0
    bytes_produced: int = 0
    messages_read: int = 0
    bytes_read: int = 0
    messages_processed: int = 0
    bytes_processed: int = 0
    files: int = 0

    def __add__(self, other: Counters) -> Counters:
        return Counters(*(a + b for a, b in zip(dataclasses.astuple(self),
                                                 dataclasses.astuple(other), strict=True)))

    def __sub__(self, other: Counters) -> Counters:
        return Counters(*(a - b for a, b in zip(dataclasses.astuple(self),
                                                 dataclasses.astuple(other), strict=True)))

    @property
    def bytes(self) -> int:
        """The bytes of files moved: produced by a sender, processed by a receiver."""
        return self.bytes_produced or self.bytes_processed

    def as_wire(self, sends: bool | None) -> dict[str, int]:
        """OpenMSIStream's counter fields: a sender's, a receiver's, or (None) all of them."""
        fields: dict[str, int] = {}
        if sends is None or sends:
            fields |= {"n_messages_produced": self.messages_produced,
                       "n_bytes_produced": self.bytes_produced}
        if sends is None or not sends:
            fields |= {"n_messages_read": self.messages_read, "n_bytes_read": self.bytes_read,
                       "n_messages_processed": self.messages_processed,
                       "n_bytes_processed": self.bytes_processed}
        return fields

    @classmethod
    def from_wire(cls, value: dict[str, Any], files_field: str) -> Counters:
        """The counters in a decoded JSON object (missing or malformed ones count 0)."""
        return cls(_count(value, "n_messages_produced"), _count(value, "n_bytes_produced"),
                   _count(value, "n_messages_read"), _count(value, "n_bytes_read"),
                   _count(value, "n_messages_processed"), _count(value, "n_bytes_processed"),
                   _count(value, files_field))


@dataclass(frozen=True)
class Heartbeat:
    """One heartbeat: OpenMSIStream's fields, and ours when the program is ours.

    Attributes:
        program_id: the key without ``_heartbeat``.
        timestamp: when it was made (aware, UTC), None when missing or malformed.
        delta: counters since the previous heartbeat (OpenMSIStream's meaning).
        totals: counters since the job started (ours only).
        interval: seconds between heartbeats (ours only; OpenMSIStream's is inferred).
        host: the host name.
        app_version: our version; "" for OpenMSIStream's programs.
        kind: what kind of job.
        job: the job's name in its app.
        state: working, idle or needs attention.
        problem: the one sentence the job shows its user, when it needs attention.
        files_waiting: files queued but not yet done.
        files_failed: files that failed and were not retried successfully since start.
        last_file: the relative path of the last file done.
        last_file_time: when it was done.
        folder: the folder files are read from or written to ("" for S3).
        free_bytes: free space in that folder.
        config_fingerprint: a short hash of the job's settings (changes when they change).
        log_program_id: the program id this program's log messages carry.
        started: when the job started.
    """

    program_id: str
    timestamp: dt.datetime | None
    delta: Counters = Counters()
    totals: Counters | None = None
    interval: float | None = None
    host: str = ""
    app_version: str = ""
    kind: ReportKind | None = None
    job: str = ""
    state: ReportedState | None = None
    problem: str = ""
    files_waiting: int | None = None
    files_failed: int | None = None
    last_file: str = ""
    last_file_time: dt.datetime | None = None
    folder: str = ""
    free_bytes: int | None = None
    config_fingerprint: str = ""
    log_program_id: str = ""
    started: dt.datetime | None = None

    @property
    def is_ours(self) -> bool:
        """Whether an OpenMSI GUI program sent it (it carries our fields)."""
        return bool(self.app_version)


@dataclass(frozen=True)
class LogBatch:
    """One log message: the warnings and errors a program logged since its previous one.

    Attributes:
        program_id: the key without ``_log``.
        timestamp: epoch seconds when it was sent.
        messages: the log lines, oldest first.
        host: the host name (ours only).
    """

    program_id: str
    timestamp: float
    messages: tuple[str, ...]
    host: str = ""


def utc_now() -> dt.datetime:
    """The current time, aware, in UTC (the heartbeat's ``timestamp``)."""
    return dt.datetime.now(dt.UTC)


def heartbeat_key(program_id: str) -> str:
    """The message key of a heartbeat: ``<program_id>_heartbeat``."""
    return program_id + HEARTBEAT_SUFFIX


def log_key(program_id: str) -> str:
    """The message key of a log message: ``<program_id>_log``."""
    return program_id + LOG_SUFFIX


def encode_heartbeat(beat: Heartbeat) -> bytes:
    """The JSON value of a heartbeat (UTF-8), OpenMSIStream's fields first."""
    when = beat.timestamp or utc_now()
    sends = beat.kind.sends if beat.kind is not None else None
    value: dict[str, Any] = {"timestamp": when.isoformat(), **beat.delta.as_wire(sends)}
    if beat.is_ours:
        value |= {
            "app": APP_NAME, "app_version": beat.app_version, "hostname": beat.host,
            "job_kind": beat.kind.value if beat.kind else None, "job_name": beat.job,
            "job_state": beat.state.value if beat.state else None, "problem": beat.problem,
            "interval_secs": beat.interval, "n_files": beat.delta.files,
            "totals": ({**beat.totals.as_wire(sends), "n_files": beat.totals.files}
                       if beat.totals is not None else None),
            "n_files_waiting": beat.files_waiting, "n_files_failed": beat.files_failed,
            "last_file": beat.last_file, "last_file_time": _iso(beat.last_file_time),
            "folder": beat.folder, "free_bytes": beat.free_bytes,
            "config_fingerprint": beat.config_fingerprint,
            "log_program_id": beat.log_program_id, "started": _iso(beat.started),
        }
    return json.dumps(value).encode("utf-8")


def encode_log(batch: LogBatch) -> bytes:
    """The JSON value of a log message (UTF-8)."""
    value: dict[str, Any] = {"timestamp": batch.timestamp, "messages": list(batch.messages)}
    if batch.host:
        value["hostname"] = batch.host
    return json.dumps(value).encode("utf-8")


def decode_heartbeat(key: bytes | str | None, value: bytes | None) -> Heartbeat | None:
    """A heartbeat read from a topic, or None when the message is not one.

    Never raises: a malformed field is left out (None or 0), every text is escaped.
    """
    program_id = _program_id(key, HEARTBEAT_SUFFIX)
    obj = _json_object(value)
    if program_id is None or obj is None:
        return None
    totals = obj.get("totals")
    return Heartbeat(
        program_id=program_id,
        timestamp=_time(obj.get("timestamp")),
        delta=Counters.from_wire(obj, "n_files"),
        totals=Counters.from_wire(totals, "n_files") if isinstance(totals, dict) else None,
        interval=_seconds(obj.get("interval_secs")),
        host=_text(obj.get("hostname")),
        app_version=_text(obj.get("app_version")) if obj.get("app") == APP_NAME else "",
        kind=_enum(ReportKind, obj.get("job_kind")),
        job=_text(obj.get("job_name")),
        state=_enum(ReportedState, obj.get("job_state")),
        problem=_text(obj.get("problem")),
        files_waiting=_optional_count(obj.get("n_files_waiting")),
        files_failed=_optional_count(obj.get("n_files_failed")),
        last_file=_text(obj.get("last_file")),
        last_file_time=_time(obj.get("last_file_time")),
        folder=_text(obj.get("folder")),
        free_bytes=_optional_count(obj.get("free_bytes")),
        config_fingerprint=_text(obj.get("config_fingerprint"), 64),
        log_program_id=_text(obj.get("log_program_id")),
        started=_time(obj.get("started")),
    )


def decode_log(key: bytes | str | None, value: bytes | None) -> LogBatch | None:
    """A log message read from a topic, or None when the message is not one (never raises)."""
    program_id = _program_id(key, LOG_SUFFIX)
    obj = _json_object(value)
    if program_id is None or obj is None:
        return None
    messages = obj.get("messages")
    if not isinstance(messages, list):
        return None
    stamp = obj.get("timestamp")
    timestamp = float(stamp) if isinstance(stamp, int | float) and _is_number(stamp) else 0.0
    lines = tuple(_text(m, 2000) for m in messages[-MAX_LOG_MESSAGES:] if isinstance(m, str))
    return LogBatch(program_id, timestamp, lines, _text(obj.get("hostname")))


# -- decoding helpers (untrusted input) ----------------------------------------------


def _program_id(key: bytes | str | None, suffix: str) -> str | None:
    if isinstance(key, bytes):
        key = key.decode("utf-8", "surrogateescape")
    if not key or not key.endswith(suffix) or len(key) > 1000:
        return None
    return escaped(key[: -len(suffix)], 200)


def _json_object(value: bytes | None) -> dict[str, Any] | None:
    if not value or len(value) > MAX_VALUE_BYTES:
        return None
    try:
        obj = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and (
        math.isfinite(value) and abs(value) < 1e15)


def _count(obj: dict[str, Any], name: str) -> int:
    return _optional_count(obj.get(name)) or 0


def _optional_count(value: object) -> int | None:
    return int(value) if _is_number(value) and value >= 0 else None  # type: ignore[operator,call-overload]


def _seconds(value: object) -> float | None:
    return float(value) if _is_number(value) and value > 0 else None  # type: ignore[operator,arg-type]


def _text(value: object, limit: int = 300) -> str:
    return escaped(value, limit) if isinstance(value, str) else ""


def _time(value: object) -> dt.datetime | None:
    """An ISO 8601 time; one without an offset is taken as UTC (OpenMSIStream before #108)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


_E = TypeVar("_E", bound=enum.Enum)


def _enum(kind: type[_E], value: object) -> _E | None:
    try:
        return kind(value) if isinstance(value, str) else None
    except ValueError:
        return None
