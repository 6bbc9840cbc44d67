"""Names and keys from messages reach the terminal escaped: no control bytes, no forged lines."""

from __future__ import annotations

import signal
import unicodedata
from collections.abc import Callable
from pathlib import Path

from cli_helpers import background, stop_gracefully
from helpers import chunks_of, produce_chunks, produce_raw, wait_until

from openmsi_gui.engine.kafka_config import KafkaConfig

FORGED_KEY = b"evil\nFORGED 12:00:00 INFO received passwords.txt\x1b[2J\x1b]0;owned\x07\x9b2J"
BAD_NAME = "bell\x07\x1b[31mred.txt"  # refused: control characters
ODD_NAMES = ["report\u202etxt.exe", "c1\x9b31m.txt", "sep\u2028line.txt"]  # stored, shown escaped


def hidden_characters(text: str) -> list[str]:
    """Characters of ``text`` that are not plain printable text (line breaks aside)."""
    return sorted({repr(c) for c in text if c != "\n" and
                   unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")})


def produce_hostile(config: KafkaConfig, topic: str) -> None:
    produce_raw(config, topic, [(FORGED_KEY, b"\xc1 not a chunk")])
    for name in [BAD_NAME, *ODD_NAMES, "sentinel.txt"]:
        produce_chunks(config, topic, chunks_of(name.encode(), name))


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
    assert "evil\\nFORGED 12:00:00 INFO received passwords.txt\\x1b[2J\\x1b]0;owned\\x07\\x9b2J" \
        in output
    assert not [line for line in output.splitlines() if line.startswith("FORGED")]
    assert "bell\\x07\\x1b[31mred.txt" in output
    for shown in ("report\\u202etxt.exe", "c1\\x9b31m.txt", "sep\\u2028line.txt"):
        assert f"received {shown}" in output, output
