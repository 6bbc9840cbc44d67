"""The finisher thread: verify a complete file, keep the newest version, hand it to the sink.

It is the same single thread that applies the incremental hash updates, so
they are all applied before a file is verified (FIFO). Outcomes go back to the
consume thread through one queue; renames are made durable (their folders
fsynced) once per batch, when no other file is waiting to be finished, so a
finished file costs one hand-off each way.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openmsi_gui.engine.download.assembly import FileKey, Incoming, verify
from openmsi_gui.engine.download.problems import (
    Rejected,
    cannot_write,
    destination_problem,
    nth_delay,
)
from openmsi_gui.engine.download.sinks import Finished, FinishOutcome, Sink
from openmsi_gui.engine.events import Direction, EventBus
from openmsi_gui.engine.file_events import FileReporter
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5  # while files keep coming, make renames durable at least this often
# Files queued for the finisher before the consumer pauses its partitions, and below which
# it resumes them: without a bound a backlog of small files outruns the fsyncs, and every
# queued file stays in memory and in the incoming table the consume thread walks for each
# finished file.
MAX_FINISHING = 256
RESUME_FINISHING = 128


class Finisher:
    """Finishes complete generations on one thread; collects every outcome.

    Args:
        dest: the destination (or S3 staging) folder, named in error messages.
        registry: the record of received files.
        job: name used in logs and the thread name.
    """

    def __init__(self, dest: Path, registry: Registry, job: str) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=f"{job}-finisher")
        self._outcomes: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        self._dest = dest
        self._registry = registry
        self._job = job
        self._sink: Sink | None = None
        self._lock = threading.Condition()
        self._pending = 0  # files submitted and not yet finished
        self._last_flush = time.monotonic()  # finisher thread only
        # An unexpected error here; the consume thread raises it, so the job restarts.
        self.error: BaseException | None = None

    def report(self, finished: Finished) -> None:
        """Queue an outcome for the consume thread (any thread)."""
        self._outcomes.put(finished)

    def attach(self, sink: Sink) -> None:
        """Send verified files to ``sink`` (built with :meth:`report` as its callback)."""
        self._sink = sink

    def submit(self, inc: Incoming) -> None:
        """Finish ``inc`` after the hash updates queued so far (consume thread)."""
        with self._lock:
            self._pending += 1
        if self._sink is not None:
            self._sink.prepare(inc)
        self.pool.submit(self._finish, inc)

    @property
    def pending(self) -> int:
        """Files submitted and not finished yet."""
        with self._lock:
            return self._pending

    def wait_below(self, limit: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until fewer than ``limit`` files are being finished.

        Returns:
            Whether fewer than ``limit`` are.
        """
        with self._lock:
            return self._lock.wait_for(lambda: self._pending < limit, timeout)

    def outcomes(self) -> list[Finished]:
        """The outcomes reported since the last call."""
        found = []
        while True:
            try:
                found.append(self._outcomes.get_nowait())
            except queue.Empty:
                return found

    def drain(self) -> None:
        """Wait until every file submitted so far is finished (and its outcome queued)."""
        self.pool.submit(self._flush).result()

    def shutdown(self) -> None:
        """Stop the thread once its queue is done."""
        self.pool.shutdown(wait=True)

    def _finish(self, inc: Incoming) -> None:
        try:
            self._finish_and_flush(inc)
        except Exception as exc:
            log.exception("%s: the finisher stopped on an unexpected error", self._job)
            self.error = exc

    def _finish_and_flush(self, inc: Incoming) -> None:
        assert self._sink is not None
        try:
            self._finish_one(inc, self._sink)
        finally:
            with self._lock:
                self._pending -= 1
                last = self._pending == 0
                self._lock.notify_all()
            if last or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
                self._flush()

    def _flush(self) -> None:
        if self._sink is not None:
            self._last_flush = time.monotonic()
            self._sink.flush()

    def _finish_one(self, inc: Incoming, sink: Sink) -> None:
        """Verify and store one file (finisher thread); report unless the sink will."""
        try:
            outcome = self._verify_and_place(inc, sink)
        except Rejected as exc:
            self.report(Finished(inc, FinishOutcome.FAILED, str(exc)))
        except OSError as exc:
            problem = sink.missing() or destination_problem(exc, self._dest)
            if problem is not None:
                self.report(Finished(inc, FinishOutcome.RETRY, problem))
            else:
                self.report(Finished(inc, FinishOutcome.FAILED, cannot_write(exc)))
        else:
            if outcome not in (FinishOutcome.PLACED, FinishOutcome.UPLOADING):
                self.report(Finished(inc, outcome))

    def _verify_and_place(self, inc: Incoming, sink: Sink) -> FinishOutcome:
        verify(inc, inc.size)
        latest = self._registry.latest_done_download(sink.label, inc.relpath)
        if (latest is not None and latest.file_hash != inc.key[1] and inc.mtime and
                latest.file_mtime > inc.mtime and sink.has_current(inc)):
            inc.temp.unlink(missing_ok=True)
            self._registry.finish_download(inc.download_id, "superseded", inc.size)
            log.info("%s: %s: an older version arrived after a newer one; kept the newer",
                     self._job, inc.shown)
            return FinishOutcome.SUPERSEDED
        return sink.place(inc)


class StoreRetries:
    """Verified files the sink could not store yet, and when to try again (consume thread).

    Such a file stays pinned (its offsets uncommitted) and shows as waiting.

    Args:
        finisher: finishes a file again (its hash is checked again).
        sink: stores a verified file again, when it can without the finisher.
        bus: where events go.
        job: name used in events and logs.
        delays: seconds before each new try (the last one repeats).
    """

    def __init__(self, finisher: Finisher, sink: Sink, bus: EventBus, job: str,
                 delays: tuple[float, ...]) -> None:
        self._finisher = finisher
        self._sink = sink
        self._files = FileReporter(bus, job, Direction.DOWNLOAD)
        self._job = job
        self._delays = delays
        self._due: dict[FileKey, float] = {}

    def schedule(self, finished: Finished) -> None:
        """Try to store ``finished.file`` again after the next delay."""
        inc = finished.file
        delay = nth_delay(self._delays, inc.attempts)
        inc.attempts += 1
        self._due[inc.key] = time.monotonic() + delay
        log.error("%s: %s was not stored yet (attempt %d): %s; retrying in %.0f s", self._job,
                  inc.shown, inc.attempts, escaped(finished.reason), delay)
        self._files.waiting(inc.shown, escaped(f"{finished.reason}; retrying in {delay:.0f} s"))

    def all_now(self) -> None:
        """Make every waiting file due at once."""
        self._due = dict.fromkeys(self._due, 0.0)

    def run_due(self, incoming: Mapping[FileKey, Incoming]) -> None:
        """Hand the files that are due to the sink or the finisher again."""
        if not self._due:
            return
        now = time.monotonic()
        for key, due in list(self._due.items()):
            inc = incoming.get(key)
            if inc is None:
                del self._due[key]
            elif due <= now:
                del self._due[key]
                if not self._sink.resubmit(inc):
                    self._finisher.submit(inc)
