"""Unit tests of the receipt stage with a fake producer (the real broker: test_receipts_broker)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from openmsi_gui.engine import admin
from openmsi_gui.engine.download.receipting import (
    ReceiptOptions,
    ReceiptStage,
    ensure_receipts_topic,
)
from openmsi_gui.engine.download.stages import FileFate
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, open_receipt, trusted

CONFIG = KafkaConfig.for_bootstrap("127.0.0.1:9")
IDENTITY = SigningIdentity.generate("archive")


class FakeProducer:
    """Takes produced messages; the first ``full`` calls find its queue full."""

    def __init__(self, full: int = 0) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.full = full
        self.flushed: list[float] = []

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        if self.full:
            self.full -= 1
            raise BufferError
        self.sent.append((topic, key, value))
        on_delivery(None, None)

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        self.flushed.append(timeout)
        return 0

    def __len__(self) -> int:
        return 0


@pytest.fixture
def topics(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The fake broker's topics, and whether it lets topics be created."""
    state: dict[str, Any] = {"topics": {"t": 3}, "may_create": True, "reachable": True}

    def list_topics(config: KafkaConfig, timeout: float = 10.0) -> dict[str, int]:
        if not state["reachable"]:
            raise admin.BrokerError("cannot reach the broker at 127.0.0.1:9")
        return dict(state["topics"])

    def create_topic(config: KafkaConfig, topic: str, partitions: int = 3,
                     replication: int = 1, timeout: float = 15.0) -> bool:
        if not state["may_create"]:
            raise admin.BrokerError(f"could not create topic {topic!r}: not authorized")
        state["topics"][topic] = partitions
        return True

    monkeypatch.setattr(admin, "list_topics", list_topics)
    monkeypatch.setattr(admin, "create_topic", create_topic)
    return state


def test_the_stage_creates_its_topic_and_signs_each_fate(topics: dict[str, Any]) -> None:
    producer = FakeProducer(full=2)
    stage = ReceiptStage(CONFIG, "t", ReceiptOptions(IDENTITY), False, "job",
                         producer_factory=lambda settings: producer)  # type: ignore[arg-type,return-value]
    stage.start()
    assert topics["topics"]["t.receipts"] == 1
    sha = hashlib.sha512(b"x").digest()
    stage.settled(FileFate("a/b.txt", sha, 1, 5.0, "/in/a/b.txt", ReceiptStatus.STORED))
    stage.checkpoint()
    stage.close()
    (topic, key, value), = producer.sent
    assert (topic, key) == ("t.receipts", IDENTITY.public.key_id.encode())
    opened = open_receipt(value, trusted(IDENTITY.public))
    assert isinstance(opened, Receipt)
    assert (opened.relpath, opened.size, opened.stored_at) == ("a/b.txt", 1, "/in/a/b.txt")
    assert (stage.produced, stage.delivered) == (1, 1)


def test_a_refused_topic_is_named_in_one_sentence(topics: dict[str, Any],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    topics["may_create"] = False
    ensure_receipts_topic(CONFIG, "t.receipts", "job")
    assert "create the topic t.receipts ('openmsi topic create t.receipts')" in caplog.text
    caplog.clear()
    topics["reachable"] = False
    ensure_receipts_topic(CONFIG, "t.receipts", "job")
    assert "could not check the receipts topic t.receipts" in caplog.text
    assert "create the topic" not in caplog.text
