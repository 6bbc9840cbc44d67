"""Reporting to the lab overview from the app's jobs (Settings.lab), and its rules."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Message
from helpers import wait_until

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.lab_reporting import (
    app_job_reporting,
    interval_problem,
    job_part,
    lab_errors,
    program_id_problem,
)
from openmsi_gui.app.lab_settings import LabSettings
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.engine.heartbeats import host_name
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_wire import (
    Heartbeat,
    LogBatch,
    ReportKind,
    decode_heartbeat,
    decode_log,
)
from openmsi_gui.engine.topic_reader import read_topic


def read(config: KafkaConfig, topic: str) -> tuple[list[Heartbeat], list[LogBatch]]:
    beats: list[Heartbeat] = []
    logs: list[LogBatch] = []

    def handle(message: Message) -> None:
        if (beat := decode_heartbeat(message.key(), message.value())) is not None:
            beats.append(beat)
        elif (batch := decode_log(message.key(), message.value())) is not None:
            logs.append(batch)

    read_topic(config, topic, handle)
    return beats, logs


def test_every_job_of_the_app_beats_when_reporting_is_on(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path) -> None:
    data, lab_topic = make_topic(1), make_topic(1)
    settings = store.settings
    settings.profiles.append(broker_profile)
    for name in ("outbox", "inbox"):
        (tmp_path / name).mkdir()
    settings.folders.append(WatchedFolder(path=str(tmp_path / "outbox"),
                                          profile_id=broker_profile.id, topic=data,
                                          stable_seconds=0.2))
    settings.destinations.append(Destination(path=str(tmp_path / "inbox"),
                                             profile_id=broker_profile.id, topic=data,
                                             group_id=f"lab-{data}"))
    # one topic for both: what the Lab view reads when no log topic of its own is set
    settings.lab = LabSettings(report=True, heartbeat_topic=lab_topic, log_topic=lab_topic,
                               program_name="labpc07", interval_secs=1.0)
    store.update(settings)
    controller.start().result(30)
    (tmp_path / "outbox" / "scan.tif").write_bytes(b"x" * 2000)
    wait_until((tmp_path / "inbox" / "scan.tif").exists, message="the file")
    logging.getLogger("openmsi_gui.app.test").warning("the app warns the lab")

    def by_program() -> dict[str, Heartbeat]:
        return {b.program_id: b for b in read(kafka_config, lab_topic)[0]}

    wait_until(lambda: {b.totals.files if b.totals else 0 for b in by_program().values()}
               == {1}, timeout=20, message="both jobs beating with their file")
    beats = by_program()
    assert set(beats) == {"labpc07_outbox", "labpc07_inbox"}
    assert beats["labpc07_outbox"].kind is ReportKind.WATCH
    assert beats["labpc07_inbox"].kind is ReportKind.DOWNLOAD
    assert {b.job for b in beats.values()} == {"outbox", "inbox"}
    assert {b.log_program_id for b in beats.values()} == {"labpc07"}
    assert {b.interval for b in beats.values()} == {1.0}
    wait_until(lambda: any("the app warns the lab" in line
                           for batch in read(kafka_config, lab_topic)[1]
                           for line in batch.messages), timeout=10, message="the warning")
    logs = read(kafka_config, lab_topic)[1]
    assert {b.program_id for b in logs} == {"labpc07"}
    # Each line once, although two jobs ship the app's lines to that topic.
    lines = [line for b in logs for line in b.messages if "the app warns the lab" in line]
    assert len(lines) == 1


def test_reporting_off_builds_nothing_and_names_default_to_the_host() -> None:
    assert app_job_reporting(LabSettings(report=False), "inbox", "x", {}) is None
    report = app_job_reporting(LabSettings(report=True, heartbeat_topic="beats"),
                               "/data/raw inbox", "x", {"a": 1})
    assert report is not None
    assert report.target.heartbeat_program_id == f"{host_name()}_data_raw_inbox"
    assert report.target.log_program_id == host_name()
    assert report.fingerprint != app_job_reporting(
        LabSettings(report=True, heartbeat_topic="beats"), "inbox", "x", {"a": 2}
    ).fingerprint  # type: ignore[union-attr]
    assert job_part("∆∆", "fallback") == "fallback"


@pytest.mark.parametrize(("lab", "expected"), [
    (LabSettings(report=False, heartbeat_topic="bad topic"), []),
    (LabSettings(report=True), []),
    (LabSettings(report=True, heartbeat_topic=""), ["Choose or type a topic name."]),
    (LabSettings(report=True, log_topic="no spaces"), ["topic"]),
    (LabSettings(report=True, program_name="lab pc"), ["program name"]),
])
def test_lab_settings_rules(lab: LabSettings, expected: list[str]) -> None:
    errors = lab_errors(lab)
    assert len(errors) == len(expected)
    for error, word in zip(errors, expected, strict=True):
        assert word.lower() in error.lower()


def test_interval_and_program_rules() -> None:
    assert interval_problem(0.5) is not None
    assert interval_problem(60) is None
    assert program_id_problem("labpc01") is None
    assert program_id_problem("x" * 101) is not None
