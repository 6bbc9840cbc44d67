"""Broker profiles as librdkafka settings, and OpenMSIStream INI import/export.

A profile's encryption node (``crypto_node_id``) plays the part of an INI
file's ``[kafkacrypto] node_id``: every job on the profile encrypts what it
sends and decrypts what it receives with that node.
"""

from __future__ import annotations

import configparser
import io
import re
from collections.abc import Callable
from pathlib import Path

from openmsi_gui.app.settings import SECURITY_PROTOCOLS, BrokerProfile, SecurityProtocol
from openmsi_gui.app.validation import uses_sasl, uses_tls
from openmsi_gui.engine.kafka_config import (
    ConfigError,
    KafkaConfig,
    find_crypto_node,
    load_config,
)

PASSWORD = "sasl.password"
KEY_PASSWORD = "ssl.key.password"

SecretLookup = Callable[[str, str], str | None]


def owner(profile: BrokerProfile) -> str:
    """The keychain owner name of a profile's secrets."""
    return f"profile:{profile.id}"


def kafka_config(profile: BrokerProfile, secret: SecretLookup | None,
                 bootstrap_override: str = "") -> KafkaConfig:
    """Librdkafka settings for ``profile``; ``secret`` fetches the passwords (blocking).

    The client certificate and key (mutual TLS) are used only with the SSL
    protocols; the key's password is the keychain secret :data:`KEY_PASSWORD`.
    A profile with an encryption node gets ``crypto`` set, resolved as
    ``[kafkacrypto] node_id`` (``$OPENMSISTREAM_CONFIG_FILE_DIR``, then
    :func:`~openmsi_gui.engine.kafka_config.default_nodes_dir`, then the current
    folder); a node that is not found has ``config_file=None``, and jobs on the
    profile then fail saying where it was looked for, rather than send plain text.

    Args:
        profile: the profile.
        secret: keychain lookup ``(owner, name) -> value``; None skips secrets.
        bootstrap_override: use this address instead (the embedded broker).
    """
    broker = {"bootstrap.servers": bootstrap_override or profile.bootstrap_servers.strip()}
    if profile.security_protocol != "PLAINTEXT":
        broker["security.protocol"] = profile.security_protocol
    if profile.ca_file:
        broker["ssl.ca.location"] = profile.ca_file
    if uses_tls(profile.security_protocol):
        if profile.client_cert_file:
            broker["ssl.certificate.location"] = profile.client_cert_file
        if profile.client_key_file:
            broker["ssl.key.location"] = profile.client_key_file
            key_password = secret(owner(profile), KEY_PASSWORD) if secret else None
            if key_password:
                broker["ssl.key.password"] = key_password
    if profile.sasl_mechanism and uses_sasl(profile.security_protocol):
        broker["sasl.mechanism"] = profile.sasl_mechanism
        broker["sasl.username"] = profile.sasl_username
        password = secret(owner(profile), PASSWORD) if secret else None
        if password:
            broker["sasl.password"] = password
    node_id = profile.crypto_node_id.strip()
    crypto = find_crypto_node(node_id=node_id) if node_id else None
    return KafkaConfig(broker=broker, crypto=crypto)


def env_name(profile: BrokerProfile) -> str:
    """The environment variable an exported config reads the password from."""
    stem = re.sub(r"[^A-Z0-9]+", "_", profile.name.upper()).strip("_") or "BROKER"
    return f"OPENMSI_{stem}_PASSWORD"


def export_ini(profile: BrokerProfile) -> str:
    """An OpenMSIStream config for ``profile``; the password is a ``$ENV`` reference.

    An encryption node is written as ``[kafkacrypto] node_id``; OpenMSIStream
    finds the node's folder next to the file or in ``$OPENMSISTREAM_CONFIG_FILE_DIR``,
    which a comment says.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    broker = kafka_config(profile, None).broker
    if "sasl.mechanism" in broker:
        broker["sasl.password"] = f"${env_name(profile)}"
    parser["broker"] = broker
    parser["producer"] = {"batch.size": "2000000", "linger.ms": "100"}
    parser["consumer"] = {"group.id": "create_new", "auto.offset.reset": "earliest",
                          "enable.auto.commit": "False"}
    node_id = profile.crypto_node_id.strip()
    if node_id:
        parser["kafkacrypto"] = {"node_id": node_id}
    out = io.StringIO()
    out.write(f"# OpenMSI GUI profile {profile.name!r}; the password is read from "
              f"${env_name(profile)}\n")
    if node_id:
        out.write(f"# Encrypted with KafkaCrypto node {node_id!r}: OpenMSIStream needs its "
                  f"folder {node_id}/ next to this file or in $OPENMSISTREAM_CONFIG_FILE_DIR\n")
    parser.write(out)
    return out.getvalue()


def import_ini(path: Path) -> tuple[BrokerProfile, str | None]:
    """A profile from an OpenMSIStream config, plus its literal password if it had one.

    ``$ENV`` values are expanded as OpenMSIStream does (so the variables must be set).
    ``[kafkacrypto]`` becomes the profile's encryption node: ``node_id``, or the
    name of the node a ``config_file`` points to.

    Raises:
        ConfigError: if the file cannot be used.
    """
    config = load_config(path)
    broker = config.broker
    protocol = broker.get("security.protocol", "PLAINTEXT").upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(f"{path}: unknown security.protocol {protocol!r}: use one of "
                          f"{', '.join(SECURITY_PROTOCOLS)}")
    profile = BrokerProfile(
        name=path.stem,
        bootstrap_servers=broker.get("bootstrap.servers", ""),
        security_protocol=SecurityProtocol(protocol),
        sasl_mechanism=broker.get("sasl.mechanism", "").upper(),
        sasl_username=broker.get("sasl.username", ""),
        ca_file=broker.get("ssl.ca.location", ""),
        client_cert_file=broker.get("ssl.certificate.location", ""),
        client_key_file=broker.get("ssl.key.location", ""),
        crypto_node_id=config.crypto.node_id if config.crypto else "",
    )
    return profile, broker.get("sasl.password") or None
