"""Long-running jobs built from the engine parts, shared by the CLI and the GUI.

A :class:`WatchJob` is a watched folder feeding an uploader; a
:class:`DownloadJob` is a consumer rebuilding files into a folder. Each has
``start``, ``pause``, ``resume`` and ``stop``; all blocking work happens in
the job's own threads.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, Producer

from openmsi_gui.engine import wire
from openmsi_gui.engine.after_delivery import AfterDeliveryPolicy
from openmsi_gui.engine.after_delivery_actions import AfterDeliveryExecutor, AfterDeliveryRunner
from openmsi_gui.engine.bandwidth import Pacer
from openmsi_gui.engine.confirmation import DeadlineWatch, Expectation
from openmsi_gui.engine.crypto import MessageCipher, cipher_for
from openmsi_gui.engine.download.checkpoints import ConsumerFactory
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import Event, EventBus, FileDelivery, JobState, JobStatus
from openmsi_gui.engine.file_filter import FileFilter
from openmsi_gui.engine.heartbeats import JobReporting, Reporter
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_wire import ReportKind
from openmsi_gui.engine.metadata import FolderMetadata
from openmsi_gui.engine.processing.stage import ProcessingOptions
from openmsi_gui.engine.receipt_listener import DeliveryWatch, ReceiptListener
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Location, S3Store
from openmsi_gui.engine.sent_records import SentRecords
from openmsi_gui.engine.uploader import ProducerFactory, Uploader
from openmsi_gui.engine.watcher import FolderWatcher

log = logging.getLogger(__name__)


@dataclass
class WatchOptions:
    """How a folder is watched and sent.

    Attributes:
        topic: destination topic.
        upload_existing: also send files present at start.
        since: without ``upload_existing``, still send files modified since
            this time (e.g. when the folder was added), so files that landed
            while the app was closed are not lost.
        file_filter: which files are sent.
        stable_seconds: how long a file must be unchanged before it is sent.
        polling: poll instead of native events (network drives).
        chunk_size: bytes per chunk, a power of two.
        workers: files hashed and sent in parallel.
        pacer: the bandwidth limits the folder sends under (None: no limit).
        delivery: follow the receipts of the topic (None: do not).
        expect: destinations that must confirm each file in time (None: none;
            see :mod:`.confirmation`).
        after_delivery: move or delete files every expected destination
            confirmed (None, or KEEP: keep them; see :mod:`.after_delivery`).
        watch_began: when the folder's watch began, for the after-delivery rule
            on empty folders (None: when this job starts).
        sent_records: sign a SENT record per file sent, to the receipts topic, for
            audits (None: none; see :mod:`.sent_records`).
        reporting: heartbeats and log messages to the lab overview (None: none; see
            :mod:`.heartbeats`).
        metadata: the fields sent with each file and the current sample (None:
            none; see :mod:`.metadata`).
    """

    topic: str
    upload_existing: bool = False
    since: float | None = None
    file_filter: FileFilter = field(default_factory=FileFilter)
    stable_seconds: float = 3.0
    polling: bool = False
    chunk_size: int = wire.DEFAULT_CHUNK_SIZE
    workers: int = 2
    pacer: Pacer | None = None
    delivery: DeliveryWatch | None = None
    expect: Expectation | None = None
    after_delivery: AfterDeliveryPolicy | None = None
    watch_began: float | None = None
    sent_records: ReceiptOptions | None = None
    reporting: JobReporting | None = None
    metadata: FolderMetadata | None = None


class WatchJob:
    """Watch ``root`` and send stable files to a topic.

    When ``config`` names a KafkaCrypto node (``[kafkacrypto]``), every message
    is encrypted with it; the job owns that node's cipher and closes it on stop.
    ``producer_factory`` makes the uploader's producer (see :class:`Uploader`).

    Raises:
        CryptoSetupError: the config names a node that cannot be used.
    """

    def __init__(self, config: KafkaConfig, root: Path, options: WatchOptions, bus: EventBus,
                 registry: Registry, name: str | None = None,
                 producer_factory: ProducerFactory = Producer) -> None:
        self.name = name or f"watch:{root}"
        self.root = root
        self.options = options
        self._bus = bus
        self._cipher = cipher_for(config)
        try:
            self.uploader = Uploader(config, options.topic, bus, registry, job=self.name,
                                     chunk_size=options.chunk_size, workers=options.workers,
                                     cipher=self._cipher, producer_factory=producer_factory,
                                     keep_results=False, pacer=options.pacer,
                                     metadata=options.metadata)
            self.watcher = FolderWatcher(root, self.uploader, bus,
                                         upload_existing=options.upload_existing,
                                         since=options.since,
                                         file_filter=options.file_filter,
                                         stable_seconds=options.stable_seconds,
                                         polling=options.polling, job=self.name)
        except Exception:
            _close(self._cipher)  # e.g. the folder does not exist
            raise
        self.sent_records = (None if options.sent_records is None else SentRecords(
            config, options.topic, options.sent_records, self._cipher is not None, self.name))
        if self.sent_records is not None:
            self.uploader.add_result_listener(self.sent_records.on_result)
        if options.reporting is not None and options.reporting.target.enabled:
            self.uploader.reporter = Reporter(
                options.reporting, ReportKind.WATCH, str(self.watcher.root),
                self.uploader.counts, bus, self.name, lambda: self.uploader.pending)
        self.listener = (None if options.delivery is None else ReceiptListener(
            config, options.topic, _trusting_self(options), registry, bus, self.name))
        self.deadlines = (None if not options.expect or not options.expect.destinations
                          else DeadlineWatch(registry, options.topic, str(self.watcher.root),
                                             options.expect, bus, self.name, self.send_again))
        if self._cipher is not None and options.metadata and options.metadata.sends_anything:
            log.warning("%s: the information set for each file is not sent: the topic is "
                        "encrypted, and message headers are not", self.name)
        self._registry = registry
        self.after_delivery: AfterDeliveryRunner | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        """Connect to the broker, then start watching (raises on a bad broker or topic)."""
        try:
            self.uploader.start()
        except Exception:
            _close(self._cipher)
            raise
        try:
            if self.sent_records is not None:
                self.sent_records.start()
            self.watcher.start()
            self._start_after_delivery()  # first: it refuses an archive inside the folder
            if self.listener is not None:
                self.listener.start()
            if self.deadlines is not None:
                self.deadlines.start()
        except Exception:
            if self.after_delivery is not None:
                self.after_delivery.stop()
            self.watcher.stop()
            self.uploader.stop()
            if self.sent_records is not None:
                self.sent_records.stop()
            _close(self._cipher)
            raise

    def send_again(self, relpath: str) -> None:
        """Send ``relpath`` (relative to the folder) again, every chunk."""
        root = self.watcher.root  # the real path, as the watcher sends and the registry keys
        self.uploader.submit(root, root / relpath, again=True)

    def _start_after_delivery(self) -> None:
        policy = self.options.after_delivery
        if policy is None or not policy.acts:
            return
        executor = AfterDeliveryExecutor(
            self._registry, self.options.topic, self.watcher.root, policy,
            watch_began=self.options.watch_began or time.time(),
            folders_at_start=self.watcher.folders_at_start, on_changed=self._changed,
            on_gone=self.watcher.forget, job=self.name)
        self.after_delivery = AfterDeliveryRunner(executor, job=self.name)
        self._unsubscribe = self._bus.subscribe(self._on_event)
        self.after_delivery.start()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, FileDelivery) and event.job == self.name and \
                self.after_delivery is not None:
            self.after_delivery.wake()

    def _changed(self, relpath: str, explicitly: bool) -> None:
        """A confirmed file changed on disk: send it again (never move or delete it)."""
        if explicitly:  # the registry would call it "already sent" (see ChangedHandler)
            self.uploader.submit(self.watcher.root, self.watcher.root / relpath, again=True)
        else:
            self.watcher.recheck(relpath)

    def set_sample(self, sample: str) -> None:
        """Set the current sample sent with each file ("" for none), in place."""
        if self.options.metadata is not None:
            self.options.metadata.set_sample(sample)

    def pause(self) -> None:
        """Hold new chunks back; watching continues."""
        self.uploader.pause()
        self._bus.publish(JobState(self.name, JobStatus.PAUSED))

    def resume(self) -> None:
        """Continue sending."""
        self.uploader.resume()
        self._bus.publish(JobState(self.name, JobStatus.RUNNING))

    def stop(self) -> None:
        """Stop watching, flush what is in flight and record it."""
        if self.deadlines is not None:
            self.deadlines.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.after_delivery is not None:
            self.after_delivery.stop()
        if self.listener is not None:
            self.listener.stop()
        self.watcher.stop()
        self.uploader.stop()
        if self.sent_records is not None:
            self.sent_records.stop()  # after the uploader: its last files get records too
        _close(self._cipher)

    @property
    def error(self) -> BaseException | None:
        """What stopped the job (its sending, watching or receipts) while it ran, if anything."""
        listening = self.listener.error if self.listener is not None else None
        return self.uploader.error or self.watcher.error or listening


class DownloadJob:
    """Consume a topic into a folder, or through a staging folder into an S3 bucket.

    Args:
        config: broker and consumer settings.
        topic: the topic to consume.
        dest: the destination folder; with ``s3``, the local staging folder
            (see :func:`openmsi_gui.engine.s3.staging_dir`).
        bus: where events go.
        registry: records of received files.
        group_id: consumer group (None: from the config, else a new one).
        name: job name in events and logs.
        s3: store every file in this bucket location instead of ``dest``.
        create_dest: create ``dest`` if it is missing (see :class:`Downloader`).
        consumer_factory: makes the downloader's consumer (see :class:`Downloader`).
        pacer: the bandwidth limits the job receives under (None: no limit).
        receipts: sign and send a receipt for every file stored or failed (None: none).
        reporting: heartbeats and log messages to the lab overview (None: none).
        processing: run a processor on every file stored (None: none; see
            :mod:`~openmsi_gui.engine.processing.stage`).
        wanted: take only files whose relative path this matches from its start
            (None: every file; see :class:`Downloader`).
        sidecar: write each file's information beside it (folders only).

    When ``config`` names a KafkaCrypto node, messages are decrypted with it
    (see :class:`WatchJob`).

    Raises:
        CryptoSetupError: the config names a node that cannot be used.
    """

    def __init__(self, config: KafkaConfig, topic: str, dest: Path, bus: EventBus,
                 registry: Registry, group_id: str | None = None,
                 name: str | None = None, s3: S3Location | None = None,
                 create_dest: bool = True,
                 consumer_factory: ConsumerFactory = Consumer,
                 pacer: Pacer | None = None, receipts: ReceiptOptions | None = None,
                 reporting: JobReporting | None = None,
                 processing: ProcessingOptions | None = None,
                 wanted: re.Pattern[str] | None = None, sidecar: bool = False) -> None:
        self.name = name or f"download:{topic}"
        store = (S3Store(s3, topic, pacer=pacer.reverse() if pacer is not None else None)
                 if s3 is not None else None)
        self._cipher = cipher_for(config)
        try:
            self.downloader = Downloader(config, topic, dest, bus, registry, group_id=group_id,
                                         job=self.name, store=store, cipher=self._cipher,
                                         create_dest=create_dest,
                                         consumer_factory=consumer_factory, pacer=pacer,
                                         receipts=receipts, processing=processing,
                                         wanted=wanted, sidecar=sidecar)
        except Exception:
            _close(self._cipher)
            raise
        if reporting is not None and reporting.target.enabled:
            downloader = self.downloader
            downloader.reporter = Reporter(
                reporting, ReportKind.DOWNLOAD_S3 if s3 is not None else ReportKind.DOWNLOAD,
                str(downloader.dest), downloader.counts, bus, self.name,
                lambda: downloader.pending)

    def start(self) -> None:
        """Join the group and start consuming."""
        try:
            self.downloader.start()
        except Exception:
            _close(self._cipher)
            raise

    def pause(self) -> None:
        """Stop fetching messages."""
        self.downloader.pause()

    def resume(self) -> None:
        """Continue fetching."""
        self.downloader.resume()

    def retry_now(self) -> None:
        """Retry at once what waits (see :meth:`Downloader.retry_now`)."""
        self.downloader.retry_now()

    def retry_processing(self, relpath: str, sha512: bytes | None = None) -> str | None:
        """Run the processor again on a stored file; a sentence if it cannot (any thread).

        See :meth:`~openmsi_gui.engine.processing.stage.ProcessingStage.retry`.
        """
        stage = self.downloader.processing
        if stage is None:
            return "this destination runs no processor: choose one first"
        return stage.retry(relpath, sha512)

    def stop(self) -> None:
        """Store, commit and leave the group."""
        self.downloader.stop()
        _close(self._cipher)

    @property
    def error(self) -> BaseException | None:
        """What stopped the job while it ran, if anything did."""
        return self.downloader.error


def _trusting_self(options: WatchOptions) -> DeliveryWatch:
    """The folder's delivery watch, also trusting its own sent records (read, not warned of)."""
    assert options.delivery is not None
    if options.sent_records is None:
        return options.delivery
    own = options.sent_records.identity.public
    return dataclasses.replace(options.delivery, trust={**options.delivery.trust,
                                                         own.key_id: own})


def _close(cipher: MessageCipher | None) -> None:
    if cipher is not None:
        cipher.close()
