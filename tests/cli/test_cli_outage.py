"""`openmsi watch` and `download` while the broker is away: one plain line, and a clean stop.

Each test has a broker of its own, killed (as a crash would) under the running
command; figures (how soon, how many lines, how fast it stops) are printed by
``benchmarks/outage.py``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import Running
from helpers import wait_until

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

UNREACHABLE = "Cannot reach the broker at"


def test_watch_says_once_that_the_broker_is_away_and_stops_at_once(
        own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    config = KafkaConfig.for_bootstrap(own_broker.bootstrap_servers)
    admin.create_topic(config, "outage", 1)
    folder = tmp_path / "instrument"
    folder.mkdir()
    watch = Running(["watch", str(folder), "--bootstrap-servers", own_broker.bootstrap_servers,
                     "--topic", "outage", "--stable-seconds", "0.2"], tmp_path / "data")
    try:
        watch.wait_for("watching")
        (folder / "before.bin").write_bytes(os.urandom(100_000))
        watch.wait_for("sent before.bin")
        own_broker.kill()
        (folder / "during.bin").write_bytes(os.urandom(100_000))
        watch.wait_for(UNREACHABLE)
        time.sleep(3)  # librdkafka retries all along; it is not told again
        assert watch.count(UNREACHABLE) == 1
        assert watch.count(f"watch: {UNREACHABLE}") == 1  # named (the demo runs two jobs)
        # librdkafka's own lines are not on stderr; its words are, once, in our outage line
        # (the log file and the log topic get it too)
        assert not [line for line in watch.lines if line.startswith("%")], watch.lines
        rdkafka = [line for line in watch.lines if "Connect to ipv4" in line]
        assert len(rdkafka) == 1, watch.lines
        assert "watch: broker unreachable: " in rdkafka[0]
        code = watch.stop()
    finally:
        watch.close()
    assert code == 0, watch.lines
    # What was not acknowledged is told as waiting for the next start, not as a failure.
    assert not [line for line in watch.lines if "FAILED" in line], watch.lines
    # Said once per file, in the technician's words (not as a count of chunks).
    assert not [line for line in watch.lines if "chunks were not" in line], watch.lines
    assert watch.count("waiting during.bin: not acknowledged before stopping") == 1, watch.lines


def test_download_stops_at_once_while_the_broker_is_away(
        own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    config = KafkaConfig.for_bootstrap(own_broker.bootstrap_servers)
    admin.create_topic(config, "outage", 2)
    download = Running(["download", str(tmp_path / "in"), "--bootstrap-servers",
                        own_broker.bootstrap_servers, "--topic", "outage"], tmp_path / "data")
    try:
        download.wait_for("receiving from topic")
        own_broker.kill()
        download.wait_for(UNREACHABLE)
        code = download.stop()
    finally:
        download.close()
    assert code == 0, download.lines
    assert download.count(UNREACHABLE) == 1


@pytest.mark.parametrize("command", ["watch", "download"])
def test_a_stop_while_the_broker_is_away_from_the_start_exits_0_without_librdkafka_lines(
        command: str, tmp_path: Path) -> None:
    """Started before the broker is up (a lab PC booting), it stops at once when told to."""
    from openmsi_gui.engine.broker import free_port

    servers = f"127.0.0.1:{free_port()}"  # nothing listens there
    folder = tmp_path / "folder"
    folder.mkdir()
    running = Running([command, str(folder), "--bootstrap-servers", servers, "--topic", "t",
                       *(["--no-receipts"] if command == "download" else [])],
                      tmp_path / "data")
    try:
        time.sleep(2)  # connecting
        code = running.stop()
    finally:
        running.close()
    assert code == 0, running.lines
    assert not [line for line in running.lines if line.startswith("%") or "rdkafka" in line
                or "Failed to get metadata" in line], running.lines


def test_a_download_started_before_its_topic_exists_waits_for_it(
        own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    """As a destination in the app: it says so, and starts within seconds once it is made."""
    from helpers import chunks_of, produce_chunks

    config = KafkaConfig.for_bootstrap(own_broker.bootstrap_servers)
    download = Running(["download", str(tmp_path / "in"), "--bootstrap-servers",
                        own_broker.bootstrap_servers, "--topic", "later", "--no-receipts"],
                       tmp_path / "data")
    try:
        download.wait_for("Waiting for topic later to be created")
        admin.create_topic(config, "later", 1)
        produce_chunks(config, "later", chunks_of(b"hello", "hello.txt"))
        wait_until((tmp_path / "in" / "hello.txt").exists, timeout=30, message="hello.txt")
        code = download.stop()
    finally:
        download.close()
    assert code == 0, download.lines
    assert download.count("Waiting for topic later to be created") == 1
