"""Integration tests: a destination runs a processor on every file it stores (real broker).

One single-partition topic and one Downloader for the main scenario (a group
join costs seconds): two good files and one the command refuses; the refused
one is then retried once the command accepts it, and a stored file changed on
disk is retried and refused. Results are read back from the results topic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from helpers import Recorder, chunks_of, produce_chunks, wait_until
from processing_helpers import marker_command

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.download.flow import HoldReason, Hysteresis
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus, FileProcessed
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.processing.api import (
    FileToProcess,
    ProcessingResult,
    ProcessingState,
    ProcessorKind,
    ProcessorSpec,
    result_key,
)
from openmsi_gui.engine.processing.records import ProcessingBook
from openmsi_gui.engine.processing.stage import ProcessingOptions
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Location, S3Store, staging_dir

FILES = {"a.txt": b"alpha" * 100, "sub/b.bin": bytes(range(256)) * 20,
         "sub/bad.txt": b"refused at first"}
METADATA_TOPIC_SUFFIX = ".results"


def sha(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def read_results(config: KafkaConfig, topic: str, count: int) -> list[tuple[str, dict[str, Any]]]:
    """``(key, value)`` of the first ``count`` messages of ``topic``."""
    consumer = Consumer({**config.consumer_settings(f"r-{uuid.uuid4().hex[:8]}"),
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    found: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + 60
    try:
        while len(found) < count and time.monotonic() < deadline:
            for message in consumer.consume(10, timeout=0.5):
                if message.error() is None:
                    found.append((message.key().decode(), json.loads(message.value())))
    finally:
        consumer.close()
    return found


@dataclasses.dataclass
class Scenario:
    dest: Path
    markers: Path
    topic: str
    results: list[tuple[str, dict[str, Any]]]
    states: dict[str, ProcessingState]
    reasons: dict[str, str]
    outputs: dict[str, str]
    events: list[FileProcessed]
    retry_problems: list[str | None]


def new_topic(config: KafkaConfig) -> str:
    topic = f"t-{uuid.uuid4().hex[:12]}"
    admin.create_topic(config, topic, 1)
    return topic


def downloader_for(config: KafkaConfig, topic: str, dest: Path, registry: Registry,
                   options: ProcessingOptions, bus: EventBus | None = None,
                   group: str = "") -> Downloader:
    return Downloader(config, topic, dest, bus or EventBus(), registry,
                      group_id=group or f"p-{uuid.uuid4().hex[:8]}", processing=options)


@pytest.fixture(scope="module")
def scenario(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    topic = new_topic(config)
    root = tmp_path_factory.mktemp("processing")
    dest, markers = root / "inbox", root / "markers"
    registry = Registry(root / "registry.sqlite3")
    spec = ProcessorSpec(ProcessorKind.COMMAND, marker_command(markers), timeout=30,
                         results_topic=topic + METADATA_TOPIC_SUFFIX)
    bus = EventBus()
    recorder = Recorder()
    bus.subscribe(recorder)
    produce_chunks(config, topic, [c for relpath, data in FILES.items()
                                   for c in chunks_of(data, relpath)])
    down = downloader_for(config, topic, dest, registry,
                          ProcessingOptions(spec), bus)
    down.start()
    problems: list[str | None] = []
    try:
        stage = down.processing
        assert stage is not None
        wait_until(lambda: stage.processed + stage.failed == len(FILES) or down.error,
                   timeout=60, message="every file processed")
        assert down.files_received == len(FILES)
        (markers / "allow-bad").touch()
        problems.append(stage.retry("sub/bad.txt", sha(FILES["sub/bad.txt"])))
        wait_until(lambda: stage.processed == len(FILES), message="the retry")
        (dest / "a.txt").write_bytes(b"changed")
        problems.append(stage.retry("a.txt", sha(FILES["a.txt"])))
        problems.append(stage.retry("nothing.txt", sha(b"")))
        wait_until(lambda: stage.failed == 2, message="the refused retry")
        results = read_results(config, spec.results_topic, len(FILES) + 2)
    finally:
        down.stop()
    assert down.error is None
    book = ProcessingBook(registry)
    records = {r: book.find(topic, str(dest.resolve()), r, sha(d)) for r, d in FILES.items()}
    registry.close()
    return Scenario(dest, markers, topic, results,
                    {r: rec.state for r, rec in records.items() if rec},
                    {r: rec.reason for r, rec in records.items() if rec},
                    {r: rec.output for r, rec in records.items() if rec},
                    [e for e in recorder.of(FileProcessed) if isinstance(e, FileProcessed)],
                    problems)


def test_every_stored_file_is_processed(scenario: Scenario) -> None:
    for relpath in ("sub/b.bin", "sub/bad.txt"):
        assert (scenario.markers / relpath.replace("/", "_")).read_bytes() == FILES[relpath]
        assert scenario.states[relpath] is ProcessingState.OK


def test_a_failing_command_fails_processing_not_the_download(scenario: Scenario) -> None:
    assert (scenario.dest / "sub/bad.txt").read_bytes() == FILES["sub/bad.txt"]
    failed = [e for e in scenario.events if e.relpath == "sub/bad.txt"
              and e.state is ProcessingState.FAILED]
    assert failed
    assert "exited with code 3" in failed[0].reason
    assert "refusing sub/bad.txt" in failed[0].output


def test_retry_runs_again_once_the_file_matches(scenario: Scenario) -> None:
    assert scenario.retry_problems[0] is None
    assert scenario.states["sub/bad.txt"] is ProcessingState.OK


def test_retry_refuses_a_file_changed_on_disk(scenario: Scenario) -> None:
    assert scenario.retry_problems[1] is None  # queued; refused by the SHA-512 check
    assert scenario.states["a.txt"] is ProcessingState.FAILED
    assert "changed since it was received" in scenario.reasons["a.txt"]
    assert scenario.retry_problems[2] == "nothing.txt was not processed at this destination"


def test_results_topic_messages_field_by_field(scenario: Scenario) -> None:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for key, value in scenario.results:
        by_key.setdefault(key, []).append(value)
    assert set(by_key) == {result_key(r) for r in FILES}
    first = by_key["sub_b.bin_chunk_processing_result"][0]
    data = FILES["sub/b.bin"]
    assert first["relpath"] == "sub/b.bin"
    assert first["sha512"] == sha(data).hex()
    assert first["size"] == len(data)
    assert first["status"] == "ok"
    assert "reason" not in first
    assert first["result"] == {"bytes": len(data), "relpath": "sub/b.bin"}
    assert first["processor"] == Path(sys.executable).name  # the program's file name
    assert first["processor_version"] == ""
    assert first["topic"] == scenario.topic
    assert first["metadata"] == {}
    assert dt.datetime.fromisoformat(first["time"]).utcoffset() == dt.timedelta(0)
    assert first["destination"] == str(scenario.dest.resolve())
    assert first["host"] == socket.gethostname()
    bad = by_key["sub_bad.txt_chunk_processing_result"]
    assert [v["status"] for v in bad] == ["failed", "ok"]
    assert bad[0]["reason"].startswith("The command exited with code 3")
    assert bad[0]["result"] is None


def slow_runner(delay: float) -> Any:
    def run(spec: ProcessorSpec, file: FileToProcess, stop: threading.Event
            ) -> ProcessingResult:
        stop.wait(delay)
        return ProcessingResult.success({"relpath": file.relpath})
    return run


def test_a_slow_processor_pauses_the_consumer_and_loses_nothing(
        kafka_config: KafkaConfig, tmp_path: Path, registry: Registry) -> None:
    topic = new_topic(kafka_config)
    files = {f"f{i:02d}.txt": f"file {i}".encode() for i in range(10)}
    produce_chunks(kafka_config, topic, [c for r, d in files.items() for c in chunks_of(d, r)])
    options = ProcessingOptions(ProcessorSpec(ProcessorKind.COMMAND, "true"), workers=1,
                                backlog=Hysteresis(2, 1), runner=slow_runner(0.15))
    down = downloader_for(kafka_config, topic, tmp_path / "inbox", registry, options)
    held: list[bool] = []
    down.start()
    try:
        stage = down.processing
        assert stage is not None
        def done() -> bool:
            held.append(down._flow.holds(HoldReason.PROCESSING))
            return stage.processed == len(files) or down.error is not None
        wait_until(done, timeout=60, message="every file processed")
        wait_until(lambda: not down._flow.holds(HoldReason.PROCESSING), message="resumed")
    finally:
        down.stop()
    assert down.error is None
    assert True in held
    book = ProcessingBook(registry)
    dest = str((tmp_path / "inbox").resolve())
    assert all(book.find(topic, dest, r, sha(d)).state is ProcessingState.OK  # type: ignore[union-attr]
               for r, d in files.items())


def hang_until_stopped(spec: ProcessorSpec, file: FileToProcess,
                       stop: threading.Event) -> ProcessingResult:
    stop.wait(60)
    return ProcessingResult.failure("stopped")


def test_files_pending_at_a_stop_are_processed_after_the_restart(
        kafka_config: KafkaConfig, tmp_path: Path, registry: Registry) -> None:
    topic = new_topic(kafka_config)
    files = {f"r{i}.txt": f"restart {i}".encode() for i in range(4)}
    produce_chunks(kafka_config, topic, [c for r, d in files.items() for c in chunks_of(d, r)])
    group = f"p-{uuid.uuid4().hex[:8]}"
    dest = tmp_path / "inbox"
    spec = ProcessorSpec(ProcessorKind.COMMAND, marker_command(tmp_path / "markers"))
    first = downloader_for(kafka_config, topic, dest, registry,
                           ProcessingOptions(spec, runner=hang_until_stopped), group=group)
    first.start()
    try:
        wait_until(lambda: first.files_received == len(files) or first.error, timeout=60,
                   message="every file stored")
    finally:
        first.stop()
    book = ProcessingBook(registry)
    label = str(dest.resolve())
    states = {r: book.find(topic, label, r, sha(d)).state  # type: ignore[union-attr]
              for r, d in files.items()}
    assert set(states.values()) <= {ProcessingState.PENDING, ProcessingState.RUNNING}
    second = downloader_for(kafka_config, topic, dest, registry,
                            ProcessingOptions(spec), group=group)
    second.start()
    try:
        stage = second.processing
        assert stage is not None
        wait_until(lambda: stage.processed == len(files) or second.error, timeout=60,
                   message="processed after the restart")
    finally:
        second.stop()
    assert second.files_received == 0  # nothing read again: the offsets were committed
    for relpath, data in files.items():
        assert (tmp_path / "markers" / relpath).read_bytes() == data


def test_processing_only_keeps_nothing_but_results(
        kafka_config: KafkaConfig, tmp_path: Path, registry: Registry) -> None:
    topic = new_topic(kafka_config)
    files = {"x/y/one.txt": b"one", "two.txt": b"two", "x/bad.txt": b"bad"}
    produce_chunks(kafka_config, topic, [c for r, d in files.items() for c in chunks_of(d, r)])
    private = tmp_path / "private"
    spec = ProcessorSpec(ProcessorKind.COMMAND, marker_command(tmp_path / "markers"))
    group = f"p-{uuid.uuid4().hex[:8]}"
    down = downloader_for(kafka_config, topic, private, registry,
                          ProcessingOptions(spec, private=True), group=group)
    down.start()
    try:
        stage = down.processing
        assert stage is not None
        wait_until(lambda: stage.processed + stage.failed == len(files) or down.error,
                   timeout=60, message="every file processed")
    finally:
        down.stop()
    assert list(private.rglob("*")) == []
    assert (tmp_path / "markers" / "x_y_one.txt").read_bytes() == b"one"
    book = ProcessingBook(registry)
    failed = book.find(topic, str(private.resolve()), "x/bad.txt", sha(b"bad"))
    assert failed is not None
    assert failed.state is ProcessingState.FAILED
    # --retry-failed cannot run it again (it was removed): its failure stays as it was.
    again = downloader_for(kafka_config, topic, private, registry,
                           ProcessingOptions(spec, private=True, retry_failed=True), group=group)
    again.start()
    again.stop()
    assert book.find(topic, str(private.resolve()), "x/bad.txt", sha(b"bad")) == failed


def test_an_s3_destination_processes_the_staged_copy_then_removes_it(
        kafka_config: KafkaConfig, tmp_path: Path, registry: Registry,
        s3_location: S3Location) -> None:
    topic = new_topic(kafka_config)
    files = {"run/s.txt": b"to the bucket", "t.txt": b"also"}
    produce_chunks(kafka_config, topic, [c for r, d in files.items() for c in chunks_of(d, r)])
    markers = tmp_path / "markers"
    store = S3Store(s3_location, topic)
    staging = staging_dir(s3_location, topic, tmp_path / "data")
    down = Downloader(kafka_config, topic, staging, EventBus(), registry,
                      group_id=f"p-{uuid.uuid4().hex[:8]}", store=store,
                      processing=ProcessingOptions(ProcessorSpec(
                          ProcessorKind.COMMAND, marker_command(markers))))
    down.start()
    try:
        stage = down.processing
        assert stage is not None
        wait_until(lambda: stage.processed == len(files) or down.error, timeout=60,
                   message="every file processed")
        wait_until(lambda: [p for p in staging.rglob("*")] == [], message="staging emptied")
    finally:
        down.stop()
    for relpath, data in files.items():
        assert (markers / relpath.replace("/", "_")).read_bytes() == data
        assert store.exists(relpath, len(data), sha(data))
