"""Trusted authorities when TLS is on and no CA file is given (no ssl.ca.location by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer

from openmsi_gui.engine.kafka_config import (
    CA_PROBE_PATHS,
    KafkaConfig,
    certifi_bundle,
    default_trust,
)

TLS = {"bootstrap.servers": "kafka.lab:9093", "security.protocol": "SASL_SSL"}


def nothing(_path: str) -> bool:
    return False


def test_plaintext_needs_no_authorities() -> None:
    assert default_trust({"bootstrap.servers": "h:1"}, "linux") == {}
    assert default_trust({"security.protocol": "SASL_PLAINTEXT"}, "linux") == {}


@pytest.mark.parametrize("key", ["ssl.ca.location", "ssl.ca.pem", "ssl.ca.certificate.stores"])
def test_a_ca_given_by_the_user_wins(key: str) -> None:
    assert default_trust({**TLS, key: "mine"}, "linux") == {}
    assert default_trust({**TLS, key: "mine"}, "win32") == {}


def test_windows_uses_its_root_store() -> None:
    assert default_trust(TLS, "win32") == {"ssl.ca.certificate.stores": "Root"}


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_the_system_bundle_when_librdkafka_can_find_one(platform: str) -> None:
    found = {"/etc/ssl/cert.pem"} if platform == "darwin" else {
        "/etc/ssl/certs/ca-certificates.crt"}
    assert default_trust(TLS, platform, exists=found.__contains__,
                         fallback=lambda: "/certifi.pem") == {"ssl.ca.location": "probe"}


def test_certifi_when_the_system_has_none() -> None:
    assert default_trust({**TLS, "security.protocol": "ssl"}, "linux", exists=nothing,
                         fallback=lambda: "/b/cacert.pem") == {"ssl.ca.location": "/b/cacert.pem"}
    assert default_trust(TLS, "linux", exists=nothing, fallback=lambda: None) == {}


def test_certifi_is_installed_with_the_app() -> None:
    bundle = certifi_bundle()
    assert bundle is not None
    assert "BEGIN CERTIFICATE" in Path(bundle).read_text(encoding="ascii", errors="replace")


def test_every_client_gets_the_authorities() -> None:
    config = KafkaConfig(broker=dict(TLS))
    expected = default_trust(TLS)
    for settings in (config.producer_settings(), config.consumer_settings("g"),
                     config.admin_settings(), config.client_settings()):
        assert {k: settings[k] for k in expected} == expected
    assert "ssl.ca.location" not in config.broker  # exports and comparisons see the file's


def test_debian_bundle_is_among_the_probed_paths() -> None:
    assert "/etc/ssl/certs/ca-certificates.crt" in CA_PROBE_PATHS


@pytest.mark.parametrize("choice", ["probe", "certifi"])
def test_librdkafka_accepts_the_choice(choice: str) -> None:
    """A real client starts with each value (it would refuse an unknown path or value)."""
    location = "probe" if choice == "probe" else certifi_bundle()
    assert location is not None
    producer = Producer({**TLS, "security.protocol": "SSL", "ssl.ca.location": location,
                         "socket.connection.setup.timeout.ms": "1000"})
    assert producer.flush(0) == 0
