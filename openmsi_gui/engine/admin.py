"""Broker checks and topic management, with errors in plain language."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from openmsi_gui.engine.kafka_config import KafkaConfig


class BrokerError(RuntimeError):
    """The broker cannot be used; the message says why and what to do."""


def _admin(config: KafkaConfig) -> AdminClient:
    settings: dict[str, str | int | float | bool] = dict(config.admin_settings())
    return AdminClient(settings)


def explain(error: KafkaError | KafkaException | str, servers: str) -> str:
    """Turn a librdkafka error into a sentence a lab user can act on."""
    text = error if isinstance(error, str) else str(error)
    lowered = text.lower()
    if "resolve" in lowered or "name or service not known" in lowered:
        return f"the broker address {servers} could not be found (DNS): check the host name"
    if "connection refused" in lowered:
        return (f"nothing accepts connections at {servers}: check the port and that the "
                "broker is running")
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return (f"the secure connection to {servers} failed: check the CA file (PEM) and the "
                "security protocol")
    if "sasl" in lowered or "authentication" in lowered:
        return f"the broker at {servers} refused the user name or password"
    return (f"cannot reach the broker at {servers}: check bootstrap.servers and that the broker "
            "is running")


def list_topics(config: KafkaConfig, timeout: float = 10.0) -> dict[str, int]:
    """Topic names and partition counts, without internal topics.

    Raises:
        BrokerError: if the broker cannot be reached in ``timeout`` seconds.
    """
    try:
        metadata = _admin(config).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise BrokerError(explain(exc, config.bootstrap_servers)) from exc
    return {name: len(t.partitions) for name, t in metadata.topics.items()
            if not name.startswith("__") and t.error is None}


def require_topic(config: KafkaConfig, topic: str, timeout: float = 10.0) -> int:
    """Return the partition count of ``topic``.

    Raises:
        BrokerError: if the broker is unreachable or the topic does not exist.
    """
    topics = list_topics(config, timeout)
    if topic not in topics:
        raise BrokerError(f"topic {topic!r} does not exist on {config.bootstrap_servers}: "
                          f"create it with 'openmsi topic create {topic}'")
    return topics[topic]


def create_topic(config: KafkaConfig, topic: str, partitions: int = 3,
                 replication: int = 1, timeout: float = 15.0) -> bool:
    """Create ``topic``; return False if it already existed.

    Raises:
        BrokerError: if the broker refuses or cannot be reached.
    """
    admin = _admin(config)
    future = admin.create_topics([NewTopic(topic, partitions, replication)],
                                 request_timeout=timeout)[topic]
    try:
        future.result(timeout)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise BrokerError(f"could not create topic {topic!r}: {err.str() if err else exc}") from exc
    except TimeoutError as exc:
        raise BrokerError(explain("timed out", config.bootstrap_servers)) from exc
    return True
