"""KafkaCrypto messages recognised without a node (fake consumer; the real nodes are in
test_crypto_download.py): the download waits at the first one and commits nothing past it."""

from __future__ import annotations

import os
from pathlib import Path

import msgpack
import pytest
from helpers import Recorder, chunks_of, wait_until
from test_download_stages import FakeConsumer, FakeMessage, _downloader

from openmsi_gui.engine import wire
from openmsi_gui.engine.crypto import NotEncrypted, is_ciphertext
from openmsi_gui.engine.download.problems import ENCRYPTED_TOPIC
from openmsi_gui.engine.downloader import RetryDelays
from openmsi_gui.engine.events import EventBus, FileFailed, JobState, JobStatus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

QUICK = RetryDelays(stall=(0.05, 0.1))


@pytest.fixture
def fake() -> FakeConsumer:
    return FakeConsumer({})


def sealed(data: bytes) -> bytes:
    """Bytes in KafkaCrypto's format (0x01, then msgpack [key index, salt, secretbox])."""
    return b"\x01" + msgpack.packb([os.urandom(32), os.urandom(8), data], use_bin_type=True)


def add_sealed(fake: FakeConsumer, count: int) -> None:
    for _ in range(count):
        fake.messages.append(FakeMessage(0, len(fake.messages), sealed(b"key"),
                                         sealed(b"value")))


def test_kafkacrypto_bytes_are_recognised_and_plain_chunks_are_not() -> None:
    assert is_ciphertext(sealed(b"x"))
    (chunk,) = chunks_of(b"plain", "a.txt")
    assert not is_ciphertext(wire.encode_chunk(chunk))
    assert not is_ciphertext(b"\x01 not msgpack \xc1")
    assert not is_ciphertext(b"")
    assert not is_ciphertext(None)


def test_without_a_node_the_download_waits_at_the_first_encrypted_message(
        fake: FakeConsumer, tmp_path: Path, bus: EventBus, recorder: Recorder,
        registry: Registry) -> None:
    fake.add(chunks_of(b"before", "before.txt"))
    add_sealed(fake, 3)
    fake.add(chunks_of(b"after", "after.txt"))
    down = _downloader(fake, tmp_path / "dest", bus, registry, delays=QUICK)
    down.start()
    try:
        wait_until(lambda: len(waits(recorder)) >= 3, message="the wait, tried again")
        wait_until(lambda: fake.committed() == 1, message="the offsets up to the first one")
    finally:
        down.stop()
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["before.txt"]
    assert max(c[0] for c in fake.commits) == 1
    assert {e.detail for e in waits(recorder)} == {ENCRYPTED_TOPIC}
    assert down.messages_rejected == 0
    assert not recorder.of(FileFailed)


def waits(recorder: Recorder) -> list[JobState]:
    return [e for e in recorder.of(JobState)
            if isinstance(e, JobState) and e.state is JobStatus.WAITING]


class CorruptCipher:
    """A node that can open nothing: every message is corrupt ciphertext to it."""

    def encrypt(self, topic: str, key: bytes, value: bytes) -> tuple[bytes, bytes]:
        raise AssertionError("not used")

    def decrypt(self, topic: str, key: bytes, value: bytes,
                wait: float | None = None) -> tuple[bytes, bytes]:
        raise NotEncrypted("it does not decrypt with the key it names")

    def serve_keys(self, topic: str) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_rejected_encrypted_message_is_named_by_where_it_was_read_not_its_key(
        fake: FakeConsumer, tmp_path: Path, bus: EventBus, recorder: Recorder,
        registry: Registry) -> None:
    add_sealed(fake, 1)
    down = _downloader(fake, tmp_path / "dest", bus, registry, cipher=CorruptCipher())
    down.start()
    try:
        wait_until(lambda: down.messages_rejected == 1, message="the rejection")
    finally:
        down.stop()
    (failed,) = recorder.of(FileFailed)
    assert isinstance(failed, FileFailed)
    assert failed.relpath == "(encrypted message 0@0)"
    assert escaped(failed.reason) == failed.reason
