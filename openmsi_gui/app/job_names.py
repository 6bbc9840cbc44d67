"""Log lines in the technician's words: folders and destinations by name, files by name.

The engine names a job by its identity (``dest:2d8422c0204c``), which events
need and nobody reads. :class:`JobNames` is a logging filter that shows each
job as the folder or destination the technician knows ("inbox", "outbox"),
and :class:`TransferLog` adds one line per file that arrives or leaves
("scan_01.tif received into inbox"). Both follow the settings as they change.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable

from openmsi_gui.app.formatting import format_bytes
from openmsi_gui.app.settings import (
    Destination,
    DestinationKind,
    Settings,
    SettingsStore,
    WatchedFolder,
)
from openmsi_gui.engine.events import Direction, Event, EventBus, FileCompleted, JobId, JobKind
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger("openmsi_gui.transfers")


def _short(item: WatchedFolder | Destination) -> str:
    if isinstance(item, Destination) and item.kind is DestinationKind.S3:
        return "s3://" + "/".join(p for p in (item.bucket, item.prefix.strip("/")) if p)
    if isinstance(item, Destination) and item.kind is DestinationKind.PROCESS:
        return f"processing {item.topic or item.id}"
    path = item.path.rstrip("/\\")
    return os.path.basename(path) or path or item.id


def names(settings: Settings) -> dict[str, str]:
    """The human name of each folder's and destination's job, by job name.

    A folder or destination is named by its last folder name ("outbox", "inbox")
    or S3 location; when two would read alike, by their full paths.
    """
    items: list[WatchedFolder | Destination] = [*settings.folders, *settings.destinations]
    short = {item.id: _short(item) for item in items}
    counts = Counter(short.values())
    result: dict[str, str] = {}
    for item in items:
        kind = JobKind.FOLDER if isinstance(item, WatchedFolder) else JobKind.DESTINATION
        name = short[item.id]
        if counts[name] > 1 and item.path:
            name = item.path
        result[str(JobId(kind, item.id))] = escaped(name)
    return result


class JobNames(logging.Filter):
    """Rewrite job identities in log records' arguments as the items' names.

    Put it on a handler (``handler.addFilter``): the record is changed in place,
    so handlers after it see the names too.

    Args:
        settings: the settings whose folders and destinations are named.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._names = names(settings)

    def update(self, settings: Settings) -> None:
        """Follow changed settings (a store listener; any thread)."""
        self._names = names(settings)

    def human(self, job: str) -> str:
        """The human name of ``job``, or ``job`` itself for jobs that are not items."""
        return self._names.get(job, job)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rename the job arguments of ``record``; never drops it."""
        known = self._names
        if isinstance(record.args, tuple) and known:
            record.args = tuple(known.get(arg, arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True


class TransferLog:
    """One INFO line per file sent or received, naming the folder or destination.

    Subscribe it to the event bus (it is called on engine threads).

    Args:
        settings: the current settings (for the topics and names).
    """

    def __init__(self, settings: Settings) -> None:
        self._lock = threading.Lock()
        self._names = JobNames(settings)
        self._topics = _topics(settings)

    def update(self, settings: Settings) -> None:
        """Follow changed settings (a store listener; any thread)."""
        with self._lock:
            self._names.update(settings)
            self._topics = _topics(settings)

    def __call__(self, event: Event) -> None:
        """Log ``event`` if it is a completed file."""
        if not isinstance(event, FileCompleted):
            return
        with self._lock:
            where, topic = self._names.human(event.job), self._topics.get(event.job, "")
        name, size = escaped(event.relpath), format_bytes(event.size)
        if event.direction is Direction.UPLOAD:
            log.info("%s sent from %s%s (%s)", name, where,
                     f" to topic {topic}" if topic else "", size)
        else:
            log.info("%s received into %s (%s)", name, where, size)


def _topics(settings: Settings) -> dict[str, str]:
    return {str(JobId(JobKind.FOLDER, f.id)): f.topic for f in settings.folders}


def install(store: SettingsStore, bus: EventBus,
            handlers: Iterable[logging.Handler]) -> Callable[[], None]:
    """Name jobs in what ``handlers`` write, and log each file sent or received.

    Returns:
        a function that undoes it all (call it before the handlers close).
    """
    settings = store.settings
    job_names, transfers = JobNames(settings), TransferLog(settings)
    targets = list(handlers)
    for handler in targets:
        handler.addFilter(job_names)

    def follow(changed: Settings) -> None:
        job_names.update(changed)
        transfers.update(changed)

    unsubscribe_store = store.subscribe(follow)
    unsubscribe_bus = bus.subscribe(transfers)

    def uninstall() -> None:
        unsubscribe_bus()
        unsubscribe_store()
        for handler in targets:
            handler.removeFilter(job_names)

    return uninstall
