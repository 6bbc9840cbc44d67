"""`openmsi watch|download --heartbeat-topic ... --log-topic ...`: the lab overview's flags."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

from cli_helpers import background, read_until, run, stop_gracefully, write_config
from confluent_kafka import Message
from helpers import wait_until

from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_wire import ReportKind, decode_heartbeat
from openmsi_gui.engine.topic_reader import read_topic


def messages(config: KafkaConfig, topic: str) -> list[tuple[bytes, bytes]]:
    found: list[tuple[bytes, bytes]] = []

    def handle(message: Message) -> None:
        key, value = message.key(), message.value()
        assert isinstance(key, bytes)
        assert isinstance(value, bytes)
        found.append((key, value))

    read_topic(config, topic, handle)
    return found


def test_watch_beats_with_openmsistreams_spellings_and_a_default_program_id(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path) -> None:
    data, beats, logs = make_topic(1), make_topic(1), make_topic(1)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    config = write_config(tmp_path / "lab.config", kafka_config.bootstrap_servers)
    with background(["watch", str(src), "--config", str(config), "--topic", data,
                     "--upload-existing", "--stable-seconds", "0.2",
                     "--heartbeat_topic_name", beats, "--heartbeat_interval_secs", "1",
                     "--log_topic_name", logs, "--log_interval_secs", "1"],
                    tmp_path / "state") as proc:
        read_until(proc, "sent a.txt")
        wait_until(lambda: len(messages(kafka_config, beats)) >= 2, timeout=20,
                   message="two heartbeats")
        code, _seconds = stop_gracefully(proc)
        output = proc.stdout.read() if proc.stdout else ""
    assert code == 0, output
    host = socket.gethostname().split(".")[0]
    got = [decode_heartbeat(k, v) for k, v in messages(kafka_config, beats)]
    assert {k for k, _v in messages(kafka_config, beats)} == {f"{host}_watch_heartbeat".encode()}
    last = got[-1]
    assert last is not None
    assert last.totals is not None
    assert last.kind is ReportKind.WATCH
    assert last.totals.files == 1
    assert sum(b.delta.messages_produced for b in got if b) == last.totals.messages_produced == 1
    assert last.log_program_id == f"{host}_watch"
    assert json.loads(messages(kafka_config, beats)[0][1])["interval_secs"] == 1.0


def test_bad_reporting_flags_are_refused_in_one_sentence(tmp_path: Path) -> None:
    result = run(["watch", str(tmp_path), "--bootstrap-servers", "localhost:1", "--topic", "t",
                  "--heartbeat-topic", "no spaces", "--heartbeat-interval", "0"], tmp_path)
    assert result.returncode == 2
    assert "heartbeat" in result.stderr
    assert "Traceback" not in result.stderr
