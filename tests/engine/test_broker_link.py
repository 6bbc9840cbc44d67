"""BrokerLink: one event when the broker stops answering, one when it is back."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError, KafkaException
from helpers import Recorder

from openmsi_gui.engine.events import ConnectionState, ConnectionStatus, EventBus
from openmsi_gui.engine.link import BrokerLink, LibrdkafkaLog, produce_waiting


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Broker:
    """A probe that answers with the topics, or raises while the broker is down."""

    def __init__(self) -> None:
        self.up = True
        self.topics: set[str] = {"lab"}
        self.probes = 0

    def __call__(self, timeout: float) -> set[str]:
        self.probes += 1
        if not self.up:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return set(self.topics)


def kafka_error(code: int) -> KafkaError:
    return KafkaError(code, "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed")


@pytest.fixture
def parts(bus: EventBus, recorder: Recorder) -> tuple[BrokerLink, Broker, Clock]:
    broker, clock = Broker(), Clock()
    link = BrokerLink(bus, "job", "host:9092", broker, topic="lab", unreachable_after=3.0,
                      probe_seconds=2.0, clock=clock)
    return link, broker, clock


def states(recorder: Recorder) -> list[ConnectionStatus]:
    return [e.status for e in recorder.of(ConnectionState)]


def run_for(link: BrokerLink, clock: Clock, seconds: float, errors: bool = False) -> None:
    """Tick the link every 0.1 s (and report a connection error each time if ``errors``)."""
    end = clock.now + seconds
    while clock.now < end:
        if errors:
            link.on_error(kafka_error(KafkaError._TRANSPORT))
        link.tick()
        clock.now += 0.1


def test_an_outage_is_one_event_when_it_starts_and_one_when_it_ends(
        parts: tuple[BrokerLink, Broker, Clock], recorder: Recorder) -> None:
    link, broker, clock = parts
    broker.up = False
    run_for(link, clock, 60, errors=True)  # hundreds of librdkafka errors
    assert states(recorder) == [ConnectionStatus.UNREACHABLE]
    assert link.unreachable
    lost = recorder.of(ConnectionState)[0]
    assert lost.servers == "host:9092"
    assert lost.down_since is not None
    assert broker.probes <= 31  # one every 2 s, not one per error
    broker.up = True
    run_for(link, clock, 3)
    assert states(recorder) == [ConnectionStatus.UNREACHABLE, ConnectionStatus.CONNECTED]
    back = recorder.of(ConnectionState)[1]
    assert back.down_since == lost.down_since
    assert not link.unreachable


def test_it_is_called_unreachable_within_a_few_seconds(
        parts: tuple[BrokerLink, Broker, Clock], recorder: Recorder) -> None:
    link, broker, clock = parts
    broker.up = False
    started = clock.now
    link.on_error(kafka_error(KafkaError._ALL_BROKERS_DOWN))
    while not states(recorder):
        link.tick()
        clock.now += 0.1
    assert clock.now - started <= 6


def test_a_blip_is_not_an_outage(parts: tuple[BrokerLink, Broker, Clock],
                                 recorder: Recorder) -> None:
    """An idle connection closed by the broker is reopened at once: nothing to tell."""
    link, _broker, clock = parts
    link.on_error(kafka_error(KafkaError._TRANSPORT))
    run_for(link, clock, 10)
    assert states(recorder) == []


def test_an_acknowledgement_ends_an_outage_without_a_probe(
        parts: tuple[BrokerLink, Broker, Clock], recorder: Recorder) -> None:
    link, broker, clock = parts
    broker.up = False
    run_for(link, clock, 5, errors=True)
    broker.up = True
    link.answered()
    assert states(recorder) == [ConnectionStatus.UNREACHABLE, ConnectionStatus.CONNECTED]


def test_a_missing_topic_is_told_once_and_its_creation_too(
        parts: tuple[BrokerLink, Broker, Clock], recorder: Recorder) -> None:
    link, broker, clock = parts
    broker.topics = set()
    for _ in range(50):  # the consumer reports it with every poll
        link.on_topic_missing()
    run_for(link, clock, 10)
    assert states(recorder) == [ConnectionStatus.TOPIC_MISSING]
    assert recorder.of(ConnectionState)[0].detail == "lab"
    broker.topics = {"lab"}
    run_for(link, clock, 2.5)
    assert states(recorder) == [ConnectionStatus.TOPIC_MISSING, ConnectionStatus.CONNECTED]
    assert not link.topic_missing


def test_other_errors_are_logged_once_each(parts: tuple[BrokerLink, Broker, Clock],
                                           recorder: Recorder,
                                           caplog: pytest.LogCaptureFixture) -> None:
    link, _broker, _clock = parts
    with caplog.at_level(logging.WARNING):
        for _ in range(20):
            link.on_error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication failed"))
    assert len(caplog.records) == 1
    assert "SASL authentication failed" in caplog.text
    assert states(recorder) == []


def test_librdkafka_connection_lines_go_to_debug(caplog: pytest.LogCaptureFixture) -> None:
    rdlog = LibrdkafkaLog()
    with caplog.at_level(logging.DEBUG, logger="openmsi_gui.librdkafka"):
        rdlog.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1",
                  "Connect to ipv4#127.0.0.1:9092 failed: Connection refused")
        rdlog.log(logging.CRITICAL, "%s [%s] %s", "SSL", "rdkafka#producer-1", "bad")
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.WARNING]
    assert caplog.records[0].getMessage().startswith("FAIL [rdkafka#producer-1] Connect")


def test_a_real_client_logs_through_python_logging(caplog: pytest.LogCaptureFixture) -> None:
    """confluent-kafka takes the ``logger`` setting; the lines come with poll(), not on stderr."""
    import time

    from confluent_kafka import Producer

    from openmsi_gui.engine.broker import free_port
    from openmsi_gui.engine.link import with_logger

    producer = Producer(with_logger({"bootstrap.servers": f"127.0.0.1:{free_port()}"}))
    with caplog.at_level(logging.DEBUG, logger="openmsi_gui.librdkafka"):
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            producer.poll(0.1)
    assert any("Connection refused" in r.getMessage() and r.levelno == logging.DEBUG
               for r in caplog.records)
    del producer


def test_a_job_starting_without_its_broker_gives_up_once_it_is_known_away(
        bus: EventBus) -> None:
    """Not after the whole timeout: as soon as librdkafka has reported failures for a while."""
    from openmsi_gui.engine.link import BrokerUnreachable, first_metadata

    clock = Clock()
    link = BrokerLink(bus, "job", "host:9092", Broker(), unreachable_after=3.0, clock=clock)

    class Down:
        def list_topics(self, topic: str | None = None, timeout: float = -1) -> object:
            clock.now += timeout
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Failed to get metadata"))

        def poll(self, timeout: float = -1) -> int:
            link.on_error(kafka_error(KafkaError._TRANSPORT))  # the error callback
            return 0

    with pytest.raises(BrokerUnreachable) as caught:
        first_metadata(Down(), link, timeout=3600)
    assert caught.value.servers == "host:9092"
    assert str(caught.value) == ("cannot reach the broker at host:9092: check bootstrap.servers "
                                 "and that the broker is running")  # not librdkafka's words
    assert caught.value.reason == "Failed to get metadata"
    assert clock.now - 100.0 <= 5


class _FullProducer:
    """A producer whose local queue is full for its first ``full`` calls."""

    def __init__(self, full: int) -> None:
        self.full = full
        self.sent: list[tuple[str, object, bytes]] = []
        self.polls: list[float] = []

    def produce(self, topic: str, value: bytes, key: object, on_delivery: object) -> None:
        if self.full:
            self.full -= 1
            raise BufferError
        self.sent.append((topic, key, value))

    def poll(self, timeout: float = 0) -> int:
        self.polls.append(timeout)
        return 0


def test_produce_waiting_polls_while_the_queue_is_full_then_gives_up() -> None:
    drains = _FullProducer(full=2)
    assert produce_waiting(drains, "t", b"v", "k", lambda *_: None)  # type: ignore[arg-type]
    assert drains.sent == [("t", "k", b"v")]
    assert drains.polls == [0.1, 0.1, 0]
    stuck = _FullProducer(full=10)
    assert not produce_waiting(stuck, "t", b"v", None, lambda *_: None,  # type: ignore[arg-type]
                               attempts=3)
    assert stuck.sent == []
