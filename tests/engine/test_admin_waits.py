"""Waiting for a broker's topics: a stop is honoured between short waits; plain sentences."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig

CONFIG = KafkaConfig.for_bootstrap("lab:9093")


class DeadAdmin:
    """An admin client whose broker never answers (librdkafka's own words)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.calls: list[float] = []

    def list_topics(self, timeout: float) -> object:
        self.calls.append(timeout)
        if "error_cb" in self.settings:
            self.settings["error_cb"](KafkaError(KafkaError._TRANSPORT, "Connect to ipv4#10.0.0.1:"
                                                 "9093 failed: Connection refused"))
        raise KafkaException(KafkaError(KafkaError._TRANSPORT,
                                        "Failed to get metadata: Local: Broker transport failure"))

    def poll(self, timeout: float) -> int:
        return 0


def test_require_topic_gives_up_when_stopped_in_short_waits() -> None:
    made: list[DeadAdmin] = []

    def factory(settings: dict[str, Any]) -> DeadAdmin:
        made.append(DeadAdmin(settings))
        return made[-1]

    asked = iter([False, False, True])
    assert admin.require_topic(CONFIG, "t", timeout=60, stopped=lambda: next(asked),
                               admin_factory=factory) is None  # type: ignore[arg-type]
    assert len(made) == 1  # one client, asked again and again
    assert len(made[0].calls) == 2
    assert max(made[0].calls) <= 1.0
    assert "logger" in made[0].settings  # librdkafka's lines go to the log, not stderr


def test_an_unreachable_broker_is_one_plain_sentence_soon() -> None:
    with pytest.raises(admin.BrokerError) as raised:
        admin.require_topic(CONFIG, "t", timeout=60, give_up_after=0.2,
                            admin_factory=DeadAdmin)  # type: ignore[arg-type]
    assert str(raised.value) == ("nothing accepts connections at lab:9093: check the port and "
                                 "that the broker is running")


def test_listing_topics_routes_librdkafka_lines_to_the_log() -> None:
    made: list[DeadAdmin] = []

    def factory(settings: dict[str, Any]) -> DeadAdmin:
        made.append(DeadAdmin(settings))
        return made[-1]

    with pytest.raises(admin.BrokerError):
        admin.list_topics(CONFIG, timeout=0.1, admin_factory=factory)  # type: ignore[arg-type]
    assert "logger" in made[0].settings
