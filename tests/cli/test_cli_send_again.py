"""`openmsi send-again` (and `upload --again`) send a file the registry says was sent (issue 11)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cli_helpers import run
from confluent_kafka import Consumer, TopicPartition

from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig


def _messages(broker: EmbeddedBroker, topic: str, expected: int) -> int:
    """How many messages partitions 0..2 of ``topic`` hold, read until ``expected`` are in.

    Then one more second, for any beyond them (they are on the broker already).
    """
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    consumer = Consumer(config.consumer_settings("count") | {"enable.auto.commit": False})
    read = 0
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
        deadline = time.monotonic() + 30
        while read < expected and time.monotonic() < deadline:
            read += sum(m.error() is None for m in consumer.consume(100, timeout=0.2))
        read += sum(m.error() is None for m in consumer.consume(100, timeout=1))
    finally:
        consumer.close()
    return read


def test_send_again_sends_every_chunk_of_a_file_already_sent(
        broker: EmbeddedBroker, topic: str, tmp_path: Path) -> None:
    root = tmp_path / "instrument"
    (root / "run").mkdir(parents=True)
    (root / "run" / "scan.raw").write_bytes(os.urandom(3 * 1024))
    common = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", topic,
              "--chunk-size", "1024", "--root", str(root)]
    path = str(root / "run" / "scan.raw")
    first = run(["upload", path, *common], tmp_path / "state")
    assert first.returncode == 0, first.stderr
    assert "sent run/scan.raw" in first.stderr  # named as `openmsi watch ROOT` names it
    again = run(["upload", path, *common], tmp_path / "state")
    assert again.returncode == 0, again.stderr
    assert _messages(broker, topic, 3) == 3  # skipped: the same content was sent
    for command in (["send-again", path], ["upload", "--again", path]):
        result = run([*command, *common, "--stall-minutes", "1"], tmp_path / "state")
        assert result.returncode == 0, result.stderr
        assert "sent run/scan.raw" in result.stderr
    assert _messages(broker, topic, 9) == 9


def test_a_file_outside_root_and_a_bad_stall_time_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.raw").write_bytes(b"x")
    outside = run(["send-again", str(tmp_path / "a.raw"), "--bootstrap-servers", "h:1",
                   "--topic", "t", "--root", str(tmp_path / "elsewhere")], tmp_path)
    assert outside.returncode == 2
    assert "is not inside --root" in outside.stderr
    bad = run(["watch", str(tmp_path), "--bootstrap-servers", "h:1", "--topic", "t",
               "--stall-minutes", "0"], tmp_path)
    assert bad.returncode == 2
    assert "--stall-minutes: give minutes between 0.5 and 1440" in bad.stderr
