"""The per-file events of one job and direction, published through one small reporter.

The uploader and the download stages tell the transfers view about each file
(discovered, progress, completed, failed, skipped, waiting); a
:class:`FileReporter` fills in the job name and direction and throttles the
progress events, so each stage says only what happened to which file. The last
progress held back by the throttle is published once the interval has passed (a
file that stops moving shows where it stopped, not where it was 0.1 s earlier),
unless the file has finished meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from openmsi_gui.engine.events import (
    Direction,
    EventBus,
    FileCompleted,
    FileDiscovered,
    FileFailed,
    FileProgress,
    FileSkipped,
    FileWaiting,
)
from openmsi_gui.engine.throttle import Throttle

PROGRESS_SECONDS = 0.1


class FileReporter:
    """Publish the file events of one job moving files one way.

    Args:
        bus: where events go.
        job: name of the job the events belong to.
        direction: which way the job's files move.
        interval: minimum seconds between two throttled events for one key.
    """

    def __init__(self, bus: EventBus, job: str, direction: Direction,
                 interval: float = PROGRESS_SECONDS) -> None:
        self.job = job
        self.direction = direction
        self._bus = bus
        self._throttle = Throttle(interval)
        self._interval = interval
        # Progress held back by the throttle, published by a timer; the lock keeps it
        # from following the file's completion (or failure) onto the bus.
        self._lock = threading.Lock()
        self._held: dict[Hashable, FileProgress] = {}
        self._timer: threading.Timer | None = None

    def ready(self, key: Hashable) -> bool:
        """Whether a throttled report about ``key`` may be made now (and remember it was)."""
        return self._throttle.ready(key)

    def forget(self, key: Hashable) -> None:
        """Drop the throttling state of ``key`` (e.g. once its file is finished)."""
        self._throttle.forget(key)
        with self._lock:
            self._held.pop(key, None)

    def discovered(self, relpath: str, size: int) -> None:
        """A file is known and queued for transfer."""
        self._bus.publish(FileDiscovered(self.job, self.direction, relpath, size))

    def progress(self, key: Hashable, relpath: str, done_bytes: int, total_bytes: int,
                 done_chunks: int, total_chunks: int, *, done: bool = False) -> None:
        """Report progress on ``relpath``, at most once per interval for ``key``.

        Args:
            key: what the throttle tells apart (an upload id, a file generation).
            relpath: the file's path as shown.
            done_bytes: bytes acknowledged or stored so far.
            total_bytes: the file's size (0 when not known yet).
            done_chunks: chunks acknowledged or stored so far.
            total_chunks: the file's number of chunks.
            done: the file is complete: always report it, whatever the throttle says.
        """
        event = FileProgress(self.job, self.direction, relpath, done_bytes, total_bytes,
                             done_chunks, total_chunks)
        with self._lock:
            if done or self._throttle.ready(key):
                self._held.pop(key, None)
                self._bus.publish(event)
                return
            self._held[key] = event
            if self._timer is None:
                self._timer = threading.Timer(self._interval, self._publish_held)
                self._timer.name = f"{self.job}-progress"
                self._timer.daemon = True
                self._timer.start()

    def close(self) -> None:
        """Drop held progress and its timer (a job that stops need not: it ends by itself)."""
        with self._lock:
            self._held.clear()
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            timer.join()

    def _publish_held(self) -> None:
        with self._lock:
            self._timer = None
            held, self._held = self._held, {}
            for event in held.values():
                self._bus.publish(event)

    def _finished(self, relpath: str) -> None:
        """Drop held progress of ``relpath`` (lock held): it must not follow the outcome."""
        for key in [k for k, e in self._held.items() if e.relpath == relpath]:
            del self._held[key]

    def completed(self, relpath: str, size: int, sha512_hex: str, seconds: float,
                  path: str = "") -> None:
        """A file was fully sent, or fully received and verified."""
        with self._lock:
            self._finished(relpath)
            self._bus.publish(FileCompleted(self.job, self.direction, relpath, size,
                                            sha512_hex, seconds, path=path))

    def failed(self, relpath: str, reason: str) -> None:
        """A file (or a message about one) could not be transferred."""
        with self._lock:
            self._finished(relpath)
            self._bus.publish(FileFailed(self.job, self.direction, relpath, reason))

    def skipped(self, relpath: str, reason: str) -> None:
        """A file needs no transfer."""
        with self._lock:
            self._finished(relpath)
            self._bus.publish(FileSkipped(self.job, self.direction, relpath, reason))

    def waiting(self, relpath: str, reason: str) -> None:
        """A file cannot go further for now and will be retried."""
        with self._lock:
            self._finished(relpath)
            self._bus.publish(FileWaiting(self.job, self.direction, relpath, reason))
