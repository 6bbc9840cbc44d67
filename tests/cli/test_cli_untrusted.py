"""Names and keys from messages reach the terminal escaped: no control bytes, no forged lines."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from cli_helpers import background, stop_gracefully
from helpers import wait_until
from hostile_names import BAD_SHOWN, FORGED_SHOWN, ODD_NAMES, hidden_characters, produce_hostile

from openmsi_gui.engine.kafka_config import KafkaConfig


def test_download_shows_hostile_keys_and_names_escaped(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path) -> None:
    topic = make_topic(1)
    produce_hostile(kafka_config, topic)
    dest = tmp_path / "dest"
    with background(["download", str(dest), "--bootstrap-servers",
                     kafka_config.bootstrap_servers, "--topic", topic, "--group", "hostile"],
                    tmp_path / "state") as proc:
        wait_until((dest / "sentinel.txt").exists, message="the sentinel file")
        code, _ = stop_gracefully(proc, signal.SIGINT)
        output = proc.stdout.read() if proc.stdout else ""
    assert code == 0, output
    assert {p.name for p in dest.iterdir()} == {*ODD_NAMES, "sentinel.txt"}
    assert hidden_characters(output) == []
    assert FORGED_SHOWN in output
    assert not [line for line in output.splitlines() if line.startswith("FORGED")]
    assert BAD_SHOWN in output
    for shown in ODD_NAMES.values():
        assert f"received {shown}" in output, output
