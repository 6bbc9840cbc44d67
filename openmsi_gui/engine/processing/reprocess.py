"""Processing-only runs: private areas, and Reprocess (a processor over a whole topic).

A processing-only destination rebuilds each file in a private temporary area
of its own under the data folder (:func:`private_area`), verifies it, runs the
processor and removes it: nothing is kept but the results.

:class:`Reprocess` runs a processor again over everything still on a topic: a
processing-only job with a fresh consumer group reading from the oldest
message, into a private area of its own, so files already delivered anywhere
are neither touched nor written again. It ends by itself once it has read up
to the end the topic had when it started and every file it rebuilt is
processed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import shutil
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition

from openmsi_gui.engine.admin import BrokerError
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.jobs import DownloadJob
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.link import with_logger
from openmsi_gui.engine.processing.api import ProcessorSpec
from openmsi_gui.engine.processing.stage import ProcessingOptions, ProcessingStage
from openmsi_gui.engine.registry import Registry

log = logging.getLogger(__name__)

PRIVATE_FOLDER = "processing"
"""The data folder's subfolder holding the private areas."""
QUIET_SECONDS = 2.0
"""How long a run must look finished before it ends (some brokers under-report ends)."""
OFFSETS_TIMEOUT = 10.0


def private_area(data_dir: Path, *identity: str) -> Path:
    """The private temporary area of a processing-only job known by ``identity``."""
    tag = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
    return data_dir / PRIVATE_FOLDER / tag


def reprocess_group(base: str = "") -> str:
    """A fresh consumer group for a Reprocess run (named after ``base`` when given)."""
    return f"{base or 'openmsi'}-reprocess-{uuid.uuid4().hex[:8]}"


def from_oldest(config: KafkaConfig) -> KafkaConfig:
    """``config`` with consumers starting at the oldest message when they have no offset."""
    return dataclasses.replace(config, consumer={**config.consumer,
                                                 "auto.offset.reset": "earliest"},
                               unset=config.unset - {"auto.offset.reset"})


def end_offsets(config: KafkaConfig, topic: str,
                timeout: float = OFFSETS_TIMEOUT) -> dict[int, int]:
    """The end offset of each partition of ``topic`` that holds messages now.

    Raises:
        BrokerError: the broker cannot be reached or has no such topic.
    """
    settings: dict[str, object] = {**config.consumer_settings(f"openmsi-ends-{uuid.uuid4()}")}
    consumer = Consumer(with_logger(settings))
    try:
        info = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise BrokerError(f"topic {topic!r} does not exist on the broker: check its name")
        ends = {}
        for partition in info.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                       timeout=timeout)
            if high > low:
                ends[partition] = high
        return ends
    except KafkaException as exc:
        raise BrokerError(f"cannot read the offsets of {topic!r} ({exc}): check that the "
                          "broker is running") from exc
    finally:
        consumer.close()


class Reprocess:
    """Run a processor over everything on a topic now, then end.

    Args:
        config: the broker.
        topic: the topic to read from its oldest message.
        spec: the processor (and results topic).
        data_dir: where the private area goes.
        bus: where events go.
        registry: where processing state is kept.
        name: the job's name in events and logs.
        group: the consumer group (default: a fresh one).
        stop_when_done: stop the job by itself once everything is processed.
        wanted: take only files whose relative path this matches from its start (the
            destination's download filter; None: every file). The others are read
            past and counted, as a download skips them.

    Its private area is removed when it stops: a run stopped before its end is not resumed.
    """

    def __init__(self, config: KafkaConfig, topic: str, spec: ProcessorSpec, data_dir: Path,
                 bus: EventBus, registry: Registry, name: str = "reprocess",
                 group: str | None = None, stop_when_done: bool = False,
                 wanted: re.Pattern[str] | None = None) -> None:
        self.group = group or reprocess_group()
        self._stop_when_done = stop_when_done
        self._stopped = threading.Lock()  # held once the job is stopped
        self.topic = topic
        self.name = name
        self._config = from_oldest(config)
        self.area = private_area(data_dir, "reprocess", topic, self.group)
        self.job = DownloadJob(self._config, topic, self.area, bus, registry,
                               group_id=self.group, name=name,
                               processing=ProcessingOptions(spec, private=True),
                               wanted=wanted)
        self.done = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ends: dict[int, int] = {}

    @property
    def stage(self) -> ProcessingStage:
        """The job's processing stage."""
        stage = self.job.downloader.processing
        assert stage is not None
        return stage

    def start(self) -> None:
        """Read the topic's end offsets, then start the job and the watch for its end.

        Raises:
            BrokerError: the broker cannot be reached or has no such topic.
        """
        self._ends = end_offsets(self._config, self.topic)
        log.info("%s: processing again every file on topic %s (%d messages) as group %s",
                 self.name, self.topic, sum(self._ends.values()), self.group)
        self.job.start()
        self._thread = threading.Thread(target=self._watch, name=f"{self.name}-watch",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the job and remove its private area."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
            self._thread = None
        self._stop_job()
        # Finished, it is empty; stopped early, what it holds is not resumed.
        shutil.rmtree(self.area, ignore_errors=True)

    def _stop_job(self) -> None:
        if self._stopped.acquire(blocking=False):
            self.job.stop()

    def finished(self) -> bool:
        """Whether everything up to the ends seen at the start was read and processed."""
        downloader = self.job.downloader
        try:
            offsets = downloader.next_offsets
        except RuntimeError:  # changed while copied (the consume thread owns it)
            return False
        read_all = all(offsets.get(p, 0) >= end for p, end in self._ends.items())
        return read_all and downloader.pending == 0 and self.stage.pending == 0

    def _watch(self) -> None:
        quiet_since: float | None = None
        while not self._stopping.wait(0.2):
            if self.job.error is not None:
                return
            if not self.finished():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_SECONDS:
                log.info("%s: every file on topic %s was processed again (%d ok, %d failed)",
                         self.name, self.topic, self.stage.processed, self.stage.failed)
                self.done.set()
                if self._stop_when_done:
                    self._stop_job()
                return
