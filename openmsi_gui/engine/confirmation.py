"""Files that the destinations a folder expects did not confirm in time: *Not confirmed*.

A watched folder may name the destinations that must confirm each of its files
by a verified receipt, and a deadline. :class:`DeadlineWatch` looks, from the
registry alone, for files whose latest sending the broker acknowledged longer
ago than the deadline while some expected destination has no *stored* receipt
for that content (the ``deliveries`` table, see :mod:`.deliveries`). It works
from recorded times, not from memory, so a restart finds every such file again.
Each one is announced once per sending (:class:`FileUnconfirmed`), logged, and,
if asked, sent again, every chunk, at most :data:`MAX_AUTO_RESENDS` times for
the same content: this is how a broker that lost data (a memory broker
restarted, retention shorter than a destination's downtime, a deleted topic)
is noticed and repaired.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from openmsi_gui.engine.durations import duration_words
from openmsi_gui.engine.events import EventBus, FileUnconfirmed
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = 3600.0
MAX_AUTO_RESENDS = 3
"""Automatic re-sends of one content of a file (Send again by hand is not bounded)."""
MAX_CHECK_SECONDS = 60.0
_SEP = "\x1f"


@dataclass(frozen=True)
class Expectation:
    """Which destinations must confirm a folder's files, and by when.

    Attributes:
        destinations: the destinations' names (as in their receipts).
        deadline: seconds after a file was sent.
        resend: send a file that is not confirmed again by itself (bounded).
        since: files sent before this time are not looked at (0: all of them).
    """

    destinations: tuple[str, ...]
    deadline: float = DEFAULT_DEADLINE
    resend: bool = False
    since: float = 0.0


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """One file's latest sending, not confirmed by every expected destination in time.

    Attributes:
        upload_id: the registry row of that sending.
        relpath: the file's path relative to the watched folder.
        file_hash: its SHA-512.
        size: its size.
        sent_at: when its last chunk was acknowledged.
        missing: the expected destinations without a stored receipt.
        resends: how often this content was sent again already.
    """

    upload_id: int
    relpath: str
    file_hash: bytes
    size: int
    sent_at: float
    missing: tuple[str, ...]
    resends: int


def find_unconfirmed(registry: Registry, topic: str, root: str, expected: Sequence[str],
                     sent_before: float, sent_since: float = 0.0) -> list[Unconfirmed]:
    """The files of ``root`` sent to ``topic`` (latest sending of each) not yet confirmed.

    Args:
        registry: the registry of the files sent (and of deliveries).
        topic: the data topic.
        root: the watched folder, as the uploader records it.
        expected: the destinations that must confirm each file.
        sent_before: only sendings acknowledged before this time (now - deadline).
        sent_since: only sendings acknowledged at or after this time.
    """
    if not expected:
        return []

    def query(cur: sqlite3.Cursor) -> list[Any]:
        return cur.execute(
            "SELECT u.id, u.relpath, u.file_hash, u.size, u.completed,"
            " (SELECT GROUP_CONCAT(d.destination, char(31)) FROM deliveries d"
            "  WHERE d.topic=u.topic AND d.relpath=u.relpath AND d.file_hash=u.file_hash"
            "  AND d.status='stored')"
            " FROM uploads u WHERE u.topic=? AND u.root=? AND u.status='done'"
            " AND u.completed < ? AND u.completed >= ?"
            " AND u.id=(SELECT MAX(w.id) FROM uploads w WHERE w.topic=u.topic"
            "  AND w.root=u.root AND w.relpath=u.relpath)"
            " ORDER BY u.completed",
            (topic, root, sent_before, sent_since)).fetchall()

    found = []
    for upload_id, relpath, file_hash, size, completed, stored in registry.database.read(query):
        confirmed = set(stored.split(_SEP)) if stored else set()
        missing = tuple(name for name in expected if name not in confirmed)
        if missing:  # few, usually: their earlier sendings are counted one by one
            sends = _sendings(registry, topic, root, relpath, bytes(file_hash))
            found.append(Unconfirmed(upload_id, relpath, bytes(file_hash), size, completed,
                                     missing, max(0, sends - 1)))
    return found


def _sendings(registry: Registry, topic: str, root: str, relpath: str, file_hash: bytes) -> int:
    """How often this content of the file was sent (its first sending and every Send again)."""
    def count(cur: sqlite3.Cursor) -> int:
        return int(cur.execute(
            "SELECT COUNT(*) FROM uploads WHERE topic=? AND root=? AND relpath=? "
            "AND file_hash=?", (topic, root, relpath, file_hash)).fetchone()[0])

    return registry.database.read(count)


def late_text(missing: Sequence[str], deadline: float) -> str:
    """``"not confirmed by lab-archive within 1 h of sending"``."""
    return f"not confirmed by {', '.join(missing)} within {duration_words(deadline)} of sending"


_WHAT_TO_DO = "(the broker may have lost it): select it and press Send again (openmsi send-again)"


def unconfirmed_reason(missing: Sequence[str], deadline: float) -> str:
    """What a Not confirmed file's row says after "Not confirmed": by whom, how long, what to do."""
    return (f"no receipt from {', '.join(missing)} within {duration_words(deadline)} of "
            f"sending {_WHAT_TO_DO}")


class DeadlineWatch:
    """Announce (and optionally send again) a folder's files not confirmed in time.

    Call :meth:`check` regularly, or let :meth:`start` run a thread that does.

    Args:
        registry: the files sent and the deliveries recorded.
        topic: the data topic.
        root: the watched folder, as the uploader records it (``str(path)``).
        expectation: who must confirm, by when, and whether to send again.
        bus: where :class:`FileUnconfirmed` goes.
        job: name used in events and logs.
        resend: sends one file (its path relative to the folder) again, every chunk.
        clock: the time; injectable for tests.
        check_seconds: how often the thread checks (default: a tenth of the
            deadline, between 1 s and a minute).
    """

    def __init__(self, registry: Registry, topic: str, root: str, expectation: Expectation,
                 bus: EventBus, job: str, resend: Callable[[str], None],
                 clock: Callable[[], float] = time.time,
                 check_seconds: float | None = None) -> None:
        self._registry = registry
        self._topic = topic
        self._root = root
        self.expectation = expectation
        self._bus = bus
        self._job = job
        self._resend = resend
        self._clock = clock
        self._interval = check_seconds or min(MAX_CHECK_SECONDS,
                                              max(1.0, expectation.deadline / 10))
        self._announced: set[int] = set()  # sendings (upload ids) announced in this run
        self._low = 0.0  # sendings before this time were confirmed at the last check
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.resent = 0

    def check(self) -> list[FileUnconfirmed]:
        """Announce each file newly found not confirmed (and send it again if asked)."""
        expectation = self.expectation
        sent_before = self._clock() - expectation.deadline
        found = find_unconfirmed(self._registry, self._topic, self._root,
                                 expectation.destinations, sent_before,
                                 max(expectation.since, self._low))
        # Sendings older than the oldest one still unconfirmed were all confirmed: the next
        # check starts there (the first one, after a start, reads them all).
        self._low = min((item.sent_at for item in found), default=sent_before)
        events = []
        for item in found:
            if item.upload_id in self._announced:
                continue
            self._announced.add(item.upload_id)
            resending = expectation.resend and item.resends < MAX_AUTO_RESENDS
            reason = unconfirmed_reason(item.missing, expectation.deadline)
            shown = escaped(item.relpath)
            late = late_text(item.missing, expectation.deadline)
            if resending:
                log.warning("%s: %s is %s; sending it again by itself (%d of at most %d)",
                            self._job, shown, late, item.resends + 1, MAX_AUTO_RESENDS)
            elif expectation.resend:
                log.warning("%s: %s is %s; it was sent again %d times already, the most it "
                            "is sent by itself: check the destinations, then Send again",
                            self._job, shown, late, item.resends)
            else:
                log.warning("%s: %s is %s %s", self._job, shown, late, _WHAT_TO_DO)
            event = FileUnconfirmed(self._job, shown, item.file_hash.hex(), item.size,
                                    item.sent_at, item.missing, reason, resending)
            self._bus.publish(event)
            events.append(event)
            if resending:
                self.resent += 1
                self._resend(item.relpath)
        return events

    def start(self) -> DeadlineWatch:
        """Check now, then on a thread of its own until :meth:`stop`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"{self._job}-deadline",
                                            daemon=True)
            self._thread.start()
            log.info("%s: expecting %s to confirm each file within %s", self._job,
                     ", ".join(escaped(n) for n in self.expectation.destinations),
                     duration_words(self.expectation.deadline))
        return self

    def stop(self) -> None:
        """Stop checking."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(5)

    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # a bug or a busy registry must not end the watch silently
                log.exception("%s: checking for files not confirmed failed", self._job)
            if self._stop.wait(self._interval):
                return
