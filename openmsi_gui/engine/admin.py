"""Broker checks and topic management, with errors in plain language."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.tls_check import certificate_problem

log = logging.getLogger(__name__)


_BROKERS_DOWN = re.compile(r"^\d+/\d+ brokers are down$")
_BROKER_PREFIX = re.compile(r"^\S+/(?:bootstrap|\d+): ")
_SCHEME = re.compile(r"\b[a-z_]+://", re.IGNORECASE)
_STATE_SUFFIX = re.compile(r"\s*\(after \d+ms in state \w+(?:, \d+ identical error\(s\) "
                           r"suppressed)?\)$")


AdminFactory = Callable[[dict[str, Any]], AdminClient]
"""Makes the admin client from librdkafka settings (tests may pass a fake)."""


class BrokerError(RuntimeError):
    """The broker cannot be used; the message says why and what to do."""


_SECURE = "the secure connection to {servers}"
_REFUSED_CERTIFICATE = _SECURE + " failed because the broker's certificate "

# What librdkafka says (any of the lower-case fragments) → what the user can do, first match.
_EXPLANATIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("too many open files",),
     "this computer has too many files open to connect to {servers}: quit programs you do not "
     "need and restart OpenMSI (or raise the open-files limit, ulimit -n)"),
    (("resolve", "name or service not known"),
     "the broker address {servers} could not be found (DNS): check the host name"),
    (("connection refused",),
     "nothing accepts connections at {servers}: check the port and that the broker is running"),
    (("ssl.ca.location failed",),
     _SECURE + " cannot be set up: the CA file could not be read (it must be a PEM file)"),
    (("ssl.certificate.location failed", "ssl.key.location failed"),
     _SECURE + " cannot be set up: the client certificate or key file could not be read "
     "(PEM), or the key password is wrong"),
    (("certificate has expired",),
     _REFUSED_CERTIFICATE + "has expired: ask the broker's administrator to renew it, or "
     "check this computer's date and time"),
    (("certificate is not yet valid",),
     _REFUSED_CERTIFICATE + "is not valid yet: check this computer's date and time"),
    (("hostname mismatch", "ip address mismatch"),
     _REFUSED_CERTIFICATE + "is for a different host name: use the name the certificate was "
     "made for in bootstrap.servers"),
    (("certificate verify failed", "could not be verified"),
     _REFUSED_CERTIFICATE + "is not trusted: ask the broker's administrator for its CA file "
     "(PEM) and set it (CA file in the broker profile, ssl.ca.location in a config file), or "
     "update this computer's certificates"),
    (("certificate", "ssl", "tls"),
     _SECURE + " failed: check the CA file (PEM) and the security protocol"),
    (("sasl", "authentication"), "the broker at {servers} refused the user name or password"),
)


def explain(error: KafkaError | KafkaException | str, servers: str) -> str:
    """Turn a librdkafka error into a sentence a lab user can act on."""
    lowered = (error if isinstance(error, str) else str(error)).lower()
    for fragments, sentence in _EXPLANATIONS:
        if any(fragment in lowered for fragment in fragments):
            return sentence.format(servers=servers)
    return (f"cannot reach the broker at {servers}: check bootstrap.servers and that the broker "
            "is running")


def list_topics(config: KafkaConfig, timeout: float = 10.0, *,
                admin_factory: AdminFactory = AdminClient) -> dict[str, int]:
    """Topic names and partition counts, without internal topics.

    Raises:
        BrokerError: if the broker cannot be reached in ``timeout`` seconds.
    """
    try:
        metadata = _admin(config, admin_factory).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise BrokerError(explain(exc, config.bootstrap_servers)) from exc
    return _topics(metadata)


def _admin(config: KafkaConfig, admin_factory: AdminFactory) -> AdminClient:
    """An admin client whose librdkafka lines go to the debug log, not to stderr."""
    return admin_factory({**config.admin_settings(), "logger": _LibrdkafkaLog()})


def _topics(metadata: Any) -> dict[str, int]:
    return {name: len(t.partitions) for name, t in metadata.topics.items()
            if not name.startswith("__") and t.error is None}


def wait_for_topics(config: KafkaConfig, timeout: float = 10.0, give_up_after: float = 3.0,
                    *, stopped: Callable[[], bool] | None = None,
                    admin_factory: AdminFactory = AdminClient) -> dict[str, int] | None:
    """The broker's topics and their partition counts, once it answers.

    The broker is asked in waits of at most a second, so that a stop signal
    (handled between them) is honoured at once: ``stopped`` says whether to
    give up, and then None is returned. As :func:`probe_broker`, it gives up
    early once librdkafka has reported a problem for ``give_up_after`` seconds.

    Raises:
        BrokerError: if the broker is unreachable.
    """
    errors: list[str] = []
    client = admin_factory({**config.admin_settings(), "logger": _LibrdkafkaLog(),
                            "error_cb": lambda error: errors.append(str(error.str()))})
    started = time.monotonic()
    while True:
        if stopped is not None and stopped():
            return None
        try:
            metadata = client.list_topics(timeout=max(0.05, min(
                1.0, started + timeout - time.monotonic())))
            return _topics(metadata)
        except KafkaException as exc:
            client.poll(0)  # serves error_cb
            elapsed = time.monotonic() - started
            if elapsed >= timeout or (errors and elapsed >= give_up_after):
                protocol = config.broker.get("security.protocol", "PLAINTEXT").upper()
                raise BrokerError(explain_failure(errors, config.bootstrap_servers, protocol)
                                  if errors else explain(exc, config.bootstrap_servers)) from exc


def require_topic(config: KafkaConfig, topic: str, timeout: float = 10.0,
                  give_up_after: float = 3.0, *, stopped: Callable[[], bool] | None = None,
                  admin_factory: AdminFactory = AdminClient) -> int | None:
    """Return the partition count of ``topic`` (None if ``stopped``, see :func:`wait_for_topics`).

    Raises:
        BrokerError: if the broker is unreachable or the topic does not exist.
    """
    topics = wait_for_topics(config, timeout, give_up_after, stopped=stopped,
                             admin_factory=admin_factory)
    if topics is None:
        return None
    if topic not in topics:
        raise BrokerError(f"topic {topic!r} does not exist on {config.bootstrap_servers}: "
                          f"create it with 'openmsi topic create {topic}'")
    return topics[topic]


def create_topic(config: KafkaConfig, topic: str, partitions: int = 3,
                 replication: int = 1, timeout: float = 15.0, *,
                 admin_factory: AdminFactory = AdminClient) -> bool:
    """Create ``topic``; return False if it already existed.

    Raises:
        BrokerError: if the broker refuses or cannot be reached.
    """
    admin = _admin(config, admin_factory)
    future = admin.create_topics([NewTopic(topic, partitions, replication)],
                                 request_timeout=timeout)[topic]
    try:
        future.result(timeout)
    except KafkaException as exc:
        # The future keeps the exception: without its traceback (this frame, holding the
        # future and the client) the client is freed at once, and with it its connection,
        # which would otherwise keep a broker being stopped waiting.
        exc.__traceback__ = None
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise BrokerError(f"could not create topic {topic!r}: {err.str() if err else exc}") from exc
    except TimeoutError as exc:
        raise BrokerError(explain("timed out", config.bootstrap_servers)) from exc
    return True


def _clean(error: str) -> str:
    """A librdkafka error without the broker name prefix and the state suffix."""
    error = _BROKER_PREFIX.sub("", error.strip())
    error = _STATE_SUFFIX.sub("", error)
    return _SCHEME.sub("", error)


def explain_failure(errors: Sequence[str], servers: str, protocol: str) -> str:
    """The reason a connection failed, in plain language.

    Args:
        errors: librdkafka error texts seen while connecting, oldest first.
        servers: the bootstrap servers tried.
        protocol: the security protocol used.
    """
    specific = [_clean(e) for e in errors if e and not _BROKERS_DOWN.match(e.strip())]
    if specific:
        return explain(specific[-1], servers)
    if protocol in ("SSL", "SASL_SSL"):
        return (f"the broker at {servers} did not answer: check bootstrap.servers, that the "
                f"broker is running and that it expects {protocol} (TLS)")
    return (f"cannot reach the broker at {servers}: check bootstrap.servers, that the broker "
            "is running and whether it requires TLS (security protocol SSL)")


class _LibrdkafkaLog:
    """Route librdkafka's log lines to our debug log instead of stderr."""

    def log(self, level: int, fmt: str, *args: object) -> None:
        log.debug(fmt, *args)


def probe_broker(config: KafkaConfig, topic: str = "", timeout: float = 10.0,
                 give_up_after: float = 2.0, *,
                 admin_factory: AdminFactory = AdminClient) -> str:
    """Connect with ``config`` (blocking) and say what was found.

    Fails early once librdkafka has reported a definite problem (a refused
    port, an unknown host, a TLS or login failure) for ``give_up_after`` seconds.

    Args:
        config: the client settings to try.
        topic: also require this topic ("" to skip).
        timeout: give up after this many seconds at most.
        give_up_after: how long to keep trying once errors have been reported.
        admin_factory: makes the admin client (confluent-kafka's by default).

    Returns:
        A sentence for the user, e.g. ``Connected to host:9092: 3 topics.``

    Raises:
        BrokerError: with a plain-language reason.
    """
    servers = config.bootstrap_servers
    protocol = config.broker.get("security.protocol", "PLAINTEXT").upper()
    errors: list[str] = []

    def on_error(error: Any) -> None:
        errors.append(str(error.str()))

    settings: dict[str, Any] = {**config.admin_settings(), "error_cb": on_error,
                                "logger": _LibrdkafkaLog()}
    try:
        client = admin_factory(settings)
    except KafkaException as exc:
        raise BrokerError(explain(exc, servers)) from exc
    started = time.monotonic()
    while True:
        try:
            metadata = client.list_topics(timeout=1.0)
            break
        except KafkaException as exc:
            client.poll(0)  # serves error_cb
            elapsed = time.monotonic() - started
            if elapsed >= timeout or (errors and elapsed >= give_up_after):
                if any("certificate verify failed" in e for e in errors):
                    # librdkafka does not say why; one handshake of our own does.
                    reason = certificate_problem(servers, config.broker.get("ssl.ca.location",
                                                                            ""))
                    if reason:
                        errors.append(f"certificate verify failed: {reason}")
                raise BrokerError(explain_failure(errors, servers, protocol)) from exc
    topics = sorted(name for name, meta in metadata.topics.items()
                    if not name.startswith("__") and meta.error is None)
    if topic and topic not in topics:
        raise BrokerError(f"connected, but topic {topic!r} does not exist on {servers}: "
                                "check the name or create the topic")
    count = f"{len(topics)} topic{'' if len(topics) == 1 else 's'}"
    if topic:
        return f"Connected to {servers}: topic {topic!r} exists ({count} in all)."
    return f"Connected to {servers}: {count}."
