"""librdkafka's own errors reach the lab's log topic and the log (OpenMSIStream's issue #81).

A broker with persistent storage is killed under a running `openmsi watch` and
`openmsi download`, then started again on the same port: once it is back, each
job's log messages on the log topic hold the broker-unreachable warning in
librdkafka's own words (OpenMSIStream's programs only print those on their
console), and so does the command's output, which is its log as a service.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from cli_helpers import Running
from helpers import wait_until
from lab_helpers import Raw, read_raw

from openmsi_gui.engine import admin, lab_wire
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

UNREACHABLE = "Cannot reach the broker at"  # what the technician reads on the terminal
LOGGED = "broker unreachable"  # the warning in the log, followed by librdkafka's words


def _lines(found: list[Raw], program_id: str) -> list[str]:
    lines: list[str] = []
    for raw in found:
        batch = lab_wire.decode_log(raw.key, raw.value)
        if batch is not None and batch.program_id == program_id:
            lines += batch.messages
    return lines


def _told(lines: list[str]) -> list[str]:
    return [line for line in lines if LOGGED in line]


def test_librdkafkas_errors_while_the_broker_restarts_reach_the_log_topic_and_output(
        persistent_broker: EmbeddedBroker, tmp_path: Path) -> None:
    config = KafkaConfig.for_bootstrap(persistent_broker.bootstrap_servers)
    admin.create_topic(config, "data", 1)
    admin.create_topic(config, "lab-logs", 1)
    folder, inbox = tmp_path / "instrument", tmp_path / "inbox"
    folder.mkdir()
    common = ["--bootstrap-servers", persistent_broker.bootstrap_servers, "--topic", "data",
              "--log-topic", "lab-logs", "--log-interval", "1"]
    log_file = tmp_path / "watch.log"  # a service's log file (OpenMSIStream's --logger_file_path)
    watch = Running(["--log-file", str(log_file), "watch", str(folder), *common,
                     "--stable-seconds", "0.2", "--log-program-id", "pc1-watch"], tmp_path / "w")
    download = Running(["download", str(inbox), *common, "--no-receipts",
                        "--log-program-id", "pc1-download"], tmp_path / "d")
    try:
        watch.wait_for("watching")
        download.wait_for("receiving from topic")
        persistent_broker.kill()
        (folder / "during.bin").write_bytes(os.urandom(50_000))
        watch.wait_for(UNREACHABLE)
        download.wait_for(UNREACHABLE)
        persistent_broker.start()
        wait_until((inbox / "during.bin").exists, timeout=60, message="during.bin, once back")
        found = read_raw(config, ["lab-logs"], until=lambda found: all(
            _told(_lines(found, program)) for program in ("pc1-watch", "pc1-download")))
        watch_code, download_code = watch.stop(), download.stop()
    finally:
        watch.close()
        download.close()
    assert (watch_code, download_code) == (0, 0), watch.lines + download.lines
    for program in ("pc1-watch", "pc1-download"):
        told = _told(_lines(found, program))
        assert told, (program, _lines(found, program))
        # librdkafka's own words, not only ours
        assert any("Connection refused" in line or "Connect to" in line
                   or "brokers are down" in line for line in told), told
    # Run as a service, the command's output is its log (journald; launchd's log file):
    # the same warning, in librdkafka's words, is there once per outage.
    for running, program in ((watch, "pc1-watch"), (download, "pc1-download")):
        printed = [line for line in running.lines if LOGGED in line]
        assert len(printed) == 1, running.lines
        assert any(line.split(LOGGED, 1)[1] in printed[0]
                   for line in _told(_lines(found, program))), (printed, found)
    logged = [line for line in log_file.read_text(encoding="utf-8").splitlines()
              if LOGGED in line]
    assert len(logged) == 1, logged
    assert "Connection refused" in logged[0] or "brokers are down" in logged[0], logged
