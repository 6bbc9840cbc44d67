"""Unit tests for reading OpenMSIStream-style config files (kafka_config.py)."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from openmsi_gui.engine.kafka_config import (
    CONSUMER_DEFAULTS,
    PRODUCER_DEFAULTS,
    ConfigError,
    KafkaConfig,
    default_trust,
    load_config,
)

FULL = """\
[broker]
bootstrap.servers = broker.example:9092
security.protocol = SASL_SSL
sasl.mechanism = PLAIN

[producer]
batch.size = 200000
linger.ms = 100
compression.type = lz4
key.serializer = StringSerializer
value.serializer = DataFileChunkSerializer

[consumer]
group.id = my-group
auto.offset.reset = latest
fetch.min.bytes = 100000
key.deserializer = StringDeserializer
value.deserializer = DataFileChunkDeserializer

[kafkacrypto]
node_id = my_node

[s3]
bucket_name = bucket
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def full(tmp_path: Path) -> KafkaConfig:
    return load_config(write(tmp_path / "full.config", FULL))


def test_sections(full: KafkaConfig, tmp_path: Path) -> None:
    assert full.source == tmp_path / "full.config"
    assert full.broker == {"bootstrap.servers": "broker.example:9092",
                           "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"}
    assert full.producer == {"batch.size": "200000", "linger.ms": "100",
                             "compression.type": "lz4"}
    assert full.consumer == {"group.id": "my-group", "auto.offset.reset": "latest",
                             "fetch.min.bytes": "100000"}
    assert full.sections == {"kafkacrypto": {"node_id": "my_node"},
                             "s3": {"bucket_name": "bucket"}}
    assert full.bootstrap_servers == "broker.example:9092"


def test_serializer_keys_dropped(full: KafkaConfig) -> None:
    for settings in (full.producer, full.consumer, full.producer_settings(),
                     full.consumer_settings()):
        assert not {k for k in settings if "serializer" in k}, settings


def test_producer_settings_merge_defaults(full: KafkaConfig) -> None:
    settings = full.producer_settings()
    assert settings["bootstrap.servers"] == "broker.example:9092"
    assert settings["security.protocol"] == "SASL_SSL"
    assert settings["linger.ms"] == "100"  # the file wins over the defaults
    assert settings["batch.size"] == "200000"
    assert settings["acks"] == PRODUCER_DEFAULTS["acks"]
    assert "group.id" not in settings


def test_consumer_settings_merge_defaults(full: KafkaConfig) -> None:
    settings = full.consumer_settings()
    assert settings["group.id"] == "my-group"
    assert settings["auto.offset.reset"] == "latest"
    assert settings["fetch.min.bytes"] == "100000"
    assert settings["session.timeout.ms"] == CONSUMER_DEFAULTS["session.timeout.ms"]
    assert "linger.ms" not in settings


def test_consumer_settings_group_argument_wins(full: KafkaConfig) -> None:
    assert full.consumer_settings("other")["group.id"] == "other"


def test_admin_settings_are_broker_only(full: KafkaConfig) -> None:
    # plus where to find trusted authorities, since the file names no CA (test_ca_trust.py)
    assert full.admin_settings() == {**full.broker, **default_trust(full.broker)}


def test_key_case_is_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.config", """\
        [broker]
        bootstrap.servers = h:1
        ssl.endpoint.identification.algorithm = HTTPS
        [kafkacrypto]
        Node_ID = MixedCase
        """))
    assert config.sections["kafkacrypto"] == {"Node_ID": "MixedCase"}
    assert config.broker["ssl.endpoint.identification.algorithm"] == "HTTPS"


# -- environment variables ---------------------------------------------------


def test_env_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMSI_TEST_SERVERS", "envhost:9093")
    monkeypatch.setenv("OMSI_TEST_USER", "alice")
    monkeypatch.setenv("OMSI_TEST_PASSWORD", "s3cr$t;#x")
    config = load_config(write(tmp_path / "c.config", """\
        [broker]
        bootstrap.servers = $OMSI_TEST_SERVERS
        sasl.username = ${OMSI_TEST_USER}
        sasl.password = $OMSI_TEST_PASSWORD
        """))
    assert config.bootstrap_servers == "envhost:9093"
    assert config.broker["sasl.username"] == "alice"
    assert config.broker["sasl.password"] == "s3cr$t;#x"  # taken verbatim from the environment


def test_unset_env_var_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMSI_TEST_NOT_SET_ANYWHERE", raising=False)
    path = write(tmp_path / "c.config", """\
        [broker]
        bootstrap.servers = $OMSI_TEST_NOT_SET_ANYWHERE
        """)
    with pytest.raises(ConfigError, match="OMSI_TEST_NOT_SET_ANYWHERE") as info:
        load_config(path)
    assert "bootstrap.servers" in str(info.value)
    assert "not set" in str(info.value)


def test_empty_env_var_means_missing_servers(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMSI_TEST_EMPTY", "")
    path = write(tmp_path / "c.config", """\
        [broker]
        bootstrap.servers = $OMSI_TEST_EMPTY
        """)
    with pytest.raises(ConfigError, match=r"bootstrap\.servers"):
        load_config(path)


# -- consumer group and offsets ----------------------------------------------


def test_create_new_group_is_fresh_each_call(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.config", """\
        [broker]
        bootstrap.servers = h:1
        [consumer]
        group.id = create_new
        """))
    groups = {config.consumer_settings()["group.id"] for _ in range(3)}
    assert len(groups) == 3
    for group in groups:
        assert group != "create_new"
        uuid.UUID(group.removeprefix("openmsi-"))  # raises if not a UUID


def test_no_group_in_file_gets_fresh_group(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.config", "[broker]\nbootstrap.servers = h:1\n"))
    first, second = (config.consumer_settings()["group.id"] for _ in range(2))
    assert first != second
    uuid.UUID(first.removeprefix("openmsi-"))


def test_create_new_as_argument(full: KafkaConfig) -> None:
    group = full.consumer_settings("create_new")["group.id"]
    assert group not in ("create_new", "my-group")
    uuid.UUID(group.removeprefix("openmsi-"))


@pytest.mark.parametrize("value", ["none", "None", "NONE"])
def test_auto_offset_reset_none_removed(tmp_path: Path, value: str) -> None:
    config = load_config(write(tmp_path / "c.config", f"""\
        [broker]
        bootstrap.servers = h:1
        [consumer]
        auto.offset.reset = {value}
        """))
    assert "auto.offset.reset" not in config.consumer
    # Not our default either: librdkafka's own (latest) applies, as in OpenMSIStream.
    assert "auto.offset.reset" not in config.consumer_settings()


@pytest.mark.parametrize("value", ["true", "True", "1"])
def test_enable_auto_commit_forced_false(tmp_path: Path, value: str) -> None:
    config = load_config(write(tmp_path / "c.config", f"""\
        [broker]
        bootstrap.servers = h:1
        enable.auto.commit = {value}
        [consumer]
        enable.auto.commit = {value}
        enable.auto.offset.store = true
        """))
    settings = config.consumer_settings()
    assert settings["enable.auto.commit"] == "false"
    assert settings["enable.auto.offset.store"] == "false"


# -- finding the file ------------------------------------------------------


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENMSISTREAM_CONFIG_FILE_DIR", raising=False)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.config")


def test_folder_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path)


@pytest.mark.parametrize("name", ["local_broker", "local_broker.config"])
def test_bare_name_lookup_in_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        name: str) -> None:
    folder = tmp_path / "configs"
    write(folder / "local_broker.config", "[broker]\nbootstrap.servers = dirhost:1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("OPENMSISTREAM_CONFIG_FILE_DIR", str(folder))
    config = load_config(name)
    assert config.bootstrap_servers == "dirhost:1"
    assert config.source == folder / "local_broker.config"


def test_bare_name_without_extension_in_config_dir(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "configs"
    write(folder / "plain", "[broker]\nbootstrap.servers = plain:1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENMSISTREAM_CONFIG_FILE_DIR", str(folder))
    assert load_config("plain").bootstrap_servers == "plain:1"


def test_bare_name_not_in_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENMSISTREAM_CONFIG_FILE_DIR", str(folder))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("missing_broker")


def test_bare_name_without_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENMSISTREAM_CONFIG_FILE_DIR", raising=False)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("local_broker")


def test_path_with_folder_is_not_looked_up_in_config_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "configs"
    write(folder / "local_broker.config", "[broker]\nbootstrap.servers = dirhost:1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENMSISTREAM_CONFIG_FILE_DIR", str(folder))
    with pytest.raises(ConfigError):
        load_config("sub/local_broker")


def test_explicit_path_beats_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "configs" / "x.config", "[broker]\nbootstrap.servers = dirhost:1\n")
    write(tmp_path / "cwd" / "x.config", "[broker]\nbootstrap.servers = cwdhost:1\n")
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("OPENMSISTREAM_CONFIG_FILE_DIR", str(tmp_path / "configs"))
    assert load_config("x.config").bootstrap_servers == "cwdhost:1"


# -- invalid content ---------------------------------------------------------


@pytest.mark.parametrize("text", [
    "[broker]\nsecurity.protocol = PLAINTEXT\n",
    "[broker]\nbootstrap.servers =\n",
    "[producer]\nlinger.ms = 5\n",
    "",
])
def test_missing_bootstrap_servers(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"bootstrap\.servers"):
        load_config(write(tmp_path / "c.config", text))


@pytest.mark.parametrize("text", [
    "bootstrap.servers = h:1\n",  # no section header
    "[broker]\nbootstrap.servers = h:1\n[broker]\nbootstrap.servers = h:2\n",
    "[broker\nbootstrap.servers = h:1\n",
])
def test_malformed_ini(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="not a valid INI"):
        load_config(write(tmp_path / "c.config", text))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.config"
    path.write_bytes(b"[broker]\nbootstrap.servers = \xff\xfe:1\n")
    with pytest.raises(ConfigError, match="not a valid INI"):
        load_config(path)


def test_inline_comments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMSI_TEST_SERVERS", "envhost:9093")
    config = load_config(write(tmp_path / "c.config", """\
        ; a full-line comment
        # another one
        [broker]
        bootstrap.servers = $OMSI_TEST_SERVERS   ; from the environment
        security.protocol = PLAINTEXT  # plain
        [consumer]
        group.id = create_new                 ; a fresh UUID each run
        auto.offset.reset = none              # removes the setting
        """))
    assert config.bootstrap_servers == "envhost:9093"
    assert config.broker["security.protocol"] == "PLAINTEXT"
    assert config.consumer == {"group.id": "create_new"}
    assert config.consumer_settings()["group.id"].startswith("openmsi-")


def test_for_bootstrap() -> None:
    config = KafkaConfig.for_bootstrap("127.0.0.1:9092")
    assert config.bootstrap_servers == "127.0.0.1:9092"
    assert config.producer_settings()["bootstrap.servers"] == "127.0.0.1:9092"
    assert config.source is None
