"""The sender's "sent" records: one signed SENT receipt per file, once every chunk is acknowledged.

An audit (``openmsi audit``, the app's Audit window) runs on any machine that
can read the topics, not from the sender's registry. A file whose chunks are
all on the data topic is found there, but a broker that lost data (a memory
broker restarted, a deleted topic, retention shorter than a destination's
downtime) loses that evidence with the file. So the sender also writes a
record of its own to the receipts topic: a :class:`~.receipts.Receipt` with
status SENT, signed by the sender's identity (an auditor trusts it by pairing
with the sender's code, as with a destination's). It is produced after the
broker acknowledged the file's last chunk, by a result listener of the
:class:`~.uploader.Uploader`; a file sent again gets a new record.

The records go through the destinations' :class:`~.download.receipting.ReceiptStage`
(the same signing, sealing on encrypted topics, topic creation and delivery
reports), so both sides speak one format.
"""

from __future__ import annotations

import logging

from confluent_kafka import Producer

from openmsi_gui.engine.download.receipting import ProducerFactory, ReceiptOptions, ReceiptStage
from openmsi_gui.engine.download.stages import FileFate
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipts import ReceiptStatus
from openmsi_gui.engine.upload_types import UploadOutcome, UploadResult

log = logging.getLogger(__name__)


class SentRecords:
    """Signs and produces a SENT record for every file an uploader finished sending.

    Args:
        config: the broker (the data topic's).
        data_topic: the topic the files are sent to.
        options: the sender's identity and the receipts topic.
        sealed: encrypt the records (the data topic is encrypted).
        job: name used in logs.
        producer_factory: makes the producer (a fake in unit tests).
    """

    def __init__(self, config: KafkaConfig, data_topic: str, options: ReceiptOptions,
                 sealed: bool, job: str, producer_factory: ProducerFactory = Producer) -> None:
        self.name = options.identity.name
        self._stage = ReceiptStage(config, data_topic, options, sealed, job, producer_factory)
        self.topic = self._stage.topic

    @property
    def produced(self) -> int:
        """How many records were handed to the producer."""
        return self._stage.produced

    @property
    def delivered(self) -> int:
        """How many records the broker acknowledged."""
        return self._stage.delivered

    def start(self) -> None:
        """Create the receipts topic when missing (and allowed) and the producer."""
        self._stage.start()

    def on_result(self, result: UploadResult) -> None:
        """An uploader's result listener: a record for each file sent (any thread)."""
        if result.outcome is not UploadOutcome.SENT or result.file is None:
            return
        file = result.file
        self._stage.settled(FileFate(file.relpath, file.sha512, file.size, result.mtime, "",
                                     ReceiptStatus.SENT))

    def stop(self) -> None:
        """Deliver the records still queued (bounded wait) and close the producer."""
        self._stage.close()
