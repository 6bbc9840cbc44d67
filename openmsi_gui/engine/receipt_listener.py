"""A sender follows its topic's receipts: which destination has which of its files.

A :class:`ReceiptListener` is a small consumer in a watch job, in a consumer
group of its own (one per sender, so every sender reads every receipt). Each
message is untrusted: only a receipt that verifies with a destination paired
here (see :mod:`.receipts`), about a file this registry sent, is recorded
(:mod:`.deliveries`) and announced as a
:class:`~openmsi_gui.engine.events.FileDelivery`. Anything else is logged,
escaped and at most once per reason and destination, and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message

from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.download.receipting import ensure_receipts_topic
from openmsi_gui.engine.events import DeliveryStatus, EventBus, FileDelivery
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.link import with_logger
from openmsi_gui.engine.receipt_keys import PublicIdentity
from openmsi_gui.engine.receipts import (
    Receipt,
    ReceiptStatus,
    Rejection,
    open_receipt,
    receipts_topic,
)
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

COMMIT_SECONDS = 2.0
# consume() waits for a whole batch or this long: the most a receipt waits in librdkafka.
READ_WAIT_SECONDS = 0.1
# A receipts topic created later (by a destination, or by hand) is found within 30 s.
_CONSUMER_SETTINGS = {"fetch.wait.max.ms": "100", "topic.metadata.refresh.interval.ms": "30000"}
MAX_WARNINGS = 1000  # distinct (reason, sender) pairs warned about, before warning no more

ConsumerFactory = Callable[[dict[str, Any]], Consumer]


@dataclass(frozen=True)
class DeliveryWatch:
    """How a watched folder follows the receipts of its topic.

    Attributes:
        trust: the destinations paired here, by key id.
        group_id: this sender's own consumer group.
        topic: the receipts topic ("" for ``<data topic>.receipts``).
    """

    trust: Mapping[str, PublicIdentity]
    group_id: str
    topic: str = ""


class ReceiptListener:
    """Reads receipts on a thread of its own; records and announces the verified ones.

    Args:
        config: the broker.
        data_topic: the topic the files are sent to.
        watch: trust, group and receipts topic.
        registry: the files sent (and where deliveries are recorded).
        bus: where :class:`FileDelivery` events go.
        job: name used in events and logs.
        consumer_factory: makes the consumer (a fake in unit tests).
    """

    def __init__(self, config: KafkaConfig, data_topic: str, watch: DeliveryWatch,
                 registry: Registry, bus: EventBus, job: str,
                 consumer_factory: ConsumerFactory = Consumer) -> None:
        self.topic = watch.topic or receipts_topic(data_topic)
        self._config = config
        self._data_topic = data_topic
        self._trust = dict(watch.trust)
        self._settings = {**config.consumer_settings(watch.group_id), **_CONSUMER_SETTINGS}
        self._book = DeliveryBook(registry)
        self._registry = registry
        self._bus = bus
        self._job = job
        self._consumer_factory = consumer_factory
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[tuple[str, str]] = set()
        self.error: BaseException | None = None
        self.recorded = 0
        self.skipped = 0

    def start(self) -> None:
        """Create the receipts topic if the broker allows it; subscribe; start the thread."""
        ensure_receipts_topic(self._config, self.topic, self._job)
        consumer = self._consumer_factory(with_logger(dict(self._settings)))
        consumer.subscribe([self.topic])
        self._thread = threading.Thread(target=self._run, args=(consumer,),
                                        name=f"{self._job}-receipts", daemon=True)
        self._thread.start()
        log.info("%s: following receipts on %s from %d paired destinations", self._job,
                 self.topic, len(self._trust))

    def stop(self, timeout: float = 15.0) -> None:
        """Record what was read, commit, and leave the group."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, consumer: Consumer) -> None:
        next_commit = time.monotonic() + COMMIT_SECONDS
        read = False
        try:
            while not self._stopping.is_set():
                for message in consumer.consume(100, timeout=READ_WAIT_SECONDS):
                    read = self._handle(message) or read
                if read and time.monotonic() >= next_commit:
                    self._commit(consumer)
                    read = False
                    next_commit = time.monotonic() + COMMIT_SECONDS
        except Exception as exc:
            self.error = exc
            log.exception("%s: the receipts consumer stopped", self._job)
        finally:
            try:
                if read:
                    self._commit(consumer, asynchronous=False)
            except Exception:
                log.exception("%s: the last receipts could not be committed", self._job)
            consumer.close()

    def _commit(self, consumer: Consumer, asynchronous: bool = True) -> None:
        self._registry.commit()  # recorded durably before the offsets move past them
        try:
            if asynchronous:
                consumer.commit(asynchronous=True)
            else:
                consumer.commit(asynchronous=False)
        except Exception as exc:  # e.g. nothing to commit, or a rebalance
            log.debug("%s: receipts commit: %s", self._job, exc)

    def _handle(self, message: Message) -> bool:
        """Take one message; whether it was a message to commit past."""
        error = message.error()
        if error is not None:
            if error.code() not in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                log.warning("%s: receipts consumer: %s", self._job, escaped(error.str()))
            return False
        outcome = open_receipt(message.value(), self._trust)
        if isinstance(outcome, Rejection):
            self._skip(outcome, message)
        elif outcome.status is not ReceiptStatus.SENT and outcome.topic == self._data_topic:
            self._take(outcome)
        return True

    def _take(self, receipt: Receipt) -> None:
        if not self._book.sent_here(receipt.topic, receipt.relpath, receipt.sha512):
            return  # another sender's file
        if not self._book.record(receipt):
            return  # a newer word from that destination is recorded already
        self.recorded += 1
        status = (DeliveryStatus.DELIVERED if receipt.status is ReceiptStatus.STORED
                  else DeliveryStatus.FAILED)
        shown, dest = escaped(receipt.relpath), escaped(receipt.destination)
        if status is DeliveryStatus.DELIVERED:
            log.info("%s: %s delivered to %s", self._job, shown, dest)
        else:
            log.warning("%s: %s failed at %s: %s", self._job, shown, dest,
                        escaped(receipt.reason))
        self._bus.publish(FileDelivery(self._job, shown, receipt.sha512.hex(), dest, status,
                                       receipt.time, escaped(receipt.reason),
                                       escaped(receipt.stored_at)))

    def _skip(self, rejection: Rejection, message: Message) -> None:
        self.skipped += 1
        key = (rejection.kind.name, rejection.detail)
        if key in self._warned or len(self._warned) >= MAX_WARNINGS:
            log.debug("%s: skipped a message on %s: %s", self._job, self.topic, rejection)
            return
        self._warned.add(key)
        log.warning("%s: skipped a message on %s (%d@%d): %s", self._job, self.topic,
                    message.partition() or 0, message.offset() or 0, rejection)

