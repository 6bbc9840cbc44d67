"""The processing stage: run a destination's processor on every file it stored.

A :class:`ProcessingStage` is a :class:`~openmsi_gui.engine.download.stages.FinalStage`:
the consume thread hands it each file once it is durably stored, and it
records the file PENDING in the registry (see :mod:`.records`) and queues it
for a small pool of workers, each running the processor in a child process
(see :mod:`.runner`). The consume thread never waits for a processor: while
the files queued and running reach the backlog's high mark, the downloader
pauses its partitions (the PROCESSING hold of :mod:`..download.flow`) and
resumes them below the low mark, so a slow processor holds the consumer back
instead of filling memory or disk.

Offsets are committed as before, once a file is stored: processing is at least
once, from the registry. A file recorded PENDING or RUNNING when the job
stopped (or was killed) is processed again at the next start, after its SHA-512
is checked again against the disk (as it is before every run).

When the copy processed is a temporary one (an S3 destination's staged file, a
processing-only destination's private area), it is removed once the outcome is
recorded, whether processing succeeded or not.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from openmsi_gui.engine.download.flow import Hysteresis
from openmsi_gui.engine.download.stages import FileFate, FinalStage
from openmsi_gui.engine.events import EventBus, FileProcessed
from openmsi_gui.engine.file_hash import sha512_of
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.processing import runner
from openmsi_gui.engine.processing.api import (
    FileToProcess,
    ProcessingResult,
    ProcessingState,
    ProcessorSpec,
)
from openmsi_gui.engine.processing.records import ProcessingBook, ProcessingRecord
from openmsi_gui.engine.processing.results import Provenance, ResultsProducer
from openmsi_gui.engine.receipts import ReceiptStatus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

Runner = Callable[[ProcessorSpec, FileToProcess, threading.Event], ProcessingResult]
"""Runs one file's processing in a child process; returns early when the event is set."""

WORKERS = 2
BACKLOG = Hysteresis(8, 4)
"""Files queued or running at which the consumer pauses, and below which it resumes."""
JOIN_SECONDS = 10.0


def run_processor(spec: ProcessorSpec, file: FileToProcess,
                  stop: threading.Event) -> ProcessingResult:
    """Run ``spec`` on ``file`` in a child process (see :func:`.runner.run`)."""
    return runner.run(spec, file, stop=stop)


@dataclass(frozen=True)
class ProcessingOptions:
    """A destination's processing, as a download job takes it.

    Attributes:
        spec: the processor, its timeout and the results topic.
        private: processing only: files are rebuilt in a private area, processed and removed.
        retry_failed: at start, also run again the files whose processing failed.
        workers: files processed at once.
        backlog: files queued or running at which the consumer pauses, and resumes.
        runner: runs one file (a fake in unit tests; default :func:`run_processor`).
        destination: the destination's name in results ("": its receipts name, else
            where it stores).
    """

    spec: ProcessorSpec
    private: bool = False
    retry_failed: bool = False
    workers: int = WORKERS
    backlog: Hysteresis = BACKLOG
    runner: Runner = run_processor
    destination: str = ""


@dataclass(frozen=True)
class StageScope:
    """Whose files a stage processes.

    Attributes:
        topic: the topic they come from.
        dest: the destination's label (as the registry calls it).
        root: the local folder the copies processed are in (the destination folder,
            an S3 destination's staging folder, a processing-only private area).
        job: name used in events and logs.
    """

    topic: str
    dest: str
    root: Path
    job: str


class ProcessingStage(FinalStage):
    """Runs the processor on each stored file, on a bounded pool of workers.

    Args:
        options: the processor and the pool.
        scope: the topic, destination and job.
        registry: where the state of each file is kept.
        bus: where :class:`~openmsi_gui.engine.events.FileProcessed` events go.
        results: produces each outcome to the results topic (None: no results topic).
        remove_after: the copies processed are temporary: remove each once processed.
    """

    def __init__(self, options: ProcessingOptions, scope: StageScope, registry: Registry,
                 bus: EventBus, results: ResultsProducer | None = None,
                 remove_after: bool = False) -> None:
        self.options = options
        self.spec = options.spec
        self._scope = scope
        self._registry = registry
        self._bus = bus
        self._results = results
        self._remove_after = remove_after
        self._book: ProcessingBook | None = None
        self._queue: queue.SimpleQueue[ProcessingRecord | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._pending = 0  # queued or running
        self._holding = False  # consume thread only
        self._emptied: set[Path] = set()  # folders a removed copy was in (under _lock)
        self.processed = 0
        self.failed = 0

    @property
    def book(self) -> ProcessingBook:
        """The processing records (once started)."""
        assert self._book is not None, "start() first"
        return self._book

    # -- FinalStage ----------------------------------------------------------

    def start(self) -> None:
        """Start the workers; queue what a previous run left unprocessed."""
        self._book = ProcessingBook(self._registry)
        if self._results is not None:
            self._results.start()
            for record in self._book.unpublished(self._scope.topic, self._scope.dest):
                self._results.send(record)
        states = [ProcessingState.PENDING, ProcessingState.RUNNING]
        if self.options.retry_failed:
            states.append(ProcessingState.FAILED)
        left = self._book.in_states(self._scope.topic, self._scope.dest, states)
        gone = {r.id for r in left if r.state is ProcessingState.FAILED
                and not Path(r.path).is_file()}
        if gone:  # their failure stays as it was, with its own reason
            log.warning("%s: %d files whose processing failed are no longer here and cannot "
                        "be processed again (use reprocess)", self._scope.job, len(gone))
            left = [r for r in left if r.id not in gone]
        if left:
            log.info("%s: %d files were verified but not processed yet: processing them now",
                     self._scope.job, len(left))
        for record in left:
            self._submit(self._book.queue(
                record.topic, record.dest, record.relpath, record.file_hash, record.path,
                record.size, record.metadata, self.spec.name))
        for i in range(max(1, self.options.workers)):
            thread = threading.Thread(target=self._work, name=f"{self._scope.job}-process-{i}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("%s: after each file: %s %s", self._scope.job, self.spec.kind.value,
                 escaped(self.spec.command or self.spec.name))

    def settled(self, fate: FileFate) -> None:
        """Queue a stored file for processing (once per content at this destination)."""
        if fate.status is not ReceiptStatus.STORED or not fate.local or self._book is None:
            return
        known = self._book.find(self._scope.topic, self._scope.dest, fate.relpath, fate.sha512)
        if known is not None:  # queued already, or processed: not again
            if known.state.finished and self._remove_after:
                self._remove(Path(fate.local))  # received again after it was removed
            return
        record = self._book.queue(self._scope.topic, self._scope.dest, fate.relpath,
                                  fate.sha512, fate.local, fate.size, fate.metadata,
                                  self.spec.name)
        self._submit(record)

    def holds_back(self) -> bool:
        """Whether the consumer should pause: the backlog reached its high mark (hysteresis)."""
        holding = self.options.backlog.hold(self._holding, self.pending)
        if holding != self._holding:
            log.info("%s: %d files wait to be processed; reading %s", self._scope.job,
                     self.pending, "pauses" if holding else "resumes")
            self._holding = holding
        return holding

    def checkpoint(self) -> None:
        """Serve result deliveries; remove the folders emptied of processed copies."""
        if self._results is not None:
            self._results.poll()
        with self._lock:
            emptied, self._emptied = self._emptied, set()
        for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
            _prune(folder, self._scope.root)

    def close(self) -> None:
        """Stop the workers; what did not finish stays PENDING for the next start."""
        self._stop.set()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(JOIN_SECONDS)
        self._threads = []
        if self._results is not None:
            self._results.close()
        self.checkpoint()

    # -- for jobs and the app ---------------------------------------------------

    @property
    def pending(self) -> int:
        """Files queued or being processed."""
        with self._lock:
            return self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; whether that happened in time."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout)

    def retry(self, relpath: str, sha512: bytes | None = None) -> str | None:
        """Run the processor again on a stored file (any thread); a sentence if it cannot.

        The file is processed where it was stored, once its SHA-512 matches again.
        Without ``sha512``, the latest version of ``relpath`` processed here.
        """
        if self._book is None or self._stop.is_set():
            return "the destination is not running: start it, then retry"
        known = (self._book.find(self._scope.topic, self._scope.dest, relpath, sha512)
                 if sha512 is not None else
                 self._book.latest(self._scope.topic, self._scope.dest, relpath))
        if known is None:
            return f"{escaped(relpath)} was not processed at this destination"
        if not known.state.finished:
            return f"{escaped(relpath)} is being processed already"
        if not Path(known.path).is_file():
            return (f"{escaped(relpath)} is no longer at {escaped(known.path)}, so it cannot be "
                    "processed again: use Reprocess to run the processor over the topic again")
        self._submit(self._book.queue(known.topic, known.dest, known.relpath, known.file_hash,
                                      known.path, known.size, known.metadata, self.spec.name))
        return None

    # -- workers ------------------------------------------------------------------

    def _submit(self, record: ProcessingRecord) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put(record)

    def _work(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                return
            try:
                if not self._stop.is_set():
                    self._process(record)
            except Exception:
                log.exception("%s: processing %s stopped on an unexpected error",
                              self._scope.job, escaped(record.relpath))
            finally:
                with self._lock:
                    self._pending -= 1
                    self._lock.notify_all()

    def _process(self, record: ProcessingRecord) -> None:
        """Check the file's SHA-512 on disk, run the processor, record and report the outcome.

        The check costs a read of the file, but a processor is always handed the content
        its result names, even when a newer version of the file replaced it meanwhile.
        """
        book = self.book
        shown = escaped(record.relpath)
        path = Path(record.path)
        problem = _recheck(path, record.file_hash)
        if problem is not None:
            outcome = ProcessingResult.failure(problem)
        else:
            book.running(record.id)
            self._bus.publish(FileProcessed(self._scope.job, shown, record.file_hash.hex(),
                                            ProcessingState.RUNNING, self.spec.name))
            file = FileToProcess(path, record.relpath, record.topic, record.file_hash.hex(),
                                 record.size, record.metadata)
            outcome = self.options.runner(self.spec, file, self._stop)
            if self._stop.is_set():
                return  # interrupted by a stop: processed again at the next start
        book.finish(record.id, outcome)
        state = ProcessingState.OK if outcome.ok else ProcessingState.FAILED
        if outcome.ok:
            self.processed += 1
            log.info("%s: processed %s", self._scope.job, shown)
        else:
            self.failed += 1
            log.error("%s: processing %s failed: %s", self._scope.job, shown,
                      escaped(outcome.reason))
        self._bus.publish(FileProcessed(self._scope.job, shown, record.file_hash.hex(), state,
                                        outcome.processor or self.spec.name,
                                        escaped(outcome.reason),
                                        escaped(outcome.output[-4096:], 4096)))
        if self._results is not None:
            finished = book.get(record.id)
            if finished is not None:
                self._results.send(finished)
        if self._remove_after:
            self._remove(path)

    def _remove(self, path: Path) -> None:
        _unlink(path)
        with self._lock:
            self._emptied.add(path.parent)


def _recheck(path: Path, sha512: bytes) -> str | None:
    """A sentence if the file at ``path`` is gone or no longer has this SHA-512."""
    try:
        if sha512_of(path) == sha512:
            return None
    except FileNotFoundError:
        return f"the file is no longer at {escaped(str(path))}: it cannot be processed again"
    except OSError as exc:
        return f"cannot read {escaped(str(path))}: {exc.strerror or exc}"
    return (f"{escaped(str(path))} changed since it was received (its SHA-512 differs: edited, "
            "or a newer version replaced it), so it was not processed")


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s after processing: %s", escaped(str(path)),
                    exc.strerror or exc)


def _prune(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to ``root`` (excluded) while they are empty."""
    try:
        folder.relative_to(root)
    except ValueError:
        return
    while folder != root and folder.is_relative_to(root):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent


def processing_stage(options: ProcessingOptions, scope: StageScope, config: KafkaConfig,
                     registry: Registry, bus: EventBus, destination: str,
                     shared: Callable[[], Producer | None] | None = None,
                     remove_after: bool = False) -> ProcessingStage:
    """The stage of a download job, with its results producer when it has a results topic.

    Args:
        options: the processor and the pool.
        scope: the topic, destination and job.
        config: the broker (results go to the data topic's).
        registry: where the state of each file is kept.
        bus: where events go.
        destination: the destination's name in results.
        shared: the job's producer once it started (the receipts'), or None.
        remove_after: the copies processed are temporary (see :class:`ProcessingStage`).
    """
    results = None
    if options.spec.results_topic:
        results = ResultsProducer(config, options.spec.results_topic, ProcessingBook(registry),
                                  Provenance.here(destination), scope.job, shared)
    return ProcessingStage(options, scope, registry, bus, results, remove_after)
