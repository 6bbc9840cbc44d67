"""The app's jobs: librdkafka's own errors reach the log topic and the app's log file.

OpenMSIStream's issue #81: librdkafka's errors reach its console, not its log
file, and its log topic stays empty. Here the broker (persistent storage) is
killed under the app's watched folder and destination, reporting to the lab
overview, and started again on the same port: the broker-unreachable warning,
with librdkafka's words, is in the app's log file and, once the broker is back,
in the log topic. Their heartbeats carry OpenMSIStream's fields and JSON types.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Recorder, wait_until
from lab_helpers import RECEIVER_TYPES, SENDER_TYPES, read_raw, type_map

from openmsi_gui.app import logfiles
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.lab_settings import LabSettings
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.engine import admin, lab_wire
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.events import ConnectionState, ConnectionStatus
from openmsi_gui.engine.kafka_config import KafkaConfig

LOGGED = "broker unreachable"
LIBRDKAFKA = ("Connection refused", "Connect to", "brokers are down")


@pytest.fixture
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's log file, as the app sets it up, in the test's folder."""
    monkeypatch.setenv("OPENMSI_GUI_LOG_DIR", str(tmp_path / "logs"))
    root = logging.getLogger()
    level = root.level
    path = logfiles.setup_file_logging()
    try:
        yield path
    finally:
        logfiles.close_file_logging()
        root.setLevel(level)


def _told(config: KafkaConfig, topic: str, program_id: str) -> list[str]:
    lines = []
    for raw in read_raw(config, [topic], timeout=0.5):
        batch = lab_wire.decode_log(raw.key, raw.value)
        if batch is not None and batch.program_id == program_id:
            lines += [line for line in batch.messages if LOGGED in line]
    return lines


def test_librdkafkas_errors_reach_the_app_log_file_and_the_log_topic(
        persistent_broker: EmbeddedBroker, store: SettingsStore, controller: AppController,
        log_file: Path, recorder: Recorder, tmp_path: Path) -> None:
    config = KafkaConfig.for_bootstrap(persistent_broker.bootstrap_servers)
    admin.create_topic(config, "data", 1)
    admin.create_topic(config, "lab-logs", 1)
    admin.create_topic(config, "lab-beats", 1)
    profile = BrokerProfile(name="Lab", bootstrap_servers=persistent_broker.bootstrap_servers)
    settings = store.settings
    settings.profiles.append(profile)
    for name in ("outbox", "inbox"):
        (tmp_path / name).mkdir()
    settings.folders.append(WatchedFolder(path=str(tmp_path / "outbox"), profile_id=profile.id,
                                          topic="data", stable_seconds=0.2))
    settings.destinations.append(Destination(path=str(tmp_path / "inbox"),
                                             profile_id=profile.id, topic="data",
                                             group_id="lab-outage"))
    settings.lab = LabSettings(report=True, heartbeat_topic="lab-beats", log_topic="lab-logs",
                               program_name="labpc09", interval_secs=1.0)
    store.update(settings)
    controller.start().result(30)
    (tmp_path / "outbox" / "before.bin").write_bytes(b"b" * 5000)
    wait_until((tmp_path / "inbox" / "before.bin").exists, message="before.bin")

    def unreachable() -> set[str]:
        return {e.job for e in recorder.of(ConnectionState)
                if isinstance(e, ConnectionState) and e.status is ConnectionStatus.UNREACHABLE}

    persistent_broker.kill()
    (tmp_path / "outbox" / "during.bin").write_bytes(b"d" * 5000)
    wait_until(lambda: len(unreachable()) == 2, timeout=30, message="both jobs saying so")
    persistent_broker.start()
    wait_until((tmp_path / "inbox" / "during.bin").exists, timeout=60, message="during.bin")
    wait_until(lambda: _told(config, "lab-logs", "labpc09"), timeout=30,
               message="the warning on the log topic")
    told = _told(config, "lab-logs", "labpc09")
    assert any(word in line for line in told for word in LIBRDKAFKA), told
    written = [line for line in log_file.read_text(encoding="utf-8").splitlines()
               if LOGGED in line]
    assert written, log_file.read_text(encoding="utf-8")[-3000:]
    assert any(word in line for line in written for word in LIBRDKAFKA), written
    # The same words in both places.
    assert any(line.split(LOGGED, 1)[1] in text for line in told
               for text in written), (told, written)
    # The app's jobs beat as OpenMSIStream's programs do (fields and JSON types), outage or not.
    beats = read_raw(config, ["lab-beats"], timeout=1.0)
    for program, fields in (("labpc09_outbox", SENDER_TYPES), ("labpc09_inbox", RECEIVER_TYPES)):
        mine = [r for r in beats if r.key == lab_wire.heartbeat_key(program).encode()]
        assert mine, [r.key for r in beats]
        for raw in mine:
            assert {name: type_map(raw.json()).get(name) for name in fields} == fields
