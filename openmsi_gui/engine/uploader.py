"""Send files to a Kafka topic as OpenMSIStream chunk messages.

An :class:`Uploader` owns one confluent-kafka producer and a few worker
threads. Each file is read twice, streaming: a first pass computes the
whole-file SHA-512 (needed in every message), a second pass reads, hashes and
produces the chunks. A watched file's first pass is made while it waits to be
stable (:mod:`.prehash`, which also makes the chunk hashes then). Memory stays
bounded by librdkafka's queue whatever the file size.

All chunks of one file go to one partition, chosen from a stable hash of the
file's relative path, so several downloaders in one consumer group can share a
topic and each file lands on exactly one of them.

With a :class:`~openmsi_gui.engine.crypto.MessageCipher`, each chunk's key and
value are encrypted (KafkaCrypto, as OpenMSIStream does) before they are produced.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from openmsi_gui.engine import wire
from openmsi_gui.engine.bandwidth import Pacer
from openmsi_gui.engine.chunk_sender import Changed, ChunkSender
from openmsi_gui.engine.crypto import EncryptionFailed, MessageCipher, key_topics
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Direction,
    EventBus,
    job_died,
)
from openmsi_gui.engine.file_events import FileReporter
from openmsi_gui.engine.file_hash import sha512_of
from openmsi_gui.engine.heartbeats import Reporter
from openmsi_gui.engine.job_tally import TransferCounts
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.link import BrokerLink, first_metadata, with_logger
from openmsi_gui.engine.metadata import (
    WAITING_FOR_SAMPLE,
    FolderMetadata,
    produced_headers,
)
from openmsi_gui.engine.metadata import to_json as metadata_json
from openmsi_gui.engine.os_errors import cannot_read
from openmsi_gui.engine.prehash import Prehashes
from openmsi_gui.engine.receipts import FileIdentity
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.upload_acks import Acknowledgements, Sending
from openmsi_gui.engine.upload_types import (
    Priority,
    UploadError,
    UploadOutcome,
    UploadResult,
    relpath_of,
    topic_partitions,
)

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0
STOP_FLUSH_SECONDS = 5.0
"""How long :meth:`Uploader.stop` waits for chunks in flight to be acknowledged."""
NOT_ACKNOWLEDGED = "not acknowledged before stopping; it is sent again at the next start"

ProducerFactory = Callable[[dict[str, Any]], Producer]
"""Makes the Kafka producer from librdkafka settings (tests may pass a fake)."""


class Uploader:
    """Chunks files and produces them to one topic.

    Args:
        config: broker and producer settings.
        topic: the topic to produce to (it must exist).
        bus: where events go.
        registry: where sent files and acknowledged chunks are recorded.
        job: name used in events and logs.
        chunk_size: bytes per chunk, a power of two.
        workers: files read and hashed in parallel.
        cipher: encrypts every message (end-to-end encryption); owned by the
            caller, who closes it after :meth:`stop`.
        producer_factory: makes the producer (confluent-kafka's by default).
        checkpoint_seconds: how often acknowledged chunks are written to the registry.
        keep_results: keep every file's :class:`UploadResult` for :meth:`results`
            (a one-off send); a long-running watch passes False, listeners still hear them.
        pacer: the bandwidth limits chunks are produced under (None: no limit).
        metadata: the fields sent with each file, as the :data:`~.metadata.HEADER`
            header of its chunks (None: none). A file that must wait for a current
            sample is held, shown as waiting, and queued again once one is set.
            Not sent on an encrypted topic: headers are not encrypted.
    """

    def __init__(self, config: KafkaConfig, topic: str, bus: EventBus, registry: Registry,
                 job: str = "upload", chunk_size: int = wire.DEFAULT_CHUNK_SIZE,
                 workers: int = 2, cipher: MessageCipher | None = None,
                 producer_factory: ProducerFactory = Producer,
                 checkpoint_seconds: float = CHECKPOINT_SECONDS,
                 keep_results: bool = True, pacer: Pacer | None = None,
                 metadata: FolderMetadata | None = None) -> None:
        self.topic = topic
        self.job = job
        self.chunk_size = wire.check_chunk_size(chunk_size)
        self._bus = bus
        self._files = FileReporter(bus, job, Direction.UPLOAD)
        self._registry = registry
        self._config = config
        self._cipher = cipher
        self._producer_factory = producer_factory
        self._checkpoint_seconds = checkpoint_seconds
        # (priority, order, path, root, again): paths as str, as a backlog of 100,000
        # Paths weighs; ``again``: see :meth:`submit`.
        self._queue: queue.PriorityQueue[tuple[int, int, str, Path | None, bool]] = \
            queue.PriorityQueue()
        self._order = itertools.count()
        self._keep_results = keep_results
        self._n_workers = max(1, workers)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._acks = Acknowledgements(registry)
        self._busy = 0
        self._idle = threading.Condition(self._lock)
        self._results: list[UploadResult] = []
        self._listeners: list[Callable[[UploadResult], None]] = []
        self._producer: Producer | None = None
        self._hash_pool: ThreadPoolExecutor | None = None
        self._prehashes: Prehashes | None = None
        self._n_partitions = 1
        self._error: BaseException | None = None
        self._give_up_at: float | None = None  # stopping: stop polling then, acknowledged or not
        self.link = BrokerLink(bus, job, config.bootstrap_servers, self._list_topics)
        self.counts = TransferCounts()
        self.reporter: Reporter | None = None  # heartbeats, ticked by the poll thread
        self._chunks = ChunkSender(topic, self.chunk_size, cipher, pacer, self._running,
                                   self._stopping, self.counts, self._on_delivery,
                                   lambda: self._error)
        self._metadata = metadata if metadata is not None and cipher is None else None
        # Files waiting for a current sample, by path: (root, again); still counted busy.
        self._held: dict[str, tuple[Path, bool]] = {}
        if self._metadata is not None:
            self._metadata.on_sample(self._release_held)

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout: float = 15.0) -> None:
        """Connect, check the topic, and start the worker threads.

        Raises:
            BrokerUnreachable: if the broker does not answer.
            UploadError: if the topic (or, when
                encrypting, one of its key-exchange topics) is missing.
        """
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.CONNECTING,
                                          self._config.bootstrap_servers))
        settings = with_logger({**self._config.producer_settings(),
                                "error_cb": self.link.on_error})
        self._producer = self._producer_factory(settings)
        self._n_partitions = topic_partitions(first_metadata(self._producer, self.link, timeout),
                                              self.topic)
        if self._cipher is not None:
            check_key_topics(self._producer, self.topic, timeout)
            self._cipher.serve_keys(self.topic)  # also answers consumers of earlier runs
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.CONNECTED,
                                          self._config.bootstrap_servers))
        if self.reporter is not None:
            self.reporter.start(self._producer, self._config)
        self._hash_pool = ThreadPoolExecutor(self._n_workers,
                                             thread_name_prefix=f"{self.job}-hash")
        self._prehashes = Prehashes(self.chunk_size, self._hash_pool)
        self._threads = [threading.Thread(target=self._poll_loop, name=f"{self.job}-poll",
                                          daemon=True)]
        self._threads += [threading.Thread(target=self._work_loop, name=f"{self.job}-{i}",
                                           daemon=True) for i in range(self._n_workers)]
        for thread in self._threads:
            thread.start()

    def stop(self, flush_timeout: float = STOP_FLUSH_SECONDS) -> None:
        """Stop reading files, flush what is in flight, record it and close.

        Waits at most ``flush_timeout`` s for acknowledgements (much less when
        the broker is known to be unreachable): what is not acknowledged by
        then is recorded as such and sent again at the next start.
        """
        self._stopping.set()
        self._running.set()
        for _ in range(self._n_workers):  # ahead of the queue: what is queued is found again
            self._queue.put((Priority.STOP, next(self._order), "", None, False))
        for thread in self._threads[1:]:
            thread.join()
        if self._prehashes is not None:
            self._prehashes.close()
        if self._hash_pool is not None:
            self._hash_pool.shutdown()
            self._hash_pool = None
        if self.reporter is not None:
            self.reporter.stop()  # its last beat goes out with the flush below
        if self._producer is not None:
            wait = min(flush_timeout, 0.5) if self.link.unreachable else flush_timeout
            self._give_up_at = time.monotonic() + wait
            remaining = self._producer.flush(wait)
            if remaining:
                # Each file is said once below ("not acknowledged ... sent again").
                log.debug("%s: %d messages were not acknowledged before stopping", self.job,
                          remaining)
        if self._threads:
            self._threads[0].join()
        for sending in self._acks.unfinished():
            self._not_acknowledged(sending)
        self._acks.flush()
        self._registry.commit()
        self._threads = []
        self._producer = None  # let librdkafka go, or it keeps reconnecting to a gone broker
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.STOPPED))

    def pause(self) -> None:
        """Stop producing new chunks; chunks already in flight still complete."""
        self._running.clear()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._running.set()

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` is in effect."""
        return not self._running.is_set()

    # -- work --------------------------------------------------------------

    def submit(self, root: Path, path: Path, priority: Priority = Priority.NEW,
               again: bool = False) -> None:
        """Queue ``path`` (a file under ``root``) for sending.

        Files are sent in the order submitted, except that :attr:`Priority.NEW`
        files go before every :attr:`Priority.BACKLOG` file still waiting.

        Args:
            root: the folder its name on the wire is relative to.
            path: the file.
            priority: see above.
            again: send every chunk even if the registry says this content was
                sent (the broker may have lost it: "Send again").
        """
        with self._lock:
            self._busy += 1
        self._queue.put((priority, next(self._order), str(path), root, again))

    def prehash(self, path: Path) -> None:
        """Hash ``path`` ahead (it is waiting to be stable); used if it does not change."""
        if self._prehashes is not None:
            self._prehashes.start(path)

    @property
    def pending(self) -> int:
        """Files submitted and not yet sent, skipped or failed."""
        return self._busy

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted file is sent, skipped or failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def add_result_listener(self, callback: Callable[[UploadResult], None]) -> None:
        """Call ``callback`` (in a worker thread) with each file's outcome."""
        self._listeners.append(callback)

    def results(self) -> list[UploadResult]:
        """Outcomes of every file handled so far (none unless ``keep_results``)."""
        with self._lock:
            return list(self._results)

    def _work_loop(self) -> None:
        while True:
            _priority, _order, name, root, again = self._queue.get()
            if root is None:
                return
            path = Path(name)
            try:
                result = self._send_file(root, path, again)
            except Exception as exc:
                log.exception("%s: unexpected error sending %s", self.job, path)
                result = UploadResult(path, UploadOutcome.FAILED, f"unexpected error: {exc}")
            if result is not None:
                self._record(result)

    def _record(self, result: UploadResult) -> None:
        """Report a file's outcome and count it as no longer busy."""
        for listener in self._listeners:
            listener(result)
        with self._idle:
            if self._keep_results:
                self._results.append(result)
            self._busy -= 1
            self._idle.notify_all()

    def _send_file(self, root: Path, path: Path, again: bool = False) -> UploadResult | None:
        """Queue every chunk of ``path``; None means the acknowledgements will finish it.

        ``again`` skips the registry's "already sent" checks and sends every chunk.
        """
        relpath = relpath_of(root, path)
        key_root = str(root)
        try:
            st = path.stat()
        except FileNotFoundError:
            return UploadResult(path, UploadOutcome.SKIPPED,
                                "file disappeared before it was sent")
        except OSError as exc:
            return self._fail(path, relpath, cannot_read(exc))
        if not again and self._registry.upload_done(self.topic, key_root, relpath, st.st_size,
                                                    st.st_mtime_ns):
            self._files.skipped(relpath, "already sent")
            return UploadResult(path, UploadOutcome.SKIPPED, "already sent")
        fields = self._metadata.for_file(relpath) if self._metadata is not None else {}
        if fields is None:
            return self._hold(root, path, relpath, again)
        self._files.discovered(relpath, st.st_size)
        try:
            hashes = self._prehashes.take(path, st) if self._prehashes is not None else None
            # Without hashes made ahead, only the file's: the chunks' are made as they are sent.
            file_hash, chunk_hashes = hashes or (sha512_of(path), None)
        except OSError as exc:
            return self._fail(path, relpath, cannot_read(exc))
        last = self._registry.last_upload(self.topic, key_root, relpath)
        if (not again and last and last.status == "done" and not last.after_delivery
                and last.file_hash == file_hash):
            self._files.skipped(relpath, "same content already sent")
            return UploadResult(path, UploadOutcome.SKIPPED, "same content already sent")
        headers = produced_headers(fields)
        n_chunks = len(chunk_hashes) if chunk_hashes else max(1, -(-st.st_size // self.chunk_size))
        upload_id, acked = self._registry.start_upload(
            self.topic, key_root, relpath, st.st_size, st.st_mtime_ns, file_hash,
            self.chunk_size, n_chunks, fresh=again, metadata=metadata_json(fields))
        sending = Sending(path, upload_id, relpath, st.st_size, n_chunks, time.monotonic(),
                           file_hash, st.st_mtime_ns, acked=set(acked),
                           acked_bytes=sum(chunk_length(i, st.st_size, self.chunk_size)
                                            for i in acked))
        try:
            if not self._chunks.send(self._producer, self._n_partitions, sending, set(acked),
                                     chunk_hashes, headers):
                self._registry.finish_upload(upload_id, "stopped before it was sent")
                return UploadResult(path, UploadOutcome.FAILED, "stopped before the file was sent")
        except Changed:
            reason = "the file changed while it was being sent; it will be sent again once stable"
            self._registry.finish_upload(upload_id, reason)
            return self._fail(path, relpath, reason)
        except OSError as exc:
            self._registry.finish_upload(upload_id, str(exc))
            return self._fail(path, relpath, cannot_read(exc))
        except EncryptionFailed as exc:
            self._registry.finish_upload(upload_id, str(exc))
            return self._fail(path, relpath, str(exc))
        self._acks.produced_all(sending)
        self._check_done(sending)  # the acknowledgements may all be in already
        return None

    def _hold(self, root: Path, path: Path, relpath: str, again: bool) -> UploadResult | None:
        """Keep ``path`` until a current sample is set (it stays busy, shown as waiting)."""
        with self._lock:
            known = str(path) in self._held
            self._held[str(path)] = (root, again)
        if known:
            return UploadResult(path, UploadOutcome.SKIPPED, "already waiting")
        self._files.waiting(relpath, WAITING_FOR_SAMPLE)
        return None

    def _release_held(self) -> None:
        """Queue again the files that waited for a current sample (the setter's thread)."""
        with self._lock:
            held, self._held = self._held, {}
        for name, (root, again) in held.items():
            self._queue.put((Priority.NEW, next(self._order), name, root, again))

    # -- delivery reports (poll thread) --------------------------------------

    @property
    def error(self) -> BaseException | None:
        """What stopped the delivery reports while the uploader ran, if anything did."""
        return self._error

    def _poll_loop(self) -> None:
        try:
            self._poll_until_stopped()
        except Exception as exc:
            self._error = exc
            job_died(log, self._bus, self.job, "the producer stopped", exc)

    def _poll_until_stopped(self) -> None:
        assert self._producer is not None
        next_checkpoint = time.monotonic() + self._checkpoint_seconds
        while not (self._stopping.is_set() and self._all_workers_done() and
                   (not len(self._producer) or self._gave_up())):
            self._producer.poll(0.05)
            self.link.tick()
            if self.reporter is not None:
                self.reporter.tick()
            if time.monotonic() >= next_checkpoint:
                self._acks.flush()
                self._registry.commit()
                next_checkpoint = time.monotonic() + self._checkpoint_seconds

    def _all_workers_done(self) -> bool:
        return not any(t.is_alive() for t in self._threads[1:])

    def _gave_up(self) -> bool:
        return self._give_up_at is not None and time.monotonic() >= self._give_up_at

    def _list_topics(self, timeout: float) -> list[str]:
        """The topics on the broker, asked through the producer (for :attr:`link`)."""
        assert self._producer is not None
        return list(self._producer.list_topics(timeout=timeout).topics)

    def _on_delivery(self, err: KafkaError | None, sending: Sending, chunk_i: int,
                     length: int) -> None:
        if err is not None:
            if self._stopping.is_set() and err.code() in (KafkaError._PURGE_QUEUE,
                                                          KafkaError._PURGE_INFLIGHT):
                return  # left to stop(): sent again at the next start
            sending.failed = sending.failed or (
                f"the broker did not accept chunk {chunk_i}: {err.str()}")
            self._check_done(sending)
            return
        self.link.answered()
        if self._acks.acknowledged(sending, chunk_i, length):
            self._check_done(sending)

    def _check_done(self, sending: Sending) -> None:
        self._files.progress(sending.upload_id, sending.relpath, sending.acked_bytes,
                             sending.size, len(sending.acked), sending.n_chunks,
                             done=sending.done)
        if not self._acks.finish(sending):
            return
        self._files.forget(sending.upload_id)
        self._acks.flush()
        if sending.failed:
            self._registry.finish_upload(sending.upload_id, sending.failed)
            self._record(self._fail(sending.path, sending.relpath, sending.failed))
            return
        self._registry.finish_upload(sending.upload_id)
        self._files.completed(sending.relpath, sending.size, sending.file_hash.hex(),
                              time.monotonic() - sending.started)
        self._record(UploadResult(sending.path, UploadOutcome.SENT, file=FileIdentity(
            self.topic, sending.relpath, sending.file_hash, sending.size),
            mtime=sending.mtime_ns / 1e9))

    def _not_acknowledged(self, sending: Sending) -> None:
        """At stop: ``sending`` waits for the next start (not a failure of the file)."""
        if not self._acks.settle(sending):
            return
        self._files.forget(sending.upload_id)
        self._acks.flush()
        self._registry.finish_upload(sending.upload_id, NOT_ACKNOWLEDGED)
        self._files.waiting(sending.relpath, NOT_ACKNOWLEDGED)
        self._record(UploadResult(sending.path, UploadOutcome.FAILED, NOT_ACKNOWLEDGED))

    def _fail(self, path: Path, relpath: str, reason: str) -> UploadResult:
        log.error("%s: %s was not sent: %s", self.job, relpath, reason)
        self._files.failed(relpath, reason)
        return UploadResult(path, UploadOutcome.FAILED, reason)


def check_key_topics(producer: Producer, topic: str, timeout: float) -> None:
    """An encrypted topic's consumers get keys on ``<root>.keys`` and ask on ``<root>.reqs``.

    Raises:
        UploadError: the broker cannot be reached, or either topic is missing.
    """
    try:
        existing = producer.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise UploadError(f"cannot reach the broker: {exc}") from exc
    missing = [name for name in key_topics(topic)[:2] if name not in existing]
    if missing:
        raise UploadError(
            f"topic {topic!r} is encrypted, but its key-exchange topics "
            f"{' and '.join(missing)} do not exist: create them with 1 partition each "
            "(openmsi provision ... --create-key-topics does it)")


def chunk_length(chunk_i: int, size: int, chunk_size: int) -> int:
    """How many bytes chunk ``chunk_i`` (from 1) of a ``size``-byte file holds."""
    return max(0, min(chunk_size, size - (chunk_i - 1) * chunk_size))
