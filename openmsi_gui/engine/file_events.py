"""The per-file events of one job and direction, published through one small reporter.

The uploader and the download stages tell the transfers view about each file
(discovered, progress, completed, failed, skipped, waiting); a
:class:`FileReporter` fills in the job name and direction and throttles the
progress events, so each stage says only what happened to which file.
"""

from __future__ import annotations

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

    def ready(self, key: Hashable) -> bool:
        """Whether a throttled report about ``key`` may be made now (and remember it was)."""
        return self._throttle.ready(key)

    def forget(self, key: Hashable) -> None:
        """Drop the throttling state of ``key`` (e.g. once its file is finished)."""
        self._throttle.forget(key)

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
        if done or self._throttle.ready(key):
            self._bus.publish(FileProgress(self.job, self.direction, relpath, done_bytes,
                                           total_bytes, done_chunks, total_chunks))

    def completed(self, relpath: str, size: int, sha512_hex: str, seconds: float,
                  path: str = "") -> None:
        """A file was fully sent, or fully received and verified."""
        self._bus.publish(FileCompleted(self.job, self.direction, relpath, size, sha512_hex,
                                        seconds, path=path))

    def failed(self, relpath: str, reason: str) -> None:
        """A file (or a message about one) could not be transferred."""
        self._bus.publish(FileFailed(self.job, self.direction, relpath, reason))

    def skipped(self, relpath: str, reason: str) -> None:
        """A file needs no transfer."""
        self._bus.publish(FileSkipped(self.job, self.direction, relpath, reason))

    def waiting(self, relpath: str, reason: str) -> None:
        """A file cannot go further for now and will be retried."""
        self._bus.publish(FileWaiting(self.job, self.direction, relpath, reason))
