"""Produce the chunks of one file, as the :class:`~.uploader.Uploader` sends it.

Each chunk is read, hashed (unless hashed ahead), encoded as an OpenMSIStream
chunk message, encrypted when the topic is, paced under the bandwidth limits and
produced to the file's partition. Delivery reports go back to the uploader.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from openmsi_gui.engine import wire
from openmsi_gui.engine.bandwidth import Pacer
from openmsi_gui.engine.crypto import MessageCipher
from openmsi_gui.engine.job_tally import TransferCounts
from openmsi_gui.engine.metadata import ProducedHeaders
from openmsi_gui.engine.upload_acks import Sending
from openmsi_gui.engine.upload_types import partition_for

DeliveryReport = Callable[[KafkaError | None, Sending, int, int], None]
"""Told each chunk's delivery: (error or None, the file, chunk number, data bytes)."""


class ChunkSender:
    """Produces the chunks of files to one topic.

    Args:
        topic: the topic to produce to.
        chunk_size: bytes per chunk.
        cipher: encrypts every chunk (None: sent as is).
        pacer: the bandwidth limits chunks are produced under (None: no limit).
        running: cleared while paused; chunks wait for it.
        stopping: set when the uploader stops; no chunk is produced after.
        counts: counts the bytes the broker acknowledged.
        on_delivery: told each chunk's delivery report (in the poll thread).
        error: what stopped the delivery reports, if anything did.
    """

    def __init__(self, topic: str, chunk_size: int, cipher: MessageCipher | None,
                 pacer: Pacer | None, running: threading.Event, stopping: threading.Event,
                 counts: TransferCounts, on_delivery: DeliveryReport,
                 error: Callable[[], BaseException | None]) -> None:
        self.topic = topic
        self.chunk_size = chunk_size
        self._cipher = cipher
        self._pacer = pacer
        self._running = running
        self._stopping = stopping
        self._counts = counts
        self._on_delivery = on_delivery
        self._error = error

    def send(self, producer: Producer | None, n_partitions: int, sending: Sending, acked: set[int],
             chunk_hashes: list[bytes] | None, headers: ProducedHeaders | None = None) -> bool:
        """Produce the chunks of ``sending`` not in ``acked``; False if stopped first.

        Raises:
            OSError: the file cannot be read, or the broker refused a chunk.
            EncryptionFailed: a chunk could not be encrypted.
            Changed: the file's size or mtime changed while it was sent.
        """
        assert producer is not None  # started
        subdir, _, filename = sending.relpath.rpartition("/")
        partition = partition_for(sending.relpath, n_partitions)
        with sending.path.open("rb") as handle:
            for chunk_i in range(1, sending.n_chunks + 1):
                if chunk_i in acked:
                    continue
                self._running.wait()
                if self._stopping.is_set():
                    return False
                offset = (chunk_i - 1) * self.chunk_size
                handle.seek(offset)
                data = handle.read(self.chunk_size)
                if chunk_hashes:
                    chunk_hash = chunk_hashes[chunk_i - 1]
                elif sending.n_chunks == 1:  # the chunk is the file
                    chunk_hash = sending.file_hash
                else:
                    chunk_hash = hashlib.sha512(data).digest()
                value = wire.encode_chunk(wire.Chunk(
                    filename, sending.file_hash, chunk_hash, offset, chunk_i,
                    sending.n_chunks, subdir, "", data, sending.mtime_ns / 1e9))
                key = wire.make_key(subdir, filename, chunk_i, sending.n_chunks).encode("utf-8")
                if self._cipher is not None:
                    key, value = self._cipher.encrypt(self.topic, key, value)
                if self._pacer is not None and not self._pacer.pace(len(key) + len(value),
                                                                     self._stopping):
                    return False
                try:
                    self._produce(producer, key, value, partition, sending, chunk_i, len(data),
                                  headers)
                except _Stopped:
                    return False
        after = sending.path.stat()
        if (after.st_size, after.st_mtime_ns) != (sending.size, sending.mtime_ns):
            raise Changed
        return True

    def _produce(self, producer: Producer, key: bytes, value: bytes, partition: int,
                 sending: Sending, chunk_i: int, length: int,
                 headers: ProducedHeaders | None) -> None:
        wire_bytes = len(value)

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                self._counts.produced(wire_bytes)  # as OpenMSIStream counts: the value's length
            self._on_delivery(err, sending, chunk_i, length)

        while True:
            try:
                if headers:
                    producer.produce(self.topic, value=value, key=key, partition=partition,
                                     on_delivery=on_delivery, headers=headers)
                else:
                    producer.produce(self.topic, value=value, key=key, partition=partition,
                                     on_delivery=on_delivery)
                return
            except BufferError:
                error = self._error()
                if error is not None:  # no poll thread drains the queue any more
                    raise OSError(f"the producer stopped: {error}") from None
                if self._stopping.is_set():  # the broker may be away: do not wait for it
                    raise _Stopped from None
                time.sleep(0.005)  # librdkafka's queue is full; the poll thread drains it
            except KafkaException as exc:
                raise OSError(f"the broker refused the chunk: {exc}") from exc


class _Stopped(Exception):
    """The uploader stops while a chunk waits for room in librdkafka's queue."""


class Changed(Exception):
    """The file changed between hashing and sending.

    Chunks are not re-hashed when sent: a change shows in the size or mtime
    checked afterwards, and the consumer's whole-file check rejects the mix.
    """
