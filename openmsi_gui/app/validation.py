"""What the user types, checked once for the command line and the GUI: no Qt.

One rule each for broker addresses (``host:port[,host:port]``), Kafka topic
names, the security protocols (which ones authenticate, which ones encrypt)
and broker profiles. Problems are plain-language sentences; the ``*_problem``
functions return a lower-case fragment that callers may join into a sentence
("Not created: …").
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable

from openmsi_gui.app.settings import SASL_MECHANISMS, SECURITY_PROTOCOLS, BrokerProfile
from openmsi_gui.app.text import sentence

MAX_TOPIC_LENGTH = 249
"""Kafka's limit on the length of a topic name."""

_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_HOST = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")
_EXAMPLE = "kafka.example.org:9092"

DEFAULT_SASL_MECHANISM = "PLAIN"
"""The SASL mechanism the forms pick when a SASL protocol is chosen (the commonest)."""


def uses_sasl(protocol: str) -> bool:
    """Whether ``protocol`` authenticates with a user name and password."""
    return protocol.startswith("SASL_")


def uses_tls(protocol: str) -> bool:
    """Whether ``protocol`` encrypts the connection (so CA and client certificates apply)."""
    return protocol in ("SSL", "SASL_SSL")


def server_problem(entry: str) -> str | None:
    """Why one ``host:port`` entry of a broker address is wrong, or None if it is right."""
    host, colon, port = entry.rpartition(":")
    if not colon or not host:
        return (f"“{entry}” needs a port after a colon (host:port), for example "
                f"{entry or 'kafka.example.org'}:9092")
    if not _HOST.fullmatch(host):
        return f"“{host}” is not a valid host name"
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        return f"the port in “{entry}” must be a number from 1 to 65535"
    return None


def bootstrap_errors(servers: str) -> list[str]:
    """Problems with a ``host:port[,host:port]`` broker address, as sentences ([] if none)."""
    entries = [entry.strip() for entry in servers.split(",")]
    if not any(entries):
        return [f"Enter the broker address (bootstrap servers), for example {_EXAMPLE}."]
    errors: list[str] = []
    for entry in entries:
        if not entry:
            errors.append("Remove the empty entry between the commas in the broker address.")
        elif (problem := server_problem(entry)) is not None:
            errors.append(sentence(problem))
    return errors


def clean_servers(servers: str) -> str:
    """``servers`` as saved: entries trimmed, empty ones dropped."""
    return ",".join(s.strip() for s in servers.split(",") if s.strip())


def topic_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Kafka topic (a lower-case fragment), or None if it can.

    Kafka allows ASCII letters, digits, ".", "_" and "-", up to 249 characters,
    and not "." or ".." on their own.
    """
    if not name:
        return "choose or type a topic name"
    if name in {".", ".."}:
        return f"“{name}” is not a valid topic name: “.” and “..” are reserved"
    if len(name) > MAX_TOPIC_LENGTH:
        return (f"“{name[:20]}…” is not a valid topic name: a topic name has at most "
                f"{MAX_TOPIC_LENGTH} characters")
    if not _TOPIC_CHARS.fullmatch(name):
        return (f"“{name}” is not a valid topic name: it has characters Kafka does not "
                "allow; use letters, digits, '.', '_' and '-'")
    return None


def topic_errors(name: str) -> list[str]:
    """Problems with a Kafka topic name, as sentences ([] if none)."""
    problem = topic_problem(name)
    return [] if problem is None else [sentence(problem)]


def validate_profile(profile: BrokerProfile, others: Iterable[BrokerProfile] = ()) -> list[str]:
    """Sentences saying what to fix before ``profile`` can be saved (empty if nothing).

    Args:
        profile: the profile as edited.
        others: the other saved profiles (names must be unique).
    """
    errors = []
    name = profile.name.strip()
    if not name:
        errors.append("Enter a name for the profile.")
    elif any(o.id != profile.id and o.name.strip().casefold() == name.casefold()
             for o in others):
        errors.append(f"Another profile is already called {name!r}: choose another name.")
    if profile.embedded:
        return errors
    errors += bootstrap_errors(profile.bootstrap_servers)
    if profile.security_protocol not in SECURITY_PROTOCOLS:
        errors.append(f"Unknown security protocol {profile.security_protocol!r}: use one of "
                      f"{', '.join(SECURITY_PROTOCOLS)}.")
    elif uses_sasl(profile.security_protocol):
        if not profile.sasl_mechanism:
            errors.append("Choose a SASL mechanism.")
        elif profile.sasl_mechanism not in SASL_MECHANISMS:
            errors.append(f"The SASL mechanism {profile.sasl_mechanism!r} is not supported: "
                          f"use one of {', '.join(m for m in SASL_MECHANISMS if m)}.")
        if not profile.sasl_username.strip():
            errors.append("Enter the SASL user name.")
    return errors


def normalised(profile: BrokerProfile) -> BrokerProfile:
    """``profile`` as it is saved: text trimmed, settings its protocol ignores cleared."""
    if profile.embedded:
        return dataclasses.replace(profile, name=profile.name.strip())
    sasl = uses_sasl(profile.security_protocol)
    return dataclasses.replace(
        profile, name=profile.name.strip(),
        bootstrap_servers=clean_servers(profile.bootstrap_servers),
        sasl_mechanism=profile.sasl_mechanism if sasl else "",
        sasl_username=profile.sasl_username.strip() if sasl else "",
        ca_file=profile.ca_file.strip() if uses_tls(profile.security_protocol) else "")


def unique_name(base: str, taken: Iterable[str]) -> str:
    """``base``, or ``base (2)``, ``base (3)``… whichever is not in ``taken`` (any case)."""
    names = {n.strip().casefold() for n in taken}
    base = base.strip() or "Broker"
    if base.casefold() not in names:
        return base
    for number in itertools.count(2):
        candidate = f"{base} ({number})"
        if candidate.casefold() not in names:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["MAX_TOPIC_LENGTH", "bootstrap_errors", "clean_servers", "normalised",
           "server_problem", "topic_errors", "topic_problem", "unique_name", "uses_sasl",
           "uses_tls", "validate_profile"]
