"""The receipt stage: one signed receipt per finished file, to ``<topic>.receipts``.

A receipt is produced once the file's fate is final (see :mod:`.stages`): after
the rename and the folder's fsync, after the S3 object is verified, or after the
file was refused (hash mismatch, unsafe name, ...). Before offsets are committed
the stage waits briefly for the broker to acknowledge the receipts produced so
far; one that takes longer stays queued in the producer (librdkafka retries it)
and is delivered later, unless the process ends first. A file sent again that is
already here gets a fresh receipt, so a sender that never heard back can ask again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from openmsi_gui.engine import admin
from openmsi_gui.engine.download.stages import FileFate, FinalStage
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.link import produce_waiting, with_logger
from openmsi_gui.engine.metadata import to_json
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipts import MAX_TEXT, Receipt, receipts_topic, seal_receipt
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

CHECKPOINT_WAIT = 1.0  # seconds a checkpoint waits for receipts to be acknowledged
CLOSE_WAIT = 2.0  # seconds a stop waits for them: stopping never waits long for a broker
RECEIPT_PARTITIONS = 1  # receipts are small; one partition keeps each destination's in order
TOPIC_CHECK_SECONDS = 5.0
_PRODUCER_SETTINGS = {"linger.ms": "20"}

ProducerFactory = Callable[[dict[str, Any]], Producer]


@dataclass(frozen=True)
class ReceiptOptions:
    """How a destination signs its receipts and where it sends them.

    Attributes:
        identity: the destination's name and keys.
        topic: the receipts topic ("" for ``<data topic>.receipts``).
    """

    identity: SigningIdentity
    topic: str = ""

    def topic_for(self, data_topic: str) -> str:
        """The receipts topic used for ``data_topic``."""
        return self.topic or receipts_topic(data_topic)


def ensure_receipts_topic(config: KafkaConfig, topic: str, job: str) -> None:
    """Create the receipts topic when it is missing; say which to create if that is refused."""
    try:
        topics = admin.list_topics(config, TOPIC_CHECK_SECONDS)
    except admin.BrokerError as exc:  # the job says so too; receipts wait in the producer
        log.warning("%s: could not check the receipts topic %s: %s", job, topic, escaped(str(exc)))
        return
    if topic in topics:
        return
    try:
        admin.create_topic(config, topic, RECEIPT_PARTITIONS, timeout=TOPIC_CHECK_SECONDS)
        log.info("%s: created the receipts topic %s", job, topic)
    except admin.BrokerError as exc:
        log.warning("%s: create the topic %s ('openmsi topic create %s'), or receipts cannot "
                    "travel (%s)", job, topic, topic, escaped(str(exc)))


class ReceiptStage(FinalStage):
    """Produces a signed receipt for every settled file.

    Args:
        config: the broker (the data topic's).
        data_topic: the topic files arrive on.
        options: the identity and the receipts topic.
        sealed: encrypt receipts (the data topic is encrypted).
        job: name used in logs.
        producer_factory: makes the producer (a fake in unit tests).
    """

    def __init__(self, config: KafkaConfig, data_topic: str, options: ReceiptOptions,
                 sealed: bool, job: str, producer_factory: ProducerFactory = Producer) -> None:
        self.topic = options.topic_for(data_topic)
        self._config = config
        self._data_topic = data_topic
        self._identity = options.identity
        self._key = options.identity.public.key_id.encode()
        self._sealed = sealed
        self._job = job
        self._producer_factory = producer_factory
        self._producer: Producer | None = None
        self._failures = 0
        self.produced = 0
        self.delivered = 0

    def start(self) -> None:
        """Create the receipts topic when it is missing and the broker allows it."""
        ensure_receipts_topic(self._config, self.topic, self._job)
        settings = with_logger({**self._config.producer_settings(), **_PRODUCER_SETTINGS})
        self._producer = self._producer_factory(settings)
        log.info("%s: receipts go to topic %s as '%s'", self._job, self.topic,
                 escaped(self._identity.name))

    @property
    def producer(self) -> Producer | None:
        """The receipts' producer while the stage runs (heartbeats may share it)."""
        return self._producer

    def settled(self, fate: FileFate) -> None:
        """Sign and produce the receipt of ``fate``."""
        if self._producer is None:
            return
        receipt = Receipt(self._identity.name, self._data_topic, fate.relpath, fate.sha512,
                          fate.size, fate.mtime, fate.where, time.time(), fate.status,
                          fate.reason, self._metadata(fate))
        value = seal_receipt(receipt, self._identity, self._sealed)
        if not produce_waiting(self._producer, self.topic, value, self._key, self._delivered):
            log.error("%s: the receipt of %s was not sent: the producer queue stays full",
                      self._job, escaped(fate.relpath))
            return
        self.produced += 1

    def _metadata(self, fate: FileFate) -> str:
        """The file's information for its receipt ("" if it has none, or too much)."""
        text = to_json(fate.metadata)
        if len(text.encode("utf-8")) > MAX_TEXT:
            log.warning("%s: the information of %s is too long for its receipt; left out",
                        self._job, escaped(fate.relpath))
            return ""
        return text

    def checkpoint(self) -> None:
        """Wait briefly for the receipts produced so far to be acknowledged."""
        if self._producer is not None and len(self._producer):
            self._producer.flush(CHECKPOINT_WAIT)

    def close(self) -> None:
        """Deliver what is queued, waiting at most :data:`CLOSE_WAIT` seconds."""
        if self._producer is None:
            return
        left = self._producer.flush(CLOSE_WAIT)
        if left:
            log.warning("%s: %d receipts were not delivered before stopping; their files "
                        "get new ones when they are sent again", self._job, left)
        self._producer = None

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.delivered += 1
            self._failures = 0
            return
        self._failures += 1
        if self._failures == 1 or self._failures % 100 == 0:
            log.error("%s: a receipt could not be delivered to %s (%d in a row): %s",
                      self._job, self.topic, self._failures, escaped(error.str()))
