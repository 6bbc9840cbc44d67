"""Processing results as JSON messages on a results topic (OpenMSIStream's reproducers).

One message per processed file, ok or failed, keyed as OpenMSIStream's
reproducers key theirs (:func:`~.api.result_key`); its value is a JSON object
with the file's provenance. A result is produced from a processing worker
(never the consume thread); once the broker acknowledges it, its registry row
says so, and a result never acknowledged is produced again after a restart
(at least once).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.link import produce_waiting, with_logger
from openmsi_gui.engine.processing.api import result_key
from openmsi_gui.engine.processing.records import ProcessingBook, ProcessingRecord
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

CLOSE_WAIT = 2.0  # seconds a stop waits for results to be acknowledged
TOPIC_CHECK_SECONDS = 5.0
RESULTS_PARTITIONS = 1

ProducerFactory = Callable[[dict[str, Any]], Producer]


@dataclass(frozen=True)
class Provenance:
    """Who processed the files: the destination's name and this machine's.

    Attributes:
        destination: the destination's name (its receipts identity, or where it stores).
        host: this machine's host name.
    """

    destination: str
    host: str = ""

    @classmethod
    def here(cls, destination: str) -> Provenance:
        """The provenance of ``destination`` on this machine."""
        return cls(destination, socket.gethostname())


def result_value(record: ProcessingRecord, provenance: Provenance) -> dict[str, Any]:
    """The JSON object of one processed file's result message."""
    finished = dt.datetime.fromtimestamp(record.finished or record.queued, dt.UTC)
    value: dict[str, Any] = {
        "relpath": record.relpath,
        "sha512": record.file_hash.hex(),
        "size": record.size,
        "status": record.state.value,
        "result": record.result,
        "processor": record.processor,
        "processor_version": record.processor_version,
        "topic": record.topic,
        "metadata": dict(record.metadata),
        "time": finished.isoformat(),
        "destination": provenance.destination,
        "host": provenance.host,
    }
    if record.reason:
        value["reason"] = record.reason
    return value


def ensure_topic(config: KafkaConfig, topic: str, job: str) -> None:
    """Create the results topic when it is missing; say which to create if that is refused."""
    try:
        if topic in admin.list_topics(config, TOPIC_CHECK_SECONDS):
            return
        admin.create_topic(config, topic, RESULTS_PARTITIONS, timeout=TOPIC_CHECK_SECONDS)
        log.info("%s: created the results topic %s", job, topic)
    except admin.BrokerError as exc:  # results wait in the producer, or after a restart
        log.warning("%s: create the topic %s ('openmsi topic create %s'), or processing "
                    "results cannot travel (%s)", job, topic, topic, escaped(str(exc)))


class ResultsProducer:
    """Produces processing results to one topic (any thread).

    Args:
        config: the broker (the data topic's).
        topic: the results topic.
        book: marks results acknowledged.
        provenance: the destination and host named in every result.
        job: name used in logs.
        shared: gives a producer the job already has once it started (the receipts'),
            or None: one is made.
        producer_factory: makes the producer (a fake in unit tests).
    """

    def __init__(self, config: KafkaConfig, topic: str, book: ProcessingBook,
                 provenance: Provenance, job: str,
                 shared: Callable[[], Producer | None] | None = None,
                 producer_factory: ProducerFactory = Producer) -> None:
        self.topic = topic
        self._config = config
        self._book = book
        self._provenance = provenance
        self._job = job
        self._shared = shared
        self._factory = producer_factory
        self._producer: Producer | None = None
        self._failures = 0
        self.delivered = 0

    def start(self) -> None:
        """Check the topic and get the producer."""
        ensure_topic(self._config, self.topic, self._job)
        shared = self._shared() if self._shared is not None else None
        self._producer = shared or self._factory(
            with_logger({**self._config.producer_settings(), "linger.ms": "20"}))
        log.info("%s: processing results go to topic %s", self._job, self.topic)

    def send(self, record: ProcessingRecord) -> bool:
        """Produce the result of a finished row; False if the producer queue stays full."""
        producer = self._producer
        if producer is None:
            return False
        value = json.dumps(result_value(record, self._provenance)).encode()
        if not produce_waiting(producer, self.topic, value, result_key(record.relpath),
                               functools.partial(self._delivered, record.id)):
            log.error("%s: the processing result of %s was not sent (the producer queue stays "
                      "full); it is sent after a restart", self._job, escaped(record.relpath))
            return False
        return True

    def poll(self) -> None:
        """Serve delivery reports without waiting."""
        if self._producer is not None:
            self._producer.poll(0)

    def close(self) -> None:
        """Deliver what is queued, waiting at most :data:`CLOSE_WAIT` seconds."""
        if self._producer is None:
            return
        left = self._producer.flush(CLOSE_WAIT)
        if left:
            log.warning("%s: %d processing results were not delivered before stopping; they "
                        "are sent after a restart", self._job, left)
        self._producer = None

    def _delivered(self, record_id: int, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.delivered += 1
            self._failures = 0
            self._book.published(record_id)
            return
        self._failures += 1
        if self._failures == 1 or self._failures % 100 == 0:
            log.error("%s: a processing result could not be delivered to %s (%d in a row): %s",
                      self._job, self.topic, self._failures, escaped(error.str()))
