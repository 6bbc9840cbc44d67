"""Processors for processing tests: a command template that writes markers; results read."""

from __future__ import annotations

import json
import shlex
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig

MARKER_SCRIPT = """
import json, pathlib, sys, time
path, relpath, markers = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
time.sleep(delay)
if "bad" in relpath and not (markers / "allow-bad").exists():
    print("refusing", relpath, file=sys.stderr)
    sys.exit(3)
(markers / relpath.replace("/", "_")).write_bytes(path.read_bytes())
print(json.dumps({"bytes": path.stat().st_size, "relpath": relpath}))
"""


def marker_command(markers: Path, delay: float = 0.0) -> str:
    """A command template that copies each file into ``markers`` (named by its relpath).

    It fails (exit 3) on paths containing "bad" until ``markers/allow-bad`` exists,
    and prints one JSON object: its result.
    """
    script = markers / "marker.py"
    markers.mkdir(parents=True, exist_ok=True)
    script.write_text(MARKER_SCRIPT, encoding="utf-8")
    args = [sys.executable, str(script), "{path}", "{relpath}", str(markers), str(delay)]
    return shlex.join(args)


RECORDING_SCRIPT = """
import pathlib, sys, time
path, relpath, out = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
with open(out / "runs.log", "a") as log:
    log.write(relpath + "\\n")
time.sleep(float(sys.argv[4]))
(out / relpath.replace("/", "_")).write_bytes(path.read_bytes())
"""


def recording_command(markers: Path, delay: float = 0.2) -> str:
    """A slow command template: each run is logged in ``markers/runs.log``, then after
    ``delay`` seconds the file is copied into ``markers`` (see :func:`recorded`)."""
    script = markers / "recording.py"
    markers.mkdir(parents=True, exist_ok=True)
    script.write_text(RECORDING_SCRIPT, encoding="utf-8")
    return shlex.join([sys.executable, str(script), "{path}", "{relpath}", str(markers),
                       str(delay)])


def recorded(markers: Path) -> set[str]:
    """The files :func:`recording_command` processed to the end (relpaths with "_" for "/")."""
    return {p.name for p in markers.iterdir() if p.name not in ("runs.log", "recording.py")}


Result = tuple[str, dict[str, Any]]
"""A results topic message: its key and its JSON value."""


class Results:
    """Reads a results topic's single partition from its start (no group to join)."""

    def __init__(self, config: KafkaConfig, topic: str) -> None:
        self.topic = topic
        self.found: list[Result] = []
        self._consumer = Consumer({**config.consumer_settings(f"r-{uuid.uuid4().hex[:8]}"),
                                   "enable.auto.commit": False})
        self._consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])

    def wait(self, count: int, timeout: float = 60, what: object = "") -> list[Result]:
        """The first ``count`` results (fails the test if they do not come in time)."""
        deadline = time.monotonic() + timeout
        while len(self.found) < count and time.monotonic() < deadline:
            for message in self._consumer.consume(10, timeout=0.2):
                if message.error() is None:
                    self.found.append((message.key().decode(), json.loads(message.value())))
        assert len(self.found) >= count, f"{len(self.found)} of {count} results: {what}"
        return self.found

    @classmethod
    def fresh(cls, config: KafkaConfig) -> Results:
        """A new results topic (one partition, as the app creates them) and its reader."""
        topic = f"r-{uuid.uuid4().hex[:10]}"
        admin.create_topic(config, topic, 1)
        return cls(config, topic)

    def close(self) -> None:
        self._consumer.close()
