"""Heartbeats and log messages of real jobs on a real broker: OpenMSIStream's format, and ours."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Message
from helpers import wait_until

from openmsi_gui import __version__
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.heartbeats import JobReporting, ReportTarget
from openmsi_gui.engine.jobs import DownloadJob, WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_wire import (
    Heartbeat,
    LogBatch,
    ReportedState,
    ReportKind,
    decode_heartbeat,
    decode_log,
)
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.topic_reader import read_topic

SENDER_FIELDS = {"n_messages_produced", "n_bytes_produced"}
RECEIVER_FIELDS = {"n_messages_read", "n_bytes_read", "n_messages_processed",
                   "n_bytes_processed"}


def raw_values(config: KafkaConfig, topic: str) -> list[tuple[str, dict[str, object]]]:
    """Every message of ``topic``: its key (text) and its JSON value."""
    found: list[tuple[str, dict[str, object]]] = []

    def handle(message: Message) -> None:
        key = message.key()
        value = message.value()
        assert isinstance(key, bytes)
        assert isinstance(value, bytes)
        found.append((key.decode(), json.loads(value)))

    read_topic(config, topic, handle)
    return found


def beats(config: KafkaConfig, topic: str) -> list[Heartbeat]:
    return [b for key, value in raw_values(config, topic)
            if (b := decode_heartbeat(key, json.dumps(value).encode())) is not None]


def check_openmsistream_shape(value: dict[str, object], counters: set[str]) -> None:
    """The fields OpenMSIStream's heartbeats have, with its types."""
    stamp = value["timestamp"]
    assert isinstance(stamp, str)
    assert stamp.endswith("+00:00")
    assert dt.datetime.fromisoformat(stamp).tzinfo is not None
    for name in counters:
        assert type(value[name]) is int, name


def test_a_watch_job_beats_with_openmsistream_counters_and_ours(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path) -> None:
    data_topic, beat_topic, log_topic = make_topic(1), make_topic(1), make_topic(1)
    folder = tmp_path / "outbox"
    folder.mkdir()
    target = ReportTarget(heartbeat_topic=beat_topic, heartbeat_program_id="pc1_watch",
                          heartbeat_interval=0.3, log_topic=log_topic,
                          log_program_id="pc1_watch", log_interval=0.3, host="pc1")
    options = WatchOptions(topic=data_topic, stable_seconds=0.2, chunk_size=1024,
                           reporting=JobReporting(target, "outbox", "abc123"))
    registry = Registry(tmp_path / "registry.sqlite3")
    job = WatchJob(kafka_config, folder, options, EventBus(), registry, name="folder:x")
    job.start()
    try:
        (folder / "a.bin").write_bytes(b"a" * 5000)  # 5 chunks
        (folder / "b.bin").write_bytes(b"b" * 100)
        logging.getLogger("openmsi_gui.test").warning("a warning for the log topic")
        wait_until(lambda: any(b.totals is not None and b.totals.files == 2
                               for b in beats(kafka_config, beat_topic)),
                   timeout=20, message="a beat counting both files")
    finally:
        job.stop()
        registry.close()
    values = [v for _k, v in raw_values(kafka_config, beat_topic)]
    keys = {k for k, _v in raw_values(kafka_config, beat_topic)}
    assert keys == {"pc1_watch_heartbeat"}
    for value in values:
        check_openmsistream_shape(value, SENDER_FIELDS)
        assert not RECEIVER_FIELDS & value.keys()  # a sender's beat, as OpenMSIStream's
    got = beats(kafka_config, beat_topic)
    last = got[-1]
    assert last.totals is not None
    assert last.totals.messages_produced == 6
    # since-previous counters: their sum is the total
    assert sum(b.delta.messages_produced for b in got) == last.totals.messages_produced
    assert sum(b.delta.bytes_produced for b in got) == last.totals.bytes_produced
    assert sum(b.delta.files for b in got) == 2
    assert last.totals.bytes_produced > 5100  # the messages' values: chunks and their fields
    assert last.is_ours
    assert last.app_version == __version__
    assert (last.host, last.kind, last.job) == ("pc1", ReportKind.WATCH, "outbox")
    assert last.interval == 0.3
    assert last.config_fingerprint == "abc123"
    assert last.state in (ReportedState.IDLE, ReportedState.WORKING)
    assert not last.problem
    assert last.files_waiting == 0
    assert last.files_failed == 0
    assert last.last_file in ("a.bin", "b.bin")
    assert last.last_file_time is not None
    assert last.folder == str(folder.resolve())
    assert last.free_bytes
    assert last.free_bytes > 0
    assert last.log_program_id == "pc1_watch"
    assert last.started is not None
    logs = [b for k, v in raw_values(kafka_config, log_topic)
            if (b := decode_log(k, json.dumps(v).encode())) is not None]
    assert any("a warning for the log topic" in line for b in logs for line in b.messages)
    assert all(b.program_id == "pc1_watch" and b.host == "pc1" for b in logs)
    assert all(isinstance(v["timestamp"], float) for _k, v in raw_values(kafka_config,
                                                                             log_topic))


def test_a_download_job_beats_as_a_receiver(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path) -> None:
    data_topic, beat_topic = make_topic(1), make_topic(1)
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    outbox.mkdir()
    registry = Registry(tmp_path / "registry.sqlite3")
    sender = WatchJob(kafka_config, outbox, WatchOptions(topic=data_topic, stable_seconds=0.2,
                                                         chunk_size=1024, upload_existing=True),
                      EventBus(), registry, name="send")
    (outbox / "c.bin").write_bytes(b"c" * 3000)  # 3 chunks
    target = ReportTarget(heartbeat_topic=beat_topic, heartbeat_program_id="pc2_download",
                          heartbeat_interval=0.3, host="pc2")
    job = DownloadJob(kafka_config, data_topic, inbox, EventBus(), registry, name="dest:y",
                      reporting=JobReporting(target, "inbox"))
    sender.start()
    job.start()
    try:
        wait_until((inbox / "c.bin").exists, timeout=20, message="the file")
    finally:
        sender.stop()
        job.stop()
        registry.close()
    values = [v for _k, v in raw_values(kafka_config, beat_topic)]
    for value in values:
        check_openmsistream_shape(value, RECEIVER_FIELDS)
        assert not SENDER_FIELDS & value.keys()
    got = beats(kafka_config, beat_topic)
    last = got[-1]  # the final beat, made at stop
    assert last.totals is not None
    assert (last.totals.messages_read, last.totals.messages_processed, last.totals.files) == (
        3, 3, 1)
    assert sum(b.delta.bytes_read for b in got) == last.totals.bytes_read > 3000
    assert sum(b.delta.messages_processed for b in got) == 3
    assert last.kind is ReportKind.DOWNLOAD
    assert last.job == "inbox"
    assert last.last_file == "c.bin"
    assert last.folder == str(inbox.resolve())
    assert last.log_program_id == ""  # no log topic


@pytest.mark.parametrize("section", ["heartbeat"])
def test_a_heartbeat_section_naming_another_broker_is_used(
        kafka_config: KafkaConfig, own_broker: object, make_topic: Callable[..., str],
        tmp_path: Path, section: str) -> None:
    from openmsi_gui.engine import admin
    from openmsi_gui.engine.broker import EmbeddedBroker
    from openmsi_gui.engine.heartbeats import separate_config

    assert isinstance(own_broker, EmbeddedBroker)
    other = KafkaConfig.for_bootstrap(own_broker.bootstrap_servers)
    admin.create_topic(other, "lab-beats", 1)
    data_topic = make_topic(1)
    config = KafkaConfig(broker=dict(kafka_config.broker),
                         sections={section: {"bootstrap.servers": own_broker.bootstrap_servers}})
    target = ReportTarget(heartbeat_topic="lab-beats", heartbeat_program_id="pc3_watch",
                          heartbeat_interval=0.2, host="pc3",
                          heartbeat_config=separate_config(config, section))
    folder = tmp_path / "outbox"
    folder.mkdir()
    registry = Registry(tmp_path / "registry.sqlite3")
    job = WatchJob(config, folder, WatchOptions(topic=data_topic,
                                                reporting=JobReporting(target, "outbox")),
                   EventBus(), registry, name="watch")
    job.start()
    try:
        wait_until(lambda: beats(other, "lab-beats"), timeout=20, message="a beat there")
    finally:
        job.stop()
        registry.close()
    assert {b.program_id for b in beats(other, "lab-beats")} == {"pc3_watch"}


def log_batches(config: KafkaConfig, topic: str) -> list[LogBatch]:
    return [b for k, v in raw_values(config, topic)
            if (b := decode_log(k, json.dumps(v).encode())) is not None]


def test_librdkafkas_words_of_an_outage_reach_the_log_topic_once_the_broker_is_back(
        own_broker: object, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The broker killed and started again under a job (its memory topics made again).

    The line saying it is back is INFO (marked for the log topic): the command line and
    the app log at INFO, as this test does.
    """
    caplog.set_level(logging.INFO)
    from helpers import Recorder

    from openmsi_gui.engine import admin
    from openmsi_gui.engine.broker import EmbeddedBroker
    from openmsi_gui.engine.events import ConnectionState, ConnectionStatus

    assert isinstance(own_broker, EmbeddedBroker)
    config = KafkaConfig.for_bootstrap(own_broker.bootstrap_servers)

    def make_topics() -> None:
        for name in ("data", "lab"):
            admin.create_topic(config, name, 1)

    make_topics()
    folder = tmp_path / "outbox"
    folder.mkdir()
    target = ReportTarget(heartbeat_topic="lab", heartbeat_program_id="pc5_watch",
                          heartbeat_interval=0.5, log_topic="lab", log_program_id="pc5",
                          log_interval=0.5, host="pc5")
    bus, recorder = EventBus(), Recorder()
    bus.subscribe(recorder)
    registry = Registry(tmp_path / "registry.sqlite3")
    job = WatchJob(config, folder, WatchOptions(topic="data",
                                                reporting=JobReporting(target, "outbox")),
                   bus, registry, name="watch")
    job.start()

    def lines() -> list[str]:
        return [line for batch in log_batches(config, "lab") for line in batch.messages]

    try:
        wait_until(lambda: beats(config, "lab"), timeout=20, message="a first beat")
        own_broker.kill()
        wait_until(lambda: any(isinstance(e, ConnectionState) and
                               e.status is ConnectionStatus.UNREACHABLE
                               for e in recorder.events), timeout=30, message="the outage")
        own_broker.start()
        make_topics()
        wait_until(lambda: any("reachable again" in line for line in lines()), timeout=30,
                   message="the outage's lines on the log topic")
        found = lines()
    finally:
        job.stop()
        registry.close()
    outage = [line for line in found if "broker unreachable: " in line]
    assert len(outage) == 1, found  # once per outage, not once per retry
    assert "WARNING openmsi_gui.engine.link: watch: broker unreachable: " in outage[0]
    assert any(words in outage[0] for words in ("Connection refused", "brokers are down",
                                                "Disconnected")), outage[0]
