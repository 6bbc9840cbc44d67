"""Broker profiles as librdkafka settings, and OpenMSIStream INI import/export."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import pytest

from openmsi_gui.app import keychain, profiles
from openmsi_gui.app.settings import BrokerProfile, SettingsStore
from openmsi_gui.engine.crypto import CryptoSetupError, cipher_for
from openmsi_gui.engine.kafka_config import ConfigError, default_nodes_dir, load_config

SECRET = "pa55-w0rd-never-in-files"


def lookup_for(expected: BrokerProfile, value: str | None = SECRET):
    """A keychain lookup that checks who asks and returns ``value``."""
    calls: list[tuple[str, str]] = []

    def lookup(owner: str, name: str) -> str | None:
        calls.append((owner, name))
        assert owner == profiles.owner(expected)
        assert name == profiles.PASSWORD
        return value

    lookup.calls = calls  # type: ignore[attr-defined]
    return lookup


def scram_profile(name: str = "Lab Kafka") -> BrokerProfile:
    return BrokerProfile(name=name, bootstrap_servers="kafka1.lab:9093,kafka2.lab:9093",
                         security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                         sasl_username="microscope-3", ca_file="/etc/ssl/lab-ca.pem")


def test_owner_is_keyed_by_id_not_name() -> None:
    profile = BrokerProfile(name="Lab")
    assert profiles.owner(profile) == f"profile:{profile.id}"
    assert profiles.owner(BrokerProfile(id=profile.id, name="Renamed")) == profiles.owner(profile)


def test_kafka_config_plaintext() -> None:
    profile = BrokerProfile(bootstrap_servers="  broker.lab:9092 ")
    lookup = lookup_for(profile)
    config = profiles.kafka_config(profile, lookup)
    assert config.broker == {"bootstrap.servers": "broker.lab:9092"}
    assert lookup.calls == []  # type: ignore[attr-defined]  # no SASL, no keychain read


def test_kafka_config_ssl_with_ca_file() -> None:
    profile = BrokerProfile(bootstrap_servers="broker.lab:9093", security_protocol="SSL",
                            ca_file="/etc/ssl/lab-ca.pem",
                            sasl_mechanism="PLAIN", sasl_username="ignored")
    config = profiles.kafka_config(profile, lookup_for(profile))
    assert config.broker == {"bootstrap.servers": "broker.lab:9093",
                             "security.protocol": "SSL",
                             "ssl.ca.location": "/etc/ssl/lab-ca.pem"}


def test_kafka_config_sasl_ssl_scram_reads_the_password_from_the_lookup() -> None:
    profile = scram_profile()
    lookup = lookup_for(profile)
    config = profiles.kafka_config(profile, lookup)
    assert config.broker == {
        "bootstrap.servers": "kafka1.lab:9093,kafka2.lab:9093",
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": "/etc/ssl/lab-ca.pem",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "microscope-3",
        "sasl.password": SECRET,
    }
    assert lookup.calls == [(profiles.owner(profile), profiles.PASSWORD)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [None, ""])
def test_kafka_config_without_a_stored_password_leaves_it_out(value: str | None) -> None:
    profile = scram_profile()
    config = profiles.kafka_config(profile, lookup_for(profile, value))
    assert "sasl.password" not in config.broker
    assert config.broker["sasl.username"] == "microscope-3"


def test_kafka_config_without_lookup_skips_secrets() -> None:
    config = profiles.kafka_config(scram_profile(), None)
    assert "sasl.password" not in config.broker
    assert config.broker["sasl.mechanism"] == "SCRAM-SHA-512"


def test_kafka_config_bootstrap_override_for_the_embedded_broker() -> None:
    profile = BrokerProfile(name="Demo", bootstrap_servers="(embedded)", embedded=True)
    config = profiles.kafka_config(profile, None, "127.0.0.1:40404")
    assert config.bootstrap_servers == "127.0.0.1:40404"


@pytest.mark.parametrize(("name", "expected"), [
    ("Lab Kafka", "OPENMSI_LAB_KAFKA_PASSWORD"),
    ("lab-kafka #2 (prod)", "OPENMSI_LAB_KAFKA_2_PROD_PASSWORD"),
    ("  spaced  out  ", "OPENMSI_SPACED_OUT_PASSWORD"),
    ("Größe", "OPENMSI_GR_SSE_PASSWORD"),
    ("", "OPENMSI_BROKER_PASSWORD"),
    ("!!!", "OPENMSI_BROKER_PASSWORD"),
    ("$HOME; rm -rf /", "OPENMSI_HOME_RM_RF_PASSWORD"),
])
def test_env_name_is_a_safe_variable_name(name: str, expected: str) -> None:
    env = profiles.env_name(BrokerProfile(name=name))
    assert env == expected
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*", env)


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_export_ini_has_an_env_reference_and_never_the_secret(memory_keyring) -> None:
    profile = scram_profile()
    keychain.set_secret(profiles.owner(profile), profiles.PASSWORD, SECRET)
    text = profiles.export_ini(profile)
    assert SECRET not in text
    parser = parse(text)
    assert parser["broker"]["sasl.password"] == "$OPENMSI_LAB_KAFKA_PASSWORD"
    assert parser["broker"]["sasl.username"] == "microscope-3"
    assert parser["broker"]["sasl.mechanism"] == "SCRAM-SHA-512"
    assert parser["broker"]["security.protocol"] == "SASL_SSL"
    assert parser["broker"]["ssl.ca.location"] == "/etc/ssl/lab-ca.pem"
    assert parser["consumer"]["group.id"] == "create_new"
    assert "$OPENMSI_LAB_KAFKA_PASSWORD" in text.splitlines()[0]  # the header says so


def test_export_ini_plaintext_has_no_password_line() -> None:
    text = profiles.export_ini(BrokerProfile(name="Open", bootstrap_servers="b:9092"))
    parser = parse(text)
    assert dict(parser["broker"]) == {"bootstrap.servers": "b:9092"}
    assert "sasl" not in text


def test_export_then_import_round_trip_expands_the_env_reference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = scram_profile()
    path = tmp_path / "Lab Kafka.config"
    path.write_text(profiles.export_ini(original), encoding="utf-8")
    monkeypatch.setenv(profiles.env_name(original), SECRET)

    imported, password = profiles.import_ini(path)

    assert password == SECRET
    assert imported.id != original.id  # a new profile, with its own keychain entry
    assert imported.name == "Lab Kafka"  # from the file name
    for field in ("bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_username",
                  "ca_file", "embedded"):
        assert getattr(imported, field) == getattr(original, field), field
    # The exported file is also a valid OpenMSIStream config for the same broker.
    assert load_config(path).broker == profiles.kafka_config(
        original, lambda _o, _n: SECRET).broker


def test_import_without_the_env_variable_says_which_to_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = scram_profile()
    monkeypatch.delenv(profiles.env_name(profile), raising=False)
    path = tmp_path / "lab.config"
    path.write_text(profiles.export_ini(profile), encoding="utf-8")
    with pytest.raises(ConfigError, match=profiles.env_name(profile)):
        profiles.import_ini(path)


def test_import_literal_password_and_lower_case_values(tmp_path: Path) -> None:
    path = tmp_path / "cloud.config"
    path.write_text(
        "[broker]\n"
        "bootstrap.servers = pkc-123.europe-west1.gcp.confluent.cloud:9092\n"
        "security.protocol = sasl_ssl\n"
        "sasl.mechanism = plain\n"
        "sasl.username = APIKEY123\n"
        f"sasl.password = {SECRET}\n"
        "[producer]\nbatch.size = 200000\n", encoding="utf-8")
    profile, password = profiles.import_ini(path)
    assert password == SECRET
    assert (profile.name, profile.security_protocol, profile.sasl_mechanism,
            profile.sasl_username) == ("cloud", "SASL_SSL", "PLAIN", "APIKEY123")
    assert profile.bootstrap_servers == "pkc-123.europe-west1.gcp.confluent.cloud:9092"


def test_import_plaintext_has_no_password(tmp_path: Path) -> None:
    path = tmp_path / "local_broker.config"
    path.write_text("[broker]\nbootstrap.servers = localhost:9092\n", encoding="utf-8")
    profile, password = profiles.import_ini(path)
    assert password is None
    assert (profile.name, profile.bootstrap_servers, profile.security_protocol,
            profile.sasl_mechanism, profile.ca_file) == (
        "local_broker", "localhost:9092", "PLAINTEXT", "", "")


def test_import_without_bootstrap_servers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.config"
    path.write_text("[producer]\nlinger.ms = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bootstrap\.servers"):
        profiles.import_ini(path)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT"])
def test_sasl_settings_are_accepted_by_librdkafka(mechanism: str, protocol: str) -> None:
    """The mapped SASL settings build real clients (librdkafka validates every property).

    Our test broker (Tansu) does not offer SASL, so a login itself cannot be
    exercised here; this checks the wiring up to the client.
    """
    import certifi
    from confluent_kafka import Consumer, Producer

    ca = certifi.where()  # any real PEM bundle: librdkafka loads it when the client is made
    profile = BrokerProfile(bootstrap_servers="127.0.0.1:9", security_protocol=protocol,
                            sasl_mechanism=mechanism, sasl_username="microscope-3",
                            ca_file=ca if protocol == "SASL_SSL" else "")
    config = profiles.kafka_config(profile, lookup_for(profile))
    assert config.broker["sasl.mechanism"] == mechanism
    assert config.broker["sasl.password"] == SECRET
    producer = Producer({**config.producer_settings(), "socket.connection.setup.timeout.ms":
                         1000})
    producer.flush(0)
    consumer = Consumer(config.consumer_settings("sasl-wiring"))
    consumer.close()


# -- end-to-end encryption (KafkaCrypto) --------------------------------------------


def fake_node(folder: Path, node_id: str) -> Path:
    """A node folder as find_crypto_node sees it (only the .config is looked for)."""
    (folder / node_id).mkdir(parents=True)
    config = folder / node_id / f"{node_id}.config"
    config.write_text("[DEFAULT]\n", encoding="utf-8")
    return config


def test_kafka_config_without_a_node_is_plain() -> None:
    config = profiles.kafka_config(BrokerProfile(bootstrap_servers="b:9092"), None)
    assert config.crypto is None


def test_kafka_config_finds_the_node_in_the_apps_node_folder() -> None:
    node = fake_node(default_nodes_dir(), "lab_up")
    profile = BrokerProfile(bootstrap_servers="b:9092", crypto_node_id="lab_up")
    config = profiles.kafka_config(profile, None)
    assert config.crypto is not None
    assert config.crypto.node_id == "lab_up"
    assert config.crypto.config_file == node.resolve()
    assert config.broker == {"bootstrap.servers": "b:9092"}  # the broker is unchanged


def test_kafka_config_prefers_the_openmsistream_config_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_node(default_nodes_dir(), "lab_up")
    shared = fake_node(tmp_path / "openmsistream", "lab_up")
    monkeypatch.setenv("OPENMSISTREAM_CONFIG_FILE_DIR", str(tmp_path / "openmsistream"))
    config = profiles.kafka_config(BrokerProfile(crypto_node_id="lab_up"), None)
    assert config.crypto is not None
    assert config.crypto.config_file == shared.resolve()


def test_kafka_config_with_a_missing_node_refuses_to_send_plain_text() -> None:
    config = profiles.kafka_config(BrokerProfile(bootstrap_servers="b:9092",
                                                 crypto_node_id="gone"), None)
    assert config.crypto is not None
    assert config.crypto.config_file is None
    assert default_nodes_dir() / "gone" / "gone.config" in config.crypto.searched
    with pytest.raises(CryptoSetupError, match="gone"):
        cipher_for(config)


def test_export_ini_writes_the_node_and_import_reads_it_back(tmp_path: Path) -> None:
    profile = BrokerProfile(name="Lab encrypted", bootstrap_servers="b:9092",
                            crypto_node_id="lab_up")
    text = profiles.export_ini(profile)
    assert "[kafkacrypto]\nnode_id = lab_up\n" in text
    assert "OPENMSISTREAM_CONFIG_FILE_DIR" in text  # a comment says where the folder goes
    path = tmp_path / "lab.config"
    path.write_text(text, encoding="utf-8")
    imported, _password = profiles.import_ini(path)
    assert imported.crypto_node_id == "lab_up"
    assert load_config(path).crypto is not None  # OpenMSIStream's reading agrees
    plain = profiles.export_ini(BrokerProfile(name="Plain", bootstrap_servers="b:9092"))
    assert "kafkacrypto" not in plain


def test_import_of_a_node_config_file_keeps_the_node_name(tmp_path: Path) -> None:
    node = fake_node(tmp_path, "lab_down")
    path = tmp_path / "lab.config"
    path.write_text(f"[broker]\nbootstrap.servers = b:9092\n[kafkacrypto]\n"
                    f"config_file = {node}\n", encoding="utf-8")
    imported, _password = profiles.import_ini(path)
    assert imported.crypto_node_id == "lab_down"


def test_settings_without_the_node_field_load_as_plain(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "profiles": [
        {"id": "p1", "name": "Old", "bootstrap_servers": "b:9092"}]}), encoding="utf-8")
    store = SettingsStore(path)
    assert store.settings.profiles[0].crypto_node_id == ""
    settings = store.settings
    settings.profiles[0].crypto_node_id = "lab_up"
    store.update(settings)
    assert SettingsStore(path).settings.profiles[0].crypto_node_id == "lab_up"
    assert json.loads(path.read_text())["profiles"][0]["crypto_node_id"] == "lab_up"
