"""The shared rules for what the user types (no Qt): addresses, topics, profiles."""

from __future__ import annotations

from typing import Any

import pytest

from openmsi_gui.app.settings import SECURITY_PROTOCOLS, BrokerProfile
from openmsi_gui.app.validation import (
    bootstrap_errors,
    normalised,
    topic_errors,
    topic_problem,
    unique_name,
    uses_sasl,
    uses_tls,
    validate_profile,
)


@pytest.mark.parametrize(("servers", "problem"), [
    ("", "Enter the broker address"),
    ("   ", "Enter the broker address"),
    ("host", "needs a port"),
    (":9092", "needs a port"),
    ("host:port", "must be a number"),
    ("host:0", "must be a number"),
    ("bad host:9092", "not a valid host name"),
    ("a:9092,,b:9092", "empty entry"),
])
def test_bootstrap_errors(servers: str, problem: str) -> None:
    errors = bootstrap_errors(servers)
    assert errors
    assert problem in errors[0]


@pytest.mark.parametrize("servers", ["localhost:9092", "10.0.0.1:9092", "[::1]:9092",
                                     "a.example.org:9092, b.example.org:9093"])
def test_bootstrap_accepts(servers: str) -> None:
    assert bootstrap_errors(servers) == []


@pytest.mark.parametrize(("topic", "ok"), [
    ("data", True), ("lab.xrd_2-raw", True), ("", False), ("with space", False),
    (".", False), ("..", False), ("x" * 249, True), ("x" * 250, False), ("ü", False),
])
def test_topic_names(topic: str, ok: bool) -> None:
    assert (topic_errors(topic) == []) is ok


@pytest.mark.parametrize(("changes", "problem"), [
    ({}, None),
    ({"name": "  "}, "Enter a name"),
    ({"bootstrap_servers": ""}, "Enter the broker address (bootstrap servers)"),
    ({"bootstrap_servers": "kafka.lab"}, "needs a port"),
    ({"bootstrap_servers": "kafka.lab:0"}, "must be a number"),
    ({"bootstrap_servers": "kafka.lab:70000"}, "must be a number"),
    ({"bootstrap_servers": "kafka.lab:90x"}, "must be a number"),
    ({"bootstrap_servers": "a:1,,b:2"}, "empty entry"),
    ({"bootstrap_servers": "a:1, [::1]:9092 ,b-c.d_e:65535"}, None),
    ({"security_protocol": "TLS"}, "Unknown security protocol"),
    ({"security_protocol": "SASL_SSL", "sasl_username": "me"}, "Choose a SASL mechanism"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "me"},
     "not supported"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}, "Enter the SASL user name"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "me"}, None),
    ({"embedded": True, "bootstrap_servers": "(embedded)"}, None),
])
def test_validate_profile(changes: dict[str, Any], problem: str | None) -> None:
    profile = BrokerProfile(name="Lab", bootstrap_servers="kafka.lab:9092")
    for key, value in changes.items():
        setattr(profile, key, value)
    errors = validate_profile(profile)
    if problem is None:
        assert errors == []
    else:
        assert any(problem in e for e in errors), errors


def test_validate_profile_wants_unique_names() -> None:
    mine = BrokerProfile(name="Lab", bootstrap_servers="a:1")
    assert validate_profile(mine, [mine]) == []
    other = BrokerProfile(name=" lab ", bootstrap_servers="b:1")
    assert "already called" in validate_profile(mine, [mine, other])[0]


def test_normalised_trims_and_drops_settings_the_protocol_ignores() -> None:
    profile = BrokerProfile(name=" Lab ", bootstrap_servers=" a:1 , b:2 ,",
                            security_protocol="PLAINTEXT", sasl_mechanism="PLAIN",
                            sasl_username="me", ca_file="/ca.pem")
    clean = normalised(profile)
    assert (clean.name, clean.bootstrap_servers, clean.sasl_mechanism, clean.sasl_username,
            clean.ca_file) == ("Lab", "a:1,b:2", "", "", "")
    assert clean.id == profile.id
    sasl = normalised(BrokerProfile(bootstrap_servers="a:1", security_protocol="SASL_SSL",
                                    sasl_mechanism="PLAIN", sasl_username=" me ",
                                    ca_file="/ca.pem"))
    assert (sasl.sasl_mechanism, sasl.sasl_username, sasl.ca_file) == ("PLAIN", "me", "/ca.pem")


def test_unique_name() -> None:
    assert unique_name("Lab", []) == "Lab"
    assert unique_name("Lab", ["lab"]) == "Lab (2)"
    assert unique_name("Lab", ["Lab", "Lab (2)"]) == "Lab (3)"
    assert unique_name("  ", []) == "Broker"


@pytest.mark.parametrize("name", ["", ".", "..", "x" * 250, "with space", "bad/topic", "ü"])
def test_topic_problem_is_a_fragment_and_errors_are_sentences(name: str) -> None:
    problem = topic_problem(name)
    assert problem is not None
    assert problem[0].islower() or problem[0] == "“"
    assert not problem.endswith(".")
    [error] = topic_errors(name)
    assert error[0].isupper() or error[0] == "“"
    assert error.endswith((".", ")"))


def test_sasl_and_tls_protocols() -> None:
    assert [p for p in SECURITY_PROTOCOLS if uses_sasl(p)] == ["SASL_PLAINTEXT", "SASL_SSL"]
    assert [p for p in SECURITY_PROTOCOLS if uses_tls(p)] == ["SSL", "SASL_SSL"]


def test_validation_never_imports_qt() -> None:
    import subprocess
    import sys

    code = ("import sys, openmsi_gui.app.validation; "
            "sys.exit(any(m.startswith('PySide6') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
