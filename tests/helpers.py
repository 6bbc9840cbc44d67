"""Helpers shared by the tests (importable as ``helpers``)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Producer

from openmsi_gui.engine import wire
from openmsi_gui.engine.events import Event
from openmsi_gui.engine.kafka_config import KafkaConfig

# Consumer settings of the tests: with Tansu a JoinGroup takes half the session
# timeout, so 2 s makes a join take 1 s (the app's 6 s: 3 s). conftest.py puts them
# in the defaults of the consumers made in the test process.
TEST_GROUP_TIMEOUTS = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


class Recorder:
    """Collects events from a bus, thread-safely, and waits for conditions."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]


def wait_until(condition: Callable[[], object], timeout: float = 30.0,
               interval: float = 0.05, message: str = "condition") -> None:
    """Poll ``condition`` until it is truthy or fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {message}")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (Linux; a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"



def chunks_of(data: bytes, relpath: str, chunk_size: int = 1024,
              mtime: float = 1_700_000_000.0) -> list[wire.Chunk]:
    """Cut ``data`` into wire chunks the way a producer would."""
    subdir, _, name = relpath.rpartition("/")
    file_hash = hashlib.sha512(data).digest()
    pieces = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]
    return [wire.Chunk(name, file_hash, hashlib.sha512(p).digest(), i * chunk_size, i + 1,
                       len(pieces), subdir, "", p, mtime) for i, p in enumerate(pieces)]


def produce_raw(config: KafkaConfig, topic: str, values: list[tuple[str | bytes, bytes]],
                partition: int | None = 0) -> None:
    """Produce ``(key, value)`` pairs as they are, then flush."""
    producer = Producer(config.producer_settings())
    for key, value in values:
        if partition is None:
            producer.produce(topic, key=key, value=value)
        else:
            producer.produce(topic, key=key, value=value, partition=partition)
    assert producer.flush(30) == 0


def produce_chunks(config: KafkaConfig, topic: str, chunks: list[wire.Chunk],
                   partition: int | None = 0) -> None:
    """Encode and produce chunks with OpenMSIStream keys."""
    produce_raw(config, topic, [
        (wire.make_key(c.subdir, c.filename, c.chunk_i, c.n_chunks), wire.encode_chunk(c))
        for c in chunks], partition)


def tree_files(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` (hidden ones included) by POSIX relative path.

    A file renamed or removed between the listing and its reading (a download's
    ``.partial`` file finishing meanwhile) is left out: it is no longer there.
    """
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        try:
            if path.is_file():
                found[path.relative_to(root).as_posix()] = path.read_bytes()
        except FileNotFoundError:
            continue
    return found
