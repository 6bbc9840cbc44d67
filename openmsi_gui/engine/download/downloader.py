"""Consume chunk messages and rebuild the files under a destination folder.

A :class:`Downloader` owns one confluent-kafka consumer in a consumer group
and one thread; this module is its loop. The stages it drives live beside it:
:mod:`.receiving` turns messages into file generations, :mod:`.assembly`
writes them into hidden temporary files, :mod:`.finisher` verifies a complete
file's SHA-512 and hands it to a :mod:`.sinks` sink (a folder, or S3 staged
through one), :mod:`.parking` keeps encrypted messages whose keys have not
arrived, and :mod:`.checkpoints` commits offsets.

Offsets are committed at checkpoints, after the temporary files are fsynced
and the registry is committed, and never past the first message of a file
that is still incomplete, nor of one whose sink has not made it durable.

When the destination as a whole cannot take data (see
:func:`~.problems.destination_problem`), nothing is failed and nothing is
committed past the message that could not be written: the consumer seeks back
to it, pauses, and tries again after a growing delay, showing the file as
"waiting". A verified file the sink could not store (a rename refused, an S3
upload failed) is kept and retried the same way. So is a KafkaCrypto message
read without a node (:class:`~.problems.TopicEncrypted`): the topic is
encrypted, and nothing from that message on is committed until a node is set up.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from openmsi_gui.engine.bandwidth import Pacer
from openmsi_gui.engine.crypto import MessageCipher, is_ciphertext
from openmsi_gui.engine.download.assembly import Assembly
from openmsi_gui.engine.download.checkpoints import ConsumerClient, ConsumerFactory, Offsets
from openmsi_gui.engine.download.finisher import (
    MAX_FINISHING,
    RESUME_FINISHING,
    Finisher,
    StoreRetries,
)
from openmsi_gui.engine.download.flow import (
    FlowControl,
    HoldReason,
    Hysteresis,
    ReceivePace,
    prefetch_settings,
)
from openmsi_gui.engine.download.parking import Parking
from openmsi_gui.engine.download.problems import (
    DEFAULT_DELAYS,
    DestinationUnavailable,
    RetryDelays,
    TopicEncrypted,
    nth_delay,
)
from openmsi_gui.engine.download.receipting import ProducerFactory, ReceiptOptions, ReceiptStage
from openmsi_gui.engine.download.receiving import Receiver
from openmsi_gui.engine.download.sinks import FinishOutcome, FolderSink, S3Sink, Sink
from openmsi_gui.engine.download.stages import FinalStage
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Direction,
    EventBus,
    JobState,
    JobStatus,
    job_died,
)
from openmsi_gui.engine.file_events import FileReporter
from openmsi_gui.engine.heartbeats import Reporter
from openmsi_gui.engine.job_tally import TransferCounts
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.link import BrokerLink, with_logger
from openmsi_gui.engine.metadata import Headers
from openmsi_gui.engine.processing.stage import (
    ProcessingOptions,
    ProcessingStage,
    StageScope,
    processing_stage,
)
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Store
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0
CHECKPOINT_BYTES = 64 * 1024 * 1024
# consume() copies every value into Python bytes while holding the GIL; 32 chunks of
# 512 KiB is ~16 MiB (a few ms), which keeps a GUI in the same process responsive.
CONSUME_BATCH = 32
STALE_PIN_SECONDS = 3600.0
FINISHING = Hysteresis(MAX_FINISHING, RESUME_FINISHING)
# Under a bandwidth limit, the longest the loop goes without reading before it pauses its
# partitions to poll: a pause drops librdkafka's prefetched messages, fetched again after,
# so only a single message costing more than this at the limit (a 512 KiB chunk below
# 17 KiB/s) pauses; and a rebalance waits for the loop to read at most this long.
READ_GAP_SECONDS = 30.0


class DownloadProgress:
    """What a download has done so far, read from any thread (a base of :class:`Downloader`).

    It reads the state the consumer thread keeps: files and bytes received,
    messages left out, offsets reached and the error that stopped it.
    """

    _error: BaseException | None
    _assembly: Assembly
    _receiver: Receiver
    _offsets: Offsets

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the consumer thread, if any."""
        return self._error

    @property
    def pending(self) -> int:
        """Files being received (consumer thread)."""
        return len(self._assembly.incoming)

    @property
    def files_received(self) -> int:
        """Files stored since the start."""
        return self._receiver.files_received

    @property
    def bytes_received(self) -> int:
        """Chunk bytes written since the start (duplicates not counted)."""
        return self._receiver.bytes_received

    @property
    def files_filtered(self) -> int:
        """Files the download filter left out since the start."""
        return self._receiver.files_filtered

    @property
    def messages_rejected(self) -> int:
        """Messages that were not chunks of any file."""
        return self._receiver.messages_rejected

    @property
    def next_offsets(self) -> dict[int, int]:
        """The next offset to read, per assigned partition."""
        return dict(self._offsets.next)

    def incomplete(self) -> list[tuple[str, int, int]]:
        """Files being received: ``(relpath, chunks stored, chunks total)``."""
        return [(i.relpath, len(i.stored), i.n_chunks)
                for i in list(self._assembly.incoming.values())]


class Downloader(DownloadProgress):
    """Rebuild files from one topic into one folder.

    Args:
        config: broker and consumer settings.
        topic: the topic to consume.
        dest: the destination folder (created if missing).
        bus: where events go.
        registry: records of received files and stored chunks.
        group_id: consumer group; None takes ``[consumer] group.id`` or a new one.
        job: name used in events and logs.
        stale_pin_seconds: an incomplete file that has had no chunk for this
            long no longer holds back offset commits.
        store: upload verified files here instead of renaming them into
            ``dest``, which is then only a staging folder.
        cipher: decrypt every message with it (KafkaCrypto topics).
        create_dest: create a missing destination folder at start. The app passes
            False: its folders exist when they are chosen, so a missing one is a
            drive or share that is not connected, and files must not land on the
            disk beneath its mount point.
        delays: how long to wait before retrying what could not be done.
        consumer_factory: builds the Kafka consumer from its settings (a fake in
            unit tests).
        finishing: how many files may wait for the finisher before the
            partitions are paused, and below how many they are resumed.
        pacer: the bandwidth limits the job reads under (None: no limit).
        receipts: sign and send a receipt for every file stored or failed
            (None: no receipts). They are sealed when ``cipher`` is given.
        producer_factory: builds the receipts' producer (a fake in unit tests).
        processing: run a processor on every file stored (None: none; see
            :mod:`~openmsi_gui.engine.processing.stage`).
        wanted: take only files whose relative path this matches from its start
            (``--download-regex``); the others are counted and read past.
        sidecar: write each file's information beside it as ``<name>.metadata.json``
            (folders only; see :mod:`~openmsi_gui.engine.metadata_stores`).
    """

    def __init__(self, config: KafkaConfig, topic: str, dest: Path, bus: EventBus,
                 registry: Registry, group_id: str | None = None, job: str = "download",
                 stale_pin_seconds: float = STALE_PIN_SECONDS,
                 store: S3Store | None = None, cipher: MessageCipher | None = None,
                 create_dest: bool = True, delays: RetryDelays = DEFAULT_DELAYS,
                 consumer_factory: ConsumerFactory = Consumer,
                 finishing: Hysteresis = FINISHING, pacer: Pacer | None = None,
                 receipts: ReceiptOptions | None = None,
                 producer_factory: ProducerFactory = Producer,
                 processing: ProcessingOptions | None = None,
                 wanted: re.Pattern[str] | None = None, sidecar: bool = False) -> None:
        self.topic = topic
        self.dest = Path(os.path.realpath(dest))
        self.job = job
        self._bus = bus
        self._files = FileReporter(bus, job, Direction.DOWNLOAD)
        self._registry = registry
        self._settings = prefetch_settings(config.consumer_settings(group_id), pacer)
        self.group_id = self._settings["group.id"]
        self._stale_pin_seconds = stale_pin_seconds
        self._delays = delays
        self._consumer_factory = consumer_factory
        self._consumer: ConsumerClient | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._want_paused = False
        self._reported_paused = False
        self._flow = FlowControl(topic, job, incremental=_incremental(self._settings))
        self._finishing = finishing
        poll_gap = float(self._settings.get("max.poll.interval.ms", 300_000)) / 1000 / 3
        self._pace = ReceivePace(pacer, self._flow, min(READ_GAP_SECONDS, poll_gap))
        self.assignment: frozenset[int] = frozenset()
        self._offsets = Offsets(topic, job)
        self._finisher = Finisher(self.dest, registry, job)
        self._sink: Sink = (
            S3Sink(store, self.dest, self._stopping.is_set, registry, self._finisher.report, job,
                   keep_staged=processing is not None)
            if store is not None else
            FolderSink(self.dest, create_dest, registry, self._finisher.report, job,
                       sidecar=sidecar))
        self._finisher.attach(self._sink)
        # What the registry and history call the destination.
        self.dest_label = self._sink.label
        self._assembly = Assembly(registry, self._finisher.pool)
        self._stages: list[FinalStage] = [] if receipts is None else [
            ReceiptStage(config, topic, receipts, cipher is not None, job, producer_factory)]
        self.processing: ProcessingStage | None = None
        if processing is not None:
            receipts_stage = self._stages[0] if self._stages else None
            self.processing = processing_stage(
                processing, StageScope(topic, self.dest_label, self.dest, job), config,
                registry, bus, processing.destination or (
                    receipts.identity.name if receipts else self.dest_label),
                (lambda: receipts_stage.producer) if isinstance(receipts_stage, ReceiptStage)
                else None, remove_after=store is not None or processing.private)
            self._stages.append(self.processing)
        self._receiver = Receiver(self.dest, self._sink, self._assembly, self._finisher,
                                  registry, (topic, self.group_id), bus, job, self._stages,
                                  wanted)
        self._parking = (Parking(cipher, registry, (topic, self.group_id, self.dest_label),
                                 bus, job, delays.parked) if cipher is not None else None)
        self._store_retries = StoreRetries(self._finisher, self._sink, bus, job, delays.store)
        self._stalled_until = 0.0  # the destination cannot take data until then
        self._stall_attempts = 0
        self._stall_reason = ""
        self._retry_requested = False  # set by retry_now() on any thread
        self._error: BaseException | None = None
        self.link = BrokerLink(bus, job, config.bootstrap_servers, self._list_topics, topic)
        self._config = config
        self.counts = TransferCounts()
        self.reporter: Reporter | None = None  # heartbeats, ticked by the consumer thread

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Create the destination, join the group and start consuming in a thread.

        Raises:
            S3Error: the bucket cannot be used (with an S3 store).
            FileNotFoundError: the destination folder is missing (``create_dest`` False).
        """
        self._sink.start()
        for stage in self._stages:
            stage.start()
        if self.reporter is not None:  # through the receipts' producer, if there is one
            self.reporter.start(next((s.producer for s in self._stages
                                      if isinstance(s, ReceiptStage)), None), self._config)
        settings = with_logger({**self._settings, "error_cb": self.link.on_error})
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.CONNECTING,
                                          str(settings.get("bootstrap.servers", ""))))
        self._consumer = self._consumer_factory(settings)
        self._consumer.subscribe([self.topic], on_assign=self._on_assign,
                                 on_revoke=self._on_revoke, on_lost=self._on_revoke)
        self._thread = threading.Thread(target=self._run, name=f"{self.job}-consume", daemon=True)
        self._thread.start()
        self._bus.publish(JobState(self.job, JobStatus.RUNNING, f"{self.topic} → {self.dest}"))

    def _list_topics(self, timeout: float) -> list[str]:
        """The topics on the broker, asked through the consumer (for :attr:`link`)."""
        assert self._consumer is not None
        return list(self._consumer.list_topics(timeout=timeout).topics)

    def stop(self, timeout: float = 30.0) -> None:
        """Store what was received, commit offsets and leave the group.

        With the broker unreachable, offsets are not committed (they are safe
        to re-read: the files are not written twice), so stopping does not wait
        for it.
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.STOPPED))

    def pause(self) -> None:
        """Stop fetching messages (the group membership is kept)."""
        self._want_paused = True

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._want_paused = False

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` is in effect."""
        return self._want_paused

    def retry_now(self) -> None:
        """Try again at once what waits instead of at its next retry.

        That is a destination that could not take data, S3 uploads and renames to
        retry, and encrypted messages kept for their keys (any thread).
        """
        self._retry_requested = True

    def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
        try:
            while not self._stopping.is_set():
                self.link.tick()  # once a missing topic is seen there, the group joins for it
                if self.reporter is not None:
                    self.reporter.tick()
                if self._retry_requested:
                    self._retry_requested = False
                    self._retry_everything_now()
                read = self._pace.may_read()
                self._apply_pause()
                if read:
                    messages = consumer.consume(num_messages=self._pace.batch(CONSUME_BATCH),
                                                timeout=self._read_timeout())
                    self._pace.read(messages)
                else:  # over the bandwidth limit: librdkafka's full queue stops fetching
                    messages = []
                    self._pace.idle(self._stopping)
                for i, message in enumerate(messages):
                    try:
                        self._handle(message)
                    except DestinationUnavailable as exc:
                        self._stall(exc, unprocessed=messages[i:])
                        break
                self._collect_finished()
                if self._finisher.error is not None:
                    raise self._finisher.error
                if not self._stopping.is_set():
                    self._store_retries.run_due(self._assembly.incoming)
                if self._parking is not None and time.monotonic() >= self._stalled_until:
                    self._parking.retry(self._process, self._receiver.reject_message,
                                        self._stall)
                if (time.monotonic() >= next_checkpoint or
                        self._assembly.dirty_bytes >= CHECKPOINT_BYTES):
                    self._checkpoint()
                    self._assembly.unpin_stale(self.job, self._stale_pin_seconds)
                    next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
        except Exception as exc:
            self._error = exc
            job_died(log, self._bus, self.job, "the consumer stopped", exc)
        finally:
            self._shut_down(consumer)

    def _shut_down(self, consumer: ConsumerClient) -> None:
        try:
            self._collect_finished(wait=True)
            self._sink.close()  # an upload stops between parts
            self._collect_finished()
            self._checkpoint(asynchronous=True)  # see _on_revoke
        except Exception:
            log.exception("%s: final checkpoint failed", self.job)
        try:
            consumer.close()  # its revoke callback stores and commits once more
        except Exception:
            log.exception("%s: the consumer did not close cleanly", self.job)
        self._assembly.close(self.job)
        self._finisher.shutdown()
        self._sink.close()
        if self.reporter is not None:
            self.reporter.stop()  # before the stages close: the receipts' producer carries it
        for stage in self._stages:
            try:
                stage.close()
            except Exception:
                log.exception("%s: a final stage did not close cleanly", self.job)

    def _apply_pause(self) -> None:
        """Pause or resume the partitions for every reason, and say when the user's changes."""
        assert self._consumer is not None
        stalled = time.monotonic() < self._stalled_until
        flow = self._flow
        flow.switch(HoldReason.USER, self._want_paused)
        flow.switch(HoldReason.DESTINATION, stalled)
        behind = self._finishing.hold(flow.holds(HoldReason.FINISHER), self._finisher.pending)
        if behind != flow.holds(HoldReason.FINISHER):
            log.debug("%s: %d files wait for the finisher; reading %s", self.job,
                      self._finisher.pending, "pauses" if behind else "resumes")
        flow.switch(HoldReason.FINISHER, behind)
        flow.switch(HoldReason.PROCESSING, any(stage.holds_back() for stage in self._stages))
        flow.apply(self._consumer)
        if self._want_paused != self._reported_paused:
            if self._want_paused:
                self._bus.publish(JobState(self.job, JobStatus.PAUSED))
            elif stalled:  # resumed, but the destination still cannot take data
                self._bus.publish(JobState(self.job, JobStatus.WAITING, self._stall_reason))
            else:
                self._bus.publish(JobState(self.job, JobStatus.RUNNING))
            self._reported_paused = self._want_paused

    def _read_timeout(self) -> float:
        """How long the next ``consume`` may wait for messages.

        While the finisher is behind, the partitions are paused: wait for it
        instead, then poll without waiting (polling keeps the group membership).
        """
        if self._flow.holds(HoldReason.FINISHER):
            self._finisher.wait_below(self._finishing.low, 0.2)
            return 0.0
        return 0.2

    def _retry_everything_now(self) -> None:
        log.info("%s: retrying what waits, as asked", self.job)
        self._stalled_until = 0.0
        self._store_retries.all_now()
        if self._parking is not None:
            self._parking.retry_now()

    def _stall(self, problem: DestinationUnavailable,
               unprocessed: list[Message] | None = None) -> None:
        """Wait before writing again; re-read ``unprocessed`` then (consume thread).

        The consumer is rewound to the first unprocessed message of each partition
        and paused, so nothing after it is processed, and nothing from it on is
        committed, before the destination takes data again.
        """
        rewind = self._offsets.rewind(unprocessed or [])
        delay = nth_delay(self._delays.stall, self._stall_attempts)
        self._stall_attempts += 1
        self._stalled_until = time.monotonic() + delay
        self._stall_reason = escaped(problem.reason)
        assert self._consumer is not None
        self._flow.hold(HoldReason.DESTINATION)
        self._flow.apply(self._consumer)
        self._offsets.seek(self._consumer, rewind)
        what = (f"{escaped(problem.relpath)} was not stored" if problem.relpath else
                "reading paused")
        hint = f" ({problem.log_hint})" if problem.log_hint else ""
        log.error("%s: %s (attempt %d): %s%s; waiting %.0f s", self.job, what,
                  self._stall_attempts, self._stall_reason, hint, delay)
        if problem.relpath:
            self._files.waiting(escaped(problem.relpath),
                                f"{self._stall_reason}; retrying in {delay:.0f} s")
        self._bus.publish(JobState(self.job, JobStatus.WAITING, self._stall_reason))

    # -- group membership --------------------------------------------------

    def _on_assign(self, consumer: ConsumerClient, partitions: list[TopicPartition]) -> None:
        if partitions and not self.assignment:  # one plain line; the details are for debugging
            log.info("%s: receiving from topic %s", self.job, self.topic)
        log.debug("%s: assigned partitions %s of %s", self.job,
                  sorted(p.partition for p in partitions), self.topic)
        self.link.answered()
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.CONNECTED,
                                          f"{len(partitions)} partitions"))
        self.assignment = self.assignment | {p.partition for p in partitions}
        self._flow.assigned(consumer, partitions)

    def _on_revoke(self, consumer: ConsumerClient, partitions: list[TopicPartition]) -> None:
        revoked = {p.partition for p in partitions}
        log.debug("%s: partitions %s revoked", self.job, sorted(revoked))
        self._collect_finished(wait=True)
        # Synchronous while running (the new owner reads on from there), but never waiting
        # at stop: a broker away, or one that does not answer commits, would hold it up
        # (offsets not committed are safe: the messages are read again, not written twice).
        self._checkpoint(asynchronous=self.link.unreachable or self._stopping.is_set())
        self._receiver.drop_revoked(revoked)
        self.assignment = self.assignment - revoked
        self._offsets.forget(revoked)
        self._flow.revoked(revoked)

    # -- messages ----------------------------------------------------------

    def _handle(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                self.link.on_topic_missing()
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("%s: consumer error: %s", self.job, error.str())
            return
        self.link.answered()
        self.counts.read(len(message.value() or b""))
        partition, offset = message.partition() or 0, message.offset() or 0
        self._offsets.read(partition, offset)
        key, value = message.key(), message.value()
        if self._parking is None and is_ciphertext(value):
            # Without a node this never decrypts: wait here rather than reject it and
            # commit past it, so that the files arrive once encryption is set up.
            raise TopicEncrypted
        if self._parking is not None:
            opened = self._parking.decrypt(partition, offset, key, value,
                                           self._receiver.reject_message)
            if opened is None:
                return
            key, value = opened
        self._process(value, partition, offset, key, message.headers())

    def _process(self, value: bytes | None, partition: int, offset: int,
                 message_key: bytes | str | None, headers: Headers = None) -> None:
        wrote = self._receiver.process(value, partition, offset, message_key, headers)
        if wrote:
            self.counts.processed(len(value or b""))
        if wrote and self._stall_attempts:
            self._stall_attempts = 0
            log.info("%s: the destination takes data again", self.job)
            self._bus.publish(JobState(self.job, JobStatus.RUNNING))

    # -- finished files ----------------------------------------------------

    def _collect_finished(self, wait: bool = False) -> None:
        """Apply the finisher's and the sink's outcomes; ``wait`` drains the finisher first."""
        if wait:
            self._finisher.drain()
        for finished in self._finisher.outcomes():
            if finished.outcome is FinishOutcome.RETRY:
                if finished.file.key in self._assembly.incoming:
                    self._store_retries.schedule(finished)
            else:
                self._receiver.apply(finished)

    # -- durability --------------------------------------------------------

    def _checkpoint(self, asynchronous: bool = True) -> None:
        """Fsync written data, commit the registry, then commit safe offsets."""
        self._assembly.sync()
        if self._parking is not None:
            self._parking.checkpoint()
        self._registry.commit()
        for stage in self._stages:  # e.g. receipts acknowledged before their files' offsets
            stage.checkpoint()
        self._offsets.commit(self._consumer, self._assembly.pins(), asynchronous)


def _incremental(settings: dict[str, str]) -> bool:
    """Whether the group rebalances incrementally (on_assign adds to the assignment)."""
    return ("cooperative" in settings.get("partition.assignment.strategy", "")
            or settings.get("group.protocol", "classic") == "consumer")
