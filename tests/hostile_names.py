"""Message keys and file names that attack the terminal and the log (importable in tests)."""

from __future__ import annotations

import unicodedata

from helpers import chunks_of, produce_chunks, produce_raw

from openmsi_gui.engine.kafka_config import KafkaConfig

FORGED_KEY = b"evil\nFORGED 12:00:00 INFO received passwords.txt\x1b[2J\x1b]0;owned\x07\x9b2J"
FORGED_SHOWN = "evil\\nFORGED 12:00:00 INFO received passwords.txt\\x1b[2J\\x1b]0;owned\\x07\\x9b2J"
BAD_NAME = "bell\x07\x1b[31mred.txt"  # refused: control characters
BAD_SHOWN = "bell\\x07\\x1b[31mred.txt"
# Stored (no OS forbids them), but shown escaped: a bidi override, a C1 CSI, a line separator.
ODD_NAMES = {"report\u202etxt.exe": "report\\u202etxt.exe", "c1\x9b31m.txt": "c1\\x9b31m.txt",
             "sep\u2028line.txt": "sep\\u2028line.txt"}


def hidden_characters(text: str) -> list[str]:
    """Characters of ``text`` that are not plain printable text (line breaks aside)."""
    return sorted({repr(c) for c in text if c != "\n" and
                   unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")})


def produce_hostile(config: KafkaConfig, topic: str) -> None:
    """A forged key on a non-chunk, a refused name, the odd names, then ``sentinel.txt``."""
    produce_raw(config, topic, [(FORGED_KEY, b"\xc1 not a chunk")])
    for name in [BAD_NAME, *ODD_NAMES, "sentinel.txt"]:
        produce_chunks(config, topic, chunks_of(name.encode(), name))
